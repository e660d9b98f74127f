//! The original project's compatibility mode: EndpointSlices carrying the
//! annotation `connectivity.tanzu.vmware.com/dns-hostname` become records.
//!
//! The original `capi-dns-controller` wrote, into each workload cluster, an
//! EndpointSlice per gateway:
//!
//! ```yaml
//! apiVersion: discovery.k8s.io/v1beta1
//! kind: EndpointSlice
//! metadata:
//!   name: dev-team-cluster-a-gateway
//!   namespace: capi-dns
//!   annotations:
//!     connectivity.tanzu.vmware.com/dns-hostname: "*.gateway.cluster-a.dev-team.clusters.xcc.test"
//! addressType: IPv4
//! endpoints:
//! - addresses: ["10.0.0.10"]
//! ```
//!
//! and its DNS server answered from them. Here the same objects map to
//! records, purely ([`derive_records`]):
//!
//! - `addressType: IPv4` → A records, `IPv6` → AAAA, `FQDN` → a CNAME;
//!   any other type is skipped and noted.
//! - An endpoint whose `conditions.ready` is `false` is left out; an absent
//!   condition counts as ready, as EndpointSlice consumers must treat it
//!   (and the original project never set it).
//! - Slices naming the same hostname (compared without case or trailing
//!   dot) are merged: their addresses form one record set. A name has at
//!   most one CNAME target: when FQDN slices disagree, the oldest slice's
//!   target is kept and the others are noted. A name with both addresses
//!   and a CNAME yields both groups, and the table builder rejects the
//!   younger one (a CNAME excludes other data, RFC 1034 §3.6.2).
//! - An address that does not parse as the slice's family is skipped and
//!   noted; the original skipped such addresses too, and one bad address
//!   should not take the whole name away.
//!
//! A 1.20 API server serves only `discovery.k8s.io/v1beta1`, newer ones
//! only `v1` (since 1.25); both carry the fields read here, so
//! [`EndpointSlice`] is a minimal hand-written type that deserializes from
//! either and is a [`kube::Resource`] whose version is chosen at run time
//! ([`SliceApiVersion`]).

use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::core::DynamicResourceScope;
use serde::{Deserialize, Deserializer};
use xcc_responder::records::model::{DEFAULT_TTL, DnsRecordSpec};

use super::ObjectKey;

/// The annotation naming the DNS name an EndpointSlice's addresses serve.
pub const DNS_HOSTNAME_ANNOTATION: &str = "connectivity.tanzu.vmware.com/dns-hostname";

//----------- EndpointSlice ----------------------------------------------------

/// The fields of a `discovery.k8s.io` EndpointSlice (v1 or v1beta1) that
/// the compatibility mode reads; everything else is ignored.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlice {
    /// Name, namespace, annotations, creation time.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    #[serde(default)]
    pub address_type: String,
    /// The endpoints (`null` reads as none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of a slice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Endpoint {
    /// Its addresses, of the slice's address type.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub addresses: Vec<String>,
    /// Its conditions.
    #[serde(default)]
    pub conditions: Option<EndpointConditions>,
}

/// The conditions of an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct EndpointConditions {
    /// Whether the endpoint is ready; absent means unknown, read as ready.
    #[serde(default)]
    pub ready: Option<bool>,
}

/// Which version of the EndpointSlice API to use: `v1` (Kubernetes 1.21
/// and later; the only one from 1.25) or `v1beta1` (up to 1.24; the only
/// one in 1.20).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SliceApiVersion {
    /// `discovery.k8s.io/v1`.
    #[default]
    V1,
    /// `discovery.k8s.io/v1beta1`.
    V1Beta1,
}

impl SliceApiVersion {
    /// The version string (`v1`, `v1beta1`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V1Beta1 => "v1beta1",
        }
    }
}

impl EndpointSlice {
    /// The slice's key.
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(
            self.metadata.namespace.clone().unwrap_or_default(),
            self.metadata.name.clone().unwrap_or_default(),
        )
    }

    /// The hostname annotation's value, when present and not blank.
    pub fn dns_hostname(&self) -> Option<&str> {
        let value = self
            .metadata
            .annotations
            .as_ref()?
            .get(DNS_HOSTNAME_ANNOTATION)?;
        let value = value.trim();
        (!value.is_empty()).then_some(value)
    }
}

impl kube::Resource for EndpointSlice {
    type DynamicType = SliceApiVersion;
    // Dynamic, as for `DynamicObject`: what `Api::namespaced_with` takes.
    type Scope = DynamicResourceScope;

    fn kind(_: &SliceApiVersion) -> Cow<'_, str> {
        "EndpointSlice".into()
    }

    fn group(_: &SliceApiVersion) -> Cow<'_, str> {
        "discovery.k8s.io".into()
    }

    fn version(version: &SliceApiVersion) -> Cow<'_, str> {
        version.as_str().into()
    }

    fn plural(_: &SliceApiVersion) -> Cow<'_, str> {
        "endpointslices".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Reads `null` (what Go writes for an empty list) as an empty list.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

//----------- Derived records --------------------------------------------------

/// One group of records derived from EndpointSlices: the merged addresses of
/// a hostname, or its CNAME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivedRecord {
    /// The records (TTL [`DEFAULT_TTL`]); the name is the hostname,
    /// lowercase, without a trailing dot.
    pub spec: DnsRecordSpec,
    /// The slices the records come from, sorted.
    pub slices: Vec<ObjectKey>,
    /// The oldest creation time among those slices: the group's age when
    /// it competes with others for a name.
    pub created: Option<Time>,
}

/// Something in a slice that produced no record, for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedEntry {
    /// The slice.
    pub slice: ObjectKey,
    /// What was skipped and why.
    pub message: String,
}

impl fmt::Display for SkippedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EndpointSlice {}: {}", self.slice, self.message)
    }
}

/// What [`derive_records`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Derived {
    /// The record groups, sorted by hostname (addresses before CNAME).
    pub records: Vec<DerivedRecord>,
    /// What was skipped, in slice order.
    pub skipped: Vec<SkippedEntry>,
}

/// Addresses or CNAME targets gathered for one hostname.
#[derive(Default)]
struct HostnameDraft {
    addresses: BTreeSet<IpAddr>,
    address_slices: BTreeSet<ObjectKey>,
    address_created: Option<Time>,
    /// Target → (slices, oldest creation time).
    targets: BTreeMap<String, (BTreeSet<ObjectKey>, Option<Time>)>,
}

/// Maps EndpointSlices to records (see the module docs). Slices without the
/// annotation are ignored; the result does not depend on the order of
/// `slices`.
pub fn derive_records<S: Borrow<EndpointSlice>>(slices: &[S]) -> Derived {
    let mut sorted: Vec<&EndpointSlice> = slices.iter().map(Borrow::borrow).collect();
    sorted.sort_by_cached_key(|slice| (slice.key(), slice.metadata.creation_timestamp.clone()));
    let mut hostnames: BTreeMap<String, HostnameDraft> = BTreeMap::new();
    let mut skipped = Vec::new();
    for slice in sorted {
        let Some(hostname) = slice.dns_hostname() else {
            continue;
        };
        let key = slice.key();
        let created = slice.metadata.creation_timestamp.as_ref();
        let draft = hostnames.entry(normalize_name(hostname)).or_default();
        let ready_addresses = slice
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.conditions.as_ref().and_then(|c| c.ready) != Some(false))
            .flat_map(|endpoint| endpoint.addresses.iter());
        let mut skip = |message: String| {
            skipped.push(SkippedEntry {
                slice: key.clone(),
                message,
            });
        };
        match slice.address_type.as_str() {
            family @ ("IPv4" | "IPv6") => {
                let mut any = false;
                for address in ready_addresses {
                    let parsed = if family == "IPv4" {
                        address.trim().parse::<Ipv4Addr>().map(IpAddr::V4).ok()
                    } else {
                        address.trim().parse::<Ipv6Addr>().map(IpAddr::V6).ok()
                    };
                    match parsed {
                        Some(ip) => {
                            draft.addresses.insert(ip);
                            any = true;
                        }
                        None => skip(format!("{address:?} is not an {family} address; skipped")),
                    }
                }
                if any {
                    draft.address_slices.insert(key.clone());
                    keep_oldest(&mut draft.address_created, created);
                }
            }
            "FQDN" => {
                for address in ready_addresses {
                    let target = normalize_name(address);
                    if target.is_empty() {
                        skip("an empty FQDN address; skipped".to_owned());
                        continue;
                    }
                    let (sources, oldest) = draft.targets.entry(target).or_default();
                    sources.insert(key.clone());
                    keep_oldest(oldest, created);
                }
            }
            other => skip(format!(
                "address type {other:?} is not supported (IPv4, IPv6, FQDN); slice skipped"
            )),
        }
    }

    let mut records = Vec::new();
    for (hostname, draft) in hostnames {
        if !draft.addresses.is_empty() {
            records.push(DerivedRecord {
                spec: DnsRecordSpec {
                    name: hostname.clone(),
                    ttl: DEFAULT_TTL,
                    addresses: draft.addresses.iter().map(IpAddr::to_string).collect(),
                    ..DnsRecordSpec::default()
                },
                slices: draft.address_slices.into_iter().collect(),
                created: draft.address_created,
            });
        }
        // One CNAME per name: the target of the oldest slice (then the
        // first slice by key, then the first target) wins.
        let mut targets: Vec<_> = draft.targets.into_iter().collect();
        targets.sort_by(
            |(a_target, (a_slices, a_created)), (b_target, (b_slices, b_created))| {
                age_key(a_created.as_ref())
                    .cmp(&age_key(b_created.as_ref()))
                    .then_with(|| a_slices.first().cmp(&b_slices.first()))
                    .then_with(|| a_target.cmp(b_target))
            },
        );
        let mut targets = targets.into_iter();
        if let Some((target, (sources, created))) = targets.next() {
            for (other, (other_sources, _)) in targets {
                for slice in other_sources {
                    skipped.push(SkippedEntry {
                        slice,
                        message: format!(
                            "CNAME target {other:?} for {hostname:?} ignored: a name has one CNAME, and {target:?} is older"
                        ),
                    });
                }
            }
            records.push(DerivedRecord {
                spec: DnsRecordSpec {
                    name: hostname,
                    ttl: DEFAULT_TTL,
                    cname: Some(target),
                    ..DnsRecordSpec::default()
                },
                slices: sources.into_iter().collect(),
                created,
            });
        }
    }
    Derived { records, skipped }
}

/// A name as compared and published: trimmed, lowercase, no trailing dot.
fn normalize_name(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_suffix('.').unwrap_or(name);
    name.to_ascii_lowercase()
}

/// Ages compare oldest first; an unknown creation time counts as newest.
fn age_key(created: Option<&Time>) -> (bool, Option<&Time>) {
    (created.is_none(), created)
}

/// Keeps in `oldest` the older of it and `candidate`.
fn keep_oldest(oldest: &mut Option<Time>, candidate: Option<&Time>) {
    if let Some(candidate) = candidate
        && oldest.as_ref().is_none_or(|current| candidate < current)
    {
        *oldest = Some(candidate.clone());
    }
}

//----------- Tests ------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a multi-document YAML stream of slices.
    fn slices(yaml: &str) -> Vec<EndpointSlice> {
        serde_saphyr::from_multiple(yaml).unwrap()
    }

    fn record(name: &str, addresses: &[&str], slices: &[&str]) -> DerivedRecord {
        DerivedRecord {
            spec: DnsRecordSpec {
                name: name.to_owned(),
                ttl: DEFAULT_TTL,
                addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
                ..DnsRecordSpec::default()
            },
            slices: slices
                .iter()
                .map(|s| ObjectKey::new("xcc-dns", *s))
                .collect(),
            created: None,
        }
    }

    fn cname(name: &str, target: &str, slices: &[&str]) -> DerivedRecord {
        DerivedRecord {
            spec: DnsRecordSpec {
                name: name.to_owned(),
                ttl: DEFAULT_TTL,
                cname: Some(target.to_owned()),
                ..DnsRecordSpec::default()
            },
            slices: slices
                .iter()
                .map(|s| ObjectKey::new("xcc-dns", *s))
                .collect(),
            created: None,
        }
    }

    /// What the original `capi-dns-controller` wrote: v1beta1, IPv4, no
    /// conditions, no ports.
    const ORIGINAL_GATEWAY: &str = r#"
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: dev-team-cluster-a-gateway
  namespace: xcc-dns
  annotations:
    connectivity.tanzu.vmware.com/dns-hostname: "*.gateway.cluster-a.dev-team.clusters.xcc.test"
addressType: IPv4
endpoints:
- addresses:
  - "10.4.5.6"
  - "10.4.5.7"
"#;

    /// A v1 slice as a 1.25+ API server returns it, with the fields v1
    /// added (nodeName, zone, hints) and one endpoint not ready.
    const V1_WITH_CONDITIONS: &str = r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abcde
  namespace: xcc-dns
  creationTimestamp: "2024-05-01T10:00:00Z"
  labels:
    kubernetes.io/service-name: web
  annotations:
    connectivity.tanzu.vmware.com/dns-hostname: web.xcc.test.
addressType: IPv6
endpoints:
- addresses: ["fd00::1"]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-a
  zone: zone-1
  hints: {forZones: [{name: zone-1}]}
- addresses: ["fd00::2"]
  conditions: {ready: false, serving: false, terminating: true}
- addresses: ["fd00:0:0::3"]
ports:
- name: http
  port: 8080
  protocol: TCP
"#;

    /// A slice the Kubernetes EndpointSlice controller made, without our
    /// annotation: ignored.
    const UNANNOTATED: &str = r#"
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: xcc-dns
  labels:
    kubernetes.io/service-name: kubernetes
addressType: IPv4
endpoints:
- addresses: ["172.18.0.2"]
  conditions: {ready: true}
  topology: {kubernetes.io/hostname: control-plane}
"#;

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            yaml: String,
            records: Vec<DerivedRecord>,
            skipped: Vec<&'static str>,
        }
        let cases = vec![
            Case {
                name: "original gateway slice, v1beta1 IPv4",
                yaml: ORIGINAL_GATEWAY.to_owned(),
                records: vec![record(
                    "*.gateway.cluster-a.dev-team.clusters.xcc.test",
                    &["10.4.5.6", "10.4.5.7"],
                    &["dev-team-cluster-a-gateway"],
                )],
                skipped: vec![],
            },
            Case {
                name: "v1 IPv6, not-ready endpoint left out, addresses canonical",
                yaml: V1_WITH_CONDITIONS.to_owned(),
                records: vec![record("web.xcc.test", &["fd00::1", "fd00::3"], &["web-abcde"])],
                skipped: vec![],
            },
            Case {
                name: "unannotated slice ignored",
                yaml: UNANNOTATED.to_owned(),
                records: vec![],
                skipped: vec![],
            },
            Case {
                name: "FQDN slice becomes a CNAME",
                yaml: r#"
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: lb
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: "*.gateway.cluster-b.dev-team.clusters.xcc.test"}
addressType: FQDN
endpoints:
- addresses: ["A1B2.ELB.Example.com."]
"#
                .to_owned(),
                records: vec![cname(
                    "*.gateway.cluster-b.dev-team.clusters.xcc.test",
                    "a1b2.elb.example.com",
                    &["lb"],
                )],
                skipped: vec![],
            },
            Case {
                name: "same hostname merged across slices and families, case and dot ignored",
                yaml: format!(
                    "{ORIGINAL_GATEWAY}---{}",
                    r#"
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: second
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: "*.GATEWAY.cluster-a.dev-team.clusters.xcc.test."}
addressType: IPv6
endpoints:
- addresses: ["fd00::10"]
- addresses: ["fd00::10"]
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: third
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: "*.gateway.cluster-a.dev-team.clusters.xcc.test"}
addressType: IPv4
endpoints:
- addresses: ["10.4.5.7", "10.4.5.1"]
"#
                ),
                records: vec![record(
                    "*.gateway.cluster-a.dev-team.clusters.xcc.test",
                    &["10.4.5.1", "10.4.5.6", "10.4.5.7", "fd00::10"],
                    &["dev-team-cluster-a-gateway", "second", "third"],
                )],
                skipped: vec![],
            },
            Case {
                name: "addresses and a CNAME for one name: both groups, the builder decides",
                yaml: r#"
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: ips
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: a.xcc.test}
addressType: IPv4
endpoints: [{addresses: ["10.0.0.1"]}]
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: alias
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: a.xcc.test}
addressType: FQDN
endpoints: [{addresses: ["b.xcc.test"]}]
"#
                .to_owned(),
                records: vec![
                    record("a.xcc.test", &["10.0.0.1"], &["ips"]),
                    cname("a.xcc.test", "b.xcc.test", &["alias"]),
                ],
                skipped: vec![],
            },
            Case {
                name: "two CNAME targets: the oldest slice's wins",
                yaml: r#"
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: newer
  namespace: xcc-dns
  creationTimestamp: "2024-05-02T00:00:00Z"
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: a.xcc.test}
addressType: FQDN
endpoints: [{addresses: ["new.example.com"]}]
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: older
  namespace: xcc-dns
  creationTimestamp: "2024-05-01T00:00:00Z"
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: a.xcc.test}
addressType: FQDN
endpoints: [{addresses: ["old.example.com"]}]
"#
                .to_owned(),
                records: vec![DerivedRecord {
                    created: Some(Time("2024-05-01T00:00:00Z".parse().unwrap())),
                    ..cname("a.xcc.test", "old.example.com", &["older"])
                }],
                skipped: vec!["EndpointSlice xcc-dns/newer: CNAME target \"new.example.com\""],
            },
            Case {
                name: "bad address skipped, the rest kept; unknown type skipped; null endpoints",
                yaml: r#"
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: mixed
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: m.xcc.test}
addressType: IPv4
endpoints:
- addresses: ["10.0.0.1", "fd00::1", "not-an-ip"]
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: odd
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: o.xcc.test}
addressType: AppleTalk
endpoints: [{addresses: ["1.2"]}]
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: empty
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: e.xcc.test}
addressType: IPv4
endpoints: null
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: blank
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: "  "}
addressType: IPv4
endpoints: [{addresses: ["10.9.9.9"]}]
"#
                .to_owned(),
                records: vec![record("m.xcc.test", &["10.0.0.1"], &["mixed"])],
                skipped: vec![
                    "EndpointSlice xcc-dns/mixed: \"fd00::1\" is not an IPv4 address",
                    "EndpointSlice xcc-dns/mixed: \"not-an-ip\" is not an IPv4 address",
                    "EndpointSlice xcc-dns/odd: address type \"AppleTalk\" is not supported",
                ],
            },
            Case {
                name: "every endpoint not ready: no record",
                yaml: r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: down
  namespace: xcc-dns
  annotations: {connectivity.tanzu.vmware.com/dns-hostname: down.xcc.test}
addressType: IPv4
endpoints: [{addresses: ["10.0.0.1"], conditions: {ready: false}}]
"#
                .to_owned(),
                records: vec![],
                skipped: vec![],
            },
        ];
        for case in cases {
            let input = slices(&case.yaml);
            let derived = derive_records(&input);
            let mut records = derived.records.clone();
            for record in &mut records {
                if case.records.iter().all(|r| r.created.is_none()) {
                    record.created = None;
                }
            }
            assert_eq!(records, case.records, "{}", case.name);
            let skipped: Vec<String> = derived.skipped.iter().map(ToString::to_string).collect();
            assert_eq!(
                skipped.len(),
                case.skipped.len(),
                "{}: {skipped:?}",
                case.name
            );
            for (actual, expected) in skipped.iter().zip(&case.skipped) {
                assert!(
                    actual.starts_with(expected),
                    "{}: {actual:?} !~ {expected:?}",
                    case.name
                );
            }
            // Order independence.
            let mut reversed = input.clone();
            reversed.reverse();
            assert_eq!(derive_records(&reversed), derived, "{}", case.name);
        }
    }

    /// The JSON a 1.20 API server returns for a v1beta1 slice (Go writes
    /// `null` for empty lists) reads like the YAML.
    #[test]
    fn reads_api_server_json() {
        let json = r#"{
            "kind": "EndpointSlice",
            "apiVersion": "discovery.k8s.io/v1beta1",
            "metadata": {
                "name": "g", "namespace": "xcc-dns", "uid": "0b6e…", "resourceVersion": "812",
                "creationTimestamp": "2021-01-02T03:04:05Z",
                "annotations": {"connectivity.tanzu.vmware.com/dns-hostname": "g.xcc.test"},
                "managedFields": [{"manager": "capi-dns-controller", "operation": "Update"}]
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.1.1"], "conditions": {}, "topology": null}],
            "ports": null
        }"#;
        let slice: EndpointSlice = serde_json::from_str(json).unwrap();
        assert_eq!(slice.key(), ObjectKey::new("xcc-dns", "g"));
        assert_eq!(slice.dns_hostname(), Some("g.xcc.test"));
        let derived = derive_records(&[slice]);
        assert_eq!(derived.records.len(), 1);
        assert_eq!(derived.records[0].spec.addresses, ["10.1.1.1"]);
        assert!(derived.records[0].created.is_some());
    }

    /// Compiles only if kube-runtime can watch the type and keep it in a
    /// reflector store, with the API version chosen at run time.
    #[allow(dead_code)]
    fn watchable(client: kube::Client) {
        let version = SliceApiVersion::V1Beta1;
        let api: kube::Api<EndpointSlice> = kube::Api::namespaced_with(client, "xcc-dns", &version);
        let writer = kube::runtime::reflector::store::Writer::<EndpointSlice>::new(version);
        let _reader = writer.as_reader();
        let _stream = kube::runtime::reflector(
            writer,
            kube::runtime::watcher(api, kube::runtime::watcher::Config::default()),
        );
    }

    #[test]
    fn resource_paths_per_version() {
        use kube::Resource;
        assert_eq!(
            EndpointSlice::url_path(&SliceApiVersion::V1Beta1, Some("xcc-dns")),
            "/apis/discovery.k8s.io/v1beta1/namespaces/xcc-dns/endpointslices"
        );
        assert_eq!(
            EndpointSlice::url_path(&SliceApiVersion::V1, Some("xcc-dns")),
            "/apis/discovery.k8s.io/v1/namespaces/xcc-dns/endpointslices"
        );
        assert_eq!(
            EndpointSlice::api_version(&SliceApiVersion::V1Beta1),
            "discovery.k8s.io/v1beta1"
        );
    }
}
