//! The admin HTTP endpoint: `/metrics` (Prometheus text format),
//! `/healthz` (the process is up) and `/readyz` (200 only once a table has
//! been loaded, so Kubernetes sends no traffic to a responder that has
//! nothing to serve yet).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

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

/// Binds the admin listener (so that a taken port fails at start).
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
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
