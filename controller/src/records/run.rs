//! `xcc-controller records`: the sidecar loop, the thin shell around the
//! pure [`super::build`].
//!
//! 1. A kube-runtime reflector watches `DNSRecord` objects in one namespace
//!    (as `DynamicObject`s, so that one object that does not match the type
//!    is reported as `NotARecord` instead of failing the whole list), and,
//!    when enabled, annotated EndpointSlices. Watch errors back off and
//!    resume; the store keeps the last state meanwhile.
//! 2. Nothing is published until every store has its initial list
//!    (`wait_until_ready`): never an empty or partial table at start.
//! 3. Then, on every change, after a short debounce that coalesces bursts,
//!    the whole record set is rebuilt from the stores (level-triggered, no
//!    deltas), written as a snapshot when its content changed, and each
//!    `DNSRecord`'s status is patched where it differs; a newly rejected
//!    record also gets a Kubernetes Event. A snapshot or status write that
//!    fails is retried after a backoff (1 s doubling to 60 s), change or not.
//! 4. While the API server is unreachable the snapshot in place stays, so
//!    the responder keeps serving it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ApiResource, DynamicObject, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use tokio::sync::Notify;
use xcc_responder::table::TableConfig;

use super::ObjectKey;
use super::build::{Planned, PublishGate, RecordDecoder, plan_records};
use super::endpointslices::{EndpointSlice, SliceApiVersion, derive_records};
use super::publish::SnapshotFile;
use crate::api::{DNSRecord, DNSRecordStatus, RecordState};
use crate::error::Error;
use crate::status::status_merge_patch;
use crate::telemetry::RecordsMetrics;

/// The field manager of every write this controller makes.
pub const FIELD_MANAGER: &str = "xcc-controller-records";

/// After a pass whose snapshot or status write failed, the next pass runs
/// this long later even when nothing changes (doubling per failed pass up
/// to [`RETRY_MAX`]): a failed write is retried, not left until the next
/// change of some object.
const RETRY_MIN: Duration = Duration::from_secs(1);
/// The longest wait before retrying failed writes.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What `records` is told to do.
#[derive(Clone, Debug)]
pub struct RecordsOptions {
    /// The namespace watched.
    pub namespace: String,
    /// The snapshot the responder reads.
    pub out: PathBuf,
    /// The zones served (their SOA and NS settings).
    pub table: TableConfig,
    /// Quiet time after a change before rebuilding.
    pub debounce: Duration,
    /// Watch `DNSRecord` objects.
    pub watch_records: bool,
    /// Watch annotated EndpointSlices, of this API version.
    pub watch_endpointslices: Option<SliceApiVersion>,
    /// This instance's name in Events (the pod name).
    pub instance: Option<String>,
}

/// Runs until `shutdown` completes or a store's writer is gone.
pub async fn run(
    client: Client,
    options: RecordsOptions,
    metrics: Arc<RecordsMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let changed = Arc::new(Changes::default());
    let record_resource = ApiResource::erase::<DNSRecord>(&());
    let records_api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &options.namespace, &record_resource);
    let records_store = options.watch_records.then(|| {
        let writer = reflector::store::Writer::new(record_resource.clone());
        let store = writer.as_reader();
        let stream = watcher(records_api.clone(), watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .touched_objects();
        let (changed, metrics) = (Arc::clone(&changed), Arc::clone(&metrics));
        tokio::spawn(async move {
            drive(
                "DNSRecord",
                stream,
                || changed.mark(),
                &metrics.watch_errors,
            )
            .await;
        });
        store
    });
    let slices_store = options.watch_endpointslices.map(|version| {
        let api: Api<EndpointSlice> =
            Api::namespaced_with(client.clone(), &options.namespace, &version);
        let writer = reflector::store::Writer::new(version);
        let store = writer.as_reader();
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .touched_objects();
        let (changed, metrics) = (Arc::clone(&changed), Arc::clone(&metrics));
        tokio::spawn(async move {
            drive(
                "EndpointSlice",
                stream,
                || changed.mark(),
                &metrics.watch_errors,
            )
            .await;
        });
        store
    });

    tokio::pin!(shutdown);
    // 2. The initial lists, before anything is published.
    let ready = async {
        if let Some(store) = &records_store {
            until_ready(store).await?;
        }
        if let Some(store) = &slices_store {
            until_ready(store).await?;
        }
        Ok::<(), Error>(())
    };
    tokio::select! {
        result = ready => result?,
        () = &mut shutdown => return Ok(()),
    }
    tracing::info!(namespace = %options.namespace, "initial lists complete; publishing");

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: FIELD_MANAGER.into(),
            instance: options.instance.clone(),
        },
    );
    let mut state = LoopState {
        decoder: RecordDecoder::default(),
        file: SnapshotFile::open(&options.out),
        gate: PublishGate::default(),
        rejected: HashMap::new(),
    };
    let mut table_config = options.table.clone();
    let mut retry = RETRY_MIN;
    // The initial list is not a change: the metric measures changes.
    changed.take_since();
    loop {
        let started = Instant::now();
        let records = records_store.as_ref().map(Store::state).unwrap_or_default();
        let slices = slices_store.as_ref().map(Store::state).unwrap_or_default();
        let complete = reconcile(
            &client,
            &records,
            &slices,
            &record_resource,
            &mut table_config,
            &mut state,
            &recorder,
            &metrics,
            &changed,
        )
        .await;
        metrics
            .rebuild_seconds
            .observe(started.elapsed().as_secs_f64());
        // A failed write is retried after a backoff, change or not.
        let retry_in = if complete {
            retry = RETRY_MIN;
            None
        } else {
            let wait = retry;
            retry = (retry * 2).min(RETRY_MAX);
            Some(wait)
        };
        let retry_timer = async {
            match retry_in {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = changed.notify.notified() => {}
            () = retry_timer => {}
            () = &mut shutdown => return Ok(()),
        }
        // Coalesce a burst of changes into one rebuild; a change during the
        // wait leaves a permit, so nothing is missed.
        tokio::time::sleep(options.debounce).await;
    }
}

/// Changes seen by the watches and not yet published: wakes the loop, and
/// remembers when the oldest of them arrived, for the change-to-publish
/// metric.
#[derive(Debug, Default)]
struct Changes {
    notify: Notify,
    since: std::sync::Mutex<Option<Instant>>,
}

impl Changes {
    /// A watch event arrived.
    fn mark(&self) {
        self.since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(Instant::now);
        self.notify.notify_one();
    }

    /// When the oldest pending change arrived; clears it (the pass about to
    /// read the stores includes it).
    fn take_since(&self) -> Option<Instant> {
        self.since.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What the loop keeps between rebuilds.
struct LoopState {
    /// The decoded records, reused while objects do not change.
    decoder: RecordDecoder,
    file: SnapshotFile,
    gate: PublishGate,
    /// Objects last reported as rejected, with the message, so an Event is
    /// emitted once per new rejection, not per rebuild.
    rejected: HashMap<ObjectKey, String>,
}

/// One level-triggered pass: build from the stores, publish, write statuses.
/// Returns whether every write needed succeeded (`false`: retry later).
#[allow(clippy::too_many_arguments)]
async fn reconcile(
    client: &Client,
    objects: &[Arc<DynamicObject>],
    slices: &[Arc<EndpointSlice>],
    resource: &ApiResource,
    config: &mut TableConfig,
    state: &mut LoopState,
    recorder: &Recorder,
    metrics: &RecordsMetrics,
    changed: &Changes,
) -> bool {
    let mut complete = true;
    let change_since = changed.take_since();
    let decoded = state.decoder.decode(objects);
    let derived = derive_records(slices);
    config.version = state.file.next_version();
    // The table first: it is published before the statuses are worked out.
    let Planned {
        table,
        digest,
        decisions,
    } = plan_records(
        &decoded.records,
        &decoded.unreadable,
        &derived.records,
        config,
    );
    metrics
        .records_seen
        .store(objects.len() as u64, Ordering::Relaxed);
    let (accepted, rejected) = (decisions.accepted_count(), decisions.rejected_count());
    metrics
        .records_accepted
        .store(accepted as u64, Ordering::Relaxed);
    metrics
        .records_rejected
        .store(rejected as u64, Ordering::Relaxed);
    if state.gate.needs_publish(digest) {
        match state.file.replace(&table) {
            Ok(replaced) => {
                // Counted as soon as the new file is in place, before the
                // directory flush: the responder may already serve it, and
                // whoever sees it served should see it counted (the flush
                // can take long on a busy disk).
                metrics.publish_ok(table.version());
                if let Some(since) = change_since {
                    metrics
                        .change_to_publish_seconds
                        .observe(since.elapsed().as_secs_f64());
                }
                match replaced.make_durable() {
                    Ok(()) => {
                        state.gate.published(digest);
                        tracing::info!(
                            version = table.version(),
                            records = table.record_count(),
                            accepted,
                            rejected,
                            file = %state.file.path().display(),
                            "snapshot published"
                        );
                    }
                    Err(error) => {
                        // Served, but a crash could bring the old file
                        // back: not marked published, so the retry pass
                        // (after the backoff) writes it again, with a
                        // higher version, and flushes that.
                        complete = false;
                        metrics.publish_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(file = %state.file.path().display(), %error, "the snapshot is in place but its directory cannot be flushed; writing it again later");
                    }
                }
            }
            Err(error) => {
                complete = false;
                // The retry publishes this change: keep its time.
                if let Some(since) = change_since {
                    changed
                        .since
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(since);
                }
                metrics.publish_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(file = %state.file.path().display(), %error, "cannot write the snapshot; the old one stays");
            }
        }
    }
    drop(table);
    let report = decisions.report();
    // Statuses: patch only what differs from what the object says.
    let by_key: HashMap<ObjectKey, &Arc<DynamicObject>> =
        objects.iter().map(|o| (ObjectKey::of(&**o), o)).collect();
    // The statuses objects have now, from the decoded records (no JSON
    // decoding per object and pass).
    let current_statuses: HashMap<(&str, &str), Option<&DNSRecordStatus>> = decoded
        .records
        .iter()
        .map(|r| {
            (
                (
                    r.record.metadata.namespace.as_deref().unwrap_or_default(),
                    r.record.metadata.name.as_deref().unwrap_or_default(),
                ),
                r.record.status.as_ref(),
            )
        })
        .collect();
    for status in &report.statuses {
        let Some(object) = by_key.get(&status.key) else {
            continue;
        };
        let current: Option<DNSRecordStatus> = match current_statuses
            .get(&(status.key.namespace.as_str(), status.key.name.as_str()))
        {
            Some(current) => current.cloned(),
            // Not a readable record: read what status it has.
            None => object
                .data
                .get("status")
                .and_then(|s| serde_json::from_value(s.clone()).ok()),
        };
        if current.as_ref() != Some(&status.status) {
            let api: Api<DNSRecord> = Api::namespaced(client.clone(), &status.key.namespace);
            let patch = status_merge_patch(&status.status, object.data.get("status"));
            match api
                .patch_status(&status.key.name, &PatchParams::default(), &patch)
                .await
            {
                Ok(_) => metrics.status_writes.fetch_add(1, Ordering::Relaxed),
                Err(error) => {
                    complete = false;
                    tracing::warn!(object = %status.key, %error, "cannot write the status");
                    metrics.status_failures.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
        let message = status.status.message.clone().unwrap_or_default();
        let rejected = status.status.state == Some(RecordState::Rejected);
        let previous = state.rejected.get(&status.key);
        if rejected && previous != Some(&message) {
            tracing::warn!(object = %status.key, %message, "record rejected");
            let event = Event {
                type_: EventType::Warning,
                reason: status
                    .status
                    .reason
                    .map_or("Rejected", |r| r.as_str())
                    .to_owned(),
                note: Some(truncate(&message, 1000)),
                action: "Validate".into(),
                secondary: None,
            };
            match recorder.publish(&event, &object.object_ref(resource)).await {
                Ok(()) => {
                    state.rejected.insert(status.key.clone(), message);
                }
                Err(error) => {
                    // Not remembered as reported: the retry pass (after
                    // the backoff) sends it again.
                    complete = false;
                    metrics.event_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(object = %status.key, %error, "cannot emit the event; retrying later");
                }
            }
        } else if !rejected {
            state.rejected.remove(&status.key);
        }
    }
    state.rejected.retain(|key, _| by_key.contains_key(key));
    complete
}

/// Waits until `store` holds its initial list; `WatchEnded` when its watch
/// ended first.
pub(crate) async fn until_ready<K>(store: &Store<K>) -> Result<(), Error>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Clone + Eq + std::hash::Hash,
{
    store
        .wait_until_ready()
        .await
        .map_err(|_| Error::WatchEnded)
}

/// Drives one reflector stream: every event wakes the rebuild loop; errors
/// are counted and logged (the stream backs off and resumes by itself).
pub(crate) async fn drive<S, K>(
    kind: &'static str,
    stream: S,
    on_event: impl Fn(),
    watch_errors: &std::sync::atomic::AtomicU64,
) where
    S: futures::Stream<Item = Result<K, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream.into_stream());
    while let Some(item) = stream.next().await {
        match item {
            Ok(_) => on_event(),
            Err(error) => {
                watch_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(kind, %error, "watch error; backing off and resuming");
            }
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
