//! The controller survives its API server going away: with the
//! kube-apiserver of a private instance killed (etcd and the port kept),
//! watch errors are counted, the controller keeps running and the snapshot
//! in place stays as it was (so the responder keeps serving it); once the
//! API server is back on the same port, a change made then is published.

use std::time::{Duration, Instant};

use xcc_controller::api::RecordState;

use crate::apiserver::{
    InProcessController, Instance, address_record, addresses, create_namespace, create_record, ips,
    read_snapshot, snapshot_identity, statuses, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_resumes_after_the_api_server_comes_back() {
    // Its own instance: stopping the shared one would disturb other tests.
    let Some(instance) =
        tokio::task::block_in_place(|| Instance::start("resilience", "xcc-ctl-resume"))
    else {
        return;
    };
    let client = instance.client().await;
    let ns = "resilience";
    create_namespace(&client, ns).await;
    create_record(
        &client,
        ns,
        &address_record("before", "before.res.xcc.test", &["10.4.0.1"]),
    )
    .await;
    let controller = InProcessController::start(client.clone(), ns);
    let first = controller.first_snapshot().await;
    assert_eq!(
        addresses(&first, "before.res.xcc.test"),
        Some(ips(&["10.4.0.1"]))
    );
    let in_place = snapshot_identity(&controller.out);
    let errors_before = controller.counter(|m| &m.watch_errors);

    // The API server crashes.
    instance.kill_apiserver().await;
    wait_for("a watch error counted", Duration::from_secs(30), || async {
        (controller.counter(|m| &m.watch_errors) > errors_before).then_some(())
    })
    .await;
    assert!(
        controller.is_running(),
        "the controller must not give up on watch errors"
    );
    assert_eq!(
        snapshot_identity(&controller.out),
        in_place,
        "the snapshot must stay in place while the API server is away"
    );
    let kept = read_snapshot(&controller.out).unwrap();
    assert_eq!(
        addresses(&kept, "before.res.xcc.test"),
        Some(ips(&["10.4.0.1"]))
    );

    // It comes back on the same port; a change made now is published.
    instance.resume().await;
    let resumed = Instant::now();
    create_record(
        &client,
        ns,
        &address_record("after", "after.res.xcc.test", &["10.4.0.2"]),
    )
    .await;
    // The watch retries with a backoff (0.8 s doubling, jittered, at most
    // 30 s); a watch that reaches the API server while it starts gets 503
    // with Retry-After: 10, which kube's client honours; then the watch
    // position is too old for the fresh watch cache (410 Expired) and the
    // watcher lists again. So allow for some seconds.
    let table = controller
        .snapshot_where(
            "the record made after the restart",
            Duration::from_secs(60),
            |t| addresses(t, "after.res.xcc.test").is_some(),
        )
        .await;
    eprintln!(
        "resilience: {} watch errors while the API server was away; change published {:.2} s after it was back",
        controller.counter(|m| &m.watch_errors),
        resumed.elapsed().as_secs_f64()
    );
    assert!(table.version() > in_place.1);
    assert_eq!(
        addresses(&table, "before.res.xcc.test"),
        Some(ips(&["10.4.0.1"]))
    );
    wait_for("after: Accepted", Duration::from_secs(20), || async {
        let status = statuses(&client, ns).await.remove("after")?;
        (status.state == Some(RecordState::Accepted)).then_some(())
    })
    .await;
    controller.stop().await;
    drop(instance);
}
