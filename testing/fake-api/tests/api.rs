//! The fake through kube's own client, as a controller would use it: typed
//! and dynamic `Api`s, watchers and reflectors, and the faults. Each test is
//! bounded by a timeout.

use std::future::Future;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::events::v1::Event as EventsV1;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use xcc_fake_api::{Config, FakeApi, Fault, FaultRule, Gate, ResourceType, Verb};

/// Every test must finish within this.
const LIMIT: Duration = Duration::from_secs(20);

async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("the test finishes in time")
}

/// Polls `check` every 10 ms until it holds (at most 10 s).
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn config_map(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let mut map = ConfigMap::default();
    map.metadata.name = Some(name.into());
    if !labels.is_empty() {
        map.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        );
    }
    map.data = Some(
        data.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    );
    map
}

fn api_error(error: kube::Error) -> (u16, String) {
    match error {
        kube::Error::Api(status) => (status.code, status.reason.clone()),
        other => panic!("not an API error: {other:?}"),
    }
}

/// `widgets.example.com`, namespaced, with a status subresource.
fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": { "status": {} },
                "schema": { "openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                } },
            }],
        },
    }))
    .unwrap()
}

fn widget_resource() -> ApiResource {
    ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    }
}

fn widget(name: &str, size: u64) -> DynamicObject {
    DynamicObject::new(name, &widget_resource()).data(json!({ "spec": { "size": size } }))
}

#[tokio::test]
async fn typed_objects_are_created_read_replaced_patched_and_deleted() {
    within(async {
        let fake = FakeApi::new();
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        let created = api
            .create(&PostParams::default(), &config_map("a", &[], &[("k", "v")]))
            .await
            .unwrap();
        let meta = &created.metadata;
        assert_eq!(meta.namespace.as_deref(), Some("default"));
        assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
        assert!(meta.creation_timestamp.is_some());
        assert_eq!(meta.generation, None, "ConfigMaps have no generation");
        let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();

        let again = api
            .create(&PostParams::default(), &config_map("a", &[], &[]))
            .await
            .unwrap_err();
        assert_eq!(api_error(again), (409, "AlreadyExists".into()));
        let missing = api.get("nope").await.unwrap_err();
        assert_eq!(api_error(missing), (404, "NotFound".into()));
        assert!(api.get_opt("nope").await.unwrap().is_none());

        // Replace with the current resourceVersion, then with the stale one.
        let mut changed = created.clone();
        changed.data = Some([("k".into(), "w".into())].into());
        let replaced = api
            .replace("a", &PostParams::default(), &changed)
            .await
            .unwrap();
        let rv2: u64 = replaced.resource_version().unwrap().parse().unwrap();
        assert!(rv2 > rv1);
        assert_eq!(replaced.metadata.uid, created.metadata.uid);
        let stale = api
            .replace("a", &PostParams::default(), &changed)
            .await
            .unwrap_err();
        assert_eq!(api_error(stale), (409, "Conflict".into()));

        // A merge patch, a JSON patch, and a no-op (no new resourceVersion).
        let patched = api
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({ "data": { "x": "y" } })),
            )
            .await
            .unwrap();
        assert_eq!(patched.data.as_ref().unwrap()["x"], "y");
        let noop = api
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({ "data": { "x": "y" } })),
            )
            .await
            .unwrap();
        assert_eq!(noop.resource_version(), patched.resource_version());
        let ops: json_patch::Patch = serde_json::from_value(json!([
            { "op": "remove", "path": "/data/x" }
        ]))
        .unwrap();
        let patched = api
            .patch("a", &PatchParams::default(), &Patch::Json::<()>(ops))
            .await
            .unwrap();
        assert!(!patched.data.as_ref().unwrap().contains_key("x"));

        // generateName.
        let mut generated = ConfigMap::default();
        generated.metadata.generate_name = Some("gen-".into());
        let generated = api
            .create(&PostParams::default(), &generated)
            .await
            .unwrap();
        let name = generated.name_any();
        assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

        // Delete: a Status, then 404.
        let deleted = api.delete("a", &DeleteParams::default()).await.unwrap();
        assert!(deleted.is_right(), "ConfigMaps answer a Status");
        let gone = api.delete("a", &DeleteParams::default()).await.unwrap_err();
        assert_eq!(api_error(gone), (404, "NotFound".into()));
        assert_eq!(fake.count(Verb::Create), 3);
        assert_eq!(fake.count(Verb::Delete), 2);
        assert_eq!(fake.count(Verb::Patch), 3);
    })
    .await;
}

#[tokio::test]
async fn a_crd_created_through_the_api_serves_its_type_with_status_and_generation() {
    within(async {
        let fake = FakeApi::new();
        let client = fake.client();
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        crds.create(&PostParams::default(), &widget_crd())
            .await
            .unwrap();
        await_condition(
            crds,
            "widgets.example.com",
            conditions::is_crd_established(),
        )
        .await
        .unwrap();

        let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &widget_resource());
        let mut object = widget("w", 1);
        object.data["status"] = json!({ "ready": true });
        let created = api.create(&PostParams::default(), &object).await.unwrap();
        assert_eq!(created.metadata.generation, Some(1));
        assert!(
            created.data.get("status").is_none(),
            "status is dropped on create"
        );

        // The spec changes: generation 2. The status in the body is ignored.
        let changed = api
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "size": 2 }, "status": { "ready": true } })),
            )
            .await
            .unwrap();
        assert_eq!(changed.metadata.generation, Some(2));
        assert!(changed.data.get("status").is_none());
        // The status subresource: only the status, generation unchanged.
        let with_status = api
            .patch_status(
                "w",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "size": 99 }, "status": { "ready": true } })),
            )
            .await
            .unwrap();
        assert_eq!(with_status.metadata.generation, Some(2));
        assert_eq!(with_status.data["spec"]["size"], 2);
        assert_eq!(with_status.data["status"]["ready"], true);
        assert!(with_status.resource_version() > changed.resource_version());
        // A label: no new generation; the status stays.
        let labelled = api
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": { "labels": { "a": "b" } } })),
            )
            .await
            .unwrap();
        assert_eq!(labelled.metadata.generation, Some(2));
        assert_eq!(labelled.data["status"]["ready"], true);

        // Custom resources: an update needs a resourceVersion, and
        // strategic merge patches are refused.
        let mut unversioned = labelled.clone();
        unversioned.metadata.resource_version = None;
        let invalid = api
            .replace("w", &PostParams::default(), &unversioned)
            .await
            .unwrap_err();
        assert_eq!(api_error(invalid), (422, "Invalid".into()));
        let strategic = api
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Strategic(json!({ "spec": { "size": 3 } })),
            )
            .await
            .unwrap_err();
        assert_eq!(api_error(strategic), (415, "UnsupportedMediaType".into()));
        // replace_status writes only the status.
        let mut replacement = labelled.clone();
        replacement.data["spec"]["size"] = json!(50);
        replacement.data["status"] = json!({ "ready": false });
        let replaced = api
            .replace_status("w", &PostParams::default(), &replacement)
            .await
            .unwrap();
        assert_eq!(replaced.data["spec"]["size"], 2);
        assert_eq!(replaced.data["status"]["ready"], false);
        assert_eq!(replaced.metadata.generation, Some(2));
    })
    .await;
}

#[tokio::test]
async fn server_side_apply_creates_then_merges() {
    within(async {
        let fake = FakeApi::new();
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        let apply = |data: Value| {
            Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "applied" }, "data": data,
            }))
        };
        let created = api
            .patch(
                "applied",
                &PatchParams::apply("test"),
                &apply(json!({ "a": "1" })),
            )
            .await
            .unwrap();
        assert_eq!(created.data.as_ref().unwrap()["a"], "1");
        let merged = api
            .patch(
                "applied",
                &PatchParams::apply("test"),
                &apply(json!({ "b": "2" })),
            )
            .await
            .unwrap();
        let data = merged.data.unwrap();
        assert_eq!((data["a"].as_str(), data["b"].as_str()), ("1", "2"));
        let no_manager = api
            .patch("applied", &PatchParams::default(), &apply(json!({})))
            .await
            .unwrap_err();
        assert_eq!(api_error(no_manager), (422, "Invalid".into()));
        let requests = fake.requests();
        let first = requests
            .iter()
            .find(|r| r.verb == Some(Verb::Patch))
            .unwrap();
        assert_eq!(first.code, Some(201), "an apply that creates answers 201");
    })
    .await;
}

#[tokio::test]
async fn a_reflector_sees_objects_created_modified_and_deleted() {
    within(async {
        let fake = FakeApi::new();
        fake.create_typed(&config_map("before", &[], &[("k", "0")]))
            .unwrap();
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        let (store, writer) = reflector::store();
        let stream = watcher(api.clone(), watcher::Config::default())
            .reflect(writer)
            .applied_objects();
        tokio::spawn(async move {
            let _ = stream.try_for_each(|_| async { Ok(()) }).await;
        });
        store.wait_until_ready().await.unwrap();
        assert_eq!(store.state().len(), 1);

        api.create(&PostParams::default(), &config_map("a", &[], &[("k", "1")]))
            .await
            .unwrap();
        wait_until("a in the store", || store.state().len() == 2).await;
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({ "data": { "k": "2" } })),
        )
        .await
        .unwrap();
        wait_until("a modified", || {
            store
                .state()
                .iter()
                .any(|m| m.name_any() == "a" && m.data.as_ref().unwrap()["k"] == "2")
        })
        .await;
        // A change made on the fake directly is seen too.
        fake.patch(
            "v1",
            "ConfigMap",
            Some("default"),
            "before",
            &json!({ "data": { "k": "direct" } }),
        )
        .unwrap();
        wait_until("before modified", || {
            store
                .state()
                .iter()
                .any(|m| m.name_any() == "before" && m.data.as_ref().unwrap()["k"] == "direct")
        })
        .await;
        api.delete("a", &DeleteParams::default()).await.unwrap();
        wait_until("a deleted", || store.state().len() == 1).await;
        // A broken watch resumes from its position, without a new list.
        assert_eq!(fake.count(Verb::List), 1);
        assert_eq!(fake.break_watches(), 1);
        wait_until("a second watch", || {
            fake.count(Verb::Watch) == 2 && fake.open_watches() == 1
        })
        .await;
        fake.create_typed(&config_map("after", &[], &[])).unwrap();
        wait_until("after in the store", || store.state().len() == 2).await;
        assert_eq!(fake.count(Verb::List), 1, "no relist after a broken watch");
    })
    .await;
}

#[tokio::test]
async fn a_streaming_list_gets_the_initial_events_then_the_end_bookmark() {
    within(async {
        // Kubernetes 1.27+ (not in 1.20): `sendInitialEvents=true`.
        let fake = FakeApi::new();
        for name in ["a", "b"] {
            fake.create_typed(&config_map(name, &[], &[])).unwrap();
        }
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        let (store, writer) = reflector::store();
        let stream = watcher(api, watcher::Config::default().streaming_lists()).reflect(writer);
        tokio::spawn(async move {
            let _ = stream.for_each(|_| async {}).await;
        });
        store.wait_until_ready().await.unwrap();
        assert_eq!(store.state().len(), 2);
        assert_eq!(fake.count(Verb::List), 0);
        fake.create_typed(&config_map("c", &[], &[])).unwrap();
        wait_until("c in the store", || store.state().len() == 3).await;
    })
    .await;
}

#[tokio::test]
async fn a_watch_from_a_forgotten_position_gets_410_and_the_watcher_relists() {
    within(async {
        let fake = FakeApi::with_config(Config {
            history_limit: 2,
            ..Config::default()
        });
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        fake.create_typed(&config_map("a", &[], &[])).unwrap();

        // A raw watch from position 1 after the history moved on.
        for i in 0..3 {
            fake.create_typed(&config_map(&format!("x{i}"), &[], &[]))
                .unwrap();
        }
        let mut events = api
            .watch(&WatchParams::default(), "1")
            .await
            .unwrap()
            .boxed();
        match events.try_next().await.unwrap() {
            Some(WatchEvent::Error(status)) => {
                assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
                assert!(status.message.starts_with("too old resource version: 1 ("));
            }
            other => panic!("expected a 410 ERROR event, got {other:?}"),
        }
        assert!(
            events.try_next().await.unwrap().is_none(),
            "the stream ends"
        );

        // A watcher: its next watch is held (a gate) while changes push its
        // position out of the history; it gets 410, lists again and sees
        // them.
        let (store, writer) = reflector::store();
        let stream = watcher(api.clone(), watcher::Config::default()).reflect(writer);
        tokio::spawn(async move {
            let _ = stream.for_each(|_| async {}).await;
        });
        store.wait_until_ready().await.unwrap();
        assert_eq!(store.state().len(), 4);
        wait_until("the first watch", || fake.open_watches() == 1).await;
        let gate = Gate::new();
        fake.inject(
            FaultRule::new(Fault::Hold(gate.clone()))
                .verb(Verb::Watch)
                .times(1),
        );
        fake.break_watches();
        wait_until("the second watch to arrive", || {
            fake.count(Verb::Watch) == 3
        })
        .await;
        for i in 0..3 {
            fake.create_typed(&config_map(&format!("y{i}"), &[], &[]))
                .unwrap();
        }
        gate.open();
        wait_until("the relist", || store.state().len() == 7).await;
        assert_eq!(
            fake.count(Verb::List),
            2,
            "one list at start, one after the 410"
        );
        let expired = fake
            .requests()
            .into_iter()
            .filter(|r| r.verb == Some(Verb::Watch))
            .nth(2)
            .unwrap();
        assert_eq!(
            expired.code,
            Some(200),
            "410 comes as an ERROR event in a 200"
        );

        // Compaction does the same to every type.
        let rv = fake.resource_version();
        fake.create_typed(&config_map("z", &[], &[])).unwrap();
        fake.compact();
        let mut events = api
            .watch(&WatchParams::default(), &rv.to_string())
            .await
            .unwrap()
            .boxed();
        assert!(matches!(
            events.try_next().await.unwrap(),
            Some(WatchEvent::Error(s)) if s.code == 410
        ));
    })
    .await;
}

#[tokio::test]
async fn bookmarks_come_on_demand_and_periodically_and_move_the_watcher() {
    within(async {
        let fake = FakeApi::new();
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        fake.create_typed(&config_map("a", &[], &[])).unwrap();
        // Something else changes: only a bookmark tells the watch of the
        // newer position.
        fake.create(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": { "name": "l" }, "spec": {},
        }))
        .unwrap();
        let rv = fake.resource_version();
        let mut events = api
            .watch(&WatchParams::default(), "1")
            .await
            .unwrap()
            .boxed();
        wait_until("the watch open", || fake.open_watches() == 1).await;
        assert_eq!(fake.send_bookmarks(), 1);
        match events.try_next().await.unwrap() {
            Some(WatchEvent::Bookmark(bookmark)) => {
                assert_eq!(bookmark.metadata.resource_version, rv.to_string());
                assert_eq!(bookmark.types.kind, "ConfigMap");
            }
            other => panic!("expected a bookmark, got {other:?}"),
        }
        // Without allowWatchBookmarks, none.
        let _quiet = api
            .watch(&WatchParams::default().disable_bookmarks(), "1")
            .await
            .unwrap();
        wait_until("two watches", || fake.open_watches() == 2).await;
        assert_eq!(fake.send_bookmarks(), 1);

        // Periodic bookmarks, and a watcher resuming from one.
        let fake = FakeApi::with_config(Config {
            bookmark_interval: Some(Duration::from_millis(50)),
            ..Config::default()
        });
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        fake.create_typed(&config_map("a", &[], &[])).unwrap();
        let stream = watcher(api, watcher::Config::default());
        tokio::spawn(async move {
            let _ = stream.for_each(|_| async {}).await;
        });
        wait_until("the watch open", || fake.open_watches() == 1).await;
        for i in 0..3 {
            fake.create(json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": { "name": format!("s{i}") },
            }))
            .unwrap();
        }
        let rv = fake.resource_version();
        // Once a bookmark is through, a broken watch resumes from its
        // position, not from the ConfigMap's (break it until that shows).
        let resumed = format!("resourceVersion={rv}");
        let started = std::time::Instant::now();
        loop {
            let watches = fake.count(Verb::Watch);
            fake.break_watches();
            wait_until("the next watch", || fake.count(Verb::Watch) > watches).await;
            let last = fake
                .requests()
                .into_iter()
                .rfind(|r| r.verb == Some(Verb::Watch))
                .unwrap();
            if last.query.contains(&resumed) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never resumed from {rv}: {}",
                last.query
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(fake.count(Verb::List), 1, "no relist");
    })
    .await;
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_and_watches() {
    within(async {
        let fake = FakeApi::new();
        for (name, app, tier) in [("a", "web", "front"), ("b", "web", "back"), ("c", "db", "back")] {
            fake.create_typed(&config_map(name, &[("app", app), ("tier", tier)], &[]))
                .unwrap();
        }
        fake.create(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "d", "namespace": "other" } }))
            .unwrap();
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        let names = |lp: ListParams| {
            let api = api.clone();
            async move {
                let mut names: Vec<String> = api.list(&lp).await.unwrap().items.iter().map(ResourceExt::name_any).collect();
                names.sort();
                names.join(",")
            }
        };
        assert_eq!(names(ListParams::default().labels("app=web")).await, "a,b");
        assert_eq!(names(ListParams::default().labels("app!=web")).await, "c");
        assert_eq!(names(ListParams::default().labels("tier in (front,x)")).await, "a");
        assert_eq!(names(ListParams::default().labels("tier notin (front)")).await, "b,c");
        assert_eq!(names(ListParams::default().labels("app,!missing")).await, "a,b,c");
        assert_eq!(names(ListParams::default().labels("app=web,tier=back")).await, "b");
        assert_eq!(names(ListParams::default().fields("metadata.name=c")).await, "c");
        assert_eq!(names(ListParams::default().fields("metadata.name!=c")).await, "a,b");
        let all: Api<ConfigMap> = Api::all(fake.client());
        let everywhere = all.list(&ListParams::default().fields("metadata.namespace=other")).await.unwrap();
        assert_eq!(everywhere.items.len(), 1);
        assert_eq!(all.list(&ListParams::default()).await.unwrap().items.len(), 4);
        let bad = api.list(&ListParams::default().labels("a in (")).await.unwrap_err();
        assert_eq!(api_error(bad), (400, "BadRequest".into()));
        let unknown = api.list(&ListParams::default().fields("data.x=y")).await.unwrap_err();
        assert_eq!(api_error(unknown), (400, "BadRequest".into()));

        // A watch with a selector: leaving it is a DELETED, entering an ADDED.
        let rv = fake.resource_version().to_string();
        let mut events = api
            .watch(&WatchParams::default().labels("app=web"), &rv)
            .await
            .unwrap()
            .boxed();
        for (name, app) in [("c", "web"), ("a", "db"), ("b", "web")] {
            api.patch(name, &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "labels": { "app": app } } })))
                .await
                .unwrap();
        }
        api.patch("b", &PatchParams::default(), &Patch::Merge(json!({ "data": { "x": "y" } })))
            .await
            .unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            match events.try_next().await.unwrap().unwrap() {
                WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.name_any())),
                WatchEvent::Modified(o) => seen.push(format!("MODIFIED {}", o.name_any())),
                WatchEvent::Deleted(o) => {
                    // The object as it was, with the new resourceVersion.
                    assert_eq!(o.labels()["app"], "web");
                    seen.push(format!("DELETED {}", o.name_any()));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, ["ADDED c", "DELETED a", "MODIFIED b"]);
    })
    .await;
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_the_last_is_removed() {
    within(async {
        let fake = FakeApi::new();
        fake.register_crd(&widget_crd());
        let api: Api<DynamicObject> =
            Api::namespaced_with(fake.client(), "default", &widget_resource());
        let mut object = widget("held", 1);
        object.metadata.finalizers = Some(vec!["example.com/cleanup".into()]);
        api.create(&PostParams::default(), &object).await.unwrap();
        let rv = fake.resource_version().to_string();
        let mut events = api
            .watch(&WatchParams::default(), &rv)
            .await
            .unwrap()
            .boxed();

        let marked = api.delete("held", &DeleteParams::default()).await.unwrap();
        let marked = marked.left().expect("the object, marked");
        assert!(marked.metadata.deletion_timestamp.is_some());
        assert_eq!(marked.metadata.generation, Some(2));
        assert!(api.get("held").await.is_ok(), "still there");
        // Deleting again changes nothing.
        let again = api
            .delete("held", &DeleteParams::default())
            .await
            .unwrap()
            .left()
            .unwrap();
        assert_eq!(again.resource_version(), marked.resource_version());
        let added = api
            .patch(
                "held",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({ "metadata": { "finalizers": ["example.com/cleanup", "other/x"] } }),
                ),
            )
            .await
            .unwrap_err();
        assert_eq!(api_error(added), (422, "Invalid".into()));

        api.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
        )
        .await
        .unwrap();
        assert_eq!(api_error(api.get("held").await.unwrap_err()).0, 404);
        let mut kinds = Vec::new();
        while kinds.len() < 2 {
            kinds.push(match events.try_next().await.unwrap().unwrap() {
                WatchEvent::Modified(_) => "MODIFIED",
                WatchEvent::Deleted(_) => "DELETED",
                other => panic!("{other:?}"),
            });
        }
        assert_eq!(kinds, ["MODIFIED", "DELETED"]);
    })
    .await;
}

#[tokio::test]
async fn pages_come_from_one_snapshot_until_it_is_compacted() {
    within(async {
        let fake = FakeApi::new();
        for i in 0..5 {
            fake.create_typed(&config_map(&format!("m{i}"), &[], &[]))
                .unwrap();
        }
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        let first = api.list(&ListParams::default().limit(2)).await.unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.metadata.remaining_item_count, Some(3));
        let token = first.metadata.continue_.clone().unwrap();
        // A deletion between pages: the next page still shows the snapshot.
        fake.delete("v1", "ConfigMap", Some("default"), "m3")
            .unwrap();
        let second = api
            .list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .unwrap();
        let names: Vec<String> = second.items.iter().map(ResourceExt::name_any).collect();
        assert_eq!(names, ["m2", "m3"]);
        assert_eq!(
            second.metadata.resource_version,
            first.metadata.resource_version
        );
        let token = second.metadata.continue_.clone().unwrap();
        fake.compact();
        let expired = api
            .list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .unwrap_err();
        assert_eq!(api_error(expired), (410, "Expired".into()));
        // A watcher pages through many objects.
        for i in 0..30 {
            fake.create_typed(&config_map(&format!("n{i:02}"), &[], &[]))
                .unwrap();
        }
        let (store, writer) = reflector::store();
        let stream = watcher(api, watcher::Config::default().page_size(7)).reflect(writer);
        tokio::spawn(async move {
            let _ = stream.for_each(|_| async {}).await;
        });
        store.wait_until_ready().await.unwrap();
        assert_eq!(store.state().len(), 34);
        assert_eq!(fake.count(Verb::List), 3 + 5);
    })
    .await;
}

#[tokio::test]
async fn faults_fail_delay_hang_and_disconnect_matching_requests() {
    within(async {
        let fake = FakeApi::new();
        let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
        fake.inject(
            FaultRule::new(Fault::internal_error())
                .verb(Verb::Create)
                .times(2),
        );
        for _ in 0..2 {
            let error = api
                .create(&PostParams::default(), &config_map("a", &[], &[]))
                .await
                .unwrap_err();
            assert_eq!(api_error(error), (500, "InternalError".into()));
        }
        api.create(&PostParams::default(), &config_map("a", &[], &[]))
            .await
            .unwrap();
        assert_eq!(fake.count(Verb::Create), 3);

        fake.inject(
            FaultRule::new(Fault::Disconnect)
                .method(http::Method::GET)
                .path_contains("/configmaps/a")
                .times(1),
        );
        assert!(matches!(api.get("a").await, Err(kube::Error::Service(_))));
        assert!(api.get("a").await.is_ok());

        fake.inject(FaultRule::new(Fault::Hang).verb(Verb::Get).times(1));
        let hung = tokio::time::timeout(Duration::from_millis(200), api.get("a")).await;
        assert!(hung.is_err(), "the request hangs");
        assert!(api.get("a").await.is_ok());

        fake.inject(
            FaultRule::new(Fault::Delay(Duration::from_millis(100)))
                .verb(Verb::Get)
                .times(1),
        );
        let started = std::time::Instant::now();
        assert!(api.get("a").await.is_ok());
        assert!(started.elapsed() >= Duration::from_millis(100));

        fake.inject(
            FaultRule::new(Fault::status(403, "Forbidden", "no")).query_contains("labelSelector"),
        );
        let forbidden = api
            .list(&ListParams::default().labels("x=y"))
            .await
            .unwrap_err();
        assert_eq!(api_error(forbidden), (403, "Forbidden".into()));
        assert!(api.list(&ListParams::default()).await.is_ok());
        fake.clear_faults();
        assert!(api.list(&ListParams::default().labels("x=y")).await.is_ok());

        fake.inject(FaultRule::new(Fault::watch_gone()).times(1));
        let mut events = api
            .watch(&WatchParams::default(), "0")
            .await
            .unwrap()
            .boxed();
        assert!(
            matches!(events.try_next().await.unwrap(), Some(WatchEvent::Error(s)) if s.code == 410)
        );

        // A watch's own timeout ends it.
        let started = std::time::Instant::now();
        let events = api
            .watch(
                &WatchParams::default().timeout(1),
                &fake.resource_version().to_string(),
            )
            .await
            .unwrap();
        assert_eq!(events.count().await, 0);
        assert!(started.elapsed() >= Duration::from_millis(900));
    })
    .await;
}

#[tokio::test]
async fn leases_events_and_the_event_recorder_work_as_ordinary_resources() {
    within(async {
        let fake = FakeApi::new();
        let client: Client = fake.client_in("ns");
        let leases: Api<Lease> = Api::default_namespaced(client.clone());
        let mut lease = Lease::default();
        lease.metadata.name = Some("leader".into());
        lease.spec = Some(Default::default());
        let created = leases.create(&PostParams::default(), &lease).await.unwrap();
        let mut renewed = created.clone();
        renewed.spec.as_mut().unwrap().holder_identity = Some("me".into());
        leases
            .replace("leader", &PostParams::default(), &renewed)
            .await
            .unwrap();
        let stale = leases
            .replace("leader", &PostParams::default(), &renewed)
            .await
            .unwrap_err();
        assert_eq!(api_error(stale).0, 409);

        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "test".into(),
                instance: None,
            },
        );
        let mut namespace = Namespace::default();
        namespace.metadata.name = Some("ns".into());
        namespace.metadata.uid = Some("u".into());
        let event = Event {
            type_: EventType::Warning,
            reason: "Because".into(),
            note: Some("a note".into()),
            action: "Test".into(),
            secondary: None,
        };
        recorder
            .publish(&event, &namespace.object_ref(&()))
            .await
            .unwrap();
        // About a cluster-scoped object: the Event goes to `default`.
        let events: Vec<EventsV1> = fake.list_typed(None);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].metadata.namespace.as_deref(), Some("default"));
        assert_eq!(events[0].reason.as_deref(), Some("Because"));
        let core = fake.create(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": { "name": "e", "namespace": "ns" },
            "involvedObject": { "kind": "Pod", "name": "p" }, "reason": "R",
        }));
        assert!(core.is_ok());
        let core_events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, "ns");
        let by_object = core_events
            .list(&ListParams::default().fields("involvedObject.name=p"))
            .await
            .unwrap();
        assert_eq!(by_object.items.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn direct_helpers_and_typed_registration() {
    within(async {
        let fake = FakeApi::new();
        fake.register(ResourceType::new("example.com", "v1", "Gadget", "gadgets", false).with_generation());
        let gadget = fake
            .create(json!({ "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": { "name": "g" }, "spec": { "a": 1 } }))
            .unwrap();
        assert!(gadget["metadata"]["namespace"].is_null(), "cluster scoped");
        assert_eq!(gadget["metadata"]["generation"], 1);
        let patched = fake
            .patch("example.com/v1", "Gadget", None, "g", &json!({ "spec": { "a": 2 } }))
            .unwrap();
        assert_eq!(patched["metadata"]["generation"], 2);
        let replaced = fake
            .replace(json!({ "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": { "name": "g" }, "spec": { "a": 3 } }))
            .unwrap();
        assert_eq!(replaced["metadata"]["generation"], 3);
        assert_eq!(fake.list("example.com/v1", "Gadget", None).len(), 1);
        let api: Api<DynamicObject> = Api::all_with(
            fake.client(),
            &ApiResource {
                group: "example.com".into(),
                version: "v1".into(),
                api_version: "example.com/v1".into(),
                kind: "Gadget".into(),
                plural: "gadgets".into(),
            },
        );
        assert_eq!(api.get("g").await.unwrap().data["spec"]["a"], 3);
        fake.delete("example.com/v1", "Gadget", None, "g").unwrap();
        assert!(fake.get("example.com/v1", "Gadget", None, "g").is_none());
        assert_eq!(fake.count(Verb::Get), 1, "helpers make no requests");
        // An unknown path is a 404 like the server's.
        let unknown: Api<DynamicObject> = Api::all_with(
            fake.client(),
            &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk("nope.io", "v1", "Thing")),
        );
        assert_eq!(api_error(unknown.list(&ListParams::default()).await.unwrap_err()).0, 404);
        // Namespaces are required only when asked for.
        let strict = FakeApi::with_config(Config { require_namespaces: true, ..Config::default() });
        let error = strict.create_typed(&config_map("a", &[], &[])).unwrap_err();
        assert_eq!((error.code, error.reason.as_str()), (404, "NotFound"));
        strict
            .create(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "default" } }))
            .unwrap();
        assert!(strict.create_typed(&config_map("a", &[], &[])).is_ok());
        assert_eq!(strict.get_typed::<ConfigMap>(Some("default"), "a").unwrap().name_any(), "a");
    })
    .await;
}
