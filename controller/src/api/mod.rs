//! The custom resources, as Rust types: the one place their shape is
//! defined. Serde reads and writes them, schemars describes them, and
//! [`crate::crd`] turns that description into the CRDs under
//! `manifests/crds/`.
//!
//! - [`dns_record`]: `DNSRecord`, one DNS name and its data, read by the
//!   `records` sidecar in each workload cluster.
//! - [`gateway_dns`]: `GatewayDNS`, the original project's resource, read by
//!   `gateways` in the management cluster.
//!
//! Both are `connectivity.tanzu.vmware.com/v1alpha1` and namespaced.

pub mod dns_record;
pub mod gateway_dns;

pub use dns_record::{
    DNSRecord, DNSRecordSpec, DNSRecordStatus, RecordState, RejectReason, SrvEntry,
};
pub use gateway_dns::{
    ClusterResult, ClusterState, GatewayDNS, GatewayDNSSpec, GatewayDNSStatus, HostnameMode,
    ResolutionType,
};

/// The API group of every resource here.
pub const GROUP: &str = "connectivity.tanzu.vmware.com";

/// The API version of every resource here.
pub const VERSION: &str = "v1alpha1";
