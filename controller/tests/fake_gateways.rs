//! `xcc-controller gateways` with its workload clusters served by the fake
//! API (`xcc-fake-api` over loopback HTTP, reached through kubeconfig
//! Secrets as real clusters are), for the faults a real API server will
//! not produce on demand: 500s on the DNSRecord writes of one cluster (its
//! writer retries with backoff, the other cluster is not held up, nothing
//! is deleted) and a Service watch answered with 410 `Expired` (the watch
//! lists again and goes on). The management cluster is the real API server
//! shared by this test binary (Cluster API's version comes from its
//! discovery, which the fake does not serve), in a namespace of the
//! test's own, which the controller is told to watch alone
//! (`--namespaces`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::oneshot;
use xcc_controller::api::{DNSRecord, GatewayDNS};
use xcc_controller::gateways::credentials::WorkloadCredentials;
use xcc_controller::gateways::run::{GatewaysOptions, run};
use xcc_controller::telemetry::GatewaysMetrics;
use xcc_fake_api::{FakeApi, Fault, FaultRule, HttpServer, Verb};

use crate::apiserver::{apply_crds, shared_env, wait_for};
use crate::k8s_gateways::{cluster_resource, install_cluster_crd};

const LIMIT: Duration = Duration::from_secs(20);

/// A workload cluster: the fake, its listener, the walkthrough's objects.
struct Workload {
    fake: FakeApi,
    server: HttpServer,
}

impl Workload {
    async fn start(ip: &str) -> Self {
        let fake = FakeApi::new();
        apply_crds(&fake.client()).await.expect("the CRDs apply");
        for namespace in ["xcc-dns", "projectcontour"] {
            fake.create(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
            )
            .unwrap();
        }
        fake.create(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "envoy", "namespace": "projectcontour"},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "nodePort": 30080}]},
        }))
        .unwrap();
        let workload = Self {
            server: HttpServer::start(fake.clone()).await.unwrap(),
            fake,
        };
        workload.set_ingress(ip);
        workload
    }

    fn set_ingress(&self, ip: &str) {
        self.fake
            .patch_status(
                "v1",
                "Service",
                Some("projectcontour"),
                "envoy",
                &json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}),
            )
            .unwrap();
    }

    /// Owner → addresses of the DNSRecords held.
    fn records(&self) -> BTreeMap<String, Vec<String>> {
        self.fake
            .list_typed::<DNSRecord>(Some("xcc-dns"))
            .into_iter()
            .map(|r| (r.spec.name, r.spec.addresses))
            .collect()
    }
}

fn expected(namespace: &str, a: &str, b: &str) -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        (
            format!("*.gateway.cluster-a.{namespace}.clusters.xcc.test"),
            vec![a.to_owned()],
        ),
        (
            format!("*.gateway.cluster-b.{namespace}.clusters.xcc.test"),
            vec![b.to_owned()],
        ),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_failures_and_an_expired_watch_in_a_workload_cluster() {
    let Some(env) = shared_env("fake-gateways").await else {
        return;
    };
    let (mgmt, namespace) = (env.client.clone(), env.namespace.clone());
    let a = Workload::start("192.0.2.10").await;
    let b = Workload::start("198.51.100.20").await;

    install_cluster_crd(&mgmt).await;
    let clusters: Api<DynamicObject> =
        Api::namespaced_with(mgmt.clone(), &namespace, &cluster_resource());
    let secrets: Api<Secret> = Api::namespaced(mgmt.clone(), &namespace);
    for (name, workload) in [("cluster-a", &a), ("cluster-b", &b)] {
        let cluster: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "Cluster",
            "metadata": {"name": name, "labels": {"hasContour": "true"}}, "spec": {},
        }))
        .unwrap();
        clusters
            .create(&PostParams::default(), &cluster)
            .await
            .unwrap();
        clusters
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": "Provisioned"}})),
            )
            .await
            .unwrap();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(format!("{name}-kubeconfig")),
                ..ObjectMeta::default()
            },
            type_: Some("cluster.x-k8s.io/secret".to_owned()),
            data: Some(BTreeMap::from([(
                "value".to_owned(),
                ByteString(workload.server.kubeconfig(name).into_bytes()),
            )])),
            ..Secret::default()
        };
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let mut gateway: GatewayDNS = serde_json::from_value(json!({
        "apiVersion": "connectivity.tanzu.vmware.com/v1alpha1", "kind": "GatewayDNS",
        "metadata": {"name": "dev-team-gateway-dns"},
        "spec": {
            "clusterSelector": {"matchLabels": {"hasContour": "true"}},
            "service": "projectcontour/envoy",
            "resolutionType": "loadBalancer",
        },
    }))
    .unwrap();
    gateway.metadata.namespace = Some(namespace.clone());
    Api::<GatewayDNS>::namespaced(mgmt.clone(), &namespace)
        .create(&PostParams::default(), &gateway)
        .await
        .unwrap();

    let metrics = GatewaysMetrics::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let controller = tokio::spawn(run(
        mgmt.clone(),
        GatewaysOptions {
            // The fake has neither RBAC nor TokenRequest.
            credentials: WorkloadCredentials::Admin,
            // Only the test's namespace of the shared server.
            namespaces: vec![namespace.clone()],
            ..GatewaysOptions::default()
        },
        Arc::clone(&metrics),
        async move {
            let _ = stopped.await;
        },
    ));
    let both = |x: &str, y: &str| expected(&namespace, x, y);
    for (name, workload) in [("cluster-a", &a), ("cluster-b", &b)] {
        wait_for(&format!("both records in {name}"), LIMIT, || async {
            (workload.records() == both("192.0.2.10", "198.51.100.20")).then_some(())
        })
        .await;
    }

    // cluster-a refuses the next three record writes with a 500: its
    // writer retries with backoff and gets there; cluster-b is not held
    // up; nothing is deleted anywhere meanwhile.
    a.fake.inject(
        FaultRule::new(Fault::internal_error())
            .verb(Verb::Patch)
            .path_contains("/dnsrecords/")
            .times(3),
    );
    let patches_before = a.fake.count(Verb::Patch);
    b.set_ingress("198.51.100.21");
    wait_for("cluster-b has its new address", LIMIT, || async {
        (b.records() == both("192.0.2.10", "198.51.100.21")).then_some(())
    })
    .await;
    wait_for(
        "cluster-a has it too, after its failed writes",
        LIMIT,
        || async { (a.records() == both("192.0.2.10", "198.51.100.21")).then_some(()) },
    )
    .await;
    assert!(
        a.fake.count(Verb::Patch) - patches_before >= 4,
        "three refused writes, then one that worked"
    );
    assert!(metrics.write_errors.load(Ordering::Relaxed) >= 3);
    assert_eq!(metrics.records_deleted.load(Ordering::Relaxed), 0);

    // cluster-a's Service watch is cut and its resume answered with 410
    // Expired: the watch lists again, and the next change still arrives.
    let lists_before = a.fake.count(Verb::List);
    a.fake.compact();
    a.fake.inject(
        FaultRule::new(Fault::watch_gone())
            .verb(Verb::Watch)
            .path_contains("/services")
            .times(1),
    );
    assert!(a.fake.break_watches_matching("/services") >= 1);
    wait_for("the Service listed again", LIMIT, || async {
        (a.fake.count(Verb::List) > lists_before).then_some(())
    })
    .await;
    a.set_ingress("192.0.2.11");
    for (name, workload) in [("cluster-a", &a), ("cluster-b", &b)] {
        wait_for(
            &format!("{name} has cluster-a's change after the relist"),
            LIMIT,
            || async { (workload.records() == both("192.0.2.11", "198.51.100.21")).then_some(()) },
        )
        .await;
    }
    assert!(metrics.watch_errors.load(Ordering::Relaxed) >= 1);
    assert_eq!(metrics.records_deleted.load(Ordering::Relaxed), 0);

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), controller)
        .await
        .expect("the controller stops in time")
        .unwrap()
        .unwrap();
}
