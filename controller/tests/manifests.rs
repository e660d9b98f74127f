//! Every manifest under `manifests/` (the generated CRDs aside, which
//! `crd_in_sync` checks) read with serde-saphyr into its Kubernetes type
//! (k8s-openapi, or our own for `GatewayDNS` and `DNSRecord`), so that a
//! typo fails here: k8s-openapi ignores fields it does not know, so each
//! document is also written back and compared with what was read, and a
//! field that did not survive the trip is reported by its path.
//!
//! Then the properties the deployment promises, checked on the objects:
//! only the records sidecar holds a service-account token; every container
//! runs non-root, read-only, without capabilities, under seccomp, with
//! requests and limits; the responder, the sidecar, the probes, the Service
//! and the Job agree on paths, ports, zones and names; the Roles grant
//! exactly what the binaries use. `k8s_coredns` applies the same manifests
//! to a real API server with RBAC on and runs the code under those Roles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PodSpec, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use xcc_controller::api::{DNSRecord, GatewayDNS};

use crate::apiserver::repo_root;

//----------- Reading ----------------------------------------------------------

/// One YAML document of a manifest file.
#[derive(Clone, Debug)]
pub(crate) struct Document {
    /// The file, relative to the repository root.
    pub(crate) file: PathBuf,
    /// Its place in the file, from 1.
    pub(crate) index: usize,
    /// The document as JSON.
    pub(crate) value: Value,
}

impl Document {
    fn str_at(&self, pointer: &str) -> &str {
        self.value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `apiVersion`.
    pub(crate) fn api_version(&self) -> &str {
        self.str_at("/apiVersion")
    }

    /// `kind`.
    pub(crate) fn kind(&self) -> &str {
        self.str_at("/kind")
    }

    /// `metadata.name`.
    pub(crate) fn name(&self) -> &str {
        self.str_at("/metadata/name")
    }

    /// `metadata.namespace` (empty when none).
    pub(crate) fn namespace(&self) -> &str {
        self.str_at("/metadata/namespace")
    }

    /// Where it is, for messages.
    pub(crate) fn place(&self) -> String {
        format!(
            "{} document {} ({} {})",
            self.file.display(),
            self.index,
            self.kind(),
            self.name()
        )
    }

    /// The document as `T`, failing on any field `T` does not keep.
    pub(crate) fn typed<T: DeserializeOwned + serde::Serialize>(&self) -> T {
        let typed: T = serde_json::from_value(self.value.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", self.place()));
        let back = serde_json::to_value(&typed).unwrap();
        let mut lost = Vec::new();
        lost_fields(&self.value, &back, "", &mut lost);
        assert!(
            lost.is_empty(),
            "{}: fields unknown to {} (a typo?): {lost:?}",
            self.place(),
            std::any::type_name::<T>()
        );
        typed
    }
}

/// The paths of `read` that `written` does not have, or has differently.
fn lost_fields(read: &Value, written: &Value, path: &str, lost: &mut Vec<String>) {
    match (read, written) {
        (Value::Object(read), Value::Object(written)) => {
            for (key, value) in read {
                let path = format!("{path}.{key}");
                match written.get(key) {
                    Some(other) => lost_fields(value, other, &path, lost),
                    None if value.is_null() => {}
                    None => lost.push(path),
                }
            }
        }
        (Value::Array(read), Value::Array(written)) if read.len() == written.len() => {
            for (n, (value, other)) in read.iter().zip(written).enumerate() {
                lost_fields(value, other, &format!("{path}[{n}]"), lost);
            }
        }
        (read, written) if read == written => {}
        (read, written) => lost.push(format!("{path}: {read} became {written}")),
    }
}

/// The YAML files under `manifests/<dir>` (recursively), sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The directories of `manifests/` other than the generated `crds/`.
fn manifest_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(repo_root().join("manifests"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "crds")
        .collect();
    dirs.sort();
    dirs
}

/// Every document of the manifests in `manifests/<dir>`, kustomization
/// files aside.
pub(crate) fn documents(dir: &str) -> Vec<Document> {
    let root = repo_root();
    let mut documents = Vec::new();
    for file in yaml_files(&root.join("manifests").join(dir)) {
        if file.file_name().is_some_and(|n| n == "kustomization.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let values: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{} is not YAML: {e}", file.display()));
        let relative = file.strip_prefix(&root).unwrap().to_path_buf();
        for (n, value) in values.into_iter().enumerate() {
            if value.is_null() {
                continue;
            }
            documents.push(Document {
                file: relative.clone(),
                index: n + 1,
                value,
            });
        }
    }
    documents
}

/// The one document of `kind` named `name` in `documents`.
fn find<'d>(documents: &'d [Document], kind: &str, name: &str) -> &'d Document {
    let found: Vec<&Document> = documents
        .iter()
        .filter(|d| d.kind() == kind && d.name() == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind} {name} expected, found {found:?}"
    );
    found[0]
}

//----------- Every manifest parses --------------------------------------------

/// `HTTPProxy` (Contour, `projectcontour.io/v1`), only as much as the
/// example uses; unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct HttpProxy {
    api_version: String,
    kind: String,
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    spec: HttpProxySpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HttpProxySpec {
    virtualhost: HttpProxyVirtualHost,
    routes: Vec<HttpProxyRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpProxyVirtualHost {
    fqdn: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HttpProxyRoute {
    conditions: Vec<BTreeMap<String, String>>,
    services: Vec<HttpProxyService>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HttpProxyService {
    name: String,
    port: u16,
}

/// Parses `document` into its type; `false` when the kind is not known
/// here.
fn parse_typed(document: &Document) -> bool {
    macro_rules! kinds {
        ($($ty:ty),* $(,)?) => {
            $(
                if document.api_version() == <$ty as k8s_openapi::Resource>::API_VERSION
                    && document.kind() == <$ty as k8s_openapi::Resource>::KIND
                {
                    document.typed::<$ty>();
                    return true;
                }
            )*
        };
    }
    kinds!(
        Namespace,
        ServiceAccount,
        Role,
        RoleBinding,
        ClusterRole,
        ClusterRoleBinding,
        Service,
        ConfigMap,
        Secret,
        Deployment,
        StatefulSet,
        DaemonSet,
        Job,
        CronJob,
        PodDisruptionBudget,
        NetworkPolicy,
        Ingress,
        Lease,
    );
    let custom = |kind: &str| {
        document.api_version() == "connectivity.tanzu.vmware.com/v1alpha1"
            && document.kind() == kind
    };
    if custom("GatewayDNS") {
        document.typed::<GatewayDNS>();
    } else if custom("DNSRecord") {
        document.typed::<DNSRecord>();
    } else if document.api_version() == "projectcontour.io/v1" && document.kind() == "HTTPProxy" {
        serde_json::from_value::<HttpProxy>(document.value.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", document.place()));
    } else {
        return false;
    }
    true
}

/// Kinds that live in a namespace (everything here but these).
fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace" | "ClusterRole" | "ClusterRoleBinding" | "CustomResourceDefinition"
    )
}

#[test]
fn every_manifest_parses_into_its_kubernetes_type() {
    let dirs = manifest_dirs();
    assert!(
        dirs.contains(&"workload".to_owned()) && dirs.contains(&"example".to_owned()),
        "{dirs:?}"
    );
    let mut count = 0;
    for dir in &dirs {
        for document in documents(dir) {
            assert!(
                parse_typed(&document),
                "{}: {} {} is not known to this test; add its type to parse_typed",
                document.place(),
                document.api_version(),
                document.kind()
            );
            assert!(!document.name().is_empty(), "{}: no name", document.place());
            // Namespaced objects say their namespace: `kubectl apply -f`
            // without `-n` must not put them in `default` by accident.
            assert_eq!(
                document.namespace().is_empty(),
                cluster_scoped(document.kind()),
                "{}: metadata.namespace",
                document.place()
            );
            count += 1;
        }
    }
    assert!(count >= 15, "only {count} documents found");
}

/// A mistyped key in a document is caught (the check above is not
/// vacuous).
#[test]
fn a_typo_is_caught() {
    let value: Value = serde_saphyr::from_str(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n  - port: 53\n    protocl: UDP\n",
    )
    .unwrap();
    let document = Document {
        file: "typo.yaml".into(),
        index: 1,
        value,
    };
    let result = std::panic::catch_unwind(|| document.typed::<Service>());
    let message = *result
        .expect_err("the typo is reported")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains(".spec.ports[0].protocl"), "{message}");
}

/// The keys a kustomization may use (a typo such as `resource:` fails).
const KUSTOMIZATION_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "resources",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "labels",
    "commonLabels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
];

#[test]
fn kustomizations_list_files_that_exist() {
    for dir in manifest_dirs() {
        let path = repo_root()
            .join("manifests")
            .join(&dir)
            .join("kustomization.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("manifests/{dir} has no kustomization.yaml: {e}"));
        let value: Value = serde_saphyr::from_str(&text).unwrap();
        let object = value.as_object().expect("a mapping");
        for key in object.keys() {
            assert!(
                KUSTOMIZATION_KEYS.contains(&key.as_str()),
                "{}: unknown key {key}",
                path.display()
            );
        }
        assert_eq!(value["apiVersion"], "kustomize.config.k8s.io/v1beta1");
        assert_eq!(value["kind"], "Kustomization");
        let resources: Vec<String> = serde_json::from_value(value["resources"].clone()).unwrap();
        for resource in &resources {
            let target = path.parent().unwrap().join(resource);
            assert!(
                target.exists(),
                "{}: {resource} does not exist",
                path.display()
            );
        }
        if dir == "workload" {
            // Everything in the directory is deployed.
            for file in yaml_files(path.parent().unwrap()) {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    name == "kustomization.yaml" || resources.contains(&name),
                    "manifests/workload/{name} is not in its kustomization"
                );
            }
        }
    }
}

//----------- Every container is locked down -----------------------------------

/// The pod specs of the workload objects in `documents`.
fn pod_specs(documents: &[Document]) -> Vec<(String, PodSpec)> {
    let mut specs = Vec::new();
    for document in documents {
        let spec = match document.kind() {
            "Deployment" => document.typed::<Deployment>().spec.template.spec,
            "StatefulSet" => document.typed::<StatefulSet>().spec.template.spec,
            "DaemonSet" => document.typed::<DaemonSet>().spec.template.spec,
            "Job" => document.typed::<Job>().spec.unwrap().template.spec,
            "CronJob" => {
                document
                    .typed::<CronJob>()
                    .spec
                    .job_template
                    .spec
                    .unwrap()
                    .template
                    .spec
            }
            _ => continue,
        };
        specs.push((document.place(), spec.expect("a pod spec")));
    }
    specs
}

/// Our own pods (the example's kuard is third-party and left as the
/// walkthrough has it).
fn our_pod_specs() -> Vec<(String, PodSpec)> {
    manifest_dirs()
        .iter()
        .filter(|dir| *dir != "example")
        .flat_map(|dir| pod_specs(&documents(dir)))
        .collect()
}

#[test]
fn every_container_runs_non_root_read_only_without_capabilities() {
    let specs = our_pod_specs();
    assert!(specs.len() >= 2, "the workload Deployment and Job at least");
    for (place, pod) in specs {
        let pod_context = pod.security_context.clone().unwrap_or_default();
        assert_ne!(pod.host_network, Some(true), "{place}: hostNetwork");
        let containers = pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten());
        for container in containers {
            let at = format!("{place}, container {}", container.name);
            let context = container
                .security_context
                .clone()
                .unwrap_or_else(|| panic!("{at}: no securityContext"));
            assert_eq!(
                context.run_as_non_root.or(pod_context.run_as_non_root),
                Some(true),
                "{at}: runAsNonRoot"
            );
            assert_eq!(
                context.read_only_root_filesystem,
                Some(true),
                "{at}: readOnlyRootFilesystem"
            );
            assert_eq!(
                context.allow_privilege_escalation,
                Some(false),
                "{at}: allowPrivilegeEscalation"
            );
            assert_ne!(context.privileged, Some(true), "{at}: privileged");
            let dropped = context
                .capabilities
                .as_ref()
                .and_then(|c| c.drop.clone())
                .unwrap_or_default();
            assert!(
                dropped.contains(&"ALL".to_owned()),
                "{at}: capabilities.drop ALL"
            );
            let added = context.capabilities.and_then(|c| c.add).unwrap_or_default();
            assert!(added.is_empty(), "{at}: capabilities.add {added:?}");
            let seccomp = context
                .seccomp_profile
                .or(pod_context.seccomp_profile.clone())
                .map(|s| s.type_);
            assert_eq!(seccomp.as_deref(), Some("RuntimeDefault"), "{at}: seccomp");
            let resources = container
                .resources
                .clone()
                .unwrap_or_else(|| panic!("{at}: no resources"));
            let requests = resources.requests.unwrap_or_default();
            let limits = resources.limits.unwrap_or_default();
            for resource in ["cpu", "memory"] {
                assert!(
                    requests.contains_key(resource),
                    "{at}: no {resource} request"
                );
                assert!(limits.contains_key(resource), "{at}: no {resource} limit");
            }
            let image = container.image.as_deref().unwrap_or_default();
            assert!(
                image.contains(':') && !image.ends_with(":latest"),
                "{at}: image {image:?} without a fixed tag"
            );
        }
    }
}

//----------- The workload cluster ---------------------------------------------

/// `--name=value` or `--name value` in `args`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let long = format!("--{name}");
    let with_value = format!("--{name}=");
    args.iter().enumerate().find_map(|(n, arg)| {
        if let Some(value) = arg.strip_prefix(&with_value) {
            Some(value)
        } else if *arg == long {
            args.get(n + 1).map(String::as_str)
        } else {
            None
        }
    })
}

fn args(container: &Container) -> &[String] {
    container.args.as_deref().unwrap_or_default()
}

/// The port of `--admin-listen` / `--listen` (`0.0.0.0:9153` → 9153).
fn port_of(address: &str) -> i32 {
    address.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// The container port a probe or Service names (by name or number).
fn resolve(container: &Container, port: &IntOrString) -> Option<(i32, String)> {
    container.ports.iter().flatten().find_map(|p| {
        let matches = match port {
            IntOrString::Int(n) => p.container_port == *n,
            IntOrString::String(name) => p.name.as_deref() == Some(name.as_str()),
        };
        matches.then(|| (p.container_port, p.protocol.clone().unwrap_or("TCP".into())))
    })
}

/// The workload Deployment's pod spec and labels.
fn workload_pod() -> (Vec<Document>, PodSpec, BTreeMap<String, String>) {
    let documents = documents("workload");
    let deployment: Deployment = find(&documents, "Deployment", "xcc-dns").typed();
    let spec = deployment.spec;
    assert_eq!(spec.replicas, Some(2), "two replicas");
    let rolling = spec.strategy.and_then(|s| s.rolling_update).unwrap();
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    let labels = spec.template.metadata.unwrap().labels.unwrap();
    let selector = spec.selector.match_labels.unwrap();
    assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
    (documents, spec.template.spec.unwrap(), labels)
}

fn container<'p>(pod: &'p PodSpec, name: &str) -> &'p Container {
    pod.containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn only_the_records_sidecar_holds_a_token() {
    let (documents, pod, _) = workload_pod();
    assert_eq!(
        pod.containers
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["responder", "records"]
    );
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.service_account_name.as_deref(), Some("xcc-dns"));
    let account: ServiceAccount = find(&documents, "ServiceAccount", "xcc-dns").typed();
    assert_eq!(account.automount_service_account_token, Some(false));

    let token_volumes: Vec<&str> = pod
        .volumes
        .iter()
        .flatten()
        .filter(|v| {
            v.projected.as_ref().is_some_and(|p| {
                p.sources
                    .iter()
                    .flatten()
                    .any(|s| s.service_account_token.is_some())
            }) || v.secret.is_some()
        })
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(token_volumes, ["kube-api-access"]);
    let mounts = |c: &Container| -> Vec<(String, String)> {
        c.volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.clone(), m.mount_path.clone()))
            .collect()
    };
    let responder = container(&pod, "responder");
    let records = container(&pod, "records");
    assert!(
        mounts(responder)
            .iter()
            .all(|(name, path)| name != "kube-api-access" && !path.starts_with("/var/run/secrets")),
        "the responder mounts no credentials: {:?}",
        mounts(responder)
    );
    assert!(mounts(records).contains(&(
        "kube-api-access".into(),
        "/var/run/secrets/kubernetes.io/serviceaccount".into()
    )));
}

#[test]
fn responder_and_sidecar_agree_on_snapshot_zone_and_ports() {
    let (documents, pod, labels) = workload_pod();
    let responder = container(&pod, "responder");
    let records = container(&pod, "records");
    assert_eq!(args(records).first().map(String::as_str), Some("records"));

    // One snapshot path, on an emptyDir both mount (read-only for the
    // responder).
    let snapshot = flag(args(responder), "records").expect("--records");
    assert_eq!(flag(args(records), "out"), Some(snapshot));
    let directory = Path::new(snapshot).parent().unwrap().to_str().unwrap();
    let mount = |c: &Container| {
        c.volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == directory)
            .unwrap_or_else(|| panic!("{} does not mount {directory}", c.name))
            .clone()
    };
    let (responder_mount, records_mount) = (mount(responder), mount(records));
    assert_eq!(responder_mount.name, records_mount.name);
    assert_eq!(responder_mount.read_only, Some(true));
    assert_ne!(records_mount.read_only, Some(true));
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == records_mount.name)
        .unwrap();
    assert!(volume.empty_dir.is_some(), "the snapshot is on an emptyDir");

    // The same zone everywhere (the Job's too).
    let zone = |z: Option<&str>| z.unwrap_or("xcc.test").trim_end_matches('.').to_owned();
    let job: Job = find(&documents, "Job", "xcc-dns-patch-coredns").typed();
    let job_pod = job.spec.unwrap().template.spec.unwrap();
    let patcher = &job_pod.containers[0];
    assert_eq!(
        zone(flag(args(responder), "zone")),
        zone(flag(args(records), "zone"))
    );
    assert_eq!(
        zone(flag(args(responder), "zone")),
        zone(flag(args(patcher), "zone"))
    );

    // DNS on 5353, UDP and TCP.
    let listen = flag(args(responder), "listen").expect("--listen");
    let dns_port = port_of(listen);
    assert_eq!(dns_port, 5353);
    assert!(
        !listen.starts_with("127."),
        "the responder listens on the pod's address"
    );
    for protocol in ["UDP", "TCP"] {
        assert!(
            responder.ports.iter().flatten().any(|p| {
                p.container_port == dns_port && p.protocol.as_deref() == Some(protocol)
            }),
            "container port {dns_port}/{protocol}"
        );
    }

    // Probes on each binary's admin port: readiness /readyz, liveness
    // /healthz.
    for c in [responder, records] {
        let admin = flag(args(c), "admin-listen").expect("--admin-listen");
        assert!(
            !admin.starts_with("127."),
            "{}: the kubelet must reach {admin}",
            c.name
        );
        for (probe, path) in [
            (&c.readiness_probe, "/readyz"),
            (&c.liveness_probe, "/healthz"),
        ] {
            let get = probe
                .as_ref()
                .and_then(|p| p.http_get.clone())
                .unwrap_or_else(|| panic!("{}: no {path} probe", c.name));
            assert_eq!(get.path.as_deref(), Some(path), "{}", c.name);
            assert_eq!(
                resolve(c, &get.port).map(|p| p.0),
                Some(port_of(admin)),
                "{}: the {path} probe is on the admin port",
                c.name
            );
        }
    }

    // The Service: 53 UDP and TCP to the responder's 5353, selecting it.
    let service: Service = find(&documents, "Service", "xcc-dns").typed();
    let spec = service.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let selector = spec.selector.unwrap();
    assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let mut protocols = Vec::new();
    for port in spec.ports.unwrap() {
        assert_eq!(port.port, 53);
        let protocol = port.protocol.unwrap_or("TCP".into());
        let target =
            resolve(responder, &port.target_port.unwrap()).expect("the target port exists");
        assert_eq!(target, (5353, protocol.clone()));
        protocols.push(protocol);
    }
    protocols.sort();
    assert_eq!(protocols, ["TCP", "UDP"]);

    // The Job's --service is this Service.
    assert_eq!(flag(args(patcher), "service"), Some("xcc-dns/xcc-dns"));
}

#[test]
fn replicas_spread_and_survive_disruptions() {
    let (documents, pod, labels) = workload_pod();
    let anti = pod
        .affinity
        .and_then(|a| a.pod_anti_affinity)
        .expect("podAntiAffinity");
    let terms: Vec<_> = anti
        .required_during_scheduling_ignored_during_execution
        .into_iter()
        .flatten()
        .chain(
            anti.preferred_during_scheduling_ignored_during_execution
                .into_iter()
                .flatten()
                .map(|w| w.pod_affinity_term),
        )
        .collect();
    assert!(
        terms.iter().any(|t| {
            t.topology_key == "kubernetes.io/hostname"
                && t.label_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.as_ref())
                    .is_some_and(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        }),
        "anti-affinity across nodes for these pods"
    );
    let budget: PodDisruptionBudget = find(&documents, "PodDisruptionBudget", "xcc-dns").typed();
    let spec = budget.spec.unwrap();
    assert_eq!(spec.min_available, Some(IntOrString::Int(1)));
    let selector = spec.selector.unwrap().match_labels.unwrap();
    assert!(selector.iter().all(|(k, v)| labels.get(k) == Some(v)));
}

//----------- RBAC -------------------------------------------------------------

/// The Roles and bindings of some documents, to ask what a service
/// account may do (the RBAC rules, without aggregation or wildcards in
/// names).
pub(crate) struct Grants {
    roles: Vec<Role>,
    bindings: Vec<RoleBinding>,
    cluster_roles: Vec<ClusterRole>,
    cluster_bindings: Vec<ClusterRoleBinding>,
}

impl Grants {
    pub(crate) fn of(documents: &[Document]) -> Self {
        let of_kind = |kind: &'static str| documents.iter().filter(move |d| d.kind() == kind);
        Self {
            roles: of_kind("Role").map(Document::typed).collect(),
            bindings: of_kind("RoleBinding").map(Document::typed).collect(),
            cluster_roles: of_kind("ClusterRole").map(Document::typed).collect(),
            cluster_bindings: of_kind("ClusterRoleBinding").map(Document::typed).collect(),
        }
    }

    /// Whether service account `account` (`namespace:name`) may `verb`
    /// `resource` (`group/resource` or `resource` for the core group,
    /// `/subresource` allowed) named `name` in `namespace`.
    pub(crate) fn allows(
        &self,
        account: &str,
        verb: &str,
        resource: &str,
        namespace: &str,
        name: Option<&str>,
    ) -> bool {
        let (sa_namespace, sa_name) = account.split_once(':').unwrap();
        let (group, resource) = match resource.split_once('/') {
            Some((group, rest)) if group.contains('.') => (group, rest),
            _ => ("", resource),
        };
        let bound = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
            subjects.iter().flatten().any(|s| {
                s.kind == "ServiceAccount"
                    && s.name == sa_name
                    && s.namespace.as_deref() == Some(sa_namespace)
            })
        };
        let rule_allows = |rule: &PolicyRule| {
            let has = |list: &Option<Vec<String>>, wanted: &str| {
                list.iter().flatten().any(|x| x == wanted || x == "*")
            };
            has(&rule.api_groups, group)
                && rule
                    .resources
                    .iter()
                    .flatten()
                    .any(|r| r == resource || r == "*")
                && rule.verbs.iter().any(|v| v == verb || v == "*")
                && match (&rule.resource_names, name) {
                    (None, _) => true,
                    (Some(names), _) if names.is_empty() => true,
                    (Some(names), Some(name)) => names.iter().any(|n| n == name),
                    (Some(_), None) => false,
                }
        };
        let cluster_role_allows = |role_name: &str| {
            self.cluster_roles.iter().any(|role| {
                role.metadata.name.as_deref() == Some(role_name)
                    && role.rules.iter().flatten().any(rule_allows)
            })
        };
        let by_role_bindings = self.bindings.iter().any(|binding| {
            binding.metadata.namespace.as_deref() == Some(namespace)
                && bound(&binding.subjects)
                && match binding.role_ref.kind.as_str() {
                    "Role" => self.roles.iter().any(|role| {
                        role.metadata.namespace.as_deref() == Some(namespace)
                            && role.metadata.name.as_deref() == Some(binding.role_ref.name.as_str())
                            && role.rules.iter().flatten().any(rule_allows)
                    }),
                    _ => cluster_role_allows(&binding.role_ref.name),
                }
        });
        by_role_bindings
            || self.cluster_bindings.iter().any(|binding| {
                bound(&binding.subjects) && cluster_role_allows(&binding.role_ref.name)
            })
    }
}

const RECORDS_ACCOUNT: &str = "xcc-dns:xcc-dns";
const PATCHER_ACCOUNT: &str = "xcc-dns:xcc-dns-patch-coredns";

#[test]
fn workload_roles_grant_what_the_binaries_use_and_no_more() {
    let documents = documents("workload");
    for document in &documents {
        assert_ne!(
            document.kind(),
            "ClusterRole",
            "{}: namespaced Roles only",
            document.place()
        );
        assert_ne!(
            document.kind(),
            "ClusterRoleBinding",
            "{}",
            document.place()
        );
        if document.kind() == "Role" {
            let role: Role = document.typed();
            for rule in role.rules.unwrap_or_default() {
                let lists = [
                    rule.api_groups.unwrap_or_default(),
                    rule.resources.unwrap_or_default(),
                    rule.verbs,
                ];
                assert!(
                    lists.iter().flatten().all(|x| x != "*"),
                    "{}: no wildcards",
                    document.place()
                );
            }
        }
    }
    let grants = Grants::of(&documents);
    let records = |verb: &str, resource: &str, name: Option<&str>| {
        grants.allows(RECORDS_ACCOUNT, verb, resource, "xcc-dns", name)
    };
    const DNSRECORDS: &str = "connectivity.tanzu.vmware.com/dnsrecords";
    const STATUS: &str = "connectivity.tanzu.vmware.com/dnsrecords/status";
    const EVENTS: &str = "events.k8s.io/events";
    const SLICES: &str = "discovery.k8s.io/endpointslices";
    // What `xcc-controller records` does.
    for (verb, resource) in [
        ("list", DNSRECORDS),
        ("watch", DNSRECORDS),
        ("get", DNSRECORDS),
        ("patch", STATUS),
        ("create", EVENTS),
        ("patch", EVENTS),
        ("list", SLICES),
        ("watch", SLICES),
    ] {
        assert!(
            records(verb, resource, None),
            "records may {verb} {resource}"
        );
    }
    // And nothing more.
    for (verb, resource) in [
        ("create", DNSRECORDS),
        ("update", DNSRECORDS),
        ("patch", DNSRECORDS),
        ("delete", DNSRECORDS),
        ("update", STATUS),
        ("delete", EVENTS),
        ("get", "secrets"),
        ("list", "secrets"),
        ("get", "configmaps"),
        ("list", "pods"),
        ("create", SLICES),
    ] {
        assert!(
            !records(verb, resource, None),
            "records must not {verb} {resource}"
        );
    }
    assert!(!grants.allows(RECORDS_ACCOUNT, "list", DNSRECORDS, "kube-system", None));

    // What `xcc-controller patch-coredns` does, by name, and nothing more.
    let patcher = |verb: &str, resource: &str, namespace: &str, name: Option<&str>| {
        grants.allows(PATCHER_ACCOUNT, verb, resource, namespace, name)
    };
    assert!(patcher("get", "services", "xcc-dns", Some("xcc-dns")));
    assert!(!patcher("get", "services", "xcc-dns", Some("other")));
    assert!(!patcher("list", "services", "xcc-dns", None));
    for configmap in ["coredns", "kube-dns"] {
        for verb in ["get", "patch"] {
            assert!(
                patcher(verb, "configmaps", "kube-system", Some(configmap)),
                "{verb} {configmap}"
            );
        }
        for verb in ["update", "delete"] {
            assert!(
                !patcher(verb, "configmaps", "kube-system", Some(configmap)),
                "{verb} {configmap}"
            );
        }
    }
    assert!(!patcher(
        "get",
        "configmaps",
        "kube-system",
        Some("kubeadm-config")
    ));
    assert!(!patcher("list", "configmaps", "kube-system", None));
    assert!(!patcher("create", "configmaps", "kube-system", None));
    assert!(!patcher("get", "secrets", "kube-system", None));
    assert!(!patcher("list", DNSRECORDS, "xcc-dns", None));

    // The Job runs as that account; its flags name what the Role allows.
    let job: Job = find(&documents, "Job", "xcc-dns-patch-coredns").typed();
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("xcc-dns-patch-coredns")
    );
    assert_ne!(
        pod.automount_service_account_token,
        Some(false),
        "the Job needs its token"
    );
    let patch_args = args(&pod.containers[0]);
    assert_eq!(
        patch_args.first().map(String::as_str),
        Some("patch-coredns")
    );
    for configmap_flag in ["coredns-configmap", "kube-dns-configmap"] {
        let (namespace, name) = flag(patch_args, configmap_flag)
            .unwrap()
            .split_once('/')
            .unwrap();
        assert!(
            patcher("patch", "configmaps", namespace, Some(name)),
            "--{configmap_flag}"
        );
    }
}

//----------- The example ------------------------------------------------------

/// The GatewayDNS of the original walkthrough, exactly as its README
/// shows it.
const WALKTHROUGH_GATEWAY_DNS: &str = "---
apiVersion: connectivity.tanzu.vmware.com/v1alpha1
kind: GatewayDNS
metadata:
  name: dev-team-gateway-dns
  namespace: dev-team
spec:
  clusterSelector:
    matchLabels:
      hasContour: \"true\"
  service: projectcontour/envoy
  resolutionType: loadBalancer
";

#[test]
fn the_example_is_the_walkthroughs() {
    let path = repo_root().join("manifests/example/dev-team-gateway-dns.yaml");
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        WALKTHROUGH_GATEWAY_DNS
    );
    let documents = documents("example");
    let gateway: GatewayDNS = find(&documents, "GatewayDNS", "dev-team-gateway-dns").typed();
    assert_eq!(gateway.spec.service, "projectcontour/envoy");
    let proxy: HttpProxy =
        serde_json::from_value(find(&documents, "HTTPProxy", "kuard").value.clone()).unwrap();
    assert_eq!(
        proxy.spec.virtualhost.fqdn,
        "kuard.gateway.cluster-a.dev-team.clusters.xcc.test"
    );
    assert_eq!(proxy.spec.routes[0].services[0].name, "kuard");
    let service: Service = find(&documents, "Service", "kuard").typed();
    assert_eq!(service.spec.unwrap().ports.unwrap()[0].port, 80);
}

/// The arguments the manifests give `xcc-controller` parse: each
/// container's command line is run with `--help` appended, which clap
/// answers with success only when every argument before it is valid.
#[test]
fn controller_arguments_in_the_manifests_parse() {
    let mut checked = 0;
    for (place, pod) in our_pod_specs() {
        for container in &pod.containers {
            let command = container.command.as_deref().unwrap_or_default();
            if !command
                .first()
                .is_some_and(|c| c.ends_with("/xcc-controller"))
            {
                continue;
            }
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
                .args(&command[1..])
                .args(args(container))
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{place}, container {}: {}",
                container.name,
                String::from_utf8_lossy(&output.stderr)
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "the records sidecar and the patch-coredns Job"
    );
}
