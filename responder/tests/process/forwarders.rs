//! CoreDNS-style forwarding through real forwarders: `unbound` with a
//! `forward-zone`, `dnsdist` with the responder as a health-checked backend,
//! and BIND `named` with a forward zone. A client asking the forwarder gets
//! our answers, the large one too (the forwarder retries over TCP after TC),
//! and the forwarder sees the responder as healthy.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::{
    BIG_COUNT, ChildGuard, Responder, START_BOUND, Wait, cname_manifest, dig, find_tool,
    fixture_records, free_port, have_tools, loopback, manifest, many_addresses, run_bounded,
    wait_until,
};

/// A forwarder process on a free loopback port, stopped on drop.
struct Forwarder {
    address: SocketAddr,
    process: ChildGuard,
    startup: Duration,
    /// Config, logs, working files (declared last: dropped after the
    /// process).
    _dir: TempDir,
}

/// Starts a forwarder: `configure(dir, port)` writes its configuration into
/// `dir` and returns the command that runs it in the foreground on `port`.
/// Ready once `dig` through it gets our `www.xcc.test.` answer. Retries on
/// another port when the port turned out to be taken.
fn start_forwarder(name: &str, mut configure: impl FnMut(&Path, u16) -> Command) -> Forwarder {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    for attempt in 1..=3 {
        let address = loopback(free_port());
        let mut command = configure(dir.path(), address.port());
        let log = dir.path().join(format!("{name}-{attempt}.log"));
        let mut process = ChildGuard::spawn(name, &mut command, &log);
        loop {
            if let Some(status) = process.exit_status() {
                let log = process.log();
                if attempt < 3 && (log.contains("in use") || log.contains("Address already")) {
                    eprintln!("{name}: port clash on {address}; retrying on another port");
                    break;
                }
                panic!("{name} exited during start-up ({status}):\n{log}");
            }
            let output = dig(address, &["+time=1", "www.xcc.test", "A"]);
            if output
                .replies
                .first()
                .is_some_and(|r| r.status == "NOERROR" && r.answer_data("A") == ["192.0.2.1"])
            {
                return Forwarder {
                    address,
                    process,
                    startup: start.elapsed(),
                    _dir: dir,
                };
            }
            if start.elapsed() > START_BOUND {
                panic!(
                    "{name} not answering after {START_BOUND:?}:\n{}",
                    process.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    unreachable!("the last attempt returns or panics");
}

/// What every forwarder must pass on: hits (wildcard with the query's
/// case), NXDOMAIN and NODATA with our SOA, and the large answer whole,
/// which the forwarder can only have fetched over TCP after our TC.
fn check_answers_through(forwarder: &Forwarder, responder: &Responder, name: &str) {
    let at = forwarder.address;

    let output = dig(at, &["Www.xcc.test", "A"]);
    let reply = output.reply();
    assert_eq!(reply.status, "NOERROR", "{name}: {}", output.text());
    assert_eq!(
        reply.answer_data("A"),
        ["192.0.2.1"],
        "{name}: {}",
        output.text()
    );

    let output = dig(at, &["kuard.apps.xcc.test", "A"]);
    let reply = output.reply();
    assert_eq!(reply.status, "NOERROR", "{name}: {}", output.text());
    assert_eq!(
        reply.answer_data("A"),
        ["192.0.2.2"],
        "{name}: {}",
        output.text()
    );

    let output = dig(at, &["v6.xcc.test", "AAAA"]);
    assert_eq!(
        output.reply().answer_data("AAAA"),
        ["2001:db8::6"],
        "{name}: {}",
        output.text()
    );

    let output = dig(at, &["nope.xcc.test", "A"]);
    let reply = output.reply();
    assert_eq!(reply.status, "NXDOMAIN", "{name}: {}", output.text());
    assert!(
        reply.has_soa("xcc.test."),
        "{name}: SOA expected: {}",
        output.text()
    );

    let output = dig(at, &["www.xcc.test", "AAAA"]);
    let reply = output.reply();
    assert_eq!(reply.status, "NOERROR", "{name}: {}", output.text());
    assert!(
        reply.answer.is_empty() && reply.has_soa("xcc.test."),
        "{name}: NODATA: {}",
        output.text()
    );

    let tcp_before = responder.metric("xcc_responder_queries_total", &[("transport", "tcp")]);
    let truncated_before = responder.metric("xcc_responder_truncated_total", &[]);
    // dig itself may retry over TCP to the forwarder; what matters is that
    // the forwarder had all 100 records, fetched from us over TCP after our
    // TC over UDP.
    let output = dig(at, &["big.xcc.test", "A"]);
    let reply = output.replies.last().expect("a reply");
    let mut big = many_addresses(2, BIG_COUNT as u8);
    big.sort();
    assert_eq!(reply.status, "NOERROR", "{name}: {}", output.text());
    assert_eq!(
        reply.answer_data("A"),
        big,
        "{name}: all {BIG_COUNT} records: {}",
        output.text()
    );
    let tcp_after = responder.metric("xcc_responder_queries_total", &[("transport", "tcp")]);
    let truncated_after = responder.metric("xcc_responder_truncated_total", &[]);
    assert!(
        truncated_after > truncated_before,
        "{name}: the forwarder should have had TC from us first ({truncated_before} → {truncated_after})"
    );
    assert!(
        tcp_after > tcp_before,
        "{name}: the forwarder should have retried over TCP ({tcp_before} → {tcp_after})"
    );
    responder_healthy(responder);
}

fn responder_healthy(responder: &Responder) {
    let (status, _) = responder.get("/healthz");
    assert_eq!(status, 200);
}

/// Starts `unbound` forwarding `xcc.test` to the responder on port
/// `upstream`; `extra` is configuration added after the `server:` options
/// (it may open clauses of its own, such as another `forward-zone:`).
fn start_unbound(upstream: u16, extra: &str) -> Forwarder {
    let unbound = find_tool("unbound").expect("unbound");
    start_forwarder("unbound", |dir, port| {
        let config = dir.join("unbound.conf");
        let dir_text = dir.display();
        fs::write(
            &config,
            format!(
                r#"server:
  interface: 127.0.0.1
  port: {port}
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{dir_text}"
  pidfile: "{dir_text}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
  domain-insecure: "xcc.test"
  # unbound serves test. itself (RFC 6761 local zone) unless told not to.
  local-zone: "test." nodefault
{extra}
remote-control:
  control-enable: no
forward-zone:
  name: "xcc.test"
  forward-addr: 127.0.0.1@{upstream}
"#
            ),
        )
        .expect("write unbound.conf");
        let mut command = Command::new(&unbound);
        command.arg("-d").arg("-c").arg(&config);
        command
    })
}

#[test]
fn unbound_forward_zone_gets_our_answers() {
    if !have_tools(&["dig", "unbound"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    let forwarder = start_unbound(responder.port(), "");
    eprintln!("unbound ready in {:?}", forwarder.startup);

    check_answers_through(&forwarder, &responder, "unbound");

    // A recursive answer from unbound: RA set, AA not (it is not ours).
    let output = dig(forwarder.address, &["www.xcc.test", "A"]);
    assert!(
        output.reply().has_flag("ra") && !output.reply().has_flag("aa"),
        "{}",
        output.text()
    );
}

/// A base64 console key (32 octets) for dnsdist's console.
const DNSDIST_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The state (`up`, `down`) dnsdist's console reports for the backend at
/// `backend`, asked with `dnsdist -c`.
fn dnsdist_backend_state(dnsdist: &Path, config: &Path, backend: SocketAddr) -> Option<String> {
    let output = run_bounded(
        Command::new(dnsdist)
            .arg("-C")
            .arg(config)
            .args(["-c", "-e", "showServers()"]),
        Duration::from_secs(5),
    );
    let backend = backend.to_string();
    output.stdout.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == backend)?;
        fields.get(at + 1).map(|s| (*s).to_owned())
    })
}

#[test]
fn dnsdist_backend_is_health_checked_and_answers_flow() {
    if !have_tools(&["dig", "dnsdist"]) {
        return;
    }
    let mut responder = Responder::start(&fixture_records());
    let backend = responder.dns;
    let dnsdist = find_tool("dnsdist").expect("dnsdist");
    let mut config = None;
    let forwarder = start_forwarder("dnsdist", |dir, port| {
        let console = free_port();
        let path = dir.join(format!("dnsdist-{port}.conf"));
        // Health checks are real ("auto", the default mode): dnsdist asks
        // us `xcc.test. SOA` every second and needs NOERROR; three checks
        // missed in a row mark us down, so one check lost on a loaded
        // machine does not.
        fs::write(
            &path,
            format!(
                r#"setLocal("127.0.0.1:{port}")
controlSocket("127.0.0.1:{console}")
setKey("{DNSDIST_KEY}")
setSecurityPollSuffix("")
newServer{{address="{backend}", name="xcc", checkName="xcc.test.", checkType="SOA", checkInterval=1, checkTimeout=2000, maxCheckFailures=3, mustResolve=true}}
"#
            ),
        )
        .expect("write dnsdist.conf");
        config = Some(path.clone());
        let mut command = Command::new(&dnsdist);
        command
            .args(["--supervised", "--disable-syslog", "-C"])
            .arg(&path);
        command
    });
    let config = config.expect("configured");
    eprintln!("dnsdist ready in {:?}", forwarder.startup);

    let state = wait_until(
        Duration::from_secs(10),
        "dnsdist to report the backend up",
        || dnsdist_backend_state(&dnsdist, &config, backend).filter(|s| s == "up"),
    );
    assert_eq!(state, "up");
    // The health checks reached us: SOA queries for the apex.
    let checks = wait_until(
        Duration::from_secs(5),
        "a health check at the responder",
        || {
            let n = responder.metric(
                "xcc_responder_queries_total",
                &[("qtype", "SOA"), ("rcode", "NOERROR")],
            );
            (n >= 1.0).then_some(n)
        },
    );
    eprintln!("health checks answered so far: {checks}");

    check_answers_through(&forwarder, &responder, "dnsdist");

    // The checks are live: stop the responder and dnsdist marks it down.
    let stopped = Instant::now();
    let (status, killed) = responder.process.stop(Duration::from_secs(5));
    assert!(status.success() && !killed, "responder stop: {status}");
    wait_until(
        Duration::from_secs(10),
        "dnsdist to mark the stopped backend down",
        || dnsdist_backend_state(&dnsdist, &config, backend).filter(|s| s == "down"),
    );
    eprintln!(
        "dnsdist marked the backend down {:?} after SIGTERM",
        stopped.elapsed()
    );
}

#[test]
fn bind_forward_zone_gets_our_answers() {
    if !have_tools(&["dig", "named"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    let upstream = responder.port();
    let named = find_tool("named").expect("named");
    let forwarder = start_forwarder("named", |dir, port| {
        let config = dir.join("named.conf");
        let d = dir.display();
        fs::write(
            &config,
            format!(
                r#"options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  session-keyfile "{d}/session.key";
  managed-keys-directory "{d}";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion yes;
  allow-query {{ 127.0.0.1; }};
  allow-recursion {{ 127.0.0.1; }};
  dnssec-validation no;
  qname-minimization off;
  notify no;
}};
controls {{ }};
zone "xcc.test" {{ type forward; forward only; forwarders {{ 127.0.0.1 port {upstream}; }}; }};
"#
            ),
        )
        .expect("write named.conf");
        let mut command = Command::new(&named);
        // -g: foreground, logging to stderr; no -u: stays the user it runs as.
        command.args(["-g", "-n", "1", "-c"]).arg(&config);
        command
    });
    eprintln!("named ready in {:?}", forwarder.startup);

    check_answers_through(&forwarder, &responder, "named");

    // BIND logs answers it cannot use ("FORMERR resolving", "unexpected
    // RCODE"); none of ours may be among them.
    let log = forwarder.process.log();
    for complaint in ["FORMERR", "unexpected RCODE", "lame", "SERVFAIL"] {
        assert!(
            !log.contains(complaint),
            "named complains ({complaint}):\n{log}"
        );
    }
}

/// A CNAME to a load balancer's hostname, carrying the hostname's
/// addresses, through unbound: unbound, a resolver that follows CNAMEs,
/// drops the target's A as outside the forwarded zone's bailiwick (its log:
/// "sanitize: removing extraneous answer RRset", RFC 2181 §5.4.1) and
/// resolves the target itself; offline, with nowhere to ask, that is a
/// SERVFAIL. Here the target's zone is forwarded to a second responder
/// that gives it another address: the client gets our CNAME and that
/// server's address, never the carried one. The carried addresses are for
/// clients that do not follow CNAMEs (CoreDNS `forward`, stub resolvers).
#[test]
fn unbound_follows_the_cname_itself_and_ignores_the_carried_addresses() {
    if !have_tools(&["dig", "unbound"]) {
        return;
    }
    let records = [
        fixture_records(),
        cname_manifest(
            "dev-team-cluster-a-gateway",
            "*.gateway.cluster-a.dev-team.clusters.xcc.test",
            30,
            "lb-123.elb.example.com.",
            &["192.0.2.10"],
        ),
    ]
    .concat();
    let responder = Responder::start(&records);
    let cloud = Responder::start_with(
        Some(&manifest(
            "lb-123",
            "lb-123.elb.example.com",
            60,
            &["198.51.100.7"],
        )),
        &["--zone", "elb.example.com."],
        Wait::Ready,
    );
    let forwarder = start_unbound(
        responder.port(),
        &format!(
            "forward-zone:\n  name: \"elb.example.com\"\n  forward-addr: 127.0.0.1@{}",
            cloud.port()
        ),
    );
    let qname = "kuard.gateway.cluster-a.dev-team.clusters.xcc.test.";
    let output = dig(forwarder.address, &[qname, "A"]);
    let reply = output.reply();
    assert_eq!(reply.status, "NOERROR", "{}", output.text());
    assert_eq!(
        reply.answer_data("CNAME"),
        ["lb-123.elb.example.com."],
        "{}",
        output.text()
    );
    assert_eq!(
        reply.answer_data("A"),
        ["198.51.100.7"],
        "{}",
        output.text()
    );

    // Asked directly, the responder gives both in one answer.
    let direct = dig(responder.dns, &[qname, "A"]);
    assert_eq!(
        direct.reply().answer_data("A"),
        ["192.0.2.10"],
        "{}",
        direct.text()
    );
}
