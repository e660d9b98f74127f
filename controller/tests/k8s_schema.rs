//! The CRDs of `manifests/crds/` against a real kube-apiserver 1.20: they
//! load and become `Established`, a valid `DNSRecord` is stored (with the
//! schema's defaults), and the OpenAPI schema makes the API server refuse
//! what is plainly malformed before any controller sees it.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use serde_json::json;
use xcc_controller::api::{DNSRecord, GatewayDNS};

use crate::apiserver::{crds, shared_env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_load_on_kubernetes_1_20() {
    let Some(env) = shared_env("crds-load").await else {
        return;
    };
    let api: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    let expected = crds();
    assert_eq!(expected.len(), 2, "DNSRecord and GatewayDNS");
    for crd in expected {
        let name = crd.metadata.name.unwrap();
        let served = api.get(&name).await.expect("the CRD is there");
        let conditions = served.status.and_then(|s| s.conditions).unwrap_or_default();
        for wanted in ["NamesAccepted", "Established"] {
            assert!(
                conditions
                    .iter()
                    .any(|c| c.type_ == wanted && c.status == "True"),
                "{name}: condition {wanted} is not True: {conditions:?}"
            );
        }
        // Nothing of the schema was dropped by this older server (1.20
        // silently drops fields it does not know, CEL rules for one).
        assert_eq!(
            served.spec.versions[0].schema, crd.spec.versions[0].schema,
            "{name}: the API server stored a different schema than manifests/crds/ holds"
        );
    }
    // The typed APIs work against it (list = discovery + serving).
    let records: Api<DNSRecord> = Api::namespaced(env.client.clone(), &env.namespace);
    assert!(
        records
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let gateways: Api<GatewayDNS> = Api::namespaced(env.client.clone(), &env.namespace);
    assert!(
        gateways
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Creates a `DNSRecord` with this raw spec (so that specs the Rust type
/// cannot express, such as a negative TTL, reach the server).
async fn create_raw(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    name: &str,
    spec: serde_json::Value,
) -> Result<DynamicObject, kube::Error> {
    let object = DynamicObject::new(name, resource).data(json!({ "spec": spec }));
    api.create(&PostParams::default(), &object).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_accepts_valid_and_refuses_malformed_records() {
    let Some(env) = shared_env("schema-validation").await else {
        return;
    };
    let resource = ApiResource::erase::<DNSRecord>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(env.client.clone(), &env.namespace, &resource);

    // Valid ones, one per kind of data; the TTL defaults to 30 and SRV
    // priority and weight to 0 (schema defaults, applied by the server).
    let valid = [
        (
            "addresses",
            json!({ "name": "*.gw.cluster-a.xcc.test", "addresses": ["10.0.0.10", "fd00::10"] }),
        ),
        (
            "cname",
            json!({ "name": "www.xcc.test.", "cname": "gw.cluster-a.xcc.test" }),
        ),
        (
            "txt",
            json!({ "name": "_info.xcc.test", "ttl": 0, "txt": ["v=1", "hello world"] }),
        ),
        (
            "cname-target-addresses",
            json!({ "name": "*.gateway.cluster-a.dev-team.clusters.xcc.test",
                    "cname": "lb-123.elb.example.com.",
                    "targetAddresses": ["192.0.2.10", "2001:db8::10"] }),
        ),
        (
            "srv",
            json!({ "name": "_http._tcp.xcc.test", "ttl": 2147483647,
                    "srv": [{ "port": 80, "target": "www.xcc.test." }, { "port": 1, "target": "." }] }),
        ),
    ];
    for (name, spec) in valid {
        let created = create_raw(&api, &resource, name, spec.clone())
            .await
            .unwrap_or_else(|e| panic!("valid record {name} ({spec}) was refused: {e}"));
        assert_eq!(created.metadata.generation, Some(1));
        let stored = &created.data["spec"];
        if spec.get("ttl").is_none() {
            assert_eq!(stored["ttl"], 30, "{name}: default TTL");
        }
        // And it reads back as the Rust type.
        let typed: Api<DNSRecord> = Api::namespaced(env.client.clone(), &env.namespace);
        let record = typed.get(name).await.unwrap();
        if name == "srv" {
            assert_eq!(record.spec.srv[0].priority, 0);
            assert_eq!(record.spec.srv[0].weight, 0);
        }
    }

    // Malformed ones: each refused with 422 Invalid, naming the field.
    let malformed = [
        (
            "bad-ipv4",
            json!({ "name": "a.xcc.test", "addresses": ["10.0.0.300"] }),
            "spec.addresses",
        ),
        (
            "bad-ip-text",
            json!({ "name": "a.xcc.test", "addresses": ["gateway"] }),
            "spec.addresses",
        ),
        (
            "bad-name",
            json!({ "name": "bad name!.xcc.test", "addresses": ["10.0.0.1"] }),
            "spec.name",
        ),
        (
            "bad-name-label",
            json!({ "name": "-leading-hyphen.xcc.test", "addresses": ["10.0.0.1"] }),
            "spec.name",
        ),
        (
            "wildcard-inside",
            json!({ "name": "a.*.xcc.test", "addresses": ["10.0.0.1"] }),
            "spec.name",
        ),
        (
            "ttl-negative",
            json!({ "name": "a.xcc.test", "ttl": -1, "addresses": ["10.0.0.1"] }),
            "spec.ttl",
        ),
        (
            "ttl-too-large",
            json!({ "name": "a.xcc.test", "ttl": 2147483648u64, "addresses": ["10.0.0.1"] }),
            "spec.ttl",
        ),
        (
            "two-kinds",
            json!({ "name": "a.xcc.test", "addresses": ["10.0.0.1"], "cname": "b.xcc.test" }),
            "spec",
        ),
        ("no-data", json!({ "name": "a.xcc.test" }), "spec"),
        (
            "target-addresses-alone",
            json!({ "name": "a.xcc.test", "targetAddresses": ["192.0.2.10"] }),
            "spec",
        ),
        (
            "target-addresses-with-addresses",
            json!({ "name": "a.xcc.test", "addresses": ["10.0.0.1"], "targetAddresses": ["192.0.2.10"] }),
            "spec",
        ),
        (
            "target-addresses-bad-ip",
            json!({ "name": "a.xcc.test", "cname": "lb.example.com", "targetAddresses": ["lb"] }),
            "spec.targetAddresses",
        ),
        (
            "srv-without-port",
            json!({ "name": "_x._tcp.xcc.test", "srv": [{ "target": "a.xcc.test" }] }),
            "spec.srv",
        ),
        (
            "srv-port-zero",
            json!({ "name": "_x._tcp.xcc.test", "srv": [{ "port": 0, "target": "a.xcc.test" }] }),
            "spec.srv",
        ),
        (
            "txt-too-long",
            json!({ "name": "a.xcc.test", "txt": ["x".repeat(256)] }),
            "spec.txt",
        ),
        ("no-name", json!({ "addresses": ["10.0.0.1"] }), "spec.name"),
    ];
    let mut accepted = Vec::new();
    for (name, spec, field) in malformed {
        match create_raw(&api, &resource, name, spec.clone()).await {
            Ok(_) => accepted.push(format!("{name}: {spec}")),
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422, "{name}: {status:?}");
                assert_eq!(status.reason, "Invalid", "{name}: {status:?}");
                assert!(
                    status.message.contains(field),
                    "{name}: the message should name {field}: {}",
                    status.message
                );
            }
            Err(other) => panic!("{name}: unexpected error {other}"),
        }
    }
    assert!(
        accepted.is_empty(),
        "the API server stored malformed records:\n  {}",
        accepted.join("\n  ")
    );
}
