//! The controller's metrics and health endpoint: `/metrics` (Prometheus
//! text), `/healthz` (the process is up), `/readyz` (`records`: the first
//! snapshot has been published; `gateways`: the initial lists are in).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Snapshots written (counted once renamed into place, where the
    /// responder may read them, before the directory flush).
    pub publishes: AtomicU64,
    /// Snapshot writes that failed (a failed directory flush after the
    /// rename included: that snapshot is written again).
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

    /// Counts a snapshot with `version` put in place.
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

/// Whether the process is ready, asked on every `/readyz`.
type Readiness = Arc<dyn Fn() -> bool + Send + Sync>;

#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    ready: Readiness,
    /// What `/readyz` says while not ready.
    not_ready: &'static str,
}

/// The router of the health and metrics endpoint of `records`.
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
    admin_router(
        registry,
        Arc::new(move || metrics.is_ready()),
        "no snapshot published yet\n",
    )
}

/// The router of the health and metrics endpoint of `gateways`.
pub fn gateways_router(metrics: Arc<GatewaysMetrics>) -> Router {
    let mut registry = Registry::default();
    registry.register(
        "xcc_gateways_reconcile_seconds",
        "Seconds per reconcile pass (all namespaces; writes run apart)",
        metrics.reconcile_seconds.clone(),
    );
    registry.register(
        "xcc_gateways_propagation_seconds",
        "Seconds from a gateway Service change in a workload cluster to the DNSRecords written in a target cluster",
        metrics.propagation_seconds.clone(),
    );
    registry.register_collector(Box::new(GatewayCounters(Arc::clone(&metrics))));
    admin_router(
        registry,
        Arc::new(move || metrics.ready.load(Ordering::Relaxed)),
        "initial lists not complete yet\n",
    )
}

fn admin_router(registry: Registry, ready: Readiness, not_ready: &'static str) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready_text))
        .with_state(AdminState {
            registry: Arc::new(registry),
            ready,
            not_ready,
        })
}

/// Serves `router` on `address` until the task is dropped.
pub async fn serve_router(address: SocketAddr, router: Router) -> std::io::Result<()> {
    let listener = xcc_responder::admin::bind(address).await?;
    axum::serve(listener, router).await
}

/// Serves the endpoint of `records` on `address` until the task is dropped.
pub async fn serve(address: SocketAddr, metrics: Arc<RecordsMetrics>) -> std::io::Result<()> {
    serve_router(address, router(metrics)).await
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

async fn ready_text(State(state): State<AdminState>) -> impl IntoResponse {
    if (state.ready)() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, state.not_ready)
    }
}

//----------- gateways ---------------------------------------------------------

/// Counters of `xcc-controller gateways`.
#[derive(Debug)]
pub struct GatewaysMetrics {
    /// The initial lists are complete (`/readyz`).
    pub ready: AtomicBool,
    /// Reconcile passes.
    pub reconciles: AtomicU64,
    /// Seconds per pass.
    pub reconcile_seconds: Histogram,
    /// Watch errors (management and workload clusters).
    pub watch_errors: AtomicU64,
    /// Record writes to a workload cluster that failed (each retried).
    pub write_errors: AtomicU64,
    /// DNSRecords applied.
    pub records_applied: AtomicU64,
    /// DNSRecords deleted.
    pub records_deleted: AtomicU64,
    /// GatewayDNS status patches written.
    pub status_writes: AtomicU64,
    /// GatewayDNS status patches that failed.
    pub status_failures: AtomicU64,
    /// GatewayDNS objects that do not fit the type, at the last pass.
    pub invalid_gateways: AtomicU64,
    /// Seconds from a gateway Service change to the records written, per
    /// target cluster.
    pub propagation_seconds: Histogram,
    /// Workload-cluster account tokens renewed.
    pub token_renewals: AtomicU64,
    /// Token renewals that failed (each retried).
    pub token_renewal_failures: AtomicU64,
    /// Selected clusters by state at the last pass: Ready, Pending,
    /// Unreachable, Failed.
    clusters: [AtomicU64; 4],
}

impl GatewaysMetrics {
    /// Fresh counters.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            ready: AtomicBool::new(false),
            reconciles: AtomicU64::new(0),
            reconcile_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            watch_errors: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            records_applied: AtomicU64::new(0),
            records_deleted: AtomicU64::new(0),
            status_writes: AtomicU64::new(0),
            status_failures: AtomicU64::new(0),
            invalid_gateways: AtomicU64::new(0),
            propagation_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            token_renewals: AtomicU64::new(0),
            token_renewal_failures: AtomicU64::new(0),
            clusters: Default::default(),
        })
    }

    /// Sets the clusters-by-state gauges (Ready, Pending, Unreachable,
    /// Failed).
    pub fn set_cluster_counts(&self, counts: [u64; 4]) {
        for (gauge, count) in self.clusters.iter().zip(counts) {
            gauge.store(count, Ordering::Relaxed);
        }
    }
}

#[derive(Debug)]
struct GatewayCounters(Arc<GatewaysMetrics>);

impl Collector for GatewayCounters {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.0;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, value) in [
            (
                "xcc_gateways_reconciles",
                "Reconcile passes",
                load(&m.reconciles),
            ),
            (
                "xcc_gateways_watch_errors",
                "Watch errors (backed off and resumed)",
                load(&m.watch_errors),
            ),
            (
                "xcc_gateways_write_errors",
                "Failed writes of records to a workload cluster (retried)",
                load(&m.write_errors),
            ),
            (
                "xcc_gateways_records_applied",
                "DNSRecords applied",
                load(&m.records_applied),
            ),
            (
                "xcc_gateways_records_deleted",
                "DNSRecords deleted",
                load(&m.records_deleted),
            ),
            (
                "xcc_gateways_status_writes",
                "GatewayDNS status patches written",
                load(&m.status_writes),
            ),
            (
                "xcc_gateways_status_failures",
                "GatewayDNS status patches that failed",
                load(&m.status_failures),
            ),
            (
                "xcc_gateways_token_renewals",
                "Tokens of the least-privilege workload accounts renewed",
                load(&m.token_renewals),
            ),
            (
                "xcc_gateways_token_renewal_failures",
                "Token renewals that failed (retried while the token lives)",
                load(&m.token_renewal_failures),
            ),
        ] {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)?;
        }
        let invalid = ConstGauge::new(load(&m.invalid_gateways) as i64);
        invalid.encode(encoder.encode_descriptor(
            "xcc_gateways_invalid_gatewaydns",
            "GatewayDNS objects that do not fit the type, now (skipped; each logged once)",
            None,
            invalid.metric_type(),
        )?)?;
        let mut family = encoder.encode_descriptor(
            "xcc_gateways_clusters",
            "Selected clusters by state at the last pass",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (state, gauge) in ["Ready", "Pending", "Unreachable", "Failed"]
            .into_iter()
            .zip(&m.clusters)
        {
            let metric = ConstGauge::new(load(gauge) as i64);
            metric.encode(family.encode_family(&[("state", state)])?)?;
        }
        Ok(())
    }
}
