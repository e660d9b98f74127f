//! Real Kubernetes API servers for the tests, through `tests/k8s/apiserver.sh`
//! (kube-apiserver 1.20.2 built from Debian's source, with its own etcd, on
//! free loopback ports).
//!
//! - [`shared`]: one instance for the whole test binary, started on first
//!   use (about 6 s), with the CRDs of `manifests/crds/` applied and
//!   `Established`. Each test works in a namespace of its own
//!   ([`TestEnv`]), so tests share it and run in parallel. It is stopped
//!   when the test binary exits (an `atexit` handler), and by a watchdog
//!   process if the binary dies without running it.
//! - [`Instance::start`]: a private instance, for a test that stops and
//!   restarts its API server; stopped when the guard is dropped.
//!
//! When the kube-apiserver binary is not built (or etcd is not installed),
//! the tests print why and skip, unless `XCC_REQUIRE_TOOLS=1`, where they
//! fail instead. The script is never asked to build here: that takes about
//! 9 minutes and belongs to `tests/k8s/apiserver.sh build` (or `.ci/run`).
//!
//! Also here: the controller run in-process on a temporary snapshot path
//! ([`InProcessController`]), snapshot and status helpers, and [`wait_for`],
//! the bounded polling every test synchronises with.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xcc_controller::api::{DNSRecord, DNSRecordSpec, DNSRecordStatus};
use xcc_controller::records::run::{RecordsOptions, run};
use xcc_controller::telemetry::RecordsMetrics;
use xcc_responder::table::snapshot;
use xcc_responder::table::{Lookup, Table, TableConfig, ZoneConfig};
use xcc_wire::{NameBuf, RType};

/// The zone every test serves.
pub(crate) const ZONE: &str = "xcc.test.";

//----------- Tools and skipping -----------------------------------------------

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is inside the workspace")
        .to_path_buf()
}

/// `tests/k8s/apiserver.sh`.
pub(crate) fn script() -> PathBuf {
    repo_root().join("tests/k8s/apiserver.sh")
}

/// Whether missing tools fail the tests instead of skipping them.
pub(crate) fn tools_required() -> bool {
    std::env::var("XCC_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Skips the calling test with `reason` (returns `None`), or fails it when
/// `XCC_REQUIRE_TOOLS=1`.
pub(crate) fn skip<T>(test: &str, reason: &str) -> Option<T> {
    assert!(
        !tools_required(),
        "{test}: {reason} (XCC_REQUIRE_TOOLS=1, so this fails instead of skipping)"
    );
    eprintln!("SKIPPED {test}: {reason} (set XCC_REQUIRE_TOOLS=1 to make this a failure)");
    None
}

/// Why a real API server cannot be started here, if it cannot.
fn missing_tools() -> Option<String> {
    // The script knows where its cache keeps the binary (the key includes
    // the build revision of its patches).
    let output = match Command::new(script()).arg("binary").output() {
        Ok(output) => output,
        Err(error) => return Some(format!("cannot run {}: {error}", script().display())),
    };
    let binary = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !output.status.success() || !binary.is_file() {
        return Some(format!(
            "{} is not built; run `tests/k8s/apiserver.sh build` (about 9 minutes, once)",
            binary.display()
        ));
    }
    if !on_path("etcd") {
        return Some("etcd is not installed (apt-get install etcd-server)".into());
    }
    None
}

/// Whether `program` is an executable file on `PATH`.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file()
                && std::fs::metadata(&candidate).is_ok_and(|m| {
                    std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
                })
        })
    })
}

//----------- Instances -------------------------------------------------------

/// One API server instance of the script; stopped on drop.
#[derive(Debug)]
pub(crate) struct Instance {
    name: String,
    kubeconfig: PathBuf,
    /// Stops the instance if this process dies without dropping the guard
    /// (a killed test run); killed by PID when the guard stops it.
    watchdog: Mutex<Option<Child>>,
}

impl Instance {
    /// Starts instance `<prefix>-<pid>` (blocking, about 6 s) and applies
    /// the CRDs. `None`: the tools are missing and the test skips.
    pub(crate) fn start(test: &str, prefix: &str) -> Option<Self> {
        if let Some(reason) = missing_tools() {
            return skip(test, &reason);
        }
        Some(Self::start_unchecked(prefix, &[]).unwrap_or_else(|e| panic!("{test}: {e}")))
    }

    /// [`Instance::start`] with RBAC authorization (`start --rbac`): the
    /// admin kubeconfig is in `system:masters` (and may impersonate), every
    /// other identity has only what Roles grant it.
    pub(crate) fn start_rbac(test: &str, prefix: &str) -> Option<Self> {
        if let Some(reason) = missing_tools() {
            return skip(test, &reason);
        }
        Some(Self::start_unchecked(prefix, &["--rbac"]).unwrap_or_else(|e| panic!("{test}: {e}")))
    }

    /// [`Instance::start_rbac`] without the CRDs: for a test that installs
    /// them itself, as an operator would (`kubectl apply`).
    pub(crate) fn start_rbac_without_crds(test: &str, prefix: &str) -> Option<Self> {
        if let Some(reason) = missing_tools() {
            return skip(test, &reason);
        }
        Some(Self::start_bare(prefix, &["--rbac"]).unwrap_or_else(|e| panic!("{test}: {e}")))
    }

    fn start_unchecked(prefix: &str, options: &[&str]) -> Result<Self, String> {
        let instance = Self::start_bare(prefix, options)?;
        // The CRDs, with a runtime of this thread's own (callers may be
        // inside another runtime, so a fresh thread runs it).
        let kubeconfig = instance.kubeconfig.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let client = client_for(&kubeconfig).await?;
                    apply_crds(&client).await
                })
        })
        .join()
        .map_err(|_| "applying the CRDs panicked".to_owned())??;
        Ok(instance)
    }

    /// Starts the instance, nothing more.
    fn start_bare(prefix: &str, options: &[&str]) -> Result<Self, String> {
        let name = format!("{prefix}-{}", std::process::id());
        let started = Instant::now();
        let output = Command::new(script())
            .args(["start", &name])
            .args(options)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
        if !output.status.success() {
            return Err(format!(
                "apiserver.sh start {name} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let kubeconfig = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        eprintln!(
            "[apiserver] instance {name} up in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            kubeconfig.display()
        );
        Ok(Self {
            watchdog: Mutex::new(spawn_watchdog(&name)),
            name,
            kubeconfig,
        })
    }

    /// The admin kubeconfig.
    pub(crate) fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A client for this instance (one per test: a client lives in the
    /// runtime that made its connections).
    pub(crate) async fn client(&self) -> Client {
        client_for(&self.kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("client for {}: {e}", self.name))
    }

    /// Kills the kube-apiserver only, with SIGKILL (a crash: connections
    /// reset, no graceful shutdown); etcd and the port stay.
    pub(crate) async fn kill_apiserver(&self) {
        self.script_async(&["pause", "--kill"]).await;
    }

    /// Starts the kube-apiserver again on the same port; returns when it is
    /// ready.
    pub(crate) async fn resume(&self) {
        self.script_async(&["resume"]).await;
    }

    async fn script_async(&self, command: &'static [&'static str]) {
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || run_script(command[0], &name, &command[1..]))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    }

    /// Stops the instance (idempotent) and its watchdog.
    fn stop(&self) {
        let watchdog = self.watchdog.lock().ok().and_then(|mut w| w.take());
        let Some(mut watchdog) = watchdog else {
            return;
        };
        let started = Instant::now();
        let status = Command::new(script())
            .args(["stop", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = watchdog.kill();
        let _ = watchdog.wait();
        eprintln!(
            "[apiserver] stopped {} in {:.1} s ({status:?})",
            self.name,
            started.elapsed().as_secs_f64()
        );
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `apiserver.sh <command> <name>` (blocking); fails the test if it
/// fails.
fn run_script(command: &str, name: &str, options: &[&str]) {
    let started = Instant::now();
    let output = Command::new(script())
        .args([command, name])
        .args(options)
        .stdin(Stdio::null())
        .output()
        .expect("apiserver.sh runs");
    assert!(
        output.status.success(),
        "apiserver.sh {command} {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "[apiserver] {command} {name} took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A process in a session of its own that waits for this test process to
/// end, then stops instance `name`: cleanup when the process is killed
/// before its guards run (its own session: a ^C to the test run does not
/// reach it).
fn spawn_watchdog(name: &str) -> Option<Child> {
    Command::new("setsid")
        .args([
            "sh",
            "-c",
            r#"while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$1" stop "$2""#,
        ])
        .arg(std::process::id().to_string())
        .arg(script())
        .arg(name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// A client from a kubeconfig file.
pub(crate) async fn client_for(kubeconfig: &Path) -> Result<Client, String> {
    let file = Kubeconfig::read_from(kubeconfig)
        .map_err(|e| format!("reading {}: {e}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubeconfig {}: {e}", kubeconfig.display()))?;
    Client::try_from(config).map_err(|e| format!("client: {e}"))
}

/// The CRDs of `manifests/crds/`, parsed.
pub(crate) fn crds() -> Vec<CustomResourceDefinition> {
    let dir = repo_root().join("manifests/crds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("manifests/crds exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let documents: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{} is no CRD: {e}", file.display()));
        crds.extend(documents);
    }
    crds
}

/// Creates the CRDs (an existing one is left alone) and waits until each is
/// `Established`.
pub(crate) async fn apply_crds(client: &Client) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => return Err(format!("creating CRD {name}: {e}")),
        }
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(api.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .map_err(|_| format!("CRD {name} not Established within 30 s"))?
        .map_err(|e| format!("waiting for CRD {name}: {e}"))?;
    }
    Ok(())
}

//----------- The shared instance and per-test namespaces ----------------------

static SHARED: OnceLock<Result<Instance, String>> = OnceLock::new();

/// The instance shared by the tests of this binary, started on first use;
/// `None`: the tools are missing and the test skips.
pub(crate) fn shared(test: &str) -> Option<&'static Instance> {
    if let Some(reason) = missing_tools() {
        return skip(test, &reason);
    }
    let instance = SHARED.get_or_init(|| {
        let instance = Instance::start_unchecked("xcc-ctl-tests", &[])?;
        // Statics are never dropped: stop it when the process exits.
        // SAFETY: `stop_shared` is an `extern "C" fn()` that does not
        // unwind (it catches panics).
        unsafe { libc::atexit(stop_shared) };
        Ok(instance)
    });
    match instance {
        Ok(instance) => Some(instance),
        Err(error) => panic!("{test}: the shared API server did not start: {error}"),
    }
}

extern "C" fn stop_shared() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(Ok(instance)) = SHARED.get() {
            instance.stop();
        }
    });
}

/// One test's view of the shared instance: a client and a namespace of its
/// own.
pub(crate) struct TestEnv {
    /// A client made in the test's runtime.
    pub(crate) client: Client,
    /// A fresh namespace (namespaces cannot be deleted without a
    /// controller-manager, so each test gets a unique one).
    pub(crate) namespace: String,
    /// The instance.
    pub(crate) instance: &'static Instance,
}

/// A [`TestEnv`] on the shared instance, with a new namespace named after
/// `test`; `None`: skip.
pub(crate) async fn shared_env(test: &str) -> Option<TestEnv> {
    let instance = tokio::task::block_in_place(|| shared(test))?;
    let client = instance.client().await;
    let namespace = unique_namespace(test);
    create_namespace(&client, &namespace).await;
    Some(TestEnv {
        client,
        namespace,
        instance,
    })
}

/// `<test>-<n>`, a valid namespace name unique in this process.
pub(crate) fn unique_namespace(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mut base: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    base.truncate(50);
    format!(
        "{}-{}",
        base.trim_matches('-'),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates namespace `name`.
pub(crate) async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
}

//----------- Polling ----------------------------------------------------------

/// Polls `check` every 20 ms until it gives `Some`, for at most `limit`;
/// panics naming `what` on time-out. Tests synchronise only with this (or
/// with other bounded waits), never with a bare sleep.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//----------- DNSRecords -------------------------------------------------------

/// A `DNSRecord` named `name` giving `owner` these addresses.
pub(crate) fn address_record(name: &str, owner: &str, addresses: &[&str]) -> DNSRecord {
    DNSRecord::new(
        name,
        DNSRecordSpec {
            name: owner.into(),
            ttl: 30,
            addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
            ..DNSRecordSpec::default()
        },
    )
}

/// Creates `record` in `namespace`.
pub(crate) async fn create_record(
    client: &Client,
    namespace: &str,
    record: &DNSRecord,
) -> DNSRecord {
    let api: Api<DNSRecord> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), record)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating DNSRecord {namespace}/{}: {e}",
                record.metadata.name.as_deref().unwrap_or("?")
            )
        })
}

/// The status of every `DNSRecord` in `namespace`, by object name.
pub(crate) async fn statuses(
    client: &Client,
    namespace: &str,
) -> BTreeMap<String, DNSRecordStatus> {
    let api: Api<DNSRecord> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default())
        .await
        .expect("listing DNSRecords")
        .items
        .into_iter()
        .map(|r| {
            (
                r.metadata.name.clone().unwrap_or_default(),
                r.status.unwrap_or_default(),
            )
        })
        .collect()
}

/// The `events.k8s.io/v1` Events in `namespace` about object `name`.
pub(crate) async fn events_about(client: &Client, namespace: &str, name: &str) -> Vec<K8sEvent> {
    let api: Api<K8sEvent> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default())
        .await
        .expect("listing Events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .collect()
}

//----------- Snapshots --------------------------------------------------------

/// The snapshot at `path`, if there is one (a missing file is `None`; a
/// file that does not decode fails the test: the controller replaces it
/// atomically, so a reader never sees half of one).
pub(crate) fn read_snapshot(path: &Path) -> Option<Table> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        snapshot::decode(&bytes)
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display())),
    )
}

/// What a table holds at `name`: `None` when the name does not exist (or
/// is not ours), else its A and AAAA addresses (possibly none).
pub(crate) fn addresses(table: &Table, name: &str) -> Option<Vec<IpAddr>> {
    let key = NameBuf::from_presentation(name)
        .expect("a valid name")
        .to_key();
    let Lookup::Found { node, .. } = table.lookup(&key) else {
        return None;
    };
    let mut found = Vec::new();
    for rtype in [RType::A, RType::AAAA] {
        if let Some(rrset) = node.rrset(rtype) {
            let mut tails = node.tails(rrset);
            // Each tail: TYPE, CLASS, TTL, RDLENGTH, RDATA.
            while tails.len() >= 10 {
                let length = usize::from(u16::from_be_bytes([tails[8], tails[9]]));
                let rdata = &tails[10..10 + length];
                found.push(match rdata.len() {
                    4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(rdata).unwrap())),
                    16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(rdata).unwrap())),
                    n => panic!("address rdata of {n} octets"),
                });
                tails = &tails[10 + length..];
            }
        }
    }
    found.sort();
    Some(found)
}

/// `addresses` parsed, sorted, for comparing with [`addresses`].
pub(crate) fn ips(addresses: &[&str]) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = addresses.iter().map(|a| a.parse().unwrap()).collect();
    ips.sort();
    ips
}

/// The inode and version of the snapshot in place (a write renames a new
/// file over it: a new inode).
pub(crate) fn snapshot_identity(path: &Path) -> (u64, u32) {
    use std::os::unix::fs::MetadataExt as _;
    let inode = std::fs::metadata(path).expect("the snapshot exists").ino();
    let version = read_snapshot(path).expect("the snapshot exists").version();
    (inode, version)
}

//----------- The controller in-process ------------------------------------------

/// `xcc_controller::records::run::run` on a task, publishing to a snapshot
/// in a temporary directory.
pub(crate) struct InProcessController {
    /// Its metrics.
    pub(crate) metrics: Arc<RecordsMetrics>,
    /// The snapshot path.
    pub(crate) out: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<xcc_controller::Result<()>>>,
}

/// The options the tests run the controller with: zone `xcc.test.`, a 50 ms
/// debounce, DNSRecords only.
pub(crate) fn options(namespace: &str, out: &Path) -> RecordsOptions {
    RecordsOptions {
        namespace: namespace.into(),
        out: out.into(),
        table: TableConfig {
            zones: vec![ZoneConfig::new(NameBuf::from_presentation(ZONE).unwrap())],
            ..TableConfig::default()
        },
        debounce: Duration::from_millis(50),
        watch_records: true,
        watch_endpointslices: None,
        instance: Some("xcc-controller-test".into()),
    }
}

impl InProcessController {
    /// Starts the controller on `namespace`.
    pub(crate) fn start(client: Client, namespace: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("records.snapshot");
        let metrics = RecordsMetrics::new();
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(run(
            client,
            options(namespace, &out),
            Arc::clone(&metrics),
            async move {
                let _ = stop.await;
            },
        ));
        Self {
            metrics,
            out,
            _dir: dir,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// The snapshot, once there is one (bounded wait).
    pub(crate) async fn first_snapshot(&self) -> Table {
        let out = self.out.clone();
        wait_for("the first snapshot", Duration::from_secs(30), || {
            let out = out.clone();
            async move { read_snapshot(&out) }
        })
        .await
    }

    /// Waits until the snapshot satisfies `check` (bounded).
    pub(crate) async fn snapshot_where(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&Table) -> bool,
    ) -> Table {
        wait_for(what, limit, || {
            let table = read_snapshot(&self.out).filter(|t| check(t));
            async move { table }
        })
        .await
    }

    /// Waits until the metrics count `table` as published (bounded). The
    /// controller counts a snapshot just after renaming it into place, so
    /// a test that has just read the new file may be ahead of the count.
    pub(crate) async fn counted(&self, table: &Table) {
        let version = u64::from(table.version());
        wait_for(
            &format!("the snapshot of version {version} counted"),
            Duration::from_secs(10),
            || async { (self.counter(|m| &m.version) >= version).then_some(()) },
        )
        .await;
    }

    /// Whether the controller is still running.
    pub(crate) fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// A counter of its metrics.
    pub(crate) fn counter(
        &self,
        pick: impl Fn(&RecordsMetrics) -> &std::sync::atomic::AtomicU64,
    ) -> u64 {
        pick(&self.metrics).load(Ordering::Relaxed)
    }

    /// Shuts it down and checks it ended cleanly (bounded).
    pub(crate) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the controller stops within 10 s")
            .expect("the controller task did not panic")
            .expect("the controller ended without an error");
    }
}

impl Drop for InProcessController {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
