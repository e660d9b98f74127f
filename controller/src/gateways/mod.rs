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
//! - [`run`]: the asynchronous shell: reflectors, one client and set of
//!   tasks per workload cluster, server-side apply, statuses.
//! - [`leader`]: leader election with a Lease, so two replicas can run.
//! - [`credentials`]: the least-privilege ServiceAccount the controller
//!   installs in each workload cluster and works as.

pub mod credentials;
pub mod desired;
pub mod leader;
pub mod names;
pub mod run;
pub mod service;
mod workload;
