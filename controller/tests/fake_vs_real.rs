//! The fake API of `xcc-fake-api` against the real kube-apiserver 1.20:
//! one scenario of requests (create, conflicts, status subresource and
//! generation, finalizers, selectors in a watch, paging, server-side apply,
//! the error reasons) is run through kube's client on both, and both must
//! give the transcript below, which was taken from the real server. The
//! fake's half always runs; the real half skips when the API server is not
//! built (unless `XCC_REQUIRE_TOOLS=1`).

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Client, ResourceExt};
use serde_json::json;
use xcc_controller::api::DNSRecord;
use xcc_fake_api::{Config, FakeApi};

use crate::apiserver::{address_record, apply_crds, shared_env};

/// What both servers answer, step by step.
const EXPECTED: &[&str] = &[
    "create: ok, generation None",
    "create again: 409 AlreadyExists",
    "get missing: 404 NotFound",
    "create in a missing namespace: 404 NotFound",
    "create without a name: 422 Invalid",
    "create with a resourceVersion: 500 ",
    "generateName: gen- + 5",
    "no-op patch keeps the resourceVersion: true",
    "replace stale: 409 Conflict",
    "replace with another name: 400 BadRequest",
    "list page: 1 item, continue: true, remaining: None",
    "record: generation 1, status None",
    "status patch: generation 1, status Some(\"Accepted\")",
    "spec patch with a status: generation 2, status Some(\"Accepted\")",
    "label patch: generation 2",
    "replace without a resourceVersion: 422 Invalid",
    "strategic merge patch: 415 UnsupportedMediaType",
    "apply without a field manager: 422 Invalid",
    "apply creating: ok, generation 1",
    "delete with a finalizer: marked true, generation 2",
    "delete again: same resourceVersion true",
    "add a finalizer while deleting: 422 Invalid",
    "remove the finalizer: ok",
    "get after the finalizer: 404 NotFound",
    "watch with a selector: ADDED b, DELETED a (app=web)",
    "delete: Status",
    "delete again: 404 NotFound",
];

fn outcome<T>(result: &Result<T, kube::Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(kube::Error::Api(status)) => format!("{} {}", status.code, status.reason),
        Err(other) => format!("error {other}"),
    }
}

fn config_map(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut map = ConfigMap::default();
    map.metadata.name = Some(name.into());
    map.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    );
    map.data = Some([("k".to_owned(), "v".to_owned())].into());
    map
}

/// The scenario, in namespace `ns` (which exists, with the CRDs applied).
async fn scenario(client: Client, ns: &str) -> Vec<String> {
    let mut t = Vec::new();
    let pp = PostParams::default();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    let a = maps.create(&pp, &config_map("a", &[("app", "web")])).await;
    let generation = a.as_ref().ok().and_then(|a| a.metadata.generation);
    t.push(format!(
        "create: {}, generation {generation:?}",
        outcome(&a)
    ));
    let a = a.unwrap();
    t.push(format!(
        "create again: {}",
        outcome(&maps.create(&pp, &config_map("a", &[])).await)
    ));
    t.push(format!("get missing: {}", outcome(&maps.get("nope").await)));
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "no-such-namespace");
    t.push(format!(
        "create in a missing namespace: {}",
        outcome(&elsewhere.create(&pp, &config_map("a", &[])).await)
    ));
    t.push(format!(
        "create without a name: {}",
        outcome(&maps.create(&pp, &ConfigMap::default()).await)
    ));
    let mut versioned = config_map("versioned", &[]);
    versioned.metadata.resource_version = Some("5".into());
    t.push(format!(
        "create with a resourceVersion: {}",
        outcome(&maps.create(&pp, &versioned).await)
    ));
    let mut generated = config_map("", &[("page", "yes")]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let generated = maps.create(&pp, &generated).await.unwrap().name_any();
    t.push(format!(
        "generateName: {} + {}",
        &generated[..4],
        generated.len() - 4
    ));

    let merge = |value| Patch::Merge(value);
    let patched = maps
        .patch(
            "a",
            &PatchParams::default(),
            &merge(json!({ "data": { "x": "y" } })),
        )
        .await
        .unwrap();
    let again = maps
        .patch(
            "a",
            &PatchParams::default(),
            &merge(json!({ "data": { "x": "y" } })),
        )
        .await
        .unwrap();
    t.push(format!(
        "no-op patch keeps the resourceVersion: {}",
        again.resource_version() == patched.resource_version()
    ));
    t.push(format!(
        "replace stale: {}",
        outcome(&maps.replace("a", &pp, &a).await)
    ));
    let mut renamed = again.clone();
    renamed.metadata.name = Some("b".into());
    t.push(format!(
        "replace with another name: {}",
        outcome(&maps.replace("a", &pp, &renamed).await)
    ));
    maps.create(&pp, &config_map("paged", &[("page", "yes")]))
        .await
        .unwrap();
    let page = maps
        .list(&ListParams::default().labels("page=yes").limit(1))
        .await
        .unwrap();
    t.push(format!(
        "list page: {} item, continue: {}, remaining: {:?}",
        page.items.len(),
        page.metadata.continue_.is_some_and(|c| !c.is_empty()),
        page.metadata.remaining_item_count
    ));

    // A custom resource with a status subresource.
    let records: Api<DNSRecord> = Api::namespaced(client.clone(), ns);
    let mut record = address_record("r", "r.xcc.test", &["10.0.0.1"]);
    record.status = Some(Default::default());
    let record = records.create(&pp, &record).await.unwrap();
    t.push(format!(
        "record: generation {}, status {:?}",
        record.metadata.generation.unwrap_or(0),
        record.status.as_ref().and_then(|s| s.state)
    ));
    let state = |r: &DNSRecord| {
        r.status
            .as_ref()
            .and_then(|s| s.state)
            .map(|s| format!("{s:?}"))
    };
    let with_status = records
        .patch_status(
            "r",
            &PatchParams::default(),
            &merge(json!({ "status": { "state": "Accepted" } })),
        )
        .await
        .unwrap();
    t.push(format!(
        "status patch: generation {}, status {:?}",
        with_status.metadata.generation.unwrap_or(0),
        state(&with_status)
    ));
    let spec = records
        .patch(
            "r",
            &PatchParams::default(),
            &merge(json!({ "spec": { "ttl": 60 }, "status": { "state": "Rejected" } })),
        )
        .await
        .unwrap();
    t.push(format!(
        "spec patch with a status: generation {}, status {:?}",
        spec.metadata.generation.unwrap_or(0),
        state(&spec)
    ));
    let labelled = records
        .patch(
            "r",
            &PatchParams::default(),
            &merge(json!({ "metadata": { "labels": { "a": "b" } } })),
        )
        .await
        .unwrap();
    t.push(format!(
        "label patch: generation {}",
        labelled.metadata.generation.unwrap_or(0)
    ));
    let mut unversioned = labelled.clone();
    unversioned.metadata.resource_version = None;
    t.push(format!(
        "replace without a resourceVersion: {}",
        outcome(&records.replace("r", &pp, &unversioned).await)
    ));
    t.push(format!(
        "strategic merge patch: {}",
        outcome(
            &records
                .patch(
                    "r",
                    &PatchParams::default(),
                    &Patch::Strategic(json!({ "spec": { "ttl": 5 } }))
                )
                .await
        )
    ));
    let apply = |name: &str| {
        let mut record = address_record(name, "applied.xcc.test", &["10.0.0.2"]);
        record.metadata.namespace = None;
        Patch::Apply(record)
    };
    t.push(format!(
        "apply without a field manager: {}",
        outcome(
            &records
                .patch("r", &PatchParams::default(), &apply("r"))
                .await
        )
    ));
    let applied = records
        .patch("applied", &PatchParams::apply("test"), &apply("applied"))
        .await;
    t.push(format!(
        "apply creating: {}, generation {}",
        outcome(&applied),
        applied
            .as_ref()
            .ok()
            .and_then(|a| a.metadata.generation)
            .unwrap_or(0)
    ));

    // Finalizers.
    let mut held = address_record("held", "held.xcc.test", &["10.0.0.3"]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    records.create(&pp, &held).await.unwrap();
    let marked = records
        .delete("held", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the marked object");
    t.push(format!(
        "delete with a finalizer: marked {}, generation {}",
        marked.metadata.deletion_timestamp.is_some(),
        marked.metadata.generation.unwrap_or(0)
    ));
    let again = records
        .delete("held", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the marked object");
    t.push(format!(
        "delete again: same resourceVersion {}",
        again.resource_version() == marked.resource_version()
    ));
    let more = records
        .patch(
            "held",
            &PatchParams::default(),
            &merge(
                json!({ "metadata": { "finalizers": ["example.com/hold", "example.com/more"] } }),
            ),
        )
        .await;
    t.push(format!(
        "add a finalizer while deleting: {}",
        outcome(&more)
    ));
    let removed = records
        .patch(
            "held",
            &PatchParams::default(),
            &merge(json!({ "metadata": { "finalizers": null } })),
        )
        .await;
    t.push(format!("remove the finalizer: {}", outcome(&removed)));
    t.push(format!(
        "get after the finalizer: {}",
        outcome(&records.get("held").await)
    ));

    // A watch with a label selector: objects entering and leaving it.
    maps.create(&pp, &config_map("b", &[("app", "db")]))
        .await
        .unwrap();
    let from = maps
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = maps
        .watch(&WatchParams::default().labels("app=web"), &from)
        .await
        .unwrap()
        .boxed();
    for (name, app) in [("b", "web"), ("a", "db")] {
        maps.patch(
            name,
            &PatchParams::default(),
            &merge(json!({ "metadata": { "labels": { "app": app } } })),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
            .await
            .expect("a watch event in time")
            .unwrap()
            .expect("the watch goes on");
        seen.push(match event {
            WatchEvent::Added(o) => format!("ADDED {}", o.name_any()),
            WatchEvent::Deleted(o) => {
                format!("DELETED {} (app={})", o.name_any(), o.labels()["app"])
            }
            WatchEvent::Modified(o) => format!("MODIFIED {}", o.name_any()),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => format!("ERROR {e:?}"),
        });
    }
    t.push(format!("watch with a selector: {}", seen.join(", ")));

    let deleted = maps.delete("a", &DeleteParams::default()).await.unwrap();
    t.push(format!(
        "delete: {}",
        if deleted.is_right() {
            "Status"
        } else {
            "object"
        }
    ));
    t.push(format!(
        "delete again: {}",
        outcome(&maps.delete("a", &DeleteParams::default()).await)
    ));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_answers_the_scenario_as_the_real_server_does() {
    tokio::time::timeout(Duration::from_secs(30), async {
        // Namespaces must exist on the fake too, as on the real server.
        let fake = FakeApi::with_config(Config {
            require_namespaces: true,
            ..Config::default()
        });
        let client = fake.client();
        apply_crds(&client).await.unwrap();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some("scenario".into());
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let transcript = scenario(client, "scenario").await;
        assert_eq!(transcript, EXPECTED);
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_server_answers_the_scenario_as_written_down() {
    let Some(env) = shared_env("fake-vs-real").await else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(60), async {
        let transcript = scenario(env.client.clone(), &env.namespace).await;
        assert_eq!(transcript, EXPECTED);
    })
    .await
    .expect("the test finishes in time");
}
