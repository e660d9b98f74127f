//! One workload cluster, as the gateways controller works with it: its
//! client (built from the kubeconfig Secret, then the least-privilege
//! account's token), the probe of its `xcc-dns` namespace, the watches on
//! its gateway Services (and Nodes, for `nodePort` gateways), and the
//! writer that applies the records it should hold. Each cluster runs its
//! own tasks, so one slow or unreachable cluster never holds up the
//! others; [`super::run`] plans from what they have seen
//! ([`Workload::collect_views`]) and hands each writer its desired set
//! ([`publish`]).
//!
//! Writers apply with server-side apply under the field manager
//! [`FIELD_MANAGER`], skip records unchanged since their last successful
//! write, and delete the records labelled as theirs (managed-by and the
//! source namespace) that nobody wants, except those of clusters whose
//! state is uncertain (`keep`). The first pass of every writer is the
//! garbage collection of what was left while the controller was down.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::credentials::{
    WorkloadCredentials, account_client, grant_nodes, grant_service, install_account,
    renewal_delay, request_token,
};
use super::desired::{
    Connection, DesiredRecord, MANAGED_BY, MANAGED_BY_VALUE, NamespacePlan, NodesView,
    SOURCE_CLUSTER, SOURCE_NAMESPACE, ServiceView,
};
use super::run::{
    FIELD_MANAGER, KUBECONFIG_SECRET_TYPE, PROBE_EVERY, RETRY_MAX, RETRY_MIN, REWRITE_EVERY, Shared,
};
use super::service::{
    GatewayAddresses, NoAddress, NodeFacts, NodePort, gateway_addresses, node_addresses, node_ports,
};
use crate::api::DNSRecord;

//----------- One workload cluster ----------------------------------------------

/// One workload cluster: its client and its tasks.
pub(super) struct Workload {
    pub(super) namespace: String,
    pub(super) cluster: String,
    /// The kubeconfig Secret's resourceVersion the client was built from.
    secret_version: Option<String>,
    /// The kubeconfig's own (admin) identity: only to install the
    /// least-privilege account and grant it each Service (`None`: no usable
    /// kubeconfig).
    admin: Option<Client>,
    /// The client the work goes through, once connected.
    client: Mutex<Option<Client>>,
    /// When to connect again from scratch (a cluster read with the admin
    /// identity for want of the records' namespace: is it there now?).
    reconnect_at: Mutex<Option<Instant>>,
    /// Where the least-privilege account's token is kept.
    token_path: PathBuf,
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

impl WatchedService {
    /// Takes `object` (`None`: absent), read just now: the last success
    /// moves to now, and the change time too when what the gateway
    /// publishes from it differs.
    fn read(&mut self, name: &str, object: Option<Service>) {
        let before = self.object.as_ref().map(|o| published(name, o.as_ref()));
        if before.as_ref() != Some(&published(name, object.as_ref())) {
            self.changed_at = Some(Instant::now());
        }
        self.object = Some(object);
        self.last_success = Some(Time(jiff::Timestamp::now()));
    }
}

/// What a gateway Service (`None`: absent) gives to publish: its
/// load-balancer addresses and its node ports, or why not.
type Published = (
    Result<GatewayAddresses, NoAddress>,
    Result<Vec<NodePort>, NoAddress>,
);

fn published(name: &str, service: Option<&Service>) -> Published {
    (gateway_addresses(name, service), node_ports(name, service))
}

/// What one target cluster should hold.
#[derive(Debug)]
pub(super) struct TargetSet {
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

    fn reconnect_due(&self) -> bool {
        self.reconnect_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at <= Instant::now())
    }

    pub(super) fn stop(&self) {
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
        // Its token is of no use to anyone any more.
        let _ = std::fs::remove_file(&self.token_path);
    }

    pub(super) fn connection(&self) -> Connection {
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

    /// Adds what this cluster's watches have seen to the planner's input:
    /// its gateway Services by (cluster, `namespace/name`), its Nodes, and
    /// when the newest change among them arrived.
    pub(super) fn collect_views(
        &self,
        services: &mut BTreeMap<(String, String), ServiceView>,
        nodes: &mut BTreeMap<String, NodesView>,
        changed_at: &mut BTreeMap<String, Instant>,
    ) {
        for (service, watch) in self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let seen = watch.view.lock().unwrap_or_else(|e| e.into_inner());
            let (last, ports) = seen
                .object
                .as_ref()
                .map(|object| published(service, object.as_ref()))
                .unzip();
            if let Some(at) = seen.changed_at {
                note_change(changed_at, &self.cluster, at);
            }
            services.insert(
                (self.cluster.clone(), service.clone()),
                ServiceView {
                    last,
                    node_ports: ports,
                    last_success: seen.last_success.clone(),
                    trouble: seen.trouble.clone(),
                },
            );
        }
        if let Some(watch) = &*self.nodes.lock().unwrap_or_else(|e| e.into_inner()) {
            let seen = watch.view.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(at) = seen.changed_at {
                note_change(changed_at, &self.cluster, at);
            }
            nodes.insert(
                self.cluster.clone(),
                NodesView {
                    last: seen.nodes.as_ref().map(|n| node_addresses(n.values())),
                    last_success: seen.last_success.clone(),
                    trouble: seen.trouble.clone(),
                },
            );
        }
    }
}

//----------- Its tasks ---------------------------------------------------------

/// The workload of `key`, (re)built when its kubeconfig Secret changed.
pub(super) async fn ensure_workload(
    shared: &Arc<Shared>,
    key: &(String, String),
    secret: Option<&Secret>,
) -> Arc<Workload> {
    let version = secret.and_then(|s| s.resource_version());
    if let Some(existing) = shared.workloads.get(key)
        && existing.secret_version == version
        && !existing.reconnect_due()
    {
        return Arc::clone(existing.value());
    }
    if let Some((_, old)) = shared.workloads.remove(key) {
        tracing::info!(namespace = %key.0, cluster = %key.1, "kubeconfig changed or namespace to check again; reconnecting");
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
        reconnect_at: Mutex::new(None),
        token_path: shared
            .options
            .token_dir
            .join(format!("{}--{}.token", key.0, key.1)),
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
            Ok(Working::Admin {
                client,
                reconnect_at,
            }) => {
                *workload
                    .reconnect_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = reconnect_at;
                break client;
            }
            Ok(Working::Account { client, granted }) => {
                let renewer = tokio::spawn(renew_tokens(
                    Arc::clone(&shared),
                    Arc::clone(&workload),
                    admin.clone(),
                    granted,
                ));
                workload
                    .tasks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(renewer);
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

/// The client the work goes through.
enum Working {
    /// The kubeconfig's own identity; with a time to connect again.
    Admin {
        client: Client,
        reconnect_at: Option<Instant>,
    },
    /// The least-privilege account, by a token file that lives `granted`.
    Account { client: Client, granted: Duration },
}

/// The client the work goes through. With
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
) -> Result<Working, String> {
    let namespace = &shared.options.record_namespace;
    match shared.options.credentials {
        WorkloadCredentials::Admin => Ok(Working::Admin {
            client: admin.clone(),
            reconnect_at: None,
        }),
        WorkloadCredentials::ServiceAccount => {
            let namespaces: Api<Namespace> = Api::all(admin.clone());
            let found = namespaces
                .get_opt(namespace)
                .await
                .map_err(|e| format!("cannot reach the API server: {e}"))?;
            if found.is_none() {
                tracing::warn!(namespace = %workload.namespace, cluster = %workload.cluster, "no {namespace} namespace: reading the gateway with the kubeconfig's own identity for now");
                return Ok(Working::Admin {
                    client: admin.clone(),
                    reconnect_at: Some(Instant::now() + PROBE_EVERY * 10),
                });
            }
            install_account(admin, namespace)
                .await
                .map_err(|e| format!("cannot install the ServiceAccount: {e}"))?;
            let granted = request_token(admin, namespace, &workload.token_path).await?;
            let client = account_client(admin_config, &workload.token_path)?;
            tracing::info!(namespace = %workload.namespace, cluster = %workload.cluster, "working as the least-privilege ServiceAccount");
            Ok(Working::Account { client, granted })
        }
    }
}

/// Renews the account's token before it expires, for as long as the
/// workload lives: a new token in the same file, which every client of
/// the account reads again within a minute (nothing restarts). A failed
/// renewal is retried with backoff while the current token still lives.
async fn renew_tokens(
    shared: Arc<Shared>,
    workload: Arc<Workload>,
    admin: Client,
    mut granted: Duration,
) {
    let namespace = &shared.options.record_namespace;
    loop {
        tokio::time::sleep(renewal_delay(granted, shared.options.token_renewal)).await;
        let mut retry = RETRY_MIN;
        loop {
            match request_token(&admin, namespace, &workload.token_path).await {
                Ok(lifetime) => {
                    granted = lifetime;
                    shared
                        .metrics
                        .token_renewals
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(namespace = %workload.namespace, cluster = %workload.cluster, "token renewed");
                    break;
                }
                Err(error) => {
                    shared
                        .metrics
                        .token_renewal_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(namespace = %workload.namespace, cluster = %workload.cluster, %error, "cannot renew the token; retrying");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
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
pub(super) fn ensure_service_watches(shared: &Arc<Shared>, namespace: &str, plan: &NamespacePlan) {
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
    let reader = api.clone();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
    let mut listing: Option<Service> = None;
    // A live watch with nothing to report says nothing either: read the
    // Service now and then, so "last success" means "last confirmed".
    let every = shared.options.confirm_every;
    let mut confirm = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    confirm.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            event = stream.next() => match event {
                Some(event) => event,
                None => break,
            },
            _ = confirm.tick() => {
                confirm_service(&shared, &reader, &name, &view).await;
                continue;
            }
        };
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
        seen.read(&name, object);
        seen.trouble = None;
        drop(seen);
        shared.changed.notify_one();
    }
}

/// Reads the Service once while its watch is live and, when the read works,
/// moves its last success to now (and takes the object, should the watch
/// have missed a change). A failed read changes nothing: the watch reports
/// its own trouble.
async fn confirm_service(
    shared: &Shared,
    api: &Api<Service>,
    name: &str,
    view: &Mutex<WatchedService>,
) {
    {
        let seen = view.lock().unwrap_or_else(|e| e.into_inner());
        if seen.trouble.is_some() || seen.object.is_none() {
            return;
        }
    }
    let Ok(object) = api.get_opt(name).await else {
        return;
    };
    view.lock()
        .unwrap_or_else(|e| e.into_inner())
        .read(name, object);
    shared.changed.notify_one();
}

/// Keeps the newest change time per cluster.
fn note_change(changed_at: &mut BTreeMap<String, Instant>, cluster: &str, at: Instant) {
    let entry = changed_at.entry(cluster.to_owned()).or_insert(at);
    *entry = (*entry).max(at);
}

/// Starts the Nodes watches the plan needs and stops the others.
pub(super) fn ensure_node_watches(shared: &Arc<Shared>, namespace: &str, plan: &NamespacePlan) {
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

/// Hands each target cluster of the namespace its desired set.
pub(super) fn publish(
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

#[cfg(test)]
mod tests {
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
}
