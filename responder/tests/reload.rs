//! Hot reload, end to end: a records file on disk, the watch thread, the
//! table handle, and real queries answered by `respond` from what is
//! published.
//!
//! - a good file is published and answered; replacing it by write + rename
//!   changes the answers; the periodic check alone does too;
//! - a file with a syntax error (written in place), a file whose every
//!   record is invalid, and a missing file are rejected: the failure is
//!   counted and the last good table keeps answering;
//! - many swaps while other threads query: no answer mixes two versions,
//!   and no reader sees the version go backwards.
//!
//! Waiting is polling on a condition with a deadline, never a fixed sleep.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use xcc_responder::records::watch::{ReloadStats, Reloader, WatchGuard};
use xcc_responder::respond::{Context, Outcome, Transport, respond};
use xcc_responder::table::handle::TableHandle;
use xcc_responder::table::{RecordValue, Source, Table, TableBuilder, TableConfig};
use xcc_wire::{Class, Flags, Message, MessageWriter, NameBuf, Question, RData, RType, Rcode};

/// The longest any condition is waited for.
const WAIT: Duration = Duration::from_secs(5);

//----------- Helpers ----------------------------------------------------------

/// A query for `name`/`qtype`, class IN, RD set.
fn query(name: &str, qtype: RType) -> Vec<u8> {
    let qname = NameBuf::from_presentation(name).expect("a valid name");
    let mut buf = vec![0u8; 512];
    let mut writer = MessageWriter::new(&mut buf, 512).expect("room for a header");
    writer.set_id(0x4242);
    writer.set_flags(Flags(0).with_rd(true));
    writer
        .push_question(&Question {
            qname: qname.as_name(),
            qtype,
            qclass: Class::IN,
        })
        .expect("room for the question");
    let len = writer.finish();
    buf.truncate(len);
    buf
}

/// What an answer said, as far as these tests care.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    rcode: Rcode,
    /// The A records of the answer section, in the order received.
    a: Vec<Ipv4Addr>,
    /// The serial of the SOA in the authority section, if any.
    soa_serial: Option<u32>,
}

/// Answers `query` from `table` over UDP and reads the answer back.
fn ask(table: &Table, query: &[u8], context: &mut Context) -> Answer {
    let mut out = [0u8; 1232];
    let len = match respond(query, table, Transport::Udp, context, &mut out) {
        Outcome::Answered { len, .. } => len,
        Outcome::Dropped(reason) => panic!("query dropped: {reason:?}"),
    };
    let message = Message::parse(&out[..len]).expect("a well-formed answer");
    let mut a = Vec::new();
    for record in message.answers() {
        if let RData::A(address) = record.rdata {
            a.push(address);
        }
    }
    let soa_serial = message.authority().find_map(|record| match record.rdata {
        RData::Soa(soa) => Some(soa.serial),
        _ => None,
    });
    Answer {
        rcode: message.rcode(),
        a,
        soa_serial,
    }
}

/// The sorted A addresses `name` resolves to in the table now published.
fn addresses(handle: &TableHandle, name: &str) -> Vec<Ipv4Addr> {
    let answer = ask(
        &handle.load(),
        &query(name, RType::A),
        &mut Context::default(),
    );
    let mut a = answer.a;
    a.sort();
    a
}

/// Polls `condition` until it holds, failing the test after [`WAIT`].
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < WAIT,
            "timed out after {WAIT:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Replaces the file at `path` the expected way: write a temporary file in
/// the same directory, then rename it over.
fn replace(path: &Path, content: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, content).expect("temporary file written");
    std::fs::rename(&temporary, path).expect("renamed over the records file");
}

/// A records file with one wildcard gateway record at `address`.
fn records(address: &str) -> String {
    format!(
        "apiVersion: connectivity.tanzu.vmware.com/v1alpha1\n\
         kind: DNSRecord\n\
         metadata:\n  name: dev-team-cluster-a-gateway\n  namespace: xcc-dns\n\
         spec:\n  name: \"*.gateway.cluster-a.dev-team.clusters.xcc.test\"\n  \
         addresses: [\"{address}\"]\n"
    )
}

const KUARD: &str = "kuard.gateway.cluster-a.dev-team.clusters.xcc.test";

fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect("a valid address")
}

/// A handle, a records file holding `content` in a fresh directory, and a
/// reloader that has loaded it (not yet watching).
fn setup(content: &str) -> (tempfile::TempDir, Arc<TableHandle>, Reloader) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("records.yaml");
    std::fs::write(&path, content).expect("records written");
    let handle = TableHandle::new(TableBuilder::new(TableConfig::default()).build().table);
    let mut reloader = Reloader::new(&path, TableConfig::default(), Arc::clone(&handle));
    if let Err(e) = reloader.reload_now() {
        panic!("initial load failed: {e}");
    }
    (dir, handle, reloader)
}

/// Starts watching with inotify alone: the periodic check is made hourly,
/// so that only file events can explain a reload within [`WAIT`].
fn spawn(reloader: Reloader) -> (WatchGuard, Arc<ReloadStats>) {
    let guard = reloader
        .with_poll_interval(Duration::from_secs(3600))
        .spawn()
        .expect("watch thread started");
    let stats = guard.stats();
    (guard, stats)
}

//----------- Reloading a file --------------------------------------------------

#[test]
fn reload_good_file_is_served_and_a_renamed_replacement_swapped_in() {
    let (dir, handle, reloader) = setup(&records("192.0.2.10"));
    assert!(handle.is_loaded());
    assert_eq!(addresses(&handle, KUARD), vec![ip("192.0.2.10")]);
    let first_version = handle.load().version();
    let (_guard, stats) = spawn(reloader);

    replace(&dir.path().join("records.yaml"), &records("192.0.2.11"));
    wait_until("the replaced file to be served", || {
        addresses(&handle, KUARD) == vec![ip("192.0.2.11")]
    });
    // The SOA serial is the new version, larger than the first.
    let nodata = ask(
        &handle.load(),
        &query(KUARD, RType::TXT),
        &mut Context::default(),
    );
    assert_eq!(nodata.rcode, Rcode::NOERROR);
    let serial = nodata.soa_serial.expect("an SOA in a NODATA answer");
    assert!(serial > first_version, "{serial} > {first_version}");
    assert_eq!(serial, handle.load().version());
    assert_eq!(stats.reloads_failed(), 0);
    assert!(stats.reloads_ok() >= 2);
}

#[test]
fn reload_rejects_bad_files_and_keeps_serving_the_last_good_table() {
    let (dir, handle, reloader) = setup(&records("192.0.2.10"));
    let path = dir.path().join("records.yaml");
    let version = handle.load().version();
    let (_guard, stats) = spawn(reloader);

    // A syntax error, written in place (not atomically).
    std::fs::write(&path, "apiVersion: x\n  kind: [unclosed\n").expect("written in place");
    let last_error = || stats.last_error().unwrap_or_default();
    wait_until("the syntax error to be reported", || {
        last_error().contains("syntax error")
    });
    assert!(stats.reloads_failed() >= 1);
    assert!(last_error().contains("records.yaml"), "{}", last_error());
    assert_eq!(addresses(&handle, KUARD), vec![ip("192.0.2.10")]);
    assert_eq!(handle.load().version(), version);

    // Well-formed, but every record invalid.
    let failed = stats.reloads_failed();
    replace(&path, &records("192.0.2.300"));
    wait_until("the invalid records to be reported", || {
        last_error().contains("192.0.2.300")
    });
    assert!(stats.reloads_failed() > failed);
    assert_eq!(addresses(&handle, KUARD), vec![ip("192.0.2.10")]);
    assert_eq!(handle.load().version(), version);

    // Back to a good file: served.
    replace(&path, &records("192.0.2.12"));
    wait_until("the good file to be served again", || {
        addresses(&handle, KUARD) == vec![ip("192.0.2.12")]
    });
    assert!(handle.load().version() > version);
}

#[test]
fn reload_keeps_serving_while_the_file_is_missing() {
    let (dir, handle, reloader) = setup(&records("192.0.2.10"));
    let path = dir.path().join("records.yaml");
    let (_guard, stats) = spawn(reloader);

    std::fs::remove_file(&path).expect("removed");
    wait_until("the missing file to be counted", || {
        stats.reloads_failed() >= 1
    });
    assert_eq!(addresses(&handle, KUARD), vec![ip("192.0.2.10")]);

    replace(&path, &records("192.0.2.13"));
    wait_until("the recreated file to be served", || {
        addresses(&handle, KUARD) == vec![ip("192.0.2.13")]
    });
}

#[test]
fn reload_by_periodic_check_alone() {
    let (dir, handle, reloader) = setup(&records("192.0.2.10"));
    let _guard = reloader
        .with_notify(false)
        .with_poll_interval(Duration::from_millis(20))
        .spawn()
        .expect("watch thread started");

    replace(&dir.path().join("records.yaml"), &records("192.0.2.14"));
    wait_until("the periodic check to pick the change up", || {
        addresses(&handle, KUARD) == vec![ip("192.0.2.14")]
    });
}

//----------- Swaps under load --------------------------------------------------

/// How many tables are published while the readers query.
const SWAPS: u32 = 200;

/// A table of version `version` in which every address says the version:
/// `multi.xcc.test` has A 10.i.hi.lo for i in 1..=4, `*.w.xcc.test` A
/// 10.5.hi.lo, where hi.lo is the version; the SOA serial is the version.
fn versioned_table(version: u32) -> Table {
    let config = TableConfig {
        version,
        ..TableConfig::default()
    };
    let [_, _, hi, lo] = version.to_be_bytes();
    let mut builder = TableBuilder::new(config);
    let multi = (1..=4)
        .map(|i| RecordValue::A(Ipv4Addr::new(10, i, hi, lo)))
        .collect();
    builder
        .add(Source::default(), "multi.xcc.test", 30, multi)
        .expect("a valid record");
    builder
        .add(
            Source::default(),
            "*.w.xcc.test",
            30,
            vec![RecordValue::A(Ipv4Addr::new(10, 5, hi, lo))],
        )
        .expect("a valid record");
    let built = builder.build();
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    built.table
}

/// The version an address says.
fn version_of(address: Ipv4Addr) -> u32 {
    let [_, _, hi, lo] = address.octets();
    u32::from(u16::from_be_bytes([hi, lo]))
}

/// The versions one reader has seen.
struct Progress<'a> {
    /// The latest.
    last: u32,
    /// How many different ones.
    versions: u32,
    /// Where the publisher reads `last`.
    shared: &'a AtomicU32,
}

impl Progress<'_> {
    /// Notes a version seen in an answer; it must not be older than the
    /// last one.
    fn note(&mut self, version: u32) {
        assert!(version >= self.last, "went back: {version} < {}", self.last);
        if version != self.last {
            self.versions += 1;
            self.last = version;
            self.shared.store(version, Ordering::Release);
        }
    }
}

#[test]
fn swaps_under_concurrent_queries_never_mix_versions() {
    const READERS: usize = 4;
    let handle = TableHandle::new(versioned_table(0));
    // The last version each reader saw: the publisher waits for every
    // reader to have seen a version before publishing the next, so that
    // swaps land while the readers are busy querying (without it, a fast
    // publisher finishes before a reader's first query).
    let seen: Arc<Vec<AtomicU32>> = Arc::new((0..READERS).map(|_| AtomicU32::new(0)).collect());
    let start = Arc::new(Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|index| {
            let handle = Arc::clone(&handle);
            let seen = Arc::clone(&seen);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut reader = handle.reader();
                let mut context = Context::default();
                let multi = query("multi.xcc.test", RType::A);
                let wild = query("x.w.xcc.test", RType::A);
                let nodata = query("multi.xcc.test", RType::TXT);
                let mut progress = Progress {
                    last: 0,
                    versions: 0,
                    shared: &seen[index],
                };
                start.wait();
                let began = Instant::now();
                loop {
                    // One version per answer: four addresses of one version.
                    let answer = ask(reader.load(), &multi, &mut context);
                    assert_eq!(answer.rcode, Rcode::NOERROR);
                    assert_eq!(answer.a.len(), 4, "{answer:?}");
                    let version = version_of(answer.a[0]);
                    let mut seconds: Vec<u8> = answer.a.iter().map(|a| a.octets()[1]).collect();
                    seconds.sort_unstable();
                    assert_eq!(seconds, [1, 2, 3, 4], "{answer:?}");
                    assert!(
                        answer.a.iter().all(|&a| version_of(a) == version),
                        "an answer mixing versions: {answer:?}"
                    );
                    progress.note(version);

                    let answer = ask(reader.load(), &wild, &mut context);
                    assert_eq!(answer.a.len(), 1, "{answer:?}");
                    progress.note(version_of(answer.a[0]));

                    // NODATA: the SOA serial is the version.
                    let answer = ask(reader.load(), &nodata, &mut context);
                    assert!(answer.a.is_empty(), "{answer:?}");
                    progress.note(answer.soa_serial.expect("an SOA in a NODATA answer"));

                    if progress.last == SWAPS {
                        return progress.versions;
                    }
                    // Fair to the other threads on small machines.
                    thread::yield_now();
                    assert!(
                        began.elapsed() < WAIT * 4,
                        "stuck at version {}",
                        progress.last
                    );
                }
            })
        })
        .collect();

    start.wait();
    for version in 1..=SWAPS {
        handle.publish(versioned_table(version));
        let began = Instant::now();
        while seen.iter().any(|s| s.load(Ordering::Acquire) < version) {
            assert!(
                began.elapsed() < WAIT,
                "no reader progress at version {version}"
            );
            thread::yield_now();
        }
    }
    for reader in readers {
        let versions_seen = reader.join().expect("a reader failed");
        // Each reader saw every version, one after the other.
        assert_eq!(versions_seen, SWAPS);
    }
    assert_eq!(handle.load().version(), SWAPS);
    // Every replaced table is freed once no reader holds it.
    assert_eq!(handle.reclaim(), 0);
}

//----------- Settling on huge pages ---------------------------------------------

/// A JSON `List` of `count` gateway wildcards, each with its own address.
fn many_gateways(count: usize) -> String {
    let items: Vec<String> = (0..count)
        .map(|i| {
            format!(
                r#"{{"apiVersion":"connectivity.tanzu.vmware.com/v1alpha1","kind":"DNSRecord","metadata":{{"name":"g{i}","namespace":"xcc-dns"}},"spec":{{"name":"*.gateway.c{i}.ns.clusters.xcc.test","addresses":["10.{}.{}.{}"]}}}}"#,
                i >> 16,
                (i >> 8) & 255,
                i & 255
            )
        })
        .collect();
    format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        items.join(",")
    )
}

/// Octets of this process's anonymous memory on huge pages.
fn anon_huge_pages() -> Option<u64> {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").ok()?;
    let line = rollup.lines().find(|l| l.starts_with("AnonHugePages:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Whether the kernel moves memory onto huge pages on request
/// (`MADV_COLLAPSE`: Linux 6.1 and later, transparent huge pages not off).
fn collapse_supported() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let enabled =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    version >= (6, 1) && !enabled.is_empty() && !enabled.contains("[never]")
}

#[test]
fn a_table_served_unchanged_is_settled_once_and_answers_the_same() {
    // Big enough for its index to be moved onto huge pages (over 2 MiB).
    const GATEWAYS: usize = 50_000;
    let (dir, handle, reloader) = setup(&many_gateways(GATEWAYS));
    let names: Vec<String> = (0..GATEWAYS)
        .step_by(997)
        .map(|i| format!("x.gateway.c{i}.ns.clusters.xcc.test"))
        .collect();
    let answers = |table: &Table| -> Vec<Answer> {
        let mut context = Context::default();
        names
            .iter()
            .map(|name| ask(table, &query(name, RType::A), &mut context))
            .collect()
    };
    let before = answers(&handle.load());
    assert_eq!(before[1].a, vec![ip("10.0.3.229")], "{:?}", before[1]);

    let guard = reloader
        .with_poll_interval(Duration::from_millis(10))
        .with_settle_after(Duration::from_millis(50))
        .spawn()
        .expect("watch thread started");
    let stats = guard.stats();
    wait_until("the table to be settled", || stats.tables_settled() == 1);
    // Nothing else in this test binary asks for huge pages (the system
    // gives them only on request), so these are the table's; unless the
    // kernel refused (no huge page free on a fragmented machine), which
    // the responder logs and serves on.
    if collapse_supported() && stats.huge_page_refusals() == 0 {
        let huge = anon_huge_pages().expect("smaps_rollup readable");
        assert!(
            huge >= 2 << 20,
            "{huge} octets on huge pages after settling"
        );
    }
    assert_eq!(answers(&handle.load()), before);
    // Settled once: not again while the same table is served.
    thread::sleep(Duration::from_millis(200));
    assert_eq!(stats.tables_settled(), 1);

    // Never, when switched off.
    let (_other_dir, _other_handle, other) = setup(&records("192.0.2.98"));
    let off = other
        .with_poll_interval(Duration::from_millis(10))
        .with_settle_after(Duration::from_millis(10))
        .with_huge_pages(false)
        .spawn()
        .expect("watch thread started");
    thread::sleep(Duration::from_millis(200));
    assert_eq!(off.stats().tables_settled(), 0);

    // A new table is settled in its turn.
    replace(&dir.path().join("records.yaml"), &records("192.0.2.99"));
    wait_until("the new table to be settled", || {
        stats.tables_settled() == 2
    });
    assert_eq!(addresses(&handle, KUARD), vec![ip("192.0.2.99")]);
}
