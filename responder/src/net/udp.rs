//! A UDP worker: one thread, one socket, its own buffers and table reader.
//!
//! The loop is: receive a batch → plan it and answer each query with
//! [`crate::respond::BatchPrefetch`] against one table version → send the
//! batch (answers the link refuses are answered again, smaller, with
//! [`crate::respond::respond`]).
//! Nothing is spawned or allocated per packet. Only "would block" (the read
//! timeout that lets the worker notice shutdown) means "nothing to do";
//! every other error is counted and the loop carries on, because a UDP
//! socket error (an ICMP port unreachable reported as ECONNREFUSED, a full
//! send buffer) concerns one datagram, not the server.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use xcc_wire::Header;

use super::batch::{BATCH, Batch, SlotSet};
use crate::metrics::WorkerStats;
use crate::respond::{BatchPrefetch, Context, Outcome, Transport, respond};
use crate::table::Table;
use crate::table::handle::TableReader;

/// The size answers are cut to when the link refused them whole: every
/// IPv4 host takes datagrams of 576 octets (RFC 791), so 512 of DNS.
const SMALL_ANSWER: u16 = 512;

// Every query of a batch is prefetched.
const _: () = assert!(BATCH <= crate::respond::PREFETCH_BATCH);

/// Everything one UDP worker owns.
pub struct Worker {
    /// The socket, bound with SO_REUSEPORT beside the other workers'.
    pub socket: UdpSocket,
    /// This worker's view of the current table.
    pub reader: TableReader,
    /// Answer-engine state (EDNS size, rotation).
    pub context: Context,
    /// This worker's counters.
    pub stats: Arc<WorkerStats>,
    /// Set when the server shuts down.
    pub stop: Arc<AtomicBool>,
}

impl Worker {
    /// Runs until `stop` is set.
    pub fn run(mut self) {
        let mut batch = Batch::new();
        let mut prefetch = BatchPrefetch::default();
        while !self.stop.load(Ordering::Relaxed) {
            let received = match batch.receive(&self.socket) {
                Ok(received) => received,
                Err(e) if is_idle(&e) => continue,
                Err(_) => {
                    self.stats.io_error();
                    continue;
                }
            };
            // One table version for the whole batch: every answer comes
            // from exactly one version.
            let table = self.reader.load();
            // The misses of the whole batch overlap; see BatchPrefetch.
            prefetch.run(table, (0..received).map(|i| batch.query(i)));
            for i in 0..received {
                let (query, source, out) = batch.slot(i);
                if !source.as_ref().is_some_and(is_answerable) {
                    self.stats.bad_source();
                    continue;
                }
                let outcome =
                    prefetch.respond(i, query, table, Transport::Udp, &mut self.context, out);
                self.stats.record(Transport::Udp, &outcome);
                if let Outcome::Answered { len, .. } = outcome {
                    batch.set_answer(i, len);
                }
            }
            let sent = batch.send(&self.socket, received);
            count_errors(&self.stats, sent.failed);
            if !sent.too_big.is_empty() {
                resend_small(&self.socket, &self.stats, &mut batch, sent.too_big, table);
            }
        }
    }
}

/// Answers again, within [`SMALL_ANSWER`] octets, the queries whose
/// answers the link refused whole (larger than its MTU, with DF set: see
/// [`super::batch::set_dont_fragment`]), and sends those. An RRset that
/// does not fit is left out and TC set, so the client asks again over TCP
/// at once instead of waiting for a timeout.
fn resend_small(
    socket: &UdpSocket,
    stats: &WorkerStats,
    batch: &mut Batch,
    too_big: SlotSet,
    table: &Table,
) {
    batch.retain_answers(too_big);
    let mut small = Context::new(SMALL_ANSWER);
    for i in too_big.iter() {
        let (query, _, out) = batch.slot(i);
        // The refused answer, still in the buffer, was counted as
        // truncated already if it was.
        let counted_truncated = Header::from_bytes(out).is_some_and(|h| h.flags.tc());
        let len = match respond(query, table, Transport::Udp, &mut small, out) {
            Outcome::Answered { len, truncated, .. } => {
                if truncated && !counted_truncated {
                    stats.truncated_again();
                }
                len
            }
            Outcome::Dropped(_) => 0,
        };
        batch.set_answer(i, len);
    }
    let sent = batch.send(socket, BATCH);
    count_errors(stats, sent.failed + sent.too_big.len());
}

fn count_errors(stats: &WorkerStats, errors: usize) {
    for _ in 0..errors {
        stats.io_error();
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// The read timeout expired: not an error, just time to check `stop`.
fn is_idle(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Never answer port 0, unspecified, broadcast or multicast sources: such
/// "queries" are spoofed, and answering them reflects traffic at third
/// parties (domain `dgram.rs`, hickory `sanitize_src_address`).
fn is_answerable(source: &SocketAddr) -> bool {
    if source.port() == 0 || source.ip().is_unspecified() || source.ip().is_multicast() {
        return false;
    }
    match source {
        SocketAddr::V4(v4) => !v4.ip().is_broadcast(),
        SocketAddr::V6(_) => true,
    }
}
