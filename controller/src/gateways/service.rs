//! What a workload cluster's gateway Service and Nodes say about the
//! gateway's addresses: pure functions from the objects to addresses (or
//! node ports), or the reason there are none yet.
//!
//! - [`gateway_addresses`]: `resolutionType: loadBalancer`, the Service's
//!   load-balancer ingress IPs and hostnames.
//! - [`node_ports`] and [`node_addresses`]: `resolutionType: nodePort`, the
//!   Service's node ports and the addresses of the cluster's Ready nodes
//!   (each node's `ExternalIP`s, or its `InternalIP`s when no node of the
//!   cluster has an external one: other clusters must reach them, and
//!   clusters without load balancers are mostly on private networks where
//!   the internal address is the reachable one).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, Service};

/// The addresses a gateway Service publishes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayAddresses {
    /// Load-balancer IPs, sorted, without repeats.
    pub ips: Vec<IpAddr>,
    /// Load-balancer hostnames (to resolve, or to publish as a CNAME),
    /// lowercase, sorted, without repeats.
    pub hostnames: Vec<String>,
}

/// Why a Service gives no address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoAddress {
    /// The Service does not exist.
    #[error("no Service {service} in the cluster")]
    NoSuchService {
        /// `namespace/name`.
        service: String,
    },
    /// The Service is not of type LoadBalancer.
    #[error("Service {service} is of type {kind}, not LoadBalancer")]
    NotALoadBalancer {
        /// `namespace/name`.
        service: String,
        /// Its type.
        kind: String,
    },
    /// The load balancer has no ingress address yet.
    #[error("Service {service} has no load-balancer address yet")]
    NoAddressYet {
        /// `namespace/name`.
        service: String,
    },
    /// An ingress entry that is neither an IP nor a hostname.
    #[error("Service {service} reports an ingress address that is not an IP: {value:?}")]
    BadAddress {
        /// `namespace/name`.
        service: String,
        /// The value.
        value: String,
    },
    /// `resolutionType: nodePort` for a Service without node ports
    /// (`ClusterIP`, `ExternalName`, or `allocateLoadBalancerNodePorts:
    /// false`).
    #[error("Service {service} is of type {kind} and has no node ports")]
    NoNodePorts {
        /// `namespace/name`.
        service: String,
        /// Its type.
        kind: String,
    },
    /// `resolutionType: nodePort` in a cluster with no Ready node that has
    /// an address.
    #[error("no Ready node with an address in the cluster")]
    NoReadyNodes,
}

impl NoAddress {
    /// A one-word reason for status.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoSuchService { .. } => "ServiceNotFound",
            Self::NotALoadBalancer { .. } => "NotALoadBalancer",
            Self::NoAddressYet { .. } => "NoAddressYet",
            Self::BadAddress { .. } => "BadAddress",
            Self::NoNodePorts { .. } => "NoNodePorts",
            Self::NoReadyNodes => "NoReadyNodes",
        }
    }
}

/// The load-balancer addresses of `service` (`None`: it does not exist),
/// named `name` (`namespace/name`) in messages.
pub fn gateway_addresses(
    name: &str,
    service: Option<&Service>,
) -> Result<GatewayAddresses, NoAddress> {
    let Some(service) = service else {
        return Err(NoAddress::NoSuchService {
            service: name.to_owned(),
        });
    };
    let kind = service
        .spec
        .as_ref()
        .and_then(|spec| spec.type_.as_deref())
        .unwrap_or("ClusterIP");
    if kind != "LoadBalancer" {
        return Err(NoAddress::NotALoadBalancer {
            service: name.to_owned(),
            kind: kind.to_owned(),
        });
    }
    let ingress = service
        .status
        .as_ref()
        .and_then(|status| status.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or_default();
    let mut addresses = GatewayAddresses::default();
    for entry in ingress {
        if let Some(ip) = entry.ip.as_deref().filter(|ip| !ip.is_empty()) {
            let ip = ip
                .trim()
                .parse::<IpAddr>()
                .map_err(|_| NoAddress::BadAddress {
                    service: name.to_owned(),
                    value: ip.to_owned(),
                })?;
            addresses.ips.push(ip);
        } else if let Some(hostname) = entry.hostname.as_deref().filter(|h| !h.is_empty()) {
            addresses
                .hostnames
                .push(hostname.trim_end_matches('.').to_ascii_lowercase());
        }
    }
    addresses.ips.sort_unstable();
    addresses.ips.dedup();
    addresses.hostnames.sort_unstable();
    addresses.hostnames.dedup();
    if addresses.ips.is_empty() && addresses.hostnames.is_empty() {
        return Err(NoAddress::NoAddressYet {
            service: name.to_owned(),
        });
    }
    Ok(addresses)
}

/// One node port of a gateway Service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodePort {
    /// The Service port's name (empty for the unnamed port of a one-port
    /// Service).
    pub name: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port every node listens on.
    pub node_port: u16,
}

/// The node ports of `service` (`None`: it does not exist), sorted by name
/// and protocol, named `name` (`namespace/name`) in messages.
pub fn node_ports(name: &str, service: Option<&Service>) -> Result<Vec<NodePort>, NoAddress> {
    let Some(service) = service else {
        return Err(NoAddress::NoSuchService {
            service: name.to_owned(),
        });
    };
    let spec = service.spec.as_ref();
    let kind = spec
        .and_then(|spec| spec.type_.as_deref())
        .unwrap_or("ClusterIP");
    let mut ports: Vec<NodePort> = spec
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or_default()
        .iter()
        .filter_map(|port| {
            let node_port = u16::try_from(port.node_port?).ok().filter(|p| *p > 0)?;
            Some(NodePort {
                name: port.name.clone().unwrap_or_default(),
                protocol: port.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                node_port,
            })
        })
        .collect();
    if ports.is_empty() {
        return Err(NoAddress::NoNodePorts {
            service: name.to_owned(),
            kind: kind.to_owned(),
        });
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// The label that keeps a node out of external load balancers (and so out
/// of the node addresses published for a gateway).
pub const EXCLUDE_FROM_LOAD_BALANCERS: &str =
    "node.kubernetes.io/exclude-from-external-load-balancers";

/// What [`node_addresses`] needs of one Node, kept instead of the whole
/// object (Node objects carry image lists of many kilobytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// Being deleted, or labelled [`EXCLUDE_FROM_LOAD_BALANCERS`].
    pub excluded: bool,
    /// Its `ExternalIP` addresses.
    pub external: Vec<IpAddr>,
    /// Its `InternalIP` addresses.
    pub internal: Vec<IpAddr>,
}

impl NodeFacts {
    /// The facts of `node`; addresses that do not parse are left out.
    pub fn of(node: &Node) -> Self {
        let status = node.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let excluded = node.metadata.deletion_timestamp.is_some()
            || node
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(EXCLUDE_FROM_LOAD_BALANCERS));
        let mut facts = Self {
            ready,
            excluded,
            ..Self::default()
        };
        for address in status
            .and_then(|s| s.addresses.as_deref())
            .unwrap_or_default()
        {
            let Ok(ip) = address.address.trim().parse::<IpAddr>() else {
                continue;
            };
            match address.type_.as_str() {
                "ExternalIP" => facts.external.push(ip),
                "InternalIP" => facts.internal.push(ip),
                _ => {}
            }
        }
        facts
    }
}

/// The addresses published for a `nodePort` gateway: of the Ready nodes not
/// excluded, their `ExternalIP`s, or their `InternalIP`s when none has an
/// external one; sorted, without repeats.
pub fn node_addresses<'a>(
    nodes: impl IntoIterator<Item = &'a NodeFacts>,
) -> Result<Vec<IpAddr>, NoAddress> {
    let usable: Vec<&NodeFacts> = nodes
        .into_iter()
        .filter(|n| n.ready && !n.excluded)
        .collect();
    let external = usable.iter().any(|n| !n.external.is_empty());
    let mut ips: Vec<IpAddr> = usable
        .iter()
        .flat_map(|n| if external { &n.external } else { &n.internal })
        .copied()
        .collect();
    ips.sort_unstable();
    ips.dedup();
    if ips.is_empty() {
        return Err(NoAddress::NoReadyNodes);
    }
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(value: serde_json::Value) -> Service {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn addresses_from_load_balancer_ingress() {
        let lb = |ingress: serde_json::Value| {
            service(json!({
                "metadata": {"name": "envoy", "namespace": "projectcontour"},
                "spec": {"type": "LoadBalancer"},
                "status": {"loadBalancer": {"ingress": ingress}},
            }))
        };
        let name = "projectcontour/envoy";
        let get = |s: &Service| gateway_addresses(name, Some(s));
        let ok = get(&lb(
            json!([{"ip": "192.0.2.10"}, {"ip": "2001:db8::10"}, {"ip": "192.0.2.10"}]),
        ))
        .unwrap();
        assert_eq!(
            ok.ips,
            [
                "192.0.2.10".parse::<IpAddr>().unwrap(),
                "2001:db8::10".parse().unwrap()
            ]
        );
        assert!(ok.hostnames.is_empty());
        let host = get(&lb(json!([{"hostname": "LB-1.Example.com."}]))).unwrap();
        assert_eq!(host.hostnames, ["lb-1.example.com"]);
        assert_eq!(get(&lb(json!([]))).unwrap_err().reason(), "NoAddressYet");
        assert_eq!(
            get(&lb(json!([{"ip": "not-an-ip"}]))).unwrap_err().reason(),
            "BadAddress"
        );
        let cluster_ip =
            service(json!({"metadata": {"name": "envoy"}, "spec": {"type": "ClusterIP"}}));
        assert_eq!(
            get(&cluster_ip).unwrap_err(),
            NoAddress::NotALoadBalancer {
                service: name.to_owned(),
                kind: "ClusterIP".to_owned()
            }
        );
        assert_eq!(
            gateway_addresses(name, None).unwrap_err().reason(),
            "ServiceNotFound"
        );
    }

    #[test]
    fn node_ports_of_node_port_and_load_balancer_services() {
        let name = "projectcontour/envoy";
        let with = |kind: &str, ports: serde_json::Value| {
            service(json!({
                "metadata": {"name": "envoy", "namespace": "projectcontour"},
                "spec": {"type": kind, "ports": ports},
            }))
        };
        let ports = json!([
            {"name": "https", "port": 443, "nodePort": 30443},
            {"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
            {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
        ]);
        let want = vec![
            NodePort {
                name: "dns".to_owned(),
                protocol: "UDP".to_owned(),
                node_port: 30053,
            },
            NodePort {
                name: "http".to_owned(),
                protocol: "TCP".to_owned(),
                node_port: 30080,
            },
            NodePort {
                name: "https".to_owned(),
                protocol: "TCP".to_owned(),
                node_port: 30443,
            },
        ];
        assert_eq!(
            node_ports(name, Some(&with("NodePort", ports.clone()))),
            Ok(want.clone())
        );
        assert_eq!(
            node_ports(name, Some(&with("LoadBalancer", ports))),
            Ok(want)
        );
        let cluster_ip = with("ClusterIP", json!([{"name": "https", "port": 443}]));
        assert_eq!(
            node_ports(name, Some(&cluster_ip)),
            Err(NoAddress::NoNodePorts {
                service: name.to_owned(),
                kind: "ClusterIP".to_owned()
            })
        );
        // allocateLoadBalancerNodePorts: false leaves a LoadBalancer without.
        let no_ports = with("LoadBalancer", json!([{"name": "https", "port": 443}]));
        assert_eq!(
            node_ports(name, Some(&no_ports)).unwrap_err().reason(),
            "NoNodePorts"
        );
        assert_eq!(
            node_ports(name, None).unwrap_err().reason(),
            "ServiceNotFound"
        );
    }

    fn node(value: serde_json::Value) -> NodeFacts {
        NodeFacts::of(&serde_json::from_value(value).unwrap())
    }

    fn ready_node(addresses: serde_json::Value) -> serde_json::Value {
        json!({
            "metadata": {"name": "n"},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": addresses,
            },
        })
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn node_addresses_prefer_external_ips_of_ready_nodes() {
        let internal_only = node(ready_node(json!([
            {"type": "InternalIP", "address": "10.0.0.2"},
            {"type": "Hostname", "address": "node-2"},
        ])));
        let both = node(ready_node(json!([
            {"type": "InternalIP", "address": "10.0.0.1"},
            {"type": "ExternalIP", "address": "192.0.2.1"},
            {"type": "InternalIP", "address": "fd00::1"},
        ])));
        // One node with an external address: only external ones are used.
        assert_eq!(
            node_addresses([&internal_only, &both]),
            Ok(ips(&["192.0.2.1"]))
        );
        // None has one: the internal addresses, IPv4 and IPv6, sorted.
        let other = node(ready_node(json!([
            {"type": "InternalIP", "address": "fd00::3"},
            {"type": "InternalIP", "address": "10.0.0.2"},
        ])));
        assert_eq!(
            node_addresses([&internal_only, &other]),
            Ok(ips(&["10.0.0.2", "fd00::3"]))
        );
        // Not Ready, being deleted, or excluded from load balancers: left out.
        let mut not_ready = ready_node(json!([{"type": "InternalIP", "address": "10.0.0.9"}]));
        not_ready["status"]["conditions"][0]["status"] = json!("Unknown");
        let mut deleting = ready_node(json!([{"type": "InternalIP", "address": "10.0.0.8"}]));
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-29T12:00:00Z");
        let mut excluded = ready_node(json!([{"type": "InternalIP", "address": "10.0.0.7"}]));
        excluded["metadata"]["labels"] = json!({EXCLUDE_FROM_LOAD_BALANCERS: ""});
        let left_out = [node(not_ready), node(deleting), node(excluded)];
        assert_eq!(
            node_addresses(left_out.iter().chain([&internal_only])),
            Ok(ips(&["10.0.0.2"]))
        );
        assert_eq!(node_addresses(&left_out), Err(NoAddress::NoReadyNodes));
        assert_eq!(node_addresses([]), Err(NoAddress::NoReadyNodes));
        // An address that is not an IP is skipped, not fatal.
        let odd = node(ready_node(json!([
            {"type": "InternalIP", "address": "node-3.internal"},
            {"type": "InternalIP", "address": "10.0.0.3"},
        ])));
        assert_eq!(node_addresses([&odd]), Ok(ips(&["10.0.0.3"])));
    }
}
