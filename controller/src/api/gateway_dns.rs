//! The `GatewayDNS` custom resource of the management cluster: which
//! clusters' gateway Service becomes a wildcard name in every workload
//! cluster.
//!
//! The spec is the original project's, field for field, so its manifests
//! apply unchanged:
//!
//! ```yaml
//! apiVersion: connectivity.tanzu.vmware.com/v1alpha1
//! kind: GatewayDNS
//! metadata:
//!   name: dev-team-gateway-dns
//!   namespace: dev-team
//! spec:
//!   clusterSelector:
//!     matchLabels:
//!       hasContour: "true"
//!   service: projectcontour/envoy
//!   resolutionType: loadBalancer
//! ```
//!
//! Our additions are optional: `resolutionType: nodePort`, `ttl` and
//! `hostnameMode`, and a `status` written by `xcc-controller gateways`
//! (conditions, `observedGeneration`, one result per selected cluster).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use xcc_responder::records::model::DEFAULT_TTL;

/// `namespace/name`: a namespace (an RFC 1123 label) and a Service name (an
/// RFC 1035 label).
const SERVICE_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";

//----------- GatewayDNSSpec ---------------------------------------------------

/// Publishes the gateway Service of the selected clusters as
/// `*.gateway.<cluster>.<namespace>.clusters.<suffix>` in every workload
/// cluster of this namespace.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "connectivity.tanzu.vmware.com",
    version = "v1alpha1",
    kind = "GatewayDNS",
    plural = "gatewaydns",
    singular = "gatewaydns",
    namespaced,
    status = "GatewayDNSStatus",
    derive = "PartialEq",
    doc = "A `GatewayDNS` object: publish the gateway Service of the selected Cluster API clusters in DNS.",
    printcolumn = r#"{"name": "Service", "type": "string", "jsonPath": ".spec.service"}"#,
    printcolumn = r#"{"name": "Resolution Type", "type": "string", "jsonPath": ".spec.resolutionType"}"#,
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GatewayDNSSpec {
    /// Selects, by label, the Cluster API `Cluster` objects of this
    /// namespace whose gateway is published.
    pub cluster_selector: LabelSelector,
    /// The gateway Service in each selected cluster, as `namespace/name`
    /// (for example `projectcontour/envoy`).
    #[schemars(schema_with = "service_schema")]
    pub service: String,
    /// How the gateway's addresses are found: `loadBalancer` (the
    /// Service's load-balancer ingress) or `nodePort` (node addresses).
    pub resolution_type: ResolutionType,
    /// Time to live of the published records in seconds, 0 to 2147483647;
    /// default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "ttl_schema")]
    pub ttl: Option<u32>,
    /// What to publish for a load balancer that reports a hostname instead
    /// of an IP: `resolve` (default) publishes the addresses the hostname
    /// resolves to, `cname` publishes the hostname as a CNAME together with
    /// those addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_mode: Option<HostnameMode>,
}

/// How a gateway's addresses are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ResolutionType {
    /// The Service's `status.loadBalancer.ingress` addresses (the
    /// original project's only mode).
    LoadBalancer,
    /// The cluster's node addresses, with the Service's node port.
    NodePort,
}

/// What to publish for a load balancer that reports a hostname instead of
/// an IP: `resolve` (the default) publishes the addresses the hostname
/// resolves to, kept up to date; `cname` publishes the hostname as a CNAME
/// together with those addresses (answered after the CNAME, so that
/// clients that do not follow CNAMEs still get an address).
///
/// (For an optional field of this type, the CRD shows this text instead of
/// the field's own.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HostnameMode {
    /// The addresses the hostname resolves to, kept up to date.
    #[default]
    Resolve,
    /// A CNAME to the hostname, with the addresses it resolves to.
    Cname,
}

impl GatewayDNSSpec {
    /// The Service's namespace and name, when `service` is `namespace/name`.
    pub fn service_ref(&self) -> Option<(&str, &str)> {
        let (namespace, name) = self.service.split_once('/')?;
        (!namespace.is_empty() && !name.is_empty() && !name.contains('/'))
            .then_some((namespace, name))
    }

    /// The TTL of the records, the default when none is given.
    pub fn ttl_or_default(&self) -> u32 {
        self.ttl.unwrap_or(DEFAULT_TTL)
    }

    /// The hostname mode, the default (`resolve`) when none is given.
    pub fn hostname_mode_or_default(&self) -> HostnameMode {
        self.hostname_mode.unwrap_or_default()
    }
}

//----------- GatewayDNSStatus -------------------------------------------------

/// What the gateways controller found and did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayDNSStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Standard conditions: `Ready` (every selected cluster is published),
    /// `Degraded` (some cluster could not be read or conflicts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// One result per selected cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "clusters_schema")]
    pub clusters: Vec<ClusterResult>,
}

/// The outcome for one selected cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResult {
    /// The Cluster API `Cluster`'s name.
    pub name: String,
    /// `Ready`, `Pending`, `Unreachable` or `Failed`.
    pub state: ClusterState,
    /// The gateway addresses found (IPs, or a hostname).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Why the cluster is not ready, as one CamelCase word (for example
    /// `ServiceNotFound`, `NotALoadBalancer`, `NoAddress`, `Unreachable`,
    /// `KubeconfigMissing`, `Conflict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Details, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the cluster's gateway was last read successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<Time>,
}

/// The state of one selected cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ClusterState {
    /// The gateway's addresses are published.
    Ready,
    /// Not yet: the cluster is being provisioned, or its gateway has no
    /// address yet.
    Pending,
    /// The cluster's API server cannot be reached; the records it had are
    /// kept.
    Unreachable,
    /// Something needs fixing: no such Service, not a load balancer, no
    /// kubeconfig, a conflict with another `GatewayDNS`.
    Failed,
}

//----------- Schema pieces ----------------------------------------------------

fn service_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "maxLength": 127,
        "pattern": SERVICE_PATTERN,
    })
}

fn ttl_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 0x7FFF_FFFF_u32,
        "nullable": true,
    })
}

/// A list keyed by `type`, as Kubernetes declares conditions, so that
/// server-side apply merges them per type.
fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    schema.insert("x-kubernetes-list-type".to_owned(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".to_owned(),
        serde_json::json!(["type"]),
    );
    schema
}

/// A list keyed by cluster `name`.
fn clusters_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<Vec<ClusterResult>>();
    schema.insert("x-kubernetes-list-type".to_owned(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".to_owned(),
        serde_json::json!(["name"]),
    );
    schema
}

//----------- Tests ------------------------------------------------------------

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;
    use serde_json::json;

    use super::*;

    /// The original project's walkthrough object, byte for byte as its
    /// README shows it.
    const UPSTREAM: &str = r#"---
apiVersion: connectivity.tanzu.vmware.com/v1alpha1
kind: GatewayDNS
metadata:
  name: dev-team-gateway-dns
  namespace: dev-team
spec:
  clusterSelector:
    matchLabels:
      hasContour: "true"
  service: projectcontour/envoy
  resolutionType: loadBalancer
"#;

    #[test]
    fn upstream_walkthrough_object_deserializes_unchanged() {
        let object: GatewayDNS = serde_saphyr::from_str(UPSTREAM).unwrap();
        assert_eq!(
            object.metadata.name.as_deref(),
            Some("dev-team-gateway-dns")
        );
        assert_eq!(object.metadata.namespace.as_deref(), Some("dev-team"));
        let labels = object.spec.cluster_selector.match_labels.as_ref().unwrap();
        assert_eq!(labels.get("hasContour").map(String::as_str), Some("true"));
        assert_eq!(object.spec.service_ref(), Some(("projectcontour", "envoy")));
        assert_eq!(object.spec.resolution_type, ResolutionType::LoadBalancer);
        assert_eq!(object.spec.ttl_or_default(), 30);
        assert_eq!(
            object.spec.hostname_mode_or_default(),
            HostnameMode::Resolve
        );
        assert!(object.status.is_none());
        // And it serializes back to the same object: nothing added.
        let original: serde_json::Value = serde_saphyr::from_str(UPSTREAM).unwrap();
        assert_eq!(serde_json::to_value(&object).unwrap(), original);
    }

    /// The same object passes the CRD's schema constraints that a schema
    /// check can see without an API server: required fields present, enum
    /// values allowed, the service pattern matched.
    #[test]
    fn upstream_walkthrough_object_fits_the_schema() {
        let crd = serde_json::to_value(GatewayDNS::crd()).unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let object: serde_json::Value = serde_saphyr::from_str(UPSTREAM).unwrap();
        for required in spec["required"].as_array().unwrap() {
            assert!(
                object["spec"].get(required.as_str().unwrap()).is_some(),
                "{required}"
            );
        }
        let allowed = spec["properties"]["resolutionType"]["enum"]
            .as_array()
            .unwrap();
        assert!(allowed.contains(&object["spec"]["resolutionType"]));
        assert_eq!(allowed, &vec![json!("loadBalancer"), json!("nodePort")]);
        let pattern =
            regex::Regex::new(spec["properties"]["service"]["pattern"].as_str().unwrap()).unwrap();
        assert!(pattern.is_match(object["spec"]["service"].as_str().unwrap()));
        for bad in [
            "envoy",
            "projectcontour/",
            "/envoy",
            "a/b/c",
            "Project/envoy",
            "ns/1envoy",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
        // Every property the upstream object uses is in the schema (none
        // would be pruned).
        for key in object["spec"].as_object().unwrap().keys() {
            assert!(spec["properties"].get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn additions_are_optional_and_parse() {
        let spec: GatewayDNSSpec = serde_json::from_value(json!({
            "clusterSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["edge"]}]},
            "service": "ingress/gw",
            "resolutionType": "nodePort",
            "ttl": 5,
            "hostnameMode": "cname",
        }))
        .unwrap();
        assert_eq!(spec.resolution_type, ResolutionType::NodePort);
        assert_eq!(spec.ttl_or_default(), 5);
        assert_eq!(spec.hostname_mode_or_default(), HostnameMode::Cname);
    }

    #[test]
    fn crd_names_scope_and_status() {
        let crd = GatewayDNS::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("gatewaydns.connectivity.tanzu.vmware.com")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.kind, "GatewayDNS");
        assert_eq!(crd.spec.names.plural, "gatewaydns");
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        let crd = serde_json::to_value(crd).unwrap();
        let status =
            &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
        let conditions = &status["properties"]["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
        let condition = &conditions["items"];
        for field in ["type", "status", "reason", "message", "lastTransitionTime"] {
            assert!(condition["properties"].get(field).is_some(), "{field}");
        }
        let clusters = &status["properties"]["clusters"];
        assert_eq!(clusters["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(clusters["items"]["required"], json!(["name", "state"]));
        assert_eq!(
            clusters["items"]["properties"]["state"]["enum"],
            json!(["Ready", "Pending", "Unreachable", "Failed"])
        );
    }

    #[test]
    fn service_ref_needs_both_parts() {
        let mut spec: GatewayDNSSpec = serde_saphyr::from_str::<GatewayDNS>(UPSTREAM).unwrap().spec;
        for (service, expected) in [
            ("projectcontour/envoy", Some(("projectcontour", "envoy"))),
            ("envoy", None),
            ("/envoy", None),
            ("ns/", None),
            ("a/b/c", None),
        ] {
            spec.service = service.to_owned();
            assert_eq!(spec.service_ref(), expected, "{service}");
        }
    }
}
