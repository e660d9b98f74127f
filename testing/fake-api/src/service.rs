//! The HTTP side: a `tower` service that kube's `Client` sends its requests
//! to. It routes `/api/v1/...` and `/apis/<group>/<version>/...` paths to
//! the state, applies injected faults first, and streams watch events.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use kube::core::Status;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::FakeApi;
use crate::faults::{Fault, RequestRecord, Verb};
use crate::selector::parse_selectors;
use crate::status;
use crate::store::{
    DeleteOptions, Filter, ListRequest, PatchKind, State, Target, TypeKey, WatchRequest,
    WriteOptions,
};

//----------- The response body ------------------------------------------------------

/// The body of the fake's responses: a whole JSON document, or a watch's
/// stream of JSON lines, which ends when the watch is closed (its timeout,
/// [`FakeApi::break_watches`], an injected fault).
#[derive(Debug)]
pub struct FakeBody(Inner);

#[derive(Debug)]
enum Inner {
    Full(Option<Bytes>),
    Stream(UnboundedReceiver<Bytes>),
}

impl FakeBody {
    fn json(value: &Value) -> Self {
        Self(Inner::Full(Some(Bytes::from(value.to_string()))))
    }
}

impl http_body::Body for FakeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.get_mut().0 {
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Inner::Stream(receiver) => receiver
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.0, Inner::Full(None))
    }
}

fn json_response(code: u16, body: &Value) -> Response<FakeBody> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(CONTENT_TYPE, "application/json")
        .body(FakeBody::json(body))
        .expect("a valid response")
}

fn error_response(status: &Status) -> Response<FakeBody> {
    json_response(status.code, &status::to_body(status))
}

fn stream_response(receiver: UnboundedReceiver<Bytes>) -> Response<FakeBody> {
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(FakeBody(Inner::Stream(receiver)))
        .expect("a valid response")
}

/// A 200 whose body is one `ERROR` event with `status`, then ends.
fn watch_error_response(status: &Status) -> Response<FakeBody> {
    let event = serde_json::json!({ "type": "ERROR", "object": status::to_body(status) });
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(FakeBody(Inner::Full(Some(Bytes::from(format!(
            "{event}\n"
        ))))))
        .expect("a valid response")
}

//----------- The service ----------------------------------------------------------

/// The fake as a `tower` service: give it to `kube::Client::new` (or use
/// [`FakeApi::client`]).
#[derive(Clone, Debug)]
pub struct FakeService {
    pub(crate) api: FakeApi,
}

impl<B> tower_service::Service<Request<B>> for FakeService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    type Response = Response<FakeBody>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<FakeBody>, io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let api = self.api.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            handle(&api, &parts.method, &parts.uri, &parts.headers, &body).await
        })
    }
}

//----------- Routing ------------------------------------------------------------

/// What a path names.
#[derive(Clone, Debug)]
struct Route {
    key: TypeKey,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_route(state: &State, path: &str) -> Result<Route, Status> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(status::no_such_path()),
    };
    // `namespaces/<ns>/<plural>/...`, except the Namespace object's own
    // subresources (`/api/v1/namespaces/<name>/status`).
    let (namespace, rest) = match rest {
        ["namespaces", namespace, plural, tail @ ..]
            if !(group.is_empty()
                && tail.is_empty()
                && matches!(*plural, "status" | "finalize")) =>
        {
            (Some((*namespace).to_owned()), &rest[2..])
        }
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, subresource] => (*plural, Some(*name), Some(*subresource)),
        _ => return Err(status::no_such_path()),
    };
    let key = (group.to_owned(), version.to_owned(), plural.to_owned());
    let ty = state.ty(&key).ok_or_else(status::no_such_path)?;
    let misplaced = (namespace.is_some() && !ty.namespaced)
        || (ty.namespaced && namespace.is_none() && name.is_some())
        || subresource.is_some_and(|s| s != "status" || !ty.status_subresource);
    if misplaced {
        return Err(status::no_such_path());
    }
    Ok(Route {
        key,
        namespace,
        name: name.map(str::to_owned),
        subresource: subresource.map(str::to_owned),
    })
}

fn verb_of(method: &Method, route: &Route, watch: bool) -> Option<Verb> {
    let one = route.name.is_some();
    Some(match *method {
        Method::GET if one => Verb::Get,
        Method::GET if watch => Verb::Watch,
        Method::GET => Verb::List,
        Method::POST if !one => Verb::Create,
        Method::PUT if one => Verb::Update,
        Method::PATCH if one => Verb::Patch,
        Method::DELETE if one => Verb::Delete,
        Method::DELETE => Verb::DeleteCollection,
        _ => return None,
    })
}

/// The query parameters.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(text: &str) -> Self {
        Self(
            form_urlencoded::parse(text.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

//----------- Handling -------------------------------------------------------------

/// What serving a request gives.
enum Reply {
    Json(u16, Value),
    Watch {
        id: Option<u64>,
        receiver: UnboundedReceiver<Bytes>,
        timeout: Option<Duration>,
    },
}

pub(crate) async fn handle(
    api: &FakeApi,
    method: &Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    body: &[u8],
) -> io::Result<Response<FakeBody>> {
    let path = uri.path();
    let query_text = uri.query().unwrap_or_default();
    let query = Query::parse(query_text);
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (route, verb, index, fault) = {
        let mut state = api.lock();
        let route = parse_route(&state, path);
        let verb = route
            .as_ref()
            .ok()
            .and_then(|r| verb_of(method, r, query.flag("watch")));
        state.requests.push(RequestRecord {
            method: method.clone(),
            path: path.to_owned(),
            query: query_text.to_owned(),
            verb,
            subresource: route.as_ref().ok().and_then(|r| r.subresource.clone()),
            code: None,
        });
        let index = state.requests.len() - 1;
        let mut fault = None;
        if let Some(position) = state
            .faults
            .iter()
            .position(|f| f.matches(method, verb, path, query_text))
        {
            let rule = &mut state.faults[position];
            fault = Some(rule.fault.clone());
            if let Some(remaining) = &mut rule.remaining {
                *remaining -= 1;
                if *remaining == 0 {
                    state.faults.remove(position);
                }
            }
        }
        (route, verb, index, fault)
    };
    let response = match fault {
        Some(Fault::Hang) => match std::future::pending::<Infallible>().await {},
        Some(Fault::Disconnect) => {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "xcc-fake-api: injected disconnect",
            ));
        }
        Some(Fault::Respond(status)) => error_response(&status),
        Some(Fault::WatchError(status)) if verb == Some(Verb::Watch) => {
            watch_error_response(&status)
        }
        Some(Fault::WatchError(status)) => error_response(&status),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            respond(api, route, verb, &query, content_type, body, path)
        }
        Some(Fault::Hold(gate)) => {
            gate.pass().await;
            respond(api, route, verb, &query, content_type, body, path)
        }
        None => respond(api, route, verb, &query, content_type, body, path),
    };
    if let Some(record) = api.lock().requests.get_mut(index) {
        record.code = Some(response.status().as_u16());
    }
    Ok(response)
}

#[allow(clippy::too_many_arguments)]
fn respond(
    api: &FakeApi,
    route: Result<Route, Status>,
    verb: Option<Verb>,
    query: &Query,
    content_type: &str,
    body: &[u8],
    path: &str,
) -> Response<FakeBody> {
    let reply = route.and_then(|route| serve(api, &route, verb, query, content_type, body, path));
    match reply {
        Err(status) => error_response(&status),
        Ok(Reply::Json(code, value)) => json_response(code, &value),
        Ok(Reply::Watch {
            id,
            receiver,
            timeout,
        }) => {
            let interval = api.lock().config.bookmark_interval;
            if let Some(id) = id
                && (timeout.is_some() || interval.is_some())
            {
                tokio::spawn(watch_timer(
                    Arc::downgrade(&api.state),
                    id,
                    timeout,
                    interval,
                ));
            }
            stream_response(receiver)
        }
    }
}

/// Ends watch `id` at its timeout, and sends it periodic bookmarks.
async fn watch_timer(
    state: Weak<Mutex<State>>,
    id: u64,
    timeout: Option<Duration>,
    interval: Option<Duration>,
) {
    let start = tokio::time::Instant::now();
    let mut ticker = interval.map(|i| tokio::time::interval_at(start + i, i));
    loop {
        let tick = async {
            match &mut ticker {
                Some(ticker) => {
                    ticker.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        let end = async {
            match timeout {
                Some(timeout) => tokio::time::sleep_until(start + timeout).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = end => {
                if let Some(state) = state.upgrade() {
                    state.lock().unwrap_or_else(|e| e.into_inner()).close_watch(id);
                }
                return;
            }
            () = tick => {
                let Some(state) = state.upgrade() else { return };
                if !state.lock().unwrap_or_else(|e| e.into_inner()).bookmark_watch(id) {
                    return;
                }
            }
        }
    }
}

fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, Status> {
    if content_type.starts_with("application/yaml") {
        let text = std::str::from_utf8(body).map_err(|e| status::bad_request(&e.to_string()))?;
        return serde_saphyr::from_str(text)
            .map_err(|e| status::bad_request(&format!("error decoding YAML: {e}")));
    }
    serde_json::from_slice(body)
        .map_err(|e| status::bad_request(&format!("error decoding the request body: {e}")))
}

fn patch_kind(content_type: &str) -> Result<PatchKind, Status> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    Ok(match media {
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => PatchKind::StrategicMerge,
        "application/json-patch+json" => PatchKind::Json,
        "application/apply-patch+yaml" => PatchKind::Apply,
        _ => {
            return Err(status::unsupported_media_type(
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json",
            ));
        }
    })
}

fn delete_options(body: &[u8], query: &Query) -> Result<DeleteOptions, Status> {
    let mut options = DeleteOptions {
        dry_run: query.get("dryRun") == Some("All"),
        ..DeleteOptions::default()
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(options);
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| status::bad_request(&format!("error decoding DeleteOptions: {e}")))?;
    let preconditions = &body["preconditions"];
    options.uid = preconditions["uid"].as_str().map(str::to_owned);
    options.resource_version = preconditions["resourceVersion"].as_str().map(str::to_owned);
    if body["dryRun"]
        .as_array()
        .is_some_and(|d| d.iter().any(|v| v == "All"))
    {
        options.dry_run = true;
    }
    Ok(options)
}

#[allow(clippy::too_many_arguments)]
fn serve(
    api: &FakeApi,
    route: &Route,
    verb: Option<Verb>,
    query: &Query,
    content_type: &str,
    body: &[u8],
    path: &str,
) -> Result<Reply, Status> {
    let mut state = api.lock();
    let key = &route.key;
    let ty = state.ty(key).cloned().ok_or_else(status::no_such_path)?;
    let namespace = route.namespace.as_deref();
    let name = route.name.as_deref().unwrap_or_default();
    let target = if route.subresource.is_some() {
        Target::Status
    } else {
        Target::Object
    };
    let options = WriteOptions {
        dry_run: query.get("dryRun") == Some("All"),
        field_manager: query.get("fieldManager").map(str::to_owned),
    };
    let filter = || -> Result<Filter, Status> {
        let (labels, fields) =
            parse_selectors(query.get("labelSelector"), query.get("fieldSelector"), &ty)?;
        Ok(Filter {
            namespace: route.namespace.clone(),
            labels,
            fields,
        })
    };
    let Some(verb) = verb else {
        return Err(status::method_not_allowed());
    };
    let no_subresource = || {
        if route.subresource.is_some() {
            Err(status::method_not_allowed())
        } else {
            Ok(())
        }
    };
    Ok(match verb {
        Verb::Get => Reply::Json(200, state.get(key, namespace, name)?),
        Verb::List => Reply::Json(
            200,
            state.list(
                key,
                &ListRequest {
                    filter: filter()?,
                    limit: query.get("limit").and_then(|l| l.parse().ok()),
                    continue_token: query
                        .get("continue")
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                    resource_version: query.get("resourceVersion").map(str::to_owned),
                    exact: query.get("resourceVersionMatch") == Some("Exact"),
                },
            )?,
        ),
        Verb::Watch => {
            let request = WatchRequest {
                path: path.to_owned(),
                filter: filter()?,
                resource_version: query.get("resourceVersion").map(str::to_owned),
                bookmarks: query.flag("allowWatchBookmarks"),
                send_initial_events: query.flag("sendInitialEvents"),
            };
            let (id, receiver) = state.watch(key, request)?;
            Reply::Watch {
                id,
                receiver,
                timeout: query
                    .get("timeoutSeconds")
                    .and_then(|t| t.parse::<u64>().ok())
                    .filter(|t| *t > 0)
                    .map(Duration::from_secs),
            }
        }
        Verb::Create => {
            if ty.namespaced && namespace.is_none() {
                return Err(status::method_not_allowed());
            }
            let object = parse_body(content_type, body)?;
            Reply::Json(201, state.create(key, namespace, object, &options)?)
        }
        Verb::Update => {
            let object = parse_body(content_type, body)?;
            Reply::Json(
                200,
                state.update(key, namespace, name, object, target, &options)?,
            )
        }
        Verb::Patch => {
            let kind = patch_kind(content_type)?;
            let (object, created) =
                state.patch(key, namespace, name, kind, body, target, &options)?;
            Reply::Json(if created { 201 } else { 200 }, object)
        }
        Verb::Delete => {
            no_subresource()?;
            let options = delete_options(body, query)?;
            Reply::Json(200, state.delete(key, namespace, name, &options)?)
        }
        Verb::DeleteCollection => {
            let options = delete_options(body, query)?;
            Reply::Json(200, state.delete_collection(key, &filter()?, &options)?)
        }
    })
}
