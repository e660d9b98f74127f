//! The decision of the gateways controller, for one management namespace:
//! a pure function from what the controller has seen (GatewayDNS objects,
//! Clusters, connections to workload clusters, gateway Services) to what
//! every workload cluster should hold and what each GatewayDNS's status
//! says. No client, no clock: the time is an argument.
//!
//! Rules, in the order [`plan_namespace`] applies them:
//! - A GatewayDNS selects the Clusters of its namespace whose labels match
//!   its `clusterSelector`. A Cluster being deleted or not yet provisioned
//!   is skipped and its status says so; its record goes.
//! - For a selected cluster whose gateway Service was read, the addresses
//!   of its load balancer (IPs; hostnames resolved by the caller, or
//!   published as a CNAME carrying the target's resolved addresses with
//!   `hostnameMode: cname`) become one
//!   `DNSRecord`, owner `*.gateway.<cluster>.<namespace>.clusters.<suffix>`.
//!   With `resolutionType: nodePort` that record holds the addresses of
//!   the cluster's Ready nodes instead, and each named port of the Service
//!   gets an SRV record `_<port>._<protocol>.gateway.<cluster>...` whose
//!   target (`nodes.gateway.<cluster>...`) the wildcard answers: the port
//!   differs per cluster, so clients find it there.
//! - A selected cluster that cannot be read now (unreachable, kubeconfig
//!   missing, still connecting) keeps the record it had: its last known
//!   addresses are published again, and the apply step is told not to
//!   delete its record (`keep`): never delete on uncertainty.
//! - Two GatewayDNS that select one cluster and give the same data make one
//!   record; with different data the older (by creation time, then name)
//!   wins and both say Conflict in status.
//! - Every provisioned, reachable cluster of the namespace that has the
//!   `xcc-dns` namespace is a target: it gets every record of the namespace
//!   (its own gateway included).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::names::{
    label_value, nodes_name, owner_name, port_owner_name, port_record_object_name,
    record_object_name, selector_matches,
};
use super::service::{GatewayAddresses, NoAddress, NodePort};
use crate::api::{
    ClusterResult, ClusterState, DNSRecordSpec, GatewayDNS, GatewayDNSStatus, HostnameMode,
    ResolutionType, SrvEntry,
};

/// The label every record this controller writes carries, with
/// [`MANAGED_BY_VALUE`]; garbage collection selects by it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "xcc-controller-gateways";
/// The label naming the management namespace a record comes from.
pub const SOURCE_NAMESPACE: &str = "connectivity.tanzu.vmware.com/source-namespace";
/// The label naming the cluster whose gateway a record publishes.
pub const SOURCE_CLUSTER: &str = "connectivity.tanzu.vmware.com/source-cluster";
/// The label naming the GatewayDNS a record comes from.
pub const GATEWAY_DNS: &str = "connectivity.tanzu.vmware.com/gatewaydns";

//----------- Inputs -----------------------------------------------------------

/// A Cluster API `Cluster`, as far as this controller cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterView {
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Where it is in its life.
    pub lifecycle: Lifecycle,
}

/// Where a Cluster is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Provisioned: its API server can be used.
    Provisioned,
    /// Not yet provisioned (its phase, as Cluster API says).
    Provisioning(String),
    /// Being deleted.
    Deleting,
}

/// The controller's connection to a workload cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    /// A client works, and the cluster has (`true`) or lacks the `xcc-dns`
    /// namespace.
    Ready {
        /// Whether the `xcc-dns` namespace exists there.
        has_namespace: bool,
    },
    /// Not yet connected (no answer yet).
    Connecting,
    /// No `<cluster>-kubeconfig` Secret, or one without a usable `value`.
    KubeconfigMissing(String),
    /// The last attempt failed.
    Unreachable(String),
}

/// What was seen of one gateway Service in one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceView {
    /// The last read: load-balancer addresses, or why there are none.
    /// `None`: never read.
    pub last: Option<Result<GatewayAddresses, NoAddress>>,
    /// The last read's node ports, or why there are none (`None`: never
    /// read).
    pub node_ports: Option<Result<Vec<NodePort>, NoAddress>>,
    /// When addresses were last read successfully.
    pub last_success: Option<Time>,
    /// Why the watch is not live now (`None`: it is).
    pub trouble: Option<String>,
}

/// What was seen of one workload cluster's Nodes (for `nodePort`
/// gateways).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodesView {
    /// The last read: the addresses to publish, or why there are none.
    /// `None`: never read.
    pub last: Option<Result<Vec<IpAddr>, NoAddress>>,
    /// When the Nodes were last read successfully.
    pub last_success: Option<Time>,
    /// Why the watch is not live now (`None`: it is).
    pub trouble: Option<String>,
}

/// Everything [`plan_namespace`] looks at.
#[derive(Clone, Copy, Debug)]
pub struct NamespaceInput<'a> {
    /// The management namespace.
    pub namespace: &'a str,
    /// The DNS suffix (`xcc.test`).
    pub suffix: &'a str,
    /// The GatewayDNS objects of the namespace.
    pub gateways: &'a [GatewayDNS],
    /// The Clusters of the namespace.
    pub clusters: &'a [ClusterView],
    /// The connection to each cluster, by name (absent: not tried yet).
    pub connections: &'a BTreeMap<String, Connection>,
    /// Gateway Services, by (cluster, `namespace/name`).
    pub services: &'a BTreeMap<(String, String), ServiceView>,
    /// Node addresses, by cluster (for `nodePort` gateways).
    pub nodes: &'a BTreeMap<String, NodesView>,
    /// Load-balancer hostnames resolved to addresses (absent: not yet).
    pub resolved: &'a BTreeMap<String, Vec<IpAddr>>,
    /// The statuses the GatewayDNS objects have now (for condition
    /// transition times), by name.
    pub previous: &'a BTreeMap<String, GatewayDNSStatus>,
    /// Now.
    pub now: &'a Time,
}

//----------- Outputs ----------------------------------------------------------

/// One `DNSRecord` every target cluster should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRecord {
    /// The object's name in `xcc-dns`.
    pub object_name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its spec.
    pub spec: DNSRecordSpec,
    /// The cluster whose gateway it publishes.
    pub cluster: String,
}

/// What one management namespace should produce.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamespacePlan {
    /// The records every target should hold, by object name.
    pub records: Vec<DesiredRecord>,
    /// Clusters whose existing records must stay even where no record is
    /// desired now (their state is uncertain).
    pub keep: BTreeSet<String>,
    /// The clusters to write to.
    pub targets: BTreeSet<String>,
    /// Clusters to connect to (every provisioned cluster of the namespace).
    pub connect: BTreeSet<String>,
    /// The gateway Services to watch: (cluster, `namespace/name`).
    pub watches: BTreeSet<(String, String)>,
    /// The clusters whose Nodes to watch (a `nodePort` gateway selects
    /// them).
    pub node_watches: BTreeSet<String>,
    /// The hostnames to resolve.
    pub resolve: BTreeSet<String>,
    /// The status of each GatewayDNS, by name.
    pub statuses: BTreeMap<String, GatewayDNSStatus>,
}

//----------- The plan ---------------------------------------------------------

/// What one cluster contributes for one GatewayDNS.
struct Outcome {
    result: ClusterResult,
    /// The records, if there is data to publish.
    records: Option<Vec<PlannedRecord>>,
    /// Whether an existing record must be kept regardless.
    keep: bool,
}

/// One record of a cluster's gateway, before labels.
#[derive(Clone, Debug, PartialEq)]
struct PlannedRecord {
    object_name: String,
    spec: DNSRecordSpec,
}

/// A gateway's data as read, by resolution type.
enum Found<'a> {
    LoadBalancer(&'a GatewayAddresses),
    NodePort {
        ips: &'a [IpAddr],
        ports: &'a [NodePort],
    },
}

/// Plans one management namespace. See the module docs.
pub fn plan_namespace(input: &NamespaceInput<'_>) -> NamespacePlan {
    let mut plan = NamespacePlan::default();
    for cluster in input.clusters {
        if cluster.lifecycle == Lifecycle::Provisioned {
            plan.connect.insert(cluster.name.clone());
            if let Some(Connection::Ready {
                has_namespace: true,
            }) = input.connections.get(&cluster.name)
            {
                plan.targets.insert(cluster.name.clone());
            }
        }
    }

    // Oldest first: the older GatewayDNS wins a conflict.
    let mut gateways: Vec<&GatewayDNS> = input.gateways.iter().collect();
    gateways.sort_by(|a, b| {
        let created = |g: &GatewayDNS| g.metadata.creation_timestamp.clone();
        (created(a).is_none(), created(a), &a.metadata.name).cmp(&(
            created(b).is_none(),
            created(b),
            &b.metadata.name,
        ))
    });

    // cluster → (winning GatewayDNS, its records).
    let mut claims: BTreeMap<String, (String, Vec<PlannedRecord>)> = BTreeMap::new();
    // GatewayDNS → the GatewayDNS it conflicts with, per cluster.
    let mut conflicts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut results: BTreeMap<String, Result<Vec<ClusterResult>, String>> = BTreeMap::new();

    for gateway in gateways {
        let name = gateway.metadata.name.clone().unwrap_or_default();
        let service = gateway.spec.service.clone();
        let mut cluster_results = Vec::new();
        let mut selector_error = None;
        for cluster in input.clusters {
            match selector_matches(&gateway.spec.cluster_selector, &cluster.labels) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    selector_error = Some(format!("invalid clusterSelector: {error}"));
                    break;
                }
            }
            if cluster.lifecycle == Lifecycle::Provisioned {
                plan.watches.insert((cluster.name.clone(), service.clone()));
                if gateway.spec.resolution_type == ResolutionType::NodePort {
                    plan.node_watches.insert(cluster.name.clone());
                }
            }
            let mut outcome = outcome(input, gateway, cluster, &service, &mut plan.resolve);
            if let Some(records) = outcome.records.take() {
                match claims.get(&cluster.name) {
                    None => {
                        claims.insert(cluster.name.clone(), (name.clone(), records));
                    }
                    Some((_, theirs)) if *theirs == records => {}
                    Some((winner, _)) => {
                        outcome.result.state = ClusterState::Failed;
                        outcome.result.reason = Some("Conflict".to_owned());
                        outcome.result.message = Some(format!(
                            "GatewayDNS {winner} (older) publishes cluster {} with different data; \
                             it wins until the two agree",
                            cluster.name
                        ));
                        conflicts
                            .entry(winner.clone())
                            .or_default()
                            .push(format!("{name} (cluster {})", cluster.name));
                        conflicts
                            .entry(name.clone())
                            .or_default()
                            .push(format!("{winner} (cluster {})", cluster.name));
                    }
                }
            }
            if outcome.keep {
                plan.keep.insert(cluster.name.clone());
            }
            cluster_results.push(outcome.result);
        }
        results.insert(
            name,
            match selector_error {
                Some(error) => Err(error),
                None => Ok(cluster_results),
            },
        );
    }

    for (cluster, (gateway, records)) in claims {
        let mut labels = BTreeMap::new();
        labels.insert(MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned());
        labels.insert(SOURCE_NAMESPACE.to_owned(), input.namespace.to_owned());
        labels.insert(SOURCE_CLUSTER.to_owned(), label_value(&cluster));
        labels.insert(GATEWAY_DNS.to_owned(), label_value(&gateway));
        for record in records {
            plan.records.push(DesiredRecord {
                object_name: record.object_name,
                labels: labels.clone(),
                spec: record.spec,
                cluster: cluster.clone(),
            });
        }
    }

    for gateway in input.gateways {
        let name = gateway.metadata.name.clone().unwrap_or_default();
        let previous = input.previous.get(&name);
        let status = match results.remove(&name).unwrap_or(Ok(Vec::new())) {
            Ok(clusters) => status_of(
                gateway,
                clusters,
                conflicts.get(&name).map(Vec::as_slice).unwrap_or_default(),
                previous,
                input.now,
            ),
            Err(error) => GatewayDNSStatus {
                observed_generation: gateway.metadata.generation,
                conditions: vec![
                    condition(
                        previous,
                        "Ready",
                        false,
                        "InvalidSelector",
                        &error,
                        input.now,
                    ),
                    condition(
                        previous,
                        "Degraded",
                        true,
                        "InvalidSelector",
                        &error,
                        input.now,
                    ),
                ],
                clusters: Vec::new(),
            },
        };
        plan.statuses.insert(name, status);
    }
    plan
}

/// One selected cluster, for one GatewayDNS.
fn outcome(
    input: &NamespaceInput<'_>,
    gateway: &GatewayDNS,
    cluster: &ClusterView,
    service: &str,
    resolve: &mut BTreeSet<String>,
) -> Outcome {
    let mut result = ClusterResult {
        name: cluster.name.clone(),
        state: ClusterState::Pending,
        addresses: Vec::new(),
        reason: None,
        message: None,
        last_success_time: None,
    };
    let mut say = |state, reason: &str, message: String| {
        result.state = state;
        result.reason = Some(reason.to_owned());
        result.message = Some(message);
    };
    match &cluster.lifecycle {
        Lifecycle::Deleting => {
            say(
                ClusterState::Pending,
                "Deleting",
                "the Cluster is being deleted; its record is removed".to_owned(),
            );
            return Outcome {
                result,
                records: None,
                keep: false,
            };
        }
        Lifecycle::Provisioning(phase) => {
            say(
                ClusterState::Pending,
                "NotProvisioned",
                format!("the Cluster is not provisioned yet (phase {phase})"),
            );
            return Outcome {
                result,
                records: None,
                keep: false,
            };
        }
        Lifecycle::Provisioned => {}
    }
    let node_port = gateway.spec.resolution_type == ResolutionType::NodePort;
    let view = input
        .services
        .get(&(cluster.name.clone(), service.to_owned()));
    let nodes = input.nodes.get(&cluster.name).filter(|_| node_port);
    result.last_success_time = view.and_then(|v| v.last_success.clone());
    if node_port {
        // Confirmed as a whole only as long ago as its older part.
        let nodes_success = nodes.and_then(|n| n.last_success.clone());
        result.last_success_time = result
            .last_success_time
            .zip(nodes_success)
            .map(|(a, b)| if a.0 <= b.0 { a } else { b });
    }
    let connection = input.connections.get(&cluster.name);
    // Why this cluster cannot be read now, if it cannot.
    let trouble = match connection {
        None | Some(Connection::Connecting) => Some((
            ClusterState::Pending,
            "Connecting",
            "connecting to the cluster".to_owned(),
        )),
        Some(Connection::KubeconfigMissing(message)) => {
            Some((ClusterState::Failed, "KubeconfigMissing", message.clone()))
        }
        Some(Connection::Unreachable(message)) => {
            Some((ClusterState::Unreachable, "Unreachable", message.clone()))
        }
        Some(Connection::Ready { .. }) => match view {
            None
            | Some(ServiceView {
                last: None,
                trouble: None,
                ..
            }) => Some((
                ClusterState::Pending,
                "Watching",
                format!("waiting for the first read of Service {service}"),
            )),
            Some(ServiceView {
                trouble: Some(message),
                ..
            }) => Some((ClusterState::Unreachable, "Unreachable", message.clone())),
            Some(_) if node_port => match nodes {
                None
                | Some(NodesView {
                    last: None,
                    trouble: None,
                    ..
                }) => Some((
                    ClusterState::Pending,
                    "Watching",
                    "waiting for the first read of the cluster's Nodes".to_owned(),
                )),
                Some(NodesView {
                    trouble: Some(message),
                    ..
                }) => Some((ClusterState::Unreachable, "Unreachable", message.clone())),
                Some(_) => None,
            },
            Some(_) => None,
        },
    };
    let last: Option<Result<Found<'_>, &NoAddress>> = if node_port {
        match (
            view.and_then(|v| v.node_ports.as_ref()),
            nodes.and_then(|n| n.last.as_ref()),
        ) {
            (Some(Err(no_address)), _) | (_, Some(Err(no_address))) => Some(Err(no_address)),
            (Some(Ok(ports)), Some(Ok(ips))) => Some(Ok(Found::NodePort { ips, ports })),
            _ => None,
        }
    } else {
        view.and_then(|v| v.last.as_ref())
            .map(|r| r.as_ref().map(Found::LoadBalancer))
    };
    if let Some((state, reason, message)) = trouble {
        // Uncertain: keep what was published, with the last known data.
        let records = match last {
            Some(Ok(found)) => records_of(input, gateway, cluster, &found, resolve),
            _ => None,
        };
        if let Some(records) = &records {
            result.addresses = shown_addresses(records);
        }
        say(state, reason, message);
        return Outcome {
            result,
            records,
            keep: true,
        };
    }
    match last {
        Some(Ok(found)) => {
            let records = records_of(input, gateway, cluster, &found, resolve);
            match (&records, &found) {
                (Some(records), _) => {
                    result.state = ClusterState::Ready;
                    result.addresses = shown_addresses(records);
                    if let Found::NodePort { ports, .. } = found {
                        result.message = Some(format!(
                            "node ports: {}",
                            ports
                                .iter()
                                .map(|p| match p.name.as_str() {
                                    "" => format!("{}/{}", p.node_port, p.protocol),
                                    name => format!("{name} {}/{}", p.node_port, p.protocol),
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                (None, Found::LoadBalancer(addresses)) => say(
                    ClusterState::Pending,
                    "Resolving",
                    format!(
                        "resolving the load balancer's hostname {}",
                        addresses.hostnames.join(", ")
                    ),
                ),
                (None, Found::NodePort { .. }) => {
                    unreachable!("node addresses are never empty when read")
                }
            }
            Outcome {
                result,
                records,
                keep: false,
            }
        }
        Some(Err(no_address)) => {
            let state = match no_address {
                NoAddress::NoAddressYet { .. } | NoAddress::NoReadyNodes => ClusterState::Pending,
                _ => ClusterState::Failed,
            };
            say(state, no_address.reason(), no_address.to_string());
            Outcome {
                result,
                records: None,
                keep: false,
            }
        }
        None => unreachable!("no read is trouble, handled above"),
    }
}

/// The records for `cluster`'s gateway as `found`, or `None` while its
/// hostnames are not resolved.
fn records_of(
    input: &NamespaceInput<'_>,
    gateway: &GatewayDNS,
    cluster: &ClusterView,
    found: &Found<'_>,
    resolve: &mut BTreeSet<String>,
) -> Option<Vec<PlannedRecord>> {
    let address_record = |spec| PlannedRecord {
        object_name: record_object_name(input.namespace, &cluster.name),
        spec,
    };
    match found {
        Found::LoadBalancer(addresses) => {
            let spec = load_balancer_spec(input, gateway, cluster, addresses, resolve)?;
            Some(vec![address_record(spec)])
        }
        Found::NodePort { ips, ports } => {
            let ttl = gateway.spec.ttl_or_default();
            let mut records = vec![address_record(DNSRecordSpec {
                name: owner_name(&cluster.name, input.namespace, input.suffix),
                ttl,
                addresses: ips.iter().map(IpAddr::to_string).collect(),
                ..DNSRecordSpec::default()
            })];
            // Unnamed ports have no SRV name (as in Kubernetes' own DNS).
            for port in ports.iter().filter(|p| !p.name.is_empty()) {
                records.push(PlannedRecord {
                    object_name: port_record_object_name(
                        input.namespace,
                        &cluster.name,
                        &port.name,
                        &port.protocol,
                    ),
                    spec: DNSRecordSpec {
                        name: port_owner_name(
                            &port.name,
                            &port.protocol,
                            &cluster.name,
                            input.namespace,
                            input.suffix,
                        ),
                        ttl,
                        srv: vec![SrvEntry {
                            priority: 0,
                            weight: 0,
                            port: port.node_port,
                            target: nodes_name(&cluster.name, input.namespace, input.suffix),
                        }],
                        ..DNSRecordSpec::default()
                    },
                });
            }
            Some(records)
        }
    }
}

/// The record for `cluster`'s load balancer at `addresses`, or `None`
/// while its hostnames are not resolved.
fn load_balancer_spec(
    input: &NamespaceInput<'_>,
    gateway: &GatewayDNS,
    cluster: &ClusterView,
    addresses: &GatewayAddresses,
    resolve: &mut BTreeSet<String>,
) -> Option<DNSRecordSpec> {
    let name = owner_name(&cluster.name, input.namespace, input.suffix);
    let ttl = gateway.spec.ttl_or_default();
    let mut ips: Vec<IpAddr> = addresses.ips.clone();
    if addresses.ips.is_empty()
        && gateway.spec.hostname_mode_or_default() == HostnameMode::Cname
        && let Some(hostname) = addresses.hostnames.first()
    {
        // The CNAME at once; the target's addresses with it as soon as they
        // are resolved (and kept current), so that clients that do not
        // chase CNAMEs get an address in the same answer.
        resolve.insert(hostname.clone());
        let mut target: Vec<IpAddr> = input.resolved.get(hostname).cloned().unwrap_or_default();
        target.sort_unstable();
        target.dedup();
        return Some(DNSRecordSpec {
            name,
            ttl,
            cname: Some(hostname.clone()),
            target_addresses: target.iter().map(IpAddr::to_string).collect(),
            ..DNSRecordSpec::default()
        });
    }
    for hostname in &addresses.hostnames {
        resolve.insert(hostname.clone());
        if let Some(found) = input.resolved.get(hostname) {
            ips.extend(found);
        }
    }
    ips.sort_unstable();
    ips.dedup();
    if ips.is_empty() {
        return None;
    }
    Some(DNSRecordSpec {
        name,
        ttl,
        addresses: ips.iter().map(IpAddr::to_string).collect(),
        ..DNSRecordSpec::default()
    })
}

/// What status shows of a cluster's records: its addresses, or its CNAME
/// target followed by the target's addresses.
fn shown_addresses(records: &[PlannedRecord]) -> Vec<String> {
    let Some(first) = records.first() else {
        return Vec::new();
    };
    match &first.spec.cname {
        Some(target) => std::iter::once(target.clone())
            .chain(first.spec.target_addresses.iter().cloned())
            .collect(),
        None => first.spec.addresses.clone(),
    }
}

/// The status of `gateway` from its clusters' results.
fn status_of(
    gateway: &GatewayDNS,
    mut clusters: Vec<ClusterResult>,
    conflicts: &[String],
    previous: Option<&GatewayDNSStatus>,
    now: &Time,
) -> GatewayDNSStatus {
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    let ready = clusters
        .iter()
        .filter(|c| c.state == ClusterState::Ready)
        .count();
    let not_ready: Vec<String> = clusters
        .iter()
        .filter(|c| c.state != ClusterState::Ready)
        .map(|c| format!("{}: {}", c.name, c.reason.as_deref().unwrap_or("?")))
        .collect();
    let ready_condition = if clusters.is_empty() {
        condition(
            previous,
            "Ready",
            false,
            "NoClustersSelected",
            "no Cluster of this namespace matches clusterSelector",
            now,
        )
    } else if not_ready.is_empty() {
        condition(
            previous,
            "Ready",
            true,
            "Published",
            &format!("the gateway of {ready} cluster(s) is published"),
            now,
        )
    } else {
        condition(
            previous,
            "Ready",
            false,
            "NotAllPublished",
            &format!(
                "{ready} of {} cluster(s) published; {}",
                clusters.len(),
                not_ready.join("; ")
            ),
            now,
        )
    };
    let troubled: Vec<String> = clusters
        .iter()
        .filter(|c| matches!(c.state, ClusterState::Unreachable | ClusterState::Failed))
        .map(|c| {
            format!(
                "{}: {}",
                c.name,
                c.message.as_deref().or(c.reason.as_deref()).unwrap_or("?")
            )
        })
        .collect();
    let degraded = if !conflicts.is_empty() {
        condition(
            previous,
            "Degraded",
            true,
            "Conflict",
            &format!(
                "another GatewayDNS selects the same cluster with different data: {}",
                conflicts.join(", ")
            ),
            now,
        )
    } else if !troubled.is_empty() {
        let reason = if clusters
            .iter()
            .any(|c| c.state == ClusterState::Unreachable)
        {
            "ClusterUnreachable"
        } else {
            "ClusterFailed"
        };
        condition(
            previous,
            "Degraded",
            true,
            reason,
            &troubled.join("; "),
            now,
        )
    } else {
        condition(
            previous,
            "Degraded",
            false,
            "AsExpected",
            "no cluster in trouble",
            now,
        )
    };
    GatewayDNSStatus {
        observed_generation: gateway.metadata.generation,
        conditions: vec![ready_condition, degraded],
        clusters,
    }
}

/// A condition; its transition time is the previous one when the status
/// (True/False) did not change.
fn condition(
    previous: Option<&GatewayDNSStatus>,
    kind: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_owned();
    let last_transition_time = previous
        .and_then(|p| p.conditions.iter().find(|c| c.type_ == kind))
        .filter(|c| c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: kind.to_owned(),
        status,
        reason: reason.to_owned(),
        message: message.to_owned(),
        last_transition_time,
        observed_generation: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn time(second: u32) -> Time {
        Time(format!("2024-05-01T10:00:{second:02}Z").parse().unwrap())
    }

    fn gateway(name: &str, second: u32, spec: serde_json::Value) -> GatewayDNS {
        let mut object: GatewayDNS = serde_json::from_value(json!({
            "apiVersion": "connectivity.tanzu.vmware.com/v1alpha1",
            "kind": "GatewayDNS",
            "metadata": {"name": name, "namespace": "dev-team", "generation": 3},
            "spec": spec,
        }))
        .unwrap();
        object.metadata.creation_timestamp = Some(time(second));
        object
    }

    fn walkthrough() -> GatewayDNS {
        gateway(
            "dev-team-gateway-dns",
            0,
            json!({
                "clusterSelector": {"matchLabels": {"hasContour": "true"}},
                "service": "projectcontour/envoy",
                "resolutionType": "loadBalancer",
            }),
        )
    }

    fn cluster(name: &str, labels: &[(&str, &str)], lifecycle: Lifecycle) -> ClusterView {
        ClusterView {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            lifecycle,
        }
    }

    fn contour(name: &str) -> ClusterView {
        cluster(name, &[("hasContour", "true")], Lifecycle::Provisioned)
    }

    fn ips(list: &[&str]) -> GatewayAddresses {
        GatewayAddresses {
            ips: list.iter().map(|ip| ip.parse().unwrap()).collect(),
            hostnames: Vec::new(),
        }
    }

    fn https(node_port: u16) -> NodePort {
        NodePort {
            name: "https".to_owned(),
            protocol: "TCP".to_owned(),
            node_port,
        }
    }

    /// A Service read: a LoadBalancer has node ports too.
    fn seen(addresses: Result<GatewayAddresses, NoAddress>) -> ServiceView {
        ServiceView {
            last: Some(addresses),
            node_ports: Some(Ok(vec![https(30443)])),
            last_success: Some(time(5)),
            trouble: None,
        }
    }

    /// The world the tests vary.
    struct World {
        gateways: Vec<GatewayDNS>,
        clusters: Vec<ClusterView>,
        connections: BTreeMap<String, Connection>,
        services: BTreeMap<(String, String), ServiceView>,
        resolved: BTreeMap<String, Vec<IpAddr>>,
        nodes: BTreeMap<String, NodesView>,
    }

    impl World {
        /// The walkthrough: cluster-a and cluster-b, both with Contour.
        fn walkthrough() -> Self {
            let mut world = Self {
                gateways: vec![walkthrough()],
                clusters: vec![contour("cluster-a"), contour("cluster-b")],
                connections: BTreeMap::new(),
                services: BTreeMap::new(),
                resolved: BTreeMap::new(),
                nodes: BTreeMap::new(),
            };
            for (name, ip) in [("cluster-a", "192.0.2.10"), ("cluster-b", "198.51.100.20")] {
                world.connect(name);
                world.service(name, "projectcontour/envoy", seen(Ok(ips(&[ip]))));
            }
            world
        }

        fn connect(&mut self, cluster: &str) {
            self.connections.insert(
                cluster.to_owned(),
                Connection::Ready {
                    has_namespace: true,
                },
            );
        }

        fn service(&mut self, cluster: &str, service: &str, view: ServiceView) {
            self.services
                .insert((cluster.to_owned(), service.to_owned()), view);
        }

        fn plan(&self) -> NamespacePlan {
            plan_namespace(&NamespaceInput {
                namespace: "dev-team",
                suffix: "xcc.test",
                gateways: &self.gateways,
                clusters: &self.clusters,
                connections: &self.connections,
                services: &self.services,
                nodes: &self.nodes,
                resolved: &self.resolved,
                previous: &BTreeMap::new(),
                now: &time(30),
            })
        }
    }

    fn records(plan: &NamespacePlan) -> Vec<(String, String, Vec<String>)> {
        plan.records
            .iter()
            .map(|r| {
                (
                    r.object_name.clone(),
                    r.spec.name.clone(),
                    r.spec.addresses.clone(),
                )
            })
            .collect()
    }

    fn cluster_states(
        plan: &NamespacePlan,
        gateway: &str,
    ) -> Vec<(String, ClusterState, Option<String>)> {
        plan.statuses[gateway]
            .clusters
            .iter()
            .map(|c| (c.name.clone(), c.state, c.reason.clone()))
            .collect()
    }

    fn condition_of(plan: &NamespacePlan, gateway: &str, kind: &str) -> (String, String) {
        let c = plan.statuses[gateway]
            .conditions
            .iter()
            .find(|c| c.type_ == kind)
            .unwrap();
        (c.status.clone(), c.reason.clone())
    }

    #[test]
    fn the_walkthrough_publishes_both_gateways_to_both_clusters() {
        let plan = World::walkthrough().plan();
        assert_eq!(
            records(&plan),
            [
                (
                    "dev-team-cluster-a-gateway".to_owned(),
                    "*.gateway.cluster-a.dev-team.clusters.xcc.test".to_owned(),
                    vec!["192.0.2.10".to_owned()]
                ),
                (
                    "dev-team-cluster-b-gateway".to_owned(),
                    "*.gateway.cluster-b.dev-team.clusters.xcc.test".to_owned(),
                    vec!["198.51.100.20".to_owned()]
                ),
            ]
        );
        assert_eq!(
            plan.targets,
            BTreeSet::from(["cluster-a".to_owned(), "cluster-b".to_owned()])
        );
        assert!(plan.keep.is_empty());
        assert_eq!(plan.watches.len(), 2);
        let record = &plan.records[0];
        assert_eq!(record.labels[MANAGED_BY], MANAGED_BY_VALUE);
        assert_eq!(record.labels[SOURCE_NAMESPACE], "dev-team");
        assert_eq!(record.labels[SOURCE_CLUSTER], "cluster-a");
        assert_eq!(record.labels[GATEWAY_DNS], "dev-team-gateway-dns");
        assert_eq!(record.spec.ttl, 30);
        let status = &plan.statuses["dev-team-gateway-dns"];
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(
            condition_of(&plan, "dev-team-gateway-dns", "Ready"),
            ("True".to_owned(), "Published".to_owned())
        );
        assert_eq!(
            condition_of(&plan, "dev-team-gateway-dns", "Degraded"),
            ("False".to_owned(), "AsExpected".to_owned())
        );
        assert_eq!(status.clusters[0].addresses, ["192.0.2.10"]);
        assert_eq!(status.clusters[0].last_success_time, Some(time(5)));
    }

    #[test]
    fn only_selected_clusters_are_published_but_every_cluster_is_a_target() {
        let mut world = World::walkthrough();
        world.clusters.push(cluster(
            "cluster-c",
            &[("hasContour", "false")],
            Lifecycle::Provisioned,
        ));
        world.connect("cluster-c");
        let plan = world.plan();
        assert_eq!(plan.records.len(), 2);
        assert!(plan.targets.contains("cluster-c"));
        // matchExpressions select too.
        world.gateways = vec![gateway(
            "exprs",
            0,
            json!({
                "clusterSelector": {"matchExpressions": [
                    {"key": "hasContour", "operator": "In", "values": ["false"]}
                ]},
                "service": "projectcontour/envoy",
                "resolutionType": "loadBalancer",
            }),
        )];
        world.service(
            "cluster-c",
            "projectcontour/envoy",
            seen(Ok(ips(&["2001:db8::c"]))),
        );
        let plan = world.plan();
        assert_eq!(
            records(&plan),
            [(
                "dev-team-cluster-c-gateway".to_owned(),
                "*.gateway.cluster-c.dev-team.clusters.xcc.test".to_owned(),
                vec!["2001:db8::c".to_owned()]
            )]
        );
    }

    #[test]
    fn clusters_without_the_namespace_or_not_ready_are_not_targets() {
        let mut world = World::walkthrough();
        world.connections.insert(
            "cluster-b".to_owned(),
            Connection::Ready {
                has_namespace: false,
            },
        );
        world.clusters.push(cluster(
            "cluster-new",
            &[("hasContour", "true")],
            Lifecycle::Provisioning("Provisioning".to_owned()),
        ));
        world.clusters.push(cluster(
            "cluster-old",
            &[("hasContour", "true")],
            Lifecycle::Deleting,
        ));
        let plan = world.plan();
        assert_eq!(plan.targets, BTreeSet::from(["cluster-a".to_owned()]));
        // cluster-b's gateway is still published (to cluster-a).
        assert_eq!(plan.records.len(), 2);
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns"),
            [
                ("cluster-a".to_owned(), ClusterState::Ready, None),
                ("cluster-b".to_owned(), ClusterState::Ready, None),
                (
                    "cluster-new".to_owned(),
                    ClusterState::Pending,
                    Some("NotProvisioned".to_owned())
                ),
                (
                    "cluster-old".to_owned(),
                    ClusterState::Pending,
                    Some("Deleting".to_owned())
                ),
            ]
        );
        assert!(!plan.connect.contains("cluster-new"));
        assert!(!plan.connect.contains("cluster-old"));
        assert!(!plan.keep.contains("cluster-old"));
    }

    #[test]
    fn an_unreachable_cluster_keeps_its_last_known_record() {
        let mut world = World::walkthrough();
        world.connections.insert(
            "cluster-b".to_owned(),
            Connection::Unreachable("connection refused".to_owned()),
        );
        let plan = world.plan();
        assert_eq!(plan.records.len(), 2, "cluster-b's last addresses stay");
        assert_eq!(plan.records[1].spec.addresses, ["198.51.100.20"]);
        assert_eq!(plan.keep, BTreeSet::from(["cluster-b".to_owned()]));
        assert!(!plan.targets.contains("cluster-b"));
        let states = cluster_states(&plan, "dev-team-gateway-dns");
        assert_eq!(
            states[1],
            (
                "cluster-b".to_owned(),
                ClusterState::Unreachable,
                Some("Unreachable".to_owned())
            )
        );
        assert_eq!(
            plan.statuses["dev-team-gateway-dns"].clusters[1].last_success_time,
            Some(time(5))
        );
        assert_eq!(
            condition_of(&plan, "dev-team-gateway-dns", "Degraded"),
            ("True".to_owned(), "ClusterUnreachable".to_owned())
        );
        // Never read and unreachable: nothing to publish, but whatever is
        // there stays.
        world.services.clear();
        let plan = world.plan();
        assert_eq!(plan.records.len(), 0);
        assert!(plan.keep.contains("cluster-b"));
        // A broken watch is uncertain too.
        let mut world = World::walkthrough();
        world.service(
            "cluster-a",
            "projectcontour/envoy",
            ServiceView {
                trouble: Some("watch failed: 500".to_owned()),
                ..seen(Ok(ips(&["192.0.2.10"])))
            },
        );
        let plan = world.plan();
        assert!(plan.keep.contains("cluster-a"));
        assert_eq!(plan.records[0].spec.addresses, ["192.0.2.10"]);
        // A missing kubeconfig: Failed, kept.
        let mut world = World::walkthrough();
        world.connections.insert(
            "cluster-a".to_owned(),
            Connection::KubeconfigMissing("no Secret dev-team/cluster-a-kubeconfig".to_owned()),
        );
        let plan = world.plan();
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns")[0],
            (
                "cluster-a".to_owned(),
                ClusterState::Failed,
                Some("KubeconfigMissing".to_owned())
            )
        );
        assert!(plan.keep.contains("cluster-a"));
    }

    #[test]
    fn a_service_without_an_address_is_reported_and_not_published() {
        let mut world = World::walkthrough();
        world.service(
            "cluster-a",
            "projectcontour/envoy",
            seen(Err(NoAddress::NoSuchService {
                service: "projectcontour/envoy".to_owned(),
            })),
        );
        world.service(
            "cluster-b",
            "projectcontour/envoy",
            seen(Err(NoAddress::NoAddressYet {
                service: "projectcontour/envoy".to_owned(),
            })),
        );
        let plan = world.plan();
        assert!(plan.records.is_empty());
        assert!(plan.keep.is_empty(), "certain: the records go");
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns"),
            [
                (
                    "cluster-a".to_owned(),
                    ClusterState::Failed,
                    Some("ServiceNotFound".to_owned())
                ),
                (
                    "cluster-b".to_owned(),
                    ClusterState::Pending,
                    Some("NoAddressYet".to_owned())
                ),
            ]
        );
        assert_eq!(
            condition_of(&plan, "dev-team-gateway-dns", "Ready"),
            ("False".to_owned(), "NotAllPublished".to_owned())
        );
    }

    #[test]
    fn hostnames_are_resolved_or_published_as_cname() {
        let mut world = World::walkthrough();
        let host = GatewayAddresses {
            ips: Vec::new(),
            hostnames: vec!["lb-1.example.com".to_owned()],
        };
        world.service("cluster-a", "projectcontour/envoy", seen(Ok(host)));
        // Not yet resolved: pending, and asked for.
        let plan = world.plan();
        assert_eq!(plan.records.len(), 1);
        assert!(plan.resolve.contains("lb-1.example.com"));
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns")[0]
                .2
                .as_deref(),
            Some("Resolving")
        );
        world.resolved.insert(
            "lb-1.example.com".to_owned(),
            vec![
                "203.0.113.5".parse().unwrap(),
                "2001:db8::5".parse().unwrap(),
            ],
        );
        let plan = world.plan();
        assert_eq!(
            plan.records[0].spec.addresses,
            ["203.0.113.5", "2001:db8::5"]
        );
        // CNAME mode: the CNAME with the target's resolved addresses.
        world.gateways[0].spec.hostname_mode = Some(HostnameMode::Cname);
        let plan = world.plan();
        assert_eq!(
            plan.records[0].spec.cname.as_deref(),
            Some("lb-1.example.com")
        );
        assert!(plan.records[0].spec.addresses.is_empty());
        assert_eq!(
            plan.records[0].spec.target_addresses,
            ["203.0.113.5", "2001:db8::5"]
        );
        assert!(plan.resolve.contains("lb-1.example.com"), "kept current");
        assert_eq!(
            plan.statuses["dev-team-gateway-dns"].clusters[0].addresses,
            ["lb-1.example.com", "203.0.113.5", "2001:db8::5"]
        );
        // Before the hostname resolves: the CNAME alone, at once.
        world.resolved.clear();
        let plan = world.plan();
        assert_eq!(
            plan.records[0].spec.cname.as_deref(),
            Some("lb-1.example.com")
        );
        assert!(plan.records[0].spec.target_addresses.is_empty());
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns")[0].1,
            ClusterState::Ready
        );
    }

    fn node_port_walkthrough() -> World {
        let mut world = World::walkthrough();
        world.gateways[0].spec.resolution_type = ResolutionType::NodePort;
        world
    }

    fn nodes_seen(list: &[&str]) -> NodesView {
        NodesView {
            last: Some(Ok(list.iter().map(|ip| ip.parse().unwrap()).collect())),
            last_success: Some(time(7)),
            trouble: None,
        }
    }

    #[test]
    fn node_port_gateways_publish_node_addresses_and_an_srv_per_named_port() {
        let mut world = node_port_walkthrough();
        // Nodes not read yet: pending, and the Nodes are to be watched.
        let plan = world.plan();
        assert!(plan.records.is_empty());
        assert_eq!(
            plan.node_watches,
            BTreeSet::from(["cluster-a".to_owned(), "cluster-b".to_owned()])
        );
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns")[0]
                .2
                .as_deref(),
            Some("Watching")
        );
        world.nodes.insert(
            "cluster-a".to_owned(),
            nodes_seen(&["10.0.0.1", "10.0.0.2"]),
        );
        world
            .nodes
            .insert("cluster-b".to_owned(), nodes_seen(&["10.1.0.1"]));
        // cluster-a's Service has a second, unnamed-for-SRV port and a UDP one.
        let mut view = seen(Ok(ips(&["192.0.2.10"])));
        view.node_ports = Some(Ok(vec![
            NodePort {
                name: "dns".to_owned(),
                protocol: "UDP".to_owned(),
                node_port: 30053,
            },
            https(31443),
            NodePort {
                name: String::new(),
                protocol: "TCP".to_owned(),
                node_port: 30999,
            },
        ]));
        world.service("cluster-a", "projectcontour/envoy", view);
        let plan = world.plan();
        let srv: Vec<(String, String, u16, String)> = plan
            .records
            .iter()
            .flat_map(|r| {
                r.spec.srv.iter().map(|e| {
                    (
                        r.object_name.clone(),
                        r.spec.name.clone(),
                        e.port,
                        e.target.clone(),
                    )
                })
            })
            .collect();
        assert_eq!(
            srv,
            [
                (
                    "dev-team-cluster-a-gateway-dns-udp".to_owned(),
                    "_dns._udp.gateway.cluster-a.dev-team.clusters.xcc.test".to_owned(),
                    30053,
                    "nodes.gateway.cluster-a.dev-team.clusters.xcc.test.".to_owned()
                ),
                (
                    "dev-team-cluster-a-gateway-https-tcp".to_owned(),
                    "_https._tcp.gateway.cluster-a.dev-team.clusters.xcc.test".to_owned(),
                    31443,
                    "nodes.gateway.cluster-a.dev-team.clusters.xcc.test.".to_owned()
                ),
                (
                    "dev-team-cluster-b-gateway-https-tcp".to_owned(),
                    "_https._tcp.gateway.cluster-b.dev-team.clusters.xcc.test".to_owned(),
                    30443,
                    "nodes.gateway.cluster-b.dev-team.clusters.xcc.test.".to_owned()
                ),
            ]
        );
        let addresses: Vec<_> = records(&plan)
            .into_iter()
            .filter(|(_, _, addresses)| !addresses.is_empty())
            .collect();
        assert_eq!(
            addresses,
            [
                (
                    "dev-team-cluster-a-gateway".to_owned(),
                    "*.gateway.cluster-a.dev-team.clusters.xcc.test".to_owned(),
                    vec!["10.0.0.1".to_owned(), "10.0.0.2".to_owned()]
                ),
                (
                    "dev-team-cluster-b-gateway".to_owned(),
                    "*.gateway.cluster-b.dev-team.clusters.xcc.test".to_owned(),
                    vec!["10.1.0.1".to_owned()]
                ),
            ]
        );
        // Every record of a cluster carries the same labels (GC and keep
        // go by them).
        for record in &plan.records {
            assert_eq!(record.labels[SOURCE_CLUSTER], record.cluster);
        }
        let status = &plan.statuses["dev-team-gateway-dns"].clusters[0];
        assert_eq!(status.state, ClusterState::Ready);
        assert_eq!(status.addresses, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(
            status.message.as_deref(),
            Some("node ports: dns 30053/UDP, https 31443/TCP, 30999/TCP")
        );
        // The older of the two reads is when it was last confirmed.
        assert_eq!(status.last_success_time, Some(time(5)));

        // No Ready node: pending, nothing published for that cluster.
        world.nodes.insert(
            "cluster-b".to_owned(),
            NodesView {
                last: Some(Err(NoAddress::NoReadyNodes)),
                ..nodes_seen(&[])
            },
        );
        let plan = world.plan();
        assert!(plan.records.iter().all(|r| r.cluster == "cluster-a"));
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns")[1],
            (
                "cluster-b".to_owned(),
                ClusterState::Pending,
                Some("NoReadyNodes".to_owned())
            )
        );
        // A Service without node ports fails, named.
        world.service(
            "cluster-b",
            "projectcontour/envoy",
            ServiceView {
                node_ports: Some(Err(NoAddress::NoNodePorts {
                    service: "projectcontour/envoy".to_owned(),
                    kind: "ClusterIP".to_owned(),
                })),
                ..seen(Err(NoAddress::NotALoadBalancer {
                    service: "projectcontour/envoy".to_owned(),
                    kind: "ClusterIP".to_owned(),
                }))
            },
        );
        let plan = world.plan();
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns")[1]
                .2
                .as_deref(),
            Some("NoNodePorts")
        );
        // The Nodes watch in trouble: uncertain, the records are kept with
        // the last known data.
        world.nodes.insert(
            "cluster-a".to_owned(),
            NodesView {
                trouble: Some("watch of Nodes failed".to_owned()),
                ..nodes_seen(&["10.0.0.1", "10.0.0.2"])
            },
        );
        let plan = world.plan();
        assert!(plan.keep.contains("cluster-a"));
        assert_eq!(
            plan.records
                .iter()
                .filter(|r| r.cluster == "cluster-a")
                .count(),
            3
        );
        assert_eq!(
            cluster_states(&plan, "dev-team-gateway-dns")[0].1,
            ClusterState::Unreachable
        );
    }

    #[test]
    fn a_load_balancer_gateway_does_not_watch_nodes() {
        let world = World::walkthrough();
        assert!(world.plan().node_watches.is_empty());
    }

    #[test]
    fn two_gateway_dns_agreeing_make_one_record_and_disagreeing_conflict() {
        let mut world = World::walkthrough();
        let mut twin = walkthrough();
        twin.metadata.name = Some("twin".to_owned());
        twin.metadata.creation_timestamp = Some(time(9));
        world.gateways.push(twin);
        let plan = world.plan();
        assert_eq!(plan.records.len(), 2, "same data: one record per cluster");
        assert_eq!(
            condition_of(&plan, "twin", "Degraded"),
            ("False".to_owned(), "AsExpected".to_owned())
        );
        // Different TTL: the older wins, both say Conflict.
        world.gateways[1].spec.ttl = Some(60);
        let plan = world.plan();
        assert_eq!(plan.records.len(), 2);
        assert!(plan.records.iter().all(|r| r.spec.ttl == 30));
        assert!(
            plan.records
                .iter()
                .all(|r| r.labels[GATEWAY_DNS] == "dev-team-gateway-dns")
        );
        assert_eq!(
            condition_of(&plan, "twin", "Degraded"),
            ("True".to_owned(), "Conflict".to_owned())
        );
        assert_eq!(
            condition_of(&plan, "dev-team-gateway-dns", "Degraded"),
            ("True".to_owned(), "Conflict".to_owned())
        );
        assert_eq!(
            cluster_states(&plan, "twin")[0],
            (
                "cluster-a".to_owned(),
                ClusterState::Failed,
                Some("Conflict".to_owned())
            )
        );
        // The same objects in another order: the same plan.
        world.gateways.reverse();
        assert_eq!(world.plan(), plan);
    }

    #[test]
    fn deleted_gateway_dns_leaves_nothing_to_keep() {
        let mut world = World::walkthrough();
        world.connections.insert(
            "cluster-b".to_owned(),
            Connection::Unreachable("down".to_owned()),
        );
        world.gateways.clear();
        let plan = world.plan();
        assert!(plan.records.is_empty());
        assert!(plan.keep.is_empty());
        assert!(plan.statuses.is_empty());
        assert!(plan.watches.is_empty());
    }

    #[test]
    fn a_selector_the_api_server_would_refuse_is_reported() {
        let mut world = World::walkthrough();
        world.gateways[0].spec.cluster_selector.match_expressions = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "hasContour".to_owned(),
                operator: "Equals".to_owned(),
                values: None,
            },
        ]);
        let plan = world.plan();
        assert!(plan.records.is_empty());
        assert_eq!(
            condition_of(&plan, "dev-team-gateway-dns", "Ready"),
            ("False".to_owned(), "InvalidSelector".to_owned())
        );
    }

    #[test]
    fn condition_times_move_only_on_transitions() {
        let world = World::walkthrough();
        let first = world.plan();
        let previous: BTreeMap<String, GatewayDNSStatus> = first.statuses.clone();
        let later = plan_namespace(&NamespaceInput {
            namespace: "dev-team",
            suffix: "xcc.test",
            gateways: &world.gateways,
            clusters: &world.clusters,
            connections: &world.connections,
            services: &world.services,
            nodes: &world.nodes,
            resolved: &world.resolved,
            previous: &previous,
            now: &time(59),
        });
        assert_eq!(later.statuses, first.statuses, "no transition, same times");
    }
}
