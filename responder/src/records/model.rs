//! The records model: what a human writes in a `--records` file and what the
//! controller turns each `DNSRecord` object into. They are the same thing: a
//! records file is a stream of `DNSRecord` manifests, so a file that
//! `kubectl apply -f` accepts is a file the responder serves.
//!
//! ```yaml
//! apiVersion: connectivity.tanzu.vmware.com/v1alpha1
//! kind: DNSRecord
//! metadata:
//!   name: dev-team-cluster-a-gateway
//!   namespace: xcc-dns
//! spec:
//!   name: "*.gateway.cluster-a.dev-team.clusters.xcc.test"
//!   ttl: 30
//!   addresses: ["10.0.0.10", "fd00::10"]
//! ```
//!
//! A spec carries exactly one kind of data: `addresses` (IPv4 → A, IPv6 →
//! AAAA), or one `cname`, or `txt` strings, or `srv` entries; a `cname` to a
//! name outside our zones may also carry `targetAddresses`, the target's
//! current addresses, answered after the CNAME. Values stay
//! strings here; the table builder (`crate::table::build`) checks them and
//! names the record when one is wrong, so one bad record never takes the
//! others down. This module only says what the fields are.

use serde::{Deserialize, Serialize};

/// The API group and version of `DNSRecord` (and of `GatewayDNS`).
pub const API_VERSION: &str = "connectivity.tanzu.vmware.com/v1alpha1";

/// The kind of a record manifest.
pub const KIND: &str = "DNSRecord";

/// The TTL a record gets when its spec gives none.
pub const DEFAULT_TTL: u32 = 30;

/// One `DNSRecord` manifest as found in a records file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecordManifest {
    /// Must be [`API_VERSION`].
    pub api_version: String,
    /// Must be [`KIND`].
    pub kind: String,
    /// Name and namespace, used to name the record in errors.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The record itself.
    pub spec: DnsRecordSpec,
}

/// The part of Kubernetes object metadata the responder uses; other fields
/// (labels, annotations, ...) are accepted and ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The object's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// The spec of a `DNSRecord`: one owner name and one kind of data.
pub type DnsRecordSpec = DnsRecordSpecOf<String>;

/// [`DnsRecordSpec`], its strings held as `S`: owned, or (`&str`, a loader
/// reading a large file) borrowed from the text they were parsed from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DnsRecordSpecOf<S> {
    /// The owner name, absolute (a trailing dot is optional); may start with
    /// `*.` for a wildcard (RFC 4592).
    pub name: S,
    /// Time to live in seconds, 0..=2147483647 (RFC 2181 §8); default 30.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// IPv4 (A) and IPv6 (AAAA) addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<S>,
    /// The canonical name this owner is an alias of (CNAME).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cname: Option<S>,
    /// Only with `cname`, and only for a target outside every served zone:
    /// the target's current IPv4 and IPv6 addresses, served after the CNAME
    /// (owned by the target) to A and AAAA queries, so that clients that do
    /// not follow CNAMEs (CoreDNS `forward`, stub resolvers) get an address
    /// in one answer. Typically a cloud load balancer's hostname and what it
    /// resolves to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_addresses: Vec<S>,
    /// Text strings, each at most 255 octets (one TXT record holding them
    /// all, in order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub txt: Vec<S>,
    /// Service locations (RFC 2782).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub srv: Vec<SrvSpecOf<S>>,
}

/// One SRV entry.
pub type SrvSpec = SrvSpecOf<String>;

/// [`SrvSpec`], its strings held as `S`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrvSpecOf<S> {
    /// Lower is tried first.
    #[serde(default)]
    pub priority: u16,
    /// Relative weight among entries of equal priority.
    #[serde(default)]
    pub weight: u16,
    /// The service's port.
    pub port: u16,
    /// The host providing the service (absolute name).
    pub target: S,
}

fn default_ttl() -> u32 {
    DEFAULT_TTL
}

impl DnsRecordManifest {
    /// A manifest for `spec`, named `name` in `namespace`.
    pub fn new(name: &str, namespace: &str, spec: DnsRecordSpec) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
            },
            spec,
        }
    }

    /// `namespace/name` (or what of it is known), for messages.
    pub fn object_ref(&self) -> Option<String> {
        match (&self.metadata.namespace, &self.metadata.name) {
            (Some(namespace), Some(name)) => Some(format!("{namespace}/{name}")),
            (None, Some(name)) => Some(name.clone()),
            _ => None,
        }
    }
}
