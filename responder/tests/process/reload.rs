//! Hot reload end to end: the records file is replaced (temporary file, then
//! rename, as the controller does) under a running responder; `dig` sees the
//! old answer up to the rename and the new one after it (how soon is
//! printed; `benches/propagation.rs` measures the control path). An
//! invalid file changes nothing served and counts as a failed reload; a file
//! with one bad record serves the others.

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{Responder, dig, have_tools, manifest, wait_until};
use crate::wire;

/// The records with `svc.xcc.test.` at `address`, and a fixed `www`.
fn records_with(address: &str) -> String {
    [
        manifest("svc", "svc.xcc.test", 5, &[address]),
        manifest("www", "www.xcc.test", 30, &["192.0.2.1"]),
    ]
    .concat()
}

const OLD: &str = "192.0.2.50";
const NEW: &str = "198.51.100.50";

fn svc(responder: &Responder) -> Vec<String> {
    let output = dig(responder.dns, &["svc.xcc.test", "A"]);
    let reply = output.reply();
    assert_eq!(reply.status, "NOERROR", "{}", output.text());
    reply.answer_data("A")
}

/// A thread asking `svc.xcc.test. A` one query after the other until
/// `stop` (10 s at most); returns the answers' addresses in order ("?" and
/// the reason for anything else).
fn hammer(server: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.connect(server).expect("connect");
        socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        let start = Instant::now();
        let mut id: u16 = 0;
        while !stop.load(Ordering::Acquire) && start.elapsed() < Duration::from_secs(10) {
            id = id.wrapping_add(1);
            socket
                .send(&wire::query(id, "svc.xcc.test", wire::A, None))
                .expect("send");
            let answer = loop {
                match socket.recv(&mut buffer) {
                    Ok(n) if buffer[..2] == id.to_be_bytes() => break wire::parse(&buffer[..n]),
                    Ok(_) => continue,
                    Err(e) => break Err(format!("no answer: {e}")),
                }
            };
            seen.push(match answer {
                Ok(message) => match wire::a_addresses(&message.answers).as_slice() {
                    [one] => one.clone(),
                    other => format!("? rcode {} answers {other:?}", message.rcode()),
                },
                Err(e) => format!("? {e}"),
            });
        }
        seen
    })
}

fn serial(responder: &Responder) -> u64 {
    let output = dig(responder.dns, &["xcc.test", "SOA"]);
    let reply = output.reply();
    let soa = reply
        .answer
        .iter()
        .find(|rr| rr.rtype == "SOA")
        .expect("SOA in the answer");
    soa.rdata
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("SOA serial in {:?}", soa.rdata))
}

#[test]
fn replaced_records_file_is_served_after_the_rename_and_a_bad_one_changes_nothing() {
    if !have_tools(&["dig"]) {
        return;
    }
    let mut responder = Responder::start(&records_with(OLD));
    assert_eq!(svc(&responder), [OLD]);
    let serial_before = serial(&responder);
    let reloads_before = responder.metric("xcc_responder_reloads_ok_total", &[]);

    // Replace the file: write a temporary file, rename it over the old one.
    let temporary = responder.dir.path().join(".records.yaml.new");
    fs::write(&temporary, records_with(NEW)).expect("write");
    // The old answer up to the rename.
    assert_eq!(svc(&responder), [OLD], "old answer before the rename");
    // Meanwhile a raw client asks without pause, to see every answer
    // across the swap.
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = hammer(responder.dns, Arc::clone(&stop));
    fs::rename(&temporary, &responder.records).expect("rename");
    let renamed = Instant::now();

    // Poll with dig: every answer is the old or the new one, never
    // anything else, until the new one shows. How soon is printed, not
    // asserted (timings are the benchmarks' job); the bound only catches a
    // reload that never comes.
    let mut polls = Vec::new();
    let seen_new_at = loop {
        let asked = renamed.elapsed();
        let seen = svc(&responder);
        let answered = renamed.elapsed();
        polls.push((asked, answered, seen.clone()));
        if seen == [NEW] {
            break answered;
        }
        assert_eq!(
            seen,
            [OLD],
            "neither old nor new after the rename; polls: {polls:?}"
        );
        assert!(
            renamed.elapsed() < Duration::from_secs(20),
            "new answer not served after 20 s; polls: {polls:?}"
        );
    };
    eprintln!(
        "new answer seen by the dig that ended {seen_new_at:?} after the rename ({} digs; first asked {:?})",
        polls.len(),
        polls.last().map(|p| p.0).unwrap_or_default()
    );
    // And it stays.
    for _ in 0..5 {
        assert_eq!(svc(&responder), [NEW]);
    }
    stop.store(true, Ordering::Release);
    let seen = hammer.join().expect("hammer thread");
    let switches = seen.windows(2).filter(|w| w[0] != w[1]).count();
    let olds = seen.iter().filter(|s| s.as_str() == OLD).count();
    eprintln!(
        "raw client: {} answers across the swap, {olds} old then {} new",
        seen.len(),
        seen.len() - olds
    );
    assert!(
        seen.iter().all(|s| s == OLD || s == NEW),
        "only old or new answers: {seen:?}"
    );
    assert!(switches <= 1, "old and new answers interleaved: {seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some(NEW));
    assert!(responder.metric("xcc_responder_reloads_ok_total", &[]) > reloads_before);
    let serial_after = serial(&responder);
    assert!(
        serial_after > serial_before,
        "SOA serial {serial_before} → {serial_after}: must grow"
    );

    // An invalid file: rejected, counted, and the last good table stays.
    let failed_before = responder.metric("xcc_responder_reloads_failed_total", &[]);
    responder.write_records("apiVersion: [this is not\n  a: DNSRecord\n\t}}}\n");
    wait_until(
        Duration::from_secs(20),
        "a failed reload in /metrics",
        || {
            let failed = responder.metric("xcc_responder_reloads_failed_total", &[]);
            (failed >= 1.0 && failed > failed_before).then_some(())
        },
    );
    assert_eq!(svc(&responder), [NEW], "the last good table keeps serving");
    assert_eq!(serial(&responder), serial_after, "same table, same serial");
    assert_eq!(responder.get("/readyz").0, 200, "still ready");
    responder.process.assert_running();

    // A file with one bad record: the rest is served, the bad one reported.
    let ok_before = responder.metric("xcc_responder_reloads_ok_total", &[]);
    let partly_bad = [
        records_with("203.0.113.50"),
        manifest("bad", "bad.xcc.test", 30, &["not-an-address"]),
    ]
    .concat();
    responder.write_records(&partly_bad);
    wait_until(
        Duration::from_secs(20),
        "the partly bad file served",
        || {
            let loaded = responder.metric("xcc_responder_reloads_ok_total", &[]) > ok_before;
            (loaded && svc(&responder) == ["203.0.113.50"]).then_some(())
        },
    );
    assert_eq!(responder.metric("xcc_responder_records_rejected", &[]), 1.0);
    let output = dig(responder.dns, &["bad.xcc.test", "A"]);
    assert_eq!(output.reply().status, "NXDOMAIN", "{}", output.text());
}
