//! `xcc-controller patch-coredns` against a real kube-apiserver 1.20: the
//! Service's ClusterIP is looked up, the ConfigMaps are patched (a dry run
//! writes nothing, a second run writes nothing, `--remove` restores the
//! original byte for byte), refusals leave everything as it was, and the
//! binary's command line does the same.
//!
//! Then the workload manifests on a private API server with RBAC on: every
//! document is created as it is (the server validates it), and the code
//! runs under the Roles it ships with, by impersonating their service
//! accounts: `patch-coredns` as the Job's, the records sidecar as the
//! Deployment's. What the Roles do not grant is refused.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServicePort, ServiceSpec};
use kube::api::{Api, DynamicObject, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use kube::{Client, Config};
use serde_json::Value;
use xcc_controller::api::{RecordState, RejectReason};
use xcc_controller::coredns::patch::{
    Action, ObjectRef, Outcome, PatchError, PatchOptions, patch_coredns,
};
use xcc_controller::coredns::{Zone, add_forward};

use crate::apiserver::{
    InProcessController, Instance, address_record, addresses, create_record, events_about, ips,
    shared_env, statuses, wait_for,
};
use crate::manifests::{Document, documents};

const KUBEADM: &str = include_str!("corefiles/kubeadm.Corefile");

const LIMIT: Duration = Duration::from_secs(20);

/// A ClusterIP Service `name` in `namespace` (the API server allocates
/// the address); headless with `headless`.
async fn create_service(client: &Client, namespace: &str, name: &str, headless: bool) -> IpAddr {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let service = Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: headless.then(|| "None".into()),
            ports: Some(vec![ServicePort {
                name: Some("dns".into()),
                port: 53,
                protocol: Some("UDP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let created = api.create(&PostParams::default(), &service).await.unwrap();
    let ip = created.spec.unwrap().cluster_ip.unwrap();
    if headless {
        IpAddr::from([0, 0, 0, 0])
    } else {
        ip.parse().unwrap()
    }
}

/// A ConfigMap `name` in `namespace` holding `data`.
async fn create_configmap(client: &Client, namespace: &str, name: &str, data: &[(&str, &str)]) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let configmap = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..ConfigMap::default()
    };
    api.create(&PostParams::default(), &configmap)
        .await
        .unwrap_or_else(|e| panic!("creating ConfigMap {namespace}/{name}: {e}"));
}

/// A key of a ConfigMap, and its resourceVersion.
async fn read_key(
    client: &Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> (Option<String>, String) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let configmap = api.get(name).await.unwrap();
    (
        configmap.data.and_then(|mut d| d.remove(key)),
        configmap.metadata.resource_version.unwrap(),
    )
}

/// The options of the tests: everything in `namespace`.
fn options(namespace: &str) -> PatchOptions {
    PatchOptions {
        zone: Zone::default(),
        service: ObjectRef::new(namespace, "xcc-dns"),
        coredns: ObjectRef::new(namespace, "coredns"),
        kube_dns: Some(ObjectRef::new(namespace, "kube-dns")),
        action: Action::Add,
        dry_run: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_coredns_is_idempotent_and_removable() {
    let Some(env) = shared_env("patch-coredns").await else {
        return;
    };
    let (client, ns) = (&env.client, env.namespace.as_str());
    let ip = create_service(client, ns, "xcc-dns", false).await;
    create_configmap(client, ns, "coredns", &[("Corefile", KUBEADM)]).await;
    let stub_before = r#"{"acme.local":["1.2.3.4"]}"#;
    create_configmap(client, ns, "kube-dns", &[("stubDomains", stub_before)]).await;
    let (_, corefile_version) = read_key(client, ns, "coredns", "Corefile").await;
    let (_, kube_dns_version) = read_key(client, ns, "kube-dns", "stubDomains").await;

    // A dry run reports the change and writes nothing.
    let dry = patch_coredns(
        client,
        &PatchOptions {
            dry_run: true,
            ..options(ns)
        },
    )
    .await
    .unwrap();
    assert_eq!(dry.corefile.outcome, Outcome::WouldWrite);
    assert_eq!(
        dry.stub_domains.as_ref().unwrap().outcome,
        Outcome::WouldWrite
    );
    let rendered = dry.render();
    assert!(
        rendered.contains(&format!("+    forward . {ip}\n")),
        "{rendered}"
    );
    assert!(rendered.contains("would be updated (dry run"), "{rendered}");
    assert_eq!(
        read_key(client, ns, "coredns", "Corefile").await.1,
        corefile_version
    );
    assert_eq!(
        read_key(client, ns, "kube-dns", "stubDomains").await.1,
        kube_dns_version
    );

    // The patch: the Corefile gets the block, kube-dns the stub domain.
    let report = patch_coredns(client, &options(ns)).await.unwrap();
    assert_eq!(report.target, Some((ObjectRef::new(ns, "xcc-dns"), ip)));
    assert_eq!(report.corefile.outcome, Outcome::Written);
    assert!(report.reloads, "kubeadm's Corefile has `reload`");
    let (corefile, patched_version) = read_key(client, ns, "coredns", "Corefile").await;
    assert_eq!(
        corefile.as_deref(),
        Some(add_forward(KUBEADM, &Zone::default(), ip).unwrap().as_str())
    );
    let (stub, stub_version) = read_key(client, ns, "kube-dns", "stubDomains").await;
    assert_eq!(
        stub.unwrap(),
        format!(r#"{{"acme.local":["1.2.3.4"],"xcc.test":["{ip}"]}}"#)
    );

    // Again: nothing to do, nothing written.
    let again = patch_coredns(client, &options(ns)).await.unwrap();
    assert_eq!(again.corefile.outcome, Outcome::Unchanged);
    assert_eq!(
        again.stub_domains.as_ref().unwrap().outcome,
        Outcome::Unchanged
    );
    assert!(!again.changed());
    assert_eq!(
        read_key(client, ns, "coredns", "Corefile").await.1,
        patched_version
    );
    assert_eq!(
        read_key(client, ns, "kube-dns", "stubDomains").await.1,
        stub_version
    );

    // Removed: both back as they were; a second removal writes nothing.
    let remove = PatchOptions {
        action: Action::Remove,
        ..options(ns)
    };
    let removed = patch_coredns(client, &remove).await.unwrap();
    assert_eq!(removed.corefile.outcome, Outcome::Written);
    assert_eq!(removed.target, None);
    assert_eq!(
        read_key(client, ns, "coredns", "Corefile")
            .await
            .0
            .as_deref(),
        Some(KUBEADM)
    );
    assert_eq!(
        read_key(client, ns, "kube-dns", "stubDomains")
            .await
            .0
            .as_deref(),
        Some(stub_before)
    );
    let removed_again = patch_coredns(client, &remove).await.unwrap();
    assert!(!removed_again.changed());

    // Without a kube-dns ConfigMap (no NodeLocal DNSCache), only the
    // Corefile is edited.
    let report = patch_coredns(
        client,
        &PatchOptions {
            kube_dns: Some(ObjectRef::new(ns, "no-such-configmap")),
            ..options(ns)
        },
    )
    .await
    .unwrap();
    assert_eq!(report.stub_domains.unwrap().outcome, Outcome::Missing);
    assert_eq!(report.corefile.outcome, Outcome::Written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_coredns_refusals_write_nothing() {
    let Some(env) = shared_env("patch-coredns-refusals").await else {
        return;
    };
    let (client, ns) = (&env.client, env.namespace.as_str());

    // No Service yet.
    let error = patch_coredns(client, &options(ns)).await.unwrap_err();
    assert!(
        matches!(&error, PatchError::ServiceNotFound { service } if service.name == "xcc-dns"),
        "{error}"
    );
    // A headless Service has no address to forward to.
    create_service(client, ns, "headless", true).await;
    let error = patch_coredns(
        client,
        &PatchOptions {
            service: ObjectRef::new(ns, "headless"),
            ..options(ns)
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(error, PatchError::NoClusterIp { .. }), "{error}");

    create_service(client, ns, "xcc-dns", false).await;
    // No CoreDNS ConfigMap.
    let error = patch_coredns(client, &options(ns)).await.unwrap_err();
    assert!(
        matches!(error, PatchError::ConfigMapNotFound { .. }),
        "{error}"
    );
    // A ConfigMap without a Corefile.
    create_configmap(client, ns, "coredns", &[("other", "x")]).await;
    let error = patch_coredns(client, &options(ns)).await.unwrap_err();
    assert!(
        matches!(
            error,
            PatchError::MissingKey {
                key: "Corefile",
                ..
            }
        ),
        "{error}"
    );

    // A Corefile that does not parse is left alone, and so is kube-dns.
    let broken = ".:53 {\n    errors\n    forward . /etc/resolv.conf\n";
    create_configmap(client, ns, "broken", &[("Corefile", broken)]).await;
    create_configmap(client, ns, "kube-dns", &[("stubDomains", "{}")]).await;
    let (_, version) = read_key(client, ns, "broken", "Corefile").await;
    let error = patch_coredns(
        client,
        &PatchOptions {
            coredns: ObjectRef::new(ns, "broken"),
            ..options(ns)
        },
    )
    .await
    .unwrap_err();
    let PatchError::Corefile { source, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(
        source.to_string(),
        "line 1: the block of .:53 opened here is never closed (unbalanced braces)"
    );
    assert_eq!(read_key(client, ns, "broken", "Corefile").await.1, version);
    assert_eq!(
        read_key(client, ns, "kube-dns", "stubDomains")
            .await
            .0
            .as_deref(),
        Some("{}")
    );
}

/// Runs the `xcc-controller` binary with `KUBECONFIG` set (blocking, in
/// a blocking section of the runtime).
fn run_binary(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("XCC_ZONE")
            .output()
            .expect("xcc-controller runs")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_prints_the_diff_and_the_reason_it_refuses() {
    let Some(env) = shared_env("patch-coredns-cli").await else {
        return;
    };
    let (client, ns) = (&env.client, env.namespace.as_str());
    let ip = create_service(client, ns, "xcc-dns", false).await;
    create_configmap(client, ns, "coredns", &[("Corefile", KUBEADM)]).await;
    let service = format!("--service={ns}/xcc-dns");
    let coredns = format!("--coredns-configmap={ns}/coredns");
    let kubeconfig = env.instance.kubeconfig();
    let base = [
        "patch-coredns",
        service.as_str(),
        coredns.as_str(),
        "--kube-dns-configmap=off",
    ];

    let output = run_binary(kubeconfig, &[&base[..], &["--dry-run"]].concat());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.starts_with(&format!(
            "zone xcc.test → {ip} (ClusterIP of Service {ns}/xcc-dns)\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("--- {ns}/coredns Corefile (before)\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("+    forward . {ip}\n")),
        "{stdout}"
    );
    assert_eq!(
        read_key(client, ns, "coredns", "Corefile")
            .await
            .0
            .as_deref(),
        Some(KUBEADM)
    );

    let output = run_binary(kubeconfig, &base);
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains(&format!("{ns}/coredns Corefile: updated\n"))
    );
    let output = run_binary(kubeconfig, &base);
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains(&format!("{ns}/coredns Corefile: unchanged\n"))
    );
    let output = run_binary(kubeconfig, &[&base[..], &["--remove"]].concat());
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        read_key(client, ns, "coredns", "Corefile")
            .await
            .0
            .as_deref(),
        Some(KUBEADM)
    );

    // A Corefile it cannot parse: exit status 1, the line and the reason.
    create_configmap(client, ns, "broken", &[("Corefile", ".:53 {\n}\n}\n")]).await;
    let broken = format!("--coredns-configmap={ns}/broken");
    let output = run_binary(kubeconfig, &["patch-coredns", &service, &broken]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "xcc-controller: the Corefile in {ns}/broken was left unchanged: \
             line 3: '}}' closes no block (unbalanced braces)\n"
        )
    );
}

//----------- The workload manifests under RBAC --------------------------------

/// A client for `kubeconfig` that impersonates service account
/// `namespace:name` (as the API server sees a pod's token).
pub(crate) async fn impersonating(kubeconfig: &Path, account: &str) -> Client {
    let (namespace, name) = account.split_once(':').unwrap();
    let file = Kubeconfig::read_from(kubeconfig).unwrap();
    let mut config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .unwrap();
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{namespace}:{name}"));
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".into(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".into(),
    ]);
    Client::try_from(config).unwrap()
}

/// Creates every document of `manifests/workload` as it is; returns the
/// kinds this API server does not serve (skipped).
async fn create_workload_manifests(client: &Client) -> Vec<String> {
    create_manifests(client, "workload").await
}

/// Creates every document of `manifests/<dir>` as it is; returns the kinds
/// this API server does not serve (skipped), once the server grants what
/// the manifests' bindings grant (see [`until_bindings_authorize`]).
pub(crate) async fn create_manifests(client: &Client, dir: &str) -> Vec<String> {
    let mut skipped = Vec::new();
    let mut documents = documents(dir);
    // Namespaces first, as kubectl and kustomize order them.
    documents.sort_by_key(|d| d.kind() != "Namespace");
    for document in &documents {
        let (group, version) = match document.api_version().split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", document.api_version()),
        };
        let gvk = GroupVersionKind::gvk(group, version, document.kind());
        let Ok((resource, capabilities)) = pinned_kind(client, &gvk).await else {
            skipped.push(format!("{} {}", document.api_version(), document.kind()));
            continue;
        };
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => {
                Api::namespaced_with(client.clone(), document.namespace(), &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let object: DynamicObject = serde_json::from_value(document.value.clone()).unwrap();
        api.create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("{}: the API server refused it: {e}", document.place()));
    }
    until_bindings_authorize(client, &documents).await;
    skipped
}

/// Whether the API server's authorizer lets service account
/// `namespace:name` do `verb` on `resource` (`plural` or
/// `plural/subresource`) of API group `group`, in `namespace` (empty:
/// cluster-wide) and on the object `name` (empty: any), as a
/// SubjectAccessReview by `admin` answers it: the same authorizer that
/// judges the account's own requests.
pub(crate) async fn account_may(
    admin: &Client,
    account: &str,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> bool {
    let (account_namespace, account_name) = account.split_once(':').unwrap();
    let (resource, subresource) = match resource.split_once('/') {
        Some((resource, subresource)) => (resource, Some(subresource.to_owned())),
        None => (resource, None),
    };
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!(
                "system:serviceaccount:{account_namespace}:{account_name}"
            )),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{account_namespace}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: some(verb),
                group: Some(group.to_owned()),
                resource: some(resource),
                subresource,
                namespace: some(namespace),
                name: some(name),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    Api::<SubjectAccessReview>::all(admin.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("a SubjectAccessReview")
        .status
        .is_some_and(|s| s.allowed)
}

/// Waits (bounded) until the API server grants every service account
/// bound by a RoleBinding or ClusterRoleBinding in `documents` every
/// verb its Role or ClusterRole (also in `documents`) lists. The RBAC
/// authorizer reads Roles and bindings from informer caches, so a binding
/// takes effect a moment after it is created; a test that used the
/// account at once could be refused on a busy machine.
pub(crate) async fn until_bindings_authorize(admin: &Client, documents: &[Document]) {
    // (account, verb, group, resource, namespace, name)
    let mut pending: Vec<[String; 6]> = Vec::new();
    for binding in documents
        .iter()
        .filter(|d| matches!(d.kind(), "RoleBinding" | "ClusterRoleBinding"))
    {
        let namespace = binding.namespace();
        let role_kind = binding.value["roleRef"]["kind"].as_str().unwrap();
        let role_name = binding.value["roleRef"]["name"].as_str().unwrap();
        let role = documents
            .iter()
            .find(|d| d.kind() == role_kind && d.name() == role_name && d.namespace() == namespace)
            .or_else(|| {
                documents
                    .iter()
                    .find(|d| d.kind() == role_kind && d.name() == role_name)
            })
            .unwrap_or_else(|| panic!("{}: no {role_kind} {role_name}", binding.place()));
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let accounts: Vec<String> = binding.value["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["kind"] == "ServiceAccount")
            .map(|s| {
                format!(
                    "{}:{}",
                    s["namespace"].as_str().unwrap(),
                    s["name"].as_str().unwrap()
                )
            })
            .collect();
        for rule in role.value["rules"].as_array().into_iter().flatten() {
            let mut names = strings(&rule["resourceNames"]);
            if names.is_empty() {
                names.push(String::new());
            }
            for account in &accounts {
                for group in strings(&rule["apiGroups"]) {
                    for resource in strings(&rule["resources"]) {
                        for verb in strings(&rule["verbs"]) {
                            for name in &names {
                                pending.push([
                                    account.clone(),
                                    verb.clone(),
                                    group.clone(),
                                    resource.clone(),
                                    namespace.to_owned(),
                                    name.clone(),
                                ]);
                            }
                        }
                    }
                }
            }
        }
    }
    let started = std::time::Instant::now();
    while !pending.is_empty() {
        let mut refused = Vec::new();
        for check in pending {
            let [account, verb, group, resource, namespace, name] = &check;
            if !account_may(admin, account, verb, group, resource, namespace, name).await {
                refused.push(check);
            }
        }
        pending = refused;
        if pending.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < LIMIT,
            "the bindings still do not authorize after {LIMIT:?}: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `result` is a 403 Forbidden.
fn forbidden<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_manifests_apply_and_their_roles_suffice() {
    let Some(instance) =
        tokio::task::block_in_place(|| Instance::start_rbac("workload-rbac", "xcc-ctl-rbac"))
    else {
        return;
    };
    let admin = instance.client().await;
    let skipped = create_workload_manifests(&admin).await;
    // 1.20 serves PodDisruptionBudgets as policy/v1beta1 only.
    assert_eq!(skipped, ["policy/v1 PodDisruptionBudget"]);

    // patch-coredns as the Job's service account, on kubeadm's kube-system.
    create_configmap(&admin, "kube-system", "coredns", &[("Corefile", KUBEADM)]).await;
    create_configmap(&admin, "kube-system", "kube-dns", &[]).await;
    create_configmap(&admin, "kube-system", "kubeadm-config", &[]).await;
    let services: Api<Service> = Api::namespaced(admin.clone(), "xcc-dns");
    let ip: IpAddr = services
        .get("xcc-dns")
        .await
        .unwrap()
        .spec
        .unwrap()
        .cluster_ip
        .unwrap()
        .parse()
        .unwrap();
    let patcher = impersonating(instance.kubeconfig(), "xcc-dns:xcc-dns-patch-coredns").await;
    let report = patch_coredns(&patcher, &PatchOptions::default())
        .await
        .unwrap();
    assert_eq!(report.corefile.outcome, Outcome::Written);
    assert_eq!(
        report.stub_domains.as_ref().unwrap().outcome,
        Outcome::Written
    );
    assert_eq!(
        read_key(&admin, "kube-system", "kube-dns", "stubDomains")
            .await
            .0,
        Some(format!(r#"{{"xcc.test":["{ip}"]}}"#))
    );
    let again = patch_coredns(&patcher, &PatchOptions::default())
        .await
        .unwrap();
    assert!(!again.changed());
    let removed = patch_coredns(
        &patcher,
        &PatchOptions {
            action: Action::Remove,
            ..PatchOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(removed.changed());
    assert_eq!(
        read_key(&admin, "kube-system", "coredns", "Corefile")
            .await
            .0
            .as_deref(),
        Some(KUBEADM)
    );
    // Nothing else.
    let configmaps: Api<ConfigMap> = Api::namespaced(patcher.clone(), "kube-system");
    assert!(forbidden(configmaps.get("kubeadm-config").await));
    assert!(forbidden(configmaps.list(&Default::default()).await));
    let secrets: Api<Secret> = Api::namespaced(patcher.clone(), "kube-system");
    assert!(forbidden(secrets.list(&Default::default()).await));
    let services: Api<Service> = Api::namespaced(patcher.clone(), "xcc-dns");
    assert!(forbidden(services.list(&Default::default()).await));

    // The records sidecar as the Deployment's service account: it lists
    // and watches DNSRecords, writes their status, reports a rejection
    // as an Event.
    create_record(
        &admin,
        "xcc-dns",
        &address_record(
            "cluster-a",
            "*.gateway.cluster-a.dev-team.clusters.xcc.test",
            &["192.0.2.10"],
        ),
    )
    .await;
    create_record(
        &admin,
        "xcc-dns",
        &address_record("outside", "www.example.org", &["192.0.2.99"]),
    )
    .await;
    let sidecar = impersonating(instance.kubeconfig(), "xcc-dns:xcc-dns").await;
    let controller = InProcessController::start(sidecar.clone(), "xcc-dns");
    let table = controller.first_snapshot().await;
    assert_eq!(
        addresses(&table, "kuard.gateway.cluster-a.dev-team.clusters.xcc.test"),
        Some(ips(&["192.0.2.10"]))
    );
    wait_for("both statuses", LIMIT, || async {
        let statuses = statuses(&admin, "xcc-dns").await;
        let state = |name: &str| statuses.get(name).and_then(|s| s.state);
        (state("cluster-a") == Some(RecordState::Accepted)
            && state("outside") == Some(RecordState::Rejected))
        .then_some(())
    })
    .await;
    assert_eq!(
        statuses(&admin, "xcc-dns").await["outside"].reason,
        Some(RejectReason::OutsideZone)
    );
    wait_for("the Event about the rejected record", LIMIT, || async {
        (!events_about(&admin, "xcc-dns", "outside").await.is_empty()).then_some(())
    })
    .await;
    assert!(controller.is_running());
    controller.stop().await;
    // Nothing else.
    let secrets: Api<Secret> = Api::namespaced(sidecar.clone(), "xcc-dns");
    assert!(forbidden(secrets.list(&Default::default()).await));
    let configmaps: Api<ConfigMap> = Api::namespaced(sidecar.clone(), "xcc-dns");
    assert!(forbidden(configmaps.list(&Default::default()).await));
    let records: Api<xcc_controller::api::DNSRecord> = Api::namespaced(sidecar, "kube-system");
    assert!(forbidden(records.list(&Default::default()).await));
    drop(instance);
}
