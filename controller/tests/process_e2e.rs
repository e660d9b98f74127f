//! The whole path, as processes: a real kube-apiserver 1.20 → the built
//! `xcc-controller records` binary → its snapshot file → the
//! `xcc-responder` binary → `dig`. A record is created, changed and deleted;
//! records the controller rejects get a Rejected status while the valid ones
//! keep answering. The time from each API write to `dig` seeing its effect
//! is measured and printed; only a hang fails the test (speed is for the
//! benchmarks: `benches/propagation.rs` measures the rebuild-to-responder
//! part of the path).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use xcc_controller::api::{DNSRecord, RecordState, RejectReason};

use crate::apiserver::{
    address_record, create_record, on_path, shared_env, skip, statuses, wait_for,
};
use crate::processes::{
    Answer, Process, answer, dig, free_port, http_get, metric, responder_binary,
};

/// The longest the whole path may take for one change: catches a hang,
/// not a slow machine (the usual figure is a fraction of a second).
const PROPAGATION_LIMIT: Duration = Duration::from_secs(15);

/// Polls `dig` until it gives `expected`, for at most [`PROPAGATION_LIMIT`];
/// returns the time since `since`.
async fn until_dig(port: u16, name: &str, expected: &Answer, since: Instant) -> Duration {
    wait_for(
        &format!("dig {name} to answer {expected:?}"),
        PROPAGATION_LIMIT,
        || async {
            let got = tokio::task::block_in_place(|| dig(port, name));
            (got.as_ref() == Some(expected)).then(|| since.elapsed())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_snapshot_responder_dig() {
    const TEST: &str = "process_e2e::controller_snapshot_responder_dig";
    if !on_path("dig") {
        skip::<()>(
            TEST,
            "dig is not installed (apt-get install bind9-dnsutils)",
        );
        return;
    }
    let Some(env) = shared_env("process-e2e").await else {
        return;
    };
    let responder = tokio::task::block_in_place(responder_binary);
    let client = &env.client;
    let ns = &env.namespace;
    let api: Api<DNSRecord> = Api::namespaced(client.clone(), ns);
    create_record(
        client,
        ns,
        &address_record("keep", "keep.e2e.xcc.test", &["10.5.0.1"]),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("records.snapshot");
    let admin = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let controller = Process::spawn(
        "xcc-controller records",
        Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
            .args(["records", "--namespace", ns, "--zone", "xcc.test."])
            .arg("--out")
            .arg(&snapshot)
            .args(["--admin-listen", &admin.to_string()])
            .env("KUBECONFIG", env.instance.kubeconfig())
            .env("RUST_LOG", "info"),
        dir.path().join("controller.log"),
    );
    wait_for(
        "the controller's /readyz (first snapshot)",
        Duration::from_secs(30),
        || async {
            let got = tokio::task::block_in_place(|| http_get(admin, "/readyz"));
            (got.is_some_and(|(code, _)| code == 200) && snapshot.is_file()).then_some(())
        },
    )
    .await;

    let dns_port = free_port();
    let responder = Process::spawn(
        "xcc-responder",
        Command::new(&responder)
            .arg("--records")
            .arg(&snapshot)
            .args([
                "--listen",
                &format!("127.0.0.1:{dns_port}"),
                "--zone",
                "xcc.test.",
                "--admin-listen",
                "off",
            ]),
        dir.path().join("responder.log"),
    );
    let keep = answer("NOERROR", &["10.5.0.1"]);
    until_dig(dns_port, "keep.e2e.xcc.test", &keep, Instant::now()).await;

    let mut figures: Vec<(&str, Duration)> = Vec::new();

    // Created.
    let written = Instant::now();
    create_record(
        client,
        ns,
        &address_record("moving", "moving.e2e.xcc.test", &["10.5.0.2"]),
    )
    .await;
    let took = until_dig(
        dns_port,
        "moving.e2e.xcc.test",
        &answer("NOERROR", &["10.5.0.2"]),
        written,
    )
    .await;
    figures.push(("create", took));

    // Changed.
    let written = Instant::now();
    api.patch(
        "moving",
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": { "addresses": ["10.5.0.3", "10.5.0.4"] } })),
    )
    .await
    .unwrap();
    let took = until_dig(
        dns_port,
        "moving.e2e.xcc.test",
        &answer("NOERROR", &["10.5.0.3", "10.5.0.4"]),
        written,
    )
    .await;
    figures.push(("change", took));

    // Deleted.
    let written = Instant::now();
    api.delete("moving", &DeleteParams::default())
        .await
        .unwrap();
    let took = until_dig(
        dns_port,
        "moving.e2e.xcc.test",
        &answer("NXDOMAIN", &[]),
        written,
    )
    .await;
    figures.push(("delete", took));

    // Rejected: outside the zone, and a second owner of keep's name with
    // other data. Both get Rejected statuses; keep answers as before.
    create_record(
        client,
        ns,
        &address_record("outside", "www.example.org", &["10.5.0.8"]),
    )
    .await;
    create_record(
        client,
        ns,
        &address_record("keep-copy", "keep.e2e.xcc.test", &["10.5.0.9"]),
    )
    .await;
    let all = wait_for("two Rejected statuses", Duration::from_secs(20), || async {
        let all = statuses(client, ns).await;
        (all.values()
            .filter(|s| s.state == Some(RecordState::Rejected))
            .count()
            == 2)
            .then_some(all)
    })
    .await;
    assert_eq!(all["outside"].reason, Some(RejectReason::OutsideZone));
    assert_eq!(all["keep-copy"].reason, Some(RejectReason::DuplicateOwner));
    assert_eq!(all["keep"].state, Some(RecordState::Accepted));
    assert_eq!(
        tokio::task::block_in_place(|| dig(dns_port, "keep.e2e.xcc.test")),
        Some(keep)
    );
    assert_eq!(
        tokio::task::block_in_place(|| dig(dns_port, "www.example.org")).map(|a| a.status),
        Some("REFUSED".to_owned())
    );
    // And a valid record created next to the rejected ones is served.
    let written = Instant::now();
    create_record(
        client,
        ns,
        &address_record("later", "later.e2e.xcc.test", &["10.5.0.5"]),
    )
    .await;
    let took = until_dig(
        dns_port,
        "later.e2e.xcc.test",
        &answer("NOERROR", &["10.5.0.5"]),
        written,
    )
    .await;
    figures.push(("create beside rejected", took));

    // Five snapshots: the first, create, change, delete, create beside
    // the rejected. The controller counts one just after renaming it into
    // place, so the responder can answer from it before it is counted.
    let metrics = wait_for(
        "five publishes counted",
        Duration::from_secs(10),
        || async {
            let (code, metrics) = tokio::task::block_in_place(|| http_get(admin, "/metrics"))
                .expect("/metrics answers");
            assert_eq!(code, 200);
            metric(&metrics, "xcc_records_publishes_total")
                .is_some_and(|n| n >= 5.0)
                .then_some(metrics)
        },
    )
    .await;
    assert_eq!(metric(&metrics, "xcc_records_rejected"), Some(2.0));
    assert_eq!(metric(&metrics, "xcc_records_accepted"), Some(2.0));

    let summary: Vec<String> = figures
        .iter()
        .map(|(what, took)| format!("{what} {:.0} ms", took.as_secs_f64() * 1000.0))
        .collect();
    eprintln!(
        "process_e2e: API write → dig sees it (controller debounce 100 ms): {}",
        summary.join(", ")
    );

    tokio::task::block_in_place(|| {
        controller.terminate();
        responder.terminate();
    });
}
