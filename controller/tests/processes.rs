//! Support for the process-level tests (`process_e2e`, `e2e_walkthrough`):
//! child processes stopped by PID with their logs printed when a test
//! fails, commands run with a time limit, free loopback ports, the built
//! binaries, external tools, `dig` and the admin endpoints.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::apiserver::repo_root;

//----------- Child processes ---------------------------------------------------

/// A child process, killed (by its PID) and reaped on drop; its output
/// goes to a log file, whose last lines are printed when the test fails.
pub(crate) struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` with its output in `log`.
    pub(crate) fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        // Settings the developer's environment may carry must not leak in:
        // every flag the test relies on is passed explicitly (variables the
        // command sets itself stay).
        let explicit: Vec<_> = command.get_envs().map(|(k, _)| k.to_owned()).collect();
        for (key, _) in std::env::vars_os() {
            if (key.to_string_lossy().starts_with("XCC_") || key == "POD_NAME")
                && !explicit.contains(&key)
            {
                command.env_remove(key);
            }
        }
        // Plain text in the log files (tracing-subscriber honours it).
        if !explicit.iter().any(|k| k == "NO_COLOR") {
            command.env("NO_COLOR", "1");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child, log }
    }

    /// Panics (with the log) if the process has exited: for the waits
    /// that would otherwise only time out.
    pub(crate) fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "{} exited ({status}):\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    pub(crate) fn terminate(mut self) {
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

/// Runs `command` to its end, with `input` on its stdin, for at most
/// `limit` (then it is killed and the test fails).
pub(crate) fn run_bounded(command: &mut Command, input: Option<&str>, limit: Duration) -> Output {
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if let Some(input) = input {
        // Dropped at the end of the statement: the child sees end of input.
        // A child that exits without reading it fails on its own terms.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    // The pipes are drained on threads of their own, so a chatty child
    // never blocks on a full pipe while we wait for it.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Polls `check` every 20 ms until it gives `Some`, for at most `limit`;
/// panics naming `what` on time-out (the blocking twin of
/// [`crate::apiserver::wait_for`], for tests without a runtime).
pub(crate) fn poll<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

//----------- Ports, binaries, tools ---------------------------------------------

/// A loopback port free for TCP and UDP (another process may still take it
/// before ours binds it; the children fail loudly then).
pub(crate) fn free_port() -> u16 {
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
pub(crate) fn responder_binary() -> PathBuf {
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
            "cargo build -p xcc-responder failed; using the binary there:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Ok(output) => panic!(
            "cargo build -p xcc-responder failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) if binary.is_file() => {
            eprintln!("cannot run cargo ({e}); using the xcc-responder binary there");
        }
        Err(e) => panic!("cannot run cargo to build xcc-responder: {e}"),
    }
    eprintln!(
        "xcc-responder ready in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        binary.display()
    );
    binary
}

/// The path of an executable named `name`, from `PATH` and the sbin
/// directories (where `unbound` lives).
pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
}

//----------- dig ----------------------------------------------------------------

/// What `dig` answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// NOERROR, NXDOMAIN, REFUSED, ...
    pub(crate) status: String,
    /// The A/AAAA data of the answer section, sorted.
    pub(crate) addresses: Vec<String>,
}

/// An [`Answer`] to compare with.
pub(crate) fn answer(status: &str, addresses: &[&str]) -> Answer {
    let mut addresses: Vec<String> = addresses.iter().map(|a| (*a).to_owned()).collect();
    addresses.sort();
    Answer {
        status: status.into(),
        addresses,
    }
}

/// `dig @127.0.0.1 -p <port> <name> A`, asking an authoritative server
/// (no recursion desired; one try, one second).
pub(crate) fn dig(port: u16, name: &str) -> Option<Answer> {
    dig_with(port, name, &["+norecurse", "+time=1"])
}

/// `dig @127.0.0.1 -p <port> <name> A` through a resolver (recursion
/// desired; one try, two seconds).
pub(crate) fn dig_resolver(port: u16, name: &str) -> Option<Answer> {
    dig_with(port, name, &["+recurse", "+time=2"])
}

fn dig_with(port: u16, name: &str, options: &[&str]) -> Option<Answer> {
    let output = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+tries=1"])
        .args(options)
        .args(["+noall", "+comments", "+answer", name, "A"])
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

//----------- Admin endpoints -----------------------------------------------------

/// `GET <path>` on an admin port: (status code, body).
pub(crate) fn http_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
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
pub(crate) fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
