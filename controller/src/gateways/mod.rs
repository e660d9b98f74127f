//! `xcc-controller gateways`, the management side: `GatewayDNS` objects
//! and Cluster API `Cluster`s in, `DNSRecord`s in every workload cluster
//! out.
//!
//! ```text
//!  management cluster                          workload clusters
//!  GatewayDNS ──┐                              gateway Service ──watch──┐
//!  Clusters ────┼─► desired::plan_namespace ◄───────────────────────────┘
//!  kubeconfig   │     (pure)        │
//!  Secrets ─────┘                   └─► DNSRecords (server-side apply,
//!                                       garbage-collected by label) in
//!                                       each workload cluster's xcc-dns
//! ```
//!
//! - [`names`]: owner and object names, label values, label selectors.
//! - [`service`]: a gateway Service to its addresses (pure).
//! - [`desired`]: the whole decision for one management namespace (pure):
//!   which records every workload cluster holds, which records must be
//!   kept while a cluster cannot be read, what each GatewayDNS's status
//!   says.

pub mod desired;
pub mod names;
pub mod service;
