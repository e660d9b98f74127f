//! Leader election for `gateways`: replicas compete for a `Lease`
//! (coordination.k8s.io/v1) through `kube-lease-manager`; only the holder
//! runs the controller, so two replicas never write the same records. A
//! replica that loses the lease stops its controller and competes again;
//! one that shuts down releases the lease, so the other takes over at once
//! instead of waiting for it to expire.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};

use crate::error::Error;

/// How to take part in the election.
#[derive(Clone, Debug)]
pub struct LeaseOptions {
    /// The Lease's namespace (the controller's own).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a holder's claim lasts without renewal.
    pub duration: Duration,
    /// How long before expiry the holder renews.
    pub grace: Duration,
}

/// Runs `controller` while this replica holds the lease, until `shutdown`
/// completes. `controller` gets a future that completes when it must stop
/// (shutdown, or the lease lost); it is started again on the next win.
pub async fn run_as_leader<F, Fut>(
    client: Client,
    options: LeaseOptions,
    shutdown: impl Future<Output = ()>,
    mut controller: F,
) -> Result<(), Error>
where
    F: FnMut(tokio::sync::watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let params = LeaseParams::new(
        options.identity.clone(),
        options.duration.as_secs().max(2),
        options
            .grace
            .as_secs()
            .clamp(1, options.duration.as_secs().max(2) - 1),
    );
    let manager = LeaseManagerBuilder::new(client, &options.name)
        .with_namespace(&options.namespace)
        .with_parameters(params)
        .build()
        .await
        .map_err(|e| Error::Election(e.to_string()))?;
    let (mut leading, election) = manager.watch().await;
    tokio::pin!(shutdown);
    let result = loop {
        // Wait to lead.
        while !*leading.borrow_and_update() {
            tokio::select! {
                changed = leading.changed() => if changed.is_err() {
                    return Err(Error::Election("the election task ended".to_owned()));
                },
                () = &mut shutdown => {
                    drop(leading);
                    let _ = election.await;
                    return Ok(());
                }
            }
        }
        tracing::info!(identity = %options.identity, lease = %options.name, "leading");
        // `controller` stops when the watched value turns false.
        let (stop, stopped) = tokio::sync::watch::channel(true);
        let run = controller(stopped);
        tokio::pin!(run);
        let lost = tokio::select! {
            result = &mut run => break result,
            () = &mut shutdown => false,
            _ = async {
                while *leading.borrow_and_update() {
                    if leading.changed().await.is_err() {
                        break;
                    }
                }
            } => true,
        };
        let _ = stop.send(false);
        let result = run.await;
        if !lost {
            break result;
        }
        tracing::warn!(identity = %options.identity, "lost the lease; stopped, competing again");
        result?;
    };
    // Dropping the receiver makes the election task release the lease.
    drop(leading);
    let _ = election.await;
    result
}

/// A future that completes when `stop` turns false (or its sender goes).
pub async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    while *stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
