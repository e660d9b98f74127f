//! `xcc_controller::records::run::run` in-process against a real
//! kube-apiserver 1.20, publishing to a snapshot in a temporary directory:
//! the first snapshot comes only after the initial list and holds it all,
//! statuses and Events are written, changes and deletions are published
//! with a higher version, and nothing is written when nothing changed.

use std::time::Duration;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use xcc_controller::api::{DNSRecord, RecordState, RejectReason};
use xcc_controller::records::run::FIELD_MANAGER;

use crate::apiserver::{
    InProcessController, address_record, addresses, create_record, events_about, ips,
    read_snapshot, shared_env, snapshot_identity, statuses, wait_for,
};

/// Long enough for any wait here on a busy 2-core machine; the usual
/// figure is a fraction of a second.
const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_snapshot_holds_the_whole_initial_list() {
    let Some(env) = shared_env("initial-list").await else {
        return;
    };
    const COUNT: usize = 50;
    for i in 0..COUNT {
        create_record(
            &env.client,
            &env.namespace,
            &address_record(
                &format!("r{i:02}"),
                &format!("host{i:02}.initial.xcc.test"),
                &[&format!("10.1.0.{}", i + 1)],
            ),
        )
        .await;
    }

    let controller = InProcessController::start(env.client.clone(), &env.namespace);
    // The first snapshot that appears is complete: never a partial table.
    let first = controller.first_snapshot().await;
    for i in 0..COUNT {
        let name = format!("host{i:02}.initial.xcc.test");
        assert_eq!(
            addresses(&first, &name),
            Some(ips(&[&format!("10.1.0.{}", i + 1)])),
            "{name} in the first snapshot"
        );
    }
    // 50 A records + the apex SOA and NS.
    assert_eq!(first.record_count(), COUNT + 2);
    assert!(first.version() > 0);

    // Every record gets an Accepted status for its generation.
    // (The counter goes up when the API server's answer is in: after the
    // status is visible.) The wait also covers the second pass, which the
    // status writes' own watch events cause.
    let passes = &controller.metrics.rebuild_seconds;
    let accepted = wait_for("50 Accepted statuses", LIMIT, || async {
        let all = statuses(&env.client, &env.namespace).await;
        (all.values()
            .all(|s| s.state == Some(RecordState::Accepted) && s.observed_generation == Some(1))
            && controller.counter(|m| &m.status_writes) >= COUNT as u64
            && passes.count() >= 2)
            .then_some(all)
    })
    .await;
    assert_eq!(accepted.len(), COUNT);
    // Each status written once, give or take a few: a pass that starts
    // before the watch event of a status just written has reached the
    // store writes it again (a no-op on the server, which sends no event
    // for it). A controller that rewrote the statuses it has already seen
    // (or wrote in a loop) would have written all of them again in its
    // second pass.
    let writes = controller.counter(|m| &m.status_writes);
    assert!(
        writes < 2 * COUNT as u64,
        "{writes} status writes for {COUNT} records"
    );
    for status in accepted.values() {
        assert_eq!(status.reason, None);
        assert_eq!(status.message, None);
    }
    // The status writes themselves (watch events) changed nothing served:
    // still one snapshot.
    assert_eq!(controller.counter(|m| &m.publishes), 1);
    assert_eq!(controller.counter(|m| &m.records_seen), COUNT as u64);
    assert_eq!(controller.counter(|m| &m.records_accepted), COUNT as u64);
    assert_eq!(
        read_snapshot(&controller.out).unwrap().version(),
        first.version()
    );
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_records_get_a_status_and_an_event_and_the_rest_is_served() {
    let Some(env) = shared_env("rejections").await else {
        return;
    };
    let client = &env.client;
    let ns = &env.namespace;
    create_record(
        client,
        ns,
        &address_record("valid", "valid.rej.xcc.test", &["10.2.0.1"]),
    )
    .await;
    create_record(
        client,
        ns,
        &address_record("outside", "www.example.org", &["10.2.0.2"]),
    )
    .await;
    // Two objects, one name, different addresses: the older one (or, created
    // within the same second, the first by name) keeps it.
    create_record(
        client,
        ns,
        &address_record("dup-a", "dup.rej.xcc.test", &["10.2.0.3"]),
    )
    .await;
    create_record(
        client,
        ns,
        &address_record("dup-b", "dup.rej.xcc.test", &["10.2.0.4"]),
    )
    .await;

    let controller = InProcessController::start(client.clone(), ns);
    let table = controller.first_snapshot().await;
    assert_eq!(
        addresses(&table, "valid.rej.xcc.test"),
        Some(ips(&["10.2.0.1"]))
    );
    assert_eq!(
        addresses(&table, "dup.rej.xcc.test"),
        Some(ips(&["10.2.0.3"])),
        "the older object keeps the name; the addresses are not merged"
    );
    assert_eq!(addresses(&table, "www.example.org"), None);

    let all = wait_for("four statuses", LIMIT, || async {
        let all = statuses(client, ns).await;
        (all.values().filter(|s| s.state.is_some()).count() == 4).then_some(all)
    })
    .await;
    let check = |name: &str, state: RecordState, reason: Option<RejectReason>| {
        let status = &all[name];
        assert_eq!(status.state, Some(state), "{name}: {status:?}");
        assert_eq!(status.reason, reason, "{name}: {status:?}");
        assert_eq!(status.observed_generation, Some(1), "{name}");
        assert_eq!(
            status.message.is_some(),
            reason.is_some(),
            "{name}: a message exactly when rejected: {status:?}"
        );
    };
    check("valid", RecordState::Accepted, None);
    check("dup-a", RecordState::Accepted, None);
    check(
        "outside",
        RecordState::Rejected,
        Some(RejectReason::OutsideZone),
    );
    check(
        "dup-b",
        RecordState::Rejected,
        Some(RejectReason::DuplicateOwner),
    );
    let message = all["dup-b"].message.as_deref().unwrap();
    assert!(
        message.contains("dup-a"),
        "the message names the older object: {message}"
    );

    // One Warning Event per rejected object, with the reason.
    for (name, reason) in [("outside", "OutsideZone"), ("dup-b", "DuplicateOwner")] {
        let events = wait_for(&format!("an Event about {name}"), LIMIT, || async {
            let events = events_about(client, ns, name).await;
            (!events.is_empty()).then_some(events)
        })
        .await;
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        let event = &events[0];
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.reason.as_deref(), Some(reason));
        assert_eq!(event.action.as_deref(), Some("Validate"));
        assert_eq!(event.reporting_controller.as_deref(), Some(FIELD_MANAGER));
        let regarding = event.regarding.as_ref().unwrap();
        assert_eq!(regarding.kind.as_deref(), Some("DNSRecord"));
        assert!(event.note.as_deref().is_some_and(|n| !n.is_empty()));
    }
    for name in ["valid", "dup-a"] {
        assert!(events_about(client, ns, name).await.is_empty(), "{name}");
    }
    assert_eq!(controller.counter(|m| &m.records_rejected), 2);
    assert_eq!(controller.counter(|m| &m.records_accepted), 2);

    // Deleting the older duplicate hands the name to the younger one.
    let api: Api<DNSRecord> = Api::namespaced(client.clone(), ns);
    api.delete("dup-a", &DeleteParams::default()).await.unwrap();
    controller
        .snapshot_where("dup-b's address served", LIMIT, |t| {
            addresses(t, "dup.rej.xcc.test") == Some(ips(&["10.2.0.4"]))
        })
        .await;
    wait_for("dup-b Accepted", LIMIT, || async {
        let status = statuses(client, ns).await.remove("dup-b")?;
        (status.state == Some(RecordState::Accepted) && status.reason.is_none()).then_some(())
    })
    .await;
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_and_deletions_are_published_and_no_op_updates_are_not() {
    let Some(env) = shared_env("changes").await else {
        return;
    };
    let client = &env.client;
    let ns = &env.namespace;
    let api: Api<DNSRecord> = Api::namespaced(client.clone(), ns);
    create_record(
        client,
        ns,
        &address_record("moving", "moving.chg.xcc.test", &["10.3.0.1"]),
    )
    .await;
    create_record(
        client,
        ns,
        &address_record("leaving", "leaving.chg.xcc.test", &["10.3.0.2"]),
    )
    .await;
    create_record(
        client,
        ns,
        &address_record("staying", "staying.chg.xcc.test", &["10.3.0.3"]),
    )
    .await;

    let controller = InProcessController::start(client.clone(), ns);
    let first = controller.first_snapshot().await;
    let v1 = first.version();
    assert!(addresses(&first, "leaving.chg.xcc.test").is_some());

    // A change: new addresses, a higher version.
    api.patch(
        "moving",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "addresses": ["10.3.0.11", "fd00::11"] } })),
    )
    .await
    .unwrap();
    let changed = controller
        .snapshot_where("the new addresses of moving", LIMIT, |t| {
            addresses(t, "moving.chg.xcc.test") == Some(ips(&["10.3.0.11", "fd00::11"]))
        })
        .await;
    let v2 = changed.version();
    assert!(v2 > v1, "version {v2} after {v1}");
    // The change's way from its watch event to the snapshot was measured
    // (the initial list is not a change), and took at least the debounce.
    // (The metric is recorded just after the write the test saw.)
    let propagation = &controller.metrics.change_to_publish_seconds;
    wait_for("change-to-publish measured", LIMIT, || async {
        (propagation.count() >= 1).then_some(())
    })
    .await;
    assert!(propagation.sum() / propagation.count() as f64 >= 0.001);
    wait_for("moving: observedGeneration 2", LIMIT, || async {
        let status = statuses(client, ns).await.remove("moving")?;
        (status.observed_generation == Some(2) && status.state == Some(RecordState::Accepted))
            .then_some(())
    })
    .await;

    // A deletion: the name is gone, the others stay.
    api.delete("leaving", &DeleteParams::default())
        .await
        .unwrap();
    let after_delete = controller
        .snapshot_where("leaving gone", LIMIT, |t| {
            addresses(t, "leaving.chg.xcc.test").is_none()
        })
        .await;
    let v3 = after_delete.version();
    assert!(v3 > v2, "version {v3} after {v2}");
    // The file is renamed into place before it is counted: the counters
    // read below must include it.
    controller.counted(&after_delete).await;
    assert_eq!(
        addresses(&after_delete, "staying.chg.xcc.test"),
        Some(ips(&["10.3.0.3"]))
    );

    // Nothing served changes: a label on one record. To know the controller
    // has seen it, spoil another record's status afterwards and wait until
    // the controller repairs it: events arrive in order, so that rebuild
    // ran after the label was in its store.
    wait_for("statuses settled", LIMIT, || async {
        let all = statuses(client, ns).await;
        (all.len() == 2 && all.values().all(|s| s.state == Some(RecordState::Accepted)))
            .then_some(())
    })
    .await;
    let before = snapshot_identity(&controller.out);
    let publishes = controller.counter(|m| &m.publishes);
    let status_writes = controller.counter(|m| &m.status_writes);
    api.patch(
        "staying",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "labels": { "touched": "yes" } } })),
    )
    .await
    .unwrap();
    api.patch_status(
        "moving",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "state": "Rejected", "reason": "InvalidData", "message": "spoiled by the test" } })),
    )
    .await
    .unwrap();
    wait_for("the spoiled status repaired", LIMIT, || async {
        let status = statuses(client, ns).await.remove("moving")?;
        (status.state == Some(RecordState::Accepted)
            && status.reason.is_none()
            && status.message.is_none()
            && controller.counter(|m| &m.status_writes) > status_writes)
            .then_some(())
    })
    .await;
    assert_eq!(
        snapshot_identity(&controller.out),
        before,
        "the snapshot was rewritten although nothing served changed"
    );
    assert_eq!(controller.counter(|m| &m.publishes), publishes);
    controller.stop().await;
}
