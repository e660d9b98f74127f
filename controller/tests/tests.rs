//! The integration tests of `xcc-controller`: one binary, one module per
//! theme.
//!
//! The `k8s_*`, `process_e2e` and `e2e_walkthrough` modules run against a
//! real kube-apiserver 1.20 started by `tests/k8s/apiserver.sh` (see
//! `apiserver`: one instance shared by the binary, a namespace per test,
//! private instances for the tests that restart their API server or need
//! several); they skip when kube-apiserver is not built, unless
//! `XCC_REQUIRE_TOOLS=1`. `process_e2e` and `e2e_walkthrough` run the
//! built binaries as processes (`processes`: child processes, `dig`);
//! `e2e_walkthrough` is the original walkthrough on one machine, driven
//! with `kubectl`, through `unbound`. `mock_faults` injects the faults a
//! real server will not produce on demand, through kube's client over a
//! mock service. `fake_records` runs the records controller against the
//! stateful fake API of `xcc-fake-api`, and `fake_vs_real` checks that fake
//! against the real server with one scripted scenario.

// Tests report skips, timings and child processes' logs on stderr.
#![allow(clippy::disallowed_macros)]

mod apiserver;
mod crd_in_sync;
mod e2e_walkthrough;
mod fake_gateways;
mod fake_records;
mod fake_vs_real;
mod k8s_coredns;
mod k8s_gateways;
mod k8s_records;
mod k8s_resilience;
mod k8s_schema;
mod manifests;
mod mock_faults;
mod process_e2e;
mod processes;
