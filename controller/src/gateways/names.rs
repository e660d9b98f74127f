//! Names the gateways controller makes, and the label selector it reads:
//! pure functions.
//!
//! - [`owner_name`] gives `*.gateway.<cluster>.<namespace>.clusters.<suffix>`,
//!   the wildcard a cluster's gateway is published under.
//! - [`record_object_name`] gives the `DNSRecord` object's name,
//!   `<namespace>-<cluster>-gateway`, shortened with a hash when it would
//!   pass Kubernetes' limit, so that two clusters never share one.
//! - [`port_owner_name`], [`port_record_object_name`] and [`nodes_name`]
//!   give the SRV record of each named node port of a `nodePort` gateway,
//!   and the name it points at.
//! - [`label_value`] gives a label value (63 characters at most) for a name that
//!   may be longer.
//! - [`selector_matches`] applies Kubernetes label selector semantics
//!   (`matchLabels` and `matchExpressions`), with typed errors for
//!   selectors the API server would refuse.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// The longest object name (a DNS subdomain, RFC 1123).
pub const MAX_OBJECT_NAME: usize = 253;
/// The longest label value.
pub const MAX_LABEL_VALUE: usize = 63;

/// The owner name of a cluster's gateway: every name below it resolves to
/// the gateway. `suffix` may end with a dot.
pub fn owner_name(cluster: &str, namespace: &str, suffix: &str) -> String {
    let suffix = suffix.trim_end_matches('.');
    format!("*.gateway.{cluster}.{namespace}.clusters.{suffix}")
}

/// The name of the `DNSRecord` object that publishes `cluster`'s gateway
/// (of management namespace `namespace`): `<namespace>-<cluster>-gateway`,
/// lowercase. Past 253 characters it is cut and ends with a hash of both
/// parts, so distinct (namespace, cluster) pairs keep distinct names.
pub fn record_object_name(namespace: &str, cluster: &str) -> String {
    object_name(namespace, cluster, "gateway")
}

/// The name of the `DNSRecord` object that publishes the SRV record of one
/// node port of `cluster`'s gateway: `<namespace>-<cluster>-gateway-<port
/// name>-<protocol>`, lowercase, shortened like [`record_object_name`].
pub fn port_record_object_name(
    namespace: &str,
    cluster: &str,
    port_name: &str,
    protocol: &str,
) -> String {
    object_name(
        namespace,
        cluster,
        &format!("gateway-{port_name}-{protocol}"),
    )
}

/// `<namespace>-<cluster>-<tail>`, lowercase, cut and hashed past 253
/// characters (the tail kept whole).
fn object_name(namespace: &str, cluster: &str, tail: &str) -> String {
    let plain = format!("{namespace}-{cluster}-{tail}").to_ascii_lowercase();
    if plain.len() <= MAX_OBJECT_NAME {
        return plain;
    }
    let hash = short_hash(&[namespace, cluster]);
    let keep = MAX_OBJECT_NAME - tail.len() - 2 - hash.len();
    let mut cut = plain[..keep].trim_end_matches(['-', '.']).to_owned();
    cut.push('-');
    cut.push_str(&hash);
    cut.push('-');
    cut.push_str(&tail.to_ascii_lowercase());
    cut
}

/// The name a `nodePort` gateway's SRV records point at:
/// `nodes.gateway.<cluster>.<namespace>.clusters.<suffix>.`, which the
/// gateway's wildcard answers with the node addresses.
pub fn nodes_name(cluster: &str, namespace: &str, suffix: &str) -> String {
    let suffix = suffix.trim_end_matches('.');
    format!("nodes.gateway.{cluster}.{namespace}.clusters.{suffix}.")
}

/// The owner of the SRV record of one named node port (RFC 2782, as
/// Kubernetes' own DNS names Service ports):
/// `_<port name>._<protocol>.gateway.<cluster>.<namespace>.clusters.<suffix>`.
pub fn port_owner_name(
    port_name: &str,
    protocol: &str,
    cluster: &str,
    namespace: &str,
    suffix: &str,
) -> String {
    let suffix = suffix.trim_end_matches('.');
    let protocol = protocol.to_ascii_lowercase();
    format!("_{port_name}._{protocol}.gateway.{cluster}.{namespace}.clusters.{suffix}")
}

/// `value` as a label value: itself when it fits 63 characters, else its
/// first characters and a hash of the whole (label values are for
/// selecting; the full name is in an annotation where needed).
pub fn label_value(value: &str) -> String {
    if value.len() <= MAX_LABEL_VALUE {
        return value.to_owned();
    }
    let hash = short_hash(&[value]);
    let keep = MAX_LABEL_VALUE - 1 - hash.len();
    let mut cut = value[..keep].trim_end_matches(['-', '.', '_']).to_owned();
    cut.push('-');
    cut.push_str(&hash);
    cut
}

/// Eight hex digits of a stable hash of `parts` (fixed seed: the same
/// input gives the same name in every run and every replica).
fn short_hash(parts: &[&str]) -> String {
    let mut hasher = foldhash::quality::FixedState::with_seed(0x6761_7465_7761_7973).build_hasher();
    for part in parts {
        hasher.write_usize(part.len());
        hasher.write(part.as_bytes());
    }
    format!("{:08x}", hasher.finish() as u32)
}

//----------- Label selectors --------------------------------------------------

/// A label selector the API server would refuse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// An operator other than In, NotIn, Exists, DoesNotExist.
    #[error("unknown operator {operator:?} for key {key:?}")]
    UnknownOperator {
        /// The key.
        key: String,
        /// The operator.
        operator: String,
    },
    /// In or NotIn without values.
    #[error("operator {operator} for key {key:?} needs values")]
    MissingValues {
        /// The key.
        key: String,
        /// The operator.
        operator: String,
    },
    /// Exists or DoesNotExist with values.
    #[error("operator {operator} for key {key:?} takes no values")]
    UnexpectedValues {
        /// The key.
        key: String,
        /// The operator.
        operator: String,
    },
}

/// Whether `labels` match `selector`, as Kubernetes decides: every
/// `matchLabels` pair and every `matchExpressions` requirement must hold;
/// an empty selector matches everything.
pub fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectorError> {
    let mut matches = true;
    for (key, value) in selector.match_labels.iter().flatten() {
        matches &= labels.get(key) == Some(value);
    }
    for requirement in selector.match_expressions.iter().flatten() {
        let key = &requirement.key;
        let values = requirement.values.as_deref().unwrap_or_default();
        let operator = requirement.operator.as_str();
        let needs_values = |ok: bool| -> Result<bool, SelectorError> {
            if values.is_empty() {
                return Err(SelectorError::MissingValues {
                    key: key.clone(),
                    operator: operator.to_owned(),
                });
            }
            Ok(ok)
        };
        let no_values = |ok: bool| -> Result<bool, SelectorError> {
            if !values.is_empty() {
                return Err(SelectorError::UnexpectedValues {
                    key: key.clone(),
                    operator: operator.to_owned(),
                });
            }
            Ok(ok)
        };
        let present = labels.get(key);
        matches &= match operator {
            "In" => needs_values(present.is_some_and(|v| values.contains(v)))?,
            "NotIn" => needs_values(present.is_none_or(|v| !values.contains(v)))?,
            "Exists" => no_values(present.is_some())?,
            "DoesNotExist" => no_values(present.is_none())?,
            _ => {
                return Err(SelectorError::UnknownOperator {
                    key: key.clone(),
                    operator: operator.to_owned(),
                });
            }
        };
    }
    Ok(matches)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    #[test]
    fn owner_names_follow_the_contract() {
        assert_eq!(
            owner_name("cluster-a", "dev-team", "xcc.test"),
            "*.gateway.cluster-a.dev-team.clusters.xcc.test"
        );
        assert_eq!(
            owner_name("cluster-a", "dev-team", "example.org."),
            "*.gateway.cluster-a.dev-team.clusters.example.org"
        );
    }

    #[test]
    fn object_names_fit_and_never_collide() {
        assert_eq!(
            record_object_name("dev-team", "cluster-a"),
            "dev-team-cluster-a-gateway"
        );
        assert_eq!(record_object_name("Dev", "A"), "dev-a-gateway");
        // Longest namespace (63) and a cluster name of 240: cut, hashed.
        let namespace = "n".repeat(63);
        let long_a = format!("{}a", "c".repeat(239));
        let long_b = format!("{}b", "c".repeat(239));
        let a = record_object_name(&namespace, &long_a);
        let b = record_object_name(&namespace, &long_b);
        assert!(a.len() <= MAX_OBJECT_NAME, "{}", a.len());
        assert!(b.len() <= MAX_OBJECT_NAME);
        assert_ne!(a, b);
        assert!(a.ends_with("-gateway"));
        // Stable: the same input, the same name.
        assert_eq!(a, record_object_name(&namespace, &long_a));
        // A name exactly at the limit is kept as it is.
        let exact = "c".repeat(MAX_OBJECT_NAME - "n-".len() - "-gateway".len());
        assert_eq!(record_object_name("n", &exact).len(), MAX_OBJECT_NAME);
        assert!(!record_object_name("n", &exact).contains(&short_hash(&["n", &exact])));
        // Port records: the same rules, the port and protocol kept whole.
        assert_eq!(
            port_record_object_name("dev-team", "cluster-a", "https", "TCP"),
            "dev-team-cluster-a-gateway-https-tcp"
        );
        let port_a = port_record_object_name(&namespace, &long_a, "https", "TCP");
        let port_b = port_record_object_name(&namespace, &long_b, "https", "TCP");
        assert!(port_a.len() <= MAX_OBJECT_NAME, "{}", port_a.len());
        assert_ne!(port_a, port_b);
        assert!(port_a.ends_with("-gateway-https-tcp"), "{port_a}");
        assert_ne!(
            port_a,
            port_record_object_name(&namespace, &long_a, "https", "UDP")
        );
    }

    #[test]
    fn node_port_names() {
        assert_eq!(
            port_owner_name("https", "TCP", "cluster-a", "dev-team", "xcc.test."),
            "_https._tcp.gateway.cluster-a.dev-team.clusters.xcc.test"
        );
        assert_eq!(
            nodes_name("cluster-a", "dev-team", "xcc.test"),
            "nodes.gateway.cluster-a.dev-team.clusters.xcc.test."
        );
    }

    #[test]
    fn long_label_values_are_cut_with_a_hash() {
        assert_eq!(label_value("dev-team-gateway-dns"), "dev-team-gateway-dns");
        let long = "g".repeat(100);
        let value = label_value(&long);
        assert_eq!(value.len(), MAX_LABEL_VALUE);
        assert_ne!(value, label_value(&"g".repeat(101)));
    }

    #[test]
    fn selectors_match_as_kubernetes_does() {
        let cluster = labels(&[("hasContour", "true"), ("env", "dev")]);
        let cases: Vec<(LabelSelector, Result<bool, ()>)> = vec![
            (LabelSelector::default(), Ok(true)),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("hasContour", "true")])),
                    ..LabelSelector::default()
                },
                Ok(true),
            ),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("hasContour", "false")])),
                    ..LabelSelector::default()
                },
                Ok(false),
            ),
            (
                LabelSelector {
                    match_labels: Some(labels(&[("hasContour", "true")])),
                    match_expressions: Some(vec![expression("env", "In", &["dev", "test"])]),
                },
                Ok(true),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![expression("env", "NotIn", &["dev"])]),
                    ..LabelSelector::default()
                },
                Ok(false),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![expression("tier", "NotIn", &["gold"])]),
                    ..LabelSelector::default()
                },
                Ok(true),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![expression("env", "Exists", &[])]),
                    ..LabelSelector::default()
                },
                Ok(true),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![expression("env", "DoesNotExist", &[])]),
                    ..LabelSelector::default()
                },
                Ok(false),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![expression("env", "In", &[])]),
                    ..LabelSelector::default()
                },
                Err(()),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![expression("env", "Exists", &["x"])]),
                    ..LabelSelector::default()
                },
                Err(()),
            ),
            (
                LabelSelector {
                    match_expressions: Some(vec![expression("env", "Equals", &["dev"])]),
                    ..LabelSelector::default()
                },
                Err(()),
            ),
        ];
        for (selector, expected) in cases {
            let got = selector_matches(&selector, &cluster).map_err(|_| ());
            assert_eq!(got, expected, "{selector:?}");
        }
    }
}
