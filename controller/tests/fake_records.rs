//! `xcc_controller::records::run::run` in-process against the stateful fake
//! API of `xcc-fake-api` (kube's client over `kube::Client::new(fake, ns)`):
//! the same flow as `k8s_records` (records published with their addresses,
//! `Accepted`/`Rejected` statuses and Events, a change and a delete), in
//! a fraction of a second and without a real API server, plus the faults
//! only a fake produces on demand (a relist after 410, failed status
//! writes). The CRDs are created through the fake's API, as on a real
//! server. Each test is bounded by a timeout.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::ResourceExt;
use serde_json::json;
use xcc_controller::api::{DNSRecord, DNSRecordStatus, RecordState, RejectReason};
use xcc_controller::records::run::FIELD_MANAGER;
use xcc_fake_api::{FakeApi, Fault, FaultRule, Gate, Verb};

use crate::apiserver::{
    InProcessController, address_record, addresses, apply_crds, ips, snapshot_identity, wait_for,
};

const NS: &str = "fake";
const API_VERSION: &str = "connectivity.tanzu.vmware.com/v1alpha1";
/// Every test here must finish within this.
const TEST_LIMIT: Duration = Duration::from_secs(30);
/// Any single wait.
const LIMIT: Duration = Duration::from_secs(10);

async fn within(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("the test finishes in time");
}

/// A fake with the CRDs of `manifests/crds/` created through its API.
async fn fake_with_crds() -> FakeApi {
    let fake = FakeApi::new();
    apply_crds(&fake.client()).await.expect("the CRDs apply");
    fake
}

fn create(fake: &FakeApi, name: &str, owner: &str, addresses: &[&str]) -> DNSRecord {
    let mut record = address_record(name, owner, addresses);
    record.metadata.namespace = Some(NS.into());
    fake.create_typed(&record)
        .unwrap_or_else(|e| panic!("creating {name}: {e}"))
}

fn status(fake: &FakeApi, name: &str) -> Option<DNSRecordStatus> {
    fake.get_typed::<DNSRecord>(Some(NS), name)?.status
}

fn events_about(fake: &FakeApi, name: &str) -> Vec<K8sEvent> {
    fake.list_typed::<K8sEvent>(Some(NS))
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_published_with_statuses_and_events() {
    within(async {
        let fake = fake_with_crds().await;
        create(&fake, "valid", "valid.fake.xcc.test", &["10.9.0.1"]);
        create(&fake, "outside", "www.example.org", &["10.9.0.2"]);
        // Same second, same name, different addresses: the first by name
        // keeps it.
        create(&fake, "dup-a", "dup.fake.xcc.test", &["10.9.0.3"]);
        create(&fake, "dup-b", "dup.fake.xcc.test", &["10.9.0.4"]);

        let controller = InProcessController::start(fake.client_in(NS), NS);
        let table = controller.first_snapshot().await;
        assert_eq!(
            addresses(&table, "valid.fake.xcc.test"),
            Some(ips(&["10.9.0.1"]))
        );
        assert_eq!(
            addresses(&table, "dup.fake.xcc.test"),
            Some(ips(&["10.9.0.3"]))
        );
        assert_eq!(addresses(&table, "www.example.org"), None);
        // Two A records (`outside` is rejected) + the apex SOA and NS.
        assert_eq!(table.record_count(), 4);

        wait_for("four statuses", LIMIT, || async {
            ["valid", "outside", "dup-a", "dup-b"]
                .iter()
                .all(|n| status(&fake, n).is_some_and(|s| s.state.is_some()))
                .then_some(())
        })
        .await;
        for (name, state, reason) in [
            ("valid", RecordState::Accepted, None),
            ("dup-a", RecordState::Accepted, None),
            (
                "outside",
                RecordState::Rejected,
                Some(RejectReason::OutsideZone),
            ),
            (
                "dup-b",
                RecordState::Rejected,
                Some(RejectReason::DuplicateOwner),
            ),
        ] {
            let status = status(&fake, name).unwrap();
            assert_eq!(status.state, Some(state), "{name}: {status:?}");
            assert_eq!(status.reason, reason, "{name}: {status:?}");
            assert_eq!(status.observed_generation, Some(1), "{name}");
            assert_eq!(status.message.is_some(), reason.is_some(), "{name}");
        }
        // One Warning Event per rejected record.
        for (name, reason) in [("outside", "OutsideZone"), ("dup-b", "DuplicateOwner")] {
            let events = wait_for(&format!("an Event about {name}"), LIMIT, || async {
                let events = events_about(&fake, name);
                (!events.is_empty()).then_some(events)
            })
            .await;
            assert_eq!(events.len(), 1, "{name}: {events:?}");
            assert_eq!(events[0].type_.as_deref(), Some("Warning"));
            assert_eq!(events[0].reason.as_deref(), Some(reason));
            assert_eq!(
                events[0].reporting_controller.as_deref(),
                Some(FIELD_MANAGER)
            );
        }
        assert!(events_about(&fake, "valid").is_empty());
        // The status writes went to the status subresource only, each
        // record's at least once. Not exactly once: a pass that starts
        // before the watch event of a status just written has reached the
        // store writes that status again (a no-op for the server, which
        // sends no event for it, so it does not go on); a record patched
        // more than twice would be a write loop. (That no pass rewrites
        // statuses it has seen is checked against the real server, in
        // k8s_records.)
        let requests = fake.requests();
        let patches: Vec<&str> = requests
            .iter()
            .filter(|r| r.verb == Some(Verb::Patch))
            .map(|r| r.path.as_str())
            .collect();
        for name in ["valid", "outside", "dup-a", "dup-b"] {
            let path = format!("/namespaces/{NS}/dnsrecords/{name}/status");
            let times = patches.iter().filter(|p| p.ends_with(&path)).count();
            assert!((1..=2).contains(&times), "{name}: {times} status patches");
        }
        assert!(
            patches.iter().all(|p| p.ends_with("/status")),
            "a PATCH outside the status subresource: {patches:?}"
        );
        assert_eq!(fake.count(Verb::Update), 0);
        assert_eq!(controller.counter(|m| &m.publishes), 1);
        controller.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_and_a_delete_are_published_and_a_label_is_not() {
    within(async {
        let fake = fake_with_crds().await;
        create(&fake, "moving", "moving.fake.xcc.test", &["10.9.1.1"]);
        create(&fake, "leaving", "leaving.fake.xcc.test", &["10.9.1.2"]);
        let controller = InProcessController::start(fake.client_in(NS), NS);
        let v1 = controller.first_snapshot().await.version();

        fake.patch(
            API_VERSION,
            "DNSRecord",
            Some(NS),
            "moving",
            &json!({ "spec": { "addresses": ["10.9.1.11", "fd00::11"] } }),
        )
        .unwrap();
        let changed = controller
            .snapshot_where("moving's new addresses", LIMIT, |t| {
                addresses(t, "moving.fake.xcc.test") == Some(ips(&["10.9.1.11", "fd00::11"]))
            })
            .await;
        assert!(changed.version() > v1);
        wait_for("moving: observedGeneration 2", LIMIT, || async {
            status(&fake, "moving")
                .filter(|s| s.observed_generation == Some(2))
                .map(|_| ())
        })
        .await;

        fake.delete(API_VERSION, "DNSRecord", Some(NS), "leaving")
            .unwrap();
        let deleted = controller
            .snapshot_where("leaving gone", LIMIT, |t| {
                addresses(t, "leaving.fake.xcc.test").is_none()
            })
            .await;
        assert!(deleted.version() > changed.version());
        // The file is renamed into place before it is counted: read the
        // counters once they include it.
        controller.counted(&deleted).await;

        // A label changes nothing served: no new snapshot. To know the
        // controller saw it, spoil a status afterwards and wait for the
        // repair (events arrive in order).
        let before = snapshot_identity(&controller.out);
        let publishes = controller.counter(|m| &m.publishes);
        fake.patch(
            API_VERSION,
            "DNSRecord",
            Some(NS),
            "moving",
            &json!({ "metadata": { "labels": { "touched": "yes" } } }),
        )
        .unwrap();
        fake.patch_status(
            API_VERSION,
            "DNSRecord",
            Some(NS),
            "moving",
            &json!({ "status": { "state": "Rejected", "reason": "InvalidData", "message": "spoiled" } }),
        )
        .unwrap();
        wait_for("the spoiled status repaired", LIMIT, || async {
            status(&fake, "moving")
                .filter(|s| s.state == Some(RecordState::Accepted) && s.message.is_none())
                .map(|_| ())
        })
        .await;
        assert_eq!(snapshot_identity(&controller.out), before);
        assert_eq!(controller.counter(|m| &m.publishes), publishes);
        // The label did not change the generation.
        let moving = fake.get_typed::<DNSRecord>(Some(NS), "moving").unwrap();
        assert_eq!(moving.metadata.generation, Some(2));
        assert_eq!(moving.labels()["touched"], "yes");
        controller.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_watch_relists_and_failed_status_writes_are_retried() {
    within(async {
        let fake = fake_with_crds().await;
        create(&fake, "first", "first.fake.xcc.test", &["10.9.2.1"]);
        // The first two status writes fail.
        fake.inject(
            FaultRule::new(Fault::internal_error())
                .verb(Verb::Patch)
                .path_contains("/status")
                .times(2),
        );
        let controller = InProcessController::start(fake.client_in(NS), NS);
        controller.first_snapshot().await;
        // (The counter goes up when the fake's answer is in: after the
        // status is stored.)
        wait_for("the status written on a retry", LIMIT, || async {
            (status(&fake, "first").is_some_and(|s| s.state == Some(RecordState::Accepted))
                && controller.counter(|m| &m.status_writes) == 1)
                .then_some(())
        })
        .await;
        assert!(controller.counter(|m| &m.status_failures) >= 1);

        // The watch breaks; its next watch is held while a record is
        // created and the history compacted: that watch gets 410 Expired,
        // the watcher lists again and so sees the record.
        wait_for("the watch open", LIMIT, || async {
            (fake.open_watches() >= 1).then_some(())
        })
        .await;
        let lists = fake.count_matching(Verb::List, "/dnsrecords");
        let watches = fake.count_matching(Verb::Watch, "/dnsrecords");
        let gate = Gate::new();
        fake.inject(
            FaultRule::new(Fault::Hold(gate.clone()))
                .verb(Verb::Watch)
                .path_contains("/dnsrecords")
                .times(1),
        );
        assert_eq!(fake.break_watches_matching("/dnsrecords"), 1);
        wait_for("the watch requested again", LIMIT, || async {
            (fake.count_matching(Verb::Watch, "/dnsrecords") > watches).then_some(())
        })
        .await;
        create(&fake, "missed", "missed.fake.xcc.test", &["10.9.2.2"]);
        fake.compact();
        gate.open();
        controller
            .snapshot_where("the missed record", LIMIT, |t| {
                addresses(t, "missed.fake.xcc.test").is_some()
            })
            .await;
        assert_eq!(
            fake.count_matching(Verb::List, "/dnsrecords"),
            lists + 1,
            "one relist after the 410"
        );
        assert!(controller.counter(|m| &m.watch_errors) >= 1);
        wait_for("the missed record Accepted", LIMIT, || async {
            status(&fake, "missed")
                .filter(|s| s.state == Some(RecordState::Accepted))
                .map(|_| ())
        })
        .await;
        assert!(controller.is_running());
        controller.stop().await;
    })
    .await;
}
