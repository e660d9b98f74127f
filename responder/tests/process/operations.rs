//! Operations: `--help`, SIGTERM/SIGINT → exit 0 promptly (even with a TCP
//! connection open), a taken port → a clear error and exit code ≠ 0, the
//! admin endpoint (`/healthz`, `/metrics`, `/readyz` 503 until the records
//! file exists), JSON logs.

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{
    BIN, ChildGuard, NAMESPACE_UNAVAILABLE, Responder, Wait, dig, fixture_records, free_port,
    have_tools, loopback, run_bounded, run_in_network_namespace, wait_until,
};
use crate::wire;

#[test]
fn help_and_version_work_and_bad_flags_are_refused() {
    let output = run_bounded(Command::new(BIN).arg("--help"), Duration::from_secs(10));
    assert!(output.status.is_some_and(|s| s.success()), "{output:?}");
    for flag in [
        "--records",
        "--listen",
        "--zone",
        "--workers",
        "--admin-listen",
        "--log-format",
        "--udp-payload",
        "--tcp-max-connections",
        "--tcp-idle-timeout",
        "--tcp-query-timeout",
        "--negative-ttl",
        "--reload-interval",
        "--huge-pages",
        "--chaos-version",
        "--chaos-id",
    ] {
        assert!(
            output.stdout.contains(flag),
            "--help lacks {flag}:\n{}",
            output.stdout
        );
    }

    let output = run_bounded(Command::new(BIN).arg("--version"), Duration::from_secs(10));
    assert!(output.status.is_some_and(|s| s.success()), "{output:?}");
    assert!(output.stdout.starts_with("xcc-responder "), "{output:?}");

    // Out of range: refused before anything starts.
    let output = run_bounded(
        Command::new(BIN).args(["--records", "/nonexistent", "--udp-payload", "100"]),
        Duration::from_secs(10),
    );
    assert!(output.status.is_some_and(|s| !s.success()), "{output:?}");
    assert!(output.stderr.contains("--udp-payload"), "{output:?}");
}

/// Starts the binary with `args` and waits (bounded) for it to exit by
/// itself; returns its exit status and log.
fn run_until_exit(args: &[String]) -> (std::process::ExitStatus, String, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = dir.path().join("records.yaml");
    std::fs::write(&records, fixture_records()).expect("write");
    let log = dir.path().join("responder.log");
    let mut command = Command::new(BIN);
    command
        .env("NO_COLOR", "1")
        .arg("--records")
        .arg(&records)
        .args(args);
    let start = Instant::now();
    let mut process = ChildGuard::spawn("xcc-responder", &mut command, &log);
    let status = process
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running although a port is taken:\n{}", process.log()));
    (status, process.log(), start.elapsed())
}

#[test]
fn a_taken_port_is_a_clear_error_and_a_failure_exit() {
    // Taken for UDP only, for TCP only, and the admin port.
    let udp_port = free_port();
    let _udp = UdpSocket::bind(loopback(udp_port)).expect("hold UDP");
    let tcp_port = free_port();
    let _tcp = TcpListener::bind(loopback(tcp_port)).expect("hold TCP");
    let admin_port = free_port();
    let _admin = TcpListener::bind(loopback(admin_port)).expect("hold admin");

    let cases = [
        ("UDP", loopback(udp_port), loopback(free_port())),
        ("TCP", loopback(tcp_port), loopback(free_port())),
        ("admin", loopback(free_port()), loopback(admin_port)),
    ];
    for (what, listen, admin) in cases {
        let taken = if what == "admin" { admin } else { listen };
        let (status, log, took) = run_until_exit(&[
            "--listen".into(),
            listen.to_string(),
            "--admin-listen".into(),
            admin.to_string(),
        ]);
        assert!(!status.success(), "{what}: exit {status}; log:\n{log}");
        assert!(
            log.contains("ERROR") && log.contains(&taken.to_string()) && log.contains("in use"),
            "{what}: the error should name {taken} and say it is in use:\n{log}"
        );
        eprintln!("{what} port taken: exit {status} after {took:?}");
    }
}

#[test]
fn a_second_responder_on_the_same_port_fails() {
    // The UDP sockets use SO_REUSEPORT, which lets a second process of the
    // same user bind the same UDP port; the start must still fail, not
    // share the port with the first responder.
    let first = Responder::start(&fixture_records());
    let (status, log, took) = run_until_exit(&[
        "--listen".into(),
        first.dns.to_string(),
        "--admin-listen".into(),
        loopback(free_port()).to_string(),
    ]);
    assert!(!status.success(), "exit {status}; log:\n{log}");
    assert!(
        log.contains(&first.dns.to_string()) && log.contains("in use"),
        "{log}"
    );
    eprintln!(
        "second responder on {}: exit {status} after {took:?}",
        first.dns
    );
    // The first is unaffected.
    let (code, _) = first.get("/readyz");
    assert_eq!(code, 200);
}

#[test]
fn sigterm_and_sigint_exit_zero_promptly_with_a_tcp_connection_open() {
    for (name, signal) in [("SIGTERM", libc::SIGTERM), ("SIGINT", libc::SIGINT)] {
        let mut responder = Responder::start(&fixture_records());
        // An idle client connection (idle timeout 10 s) must not hold up
        // the exit for long.
        let mut idle =
            TcpStream::connect_timeout(&responder.dns, Duration::from_secs(2)).expect("connect");
        idle.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        wire::write_all(
            &mut idle,
            &wire::framed(&wire::query(9, "www.xcc.test", wire::A, None)),
        )
        .expect("write");
        assert!(wire::read_frame(&mut idle).expect("read").is_some());

        let start = Instant::now();
        responder.process.signal(signal);
        let status = responder
            .process
            .wait_exit(Duration::from_secs(5))
            .unwrap_or_else(|| {
                panic!(
                    "{name}: still running 5 s later:\n{}",
                    responder.process.log()
                )
            });
        let took = start.elapsed();
        eprintln!("{name}: exit {status} after {took:?}");
        assert_eq!(
            status.code(),
            Some(0),
            "{name}: log:\n{}",
            responder.process.log()
        );
        assert!(took < Duration::from_secs(3), "{name}: exit took {took:?}");
        assert!(
            responder.process.log().contains("stopped"),
            "{}",
            responder.process.log()
        );
    }
}

#[test]
fn healthz_metrics_and_readyz_are_served() {
    let responder = Responder::start(&fixture_records());
    let (status, body) = responder.get("/healthz");
    assert_eq!(status, 200, "{body}");
    let (status, body) = responder.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(responder.get("/nothing-here").0, 404);

    let metrics = responder.metrics();
    for name in [
        "# TYPE xcc_responder_queries counter",
        "# TYPE xcc_responder_dropped counter",
        "# TYPE xcc_responder_truncated counter",
        "xcc_responder_tcp_connections_open",
        "# TYPE xcc_responder_tcp_connections_refused counter",
        "xcc_responder_table_version",
        "xcc_responder_table_records",
        "xcc_responder_table_zones",
        "# TYPE xcc_responder_reloads_ok counter",
        "# TYPE xcc_responder_reloads_failed counter",
        "xcc_responder_last_reload_timestamp_seconds",
    ] {
        assert!(
            metrics.contains(name),
            "/metrics lacks {name:?}:\n{metrics}"
        );
    }
    assert_eq!(
        crate::support::metric_value(&metrics, "xcc_responder_ready", &[]),
        1.0
    );
    assert_eq!(
        crate::support::metric_value(&metrics, "xcc_responder_table_zones", &[]),
        1.0
    );
    assert!(
        metrics.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
}

#[test]
fn readyz_is_503_until_the_records_file_appears() {
    let responder = Responder::start_with(None, &[], Wait::Admin);
    let (status, body) = responder.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert_eq!(responder.get("/healthz").0, 200, "alive though not ready");
    if have_tools(&["dig"]) {
        let output = dig(responder.dns, &["www.xcc.test", "A"]);
        let reply = output.reply();
        assert!(
            reply.answer.is_empty(),
            "nothing served before the file: {}",
            output.text()
        );
    }

    responder.write_records(&fixture_records());
    let written = Instant::now();
    wait_until(
        Duration::from_secs(5),
        "/readyz 200 after the records file appeared",
        || (responder.get("/readyz").0 == 200).then_some(()),
    );
    eprintln!(
        "ready {:?} after the records file appeared",
        written.elapsed()
    );
    if have_tools(&["dig"]) {
        let output = dig(responder.dns, &["www.xcc.test", "A"]);
        assert_eq!(
            output.reply().answer_data("A"),
            ["192.0.2.1"],
            "{}",
            output.text()
        );
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mut responder = Responder::start_with(
        Some(&fixture_records()),
        &["--log-format", "json"],
        Wait::Ready,
    );
    let (status, killed) = responder.process.stop(Duration::from_secs(5));
    assert!(status.success() && !killed, "{status}");
    let log = responder.process.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{log}");
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            value.get("level").is_some() && value.get("timestamp").is_some(),
            "{line}"
        );
    }
}

/// On a machine without IPv6 addresses (some containers), the default
/// listen addresses still start the responder, on IPv4 alone, with a
/// warning; the manifests' wildcard addresses (`0.0.0.0` and `[::]` for
/// DNS, `[::]` for the admin endpoint) start and answer over IPv4 too (with
/// IPv6 disabled by sysctl the `[::]` wildcard still binds; a kernel booted
/// with `ipv6.disable=1` refuses the family, the case the unit tests of
/// `may_skip` cover). Run in a network namespace of its own (only its
/// loopback, IPv6 disabled), so the wildcards reach nothing else.
#[test]
fn without_ipv6_the_default_and_wildcard_addresses_serve_ipv4_and_warn() {
    if !have_tools(&["unshare", "ip", "sysctl", "dig"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let records = dir.path().join("records.yaml");
    std::fs::write(&records, fixture_records()).expect("records written");
    // One run per way of listening; each prints its log, the answer over
    // IPv4, and its exit status.
    let run = |name: &str, flags: &str| {
        format!(
            "echo RUN={name}; {BIN} --records {records} {flags} 2>&1 & pid=$!; \
             for i in $(seq 1 100); do \
               a=$(dig @127.0.0.1 -p 5353 +short +time=1 +tries=1 www.xcc.test A 2>/dev/null); \
               [ -n \"$a\" ] && break; sleep 0.05; done; \
             echo \"ANSWER=$a\"; kill $pid; wait $pid; echo \"EXIT=$?\"; ",
            records = records.display(),
        )
    };
    let script = format!(
        "ip link set lo up && sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
         && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 || exit {NAMESPACE_UNAVAILABLE}; {}{}",
        run("defaults", "--admin-listen off"),
        run(
            "wildcards",
            "--listen 0.0.0.0:5353,[::]:5353 --admin-listen [::]:9153"
        ),
    );
    let Some(output) = run_in_network_namespace(&script, &[], Duration::from_secs(30)) else {
        return;
    };
    let text = output.stdout;
    let (defaults, wildcards) = text
        .split_once("RUN=wildcards")
        .unwrap_or_else(|| panic!("both runs: {text}"));
    assert!(defaults.contains("no IPv6 on this host"), "{defaults}");
    for run in [defaults, wildcards] {
        assert!(run.contains("EXIT=0"), "{run}");
        assert!(!run.contains("ANSWER=\n"), "no answer over IPv4: {run}");
    }
}
