//! Building a table: validate every record, reject the bad ones by name,
//! and lay the good ones out for fast lookup.
//!
//! Records come in groups, one per [`Source`] (a `DNSRecord` object, one
//! document of a records file). A group is accepted or rejected whole, so an
//! object's status is one answer. Checks made when a group is added:
//! names parse (RFC 1035 §3.1), addresses parse, TTLs are within
//! 0..=2147483647 (RFC 2181 §8), a spec carries exactly one kind of data,
//! TXT strings fit 255 octets, the owner lies in a configured zone. Checks
//! made against the groups accepted before it, in order (first come wins,
//! and the rejection names the group it lost to): a CNAME never shares its
//! owner with other data, a zone apex never holds a CNAME (RFC 1034 §3.6.2,
//! RFC 2181 §10.1), an owner has at most one CNAME; NS is only accepted at
//! the apex (delegations are not served) and SOA only at the apex.
//! Identical records are merged; an RRset whose records disagree on TTL
//! takes the smallest (RFC 2181 §5.2).

use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hashbrown::{HashMap, HashTable};
use xcc_wire::{Class, NameBuf, NameKey, ParseError, RType};

use super::snapshot::rdata_is_valid;
use super::{Chaos, NO_NODE, Node, RrSet, Table, Zone, wire_is_at_or_below};
use crate::records::model::DnsRecordSpec;

/// The largest TTL (RFC 2181 §8: the top bit must be zero).
pub const MAX_TTL: u32 = 0x7FFF_FFFF;

//----------- Configuration ----------------------------------------------------

/// What a table is built with besides its records.
#[derive(Clone, Debug)]
pub struct TableConfig {
    /// The zones served; their SOA and NS come from here unless the records
    /// give them.
    pub zones: Vec<ZoneConfig>,
    /// The table's version: the SOA serial of every zone.
    pub version: u32,
    /// Answer CHAOS `version.bind` / `version.server` TXT with this.
    pub chaos_version: Option<String>,
    /// Answer CHAOS `id.server` / `hostname.bind` TXT with this.
    pub chaos_id: Option<String>,
}

/// One zone's apex and the SOA and NS synthesised for it.
#[derive(Clone, Debug)]
pub struct ZoneConfig {
    /// The apex.
    pub apex: NameBuf,
    /// The primary name server in the SOA, and the NS record.
    pub mname: NameBuf,
    /// The responsible mailbox in the SOA.
    pub rname: NameBuf,
    /// SOA refresh, retry and expire, seconds.
    pub refresh: u32,
    /// See `refresh`.
    pub retry: u32,
    /// See `refresh`.
    pub expire: u32,
    /// SOA MINIMUM: the negative-caching TTL (RFC 2308 §4).
    pub minimum: u32,
    /// TTL of the SOA and NS records.
    pub ttl: u32,
}

impl ZoneConfig {
    /// Defaults for a zone at `apex`: NS `ns.<apex>`, mailbox
    /// `hostmaster.<apex>`, negative answers cached for 5 s (short, because
    /// a gateway that appears should resolve at once), SOA/NS TTL 30 s.
    pub fn new(apex: NameBuf) -> Self {
        let under = |label: &[u8]| apex.prepend_label(label).unwrap_or(apex);
        Self {
            mname: under(b"ns"),
            rname: under(b"hostmaster"),
            apex,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 5,
            ttl: 30,
        }
    }
}

impl Default for TableConfig {
    /// One zone, `xcc.test.`, version 1, CHAOS off.
    fn default() -> Self {
        Self {
            zones: vec![ZoneConfig::new(
                NameBuf::from_presentation("xcc.test.").expect("a valid name"),
            )],
            version: 1,
            chaos_version: None,
            chaos_id: None,
        }
    }
}

//----------- Record values ----------------------------------------------------

/// The data of one record, already checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordValue {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Alias target. Names are boxed so that the common values (addresses)
    /// stay small: a builder holds a million of them.
    Cname(Box<NameBuf>),
    /// Name server (apex only).
    Ns(Box<NameBuf>),
    /// Character-strings, each at most 255 octets.
    Txt(Vec<Vec<u8>>),
    /// Service location.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: Box<NameBuf>,
    },
    /// Mail exchange.
    Mx {
        /// Preference.
        preference: u16,
        /// Mail host.
        exchange: Box<NameBuf>,
    },
    /// Any other type, RDATA given in wire form (RFC 3597).
    Other {
        /// The type.
        rtype: RType,
        /// The RDATA.
        rdata: Vec<u8>,
    },
}

impl RecordValue {
    /// The record type.
    pub fn rtype(&self) -> RType {
        match self {
            Self::A(_) => RType::A,
            Self::Aaaa(_) => RType::AAAA,
            Self::Cname(_) => RType::CNAME,
            Self::Ns(_) => RType::NS,
            Self::Txt(_) => RType::TXT,
            Self::Srv { .. } => RType::SRV,
            Self::Mx { .. } => RType::MX,
            Self::Other { rtype, .. } => *rtype,
        }
    }

    /// Appends the RDATA in wire form, names uncompressed.
    fn write_rdata(&self, out: &mut Vec<u8>) {
        match self {
            Self::A(a) => out.extend_from_slice(&a.octets()),
            Self::Aaaa(a) => out.extend_from_slice(&a.octets()),
            Self::Cname(n) | Self::Ns(n) => out.extend_from_slice(n.as_wire()),
            Self::Txt(strings) => {
                for s in strings {
                    out.push(s.len() as u8);
                    out.extend_from_slice(s);
                }
            }
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                for v in [priority, weight, port] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                out.extend_from_slice(target.as_wire());
            }
            Self::Mx {
                preference,
                exchange,
            } => {
                out.extend_from_slice(&preference.to_be_bytes());
                out.extend_from_slice(exchange.as_wire());
            }
            Self::Other { rdata, .. } => out.extend_from_slice(rdata),
        }
    }
}

//----------- Problems ---------------------------------------------------------

/// Where a group of records came from, to name it in errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// The file, for records files.
    pub file: Option<String>,
    /// The document in the file, counted from 1.
    pub document: Option<usize>,
    /// The object, `namespace/name`.
    pub object: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(file) = &self.file {
            parts.push(file.clone());
        }
        if let Some(document) = self.document {
            parts.push(format!("document {document}"));
        }
        if let Some(object) = &self.object {
            parts.push(format!("DNSRecord {object}"));
        }
        if parts.is_empty() {
            f.write_str("<records>")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Why a group of records was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// A name that does not parse.
    BadName {
        /// Which field held it.
        field: &'static str,
        /// The text.
        value: String,
        /// What is wrong.
        error: ParseError,
    },
    /// An address that is neither IPv4 nor IPv6.
    BadAddress(String),
    /// A TTL over 2147483647.
    TtlOutOfRange(u64),
    /// A spec with no data.
    NoData,
    /// A spec with more than one kind of data (addresses, cname, txt, srv).
    MixedData,
    /// A TXT string longer than 255 octets.
    TxtTooLong(usize),
    /// RDATA given in wire form that does not have the shape of its type.
    MalformedRdata(RType),
    /// The owner is in no configured zone.
    OutsideZones,
    /// A CNAME and other data at one owner (RFC 1034 §3.6.2).
    CnameConflict {
        /// The group already holding the owner.
        with: Source,
    },
    /// Two different CNAMEs for one owner.
    SecondCname {
        /// The group whose CNAME was accepted.
        with: Source,
    },
    /// A CNAME at a zone apex, which always holds SOA and NS.
    CnameAtApex,
    /// NS below the apex: a delegation, which this server does not serve.
    Delegation,
    /// An SOA record: the SOA comes from the zone configuration, with the
    /// table version as its serial.
    MisplacedSoa,
    /// A document that is not a `DNSRecord` of our API version, or does not
    /// match the schema.
    NotARecord(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadName {
                field,
                value,
                error,
            } => write!(f, "invalid name in {field} {value:?}: {error}"),
            Self::BadAddress(value) => write!(f, "{value:?} is not an IPv4 or IPv6 address"),
            Self::TtlOutOfRange(ttl) => {
                write!(f, "TTL {ttl} out of range (0..={MAX_TTL}, RFC 2181 §8)")
            }
            Self::NoData => f.write_str("no data: give addresses, cname, txt or srv"),
            Self::MixedData => f.write_str(
                "more than one kind of data: give only one of addresses, cname, txt, srv",
            ),
            Self::TxtTooLong(len) => write!(f, "TXT string of {len} octets (at most 255)"),
            Self::MalformedRdata(rtype) => write!(f, "{rtype} data that is not a valid {rtype}"),
            Self::OutsideZones => f.write_str("name outside every served zone"),
            Self::CnameConflict { with } => write!(
                f,
                "CNAME and other data at the same name (RFC 1034 §3.6.2); conflicts with {with}"
            ),
            Self::SecondCname { with } => {
                write!(
                    f,
                    "a second, different CNAME for the name; {with} has the first"
                )
            }
            Self::CnameAtApex => f.write_str("CNAME at a zone apex"),
            Self::Delegation => f.write_str("NS below the zone apex (delegations are not served)"),
            Self::MisplacedSoa => {
                f.write_str("SOA records come from the zone configuration, not from records")
            }
            Self::NotARecord(message) => write!(f, "not a valid DNSRecord: {message}"),
        }
    }
}

/// A rejected group of records: where it came from, its owner, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where the records came from.
    pub source: Source,
    /// The owner name as written, when known.
    pub owner: Option<String>,
    /// Why they were rejected.
    pub rejection: Rejection,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Some(owner) => write!(f, "{}: {}: {}", self.source, owner, self.rejection),
            None => write!(f, "{}: {}", self.source, self.rejection),
        }
    }
}

impl std::error::Error for Problem {}

//----------- The builder ------------------------------------------------------

/// Collects records, then builds a [`Table`] from every group that passes
/// validation, reporting the others.
#[derive(Debug)]
pub struct TableBuilder {
    config: TableConfig,
    /// Accepted groups, in order.
    groups: Vec<Group>,
    problems: Vec<Problem>,
}

/// One group of records from one source.
#[derive(Debug)]
struct Group {
    source: Source,
    owner_text: String,
    /// The owner's lowercase wire form, boxed to its own length (a
    /// `NameKey` is 256 bytes, and a builder may hold a million groups).
    owner: Box<[u8]>,
    ttl: u32,
    values: Vec<RecordValue>,
}

/// What a build produced.
#[derive(Debug)]
pub struct Built {
    /// The table, holding every accepted record.
    pub table: Table,
    /// Every rejected group, in the order added.
    pub problems: Vec<Problem>,
}

impl TableBuilder {
    /// A builder for tables of `config`'s zones.
    pub fn new(config: TableConfig) -> Self {
        Self {
            config,
            groups: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The problems found so far.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Records a problem found outside the builder (a document that does not
    /// deserialize), so that one list reports everything.
    pub fn reject(&mut self, source: Source, owner: Option<String>, rejection: Rejection) {
        self.problems.push(Problem {
            source,
            owner,
            rejection,
        });
    }

    /// Adds the records of one `DNSRecord` spec. Checks that need no other
    /// record are made here; the error is also kept for [`Built::problems`].
    pub fn add_spec(&mut self, spec: &DnsRecordSpec, source: Source) -> Result<(), Box<Problem>> {
        let values = spec_values(spec);
        match values {
            Ok(values) => self.add(source, &spec.name, u64::from(spec.ttl), values),
            Err(rejection) => self.fail(source, Some(spec.name.clone()), rejection),
        }
    }

    /// Adds one group of records: `owner` in presentation format, a TTL and
    /// the values.
    pub fn add(
        &mut self,
        source: Source,
        owner: &str,
        ttl: u64,
        values: Vec<RecordValue>,
    ) -> Result<(), Box<Problem>> {
        let owner_text = owner.to_owned();
        let name = match NameBuf::from_presentation(owner) {
            Ok(name) => name,
            Err(error) => {
                let rejection = Rejection::BadName {
                    field: "name",
                    value: owner_text.clone(),
                    error,
                };
                return self.fail(source, Some(owner_text), rejection);
            }
        };
        let ttl = match u32::try_from(ttl) {
            Ok(ttl) if ttl <= MAX_TTL => ttl,
            _ => return self.fail(source, Some(owner_text), Rejection::TtlOutOfRange(ttl)),
        };
        if values.is_empty() {
            return self.fail(source, Some(owner_text), Rejection::NoData);
        }
        // Opaque values of a known type must have that type's shape: they
        // are copied into answers as they are.
        if let Some(rtype) = values.iter().find_map(|value| match value {
            RecordValue::Other { rtype, rdata } if !rdata_is_valid(*rtype, rdata) => Some(*rtype),
            _ => None,
        }) {
            return self.fail(source, Some(owner_text), Rejection::MalformedRdata(rtype));
        }
        self.groups.push(Group {
            source,
            owner_text,
            owner: name.to_key().as_wire().into(),
            ttl,
            values,
        });
        Ok(())
    }

    fn fail(
        &mut self,
        source: Source,
        owner: Option<String>,
        rejection: Rejection,
    ) -> Result<(), Box<Problem>> {
        let problem = Problem {
            source,
            owner,
            rejection,
        };
        self.problems.push(problem.clone());
        Err(Box::new(problem))
    }

    /// Validates the groups against each other and builds the table.
    pub fn build(self) -> Built {
        let Self {
            config,
            groups,
            mut problems,
        } = self;
        let mut zones: Vec<ZoneDraft> = config.zones.iter().map(ZoneDraft::new).collect();
        for group in groups {
            let zone = zones
                .iter_mut()
                .filter(|z| wire_is_at_or_below(&group.owner, z.apex.as_wire()))
                .max_by_key(|z| z.apex.label_count());
            let result = match zone {
                Some(zone) => zone.accept(&group),
                None => Err(Rejection::OutsideZones),
            };
            if let Err(rejection) = result {
                problems.push(Problem {
                    source: group.source,
                    owner: Some(group.owner_text),
                    rejection,
                });
            }
        }
        let chaos = Chaos {
            version: config.chaos_version.as_deref().map(chaos_tail),
            id: config.chaos_id.as_deref().map(chaos_tail),
        };
        let mut record_count = 0;
        let zones: Vec<Zone> = zones
            .into_iter()
            .map(|draft| {
                let (zone, records) = draft.finish(config.version);
                record_count += records;
                zone
            })
            .collect();
        Built {
            table: Table {
                version: config.version,
                zones: zones.into_boxed_slice(),
                record_count,
                chaos,
            },
            problems,
        }
    }
}

/// Checks a spec's fields and turns them into record values.
fn spec_values(spec: &DnsRecordSpec) -> Result<Vec<RecordValue>, Rejection> {
    let kinds = [
        !spec.addresses.is_empty(),
        spec.cname.is_some(),
        !spec.txt.is_empty(),
        !spec.srv.is_empty(),
    ]
    .into_iter()
    .filter(|&present| present)
    .count();
    match kinds {
        0 => return Err(Rejection::NoData),
        1 => {}
        _ => return Err(Rejection::MixedData),
    }
    let parse_name = |field: &'static str, value: &str| {
        NameBuf::from_presentation(value).map_err(|error| Rejection::BadName {
            field,
            value: value.to_owned(),
            error,
        })
    };
    let mut values = Vec::new();
    for address in &spec.addresses {
        match address.trim().parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => values.push(RecordValue::A(a)),
            Ok(IpAddr::V6(a)) => values.push(RecordValue::Aaaa(a)),
            Err(_) => return Err(Rejection::BadAddress(address.clone())),
        }
    }
    if let Some(target) = &spec.cname {
        values.push(RecordValue::Cname(Box::new(parse_name("cname", target)?)));
    }
    if !spec.txt.is_empty() {
        let mut strings = Vec::with_capacity(spec.txt.len());
        for text in &spec.txt {
            if text.len() > 255 {
                return Err(Rejection::TxtTooLong(text.len()));
            }
            strings.push(text.as_bytes().to_vec());
        }
        values.push(RecordValue::Txt(strings));
    }
    for srv in &spec.srv {
        values.push(RecordValue::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: Box::new(parse_name("srv.target", &srv.target)?),
        });
    }
    Ok(values)
}

/// The tail of a CHAOS TXT record holding `text` (split in 255-octet
/// strings), TTL 0.
fn chaos_tail(text: &str) -> Vec<u8> {
    let mut rdata = Vec::new();
    for chunk in text.as_bytes().chunks(255) {
        rdata.push(chunk.len() as u8);
        rdata.extend_from_slice(chunk);
    }
    if rdata.is_empty() {
        rdata.push(0);
    }
    let mut tail = Vec::with_capacity(10 + rdata.len());
    push_tail_head(&mut tail, RType::TXT, Class::CH, 0, rdata.len());
    tail.extend_from_slice(&rdata);
    tail
}

/// Appends TYPE, CLASS, TTL and RDLENGTH.
fn push_tail_head(out: &mut Vec<u8>, rtype: RType, class: Class, ttl: u32, rdlength: usize) {
    out.extend_from_slice(&rtype.0.to_be_bytes());
    out.extend_from_slice(&class.0.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdlength as u16).to_be_bytes());
}

//----------- Drafts -----------------------------------------------------------

/// A zone being assembled: owners with their RRsets, the accepted groups'
/// sources kept to name them in later conflicts.
struct ZoneDraft {
    config: ZoneConfig,
    apex: NameKey,
    owners: HashMap<Box<[u8]>, OwnerDraft, foldhash::fast::RandomState>,
    /// Owners in first-seen order, for a deterministic layout.
    order: Vec<Box<[u8]>>,
}

#[derive(Default)]
struct OwnerDraft {
    /// RRsets by type, in first-seen order: (type, TTL, values).
    rrsets: Vec<(RType, u32, Vec<RecordValue>)>,
    /// The first group that gave this owner a CNAME, or other data.
    cname_from: Option<Source>,
    data_from: Option<Source>,
}

impl ZoneDraft {
    fn new(config: &ZoneConfig) -> Self {
        Self {
            config: config.clone(),
            apex: config.apex.to_key(),
            owners: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            order: Vec::new(),
        }
    }

    /// Checks `group` against what was accepted so far and adds it.
    fn accept(&mut self, group: &Group) -> Result<(), Rejection> {
        let at_apex = *group.owner == *self.apex.as_wire();
        let has_cname = group.values.iter().any(|v| v.rtype() == RType::CNAME);
        let has_other = group.values.iter().any(|v| v.rtype() != RType::CNAME);
        if has_cname && (has_other || at_apex) {
            return Err(if at_apex {
                Rejection::CnameAtApex
            } else {
                Rejection::CnameConflict {
                    with: group.source.clone(),
                }
            });
        }
        if group.values.iter().any(|v| v.rtype() == RType::NS) && !at_apex {
            return Err(Rejection::Delegation);
        }
        // The SOA is synthesised from configuration; its serial is the
        // table's version, which records cannot override.
        if group.values.iter().any(|v| v.rtype() == RType::SOA) {
            return Err(Rejection::MisplacedSoa);
        }
        let key: Box<[u8]> = group.owner.clone();
        if let Some(owner) = self.owners.get(&key) {
            if has_cname {
                if let Some(with) = &owner.data_from {
                    return Err(Rejection::CnameConflict { with: with.clone() });
                }
                if let Some(with) = &owner.cname_from {
                    let same = owner
                        .rrsets
                        .iter()
                        .any(|(_, _, values)| values.iter().all(|v| group.values.contains(v)));
                    if !same {
                        return Err(Rejection::SecondCname { with: with.clone() });
                    }
                }
            } else if let Some(with) = &owner.cname_from {
                return Err(Rejection::CnameConflict { with: with.clone() });
            }
        }
        if !self.owners.contains_key(&key) {
            self.order.push(key.clone());
        }
        let owner = self.owners.entry(key).or_default();
        if has_cname {
            owner.cname_from.get_or_insert_with(|| group.source.clone());
        } else {
            owner.data_from.get_or_insert_with(|| group.source.clone());
        }
        for value in &group.values {
            let rtype = value.rtype();
            match owner.rrsets.iter_mut().find(|(t, _, _)| *t == rtype) {
                Some((_, ttl, values)) => {
                    // RFC 2181 §5.2: one TTL per RRset; take the smallest.
                    *ttl = (*ttl).min(group.ttl);
                    if !values.contains(value) {
                        values.push(value.clone());
                    }
                }
                None => owner.rrsets.push((rtype, group.ttl, vec![value.clone()])),
            }
        }
        Ok(())
    }

    /// Lays the zone out; returns it and the number of records in it.
    fn finish(mut self, version: u32) -> (Zone, usize) {
        let apex_wire: Box<[u8]> = self.apex.as_wire().into();
        // The apex always exists and always has SOA and NS: the SOA from
        // configuration (the records cannot give one, see `accept`), the NS
        // from configuration unless the records gave some.
        if !self.owners.contains_key(&apex_wire) {
            self.order.insert(0, apex_wire.clone());
        }
        let config = &self.config;
        let apex_owner = self.owners.entry(apex_wire.clone()).or_default();
        if !apex_owner.rrsets.iter().any(|(t, _, _)| *t == RType::NS) {
            apex_owner.rrsets.insert(
                0,
                (
                    RType::NS,
                    config.ttl,
                    vec![RecordValue::Ns(Box::new(config.mname))],
                ),
            );
        }
        let mut soa_rdata = Vec::new();
        soa_rdata.extend_from_slice(config.mname.as_wire());
        soa_rdata.extend_from_slice(config.rname.as_wire());
        for v in [
            version,
            config.refresh,
            config.retry,
            config.expire,
            config.minimum,
        ] {
            soa_rdata.extend_from_slice(&v.to_be_bytes());
        }
        apex_owner.rrsets.insert(
            0,
            (
                RType::SOA,
                config.ttl,
                vec![RecordValue::Other {
                    rtype: RType::SOA,
                    rdata: soa_rdata.clone(),
                }],
            ),
        );

        // Every ancestor of an owner down from the apex exists: empty
        // non-terminals (RFC 4592 §2.2.2).
        // Ancestors are suffixes of the owners' own bytes, so they are
        // borrowed, not copied: no allocation per name.
        let apex_len = self.apex.as_wire().len();
        let mut all: Vec<&[u8]> = Vec::with_capacity(self.order.len() * 2);
        let mut seen: hashbrown::HashSet<&[u8], foldhash::fast::RandomState> =
            hashbrown::HashSet::with_capacity_and_hasher(self.order.len() * 2, Default::default());
        for owner in &self.order {
            // Walk from the apex down to the owner, so parents come first.
            let mut starts = [0usize; 128];
            let mut levels = 0;
            let mut at = 0;
            while owner.len() - at > apex_len {
                starts[levels] = at;
                levels += 1;
                at += 1 + usize::from(owner[at]);
            }
            starts[levels] = at;
            for &start in starts[..=levels].iter().rev() {
                let wire = &owner[start..];
                if seen.insert(wire) {
                    all.push(wire);
                }
            }
        }

        let hasher = foldhash::fast::RandomState::default();
        let mut zone = Zone {
            apex: self.apex,
            names: Vec::with_capacity(all.iter().map(|n| n.len()).sum()),
            nodes: Vec::with_capacity(all.len()),
            index: HashTable::with_capacity(all.len()),
            hasher,
            rrsets: Vec::new(),
            tails: Vec::new(),
            apex_node: 0,
            negative_soa: (0, 0),
        };
        let mut record_count = 0;
        for &wire in &all {
            let index = zone.nodes.len() as u32;
            let name_start = zone.names.len() as u32;
            zone.names.extend_from_slice(wire);
            let rrset_start = zone.rrsets.len() as u32;
            if let Some(owner) = self.owners.get(wire) {
                for (rtype, ttl, values) in &owner.rrsets {
                    let tail_start = zone.tails.len() as u32;
                    let mut rdata = Vec::new();
                    for value in values {
                        rdata.clear();
                        value.write_rdata(&mut rdata);
                        push_tail_head(&mut zone.tails, *rtype, Class::IN, *ttl, rdata.len());
                        zone.tails.extend_from_slice(&rdata);
                    }
                    record_count += values.len();
                    zone.rrsets.push(RrSet {
                        rtype: *rtype,
                        count: values.len() as u16,
                        tail_start,
                        tail_len: zone.tails.len() as u32 - tail_start,
                    });
                }
            }
            zone.nodes.push(Node {
                name_start,
                name_len: wire.len() as u8,
                rrset_count: (zone.rrsets.len() as u32 - rrset_start) as u16,
                rrset_start,
                wildcard: NO_NODE,
            });
            let hash = zone.hasher.hash_one(wire);
            let (names, nodes, hasher) = (&zone.names, &zone.nodes, &zone.hasher);
            zone.index.insert_unique(hash, index, |&i| {
                let node = &nodes[i as usize];
                let start = node.name_start as usize;
                hasher.hash_one(&names[start..start + usize::from(node.name_len)])
            });
        }
        // Link each wildcard to its parent.
        for index in 0..zone.nodes.len() as u32 {
            let name = zone.node_name(index);
            if name.starts_with(b"\x01*") {
                let parent = zone.find(&name[2..]).expect("ancestors exist");
                zone.nodes[parent as usize].wildcard = index;
            }
        }
        zone.apex_node = zone.find(&apex_wire).expect("the apex exists");

        // The negative SOA: the same record, TTL min(SOA TTL, MINIMUM).
        let negative_ttl = config.ttl.min(config.minimum);
        let start = zone.tails.len() as u32;
        let mut tail = Vec::new();
        push_tail_head(
            &mut tail,
            RType::SOA,
            Class::IN,
            negative_ttl,
            soa_rdata.len(),
        );
        tail.extend_from_slice(&soa_rdata);
        zone.tails.extend_from_slice(&tail);
        zone.negative_soa = (start, tail.len() as u32);
        (zone, record_count)
    }
}
