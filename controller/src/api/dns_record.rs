//! The `DNSRecord` custom resource: one owner name and one kind of data,
//! served by the responder of the workload cluster it lives in.
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
//! The spec is a twin of the responder's
//! [`xcc_responder::records::model::DnsRecordSpec`] (the same fields, the same
//! JSON), with an OpenAPI schema: the API server rejects what is plainly
//! malformed (a name that is no DNS name, an address that is no IP address,
//! two kinds of data in one record) before it is stored. The controller then
//! validates again with the responder's own table builder (see
//! [`crate::records::build`]), which also judges what a schema cannot see:
//! zones, CNAME conflicts, two objects claiming one name. The
//! [`From`] conversions between the twins are exhaustive, so adding a field
//! to one without the other does not compile.
//!
//! The schema is written for the oldest API server we support, 1.20: it is
//! structural (apiextensions v1), uses only the formats 1.20 knows (`ipv4`,
//! `ipv6`; unknown formats such as `uint32` are ignored by the server), and
//! no CEL (`x-kubernetes-validations` arrived in 1.25). "Exactly one kind of
//! data" is a `oneOf` of `required` clauses, which structural schemas allow;
//! "`targetAddresses` only with `cname`" is an `anyOf` beside it (`cname`
//! required, or `targetAddresses` not), for the same reason. That a CNAME
//! carrying target addresses must leave every served zone depends on the
//! zones, which only the controller knows.

use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use xcc_responder::records::model::{DEFAULT_TTL, DnsRecordSpec, SrvSpec};

/// A DNS name (RFC 1035 §2.3.1, with underscores for service labels such as
/// `_http._tcp`), optionally absolute (a trailing dot).
const NAME_PATTERN: &str = r"^([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?\.?$";

/// An owner name: a DNS name that may start with the wildcard label `*.`
/// (RFC 4592).
const OWNER_PATTERN: &str = r"^(\*\.)?([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?\.?$";

/// An SRV target: a DNS name, or `.` for "no such service here" (RFC 2782).
const TARGET_PATTERN: &str = r"^(\.|([A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?\.?)$";

/// Longest name in presentation form: 253 characters, plus the optional
/// trailing dot (RFC 1035 §2.3.4: 255 octets in wire form).
const NAME_MAX_LENGTH: u32 = 254;

/// The largest TTL (RFC 2181 §8).
const MAX_TTL: u32 = 0x7FFF_FFFF;

//----------- DNSRecordSpec ----------------------------------------------------

/// A DNS record served by xcc-dns: one owner name and exactly one kind of
/// data (addresses, a CNAME target, TXT strings or SRV entries); a CNAME may
/// also carry its target's addresses.
#[derive(
    CustomResource, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema,
)]
#[kube(
    group = "connectivity.tanzu.vmware.com",
    version = "v1alpha1",
    kind = "DNSRecord",
    plural = "dnsrecords",
    singular = "dnsrecord",
    shortname = "dnsr",
    namespaced,
    status = "DNSRecordStatus",
    derive = "PartialEq",
    doc = "A `DNSRecord` object: one owner name and one kind of data, served by the xcc-dns responder of the cluster it is in.",
    printcolumn = r#"{"name": "DNS Name", "type": "string", "jsonPath": ".spec.name"}"#,
    printcolumn = r#"{"name": "State", "type": "string", "jsonPath": ".status.state"}"#,
    printcolumn = r#"{"name": "Reason", "type": "string", "jsonPath": ".status.reason", "priority": 1}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = exactly_one_kind_of_data)]
#[schemars(transform = target_addresses_only_with_cname)]
pub struct DNSRecordSpec {
    /// The owner name, for example `*.gateway.cluster-a.dev-team.clusters.xcc.test`:
    /// a DNS name inside a zone the responder serves, optionally starting
    /// with `*.` for a wildcard (RFC 4592); a trailing dot is optional.
    #[schemars(schema_with = "owner_schema")]
    pub name: String,
    /// Time to live of the records in seconds, 0 to 2147483647 (RFC 2181 §8).
    #[serde(default = "default_ttl")]
    #[schemars(schema_with = "ttl_schema")]
    pub ttl: u32,
    /// IPv4 addresses (served as A records) and IPv6 addresses (AAAA).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "addresses_schema")]
    pub addresses: Vec<String>,
    /// The canonical name this name is an alias of (a CNAME record). A
    /// name with a CNAME holds no other data (RFC 1034 §3.6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cname_schema")]
    pub cname: Option<String>,
    /// Only with `cname`, and only when the target lies outside every zone
    /// the responder serves: the target's current IPv4 and IPv6 addresses
    /// (typically a cloud load balancer's hostname and what it resolves
    /// to). A and AAAA queries get them after the CNAME, owned by the
    /// target, so that clients that do not follow CNAMEs (CoreDNS
    /// `forward`, stub resolvers) still get an address in one answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "addresses_schema")]
    pub target_addresses: Vec<String>,
    /// Text strings of one TXT record, in order, each at most 255 octets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "txt_schema")]
    pub txt: Vec<String>,
    /// Service locations (SRV records, RFC 2782).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1))]
    pub srv: Vec<SrvEntry>,
}

/// One SRV record (RFC 2782).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SrvEntry {
    /// Lower values are tried first; 0 to 65535, default 0.
    #[serde(default)]
    #[schemars(schema_with = "priority_schema")]
    pub priority: u16,
    /// Relative weight among entries of the same priority; 0 to 65535,
    /// default 0.
    #[serde(default)]
    #[schemars(schema_with = "weight_schema")]
    pub weight: u16,
    /// The port of the service, 1 to 65535.
    #[schemars(schema_with = "port_schema")]
    pub port: u16,
    /// The host providing the service (a DNS name), or `.` when the
    /// service is decidedly not available at this name.
    #[schemars(schema_with = "target_schema")]
    pub target: String,
}

fn default_ttl() -> u32 {
    DEFAULT_TTL
}

//----------- DNSRecordStatus --------------------------------------------------

/// What the records controller decided about a `DNSRecord`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DNSRecordStatus {
    /// `Accepted` (served) or `Rejected` (not served; see `reason` and
    /// `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RecordState>,
    /// Why the record was rejected, as a machine-readable word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// Why the record was rejected, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Whether the record is served: `Accepted` or `Rejected`.
///
/// (For an optional field of this type, the CRD shows this text instead of
/// the field's own.)
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum RecordState {
    /// The record is valid and is served.
    Accepted,
    /// The record is not served; the status says why.
    Rejected,
}

/// Why the record is not served, as one word: `InvalidData`,
/// `CnameConflict`, `OutsideZone`, `DuplicateOwner` or `NotARecord`.
///
/// (For an optional field of this type, the CRD shows this text instead of
/// the field's own.)
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum RejectReason {
    /// A value is malformed: a name, an address, a TTL, a TXT string too
    /// long, no data or more than one kind of data.
    InvalidData,
    /// A CNAME next to other data at one name, a second CNAME for a name,
    /// or a CNAME at a zone apex (RFC 1034 §3.6.2, RFC 2181 §10.1).
    CnameConflict,
    /// The name lies outside every zone the responder serves.
    OutsideZone,
    /// An older object already gives this name the same kind of data, with
    /// different values.
    DuplicateOwner,
    /// The object is not a readable `DNSRecord`.
    NotARecord,
}

impl RejectReason {
    /// The reason as written in the status (`InvalidData`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidData => "InvalidData",
            Self::CnameConflict => "CnameConflict",
            Self::OutsideZone => "OutsideZone",
            Self::DuplicateOwner => "DuplicateOwner",
            Self::NotARecord => "NotARecord",
        }
    }
}

impl RecordState {
    /// The state as written in the status (`Accepted`, `Rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Rejected => "Rejected",
        }
    }
}

//----------- Conversions ------------------------------------------------------

impl From<DNSRecordSpec> for DnsRecordSpec {
    fn from(spec: DNSRecordSpec) -> Self {
        // Destructured, not accessed by field: a field added to one twin
        // and not the other is a compile error here.
        let DNSRecordSpec {
            name,
            ttl,
            addresses,
            cname,
            target_addresses,
            txt,
            srv,
        } = spec;
        Self {
            name,
            ttl,
            addresses,
            cname,
            target_addresses,
            txt,
            srv: srv.into_iter().map(SrvSpec::from).collect(),
        }
    }
}

impl From<&DNSRecordSpec> for DnsRecordSpec {
    fn from(spec: &DNSRecordSpec) -> Self {
        spec.clone().into()
    }
}

impl From<DnsRecordSpec> for DNSRecordSpec {
    fn from(spec: DnsRecordSpec) -> Self {
        let DnsRecordSpec {
            name,
            ttl,
            addresses,
            cname,
            target_addresses,
            txt,
            srv,
        } = spec;
        Self {
            name,
            ttl,
            addresses,
            cname,
            target_addresses,
            txt,
            srv: srv.into_iter().map(SrvEntry::from).collect(),
        }
    }
}

impl From<SrvEntry> for SrvSpec {
    fn from(entry: SrvEntry) -> Self {
        let SrvEntry {
            priority,
            weight,
            port,
            target,
        } = entry;
        Self {
            priority,
            weight,
            port,
            target,
        }
    }
}

impl From<SrvSpec> for SrvEntry {
    fn from(spec: SrvSpec) -> Self {
        let SrvSpec {
            priority,
            weight,
            port,
            target,
        } = spec;
        Self {
            priority,
            weight,
            port,
            target,
        }
    }
}

//----------- Schema pieces ----------------------------------------------------

/// Adds "exactly one of addresses, cname, txt, srv" to the spec's schema as
/// a `oneOf` of `required` clauses. The arrays have `minItems: 1`, so an
/// empty list counts as absent in the schema as it does in the builder.
fn exactly_one_kind_of_data(schema: &mut Schema) {
    schema.insert(
        "oneOf".to_owned(),
        serde_json::json!([
            {"required": ["addresses"]},
            {"required": ["cname"]},
            {"required": ["txt"]},
            {"required": ["srv"]},
        ]),
    );
}

/// Adds "`targetAddresses` only together with `cname`" as an `anyOf`: the
/// spec has a `cname`, or has no `targetAddresses`: only `required`, `not`
/// and `anyOf`, which the oneOf above already shows 1.20 takes in a
/// structural schema. (`minItems: 1` makes an empty list count as absent.)
fn target_addresses_only_with_cname(schema: &mut Schema) {
    schema.insert(
        "anyOf".to_owned(),
        serde_json::json!([
            {"required": ["cname"]},
            {"not": {"required": ["targetAddresses"]}},
        ]),
    );
}

fn owner_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_LENGTH,
        "pattern": OWNER_PATTERN,
    })
}

fn ttl_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": MAX_TTL,
        "default": DEFAULT_TTL,
    })
}

fn addresses_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "string",
            "maxLength": 45,
            "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
        },
    })
}

fn cname_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_LENGTH,
        "pattern": NAME_PATTERN,
    })
}

fn txt_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "maxLength": 255},
    })
}

fn u16_schema(minimum: u16, default: Option<u16>) -> Schema {
    let mut schema = json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": minimum,
        "maximum": u16::MAX,
    });
    if let Some(default) = default {
        schema.insert("default".to_owned(), default.into());
    }
    schema
}

fn priority_schema(_: &mut SchemaGenerator) -> Schema {
    u16_schema(0, Some(0))
}

fn weight_schema(_: &mut SchemaGenerator) -> Schema {
    u16_schema(0, Some(0))
}

fn port_schema(_: &mut SchemaGenerator) -> Schema {
    u16_schema(1, None)
}

fn target_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_LENGTH,
        "pattern": TARGET_PATTERN,
    })
}

//----------- Tests ------------------------------------------------------------

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;
    use serde_json::{Value, json};

    use super::*;

    fn full_twin() -> DNSRecordSpec {
        DNSRecordSpec {
            name: "*.gateway.cluster-a.dev-team.clusters.xcc.test".to_owned(),
            ttl: 17,
            addresses: vec!["10.0.0.10".to_owned(), "fd00::10".to_owned()],
            cname: Some("elsewhere.xcc.test.".to_owned()),
            target_addresses: vec!["192.0.2.10".to_owned(), "2001:db8::10".to_owned()],
            txt: vec!["v=1".to_owned(), "two".to_owned()],
            srv: vec![SrvEntry {
                priority: 1,
                weight: 2,
                port: 443,
                target: "gw.xcc.test".to_owned(),
            }],
        }
    }

    /// Every field set (even ones a valid record never combines), so the
    /// round trip covers them all.
    #[test]
    fn serde_round_trip_with_the_responder_model_is_lossless() {
        let twin = full_twin();
        let json = serde_json::to_value(&twin).unwrap();
        let responder: DnsRecordSpec = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(responder, DnsRecordSpec::from(twin.clone()));
        assert_eq!(serde_json::to_value(&responder).unwrap(), json);
        let back: DNSRecordSpec =
            serde_json::from_value(serde_json::to_value(&responder).unwrap()).unwrap();
        assert_eq!(back, twin);
        assert_eq!(DNSRecordSpec::from(responder), twin);
    }

    #[test]
    fn defaults_match_the_responder_model() {
        let minimal = json!({"name": "a.xcc.test", "addresses": ["10.0.0.1"]});
        let twin: DNSRecordSpec = serde_json::from_value(minimal.clone()).unwrap();
        let responder: DnsRecordSpec = serde_json::from_value(minimal).unwrap();
        assert_eq!(twin.ttl, DEFAULT_TTL);
        assert_eq!(DnsRecordSpec::from(twin.clone()), responder);
        // Empty and absent fields serialize the same way in both.
        assert_eq!(
            serde_json::to_value(&twin).unwrap(),
            serde_json::to_value(&responder).unwrap()
        );
        let srv: SrvEntry = serde_json::from_value(json!({"port": 80, "target": "x."})).unwrap();
        assert_eq!((srv.priority, srv.weight), (0, 0));
    }

    fn spec_schema() -> Value {
        let crd = serde_json::to_value(DNSRecord::crd()).unwrap();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
    }

    #[test]
    fn crd_names_and_scope() {
        let crd = DNSRecord::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("dnsrecords.connectivity.tanzu.vmware.com")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.kind, "DNSRecord");
        assert_eq!(crd.spec.names.plural, "dnsrecords");
        assert_eq!(crd.spec.names.short_names, Some(vec!["dnsr".to_owned()]));
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        let columns: Vec<_> = version
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(columns, ["DNS Name", "State", "Reason", "Age"]);
    }

    #[test]
    fn spec_schema_carries_the_validation() {
        let spec = spec_schema();
        let props = &spec["properties"];
        let number = |value: &Value| value.as_f64().unwrap();
        assert_eq!(props["name"]["pattern"], OWNER_PATTERN);
        assert_eq!(props["name"]["maxLength"], 254);
        assert_eq!(number(&props["ttl"]["maximum"]), 2_147_483_647.0);
        assert_eq!(number(&props["ttl"]["minimum"]), 0.0);
        assert_eq!(props["ttl"]["default"], 30);
        assert_eq!(
            props["addresses"]["items"]["anyOf"],
            json!([{"format": "ipv4"}, {"format": "ipv6"}])
        );
        assert_eq!(props["addresses"]["minItems"], 1);
        assert_eq!(props["cname"]["pattern"], NAME_PATTERN);
        for key in ["type", "minItems", "items"] {
            assert_eq!(
                props["targetAddresses"][key], props["addresses"][key],
                "{key}"
            );
        }
        assert_eq!(props["txt"]["items"]["maxLength"], 255);
        assert_eq!(props["txt"]["minItems"], 1);
        let srv = &props["srv"]["items"];
        assert_eq!(number(&srv["properties"]["port"]["minimum"]), 1.0);
        assert_eq!(number(&srv["properties"]["port"]["maximum"]), 65535.0);
        assert_eq!(srv["properties"]["target"]["pattern"], TARGET_PATTERN);
        assert_eq!(srv["required"], json!(["port", "target"]));
        assert_eq!(props["srv"]["minItems"], 1);
        assert_eq!(spec["required"], json!(["name"]));
        assert_eq!(
            spec["oneOf"],
            json!([
                {"required": ["addresses"]},
                {"required": ["cname"]},
                {"required": ["txt"]},
                {"required": ["srv"]},
            ])
        );
        assert_eq!(
            spec["anyOf"],
            json!([
                {"required": ["cname"]},
                {"not": {"required": ["targetAddresses"]}},
            ])
        );
        // Nothing a 1.20 API server cannot load: no CEL, no references, no
        // uniqueItems, no nullable at the root.
        let crd = serde_json::to_value(DNSRecord::crd()).unwrap();
        let text = crd.to_string();
        assert!(!text.contains("x-kubernetes-validations"));
        assert!(!text.contains("$ref"));
        assert!(!text.contains("uniqueItems"));
        assert!(
            crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
                .get("nullable")
                .is_none()
        );
    }

    fn pattern(text: &str) -> regex::Regex {
        regex::Regex::new(text).unwrap()
    }

    /// The patterns, run by the `regex` crate, whose syntax is RE2's (what
    /// the API server runs): what they accept, the responder's name parser
    /// accepts too; and they refuse what is plainly not a name.
    #[test]
    fn name_patterns_accept_names_and_refuse_the_rest() {
        let owner = pattern(OWNER_PATTERN);
        let name = pattern(NAME_PATTERN);
        let target = pattern(TARGET_PATTERN);
        let long_label = "a".repeat(63);
        let longest = format!("{long_label}.{long_label}.{long_label}.{}", "b".repeat(61));
        assert_eq!(longest.len(), 253);
        for good in [
            "xcc.test",
            "xcc.test.",
            "*.gateway.cluster-a.dev-team.clusters.xcc.test",
            "_http._tcp.xcc.test",
            "Web.XCC.Test",
            "a",
            "1.2.3.4.in-addr.arpa",
            long_label.as_str(),
            longest.as_str(),
        ] {
            assert!(owner.is_match(good), "owner {good}");
            assert!(
                xcc_wire::NameBuf::from_presentation(good).is_ok(),
                "the responder parses {good}"
            );
            let plain = good.strip_prefix("*.").unwrap_or(good);
            assert!(name.is_match(plain), "name {plain}");
            assert!(target.is_match(plain), "target {plain}");
        }
        for bad in [
            "",
            ".",
            "a..b",
            ".a",
            "-a.xcc.test",
            "a-.xcc.test",
            "a.*.xcc.test",
            "**.xcc.test",
            "a b.xcc.test",
            "a/b",
            "xcc.test..",
            &"a".repeat(64),
        ] {
            assert!(!owner.is_match(bad), "owner {bad:?}");
            assert!(!name.is_match(bad), "name {bad:?}");
        }
        assert!(
            !name.is_match("*.xcc.test"),
            "a CNAME target is no wildcard"
        );
        assert!(target.is_match("."), "SRV target . means no service");
        assert!(!name.is_match("."));
    }

    #[test]
    fn status_serializes_as_the_crd_says() {
        let status = DNSRecordStatus {
            state: Some(RecordState::Rejected),
            reason: Some(RejectReason::DuplicateOwner),
            message: Some("m".to_owned()),
            observed_generation: Some(3),
        };
        assert_eq!(
            serde_json::to_value(&status).unwrap(),
            json!({"state": "Rejected", "reason": "DuplicateOwner", "message": "m", "observedGeneration": 3})
        );
        let crd = serde_json::to_value(DNSRecord::crd()).unwrap();
        let schema =
            &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
        assert_eq!(
            schema["properties"]["state"]["enum"],
            json!(["Accepted", "Rejected"])
        );
        let reasons = schema["properties"]["reason"]["enum"].as_array().unwrap();
        for reason in [
            RejectReason::InvalidData,
            RejectReason::CnameConflict,
            RejectReason::OutsideZone,
            RejectReason::DuplicateOwner,
            RejectReason::NotARecord,
        ] {
            assert!(reasons.contains(&json!(reason.as_str())));
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                json!(reason.as_str())
            );
        }
    }
}
