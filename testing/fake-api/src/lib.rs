//! `xcc-fake-api`: a small stateful fake of the Kubernetes API server, for
//! fast in-process tests of kube-rs clients, controllers and reflectors.
//!
//! ```no_run
//! # async fn example() {
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::api::{Api, PostParams};
//! use xcc_fake_api::{FakeApi, Fault, FaultRule, Verb};
//!
//! let fake = FakeApi::new();
//! let client = fake.client(); // kube::Client::new(fake.service(), "default")
//! let api: Api<ConfigMap> = Api::default_namespaced(client);
//! let mut map = ConfigMap::default();
//! map.metadata.name = Some("a".into());
//! api.create(&PostParams::default(), &map).await.unwrap();
//! // The next status write fails with a 500, once.
//! fake.inject(FaultRule::new(Fault::internal_error()).path_contains("/status").times(1));
//! assert_eq!(fake.count(Verb::Create), 1);
//! # }
//! ```
//!
//! The real API server (`tests/k8s/apiserver.sh`, kube-apiserver 1.20)
//! stays the judge of what Kubernetes does; the fake copies it where tests
//! need it, and answers in milliseconds, without etcd, on any machine. Its
//! codes, reasons and messages were taken from a 1.20 server's answers to
//! the same requests, and `xcc-controller`'s `fake_vs_real` test runs one
//! scenario on both and compares the transcripts.
//!
//! What it does:
//! - Objects of any registered type are kept as JSON, keyed by (group,
//!   version, plural, namespace, name), with one global `resourceVersion`
//!   counter (etcd-like), `metadata.uid`, `creationTimestamp`,
//!   `generation` (for [`ResourceType::generation`] types: one more on
//!   every change outside `metadata` and, with a status subresource,
//!   `status`), `deletionTimestamp` and finalizers (a DELETE of an object
//!   with finalizers only marks it; it goes with its last finalizer; no
//!   new finalizers once marked).
//! - Paths `/api/v1/...` and `/apis/<group>/<version>/...`, namespaced and
//!   across namespaces. Verbs: GET, list (label selectors `=`, `==`, `!=`,
//!   `in`, `notin`, exists, `!` and `>`/`<`; field selectors
//!   `metadata.name`, `metadata.namespace` and per-type extras; `limit`
//!   and `continue` paged from one consistent snapshot;
//!   `resourceVersionMatch=Exact` within the retained history), watch
//!   (replay after `resourceVersion` from a per-type history, then live;
//!   410 `Expired` as an `ERROR` event when the position is older than the
//!   history, see [`Config::history_limit`] and [`FakeApi::compact`];
//!   `BOOKMARK`s with `allowWatchBookmarks`, on demand or every
//!   [`Config::bookmark_interval`]; `timeoutSeconds`; selectors, with
//!   objects entering and leaving a selection seen as ADDED and DELETED),
//!   POST (`generateName`, 409 `AlreadyExists`), PUT (409 `Conflict` on a
//!   stale `resourceVersion`; custom resources must carry one), PATCH
//!   (merge; strategic merge treated as merge, refused with 415 for custom
//!   resources as the real server does; JSON patch; server-side apply
//!   simplified to create-or-merge, `fieldManager` required), DELETE (with
//!   preconditions) and DELETE of a collection, `dryRun=All`, the `/status`
//!   subresource (writes there change only `status`; writes to the object
//!   keep the old `status`).
//! - Errors are `metav1.Status` bodies with the server's reason and code:
//!   `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `BadRequest`,
//!   `Expired` (410), `MethodNotAllowed`, `UnsupportedMediaType`,
//!   `InternalError`.
//! - Built-in types ([`builtin_types`]) include ConfigMaps, Namespaces,
//!   both Event APIs, Leases and EndpointSlices; custom types are
//!   registered, or served as soon as their `CustomResourceDefinition` is
//!   created through the API (accepted and `Established` at once).
//! - Faults ([`FaultRule`], [`Fault`]): the next N requests matching a
//!   method, verb, path or query part fail with a given Status, hang, are
//!   delayed or held until the test opens a [`Gate`], or fail as a broken
//!   connection; watches can be answered with
//!   410 or ended ([`FakeApi::break_watches`]).
//! - [`HttpServer`]: the fake on a loopback port, with a kubeconfig for it,
//!   for code that builds its own clients from kubeconfigs.
//! - Test helpers that work on the state directly, without HTTP
//!   ([`FakeApi::create`], [`FakeApi::get_typed`], ...), and the log of
//!   requests ([`FakeApi::count`]).
//!
//! What it does not do: no schema validation, defaulting or pruning (a CRD's
//! `default: 30` is not filled in; unknown fields are kept); no admission
//! (except the optional [`Config::require_namespaces`]), authentication
//! or RBAC; no discovery (`/api`, `/apis`), OpenAPI, protobuf or table
//! output; no real server-side apply (no field ownership, no conflicts
//! between managers, no removal of fields a manager stopped applying, no
//! `managedFields`); strategic merge patches use merge-patch semantics (no
//! patch directives, lists replaced whole); no garbage collection
//! (`ownerReferences` and `propagationPolicy` are ignored) and no namespace
//! lifecycle (deleting a Namespace leaves its objects); versions of one
//! group and kind are stored separately (no conversion); no graceful
//! deletion of Pods; `timeoutSeconds` ends a watch exactly, without the
//! server's jitter; a watch from a position newer than the server's is
//! not delayed; lists with a future `resourceVersion` fail at once (504)
//! instead of waiting.

// Errors are kube's own `Status` (about 300 bytes): what a test compares
// with, and what kube hands back; a fake for tests need not box them.
#![allow(clippy::result_large_err)]

mod faults;
mod listener;
mod selector;
mod service;
mod status;
mod store;
mod types;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Resource;
use kube::core::Status;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use faults::{Fault, FaultRule, Gate, RequestRecord, Verb};
pub use listener::HttpServer;
pub use service::{FakeBody, FakeService};
pub use status::failure;
pub use types::{ResourceType, builtin_types};

use store::{DeleteOptions, Filter, State, Target, TypeKey, WriteOptions};

/// Settings of a [`FakeApi`].
#[derive(Clone, Debug)]
pub struct Config {
    /// How many changes per resource type are kept for watches to replay
    /// (the watch cache's capacity): a watch from a position older than the
    /// oldest kept change gets 410 Expired. Default 1000.
    pub history_limit: usize,
    /// Send a `BOOKMARK` this often to watches that allow them (the real
    /// server sends one about every minute). Default: none, only on demand
    /// ([`FakeApi::send_bookmarks`]).
    pub bookmark_interval: Option<Duration>,
    /// Refuse to create a namespaced object in a Namespace that does not
    /// exist (404, as the API server's `NamespaceLifecycle` admission).
    /// Default: off.
    pub require_namespaces: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            history_limit: 1000,
            bookmark_interval: None,
            require_namespaces: false,
        }
    }
}

/// The fake API server: cheap to clone (the clones share the state).
#[derive(Clone, Debug)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

impl Default for FakeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeApi {
    /// A fake with the built-in types and the default [`Config`].
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A fake with the built-in types and `config`.
    pub fn with_config(config: Config) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new(config))),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves `ty` (again, with new settings, keeping its objects).
    pub fn register(&self, ty: ResourceType) {
        self.lock().register(ty);
    }

    /// Serves the versions of `crd` (without storing the CRD object
    /// itself; creating it through the API does both).
    pub fn register_crd(&self, crd: &CustomResourceDefinition) {
        let mut state = self.lock();
        for ty in ResourceType::from_crd(crd) {
            state.register(ty);
        }
    }

    /// The `tower` service to build a `kube::Client` on.
    pub fn service(&self) -> FakeService {
        FakeService { api: self.clone() }
    }

    /// A client talking to this fake, with default namespace `default`
    /// (must be called inside a tokio runtime).
    pub fn client(&self) -> kube::Client {
        self.client_in("default")
    }

    /// A client talking to this fake, with default namespace `namespace`
    /// (must be called inside a tokio runtime).
    pub fn client_in(&self, namespace: &str) -> kube::Client {
        kube::Client::new(self.service(), namespace)
    }

    /// The latest resourceVersion given out.
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version()
    }

    //----------- Objects, without HTTP ---------------------------------------------

    /// The type of `object` (by `apiVersion` and `kind`) and its namespace
    /// (`default` when a namespaced object names none).
    fn locate(state: &State, object: &Value) -> Result<(TypeKey, Option<String>), Status> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let key = state.key_for_kind(api_version, kind).ok_or_else(|| {
            failure(
                404,
                "NotFound",
                &format!("no type {kind} in {api_version} is registered"),
            )
        })?;
        let namespaced = state.ty(&key).is_some_and(|t| t.namespaced);
        let namespace = namespaced.then(|| {
            object["metadata"]["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_owned()
        });
        Ok((key, namespace))
    }

    fn key(state: &State, api_version: &str, kind: &str) -> Result<TypeKey, Status> {
        state.key_for_kind(api_version, kind).ok_or_else(|| {
            failure(
                404,
                "NotFound",
                &format!("no type {kind} in {api_version} is registered"),
            )
        })
    }

    /// Creates `object` (its `apiVersion` and `kind` say of which type;
    /// `metadata.namespace` defaults to `default`), as a POST would, and
    /// tells the watches.
    pub fn create(&self, object: Value) -> Result<Value, Status> {
        let mut state = self.lock();
        let (key, namespace) = Self::locate(&state, &object)?;
        state.create(&key, namespace.as_deref(), object, &WriteOptions::default())
    }

    /// Replaces an object, as a PUT would (without a `resourceVersion` in
    /// `object`, unconditionally, even for custom resources). Its status
    /// is kept when the type has a status subresource.
    pub fn replace(&self, mut object: Value) -> Result<Value, Status> {
        let mut state = self.lock();
        let (key, namespace) = Self::locate(&state, &object)?;
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if object["metadata"]["resourceVersion"].as_str().is_none() {
            let current = state.get(&key, namespace.as_deref(), &name)?;
            object["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        }
        state.update(
            &key,
            namespace.as_deref(),
            &name,
            object,
            Target::Object,
            &WriteOptions::default(),
        )
    }

    /// One object (`namespace`: `None` for cluster-scoped types).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let state = self.lock();
        let key = Self::key(&state, api_version, kind).ok()?;
        state.get(&key, namespace, name).ok()
    }

    /// The objects of a type, in one namespace or (`None`) in all.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let state = self.lock();
        let Ok(key) = Self::key(&state, api_version, kind) else {
            return Vec::new();
        };
        let filter = Filter {
            namespace: namespace.map(str::to_owned),
            ..Filter::default()
        };
        state.select(&key, &filter)
    }

    /// Applies a JSON merge patch (RFC 7386) to an object (its status is
    /// kept when the type has a status subresource).
    pub fn patch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, Status> {
        self.patch_target(api_version, kind, namespace, name, patch, Target::Object)
    }

    /// Applies a JSON merge patch to an object's status (`{"status": …}`)
    /// through the status subresource, or to the whole object when its type
    /// has none.
    pub fn patch_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
    ) -> Result<Value, Status> {
        self.patch_target(api_version, kind, namespace, name, patch, Target::Status)
    }

    fn patch_target(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        patch: &Value,
        target: Target,
    ) -> Result<Value, Status> {
        let mut state = self.lock();
        let key = Self::key(&state, api_version, kind)?;
        let has_status = state.ty(&key).is_some_and(|t| t.status_subresource);
        let target = if has_status { target } else { Target::Object };
        let body = serde_json::to_vec(patch).unwrap_or_default();
        state
            .patch(
                &key,
                namespace,
                name,
                store::PatchKind::Merge,
                &body,
                target,
                &WriteOptions::default(),
            )
            .map(|(object, _)| object)
    }

    /// Deletes an object as a DELETE would (one with finalizers is only
    /// marked); returns the response body (a `Status`, or the marked
    /// object).
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, Status> {
        let mut state = self.lock();
        let key = Self::key(&state, api_version, kind)?;
        state.delete(&key, namespace, name, &DeleteOptions::default())
    }

    fn typed_key<K: Resource<DynamicType = ()>>() -> TypeKey {
        (
            K::group(&()).into_owned(),
            K::version(&()).into_owned(),
            K::plural(&()).into_owned(),
        )
    }

    fn to_value<K: Resource<DynamicType = ()> + Serialize>(object: &K) -> Result<Value, Status> {
        let mut value = serde_json::to_value(object)
            .map_err(|e| failure(400, "BadRequest", &format!("cannot serialize: {e}")))?;
        value["apiVersion"] = json!(K::api_version(&()));
        value["kind"] = json!(K::kind(&()));
        Ok(value)
    }

    fn from_value<K: DeserializeOwned>(value: Value) -> Result<K, Status> {
        serde_json::from_value(value)
            .map_err(|e| failure(500, "InternalError", &format!("cannot deserialize: {e}")))
    }

    /// [`Self::create`] for a typed object.
    pub fn create_typed<K>(&self, object: &K) -> Result<K, Status>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        Self::from_value(self.create(Self::to_value(object)?)?)
    }

    /// [`Self::replace`] for a typed object.
    pub fn replace_typed<K>(&self, object: &K) -> Result<K, Status>
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        Self::from_value(self.replace(Self::to_value(object)?)?)
    }

    /// [`Self::get`] for a typed object.
    pub fn get_typed<K>(&self, namespace: Option<&str>, name: &str) -> Option<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let value = self
            .lock()
            .get(&Self::typed_key::<K>(), namespace, name)
            .ok()?;
        Self::from_value(value).ok()
    }

    /// [`Self::list`] for a typed object.
    pub fn list_typed<K>(&self, namespace: Option<&str>) -> Vec<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let filter = Filter {
            namespace: namespace.map(str::to_owned),
            ..Filter::default()
        };
        self.lock()
            .select(&Self::typed_key::<K>(), &filter)
            .into_iter()
            .filter_map(|v| Self::from_value(v).ok())
            .collect()
    }

    //----------- Watches -----------------------------------------------------------

    /// Sends a `BOOKMARK` (at the current resourceVersion) to every open
    /// watch that allows them; returns how many got one.
    pub fn send_bookmarks(&self) -> usize {
        self.lock().send_bookmarks()
    }

    /// Ends every open watch (the client sees its stream end, and watches
    /// again from its last position); returns how many.
    pub fn break_watches(&self) -> usize {
        self.lock().break_watches("")
    }

    /// Ends the open watches whose path contains `path_contains`.
    pub fn break_watches_matching(&self, path_contains: &str) -> usize {
        self.lock().break_watches(path_contains)
    }

    /// How many watches are open.
    pub fn open_watches(&self) -> usize {
        self.lock().open_watches()
    }

    /// Forgets the change history, as an etcd compaction does: a watch
    /// from any position before now gets 410 Expired (a client must list
    /// again).
    pub fn compact(&self) {
        self.lock().compact();
    }

    //----------- Faults and requests ---------------------------------------------

    /// Adds a fault rule; rules are tried in the order added, the first that
    /// matches a request applies.
    pub fn inject(&self, rule: FaultRule) {
        self.lock().faults.push(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// How many requests of `verb` were received.
    pub fn count(&self, verb: Verb) -> usize {
        self.count_matching(verb, "")
    }

    /// How many requests of `verb` whose path contains `path_contains` were
    /// received.
    pub fn count_matching(&self, verb: Verb, path_contains: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.verb == Some(verb) && r.path.contains(path_contains))
            .count()
    }
}
