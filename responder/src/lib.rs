//! `xcc-responder`: the authoritative DNS responder of xcc-dns.
//!
//! The data path, bytes to bytes:
//!
//! ```text
//!  net::udp::Worker ── batch::Batch::receive (recvmmsg) ──┐      net::tcp ── 2-byte frames ──┐
//!    respond::BatchPrefetch::run (big tables: plan each   │                                  │
//!    lookup, ask for its memory; ::respond answers)       ▼                                  ▼
//!        respond::respond(query, &Table, Transport, &mut Context, out)   (pure, allocation-free)
//!          ├─ xcc_wire::Message::parse        header, question, EDNS
//!          ├─ table::Table::lookup            exact → closest encloser → wildcard
//!          └─ xcc_wire::MessageWriter         question echo, pre-encoded RRsets, SOA, OPT, TC
//!        ── batch::Batch::send (sendmmsg) / framed write
//! ```
//!
//! The control path: a records file (or a controller snapshot) is loaded
//! by [`records`], validated and laid out by [`table::build::TableBuilder`]
//! and published through [`table::handle::TableHandle`], which every worker
//! reads lock-free; [`records::watch`] reloads it when the file changes.
//!
//! Layout: [`respond`] is the answer engine (no sockets, no clock);
//! [`table`] the name table, its builder, lookup and swap; [`records`] the
//! records model, loading and hot reload; [`net`] the UDP workers and TCP
//! front; [`admin`] the HTTP endpoint; [`explain`] what an answer is
//! made of (the admin endpoint's `/explain`); [`metrics`] the counters;
//! [`memory`] gives the parser's memory back after a reload and prefetches
//! on the query path; [`shutdown`] waits for SIGTERM or SIGINT, for both
//! binaries.

#![deny(unsafe_code)]

pub mod admin;
pub mod explain;
#[cfg(any(fuzzing, feature = "fuzzing", test))]
pub mod fuzzing;
pub mod memory;
pub mod metrics;
pub mod net;
pub mod records;
pub mod respond;
pub mod shutdown;
pub mod table;
