//! Shared helpers: free loopback ports, guards that stop child processes by
//! PID, the responder under test, bounded runs of `dig`/`kdig` and parsing of
//! their text output, a tiny HTTP client for the admin endpoint, and
//! `/metrics` parsing.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_xcc-responder");

/// How long a process may take to become ready.
pub(crate) const START_BOUND: Duration = Duration::from_secs(15);

/// How long a stopped process may take to exit after SIGTERM.
pub(crate) const STOP_BOUND: Duration = Duration::from_secs(5);

/// Polling period of every bounded wait.
const POLL: Duration = Duration::from_millis(10);

// ---------------------------------------------------------------------------
// Ports

/// Ports handed out by this process, never handed out twice, so tests that
/// run in parallel cannot pick the same one.
static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A loopback port that is free for both UDP and TCP right now.
pub(crate) fn free_port() -> u16 {
    for _ in 0..200 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on 127.0.0.1");
        let port = udp.local_addr().expect("local address").port();
        let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) else {
            continue;
        };
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.contains(&port) {
            continue;
        }
        handed_out.push(port);
        drop((udp, tcp));
        return port;
    }
    panic!("found no loopback port free for both UDP and TCP");
}

/// `127.0.0.1:port`.
pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

// ---------------------------------------------------------------------------
// Bounded waits

/// Polls `probe` until it gives a value; panics after `bound` naming `what`.
pub(crate) fn wait_until<T>(
    bound: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if start.elapsed() > bound {
            panic!("timed out after {bound:?} waiting for {what}");
        }
        std::thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------
// Tools

/// The path of an executable named `name`, from `PATH` and the sbin
/// directories (where `unbound` and `named` live).
pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether all `tools` are installed. When one is missing the test should
/// return at once: this says that it skips, or, with `XCC_REQUIRE_TOOLS=1`,
/// fails.
pub(crate) fn have_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| find_tool(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!("tool(s) not installed: {missing:?}"));
    false
}

/// Says that the calling test skips for `reason`, or fails it when
/// `XCC_REQUIRE_TOOLS=1` (CI), where every tool and permission is
/// expected.
fn skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    assert!(
        !std::env::var("XCC_REQUIRE_TOOLS").is_ok_and(|v| v == "1"),
        "{test}: {reason} (XCC_REQUIRE_TOOLS=1)"
    );
    eprintln!("SKIP {test}: {reason} (set XCC_REQUIRE_TOOLS=1 to fail instead)");
}

/// The first line of `tool`'s version output, for reports.
pub(crate) fn tool_version(tool: &str, flag: &str) -> String {
    let Some(path) = find_tool(tool) else {
        return format!("{tool}: not installed");
    };
    let out = run_bounded(Command::new(path).arg(flag), Duration::from_secs(5));
    let text = if out.stdout.trim().is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    text.lines().next().unwrap_or("").trim().to_owned()
}

// ---------------------------------------------------------------------------
// Child processes

/// A child process that is stopped by PID when the guard is dropped:
/// SIGTERM, a bounded wait, then SIGKILL. Its stdout and stderr go to a log
/// file, printed when the test fails.
pub(crate) struct ChildGuard {
    name: String,
    child: Child,
    exited: Option<ExitStatus>,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `command` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(name: &str, command: &mut Command, log: &Path) -> Self {
        let file = fs::File::create(log).expect("create the log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Self {
            name: name.to_owned(),
            child,
            exited: None,
            log: log.to_owned(),
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has exited.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Panics (with the log) unless the process is still running.
    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.exit_status() {
            panic!("{} exited ({status}); its log:\n{}", self.name, self.log());
        }
    }

    /// Sends `signal` to the process, unless it has exited already (its PID
    /// may have been reused then).
    pub(crate) fn signal(&mut self, signal: i32) {
        if self.is_running() {
            let pid = libc::pid_t::try_from(self.pid()).expect("pid fits pid_t");
            // SAFETY: kill(2) has no memory-safety preconditions; the PID is
            // our unreaped child's.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// Waits at most `bound` for the process to exit.
    pub(crate) fn wait_exit(&mut self, bound: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if start.elapsed() > bound {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGTERM, wait at most `bound`, then SIGKILL. Returns the exit status
    /// and whether SIGKILL was needed.
    pub(crate) fn stop(&mut self, bound: Duration) -> (ExitStatus, bool) {
        self.signal(libc::SIGTERM);
        if let Some(status) = self.wait_exit(bound) {
            return (status, false);
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait after SIGKILL");
        self.exited = Some(status);
        (status, true)
    }

    /// Everything the process wrote so far.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.is_running() {
            let (_, killed) = self.stop(STOP_BOUND);
            if killed {
                eprintln!(
                    "{} (pid {}) ignored SIGTERM and was killed",
                    self.name,
                    self.pid()
                );
            }
        }
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(60)..];
            eprintln!(
                "---- last lines of {} ({}) ----\n{}\n----",
                self.name,
                self.log.display(),
                tail.join("\n")
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Bounded runs of tools

/// What a bounded run produced.
#[derive(Debug)]
pub(crate) struct RunOutput {
    /// The exit status; `None` when the run was killed at the bound.
    pub(crate) status: Option<ExitStatus>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

/// Runs `command` to completion, killing it after `bound`.
pub(crate) fn run_bounded(command: &mut Command, bound: Duration) -> RunOutput {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout piped");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    RunOutput {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// The exit status a namespace script returns when it cannot set the
/// namespace up the way it needs (a `sysctl` refused, say): a skip, like
/// `unshare` itself being refused.
pub(crate) const NAMESPACE_UNAVAILABLE: i32 = 77;

/// Runs `sh -c script` with `args` as `$1`, `$2`, … in a network namespace
/// of its own (`unshare --net`): a loopback, down until the script sets it
/// up, and nothing else, so the script can bind any port or address and
/// change the link's settings without touching the host. Bounded by
/// `bound`. `None` when the namespace cannot be made here (`unshare` is
/// not permitted, or the script exits with [`NAMESPACE_UNAVAILABLE`]):
/// the test skips, or fails under `XCC_REQUIRE_TOOLS=1`, where every tool
/// and permission is expected.
pub(crate) fn run_in_network_namespace(
    script: &str,
    args: &[&std::ffi::OsStr],
    bound: Duration,
) -> Option<RunOutput> {
    let run = run_bounded(
        Command::new("unshare")
            .args(["--net", "sh", "-c", script, "sh"])
            .args(args),
        bound,
    );
    // util-linux says "unshare failed: Operation not permitted"; busybox
    // only the latter.
    let refused =
        run.stderr.contains("unshare failed") || run.stderr.contains("Operation not permitted");
    let unavailable = run
        .status
        .is_some_and(|s| s.code() == Some(NAMESPACE_UNAVAILABLE));
    if !(refused || unavailable) {
        return Some(run);
    }
    skip(&format!("no network namespace here: {}", run.stderr.trim()));
    None
}

// ---------------------------------------------------------------------------
// dig and kdig

/// One resource record from a tool's presentation output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rr {
    pub(crate) owner: String,
    pub(crate) ttl: u32,
    pub(crate) class: String,
    pub(crate) rtype: String,
    pub(crate) rdata: String,
}

/// One message as `dig` or `kdig` printed it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reply {
    /// `NOERROR`, `NXDOMAIN`, ...
    pub(crate) status: String,
    /// Header flags, lower case (`qr`, `aa`, `tc`, ...).
    pub(crate) flags: Vec<String>,
    pub(crate) answer: Vec<Rr>,
    pub(crate) authority: Vec<Rr>,
    /// Whether the tool says it came over TCP.
    pub(crate) tcp: bool,
}

impl Reply {
    /// Whether header flag `flag` is set.
    pub(crate) fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The rdata of the answer's records of type `rtype`, sorted.
    pub(crate) fn answer_data(&self, rtype: &str) -> Vec<String> {
        let mut data: Vec<String> = self
            .answer
            .iter()
            .filter(|rr| rr.rtype == rtype)
            .map(|rr| rr.rdata.clone())
            .collect();
        data.sort();
        data
    }

    /// Whether the authority section holds the SOA of `zone`.
    pub(crate) fn has_soa(&self, zone: &str) -> bool {
        self.authority
            .iter()
            .any(|rr| rr.rtype == "SOA" && rr.owner.eq_ignore_ascii_case(zone))
    }
}

/// A tool's output: the messages it printed, in order, and the raw text.
#[derive(Debug)]
pub(crate) struct ToolOutput {
    pub(crate) replies: Vec<Reply>,
    pub(crate) run: RunOutput,
}

impl ToolOutput {
    /// The only reply; panics (with the output) unless there is exactly one.
    pub(crate) fn reply(&self) -> &Reply {
        assert_eq!(
            self.replies.len(),
            1,
            "expected one reply; output:\n{}",
            self.text()
        );
        &self.replies[0]
    }

    /// stdout and stderr, for messages.
    pub(crate) fn text(&self) -> String {
        format!("{}\n[stderr]\n{}", self.run.stdout, self.run.stderr)
    }
}

/// Parses `dig` or `kdig` output (with comments, answer, authority and
/// stats) into its messages.
pub(crate) fn parse_tool_output(text: &str) -> Vec<Reply> {
    #[derive(PartialEq)]
    enum Section {
        Answer,
        Authority,
        Other,
    }
    let mut replies: Vec<Reply> = Vec::new();
    let mut section = Section::Other;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(at) = trimmed.find("->>HEADER<<-") {
            let rest = &trimmed[at..];
            let status = rest
                .split("status: ")
                .nth(1)
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect()
                })
                .unwrap_or_default();
            replies.push(Reply {
                status,
                ..Reply::default()
            });
            section = Section::Other;
            continue;
        }
        let Some(reply) = replies.last_mut() else {
            continue;
        };
        let lower = trimmed.to_ascii_lowercase();
        if let Some(flags) = lower.strip_prefix(";; flags:") {
            reply.flags = flags
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
        } else if lower.starts_with(";; answer section") {
            section = Section::Answer;
        } else if lower.starts_with(";; authority section") {
            section = Section::Authority;
        } else if lower.starts_with(';') {
            if lower.contains("section") {
                section = Section::Other;
            }
            if (lower.starts_with(";; server:") || lower.starts_with(";; from "))
                && lower.contains("(tcp)")
            {
                reply.tcp = true;
            }
        } else if !trimmed.is_empty() && section != Section::Other {
            let fields: Vec<&str> = trimmed.split_whitespace().collect();
            if fields.len() >= 4 {
                let rr = Rr {
                    owner: fields[0].to_owned(),
                    ttl: fields[1].parse().unwrap_or(u32::MAX),
                    class: fields[2].to_owned(),
                    rtype: fields[3].to_owned(),
                    rdata: fields[4..].join(" "),
                };
                match section {
                    Section::Answer => reply.answer.push(rr),
                    Section::Authority => reply.authority.push(rr),
                    Section::Other => {}
                }
            }
        }
    }
    replies
}

/// Runs `dig @server -p port` with one try, a 2 s timeout, comments,
/// answer, authority and stats, then `args`.
pub(crate) fn dig(server: SocketAddr, args: &[&str]) -> ToolOutput {
    let mut command = Command::new(find_tool("dig").expect("dig installed"));
    command
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args([
            "+tries=1",
            "+time=2",
            "+noall",
            "+comments",
            "+answer",
            "+authority",
            "+stats",
        ])
        .args(args);
    let run = run_bounded(&mut command, Duration::from_secs(10));
    ToolOutput {
        replies: parse_tool_output(&run.stdout),
        run,
    }
}

/// Runs `kdig @server -p port` with no retry and a 2 s timeout, then
/// `args` (options before the first name
/// apply to all queries).
pub(crate) fn kdig(server: SocketAddr, args: &[&str]) -> ToolOutput {
    let mut command = Command::new(find_tool("kdig").expect("kdig installed"));
    command
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        // All sections (the default): with +noall kdig omits the section
        // headings the parser goes by.
        .args(["+retry=0", "+timeout=2"])
        .args(args);
    let run = run_bounded(&mut command, Duration::from_secs(10));
    ToolOutput {
        replies: parse_tool_output(&run.stdout),
        run,
    }
}

// ---------------------------------------------------------------------------
// Records files

/// One `DNSRecord` manifest (YAML document) for `owner` with `addresses`.
pub(crate) fn manifest<S: AsRef<str>>(
    object: &str,
    owner: &str,
    ttl: u32,
    addresses: &[S],
) -> String {
    let list: Vec<String> = addresses
        .iter()
        .map(|a| format!("\"{}\"", a.as_ref()))
        .collect();
    format!(
        "---\napiVersion: connectivity.tanzu.vmware.com/v1alpha1\nkind: DNSRecord\n\
         metadata:\n  name: {object}\n  namespace: xcc-dns\n\
         spec:\n  name: \"{owner}\"\n  ttl: {ttl}\n  addresses: [{}]\n",
        list.join(", ")
    )
}

/// One `DNSRecord` manifest (YAML document) for `owner` with a CNAME to
/// `target` carrying the target's addresses (`targetAddresses`).
pub(crate) fn cname_manifest(
    object: &str,
    owner: &str,
    ttl: u32,
    target: &str,
    target_addresses: &[&str],
) -> String {
    let list: Vec<String> = target_addresses
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect();
    format!(
        "---\napiVersion: connectivity.tanzu.vmware.com/v1alpha1\nkind: DNSRecord\n\
         metadata:\n  name: {object}\n  namespace: xcc-dns\n\
         spec:\n  name: \"{owner}\"\n  ttl: {ttl}\n  cname: \"{target}\"\n  \
         targetAddresses: [{}]\n",
        list.join(", ")
    )
}

/// Addresses in `10.<net>.0.1 ..= 10.<net>.0.<count>`.
pub(crate) fn many_addresses(net: u8, count: u8) -> Vec<String> {
    (1..=count).map(|i| format!("10.{net}.0.{i}")).collect()
}

/// Addresses of `mid.xcc.test.`: 40 A records, about 680 octets: more than
/// 512, less than 1232.
pub(crate) const MID_COUNT: usize = 40;

/// Addresses of `big.xcc.test.`: 100 A records, about 1640 octets: more than
/// the 1232 of EDNS.
pub(crate) const BIG_COUNT: usize = 100;

/// The records most tests serve:
/// - `www.xcc.test.` A 192.0.2.1 (and no AAAA: NODATA),
/// - `*.apps.xcc.test.` A 192.0.2.2 (wildcard),
/// - `v6.xcc.test.` AAAA 2001:db8::6,
/// - `mid.xcc.test.` 40 A, `big.xcc.test.` 100 A.
pub(crate) fn fixture_records() -> String {
    [
        manifest("www", "www.xcc.test", 30, &["192.0.2.1"]),
        manifest("apps", "*.apps.xcc.test", 30, &["192.0.2.2"]),
        manifest("v6", "v6.xcc.test", 30, &["2001:db8::6"]),
        manifest(
            "mid",
            "mid.xcc.test",
            30,
            &many_addresses(1, MID_COUNT as u8),
        ),
        manifest(
            "big",
            "big.xcc.test",
            30,
            &many_addresses(2, BIG_COUNT as u8),
        ),
    ]
    .concat()
}

/// Writes `content` to `path` atomically: a temporary file in the same
/// directory, then a rename over `path`.
pub(crate) fn write_atomically(path: &Path, content: &str) {
    let temporary = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("records")
    ));
    fs::write(&temporary, content).expect("write the temporary records file");
    fs::rename(&temporary, path).expect("rename the records file into place");
}

// ---------------------------------------------------------------------------
// The responder

/// What to wait for after starting the responder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// `/readyz` answers 200: a table is loaded.
    Ready,
    /// The admin endpoint answers at all.
    Admin,
}

/// A running `xcc-responder` on free loopback ports, stopped on drop.
pub(crate) struct Responder {
    /// The DNS address (UDP and TCP).
    pub(crate) dns: SocketAddr,
    /// The admin HTTP address.
    pub(crate) admin: SocketAddr,
    /// The records file.
    pub(crate) records: PathBuf,
    /// The process.
    pub(crate) process: ChildGuard,
    /// How long start-up took, until the wait was satisfied.
    pub(crate) startup: Duration,
    /// Holds the records file and logs (declared last: dropped after the
    /// process).
    pub(crate) dir: TempDir,
}

impl Responder {
    /// Starts the responder serving `records` and waits until it is ready.
    pub(crate) fn start(records: &str) -> Self {
        Self::start_with(Some(records), &[], Wait::Ready)
    }

    /// Starts the responder with `records` written first (or no records
    /// file at all), extra command-line `args`, and waits as `wait` says.
    /// Retries on other ports when a port turned out to be taken.
    pub(crate) fn start_with(records: Option<&str>, args: &[&str], wait: Wait) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let records_path = dir.path().join("records.yaml");
        if let Some(content) = records {
            write_atomically(&records_path, content);
        }
        let start = Instant::now();
        for attempt in 1..=3 {
            let dns = loopback(free_port());
            let admin = loopback(free_port());
            let log = dir.path().join(format!("responder-{attempt}.log"));
            let mut command = Command::new(BIN);
            command
                .env("NO_COLOR", "1")
                .env_remove("RUST_LOG")
                .arg("--records")
                .arg(&records_path)
                .args(["--listen", &dns.to_string()])
                .args(["--admin-listen", &admin.to_string()])
                .args(["--workers", "2", "--reload-interval", "1"])
                .args(args);
            let mut process = ChildGuard::spawn("xcc-responder", &mut command, &log);
            loop {
                if let Some(status) = process.exit_status() {
                    let log = process.log();
                    if log.contains("in use") && attempt < 3 {
                        eprintln!("port clash ({dns} or {admin}); retrying on other ports");
                        break;
                    }
                    panic!("xcc-responder exited during start-up ({status}):\n{log}");
                }
                if let Ok((status, _)) = http_get(admin, "/readyz")
                    && (wait == Wait::Admin || status == 200)
                {
                    return Self {
                        dns,
                        admin,
                        records: records_path,
                        process,
                        startup: start.elapsed(),
                        dir,
                    };
                }
                if start.elapsed() > START_BOUND {
                    panic!(
                        "xcc-responder not {} after {START_BOUND:?}:\n{}",
                        if wait == Wait::Ready {
                            "ready"
                        } else {
                            "serving /readyz"
                        },
                        process.log()
                    );
                }
                std::thread::sleep(POLL);
            }
        }
        unreachable!("the last attempt returns or panics");
    }

    /// The DNS port.
    pub(crate) fn port(&self) -> u16 {
        self.dns.port()
    }

    /// GET `path` on the admin endpoint; panics when it cannot connect.
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        http_get(self.admin, path).unwrap_or_else(|e| panic!("GET {path} on {}: {e}", self.admin))
    }

    /// The `/metrics` text; panics unless it is served with status 200.
    pub(crate) fn metrics(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "/metrics status; body:\n{body}");
        body
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    pub(crate) fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_value(&self.metrics(), name, labels)
    }

    /// Replaces the records file atomically.
    pub(crate) fn write_records(&self, content: &str) {
        write_atomically(&self.records, content);
    }
}

// ---------------------------------------------------------------------------
// HTTP and metrics

/// A minimal HTTP/1.1 GET (`Connection: close`), bounded by timeouts.
/// Returns the status code and the body.
pub(crate) fn http_get(address: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.set_write_timeout(Some(Duration::from_secs(3)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header end in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// The sum of the samples of metric `name` (a full sample name such as
/// `xcc_responder_queries_total`) whose labels include all of `labels`;
/// 0 when there is none.
pub(crate) fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut sum = 0.0;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        if labels.iter().all(|(k, v)| {
            series_labels
                .split(',')
                .any(|pair| pair == format!("{k}=\"{v}\""))
        }) {
            sum += value.parse::<f64>().unwrap_or(f64::NAN);
        }
    }
    sum
}
