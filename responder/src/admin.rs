//! The admin HTTP endpoint: `/metrics` (Prometheus text format),
//! `/healthz` (the process is up), `/readyz` (200 only once a table has
//! been loaded, so Kubernetes sends no traffic to a responder that has
//! nothing to serve yet) and `/explain`.
//!
//! `GET /explain?name=<name>&type=<type>` (type default `A`, class IN)
//! tells what the responder answers for that question, and why, as JSON
//! ([`crate::explain::Explanation`]): the name and type, the table version
//! (the SOA serial) and when that table was published (`tableLoadedAt`,
//! Unix seconds), the zone (none: outside every zone, REFUSED), the outcome
//! (`answer`, `NODATA`, `NXDOMAIN`, `REFUSED`), the node that matched
//! (its owner and whether the answer comes from a wildcard, RFC 4592), the
//! CNAMEs followed, and the answer and authority records in presentation
//! format. The records come from the real answer engine run on a query
//! built for the purpose, so they are what a client gets. It only reads:
//! one table load, one answer, a little formatting. A missing or invalid
//! name or an unknown type is a 400 with a one-line message.
//! `xcc-controller explain` calls it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use xcc_wire::{NameBuf, RType};

use crate::explain::{explain, parse_type};
use crate::metrics::Metrics;
use crate::table::handle::TableHandle;

/// What the handlers read.
#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    handle: Arc<TableHandle>,
}

/// The router, separate from the listener so tests can call it directly.
pub fn router(metrics: Arc<Metrics>, handle: Arc<TableHandle>) -> Router {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(metrics));
    let state = AdminState {
        registry: Arc::new(registry),
        handle,
    };
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/explain", get(explain_answer))
        .with_state(state)
}

/// Serves the admin endpoint on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    handle: Arc<TableHandle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, handle))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds the admin listener (so that a taken port fails at start). The IPv6
/// wildcard `[::]` takes IPv4 too (a dual-stack socket, as Linux makes one
/// by default), and on a host without IPv6 becomes `0.0.0.0` with a
/// warning, so one setting serves IPv4, IPv6 and dual-stack clusters (the
/// kubelet probes the pod's address, whichever family it is). The
/// controllers' admin endpoints bind through this too.
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(address).await {
        Err(error)
            if address.is_ipv6()
                && address.ip().is_unspecified()
                && crate::net::ipv6_unavailable(&error) =>
        {
            let fallback = SocketAddr::from(([0, 0, 0, 0], address.port()));
            tracing::warn!(%address, %fallback, "no IPv6 on this host ({error}); admin endpoint on IPv4 only");
            tokio::net::TcpListener::bind(fallback).await
        }
        result => result,
    }
}

async fn metrics_text(State(state): State<AdminState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "metrics encoding failed\n".to_owned(),
        ),
    }
}

async fn ready(State(state): State<AdminState>) -> impl IntoResponse {
    if state.handle.is_loaded() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no table loaded yet\n")
    }
}

/// `GET /explain?name=<name>&type=<type>`: see the module docs.
async fn explain_answer(
    State(state): State<AdminState>,
    RawQuery(query): RawQuery,
) -> impl IntoResponse {
    let text = |code, body: String| {
        (
            code,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
    };
    let (name, qtype) = match explain_params(query.as_deref().unwrap_or("")) {
        Ok(params) => params,
        Err(message) => return text(StatusCode::BAD_REQUEST, message + "\n"),
    };
    // One table for the lookup and the answer: one version explained.
    let table = state.handle.load();
    let explanation = explain(
        &table,
        state.handle.is_loaded(),
        state.handle.published_at(),
        &name,
        qtype,
    );
    match serde_json::to_string_pretty(&explanation) {
        Ok(json) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json + "\n",
        ),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "explanation encoding failed\n".to_owned(),
        ),
    }
}

/// The name and type of an `/explain` query string, or why they are
/// unusable.
fn explain_params(query: &str) -> Result<(NameBuf, RType), String> {
    let mut name = None;
    let mut qtype = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).ok_or_else(|| format!("{key}: bad percent-encoding"))?;
        match key {
            "name" => name = Some(value),
            "type" => qtype = Some(value),
            _ => return Err(format!("unknown parameter {key:?} (name, type)")),
        }
    }
    let name = match name {
        Some(name) if !name.is_empty() => name,
        _ => return Err("missing name: /explain?name=<name>[&type=<type>]".to_owned()),
    };
    let name = NameBuf::from_presentation(&name)
        .map_err(|e| format!("name {name:?} is not a DNS name: {e}"))?;
    let qtype = match qtype {
        None => RType::A,
        Some(text) => parse_type(&text).ok_or_else(|| {
            format!("unknown type {text:?} (A, AAAA, CNAME, TXT, SRV, ..., TYPE<n>)")
        })?,
    };
    Ok((name, qtype))
}

/// Decodes `%XX` escapes and `+` (a space, as forms write it); `None` for a
/// broken escape or text that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;
    use crate::explain::{AnswerKind, Explanation};
    use crate::records::model::DnsRecordSpec;
    use crate::records::watch::ReloadStats;
    use crate::table::{Source, TableBuilder, TableConfig};

    /// A router over a published table with the walkthrough's wildcard.
    fn admin() -> Router {
        let handle = TableHandle::new(TableBuilder::new(TableConfig::default()).build().table);
        let mut builder = TableBuilder::new(TableConfig {
            version: 42,
            ..TableConfig::default()
        });
        builder
            .add_spec(
                &DnsRecordSpec {
                    name: "*.gateway.cluster-a.dev-team.clusters.xcc.test".into(),
                    ttl: 30,
                    addresses: vec!["192.0.2.10".into()],
                    ..DnsRecordSpec::default()
                },
                Source::default(),
            )
            .unwrap();
        handle.publish(builder.build().table);
        router(metrics(&handle), handle)
    }

    fn metrics(handle: &Arc<TableHandle>) -> Arc<Metrics> {
        Metrics::new(Arc::clone(handle), Arc::new(ReloadStats::default()))
    }

    async fn get(router: Router, uri: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn explain_a_wildcard_answer() {
        let (status, body) = get(
            admin(),
            "/explain?name=kuard.gateway.cluster-a.dev-team.clusters.xcc.test",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let e: Explanation = serde_json::from_str(&body).unwrap();
        assert_eq!(e.qtype, "A");
        assert_eq!(e.table_version, 42);
        assert!(e.table_loaded);
        assert!(e.table_loaded_at.is_some());
        assert_eq!(e.outcome, AnswerKind::Answer);
        let matched = e.matched.unwrap();
        assert_eq!(
            matched.owner,
            "*.gateway.cluster-a.dev-team.clusters.xcc.test."
        );
        assert!(matched.wildcard);
        assert_eq!(
            e.answers,
            ["kuard.gateway.cluster-a.dev-team.clusters.xcc.test. 30 IN A 192.0.2.10"]
        );
    }

    #[tokio::test]
    async fn explain_takes_a_type_and_percent_encoding() {
        let (status, body) = get(
            admin(),
            "/explain?type=aaaa&name=kuard.gateway.cluster-a.dev-team.clusters.xcc.test%2E",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let e: Explanation = serde_json::from_str(&body).unwrap();
        assert_eq!((e.qtype.as_str(), e.outcome), ("AAAA", AnswerKind::NoData));
        let (_, body) = get(admin(), "/explain?name=example.com").await;
        let e: Explanation = serde_json::from_str(&body).unwrap();
        assert_eq!((e.outcome, e.zone), (AnswerKind::Refused, None));
    }

    #[tokio::test]
    async fn explain_rejects_bad_input() {
        for (uri, says) in [
            ("/explain", "missing name"),
            ("/explain?name=", "missing name"),
            ("/explain?name=a..b", "not a DNS name"),
            ("/explain?name=www.xcc.test&type=BOGUS", "unknown type"),
            ("/explain?name=%zz", "percent-encoding"),
            ("/explain?name=x.xcc.test&class=CH", "unknown parameter"),
        ] {
            let (status, body) = get(admin(), uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert!(body.contains(says), "{uri}: {body}");
        }
    }

    #[tokio::test]
    async fn readyz_follows_the_first_publish() {
        let handle = TableHandle::new(TableBuilder::new(TableConfig::default()).build().table);
        let admin = router(metrics(&handle), Arc::clone(&handle));
        assert_eq!(
            get(admin.clone(), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let (_, body) = get(admin.clone(), "/explain?name=www.xcc.test").await;
        let e: Explanation = serde_json::from_str(&body).unwrap();
        assert!(!e.table_loaded && e.table_loaded_at.is_none());
        handle.publish(TableBuilder::new(TableConfig::default()).build().table);
        assert_eq!(get(admin, "/readyz").await.0, StatusCode::OK);
    }
}
