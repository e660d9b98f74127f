//! What a workload cluster's gateway Service says about its addresses: a
//! pure function from the Service object to addresses, or the reason there
//! are none yet.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;

use crate::api::ResolutionType;

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
    /// A resolution type this controller does not handle.
    #[error("resolutionType {0:?} is not supported yet")]
    Unsupported(ResolutionType),
}

impl NoAddress {
    /// A one-word reason for status.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoSuchService { .. } => "ServiceNotFound",
            Self::NotALoadBalancer { .. } => "NotALoadBalancer",
            Self::NoAddressYet { .. } => "NoAddressYet",
            Self::BadAddress { .. } => "BadAddress",
            Self::Unsupported(_) => "Unsupported",
        }
    }
}

/// The gateway addresses of `service` (`None`: it does not exist), named
/// `name` (`namespace/name`) in messages, for `resolution`.
pub fn gateway_addresses(
    name: &str,
    service: Option<&Service>,
    resolution: ResolutionType,
) -> Result<GatewayAddresses, NoAddress> {
    if resolution != ResolutionType::LoadBalancer {
        return Err(NoAddress::Unsupported(resolution));
    }
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
        let get = |s: &Service| gateway_addresses(name, Some(s), ResolutionType::LoadBalancer);
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
            gateway_addresses(name, None, ResolutionType::LoadBalancer)
                .unwrap_err()
                .reason(),
            "ServiceNotFound"
        );
        assert_eq!(
            gateway_addresses(name, None, ResolutionType::NodePort)
                .unwrap_err()
                .reason(),
            "Unsupported"
        );
    }
}
