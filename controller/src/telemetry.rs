//! The controller's metrics and health endpoint: `/metrics` (Prometheus
//! text), `/healthz` (the process is up), `/readyz` (the first snapshot has
//! been published).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Counters of `xcc-controller records`.
#[derive(Debug)]
pub struct RecordsMetrics {
    /// `DNSRecord` objects in the store at the last rebuild.
    pub records_seen: AtomicU64,
    /// Record groups accepted at the last rebuild.
    pub records_accepted: AtomicU64,
    /// Record groups rejected at the last rebuild.
    pub records_rejected: AtomicU64,
    /// Snapshots written.
    pub publishes: AtomicU64,
    /// Snapshot writes that failed.
    pub publish_failed: AtomicU64,
    /// Unix time of the last snapshot written (0: none yet).
    pub last_publish_unix: AtomicU64,
    /// Version of the last snapshot written.
    pub version: AtomicU64,
    /// Watch errors (each followed by a backoff and a resumed watch).
    pub watch_errors: AtomicU64,
    /// Status patches written.
    pub status_writes: AtomicU64,
    /// Status patches that failed.
    pub status_failures: AtomicU64,
    /// Kubernetes Events that could not be sent (each retried later).
    pub event_failures: AtomicU64,
    /// Seconds from the start of a rebuild to statuses written (the
    /// snapshot is written first): with the debounce, the time from an
    /// object's change to the responder's file.
    pub rebuild_seconds: Histogram,
    /// Seconds from the first watch event of a change (as the controller
    /// received it) to the snapshot holding it written: debounce, decode,
    /// build and write.
    pub change_to_publish_seconds: Histogram,
}

impl RecordsMetrics {
    /// Fresh counters.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            records_seen: AtomicU64::new(0),
            records_accepted: AtomicU64::new(0),
            records_rejected: AtomicU64::new(0),
            publishes: AtomicU64::new(0),
            publish_failed: AtomicU64::new(0),
            last_publish_unix: AtomicU64::new(0),
            version: AtomicU64::new(0),
            watch_errors: AtomicU64::new(0),
            status_writes: AtomicU64::new(0),
            status_failures: AtomicU64::new(0),
            event_failures: AtomicU64::new(0),
            rebuild_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            change_to_publish_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
        })
    }

    /// Counts a snapshot written with `version`.
    pub fn publish_ok(&self, version: u32) {
        self.publishes.fetch_add(1, Ordering::Relaxed);
        self.version.store(u64::from(version), Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_publish_unix.store(now, Ordering::Relaxed);
    }

    /// Whether a snapshot has been published.
    pub fn is_ready(&self) -> bool {
        self.publishes.load(Ordering::Relaxed) > 0
    }
}

/// The atomics, read on scrape.
#[derive(Debug)]
struct Counters(Arc<RecordsMetrics>);

impl Collector for Counters {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.0;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, value) in [
            (
                "xcc_records_publishes",
                "Snapshots written",
                load(&m.publishes),
            ),
            (
                "xcc_records_publish_failures",
                "Snapshot writes that failed",
                load(&m.publish_failed),
            ),
            (
                "xcc_records_watch_errors",
                "Watch errors (backed off and resumed)",
                load(&m.watch_errors),
            ),
            (
                "xcc_records_status_writes",
                "DNSRecord status patches written",
                load(&m.status_writes),
            ),
            (
                "xcc_records_status_failures",
                "DNSRecord status patches that failed",
                load(&m.status_failures),
            ),
            (
                "xcc_records_event_failures",
                "Events that could not be sent (retried later)",
                load(&m.event_failures),
            ),
        ] {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        for (name, help, value) in [
            (
                "xcc_records_seen",
                "DNSRecord objects at the last rebuild",
                load(&m.records_seen),
            ),
            (
                "xcc_records_accepted",
                "Record groups accepted at the last rebuild",
                load(&m.records_accepted),
            ),
            (
                "xcc_records_rejected",
                "Record groups rejected at the last rebuild",
                load(&m.records_rejected),
            ),
            (
                "xcc_records_snapshot_version",
                "Version (SOA serial) of the last snapshot",
                load(&m.version),
            ),
            (
                "xcc_records_last_publish_timestamp_seconds",
                "Unix time of the last snapshot",
                load(&m.last_publish_unix),
            ),
        ] {
            let metric = ConstGauge::new(value as i64);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        Ok(())
    }
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    metrics: Arc<RecordsMetrics>,
}

/// The router of the health and metrics endpoint.
pub fn router(metrics: Arc<RecordsMetrics>) -> Router {
    let mut registry = Registry::default();
    registry.register(
        "xcc_records_rebuild_seconds",
        "Seconds per rebuild: build, snapshot write, status writes",
        metrics.rebuild_seconds.clone(),
    );
    registry.register(
        "xcc_records_change_to_publish_seconds",
        "Seconds from a watch event to the snapshot holding the change written",
        metrics.change_to_publish_seconds.clone(),
    );
    registry.register_collector(Box::new(Counters(Arc::clone(&metrics))));
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(AdminState {
            registry: Arc::new(registry),
            metrics,
        })
}

/// Serves the endpoint on `address` until the task is dropped.
pub async fn serve(address: SocketAddr, metrics: Arc<RecordsMetrics>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, router(metrics)).await
}

async fn metrics_text(State(state): State<AdminState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (StatusCode::OK, body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding failed\n".into(),
        ),
    }
}

async fn ready(State(state): State<AdminState>) -> impl IntoResponse {
    if state.metrics.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no snapshot published yet\n",
        )
    }
}
