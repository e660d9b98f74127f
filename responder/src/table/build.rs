//! Building a table: validate every record, reject the bad ones by name,
//! and lay the good ones out for fast lookup.
//!
//! Records come in groups, one per [`Source`] (a `DNSRecord` object, one
//! document of a records file). A group is accepted or rejected whole, so an
//! object's status is one answer. Checks made when a group is added:
//! names parse (RFC 1035 §3.1), addresses parse, TTLs are within
//! 0..=2147483647 (RFC 2181 §8), a spec carries exactly one kind of data,
//! TXT strings fit 255 octets, target addresses come only with a CNAME and
//! parse (repeats are served once, like repeated addresses), the owner lies
//! in a configured zone and a CNAME carrying target addresses leaves every
//! configured zone (inside one, we follow the CNAME ourselves). Checks
//! made against the groups accepted before it, in order (first come wins,
//! and the rejection names the group it lost to): a CNAME never shares its
//! owner with other data, a zone apex never holds a CNAME (RFC 1034 §3.6.2,
//! RFC 2181 §10.1), an owner has at most one CNAME (and one set of target
//! addresses: a group repeating the CNAME must repeat them too); NS is only accepted at
//! the apex (delegations are not served) and SOA only at the apex.
//! Identical records are merged; an RRset whose records disagree on TTL
//! takes the smallest (RFC 2181 §5.2).

use std::fmt;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use xcc_wire::{Class, NameBuf, NameKey, ParseError, RType};

use super::ids::IdMap;
use super::snapshot::rdata_is_valid;
use super::{Chaos, NO_NODE, NameIndex, Node, RrSet, Table, Zone, wire_is_at_or_below};
use crate::records::model::{DnsRecordSpec, DnsRecordSpecOf};

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
    /// Alias. Names are boxed so that the common values (addresses) stay
    /// small: a builder holds a million of them.
    Cname {
        /// The canonical name.
        target: Box<NameBuf>,
        /// The target's addresses, served after the CNAME to clients that
        /// do not follow it (a load balancer's hostname and what it
        /// resolves to now). Only for a target outside every served zone;
        /// the builder sorts them and drops repeats. Usually empty, which
        /// allocates nothing.
        target_addresses: Box<[IpAddr]>,
    },
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
            Self::Cname { .. } => RType::CNAME,
            Self::Ns(_) => RType::NS,
            Self::Txt(_) => RType::TXT,
            Self::Srv { .. } => RType::SRV,
            Self::Mx { .. } => RType::MX,
            Self::Other { rtype, .. } => *rtype,
        }
    }

    /// The length of the RDATA in wire form, names uncompressed.
    fn rdata_len(&self) -> usize {
        match self {
            Self::A(_) => 4,
            Self::Aaaa(_) => 16,
            Self::Cname { target: n, .. } | Self::Ns(n) => n.as_wire().len(),
            Self::Txt(strings) => strings.iter().map(|s| 1 + s.len()).sum(),
            Self::Srv { target, .. } => 6 + target.as_wire().len(),
            Self::Mx { exchange, .. } => 2 + exchange.as_wire().len(),
            Self::Other { rdata, .. } => rdata.len(),
        }
    }

    /// The length of the tails of the target's A and AAAA records a CNAME
    /// carries (zero for every other value).
    fn target_tails_len(&self) -> usize {
        match self {
            Self::Cname {
                target_addresses, ..
            } => target_addresses
                .iter()
                .map(|address| match address {
                    IpAddr::V4(_) => 10 + 4,
                    IpAddr::V6(_) => 10 + 16,
                })
                .sum(),
            _ => 0,
        }
    }

    /// The value with its target addresses (if any) made a set: sorted,
    /// each once, so that equal sets compare equal and each address is
    /// served once (RFC 2181 §5: an RRset holds no duplicates).
    fn normalized(self) -> Self {
        match self {
            Self::Cname {
                target,
                target_addresses,
            } if !target_addresses.is_sorted_by(|a, b| a < b) => {
                let mut addresses = target_addresses.into_vec();
                addresses.sort_unstable();
                addresses.dedup();
                Self::Cname {
                    target,
                    target_addresses: addresses.into_boxed_slice(),
                }
            }
            other => other,
        }
    }

    /// The CNAME's target, for a CNAME.
    fn cname_target(&self) -> Option<&NameBuf> {
        match self {
            Self::Cname { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Appends the RDATA in wire form, names uncompressed.
    fn write_rdata(&self, out: &mut Vec<u8>) {
        match self {
            Self::A(a) => out.extend_from_slice(&a.octets()),
            Self::Aaaa(a) => out.extend_from_slice(&a.octets()),
            Self::Cname { target: n, .. } | Self::Ns(n) => out.extend_from_slice(n.as_wire()),
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

/// A [`Source`] whose strings are borrowed. The builder copies what it
/// keeps of a source into arenas of its own, so a caller adding a million
/// groups need not make a million `Source`s; a `Source` (or a reference to
/// one) is taken as well, see [`AsSource`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceRef<'a> {
    /// The file, for records files.
    pub file: Option<&'a str>,
    /// The document in the file, counted from 1.
    pub document: Option<usize>,
    /// The object.
    pub object: Option<ObjectRef<'a>>,
}

/// An object's name, shown `namespace/name` (just `name` without a
/// namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectRef<'a> {
    /// The namespace.
    pub namespace: Option<&'a str>,
    /// The name.
    pub name: &'a str,
}

impl fmt::Display for ObjectRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.namespace {
            Some(namespace) => write!(f, "{namespace}/{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

impl SourceRef<'_> {
    /// The owned source.
    pub fn to_source(&self) -> Source {
        Source {
            file: self.file.map(str::to_owned),
            document: self.document,
            object: self.object.map(|object| object.to_string()),
        }
    }
}

/// What a builder takes as a group's source: a [`Source`], a reference to
/// one, or a [`SourceRef`].
pub trait AsSource {
    /// The source, borrowed.
    fn as_source(&self) -> SourceRef<'_>;
}

impl AsSource for Source {
    fn as_source(&self) -> SourceRef<'_> {
        SourceRef {
            file: self.file.as_deref(),
            document: self.document,
            object: self.object.as_deref().map(|name| ObjectRef {
                namespace: None,
                name,
            }),
        }
    }
}

impl<T: AsSource> AsSource for &T {
    fn as_source(&self) -> SourceRef<'_> {
        (**self).as_source()
    }
}

impl AsSource for SourceRef<'_> {
    fn as_source(&self) -> SourceRef<'_> {
        *self
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
    /// Target addresses without a CNAME: they are the addresses of a CNAME
    /// target and mean nothing alone.
    TargetAddressesWithoutCname,
    /// A target address that is neither IPv4 nor IPv6.
    BadTargetAddress(String),
    /// Target addresses on a CNAME whose target lies inside a served zone:
    /// this server follows such a CNAME itself (RFC 1034 §4.3.2) and serves
    /// the target's own records, which the carried ones could only
    /// contradict.
    TargetAddressesInServedZone {
        /// The CNAME target, as configured.
        target: String,
        /// The apex of the zone it lies in.
        zone: String,
    },
    /// The same CNAME as an earlier group, with other target addresses.
    DifferentTargetAddresses {
        /// The group whose CNAME and target addresses were accepted.
        with: Source,
    },
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
            Self::TargetAddressesWithoutCname => f.write_str(
                "targetAddresses without a cname: they are the addresses of a CNAME target",
            ),
            Self::BadTargetAddress(value) => write!(
                f,
                "targetAddresses: {value:?} is not an IPv4 or IPv6 address"
            ),
            Self::TargetAddressesInServedZone { target, zone } => write!(
                f,
                "targetAddresses on a cname to {target}, inside the served zone {zone}: \
                 CNAMEs inside our zones are followed by this server, so targetAddresses \
                 are only for targets outside every served zone"
            ),
            Self::DifferentTargetAddresses { with } => write!(
                f,
                "the same CNAME with different targetAddresses; {with} has the first"
            ),
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
    /// Accepted groups, in order, their names and values in shared arenas.
    groups: Groups,
    problems: Vec<Problem>,
}

/// The accepted groups. Owner texts, wire names, values and sources of all
/// groups lie back to back in a few vectors, so that adding a group
/// allocates nothing of its own (a builder may hold a million).
#[derive(Debug, Default)]
struct Groups {
    groups: Vec<Group>,
    texts: String,
    owners: Vec<u8>,
    values: Vec<RecordValue>,
    /// The files groups came from, each once in a row.
    files: Vec<Box<str>>,
    /// The groups' object names.
    objects: String,
}

/// Where a group came from, its strings in [`Groups`].
#[derive(Debug)]
struct SourceAt {
    /// In [`Groups::files`], or [`NONE`].
    file: u32,
    document: Option<usize>,
    /// In [`Groups::objects`]; [`NONE`] as the start when there is none.
    object: (u32, u32),
}

/// One group of records from one source.
#[derive(Debug)]
struct Group {
    source: SourceAt,
    /// The owner as written, in [`Groups::texts`].
    text: (u32, u32),
    /// The owner's lowercase wire form, in [`Groups::owners`].
    owner: (u32, u8),
    /// The values, in [`Groups::values`].
    values: (u32, u32),
    ttl: u32,
}

impl Groups {
    fn len(&self) -> usize {
        self.groups.len()
    }

    fn owner(&self, group: u32) -> &[u8] {
        let (start, len) = self.groups[group as usize].owner;
        &self.owners[start as usize..start as usize + usize::from(len)]
    }

    fn text(&self, group: u32) -> &str {
        let (start, len) = self.groups[group as usize].text;
        &self.texts[start as usize..(start + len) as usize]
    }

    fn values(&self, group: u32) -> &[RecordValue] {
        let (start, len) = self.groups[group as usize].values;
        &self.values[start as usize..(start + len) as usize]
    }

    fn value(&self, group: u32, index: u32) -> &RecordValue {
        &self.values[(self.groups[group as usize].values.0 + index) as usize]
    }

    /// The source of group `group`, made owned (for a problem).
    fn source(&self, group: u32) -> Source {
        let at = &self.groups[group as usize].source;
        Source {
            file: self
                .files
                .get(at.file as usize)
                .map(|file| file.to_string()),
            document: at.document,
            object: (at.object.0 != NONE).then(|| {
                let (start, len) = at.object;
                self.objects[start as usize..(start + len) as usize].to_owned()
            }),
        }
    }

    /// Keeps `source` in the arenas.
    fn keep(&mut self, source: SourceRef<'_>) -> SourceAt {
        let file = match source.file {
            None => NONE,
            Some(file) => {
                if self.files.last().is_none_or(|last| **last != *file) {
                    self.files.push(file.into());
                }
                self.files.len() as u32 - 1
            }
        };
        let object = match source.object {
            None => (NONE, 0),
            Some(object) => {
                let start = self.objects.len();
                if let Some(namespace) = object.namespace {
                    self.objects.push_str(namespace);
                    self.objects.push('/');
                }
                self.objects.push_str(object.name);
                (start as u32, (self.objects.len() - start) as u32)
            }
        };
        SourceAt {
            file,
            document: source.document,
            object,
        }
    }

    fn ttl(&self, group: u32) -> u32 {
        self.groups[group as usize].ttl
    }
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
            groups: Groups::default(),
            problems: Vec::new(),
        }
    }

    /// Makes room for about `groups` more groups, when their number is
    /// known before they are added (a list's items), so that the arenas
    /// are not copied as they grow.
    pub fn reserve(&mut self, groups: usize) {
        // A typical owner name: 50 characters; a group: one or two values.
        let arenas = &mut self.groups;
        arenas.groups.reserve(groups);
        arenas.values.reserve(groups + groups / 2);
        arenas.texts.reserve(groups * 50);
        arenas.owners.reserve(groups * 50);
        arenas.objects.reserve(groups * 40);
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
    pub fn add_spec<S: AsRef<str>>(
        &mut self,
        spec: &DnsRecordSpecOf<S>,
        source: impl AsSource,
    ) -> Result<(), Box<Problem>> {
        let source = source.as_source();
        let start = self.groups.values.len();
        let name = spec.name.as_ref();
        match push_spec_values(spec, &mut self.groups.values) {
            Ok(()) => self.add_pushed(source, name, u64::from(spec.ttl), start),
            Err(rejection) => {
                self.groups.values.truncate(start);
                self.fail(source, Some(name.to_owned()), rejection)
            }
        }
    }

    /// Adds one group of records: `owner` in presentation format, a TTL and
    /// the values.
    pub fn add(
        &mut self,
        source: impl AsSource,
        owner: &str,
        ttl: u64,
        values: Vec<RecordValue>,
    ) -> Result<(), Box<Problem>> {
        let source = source.as_source();
        let start = self.groups.values.len();
        self.groups
            .values
            .extend(values.into_iter().map(RecordValue::normalized));
        self.add_pushed(source, owner, ttl, start)
    }

    /// Adds a group whose values were pushed to the arena from `start`; on
    /// an error they are taken back.
    fn add_pushed(
        &mut self,
        source: SourceRef<'_>,
        owner: &str,
        ttl: u64,
        start: usize,
    ) -> Result<(), Box<Problem>> {
        let rejection = match check_group(owner, ttl, &self.groups.values[start..]) {
            Ok((name, ttl)) => {
                let groups = &mut self.groups;
                let text = (groups.texts.len() as u32, owner.len() as u32);
                groups.texts.push_str(owner);
                let wire = name.into_key();
                let wire = wire.as_wire();
                let owner = (groups.owners.len() as u32, wire.len() as u8);
                groups.owners.extend_from_slice(wire);
                let values = (start as u32, (groups.values.len() - start) as u32);
                let source = groups.keep(source);
                groups.groups.push(Group {
                    source,
                    text,
                    owner,
                    values,
                    ttl,
                });
                return Ok(());
            }
            Err(rejection) => rejection,
        };
        self.groups.values.truncate(start);
        self.fail(source, Some(owner.to_owned()), rejection)
    }

    /// Adds a spec parsed and checked before ([`ParsedSpec::parse`]): the
    /// same as [`TableBuilder::add_spec`] on that spec, without parsing it
    /// again (a controller keeps one per object version).
    pub fn add_parsed(&mut self, parsed: &ParsedSpec, source: impl AsSource) {
        let groups = &mut self.groups;
        let source = groups.keep(source.as_source());
        let text = (groups.texts.len() as u32, parsed.owner_text.len() as u32);
        groups.texts.push_str(&parsed.owner_text);
        let owner = (groups.owners.len() as u32, parsed.owner.len() as u8);
        groups.owners.extend_from_slice(&parsed.owner);
        let values = (groups.values.len() as u32, parsed.values.len() as u32);
        groups.values.extend(parsed.values.iter().cloned());
        groups.groups.push(Group {
            source,
            text,
            owner,
            values,
            ttl: parsed.ttl,
        });
    }

    /// The owner (lowercase wire form) of the last group added, if it was
    /// accepted and not withdrawn.
    pub fn last_owner(&self) -> Option<&[u8]> {
        let last = self.groups.len().checked_sub(1)?;
        Some(self.groups.owner(last as u32))
    }

    /// Takes back the last group added (a caller's own rule refused it
    /// after the builder's checks passed); returns its source.
    pub fn withdraw_last(&mut self) -> Option<Source> {
        let groups = &mut self.groups;
        let source = groups.source(groups.groups.len().checked_sub(1)? as u32);
        let group = groups.groups.pop()?;
        if group.source.object.0 != NONE {
            groups.objects.truncate(group.source.object.0 as usize);
        }
        groups.texts.truncate(group.text.0 as usize);
        groups.owners.truncate(group.owner.0 as usize);
        groups.values.truncate(group.values.0 as usize);
        Some(source)
    }

    fn fail(
        &mut self,
        source: SourceRef<'_>,
        owner: Option<String>,
        rejection: Rejection,
    ) -> Result<(), Box<Problem>> {
        let problem = Problem {
            source: source.to_source(),
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
        // One hasher for the build: each owner name is hashed once, here,
        // and the hash serves every map it goes in.
        let hasher = foldhash::fast::RandomState::default();
        let mut zones: Vec<ZoneDraft> = config
            .zones
            .iter()
            .map(|config| ZoneDraft::new(config, hasher.clone()))
            .collect();
        // Groups are checked in order and only referred to by index
        // afterwards: the drafts copy no names, values or sources.
        let mut rejected: Vec<(u32, Rejection)> = Vec::new();
        // Each group's zone first, so that each draft is sized once.
        let zone_of: Vec<Option<u32>> = (0..groups.len() as u32)
            .map(|index| {
                let owner = groups.owner(index);
                zones
                    .iter()
                    .enumerate()
                    .filter(|(_, z)| wire_is_at_or_below(owner, z.apex.as_wire()))
                    .max_by_key(|(_, z)| z.apex.label_count())
                    .map(|(i, _)| i as u32)
            })
            .collect();
        let hashes: Vec<u64> = (0..groups.len() as u32)
            .map(|index| hasher.hash_one(groups.owner(index)))
            .collect();
        let mut per_zone = vec![0usize; zones.len()];
        for zone in zone_of.iter().flatten() {
            per_zone[*zone as usize] += 1;
        }
        for (zone, count) in zones.iter_mut().zip(per_zone) {
            zone.reserve(&groups, count);
        }
        let apexes: Vec<NameKey> = config.zones.iter().map(|z| z.apex.to_key()).collect();
        for (index, zone) in zone_of.iter().enumerate() {
            // The owner a few groups on: its slot arrives while these are
            // checked (see `ids`).
            if let Some(&Some(ahead)) = zone_of.get(index + AHEAD) {
                zones[ahead as usize].index.prefetch(hashes[index + AHEAD]);
            }
            let zone = zone.map(|zone| &mut zones[zone as usize]);
            let result = match zone {
                Some(zone) => check_targets_leave_the_zones(
                    groups.values(index as u32),
                    &apexes,
                    &config.zones,
                )
                .and_then(|()| zone.accept(&groups, index as u32, hashes[index])),
                None => Err(Rejection::OutsideZones),
            };
            if let Err(rejection) = result {
                rejected.push((index as u32, rejection));
            }
        }
        drop(zone_of);
        let chaos = Chaos {
            version: config.chaos_version.as_deref().map(chaos_tail),
            id: config.chaos_id.as_deref().map(chaos_tail),
        };
        let mut record_count = 0;
        let zones: Vec<Zone> = zones
            .into_iter()
            .map(|draft| {
                let (zone, records) = draft.finish(&groups, &hashes, config.version);
                record_count += records;
                zone
            })
            .collect();
        for (index, rejection) in rejected {
            problems.push(Problem {
                source: groups.source(index),
                owner: Some(groups.text(index).to_owned()),
                rejection,
            });
        }
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

/// A `DNSRecord` spec checked on its own and parsed, ready for
/// [`TableBuilder::add_parsed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedSpec {
    owner_text: String,
    /// Lowercase wire form.
    owner: Box<[u8]>,
    ttl: u32,
    values: Vec<RecordValue>,
}

impl ParsedSpec {
    /// Parses and checks `spec` as [`TableBuilder::add_spec`] does, with
    /// the same rejections in the same order.
    pub fn parse(spec: &DnsRecordSpec) -> Result<Self, Rejection> {
        let mut values = Vec::new();
        push_spec_values(spec, &mut values)?;
        let (name, ttl) = check_group(&spec.name, u64::from(spec.ttl), &values)?;
        Ok(Self {
            owner_text: spec.name.clone(),
            owner: name.into_key().as_wire().into(),
            ttl,
            values,
        })
    }
}

/// The checks of one group on its own (its values already checked one by
/// one): its owner name and TTL, parsed, or why not. Shared by
/// [`TableBuilder::add`], [`TableBuilder::add_spec`] and
/// [`ParsedSpec::parse`], so they reject alike.
fn check_group(owner: &str, ttl: u64, values: &[RecordValue]) -> Result<(NameBuf, u32), Rejection> {
    let name = NameBuf::from_presentation(owner).map_err(|error| Rejection::BadName {
        field: "name",
        value: owner.to_owned(),
        error,
    })?;
    let ttl = match u32::try_from(ttl) {
        Ok(ttl) if ttl <= MAX_TTL => ttl,
        _ => return Err(Rejection::TtlOutOfRange(ttl)),
    };
    if values.is_empty() {
        return Err(Rejection::NoData);
    }
    // Opaque values of a known type must have that type's shape: they
    // are copied into answers as they are.
    if let Some(rtype) = values.iter().find_map(|value| match value {
        RecordValue::Other { rtype, rdata } if !rdata_is_valid(*rtype, rdata) => Some(*rtype),
        _ => None,
    }) {
        return Err(Rejection::MalformedRdata(rtype));
    }
    Ok((name, ttl))
}

/// Target addresses ride only on CNAMEs that leave every served zone: a
/// target inside one is followed by the answer engine (RFC 1034 §4.3.2),
/// and its own records, not carried copies, answer for it.
fn check_targets_leave_the_zones(
    values: &[RecordValue],
    apexes: &[NameKey],
    zones: &[ZoneConfig],
) -> Result<(), Rejection> {
    for value in values {
        let RecordValue::Cname {
            target,
            target_addresses,
        } = value
        else {
            continue;
        };
        if target_addresses.is_empty() {
            continue;
        }
        let target_key = target.to_key();
        if let Some(at) = apexes
            .iter()
            .position(|apex| target_key.is_at_or_below(apex))
        {
            return Err(Rejection::TargetAddressesInServedZone {
                target: target.to_string(),
                zone: zones[at].apex.to_string(),
            });
        }
    }
    Ok(())
}

/// Checks a spec's fields and turns them into record values.
fn push_spec_values<S: AsRef<str>>(
    spec: &DnsRecordSpecOf<S>,
    values: &mut Vec<RecordValue>,
) -> Result<(), Rejection> {
    // Target addresses are not a kind of data of their own: they ride on a
    // CNAME. Said before "no data", which a spec with only them would get.
    if !spec.target_addresses.is_empty() && spec.cname.is_none() {
        return Err(Rejection::TargetAddressesWithoutCname);
    }
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
    for address in &spec.addresses {
        let address = address.as_ref();
        match address.trim().parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => values.push(RecordValue::A(a)),
            Ok(IpAddr::V6(a)) => values.push(RecordValue::Aaaa(a)),
            Err(_) => return Err(Rejection::BadAddress(address.to_owned())),
        }
    }
    if let Some(target) = &spec.cname {
        let target = Box::new(parse_name("cname", target.as_ref())?);
        let mut target_addresses = Vec::with_capacity(spec.target_addresses.len());
        for address in &spec.target_addresses {
            let address = address.as_ref();
            match address.trim().parse::<IpAddr>() {
                Ok(address) => target_addresses.push(address),
                Err(_) => return Err(Rejection::BadTargetAddress(address.to_owned())),
            }
        }
        // A set, like `addresses` (whose repeats are merged): each address
        // is served once, and two groups listing the same addresses in
        // another order give equal values.
        values.push(
            RecordValue::Cname {
                target,
                target_addresses: target_addresses.into_boxed_slice(),
            }
            .normalized(),
        );
    }
    if !spec.txt.is_empty() {
        let mut strings = Vec::with_capacity(spec.txt.len());
        for text in &spec.txt {
            let text = text.as_ref();
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
            target: Box::new(parse_name("srv.target", srv.target.as_ref())?),
        });
    }
    Ok(())
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

/// A zone being assembled. It refers to the groups by index and copies
/// nothing from them: owners and records are entries of two flat vectors,
/// a record pointing at its group's value, so a build of a million records
/// makes no allocation per record or per owner.
struct ZoneDraft {
    config: ZoneConfig,
    apex: NameKey,
    /// Indices into `owners`, by the owner's wire name.
    index: IdMap,
    hasher: foldhash::fast::RandomState,
    /// Owners in first-seen order (the layout is deterministic).
    owners: Vec<OwnerDraft>,
    /// Every accepted record, chained per owner in the order accepted.
    records: Vec<RecordDraft>,
}

/// One owner name with records.
struct OwnerDraft {
    /// The first group with this owner: its `owner` bytes name it.
    named_by: u32,
    /// The first group that gave this owner a CNAME, or other data.
    cname_from: u32,
    data_from: u32,
    /// The owner's first and last records in [`ZoneDraft::records`].
    first: u32,
    last: u32,
}

/// One record: the `value`-th value of group `group`.
struct RecordDraft {
    group: u32,
    value: u32,
    /// The TTL; for an RRset, the smallest of its records' (RFC 2181 §5.2),
    /// also counting groups whose identical record was merged into this one.
    ttl: u32,
    /// The owner's next record, or [`NONE`].
    next: u32,
}

/// No group, no record.
const NONE: u32 = u32::MAX;

impl ZoneDraft {
    fn new(config: &ZoneConfig, hasher: foldhash::fast::RandomState) -> Self {
        Self {
            config: config.clone(),
            apex: config.apex.to_key(),
            index: IdMap::with_capacity(0),
            hasher,
            owners: Vec::new(),
            records: Vec::new(),
        }
    }

    /// Makes room for `count` more groups.
    fn reserve(&mut self, groups: &Groups, count: usize) {
        self.owners.reserve(count);
        self.records.reserve(count * 2);
        let (owners, hasher) = (&self.owners, &self.hasher);
        self.index.reserve(count, |o| {
            hasher.hash_one(groups.owner(owners[o as usize].named_by))
        });
    }

    /// The owner named `wire`, if it has records.
    fn owner(&self, groups: &Groups, wire: &[u8]) -> Option<u32> {
        self.owner_hashed(groups, wire, self.hasher.hash_one(wire))
    }

    /// [`ZoneDraft::owner`], the name's hash known.
    fn owner_hashed(&self, groups: &Groups, wire: &[u8], hash: u64) -> Option<u32> {
        self.index.find(hash, |o| {
            groups.owner(self.owners[o as usize].named_by) == wire
        })
    }

    /// The records of `owner`, in the order accepted.
    fn records_of(&self, owner: &OwnerDraft) -> impl Iterator<Item = &RecordDraft> {
        let mut at = owner.first;
        std::iter::from_fn(move || {
            let record = self.records.get(at as usize)?;
            at = record.next;
            Some(record)
        })
    }

    /// Checks group `index` against what was accepted so far and adds it.
    /// `hash` is the hash of its owner name.
    fn accept(&mut self, groups: &Groups, index: u32, hash: u64) -> Result<(), Rejection> {
        let value_of = |record: &RecordDraft| groups.value(record.group, record.value);
        let (group_owner, group_values, group_ttl) =
            (groups.owner(index), groups.values(index), groups.ttl(index));
        let at_apex = group_owner == self.apex.as_wire();
        let has_cname = group_values.iter().any(|v| v.rtype() == RType::CNAME);
        let has_other = group_values.iter().any(|v| v.rtype() != RType::CNAME);
        if has_cname && (has_other || at_apex) {
            return Err(if at_apex {
                Rejection::CnameAtApex
            } else {
                Rejection::CnameConflict {
                    with: groups.source(index),
                }
            });
        }
        if group_values.iter().any(|v| v.rtype() == RType::NS) && !at_apex {
            return Err(Rejection::Delegation);
        }
        // The SOA is synthesised from configuration; its serial is the
        // table's version, which records cannot override.
        if group_values.iter().any(|v| v.rtype() == RType::SOA) {
            return Err(Rejection::MisplacedSoa);
        }
        let source_of = |g: u32| groups.source(g);
        let owner = match self.owner_hashed(groups, group_owner, hash) {
            Some(owner) => {
                let draft = &self.owners[owner as usize];
                if has_cname {
                    if draft.data_from != NONE {
                        return Err(Rejection::CnameConflict {
                            with: source_of(draft.data_from),
                        });
                    }
                    // A second group may repeat the CNAME, not change it:
                    // neither its target nor the target addresses it carries.
                    let same = self
                        .records_of(draft)
                        .all(|record| group_values.contains(value_of(record)));
                    if !same {
                        let same_target = self.records_of(draft).all(|record| {
                            let target = value_of(record).cname_target();
                            group_values.iter().any(|v| v.cname_target() == target)
                        });
                        let with = source_of(draft.cname_from);
                        return Err(if same_target {
                            Rejection::DifferentTargetAddresses { with }
                        } else {
                            Rejection::SecondCname { with }
                        });
                    }
                } else if draft.cname_from != NONE {
                    return Err(Rejection::CnameConflict {
                        with: source_of(draft.cname_from),
                    });
                }
                owner
            }
            None => {
                let owner = self.owners.len() as u32;
                self.owners.push(OwnerDraft {
                    named_by: index,
                    cname_from: NONE,
                    data_from: NONE,
                    first: NONE,
                    last: NONE,
                });
                let (owners, hasher) = (&self.owners, &self.hasher);
                self.index.insert_new(hash, owner, |o| {
                    hasher.hash_one(groups.owner(owners[o as usize].named_by))
                });
                owner
            }
        };
        let draft = &mut self.owners[owner as usize];
        let from = if has_cname {
            &mut draft.cname_from
        } else {
            &mut draft.data_from
        };
        if *from == NONE {
            *from = index;
        }
        for (value_index, value) in group_values.iter().enumerate() {
            // An identical record is served once, with the smaller TTL.
            let draft = &self.owners[owner as usize];
            let mut at = draft.first;
            let mut duplicate = None;
            while at != NONE {
                let record = &self.records[at as usize];
                if value_of(record) == value {
                    duplicate = Some(at);
                    break;
                }
                at = record.next;
            }
            if let Some(at) = duplicate {
                let record = &mut self.records[at as usize];
                record.ttl = record.ttl.min(group_ttl);
                continue;
            }
            let at = self.records.len() as u32;
            self.records.push(RecordDraft {
                group: index,
                value: value_index as u32,
                ttl: group_ttl,
                next: NONE,
            });
            let draft = &mut self.owners[owner as usize];
            if draft.last == NONE {
                draft.first = at;
            } else {
                self.records[draft.last as usize].next = at;
            }
            draft.last = at;
        }
        Ok(())
    }

    /// Lays the zone out; returns it and the number of records in it.
    /// `hashes` are the hashes of the groups' owner names.
    fn finish(self, groups: &Groups, hashes: &[u64], version: u32) -> (Zone, usize) {
        let config = &self.config;
        let apex_wire = self.apex.as_wire();
        let value_of = |record: &RecordDraft| groups.value(record.group, record.value);
        let name_of = |owner: &OwnerDraft| groups.owner(owner.named_by);

        // The apex always exists and always has SOA and NS: the SOA from
        // configuration (the records cannot give one, see `accept`), the NS
        // from configuration unless the records gave some.
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
        let apex_owner = self.owner(groups, apex_wire);
        let apex_has_ns = apex_owner.is_some_and(|o| {
            self.records_of(&self.owners[o as usize])
                .any(|record| value_of(record).rtype() == RType::NS)
        });

        let hasher = &self.hasher;
        // Each owner adds at most itself and its empty non-terminals; most
        // share their ancestors.
        let node_estimate = self.owners.len() * 2 + 1;
        let mut zone = Zone {
            apex: self.apex,
            names: Vec::with_capacity(
                self.owners
                    .iter()
                    .map(|owner| name_of(owner).len())
                    .sum::<usize>()
                    + apex_wire.len(),
            ),
            nodes: Vec::with_capacity(node_estimate),
            // Built once the nodes are final, below.
            index: NameIndex::empty(),
            rrsets: Vec::with_capacity(self.owners.len() + 2),
            // Every record's tail is TYPE, CLASS, TTL, RDLENGTH and RDATA;
            // the apex adds its SOA (twice: the negative one) and NS.
            tails: Vec::with_capacity(
                self.records
                    .iter()
                    .map(|record| {
                        let value = value_of(record);
                        10 + value.rdata_len() + value.target_tails_len()
                    })
                    .sum::<usize>()
                    + 3 * (10 + soa_rdata.len()),
            ),
            apex_node: 0,
            negative_soa: (0, 0),
        };
        // The apex's SOA, and NS unless the records give some.
        let mut record_count = if apex_has_ns { 1 } else { 2 };
        let mut rdata = Vec::new();
        // The types of one owner, in first-seen order.
        let mut types: Vec<RType> = Vec::new();
        // The RRsets of `owner`, appended for `node`.
        let mut push_owner = |zone: &mut Zone, node: u32, owner: &OwnerDraft| {
            types.clear();
            for record in self.records_of(owner) {
                let rtype = value_of(record).rtype();
                if !types.contains(&rtype) {
                    types.push(rtype);
                }
            }
            for &rtype in &types {
                let of_type = || {
                    self.records_of(owner)
                        .filter(move |record| value_of(record).rtype() == rtype)
                };
                let ttl = of_type()
                    .map(|record| record.ttl)
                    .min()
                    .expect("one record");
                record_count += of_type().count();
                push_rrset(zone, rtype, ttl, of_type().map(value_of), &mut rdata);
            }
            let node_index = node as usize;
            let node = &mut zone.nodes[node_index];
            node.rrset_count = (zone.rrsets.len() as u32 - node.rrset_start) as u16;
            // The addresses a CNAME carries for its target, right after the
            // node's own RRsets, with the CNAME's TTL.
            let carried = self
                .records_of(owner)
                .find_map(|record| match value_of(record) {
                    RecordValue::Cname {
                        target_addresses, ..
                    } if !target_addresses.is_empty() => Some((&**target_addresses, record.ttl)),
                    _ => None,
                });
            if let Some((addresses, ttl)) = carried {
                let pushed = push_target_rrsets(zone, ttl, addresses);
                record_count += pushed.records;
                zone.nodes[node_index].target_rrset_count = pushed.rrsets;
            }
        };

        // Node numbers by name while the nodes are made.
        let mut by_name = ByName {
            numbers: IdMap::with_capacity(node_estimate),
            hasher,
        };
        // The apex comes first and always has SOA and NS.
        let apex = zone
            .node_for(&mut by_name, apex_wire, hasher.hash_one(apex_wire))
            .0;
        debug_assert_eq!(apex, 0);
        {
            let soa = RecordValue::Other {
                rtype: RType::SOA,
                rdata: soa_rdata.clone(),
            };
            let mut rdata = Vec::new();
            push_rrset(&mut zone, RType::SOA, config.ttl, [&soa], &mut rdata);
            if !apex_has_ns {
                let ns = RecordValue::Ns(Box::new(config.mname));
                push_rrset(&mut zone, RType::NS, config.ttl, [&ns], &mut rdata);
            }
        }
        match apex_owner {
            Some(owner) => push_owner(&mut zone, apex, &self.owners[owner as usize]),
            None => zone.nodes[apex as usize].rrset_count = zone.rrsets.len() as u16,
        }

        // Every ancestor of an owner down from the apex exists: empty
        // non-terminals (RFC 4592 §2.2.2). Walking each owner from the apex
        // down creates its parents before it, in one hash probe per name;
        // a wildcard is linked to its parent as it is created.
        // Owners that follow each other mostly share ancestors (a file
        // lists a cluster's names together): the previous owner's chain
        // of nodes, from the top down, spares those probes.
        let apex_len = apex_wire.len();
        let mut chain = Chain::default();
        let mut previous = Chain::default();
        for (index, owner) in self.owners.iter().enumerate() {
            // The owner a few on, and its parent, are most of the names
            // not made yet: their slots arrive while these are made.
            if let Some(ahead) = self.owners.get(index + AHEAD) {
                let name = name_of(ahead);
                by_name.numbers.prefetch(hashes[ahead.named_by as usize]);
                let parent = &name[(1 + usize::from(name[0])).min(name.len())..];
                if parent.len() > apex_len {
                    by_name.numbers.prefetch(hasher.hash_one(parent));
                }
            }
            if Some(index as u32) == apex_owner {
                continue;
            }
            let name = name_of(owner);
            chain.reset(name, apex_len);
            let mut parent = apex;
            let mut shared = true;
            for depth in 0..chain.starts.len() {
                let wire = chain.below(depth);
                shared = shared && depth < previous.starts.len() && previous.below(depth) == wire;
                let node = if shared {
                    previous.nodes[depth]
                } else {
                    let hash = if depth + 1 == chain.starts.len() {
                        hashes[owner.named_by as usize]
                    } else {
                        hasher.hash_one(wire)
                    };
                    let (node, created) = zone.node_for(&mut by_name, wire, hash);
                    if created && wire.starts_with(b"\x01*") {
                        zone.nodes[parent as usize].wildcard = node;
                    }
                    node
                };
                chain.nodes.push(node);
                parent = node;
            }
            std::mem::swap(&mut chain, &mut previous);
            // `parent` is now the owner's own node.
            zone.nodes[parent as usize].rrset_start = zone.rrsets.len() as u32;
            push_owner(&mut zone, parent, owner);
        }
        zone.apex_node = apex;
        drop(by_name);
        // The table lives long: give back what the estimates over-reserved.
        zone.nodes.shrink_to_fit();
        zone.names.shrink_to_fit();
        zone.index_nodes()
            .expect("the builder makes one node per name, and every ancestor");

        // The negative SOA: the same record, TTL min(SOA TTL, MINIMUM).
        let negative_ttl = config.ttl.min(config.minimum);
        let start = zone.tails.len() as u32;
        push_tail_head(
            &mut zone.tails,
            RType::SOA,
            Class::IN,
            negative_ttl,
            soa_rdata.len(),
        );
        zone.tails.extend_from_slice(&soa_rdata);
        zone.negative_soa = (start, zone.tails.len() as u32 - start);
        (zone, record_count)
    }
}

/// How many groups, or owners, ahead the build asks for map slots.
const AHEAD: usize = 8;

/// The ancestors of one owner, from the top down, and their nodes.
#[derive(Default)]
struct Chain<'a> {
    name: &'a [u8],
    /// Where each name of the chain starts in `name`: the one just below
    /// the apex first, the owner (0) last.
    starts: Vec<u8>,
    /// Their nodes, as far as known.
    nodes: Vec<u32>,
}

impl<'a> Chain<'a> {
    /// Starts the chain of `name`, in a zone whose apex is `apex_len`
    /// bytes long.
    fn reset(&mut self, name: &'a [u8], apex_len: usize) {
        self.name = name;
        self.starts.clear();
        self.nodes.clear();
        let mut at = 0;
        while name.len() - at > apex_len {
            self.starts.push(at as u8);
            at += 1 + usize::from(name[at]);
        }
        self.starts.reverse();
    }

    /// The name `depth` labels below the apex (0: one label below).
    fn below(&self, depth: usize) -> &'a [u8] {
        &self.name[usize::from(self.starts[depth])..]
    }
}

/// Node numbers by name while a zone's nodes are made.
struct ByName<'h> {
    numbers: IdMap,
    hasher: &'h foldhash::fast::RandomState,
}

impl Zone {
    /// The node named `wire`, created (without RRsets, its RRsets to start
    /// at the end of the RRset table) if it does not exist yet, found
    /// through `by_name` by its `hash`; and whether it was.
    fn node_for(&mut self, by_name: &mut ByName<'_>, wire: &[u8], hash: u64) -> (u32, bool) {
        fn name_of(zone: &Zone, i: u32) -> &[u8] {
            let node = &zone.nodes[i as usize];
            let start = node.name_start as usize;
            &zone.names[start..start + usize::from(node.name_len)]
        }
        if let Some(found) = by_name.numbers.find(hash, |i| name_of(self, i) == wire) {
            return (found, false);
        }
        let index = self.nodes.len() as u32;
        let name_start = self.names.len() as u32;
        self.names.extend_from_slice(wire);
        self.nodes.push(Node {
            name_start,
            name_len: wire.len() as u8,
            rrset_count: 0,
            target_rrset_count: 0,
            rrset_start: self.rrsets.len() as u32,
            wildcard: NO_NODE,
        });
        let hasher = by_name.hasher;
        by_name
            .numbers
            .insert_new(hash, index, |i| hasher.hash_one(name_of(self, i)));
        (index, true)
    }
}

/// What [`push_target_rrsets`] appended.
struct PushedTargets {
    /// RRsets: 0, 1 (A or AAAA) or 2 (A, then AAAA).
    rrsets: u8,
    /// Records in them.
    records: usize,
}

/// Appends the A RRset, then the AAAA RRset, of a CNAME target's
/// `addresses` (a set: see [`RecordValue::normalized`]) to `zone`, each
/// only when it has records.
fn push_target_rrsets(zone: &mut Zone, ttl: u32, addresses: &[IpAddr]) -> PushedTargets {
    let mut pushed = PushedTargets {
        rrsets: 0,
        records: 0,
    };
    for rtype in [RType::A, RType::AAAA] {
        let tail_start = zone.tails.len() as u32;
        let mut count = 0u16;
        for address in addresses {
            match (rtype, address) {
                (RType::A, IpAddr::V4(a)) => {
                    push_tail_head(&mut zone.tails, rtype, Class::IN, ttl, 4);
                    zone.tails.extend_from_slice(&a.octets());
                }
                (RType::AAAA, IpAddr::V6(a)) => {
                    push_tail_head(&mut zone.tails, rtype, Class::IN, ttl, 16);
                    zone.tails.extend_from_slice(&a.octets());
                }
                _ => continue,
            }
            count += 1;
        }
        if count > 0 {
            zone.rrsets.push(RrSet {
                rtype,
                count,
                tail_start,
                tail_len: zone.tails.len() as u32 - tail_start,
            });
            pushed.rrsets += 1;
            pushed.records += usize::from(count);
        }
    }
    pushed
}

/// Appends one RRset of `values` (all of type `rtype`) to `zone`.
fn push_rrset<'v>(
    zone: &mut Zone,
    rtype: RType,
    ttl: u32,
    values: impl IntoIterator<Item = &'v RecordValue>,
    rdata: &mut Vec<u8>,
) {
    let tail_start = zone.tails.len() as u32;
    let mut count = 0u16;
    for value in values {
        rdata.clear();
        value.write_rdata(rdata);
        push_tail_head(&mut zone.tails, rtype, Class::IN, ttl, rdata.len());
        zone.tails.extend_from_slice(rdata);
        count += 1;
    }
    zone.rrsets.push(RrSet {
        rtype,
        count,
        tail_start,
        tail_len: zone.tails.len() as u32 - tail_start,
    });
}
