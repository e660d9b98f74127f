//! The workload side: from the objects in a cluster to the records the
//! responder serves.
//!
//! ```text
//!  DNSRecord objects ─────────────────────────────┐
//!                                                 ▼
//!  EndpointSlices ── endpointslices::derive_records ──► build::build_records ──► table, statuses,
//!  (dns-hostname annotation)                       (TableBuilder validates)       accepted set, digest
//! ```
//!
//! - [`endpointslices`]: the original project's compatibility mode, pure:
//!   annotated EndpointSlices (v1 or v1beta1) become records.
//! - [`build`]: pure: every object in, one table and one status per
//!   `DNSRecord` out, validated by the responder's own
//!   [`xcc_responder::table::TableBuilder`], deterministic whatever the
//!   order of the input.
//!
//! Both take whole store contents (level-triggered), never deltas.

pub mod build;
pub mod endpointslices;
pub mod publish;
pub mod run;

use std::fmt;

use kube::ResourceExt;

/// A namespaced object's identity, `namespace/name`; ordered by namespace,
/// then name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The namespace (empty for an object without one).
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a Kubernetes object.
    pub fn of<K: kube::Resource>(object: &K) -> Self {
        Self::new(object.namespace().unwrap_or_default(), object.name_any())
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}
