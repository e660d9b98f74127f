//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766): two-byte length framing,
//! pipelined queries answered in order on one connection, an idle timeout
//! between queries, a time limit to read a query once it has started, a cap
//! on open connections, and a graceful drain on shutdown.
//!
//! Slow or half-open clients cannot exhaust the server: a connection over
//! the cap is closed at once, a client that stops sending is closed after
//! the idle timeout, and one that trickles a query is closed after the
//! read limit. A zero length closes the connection cleanly.
//!
//! Pipelined queries that arrive together are answered together: every
//! whole query in what one read returned is answered, in order, and the
//! answers go out in one write, so a busy connection costs a read and a
//! write per batch rather than per query.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
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

/// Room for one whole frame of the largest query (two length bytes and
/// 65535) and a read's worth of the next ones.
const INPUT_CAPACITY: usize = 2 + u16::MAX as usize + 4096;
/// Answers gathered before one write: pipelined queries that arrived in one
/// read are answered with one write (a larger answer is written on its own).
const BATCH_CAPACITY: usize = 16 * 1024;

/// One TCP connection's state.
struct Connection {
    handle: Arc<TableHandle>,
    metrics: Arc<Metrics>,
    stats: Arc<WorkerStats>,
    context: Context,
    limits: TcpLimits,
}

/// What the input buffer holds next.
enum Frame {
    /// A whole query, at this range of the buffer.
    Query(std::ops::Range<usize>),
    /// A zero length: the client asks to close.
    Close,
}

/// Bytes read and not yet answered: `buf[start..end]`.
struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    fn new() -> Self {
        Self {
            buf: vec![0u8; INPUT_CAPACITY],
            start: 0,
            end: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The next whole frame, consumed; `None` while it is incomplete.
    fn next_frame(&mut self) -> Option<Frame> {
        let held = &self.buf[self.start..self.end];
        let [high, low, ..] = *held else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([high, low]));
        if len == 0 {
            return Some(Frame::Close);
        }
        if held.len() < 2 + len {
            return None;
        }
        let range = self.start + 2..self.start + 2 + len;
        self.start += 2 + len;
        Some(Frame::Query(range))
    }

    /// Free space to read into, after moving what is held to the front
    /// when the rest of a frame might not fit behind it.
    fn spare(&mut self) -> &mut [u8] {
        if self.is_empty() {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < 2 + usize::from(u16::MAX) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }
}

impl Connection {
    /// Serves one connection: reads what the client sent, answers every
    /// whole query in it in order, writes the answers together, and waits
    /// for more — between queries at most the idle timeout (or until
    /// shutdown), within a query at most the query timeout from its first
    /// byte.
    async fn run(mut self, stream: TcpStream, mut shutdown: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let mut input = Input::new();
        let mut out = vec![0u8; 2 + usize::from(u16::MAX)];
        let mut batch: Vec<u8> = Vec::with_capacity(BATCH_CAPACITY);
        // When the query now partly read began arriving.
        let mut partial_since: Option<Instant> = None;
        'connection: loop {
            let mut close = false;
            while let Some(frame) = input.next_frame() {
                let Frame::Query(range) = frame else {
                    close = true; // a zero length: nothing to answer
                    break;
                };
                // Whatever follows this query in the buffer is a new one,
                // whose time starts when it is waited for.
                partial_since = None;
                let table = self.handle.load();
                let outcome = respond(
                    &input.buf[range],
                    &table,
                    Transport::Tcp,
                    &mut self.context,
                    &mut out[2..],
                );
                drop(table);
                self.stats.record(Transport::Tcp, &outcome);
                let Outcome::Answered { len, .. } = outcome else {
                    // Not answered (a response, a runt): RFC 7766 lets us
                    // close, once the answers before it are written.
                    close = true;
                    break;
                };
                out[..2].copy_from_slice(&(len as u16).to_be_bytes());
                let answer = &out[..2 + len];
                if batch.len() + answer.len() > batch.capacity() {
                    if !self.write(&mut write, &batch).await {
                        break 'connection;
                    }
                    batch.clear();
                }
                if answer.len() > batch.capacity() {
                    if !self.write(&mut write, answer).await {
                        break 'connection;
                    }
                } else {
                    batch.extend_from_slice(answer);
                }
            }
            if !batch.is_empty() {
                if !self.write(&mut write, &batch).await {
                    break;
                }
                batch.clear();
            }
            if close || *shutdown.borrow() {
                break;
            }
            // Wait for more: between queries, the idle timeout or shutdown;
            // within one, what is left of the query timeout.
            let read_more = if input.is_empty() {
                tokio::select! {
                    read = timeout(self.limits.idle_timeout, read.read(input.spare())) => read,
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
            } else {
                let since = *partial_since.get_or_insert_with(Instant::now);
                let left = self.limits.query_timeout.saturating_sub(since.elapsed());
                timeout(left, read.read(input.spare())).await
            };
            match read_more {
                Ok(Ok(0)) | Ok(Err(_)) => break, // closed by the client
                Ok(Ok(n)) => input.end += n,
                Err(_) => {
                    self.metrics.tcp.timed_out.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        let _ = write.shutdown().await;
    }

    /// Writes `bytes` within the query timeout; `false`: the connection is
    /// done for.
    async fn write(&self, write: &mut OwnedWriteHalf, bytes: &[u8]) -> bool {
        matches!(
            timeout(self.limits.query_timeout, write.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }
}
