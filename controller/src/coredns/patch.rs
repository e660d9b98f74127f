//! `xcc-controller patch-coredns`, the Kubernetes half: looks up the
//! responder Service's ClusterIP by name, reads the CoreDNS ConfigMap (and
//! the kube-dns one NodeLocal DNSCache reads, when it exists), applies the
//! pure edits of [`crate::coredns`], and writes back only what changed.
//!
//! Each write is a merge patch that carries the `resourceVersion` it was
//! computed from, so an edit made meanwhile by someone else (an operator,
//! a cluster upgrade) makes the API server answer 409 instead of being
//! overwritten; the read-edit-write then starts again, a few times at most.
//! The RBAC this needs is `get` on the Service and `get`, `patch` on the
//! two ConfigMaps, by name (`manifests/workload/patch-coredns.yaml`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::{
    CorefileError, StubDomainsError, Zone, add_forward, add_stub_domain, remove_forward,
    remove_stub_domain, unified_diff,
};

/// The field manager of our writes (seen in `managedFields`).
pub const FIELD_MANAGER: &str = "xcc-controller-patch-coredns";

/// The key of the Corefile in the CoreDNS ConfigMap.
pub const COREFILE_KEY: &str = "Corefile";

/// The key of the stub domains in the kube-dns ConfigMap.
pub const STUB_DOMAINS_KEY: &str = "stubDomains";

/// Read-edit-write rounds before giving up on a ConfigMap that keeps
/// changing.
const ATTEMPTS: usize = 5;

//----------- Options ----------------------------------------------------------

/// A namespaced object's name, written `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl FromStr for ObjectRef {
    type Err = ObjectRefError;

    fn from_str(text: &str) -> Result<Self, ObjectRefError> {
        match text.split_once('/') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
            {
                Ok(Self::new(namespace, name))
            }
            _ => Err(ObjectRefError(text.to_owned())),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A `namespace/name` that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not of the form namespace/name")]
pub struct ObjectRefError(pub String);

/// Add the zone, or take it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Forward the zone to the Service's ClusterIP.
    Add,
    /// Remove the zone's server block and stub domain.
    Remove,
}

/// What `patch-coredns` edits, and how.
#[derive(Clone, Debug)]
pub struct PatchOptions {
    /// The zone forwarded.
    pub zone: Zone,
    /// The responder's Service (its ClusterIP is the forward target).
    pub service: ObjectRef,
    /// The CoreDNS ConfigMap (key `Corefile`).
    pub coredns: ObjectRef,
    /// The kube-dns ConfigMap whose `stubDomains` NodeLocal DNSCache
    /// reads; edited when it exists. `None`: leave it alone.
    pub kube_dns: Option<ObjectRef>,
    /// Add or remove.
    pub action: Action,
    /// Compute and report, write nothing.
    pub dry_run: bool,
}

impl Default for PatchOptions {
    /// `xcc.test` → Service `xcc-dns/xcc-dns`, ConfigMaps
    /// `kube-system/coredns` and `kube-system/kube-dns`, add, for real.
    fn default() -> Self {
        Self {
            zone: Zone::default(),
            service: ObjectRef::new("xcc-dns", "xcc-dns"),
            coredns: ObjectRef::new("kube-system", "coredns"),
            kube_dns: Some(ObjectRef::new("kube-system", "kube-dns")),
            action: Action::Add,
            dry_run: false,
        }
    }
}

//----------- Errors -----------------------------------------------------------

/// Why `patch-coredns` stopped. Nothing is written after the first error;
/// a ConfigMap written before it stays written (a rerun is harmless).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The responder's Service is not there.
    #[error("the Service {service} does not exist (apply manifests/workload first)")]
    ServiceNotFound {
        /// The Service.
        service: ObjectRef,
    },
    /// The Service has no usable ClusterIP (headless, or not allocated).
    #[error(
        "the Service {service} has no ClusterIP (spec.clusterIP: {cluster_ip:?}); it must not be headless"
    )]
    NoClusterIp {
        /// The Service.
        service: ObjectRef,
        /// What `spec.clusterIP` says.
        cluster_ip: Option<String>,
    },
    /// The CoreDNS ConfigMap is not there.
    #[error("the ConfigMap {configmap} does not exist (is CoreDNS the cluster's DNS?)")]
    ConfigMapNotFound {
        /// The ConfigMap.
        configmap: ObjectRef,
    },
    /// The CoreDNS ConfigMap has no Corefile.
    #[error("the ConfigMap {configmap} has no key {key:?}")]
    MissingKey {
        /// The ConfigMap.
        configmap: ObjectRef,
        /// The key.
        key: &'static str,
    },
    /// The Corefile cannot be edited safely; it is left as it is.
    #[error("the Corefile in {configmap} was left unchanged")]
    Corefile {
        /// The ConfigMap.
        configmap: ObjectRef,
        /// Why.
        #[source]
        source: CorefileError,
    },
    /// The stub domains cannot be edited; they are left as they are.
    #[error("the stubDomains of {configmap} were left unchanged")]
    StubDomains {
        /// The ConfigMap.
        configmap: ObjectRef,
        /// Why.
        #[source]
        source: StubDomainsError,
    },
    /// A request to the API server failed.
    #[error("Kubernetes API request failed: {context}")]
    Kube {
        /// What was being done.
        context: String,
        /// What kube said.
        #[source]
        source: kube::Error,
    },
    /// The ConfigMap changed under every attempt.
    #[error(
        "the ConfigMap {configmap} kept changing while it was edited ({attempts} attempts); run again"
    )]
    Conflict {
        /// The ConfigMap.
        configmap: ObjectRef,
        /// How many read-edit-write rounds were tried.
        attempts: usize,
    },
}

//----------- Report -----------------------------------------------------------

/// What happened to one ConfigMap key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It already said what it should.
    Unchanged,
    /// It was written.
    Written,
    /// It would have been written (dry run).
    WouldWrite,
    /// The ConfigMap does not exist (kube-dns only); nothing to do.
    Missing,
}

/// One ConfigMap key, before and after.
#[derive(Clone, Debug)]
pub struct Change {
    /// The ConfigMap.
    pub configmap: ObjectRef,
    /// The key.
    pub key: &'static str,
    /// Its value before (`None`: absent).
    pub before: Option<String>,
    /// Its value after (`None`: absent).
    pub after: Option<String>,
    /// What was done.
    pub outcome: Outcome,
}

impl Change {
    /// A unified diff of the change (empty when there is none).
    pub fn diff(&self) -> String {
        let label = format!("{} {}", self.configmap, self.key);
        unified_diff(
            self.before.as_deref().unwrap_or_default(),
            self.after.as_deref().unwrap_or_default(),
            &format!("{label} (before)"),
            &format!("{label} (after)"),
        )
    }
}

/// What `patch-coredns` did.
#[derive(Clone, Debug)]
pub struct PatchReport {
    /// The zone.
    pub zone: Zone,
    /// Add or remove.
    pub action: Action,
    /// The Service, and the ClusterIP the zone was forwarded to (add only).
    pub target: Option<(ObjectRef, IpAddr)>,
    /// The Corefile.
    pub corefile: Change,
    /// The kube-dns `stubDomains` (`None`: not asked for).
    pub stub_domains: Option<Change>,
    /// Whether the Corefile, as it ends up, has the `reload` plugin (else
    /// CoreDNS reads it only when it restarts).
    pub reloads: bool,
    /// The Corefile's top-level `import`s (files it could not check for a
    /// block of the zone).
    pub imports: Vec<String>,
}

impl PatchReport {
    /// Whether anything was (or, in a dry run, would be) written.
    pub fn changed(&self) -> bool {
        let writes = |c: &Change| matches!(c.outcome, Outcome::Written | Outcome::WouldWrite);
        writes(&self.corefile) || self.stub_domains.as_ref().is_some_and(writes)
    }

    /// A report for people: one line per ConfigMap key, each change as a
    /// unified diff, and a hint when CoreDNS will not reload by itself.
    pub fn render(&self) -> String {
        let mut out = match (&self.action, &self.target) {
            (Action::Add, Some((service, ip))) => {
                format!(
                    "zone {} → {ip} (ClusterIP of Service {service})\n",
                    self.zone
                )
            }
            _ => format!("zone {}: removing its forwarding\n", self.zone),
        };
        for change in std::iter::once(&self.corefile).chain(&self.stub_domains) {
            let what = match change.outcome {
                Outcome::Unchanged => "unchanged",
                Outcome::Written => "updated",
                Outcome::WouldWrite => "would be updated (dry run, nothing written)",
                Outcome::Missing => "no such ConfigMap (no NodeLocal DNSCache reads it); skipped",
            };
            out.push_str(&format!("{} {}: {what}\n", change.configmap, change.key));
            out.push_str(&change.diff());
        }
        if self.action == Action::Add && self.changed() && !self.reloads {
            out.push_str(&format!(
                "note: no server block of the Corefile has the `reload` plugin, so CoreDNS \
                 applies this only when it restarts: kubectl -n {} rollout restart deployment coredns\n",
                self.corefile.configmap.namespace
            ));
        }
        if self.action == Action::Add && !self.imports.is_empty() {
            out.push_str(&format!(
                "note: the Corefile also imports {}; a server block for {} in one of those \
                 would clash with this one (CoreDNS then keeps its previous configuration)\n",
                self.imports.join(", "),
                self.zone
            ));
        }
        out
    }
}

//----------- The patch --------------------------------------------------------

/// The ClusterIP of `service`.
pub async fn cluster_ip(client: &Client, service: &ObjectRef) -> Result<IpAddr, PatchError> {
    let api: Api<Service> = Api::namespaced(client.clone(), &service.namespace);
    let found = api
        .get_opt(&service.name)
        .await
        .map_err(|source| PatchError::Kube {
            context: format!("reading Service {service}"),
            source,
        })?
        .ok_or_else(|| PatchError::ServiceNotFound {
            service: service.clone(),
        })?;
    let cluster_ip = found.spec.and_then(|spec| spec.cluster_ip);
    cluster_ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .ok_or_else(|| PatchError::NoClusterIp {
            service: service.clone(),
            cluster_ip,
        })
}

/// Adds (or removes) the zone's forwarding in the CoreDNS Corefile and,
/// when its ConfigMap exists, in the kube-dns `stubDomains`.
pub async fn patch_coredns(
    client: &Client,
    options: &PatchOptions,
) -> Result<PatchReport, PatchError> {
    let zone = &options.zone;
    let target = match options.action {
        Action::Add => Some(cluster_ip(client, &options.service).await?),
        Action::Remove => None,
    };
    let corefile = edit_key(
        client,
        &options.coredns,
        COREFILE_KEY,
        true,
        options.dry_run,
        |before| {
            let before = before.ok_or_else(|| PatchError::MissingKey {
                configmap: options.coredns.clone(),
                key: COREFILE_KEY,
            })?;
            let after = match target {
                Some(ip) => add_forward(before, zone, ip),
                None => remove_forward(before, zone),
            };
            after.map(Some).map_err(|source| PatchError::Corefile {
                configmap: options.coredns.clone(),
                source,
            })
        },
    )
    .await?;
    let stub_domains = match &options.kube_dns {
        None => None,
        Some(kube_dns) => Some(
            edit_key(
                client,
                kube_dns,
                STUB_DOMAINS_KEY,
                false,
                options.dry_run,
                |before| {
                    match target {
                        Some(ip) => add_stub_domain(before, zone, ip),
                        None => remove_stub_domain(before, zone),
                    }
                    .map_err(|source| PatchError::StubDomains {
                        configmap: kube_dns.clone(),
                        source,
                    })
                },
            )
            .await?,
        ),
    };
    let parsed = corefile
        .after
        .as_deref()
        .and_then(|text| super::Corefile::parse(text).ok());
    let reloads = parsed.as_ref().is_some_and(super::Corefile::reloads);
    let imports = parsed
        .as_ref()
        .map(super::Corefile::imports)
        .unwrap_or_default();
    Ok(PatchReport {
        zone: zone.clone(),
        action: options.action,
        target: target.map(|ip| (options.service.clone(), ip)),
        corefile,
        stub_domains,
        reloads,
        imports,
    })
}

/// Read-edit-write of one ConfigMap key: `edit` maps the value (`None`:
/// absent) to the new one; the patch carries the `resourceVersion` read,
/// and a 409 starts the round again. A missing ConfigMap is an error when
/// `required`, else [`Outcome::Missing`].
async fn edit_key(
    client: &Client,
    configmap: &ObjectRef,
    key: &'static str,
    required: bool,
    dry_run: bool,
    edit: impl Fn(Option<&str>) -> Result<Option<String>, PatchError>,
) -> Result<Change, PatchError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &configmap.namespace);
    let change = |before, after, outcome| Change {
        configmap: configmap.clone(),
        key,
        before,
        after,
        outcome,
    };
    for _ in 0..ATTEMPTS {
        let current = api
            .get_opt(&configmap.name)
            .await
            .map_err(|source| PatchError::Kube {
                context: format!("reading ConfigMap {configmap}"),
                source,
            })?;
        let Some(current) = current else {
            if required {
                return Err(PatchError::ConfigMapNotFound {
                    configmap: configmap.clone(),
                });
            }
            return Ok(change(None, None, Outcome::Missing));
        };
        let before = current.data.as_ref().and_then(|d| d.get(key)).cloned();
        let after = edit(before.as_deref())?;
        if after == before {
            return Ok(change(before, after, Outcome::Unchanged));
        }
        if dry_run {
            return Ok(change(before, after, Outcome::WouldWrite));
        }
        let patch = json!({
            "metadata": { "resourceVersion": current.metadata.resource_version },
            "data": { key: after },
        });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        match api
            .patch(&configmap.name, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(change(before, after, Outcome::Written)),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                tracing::info!(%configmap, "changed since it was read; reading it again");
            }
            Err(source) => {
                return Err(PatchError::Kube {
                    context: format!("patching ConfigMap {configmap}"),
                    source,
                });
            }
        }
    }
    Err(PatchError::Conflict {
        configmap: configmap.clone(),
        attempts: ATTEMPTS,
    })
}
