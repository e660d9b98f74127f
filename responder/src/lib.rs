//! `xcc-responder`: the authoritative DNS responder of xcc-dns.
//!
//! The data path, bytes to bytes:
//!
//! ```text
//!  query bytes ─▶ respond::respond(query, &Table, Transport, &mut Context, out)
//!                   ├─ xcc_wire::Message::parse        (header, question, EDNS)
//!                   ├─ table::lookup  Table::lookup    (exact → closest encloser → wildcard)
//!                   └─ xcc_wire::MessageWriter          (question echo, pre-encoded RRsets, SOA, OPT, TC)
//!                 ─▶ answer bytes
//! ```
//!
//! The control path: a records file or a controller snapshot is loaded
//! (`records`), validated and laid out by `table::build::TableBuilder`, and
//! published through `table::handle::TableHandle`, which every worker reads
//! lock-free.
//!
//! Layout: [`respond`] is the answer engine (pure: no sockets, no clock);
//! [`table`] the name table, its builder, lookup and swap; [`records`] the
//! records model and loading.

#![forbid(unsafe_code)]

pub mod records;
pub mod respond;
pub mod table;
