//! The fake's state: the objects of every resource type, one global
//! `resourceVersion` counter (as etcd has), the history of changes per type
//! that watches replay, and the open watches. Every write goes through
//! here, whether it came over HTTP or from a test helper.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::core::Status;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::Config;
use crate::faults::{FaultRule, RequestRecord};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status;
use crate::types::{ResourceType, builtin_types};

/// (group, version, plural).
pub(crate) type TypeKey = (String, String, String);

/// (namespace, or `""` for cluster-scoped objects; name): the order of
/// etcd keys, which lists follow.
type ObjectKey = (String, String);

/// The key of `ty`.
pub(crate) fn key_of(ty: &ResourceType) -> TypeKey {
    (ty.group.clone(), ty.version.clone(), ty.plural.clone())
}

fn crd_key() -> TypeKey {
    (
        "apiextensions.k8s.io".into(),
        "v1".into(),
        "customresourcedefinitions".into(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One change, as the watch cache keeps it: the object after the change
/// (for a deletion: as it was, with the deletion's resourceVersion) and
/// before it.
#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    kind: ChangeKind,
    object: Value,
    prev: Option<Value>,
}

/// The objects of one type and their recent history.
#[derive(Debug)]
struct Collection {
    ty: ResourceType,
    objects: BTreeMap<ObjectKey, Value>,
    history: VecDeque<Change>,
    /// Changes at or below this resourceVersion are no longer in
    /// `history`: a watch from an older position gets 410 Expired.
    floor: u64,
}

impl Collection {
    fn new(ty: ResourceType) -> Self {
        Self {
            ty,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            floor: 0,
        }
    }

    /// The objects as they were at resourceVersion `rv` (at least
    /// `floor`), by undoing the newer changes.
    fn snapshot_at(&self, rv: u64) -> BTreeMap<ObjectKey, Value> {
        let mut objects = self.objects.clone();
        for change in self.history.iter().rev().take_while(|c| c.rv > rv) {
            let key = object_key(&change.object);
            match (&change.kind, &change.prev) {
                (ChangeKind::Added, _) => {
                    objects.remove(&key);
                }
                (_, Some(prev)) => {
                    objects.insert(key, prev.clone());
                }
                (_, None) => {}
            }
        }
        objects
    }
}

/// What a watch or a list selects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    /// Only this namespace (`None`: all).
    pub(crate) namespace: Option<String>,
    /// The label selector.
    pub(crate) labels: LabelSelector,
    /// The field selector.
    pub(crate) fields: FieldSelector,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| object["metadata"]["namespace"].as_str() == Some(ns))
            && self.labels.matches(object)
            && self.fields.matches(object)
    }

    /// The watch event `change` is for this filter, as the API server's
    /// watch cache converts it: an object that starts matching is ADDED,
    /// one that stops matching is DELETED (its previous state, with the
    /// change's resourceVersion).
    fn event(&self, change: &Change) -> Option<Value> {
        let now = self.matches(&change.object);
        let before = change.prev.as_ref().is_some_and(|p| self.matches(p));
        let (kind, object) = match change.kind {
            ChangeKind::Added if now => ("ADDED", change.object.clone()),
            ChangeKind::Deleted if now => ("DELETED", change.object.clone()),
            ChangeKind::Modified => match (now, before) {
                (true, true) => ("MODIFIED", change.object.clone()),
                (true, false) => ("ADDED", change.object.clone()),
                (false, true) => {
                    let mut object = change.prev.clone().unwrap_or_default();
                    object["metadata"]["resourceVersion"] = json!(change.rv.to_string());
                    ("DELETED", object)
                }
                (false, false) => return None,
            },
            _ => return None,
        };
        Some(json!({ "type": kind, "object": object }))
    }
}

/// An open watch: events for it go into `sender`; dropping it ends the
/// response body.
#[derive(Debug)]
struct Watch {
    id: u64,
    key: TypeKey,
    path: String,
    filter: Filter,
    bookmarks: bool,
    sender: UnboundedSender<Bytes>,
}

/// A watch request's parameters.
#[derive(Clone, Debug, Default)]
pub(crate) struct WatchRequest {
    /// The request path (for [`State::break_watches`]).
    pub(crate) path: String,
    /// What it selects.
    pub(crate) filter: Filter,
    /// `resourceVersion`: replay the changes after it.
    pub(crate) resource_version: Option<String>,
    /// `allowWatchBookmarks=true`.
    pub(crate) bookmarks: bool,
    /// `sendInitialEvents=true` (streaming lists, Kubernetes 1.27+).
    pub(crate) send_initial_events: bool,
}

/// A list request's parameters.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListRequest {
    /// What it selects.
    pub(crate) filter: Filter,
    /// `limit`: at most this many items per page.
    pub(crate) limit: Option<usize>,
    /// `continue`: the token of the previous page.
    pub(crate) continue_token: Option<String>,
    /// `resourceVersion`.
    pub(crate) resource_version: Option<String>,
    /// `resourceVersionMatch=Exact`.
    pub(crate) exact: bool,
}

/// Which part of an object a write changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The object (its status is kept, with a status subresource).
    Object,
    /// The `/status` subresource: only the status changes.
    Status,
}

/// Options of a write.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteOptions {
    /// `dryRun=All`: answer as if written, change nothing.
    pub(crate) dry_run: bool,
    /// `fieldManager` (required for server-side apply).
    pub(crate) field_manager: Option<String>,
}

/// The content type of a PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`, treated as a merge patch
    /// (refused for custom resources, as the API server does).
    StrategicMerge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/apply-patch+yaml`: server-side apply, simplified to
    /// create-or-merge.
    Apply,
}

/// Preconditions and options of a DELETE.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteOptions {
    /// `preconditions.uid`.
    pub(crate) uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub(crate) resource_version: Option<String>,
    /// `dryRun: [All]`.
    pub(crate) dry_run: bool,
}

/// What a DELETE did.
enum Deletion {
    /// The object is gone (as it was, with the deletion's resourceVersion).
    Removed(Value),
    /// The object has finalizers: it is only marked (or was already).
    Marked(Value),
}

/// Everything the fake holds, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Config,
    rv: u64,
    counter: u64,
    seed: u64,
    collections: BTreeMap<TypeKey, Collection>,
    watches: Vec<Watch>,
    next_watch: u64,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) requests: Vec<RequestRecord>,
}

//----------- Small helpers on objects ------------------------------------------

fn object_key(object: &Value) -> ObjectKey {
    let meta = &object["metadata"];
    (
        meta["namespace"].as_str().unwrap_or_default().to_owned(),
        meta["name"].as_str().unwrap_or_default().to_owned(),
    )
}

fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("just made an object")
}

fn resource_version_of(object: &Value) -> Option<&str> {
    object["metadata"]["resourceVersion"]
        .as_str()
        .filter(|rv| !rv.is_empty())
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn is_deleting(object: &Value) -> bool {
    !object["metadata"]["deletionTimestamp"].is_null()
}

/// Now, as the API server writes timestamps (whole seconds, UTC).
fn now() -> Value {
    serde_json::to_value(Time(k8s_openapi::jiff::Timestamp::now())).unwrap_or(Value::Null)
}

/// Drops what the API server would not store: `null`s and empty lists and
/// maps in `metadata` (Go's `omitempty`).
fn normalize(object: &mut Value) {
    let meta = meta_mut(object);
    meta.retain(|_, value| match value {
        Value::Null => false,
        Value::Array(list) => !list.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::String(text) => !text.is_empty(),
        _ => true,
    });
}

/// What `generation` counts changes of: everything but metadata (and the
/// status, with a status subresource).
fn generation_part(object: &Value, ty: &ResourceType) -> Value {
    let mut part = object.clone();
    if let Some(map) = part.as_object_mut() {
        map.remove("metadata");
        map.remove("apiVersion");
        map.remove("kind");
        if ty.status_subresource {
            map.remove("status");
        }
    }
    part
}

/// One line of a watch response.
fn line(event: &Value) -> Bytes {
    Bytes::from(format!("{event}\n"))
}

fn bookmark(ty: &ResourceType, rv: u64, initial_events_end: bool) -> Value {
    let mut metadata = json!({ "resourceVersion": rv.to_string(), "creationTimestamp": null });
    if initial_events_end {
        metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    json!({
        "type": "BOOKMARK",
        "object": { "kind": ty.kind, "apiVersion": ty.api_version(), "metadata": metadata },
    })
}

/// SplitMix64, for uids and generated names.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

//----------- State ----------------------------------------------------------------

impl State {
    pub(crate) fn new(config: Config) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let mut state = Self {
            config,
            rv: 0,
            counter: 0,
            seed,
            collections: BTreeMap::new(),
            watches: Vec::new(),
            next_watch: 0,
            faults: Vec::new(),
            requests: Vec::new(),
        };
        for ty in builtin_types() {
            state.register(ty);
        }
        state
    }

    /// The current (latest) resourceVersion.
    pub(crate) fn resource_version(&self) -> u64 {
        self.rv
    }

    /// Adds `ty` (or updates its description, keeping its objects).
    pub(crate) fn register(&mut self, ty: ResourceType) {
        let key = key_of(&ty);
        match self.collections.get_mut(&key) {
            Some(collection) => collection.ty = ty,
            None => {
                self.collections.insert(key, Collection::new(ty));
            }
        }
    }

    /// Removes a type with its objects, and ends its watches.
    fn unregister(&mut self, key: &TypeKey) {
        self.collections.remove(key);
        self.watches.retain(|w| &w.key != key);
    }

    /// The type registered under `key`.
    pub(crate) fn ty(&self, key: &TypeKey) -> Option<&ResourceType> {
        self.collections.get(key).map(|c| &c.ty)
    }

    /// The key of the type with this `apiVersion` and `kind`.
    pub(crate) fn key_for_kind(&self, api_version: &str, kind: &str) -> Option<TypeKey> {
        self.collections
            .values()
            .find(|c| c.ty.api_version() == api_version && c.ty.kind == kind)
            .map(|c| key_of(&c.ty))
    }

    fn collection(&self, key: &TypeKey) -> Result<&Collection, Status> {
        self.collections.get(key).ok_or_else(status::no_such_path)
    }

    fn next_random(&mut self) -> u64 {
        self.counter += 1;
        mix(self.seed ^ mix(self.counter))
    }

    fn new_uid(&mut self) -> String {
        let (a, b) = (self.next_random(), self.next_random());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFF,
            0x8000 | (b >> 48) & 0x3FFF,
            b & 0xFFFF_FFFF_FFFF
        )
    }

    fn generate_name(&mut self, key: &TypeKey, namespace: &str, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        loop {
            let mut random = self.next_random();
            let mut name = prefix.to_owned();
            for _ in 0..5 {
                name.push(ALPHABET[(random % ALPHABET.len() as u64) as usize] as char);
                random /= ALPHABET.len() as u64;
            }
            let taken = self.collections.get(key).is_some_and(|c| {
                c.objects
                    .contains_key(&(namespace.to_owned(), name.clone()))
            });
            if !taken {
                return name;
            }
        }
    }

    fn namespace_exists(&self, namespace: &str) -> bool {
        self.collections
            .get(&(String::new(), "v1".into(), "namespaces".into()))
            .is_some_and(|c| {
                c.objects
                    .contains_key(&(String::new(), namespace.to_owned()))
            })
    }

    /// Checks a request body and fills in what the URL says: `apiVersion`,
    /// `kind`, the namespace.
    fn prepare_body(
        ty: &ResourceType,
        object: &mut Value,
        namespace: Option<&str>,
    ) -> Result<(), Status> {
        if !object.is_object() {
            return Err(status::bad_request(
                "the body of the request was in an unknown format",
            ));
        }
        let expected = ty.api_version();
        if let Some(api_version) = object["apiVersion"].as_str()
            && api_version != expected
        {
            return Err(status::bad_request(&format!(
                "the API version in the data ({api_version}) does not match the expected API version ({expected})"
            )));
        }
        if let Some(kind) = object["kind"].as_str()
            && kind != ty.kind
        {
            return Err(status::bad_request(&format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                ty.kind
            )));
        }
        object["apiVersion"] = json!(expected);
        object["kind"] = json!(ty.kind);
        let meta = meta_mut(object);
        if ty.namespaced {
            let namespace = namespace.unwrap_or_default();
            if let Some(given) = meta.get("namespace").and_then(Value::as_str)
                && !given.is_empty()
                && given != namespace
            {
                return Err(status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta.insert("namespace".into(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
        Ok(())
    }

    //----------- Reads --------------------------------------------------------------

    /// One object.
    pub(crate) fn get(
        &self,
        key: &TypeKey,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, Status> {
        let collection = self.collection(key)?;
        collection
            .objects
            .get(&(namespace.unwrap_or_default().to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| status::not_found(&collection.ty, name))
    }

    /// The objects `filter` selects, in key order.
    pub(crate) fn select(&self, key: &TypeKey, filter: &Filter) -> Vec<Value> {
        self.collections
            .get(key)
            .map(|c| {
                c.objects
                    .values()
                    .filter(|o| filter.matches(o))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A list response: `<Kind>List` with the current (or requested)
    /// resourceVersion, paged by `limit` and `continue` (pages come from
    /// one consistent snapshot, as etcd gives them).
    pub(crate) fn list(&self, key: &TypeKey, request: &ListRequest) -> Result<Value, Status> {
        let collection = self.collection(key)?;
        let ty = &collection.ty;
        let (after, list_rv) = match &request.continue_token {
            Some(token) => {
                let parsed = token.split_once(':').and_then(|(rv, rest)| {
                    let (namespace, name) = rest.split_once('/')?;
                    Some((
                        rv.parse::<u64>().ok()?,
                        namespace.to_owned(),
                        name.to_owned(),
                    ))
                });
                let Some((rv, namespace, name)) = parsed else {
                    return Err(status::bad_request(&format!(
                        "invalid continue token: continue key is not valid: {token}"
                    )));
                };
                if rv < collection.floor {
                    return Err(status::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to get a consistent list.",
                    ));
                }
                (Some((namespace, name)), rv)
            }
            None => match request.resource_version.as_deref() {
                None | Some("" | "0") => (None, self.rv),
                Some(text) => {
                    let rv = text.parse::<u64>().map_err(|_| {
                        status::server_error(&format!(
                            "resourceVersion: Invalid value: \"{text}\": strconv.ParseUint: parsing \"{text}\": invalid syntax"
                        ))
                    })?;
                    if rv > self.rv {
                        return Err(status::too_large_resource_version(rv, self.rv));
                    }
                    if request.exact {
                        if rv < collection.floor {
                            return Err(status::expired(&format!(
                                "too old resource version: {rv} ({})",
                                collection.floor + 1
                            )));
                        }
                        (None, rv)
                    } else {
                        (None, self.rv)
                    }
                }
            },
        };
        let objects = if list_rv == self.rv {
            collection.objects.clone()
        } else {
            collection.snapshot_at(list_rv)
        };
        let mut selected = objects
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .filter(|(_, o)| request.filter.matches(o));
        let mut items = Vec::new();
        let mut last = None;
        for (k, object) in selected.by_ref() {
            if request
                .limit
                .is_some_and(|limit| limit > 0 && items.len() >= limit)
            {
                // One too many: there is a next page.
                last = Some(k.clone());
                break;
            }
            let mut item = object.clone();
            // Built-in types' list items carry no apiVersion and kind.
            if !ty.custom
                && let Some(map) = item.as_object_mut()
            {
                map.remove("apiVersion");
                map.remove("kind");
            }
            items.push(item);
        }
        let mut metadata = json!({ "resourceVersion": list_rv.to_string() });
        if last.is_some() {
            let remaining = 1 + selected.count();
            let end = items.last().map(object_key).unwrap_or_default();
            metadata["continue"] = json!(format!("{list_rv}:{}/{}", end.0, end.1));
            // Counted only without selectors, as the API server does.
            if request.filter.labels.is_empty() && request.filter.fields.is_empty() {
                metadata["remainingItemCount"] = json!(remaining);
            }
        }
        Ok(json!({
            "apiVersion": ty.api_version(),
            "kind": format!("{}List", ty.kind),
            "metadata": metadata,
            "items": items,
        }))
    }

    //----------- Writes -------------------------------------------------------------

    /// POST: creates an object (`generateName` honoured).
    pub(crate) fn create(
        &mut self,
        key: &TypeKey,
        namespace: Option<&str>,
        mut object: Value,
        options: &WriteOptions,
    ) -> Result<Value, Status> {
        let ty = self.collection(key)?.ty.clone();
        Self::prepare_body(&ty, &mut object, namespace)?;
        if resource_version_of(&object).is_some() {
            return Err(status::server_error(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let namespace = if ty.namespaced {
            namespace.unwrap_or_default().to_owned()
        } else {
            String::new()
        };
        if ty.namespaced && self.config.require_namespaces && !self.namespace_exists(&namespace) {
            let namespaces = ResourceType::new("", "v1", "Namespace", "namespaces", false);
            return Err(status::not_found(&namespaces, &namespace));
        }
        let given = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let name = if !given.is_empty() {
            given
        } else if let Some(prefix) = object["metadata"]["generateName"]
            .as_str()
            .filter(|p| !p.is_empty())
        {
            let prefix = prefix.to_owned();
            self.generate_name(key, &namespace, &prefix)
        } else {
            return Err(status::invalid(
                &ty,
                "",
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            ));
        };
        if self.collections[key]
            .objects
            .contains_key(&(namespace.clone(), name.clone()))
        {
            return Err(status::already_exists(&ty, &name));
        }
        let uid = self.new_uid();
        let meta = meta_mut(&mut object);
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), now());
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if ty.generation {
            meta.insert("generation".into(), json!(1));
        }
        if ty.status_subresource
            && let Some(map) = object.as_object_mut()
        {
            map.remove("status");
        }
        normalize(&mut object);
        if options.dry_run {
            return Ok(object);
        }
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.collections
            .get_mut(key)
            .expect("checked above")
            .objects
            .insert((namespace, name), object.clone());
        self.record(key, ChangeKind::Added, object.clone(), None);
        self.after_write(key, &object);
        Ok(object)
    }

    /// PUT: replaces an object, or its status.
    pub(crate) fn update(
        &mut self,
        key: &TypeKey,
        namespace: Option<&str>,
        name: &str,
        mut object: Value,
        target: Target,
        options: &WriteOptions,
    ) -> Result<Value, Status> {
        let ty = self.collection(key)?.ty.clone();
        Self::prepare_body(&ty, &mut object, namespace)?;
        let given = name_of(&object);
        if given != name {
            return Err(status::bad_request(&format!(
                "the name of the object ({given}) does not match the name on the URL ({name})"
            )));
        }
        let old = self.get(key, namespace, name)?;
        match resource_version_of(&object) {
            Some(rv) if Some(rv) != resource_version_of(&old) => {
                return Err(status::conflict(&ty, name));
            }
            Some(_) => {}
            None if ty.custom => {
                return Err(status::invalid(
                    &ty,
                    name,
                    "metadata.resourceVersion",
                    "FieldValueInvalid",
                    "Invalid value: 0x0: must be specified for an update",
                ));
            }
            None => {}
        }
        let new = Self::compose(&ty, &old, object, target);
        self.commit(key, &ty, old, new, options)
    }

    /// PATCH: merge, JSON or (simplified) server-side apply, of an object
    /// or its status. Returns the object and whether it was created (an
    /// apply of a missing object).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn patch(
        &mut self,
        key: &TypeKey,
        namespace: Option<&str>,
        name: &str,
        kind: PatchKind,
        body: &[u8],
        target: Target,
        options: &WriteOptions,
    ) -> Result<(Value, bool), Status> {
        let ty = self.collection(key)?.ty.clone();
        let json = |body: &[u8]| {
            serde_json::from_slice::<Value>(body)
                .map_err(|e| status::bad_request(&format!("error decoding patch: {e}")))
        };
        enum Parsed {
            Merge(Value),
            Json(json_patch::Patch),
        }
        let parsed = match kind {
            PatchKind::Merge => Parsed::Merge(json(body)?),
            PatchKind::StrategicMerge if ty.custom => {
                return Err(status::unsupported_media_type(
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            PatchKind::StrategicMerge => Parsed::Merge(json(body)?),
            PatchKind::Json => Parsed::Json(
                serde_json::from_slice(body)
                    .map_err(|e| status::bad_request(&format!("error decoding patch: {e}")))?,
            ),
            PatchKind::Apply => {
                if options.field_manager.as_deref().is_none_or(str::is_empty) {
                    return Err(status::apply_needs_field_manager());
                }
                let value = match serde_json::from_slice::<Value>(body) {
                    Ok(value) => value,
                    Err(_) => {
                        let text = std::str::from_utf8(body)
                            .map_err(|e| status::bad_request(&e.to_string()))?;
                        serde_saphyr::from_str::<Value>(text).map_err(|e| {
                            status::bad_request(&format!("error decoding YAML: {e}"))
                        })?
                    }
                };
                let api_version = value["apiVersion"].as_str().unwrap_or_default();
                if api_version != ty.api_version() {
                    return Err(status::bad_request(&format!(
                        "Incorrect version specified in apply patch. Specified patch version: {api_version}, expected: {}",
                        ty.api_version()
                    )));
                }
                Parsed::Merge(value)
            }
        };
        let old = match self.get(key, namespace, name) {
            Ok(old) => old,
            Err(not_found) => {
                if let (PatchKind::Apply, Target::Object, Parsed::Merge(mut object)) =
                    (kind, target, parsed)
                {
                    if object["metadata"]["name"]
                        .as_str()
                        .is_none_or(|n| n != name)
                    {
                        return Err(status::bad_request(&format!(
                            "the name of the object ({}) does not match the name on the URL ({name})",
                            name_of(&object)
                        )));
                    }
                    if let Some(map) = object.as_object_mut() {
                        // Apply configurations hold no `null`s to remove.
                        map.retain(|_, v| !v.is_null());
                    }
                    return self
                        .create(key, namespace, object, options)
                        .map(|o| (o, true));
                }
                return Err(not_found);
            }
        };
        let mut patched = old.clone();
        match parsed {
            Parsed::Merge(patch) => json_patch::merge(&mut patched, &patch),
            Parsed::Json(patch) => json_patch::patch(&mut patched, &patch).map_err(|_| {
                status::failure(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                )
            })?,
        }
        // A resourceVersion in the patch is a precondition.
        if resource_version_of(&patched) != resource_version_of(&old) {
            return Err(status::conflict(&ty, name));
        }
        let new = Self::compose(&ty, &old, patched, target);
        self.commit(key, &ty, old, new, options).map(|o| (o, false))
    }

    /// The object a write of `written` to `target` makes of `old`.
    fn compose(ty: &ResourceType, old: &Value, mut written: Value, target: Target) -> Value {
        let take_status = |into: &mut Value, from: &Value| match from.get("status") {
            Some(status) => into["status"] = status.clone(),
            None => {
                if let Some(map) = into.as_object_mut() {
                    map.remove("status");
                }
            }
        };
        match target {
            Target::Object => {
                if ty.status_subresource {
                    take_status(&mut written, old);
                }
                written
            }
            Target::Status => {
                let mut new = old.clone();
                take_status(&mut new, &written);
                new
            }
        }
    }

    /// Stores `new` in place of `old`: server-owned metadata kept,
    /// `generation` counted, a no-op left alone (no new resourceVersion),
    /// and an object being deleted whose last finalizer is removed goes.
    fn commit(
        &mut self,
        key: &TypeKey,
        ty: &ResourceType,
        old: Value,
        mut new: Value,
        options: &WriteOptions,
    ) -> Result<Value, Status> {
        let mut owned = vec![
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ];
        if ty.generation {
            owned.push("generation");
        }
        {
            let old_meta = &old["metadata"];
            let meta = meta_mut(&mut new);
            for field in owned {
                match old_meta.get(field) {
                    Some(value) => meta.insert(field.into(), value.clone()),
                    None => meta.remove(field),
                };
            }
        }
        new["apiVersion"] = json!(ty.api_version());
        new["kind"] = json!(ty.kind);
        normalize(&mut new);
        let name = name_of(&old).to_owned();
        if is_deleting(&old) {
            let before = finalizers(&old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(status::invalid(
                    ty,
                    &name,
                    "metadata.finalizers",
                    "FieldValueForbidden",
                    &format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                ));
            }
        }
        if ty.generation && generation_part(&old, ty) != generation_part(&new, ty) {
            let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(generation);
        }
        if new == old || options.dry_run {
            return Ok(new);
        }
        self.rv += 1;
        let rv = json!(self.rv.to_string());
        let object_key = object_key(&old);
        if is_deleting(&new) && finalizers(&new).is_empty() {
            // The last finalizer is gone, so is the object. (The API
            // server's DELETED event shows it as it was stored.)
            let mut gone = old.clone();
            gone["metadata"]["resourceVersion"] = rv.clone();
            new["metadata"]["resourceVersion"] = rv;
            if let Some(collection) = self.collections.get_mut(key) {
                collection.objects.remove(&object_key);
            }
            self.record(key, ChangeKind::Deleted, gone.clone(), Some(old));
            self.after_delete(key, &gone);
            return Ok(new);
        }
        new["metadata"]["resourceVersion"] = rv;
        if let Some(collection) = self.collections.get_mut(key) {
            collection.objects.insert(object_key, new.clone());
        }
        self.record(key, ChangeKind::Modified, new.clone(), Some(old));
        self.after_write(key, &new);
        Ok(new)
    }

    /// DELETE: removes an object, or only marks it (`deletionTimestamp`)
    /// while it has finalizers. Returns the response body.
    pub(crate) fn delete(
        &mut self,
        key: &TypeKey,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Value, Status> {
        let ty = self.collection(key)?.ty.clone();
        Ok(match self.delete_one(key, &ty, namespace, name, options)? {
            Deletion::Removed(gone) => {
                let uid = gone["metadata"]["uid"].as_str().unwrap_or_default();
                status::deleted(&ty, name, uid)
            }
            Deletion::Marked(object) => object,
        })
    }

    fn delete_one(
        &mut self,
        key: &TypeKey,
        ty: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Deletion, Status> {
        let old = self.get(key, namespace, name)?;
        let old_uid = old["metadata"]["uid"].as_str().unwrap_or_default();
        if let Some(uid) = &options.uid
            && uid != old_uid
        {
            return Err(status::precondition_failed(
                ty,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({old_uid}). The object might have been deleted and then recreated"
                ),
            ));
        }
        let old_rv = resource_version_of(&old).unwrap_or_default();
        if let Some(rv) = &options.resource_version
            && rv != old_rv
        {
            return Err(status::precondition_failed(
                ty,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({old_rv}). The object might have been modified"
                ),
            ));
        }
        if !finalizers(&old).is_empty() {
            if is_deleting(&old) {
                return Ok(Deletion::Marked(old));
            }
            let mut new = old.clone();
            new["metadata"]["deletionTimestamp"] = now();
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if ty.generation {
                let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                new["metadata"]["generation"] = json!(generation);
            }
            if options.dry_run {
                return Ok(Deletion::Marked(new));
            }
            self.rv += 1;
            new["metadata"]["resourceVersion"] = json!(self.rv.to_string());
            if let Some(collection) = self.collections.get_mut(key) {
                collection.objects.insert(object_key(&old), new.clone());
            }
            self.record(key, ChangeKind::Modified, new.clone(), Some(old));
            return Ok(Deletion::Marked(new));
        }
        let mut gone = old.clone();
        if options.dry_run {
            return Ok(Deletion::Removed(gone));
        }
        self.rv += 1;
        gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        if let Some(collection) = self.collections.get_mut(key) {
            collection.objects.remove(&object_key(&old));
        }
        self.record(key, ChangeKind::Deleted, gone.clone(), Some(old));
        self.after_delete(key, &gone);
        Ok(Deletion::Removed(gone))
    }

    /// DELETE of a collection: deletes what `filter` selects; answers the
    /// list of the objects deleted (or marked).
    pub(crate) fn delete_collection(
        &mut self,
        key: &TypeKey,
        filter: &Filter,
        options: &DeleteOptions,
    ) -> Result<Value, Status> {
        let ty = self.collection(key)?.ty.clone();
        let mut items = Vec::new();
        for object in self.select(key, filter) {
            let (namespace, name) = object_key(&object);
            let namespace = (!namespace.is_empty()).then_some(namespace.as_str());
            match self.delete_one(key, &ty, namespace, &name, options) {
                Ok(Deletion::Removed(o) | Deletion::Marked(o)) => items.push(o),
                Err(_) => {}
            }
        }
        Ok(json!({
            "apiVersion": ty.api_version(),
            "kind": format!("{}List", ty.kind),
            "metadata": { "resourceVersion": self.rv.to_string() },
            "items": items,
        }))
    }

    //----------- Watches --------------------------------------------------------------

    /// Records a change and sends it to the open watches of its type.
    fn record(&mut self, key: &TypeKey, kind: ChangeKind, object: Value, prev: Option<Value>) {
        let change = Change {
            rv: self.rv,
            kind,
            object,
            prev,
        };
        for watch in self.watches.iter().filter(|w| &w.key == key) {
            if let Some(event) = watch.filter.event(&change) {
                let _ = watch.sender.send(line(&event));
            }
        }
        self.watches.retain(|w| !w.sender.is_closed());
        let limit = self.config.history_limit;
        if let Some(collection) = self.collections.get_mut(key) {
            collection.history.push_back(change);
            while collection.history.len() > limit {
                if let Some(dropped) = collection.history.pop_front() {
                    collection.floor = dropped.rv;
                }
            }
        }
    }

    /// Opens a watch: the events it must replay are queued at once, then
    /// live ones follow. Returns its id (`None` when it ended at once,
    /// after a 410 `ERROR` event) and the receiving end of its body.
    pub(crate) fn watch(
        &mut self,
        key: &TypeKey,
        request: WatchRequest,
    ) -> Result<(Option<u64>, UnboundedReceiver<Bytes>), Status> {
        let collection = self.collection(key)?;
        let (sender, receiver) = unbounded_channel();
        let send = |event: &Value| {
            let _ = sender.send(line(event));
        };
        let from_now = matches!(request.resource_version.as_deref(), None | Some("" | "0"));
        if from_now || request.send_initial_events {
            // The current state as ADDED events ("get state and start at
            // most recent").
            for object in collection
                .objects
                .values()
                .filter(|o| request.filter.matches(o))
            {
                send(&json!({ "type": "ADDED", "object": object }));
            }
            if request.send_initial_events && request.bookmarks {
                send(&bookmark(&collection.ty, self.rv, true));
            }
        } else {
            let text = request.resource_version.as_deref().unwrap_or_default();
            let from = text.parse::<u64>().map_err(|_| {
                status::server_error(&format!(
                    "resourceVersion: Invalid value: \"{text}\": strconv.ParseUint: parsing \"{text}\": invalid syntax"
                ))
            })?;
            if from < collection.floor {
                // As the API server does: a 200 whose only event is an
                // ERROR with 410 Expired.
                let expired = status::expired(&format!(
                    "too old resource version: {from} ({})",
                    collection.floor + 1
                ));
                send(&json!({ "type": "ERROR", "object": status::to_body(&expired) }));
                return Ok((None, receiver));
            }
            for change in collection.history.iter().filter(|c| c.rv > from) {
                if let Some(event) = request.filter.event(change) {
                    send(&event);
                }
            }
        }
        self.next_watch += 1;
        let id = self.next_watch;
        self.watches.push(Watch {
            id,
            key: key.clone(),
            path: request.path,
            filter: request.filter,
            bookmarks: request.bookmarks,
            sender,
        });
        Ok((Some(id), receiver))
    }

    /// Ends watch `id` (its timeout); whether it was open.
    pub(crate) fn close_watch(&mut self, id: u64) -> bool {
        let before = self.watches.len();
        self.watches.retain(|w| w.id != id);
        before != self.watches.len()
    }

    /// Sends a BOOKMARK at the current resourceVersion to watch `id`, if it
    /// asked for bookmarks; whether it is still open.
    pub(crate) fn bookmark_watch(&mut self, id: u64) -> bool {
        let rv = self.rv;
        let Some(watch) = self.watches.iter().find(|w| w.id == id) else {
            return false;
        };
        if watch.sender.is_closed() {
            self.close_watch(id);
            return false;
        }
        if watch.bookmarks
            && let Some(collection) = self.collections.get(&watch.key)
        {
            let _ = watch
                .sender
                .send(line(&bookmark(&collection.ty, rv, false)));
        }
        true
    }

    /// Sends a BOOKMARK to every open watch that asked for them; how many.
    pub(crate) fn send_bookmarks(&mut self) -> usize {
        self.watches.retain(|w| !w.sender.is_closed());
        let ids: Vec<u64> = self
            .watches
            .iter()
            .filter(|w| w.bookmarks)
            .map(|w| w.id)
            .collect();
        for id in &ids {
            self.bookmark_watch(*id);
        }
        ids.len()
    }

    /// Ends the open watches whose path contains `path_contains`; how many.
    pub(crate) fn break_watches(&mut self, path_contains: &str) -> usize {
        self.watches.retain(|w| !w.sender.is_closed());
        let before = self.watches.len();
        self.watches.retain(|w| !w.path.contains(path_contains));
        before - self.watches.len()
    }

    /// How many watches are open.
    pub(crate) fn open_watches(&mut self) -> usize {
        self.watches.retain(|w| !w.sender.is_closed());
        self.watches.len()
    }

    /// Forgets every change so far: a watch from any older position gets
    /// 410 Expired, as after an etcd compaction.
    pub(crate) fn compact(&mut self) {
        let rv = self.rv;
        for collection in self.collections.values_mut() {
            collection.history.clear();
            collection.floor = rv;
        }
    }

    //----------- CustomResourceDefinitions --------------------------------------------

    /// A CRD written: its types are served, and it is accepted and
    /// established at once (a status update of its own, as the
    /// apiextensions controller makes).
    fn after_write(&mut self, key: &TypeKey, object: &Value) {
        if *key != crd_key() {
            return;
        }
        let Ok(crd) = serde_json::from_value::<CustomResourceDefinition>(object.clone()) else {
            return;
        };
        for ty in ResourceType::from_crd(&crd) {
            self.register(ty);
        }
        let established = object["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        if established {
            return;
        }
        let time = now();
        let mut names = serde_json::to_value(&crd.spec.names).unwrap_or_default();
        if names["listKind"].is_null() {
            names["listKind"] = json!(format!("{}List", crd.spec.names.kind));
        }
        if names["singular"].is_null() {
            names["singular"] = json!(crd.spec.names.kind.to_lowercase());
        }
        let stored: Vec<&str> = crd
            .spec
            .versions
            .iter()
            .filter(|v| v.storage)
            .map(|v| v.name.as_str())
            .collect();
        let mut new = object.clone();
        new["status"] = json!({
            "conditions": [
                {
                    "type": "NamesAccepted", "status": "True", "lastTransitionTime": time,
                    "reason": "NoConflicts", "message": "no conflicts found",
                },
                {
                    "type": "Established", "status": "True", "lastTransitionTime": time,
                    "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
                },
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        });
        if let Some(ty) = self.ty(key).cloned() {
            let _ = self.commit(key, &ty, object.clone(), new, &WriteOptions::default());
        }
    }

    /// A CRD removed: its types are no longer served (their objects go).
    fn after_delete(&mut self, key: &TypeKey, object: &Value) {
        if *key != crd_key() {
            return;
        }
        if let Ok(crd) = serde_json::from_value::<CustomResourceDefinition>(object.clone()) {
            for ty in ResourceType::from_crd(&crd) {
                self.unregister(&key_of(&ty));
            }
        }
    }
}
