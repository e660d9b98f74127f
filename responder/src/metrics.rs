//! Counters of the responder, kept off the hot path.
//!
//! Each UDP worker owns a [`WorkerStats`] block and is its only writer, so
//! counting a query is a plain load and store on a cache line no other core
//! writes (no locked instruction, no sharing). TCP connections run on the
//! tokio pool and share one block with atomic adds; TCP queries are rare
//! next to UDP ones. Nothing is summed until a scrape: [`Metrics`] is a
//! prometheus-client [`Collector`] that adds the blocks up when `/metrics`
//! is read.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use xcc_wire::{RType, Rcode};

use crate::records::watch::ReloadStats;
use crate::respond::{DropReason, Outcome, Transport};
use crate::table::handle::TableHandle;

/// The query types counted by name; the rest are "other".
const QTYPES: [(RType, &str); 10] = [
    (RType::A, "A"),
    (RType::AAAA, "AAAA"),
    (RType::CNAME, "CNAME"),
    (RType::TXT, "TXT"),
    (RType::SRV, "SRV"),
    (RType::NS, "NS"),
    (RType::SOA, "SOA"),
    (RType::ANY, "ANY"),
    (RType::PTR, "PTR"),
    (RType(0), "other"),
];

/// The RCODEs counted by name; the rest are "other".
const RCODES: [(Rcode, &str); 8] = [
    (Rcode::NOERROR, "NOERROR"),
    (Rcode::FORMERR, "FORMERR"),
    (Rcode::SERVFAIL, "SERVFAIL"),
    (Rcode::NXDOMAIN, "NXDOMAIN"),
    (Rcode::NOTIMP, "NOTIMP"),
    (Rcode::REFUSED, "REFUSED"),
    (Rcode::BADVERS, "BADVERS"),
    (Rcode(u16::MAX), "other"),
];

const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

const DROPS: [&str; 3] = ["too_short", "response", "bad_source"];

/// The counters one writer updates.
#[derive(Debug)]
#[repr(align(128))]
pub struct WorkerStats {
    /// Answers by transport, query type and RCODE.
    answers: [[[AtomicU64; RCODES.len()]; QTYPES.len()]; 2],
    /// Answers with TC set.
    truncated: AtomicU64,
    /// Messages not answered, by reason ([`DROPS`]).
    dropped: [AtomicU64; DROPS.len()],
    /// Socket errors other than "would block".
    io_errors: AtomicU64,
    /// Whether one thread writes (plain load/store) or several (atomic add).
    shared: bool,
}

impl WorkerStats {
    fn new(shared: bool) -> Self {
        Self {
            answers: Default::default(),
            truncated: AtomicU64::new(0),
            dropped: Default::default(),
            io_errors: AtomicU64::new(0),
            shared,
        }
    }

    fn bump(&self, counter: &AtomicU64) {
        if self.shared {
            counter.fetch_add(1, Ordering::Relaxed);
        } else {
            // Single writer: no read-modify-write needed; readers may see a
            // slightly old value, which a scrape tolerates.
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    /// Counts what [`crate::respond::respond`] did with one message.
    pub fn record(&self, transport: Transport, outcome: &Outcome) {
        match *outcome {
            Outcome::Answered {
                qtype,
                rcode,
                truncated,
                ..
            } => {
                let t = match transport {
                    Transport::Udp => 0,
                    Transport::Tcp => 1,
                };
                let q = qtype
                    .and_then(|q| QTYPES.iter().position(|(known, _)| *known == q))
                    .unwrap_or(QTYPES.len() - 1);
                let r = RCODES
                    .iter()
                    .position(|(known, _)| *known == rcode)
                    .unwrap_or(RCODES.len() - 1);
                self.bump(&self.answers[t][q][r]);
                if truncated {
                    self.bump(&self.truncated);
                }
            }
            Outcome::Dropped(reason) => self.drop_reason(match reason {
                DropReason::TooShort | DropReason::NoBuffer => 0,
                DropReason::Response => 1,
            }),
        }
    }

    /// Counts a datagram ignored because of its source (port 0, broadcast).
    pub fn bad_source(&self) {
        self.drop_reason(2);
    }

    fn drop_reason(&self, index: usize) {
        self.bump(&self.dropped[index]);
    }

    /// Counts an answer that went out with TC set only once it had been
    /// cut to fit the link (its first, untruncated form was counted as
    /// answered, not as truncated).
    pub fn truncated_again(&self) {
        self.bump(&self.truncated);
    }

    /// Counts a socket error.
    pub fn io_error(&self) {
        self.bump(&self.io_errors);
    }
}

/// TCP connection counters (shared by every connection task).
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Connections open now.
    pub open: AtomicI64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Connections closed at once because the limit was reached.
    pub refused: AtomicU64,
    /// Connections closed by an idle or read timeout.
    pub timed_out: AtomicU64,
}

/// Every counter of the process, summed on scrape.
#[derive(Debug)]
pub struct Metrics {
    workers: Mutex<Vec<Arc<WorkerStats>>>,
    /// TCP connection counters.
    pub tcp: TcpStats,
    handle: Arc<TableHandle>,
    reloads: Arc<ReloadStats>,
}

impl Metrics {
    /// Metrics reading the table from `handle` and reload counters from
    /// `reloads`.
    pub fn new(handle: Arc<TableHandle>, reloads: Arc<ReloadStats>) -> Arc<Self> {
        Arc::new(Self {
            workers: Mutex::new(Vec::new()),
            tcp: TcpStats::default(),
            handle,
            reloads,
        })
    }

    /// A counter block for one UDP worker (single writer).
    pub fn worker(&self) -> Arc<WorkerStats> {
        self.add(false)
    }

    /// A counter block written by several threads (the TCP tasks).
    pub fn shared(&self) -> Arc<WorkerStats> {
        self.add(true)
    }

    fn add(&self, shared: bool) -> Arc<WorkerStats> {
        let stats = Arc::new(WorkerStats::new(shared));
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&stats));
        stats
    }

    /// Answers summed over every worker: (transport, qtype, rcode) → count.
    pub fn answers(&self) -> Vec<(&'static str, &'static str, &'static str, u64)> {
        let workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (t, transport) in TRANSPORTS.iter().enumerate() {
            for (q, (_, qtype)) in QTYPES.iter().enumerate() {
                for (r, (_, rcode)) in RCODES.iter().enumerate() {
                    let total: u64 = workers
                        .iter()
                        .map(|w| w.answers[t][q][r].load(Ordering::Relaxed))
                        .sum();
                    if total > 0 {
                        out.push((*transport, *qtype, *rcode, total));
                    }
                }
            }
        }
        out
    }

    fn sum(&self, pick: impl Fn(&WorkerStats) -> u64) -> u64 {
        let workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        workers.iter().map(|w| pick(w)).sum()
    }
}

/// Encodes one unlabelled counter.
fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Encodes one unlabelled gauge.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let answers = self.answers();
        let kind = ConstCounter::new(0u64).metric_type();
        let mut family = encoder.encode_descriptor(
            "xcc_responder_queries",
            "Queries answered, by transport, query type and response code",
            None,
            kind,
        )?;
        for (transport, qtype, rcode, total) in answers {
            let labels = [("transport", transport), ("qtype", qtype), ("rcode", rcode)];
            ConstCounter::new(total).encode(family.encode_family(&labels)?)?;
        }
        let mut dropped = encoder.encode_descriptor(
            "xcc_responder_dropped",
            "Messages not answered, by reason (malformed beyond a header, responses, bad sources)",
            None,
            kind,
        )?;
        for (index, reason) in DROPS.iter().enumerate() {
            let total = self.sum(|w| w.dropped[index].load(Ordering::Relaxed));
            ConstCounter::new(total).encode(dropped.encode_family(&[("reason", *reason)])?)?;
        }
        counter(
            &mut encoder,
            "xcc_responder_truncated",
            "Answers sent with TC set",
            self.sum(|w| w.truncated.load(Ordering::Relaxed)),
        )?;
        counter(
            &mut encoder,
            "xcc_responder_socket_errors",
            "Socket errors other than would-block",
            self.sum(|w| w.io_errors.load(Ordering::Relaxed)),
        )?;
        let tcp = &self.tcp;
        gauge(
            &mut encoder,
            "xcc_responder_tcp_connections_open",
            "TCP connections open",
            tcp.open.load(Ordering::Relaxed),
        )?;
        counter(
            &mut encoder,
            "xcc_responder_tcp_connections_accepted",
            "TCP connections accepted",
            tcp.accepted.load(Ordering::Relaxed),
        )?;
        counter(
            &mut encoder,
            "xcc_responder_tcp_connections_refused",
            "TCP connections closed at once: limit reached",
            tcp.refused.load(Ordering::Relaxed),
        )?;
        counter(
            &mut encoder,
            "xcc_responder_tcp_connections_timed_out",
            "TCP connections closed by an idle or read timeout",
            tcp.timed_out.load(Ordering::Relaxed),
        )?;
        let table = self.handle.load();
        gauge(
            &mut encoder,
            "xcc_responder_table_version",
            "Version (SOA serial) of the table served",
            i64::from(table.version()),
        )?;
        gauge(
            &mut encoder,
            "xcc_responder_table_records",
            "Records in the table served",
            table.record_count() as i64,
        )?;
        gauge(
            &mut encoder,
            "xcc_responder_table_zones",
            "Zones in the table served",
            table.zones().len() as i64,
        )?;
        gauge(
            &mut encoder,
            "xcc_responder_ready",
            "1 once a table has been loaded",
            i64::from(self.handle.is_loaded()),
        )?;
        let reloads = &self.reloads;
        counter(
            &mut encoder,
            "xcc_responder_reloads_ok",
            "Tables loaded and swapped in",
            reloads.reloads_ok(),
        )?;
        counter(
            &mut encoder,
            "xcc_responder_reloads_failed",
            "Records files rejected (the last good table stays)",
            reloads.reloads_failed(),
        )?;
        gauge(
            &mut encoder,
            "xcc_responder_last_reload_timestamp_seconds",
            "Unix time of the last successful reload",
            reloads.last_reload_unix() as i64,
        )?;
        gauge(
            &mut encoder,
            "xcc_responder_records_rejected",
            "Records rejected by the last successful load",
            reloads.rejected() as i64,
        )?;
        Ok(())
    }
}
