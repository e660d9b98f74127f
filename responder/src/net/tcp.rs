//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766): two-byte length framing,
//! pipelined queries answered in order on one connection, an idle timeout
//! between queries, a time limit to read a query once it has started, a cap
//! on open connections, and a graceful drain on shutdown.
//!
//! Slow or half-open clients cannot exhaust the server: a connection over
//! the cap is closed at once, a client that stops sending is closed after
//! the idle timeout, and one that trickles a query is closed after the
//! read limit. A zero length closes the connection cleanly.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::metrics::{Metrics, WorkerStats};
use crate::respond::{Context, Outcome, Transport, respond};
use crate::table::handle::TableHandle;

/// Limits of the TCP front.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    /// Most connections open at once (RFC 7766 §6.2.2 asks for a limit).
    pub max_connections: usize,
    /// How long a connection may sit between queries.
    pub idle_timeout: Duration,
    /// How long reading one query (and writing its answer) may take.
    pub query_timeout: Duration,
    /// How long shutdown waits for connections to finish.
    pub drain_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            idle_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(2),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// Accepts connections on `listener` until `shutdown` turns true, then
/// waits (at most `limits.drain_timeout`) for open connections to finish
/// the query they are answering.
pub async fn serve(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    metrics: Arc<Metrics>,
    udp_payload: u16,
    limits: TcpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let stats = metrics.shared();
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let Ok((stream, _peer)) = accepted else {
            // Accept errors (EMFILE, ECONNABORTED) concern one connection;
            // back off a little so a full descriptor table does not spin.
            stats.io_error();
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            metrics.tcp.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        metrics.tcp.accepted.fetch_add(1, Ordering::Relaxed);
        metrics.tcp.open.fetch_add(1, Ordering::Relaxed);
        let connection = Connection {
            handle: Arc::clone(&handle),
            metrics: Arc::clone(&metrics),
            stats: Arc::clone(&stats),
            context: Context::new(udp_payload),
            limits,
        };
        let shutdown = shutdown.clone();
        let metrics = Arc::clone(&metrics);
        connections.spawn(async move {
            connection.run(stream, shutdown).await;
            metrics.tcp.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    let drained = timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            still_open = connections.len(),
            "TCP connections did not finish within the drain timeout"
        );
        connections.abort_all();
    }
}

/// One TCP connection's state.
struct Connection {
    handle: Arc<TableHandle>,
    metrics: Arc<Metrics>,
    stats: Arc<WorkerStats>,
    context: Context,
    limits: TcpLimits,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, mut shutdown: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        // Buffered, so that pipelined queries cost one read between them.
        let mut read = BufReader::with_capacity(4096, read);
        let mut query = vec![0u8; usize::from(u16::MAX)];
        let mut out = vec![0u8; 2 + usize::from(u16::MAX)];
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Between queries: the idle timeout, or shutdown.
            let mut length = [0u8; 2];
            let started = tokio::select! {
                read = timeout(self.limits.idle_timeout, read.read_u8()) => read,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            match started {
                Ok(Ok(byte)) => length[0] = byte,
                Ok(Err(_)) => break, // closed by the client
                Err(_) => {
                    self.metrics.tcp.timed_out.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            // A query has started: it must arrive whole within the limit.
            let rest = timeout(self.limits.query_timeout, async {
                length[1] = read.read_u8().await?;
                let len = usize::from(u16::from_be_bytes(length));
                read.read_exact(&mut query[..len]).await?;
                Ok::<usize, std::io::Error>(len)
            })
            .await;
            let len = match rest {
                Ok(Ok(0)) => break, // a zero length: nothing to answer, close
                Ok(Ok(len)) => len,
                Ok(Err(_)) => break,
                Err(_) => {
                    self.metrics.tcp.timed_out.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            };
            let table = self.handle.load();
            let outcome = respond(
                &query[..len],
                &table,
                Transport::Tcp,
                &mut self.context,
                &mut out[2..],
            );
            drop(table);
            self.stats.record(Transport::Tcp, &outcome);
            let Outcome::Answered { len, .. } = outcome else {
                // Not answered (a response, a runt): RFC 7766 lets us close.
                break;
            };
            out[..2].copy_from_slice(&(len as u16).to_be_bytes());
            match timeout(self.limits.query_timeout, write.write_all(&out[..2 + len])).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        let _ = write.shutdown().await;
    }
}
