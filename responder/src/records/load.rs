//! Reading a records file into a table.
//!
//! A records file is what `kubectl apply -f` takes and what `--records`
//! serves: a stream of `DNSRecord` manifests ([`super::model`]). The format
//! is detected from the first non-whitespace character: `{` or `[` is JSON,
//! anything else YAML (which may hold several documents separated by `---`;
//! a top-level YAML flow mapping is therefore read as JSON). Each document
//! may be
//!
//! - one `DNSRecord` manifest;
//! - a list of them, as `kubectl get -o yaml` prints it (`kind: List`, or any
//!   kind ending in `List`, with `items`), or (JSON, or a YAML sequence) an
//!   array of manifests;
//! - a zone in the format of the peer benchmark harness
//!   (`/work/shared/bench/gen_zone.py`), recognised by its top-level
//!   `records` key: `zone`, `soa` and `ns` configure the zone (the serial is
//!   ignored: the version is the responder's), each `records` entry
//!   `{name, ttl, a: [...], aaaa: [...]}` is one group of records.
//!
//! Loading is tolerant per document, strict per file. The file is first
//! parsed into loosely typed documents (`RawDoc`: only the top-level keys
//! are looked at, every value is kept as a generic [`serde_json::Value`]);
//! then each document is checked on its own and turned into a
//! [`DnsRecordManifest`]. In JSON, the items of a list and the elements of
//! a top-level array are only delimited while the file is parsed (kept as
//! slices of the text, [`RawValue`]) and parsed one at a time when loaded:
//! straight into a manifest when the item is one, and through the generic
//! path, which words the message, when it is not. A million-item `kubectl
//! get -o json` file thus never holds a million parsed objects at once.
//! The common large file, a JSON `List` (or array) of valid manifests, is
//! first tried in a single pass that adds each item as it reads it; at the
//! first thing that pass does not read (an item that is not a manifest, a
//! string with escapes) it gives up and the file takes the path above. A document that is not a valid `DNSRecord` (wrong
//! `kind` or `apiVersion`, a schema error, an unknown field in the spec) is
//! reported as [`Rejection::NotARecord`] naming the file, the document
//! (counted from 1, empty YAML documents not counted; the elements of a
//! top-level array each count as one) and the object; every other document
//! is still loaded, and the [`TableBuilder`] then rejects bad records by
//! name in the same way. What produces no table at all, as a [`LoadError`]:
//! a file that cannot be read or does not parse (YAML or JSON syntax, not
//! UTF-8), a benchmark zone header that is unusable, a file with no
//! documents at all (most likely one being written in place: serving it
//! would empty the zone), and a file whose every record was rejected. An
//! explicitly empty list (`[]`, or a `List` with no items) is a valid,
//! empty records file.
//!

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use xcc_wire::NameBuf;

use super::model::{
    API_VERSION, DEFAULT_TTL, DnsRecordManifest, DnsRecordSpec, DnsRecordSpecOf, KIND, ObjectMeta,
};
use crate::table::build::{
    Built, ObjectRef, Problem, RecordValue, Rejection, Source, SourceRef, TableBuilder,
    TableConfig, ZoneConfig,
};
use crate::table::snapshot::{self, SnapshotError};

//----------- Errors -----------------------------------------------------------

/// Why a records file produced no table.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A snapshot (recognised by its magic) that fails its checks.
    Snapshot {
        /// The file, when known.
        file: Option<String>,
        /// What is wrong.
        error: SnapshotError,
    },
    /// The file is not well-formed YAML or JSON (or not UTF-8).
    Syntax {
        /// The file, when known.
        file: Option<String>,
        /// The parser's message, with the position where it has one.
        message: String,
    },
    /// A document's overall structure is unusable: a benchmark-format zone
    /// header (`zone`, `soa`, `ns`) that is invalid, a `records` that is not
    /// a list, a zone defined twice.
    Format {
        /// The file, when known.
        file: Option<String>,
        /// The document, counted from 1.
        document: usize,
        /// What is wrong.
        message: String,
    },
    /// The file holds no document at all (empty, or only comments). A file
    /// truncated by an in-place write looks like this, so it is not served;
    /// write `[]` for an intentionally empty records file.
    Empty {
        /// The file, when known.
        file: Option<String>,
    },
    /// Every record in the file was rejected.
    NothingValid {
        /// The file, when known.
        file: Option<String>,
        /// Why each was rejected.
        problems: Vec<Problem>,
    },
}

/// How a file is named in messages when no name was given.
const UNNAMED: &str = "<records>";

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |file: &Option<String>| file.clone().unwrap_or_else(|| UNNAMED.to_owned());
        match self {
            Self::Io { path, source } => write!(f, "{}: cannot read: {source}", path.display()),
            Self::Syntax { file, message } => write!(f, "{}: syntax error: {message}", name(file)),
            Self::Snapshot { file, error } => write!(f, "{}: {error}", name(file)),
            Self::Format {
                file,
                document,
                message,
            } => write!(f, "{}, document {document}: {message}", name(file)),
            Self::Empty { file } => write!(
                f,
                "{}: no documents (write `[]` for an empty records file)",
                name(file)
            ),
            Self::NothingValid { file, problems } => {
                write!(
                    f,
                    "{}: all {} record(s) rejected",
                    name(file),
                    problems.len()
                )?;
                if let Some(first) = problems.first() {
                    write!(f, "; the first: {first}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

//----------- Entry points -----------------------------------------------------

/// Reads and loads the records file at `path` (see the module docs).
pub fn load_file(path: &Path, config: &TableConfig) -> Result<Built, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let name = path.display().to_string();
    load_bytes(&bytes, Some(&name), config)
}

/// Loads a records file's content; `file` names it in problems and errors.
pub fn load_bytes(
    bytes: &[u8],
    file: Option<&str>,
    config: &TableConfig,
) -> Result<Built, LoadError> {
    if snapshot::is_snapshot(bytes) {
        let table = snapshot::decode(bytes).map_err(|error| LoadError::Snapshot {
            file: file.map(str::to_owned),
            error,
        })?;
        return Ok(Built {
            table,
            problems: Vec::new(),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| LoadError::Syntax {
        file: file.map(str::to_owned),
        message: format!("not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
    })?;
    load_str(text, file, config)
}

/// Loads records from `text`, YAML or JSON; `file` names it in problems and
/// errors.
pub fn load_str(text: &str, file: Option<&str>, config: &TableConfig) -> Result<Built, LoadError> {
    if let Some(built) = load_json_in_one_pass(text, file, config) {
        return built;
    }
    let documents = parse_documents(text, file)?;
    if documents.is_empty() {
        return Err(LoadError::Empty {
            file: file.map(str::to_owned),
        });
    }
    Loader::new(file, config, &documents)?.load(&documents)
}

//----------- One pass ---------------------------------------------------------

/// Loads the common large file in one pass: a JSON `List` (or array) whose
/// every item is a `DNSRecord` manifest read straight ([`TypedManifest`]),
/// each added as it is read. `None` when the text is anything else, and
/// at the first thing this path does not read (an item that is not a
/// manifest, a string with escapes, a benchmark zone, a repeated key):
/// then the general path loads the whole text again and words whatever is
/// wrong. What this path returns is what the general path would.
fn load_json_in_one_pass(
    text: &str,
    file: Option<&str>,
    config: &TableConfig,
) -> Option<Result<Built, LoadError>> {
    if !is_json(text) {
        return None;
    }
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let mut loader = Loader::new(file, config, &[]).ok()?;
    // Room for the groups, guessed from the size (a compact manifest is
    // about 250 bytes): address space only, until it is written.
    loader.builder.reserve(text.len() / 256);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    if text.starts_with('[') {
        let items = Items {
            loader: &mut loader,
            each_a_document: true,
        };
        de::DeserializeSeed::deserialize(items, &mut deserializer).ok()?;
    } else {
        de::DeserializeSeed::deserialize(OnePassList(&mut loader), &mut deserializer).ok()?;
    }
    deserializer.end().ok()?;
    Some(loader.load(&[]))
}

/// The error that leaves the one pass for the general path.
fn not_this_path<E: de::Error>() -> E {
    E::custom("not for the one pass")
}

/// A top-level JSON `List` read in one pass: its `items` are added as they
/// are read; it must turn out to be a list (`kind` ending in `List`, no
/// benchmark `records`), or the pass is abandoned.
struct OnePassList<'l, 'f>(&'l mut Loader<'f>);

impl<'de> de::DeserializeSeed<'de> for OnePassList<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnePassList<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<&'de str> = Vec::new();
        let mut is_a_list = false;
        let mut has_items = false;
        while let Some(key) = map.next_key::<&'de str>()? {
            if seen.contains(&key) {
                return Err(not_this_path());
            }
            seen.push(key);
            match key {
                "items" => {
                    has_items = true;
                    map.next_value_seed(Items {
                        loader: &mut *self.0,
                        each_a_document: false,
                    })?;
                }
                "kind" => is_a_list = map.next_value::<&'de str>()?.ends_with("List"),
                // A benchmark zone: its header configures the build.
                "records" | "zone" | "soa" | "ns" => return Err(not_this_path()),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if is_a_list && has_items {
            Ok(())
        } else {
            Err(not_this_path())
        }
    }
}

/// A JSON array of manifests read in one pass: a `List`'s items (all of
/// document 1), or a top-level array (each element a document).
struct Items<'l, 'f> {
    loader: &'l mut Loader<'f>,
    /// A top-level array: each element counts as a document.
    each_a_document: bool,
}

impl<'de> de::DeserializeSeed<'de> for Items<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of manifests")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut number = 0;
        while let Some(MapOnly(manifest)) = seq.next_element::<MapOnly<TypedManifest<'de>>>()? {
            if !manifest.is_a_record() {
                return Err(not_this_path());
            }
            number += 1;
            let document = if self.each_a_document { number } else { 1 };
            self.loader.add_typed(document, manifest);
        }
        Ok(())
    }
}

//----------- Parsing ----------------------------------------------------------

/// Whether `text` is read as JSON: its first non-whitespace character (after
/// a byte-order mark) opens an object or an array.
fn is_json(text: &str) -> bool {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with('{') || text.starts_with('[')
}

/// Parses `text` into its documents, without interpreting them.
fn parse_documents<'a>(text: &'a str, file: Option<&str>) -> Result<Vec<RawDoc<'a>>, LoadError> {
    let syntax = |message: String| LoadError::Syntax {
        file: file.map(str::to_owned),
        message,
    };
    if is_json(text) {
        let text = text.trim_start_matches('\u{feff}').trim_start();
        // A top-level array's elements and a list's items are delimited,
        // not parsed (see the module docs).
        let document = if text.starts_with('[') {
            serde_json::from_str::<Vec<&RawValue>>(text)
                .map(|elements| RawDoc::Array(elements.into_iter().map(RawDoc::Json).collect()))
        } else {
            serde_json::from_str::<RawObject<&RawValue>>(text)
                .map(|object| RawDoc::Object(Box::new(object.map_items(RawDoc::Json))))
        };
        return document.map(|d| vec![d]).map_err(|e| syntax(e.to_string()));
    }
    serde_saphyr::from_multiple_with_options::<RawDoc<'_>>(text, yaml_options(text.len()))
        .map(|documents| {
            documents
                .into_iter()
                .filter(|d| !matches!(d, RawDoc::Null))
                .collect()
        })
        .map_err(|e| syntax(e.to_string()))
}

/// YAML parser options: duplicate keys are errors (the default), and the
/// resource budget grows with the input, so that a large plain file is never
/// refused while alias expansion ("billion laughs") stays capped by the
/// default alias limits.
fn yaml_options(input_len: usize) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // Every document takes at least `---` and a newline.
    budget.max_documents = budget.max_documents.max(input_len / 4 + 1);
    // Every node takes at least one byte, and makes at most two events.
    budget.max_nodes = budget.max_nodes.max(input_len);
    budget.max_events = budget.max_events.max(input_len.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(input_len);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // Comments are never read.
    options.emit_comments = false;
    options
}

/// A document as parsed, before it is known what it is.
#[derive(Debug)]
enum RawDoc<'a> {
    /// A mapping: a manifest, a list, or a benchmark zone.
    Object(Box<RawObject<Self>>),
    /// A sequence of documents.
    Array(Vec<Self>),
    /// JSON text not parsed yet: an item of a list, or an element of a
    /// top-level array (see the module docs).
    Json(&'a RawValue),
    /// Null or empty.
    Null,
    /// Anything else; what it is, for the message.
    Scalar(&'static str),
}

/// The top-level keys of a document that matter here; others are ignored
/// (the status of a `kubectl get -o yaml` object, say). Values are generic
/// except for the two lists, which are read entry by entry so that each
/// entry can fail on its own.
///
/// `I` is what the items of a list are: documents, or (JSON) their text.
#[derive(Debug, Default, Deserialize)]
struct RawObject<I> {
    #[serde(rename = "apiVersion")]
    api_version: Option<Value>,
    kind: Option<Value>,
    metadata: Option<Value>,
    spec: Option<Value>,
    /// A `List`'s items.
    items: Option<MaybeList<I>>,
    /// The benchmark format's record sets.
    records: Option<MaybeList<Lenient<BenchEntry>>>,
    /// The benchmark format's zone header.
    zone: Option<Value>,
    soa: Option<Value>,
    ns: Option<Value>,
}

impl<I> RawObject<I> {
    /// The same object, its items turned into `J`s.
    fn map_items<J>(self, item: impl FnMut(I) -> J) -> RawObject<J> {
        RawObject {
            api_version: self.api_version,
            kind: self.kind,
            metadata: self.metadata,
            spec: self.spec,
            items: self.items.map(|items| match items {
                MaybeList::List(items) => MaybeList::List(items.into_iter().map(item).collect()),
                MaybeList::Not(what) => MaybeList::Not(what),
            }),
            records: self.records,
            zone: self.zone,
            soa: self.soa,
            ns: self.ns,
        }
    }
}

// Deserializing never borrows (`RawDoc::Json` is only made by
// `parse_documents`), so any `'a` will do.
impl<'de, 'a> Deserialize<'de> for RawDoc<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawDocVisitor(PhantomData))
    }
}

struct RawDocVisitor<'a>(PhantomData<&'a ()>);

impl<'de, 'a> Visitor<'de> for RawDocVisitor<'a> {
    type Value = RawDoc<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a document")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let object = RawObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RawDoc::Object(Box::new(object)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut documents = Vec::new();
        while let Some(document) = seq.next_element::<RawDoc<'_>>()? {
            documents.push(document);
        }
        Ok(RawDoc::Array(documents))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RawDoc::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(RawDoc::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        RawDoc::deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        RawDoc::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("a number"))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("a number"))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("a string"))
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(RawDoc::Scalar("binary data"))
    }
}

/// A value that should be a list: the list, or what it was instead.
#[derive(Debug)]
enum MaybeList<T> {
    List(Vec<T>),
    Not(&'static str),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MaybeListVisitor(PhantomData))
    }
}

struct MaybeListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for MaybeListVisitor<T> {
    type Value = MaybeList<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(MaybeList::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeList::Not("a mapping"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(MaybeList::List(Vec::new()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(MaybeList::List(Vec::new()))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        MaybeList::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(MaybeList::Not("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(MaybeList::Not("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(MaybeList::Not("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(MaybeList::Not("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(MaybeList::Not("a string"))
    }
}

/// An entry that is read as `T` if it can be, else kept as a generic value
/// to report it. Only the entry is buffered, never the whole list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Good(T),
    Bad(Value),
}

//----------- The benchmark harness's format ----------------------------------

/// One record set of the benchmark format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchEntry {
    name: String,
    #[serde(default)]
    ttl: Option<u64>,
    #[serde(default)]
    a: Vec<String>,
    #[serde(default)]
    aaaa: Vec<String>,
}

/// The benchmark format's SOA; the serial is accepted and ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchSoa {
    mname: Option<String>,
    rname: Option<String>,
    #[allow(dead_code)]
    serial: Option<u32>,
    refresh: Option<u32>,
    retry: Option<u32>,
    expire: Option<u32>,
    minimum: Option<u32>,
    ttl: Option<u32>,
}

//----------- Loading ----------------------------------------------------------

/// Turns parsed documents into a table.
struct Loader<'a> {
    file: Option<&'a str>,
    builder: TableBuilder,
    /// Groups the builder took so far.
    added: usize,
    /// The apex NS records each benchmark document gives, by document.
    bench_ns: Vec<(usize, NameBuf, u32, Vec<String>)>,
}

impl<'a> Loader<'a> {
    /// Reads the zone headers of benchmark-format documents into the
    /// configuration, then makes the builder.
    fn new(
        file: Option<&'a str>,
        config: &TableConfig,
        documents: &[RawDoc<'_>],
    ) -> Result<Self, LoadError> {
        let mut config = config.clone();
        let mut bench_ns = Vec::new();
        // Zones defined by a document of this file, to refuse a second one.
        let mut defined: Vec<NameBuf> = Vec::new();
        let mut number = 0;
        for_each_document(file, documents, &mut number, &mut |document, raw| {
            let parsed;
            let object = match raw {
                RawDoc::Object(object) => object,
                // Benchmark zones are rare: only the JSON documents that
                // have `records` are parsed here.
                RawDoc::Json(text) if has_records(text) => {
                    parsed = parse_json(file, text)?;
                    match &parsed {
                        RawDoc::Object(object) => object,
                        _ => return Ok(()),
                    }
                }
                _ => return Ok(()),
            };
            if object.records.is_none() {
                return Ok(());
            }
            let format = |message: String| LoadError::Format {
                file: file.map(str::to_owned),
                document,
                message,
            };
            if let Some(MaybeList::Not(what)) = &object.records {
                return Err(format(format!("`records` is {what}, not a list")));
            }
            let Some(zone) = &object.zone else {
                if object.soa.is_some() || !matches!(object.ns, None | Some(Value::Null)) {
                    return Err(format("`soa` or `ns` given without `zone`".to_owned()));
                }
                return Ok(());
            };
            let apex = bench_name("zone", zone).map_err(format)?;
            if defined.iter().any(|d| d.to_key() == apex.to_key()) {
                return Err(format(format!("zone {apex} defined twice")));
            }
            defined.push(apex);
            let position = config
                .zones
                .iter()
                .position(|z| z.apex.to_key() == apex.to_key());
            let mut zone_config = match position {
                Some(i) => config.zones[i].clone(),
                None => ZoneConfig::new(apex),
            };
            let ns: Vec<String> = match &object.ns {
                None | Some(Value::Null) => Vec::new(),
                Some(value) => {
                    serde_json::from_value(value.clone()).map_err(|e| format(format!("ns: {e}")))?
                }
            };
            if let Some(soa) = &object.soa {
                let soa: BenchSoa =
                    serde_json::from_value(soa.clone()).map_err(|e| format(format!("soa: {e}")))?;
                apply_soa(&mut zone_config, &soa).map_err(format)?;
            } else if let Some(first) = ns.first() {
                zone_config.mname = NameBuf::from_presentation(first)
                    .map_err(|e| format(format!("ns {first:?}: {e}")))?;
            }
            if !ns.is_empty() {
                bench_ns.push((document, apex, zone_config.ttl, ns));
            }
            match position {
                Some(i) => config.zones[i] = zone_config,
                None => config.zones.push(zone_config),
            }
            Ok(())
        })?;
        Ok(Self {
            file,
            builder: TableBuilder::new(config),
            added: 0,
            bench_ns,
        })
    }

    fn source(&self, document: usize, object: Option<String>) -> Source {
        Source {
            file: self.file.map(str::to_owned),
            document: Some(document),
            object,
        }
    }

    /// Adds every document's records and builds the table.
    fn load(mut self, documents: &[RawDoc<'_>]) -> Result<Built, LoadError> {
        for (document, apex, ttl, ns) in std::mem::take(&mut self.bench_ns) {
            self.add_bench_ns(document, apex, ttl, &ns);
        }
        let mut number = 0;
        let file = self.file;
        for_each_document(file, documents, &mut number, &mut |document, raw| {
            self.add_document(document, raw);
            Ok(())
        })?;
        let before_build = self.builder.problems().len();
        let built = self.builder.build();
        let lost_in_build = built.problems.len() - before_build;
        if self.added <= lost_in_build && !built.problems.is_empty() {
            return Err(LoadError::NothingValid {
                file: self.file.map(str::to_owned),
                problems: built.problems,
            });
        }
        Ok(built)
    }

    fn add_document(&mut self, document: usize, raw: &RawDoc<'_>) {
        match raw {
            RawDoc::Object(object) => self.add_object(document, object),
            RawDoc::Json(text) => self.add_json(document, None, text),
            RawDoc::Scalar(what) => {
                let source = self.source(document, None);
                self.builder.reject(
                    source,
                    None,
                    Rejection::NotARecord(format!("{what}, not an object")),
                );
            }
            // Arrays are flattened by `for_each_document`, nulls skipped.
            RawDoc::Array(_) | RawDoc::Null => {}
        }
    }

    /// Adds a JSON document, or the `index`-th item of a list: straight
    /// into the builder when it is a valid manifest, else through the
    /// generic path that says what is wrong with it.
    fn add_json(&mut self, document: usize, item: Option<usize>, text: &RawValue) {
        if let Ok(MapOnly(manifest)) =
            serde_json::from_str::<MapOnly<TypedManifest<'_>>>(text.get())
            && manifest.is_a_record()
        {
            self.add_typed(document, manifest);
            return;
        }
        match serde_json::from_str::<RawDoc<'_>>(text.get()) {
            Ok(raw) => match item {
                Some(index) => self.add_list_item(document, index, &raw),
                None => self.add_document(document, &raw),
            },
            // Only what the generic path refuses too: a repeated key.
            Err(e) => {
                let message = match item {
                    Some(index) => format!("items[{index}]: {e}"),
                    None => e.to_string(),
                };
                let source = self.source(document, None);
                self.builder
                    .reject(source, None, Rejection::NotARecord(message));
            }
        }
    }

    /// Adds a manifest read straight, of `document`.
    fn add_typed(&mut self, document: usize, manifest: TypedManifest<'_>) {
        let metadata = manifest.metadata.map(|meta| meta.0).unwrap_or_default();
        let source = SourceRef {
            file: self.file,
            document: Some(document),
            object: metadata.name.map(|name| ObjectRef {
                namespace: metadata.namespace,
                name,
            }),
        };
        if self.builder.add_spec(&manifest.spec, source).is_ok() {
            self.added += 1;
        }
    }

    fn add_object(&mut self, document: usize, object: &RawObject<RawDoc<'_>>) {
        if let Some(records) = &object.records {
            if let MaybeList::List(entries) = records {
                for (index, entry) in entries.iter().enumerate() {
                    self.add_bench_entry(document, index, entry);
                }
            }
            return;
        }
        if let Some(items) = &object.items
            && object
                .kind
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|kind| kind.ends_with("List"))
        {
            match items {
                MaybeList::List(items) => {
                    self.builder.reserve(items.len());
                    for (index, item) in items.iter().enumerate() {
                        self.add_list_item(document, index, item);
                    }
                }
                MaybeList::Not(what) => {
                    let source = self.source(document, None);
                    self.builder.reject(
                        source,
                        None,
                        Rejection::NotARecord(format!("`items` is {what}, not a list")),
                    );
                }
            }
            return;
        }
        self.add_manifest(document, object, None);
    }

    fn add_list_item(&mut self, document: usize, index: usize, item: &RawDoc<'_>) {
        match item {
            RawDoc::Object(object) => self.add_manifest(document, object, Some(index)),
            RawDoc::Json(text) => self.add_json(document, Some(index), text),
            RawDoc::Null => {}
            RawDoc::Scalar(what) => {
                let source = self.source(document, None);
                self.builder.reject(
                    source,
                    None,
                    Rejection::NotARecord(format!("items[{index}]: {what}, not an object")),
                );
            }
            RawDoc::Array(_) => {
                let source = self.source(document, None);
                self.builder.reject(
                    source,
                    None,
                    Rejection::NotARecord(format!("items[{index}]: a list, not an object")),
                );
            }
        }
    }

    /// Adds one manifest; `item` is its index when it is an item of a
    /// `List`.
    fn add_manifest(
        &mut self,
        document: usize,
        object: &RawObject<RawDoc<'_>>,
        item: Option<usize>,
    ) {
        let object_ref = object_ref(object.metadata.as_ref());
        let owner = object
            .spec
            .as_ref()
            .and_then(|spec| spec.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let source = self.source(document, object_ref.clone());
        match manifest(object) {
            Ok(manifest) => {
                if self.builder.add_spec(&manifest.spec, source).is_ok() {
                    self.added += 1;
                }
            }
            Err(message) => {
                // Name the list item when the object cannot be named.
                let message = match (item, &object_ref) {
                    (Some(index), None) => format!("items[{index}]: {message}"),
                    _ => message,
                };
                self.builder
                    .reject(source, owner, Rejection::NotARecord(message));
            }
        }
    }

    fn add_bench_entry(&mut self, document: usize, index: usize, entry: &Lenient<BenchEntry>) {
        let source = self.source(document, None);
        let entry = match entry {
            Lenient::Good(entry) => entry,
            Lenient::Bad(value) => {
                let owner = value.get("name").and_then(Value::as_str).map(str::to_owned);
                let message = match serde_json::from_value::<BenchEntry>(value.clone()) {
                    Err(e) => format!("records[{index}]: {e}"),
                    Ok(_) => format!("records[{index}]: not a record set"),
                };
                self.builder
                    .reject(source, owner, Rejection::NotARecord(message));
                return;
            }
        };
        let mut values = Vec::with_capacity(entry.a.len() + entry.aaaa.len());
        for text in &entry.a {
            match text.trim().parse::<Ipv4Addr>() {
                Ok(address) => values.push(RecordValue::A(address)),
                Err(_) => {
                    let rejection = Rejection::BadAddress(text.clone());
                    self.builder
                        .reject(source, Some(entry.name.clone()), rejection);
                    return;
                }
            }
        }
        for text in &entry.aaaa {
            match text.trim().parse::<Ipv6Addr>() {
                Ok(address) => values.push(RecordValue::Aaaa(address)),
                Err(_) => {
                    let rejection = Rejection::BadAddress(text.clone());
                    self.builder
                        .reject(source, Some(entry.name.clone()), rejection);
                    return;
                }
            }
        }
        let ttl = entry.ttl.unwrap_or(u64::from(DEFAULT_TTL));
        if self.builder.add(source, &entry.name, ttl, values).is_ok() {
            self.added += 1;
        }
    }

    fn add_bench_ns(&mut self, document: usize, apex: NameBuf, ttl: u32, ns: &[String]) {
        let source = self.source(document, None);
        let mut values = Vec::with_capacity(ns.len());
        for text in ns {
            match NameBuf::from_presentation(text) {
                Ok(name) => values.push(RecordValue::Ns(Box::new(name))),
                Err(error) => {
                    let rejection = Rejection::BadName {
                        field: "ns",
                        value: text.clone(),
                        error,
                    };
                    self.builder
                        .reject(source, Some(apex.to_string()), rejection);
                    return;
                }
            }
        }
        if self
            .builder
            .add(source, &apex.to_string(), u64::from(ttl), values)
            .is_ok()
        {
            self.added += 1;
        }
    }
}

/// Calls `f` with each document and its number (from 1), flattening
/// top-level arrays (each element counts as a document) and skipping nulls.
/// A JSON element is passed on unparsed when it is an object.
fn for_each_document(
    file: Option<&str>,
    documents: &[RawDoc<'_>],
    number: &mut usize,
    f: &mut dyn FnMut(usize, &RawDoc<'_>) -> Result<(), LoadError>,
) -> Result<(), LoadError> {
    for document in documents {
        match document {
            RawDoc::Array(inner) => for_each_document(file, inner, number, f)?,
            RawDoc::Null => *number += 1,
            // A scalar, a null or a nested array: parsed, to be counted and
            // flattened like the others.
            RawDoc::Json(text) if !text.get().trim_start().starts_with('{') => {
                let parsed = parse_json(file, text)?;
                for_each_document(file, std::slice::from_ref(&parsed), number, f)?;
            }
            other => {
                *number += 1;
                f(*number, other)?;
            }
        }
    }
    Ok(())
}

/// Parses a JSON element in full. Only the generic path's own refusals (a
/// repeated key) fail here, as they failed the whole file before the
/// element was delimited.
fn parse_json<'a>(file: Option<&str>, text: &RawValue) -> Result<RawDoc<'a>, LoadError> {
    serde_json::from_str(text.get()).map_err(|e| LoadError::Syntax {
        file: file.map(str::to_owned),
        message: e.to_string(),
    })
}

/// Whether a JSON object has a `records` key: is a benchmark zone. What
/// does not parse here is not one (it is rejected when loaded).
fn has_records(text: &RawValue) -> bool {
    /// The one key looked at; the others are skipped.
    #[derive(Deserialize)]
    struct Probe {
        records: Option<IgnoredAny>,
    }
    serde_json::from_str::<Probe>(text.get()).is_ok_and(|probe| probe.records.is_some())
}

/// A JSON item read straight as a manifest: the fast path for the many
/// valid ones. Whatever this accepts, [`manifest`] accepts alike; whatever
/// it refuses goes the generic way, which words the message.
/// Its strings are borrowed from the file's text, so that reading an item
/// allocates nothing but its lists; a string with escapes does not borrow
/// and takes the generic path.
#[derive(Deserialize)]
struct TypedManifest<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    #[serde(borrow)]
    metadata: Option<MapOnly<TypedMeta<'a>>>,
    #[serde(borrow)]
    spec: DnsRecordSpecOf<&'a str>,
    /// Present, the object is a benchmark zone, not a manifest.
    records: Option<IgnoredAny>,
}

impl TypedManifest<'_> {
    /// Whether this is a `DNSRecord` manifest, as [`manifest`] decides.
    fn is_a_record(&self) -> bool {
        self.kind == KIND && self.api_version == API_VERSION && self.records.is_none()
    }
}

/// A `T` read only from a mapping. A derived struct also reads from a
/// sequence of its fields in order, which the generic path does not take
/// for an object (an item shaped `[apiVersion, kind, ...]` is "a list, not
/// an object" there, and an array `metadata` names no object).
struct MapOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Hands the mapping to `T`'s own reading.
        struct MapVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(MapVisitor(PhantomData))
            .map(MapOnly)
    }
}

/// [`ObjectMeta`], borrowed.
#[derive(Default, Deserialize)]
struct TypedMeta<'a> {
    name: Option<&'a str>,
    namespace: Option<&'a str>,
}

/// Checks one object as a `DNSRecord` manifest; the message says what is
/// wrong with it.
fn manifest(object: &RawObject<RawDoc<'_>>) -> Result<DnsRecordManifest, String> {
    let kind = match &object.kind {
        Some(Value::String(kind)) => kind.clone(),
        Some(other) => return Err(format!("kind is {other}, expected {KIND}")),
        None => return Err(format!("no kind (expected {KIND})")),
    };
    if kind != KIND {
        return Err(format!("kind is {kind:?}, expected {KIND}"));
    }
    let api_version = match &object.api_version {
        Some(Value::String(version)) => version.clone(),
        Some(other) => return Err(format!("apiVersion is {other}, expected {API_VERSION}")),
        None => return Err(format!("no apiVersion (expected {API_VERSION})")),
    };
    if api_version != API_VERSION {
        return Err(format!(
            "apiVersion is {api_version:?}, expected {API_VERSION}"
        ));
    }
    let metadata = match &object.metadata {
        None | Some(Value::Null) => ObjectMeta::default(),
        Some(value) => serde_json::from_value::<ObjectMeta>(value.clone())
            .map_err(|e| format!("metadata: {e}"))?,
    };
    let spec = match &object.spec {
        None | Some(Value::Null) => return Err("no spec".to_owned()),
        Some(value) => serde_json::from_value::<DnsRecordSpec>(value.clone())
            .map_err(|e| format!("spec: {e}"))?,
    };
    Ok(DnsRecordManifest {
        api_version,
        kind,
        metadata,
        spec,
    })
}

/// `namespace/name` from metadata, when it has a name, even if the rest of
/// the object is invalid.
fn object_ref(metadata: Option<&Value>) -> Option<String> {
    let metadata = metadata?;
    let name = metadata.get("name").and_then(Value::as_str)?;
    match metadata.get("namespace").and_then(Value::as_str) {
        Some(namespace) => Some(format!("{namespace}/{name}")),
        None => Some(name.to_owned()),
    }
}

/// A name field of the benchmark header.
fn bench_name(field: &str, value: &Value) -> Result<NameBuf, String> {
    let Some(text) = value.as_str() else {
        return Err(format!("{field} is {value}, not a name"));
    };
    NameBuf::from_presentation(text).map_err(|e| format!("{field} {text:?}: {e}"))
}

/// Applies the benchmark format's SOA to a zone's configuration.
fn apply_soa(zone: &mut ZoneConfig, soa: &BenchSoa) -> Result<(), String> {
    let name = |field: &str, text: &str| {
        NameBuf::from_presentation(text).map_err(|e| format!("soa.{field} {text:?}: {e}"))
    };
    if let Some(mname) = &soa.mname {
        zone.mname = name("mname", mname)?;
    }
    if let Some(rname) = &soa.rname {
        zone.rname = name("rname", rname)?;
    }
    let fields = [
        (&mut zone.refresh, soa.refresh),
        (&mut zone.retry, soa.retry),
        (&mut zone.expire, soa.expire),
        (&mut zone.minimum, soa.minimum),
        (&mut zone.ttl, soa.ttl),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            *field = value;
        }
    }
    Ok(())
}

//----------- Tests ------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use xcc_wire::RType;

    use super::*;
    use crate::table::{Lookup, Table};

    fn config() -> TableConfig {
        TableConfig::default()
    }

    fn load(text: &str) -> Built {
        match load_str(text, Some("test.yaml"), &config()) {
            Ok(built) => built,
            Err(e) => panic!("load failed: {e}"),
        }
    }

    /// The addresses (A and AAAA) `name` resolves to, or `None` when it does
    /// not exist.
    fn addresses(table: &Table, name: &str) -> Option<Vec<IpAddr>> {
        let key = NameBuf::from_presentation(name)
            .expect("valid name")
            .to_key();
        let Lookup::Found { node, .. } = table.lookup(&key) else {
            return None;
        };
        let mut out = Vec::new();
        for rrset in node.rrsets() {
            let tails = node.tails(rrset);
            let mut at = 0;
            while at + 10 <= tails.len() {
                let len = usize::from(u16::from_be_bytes([tails[at + 8], tails[at + 9]]));
                let rdata = &tails[at + 10..at + 10 + len];
                if rrset.rtype == RType::A {
                    let octets: [u8; 4] = rdata.try_into().expect("A is 4 octets");
                    out.push(IpAddr::from(octets));
                } else if rrset.rtype == RType::AAAA {
                    let octets: [u8; 16] = rdata.try_into().expect("AAAA is 16 octets");
                    out.push(IpAddr::from(octets));
                }
                at += 10 + len;
            }
        }
        out.sort();
        Some(out)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid address")
    }

    fn record(name: &str, object: &str, address: &str) -> String {
        format!(
            "apiVersion: {API_VERSION}\nkind: DNSRecord\nmetadata:\n  name: {object}\n  \
             namespace: xcc-dns\nspec:\n  name: \"{name}\"\n  addresses: [\"{address}\"]\n"
        )
    }

    #[test]
    fn yaml_multi_document() {
        let text = format!(
            "---\n{}---\n{}---\n# an empty document\n---\n{}",
            record("a.xcc.test", "a", "192.0.2.1"),
            record("*.w.xcc.test", "w", "2001:db8::1"),
            record("a.xcc.test.", "a2", "192.0.2.2"),
        );
        let built = load(&text);
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        assert_eq!(
            addresses(&built.table, "a.xcc.test"),
            Some(vec![ip("192.0.2.1"), ip("192.0.2.2")])
        );
        assert_eq!(
            addresses(&built.table, "x.w.xcc.test"),
            Some(vec![ip("2001:db8::1")])
        );
    }

    fn json_record(name: &str, object: &str, address: &str) -> String {
        format!(
            r#"{{"apiVersion": "{API_VERSION}", "kind": "DNSRecord",
                "metadata": {{"name": "{object}", "namespace": "xcc-dns"}},
                "spec": {{"name": "{name}", "ttl": 60, "addresses": ["{address}"]}}}}"#
        )
    }

    #[test]
    fn json_object() {
        let built = load(&format!(
            "  \n{}",
            json_record("a.xcc.test", "a", "192.0.2.1")
        ));
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        assert_eq!(
            addresses(&built.table, "a.xcc.test"),
            Some(vec![ip("192.0.2.1")])
        );
    }

    #[test]
    fn json_array() {
        let built = load(&format!(
            "[{}, {}]",
            json_record("a.xcc.test", "a", "192.0.2.1"),
            json_record("b.xcc.test", "b", "192.0.2.2"),
        ));
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        assert_eq!(
            addresses(&built.table, "b.xcc.test"),
            Some(vec![ip("192.0.2.2")])
        );
    }

    #[test]
    fn json_list_and_yaml_list() {
        let json = format!(
            r#"{{"apiVersion": "v1", "kind": "List", "items": [{}, {}]}}"#,
            json_record("a.xcc.test", "a", "192.0.2.1"),
            json_record("b.xcc.test", "b", "192.0.2.2"),
        );
        let built = load(&json);
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        assert!(addresses(&built.table, "a.xcc.test").is_some());
        assert!(addresses(&built.table, "b.xcc.test").is_some());

        let yaml = format!(
            "apiVersion: {API_VERSION}\nkind: DNSRecordList\nmetadata: {{}}\nitems:\n- {}",
            record("c.xcc.test", "c", "192.0.2.3").replace('\n', "\n  ")
        );
        let built = load(&yaml);
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        assert_eq!(
            addresses(&built.table, "c.xcc.test"),
            Some(vec![ip("192.0.2.3")])
        );
    }

    /// The same text through the generic path: YAML reads JSON, and a
    /// leading comment keeps the loader from taking it for JSON.
    fn through_the_generic_path(json: &str) -> String {
        format!("# read as YAML\n{json}")
    }

    /// Everything a load produced, to compare two loads: the table's bytes
    /// and every problem as shown.
    fn outcome(built: &Built) -> (Vec<u8>, Vec<String>) {
        let problems = built.problems.iter().map(ToString::to_string).collect();
        (snapshot::encode(&built.table), problems)
    }

    #[test]
    fn json_items_read_straight_load_as_the_generic_path_loads_them() {
        let valid = |name: &str| json_record(name, "n", "192.0.2.1");
        let items = [
            valid("a.xcc.test"),
            // Metadata absent, null, partial, with fields we ignore.
            r#"{"apiVersion": "connectivity.tanzu.vmware.com/v1alpha1", "kind": "DNSRecord", "spec": {"name": "b.xcc.test", "addresses": ["192.0.2.2"]}}"#.to_owned(),
            valid("c.xcc.test").replace(r#"{"name": "n", "namespace": "xcc-dns"}"#, "null"),
            valid("d.xcc.test").replace(r#""name": "n", "#, ""),
            valid("e.xcc.test").replace(r#""namespace": "xcc-dns""#, r#""namespace": "xcc-dns", "labels": {"a": "b"}, "uid": "1""#),
            // Top-level keys we ignore; `records` in an item is one of them.
            valid("f.xcc.test").replace(r#""kind""#, r#""status": {"x": [1]}, "records": [], "kind""#),
            // Escapes and a TTL.
            valid(r"g\u002excc.test").replace(r#""ttl": 60"#, r#""ttl": 7"#),
            // Not records, each for its own reason.
            valid("h.xcc.test").replace("DNSRecord", "ConfigMap"),
            valid("i.xcc.test").replace(r#""DNSRecord""#, "5"),
            valid("j.xcc.test").replace("v1alpha1", "v1alpha0"),
            valid("k.xcc.test").replace(r#""kind": "DNSRecord","#, ""),
            valid("l.xcc.test").replace(r#""ttl": 60"#, r#""ttl": 60, "tll": 1"#),
            valid("m.xcc.test").replace(r#""ttl": 60"#, r#""ttl": "60""#),
            valid("o.xcc.test").replace(r#""ttl": 60"#, r#""ttl": 1.5"#),
            valid("p.xcc.test").replace(r#"["192.0.2.1"]"#, r#""192.0.2.1""#),
            valid("q.xcc.test").replace("192.0.2.1", "192.0.2.999"),
            valid("r.xcc.test").replace(r#""name": "n", "namespace": "xcc-dns""#, r#""name": 7"#),
            r#"{"apiVersion": "connectivity.tanzu.vmware.com/v1alpha1", "kind": "DNSRecord", "metadata": {"name": "s"}}"#.to_owned(),
            r#"{"apiVersion": "connectivity.tanzu.vmware.com/v1alpha1", "kind": "DNSRecord", "spec": null}"#.to_owned(),
            "42".to_owned(),
            "null".to_owned(),
            "[1]".to_owned(),
            // Shaped as the sequence of a manifest's fields, and metadata
            // as the sequence of its own: not objects.
            r#"["connectivity.tanzu.vmware.com/v1alpha1", "DNSRecord", null, {"name": "v.xcc.test", "addresses": ["192.0.2.9"]}, null]"#.to_owned(),
            valid("w.example.org").replace(r#"{"name": "n", "namespace": "xcc-dns"}"#, r#"["o", "ns"]"#),
            // Outside the zone, a duplicate, a CNAME beside data: the
            // builder's own rejections (the last names the first item).
            valid("t.example.org"),
            valid("a.xcc.test"),
            valid("a.xcc.test").replace(r#""addresses": ["192.0.2.1"]"#, r#""cname": "x.example.org""#),
        ];
        let list = format!(
            r#"{{"apiVersion": "v1", "kind": "List", "items": [{}]}}"#,
            items.join(",\n")
        );
        let array = format!(
            "[{}, [{}], null, 5]",
            items.join(",\n"),
            valid("u.xcc.test")
        );
        for json in [list, array] {
            let straight = load(&json);
            let generic = load(&through_the_generic_path(&json));
            assert_eq!(outcome(&straight), outcome(&generic), "{json}");
            assert!(addresses(&straight.table, "g.xcc.test").is_some());
            assert!(straight.problems.len() >= 12, "{:?}", straight.problems);
        }
    }

    /// What the general path (two passes: delimit, then read each item)
    /// loads from `text`.
    fn load_in_two_passes(text: &str) -> Built {
        let documents = parse_documents(text, Some("test.yaml")).expect("parses");
        Loader::new(Some("test.yaml"), &config(), &documents)
            .and_then(|loader| loader.load(&documents))
            .expect("loads")
    }

    #[test]
    fn a_json_list_of_manifests_loads_in_one_pass_as_the_general_path_loads_it() {
        let valid = |name: &str, object: &str| json_record(name, object, "192.0.2.1");
        // Every item a manifest; some rejected by the builder, which the
        // one pass leaves to it.
        let items = [
            valid("a.xcc.test", "a"),
            valid("*.w.xcc.test", "w"),
            valid("b.xcc.test", "b").replace("192.0.2.1", "192.0.2.999"),
            valid("c.example.org", "c"),
            valid("a.xcc.test", "a2"),
            valid("a.xcc.test", "a3")
                .replace(r#""addresses": ["192.0.2.1"]"#, r#""cname": "x.example.org""#),
            valid("d.xcc.test", "d").replace(r#", "namespace": "xcc-dns""#, ""),
            r#"{"apiVersion": "connectivity.tanzu.vmware.com/v1alpha1", "kind": "DNSRecord", "spec": {"name": "e.xcc.test", "txt": ["hello"]}}"#.to_owned(),
        ]
        .join(",\n");
        for json in [
            format!(
                r#"{{"apiVersion": "v1", "items": [{items}], "kind": "List", "metadata": {{"resourceVersion": ""}}}}"#
            ),
            format!("[{items}]"),
            r#"{"kind": "DNSRecordList", "items": []}"#.to_owned(),
        ] {
            let one_pass = load_json_in_one_pass(&json, Some("test.yaml"), &config())
                .expect("read in one pass");
            let one_pass = one_pass.expect("loads");
            assert_eq!(
                outcome(&one_pass),
                outcome(&load_in_two_passes(&json)),
                "{json}"
            );
            assert_eq!(
                outcome(&one_pass),
                outcome(&load(&through_the_generic_path(&json))),
                "{json}"
            );
        }
        let one_pass = load(&format!("[{items}]"));
        assert_eq!(one_pass.problems.len(), 3, "{:?}", one_pass.problems);
        assert_eq!(one_pass.problems[0].source.document, Some(3));
        assert!(addresses(&one_pass.table, "x.w.xcc.test").is_some());
    }

    #[test]
    fn the_one_pass_leaves_what_it_does_not_read_to_the_general_path() {
        let good = json_record("a.xcc.test", "a", "192.0.2.1");
        let list = |items: &str| format!(r#"{{"kind": "List", "items": [{good}, {items}]}}"#);
        for text in [
            list(&good.replace("DNSRecord", "ConfigMap")),
            list("null"),
            list("[]"),
            list(&good.replace("a.xcc.test", r"a\u002excc.test")),
            list(&good.replace(r#""spec""#, r#""status": {}, "records": [], "spec""#)),
            list(&good.replace(r#""ttl": 60"#, r#""ttl": 60, "tll": 1"#)),
            list(
                r#"["connectivity.tanzu.vmware.com/v1alpha1", "DNSRecord", null, {"name": "v.xcc.test", "addresses": ["192.0.2.9"]}, null]"#,
            ),
            list(&good.replace(
                r#"{"name": "a", "namespace": "xcc-dns"}"#,
                r#"["a", "xcc-dns"]"#,
            )),
            format!(r#"{{"kind": "List", "kind": "List", "items": [{good}]}}"#),
            format!(r#"{{"kind": "DNSRecord", "items": [{good}]}}"#),
            format!(r#"{{"kind": "List", "items": [{good}], "records": []}}"#),
            r#"{"kind": "List", "items": null}"#.to_owned(),
            r#"{"kind": "List"}"#.to_owned(),
            good.clone(),
            format!("[{good}, [{good}]]"),
            format!("[{good}, 5]"),
            BENCH_JSON.to_owned(),
            "kind: List\nitems: []\n".to_owned(),
        ] {
            assert!(
                load_json_in_one_pass(&text, None, &config()).is_none(),
                "{text}"
            );
            // The general path still loads what is valid in it.
            let _ = load_str(&text, None, &config());
        }
    }

    #[test]
    fn a_json_item_with_a_repeated_key_is_rejected_alone() {
        // The generic path refuses a repeated top-level key; it used to
        // fail the whole file, now only the item.
        let good = json_record("a.xcc.test", "a", "192.0.2.1");
        let twice = json_record("b.xcc.test", "b", "192.0.2.2").replace(
            r#""kind": "DNSRecord","#,
            r#""kind": "DNSRecord", "kind": "DNSRecord","#,
        );
        let list = format!(r#"{{"kind": "List", "items": [{good}, {twice}]}}"#);
        let built = load(&list);
        assert_eq!(built.problems.len(), 1, "{:?}", built.problems);
        let shown = built.problems[0].to_string();
        assert!(
            shown.contains("items[1]") && shown.contains("duplicate field `kind`"),
            "{shown}"
        );
        assert!(addresses(&built.table, "a.xcc.test").is_some());

        let array = format!("[{good}, {twice}]");
        let built = load(&array);
        assert_eq!(built.problems.len(), 1, "{:?}", built.problems);
        assert_eq!(built.problems[0].source.document, Some(2));
        assert!(addresses(&built.table, "a.xcc.test").is_some());
    }

    #[test]
    fn bad_document_is_named_and_the_others_are_served() {
        let text = format!(
            "{}---\n{}---\n{}",
            record("a.xcc.test", "a", "192.0.2.1"),
            record("b.xcc.test", "broken", "not-an-address"),
            record("c.xcc.test", "c", "192.0.2.3"),
        );
        let built = load(&text);
        assert_eq!(built.problems.len(), 1, "{:?}", built.problems);
        let problem = &built.problems[0];
        assert_eq!(
            problem.source,
            Source {
                file: Some("test.yaml".to_owned()),
                document: Some(2),
                object: Some("xcc-dns/broken".to_owned()),
            }
        );
        assert_eq!(problem.owner.as_deref(), Some("b.xcc.test"));
        assert_eq!(
            problem.rejection,
            Rejection::BadAddress("not-an-address".to_owned())
        );
        let shown = problem.to_string();
        assert!(
            shown.contains("test.yaml") && shown.contains("document 2"),
            "{shown}"
        );
        assert!(addresses(&built.table, "a.xcc.test").is_some());
        assert!(addresses(&built.table, "b.xcc.test").is_none());
        assert!(addresses(&built.table, "c.xcc.test").is_some());
    }

    #[test]
    fn unknown_field_is_not_a_record() {
        let good = record("a.xcc.test", "a", "192.0.2.1");
        let typo = record("b.xcc.test", "typo", "192.0.2.2").replace("addresses", "adresses");
        let built = load(&format!("{good}---\n{typo}"));
        assert_eq!(built.problems.len(), 1, "{:?}", built.problems);
        let problem = &built.problems[0];
        assert_eq!(problem.source.document, Some(2));
        assert_eq!(problem.source.object.as_deref(), Some("xcc-dns/typo"));
        assert_eq!(problem.owner.as_deref(), Some("b.xcc.test"));
        match &problem.rejection {
            Rejection::NotARecord(message) => {
                assert!(message.contains("adresses"), "{message}")
            }
            other => panic!("unexpected rejection {other:?}"),
        }
        assert!(addresses(&built.table, "a.xcc.test").is_some());
    }

    #[test]
    fn wrong_kind_and_api_version_are_not_records() {
        let good = record("a.xcc.test", "a", "192.0.2.1");
        let config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata: {}\n";
        let old = record("b.xcc.test", "old", "192.0.2.2").replace("v1alpha1", "v1alpha0");
        let built = load(&format!("{good}---\n{config_map}---\n{old}---\n42\n"));
        let messages: Vec<(Option<usize>, String)> = built
            .problems
            .iter()
            .map(|p| (p.source.document, p.rejection.to_string()))
            .collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0].0, Some(2));
        assert!(messages[0].1.contains("ConfigMap"), "{messages:?}");
        assert_eq!(messages[1].0, Some(3));
        assert!(messages[1].1.contains("v1alpha0"), "{messages:?}");
        assert_eq!(messages[2].0, Some(4));
        assert!(messages[2].1.contains("a number"), "{messages:?}");
        assert!(addresses(&built.table, "a.xcc.test").is_some());
    }

    #[test]
    fn syntax_errors_produce_no_table() {
        for text in [
            "apiVersion: x\n  kind: [unclosed\n",
            "{\"apiVersion\": ",
            "[1, 2,,]",
            "a: 1\na: 2\n",
        ] {
            match load_str(text, Some("bad.yaml"), &config()) {
                Err(LoadError::Syntax { file, message }) => {
                    assert_eq!(file.as_deref(), Some("bad.yaml"));
                    assert!(!message.is_empty());
                }
                other => panic!("{text:?}: expected a syntax error, got {other:?}"),
            }
        }
        assert!(matches!(
            load_bytes(b"kind: \xff\n", None, &config()),
            Err(LoadError::Syntax { .. })
        ));
    }

    #[test]
    fn empty_and_all_invalid_files_produce_no_table() {
        for text in ["", "  \n", "# only a comment\n", "---\n---\n", "null"] {
            assert!(
                matches!(
                    load_str(text, None, &config()),
                    Err(LoadError::Empty { .. })
                ),
                "{text:?}"
            );
        }
        let bad = record("b.xcc.test", "b", "300.1.1.1");
        match load_str(&bad, None, &config()) {
            Err(LoadError::NothingValid { problems, .. }) => assert_eq!(problems.len(), 1),
            other => panic!("expected NothingValid, got {other:?}"),
        }
        // Rejected by the builder rather than before it: outside the zone.
        let outside = record("a.example.org", "a", "192.0.2.1");
        assert!(matches!(
            load_str(&outside, None, &config()),
            Err(LoadError::NothingValid { .. })
        ));
        // An explicitly empty list is an empty zone, not an error.
        for text in ["[]", "kind: List\napiVersion: v1\nitems: []\n"] {
            let built = load(text);
            assert!(built.problems.is_empty());
            assert!(addresses(&built.table, "a.xcc.test").is_none());
        }
    }

    #[test]
    fn io_error_names_the_path() {
        let path = Path::new("/nonexistent/xcc-dns/records.yaml");
        match load_file(path, &config()) {
            Err(e @ LoadError::Io { .. }) => {
                assert!(e.to_string().contains("/nonexistent/xcc-dns/records.yaml"))
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    const BENCH_JSON: &str = r#"{"zone": "bench.test.", "soa": {"mname": "ns1.bench.test.", "rname": "hostmaster.bench.test.", "serial": 1, "refresh": 7200, "retry": 3600, "expire": 1209600, "minimum": 30, "ttl": 3600}, "ns": ["ns1.bench.test."], "records": [
{"name":"ns1.bench.test.","ttl":3600,"a":["127.0.0.1"],"aaaa":[]},
{"name":"*.gateway.cluster-000000.team-0000.clusters.bench.test.","ttl":30,"a":["10.0.0.1","10.0.0.2"],"aaaa":["fd00::1"]},
{"name":"api.cluster-000000.team-0000.clusters.bench.test.","ttl":30,"a":["100.64.0.1"],"aaaa":[]},
{"name":"bad.bench.test.","ttl":30,"a":["fd00::9"],"aaaa":[]},
{"name":"typo.bench.test.","ttl":30,"aa":["10.9.9.9"]}
]}
"#;

    #[test]
    fn bench_format_json_and_yaml() {
        let built = load(BENCH_JSON);
        check_bench(&built);

        let yaml = "zone: \"bench.test.\"\nsoa:\n  mname: \"ns1.bench.test.\"\n  \
            rname: \"hostmaster.bench.test.\"\n  serial: 1\n  refresh: 7200\n  retry: 3600\n  \
            expire: 1209600\n  minimum: 30\n  ttl: 3600\nns: [\"ns1.bench.test.\"]\nrecords:\n  \
            - name: \"ns1.bench.test.\"\n    ttl: 3600\n    a: [\"127.0.0.1\"]\n  \
            - name: \"*.gateway.cluster-000000.team-0000.clusters.bench.test.\"\n    ttl: 30\n    \
            a: [\"10.0.0.1\", \"10.0.0.2\"]\n    aaaa: [\"fd00::1\"]\n  \
            - name: \"api.cluster-000000.team-0000.clusters.bench.test.\"\n    ttl: 30\n    \
            a: [\"100.64.0.1\"]\n  \
            - name: \"bad.bench.test.\"\n    a: [\"fd00::9\"]\n  \
            - name: \"typo.bench.test.\"\n    aa: [\"10.9.9.9\"]\n";
        let built = load(yaml);
        check_bench(&built);
    }

    fn check_bench(built: &Built) {
        let table = &built.table;
        assert_eq!(built.problems.len(), 2, "{:?}", built.problems);
        assert_eq!(built.problems[0].owner.as_deref(), Some("bad.bench.test."));
        assert_eq!(
            built.problems[0].rejection,
            Rejection::BadAddress("fd00::9".to_owned())
        );
        assert_eq!(built.problems[1].owner.as_deref(), Some("typo.bench.test."));
        assert!(
            built.problems[1]
                .rejection
                .to_string()
                .contains("records[4]"),
            "{}",
            built.problems[1]
        );
        // The file's zone is served beside the configured one.
        let apexes: Vec<String> = table.zones().iter().map(|z| z.apex().to_string()).collect();
        assert_eq!(apexes.len(), 2, "{apexes:?}");
        assert_eq!(
            addresses(
                table,
                "kuard.gateway.cluster-000000.team-0000.clusters.bench.test"
            ),
            Some(vec![ip("10.0.0.1"), ip("10.0.0.2"), ip("fd00::1")])
        );
        assert_eq!(
            addresses(table, "ns1.bench.test"),
            Some(vec![ip("127.0.0.1")])
        );
        // SOA from the header, serial from the configuration (version 1).
        let key = NameBuf::from_presentation("bench.test")
            .expect("valid")
            .to_key();
        let Lookup::Found { zone, node, .. } = table.lookup(&key) else {
            panic!("no apex");
        };
        let soa = node.rrset(RType::SOA).expect("an SOA");
        let tail = node.tails(soa);
        assert_eq!(&tail[4..8], &3600u32.to_be_bytes(), "SOA TTL");
        let rdata = &tail[10..];
        let fixed = &rdata[rdata.len() - 20..];
        assert_eq!(&fixed[0..4], &1u32.to_be_bytes(), "serial");
        assert_eq!(&fixed[4..8], &7200u32.to_be_bytes(), "refresh");
        assert_eq!(&fixed[16..20], &30u32.to_be_bytes(), "minimum");
        assert!(rdata.starts_with(b"\x03ns1\x05bench\x04test\x00"));
        let ns = node.rrset(RType::NS).expect("NS");
        assert_eq!(ns.count, 1);
        assert_eq!(zone.apex().to_string(), "bench.test.");
    }

    #[test]
    fn bench_format_replaces_the_configured_zone_of_the_same_apex() {
        let text = BENCH_JSON.replace("bench.test.", "xcc.test.");
        let built = load(&text);
        assert_eq!(built.table.zones().len(), 1);
        assert!(addresses(&built.table, "ns1.xcc.test").is_some());
    }

    #[test]
    fn bench_format_header_errors_are_load_errors() {
        for (text, needle) in [
            (r#"{"zone": "a..b", "records": []}"#, "zone"),
            (
                r#"{"zone": "xcc.test.", "soa": {"mname": "ns.", "bogus": 1}, "records": []}"#,
                "bogus",
            ),
            (r#"{"zone": "xcc.test.", "records": 3}"#, "not a list"),
            (r#"{"soa": {}, "records": []}"#, "without `zone`"),
            (
                r#"[{"zone": "xcc.test.", "records": []}, {"zone": "xcc.test", "records": []}]"#,
                "twice",
            ),
        ] {
            match load_str(text, None, &config()) {
                Err(e @ LoadError::Format { .. }) => {
                    assert!(e.to_string().contains(needle), "{text}: {e}")
                }
                other => panic!("{text}: expected a format error, got {other:?}"),
            }
        }
    }

    #[test]
    fn walkthrough_example_loads_and_resolves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/walkthrough.yaml");
        let built = match load_file(&path, &config()) {
            Ok(built) => built,
            Err(e) => panic!("{e}"),
        };
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        for cluster in ["cluster-a", "cluster-b"] {
            let name = format!("kuard.gateway.{cluster}.dev-team.clusters.xcc.test");
            let found = addresses(&built.table, &name);
            assert!(
                found.as_ref().is_some_and(|a| !a.is_empty()),
                "{name}: {found:?}"
            );
            let key = NameBuf::from_presentation(&name).expect("valid").to_key();
            assert!(matches!(
                built.table.lookup(&key),
                Lookup::Found { wildcard: true, .. }
            ));
        }
        assert_ne!(
            addresses(
                &built.table,
                "kuard.gateway.cluster-a.dev-team.clusters.xcc.test"
            ),
            addresses(
                &built.table,
                "kuard.gateway.cluster-b.dev-team.clusters.xcc.test"
            )
        );
    }

    #[test]
    fn hostname_load_balancer_example_loads_and_carries_the_target_addresses() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hostname-load-balancer.yaml");
        let built = match load_file(&path, &config()) {
            Ok(built) => built,
            Err(e) => panic!("{e}"),
        };
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        let key = NameBuf::from_presentation("kuard.gateway.cluster-c.dev-team.clusters.xcc.test")
            .expect("valid")
            .to_key();
        let Lookup::Found { node, .. } = built.table.lookup(&key) else {
            panic!("the wildcard covers kuard");
        };
        let types: Vec<RType> = node.target_rrsets().iter().map(|r| r.rtype).collect();
        assert_eq!(types, [RType::A, RType::AAAA]);
    }
}
