//! Snapshots: a built table in a compact, checked binary file.
//!
//! The controller (`xcc-controller records`) validates records with the same
//! [`super::TableBuilder`] the responder uses, then writes the *built* table:
//! the name arena, the nodes, the RRsets and the pre-encoded record tails,
//! exactly as the responder holds them in memory. Loading is then a read,
//! a check of every invariant, and one hash-table insert per name: no
//! parsing of text, no validation of records, no layout. That is what keeps
//! a change to a DNSRecord in a 100,000-record zone well under the 250 ms
//! budget from object to answer, and a million records loadable in well
//! under the 2 s budget (the measurements are in the README).
//!
//! ```text
//! header, 32 octets:
//!   magic        8  "XCCSNAP\x02" (the last octet is the format version)
//!   version      4  the table version (every zone's SOA serial), LE
//!   reserved     4  zero
//!   payload_len  8  LE
//!   checksum     4  CRC-32 (ISO-HDLC) of the header's first 24 octets
//!                   followed by the payload, LE
//!   reserved     4  zero
//! payload, all integers little-endian:
//!   record_count u64
//!   chaos        version tail (u32 length + bytes), id tail (same; 0 = none)
//!   zone_count   u32, then per zone:
//!     apex       u8 length + lowercase wire name
//!     names      u32 length + bytes
//!     nodes      u32 count + count × (name_start u32, name_len u8,
//!                target_rrset_count u8, rrset_count u16, rrset_start u32,
//!                wildcard u32)
//!     rrsets     u32 count + count × (rtype u16, count u16, tail_start u32,
//!                tail_len u32)
//!     tails      u32 length + bytes
//!     apex_node u32, negative_soa (start u32, length u32)
//! ```
//!
//! A node's RRsets are `rrset_count` of its own, then `target_rrset_count`
//! of its CNAME target (the `targetAddresses` of a record: an A RRset, an
//! AAAA RRset, or both). Format version 2 added `target_rrset_count`;
//! version 1 files are refused as [`SnapshotError::NotASnapshot`] (the
//! controller rewrites the snapshot when it starts, so the pair upgrades
//! together).
//!
//! [`decode`] trusts nothing: a truncated, corrupted or hand-crafted file is
//! rejected with a [`SnapshotError`] saying what is wrong, never a panic
//! (the `snapshot` fuzz target holds it to that), and the caller keeps
//! serving the last good table.

use std::fmt;
use xcc_wire::{Name, NameBuf, RType, Txt};

use super::index::IndexError;
use super::{Chaos, NO_NODE, NameIndex, Node, RrSet, Table, Zone, wire_is_at_or_below};

/// The first eight octets of every snapshot; the last is the format
/// version.
pub const MAGIC: [u8; 8] = *b"XCCSNAP\x02";

/// Size of the fixed header.
const HEADER_LEN: usize = 32;

/// Bounds that keep a corrupted count from asking for absurd memory before
/// the payload length check catches it.
const MAX_ZONES: u32 = 1024;

/// Why a snapshot was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file does not start with [`MAGIC`] (wrong file, or another format
    /// version).
    NotASnapshot,
    /// The header or payload is shorter than it says.
    Truncated,
    /// Bytes after the declared payload.
    TrailingBytes,
    /// The payload's CRC-32 does not match the header.
    Checksum {
        /// The checksum in the header.
        expected: u32,
        /// The checksum of the bytes read.
        actual: u32,
    },
    /// The payload is well framed but describes an impossible table.
    Invalid(&'static str),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotASnapshot => {
                f.write_str("not an xcc-dns snapshot (bad magic or format version)")
            }
            Self::Truncated => f.write_str("snapshot is truncated"),
            Self::TrailingBytes => f.write_str("bytes after the end of the snapshot"),
            Self::Checksum { expected, actual } => write!(
                f,
                "snapshot checksum mismatch (header {expected:08x}, content {actual:08x})"
            ),
            Self::Invalid(what) => write!(f, "invalid snapshot: {what}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// Whether `bytes` start like a snapshot (any format version).
pub fn is_snapshot(bytes: &[u8]) -> bool {
    bytes.len() >= 7 && bytes[..7] == MAGIC[..7]
}

//----------- Encoding ---------------------------------------------------------

/// Writes `table` as a snapshot.
pub fn encode(table: &Table) -> Vec<u8> {
    let mut payload = Vec::with_capacity(
        64 + table
            .zones
            .iter()
            .map(|z| z.names.len() + z.tails.len() + z.nodes.len() * 16 + z.rrsets.len() * 12)
            .sum::<usize>(),
    );
    payload.extend_from_slice(&(table.record_count as u64).to_le_bytes());
    for tail in [&table.chaos.version, &table.chaos.id] {
        let bytes = tail.as_deref().unwrap_or(&[]);
        put_bytes(&mut payload, bytes);
    }
    put_u32(&mut payload, table.zones.len() as u32);
    for zone in table.zones.iter() {
        let apex = zone.apex.as_wire();
        payload.push(apex.len() as u8);
        payload.extend_from_slice(apex);
        put_bytes(&mut payload, &zone.names);
        put_u32(&mut payload, zone.nodes.len() as u32);
        for node in &zone.nodes {
            put_u32(&mut payload, node.name_start);
            payload.push(node.name_len);
            payload.push(node.target_rrset_count);
            payload.extend_from_slice(&node.rrset_count.to_le_bytes());
            put_u32(&mut payload, node.rrset_start);
            put_u32(&mut payload, node.wildcard);
        }
        put_u32(&mut payload, zone.rrsets.len() as u32);
        for rrset in &zone.rrsets {
            payload.extend_from_slice(&rrset.rtype.0.to_le_bytes());
            payload.extend_from_slice(&rrset.count.to_le_bytes());
            put_u32(&mut payload, rrset.tail_start);
            put_u32(&mut payload, rrset.tail_len);
        }
        put_bytes(&mut payload, &zone.tails);
        put_u32(&mut payload, zone.apex_node);
        put_u32(&mut payload, zone.negative_soa.0);
        put_u32(&mut payload, zone.negative_soa.1);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&table.version.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let crc = checksum(&out, &payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&payload);
    out
}

/// CRC-32 over the header fields before the checksum, then the payload, so
/// that a flipped version or length is caught as well as a flipped record.
fn checksum(header_start: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header_start[..24]);
    hasher.update(payload);
    hasher.finalize()
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

//----------- Decoding ---------------------------------------------------------

/// The table version a snapshot declares, read from its header alone.
pub fn peek_version(bytes: &[u8]) -> Result<u32, SnapshotError> {
    if !is_snapshot(bytes) || bytes.get(7) != Some(&MAGIC[7]) {
        return Err(SnapshotError::NotASnapshot);
    }
    let field = bytes.get(8..12).ok_or(SnapshotError::Truncated)?;
    Ok(u32::from_le_bytes(field.try_into().expect("four bytes")))
}

/// Reads and checks a snapshot.
pub fn decode(bytes: &[u8]) -> Result<Table, SnapshotError> {
    let version = peek_version(bytes)?;
    let header = bytes.get(..HEADER_LEN).ok_or(SnapshotError::Truncated)?;
    let payload_len = u64::from_le_bytes(header[16..24].try_into().expect("eight bytes"));
    let expected = u32::from_le_bytes(header[24..28].try_into().expect("four bytes"));
    let rest = &bytes[HEADER_LEN..];
    let payload_len = usize::try_from(payload_len).map_err(|_| SnapshotError::Truncated)?;
    let payload = rest.get(..payload_len).ok_or(SnapshotError::Truncated)?;
    if rest.len() > payload_len {
        return Err(SnapshotError::TrailingBytes);
    }
    if header[12..16] != [0; 4] || header[28..32] != [0; 4] {
        return Err(SnapshotError::Invalid("reserved header bytes are not zero"));
    }
    let actual = checksum(header, payload);
    if actual != expected {
        return Err(SnapshotError::Checksum { expected, actual });
    }
    let mut input = Input { bytes: payload };
    let record_count = usize::try_from(input.u64()?)
        .map_err(|_| SnapshotError::Invalid("record count too large"))?;
    let chaos = Chaos {
        version: chaos_tail(input.bytes_u32()?)?,
        id: chaos_tail(input.bytes_u32()?)?,
    };
    let zone_count = input.u32()?;
    if zone_count == 0 || zone_count > MAX_ZONES {
        return Err(SnapshotError::Invalid("zone count out of range"));
    }
    let mut zones = Vec::with_capacity(zone_count as usize);
    for _ in 0..zone_count {
        zones.push(decode_zone(&mut input)?);
    }
    if !input.bytes.is_empty() {
        return Err(SnapshotError::Invalid("bytes after the last zone"));
    }
    check_targets_leave_the_zones(&zones)?;
    Ok(Table {
        version,
        zones: zones.into_boxed_slice(),
        record_count,
        chaos,
    })
}

/// A cursor over the payload; every read is bounds-checked.
struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], SnapshotError> {
        if self.bytes.len() < len {
            return Err(SnapshotError::Invalid("a field runs past the payload"));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, SnapshotError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("two bytes"),
        ))
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("eight bytes"),
        ))
    }

    fn bytes_u32(&mut self) -> Result<&'a [u8], SnapshotError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// A count of `item_len`-byte items, checked against what is left.
    fn count(&mut self, item_len: usize) -> Result<usize, SnapshotError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(item_len) > self.bytes.len() {
            return Err(SnapshotError::Invalid("a count runs past the payload"));
        }
        Ok(count)
    }
}

fn chaos_tail(bytes: &[u8]) -> Result<Option<Vec<u8>>, SnapshotError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    check_tails(bytes, None)?;
    Ok(Some(bytes.to_vec()))
}

fn decode_zone(input: &mut Input<'_>) -> Result<Zone, SnapshotError> {
    let apex_len = usize::from(input.u8()?);
    let apex_wire = input.take(apex_len)?;
    check_lowercase_name(apex_wire)?;
    let apex = NameBuf::from_wire(apex_wire)
        .map_err(|_| SnapshotError::Invalid("the apex is not a valid name"))?
        .to_key();
    let names = input.bytes_u32()?.to_vec();
    let node_count = input.count(16)?;
    let mut nodes = Vec::with_capacity(node_count);
    for _ in 0..node_count {
        nodes.push(Node {
            name_start: input.u32()?,
            name_len: input.u8()?,
            target_rrset_count: input.u8()?,
            rrset_count: input.u16()?,
            rrset_start: input.u32()?,
            wildcard: input.u32()?,
        });
    }
    let rrset_count = input.count(12)?;
    let mut rrsets = Vec::with_capacity(rrset_count);
    for _ in 0..rrset_count {
        rrsets.push(RrSet {
            rtype: RType(input.u16()?),
            count: input.u16()?,
            tail_start: input.u32()?,
            tail_len: input.u32()?,
        });
    }
    let tails = input.bytes_u32()?.to_vec();
    let apex_node = input.u32()?;
    let negative_soa = (input.u32()?, input.u32()?);

    let mut zone = Zone {
        apex,
        names,
        nodes,
        // Built by the check, once every name is known to be valid.
        index: NameIndex::empty(),
        rrsets,
        tails,
        apex_node,
        negative_soa,
    };
    check_zone(&mut zone)?;
    Ok(zone)
}

/// Checks every invariant the lookup and the answer engine rely on, and
/// builds the hash index on the way.
fn check_zone(zone: &mut Zone) -> Result<(), SnapshotError> {
    let invalid = SnapshotError::Invalid;
    let apex_wire = zone.apex.as_wire().to_vec();
    // Names: in the arena, valid, lowercase, in the zone.
    for node in &zone.nodes {
        let start = node.name_start as usize;
        let name = zone
            .names
            .get(start..start + usize::from(node.name_len))
            .ok_or(invalid("node name outside the name arena"))?;
        check_lowercase_name(name)?;
        if !wire_is_at_or_below(name, &apex_wire) {
            return Err(invalid("node name outside its zone"));
        }
    }
    // Unique, and every node's parent a node: building the index finds a
    // name seen twice and a missing parent. (Wildcard links and RRset
    // ranges are checked below; the index reads them with care.)
    zone.index_nodes().map_err(|error| match error {
        IndexError::DuplicateName(_) => invalid("two nodes with the same name"),
        IndexError::MissingParent(_) => invalid("a node's parent is missing"),
    })?;
    // Structure: the apex, wildcard links, RRsets and tails.
    let apex = zone
        .find(&apex_wire)
        .ok_or(invalid("the apex has no node"))?;
    if zone
        .nodes
        .get(zone.apex_node as usize)
        .map(|node| node.name_start)
        != Some(apex.id())
    {
        return Err(invalid("apex node index does not name the apex"));
    }
    for index in 0..zone.nodes.len() as u32 {
        let node = zone.nodes[index as usize];
        let name = zone.node_name(index);
        if node.wildcard != NO_NODE {
            if node.wildcard as usize >= zone.nodes.len() {
                return Err(invalid("wildcard link out of range"));
            }
            let child = zone.node_name(node.wildcard);
            if child.len() != name.len() + 2 || &child[..2] != b"\x01*" || child[2..] != *name {
                return Err(invalid(
                    "wildcard link to a node that is not the wildcard child",
                ));
            }
        }
        let start = node.rrset_start as usize;
        let own = usize::from(node.rrset_count);
        let rrsets = zone
            .rrsets
            .get(start..start + own + usize::from(node.target_rrset_count))
            .ok_or(invalid("a node's RRsets lie outside the RRset table"))?;
        check_target_rrsets(&rrsets[..own], &rrsets[own..])?;
        for rrset in rrsets {
            let tail_start = rrset.tail_start as usize;
            let tails = zone
                .tails
                .get(tail_start..tail_start + rrset.tail_len as usize)
                .ok_or(invalid("an RRset's records lie outside the record data"))?;
            let count = check_tails(tails, Some(rrset.rtype))?;
            if count != usize::from(rrset.count) || count == 0 {
                return Err(invalid(
                    "an RRset's record count does not match its records",
                ));
            }
        }
    }
    let (start, len) = zone.negative_soa;
    let soa = zone
        .tails
        .get(start as usize..(start as usize).saturating_add(len as usize))
        .ok_or(invalid("the negative SOA lies outside the record data"))?;
    if check_tails(soa, Some(RType::SOA))? != 1 {
        return Err(invalid("the negative SOA is not one SOA record"));
    }
    Ok(())
}

/// A node carries target RRsets only as the answer engine expects them:
/// its own data is one CNAME record (the target name is read from it), and
/// they are one A RRset, one AAAA RRset, or one of each.
fn check_target_rrsets(own: &[RrSet], targets: &[RrSet]) -> Result<(), SnapshotError> {
    let invalid = SnapshotError::Invalid;
    if targets.is_empty() {
        return Ok(());
    }
    if !matches!(own, [cname] if cname.rtype == RType::CNAME && cname.count == 1) {
        return Err(invalid(
            "target addresses on a node whose data is not one CNAME record",
        ));
    }
    let valid = match targets {
        [one] => one.rtype == RType::A || one.rtype == RType::AAAA,
        [a, aaaa] => a.rtype == RType::A && aaaa.rtype == RType::AAAA,
        _ => false,
    };
    if !valid {
        return Err(invalid(
            "target addresses other than one A RRset, one AAAA RRset, or both",
        ));
    }
    Ok(())
}

/// A CNAME carrying its target's addresses must point outside every zone
/// of the table: inside one, the answer engine follows the CNAME to the
/// target's own records instead (the builder refuses the same).
fn check_targets_leave_the_zones(zones: &[Zone]) -> Result<(), SnapshotError> {
    for zone in zones {
        for index in 0..zone.nodes.len() as u32 {
            let node = zone.node_ref(index);
            let Some(cname) = node.rrsets().first() else {
                continue;
            };
            if node.target_rrsets().is_empty() {
                continue;
            }
            // One CNAME record whose RDATA is a valid name: checked by
            // `check_zone` before.
            let target = node
                .tails(cname)
                .get(10..)
                .and_then(|rdata| Name::from_wire(rdata).ok())
                .ok_or(SnapshotError::Invalid("a CNAME target is not a name"))?
                .to_key();
            if zones.iter().any(|z| target.is_at_or_below(z.apex())) {
                return Err(SnapshotError::Invalid(
                    "target addresses on a CNAME to a name inside a served zone",
                ));
            }
        }
    }
    Ok(())
}

/// Walks pre-encoded record tails; returns how many records they hold.
/// Names inside CNAME RDATA must be valid uncompressed names (the answer
/// engine follows them).
fn check_tails(tails: &[u8], rtype: Option<RType>) -> Result<usize, SnapshotError> {
    let invalid = SnapshotError::Invalid;
    let mut at = 0;
    let mut count = 0;
    while at < tails.len() {
        let head = tails
            .get(at..at + 10)
            .ok_or(invalid("a record header is cut"))?;
        let record_type = RType(u16::from_be_bytes([head[0], head[1]]));
        let rdlength = usize::from(u16::from_be_bytes([head[8], head[9]]));
        let rdata = tails
            .get(at + 10..at + 10 + rdlength)
            .ok_or(invalid("a record's data is cut"))?;
        if rtype.is_some_and(|t| t != record_type) {
            return Err(invalid("a record of another type inside an RRset"));
        }
        if !rdata_is_valid(record_type, rdata) {
            return Err(invalid("a record's data does not match its type"));
        }
        at += 10 + rdlength;
        count += 1;
    }
    Ok(count)
}

/// Whether `rdata` has the shape its type requires, names uncompressed:
/// the answer engine copies it into answers as it is, and follows CNAME
/// targets, so a snapshot must not smuggle in malformed data.
pub(crate) fn rdata_is_valid(rtype: RType, rdata: &[u8]) -> bool {
    // A name, then exactly `fixed` more octets.
    let name_then = |bytes: &[u8], fixed: usize| {
        Name::from_wire_prefix(bytes).is_ok_and(|(_, len)| bytes.len() - len == fixed)
    };
    match rtype {
        RType::A => rdata.len() == 4,
        RType::AAAA => rdata.len() == 16,
        RType::NS | RType::CNAME | RType::PTR => name_then(rdata, 0),
        RType::MX => rdata.len() > 2 && name_then(&rdata[2..], 0),
        RType::SRV => rdata.len() > 6 && name_then(&rdata[6..], 0),
        RType::SOA => {
            Name::from_wire_prefix(rdata).is_ok_and(|(_, first)| name_then(&rdata[first..], 20))
        }
        RType::TXT => Txt::from_wire(rdata).is_ok(),
        // OPT belongs in no table; other types are opaque (RFC 3597).
        RType::OPT => false,
        _ => true,
    }
}

/// Checks that `wire` is a valid, uncompressed, lowercase wire name.
fn check_lowercase_name(wire: &[u8]) -> Result<(), SnapshotError> {
    Name::from_wire(wire).map_err(|_| SnapshotError::Invalid("a name is not valid"))?;
    // Length octets are below 64, never an uppercase letter.
    if wire.iter().any(u8::is_ascii_uppercase) {
        return Err(SnapshotError::Invalid("a name is not lowercase"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::model::DnsRecordSpec;
    use crate::respond::{Context, Outcome, Transport, respond};
    use crate::table::{Source, TableBuilder, TableConfig, ZoneConfig};
    use xcc_wire::{Class, MessageWriter, Question};

    fn spec(name: &str, addresses: &[&str], cname: Option<&str>) -> DnsRecordSpec {
        DnsRecordSpec {
            name: name.into(),
            ttl: 30,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            cname: cname.map(Into::into),
            ..DnsRecordSpec::default()
        }
    }

    fn fixture() -> Table {
        let mut builder = TableBuilder::new(TableConfig {
            version: 4242,
            chaos_version: Some("xcc-dns test".into()),
            ..TableConfig::default()
        });
        for s in [
            spec(
                "*.gateway.cluster-a.dev-team.clusters.xcc.test",
                &["10.0.0.1", "10.0.0.2", "fd00::1"],
                None,
            ),
            spec("www.xcc.test", &["192.0.2.1"], None),
            spec("alias.xcc.test", &[], Some("www.xcc.test")),
            DnsRecordSpec {
                target_addresses: vec!["192.0.2.10".into(), "2001:db8::10".into()],
                ..spec(GATEWAY_B, &[], Some("lb-123.elb.example.com."))
            },
        ] {
            builder.add_spec(&s, Source::default()).unwrap();
        }
        builder.build().table
    }

    /// A wildcard CNAME out of the zone, carrying its target's addresses.
    const GATEWAY_B: &str = "*.gateway.cluster-b.dev-team.clusters.xcc.test";

    /// The node named `name` (presentation form) in the first zone.
    fn node_index(table: &Table, name: &str) -> usize {
        let key = NameBuf::from_presentation(name).unwrap().to_key();
        let zone = &table.zones[0];
        let id = zone.find(key.as_wire()).expect("the node exists").id();
        zone.nodes
            .iter()
            .position(|node| node.name_start == id)
            .expect("the index holds copies of the nodes")
    }

    fn answer(table: &Table, qname: &str, qtype: RType, class: Class) -> Vec<u8> {
        let qname = NameBuf::from_presentation(qname).unwrap();
        let mut query = [0u8; 512];
        let mut writer = MessageWriter::new(&mut query, 512).unwrap();
        writer
            .push_question(&Question {
                qname: qname.as_name(),
                qtype,
                qclass: class,
            })
            .unwrap();
        let len = writer.finish();
        let mut out = vec![0u8; 4096];
        match respond(
            &query[..len],
            table,
            Transport::Tcp,
            &mut Context::default(),
            &mut out,
        ) {
            Outcome::Answered { len, .. } => out[..len].to_vec(),
            Outcome::Dropped(reason) => panic!("dropped: {reason:?}"),
        }
    }

    /// Re-signs a payload edited by a test, so that the checks after the
    /// checksum are what rejects it.
    fn reseal(bytes: &mut [u8]) {
        let crc = checksum(&bytes[..24], &bytes[HEADER_LEN..]);
        bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn a_decoded_snapshot_answers_exactly_like_the_table_it_came_from() {
        let table = fixture();
        let bytes = encode(&table);
        assert_eq!(peek_version(&bytes), Ok(4242));
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.version(), 4242);
        assert_eq!(decoded.record_count(), table.record_count());
        for (qname, qtype, class) in [
            (
                "KuArD.gateway.cluster-a.dev-team.clusters.xcc.test",
                RType::A,
                Class::IN,
            ),
            (
                "x.gateway.cluster-a.dev-team.clusters.xcc.test",
                RType::AAAA,
                Class::IN,
            ),
            ("www.xcc.test", RType::A, Class::IN),
            ("alias.xcc.test", RType::A, Class::IN),
            (
                "x.gateway.cluster-b.dev-team.clusters.xcc.test",
                RType::A,
                Class::IN,
            ),
            (
                "x.gateway.cluster-b.dev-team.clusters.xcc.test",
                RType::AAAA,
                Class::IN,
            ),
            (
                "x.gateway.cluster-b.dev-team.clusters.xcc.test",
                RType::CNAME,
                Class::IN,
            ),
            (
                "x.gateway.cluster-b.dev-team.clusters.xcc.test",
                RType::TXT,
                Class::IN,
            ),
            (
                "x.gateway.cluster-b.dev-team.clusters.xcc.test",
                RType::ANY,
                Class::IN,
            ),
            ("nope.xcc.test", RType::A, Class::IN),
            ("clusters.xcc.test", RType::A, Class::IN),
            ("xcc.test", RType::SOA, Class::IN),
            ("xcc.test", RType::NS, Class::IN),
            ("version.bind", RType::TXT, Class::CH),
            ("example.com", RType::A, Class::IN),
        ] {
            assert_eq!(
                answer(&decoded, qname, qtype, class),
                answer(&table, qname, qtype, class),
                "{qname} {qtype}"
            );
        }
        // Encoding is deterministic.
        assert_eq!(encode(&decoded), bytes);
        // The target's RRsets came back as the target's, not the node's.
        let gateway = decoded.zones[0].node_ref(node_index(&decoded, GATEWAY_B) as u32);
        let types = |rrsets: &[RrSet]| rrsets.iter().map(|r| r.rtype).collect::<Vec<_>>();
        assert_eq!(types(gateway.rrsets()), [RType::CNAME]);
        assert_eq!(types(gateway.target_rrsets()), [RType::A, RType::AAAA]);
    }

    /// A name tree the lookup could not walk is refused, each fault with
    /// its own message: two nodes of one name, a node whose parent is not
    /// a node (the lookup takes a missing parent for a missing name).
    #[test]
    fn snapshots_with_a_broken_name_tree_are_rejected_with_a_message() {
        let invalid = |edit: &dyn Fn(&mut Zone)| {
            let mut table = fixture();
            edit(&mut table.zones[0]);
            match decode(&encode(&table)) {
                Err(SnapshotError::Invalid(message)) => message,
                other => panic!("expected an invalid snapshot, got {other:?}"),
            }
        };
        let table = fixture();
        let www = node_index(&table, "www.xcc.test");
        let gateway = node_index(&table, GATEWAY_B);

        let message = invalid(&|zone| {
            zone.nodes[www].name_start = zone.nodes[gateway].name_start;
            zone.nodes[www].name_len = zone.nodes[gateway].name_len;
        });
        assert_eq!(message, "two nodes with the same name");
        let message = invalid(&|zone| {
            let orphan = b"\x01a\x07missing\x03xcc\x04test\x00";
            zone.nodes[www].name_start = zone.names.len() as u32;
            zone.nodes[www].name_len = orphan.len() as u8;
            zone.names.extend_from_slice(orphan);
        });
        assert_eq!(message, "a node's parent is missing");
        // Untouched, the same table decodes.
        assert!(decode(&encode(&table)).is_ok());
    }

    /// Target data that does not have the shape the answer engine relies
    /// on is refused, each with its own message, by the decoder and so by
    /// the loader the responder reads snapshot files with; no panic.
    #[test]
    fn snapshots_with_malformed_target_addresses_are_rejected_with_a_message() {
        let invalid = |edit: &dyn Fn(&mut Table)| {
            let mut table = fixture();
            edit(&mut table);
            // `encode` seals the edit with a valid checksum: what rejects it
            // is the structure check.
            match decode(&encode(&table)) {
                Err(SnapshotError::Invalid(message)) => message,
                other => panic!("expected an invalid snapshot, got {other:?}"),
            }
        };
        let gateway = |table: &Table| node_index(table, GATEWAY_B);
        let www = |table: &Table| node_index(table, "www.xcc.test");
        let target_a = |table: &Table| {
            let node = table.zones[0].nodes[gateway(table)];
            (node.rrset_start + u32::from(node.rrset_count)) as usize
        };

        // Target RRsets behind data that is not one CNAME record.
        let message = invalid(&|t| {
            let at = www(t);
            t.zones[0].nodes[at].target_rrset_count = 1;
        });
        assert_eq!(
            message,
            "target addresses on a node whose data is not one CNAME record"
        );
        // Two A RRsets, or one of a type other than A and AAAA.
        let message = invalid(&|t| {
            let at = target_a(t) + 1;
            t.zones[0].rrsets[at].rtype = RType::A;
        });
        assert_eq!(
            message,
            "target addresses other than one A RRset, one AAAA RRset, or both"
        );
        let message = invalid(&|t| {
            let at = target_a(t);
            t.zones[0].rrsets[at].rtype = RType::TXT;
        });
        assert_eq!(
            message,
            "target addresses other than one A RRset, one AAAA RRset, or both"
        );
        // A target RRset whose count disagrees with its records.
        let message = invalid(&|t| {
            let at = target_a(t);
            t.zones[0].rrsets[at].count = 2;
        });
        assert_eq!(
            message,
            "an RRset's record count does not match its records"
        );
        // Target RRsets reaching past the RRset table.
        let message = invalid(&|t| {
            let at = gateway(t);
            let zone = &mut t.zones[0];
            zone.nodes[at].rrset_start = zone.rrsets.len() as u32 - 1;
        });
        assert_eq!(message, "a node's RRsets lie outside the RRset table");
        // The CNAME's target inside a zone of the same table: the answer
        // engine would follow it instead.
        let message = invalid(&|t| {
            let other = TableBuilder::new(TableConfig {
                zones: vec![ZoneConfig::new(
                    NameBuf::from_presentation("example.com.").unwrap(),
                )],
                ..TableConfig::default()
            })
            .build()
            .table;
            let mut zones = std::mem::take(&mut t.zones).into_vec();
            zones.extend(other.zones.into_vec());
            t.zones = zones.into_boxed_slice();
        });
        assert_eq!(
            message,
            "target addresses on a CNAME to a name inside a served zone"
        );

        // Sent to the loader as a snapshot file: a load error naming the
        // file and the problem, never a table.
        let mut table = fixture();
        let at = www(&table);
        table.zones[0].nodes[at].target_rrset_count = 1;
        let config = TableConfig::default();
        match crate::records::load::load_bytes(&encode(&table), Some("records.snapshot"), &config) {
            Err(error) => {
                let text = error.to_string();
                assert!(text.contains("records.snapshot"), "{text}");
                assert!(text.contains("not one CNAME record"), "{text}");
            }
            Ok(_) => panic!("a malformed snapshot was loaded"),
        }
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_rejected_without_panic() {
        let bytes = encode(&fixture());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for at in 0..bytes.len() {
            let mut corrupted = bytes.clone();
            corrupted[at] ^= 0x40;
            assert!(decode(&corrupted).is_err(), "byte {at} flipped");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer).unwrap_err(), SnapshotError::TrailingBytes);
    }

    #[test]
    fn payloads_with_a_valid_checksum_are_still_checked() {
        let bytes = encode(&fixture());
        // Flip each payload byte, re-seal, decode: either a clean error or
        // a table that passed every invariant check (some bytes, like a TTL
        // inside a record, change the content without breaking it).
        let mut rejected = 0;
        for at in HEADER_LEN..bytes.len() {
            for flip in [0x01, 0x80, 0xFF] {
                let mut edited = bytes.clone();
                edited[at] ^= flip;
                reseal(&mut edited);
                if decode(&edited).is_err() {
                    rejected += 1;
                }
            }
        }
        assert!(
            rejected > (bytes.len() - HEADER_LEN),
            "most edits break an invariant"
        );
        assert_eq!(
            decode(b"not a snapshot at all").unwrap_err(),
            SnapshotError::NotASnapshot
        );
        // Format version 1 (before target addresses) and any later one.
        for version in [1, 3] {
            let mut other_version = bytes.clone();
            other_version[7] = version;
            assert_eq!(
                decode(&other_version).unwrap_err(),
                SnapshotError::NotASnapshot
            );
        }
    }

    /// Found by the `snapshot` fuzz target: a snapshot whose checksum is
    /// right but whose NS RDATA is not a name was accepted, and answers
    /// carried the malformed data.
    #[test]
    fn fuzz_regression_rdata_must_match_its_type() {
        let tail = |rtype: RType, rdata: &[u8]| {
            let mut tail = rtype.0.to_be_bytes().to_vec();
            tail.extend_from_slice(&[0, 1, 0, 0, 0, 30]);
            tail.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            tail.extend_from_slice(rdata);
            tail
        };
        for (rtype, good, bad) in [
            (RType::NS, &b"\x02ns\x00"[..], &b"\x41a\x00"[..]),
            (RType::CNAME, b"\x01a\x00", b"\x01a"),
            (RType::A, b"\x0a\x00\x00\x01", b"\x0a\x00\x00"),
            (RType::AAAA, &[0; 16], &[0; 15]),
            (RType::MX, b"\x00\x0a\x01m\x00", b"\x00\x0a\x01m"),
            (
                RType::SRV,
                b"\x00\x01\x00\x02\x00\x50\x01w\x00",
                b"\x00\x01\x00\x02\x00\x50\xc0\x0c",
            ),
            (RType::TXT, b"\x02hi", b"\x05hi"),
        ] {
            assert_eq!(
                check_tails(&tail(rtype, good), Some(rtype)),
                Ok(1),
                "{rtype} good"
            );
            assert!(
                check_tails(&tail(rtype, bad), Some(rtype)).is_err(),
                "{rtype} bad"
            );
        }
        let soa = b"\x02ns\x00\x02hm\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05";
        assert_eq!(check_tails(&tail(RType::SOA, soa), Some(RType::SOA)), Ok(1));
        assert!(check_tails(&tail(RType::SOA, &soa[..soa.len() - 1]), Some(RType::SOA)).is_err());
    }

    #[test]
    fn a_wrong_checksum_is_reported_as_such() {
        let mut bytes = encode(&fixture());
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(
            decode(&bytes),
            Err(SnapshotError::Checksum { .. })
        ));
    }
}
