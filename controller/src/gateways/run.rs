//! `xcc-controller gateways`: the loop around [`super::desired`].
//!
//! 1. Reflectors on the management cluster: `GatewayDNS` (all namespaces),
//!    Cluster API `Cluster`s (the version the server prefers, v1beta2 or
//!    v1beta1, as `DynamicObject`s) and the kubeconfig Secrets (type
//!    `cluster.x-k8s.io/secret`). Nothing is decided before their initial
//!    lists are complete.
//! 2. One `Workload` per provisioned cluster (module `workload`): its
//!    client, the probe of its `xcc-dns` namespace, the watches on its
//!    gateway Services (and Nodes for `nodePort` gateways), and its writer.
//!    Each cluster has its own tasks: a slow or unreachable cluster never
//!    delays the others.
//! 3. On every change (debounced), each namespace is planned again from
//!    the whole state (level-triggered); each target cluster's writer gets
//!    the newest desired set (older ones it has not started are dropped),
//!    and GatewayDNS statuses are patched where they differ. Hostnames of
//!    load balancers are resolved here, for every cluster at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ApiResource, DynamicObject, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::credentials::WorkloadCredentials;
use super::desired::{ClusterView, Lifecycle, NamespaceInput, NamespacePlan, plan_namespace};
use super::workload::{
    Workload, ensure_node_watches, ensure_service_watches, ensure_workload, publish,
};
use crate::api::{ClusterState, GatewayDNS, GatewayDNSStatus};
use crate::error::Error;
use crate::records::run::{drive, until_ready};
use crate::status::status_merge_patch;
use crate::telemetry::GatewaysMetrics;

/// The field manager of every write this controller makes.
pub const FIELD_MANAGER: &str = "xcc-controller-gateways";
/// The Cluster API group.
pub const CLUSTER_API_GROUP: &str = "cluster.x-k8s.io";
/// The type of Cluster API kubeconfig Secrets.
pub const KUBECONFIG_SECRET_TYPE: &str = "cluster.x-k8s.io/secret";

/// Retries of a failed write or probe start here and double up to
/// [`RETRY_MAX`].
pub(super) const RETRY_MIN: Duration = Duration::from_millis(500);
pub(super) const RETRY_MAX: Duration = Duration::from_secs(30);
/// How often a connected cluster's `xcc-dns` namespace is probed again.
pub(super) const PROBE_EVERY: Duration = Duration::from_secs(30);
/// How often a writer applies its whole set again, changed or not.
pub(super) const REWRITE_EVERY: Duration = Duration::from_secs(300);
/// How often a watched gateway Service is read again to confirm it.
pub const CONFIRM_EVERY: Duration = Duration::from_secs(300);
/// How often load-balancer hostnames are resolved again.
const RESOLVE_EVERY: Duration = Duration::from_secs(30);

/// What `gateways` is told to do.
#[derive(Clone, Debug)]
pub struct GatewaysOptions {
    /// The DNS suffix (`xcc.test`).
    pub suffix: String,
    /// The namespace of the records in workload clusters.
    pub record_namespace: String,
    /// Quiet time after a change before planning.
    pub debounce: Duration,
    /// How to authenticate to workload clusters.
    pub credentials: WorkloadCredentials,
    /// The management namespaces to watch (GatewayDNS, Clusters, kubeconfig
    /// Secrets); empty: all. With a list, the controller's rights can be
    /// RoleBindings in those namespaces instead of cluster-wide ones.
    pub namespaces: Vec<String>,
    /// Where the least-privilege accounts' tokens are kept, one file per
    /// workload cluster (a private, memory-backed volume in the manifests).
    pub token_dir: PathBuf,
    /// Renew each token after this long instead of at two thirds of its
    /// lifetime (never later than that).
    pub token_renewal: Option<Duration>,
    /// How often a watched gateway Service is read again to confirm it
    /// (its `lastSuccessTime` in status moves then, and the status is
    /// written again).
    pub confirm_every: Duration,
}

impl Default for GatewaysOptions {
    fn default() -> Self {
        Self {
            suffix: "xcc.test".to_owned(),
            record_namespace: "xcc-dns".to_owned(),
            debounce: Duration::from_millis(20),
            credentials: WorkloadCredentials::ServiceAccount,
            namespaces: Vec::new(),
            token_dir: std::env::temp_dir().join("xcc-dns-gateways-tokens"),
            token_renewal: None,
            confirm_every: CONFIRM_EVERY,
        }
    }
}

/// Runs until `shutdown` completes.
pub async fn run(
    client: Client,
    options: GatewaysOptions,
    metrics: Arc<GatewaysMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    // Not ready (to serve as the leader) until the initial lists are in.
    metrics.ready.store(false, Ordering::Relaxed);
    let changed = Arc::new(Notify::new());
    let cluster_resource = cluster_resource(&client).await?;
    tracing::info!(
        version = %cluster_resource.version,
        "watching Cluster API Clusters"
    );

    // GatewayDNS as untyped objects, decoded one by one: one object that
    // does not fit the type is reported and skipped, where a typed watch
    // would fail its whole list. One reflector per watched namespace (or
    // one for all).
    let gateway_resource = ApiResource::erase::<GatewayDNS>(&());
    let scopes: Vec<Option<&str>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options
            .namespaces
            .iter()
            .map(|n| Some(n.as_str()))
            .collect()
    };
    let dynamic_api = |resource: &ApiResource, scope: Option<&str>| match scope {
        None => Api::<DynamicObject>::all_with(client.clone(), resource),
        Some(namespace) => {
            Api::<DynamicObject>::namespaced_with(client.clone(), namespace, resource)
        }
    };
    let mut sources = Sources::default();
    for scope in scopes {
        sources.gateways.push(reflect(
            "GatewayDNS",
            dynamic_api(&gateway_resource, scope),
            gateway_resource.clone(),
            watcher::Config::default(),
            &changed,
            &metrics,
        ));
        sources.clusters.push(reflect(
            "Cluster",
            dynamic_api(&cluster_resource, scope),
            cluster_resource.clone(),
            watcher::Config::default(),
            &changed,
            &metrics,
        ));
        sources.secrets.push(reflect(
            "Secret",
            match scope {
                None => Api::<Secret>::all(client.clone()),
                Some(namespace) => Api::<Secret>::namespaced(client.clone(), namespace),
            },
            (),
            watcher::Config::default().fields(&format!("type={KUBECONFIG_SECRET_TYPE}")),
            &changed,
            &metrics,
        ));
    }

    tokio::pin!(shutdown);
    let ready = async {
        for store in sources.gateways.iter().chain(&sources.clusters) {
            until_ready(store).await?;
        }
        for store in &sources.secrets {
            until_ready(store).await?;
        }
        Ok::<(), Error>(())
    };
    tokio::select! {
        result = ready => result?,
        () = &mut shutdown => return Ok(()),
    }
    tracing::info!("initial lists complete; reconciling");
    metrics.ready.store(true, Ordering::Relaxed);

    let shared = Arc::new(Shared {
        options,
        changed: Arc::clone(&changed),
        metrics: Arc::clone(&metrics),
        workloads: DashMap::new(),
        resolved: Mutex::new(BTreeMap::new()),
        invalid_logged: Mutex::new(BTreeSet::new()),
    });
    let mut resolvers: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        let started = Instant::now();
        reconcile(&client, &shared, &sources, &mut resolvers).await;
        metrics.reconciles.fetch_add(1, Ordering::Relaxed);
        metrics
            .reconcile_seconds
            .observe(started.elapsed().as_secs_f64());
        tokio::select! {
            () = changed.notified() => {}
            // Statuses name times ("last success"); refresh them now and
            // then even when nothing happens.
            () = tokio::time::sleep(PROBE_EVERY) => {}
            () = &mut shutdown => break,
        }
        tokio::time::sleep(shared.options.debounce).await;
    }
    for entry in shared.workloads.iter() {
        entry.value().stop();
    }
    for (_, task) in resolvers {
        task.abort();
    }
    Ok(())
}

/// The Cluster resource in the version the management cluster prefers.
async fn cluster_resource(client: &Client) -> Result<ApiResource, Error> {
    let group = kube::discovery::group(client, CLUSTER_API_GROUP)
        .await
        .map_err(|source| Error::Kube {
            context: format!(
                "discovering the {CLUSTER_API_GROUP} API group (is Cluster API installed?)"
            ),
            source,
        })?;
    let (resource, _) = group.recommended_kind("Cluster").ok_or_else(|| {
        Error::MissingApi(format!(
            "the {CLUSTER_API_GROUP} API group serves no Cluster kind"
        ))
    })?;
    Ok(resource)
}

/// What the reflectors on the management cluster hold, one store per
/// watched namespace (or one for all).
#[derive(Default)]
struct Sources {
    gateways: Vec<Store<DynamicObject>>,
    clusters: Vec<Store<DynamicObject>>,
    secrets: Vec<Store<Secret>>,
}

/// Every object of `stores`.
fn all_of<K>(stores: &[Store<K>]) -> Vec<Arc<K>>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Clone + Eq + std::hash::Hash,
{
    stores.iter().flat_map(Store::state).collect()
}

/// A reflector on `api` (objects of type `dyntype`: `()` for typed
/// objects, the `ApiResource` for untyped ones) whose every event wakes the
/// loop.
fn reflect<K>(
    kind: &'static str,
    api: Api<K>,
    dyntype: K::DynamicType,
    config: watcher::Config,
    changed: &Arc<Notify>,
    metrics: &Arc<GatewaysMetrics>,
) -> Store<K>
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Clone + Eq + std::hash::Hash + Send + Sync,
{
    let writer = reflector::store::Writer::new(dyntype);
    let store = writer.as_reader();
    let stream = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    let (changed, metrics) = (Arc::clone(changed), Arc::clone(metrics));
    tokio::spawn(async move {
        drive(kind, stream, || changed.notify_one(), &metrics.watch_errors).await;
    });
    store
}

//----------- Shared state -----------------------------------------------------

/// What the loop and the per-cluster tasks share.
pub(super) struct Shared {
    pub(super) options: GatewaysOptions,
    /// Wakes the loop for a pass.
    pub(super) changed: Arc<Notify>,
    pub(super) metrics: Arc<GatewaysMetrics>,
    /// By (management namespace, cluster).
    pub(super) workloads: DashMap<(String, String), Arc<Workload>>,
    /// Load-balancer hostnames and what they resolved to.
    resolved: Mutex<BTreeMap<String, Vec<IpAddr>>>,
    /// The invalid GatewayDNS versions already logged (namespace/name,
    /// resourceVersion), so each is logged once, not at every pass.
    invalid_logged: Mutex<BTreeSet<(String, String)>>,
}

//----------- One pass -----------------------------------------------------------

async fn reconcile(
    management: &Client,
    shared: &Arc<Shared>,
    sources: &Sources,
    resolvers: &mut HashMap<String, JoinHandle<()>>,
) {
    let gateways = decode_gateways(
        &all_of(&sources.gateways),
        &shared.metrics,
        &mut shared
            .invalid_logged
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    );
    let clusters = all_of(&sources.clusters);
    let secrets = all_of(&sources.secrets);
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    namespaces.extend(gateways.iter().filter_map(|g| g.namespace()));
    namespaces.extend(clusters.iter().filter_map(|c| c.namespace()));

    let mut wanted_workloads: BTreeSet<(String, String)> = BTreeSet::new();
    let mut wanted_hostnames: BTreeSet<String> = BTreeSet::new();
    let now = Time(jiff::Timestamp::now());
    let mut cluster_counts = [0u64; 4];
    for namespace in &namespaces {
        let gateways_here: Vec<GatewayDNS> = gateways
            .iter()
            .filter(|g| g.namespace().as_deref() == Some(namespace))
            .cloned()
            .collect();
        let cluster_views: Vec<ClusterView> = clusters
            .iter()
            .filter(|c| c.namespace().as_deref() == Some(namespace))
            .map(|c| cluster_view(c))
            .collect();
        // Connections: one workload per provisioned cluster.
        let mut connections = BTreeMap::new();
        for cluster in &cluster_views {
            if cluster.lifecycle != Lifecycle::Provisioned {
                continue;
            }
            let key = (namespace.clone(), cluster.name.clone());
            wanted_workloads.insert(key.clone());
            let secret = secrets.iter().find(|s| {
                s.namespace().as_deref() == Some(namespace)
                    && s.name_any() == format!("{}-kubeconfig", cluster.name)
            });
            let workload = ensure_workload(shared, &key, secret.map(|s| &**s)).await;
            connections.insert(cluster.name.clone(), workload.connection());
        }
        // Services and Nodes, as the watches have seen them.
        let mut services = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        let mut changed_at: BTreeMap<String, Instant> = BTreeMap::new();
        for entry in shared.workloads.iter() {
            let workload = entry.value();
            if workload.namespace == *namespace {
                workload.collect_views(&mut services, &mut nodes, &mut changed_at);
            }
        }
        let previous: BTreeMap<String, GatewayDNSStatus> = gateways_here
            .iter()
            .filter_map(|g| Some((g.name_any(), g.status.clone()?)))
            .collect();
        let resolved = shared
            .resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let plan = plan_namespace(&NamespaceInput {
            namespace,
            suffix: &shared.options.suffix,
            gateways: &gateways_here,
            clusters: &cluster_views,
            connections: &connections,
            services: &services,
            nodes: &nodes,
            resolved: &resolved,
            previous: &previous,
            now: &now,
        });
        wanted_hostnames.extend(plan.resolve.iter().cloned());
        ensure_service_watches(shared, namespace, &plan);
        ensure_node_watches(shared, namespace, &plan);
        publish(shared, namespace, &plan, &changed_at);
        write_statuses(management, shared, &gateways_here, &plan).await;
        count_clusters(&plan, &mut cluster_counts);
    }
    shared.metrics.set_cluster_counts(cluster_counts);

    // Clusters gone (or no longer provisioned): their tasks stop, their
    // clients are dropped.
    shared.workloads.retain(|key, workload| {
        let keep = wanted_workloads.contains(key);
        if !keep {
            tracing::info!(namespace = %key.0, cluster = %key.1, "cluster gone; dropping its client");
            workload.stop();
        }
        keep
    });
    // Hostname resolvers follow the hostnames in use.
    resolvers.retain(|hostname, task| {
        let keep = wanted_hostnames.contains(hostname);
        if !keep {
            task.abort();
            shared
                .resolved
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(hostname);
        }
        keep
    });
    for hostname in wanted_hostnames {
        resolvers
            .entry(hostname.clone())
            .or_insert_with(|| tokio::spawn(resolve_hostname(Arc::clone(shared), hostname)));
    }
}

/// The GatewayDNS objects that fit the type; the ones that do not are
/// skipped and the rest are planned as usual. Each invalid object version
/// is logged once (`logged` remembers them across passes and forgets the
/// ones gone), and the gauge says how many there are now.
fn decode_gateways(
    objects: &[Arc<DynamicObject>],
    metrics: &GatewaysMetrics,
    logged: &mut BTreeSet<(String, String)>,
) -> Vec<GatewayDNS> {
    let mut gateways = Vec::with_capacity(objects.len());
    let mut invalid = BTreeSet::new();
    for object in objects {
        let decoded =
            serde_json::to_value(&**object).and_then(serde_json::from_value::<GatewayDNS>);
        match decoded {
            Ok(gateway) => gateways.push(gateway),
            Err(error) => {
                let key = (
                    format!(
                        "{}/{}",
                        object.namespace().unwrap_or_default(),
                        object.name_any()
                    ),
                    object.resource_version().unwrap_or_default(),
                );
                if !logged.contains(&key) {
                    tracing::warn!(
                        gatewaydns = %key.0,
                        %error,
                        "not a valid GatewayDNS; skipped"
                    );
                }
                invalid.insert(key);
            }
        }
    }
    metrics
        .invalid_gateways
        .store(invalid.len() as u64, Ordering::Relaxed);
    *logged = invalid;
    gateways
}

/// A Cluster object as [`ClusterView`]: being deleted, provisioned (its
/// `status.phase` says `Provisioned`), or not yet.
fn cluster_view(object: &DynamicObject) -> ClusterView {
    let lifecycle = if object.metadata.deletion_timestamp.is_some() {
        Lifecycle::Deleting
    } else {
        match object
            .data
            .get("status")
            .and_then(|s| s.get("phase"))
            .and_then(|p| p.as_str())
        {
            Some("Provisioned") => Lifecycle::Provisioned,
            Some("Deleting") => Lifecycle::Deleting,
            Some(phase) => Lifecycle::Provisioning(phase.to_owned()),
            None => Lifecycle::Provisioning("Unknown".to_owned()),
        }
    };
    ClusterView {
        name: object.name_any(),
        labels: object.labels().clone(),
        lifecycle,
    }
}

/// Resolves a load balancer's hostname now and every [`RESOLVE_EVERY`].
async fn resolve_hostname(shared: Arc<Shared>, hostname: String) {
    loop {
        match tokio::net::lookup_host((hostname.as_str(), 0)).await {
            Ok(found) => {
                let mut ips: Vec<IpAddr> = found.map(|a| a.ip()).collect();
                ips.sort_unstable();
                ips.dedup();
                let mut resolved = shared.resolved.lock().unwrap_or_else(|e| e.into_inner());
                if resolved.get(&hostname) != Some(&ips) {
                    resolved.insert(hostname.clone(), ips);
                    shared.changed.notify_one();
                }
            }
            Err(error) => {
                tracing::warn!(%hostname, %error, "cannot resolve a load balancer's hostname");
            }
        }
        tokio::time::sleep(RESOLVE_EVERY).await;
    }
}

/// Patches each GatewayDNS's status where it differs.
async fn write_statuses(
    management: &Client,
    shared: &Shared,
    gateways: &[GatewayDNS],
    plan: &NamespacePlan,
) {
    for gateway in gateways {
        let name = gateway.name_any();
        let Some(status) = plan.statuses.get(&name) else {
            continue;
        };
        if gateway.status.as_ref() == Some(status) {
            continue;
        }
        let api: Api<GatewayDNS> =
            Api::namespaced(management.clone(), &gateway.namespace().unwrap_or_default());
        let old = gateway
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok());
        let patch = status_merge_patch(status, old.as_ref());
        match api
            .patch_status(&name, &PatchParams::default(), &patch)
            .await
        {
            Ok(_) => {
                shared.metrics.status_writes.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                shared
                    .metrics
                    .status_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(gatewaydns = %name, %error, "cannot write the status");
                shared.changed.notify_one();
            }
        }
    }
}

/// Counts the selected clusters by state: Ready, Pending, Unreachable,
/// Failed.
fn count_clusters(plan: &NamespacePlan, counts: &mut [u64; 4]) {
    for status in plan.statuses.values() {
        for cluster in &status.clusters {
            counts[match cluster.state {
                ClusterState::Ready => 0,
                ClusterState::Pending => 1,
                ClusterState::Unreachable => 2,
                ClusterState::Failed => 3,
            }] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_gateway_dns_that_does_not_fit_the_type_is_skipped_not_fatal() {
        let object = |name: &str, resolution: &str| -> Arc<DynamicObject> {
            Arc::new(
                serde_json::from_value(json!({
                    "apiVersion": "connectivity.tanzu.vmware.com/v1alpha1",
                    "kind": "GatewayDNS",
                    "metadata": {"name": name, "namespace": "dev-team"},
                    "spec": {
                        "clusterSelector": {"matchLabels": {"hasContour": "true"}},
                        "service": "projectcontour/envoy",
                        "resolutionType": resolution,
                    },
                }))
                .unwrap(),
            )
        };
        let metrics = GatewaysMetrics::new();
        let mut logged = BTreeSet::new();
        let objects = [
            object("good", "loadBalancer"),
            object("bad", "carrierPigeon"),
        ];
        for _ in 0..2 {
            let decoded = decode_gateways(&objects, &metrics, &mut logged);
            assert_eq!(decoded.len(), 1);
            assert_eq!(decoded[0].metadata.name.as_deref(), Some("good"));
            // A gauge: how many now, not how many passes saw it.
            assert_eq!(metrics.invalid_gateways.load(Ordering::Relaxed), 1);
            assert_eq!(logged.len(), 1, "logged once, remembered");
        }
        // Fixed (or deleted): forgotten, so a later breakage logs again.
        decode_gateways(&objects[..1], &metrics, &mut logged);
        assert!(logged.is_empty());
        assert_eq!(metrics.invalid_gateways.load(Ordering::Relaxed), 0);
    }
}
