//! Shutting down on SIGTERM or SIGINT, for the binaries (`xcc-responder`
//! and `xcc-controller`).
//!
//! The handlers are installed when [`on_signal`] is called, not when the
//! future it returns is first polled: a process that is ready (its admin
//! endpoint answers) before its shutdown future has run once would
//! otherwise be ended by a SIGTERM in between with the default action,
//! uncleanly, as a pod stopped right after it became ready is.

use std::future::Future;
use std::pin::Pin;

/// Installs handlers for SIGTERM and SIGINT now, and returns a future that
/// completes on the first of them (logged). Call it within a Tokio runtime,
/// before the process can be seen ready. Where the handlers cannot be
/// installed, a warning says so and Ctrl-C alone is waited for.
pub fn on_signal() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut interrupt)) => {
                return Box::pin(async move {
                    tokio::select! {
                        _ = term.recv() => tracing::info!("SIGTERM"),
                        _ = interrupt.recv() => tracing::info!("SIGINT"),
                    }
                });
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot install the SIGTERM handler; only Ctrl-C stops");
            }
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sent_before_the_future_is_polled_is_not_lost() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let shutdown = on_signal();
            // SIGINT to this process, before the future has run once: with
            // the handler installed lazily, this would end the test binary.
            let _ = std::process::Command::new("kill")
                .args(["-INT", &std::process::id().to_string()])
                .status()
                .expect("kill runs");
            tokio::time::timeout(std::time::Duration::from_secs(10), shutdown)
                .await
                .expect("the signal completes the future");
        });
    }
}
