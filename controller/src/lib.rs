//! `xcc-controller`: the control plane of xcc-dns, built on kube-rs.
//!
//! The control path:
//!
//! ```text
//!  management cluster                         each workload cluster
//!  GatewayDNS ─┐                              DNSRecord objects ──┐   EndpointSlices (compat)
//!  Clusters ───┼─► gateways ── DNSRecords ──►                     ▼          │
//!  Secrets ────┘                              records::endpointslices ◄──────┘
//!                                             records::build (pure; the responder's
//!                                               TableBuilder validates) ──► table, statuses
//!                                             ──► snapshot ──► xcc-responder
//! ```
//!
//! Layout:
//! - [`api`]: the custom resources as Rust types (`DNSRecord`,
//!   `GatewayDNS`); the CRDs are generated from them.
//! - [`coredns`]: `xcc-controller patch-coredns`: the Corefile and
//!   kube-dns `stubDomains` edits (pure), and applying them to the cluster.
//! - [`crd`]: renders the CRDs as YAML (`xcc-controller crd`); the files
//!   under `manifests/crds/` are its output.
//! - [`explain`]: `xcc-controller explain <name>`: the responder's
//!   answer joined with the DNSRecord and GatewayDNS behind it.
//! - [`gateways`]: the management side's decisions (pure): GatewayDNS,
//!   Clusters and gateway Services to the records of every workload cluster.
//! - [`records`]: the workload side's pure decisions: EndpointSlices to
//!   records, objects to a table and per-object statuses.
//! - [`status`]: the merge patch that writes a status exactly (both
//!   controllers).
//! - [`error`]: the error type, with a metric label per variant.
//!
//! Decisions are plain functions over whole object sets (no client, no
//! clock), tested table-driven; the asynchronous shells around them stay
//! thin.

#![forbid(unsafe_code)]

pub mod api;
pub mod coredns;
pub mod crd;
pub mod error;
pub mod explain;
pub mod gateways;
pub mod records;
pub mod status;

pub use error::{Error, Result};
pub mod telemetry;
