//! Faults a real API server will not produce on demand, injected through
//! kube's client over a mock service (`tower_test::mock::pair` +
//! `kube::Client::new(service, ns)`, the pattern of kube-rs's
//! `controller-rs`): a watch answered with 410 Gone, and a 500 on the
//! status patch. A small fake behind the mock answers list, watch, status
//! patch and Event requests for one namespace. Each test is bounded by a
//! timeout.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::StreamBody;
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::Handle;

use crate::apiserver::{InProcessController, addresses, ips, wait_for};

const NAMESPACE: &str = "mock";
const RECORDS_PATH: &str =
    "/apis/connectivity.tanzu.vmware.com/v1alpha1/namespaces/mock/dnsrecords";
/// Every test here must finish within this.
const TEST_LIMIT: Duration = Duration::from_secs(30);

type Chunk = Result<Frame<Bytes>, Infallible>;
type MockBody = StreamBody<mpsc::UnboundedReceiver<Chunk>>;

/// A response body that streams what is sent into the returned sender, and
/// ends when the sender is dropped.
fn streaming() -> (mpsc::UnboundedSender<Chunk>, MockBody) {
    let (sender, receiver) = mpsc::unbounded();
    (sender, StreamBody::new(receiver))
}

fn respond(code: StatusCode, body: &Value) -> Response<MockBody> {
    let (sender, stream) = streaming();
    sender
        .unbounded_send(Ok(Frame::data(Bytes::from(body.to_string()))))
        .unwrap();
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(stream)
        .unwrap()
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "code": code, "reason": reason, "message": message,
    })
}

fn record(name: &str, owner: &str, address: &str) -> Value {
    json!({
        "apiVersion": "connectivity.tanzu.vmware.com/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {
            "name": name, "namespace": NAMESPACE, "uid": format!("uid-{name}"),
            "resourceVersion": "1", "generation": 1,
            "creationTimestamp": "2025-01-01T00:00:00Z",
        },
        "spec": { "name": owner, "ttl": 30, "addresses": [address] },
    })
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let object = target.as_object_mut().unwrap();
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// What the fake does and has seen.
#[derive(Default)]
struct Fake {
    records: BTreeMap<String, Value>,
    resource_version: u64,
    /// Watch requests answered so far.
    watches: usize,
    /// List requests answered so far.
    lists: usize,
    /// The first N watches get 410 Gone; records put in `after_gone` are
    /// added to the store when the first one is sent (changes the client
    /// missed, to be seen by its relist).
    gone_watches: usize,
    after_gone: Vec<Value>,
    /// The first N status patches get 500.
    failing_status_patches: usize,
    status_patches: usize,
    /// The first N Events get 500.
    failing_events: usize,
    /// The Events received.
    events: Vec<Value>,
    /// The bodies of watches held open, to push events into.
    open_watches: Vec<mpsc::UnboundedSender<Chunk>>,
    /// Requests the fake does not know.
    unexpected: Vec<String>,
}

impl Fake {
    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    fn push_event(&mut self, kind: &str, object: &Value) {
        let line = format!("{}\n", json!({ "type": kind, "object": object }));
        self.open_watches.retain(|w| {
            w.unbounded_send(Ok(Frame::data(Bytes::from(line.clone()))))
                .is_ok()
        });
    }

    /// Adds (or replaces) a record and tells the open watches.
    fn put(&mut self, mut object: Value) {
        object["metadata"]["resourceVersion"] = json!(self.next_version());
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let kind = if self.records.contains_key(&name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.records.insert(name, object.clone());
        self.push_event(kind, &object);
    }

    fn handle(
        &mut self,
        method: &Method,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Response<MockBody> {
        if method == Method::GET && path == RECORDS_PATH && query.contains("watch=true") {
            self.watches += 1;
            if self.gone_watches > 0 {
                self.gone_watches -= 1;
                for object in std::mem::take(&mut self.after_gone) {
                    self.put(object);
                }
                let event = json!({
                    "type": "ERROR",
                    "object": status_body(410, "Expired", "too old resource version: 1 (5)"),
                });
                return respond(StatusCode::OK, &event);
            }
            // Held open until the fake is dropped.
            let (sender, stream) = streaming();
            self.open_watches.push(sender);
            return Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(stream)
                .unwrap();
        }
        if method == Method::GET && path == RECORDS_PATH {
            self.lists += 1;
            let version = self.next_version();
            let items: Vec<&Value> = self.records.values().collect();
            return respond(
                StatusCode::OK,
                &json!({
                    "apiVersion": "connectivity.tanzu.vmware.com/v1alpha1",
                    "kind": "DNSRecordList",
                    "metadata": { "resourceVersion": version },
                    "items": items,
                }),
            );
        }
        if method == Method::PATCH
            && let Some(name) = path
                .strip_prefix(RECORDS_PATH)
                .and_then(|p| p.strip_prefix('/'))
                .and_then(|p| p.strip_suffix("/status"))
        {
            self.status_patches += 1;
            if self.failing_status_patches > 0 {
                self.failing_status_patches -= 1;
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &status_body(500, "InternalError", "etcdserver: request timed out"),
                );
            }
            let Some(mut object) = self.records.get(name).cloned() else {
                return respond(StatusCode::NOT_FOUND, &status_body(404, "NotFound", name));
            };
            let patch: Value = serde_json::from_slice(body).unwrap();
            merge(&mut object, &json!({ "status": patch["status"] }));
            self.put(object.clone());
            return respond(StatusCode::OK, &self.records[name]);
        }
        if method == Method::POST && path == "/apis/events.k8s.io/v1/namespaces/mock/events" {
            if self.failing_events > 0 {
                self.failing_events -= 1;
                return respond(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &status_body(500, "InternalError", "etcdserver: request timed out"),
                );
            }
            let event: Value = serde_json::from_slice(body).unwrap();
            self.events.push(event.clone());
            return respond(StatusCode::CREATED, &event);
        }
        self.unexpected.push(format!("{method} {path}?{query}"));
        respond(StatusCode::NOT_FOUND, &status_body(404, "NotFound", path))
    }
}

/// A client whose requests the fake answers (on a task of its own).
fn mock_client(fake: Arc<Mutex<Fake>>) -> Client {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<MockBody>>();
    tokio::spawn(serve(handle, fake));
    Client::new(service, NAMESPACE)
}

async fn serve(mut handle: Handle<Request<Body>, Response<MockBody>>, fake: Arc<Mutex<Fake>>) {
    while let Some((request, send)) = handle.next_request().await {
        let (parts, body) = request.into_parts();
        let body = body.collect_bytes().await.unwrap_or_default();
        let response = fake.lock().unwrap().handle(
            &parts.method,
            parts.uri.path(),
            parts.uri.query().unwrap_or(""),
            &body,
        );
        send.send_response(response);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_answered_410_gone_relists_and_recovers() {
    tokio::time::timeout(TEST_LIMIT, async {
        let fake = Arc::new(Mutex::new(Fake {
            gone_watches: 1,
            after_gone: vec![record("missed", "missed.mock.xcc.test", "10.7.0.2")],
            ..Fake::default()
        }));
        fake.lock()
            .unwrap()
            .put(record("first", "first.mock.xcc.test", "10.7.0.1"));
        let controller = InProcessController::start(mock_client(Arc::clone(&fake)), NAMESPACE);
        controller.first_snapshot().await;
        // The watch gets 410 Gone; the watcher backs off, lists again, and
        // so sees the record it missed.
        let table = controller
            .snapshot_where("the missed record", Duration::from_secs(20), |t| {
                addresses(t, "missed.mock.xcc.test").is_some()
            })
            .await;
        assert_eq!(
            addresses(&table, "first.mock.xcc.test"),
            Some(ips(&["10.7.0.1"]))
        );
        assert!(controller.counter(|m| &m.watch_errors) >= 1);
        assert!(controller.is_running());
        {
            let fake = fake.lock().unwrap();
            assert_eq!(fake.lists, 2, "one list at start, one after the 410");
            assert!(fake.watches >= 2);
            assert!(fake.unexpected.is_empty(), "{:?}", fake.unexpected);
        }
        // Still watching: a change pushed now is published.
        fake.lock()
            .unwrap()
            .put(record("later", "later.mock.xcc.test", "10.7.0.3"));
        controller
            .snapshot_where(
                "the record added after recovery",
                Duration::from_secs(10),
                |t| addresses(t, "later.mock.xcc.test").is_some(),
            )
            .await;
        controller.stop().await;
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_status_patch_is_counted_and_retried() {
    tokio::time::timeout(TEST_LIMIT, async {
        // Two failures: the first pass, and the pass that the initial
        // list's own events trigger right after it. After that no event
        // comes (the fake sends one only for a successful patch), so only a
        // retry can write the status.
        let fake = Arc::new(Mutex::new(Fake {
            failing_status_patches: 2,
            ..Fake::default()
        }));
        fake.lock()
            .unwrap()
            .put(record("first", "first.mock.xcc.test", "10.8.0.1"));
        let controller = InProcessController::start(mock_client(Arc::clone(&fake)), NAMESPACE);
        let table = controller.first_snapshot().await;
        assert_eq!(
            addresses(&table, "first.mock.xcc.test"),
            Some(ips(&["10.8.0.1"]))
        );
        // The status patches get 500: counted; the snapshot stands.
        wait_for(
            "two status failures counted",
            Duration::from_secs(10),
            || async { (controller.counter(|m| &m.status_failures) == 2).then_some(()) },
        )
        .await;
        // Retried without any object changing (the fake sends no event
        // until a patch succeeds).
        wait_for(
            "the status written on retry",
            Duration::from_secs(10),
            || async {
                let fake = fake.lock().unwrap();
                (fake.records["first"]["status"]["state"] == "Accepted"
                    && controller.counter(|m| &m.status_writes) == 1)
                    .then_some(())
            },
        )
        .await;
        assert_eq!(controller.counter(|m| &m.status_failures), 2);
        assert_eq!(fake.lock().unwrap().status_patches, 3);
        assert_eq!(
            fake.lock().unwrap().records["first"]["status"]["observedGeneration"],
            1
        );
        // And the loop goes on: a new record is published and gets its
        // status.
        fake.lock()
            .unwrap()
            .put(record("second", "second.mock.xcc.test", "10.8.0.2"));
        controller
            .snapshot_where("the second record", Duration::from_secs(10), |t| {
                addresses(t, "second.mock.xcc.test").is_some()
            })
            .await;
        wait_for("the second status", Duration::from_secs(10), || async {
            let fake = fake.lock().unwrap();
            (fake.records["second"]["status"]["state"] == "Accepted").then_some(())
        })
        .await;
        assert_eq!(controller.counter(|m| &m.publishes), 2);
        assert!(fake.lock().unwrap().unexpected.is_empty());
        controller.stop().await;
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_event_is_sent_again() {
    tokio::time::timeout(TEST_LIMIT, async {
        let fake = Arc::new(Mutex::new(Fake {
            failing_events: 1,
            ..Fake::default()
        }));
        fake.lock()
            .unwrap()
            .put(record("outside", "example.com", "10.8.0.3"));
        let controller = InProcessController::start(mock_client(Arc::clone(&fake)), NAMESPACE);
        controller.first_snapshot().await;
        // The rejection's Event fails once: counted, then sent on a retry
        // pass although nothing changed, and only once.
        wait_for("the event sent", Duration::from_secs(10), || async {
            (fake.lock().unwrap().events.len() == 1).then_some(())
        })
        .await;
        assert_eq!(controller.counter(|m| &m.event_failures), 1);
        let event = fake.lock().unwrap().events[0].clone();
        assert_eq!(event["type"], "Warning");
        assert_eq!(event["reason"], "OutsideZone");
        assert_eq!(event["regarding"]["name"], "outside");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(fake.lock().unwrap().events.len(), 1);
        assert!(fake.lock().unwrap().unexpected.is_empty());
        controller.stop().await;
    })
    .await
    .expect("the test finishes in time");
}
