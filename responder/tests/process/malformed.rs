//! Malformed input: a bounded burst of random and mutated packets over UDP,
//! and malformed, truncated, zero-length and oversized frames over TCP. The
//! responder answers FORMERR or nothing to what does not parse, never answers
//! a response, never dies, and answers correctly afterwards; `/metrics`
//! stays served. TCP connections that stall or idle are closed by the
//! timeouts, and the connection limit holds.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Responder, Wait, dig, fixture_records, have_tools, wait_until};
use crate::wire::{self, Rng};

/// Packets in the UDP burst.
const BURST: usize = 2000;

/// The seed of the burst; `XCC_FUZZ_SEED` replays another.
fn seed() -> u64 {
    std::env::var("XCC_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0d15_ea5e_0001)
}

/// Valid queries the mutations start from.
fn base_queries() -> Vec<Vec<u8>> {
    vec![
        wire::query(0, "www.xcc.test", wire::A, Some(1232)),
        wire::query(0, "KuArd.apps.xcc.test", wire::A, None),
        wire::query(0, "big.xcc.test", wire::A, Some(4096)),
        wire::query(0, "nope.xcc.test", wire::AAAA, Some(512)),
        wire::query(0, "xcc.test", wire::SOA, None),
        wire::query(0, "v6.xcc.test", wire::AAAA, Some(1232)),
    ]
}

/// One malformed or mutated packet; `kind` picks how it is made.
fn malformed_packet(rng: &mut Rng, bases: &[Vec<u8>], kind: usize) -> Vec<u8> {
    let mut packet = bases[rng.below(bases.len())].clone();
    match kind {
        // One to four flipped bits of a valid query.
        0 | 1 => {
            for _ in 0..=rng.below(4) {
                let bit = rng.below(packet.len() * 8);
                packet[bit / 8] ^= 1 << (bit % 8);
            }
        }
        // A valid query cut short, with junk appended, or with one octet
        // (often a length or a count) set to anything.
        2 => match rng.below(3) {
            0 => packet.truncate(rng.below(packet.len())),
            1 => {
                let junk = 1 + rng.below(40);
                packet.extend(rng.bytes(junk));
            }
            _ => {
                let at = rng.below(packet.len());
                packet[at] = rng.next_u64() as u8;
            }
        },
        // Random octets of random length.
        3 => {
            let len = rng.below(600);
            packet = rng.bytes(len);
        }
        // A plausible header (QR=0, QUERY, small counts), random body.
        _ => {
            let len = rng.below(120);
            let mut body = rng.bytes(12 + len);
            body[2] &= 0x07; // QR=0, opcode QUERY, keep AA/TC/RD random
            body[4] = 0;
            body[5] = 1 + (rng.below(2) as u8); // QDCOUNT 1 or 2
            for count in [6, 8, 10] {
                body[count] = 0;
                body[count + 1] = rng.below(3) as u8;
            }
            packet = body;
        }
    }
    packet
}

/// Checks one answer to `sent`: well-formed, a response, never to a
/// response; FORMERR unless `sent` parses; a NOERROR/NXDOMAIN answer only
/// to a query whose question it echoes byte for byte; within the UDP size
/// limits. Returns the full RCODE.
fn check_answer(sent: &[u8], answer: &[u8], udp: bool) -> u16 {
    let message = wire::parse(answer).unwrap_or_else(|e| {
        panic!("answer does not parse ({e}): sent {sent:02x?}, got {answer:02x?}")
    });
    assert!(
        message.is_response(),
        "answer without QR: sent {sent:02x?}, got {answer:02x?}"
    );
    assert_eq!(
        message.trailing, 0,
        "answer with trailing octets: {answer:02x?}"
    );
    assert!(
        sent.len() >= 12,
        "answered a packet shorter than a header: {sent:02x?}"
    );
    assert_eq!(
        sent[2] & 0x80,
        0,
        "answered a response (QR=1): sent {sent:02x?}, got {answer:02x?}"
    );
    assert_eq!(
        message.opcode(),
        (sent[2] >> 3) & 0xf,
        "opcode not echoed: sent {sent:02x?}, got {answer:02x?}"
    );
    let parsed = wire::parse(sent);
    let rcode = message.full_rcode();
    match &parsed {
        Err(why) => assert_eq!(
            rcode,
            u16::from(wire::FORMERR),
            "a query that does not parse ({why}) must get FORMERR: sent {sent:02x?}, got {answer:02x?}"
        ),
        Ok(query) if rcode == u16::from(wire::NOERROR) || rcode == u16::from(wire::NXDOMAIN) => {
            assert_eq!(
                query.questions.len(),
                1,
                "sent {sent:02x?}, got {answer:02x?}"
            );
            assert_eq!(query.opcode(), 0, "sent {sent:02x?}, got {answer:02x?}");
            assert_eq!(
                message.questions, query.questions,
                "question not echoed: sent {sent:02x?}, got {answer:02x?}"
            );
        }
        Ok(query) if rcode == wire::BADVERS => {
            let version = query.opt().map(|opt| (opt.ttl >> 16) as u8);
            assert!(
                version.is_some_and(|v| v != 0),
                "BADVERS without an EDNS version other than 0: sent {sent:02x?}, got {answer:02x?}"
            );
        }
        Ok(_) => {}
    }
    if udp {
        assert!(
            answer.len() <= 1232,
            "UDP answer of {} octets",
            answer.len()
        );
        if let Ok(query) = &parsed
            && query.edns_payload().is_none()
        {
            assert!(
                answer.len() <= 512,
                "UDP answer of {} octets without EDNS",
                answer.len()
            );
        }
    }
    rcode
}

/// The responder still serves: a right answer over UDP and TCP, `/metrics`
/// and `/healthz`, and the process runs.
fn still_serving(responder: &mut Responder) {
    responder.process.assert_running();
    for transport in [&[][..], &["+tcp"][..]] {
        let args: Vec<&str> = transport
            .iter()
            .copied()
            .chain(["www.xcc.test", "A"])
            .collect();
        let output = dig(responder.dns, &args);
        let reply = output.reply();
        assert_eq!(reply.status, "NOERROR", "{}", output.text());
        assert_eq!(reply.answer_data("A"), ["192.0.2.1"], "{}", output.text());
    }
    let metrics = responder.metrics();
    assert!(metrics.contains("xcc_responder_queries_total"), "{metrics}");
    assert_eq!(responder.get("/healthz").0, 200);
    responder.process.assert_running();
}

#[test]
fn udp_burst_of_random_and_mutated_packets() {
    if !have_tools(&["dig"]) {
        return;
    }
    let mut responder = Responder::start(&fixture_records());
    let seed = seed();
    let mut rng = Rng::new(seed);
    let bases = base_queries();
    let packets: Vec<Vec<u8>> = (0..BURST)
        .map(|i| {
            let mut packet = malformed_packet(&mut rng, &bases, i % 5);
            // A unique ID per packet, to match answers to what was sent.
            if packet.len() >= 2 {
                packet[..2].copy_from_slice(&(i as u16).to_be_bytes());
            }
            packet
        })
        .collect();

    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(responder.dns).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let receiver = socket.try_clone().expect("clone");
    let sent_all = Arc::new(AtomicBool::new(false));
    let reader = {
        let sent_all = Arc::clone(&sent_all);
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            let mut buffer = [0u8; 65536];
            let mut quiet_since = None::<Instant>;
            let start = Instant::now();
            // Until everything is sent and 500 ms pass without an answer;
            // 20 s at most.
            while start.elapsed() < Duration::from_secs(20) {
                match receiver.recv(&mut buffer) {
                    Ok(n) => {
                        answers.push(buffer[..n].to_vec());
                        quiet_since = None;
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        if sent_all.load(Ordering::Acquire) {
                            let since = *quiet_since.get_or_insert_with(Instant::now);
                            if since.elapsed() > Duration::from_millis(500) {
                                break;
                            }
                        }
                    }
                    // An ICMP error from an earlier send; the process check
                    // afterwards says whether the responder is still there.
                    Err(_) => {}
                }
            }
            answers
        })
    };
    let start = Instant::now();
    for (i, packet) in packets.iter().enumerate() {
        let _ = socket.send(packet);
        if i % 50 == 49 {
            // Let the reader keep up; not a synchronisation.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    sent_all.store(true, Ordering::Release);
    let answers = reader.join().expect("reader thread");
    let elapsed = start.elapsed();

    let mut by_rcode = BTreeMap::new();
    let mut answered = vec![false; BURST];
    for answer in &answers {
        assert!(
            answer.len() >= 2,
            "an answer shorter than an ID: {answer:02x?}"
        );
        let id = usize::from(u16::from_be_bytes([answer[0], answer[1]]));
        assert!(id < BURST, "an answer with an ID never sent: {answer:02x?}");
        assert!(!answered[id], "two answers to packet {id}");
        answered[id] = true;
        *by_rcode
            .entry(check_answer(&packets[id], answer, true))
            .or_insert(0usize) += 1;
    }
    eprintln!(
        "seed {seed:#x}: {BURST} packets in {elapsed:?}; {} answered (by RCODE {by_rcode:?}), {} silent",
        answers.len(),
        BURST - answers.len()
    );
    assert!(
        by_rcode
            .get(&u16::from(wire::FORMERR))
            .copied()
            .unwrap_or(0)
            > 0,
        "some FORMERR expected"
    );

    still_serving(&mut responder);
    let dropped = responder.metric("xcc_responder_dropped_total", &[]);
    eprintln!("dropped per /metrics: {dropped}");
}

/// How a connection ended while we read it.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The server closed it (EOF or reset).
    Closed,
    /// Nothing for the read timeout.
    Quiet,
}

/// Reads framed answers until the connection ends or stays quiet for the
/// read timeout set on `stream`.
fn drain(stream: &mut TcpStream) -> (Vec<Vec<u8>>, End) {
    let mut answers = Vec::new();
    loop {
        match wire::read_frame(stream) {
            Ok(Some(answer)) => answers.push(answer),
            Ok(None) => return (answers, End::Closed),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (answers, End::Quiet);
            }
            Err(_) => return (answers, End::Closed),
        }
    }
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

#[test]
fn tcp_malformed_frames_are_answered_formerr_or_closed() {
    if !have_tools(&["dig"]) {
        return;
    }
    let mut responder = Responder::start(&fixture_records());
    let address = responder.dns;
    let mut rng = Rng::new(seed() ^ 0x7c9);
    let bases = base_queries();
    let valid = wire::query(0x0101, "www.xcc.test", wire::A, None);

    // A zero length closes the connection, without waiting for our EOF,
    // and nothing after it is answered.
    let mut stream = connect(address);
    let mut frame = vec![0, 0];
    frame.extend(wire::framed(&valid));
    let _ = stream.write_all(&frame);
    let (answers, end) = drain(&mut stream);
    assert!(
        answers.is_empty() && end == End::Closed,
        "zero length: {answers:02x?} {end:?}"
    );

    // A frame cut short, then our EOF: no answer, closed.
    let mut stream = connect(address);
    let _ = stream.write_all(&[0, 100]);
    let _ = stream.write_all(&valid[..20]);
    let _ = stream.shutdown(Shutdown::Write);
    let (answers, end) = drain(&mut stream);
    assert!(
        answers.is_empty() && end == End::Closed,
        "truncated frame: {answers:02x?} {end:?}"
    );

    // A 65535 length with a few octets behind it, then EOF.
    let mut stream = connect(address);
    let _ = stream.write_all(&[0xff, 0xff, 1, 2, 3, 4, 5]);
    let _ = stream.shutdown(Shutdown::Write);
    let (answers, end) = drain(&mut stream);
    assert!(
        answers.is_empty() && end == End::Closed,
        "oversized length: {answers:02x?} {end:?}"
    );

    // A valid query, then a garbage frame, in one write: the first is
    // answered right; the garbage gets FORMERR or the connection closes.
    let mut stream = connect(address);
    let mut batch = wire::framed(&valid);
    let mut garbage = rng.bytes(40);
    garbage[2] &= 0x07;
    batch.extend(wire::framed(&garbage));
    let _ = stream.write_all(&batch);
    let _ = stream.shutdown(Shutdown::Write);
    let (answers, end) = drain(&mut stream);
    assert_eq!(end, End::Closed, "closed after our EOF");
    assert!(!answers.is_empty() && answers.len() <= 2, "{answers:02x?}");
    let first = wire::parse(&answers[0]).expect("parses");
    assert_eq!(
        (first.id, wire::a_addresses(&first.answers)),
        (0x0101, vec!["192.0.2.1".to_owned()])
    );
    if let Some(second) = answers.get(1) {
        check_answer(&garbage, second, false);
    }

    // Garbage, then close at once (no reading).
    for _ in 0..20 {
        let mut stream = connect(address);
        let len = 1 + rng.below(2000);
        let _ = stream.write_all(&rng.bytes(len));
        drop(stream);
    }

    // Random and mutated frames, one to four per connection, pipelined.
    let mut answered = 0;
    let mut sent = 0;
    for connection in 0..60 {
        let mut stream = connect(address);
        let mut frames = Vec::new();
        for i in 0..=rng.below(4) {
            let mut message = malformed_packet(&mut rng, &bases, (connection + i) % 5);
            if message.is_empty() {
                message.push(0);
            }
            if message.len() >= 2 {
                message[..2].copy_from_slice(&((connection * 8 + i) as u16).to_be_bytes());
            }
            frames.push(message);
        }
        let batch: Vec<u8> = frames.iter().flat_map(|f| wire::framed(f)).collect();
        let _ = stream.write_all(&batch);
        let _ = stream.shutdown(Shutdown::Write);
        let (answers, end) = drain(&mut stream);
        assert_eq!(
            end,
            End::Closed,
            "connection {connection} not closed after our EOF"
        );
        sent += frames.len();
        for answer in &answers {
            let id = usize::from(u16::from_be_bytes([answer[0], answer[1]]));
            let sent = frames
                .iter()
                .find(|f| f.len() >= 2 && usize::from(u16::from_be_bytes([f[0], f[1]])) == id)
                .unwrap_or_else(|| panic!("answer to an ID never sent: {answer:02x?}"));
            check_answer(sent, answer, false);
            answered += 1;
        }
    }
    eprintln!("TCP: {sent} random/mutated frames on 60 connections, {answered} answered");

    still_serving(&mut responder);
    // Every connection slot came back.
    wait_until(
        Duration::from_secs(5),
        "open TCP connections back to 0",
        || (responder.metric("xcc_responder_tcp_connections_open", &[]) == 0.0).then_some(()),
    );
}

#[test]
fn tcp_timeouts_and_connection_limit_hold() {
    if !have_tools(&["dig"]) {
        return;
    }
    let mut responder = Responder::start_with(
        Some(&fixture_records()),
        &[
            // Long enough that the four are still open when the fifth
            // comes, on a loaded machine too: the wait for four open
            // below must end before the first of them times out.
            "--tcp-idle-timeout",
            "5",
            "--tcp-query-timeout",
            "5",
            "--tcp-max-connections",
            "4",
        ],
        Wait::Ready,
    );
    let address = responder.dns;

    // Four connections: one silent, one stalled in a length, one stalled in
    // a message, one idle after an answer.
    let mut silent = connect(address);
    let mut stalled_length = connect(address);
    let _ = stalled_length.write_all(&[0]);
    let mut stalled_message = connect(address);
    let _ = stalled_message.write_all(&[0, 40, 1, 2, 3]);
    let mut idle = connect(address);
    let _ = idle.write_all(&wire::framed(&wire::query(
        7,
        "www.xcc.test",
        wire::A,
        None,
    )));
    let answer = wire::read_frame(&mut idle).expect("read").expect("answer");
    assert_eq!(wire::parse(&answer).expect("parses").id, 7);
    wait_until(Duration::from_secs(4), "four open TCP connections", || {
        (responder.metric("xcc_responder_tcp_connections_open", &[]) == 4.0).then_some(())
    });

    // A fifth is over the limit: refused (closed at once).
    let mut fifth = connect(address);
    let _ = fifth.write_all(&wire::framed(&wire::query(
        8,
        "www.xcc.test",
        wire::A,
        None,
    )));
    let (answers, end) = drain(&mut fifth);
    assert!(
        answers.is_empty() && end == End::Closed,
        "fifth connection: {answers:02x?} {end:?}"
    );
    assert!(responder.metric("xcc_responder_tcp_connections_refused_total", &[]) >= 1.0);

    // UDP is not affected meanwhile.
    let output = dig(address, &["www.xcc.test", "A"]);
    assert_eq!(
        output.reply().answer_data("A"),
        ["192.0.2.1"],
        "{}",
        output.text()
    );

    // All four are closed by the timeouts (5 s each).
    let start = Instant::now();
    for stream in [&silent, &stalled_length, &stalled_message, &idle] {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
    }
    for (name, stream) in [
        ("silent", &mut silent),
        ("stalled in a length", &mut stalled_length),
        ("stalled in a message", &mut stalled_message),
        ("idle", &mut idle),
    ] {
        let (answers, end) = drain(stream);
        assert!(
            answers.is_empty() && end == End::Closed,
            "{name}: {answers:02x?} {end:?}"
        );
    }
    eprintln!(
        "four connections closed by timeouts within {:?}",
        start.elapsed()
    );
    assert!(responder.metric("xcc_responder_tcp_connections_timed_out_total", &[]) >= 4.0);

    // And TCP serves again.
    still_serving(&mut responder);
}

#[test]
fn each_pipelined_query_gets_the_whole_query_timeout_from_its_own_first_byte() {
    // Query A trickles in; its end arrives with the start of query B, whose
    // end comes later. B is owed the query timeout from its own first byte,
    // not from A's: with 5 s, B ends 6 s after A began and 3 s after it
    // began itself, and is answered (2 s to spare on a slow machine).
    let responder = Responder::start_with(
        Some(&fixture_records()),
        &["--tcp-idle-timeout", "20", "--tcp-query-timeout", "5"],
        Wait::Ready,
    );
    let a = wire::framed(&wire::query(21, "www.xcc.test", wire::A, None));
    let b = wire::framed(&wire::query(22, "www.xcc.test", wire::A, None));
    let mut stream = connect(responder.dns);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let _ = stream.write_all(&a[..10]);
    std::thread::sleep(Duration::from_secs(3));
    let mut middle = a[10..].to_vec();
    middle.extend_from_slice(&b[..10]);
    let _ = stream.write_all(&middle);
    let answer = wire::read_frame(&mut stream)
        .expect("read")
        .expect("answer to A");
    assert_eq!(wire::parse(&answer).expect("parses").id, 21);
    std::thread::sleep(Duration::from_secs(3));
    let _ = stream.write_all(&b[10..]);
    let answer = wire::read_frame(&mut stream)
        .expect("read")
        .expect("answer to B: the connection was closed by A's timer");
    assert_eq!(wire::parse(&answer).expect("parses").id, 22);
}

/// A message header.
fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    for field in [id, flags, counts[0], counts[1], counts[2], counts[3]] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    out
}

/// A name in wire form, uncompressed.
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A question section entry.
fn question(name: &str, qtype: u16, qclass: u16) -> Vec<u8> {
    let mut out = wire_name(name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
    out
}

/// An OPT record: `owner` (wire form), payload size, version, RDATA, and
/// the RDLENGTH to claim (the real one when `None`).
fn opt(owner: &[u8], version: u8, rdata: &[u8], rdlength: Option<u16>) -> Vec<u8> {
    let mut out = owner.to_vec();
    out.extend_from_slice(&wire::OPT.to_be_bytes());
    out.extend_from_slice(&1232u16.to_be_bytes());
    out.extend_from_slice(&[0, version, 0, 0]);
    out.extend_from_slice(&rdlength.unwrap_or(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// What a crafted query must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// No answer at all.
    Silence,
    /// An answer with this (header) RCODE.
    Rcode(u16),
}

#[test]
fn crafted_malformed_queries_get_formerr_or_silence() {
    let responder = Responder::start(&fixture_records());
    let www = question("www.xcc.test", wire::A, 1);
    let qtype_class = [0, 1, 0, 1];
    let long_name = ["a".repeat(63).as_str(); 5].join(".");
    let mut label_type_64 = vec![0x40];
    label_type_64.extend(std::iter::repeat_n(b'a', 64));
    label_type_64.push(0);
    let opt_ok = opt(&[0], 0, &[], None);
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty", vec![], Expect::Silence),
        (
            "11 octets",
            header(1, 0, [1, 0, 0, 0])[..11].to_vec(),
            Expect::Silence,
        ),
        (
            "a response (QR=1)",
            cat(&[&header(1, 0x8000, [1, 0, 0, 0]), &www]),
            Expect::Silence,
        ),
        (
            "QDCOUNT 0",
            header(1, 0, [0, 0, 0, 0]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "QDCOUNT 2",
            cat(&[&header(1, 0, [2, 0, 0, 0]), &www, &www]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "pointer to itself",
            cat(&[&header(1, 0, [1, 0, 0, 0]), &[0xc0, 12], &qtype_class]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "forward pointer",
            cat(&[
                &header(1, 0, [1, 0, 0, 0]),
                &[0xc0, 40],
                &qtype_class,
                &[0; 40],
            ]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "pointer into the header",
            cat(&[
                &header(1, 0, [1, 0, 0, 0]),
                b"\x03www\xc0\x00",
                &qtype_class,
            ]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "label type 0x40",
            cat(&[&header(1, 0, [1, 0, 0, 0]), &label_type_64, &qtype_class]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "name of 320 octets",
            cat(&[
                &header(1, 0, [1, 0, 0, 0]),
                &question(&long_name, wire::A, 1),
            ]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "question cut short",
            cat(&[&header(1, 0, [1, 0, 0, 0]), &wire_name("www.xcc.test")]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "ARCOUNT 1, no record",
            cat(&[&header(1, 0, [1, 0, 0, 1]), &www]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "two OPT records",
            cat(&[&header(1, 0, [1, 0, 0, 2]), &www, &opt_ok, &opt_ok]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "OPT not at the root",
            cat(&[
                &header(1, 0, [1, 0, 0, 1]),
                &www,
                &opt(&wire_name("x"), 0, &[], None),
            ]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "OPT RDLENGTH past the end",
            cat(&[
                &header(1, 0, [1, 0, 0, 1]),
                &www,
                &opt(&[0], 0, &[], Some(50)),
            ]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "EDNS option past its RDATA",
            cat(&[
                &header(1, 0, [1, 0, 0, 1]),
                &www,
                &opt(&[0], 0, &[0, 10, 0, 20, b'a', b'b'], None),
            ]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "QTYPE OPT",
            cat(&[
                &header(1, 0, [1, 0, 0, 0]),
                &question("www.xcc.test", wire::OPT, 1),
            ]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "trailing garbage",
            cat(&[&header(1, 0, [1, 0, 0, 0]), &www, b"garbage"]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "opcode 15, no question",
            header(1, 15 << 11, [0, 0, 0, 0]),
            Expect::Rcode(wire::FORMERR as u16),
        ),
        (
            "opcode STATUS",
            cat(&[&header(1, 2 << 11, [1, 0, 0, 0]), &www]),
            Expect::Rcode(wire::NOTIMP as u16),
        ),
        (
            "class ANY",
            cat(&[
                &header(1, 0, [1, 0, 0, 0]),
                &question("www.xcc.test", wire::A, 255),
            ]),
            Expect::Rcode(wire::REFUSED as u16),
        ),
        (
            "AXFR over UDP",
            cat(&[&header(1, 0, [1, 0, 0, 0]), &question("xcc.test", 252, 1)]),
            Expect::Rcode(wire::REFUSED as u16),
        ),
        (
            "outside our zones",
            cat(&[
                &header(1, 0, [1, 0, 0, 0]),
                &question("example.com", wire::A, 1),
            ]),
            Expect::Rcode(wire::REFUSED as u16),
        ),
        (
            "EDNS version 1",
            cat(&[&header(1, 0, [1, 0, 0, 1]), &www, &opt(&[0], 1, &[], None)]),
            Expect::Rcode(wire::BADVERS),
        ),
        (
            "TC and Z set in a query",
            cat(&[&header(1, 0x0240, [1, 0, 0, 0]), &www]),
            Expect::Rcode(wire::NOERROR as u16),
        ),
    ];

    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(responder.dns).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buffer = [0u8; 65536];
    let mut report = Vec::new();
    for (index, (name, mut packet, expect)) in cases.into_iter().enumerate() {
        let id = 0x4000 + index as u16;
        if packet.len() >= 2 {
            packet[..2].copy_from_slice(&id.to_be_bytes());
        }
        socket.send(&packet).expect("send");
        // A valid query behind it, from the same socket (same worker, in
        // order): its answer first means the crafted one got none.
        let sentinel = 0x8000 + index as u16;
        socket
            .send(&wire::query(sentinel, "www.xcc.test", wire::A, None))
            .expect("send");
        let n = socket
            .recv(&mut buffer)
            .unwrap_or_else(|e| panic!("{name}: no answer at all: {e}"));
        let first = buffer[..n].to_vec();
        let got = if u16::from_be_bytes([first[0], first[1]]) == sentinel {
            Expect::Silence
        } else {
            let rcode = check_answer(&packet, &first, true);
            assert_eq!(
                u16::from_be_bytes([first[0], first[1]]),
                id,
                "{name}: ID echoed"
            );
            // Then the sentinel's.
            socket
                .recv(&mut buffer)
                .unwrap_or_else(|e| panic!("{name}: sentinel: {e}"));
            assert_eq!(
                u16::from_be_bytes([buffer[0], buffer[1]]),
                sentinel,
                "{name}"
            );
            Expect::Rcode(rcode)
        };
        report.push(format!("{name}: {got:?}"));
        assert_eq!(got, expect, "{name}: sent {packet:02x?}");
    }
    eprintln!("{}", report.join("; "));
}
