//! The whole path, as processes: a real kube-apiserver 1.20 → the built
//! `xcc-controller records` binary → its snapshot file → the
//! `xcc-responder` binary → `dig`. A record is created, changed and deleted;
//! records the controller rejects get a Rejected status while the valid ones
//! keep answering. The time from each API write to `dig` seeing its effect
//! is measured and printed (and must stay under a second).

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use xcc_controller::api::{DNSRecord, RecordState, RejectReason};

use crate::apiserver::{
    address_record, create_record, on_path, repo_root, shared_env, skip, statuses, wait_for,
};

/// The longest the whole path may take for one change.
const PROPAGATION_LIMIT: Duration = Duration::from_secs(1);

/// A child process, killed (by its PID) and reaped on drop; its output
/// goes to a log file, printed when the test fails.
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        // Settings the developer's environment may carry must not leak in:
        // every flag the test relies on is passed explicitly.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("XCC_") || key == "POD_NAME" {
                command.env_remove(key);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child, log }
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    fn terminate(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: plain kill(2) on the PID of our own, not yet reaped child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} did not stop within 10 s of SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "{} exited with {status} on SIGTERM",
            self.name
        );
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.name);
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A loopback port free for TCP and UDP (another process may still take it
/// before ours binds it; the children fail loudly then).
fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

/// The `xcc-responder` binary of this build (`cargo test -p
/// xcc-controller` does not build other packages' binaries, so it is built
/// here: a no-op when it is fresh).
fn responder_binary() -> PathBuf {
    let controller = Path::new(env!("CARGO_BIN_EXE_xcc-controller"));
    let profile_dir = controller.parent().unwrap();
    let binary = profile_dir.join("xcc-responder");
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "xcc-responder",
            "--bin",
            "xcc-responder",
        ])
        .current_dir(repo_root());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    if let Some(target_dir) = profile_dir.parent() {
        build.env("CARGO_TARGET_DIR", target_dir);
    }
    let started = Instant::now();
    match build.output() {
        Ok(output) if output.status.success() => {}
        Ok(output) if binary.is_file() => eprintln!(
            "process_e2e: cargo build -p xcc-responder failed; using the binary there:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Ok(output) => panic!(
            "cargo build -p xcc-responder failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) if binary.is_file() => {
            eprintln!("process_e2e: cannot run cargo ({e}); using the binary there");
        }
        Err(e) => panic!("cannot run cargo to build xcc-responder: {e}"),
    }
    eprintln!(
        "process_e2e: xcc-responder ready in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        binary.display()
    );
    binary
}

/// What `dig` answered.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    /// NOERROR, NXDOMAIN, REFUSED, ...
    status: String,
    /// The A/AAAA data of the answer section, sorted.
    addresses: Vec<String>,
}

/// `dig @127.0.0.1 -p <port> <name> A` (one try, one second).
fn dig(port: u16, name: &str) -> Option<Answer> {
    let output = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+tries=1",
            "+time=1",
            "+norecurse",
            "+noall",
            "+comments",
            "+answer",
            name,
            "A",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("dig runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let status = text
        .lines()
        .find_map(|line| line.split("status: ").nth(1))?
        .split(',')
        .next()?
        .trim()
        .to_owned();
    let mut addresses: Vec<String> = text
        .lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() == 5 && (fields[3] == "A" || fields[3] == "AAAA"))
                .then(|| fields[4].to_owned())
        })
        .collect();
    addresses.sort();
    Some(Answer { status, addresses })
}

fn answer(status: &str, addresses: &[&str]) -> Answer {
    let mut addresses: Vec<String> = addresses.iter().map(|a| (*a).to_owned()).collect();
    addresses.sort();
    Answer {
        status: status.into(),
        addresses,
    }
}

/// Polls `dig` until it gives `expected`; returns the time since `since`.
async fn until_dig(port: u16, name: &str, expected: &Answer, since: Instant) -> Duration {
    wait_for(
        &format!("dig {name} to answer {expected:?}"),
        Duration::from_secs(20),
        || async {
            let got = tokio::task::block_in_place(|| dig(port, name));
            (got.as_ref() == Some(expected)).then(|| since.elapsed())
        },
    )
    .await
}

/// `GET <path>` on the controller's admin port: (status code, body).
fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((code, body))
}

/// The value of an unlabelled metric in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
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

    let (code, metrics) =
        tokio::task::block_in_place(|| http_get(admin, "/metrics")).expect("/metrics answers");
    assert_eq!(code, 200);
    assert_eq!(metric(&metrics, "xcc_records_rejected"), Some(2.0));
    assert_eq!(metric(&metrics, "xcc_records_accepted"), Some(2.0));
    assert!(metric(&metrics, "xcc_records_publishes_total").is_some_and(|n| n >= 5.0));

    let summary: Vec<String> = figures
        .iter()
        .map(|(what, took)| format!("{what} {:.0} ms", took.as_secs_f64() * 1000.0))
        .collect();
    eprintln!(
        "process_e2e: API write → dig sees it (controller debounce 100 ms): {}",
        summary.join(", ")
    );
    for (what, took) in &figures {
        assert!(
            *took < PROPAGATION_LIMIT,
            "{what}: {took:?} from the API write to dig (limit {PROPAGATION_LIMIT:?})"
        );
    }

    tokio::task::block_in_place(|| {
        controller.terminate();
        responder.terminate();
    });
}
