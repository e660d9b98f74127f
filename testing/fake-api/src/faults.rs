//! Fault injection, and the log of requests the fake has answered.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use kube::core::Status;
use tokio::sync::Semaphore;

use crate::status;

/// What the API server was asked to do, as in Kubernetes audit logs and
/// RBAC rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// GET of one object (or its status).
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT (of the object or its status).
    Update,
    /// PATCH (of the object or its status), including server-side apply.
    Patch,
    /// DELETE of one object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: Method,
    /// The path, such as `/api/v1/namespaces/default/configmaps/a`.
    pub path: String,
    /// The query string, without the `?`.
    pub query: String,
    /// The verb, when the path is one the fake serves.
    pub verb: Option<Verb>,
    /// The subresource (`status`), if any.
    pub subresource: Option<String>,
    /// The HTTP status code answered; `None` while the request is
    /// unanswered (hanging, delayed) or when it was dropped as a
    /// connection error.
    pub code: Option<u16>,
}

/// What an injected fault does to a request it matches.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this Status (its `code` is the HTTP status) instead of
    /// serving the request.
    Respond(Status),
    /// Never answer (the client's own timeouts, if any, have to end it).
    Hang,
    /// Serve the request normally after this delay.
    Delay(Duration),
    /// Serve the request normally once the gate is opened: the test
    /// decides what happens before it is served, without timing.
    Hold(Gate),
    /// Fail as a broken connection would: the service returns an I/O
    /// error (kube reports `Error::Service`).
    Disconnect,
    /// For a watch: answer 200 with one `ERROR` event carrying this
    /// Status, then end the stream, as the API server does for a stale
    /// position (other requests get the Status as an HTTP error).
    WatchError(Status),
}

impl Fault {
    /// Answer with `code`, `reason` and `message`.
    pub fn status(code: u16, reason: &str, message: &str) -> Self {
        Self::Respond(status::failure(code, reason, message))
    }

    /// 500 `InternalError` (`etcdserver: request timed out`).
    pub fn internal_error() -> Self {
        Self::status(500, "InternalError", "etcdserver: request timed out")
    }

    /// 503 `ServiceUnavailable`.
    pub fn unavailable() -> Self {
        Self::status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        )
    }

    /// 429 `TooManyRequests`.
    pub fn too_many_requests() -> Self {
        Self::status(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        )
    }

    /// A watch answered with a 410 `Expired` `ERROR` event: the client
    /// must list again.
    pub fn watch_gone() -> Self {
        Self::WatchError(status::expired("too old resource version: 1 (2)"))
    }
}

/// A gate that [`Fault::Hold`] requests wait at until it is opened (once
/// open, it stays open).
#[derive(Clone, Debug)]
pub struct Gate(Arc<Semaphore>);

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self(Arc::new(Semaphore::new(0)))
    }

    /// Opens the gate: the requests held go on, later ones pass.
    pub fn open(&self) {
        self.0.close();
    }

    /// Waits until the gate is open.
    pub(crate) async fn pass(&self) {
        // No permit is ever added: `acquire` returns (an error) once closed.
        let _ = self.0.acquire().await;
    }
}

/// A fault and the requests it applies to: every condition set must
/// hold. Without [`Self::times`], it applies until
/// [`crate::FakeApi::clear_faults`].
#[derive(Clone, Debug)]
pub struct FaultRule {
    pub(crate) fault: Fault,
    method: Option<Method>,
    verb: Option<Verb>,
    path_contains: Option<String>,
    query_contains: Option<String>,
    pub(crate) remaining: Option<usize>,
}

impl FaultRule {
    /// `fault` for every request (narrow it with the other methods).
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            method: None,
            verb: None,
            path_contains: None,
            query_contains: None,
            remaining: None,
        }
    }

    /// Only requests with this HTTP method.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Only requests of this verb.
    #[must_use]
    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    /// Only requests whose path contains `text` (such as `/status` or
    /// `/dnsrecords`).
    #[must_use]
    pub fn path_contains(mut self, text: &str) -> Self {
        self.path_contains = Some(text.into());
        self
    }

    /// Only requests whose query string contains `text`.
    #[must_use]
    pub fn query_contains(mut self, text: &str) -> Self {
        self.query_contains = Some(text.into());
        self
    }

    /// Only the next `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }

    pub(crate) fn matches(
        &self,
        method: &Method,
        verb: Option<Verb>,
        path: &str,
        query: &str,
    ) -> bool {
        self.remaining != Some(0)
            && self.method.as_ref().is_none_or(|m| m == method)
            && self.verb.is_none_or(|v| Some(v) == verb)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
            && self
                .query_contains
                .as_deref()
                .is_none_or(|q| query.contains(q))
    }
}
