//! The controller's error type: one enum for every subcommand, each variant
//! carrying its cause as a `#[source]`, and a short label per variant for
//! the error counters (`metric_label`), so that a dashboard can tell API
//! trouble from a full disk without parsing messages.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the controller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A watch stream ended before its initial list was complete.
    #[error("a watch ended before its initial list was complete")]
    WatchEnded,
    /// A CRD could not be rendered as YAML.
    #[error("cannot render the {crd} CRD as YAML")]
    CrdYaml {
        /// The CRD's name (`<plural>.<group>`).
        crd: String,
        /// What the serializer said.
        #[source]
        source: serde_saphyr::SerializeError,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// A request to the Kubernetes API failed.
    #[error("Kubernetes API request failed: {context}")]
    Kube {
        /// What was being done.
        context: String,
        /// What kube said.
        #[source]
        source: kube::Error,
    },
    /// An object could not be converted to or from JSON.
    #[error("cannot convert {what} to or from JSON")]
    Json {
        /// What was being converted.
        what: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The management cluster does not serve what the gateways controller
    /// needs (Cluster API's Cluster kind).
    #[error("{0}")]
    MissingApi(String),
    /// Leader election failed.
    #[error("leader election: {0}")]
    Election(String),
}

impl Error {
    /// A short, stable label for metrics (`error="kube"`): one per variant,
    /// never containing data.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::WatchEnded => "watch_ended",
            Self::CrdYaml { .. } => "crd_yaml",
            Self::Write { .. } => "write",
            Self::Read { .. } => "read",
            Self::Kube { .. } => "kube",
            Self::Json { .. } => "json",
            Self::MissingApi(_) => "missing_api",
            Self::Election(_) => "election",
        }
    }
}

/// The controller's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn sources_and_labels() {
        let error = Error::Write {
            path: PathBuf::from("/nowhere/x.yaml"),
            source: io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
        };
        assert_eq!(error.to_string(), "cannot write /nowhere/x.yaml");
        assert_eq!(error.source().unwrap().to_string(), "denied");
        assert_eq!(error.metric_label(), "write");

        let error = Error::Json {
            what: "a DNSRecord".to_owned(),
            source: serde_json::from_str::<u8>("x").unwrap_err(),
        };
        assert!(error.source().is_some());
        assert_eq!(error.metric_label(), "json");
    }
}
