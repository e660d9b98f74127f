//! The fake over real HTTP on a loopback port, for code under test that
//! builds its own clients from kubeconfigs (a controller that reads
//! kubeconfig Secrets cannot be handed a `kube::Client`): the kubeconfig
//! [`HttpServer::kubeconfig`] writes points at the fake.

use std::net::{Ipv4Addr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, Uri};
use tokio::task::JoinHandle;

use crate::FakeApi;
use crate::service::handle;

/// A listener serving one [`FakeApi`]; stops when dropped.
#[derive(Debug)]
pub struct HttpServer {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Serves `api` on a free port of 127.0.0.1 (inside a tokio runtime).
    pub async fn start(api: FakeApi) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let app = axum::Router::new().fallback(answer).with_state(api);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, task })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A kubeconfig (YAML) for a cluster named `name` at this server,
    /// plain HTTP, no credentials (the fake has no authentication).
    pub fn kubeconfig(&self, name: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: http://{address}\n\
             users:\n- name: {name}\n  user: {{}}\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n\
             current-context: {name}\n",
            address = self.address
        )
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    State(api): State<FakeApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&api, &method, &uri, &headers, &body).await {
        Ok(response) => response.map(Body::new),
        // A broken-connection fault: the closest HTTP can do is a 502
        // without a Status body.
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}
