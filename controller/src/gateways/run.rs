//! `xcc-controller gateways`: the loop around [`super::desired`].
//!
//! 1. Reflectors on the management cluster: `GatewayDNS` (all namespaces),
//!    Cluster API `Cluster`s (the version the server prefers, v1beta2 or
//!    v1beta1, as `DynamicObject`s) and the kubeconfig Secrets (type
//!    `cluster.x-k8s.io/secret`). Nothing is decided before their initial
//!    lists are complete.
//! 2. One `Workload` per provisioned cluster: a client built from its
//!    kubeconfig Secret (rebuilt when the Secret changes, dropped when the
//!    cluster goes), a probe of its `xcc-dns` namespace, a watch on each
//!    gateway Service a GatewayDNS names (and on the cluster's Nodes when a
//!    `nodePort` GatewayDNS selects it), and one writer task that applies
//!    the records that cluster should hold. Each cluster has its own tasks:
//!    a slow or unreachable cluster never delays the others.
//! 3. On every change (debounced), each namespace is planned again from
//!    the whole state (level-triggered); each target cluster's writer gets
//!    the newest desired set (older ones it has not started are dropped),
//!    and GatewayDNS statuses are patched where they differ.
//!
//! Writers apply with server-side apply under the field manager
//! [`FIELD_MANAGER`], skip records unchanged since their last successful
//! write, and delete the records labelled as theirs (managed-by and the
//! source namespace) that nobody wants, except those of clusters whose
//! state is uncertain (`keep`). The first pass of every writer is the
//! garbage collection of what was left while the controller was down.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, ResourceExt};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::credentials::{
    WorkloadCredentials, account_client, grant_nodes, grant_service, install_account,
};
use super::desired::{
    ClusterView, Connection, DesiredRecord, Lifecycle, MANAGED_BY, MANAGED_BY_VALUE,
    NamespaceInput, NamespacePlan, NodesView, SOURCE_CLUSTER, SOURCE_NAMESPACE, ServiceView,
    plan_namespace,
};
use super::service::{NodeFacts, gateway_addresses, node_addresses, node_ports};
use crate::api::{ClusterState, DNSRecord, GatewayDNS, GatewayDNSStatus};
use crate::error::Error;
use crate::records::run::drive;
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
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// How often a connected cluster's `xcc-dns` namespace is probed again.
const PROBE_EVERY: Duration = Duration::from_secs(30);
/// How often a writer applies its whole set again, changed or not.
const REWRITE_EVERY: Duration = Duration::from_secs(300);
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
}

impl Default for GatewaysOptions {
    fn default() -> Self {
        Self {
            suffix: "xcc.test".to_owned(),
            record_namespace: "xcc-dns".to_owned(),
            debounce: Duration::from_millis(20),
            credentials: WorkloadCredentials::ServiceAccount,
            namespaces: Vec::new(),
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
            store
                .wait_until_ready()
                .await
                .map_err(|_| Error::WatchEnded)?;
        }
        for store in &sources.secrets {
            store
                .wait_until_ready()
                .await
                .map_err(|_| Error::WatchEnded)?;
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
struct Shared {
    options: GatewaysOptions,
    changed: Arc<Notify>,
    metrics: Arc<GatewaysMetrics>,
    /// By (management namespace, cluster).
    workloads: DashMap<(String, String), Arc<Workload>>,
    /// Load-balancer hostnames and what they resolved to.
    resolved: Mutex<BTreeMap<String, Vec<IpAddr>>>,
}

/// One workload cluster: its client and its tasks.
struct Workload {
    namespace: String,
    cluster: String,
    /// The kubeconfig Secret's resourceVersion the client was built from.
    secret_version: Option<String>,
    /// The kubeconfig's own (admin) identity: only to install the
    /// least-privilege account and grant it each Service (`None`: no usable
    /// kubeconfig).
    admin: Option<Client>,
    /// The client the work goes through, once connected.
    client: Mutex<Option<Client>>,
    /// When its token must be renewed (the workload is then rebuilt).
    renew_at: Mutex<Option<Instant>>,
    connection: Mutex<Connection>,
    /// Gateway Services watched, by `namespace/name`.
    services: Mutex<BTreeMap<String, ServiceWatch>>,
    /// The Nodes watch, while a `nodePort` gateway selects the cluster.
    nodes: Mutex<Option<NodesWatch>>,
    /// The writer's input: the newest desired set.
    desired: watch::Sender<Option<Arc<TargetSet>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct ServiceWatch {
    view: Arc<Mutex<WatchedService>>,
    task: JoinHandle<()>,
}

struct NodesWatch {
    view: Arc<Mutex<WatchedNodes>>,
    task: JoinHandle<()>,
}

/// What the Nodes watch has seen.
#[derive(Default)]
struct WatchedNodes {
    /// The Nodes, by name, once listed.
    nodes: Option<BTreeMap<String, NodeFacts>>,
    last_success: Option<Time>,
    trouble: Option<String>,
    /// When the published node addresses last changed.
    changed_at: Option<Instant>,
}

/// What a Service watch has seen.
#[derive(Default)]
struct WatchedService {
    /// The object (`None`: absent), once listed.
    object: Option<Option<Service>>,
    last_success: Option<Time>,
    trouble: Option<String>,
    /// When the last change of its addresses arrived (for the propagation
    /// metric).
    changed_at: Option<Instant>,
}

/// What one target cluster should hold.
#[derive(Debug)]
struct TargetSet {
    records: Vec<DesiredRecord>,
    keep: BTreeSet<String>,
    /// When the newest change among the records' sources arrived.
    changed_at: Option<Instant>,
}

impl Workload {
    fn client(&self) -> Option<Client> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn renewal_due(&self) -> bool {
        self.renew_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at <= Instant::now())
    }

    fn stop(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
        for (_, watch) in
            std::mem::take(&mut *self.services.lock().unwrap_or_else(|e| e.into_inner()))
        {
            watch.task.abort();
        }
        if let Some(watch) = self.nodes.lock().unwrap_or_else(|e| e.into_inner()).take() {
            watch.task.abort();
        }
    }

    fn connection(&self) -> Connection {
        self.connection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_connection(&self, connection: Connection, shared: &Shared) {
        let mut current = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        if *current != connection {
            tracing::info!(namespace = %self.namespace, cluster = %self.cluster, ?connection, "cluster connection");
            *current = connection;
            shared.changed.notify_one();
        }
    }
}

//----------- One pass -----------------------------------------------------------

async fn reconcile(
    management: &Client,
    shared: &Arc<Shared>,
    sources: &Sources,
    resolvers: &mut HashMap<String, JoinHandle<()>>,
) {
    let gateways = decode_gateways(&all_of(&sources.gateways), &shared.metrics);
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
        // Services, as the watches have seen them.
        let mut services = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        let mut changed_at: BTreeMap<String, Instant> = BTreeMap::new();
        for entry in shared.workloads.iter() {
            let workload = entry.value();
            if workload.namespace != *namespace {
                continue;
            }
            for (service, watch) in workload
                .services
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                let seen = watch.view.lock().unwrap_or_else(|e| e.into_inner());
                let last = seen
                    .object
                    .as_ref()
                    .map(|object| gateway_addresses(service, object.as_ref()));
                let ports = seen
                    .object
                    .as_ref()
                    .map(|object| node_ports(service, object.as_ref()));
                if let Some(at) = seen.changed_at {
                    note_change(&mut changed_at, &workload.cluster, at);
                }
                services.insert(
                    (workload.cluster.clone(), service.clone()),
                    ServiceView {
                        last,
                        node_ports: ports,
                        last_success: seen.last_success.clone(),
                        trouble: seen.trouble.clone(),
                    },
                );
            }
            if let Some(watch) = &*workload.nodes.lock().unwrap_or_else(|e| e.into_inner()) {
                let seen = watch.view.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(at) = seen.changed_at {
                    note_change(&mut changed_at, &workload.cluster, at);
                }
                nodes.insert(
                    workload.cluster.clone(),
                    NodesView {
                        last: seen.nodes.as_ref().map(|n| node_addresses(n.values())),
                        last_success: seen.last_success.clone(),
                        trouble: seen.trouble.clone(),
                    },
                );
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

/// The GatewayDNS objects that fit the type; each one that does not is
/// logged and counted, at every pass, and the others are planned as usual.
fn decode_gateways(objects: &[Arc<DynamicObject>], metrics: &GatewaysMetrics) -> Vec<GatewayDNS> {
    let mut gateways = Vec::with_capacity(objects.len());
    for object in objects {
        let decoded =
            serde_json::to_value(&**object).and_then(serde_json::from_value::<GatewayDNS>);
        match decoded {
            Ok(gateway) => gateways.push(gateway),
            Err(error) => {
                metrics.invalid_gateways.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    namespace = %object.namespace().unwrap_or_default(),
                    gatewaydns = %object.name_any(),
                    %error,
                    "not a valid GatewayDNS; skipped"
                );
            }
        }
    }
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

/// The workload of `key`, (re)built when its kubeconfig Secret changed.
async fn ensure_workload(
    shared: &Arc<Shared>,
    key: &(String, String),
    secret: Option<&Secret>,
) -> Arc<Workload> {
    let version = secret.and_then(|s| s.resource_version());
    if let Some(existing) = shared.workloads.get(key)
        && existing.secret_version == version
        && !existing.renewal_due()
    {
        return Arc::clone(existing.value());
    }
    if let Some((_, old)) = shared.workloads.remove(key) {
        tracing::info!(namespace = %key.0, cluster = %key.1, "kubeconfig changed or token due; reconnecting");
        old.stop();
    }
    let (namespace, cluster) = key.clone();
    let (client, connection) = match secret {
        None => (
            None,
            Connection::KubeconfigMissing(format!(
                "no Secret {namespace}/{cluster}-kubeconfig of type {KUBECONFIG_SECRET_TYPE}"
            )),
        ),
        Some(secret) => match client_from_secret(secret).await {
            Ok(client) => (Some(client), Connection::Connecting),
            Err(message) => (None, Connection::KubeconfigMissing(message)),
        },
    };
    let (desired, desired_rx) = watch::channel(None);
    let workload = Arc::new(Workload {
        namespace,
        cluster,
        secret_version: version,
        admin: client.as_ref().map(|(client, _)| client.clone()),
        client: Mutex::new(None),
        renew_at: Mutex::new(None),
        connection: Mutex::new(connection),
        services: Mutex::new(BTreeMap::new()),
        nodes: Mutex::new(None),
        desired,
        tasks: Mutex::new(Vec::new()),
    });
    if let Some((admin, admin_config)) = client {
        let connect = tokio::spawn(connect(
            Arc::clone(shared),
            Arc::clone(&workload),
            admin,
            admin_config,
            desired_rx,
        ));
        workload
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(connect);
    }
    shared.workloads.insert(key.clone(), Arc::clone(&workload));
    workload
}

/// A client for the cluster of a Cluster API kubeconfig Secret (key
/// `value`).
async fn client_from_secret(secret: &Secret) -> Result<(Client, Config), String> {
    let name = format!(
        "{}/{}",
        secret.namespace().unwrap_or_default(),
        secret.name_any()
    );
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get("value"))
        .ok_or_else(|| format!("Secret {name} has no key \"value\""))?;
    let text = std::str::from_utf8(&value.0)
        .map_err(|_| format!("Secret {name}: \"value\" is not UTF-8"))?;
    let kubeconfig =
        Kubeconfig::from_yaml(text).map_err(|e| format!("Secret {name}: not a kubeconfig: {e}"))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("Secret {name}: unusable kubeconfig: {e}"))?;
    let client = Client::try_from(config.clone())
        .map_err(|e| format!("Secret {name}: cannot build a client: {e}"))?;
    Ok((client, config))
}

/// Connects to a workload cluster: gets the working client (see
/// [`working_client`]), starts the writer, then probes the cluster for good.
async fn connect(
    shared: Arc<Shared>,
    workload: Arc<Workload>,
    admin: Client,
    admin_config: Config,
    desired: watch::Receiver<Option<Arc<TargetSet>>>,
) {
    let mut retry = RETRY_MIN;
    let client = loop {
        match working_client(&shared, &workload, &admin, &admin_config).await {
            Ok((client, renew_at)) => {
                *workload.renew_at.lock().unwrap_or_else(|e| e.into_inner()) = renew_at;
                break client;
            }
            Err(message) => {
                workload.set_connection(Connection::Unreachable(message), &shared);
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    };
    *workload.client.lock().unwrap_or_else(|e| e.into_inner()) = Some(client.clone());
    let writer = tokio::spawn(write_records(
        Arc::clone(&shared),
        Arc::clone(&workload),
        client.clone(),
        desired,
    ));
    workload
        .tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(writer);
    // The loop starts the Service watches now that there is a client.
    shared.changed.notify_one();
    probe(shared, workload, client).await;
}

/// The client the work goes through, and when to renew it. With
/// [`WorkloadCredentials::ServiceAccount`]: the least-privilege account,
/// installed in the records' namespace with the admin identity. A cluster
/// without that namespace is no target, but its gateway may be published
/// elsewhere: its Service is read with the admin identity meanwhile, and
/// the choice is made again a few minutes later.
async fn working_client(
    shared: &Shared,
    workload: &Workload,
    admin: &Client,
    admin_config: &Config,
) -> Result<(Client, Option<Instant>), String> {
    let namespace = &shared.options.record_namespace;
    match shared.options.credentials {
        WorkloadCredentials::Admin => Ok((admin.clone(), None)),
        WorkloadCredentials::ServiceAccount => {
            let namespaces: Api<Namespace> = Api::all(admin.clone());
            let found = namespaces
                .get_opt(namespace)
                .await
                .map_err(|e| format!("cannot reach the API server: {e}"))?;
            if found.is_none() {
                tracing::warn!(namespace = %workload.namespace, cluster = %workload.cluster, "no {namespace} namespace: reading the gateway with the kubeconfig's own identity for now");
                return Ok((admin.clone(), Some(Instant::now() + PROBE_EVERY * 10)));
            }
            install_account(admin, namespace)
                .await
                .map_err(|e| format!("cannot install the ServiceAccount: {e}"))?;
            let (client, renew_at) = account_client(admin, admin_config, namespace).await?;
            tracing::info!(namespace = %workload.namespace, cluster = %workload.cluster, "working as the least-privilege ServiceAccount");
            Ok((client, Some(renew_at)))
        }
    }
}

/// Probes a cluster: is it reachable, has it the records' namespace? Again
/// every [`PROBE_EVERY`], and sooner after a failure.
async fn probe(shared: Arc<Shared>, workload: Arc<Workload>, client: Client) {
    let namespaces: Api<Namespace> = Api::all(client);
    let mut retry = RETRY_MIN;
    loop {
        let connection = match namespaces.get_opt(&shared.options.record_namespace).await {
            Ok(found) => {
                retry = RETRY_MIN;
                Connection::Ready {
                    has_namespace: found.is_some(),
                }
            }
            Err(error) => Connection::Unreachable(format!("cannot reach the API server: {error}")),
        };
        let wait = if matches!(connection, Connection::Ready { .. }) {
            PROBE_EVERY
        } else {
            let wait = retry;
            retry = (retry * 2).min(RETRY_MAX);
            wait
        };
        workload.set_connection(connection, &shared);
        tokio::time::sleep(wait).await;
    }
}

/// Starts the Service watches the plan needs and stops the others.
fn ensure_service_watches(shared: &Arc<Shared>, namespace: &str, plan: &NamespacePlan) {
    for entry in shared.workloads.iter() {
        let workload = entry.value();
        if workload.namespace != namespace {
            continue;
        }
        let Some(client) = workload.client() else {
            continue;
        };
        let wanted: BTreeSet<&String> = plan
            .watches
            .iter()
            .filter(|(cluster, _)| *cluster == workload.cluster)
            .map(|(_, service)| service)
            .collect();
        let mut services = workload.services.lock().unwrap_or_else(|e| e.into_inner());
        services.retain(|service, watch| {
            let keep = wanted.contains(service);
            if !keep {
                watch.task.abort();
            }
            keep
        });
        for service in wanted {
            if services.contains_key(service) {
                continue;
            }
            let Some((service_namespace, service_name)) = service.split_once('/') else {
                continue;
            };
            let view = Arc::new(Mutex::new(WatchedService::default()));
            let api: Api<Service> = Api::namespaced(client.clone(), service_namespace);
            // The least-privilege account is granted this Service first.
            let grant = (shared.options.credentials == WorkloadCredentials::ServiceAccount)
                .then(|| workload.admin.clone())
                .flatten()
                .map(|admin| (admin, service_namespace.to_owned()));
            let task = tokio::spawn(watch_service(
                Arc::clone(shared),
                api,
                service_name.to_owned(),
                grant,
                Arc::clone(&view),
            ));
            services.insert(service.clone(), ServiceWatch { view, task });
        }
    }
}

/// Watches one Service (by name): every event updates `view` and wakes the
/// loop; an error marks the view troubled until the watch recovers.
async fn watch_service(
    shared: Arc<Shared>,
    api: Api<Service>,
    name: String,
    grant: Option<(Client, String)>,
    view: Arc<Mutex<WatchedService>>,
) {
    if let Some((admin, service_namespace)) = grant {
        let mut retry = RETRY_MIN;
        while let Err(error) = grant_service(
            &admin,
            &shared.options.record_namespace,
            &service_namespace,
            &name,
        )
        .await
        {
            view.lock().unwrap_or_else(|e| e.into_inner()).trouble = Some(format!(
                "cannot grant read access to Service {service_namespace}/{name}: {error}"
            ));
            shared.changed.notify_one();
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(RETRY_MAX);
        }
    }
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
    let mut listing: Option<Service> = None;
    while let Some(event) = stream.next().await {
        let update = match event {
            Ok(watcher::Event::Apply(service)) => Some(Some(service)),
            Ok(watcher::Event::Delete(_)) => Some(None),
            Ok(watcher::Event::Init) => {
                listing = None;
                None
            }
            Ok(watcher::Event::InitApply(service)) => {
                listing = Some(service);
                None
            }
            Ok(watcher::Event::InitDone) => Some(listing.take()),
            Err(error) => {
                shared.metrics.watch_errors.fetch_add(1, Ordering::Relaxed);
                let mut seen = view.lock().unwrap_or_else(|e| e.into_inner());
                seen.trouble = Some(format!("watch of Service {name} failed: {error}"));
                drop(seen);
                shared.changed.notify_one();
                continue;
            }
        };
        let Some(object) = update else {
            continue;
        };
        let mut seen = view.lock().unwrap_or_else(|e| e.into_inner());
        let published = |o: &Option<Option<Service>>| {
            o.as_ref().map(|o| {
                (
                    gateway_addresses(&name, o.as_ref()),
                    node_ports(&name, o.as_ref()),
                )
            })
        };
        if published(&seen.object) != published(&Some(object.clone())) {
            seen.changed_at = Some(Instant::now());
        }
        seen.object = Some(object);
        seen.trouble = None;
        seen.last_success = Some(Time(jiff::Timestamp::now()));
        drop(seen);
        shared.changed.notify_one();
    }
}

/// Keeps the newest change time per cluster.
fn note_change(changed_at: &mut BTreeMap<String, Instant>, cluster: &str, at: Instant) {
    let entry = changed_at.entry(cluster.to_owned()).or_insert(at);
    *entry = (*entry).max(at);
}

/// Starts the Nodes watches the plan needs and stops the others.
fn ensure_node_watches(shared: &Arc<Shared>, namespace: &str, plan: &NamespacePlan) {
    for entry in shared.workloads.iter() {
        let workload = entry.value();
        if workload.namespace != namespace {
            continue;
        }
        let mut nodes = workload.nodes.lock().unwrap_or_else(|e| e.into_inner());
        if !plan.node_watches.contains(&workload.cluster) {
            if let Some(watch) = nodes.take() {
                watch.task.abort();
            }
            continue;
        }
        if nodes.is_some() {
            continue;
        }
        let Some(client) = workload.client() else {
            continue;
        };
        let grant = (shared.options.credentials == WorkloadCredentials::ServiceAccount)
            .then(|| workload.admin.clone())
            .flatten();
        let view = Arc::new(Mutex::new(WatchedNodes::default()));
        let task = tokio::spawn(watch_nodes(
            Arc::clone(shared),
            Api::all(client),
            grant,
            Arc::clone(&view),
        ));
        *nodes = Some(NodesWatch { view, task });
    }
}

/// Watches a cluster's Nodes: every event updates `view` (the facts
/// [`node_addresses`] needs, not the objects) and, when the addresses to
/// publish change, wakes the loop.
async fn watch_nodes(
    shared: Arc<Shared>,
    api: Api<Node>,
    grant: Option<Client>,
    view: Arc<Mutex<WatchedNodes>>,
) {
    if let Some(admin) = grant {
        let mut retry = RETRY_MIN;
        while let Err(error) = grant_nodes(&admin, &shared.options.record_namespace).await {
            view.lock().unwrap_or_else(|e| e.into_inner()).trouble =
                Some(format!("cannot grant read access to Nodes: {error}"));
            shared.changed.notify_one();
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(RETRY_MAX);
        }
    }
    let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
    let mut listing: BTreeMap<String, NodeFacts> = BTreeMap::new();
    while let Some(event) = stream.next().await {
        let mut seen = view.lock().unwrap_or_else(|e| e.into_inner());
        let before = seen.nodes.as_ref().map(|n| node_addresses(n.values()));
        match event {
            Ok(watcher::Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(watcher::Event::InitApply(node)) => {
                listing.insert(node.name_any(), NodeFacts::of(&node));
                continue;
            }
            Ok(watcher::Event::InitDone) => seen.nodes = Some(std::mem::take(&mut listing)),
            Ok(watcher::Event::Apply(node)) => {
                seen.nodes
                    .get_or_insert_with(BTreeMap::new)
                    .insert(node.name_any(), NodeFacts::of(&node));
            }
            Ok(watcher::Event::Delete(node)) => {
                if let Some(nodes) = seen.nodes.as_mut() {
                    nodes.remove(&node.name_any());
                }
            }
            Err(error) => {
                shared.metrics.watch_errors.fetch_add(1, Ordering::Relaxed);
                seen.trouble = Some(format!("watch of Nodes failed: {error}"));
                drop(seen);
                shared.changed.notify_one();
                continue;
            }
        }
        let after = seen.nodes.as_ref().map(|n| node_addresses(n.values()));
        let recovered = seen.trouble.take().is_some();
        seen.last_success = Some(Time(jiff::Timestamp::now()));
        if before != after {
            seen.changed_at = Some(Instant::now());
        }
        drop(seen);
        // Node status changes every few seconds (heartbeats); only a change
        // of what is published, or a recovery, is worth a pass.
        if before != after || recovered {
            shared.changed.notify_one();
        }
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

/// Hands each target cluster of the namespace its desired set.
fn publish(
    shared: &Shared,
    namespace: &str,
    plan: &NamespacePlan,
    changed_at: &BTreeMap<String, Instant>,
) {
    let newest = plan
        .records
        .iter()
        .filter_map(|r| changed_at.get(&r.cluster))
        .max()
        .copied();
    let set = Arc::new(TargetSet {
        records: plan.records.clone(),
        keep: plan.keep.clone(),
        changed_at: newest,
    });
    for target in &plan.targets {
        if let Some(workload) = shared
            .workloads
            .get(&(namespace.to_owned(), target.clone()))
        {
            workload.desired.send_if_modified(|current| {
                let same = current
                    .as_ref()
                    .is_some_and(|c| c.records == set.records && c.keep == set.keep);
                if !same {
                    *current = Some(Arc::clone(&set));
                }
                !same
            });
        }
    }
}

/// One cluster's writer: applies each new desired set, retrying with a
/// backoff until it is written; a newer set replaces one not yet written.
async fn write_records(
    shared: Arc<Shared>,
    workload: Arc<Workload>,
    client: Client,
    mut desired: watch::Receiver<Option<Arc<TargetSet>>>,
) {
    let api: Api<DNSRecord> = Api::namespaced(client, &shared.options.record_namespace);
    // What was last written, by object name: skip unchanged records.
    let mut written: BTreeMap<String, DesiredRecord> = BTreeMap::new();
    let mut retry = RETRY_MIN;
    loop {
        let Some(set) = desired.borrow_and_update().clone() else {
            if desired.changed().await.is_err() {
                return;
            }
            continue;
        };
        match write_set(&shared, &workload, &api, &set, &mut written).await {
            Ok(()) => {
                retry = RETRY_MIN;
                if let Some(at) = set.changed_at {
                    shared
                        .metrics
                        .propagation_seconds
                        .observe(at.elapsed().as_secs_f64());
                }
                tokio::select! {
                    result = desired.changed() => if result.is_err() { return },
                    // Now and then, write everything again: a record
                    // deleted or edited by hand comes back.
                    () = tokio::time::sleep(REWRITE_EVERY) => written.clear(),
                }
            }
            Err(error) => {
                shared.metrics.write_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(namespace = %workload.namespace, cluster = %workload.cluster, %error, "cannot write the records; retrying");
                workload.set_connection(
                    Connection::Unreachable(format!("cannot write the records: {error}")),
                    &shared,
                );
                // Whatever was written may be gone or changed meanwhile.
                written.clear();
                tokio::select! {
                    () = tokio::time::sleep(retry) => {}
                    result = desired.changed() => if result.is_err() { return },
                }
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Applies `set` in one cluster: changed records by server-side apply,
/// unwanted ones deleted.
async fn write_set(
    shared: &Shared,
    workload: &Workload,
    api: &Api<DNSRecord>,
    set: &TargetSet,
    written: &mut BTreeMap<String, DesiredRecord>,
) -> Result<(), kube::Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for record in &set.records {
        if written.get(&record.object_name) == Some(record) {
            continue;
        }
        let mut object = DNSRecord::new(&record.object_name, record.spec.clone());
        object.metadata.labels = Some(record.labels.clone());
        api.patch(&record.object_name, &params, &Patch::Apply(&object))
            .await?;
        shared
            .metrics
            .records_applied
            .fetch_add(1, Ordering::Relaxed);
        written.insert(record.object_name.clone(), record.clone());
    }
    // Garbage: ours, from this namespace, not wanted, not kept.
    let selector = format!(
        "{MANAGED_BY}={MANAGED_BY_VALUE},{SOURCE_NAMESPACE}={}",
        workload.namespace
    );
    let wanted: BTreeSet<&str> = set.records.iter().map(|r| r.object_name.as_str()).collect();
    let kept_labels: BTreeSet<String> = set
        .keep
        .iter()
        .map(|c| super::names::label_value(c))
        .collect();
    for existing in api
        .list_metadata(&ListParams::default().labels(&selector))
        .await?
    {
        let name = existing.name_any();
        if wanted.contains(name.as_str()) {
            continue;
        }
        let cluster = existing.labels().get(SOURCE_CLUSTER);
        if cluster.is_some_and(|c| kept_labels.contains(c)) {
            continue;
        }
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                shared
                    .metrics
                    .records_deleted
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(namespace = %workload.namespace, cluster = %workload.cluster, record = %name, "record deleted");
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
        written.remove(&name);
    }
    if matches!(workload.connection(), Connection::Unreachable(_)) {
        // Written: reachable again (the probe confirms the namespace).
        workload.set_connection(
            Connection::Ready {
                has_namespace: true,
            },
            shared,
        );
    }
    Ok(())
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

    #[tokio::test]
    async fn a_bad_kubeconfig_secret_is_reported_by_name() {
        let secret = |data: Option<(&str, &[u8])>| Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("cluster-a-kubeconfig".to_owned()),
                namespace: Some("dev-team".to_owned()),
                ..Default::default()
            },
            data: data.map(|(key, value)| {
                BTreeMap::from([(key.to_owned(), k8s_openapi::ByteString(value.to_vec()))])
            }),
            ..Secret::default()
        };
        let error = |secret: Secret| async move {
            client_from_secret(&secret).await.map(|_| ()).unwrap_err()
        };
        // (the Secret's data, what the message must say)
        type Case<'a> = (Option<(&'a str, &'a [u8])>, &'a str);
        let cases: [Case<'_>; 4] = [
            (None, "has no key \"value\""),
            (Some(("kubeconfig", b"x")), "has no key \"value\""),
            (Some(("value", &[0xff, 0xfe])), "is not UTF-8"),
            (Some(("value", b"clusters: [unclosed")), "not a kubeconfig"),
        ];
        for (data, expected) in cases {
            let message = error(secret(data)).await;
            assert!(
                message.contains("dev-team/cluster-a-kubeconfig"),
                "{message}"
            );
            assert!(message.contains(expected), "{message}");
        }
        // A kubeconfig without a usable context.
        let message = error(secret(Some(("value", b"apiVersion: v1\nkind: Config\n")))).await;
        assert!(
            message.contains("dev-team/cluster-a-kubeconfig"),
            "{message}"
        );
    }

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
        let decoded = decode_gateways(
            &[
                object("good", "loadBalancer"),
                object("bad", "carrierPigeon"),
            ],
            &metrics,
        );
        assert_eq!(decoded.len(), 1);
        assert_eq!(decoded[0].metadata.name.as_deref(), Some("good"));
        assert_eq!(metrics.invalid_gateways.load(Ordering::Relaxed), 1);
    }
}
