//! `xcc-controller explain <name>`: for one name, which record answers it
//! and where that record comes from.
//!
//! ```text
//!  responder admin /explain ──► answer, table version, matched owner (wildcard or exact)
//!  workload cluster ──────────► DNSRecords whose spec.name is that owner: object, status,
//!                               source labels (namespace, cluster, GatewayDNS)
//!  management cluster ────────► that GatewayDNS: the cluster's state, addresses,
//!  (--management-kubeconfig)    lastSuccessTime ("confirmed N s ago"), Ready/Degraded
//! ```
//!
//! The joining and the rendering are plain functions ([`candidate_owners`],
//! [`matching_records`], [`gateway_source`], [`gateway_info`], [`render`]),
//! tested without a cluster; [`explain`] is the thin shell that fetches.
//! Only the responder is required: whatever else cannot be read (no kube
//! access, no management kubeconfig, a record not written by the gateways
//! controller) becomes a note in the [`Report`], not an error.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::ListParams;
use kube::{Api, ResourceExt as _};
use serde::Serialize;
use xcc_responder::explain::{AnswerKind, Explanation};

use crate::api::{DNSRecord, GatewayDNS, RecordState, RejectReason};
use crate::gateways::desired::{GATEWAY_DNS, MANAGED_BY, SOURCE_CLUSTER, SOURCE_NAMESPACE};

/// How long one request (to the responder or an API server) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

//----------- Options and errors ------------------------------------------------

/// What to explain, and where to ask.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// The responder's admin address (`http://host:port`).
    pub responder: String,
    /// The name asked about.
    pub name: String,
    /// The type asked for (`A`, `AAAA`, ...).
    pub qtype: String,
    /// The namespace of the DNSRecords in the workload cluster.
    pub record_namespace: String,
    /// The management cluster's kubeconfig, to read the GatewayDNS.
    pub management_kubeconfig: Option<PathBuf>,
}

/// Why there is no explanation at all: the responder did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// `--responder` is not an `http://` URL.
    #[error("--responder {0:?}: expected http://host:port")]
    BadUrl(String),
    /// The responder could not be reached, or took too long.
    #[error("cannot reach the responder at {url}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The responder refused the question (HTTP 400: a bad name or type).
    #[error("the responder says (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The responder's answer is not an explanation (an older responder
    /// without `/explain`?).
    #[error("the responder's answer is not an explanation")]
    BadAnswer(#[source] serde_json::Error),
}

//----------- The report --------------------------------------------------------

/// The joined result: the responder's explanation, the DNSRecords behind
/// it and the GatewayDNS they come from; `-o json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// What the responder answers, and which node answered.
    pub answer: Explanation,
    /// Seconds since the responder's table was published, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_age_seconds: Option<i64>,
    /// The DNSRecords whose owner name is the matched owner (or, with no
    /// match, the name itself or a wildcard above it).
    pub records: Vec<RecordInfo>,
    /// Why `records` is empty or could not be read, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_note: Option<String>,
    /// The serving record's GatewayDNS and cluster, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayInfo>,
    /// Why `gateway` is missing, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_note: Option<String>,
}

/// One DNSRecord claiming the owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordInfo {
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// Its `spec.name`, as written.
    pub owner: String,
    /// `Accepted` or `Rejected`; `None` before the records controller
    /// has judged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why it is rejected (`DuplicateOwner`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The status message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where the gateways controller says it comes from; `None` for a
    /// record it did not write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<RecordSource>,
}

/// The source labels of a record written by `xcc-controller gateways`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordSource {
    /// The management namespace (label `source-namespace`).
    pub namespace: String,
    /// The cluster whose gateway it publishes (label `source-cluster`).
    pub cluster: String,
    /// The GatewayDNS (label `gatewaydns`).
    pub gateway_dns: String,
}

/// What the GatewayDNS's status says about the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayInfo {
    /// The GatewayDNS's namespace.
    pub namespace: String,
    /// The GatewayDNS's name.
    pub name: String,
    /// The cluster.
    pub cluster: String,
    /// The cluster's state (`Ready`, `Pending`, `Unreachable`, `Failed`);
    /// `None` when the status has no entry for the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why the cluster is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The gateway addresses found.
    pub addresses: Vec<String>,
    /// When the cluster's gateway was last read successfully (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_time: Option<String>,
    /// Seconds from `last_success_time` to now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_seconds_ago: Option<i64>,
    /// The GatewayDNS's `Ready` and `Degraded` conditions.
    pub conditions: Vec<ConditionInfo>,
}

/// One condition of the GatewayDNS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionInfo {
    /// `Ready` or `Degraded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Its reason.
    pub reason: String,
    /// Its message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

//----------- Joining (pure) ---------------------------------------------------

/// A name as DNSRecords and the responder spell it, made comparable:
/// lowercase, no trailing dot.
pub fn normalize_owner(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The owner names whose DNSRecords explain `answer`: the matched node's
/// owner; with no match (NXDOMAIN, REFUSED), the name itself and a
/// wildcard at every ancestor, since a record there that is not served
/// (rejected) is what the operator is looking for.
pub fn candidate_owners(answer: &Explanation) -> Vec<String> {
    if let Some(matched) = &answer.matched {
        return vec![normalize_owner(&matched.owner)];
    }
    let name = normalize_owner(&answer.name);
    let mut owners = vec![name.clone()];
    let mut rest = name.as_str();
    while let Some((_, parent)) = rest.split_once('.') {
        owners.push(format!("*.{parent}"));
        rest = parent;
    }
    owners
}

/// The DNSRecords whose `spec.name` is one of `owners` (compared
/// normalised), accepted ones first.
pub fn matching_records(owners: &[String], records: &[DNSRecord]) -> Vec<RecordInfo> {
    let mut found: Vec<RecordInfo> = records
        .iter()
        .filter(|record| owners.contains(&normalize_owner(&record.spec.name)))
        .map(record_info)
        .collect();
    found.sort_by_key(|info| {
        (
            info.state.as_deref() != Some(RecordState::Accepted.as_str()),
            info.name.clone(),
        )
    });
    found
}

fn record_info(record: &DNSRecord) -> RecordInfo {
    let status = record.status.clone().unwrap_or_default();
    let labels = record.labels();
    RecordInfo {
        namespace: record.namespace().unwrap_or_default(),
        name: record.name_any(),
        owner: record.spec.name.clone(),
        state: status.state.map(|state| state.as_str().to_owned()),
        reason: status.reason.map(|reason| reason.as_str().to_owned()),
        message: status.message,
        source: record_source(labels),
    }
}

/// The source labels, when the gateways controller wrote the record.
fn record_source(labels: &BTreeMap<String, String>) -> Option<RecordSource> {
    if labels.get(MANAGED_BY).map(String::as_str)
        != Some(crate::gateways::desired::MANAGED_BY_VALUE)
    {
        return None;
    }
    Some(RecordSource {
        namespace: labels.get(SOURCE_NAMESPACE)?.clone(),
        cluster: labels.get(SOURCE_CLUSTER)?.clone(),
        gateway_dns: labels.get(GATEWAY_DNS)?.clone(),
    })
}

/// The source to follow to the management cluster: the accepted record's,
/// else the first record's that has one.
pub fn gateway_source(records: &[RecordInfo]) -> Option<&RecordSource> {
    records
        .iter()
        .find(|r| r.state.as_deref() == Some(RecordState::Accepted.as_str()) && r.source.is_some())
        .or_else(|| records.iter().find(|r| r.source.is_some()))
        .and_then(|r| r.source.as_ref())
}

/// What `gateway`'s status says about `cluster`, as of `now`.
pub fn gateway_info(gateway: &GatewayDNS, cluster: &str, now: jiff::Timestamp) -> GatewayInfo {
    let status = gateway.status.clone().unwrap_or_default();
    let result = status.clusters.iter().find(|c| c.name == cluster);
    let last = result
        .and_then(|c| c.last_success_time.as_ref())
        .map(|t| t.0);
    GatewayInfo {
        namespace: gateway.namespace().unwrap_or_default(),
        name: gateway.name_any(),
        cluster: cluster.to_owned(),
        state: result.map(|c| format!("{:?}", c.state)),
        reason: result.and_then(|c| c.reason.clone()),
        message: result.and_then(|c| c.message.clone()),
        addresses: result.map(|c| c.addresses.clone()).unwrap_or_default(),
        last_success_time: last.map(|t| t.to_string()),
        confirmed_seconds_ago: last.map(|t| now.as_second() - t.as_second()),
        conditions: status
            .conditions
            .iter()
            .filter(|c| c.type_ == "Ready" || c.type_ == "Degraded")
            .map(condition_info)
            .collect(),
    }
}

fn condition_info(condition: &Condition) -> ConditionInfo {
    ConditionInfo {
        type_: condition.type_.clone(),
        status: condition.status.clone(),
        reason: condition.reason.clone(),
        message: condition.message.clone(),
    }
}

//----------- Rendering (pure) -------------------------------------------------

/// Writes `report` for people:
///
/// ```text
/// kuard.gateway.cluster-a.dev-team.clusters.xcc.test. A
///   answer (NOERROR, table version 1732881234, loaded 40 s ago):
///     kuard.gateway.cluster-a.dev-team.clusters.xcc.test. 30 IN A 192.0.2.10
///   matched: *.gateway.cluster-a.dev-team.clusters.xcc.test. (wildcard)
///   record:  xcc-dns/dev-team-cluster-a-gateway (Accepted)
///   source:  GatewayDNS dev-team/dev-team-gateway-dns, cluster cluster-a
///   gateway: Ready, addresses 192.0.2.10, confirmed 12 s ago
///            GatewayDNS Ready=True (Published), Degraded=False (AsExpected)
/// ```
pub fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let answer = &report.answer;
    writeln!(out, "{} {}", answer.name, answer.qtype)?;
    let mut table = format!("table version {}", answer.table_version);
    if !answer.table_loaded {
        table.push_str(", no table loaded yet");
    } else if let Some(age) = report.table_age_seconds {
        table.push_str(&format!(", loaded {age} s ago"));
    }
    let zone = answer.zone.as_deref().unwrap_or("?");
    match answer.outcome {
        AnswerKind::Answer => writeln!(out, "  answer ({}, {table}):", answer.rcode)?,
        AnswerKind::NoData => writeln!(
            out,
            "  NODATA ({}, {table}): the name exists but has no {} records",
            answer.rcode, answer.qtype
        )?,
        AnswerKind::NxDomain => writeln!(
            out,
            "  NXDOMAIN ({table}): no such name in zone {zone}, and no wildcard covers it"
        )?,
        AnswerKind::Refused => writeln!(
            out,
            "  REFUSED ({table}): outside every zone this responder serves"
        )?,
        AnswerKind::Error => writeln!(out, "  {} ({table})", answer.rcode)?,
    }
    for record in &answer.answers {
        writeln!(out, "    {record}")?;
    }
    for record in &answer.authority {
        writeln!(out, "    authority: {record}")?;
    }
    if answer.truncated {
        writeln!(out, "    (truncated)")?;
    }
    for link in &answer.cname_chain {
        writeln!(out, "  cname:   {} -> {}", link.owner, link.target)?;
    }
    if let Some(matched) = &answer.matched {
        let how = if matched.wildcard {
            "wildcard"
        } else if matched.empty_non_terminal {
            "empty non-terminal: no records of its own"
        } else {
            "exact"
        };
        writeln!(out, "  matched: {} ({how}) in zone {zone}", matched.owner)?;
    }
    if let Some(note) = &report.records_note {
        writeln!(out, "  record:  {note}")?;
    }
    for record in &report.records {
        writeln!(
            out,
            "  record:  {}/{} ({})",
            record.namespace,
            record.name,
            record_verdict(record)
        )?;
    }
    let sources: Vec<&RecordSource> = report
        .records
        .iter()
        .filter_map(|r| r.source.as_ref())
        .collect();
    if let Some(source) = gateway_source(&report.records) {
        writeln!(
            out,
            "  source:  GatewayDNS {}/{}, cluster {}",
            source.namespace, source.gateway_dns, source.cluster
        )?;
    } else if !report.records.is_empty() && sources.is_empty() {
        writeln!(
            out,
            "  source:  not written by xcc-controller gateways (no source labels)"
        )?;
    }
    if let Some(gateway) = &report.gateway {
        render_gateway(gateway, out)?;
    } else if let Some(note) = &report.gateway_note {
        writeln!(out, "  gateway: {note}")?;
    }
    Ok(())
}

/// `Accepted`, or `Rejected: <reason>: <message>`, with a plain word for a
/// losing duplicate.
fn record_verdict(record: &RecordInfo) -> String {
    let Some(state) = &record.state else {
        return "no status yet: the records controller has not judged it".to_owned();
    };
    let mut verdict = state.clone();
    if let Some(reason) = &record.reason {
        verdict.push_str(": ");
        verdict.push_str(reason);
        if reason == RejectReason::DuplicateOwner.as_str() {
            verdict.push_str(", a losing duplicate (an older object serves this name)");
        }
    }
    if let Some(message) = &record.message {
        verdict.push_str(": ");
        verdict.push_str(message);
    }
    verdict
}

fn render_gateway(gateway: &GatewayInfo, out: &mut dyn Write) -> io::Result<()> {
    let mut line = match &gateway.state {
        Some(state) => state.clone(),
        None => format!(
            "GatewayDNS {}/{} has no status for cluster {}",
            gateway.namespace, gateway.name, gateway.cluster
        ),
    };
    if let Some(reason) = &gateway.reason {
        line.push_str(&format!(" ({reason})"));
    }
    if !gateway.addresses.is_empty() {
        line.push_str(&format!(", addresses {}", gateway.addresses.join(", ")));
    }
    match gateway.confirmed_seconds_ago {
        Some(ago) => line.push_str(&format!(", confirmed {ago} s ago")),
        None if gateway.state.is_some() => line.push_str(", never confirmed"),
        None => {}
    }
    writeln!(out, "  gateway: {line}")?;
    if let Some(message) = &gateway.message {
        writeln!(out, "           {message}")?;
    }
    if !gateway.conditions.is_empty() {
        let conditions: Vec<String> = gateway
            .conditions
            .iter()
            .map(|c| {
                if c.reason.is_empty() {
                    format!("{}={}", c.type_, c.status)
                } else {
                    format!("{}={} ({})", c.type_, c.status, c.reason)
                }
            })
            .collect();
        writeln!(out, "           GatewayDNS {}", conditions.join(", "))?;
    }
    Ok(())
}

//----------- Fetching (the shell) ---------------------------------------------

/// The `/explain` URL on the responder's admin address `base`.
pub fn explain_url(base: &str, name: &str, qtype: &str) -> Result<String, ExplainError> {
    let base = base.trim_end_matches('/');
    let Some(host) = base.strip_prefix("http://") else {
        return Err(ExplainError::BadUrl(base.to_owned()));
    };
    if host.is_empty() || host.contains(['/', '?', '#']) {
        return Err(ExplainError::BadUrl(base.to_owned()));
    }
    Ok(format!(
        "{base}/explain?name={}&type={}",
        percent_encode(name),
        percent_encode(qtype)
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Asks the responder's `/explain`.
pub async fn fetch_explanation(
    responder: &str,
    name: &str,
    qtype: &str,
) -> Result<Explanation, ExplainError> {
    let url = explain_url(responder, name, qtype)?;
    let unreachable =
        |source: Box<dyn std::error::Error + Send + Sync>| ExplainError::Unreachable {
            url: url.clone(),
            source,
        };
    let uri: http::Uri = url.parse().map_err(|e| unreachable(Box::new(e)))?;
    let client = HttpClient::builder(TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let response = client
            .get(uri)
            .await
            .map_err(|e| unreachable(Box::new(e)))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(Box::new(e)))?
            .to_bytes();
        Ok::<_, ExplainError>((status, body))
    })
    .await
    .map_err(|e| unreachable(Box::new(e)))??;
    if !status.is_success() {
        return Err(ExplainError::Refused {
            status: status.as_u16(),
            message: String::from_utf8_lossy(&body).trim().to_owned(),
        });
    }
    serde_json::from_slice(&body).map_err(ExplainError::BadAnswer)
}

/// Explains `options.name`: asks the responder, then the workload cluster
/// (default kube config) for the DNSRecords, then, with a management
/// kubeconfig, the GatewayDNS. Fails only when the responder does.
pub async fn explain(options: &ExplainOptions) -> Result<Report, ExplainError> {
    let answer = fetch_explanation(&options.responder, &options.name, &options.qtype).await?;
    let now = jiff::Timestamp::now();
    let table_age_seconds = answer
        .table_loaded_at
        .and_then(|at| i64::try_from(at).ok())
        .map(|at| now.as_second() - at);
    let owners = candidate_owners(&answer);
    let mut report = Report {
        answer,
        table_age_seconds,
        records: Vec::new(),
        records_note: None,
        gateway: None,
        gateway_note: None,
    };
    match list_records(&options.record_namespace).await {
        Ok(records) => report.records = matching_records(&owners, &records),
        Err(why) => {
            report.records_note = Some(format!("unknown: {why}"));
            report.gateway_note = Some("unknown: no DNSRecord to follow".to_owned());
            return Ok(report);
        }
    }
    if report.records.is_empty() {
        report.records_note = Some(format!(
            "no DNSRecord in namespace {} names {} (the name may come from an annotated \
             EndpointSlice, or the record was deleted since the table was built)",
            options.record_namespace,
            owners.join(" or ")
        ));
    }
    let Some(source) = gateway_source(&report.records).cloned() else {
        if !report.records.is_empty() {
            report.gateway_note =
                Some("none: the record was not written by xcc-controller gateways".to_owned());
        }
        return Ok(report);
    };
    let Some(path) = &options.management_kubeconfig else {
        report.gateway_note =
            Some("unknown: give --management-kubeconfig to read the GatewayDNS status".to_owned());
        return Ok(report);
    };
    match get_gateway(path, &source.namespace, &source.gateway_dns).await {
        Ok(Some(gateway)) => report.gateway = Some(gateway_info(&gateway, &source.cluster, now)),
        Ok(None) => {
            report.gateway_note = Some(format!(
                "GatewayDNS {}/{} not found in the management cluster (deleted?)",
                source.namespace, source.gateway_dns
            ));
        }
        Err(why) => report.gateway_note = Some(format!("unknown: {why}")),
    }
    Ok(report)
}

/// The DNSRecords of `namespace` in the cluster of the default kube
/// config, or why they cannot be read.
async fn list_records(namespace: &str) -> Result<Vec<DNSRecord>, String> {
    let work = async {
        let client = kube::Client::try_default()
            .await
            .map_err(|e| format!("no access to the workload cluster ({e})"))?;
        let api: Api<DNSRecord> = Api::namespaced(client, namespace);
        api.list(&ListParams::default())
            .await
            .map(|list| list.items)
            .map_err(|e| format!("cannot list DNSRecords in namespace {namespace} ({e})"))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err("the workload cluster's API server did not answer".to_owned()))
}

/// The GatewayDNS `namespace/name` in the management cluster of the
/// kubeconfig at `path`.
async fn get_gateway(
    path: &std::path::Path,
    namespace: &str,
    name: &str,
) -> Result<Option<GatewayDNS>, String> {
    let work = async {
        let kubeconfig = kube::config::Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read {} ({e})", path.display()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| format!("bad management kubeconfig {} ({e})", path.display()))?;
        let client = kube::Client::try_from(config)
            .map_err(|e| format!("no access to the management cluster ({e})"))?;
        let api: Api<GatewayDNS> = Api::namespaced(client, namespace);
        api.get_opt(name)
            .await
            .map_err(|e| format!("cannot read GatewayDNS {namespace}/{name} ({e})"))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err("the management cluster's API server did not answer".to_owned()))
}

//----------- Tests ---------------------------------------------------------------

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use xcc_responder::explain::{CnameLink, Matched};

    use super::*;
    use crate::api::{
        ClusterResult, ClusterState, DNSRecordSpec, DNSRecordStatus, GatewayDNSSpec,
        GatewayDNSStatus, ResolutionType,
    };
    use crate::gateways::desired::MANAGED_BY_VALUE;

    const KUARD: &str = "kuard.gateway.cluster-a.dev-team.clusters.xcc.test.";
    const WILDCARD: &str = "*.gateway.cluster-a.dev-team.clusters.xcc.test.";

    fn answer(matched: Option<(&str, bool)>, outcome: AnswerKind) -> Explanation {
        Explanation {
            name: KUARD.into(),
            qtype: "A".into(),
            table_version: 1_732_881_234,
            table_loaded: true,
            table_loaded_at: Some(1_732_881_234),
            zone: Some("xcc.test.".into()),
            outcome,
            rcode: match outcome {
                AnswerKind::NxDomain => "NXDOMAIN",
                _ => "NOERROR",
            }
            .into(),
            truncated: false,
            matched: matched.map(|(owner, wildcard)| Matched {
                owner: owner.into(),
                wildcard,
                empty_non_terminal: false,
            }),
            cname_chain: Vec::new(),
            answers: match outcome {
                AnswerKind::Answer => vec![format!("{KUARD} 30 IN A 192.0.2.10")],
                _ => Vec::new(),
            },
            authority: Vec::new(),
        }
    }

    fn record(
        name: &str,
        owner: &str,
        state: Option<(RecordState, Option<RejectReason>)>,
        from_gateways: bool,
    ) -> DNSRecord {
        let mut labels = BTreeMap::new();
        if from_gateways {
            labels.insert(MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned());
            labels.insert(SOURCE_NAMESPACE.to_owned(), "dev-team".to_owned());
            labels.insert(SOURCE_CLUSTER.to_owned(), "cluster-a".to_owned());
            labels.insert(GATEWAY_DNS.to_owned(), "dev-team-gateway-dns".to_owned());
        }
        DNSRecord {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("xcc-dns".into()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: DNSRecordSpec {
                name: owner.into(),
                ttl: 30,
                addresses: vec!["192.0.2.10".into()],
                ..DNSRecordSpec::default()
            },
            status: state.map(|(state, reason)| DNSRecordStatus {
                state: Some(state),
                reason,
                message: reason.map(|_| "an older object gives this name addresses".into()),
                observed_generation: Some(1),
            }),
        }
    }

    fn gateway(now: jiff::Timestamp) -> GatewayDNS {
        let condition = |type_: &str, status: &str, reason: &str| Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            last_transition_time: Time(now),
            observed_generation: Some(1),
        };
        GatewayDNS {
            metadata: ObjectMeta {
                name: Some("dev-team-gateway-dns".into()),
                namespace: Some("dev-team".into()),
                ..ObjectMeta::default()
            },
            spec: GatewayDNSSpec {
                cluster_selector: Default::default(),
                service: "projectcontour/envoy".into(),
                resolution_type: ResolutionType::LoadBalancer,
                ttl: None,
                hostname_mode: None,
            },
            status: Some(GatewayDNSStatus {
                observed_generation: Some(1),
                conditions: vec![
                    condition("Ready", "True", "Published"),
                    condition("Degraded", "False", "AsExpected"),
                    condition("Other", "True", "Ignored"),
                ],
                clusters: vec![ClusterResult {
                    name: "cluster-a".into(),
                    state: ClusterState::Ready,
                    addresses: vec!["192.0.2.10".into()],
                    reason: None,
                    message: None,
                    last_success_time: Some(Time(now - jiff::SignedDuration::from_secs(12))),
                }],
            }),
        }
    }

    fn text(report: &Report) -> String {
        let mut out = Vec::new();
        render(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn owners_are_normalised_and_wildcards_found() {
        assert_eq!(normalize_owner("*.Gateway.XCC.test."), "*.gateway.xcc.test");
        let owners = candidate_owners(&answer(Some((WILDCARD, true)), AnswerKind::Answer));
        assert_eq!(owners, ["*.gateway.cluster-a.dev-team.clusters.xcc.test"]);
        let records = [
            record(
                "dev-team-cluster-a-gateway",
                "*.gateway.cluster-a.dev-team.clusters.xcc.test",
                Some((RecordState::Accepted, None)),
                true,
            ),
            record(
                "hand-written",
                "*.GATEWAY.cluster-a.dev-team.clusters.xcc.test.",
                Some((RecordState::Rejected, Some(RejectReason::DuplicateOwner))),
                false,
            ),
            record("other", "www.xcc.test", None, false),
        ];
        let found = matching_records(&owners, &records);
        let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["dev-team-cluster-a-gateway", "hand-written"]);
        assert_eq!(
            gateway_source(&found),
            Some(&RecordSource {
                namespace: "dev-team".into(),
                cluster: "cluster-a".into(),
                gateway_dns: "dev-team-gateway-dns".into(),
            })
        );
        assert_eq!(found[1].source, None);
    }

    #[test]
    fn without_a_match_the_name_and_every_wildcard_above_it_are_candidates() {
        let owners = candidate_owners(&answer(None, AnswerKind::NxDomain));
        assert_eq!(
            owners[0],
            "kuard.gateway.cluster-a.dev-team.clusters.xcc.test"
        );
        assert!(owners.contains(&"*.gateway.cluster-a.dev-team.clusters.xcc.test".to_owned()));
        assert_eq!(owners.last().unwrap(), "*.test");
    }

    #[test]
    fn gateway_status_becomes_confirmed_seconds_ago() {
        let now = jiff::Timestamp::from_second(1_732_881_300).unwrap();
        let info = gateway_info(&gateway(now), "cluster-a", now);
        assert_eq!(info.state.as_deref(), Some("Ready"));
        assert_eq!(info.confirmed_seconds_ago, Some(12));
        assert_eq!(info.addresses, ["192.0.2.10"]);
        let types: Vec<&str> = info.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Ready", "Degraded"]);
        let missing = gateway_info(&gateway(now), "cluster-z", now);
        assert_eq!((missing.state, missing.confirmed_seconds_ago), (None, None));
    }

    #[test]
    fn renders_the_whole_chain() {
        let now = jiff::Timestamp::from_second(1_732_881_300).unwrap();
        let records = matching_records(
            &[normalize_owner(WILDCARD)],
            &[record(
                "dev-team-cluster-a-gateway",
                WILDCARD,
                Some((RecordState::Accepted, None)),
                true,
            )],
        );
        let report = Report {
            answer: answer(Some((WILDCARD, true)), AnswerKind::Answer),
            table_age_seconds: Some(40),
            records,
            records_note: None,
            gateway: Some(gateway_info(&gateway(now), "cluster-a", now)),
            gateway_note: None,
        };
        assert_eq!(
            text(&report),
            "\
kuard.gateway.cluster-a.dev-team.clusters.xcc.test. A
  answer (NOERROR, table version 1732881234, loaded 40 s ago):
    kuard.gateway.cluster-a.dev-team.clusters.xcc.test. 30 IN A 192.0.2.10
  matched: *.gateway.cluster-a.dev-team.clusters.xcc.test. (wildcard) in zone xcc.test.
  record:  xcc-dns/dev-team-cluster-a-gateway (Accepted)
  source:  GatewayDNS dev-team/dev-team-gateway-dns, cluster cluster-a
  gateway: Ready, addresses 192.0.2.10, confirmed 12 s ago
           GatewayDNS Ready=True (Published), Degraded=False (AsExpected)
"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["answer"]["matched"]["wildcard"], true);
        assert_eq!(
            json["records"][0]["source"]["gatewayDns"],
            "dev-team-gateway-dns"
        );
        assert_eq!(json["gateway"]["confirmedSecondsAgo"], 12);
    }

    #[test]
    fn renders_what_is_unavailable_plainly() {
        let mut nx = answer(None, AnswerKind::NxDomain);
        nx.authority =
            vec!["xcc.test. 5 IN SOA ns.xcc.test. hostmaster.xcc.test. 1 2 3 4 5".into()];
        let rejected = matching_records(
            &candidate_owners(&nx),
            &[record(
                "hand-written",
                "kuard.gateway.cluster-a.dev-team.clusters.xcc.test",
                Some((RecordState::Rejected, Some(RejectReason::DuplicateOwner))),
                false,
            )],
        );
        let report = Report {
            answer: nx,
            table_age_seconds: None,
            records: rejected,
            records_note: None,
            gateway: None,
            gateway_note: Some(
                "none: the record was not written by xcc-controller gateways".into(),
            ),
        };
        let out = text(&report);
        assert!(
            out.contains("NXDOMAIN (table version 1732881234): no such name in zone xcc.test."),
            "{out}"
        );
        assert!(out.contains("    authority: xcc.test. 5 IN SOA"), "{out}");
        assert!(
            out.contains(
                "record:  xcc-dns/hand-written (Rejected: DuplicateOwner, a losing duplicate"
            ),
            "{out}"
        );
        assert!(
            out.contains("source:  not written by xcc-controller gateways"),
            "{out}"
        );
        assert!(
            out.contains("gateway: none: the record was not written"),
            "{out}"
        );

        let mut cname = answer(Some(("alias.xcc.test.", false)), AnswerKind::Answer);
        cname.cname_chain = vec![CnameLink {
            owner: "alias.xcc.test.".into(),
            target: "www.xcc.test.".into(),
        }];
        cname.table_loaded = false;
        let report = Report {
            answer: cname,
            table_age_seconds: None,
            records: Vec::new(),
            records_note: Some("unknown: no access to the workload cluster".into()),
            gateway: None,
            gateway_note: Some("unknown: no DNSRecord to follow".into()),
        };
        let out = text(&report);
        assert!(out.contains("no table loaded yet"), "{out}");
        assert!(
            out.contains("  cname:   alias.xcc.test. -> www.xcc.test."),
            "{out}"
        );
        assert!(out.contains("(exact)"), "{out}");
        assert!(
            out.contains("record:  unknown: no access to the workload cluster"),
            "{out}"
        );
        assert!(
            out.contains("gateway: unknown: no DNSRecord to follow"),
            "{out}"
        );
    }

    #[test]
    fn urls_are_built_and_checked() {
        assert_eq!(
            explain_url("http://127.0.0.1:9153/", "*.a.xcc.test", "A").unwrap(),
            "http://127.0.0.1:9153/explain?name=%2A.a.xcc.test&type=A"
        );
        for bad in ["https://x:1", "127.0.0.1:9153", "http://", "http://h/p"] {
            assert!(explain_url(bad, "a", "A").is_err(), "{bad}");
        }
    }
}
