//! `xcc-controller gateways` against three real API servers: a management
//! cluster (GatewayDNS, a minimal Cluster API `Cluster` CRD, kubeconfig
//! Secrets) and two workload clusters, cluster-a and cluster-b (the
//! DNSRecord CRD, namespace `xcc-dns`, Service `projectcontour/envoy` of
//! type LoadBalancer whose status the test writes). The original
//! walkthrough's objects are the fixture; later the GatewayDNS switches
//! to `resolutionType: nodePort` over Node objects the test writes, then
//! to a load balancer that reports a hostname (resolved, then published
//! as a CNAME with its target's addresses). The management server runs with
//! RBAC on and the controller as the service account of
//! `manifests/management`, so its Roles are proven sufficient; so do the
//! workload servers, where the controller installs its least-privilege
//! ServiceAccount and works with that account's token.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ObjectMeta, Patch,
    PatchParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;
use tokio::sync::oneshot;
use xcc_controller::api::{ClusterState, DNSRecord, GatewayDNS};
use xcc_controller::gateways::run::{GatewaysOptions, run};
use xcc_controller::telemetry::GatewaysMetrics;

use crate::apiserver::{Instance, create_namespace, wait_for};

const LIMIT: Duration = Duration::from_secs(30);
const NAMESPACE: &str = "dev-team";

/// The walkthrough's GatewayDNS, as the shipped example (which the
/// `manifests` test holds to the original's YAML).
fn walkthrough() -> GatewayDNS {
    let path = crate::apiserver::repo_root().join("manifests/example/dev-team-gateway-dns.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn cluster_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta1", "Cluster"),
        "clusters",
    )
}

/// A minimal Cluster API `Cluster` CRD: any fields, a status subresource.
pub(crate) async fn install_cluster_crd(client: &Client) {
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusters.cluster.x-k8s.io"},
        "spec": {
            "group": "cluster.x-k8s.io",
            "scope": "Namespaced",
            "names": {"plural": "clusters", "singular": "cluster", "kind": "Cluster", "listKind": "ClusterList"},
            "versions": [{
                "name": "v1beta1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            }],
        },
    }))
    .unwrap();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    match api.create(&PostParams::default(), &crd).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("creating the Cluster CRD: {e}"),
    }
    tokio::time::timeout(
        LIMIT,
        await_condition(
            api,
            "clusters.cluster.x-k8s.io",
            conditions::is_crd_established(),
        ),
    )
    .await
    .expect("the Cluster CRD established in time")
    .unwrap();
}

/// Cluster `name` in the management namespace, provisioned, labelled.
async fn create_cluster(client: &Client, name: &str, labels: serde_json::Value) {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NAMESPACE, &cluster_resource());
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": name, "labels": labels},
        "spec": {},
    }))
    .unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Provisioned"}})),
    )
    .await
    .unwrap();
}

/// The Cluster API kubeconfig Secret of `cluster`.
async fn create_kubeconfig_secret(client: &Client, cluster: &str, instance: &Instance) {
    let api: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let value = std::fs::read(instance.kubeconfig()).unwrap();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(format!("{cluster}-kubeconfig")),
            labels: Some(BTreeMap::from([(
                "cluster.x-k8s.io/cluster-name".to_owned(),
                cluster.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some("cluster.x-k8s.io/secret".to_owned()),
        data: Some(BTreeMap::from([("value".to_owned(), ByteString(value))])),
        ..Secret::default()
    };
    api.create(&PostParams::default(), &secret).await.unwrap();
}

/// Namespaces `xcc-dns` and `projectcontour`, and the LoadBalancer Service
/// `projectcontour/envoy` with `ip` as its ingress.
async fn prepare_workload(client: &Client, ip: &str) {
    create_namespace(client, "xcc-dns").await;
    create_namespace(client, "projectcontour").await;
    let api: Api<Service> = Api::namespaced(client.clone(), "projectcontour");
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "envoy"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}], "selector": {"app": "envoy"}},
    }))
    .unwrap();
    api.create(&PostParams::default(), &service).await.unwrap();
    set_ingress(client, ip).await;
}

async fn set_ingress(client: &Client, ip: &str) {
    let api: Api<Service> = Api::namespaced(client.clone(), "projectcontour");
    api.patch_status(
        "envoy",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})),
    )
    .await
    .unwrap();
}

/// Node `name` (created, or its status replaced) with internal address
/// `ip`, Ready or not. No kubelet runs: the test writes what one would.
async fn create_node(client: &Client, name: &str, ip: &str, ready: bool) {
    let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    if api.get_opt(name).await.unwrap().is_none() {
        let node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &node).await.unwrap();
    }
    let ready = if ready { "True" } else { "False" };
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": ready, "reason": "Test",
                "lastHeartbeatTime": "2026-11-29T12:00:00Z", "lastTransitionTime": "2026-11-29T12:00:00Z"}],
        }})),
    )
    .await
    .unwrap();
}

/// The DNSRecords of a workload cluster: object name → (owner, addresses,
/// SRV entries as `SRV <priority> <weight> <port> <target>`, a CNAME as
/// `CNAME <target>` and its target's addresses as `target <address>`).
async fn records(client: &Client) -> Option<BTreeMap<String, (String, Vec<String>)>> {
    let api: Api<DNSRecord> = Api::namespaced(client.clone(), "xcc-dns");
    let list = api.list(&Default::default()).await.ok()?;
    Some(
        list.items
            .into_iter()
            .map(|r| {
                let mut data = r.spec.addresses.clone();
                data.extend(
                    r.spec.srv.iter().map(|e| {
                        format!("SRV {} {} {} {}", e.priority, e.weight, e.port, e.target)
                    }),
                );
                data.extend(r.spec.cname.iter().map(|c| format!("CNAME {c}")));
                data.extend(
                    r.spec
                        .target_addresses
                        .iter()
                        .map(|a| format!("target {a}")),
                );
                (
                    r.metadata.name.clone().unwrap_or_default(),
                    (r.spec.name.clone(), data),
                )
            })
            .collect(),
    )
}

fn expected(a: &str, b: &str) -> BTreeMap<String, (String, Vec<String>)> {
    BTreeMap::from([
        (
            "dev-team-cluster-a-gateway".to_owned(),
            (
                "*.gateway.cluster-a.dev-team.clusters.xcc.test".to_owned(),
                vec![a.to_owned()],
            ),
        ),
        (
            "dev-team-cluster-b-gateway".to_owned(),
            (
                "*.gateway.cluster-b.dev-team.clusters.xcc.test".to_owned(),
                vec![b.to_owned()],
            ),
        ),
    ])
}

async fn gateway_status(
    client: &Client,
    name: &str,
) -> Option<xcc_controller::api::GatewayDNSStatus> {
    let api: Api<GatewayDNS> = Api::namespaced(client.clone(), NAMESPACE);
    api.get(name).await.ok()?.status
}

fn condition(status: &xcc_controller::api::GatewayDNSStatus, kind: &str) -> (String, String) {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone()))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_end_to_end_across_three_api_servers() {
    // Three private API servers, one after the other (starting them side
    // by side on two loaded cores can exceed the script's start timeout).
    // The management server with RBAC on: the controller runs as the
    // service account of manifests/management, with exactly its Roles.
    let Some(management) =
        tokio::task::block_in_place(|| Instance::start_rbac("gateways", "xcc-gw-mgmt"))
    else {
        return;
    };
    // The workload servers with RBAC on too: the controller works there
    // as the least-privilege ServiceAccount it installs.
    let start = |prefix| tokio::task::block_in_place(|| Instance::start_rbac("gateways", prefix));
    let (Some(a), Some(b)) = (start("xcc-gw-a"), start("xcc-gw-b")) else {
        return;
    };
    let mgmt = management.client().await;
    let client_a = a.client().await;
    let client_b = b.client().await;

    install_cluster_crd(&mgmt).await;
    let skipped = crate::k8s_coredns::create_manifests(&mgmt, "management").await;
    assert!(skipped.is_empty(), "not served: {skipped:?}");
    let controller_client =
        crate::k8s_coredns::impersonating(management.kubeconfig(), "xcc-dns:xcc-dns-gateways")
            .await;
    create_namespace(&mgmt, NAMESPACE).await;
    create_cluster(&mgmt, "cluster-a", json!({"hasContour": "true"})).await;
    create_cluster(&mgmt, "cluster-b", json!({"hasContour": "true"})).await;
    create_kubeconfig_secret(&mgmt, "cluster-a", &a).await;
    create_kubeconfig_secret(&mgmt, "cluster-b", &b).await;
    prepare_workload(&client_a, "192.0.2.10").await;
    prepare_workload(&client_b, "198.51.100.20").await;
    // A record left behind by an earlier run of the controller, for a
    // cluster nobody selects any more: garbage, collected at start.
    let stale: DNSRecord = serde_json::from_value(json!({
        "apiVersion": "connectivity.tanzu.vmware.com/v1alpha1",
        "kind": "DNSRecord",
        "metadata": {"name": "dev-team-gone-gateway", "labels": {
            "app.kubernetes.io/managed-by": "xcc-controller-gateways",
            "connectivity.tanzu.vmware.com/source-namespace": "dev-team",
            "connectivity.tanzu.vmware.com/source-cluster": "gone",
        }},
        "spec": {"name": "*.gateway.gone.dev-team.clusters.xcc.test", "addresses": ["192.0.2.99"]},
    }))
    .unwrap();
    Api::<DNSRecord>::namespaced(client_a.clone(), "xcc-dns")
        .create(&PostParams::default(), &stale)
        .await
        .unwrap();
    let gateway: GatewayDNS = walkthrough();
    let gateways: Api<GatewayDNS> = Api::namespaced(mgmt.clone(), NAMESPACE);
    gateways
        .create(&PostParams::default(), &gateway)
        .await
        .unwrap();

    let metrics = GatewaysMetrics::new();
    let (stop, stopped) = oneshot::channel::<()>();
    // Tokens renewed every 2 s instead of every 40 min, in a directory of
    // the test's own.
    let tokens = tempfile::tempdir().unwrap();
    let controller = tokio::spawn(run(
        controller_client,
        GatewaysOptions {
            token_dir: tokens.path().to_owned(),
            token_renewal: Some(Duration::from_secs(2)),
            // The Services confirmed every second instead of every 5 min.
            confirm_every: Duration::from_secs(1),
            ..GatewaysOptions::default()
        },
        Arc::clone(&metrics),
        async move {
            let _ = stopped.await;
        },
    ));

    // Both gateways in both clusters; the stale record gone.
    for (name, client) in [("cluster-a", &client_a), ("cluster-b", &client_b)] {
        wait_for(&format!("both records in {name}"), LIMIT, || async {
            (records(client).await? == expected("192.0.2.10", "198.51.100.20")).then_some(())
        })
        .await;
    }
    // The work went through the installed account (its token was
    // requested), not the admin identity.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client_a.clone(), "xcc-dns");
    assert!(
        accounts
            .get_opt("xcc-dns-gateways")
            .await
            .unwrap()
            .is_some()
    );
    let status = wait_for("GatewayDNS Ready", LIMIT, || async {
        let status = gateway_status(&mgmt, "dev-team-gateway-dns").await?;
        (condition(&status, "Ready").0 == "True").then_some(status)
    })
    .await;
    assert_eq!(status.clusters.len(), 2);
    assert_eq!(status.clusters[0].addresses, ["192.0.2.10"]);
    let first_read = status.clusters[0].last_success_time.clone().unwrap();
    // Nothing changes, yet the gateway is confirmed again: its last
    // success moves on.
    wait_for("cluster-a confirmed again", LIMIT, || async {
        let status = gateway_status(&mgmt, "dev-team-gateway-dns").await?;
        let again = status.clusters[0].last_success_time.clone()?;
        (again.0 > first_read.0).then_some(())
    })
    .await;
    assert_eq!(
        condition(&status, "Degraded"),
        ("False".to_owned(), "AsExpected".to_owned())
    );

    // An IP change reaches both clusters.
    let started = Instant::now();
    set_ingress(&client_a, "192.0.2.11").await;
    for (name, client) in [("cluster-a", &client_a), ("cluster-b", &client_b)] {
        wait_for(&format!("the new address in {name}"), LIMIT, || async {
            (records(client).await? == expected("192.0.2.11", "198.51.100.20")).then_some(())
        })
        .await;
    }
    eprintln!(
        "[gateways] gateway IP change to both clusters' DNSRecords (test's view, polling every 20 ms): {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    wait_for("a propagation measured", LIMIT, || async {
        (metrics.propagation_seconds.count() >= 1).then_some(())
    })
    .await;
    eprintln!(
        "[gateways] propagation metric: {} observations, mean {:.1} ms",
        metrics.propagation_seconds.count(),
        metrics.propagation_seconds.sum() / metrics.propagation_seconds.count() as f64 * 1e3
    );

    // cluster-b's API server goes down: its record stays everywhere, its
    // status says unreachable, and cluster-a still gets changes.
    b.kill_apiserver().await;
    set_ingress(&client_a, "192.0.2.12").await;
    wait_for(
        "cluster-a updated while cluster-b is down",
        LIMIT,
        || async {
            (records(&client_a).await? == expected("192.0.2.12", "198.51.100.20")).then_some(())
        },
    )
    .await;
    let status = wait_for(
        "cluster-b unreachable in status",
        Duration::from_secs(60),
        || async {
            let status = gateway_status(&mgmt, "dev-team-gateway-dns").await?;
            let b = status.clusters.iter().find(|c| c.name == "cluster-b")?;
            (b.state == ClusterState::Unreachable).then_some(status)
        },
    )
    .await;
    let b_result = status
        .clusters
        .iter()
        .find(|c| c.name == "cluster-b")
        .unwrap();
    assert!(b_result.last_success_time.is_some());
    assert_eq!(
        b_result.addresses,
        ["198.51.100.20"],
        "the last known addresses"
    );
    assert_eq!(condition(&status, "Degraded").0, "True");
    b.resume().await;
    let client_b = b.client().await;
    wait_for(
        "cluster-b catches up after its API server is back",
        Duration::from_secs(60),
        || async {
            (records(&client_b).await? == expected("192.0.2.12", "198.51.100.20")).then_some(())
        },
    )
    .await;
    wait_for("Ready again", Duration::from_secs(60), || async {
        let status = gateway_status(&mgmt, "dev-team-gateway-dns").await?;
        (condition(&status, "Ready").0 == "True" && condition(&status, "Degraded").0 == "False")
            .then_some(())
    })
    .await;

    // The writes go through the installed account, not the admin
    // identity: with the account's RoleBinding in cluster-a gone, cluster-a
    // stops getting changes (cluster-b still gets them); restored, it
    // catches up.
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
        Api::namespaced(client_a.clone(), "xcc-dns");
    let binding = bindings.get("xcc-dns-gateways").await.unwrap();
    bindings
        .delete("xcc-dns-gateways", &DeleteParams::default())
        .await
        .unwrap();
    // The RBAC authorizer reads bindings from an informer cache: the
    // deletion takes effect a moment later. Until it has, a write could
    // still pass.
    wait_for("the account's rights gone in cluster-a", LIMIT, || async {
        (!crate::k8s_coredns::account_may(
            &client_a,
            "xcc-dns:xcc-dns-gateways",
            "patch",
            "connectivity.tanzu.vmware.com",
            "dnsrecords",
            "xcc-dns",
            "",
        )
        .await)
            .then_some(())
    })
    .await;
    let write_errors = || {
        metrics
            .write_errors
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let errors_before = write_errors();
    set_ingress(&client_b, "198.51.100.21").await;
    // cluster-b gets its own change, and the controller has tried
    // cluster-a and been refused (cluster-b's writes succeed).
    wait_for("cluster-b written and cluster-a refused", LIMIT, || async {
        (records(&client_b).await? == expected("192.0.2.12", "198.51.100.21")
            && write_errors() > errors_before)
            .then_some(())
    })
    .await;
    assert_eq!(
        records(&client_a).await.unwrap(),
        expected("192.0.2.12", "198.51.100.20"),
        "cluster-a was written without the account's rights"
    );
    let mut restored = binding.clone();
    restored.metadata = ObjectMeta {
        name: binding.metadata.name.clone(),
        namespace: binding.metadata.namespace.clone(),
        labels: binding.metadata.labels.clone(),
        ..ObjectMeta::default()
    };
    bindings
        .create(&PostParams::default(), &restored)
        .await
        .unwrap();
    wait_for(
        "cluster-a catches up once the account may write",
        Duration::from_secs(60),
        || async {
            (records(&client_a).await? == expected("192.0.2.12", "198.51.100.21")).then_some(())
        },
    )
    .await;
    // (Its failed writes marked cluster-a unreachable for a moment.)
    wait_for(
        "Ready again after the rights came back",
        Duration::from_secs(60),
        || async {
            let status = gateway_status(&mgmt, "dev-team-gateway-dns").await?;
            (condition(&status, "Ready").0 == "True").then_some(())
        },
    )
    .await;

    // A second GatewayDNS for the same clusters with other data: a
    // conflict, the older wins, both say so.
    let mut rival: GatewayDNS = walkthrough();
    rival.metadata.name = Some("rival".to_owned());
    rival.spec.ttl = Some(60);
    gateways
        .create(&PostParams::default(), &rival)
        .await
        .unwrap();
    for name in ["rival", "dev-team-gateway-dns"] {
        wait_for(&format!("{name}: Degraded Conflict"), LIMIT, || async {
            let status = gateway_status(&mgmt, name).await?;
            (condition(&status, "Degraded") == ("True".to_owned(), "Conflict".to_owned()))
                .then_some(())
        })
        .await;
    }
    let ttls: Vec<u32> = Api::<DNSRecord>::namespaced(client_a.clone(), "xcc-dns")
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|r| r.spec.ttl)
        .collect();
    assert_eq!(ttls, [30, 30], "the older GatewayDNS's records stand");
    gateways
        .delete("rival", &DeleteParams::default())
        .await
        .unwrap();

    // resolutionType nodePort: the node addresses and an SRV record per
    // named port; the account is granted Nodes only now.
    for (client, prefix) in [(&client_a, "10.0.1"), (&client_b, "10.0.2")] {
        create_node(client, "node-1", &format!("{prefix}.1"), true).await;
        create_node(client, "node-2", &format!("{prefix}.2"), true).await;
    }
    let node_port = |client: Client| async move {
        let service = Api::<Service>::namespaced(client, "projectcontour")
            .get("envoy")
            .await
            .unwrap();
        service.spec.unwrap().ports.unwrap()[0].node_port.unwrap() as u16
    };
    let (port_a, port_b) = (
        node_port(client_a.clone()).await,
        node_port(client_b.clone()).await,
    );
    gateways
        .patch(
            "dev-team-gateway-dns",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resolutionType": "nodePort"}})),
        )
        .await
        .unwrap();
    let node_port_records = |a: &[&str], b: &[&str]| {
        let mut want = expected("", "");
        for (record, addresses) in [
            ("dev-team-cluster-a-gateway", a),
            ("dev-team-cluster-b-gateway", b),
        ] {
            want.get_mut(record).unwrap().1 = addresses.iter().map(|s| (*s).to_owned()).collect();
        }
        for (cluster, port) in [("cluster-a", port_a), ("cluster-b", port_b)] {
            want.insert(
                format!("dev-team-{cluster}-gateway-http-tcp"),
                (
                    format!("_http._tcp.gateway.{cluster}.dev-team.clusters.xcc.test"),
                    vec![format!(
                        "SRV 0 0 {port} nodes.gateway.{cluster}.dev-team.clusters.xcc.test."
                    )],
                ),
            );
        }
        want
    };
    for (name, client) in [("cluster-a", &client_a), ("cluster-b", &client_b)] {
        wait_for(
            &format!("node addresses and SRV in {name}"),
            LIMIT,
            || async {
                (records(client).await?
                    == node_port_records(&["10.0.1.1", "10.0.1.2"], &["10.0.2.1", "10.0.2.2"]))
                .then_some(())
            },
        )
        .await;
    }
    let status = wait_for("nodePort GatewayDNS Ready", LIMIT, || async {
        let status = gateway_status(&mgmt, "dev-team-gateway-dns").await?;
        (condition(&status, "Ready").0 == "True").then_some(status)
    })
    .await;
    assert_eq!(
        status.clusters[0].message.as_deref(),
        Some(format!("node ports: http {port_a}/TCP").as_str())
    );
    // A node stops being Ready: its address leaves the records.
    let started = Instant::now();
    create_node(&client_a, "node-2", "10.0.1.2", false).await;
    for (name, client) in [("cluster-a", &client_a), ("cluster-b", &client_b)] {
        wait_for(
            &format!("node-2 of cluster-a gone in {name}"),
            LIMIT,
            || async {
                (records(client).await?
                    == node_port_records(&["10.0.1.1"], &["10.0.2.1", "10.0.2.2"]))
                .then_some(())
            },
        )
        .await;
    }
    eprintln!(
        "[gateways] node NotReady to both clusters' DNSRecords: {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    // A load balancer that reports a hostname ("localhost", which resolves
    // offline): resolved to its addresses by default, or with hostnameMode
    // cname published as a CNAME carrying them.
    gateways
        .patch(
            "dev-team-gateway-dns",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"resolutionType": "loadBalancer"}})),
        )
        .await
        .unwrap();
    Api::<Service>::namespaced(client_a.clone(), "projectcontour")
        .patch_status(
            "envoy",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"loadBalancer": {"ingress": [{"hostname": "localhost"}]}}}),
            ),
        )
        .await
        .unwrap();
    let localhost: Vec<String> = {
        let mut ips: Vec<std::net::IpAddr> = tokio::net::lookup_host(("localhost", 0))
            .await
            .unwrap()
            .map(|a| a.ip())
            .collect();
        ips.sort_unstable();
        ips.dedup();
        ips.iter().map(ToString::to_string).collect()
    };
    let with_a = |data: Vec<String>| {
        let mut want = expected("", "198.51.100.21");
        want.get_mut("dev-team-cluster-a-gateway").unwrap().1 = data;
        want
    };
    wait_for("the hostname resolved in cluster-b", LIMIT, || async {
        (records(&client_b).await? == with_a(localhost.clone())).then_some(())
    })
    .await;
    gateways
        .patch(
            "dev-team-gateway-dns",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"hostnameMode": "cname"}})),
        )
        .await
        .unwrap();
    let cname: Vec<String> = std::iter::once("CNAME localhost".to_owned())
        .chain(localhost.iter().map(|a| format!("target {a}")))
        .collect();
    wait_for(
        "the CNAME with its target's addresses in cluster-b",
        LIMIT,
        || async { (records(&client_b).await? == with_a(cname.clone())).then_some(()) },
    )
    .await;

    // Tokens were renewed meanwhile (without restarting anything: the
    // steps above ran across the renewals), and the renewed token in the
    // file is the account's, with exactly its rights.
    let token_file = tokens.path().join("dev-team--cluster-a.token");
    let first = std::fs::read_to_string(&token_file).unwrap();
    wait_for("a token renewed", LIMIT, || async {
        (std::fs::read_to_string(&token_file).ok()? != first).then_some(())
    })
    .await;
    assert!(
        metrics
            .token_renewals
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    let mut config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(a.kubeconfig()).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    config.auth_info = kube::config::AuthInfo {
        token_file: Some(token_file.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let as_account = Client::try_from(config).unwrap();
    assert!(
        records(&as_account).await.is_some(),
        "the account reads DNSRecords"
    );
    assert!(
        Api::<Secret>::namespaced(as_account, "xcc-dns")
            .list(&Default::default())
            .await
            .is_err(),
        "and nothing else"
    );

    // The GatewayDNS deleted: the records go from both clusters.
    gateways
        .delete("dev-team-gateway-dns", &DeleteParams::default())
        .await
        .unwrap();
    for (name, client) in [("cluster-a", &client_a), ("cluster-b", &client_b)] {
        wait_for(&format!("no records left in {name}"), LIMIT, || async {
            records(client).await?.is_empty().then_some(())
        })
        .await;
    }
    // Counted when the DELETE's answer is in, after the object is gone.
    wait_for("the deletions counted", LIMIT, || async {
        (metrics
            .records_deleted
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 9)
            .then_some(())
    })
    .await;

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("the controller stops in time")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_runs_and_a_successor_takes_over() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use xcc_controller::gateways::leader::{LeaseOptions, run_as_leader, stopped};

    let Some(env) = crate::apiserver::shared_env("leader").await else {
        return;
    };
    // Which replica runs its controller now, and how many ever did.
    let running = Arc::new(AtomicUsize::new(0));
    let starts = Arc::new(AtomicUsize::new(0));
    let replica = |identity: &str| {
        let (stop, stop_rx) = oneshot::channel::<()>();
        let lease = LeaseOptions {
            namespace: env.namespace.clone(),
            name: "xcc-controller-gateways".to_owned(),
            identity: identity.to_owned(),
            // Renewed 4 s before it expires: room for a renewal that a
            // loaded API server answers late, which would otherwise let
            // the other replica take over while the first still leads.
            duration: Duration::from_secs(8),
            grace: Duration::from_secs(4),
        };
        let (running, starts) = (Arc::clone(&running), Arc::clone(&starts));
        let client = env.client.clone();
        let task = tokio::spawn(async move {
            run_as_leader(
                client,
                lease,
                async move {
                    let _ = stop_rx.await;
                },
                move |stop| {
                    let (running, starts) = (Arc::clone(&running), Arc::clone(&starts));
                    async move {
                        assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two leaders");
                        starts.fetch_add(1, Ordering::SeqCst);
                        stopped(stop).await;
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    }
                },
            )
            .await
        });
        (stop, task)
    };
    let (stop_one, one) = replica("replica-one");
    wait_for("a leader", LIMIT, || async {
        (running.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    let (stop_two, two) = replica("replica-two");
    // The claim in the Lease as the second replica starts: it reads that
    // one (or an older one, if it is quicker than this read), sleeps until
    // it expires, then looks again.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(env.client.clone(), &env.namespace);
    let claim = |lease: &k8s_openapi::api::coordination::v1::Lease| {
        let spec = lease.spec.clone().unwrap_or_default();
        (
            spec.holder_identity.unwrap_or_default(),
            spec.renew_time.map(|t| t.0),
            spec.lease_duration_seconds.unwrap_or_default(),
        )
    };
    let (holder, renewed, seconds) = claim(&leases.get("xcc-controller-gateways").await.unwrap());
    assert_eq!(holder, "replica-one");
    let renewed = renewed.expect("a renewTime");
    let expiry = renewed + jiff::SignedDuration::from_secs(i64::from(seconds));
    // The second waits while the first holds the lease: past the expiry of
    // the claim it found (plus a second for its look), the first has
    // renewed the lease and still leads alone.
    wait_for(
        "the first claim's expiry passed and the lease renewed",
        LIMIT,
        || async {
            if jiff::Timestamp::now() < expiry + jiff::SignedDuration::from_secs(1) {
                return None;
            }
            let (holder, now_renewed, _) =
                claim(&leases.get("xcc-controller-gateways").await.ok()?);
            (holder == "replica-one" && now_renewed > Some(renewed)).then_some(())
        },
    )
    .await;
    assert_eq!(starts.load(Ordering::SeqCst), 1);
    // The first shuts down and releases the lease: the second finds it
    // free at its next look (when the claim it last read expires), not
    // held by a replica that is gone.
    let _ = stop_one.send(());
    tokio::time::timeout(LIMIT, one)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let handover = Instant::now();
    wait_for("the successor leads", LIMIT, || async {
        (starts.load(Ordering::SeqCst) == 2 && running.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    eprintln!(
        "[gateways] leader handover after a release: {:.1} s",
        handover.elapsed().as_secs_f64()
    );
    let _ = stop_two.send(());
    tokio::time::timeout(LIMIT, two)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(running.load(Ordering::SeqCst), 0);
}
