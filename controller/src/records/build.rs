//! From the objects in the reflector stores to a table and a status per
//! `DNSRecord`: a pure function, no client, no clock.
//!
//! [`build_records`] takes everything at once (level-triggered: the whole
//! store, never a delta) and
//!
//! 1. orders the candidates deterministically: oldest first by
//!    `creationTimestamp` (an object without one counts as newest), then
//!    `DNSRecord`s before EndpointSlice-derived records, then by
//!    `namespace/name`. The same objects in any order give the same result;
//! 2. rejects a candidate that gives a name the same kind of data as an
//!    older accepted candidate, with different values: **DuplicateOwner**
//!    (see below);
//! 3. feeds the rest, in that order, to the responder's own
//!    [`TableBuilder`], so a record the controller accepts is a record the
//!    responder serves (same name parser, same address parser, same zone
//!    and CNAME rules, first come wins);
//! 4. maps every rejection to a [`RejectReason`] and a message, and
//!    returns the table, the accepted record set, its digest, one
//!    [`DNSRecordStatus`] per `DNSRecord` (with `observedGeneration`), and
//!    every problem (EndpointSlice-derived ones included, for logs).
//!
//! # DuplicateOwner
//!
//! Left alone, the table builder merges two groups that give one name the
//! same type of data: two `DNSRecord`s with the owner
//! `*.gateway.cluster-a...` and different addresses would silently be
//! served as one round-robin set mixing two gateways. That is almost
//! always a mistake (two `GatewayDNS` publishing one cluster, a copied
//! manifest), so the younger object is rejected instead, naming the older
//! one. The unit of ownership is (owner name, kind of data), with the kinds
//! of a `DNSRecord`: addresses (A and AAAA together), CNAME, TXT, SRV.
//! Names compare as DNS names (case-insensitive, trailing dot optional).
//! "Different" means different after normalisation: the TTL, and the
//! values as a set (addresses parsed, so `fd00:0::1` equals `fd00::1`;
//! names case-folded; SRV entries as a set; a CNAME's `targetAddresses`
//! as a set beside its target), except TXT strings, which
//! form one record and keep their order. Objects that agree exactly are
//! all accepted and served once (two `GatewayDNS` producing the same
//! record do not fight). Different kinds of data at one name are not a
//! duplicate: addresses and TXT may come from different objects, and a
//! CNAME next to anything is the builder's CnameConflict.
//!
//! A candidate that is itself invalid is reported as such (InvalidData),
//! not as a duplicate. A candidate that the builder later rejects for a
//! reason it shares with every other candidate of its (name, kind), such
//! as lying outside the zones, still holds the name, so a younger
//! duplicate may be reported as DuplicateOwner where the builder would have
//! said OutsideZone or CnameConflict; it is rejected either way.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashTable;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::DynamicObject;
use xcc_responder::records::model::DnsRecordSpec;
use xcc_responder::table::build::Built;
use xcc_responder::table::{ParsedSpec, Rejection, Source, Table, TableBuilder, TableConfig};
use xcc_wire::NameBuf;

/// Maps keyed by names and object keys: hashed with foldhash (SipHash costs
/// a tenth of a 100,000-record build and no key here comes from a network
/// peer that could choose collisions).
type FastMap<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

use super::ObjectKey;
use super::endpointslices::DerivedRecord;
use crate::api::{DNSRecord, DNSRecordStatus, RecordState, RejectReason};

//----------- Inputs and outputs -----------------------------------------------

/// A `DNSRecord` object that could not be read as one (it does not match
/// the Rust type): it is reported as [`RejectReason::NotARecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The object.
    pub key: ObjectKey,
    /// Its `metadata.generation`.
    pub generation: Option<i64>,
    /// What is wrong with it.
    pub message: String,
}

/// Where a group of records came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A `DNSRecord` object.
    Record(ObjectKey),
    /// One or more EndpointSlices (compatibility mode), sorted.
    Slices(Vec<ObjectKey>),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Record(key) => write!(f, "DNSRecord {key}"),
            Self::Slices(keys) => {
                f.write_str(if keys.len() == 1 {
                    "EndpointSlice "
                } else {
                    "EndpointSlices "
                })?;
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}")?;
                }
                Ok(())
            }
        }
    }
}

/// One accepted group of records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedRecord {
    /// Where it came from.
    pub origin: Origin,
    /// The records, in the responder's model.
    pub spec: DnsRecordSpec,
}

/// One rejected group of records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordProblem {
    /// Where it came from.
    pub origin: Origin,
    /// The owner name as written (empty for an unreadable object).
    pub owner: String,
    /// Why, as a word.
    pub reason: RejectReason,
    /// Why, for people.
    pub message: String,
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        if !self.owner.is_empty() {
            write!(f, "{}: ", self.owner)?;
        }
        write!(f, "{}: {}", self.reason.as_str(), self.message)
    }
}

/// The status a `DNSRecord` object should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectStatus {
    /// The object.
    pub key: ObjectKey,
    /// Its status: state, reason, message, `observedGeneration`.
    pub status: DNSRecordStatus,
}

/// What [`build_records`] produced.
#[derive(Debug)]
pub struct RecordsBuild {
    /// The table, holding every accepted record.
    pub table: Table,
    /// The accepted groups, in the order they were added to the table.
    pub accepted: Vec<AcceptedRecord>,
    /// One status per `DNSRecord` object (readable or not), sorted by key.
    pub statuses: Vec<ObjectStatus>,
    /// Every rejected group: unreadable objects first (by key), then in
    /// decision order.
    pub problems: Vec<RecordProblem>,
    /// The digest of the accepted record set ([`RecordSetDigest::of`]).
    pub digest: RecordSetDigest,
}

/// The first half of a build ([`plan_records`]): what the responder needs,
/// and nothing else, so that it can be published before the statuses are
/// worked out.
#[derive(Debug)]
pub struct Planned<'a> {
    /// The table, holding every accepted record.
    pub table: Table,
    /// The digest of the accepted record set ([`RecordSetDigest::of`]).
    pub digest: RecordSetDigest,
    /// The decisions, for [`Decisions::report`].
    pub decisions: Decisions<'a>,
}

/// What was decided for every candidate, not yet turned into statuses.
#[derive(Debug)]
pub struct Decisions<'a> {
    candidates: Vec<Candidate<'a>>,
    /// `None`: accepted.
    rejections: Vec<Option<(RejectReason, String)>>,
    unreadable: &'a [Unreadable],
}

/// The second half of a build ([`Decisions::report`]).
#[derive(Debug)]
pub struct Report {
    /// The accepted groups, in the order they were added to the table.
    pub accepted: Vec<AcceptedRecord>,
    /// One status per `DNSRecord` object (readable or not), sorted by key.
    pub statuses: Vec<ObjectStatus>,
    /// Every rejected group: unreadable objects first (by key), then in
    /// decision order.
    pub problems: Vec<RecordProblem>,
}

//----------- The build --------------------------------------------------------

/// One group competing for its names.
#[derive(Debug)]
struct Candidate<'a> {
    origin: Origin,
    /// Borrowed where the decoder converted it already.
    spec: Cow<'a, DnsRecordSpec>,
    /// The spec already parsed and checked on its own, where the decoder
    /// did it.
    parsed: Option<&'a Result<ParsedSpec, Rejection>>,
    created: Option<&'a Time>,
    generation: Option<i64>,
    source: Source,
}

/// A `DNSRecord` as the build reads it: the object, and its spec in the
/// responder's model. [`DecodedRecord`]s carry the spec converted once, so
/// a rebuild of 100,000 records copies none of them.
pub trait RecordInput {
    /// The object.
    fn record(&self) -> &DNSRecord;
    /// Its spec in the responder's model.
    fn spec(&self) -> Cow<'_, DnsRecordSpec> {
        Cow::Owned(DnsRecordSpec::from(&self.record().spec))
    }
    /// The spec parsed and checked on its own, if done before.
    fn parsed(&self) -> Option<&Result<ParsedSpec, Rejection>> {
        None
    }
}

impl RecordInput for DNSRecord {
    fn record(&self) -> &DNSRecord {
        self
    }
}

impl RecordInput for Arc<DNSRecord> {
    fn record(&self) -> &DNSRecord {
        self
    }
}

impl RecordInput for Arc<DecodedRecord> {
    fn record(&self) -> &DNSRecord {
        &self.record
    }

    fn spec(&self) -> Cow<'_, DnsRecordSpec> {
        Cow::Borrowed(&self.spec)
    }

    fn parsed(&self) -> Option<&Result<ParsedSpec, Rejection>> {
        Some(&self.parsed)
    }
}

/// A decoded `DNSRecord`, its spec in the responder's model, and that spec
/// parsed and checked on its own: done once per object version, not once
/// per rebuild.
#[derive(Debug)]
pub struct DecodedRecord {
    /// The object.
    pub record: DNSRecord,
    /// `record.spec`, converted.
    pub spec: DnsRecordSpec,
    /// `spec`, parsed for [`TableBuilder::add_parsed`], or why not.
    pub parsed: Result<ParsedSpec, Rejection>,
}

impl DecodedRecord {
    /// `record`, with its spec converted and parsed.
    pub fn new(record: DNSRecord) -> Self {
        let spec = DnsRecordSpec::from(&record.spec);
        let parsed = ParsedSpec::parse(&spec);
        Self {
            record,
            spec,
            parsed,
        }
    }
}

/// Builds the table and the statuses from every `DNSRecord` in the store
/// (`records`; keys must be unique, as in a store), the objects that could
/// not be read (`unreadable`) and the EndpointSlice-derived records
/// (`derived`), for the zones of `config`. See the module docs.
/// [`plan_records`] and [`Decisions::report`] in one.
pub fn build_records<R: RecordInput>(
    records: &[R],
    unreadable: &[Unreadable],
    derived: &[DerivedRecord],
    config: &TableConfig,
) -> RecordsBuild {
    let Planned {
        table,
        digest,
        decisions,
    } = plan_records(records, unreadable, derived, config);
    let Report {
        accepted,
        statuses,
        problems,
    } = decisions.report();
    RecordsBuild {
        table,
        accepted,
        statuses,
        problems,
        digest,
    }
}

/// The first half of [`build_records`]: the table and its digest, and the
/// decisions to report once the table is published.
pub fn plan_records<'a, R: RecordInput>(
    records: &'a [R],
    unreadable: &'a [Unreadable],
    derived: &'a [DerivedRecord],
    config: &TableConfig,
) -> Planned<'a> {
    let mut candidates: Vec<Candidate<'_>> = Vec::with_capacity(records.len() + derived.len());
    for record in records {
        let spec = record.spec();
        let parsed = record.parsed();
        let record: &DNSRecord = record.record();
        let key = ObjectKey::of(record);
        candidates.push(Candidate {
            source: Source {
                object: Some(key.to_string()),
                ..Source::default()
            },
            origin: Origin::Record(key),
            spec,
            parsed,
            created: record.metadata.creation_timestamp.as_ref(),
            generation: record.metadata.generation,
        });
    }
    for group in derived {
        let origin = Origin::Slices(group.slices.clone());
        candidates.push(Candidate {
            // Source's `object` reads "DNSRecord ..." in messages; the
            // `file` slot names the slices instead. Slice sets of
            // different groups are disjoint, so the label is unique.
            source: Source {
                file: Some(origin.to_string()),
                ..Source::default()
            },
            origin,
            spec: Cow::Borrowed(&group.spec),
            parsed: None,
            created: group.created.as_ref(),
            generation: None,
        });
    }
    candidates.sort_by(|a, b| {
        age_key(a.created)
            .cmp(&age_key(b.created))
            .then_with(|| a.origin.cmp(&b.origin))
    });

    let mut decisions: Vec<Option<(RejectReason, String)>> = vec![None; candidates.len()];
    let mut claims = Claims::with_capacity(candidates.len());
    let mut builder = TableBuilder::new(config.clone());
    for (index, candidate) in candidates.iter().enumerate() {
        // The builder checks the candidate on its own first; an error is
        // in its problem list, mapped below, and is what the candidate is
        // told (what is wrong with it comes before whom it collides with).
        let added = match candidate.parsed {
            Some(Ok(parsed)) => {
                builder.add_parsed(parsed, &candidate.source);
                true
            }
            Some(Err(rejection)) => {
                builder.reject(
                    candidate.source.clone(),
                    Some(candidate.spec.name.clone()),
                    rejection.clone(),
                );
                false
            }
            None => builder.add_spec(&candidate.spec, &candidate.source).is_ok(),
        };
        if !added {
            continue;
        }
        let owner = builder.last_owner().expect("just added");
        let Some(kind) = data_kind(&candidate.spec) else {
            continue;
        };
        let Some(holder) = claims.holder(owner, kind) else {
            claims.claim(owner, kind, index);
            continue;
        };
        // The data is compared only when two candidates meet at a name
        // (rare): no canonical form is built for the others.
        if canonical(&candidate.spec) == canonical(&candidates[holder].spec) {
            continue;
        }
        builder.withdraw_last();
        decisions[index] = Some((
            RejectReason::DuplicateOwner,
            format!(
                "{} for {} are already given, with different values, by {} (older); \
                 objects giving a name the same kind of data must agree",
                kind.describe(),
                candidate.spec.name,
                candidates[holder].origin,
            ),
        ));
    }
    let Built { table, problems } = builder.build();

    let by_source: FastMap<(Option<&str>, Option<&str>), usize> = candidates
        .iter()
        .enumerate()
        .map(|(index, c)| {
            (
                (c.source.file.as_deref(), c.source.object.as_deref()),
                index,
            )
        })
        .collect();
    for problem in problems {
        let key = (
            problem.source.file.as_deref(),
            problem.source.object.as_deref(),
        );
        if let Some(&index) = by_source.get(&key) {
            decisions[index].get_or_insert_with(|| {
                (
                    reason_for(&problem.rejection),
                    problem.rejection.to_string(),
                )
            });
        }
    }

    drop(by_source);
    let digest = RecordSetDigest::of(
        candidates
            .iter()
            .zip(&decisions)
            .filter(|(_, decision)| decision.is_none())
            .map(|(candidate, _)| &*candidate.spec),
    );
    Planned {
        table,
        digest,
        decisions: Decisions {
            candidates,
            rejections: decisions,
            unreadable,
        },
    }
}

impl Decisions<'_> {
    /// How many groups were accepted.
    pub fn accepted_count(&self) -> usize {
        self.rejections.iter().filter(|r| r.is_none()).count()
    }

    /// How many groups were rejected, unreadable objects included.
    pub fn rejected_count(&self) -> usize {
        self.rejections.len() - self.accepted_count() + self.unreadable.len()
    }

    /// The accepted groups, the statuses and the problems.
    pub fn report(self) -> Report {
        let Self {
            candidates,
            rejections,
            unreadable,
        } = self;
        let mut accepted = Vec::new();
        let mut statuses = Vec::with_capacity(candidates.len() + unreadable.len());
        let mut unreadable: Vec<&Unreadable> = unreadable.iter().collect();
        unreadable.sort_by(|a, b| a.key.cmp(&b.key));
        let mut problems: Vec<RecordProblem> = unreadable
            .iter()
            .map(|object| RecordProblem {
                origin: Origin::Record(object.key.clone()),
                owner: String::new(),
                reason: RejectReason::NotARecord,
                message: object.message.clone(),
            })
            .collect();
        for object in &unreadable {
            statuses.push(ObjectStatus {
                key: object.key.clone(),
                status: rejected_status(
                    RejectReason::NotARecord,
                    object.message.clone(),
                    object.generation,
                ),
            });
        }
        for (candidate, decision) in candidates.into_iter().zip(rejections) {
            let status = match decision {
                None => {
                    let status = DNSRecordStatus {
                        state: Some(RecordState::Accepted),
                        reason: None,
                        message: None,
                        observed_generation: candidate.generation,
                    };
                    accepted.push(AcceptedRecord {
                        origin: candidate.origin.clone(),
                        spec: candidate.spec.into_owned(),
                    });
                    status
                }
                Some((reason, message)) => {
                    problems.push(RecordProblem {
                        origin: candidate.origin.clone(),
                        owner: candidate.spec.name.clone(),
                        reason,
                        message: message.clone(),
                    });
                    rejected_status(reason, message, candidate.generation)
                }
            };
            if let Origin::Record(key) = candidate.origin {
                statuses.push(ObjectStatus { key, status });
            }
        }
        // Keys are unique: an unstable sort is deterministic.
        statuses.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Report {
            accepted,
            statuses,
            problems,
        }
    }
}

/// Reads a `DNSRecord` from an untyped object (a watch on
/// [`DynamicObject`]s survives one malformed object, where a typed watch
/// fails its whole list); an object that does not fit the type becomes an
/// [`Unreadable`], to be reported as NotARecord.
pub fn decode_record(object: &DynamicObject) -> Result<DNSRecord, Unreadable> {
    let unreadable = |message: String| Unreadable {
        key: ObjectKey::new(
            object.metadata.namespace.clone().unwrap_or_default(),
            object.metadata.name.clone().unwrap_or_default(),
        ),
        generation: object.metadata.generation,
        message,
    };
    let value = serde_json::to_value(object).map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_value(value).map_err(|e| unreadable(format!("not a valid DNSRecord: {e}")))
}

/// The `DNSRecord`s of a store, decoded, kept from one rebuild to the next:
/// an object is decoded again only when the store holds a new version of
/// it, so a rebuild of 100,000 objects after one change decodes one
/// (decoding goes through a JSON value and costs microseconds per object).
/// Still level-triggered: every pass starts from the whole store and
/// forgets the objects that are gone; the cache only saves repeating the
/// same work on the same object.
///
/// A reflector store hands out the same `Arc` for an object until a watch
/// event replaces it, so the cache is keyed by the `Arc`'s address, and
/// holds the `Arc` so that the address cannot be reused while cached. A
/// relist gives every object a new `Arc`: that pass decodes everything.
#[derive(Debug, Default)]
pub struct RecordDecoder {
    /// By object address: the object, what it decoded to, and the pass
    /// that last saw it.
    cache: hashbrown::HashMap<usize, CachedRecord, foldhash::fast::RandomState>,
    pass: u64,
}

#[derive(Debug)]
struct CachedRecord {
    /// Kept alive, so that its address names it alone.
    _object: Arc<DynamicObject>,
    decoded: Result<Arc<DecodedRecord>, Unreadable>,
    seen: u64,
}

/// What [`RecordDecoder::decode`] returns: the records, in store order,
/// and the objects that are not records.
#[derive(Debug, Default)]
pub struct DecodedRecords {
    /// The readable records.
    pub records: Vec<Arc<DecodedRecord>>,
    /// The objects that do not fit the type.
    pub unreadable: Vec<Unreadable>,
}

impl RecordDecoder {
    /// Decodes every object of the store (see the type's docs).
    pub fn decode(&mut self, objects: &[Arc<DynamicObject>]) -> DecodedRecords {
        self.pass += 1;
        let pass = self.pass;
        let mut out = DecodedRecords {
            records: Vec::with_capacity(objects.len()),
            unreadable: Vec::new(),
        };
        for object in objects {
            let cached = self
                .cache
                .entry(Arc::as_ptr(object) as usize)
                .or_insert_with(|| CachedRecord {
                    _object: Arc::clone(object),
                    decoded: decode_record(object).map(|r| Arc::new(DecodedRecord::new(r))),
                    seen: pass,
                });
            cached.seen = pass;
            match &cached.decoded {
                Ok(record) => out.records.push(Arc::clone(record)),
                Err(unreadable) => out.unreadable.push(unreadable.clone()),
            }
        }
        self.cache.retain(|_, cached| cached.seen == pass);
        out
    }

    /// How many objects are cached.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

/// The reason word for a rejection by the table builder.
pub fn reason_for(rejection: &Rejection) -> RejectReason {
    match rejection {
        Rejection::OutsideZones => RejectReason::OutsideZone,
        Rejection::CnameConflict { .. }
        | Rejection::SecondCname { .. }
        | Rejection::CnameAtApex => RejectReason::CnameConflict,
        Rejection::NotARecord(_) => RejectReason::NotARecord,
        Rejection::BadName { .. }
        | Rejection::BadAddress(_)
        | Rejection::TtlOutOfRange(_)
        | Rejection::NoData
        | Rejection::MixedData
        | Rejection::TxtTooLong(_)
        | Rejection::Delegation
        | Rejection::MisplacedSoa
        | Rejection::TargetAddressesWithoutCname
        | Rejection::BadTargetAddress(_)
        | Rejection::TargetAddressesInServedZone { .. } => RejectReason::InvalidData,
        // The duplicate check above the builder catches it first (the
        // target addresses are part of a CNAME's canonical value); a
        // builder reaching it means the same thing.
        Rejection::DifferentTargetAddresses { .. } => RejectReason::DuplicateOwner,
        // Rejections added to the builder later: malformed data unless
        // mapped otherwise here.
        _ => RejectReason::InvalidData,
    }
}

fn rejected_status(
    reason: RejectReason,
    message: String,
    generation: Option<i64>,
) -> DNSRecordStatus {
    DNSRecordStatus {
        state: Some(RecordState::Rejected),
        reason: Some(reason),
        message: Some(message),
        observed_generation: generation,
    }
}

/// Ages compare oldest first; an unknown creation time counts as newest.
fn age_key(created: Option<&Time>) -> (bool, Option<&Time>) {
    (created.is_none(), created)
}

//----------- Duplicate detection ----------------------------------------------

/// The kinds of data of a `DNSRecord`: the unit of ownership of a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum DataKind {
    Addresses,
    Cname,
    Txt,
    Srv,
}

impl DataKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Addresses => "addresses",
            Self::Cname => "a CNAME",
            Self::Txt => "TXT strings",
            Self::Srv => "SRV entries",
        }
    }
}

/// Who holds each (owner name, kind of data): the first candidate the
/// builder accepted with it. Owner names are kept back to back in one
/// buffer, so a claim costs no allocation of its own.
struct Claims {
    /// The owners' lowercase wire forms.
    names: Vec<u8>,
    entries: HashTable<ClaimEntry>,
    hasher: foldhash::fast::RandomState,
}

struct ClaimEntry {
    /// The owner, in `names`.
    start: u32,
    len: u8,
    kind: DataKind,
    /// The candidate holding it.
    holder: usize,
}

impl Claims {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            names: Vec::with_capacity(capacity * 24),
            entries: HashTable::with_capacity(capacity),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn owner<'n>(names: &'n [u8], entry: &ClaimEntry) -> &'n [u8] {
        &names[entry.start as usize..entry.start as usize + usize::from(entry.len)]
    }

    /// The candidate holding `kind` at `owner` (lowercase wire form).
    fn holder(&self, owner: &[u8], kind: DataKind) -> Option<usize> {
        let hash = self.hasher.hash_one((owner, kind));
        self.entries
            .find(hash, |e| {
                e.kind == kind && Self::owner(&self.names, e) == owner
            })
            .map(|e| e.holder)
    }

    /// Gives `kind` at `owner` to `holder`, unless already held.
    fn claim(&mut self, owner: &[u8], kind: DataKind, holder: usize) {
        if self.holder(owner, kind).is_some() {
            return;
        }
        let entry = ClaimEntry {
            start: self.names.len() as u32,
            len: owner.len() as u8,
            kind,
            holder,
        };
        self.names.extend_from_slice(owner);
        let hash = self.hasher.hash_one((owner, kind));
        let (names, hasher) = (&self.names, &self.hasher);
        self.entries.insert_unique(hash, entry, |e| {
            hasher.hash_one((Self::owner(names, e), e.kind))
        });
    }
}

/// The kind of data `spec` gives, or `None` when it gives no data, more
/// than one kind, or target addresses without a CNAME (the builder rejects
/// it). Target addresses are part of the CNAME kind, not a kind of their
/// own.
fn data_kind(spec: &DnsRecordSpec) -> Option<DataKind> {
    if !spec.target_addresses.is_empty() && spec.cname.is_none() {
        return None;
    }
    let kinds = [
        !spec.addresses.is_empty(),
        spec.cname.is_some(),
        !spec.txt.is_empty(),
        !spec.srv.is_empty(),
    ];
    match kinds {
        [true, false, false, false] => Some(DataKind::Addresses),
        [false, true, false, false] => Some(DataKind::Cname),
        [false, false, true, false] => Some(DataKind::Txt),
        [false, false, false, true] => Some(DataKind::Srv),
        _ => None,
    }
}

/// A spec's data in a form where equal means "serves the same records".
#[derive(Clone, Debug, PartialEq, Eq)]
struct Canonical {
    ttl: u32,
    values: CanonicalValues,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum CanonicalValues {
    /// Sorted, without repeats (a set).
    Addresses(Vec<IpAddr>),
    /// The target, and the target addresses carried, as a set.
    Cname(Box<[u8]>, Vec<IpAddr>),
    Txt(Vec<String>),
    /// Sorted, without repeats (a set).
    Srv(Vec<(u16, u16, u16, Box<[u8]>)>),
}

/// The canonical data of a spec, or `None` when the spec is malformed (the
/// builder then says why).
fn canonical(spec: &DnsRecordSpec) -> Option<Canonical> {
    let key = |text: &str| -> Option<Box<[u8]>> {
        Some(
            NameBuf::from_presentation(text)
                .ok()?
                .to_key()
                .as_wire()
                .into(),
        )
    };
    let address_set = |texts: &[String]| -> Option<Vec<IpAddr>> {
        let mut addresses = Vec::with_capacity(texts.len());
        for address in texts {
            addresses.push(address.trim().parse::<IpAddr>().ok()?);
        }
        addresses.sort_unstable();
        addresses.dedup();
        Some(addresses)
    };
    let values = match data_kind(spec)? {
        DataKind::Addresses => CanonicalValues::Addresses(address_set(&spec.addresses)?),
        DataKind::Cname => CanonicalValues::Cname(
            key(spec.cname.as_deref()?)?,
            address_set(&spec.target_addresses)?,
        ),
        DataKind::Txt => CanonicalValues::Txt(spec.txt.clone()),
        DataKind::Srv => {
            let mut entries = Vec::with_capacity(spec.srv.len());
            for srv in &spec.srv {
                entries.push((srv.priority, srv.weight, srv.port, key(&srv.target)?));
            }
            entries.sort_unstable();
            entries.dedup();
            CanonicalValues::Srv(entries)
        }
    };
    Some(Canonical {
        ttl: spec.ttl,
        values,
    })
}

//----------- Digest -----------------------------------------------------------

/// A digest of a record set's content, to skip publishing when nothing
/// changed. It depends only on the set of specs (not on object names,
/// order, or duplicates), so equal digests mean equal served data (up to a
/// 64-bit hash collision, which would delay one publish until the next
/// change). Not a checksum against corruption or tampering: each spec's
/// fields (length-prefixed) are hashed with foldhash under a fixed seed,
/// then the sorted, deduplicated spec hashes. Only compared within one
/// process (a restarted controller publishes once anyway); hashing 100,000
/// specs takes a few milliseconds and no allocation per spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordSetDigest(pub u64);

/// The digest's hasher: fixed, so equal sets give equal digests.
const DIGEST_SEED: u64 = 0x7863_632d_646e_7321;

impl RecordSetDigest {
    /// The digest of `specs`.
    pub fn of<'a>(specs: impl IntoIterator<Item = &'a DnsRecordSpec>) -> Self {
        let mut hashes: Vec<u64> = specs.into_iter().map(spec_hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut hash = digest_hasher();
        hash.write_usize(hashes.len());
        for spec in hashes {
            hash.write_u64(spec);
        }
        Self(hash.finish())
    }
}

fn digest_hasher() -> impl Hasher {
    foldhash::quality::FixedState::with_seed(DIGEST_SEED).build_hasher()
}

/// A hash of every field of `spec`, each string length-prefixed and each
/// list counted, so that no two different specs feed it the same bytes.
fn spec_hash(spec: &DnsRecordSpec) -> u64 {
    let DnsRecordSpec {
        name,
        ttl,
        addresses,
        cname,
        target_addresses,
        txt,
        srv,
    } = spec;
    let mut hash = digest_hasher();
    fn text(hash: &mut impl Hasher, text: &str) {
        hash.write_usize(text.len());
        hash.write(text.as_bytes());
    }
    text(&mut hash, name);
    hash.write_u32(*ttl);
    hash.write_usize(addresses.len());
    for address in addresses {
        text(&mut hash, address);
    }
    match cname {
        Some(target) => {
            hash.write_u8(1);
            text(&mut hash, target);
        }
        None => hash.write_u8(0),
    }
    hash.write_usize(target_addresses.len());
    for address in target_addresses {
        text(&mut hash, address);
    }
    hash.write_usize(txt.len());
    for string in txt {
        text(&mut hash, string);
    }
    hash.write_usize(srv.len());
    for entry in srv {
        hash.write_u16(entry.priority);
        hash.write_u16(entry.weight);
        hash.write_u16(entry.port);
        text(&mut hash, &entry.target);
    }
    hash.finish()
}

impl fmt::Display for RecordSetDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Remembers the digest of the last record set published, so that an
/// unchanged set is not written again (every write makes every responder
/// reload).
#[derive(Clone, Copy, Debug, Default)]
pub struct PublishGate {
    last: Option<RecordSetDigest>,
}

impl PublishGate {
    /// Whether `digest` differs from the last one published (always true
    /// before the first publish).
    pub fn needs_publish(&self, digest: RecordSetDigest) -> bool {
        self.last != Some(digest)
    }

    /// Notes that the set with `digest` was published.
    pub fn published(&mut self, digest: RecordSetDigest) {
        self.last = Some(digest);
    }

    /// The digest last published.
    pub fn last(&self) -> Option<RecordSetDigest> {
        self.last
    }
}

//----------- Tests ------------------------------------------------------------

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;
    use xcc_responder::table::Lookup;
    use xcc_wire::{NameBuf, RType};

    use super::*;
    use crate::api::DNSRecordSpec;
    use crate::records::endpointslices::DerivedRecord;

    const GATEWAY: &str = "*.gateway.cluster-a.dev-team.clusters.xcc.test";

    /// A `DNSRecord` in `xcc-dns`, created `second` seconds after a fixed
    /// time, generation 1, from a JSON spec.
    fn mk_record(name: &str, second: u32, spec: serde_json::Value) -> DNSRecord {
        let spec: DNSRecordSpec = serde_json::from_value(spec).unwrap();
        DNSRecord {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("xcc-dns".to_owned()),
                generation: Some(1),
                creation_timestamp: Some(time(second)),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
        }
    }

    fn time(second: u32) -> Time {
        Time(format!("2024-05-01T10:00:{second:02}Z").parse().unwrap())
    }

    fn mk_derived(slice: &str, second: u32, spec: serde_json::Value) -> DerivedRecord {
        DerivedRecord {
            spec: serde_json::from_value(spec).unwrap(),
            slices: vec![ObjectKey::new("xcc-dns", slice)],
            created: Some(time(second)),
        }
    }

    fn build(records: &[DNSRecord], derived: &[DerivedRecord]) -> RecordsBuild {
        build_records(records, &[], derived, &TableConfig::default())
    }

    /// (state, reason) per object name, in key order.
    fn decisions(build: &RecordsBuild) -> Vec<(String, RecordState, Option<RejectReason>)> {
        build
            .statuses
            .iter()
            .map(|s| (s.key.name.clone(), s.status.state.unwrap(), s.status.reason))
            .collect()
    }

    /// The pre-encoded tails of the RRset of `rtype` at `name`, if any.
    fn rrset(table: &Table, name: &str, rtype: RType) -> Option<Vec<u8>> {
        let key = NameBuf::from_presentation(name).unwrap().to_key();
        match table.lookup(&key) {
            Lookup::Found { node, .. } => node.rrset(rtype).map(|set| node.tails(set).to_vec()),
            _ => None,
        }
    }

    use RecordState::{Accepted, Rejected};
    use RejectReason::{CnameConflict, DuplicateOwner, InvalidData, OutsideZone};

    /// One case: objects in, (name, state, reason) out.
    struct Case {
        name: &'static str,
        records: Vec<DNSRecord>,
        derived: Vec<DerivedRecord>,
        expect: Vec<(&'static str, RecordState, Option<RejectReason>)>,
    }

    fn cases() -> Vec<Case> {
        let a = |addresses: &[&str]| json!({"name": GATEWAY, "addresses": addresses});
        vec![
            Case {
                name: "one valid record",
                records: vec![mk_record("a", 0, a(&["10.0.0.1"]))],
                derived: vec![],
                expect: vec![("a", Accepted, None)],
            },
            Case {
                name: "bad owner name",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "a..xcc.test", "addresses": ["10.0.0.1"]}),
                )],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "bad address",
                records: vec![mk_record("a", 0, a(&["10.0.0.256"]))],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "TTL out of range",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "a.xcc.test", "ttl": 2_147_483_648_u32, "addresses": ["10.0.0.1"]}),
                )],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "no data",
                records: vec![mk_record("a", 0, json!({"name": "a.xcc.test"}))],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "two kinds of data",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"], "txt": ["x"]}),
                )],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "TXT string too long",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "a.xcc.test", "txt": ["x".repeat(256)]}),
                )],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "bad CNAME target",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "a.xcc.test", "cname": "b..xcc.test"}),
                )],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "bad SRV target",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "_h._tcp.xcc.test", "srv": [{"port": 80, "target": "x..y"}]}),
                )],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData))],
            },
            Case {
                name: "outside the zone",
                records: vec![
                    mk_record(
                        "a",
                        0,
                        json!({"name": "www.example.com", "addresses": ["10.0.0.1"]}),
                    ),
                    mk_record("b", 1, a(&["10.0.0.2"])),
                ],
                derived: vec![],
                expect: vec![("a", Rejected, Some(OutsideZone)), ("b", Accepted, None)],
            },
            Case {
                name: "CNAME next to addresses: the younger loses, whichever it is",
                records: vec![
                    mk_record("a", 0, json!({"name": "x.xcc.test", "cname": "y.xcc.test"})),
                    mk_record(
                        "b",
                        1,
                        json!({"name": "X.xcc.test.", "addresses": ["10.0.0.1"]}),
                    ),
                    mk_record(
                        "c",
                        2,
                        json!({"name": "z.xcc.test", "addresses": ["10.0.0.1"]}),
                    ),
                    mk_record("d", 3, json!({"name": "z.xcc.test", "cname": "y.xcc.test"})),
                ],
                derived: vec![],
                expect: vec![
                    ("a", Accepted, None),
                    ("b", Rejected, Some(CnameConflict)),
                    ("c", Accepted, None),
                    ("d", Rejected, Some(CnameConflict)),
                ],
            },
            Case {
                name: "CNAME at the apex",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "xcc.test", "cname": "y.example.com"}),
                )],
                derived: vec![],
                expect: vec![("a", Rejected, Some(CnameConflict))],
            },
            Case {
                name: "two different CNAMEs: duplicate owner",
                records: vec![
                    mk_record("a", 0, json!({"name": "x.xcc.test", "cname": "y.xcc.test"})),
                    mk_record("b", 1, json!({"name": "x.xcc.test", "cname": "z.xcc.test"})),
                ],
                derived: vec![],
                expect: vec![("a", Accepted, None), ("b", Rejected, Some(DuplicateOwner))],
            },
            Case {
                name: "same addresses from two objects: both served, once",
                records: vec![
                    mk_record("a", 0, a(&["10.0.0.1", "fd00::1"])),
                    mk_record("b", 1, a(&["fd00:0::1", "10.0.0.1", "10.0.0.1"])),
                ],
                derived: vec![],
                expect: vec![("a", Accepted, None), ("b", Accepted, None)],
            },
            Case {
                name: "different addresses from two objects: the younger is a duplicate owner",
                records: vec![
                    mk_record("a", 0, a(&["10.0.0.1"])),
                    mk_record("b", 1, a(&["10.0.0.2"])),
                ],
                derived: vec![],
                expect: vec![("a", Accepted, None), ("b", Rejected, Some(DuplicateOwner))],
            },
            Case {
                name: "same addresses, different TTL: duplicate owner",
                records: vec![
                    mk_record("a", 0, a(&["10.0.0.1"])),
                    mk_record(
                        "b",
                        1,
                        json!({"name": GATEWAY, "ttl": 60, "addresses": ["10.0.0.1"]}),
                    ),
                ],
                derived: vec![],
                expect: vec![("a", Accepted, None), ("b", Rejected, Some(DuplicateOwner))],
            },
            Case {
                name: "same creation time: namespace/name decides",
                records: vec![
                    mk_record("b", 0, a(&["10.0.0.2"])),
                    mk_record("a", 0, a(&["10.0.0.1"])),
                ],
                derived: vec![],
                expect: vec![("a", Accepted, None), ("b", Rejected, Some(DuplicateOwner))],
            },
            Case {
                name: "an invalid younger duplicate is InvalidData, not DuplicateOwner",
                records: vec![
                    mk_record(
                        "a",
                        0,
                        json!({"name": "x.xcc.test", "ttl": 30, "txt": ["a"]}),
                    ),
                    mk_record(
                        "b",
                        1,
                        json!({"name": "x.xcc.test", "txt": ["b", "x".repeat(300)]}),
                    ),
                ],
                derived: vec![],
                expect: vec![("a", Accepted, None), ("b", Rejected, Some(InvalidData))],
            },
            Case {
                name: "an invalid older object does not hold the name",
                records: vec![
                    mk_record("a", 0, a(&["10.0.0.1", "bogus"])),
                    mk_record("b", 1, a(&["10.0.0.2"])),
                ],
                derived: vec![],
                expect: vec![("a", Rejected, Some(InvalidData)), ("b", Accepted, None)],
            },
            Case {
                name: "different kinds at one name are not duplicates",
                records: vec![
                    mk_record(
                        "a",
                        0,
                        json!({"name": "x.xcc.test", "addresses": ["10.0.0.1"]}),
                    ),
                    mk_record("b", 1, json!({"name": "x.xcc.test", "txt": ["owner=a"]})),
                    mk_record(
                        "c",
                        2,
                        json!({"name": "x.xcc.test", "srv": [{"port": 80, "target": "x.xcc.test"}]}),
                    ),
                ],
                derived: vec![],
                expect: vec![
                    ("a", Accepted, None),
                    ("b", Accepted, None),
                    ("c", Accepted, None),
                ],
            },
            Case {
                name: "SRV entries compare as a set, TXT strings in order",
                records: vec![
                    mk_record(
                        "a",
                        0,
                        json!({"name": "_h._tcp.xcc.test", "srv": [
                            {"port": 80, "target": "a.xcc.test"}, {"port": 81, "target": "B.xcc.test."}]}),
                    ),
                    mk_record(
                        "b",
                        1,
                        json!({"name": "_h._tcp.xcc.test", "srv": [
                            {"port": 81, "target": "b.xcc.test"}, {"port": 80, "target": "a.xcc.test"}]}),
                    ),
                    mk_record("c", 2, json!({"name": "t.xcc.test", "txt": ["1", "2"]})),
                    mk_record("d", 3, json!({"name": "t.xcc.test", "txt": ["2", "1"]})),
                ],
                derived: vec![],
                expect: vec![
                    ("a", Accepted, None),
                    ("b", Accepted, None),
                    ("c", Accepted, None),
                    ("d", Rejected, Some(DuplicateOwner)),
                ],
            },
            Case {
                name: "an older EndpointSlice holds the name against a DNSRecord",
                records: vec![mk_record("a", 5, a(&["10.0.0.1"]))],
                derived: vec![mk_derived("gw", 0, a(&["10.0.0.9"]))],
                expect: vec![("a", Rejected, Some(DuplicateOwner))],
            },
            Case {
                name: "a CNAME with target addresses, then the same set in another order, then another set",
                records: vec![
                    mk_record(
                        "a",
                        0,
                        json!({"name": GATEWAY, "cname": "lb-1.elb.example.com.",
                               "targetAddresses": ["192.0.2.10", "2001:db8::10"]}),
                    ),
                    mk_record(
                        "b",
                        1,
                        json!({"name": GATEWAY, "cname": "LB-1.elb.example.com",
                               "targetAddresses": ["2001:db8:0::10", "192.0.2.10", "192.0.2.10"]}),
                    ),
                    mk_record(
                        "c",
                        2,
                        json!({"name": GATEWAY, "cname": "lb-1.elb.example.com.",
                               "targetAddresses": ["192.0.2.11"]}),
                    ),
                ],
                derived: vec![],
                expect: vec![
                    ("a", Accepted, None),
                    ("b", Accepted, None),
                    ("c", Rejected, Some(DuplicateOwner)),
                ],
            },
            Case {
                name: "target addresses without a CNAME, malformed, or for a target in the zone",
                records: vec![
                    mk_record(
                        "a",
                        0,
                        json!({"name": "a.xcc.test", "targetAddresses": ["192.0.2.10"]}),
                    ),
                    mk_record(
                        "b",
                        0,
                        json!({"name": "b.xcc.test", "cname": "lb.example.com",
                               "targetAddresses": ["192.0.2.300"]}),
                    ),
                    mk_record(
                        "c",
                        0,
                        json!({"name": "c.xcc.test", "cname": "www.xcc.test",
                               "targetAddresses": ["192.0.2.10"]}),
                    ),
                ],
                derived: vec![],
                expect: vec![
                    ("a", Rejected, Some(InvalidData)),
                    ("b", Rejected, Some(InvalidData)),
                    ("c", Rejected, Some(InvalidData)),
                ],
            },
            Case {
                name: "a DNSRecord wins over an EndpointSlice of the same age",
                records: vec![mk_record(
                    "a",
                    0,
                    json!({"name": "x.xcc.test", "cname": "y.xcc.test"}),
                )],
                derived: vec![mk_derived(
                    "gw",
                    0,
                    json!({"name": "x.xcc.test", "addresses": ["10.0.0.9"]}),
                )],
                expect: vec![("a", Accepted, None)],
            },
        ]
    }

    #[test]
    fn table() {
        for case in cases() {
            let built = build(&case.records, &case.derived);
            let expect: Vec<_> = case
                .expect
                .iter()
                .map(|(name, state, reason)| ((*name).to_owned(), *state, *reason))
                .collect();
            assert_eq!(decisions(&built), expect, "{}", case.name);
            // Every rejection has a message and a problem entry; every
            // acceptance is in the accepted set.
            for status in &built.statuses {
                let origin = Origin::Record(status.key.clone());
                match status.status.state.unwrap() {
                    Rejected => {
                        assert!(
                            status
                                .status
                                .message
                                .as_ref()
                                .is_some_and(|m| !m.is_empty())
                        );
                        assert!(
                            built.problems.iter().any(|p| p.origin == origin),
                            "{}",
                            case.name
                        );
                    }
                    Accepted => {
                        assert!(status.status.message.is_none());
                        assert!(
                            built.accepted.iter().any(|a| a.origin == origin),
                            "{}",
                            case.name
                        );
                    }
                }
                assert_eq!(status.status.observed_generation, Some(1));
            }
            // Order independence: reversed and rotated inputs decide the same.
            for turn in 0..case.records.len().max(1) {
                let mut records = case.records.clone();
                records.reverse();
                let count = records.len();
                if count > 0 {
                    records.rotate_left(turn % count);
                }
                let again = build(&records, &case.derived);
                assert_eq!(
                    again.statuses, built.statuses,
                    "{} (turn {turn})",
                    case.name
                );
                assert_eq!(
                    again.accepted, built.accepted,
                    "{} (turn {turn})",
                    case.name
                );
                assert_eq!(
                    again.problems, built.problems,
                    "{} (turn {turn})",
                    case.name
                );
                assert_eq!(again.digest, built.digest, "{} (turn {turn})", case.name);
            }
        }
    }

    #[test]
    fn duplicate_owner_message_names_the_winner() {
        let built = build(
            &[
                mk_record("b", 1, json!({"name": GATEWAY, "addresses": ["10.0.0.2"]})),
                mk_record("a", 0, json!({"name": GATEWAY, "addresses": ["10.0.0.1"]})),
            ],
            &[],
        );
        let status = &built.statuses[1].status;
        assert_eq!(status.reason, Some(DuplicateOwner));
        let message = status.message.as_deref().unwrap();
        assert!(message.contains("DNSRecord xcc-dns/a"), "{message}");
        assert!(message.contains("addresses"), "{message}");
        // Only the winner's data is served.
        let a = rrset(
            &built.table,
            "x.gateway.cluster-a.dev-team.clusters.xcc.test",
            RType::A,
        )
        .unwrap();
        assert!(a.ends_with(&[10, 0, 0, 1]));
        assert_eq!(a.len(), 14, "one A record");
    }

    #[test]
    fn cname_conflict_message_names_the_winner() {
        let built = build(
            &[
                mk_record(
                    "old",
                    0,
                    json!({"name": "x.xcc.test", "cname": "y.xcc.test"}),
                ),
                mk_record(
                    "new",
                    1,
                    json!({"name": "x.xcc.test", "addresses": ["10.0.0.1"]}),
                ),
            ],
            &[],
        );
        let new = built.statuses.iter().find(|s| s.key.name == "new").unwrap();
        assert!(
            new.status
                .message
                .as_deref()
                .unwrap()
                .contains("DNSRecord xcc-dns/old")
        );
    }

    #[test]
    fn unreadable_objects_are_not_a_record() {
        let good = mk_record(
            "good",
            0,
            json!({"name": "g.xcc.test", "addresses": ["10.0.0.1"]}),
        );
        let mut bad = serde_json::to_value(&good).unwrap();
        bad["metadata"]["name"] = json!("bad");
        bad["metadata"]["generation"] = json!(4);
        bad["spec"]["ttl"] = json!("thirty");
        let dynamic: DynamicObject = serde_json::from_value(bad).unwrap();
        let unreadable = decode_record(&dynamic).unwrap_err();
        assert_eq!(unreadable.key, ObjectKey::new("xcc-dns", "bad"));
        let dynamic_good: DynamicObject =
            serde_json::from_value(serde_json::to_value(&good).unwrap()).unwrap();
        assert_eq!(decode_record(&dynamic_good).unwrap(), good);

        let built = build_records(&[good], &[unreadable], &[], &TableConfig::default());
        assert_eq!(
            decisions(&built),
            [
                ("bad".to_owned(), Rejected, Some(RejectReason::NotARecord)),
                ("good".to_owned(), Accepted, None)
            ]
        );
        assert_eq!(built.statuses[0].status.observed_generation, Some(4));
        assert!(
            built.statuses[0]
                .status
                .message
                .as_deref()
                .unwrap()
                .contains("not a valid DNSRecord")
        );
        assert_eq!(built.problems.len(), 1);
    }

    #[test]
    fn reason_mapping_covers_every_rejection() {
        let with = Source::default();
        let error = NameBuf::from_presentation("a..b").unwrap_err();
        for (rejection, reason) in [
            (
                Rejection::BadName {
                    field: "name",
                    value: "a..b".to_owned(),
                    error,
                },
                InvalidData,
            ),
            (Rejection::BadAddress("x".to_owned()), InvalidData),
            (Rejection::TtlOutOfRange(1 << 40), InvalidData),
            (Rejection::NoData, InvalidData),
            (Rejection::MixedData, InvalidData),
            (Rejection::TxtTooLong(300), InvalidData),
            (Rejection::OutsideZones, OutsideZone),
            (
                Rejection::CnameConflict { with: with.clone() },
                CnameConflict,
            ),
            (Rejection::SecondCname { with }, CnameConflict),
            (Rejection::CnameAtApex, CnameConflict),
            (Rejection::Delegation, InvalidData),
            (Rejection::MisplacedSoa, InvalidData),
            (Rejection::TargetAddressesWithoutCname, InvalidData),
            (Rejection::BadTargetAddress("x".to_owned()), InvalidData),
            (
                Rejection::TargetAddressesInServedZone {
                    target: "www.xcc.test.".to_owned(),
                    zone: "xcc.test.".to_owned(),
                },
                InvalidData,
            ),
            (
                Rejection::DifferentTargetAddresses {
                    with: Source::default(),
                },
                DuplicateOwner,
            ),
            (
                Rejection::NotARecord("x".to_owned()),
                RejectReason::NotARecord,
            ),
        ] {
            assert_eq!(reason_for(&rejection), reason, "{rejection}");
        }
    }

    /// A mixed set: same table content, statuses and digest whatever the
    /// input order.
    #[test]
    fn order_independent_table() {
        let records = vec![
            mk_record(
                "gw-a",
                0,
                json!({"name": GATEWAY, "addresses": ["10.0.0.1", "fd00::1"]}),
            ),
            mk_record(
                "gw-a-copy",
                3,
                json!({"name": GATEWAY, "addresses": ["fd00::1", "10.0.0.1"]}),
            ),
            mk_record(
                "gw-b",
                1,
                json!({"name": "*.gateway.cluster-b.dev-team.clusters.xcc.test", "addresses": ["10.0.0.2"]}),
            ),
            mk_record(
                "alias",
                2,
                json!({"name": "web.xcc.test", "cname": "x.gateway.cluster-b.dev-team.clusters.xcc.test"}),
            ),
            mk_record(
                "web-a",
                2,
                json!({"name": "web.xcc.test", "addresses": ["10.0.0.3"]}),
            ),
            mk_record("txt", 4, json!({"name": "web.xcc.test", "txt": ["v=1"]})),
            mk_record(
                "srv",
                1,
                json!({"name": "_http._tcp.xcc.test", "srv": [{"port": 80, "target": "web.xcc.test"}]}),
            ),
            mk_record(
                "outside",
                0,
                json!({"name": "example.com", "addresses": ["10.0.0.4"]}),
            ),
            mk_record(
                "late",
                9,
                json!({"name": GATEWAY, "addresses": ["10.9.9.9"]}),
            ),
        ];
        let derived = vec![mk_derived(
            "slice",
            1,
            json!({"name": "legacy.xcc.test", "addresses": ["10.1.1.1"]}),
        )];
        let reference = build(&records, &derived);
        let names = [
            "x.gateway.cluster-a.dev-team.clusters.xcc.test",
            "x.gateway.cluster-b.dev-team.clusters.xcc.test",
            "web.xcc.test",
            "_http._tcp.xcc.test",
            "legacy.xcc.test",
            "xcc.test",
        ];
        let types = [
            RType::A,
            RType::AAAA,
            RType::CNAME,
            RType::TXT,
            RType::SRV,
            RType::SOA,
            RType::NS,
        ];
        let snapshot = |built: &RecordsBuild| {
            let mut out = Vec::new();
            for name in names {
                for rtype in types {
                    out.push(rrset(&built.table, name, rtype));
                }
            }
            (
                out,
                built.table.record_count(),
                built.table.zones()[0].node_count(),
            )
        };
        let expected = snapshot(&reference);
        // alias (CNAME at web.xcc.test, older by name at equal time) wins
        // over web-a and txt; outside is outside; late duplicates gw-a.
        assert_eq!(
            decisions(&reference),
            [
                ("alias".to_owned(), Accepted, None),
                ("gw-a".to_owned(), Accepted, None),
                ("gw-a-copy".to_owned(), Accepted, None),
                ("gw-b".to_owned(), Accepted, None),
                ("late".to_owned(), Rejected, Some(DuplicateOwner)),
                ("outside".to_owned(), Rejected, Some(OutsideZone)),
                ("srv".to_owned(), Accepted, None),
                ("txt".to_owned(), Rejected, Some(CnameConflict)),
                ("web-a".to_owned(), Rejected, Some(CnameConflict)),
            ]
        );
        let mut permuted = records.clone();
        for step in 0..records.len() * 3 {
            // A deterministic shuffle: rotate and swap a moving pair.
            permuted.rotate_left(step % records.len());
            let (i, j) = (step % permuted.len(), (step * 7 + 3) % permuted.len());
            permuted.swap(i, j);
            let built = build(&permuted, &derived);
            assert_eq!(snapshot(&built), expected, "permutation {step}");
            assert_eq!(built.statuses, reference.statuses);
            assert_eq!(built.accepted, reference.accepted);
            assert_eq!(built.digest, reference.digest);
        }
    }

    #[test]
    fn decoder_decodes_each_object_version_once() {
        let dynamic = |record: &DNSRecord| -> Arc<DynamicObject> {
            Arc::new(serde_json::from_value(serde_json::to_value(record).unwrap()).unwrap())
        };
        let a = mk_record(
            "a",
            0,
            json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]}),
        );
        let b = mk_record(
            "b",
            1,
            json!({"name": "b.xcc.test", "addresses": ["10.0.0.2"]}),
        );
        let mut not_a_record = dynamic(&b);
        Arc::make_mut(&mut not_a_record).metadata.name = Some("c".to_owned());
        Arc::make_mut(&mut not_a_record).data["spec"] = json!({"name": 7});
        let mut store = vec![dynamic(&a), dynamic(&b), not_a_record];
        let mut decoder = RecordDecoder::default();
        let first = decoder.decode(&store);
        assert_eq!(first.records.len(), 2);
        assert_eq!(first.unreadable.len(), 1);
        assert_eq!(first.unreadable[0].key, ObjectKey::new("xcc-dns", "c"));
        // The same objects: the same decoded records, not decoded again.
        let again = decoder.decode(&store);
        assert!(Arc::ptr_eq(&first.records[0], &again.records[0]));
        assert!(Arc::ptr_eq(&first.records[1], &again.records[1]));
        // A new version of one object (the store holds a new Arc): that one
        // is decoded again, with its new content.
        let mut changed = b.clone();
        changed.spec.addresses = vec!["10.0.0.3".to_owned()];
        store[1] = dynamic(&changed);
        let third = decoder.decode(&store);
        assert!(Arc::ptr_eq(&first.records[0], &third.records[0]));
        assert_eq!(third.records[1].spec.addresses, ["10.0.0.3"]);
        assert_eq!(third.records[1].record.spec.addresses, ["10.0.0.3"]);
        // Objects gone from the store leave the cache.
        store.truncate(1);
        assert_eq!(decoder.decode(&store).records.len(), 1);
        assert_eq!(decoder.len(), 1);
        assert!(decoder.decode(&[]).records.is_empty());
        assert!(decoder.is_empty());
    }

    #[test]
    fn decoded_records_build_what_plain_records_build() {
        let records = [
            mk_record(
                "a",
                0,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]}),
            ),
            mk_record(
                "b",
                1,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.2"]}),
            ),
            mk_record(
                "c",
                2,
                json!({"name": "example.com", "addresses": ["10.0.0.3"]}),
            ),
            mk_record(
                "d",
                3,
                json!({"name": "bad..name", "addresses": ["10.0.0.4"]}),
            ),
            mk_record("e", 4, json!({"name": "a.xcc.test", "cname": "b.xcc.test"})),
            mk_record(
                "f",
                5,
                json!({"name": "t.xcc.test", "txt": ["x"], "ttl": 60}),
            ),
            mk_record(
                "g",
                6,
                json!({"name": "*.w.xcc.test", "addresses": ["fd00::1"]}),
            ),
            mk_record(
                "h",
                7,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]}),
            ),
        ];
        let decoded: Vec<Arc<DecodedRecord>> = records
            .iter()
            .map(|r| Arc::new(DecodedRecord::new(r.clone())))
            .collect();
        assert!(decoded.iter().any(|d| d.parsed.is_err()));
        let plain = build(&records, &[]);
        let via_decoder = build_records(&decoded, &[], &[], &TableConfig::default());
        assert_eq!(via_decoder.statuses, plain.statuses);
        assert_eq!(via_decoder.problems, plain.problems);
        assert_eq!(via_decoder.digest, plain.digest);
        assert_eq!(
            xcc_responder::table::snapshot::encode(&via_decoder.table),
            xcc_responder::table::snapshot::encode(&plain.table)
        );
    }

    #[test]
    fn plan_and_report_give_what_build_gives() {
        let records = [
            mk_record(
                "a",
                0,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]}),
            ),
            mk_record(
                "b",
                1,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.2"]}),
            ),
            mk_record(
                "c",
                2,
                json!({"name": "example.com", "addresses": ["10.0.0.3"]}),
            ),
        ];
        let built = build(&records, &[]);
        let planned = plan_records(&records, &[], &[], &TableConfig::default());
        assert_eq!(planned.digest, built.digest);
        assert_eq!(planned.decisions.accepted_count(), 1);
        assert_eq!(planned.decisions.rejected_count(), 2);
        assert_eq!(
            xcc_responder::table::snapshot::encode(&planned.table),
            xcc_responder::table::snapshot::encode(&built.table)
        );
        let report = planned.decisions.report();
        assert_eq!(report.statuses, built.statuses);
        assert_eq!(report.accepted, built.accepted);
        assert_eq!(report.problems, built.problems);
    }

    #[test]
    fn digest_follows_the_served_data_only() {
        let one = mk_record(
            "a",
            0,
            json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]}),
        );
        let two = mk_record(
            "b",
            1,
            json!({"name": "b.xcc.test", "addresses": ["10.0.0.2"]}),
        );
        let base = build(&[one.clone(), two.clone()], &[]).digest;
        // Renamed, re-created, reordered, duplicated: same served data.
        let mut renamed = one.clone();
        renamed.metadata.name = Some("renamed".to_owned());
        renamed.metadata.creation_timestamp = Some(time(30));
        let same = build(&[two.clone(), renamed, one.clone()], &[]).digest;
        assert_eq!(same, base);
        // A rejected object changes nothing.
        let outside = mk_record(
            "c",
            2,
            json!({"name": "example.com", "addresses": ["10.0.0.3"]}),
        );
        assert_eq!(
            build(&[one.clone(), two.clone(), outside], &[]).digest,
            base
        );
        // Any change of data does.
        let mut changed = two.clone();
        changed.spec.addresses = vec!["10.0.0.3".to_owned()];
        assert_ne!(build(&[one.clone(), changed], &[]).digest, base);
        let mut ttl = two.clone();
        ttl.spec.ttl = 31;
        assert_ne!(build(&[one.clone(), ttl], &[]).digest, base);
        assert_ne!(build(std::slice::from_ref(&one), &[]).digest, base);
        // A CNAME's target addresses are served data too.
        let lb = |targets: &[&str]| {
            mk_record(
                "lb",
                3,
                json!({"name": "lb.xcc.test", "cname": "lb.example.com", "targetAddresses": targets}),
            )
        };
        assert_ne!(
            build(&[lb(&["192.0.2.1"])], &[]).digest,
            build(&[lb(&["192.0.2.2"])], &[]).digest
        );
        // A field's text never runs into the next field's.
        let mut split = two.clone();
        split.spec.name = "b.xcc.test".to_owned();
        split.spec.addresses = vec!["10.0.0.2".to_owned(), "10.0.0.3".to_owned()];
        let mut joined = two.clone();
        joined.spec.addresses = vec!["10.0.0.210.0.0.3".to_owned()];
        assert_ne!(
            RecordSetDigest::of([&DnsRecordSpec::from(&split.spec)]),
            RecordSetDigest::of([&DnsRecordSpec::from(&joined.spec)])
        );
        assert_eq!(build(&[], &[]).digest, RecordSetDigest::of([]));
    }

    #[test]
    fn publish_gate_skips_unchanged_sets() {
        let first = build(
            &[mk_record(
                "a",
                0,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]}),
            )],
            &[],
        );
        let mut gate = PublishGate::default();
        assert!(gate.needs_publish(first.digest));
        gate.published(first.digest);
        assert!(!gate.needs_publish(first.digest));
        let again = build(
            &[mk_record(
                "a",
                0,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]}),
            )],
            &[],
        );
        assert!(!gate.needs_publish(again.digest));
        let changed = build(
            &[mk_record(
                "a",
                0,
                json!({"name": "a.xcc.test", "addresses": ["10.0.0.2"]}),
            )],
            &[],
        );
        assert!(gate.needs_publish(changed.digest));
        assert_eq!(gate.last(), Some(first.digest));
    }

    #[test]
    fn srv_and_derived_records_are_served() {
        let built = build(
            &[mk_record(
                "srv",
                0,
                json!({"name": "_http._tcp.xcc.test", "srv": [{"priority": 1, "weight": 2, "port": 8080, "target": "web.xcc.test"}]}),
            )],
            &[mk_derived(
                "gw",
                0,
                json!({"name": GATEWAY, "addresses": ["10.0.0.7"]}),
            )],
        );
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        assert!(rrset(&built.table, "_http._tcp.xcc.test", RType::SRV).is_some());
        let a = rrset(
            &built.table,
            "anything.gateway.cluster-a.dev-team.clusters.xcc.test",
            RType::A,
        )
        .unwrap();
        assert!(a.ends_with(&[10, 0, 0, 7]));
        assert_eq!(
            built
                .accepted
                .iter()
                .map(|a| a.origin.to_string())
                .collect::<Vec<_>>(),
            ["DNSRecord xcc-dns/srv", "EndpointSlice xcc-dns/gw"]
        );
    }
}
