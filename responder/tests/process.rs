//! Process-level tests of the built `xcc-responder` binary with real clients
//! and forwarders from Debian packages: `dig`, `kdig` (knot-dnsutils),
//! `unbound`, `dnsdist` and `named` (bind9).
//!
//! Every test starts its own responder (and forwarder) on free loopback
//! ports, waits for readiness by polling (bounded), and stops what it started
//! by PID when it ends. A missing tool makes the test say so and skip, unless
//! `XCC_REQUIRE_TOOLS=1`, which makes a missing tool a failure.
//!
//! One module per theme, under `tests/process/`.

// Tests report skips and timings on the test harness's (captured) output.
#![allow(clippy::disallowed_macros)]

#[path = "process/support.rs"]
mod support;

#[path = "process/wire.rs"]
mod wire;

#[path = "process/clients.rs"]
mod clients;

#[path = "process/forwarders.rs"]
mod forwarders;

#[path = "process/malformed.rs"]
mod malformed;

#[path = "process/reload.rs"]
mod reload;

#[path = "process/operations.rs"]
mod operations;
