//! `dig` and `kdig` against the responder over UDP and TCP: hits, wildcard,
//! NXDOMAIN, NODATA, EDNS sizes, a large answer that sets TC over UDP and
//! comes whole over TCP, pipelined TCP; and a raw TCP client that writes
//! several framed queries at once.

use std::net::TcpStream;
use std::time::Duration;

use crate::support::{
    BIG_COUNT, BIN, MID_COUNT, Reply, Responder, ToolOutput, cname_manifest, dig, fixture_records,
    have_tools, kdig, many_addresses, parse_tool_output, run_in_network_namespace,
};
use crate::wire;

/// The transports, as the extra tool options that select them.
const TRANSPORTS: [(&str, &[&str]); 2] = [("UDP", &[]), ("TCP", &["+tcp"])];

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

/// The only reply of `output`, after checking its status, AA, no TC, and
/// that it came over the transport asked for.
fn authoritative(output: &ToolOutput, status: &str, tcp: bool) -> Reply {
    let reply = output.reply().clone();
    let text = output.text();
    assert_eq!(reply.status, status, "status; output:\n{text}");
    assert!(
        reply.has_flag("qr") && reply.has_flag("aa"),
        "QR and AA; output:\n{text}"
    );
    assert!(!reply.has_flag("tc"), "no TC; output:\n{text}");
    assert_eq!(reply.tcp, tcp, "came over TCP? output:\n{text}");
    reply
}

fn with<'a>(transport: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    transport.iter().chain(args).copied().collect()
}

#[test]
fn dig_exact_hits_over_udp_and_tcp() {
    if !have_tools(&["dig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    for (name, transport) in TRANSPORTS {
        let tcp = name == "TCP";
        let output = dig(responder.dns, &with(transport, &["www.xcc.test", "A"]));
        let reply = authoritative(&output, "NOERROR", tcp);
        assert_eq!(reply.answer.len(), 1, "{name}: {}", output.text());
        let rr = &reply.answer[0];
        assert_eq!(
            (
                rr.owner.as_str(),
                rr.ttl,
                rr.class.as_str(),
                rr.rtype.as_str(),
                rr.rdata.as_str()
            ),
            ("www.xcc.test.", 30, "IN", "A", "192.0.2.1"),
            "{name}"
        );

        let output = dig(responder.dns, &with(transport, &["v6.xcc.test", "AAAA"]));
        let reply = authoritative(&output, "NOERROR", tcp);
        assert_eq!(
            reply.answer_data("AAAA"),
            ["2001:db8::6"],
            "{name}: {}",
            output.text()
        );
    }
}

#[test]
fn dig_wildcard_hit_keeps_the_query_case_over_udp_and_tcp() {
    if !have_tools(&["dig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    for (name, transport) in TRANSPORTS {
        let output = dig(
            responder.dns,
            &with(transport, &["KuArd.Apps.XCC.test", "A"]),
        );
        let reply = authoritative(&output, "NOERROR", name == "TCP");
        assert_eq!(reply.answer.len(), 1, "{name}: {}", output.text());
        // The owner is the query name, byte for byte (RFC 4592 §2.2.1
        // synthesis; RFC 1035 case preservation).
        assert_eq!(reply.answer[0].owner, "KuArd.Apps.XCC.test.", "{name}");
        assert_eq!(reply.answer_data("A"), ["192.0.2.2"], "{name}");

        // The wildcard covers deeper names too.
        let output = dig(
            responder.dns,
            &with(transport, &["a.b.c.apps.xcc.test", "A"]),
        );
        let reply = authoritative(&output, "NOERROR", name == "TCP");
        assert_eq!(
            reply.answer_data("A"),
            ["192.0.2.2"],
            "{name}: {}",
            output.text()
        );
    }
}

#[test]
fn dig_nxdomain_carries_the_soa_over_udp_and_tcp() {
    if !have_tools(&["dig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    for (name, transport) in TRANSPORTS {
        let output = dig(responder.dns, &with(transport, &["nope.xcc.test", "A"]));
        let reply = authoritative(&output, "NXDOMAIN", name == "TCP");
        assert!(reply.answer.is_empty(), "{name}: {}", output.text());
        assert!(
            reply.has_soa("xcc.test."),
            "{name}: SOA in authority: {}",
            output.text()
        );
        let soa = reply
            .authority
            .iter()
            .find(|rr| rr.rtype == "SOA")
            .expect("SOA");
        // Negative caching (RFC 2308 §3): TTL no more than SOA MINIMUM,
        // --negative-ttl, default 5.
        assert!(soa.ttl <= 5, "{name}: negative TTL {}", soa.ttl);
        assert!(
            soa.rdata.starts_with("ns.xcc.test. hostmaster.xcc.test. "),
            "{name}: {}",
            soa.rdata
        );
    }
}

#[test]
fn dig_nodata_carries_the_soa_over_udp_and_tcp() {
    if !have_tools(&["dig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    for (name, transport) in TRANSPORTS {
        // www has an A record only; v6 an AAAA only.
        for (qname, qtype) in [
            ("www.xcc.test", "AAAA"),
            ("v6.xcc.test", "A"),
            ("www.xcc.test", "TXT"),
        ] {
            let output = dig(responder.dns, &with(transport, &[qname, qtype]));
            let reply = authoritative(&output, "NOERROR", name == "TCP");
            assert!(
                reply.answer.is_empty(),
                "{name} {qname} {qtype}: {}",
                output.text()
            );
            assert!(
                reply.has_soa("xcc.test."),
                "{name} {qname} {qtype}: {}",
                output.text()
            );
        }
    }
}

#[test]
fn dig_edns_sizes_decide_truncation() {
    if !have_tools(&["dig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    let mid = sorted(many_addresses(1, MID_COUNT as u8));

    // About 680 octets: whole within EDNS 1232 (dig's default) ...
    let output = dig(responder.dns, &["mid.xcc.test", "A"]);
    let reply = authoritative(&output, "NOERROR", false);
    assert_eq!(reply.answer_data("A"), mid, "{}", output.text());

    // ... truncated within 512, with EDNS or without.
    for args in [&["+bufsize=512"][..], &["+noedns"][..]] {
        let output = dig(
            responder.dns,
            &with(args, &["+ignore", "mid.xcc.test", "A"]),
        );
        let reply = output.reply();
        assert_eq!(reply.status, "NOERROR", "{args:?}: {}", output.text());
        assert!(
            reply.has_flag("tc"),
            "{args:?}: TC expected: {}",
            output.text()
        );
        assert!(
            !reply.tcp && reply.answer.len() < MID_COUNT,
            "{args:?}: {}",
            output.text()
        );
    }

    // Over TCP the advertised size does not matter.
    let output = dig(
        responder.dns,
        &["+tcp", "+bufsize=512", "mid.xcc.test", "A"],
    );
    let reply = authoritative(&output, "NOERROR", true);
    assert_eq!(reply.answer_data("A"), mid, "{}", output.text());

    // A larger advertised size (4096) is capped by ours (--udp-payload,
    // 1232): the big answer (about 1640 octets) still truncates over UDP.
    let output = dig(
        responder.dns,
        &["+bufsize=4096", "+ignore", "big.xcc.test", "A"],
    );
    assert!(output.reply().has_flag("tc"), "{}", output.text());
}

#[test]
fn dig_large_answer_truncates_over_udp_and_comes_whole_over_tcp() {
    if !have_tools(&["dig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    let big = sorted(many_addresses(2, BIG_COUNT as u8));
    let tcp_before = responder.metric("xcc_responder_queries_total", &[("transport", "tcp")]);
    let truncated_before = responder.metric("xcc_responder_truncated_total", &[]);

    // Over UDP, not retrying: TC.
    let output = dig(responder.dns, &["+ignore", "big.xcc.test", "A"]);
    let reply = output.reply();
    assert_eq!(reply.status, "NOERROR", "{}", output.text());
    assert!(reply.has_flag("tc") && !reply.tcp, "{}", output.text());
    assert!(reply.answer.len() < BIG_COUNT, "{}", output.text());

    // dig retries over TCP by itself and gets all of it.
    let output = dig(responder.dns, &["big.xcc.test", "A"]);
    assert!(
        output
            .run
            .stdout
            .contains("Truncated, retrying in TCP mode"),
        "dig should retry over TCP: {}",
        output.text()
    );
    let reply = authoritative(&output, "NOERROR", true);
    assert_eq!(reply.answer_data("A"), big, "{}", output.text());

    // And +tcp asks over TCP at once.
    let output = dig(responder.dns, &["+tcp", "big.xcc.test", "A"]);
    let reply = authoritative(&output, "NOERROR", true);
    assert_eq!(reply.answer_data("A"), big, "{}", output.text());

    let tcp_after = responder.metric("xcc_responder_queries_total", &[("transport", "tcp")]);
    let truncated_after = responder.metric("xcc_responder_truncated_total", &[]);
    assert!(
        tcp_after - tcp_before >= 2.0,
        "TCP queries {tcp_before} → {tcp_after}"
    );
    assert!(
        truncated_after - truncated_before >= 2.0,
        "truncated {truncated_before} → {truncated_after}"
    );
}

#[test]
fn kdig_hits_wildcard_nxdomain_and_nodata_over_udp_and_tcp() {
    if !have_tools(&["kdig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    for (name, transport) in TRANSPORTS {
        let tcp = name == "TCP";
        let output = kdig(responder.dns, &with(transport, &["www.xcc.test", "A"]));
        let reply = authoritative(&output, "NOERROR", tcp);
        assert_eq!(
            reply.answer_data("A"),
            ["192.0.2.1"],
            "{name}: {}",
            output.text()
        );
        assert_eq!(reply.answer[0].ttl, 30, "{name}");

        // kdig sends the name in lower case; the answer matches it.
        let output = kdig(
            responder.dns,
            &with(transport, &["Kuard.Apps.xcc.test", "A"]),
        );
        let reply = authoritative(&output, "NOERROR", tcp);
        assert_eq!(
            reply.answer_data("A"),
            ["192.0.2.2"],
            "{name}: {}",
            output.text()
        );
        assert!(
            reply.answer[0]
                .owner
                .eq_ignore_ascii_case("kuard.apps.xcc.test."),
            "{name}"
        );

        let output = kdig(responder.dns, &with(transport, &["nope.xcc.test", "A"]));
        let reply = authoritative(&output, "NXDOMAIN", tcp);
        assert!(
            reply.answer.is_empty() && reply.has_soa("xcc.test."),
            "{name}: {}",
            output.text()
        );

        let output = kdig(responder.dns, &with(transport, &["www.xcc.test", "AAAA"]));
        let reply = authoritative(&output, "NOERROR", tcp);
        assert!(
            reply.answer.is_empty() && reply.has_soa("xcc.test."),
            "{name}: {}",
            output.text()
        );
    }
}

#[test]
fn kdig_edns_sizes_and_large_answer() {
    if !have_tools(&["kdig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    let big = sorted(many_addresses(2, BIG_COUNT as u8));
    let mid = sorted(many_addresses(1, MID_COUNT as u8));

    let output = kdig(
        responder.dns,
        &["+bufsize=512", "+ignore", "mid.xcc.test", "A"],
    );
    assert!(output.reply().has_flag("tc"), "{}", output.text());
    let output = kdig(responder.dns, &["+bufsize=1232", "mid.xcc.test", "A"]);
    assert_eq!(
        authoritative(&output, "NOERROR", false).answer_data("A"),
        mid,
        "{}",
        output.text()
    );

    let output = kdig(responder.dns, &["+ignore", "big.xcc.test", "A"]);
    assert!(output.reply().has_flag("tc"), "{}", output.text());
    // kdig falls back to TCP after TC unless +ignore.
    let output = kdig(responder.dns, &["big.xcc.test", "A"]);
    let reply = output.replies.last().expect("a reply");
    assert!(reply.tcp && !reply.has_flag("tc"), "{}", output.text());
    assert_eq!(reply.answer_data("A"), big, "{}", output.text());
    let output = kdig(responder.dns, &["+tcp", "big.xcc.test", "A"]);
    assert_eq!(
        authoritative(&output, "NOERROR", true).answer_data("A"),
        big,
        "{}",
        output.text()
    );
}

#[test]
fn kdig_pipelined_queries_share_one_tcp_connection() {
    if !have_tools(&["kdig"]) {
        return;
    }
    let responder = Responder::start(&fixture_records());
    let accepted_before = responder.metric("xcc_responder_tcp_connections_accepted_total", &[]);
    // Options before the first name apply to every query; +keepopen keeps
    // the one connection for all of them.
    let output = kdig(
        responder.dns,
        &[
            "+tcp",
            "+keepopen",
            "www.xcc.test",
            "A",
            "x.apps.xcc.test",
            "A",
            "nope.xcc.test",
            "A",
            "big.xcc.test",
            "A",
            "www.xcc.test",
            "AAAA",
        ],
    );
    let text = output.text();
    assert_eq!(output.replies.len(), 5, "five replies: {text}");
    let statuses: Vec<&str> = output.replies.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["NOERROR", "NOERROR", "NXDOMAIN", "NOERROR", "NOERROR"],
        "{text}"
    );
    assert!(
        output.replies.iter().all(|r| r.tcp && r.has_flag("aa")),
        "{text}"
    );
    assert_eq!(output.replies[0].answer_data("A"), ["192.0.2.1"], "{text}");
    assert_eq!(output.replies[1].answer_data("A"), ["192.0.2.2"], "{text}");
    assert_eq!(output.replies[3].answer.len(), BIG_COUNT, "{text}");
    assert!(output.replies[4].answer.is_empty(), "{text}");
    let accepted_after = responder.metric("xcc_responder_tcp_connections_accepted_total", &[]);
    assert_eq!(
        accepted_after - accepted_before,
        1.0,
        "one TCP connection for five queries"
    );
}

#[test]
fn raw_tcp_client_pipelines_queries_in_one_write() {
    let responder = Responder::start(&fixture_records());
    let mut stream =
        TcpStream::connect_timeout(&responder.dns, Duration::from_secs(2)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    stream.set_nodelay(true).expect("nodelay");

    let queries = [
        (0x1111, "www.xcc.test", wire::A, Some(1232)),
        (0x2222, "KuArd.Apps.XCC.test", wire::A, None),
        (0x3333, "nope.xcc.test", wire::A, Some(512)),
        (0x4444, "big.xcc.test", wire::A, Some(512)),
    ];
    let mut batch = Vec::new();
    for (id, name, qtype, edns) in queries {
        batch.extend(wire::framed(&wire::query(id, name, qtype, edns)));
    }
    wire::write_all(&mut stream, &batch).expect("write the batch");

    let mut answers = std::collections::HashMap::new();
    let mut order = Vec::new();
    for _ in 0..queries.len() {
        let frame = wire::read_frame(&mut stream)
            .expect("read an answer")
            .expect("an answer, not a close");
        let message = wire::parse(&frame).expect("a well-formed answer");
        order.push(message.id);
        answers.insert(message.id, message);
    }
    // RFC 7766 §6.2.1.1 allows answers out of order; ours come as asked.
    eprintln!("answer order: {order:04x?}");
    for (id, name, qtype, _) in queries {
        let answer = answers
            .get(&id)
            .unwrap_or_else(|| panic!("no answer to {id:#x}"));
        assert!(answer.is_response() && !answer.truncated(), "{id:#x}");
        assert_eq!(answer.questions.len(), 1, "{id:#x}");
        assert_eq!(
            wire::name_text(&answer.questions[0].name),
            format!("{name}."),
            "{id:#x}: question echoed"
        );
        assert_eq!(answer.questions[0].qtype, qtype);
    }
    assert_eq!(answers[&0x1111].rcode(), wire::NOERROR);
    assert_eq!(wire::a_addresses(&answers[&0x1111].answers), ["192.0.2.1"]);
    assert_eq!(
        answers[&0x1111].edns_payload(),
        Some(1232),
        "EDNS in, EDNS out"
    );
    assert_eq!(answers[&0x2222].rcode(), wire::NOERROR);
    assert_eq!(
        wire::name_text(&answers[&0x2222].answers[0].name),
        "KuArd.Apps.XCC.test."
    );
    assert_eq!(
        answers[&0x2222].edns_payload(),
        None,
        "no EDNS in, none out"
    );
    assert_eq!(answers[&0x3333].rcode(), wire::NXDOMAIN);
    assert_eq!(
        answers[&0x3333].authority.first().map(|r| r.rtype),
        Some(wire::SOA)
    );
    // Over TCP the whole answer, whatever the EDNS size said.
    assert_eq!(answers[&0x4444].answers.len(), BIG_COUNT);

    // The connection stays open for more: a query written in pieces (the
    // length octets apart, then the body in two parts).
    let frame = wire::framed(&wire::query(0x5555, "www.xcc.test", wire::A, None));
    for piece in [&frame[..1], &frame[1..2], &frame[2..10], &frame[10..]] {
        wire::write_all(&mut stream, piece).expect("write a piece");
        std::thread::sleep(Duration::from_millis(20));
    }
    let frame = wire::read_frame(&mut stream)
        .expect("read")
        .expect("an answer");
    let message = wire::parse(&frame).expect("well-formed");
    assert_eq!(message.id, 0x5555);
    assert_eq!(wire::a_addresses(&message.answers), ["192.0.2.1"]);
}

#[test]
fn dig_and_kdig_over_an_ipv6_listener() {
    if !have_tools(&["dig", "kdig"]) {
        return;
    }
    // Both families at once: --listen repeated.
    let port = crate::support::free_port();
    let v6: std::net::SocketAddr = format!("[::1]:{port}").parse().expect("address");
    if std::net::UdpSocket::bind(v6).is_err() || std::net::TcpListener::bind(v6).is_err() {
        eprintln!("SKIP: no IPv6 loopback here");
        return;
    }
    let responder = Responder::start_with(
        Some(&fixture_records()),
        &["--listen", &v6.to_string()],
        crate::support::Wait::Ready,
    );
    for (name, transport) in TRANSPORTS {
        let tcp = name == "TCP";
        let output = dig(v6, &with(transport, &["KuArd.Apps.xcc.test", "A"]));
        let reply = authoritative(&output, "NOERROR", tcp);
        assert_eq!(
            reply.answer[0].owner,
            "KuArd.Apps.xcc.test.",
            "{name}: {}",
            output.text()
        );
        let output = kdig(v6, &with(transport, &["v6.xcc.test", "AAAA"]));
        let reply = authoritative(&output, "NOERROR", tcp);
        assert_eq!(
            reply.answer_data("AAAA"),
            ["2001:db8::6"],
            "{name}: {}",
            output.text()
        );
        // And IPv4 still.
        let output = dig(responder.dns, &with(transport, &["www.xcc.test", "A"]));
        assert_eq!(
            authoritative(&output, "NOERROR", tcp).answer_data("A"),
            ["192.0.2.1"]
        );
    }
}

#[test]
fn dig_outside_the_zone_is_refused_and_chaos_answers_when_configured() {
    if !have_tools(&["dig"]) {
        return;
    }
    let responder = Responder::start_with(
        Some(&fixture_records()),
        &["--chaos-version", "xcc process test"],
        crate::support::Wait::Ready,
    );
    for (name, transport) in TRANSPORTS {
        // Not an open resolver: REFUSED, not authoritative, nothing else.
        for qname in ["example.com", "test", "."] {
            let output = dig(responder.dns, &with(transport, &[qname, "A"]));
            let reply = output.reply();
            assert_eq!(reply.status, "REFUSED", "{name} {qname}: {}", output.text());
            assert!(
                !reply.has_flag("aa") && reply.answer.is_empty(),
                "{name} {qname}: {}",
                output.text()
            );
        }
        let output = dig(
            responder.dns,
            &with(transport, &["version.bind", "CH", "TXT"]),
        );
        let reply = output.reply();
        assert_eq!(reply.status, "NOERROR", "{name}: {}", output.text());
        assert_eq!(
            reply.answer_data("TXT"),
            ["\"xcc process test\""],
            "{name}: {}",
            output.text()
        );
        // id.server was not configured.
        let output = dig(responder.dns, &with(transport, &["id.server", "CH", "TXT"]));
        assert_eq!(
            output.reply().status,
            "REFUSED",
            "{name}: {}",
            output.text()
        );
    }
}

/// A gateway published as a CNAME to its load balancer's hostname with the
/// addresses that hostname has now: `dig` gets the CNAME and the target's
/// A (or AAAA) in one answer, the CNAME owned by the query name (wildcard)
/// and the address by the target, both with the record's TTL.
#[test]
fn dig_cname_with_target_addresses_gets_the_address_in_one_answer() {
    if !have_tools(&["dig"]) {
        return;
    }
    let records = [
        fixture_records(),
        cname_manifest(
            "dev-team-cluster-a-gateway",
            "*.gateway.cluster-a.dev-team.clusters.xcc.test",
            30,
            "lb-123.elb.example.com.",
            &["192.0.2.10", "2001:db8::10"],
        ),
    ]
    .concat();
    let responder = Responder::start(&records);
    let qname = "kuard.gateway.cluster-a.dev-team.clusters.xcc.test.";
    for (name, transport) in TRANSPORTS {
        let tcp = name == "TCP";
        for (qtype, address) in [("A", "192.0.2.10"), ("AAAA", "2001:db8::10")] {
            let output = dig(responder.dns, &with(transport, &[qname, qtype]));
            let reply = authoritative(&output, "NOERROR", tcp);
            let answer: Vec<(&str, u32, &str, &str)> = reply
                .answer
                .iter()
                .map(|rr| {
                    (
                        rr.owner.as_str(),
                        rr.ttl,
                        rr.rtype.as_str(),
                        rr.rdata.as_str(),
                    )
                })
                .collect();
            assert_eq!(
                answer,
                [
                    (qname, 30, "CNAME", "lb-123.elb.example.com."),
                    ("lb-123.elb.example.com.", 30, qtype, address),
                ],
                "{name} {qtype}: {}",
                output.text()
            );
        }
        // The CNAME alone for the CNAME itself and for other types.
        for qtype in ["CNAME", "TXT"] {
            let output = dig(responder.dns, &with(transport, &[qname, qtype]));
            let reply = authoritative(&output, "NOERROR", tcp);
            assert_eq!(
                reply.answer_data("CNAME"),
                ["lb-123.elb.example.com."],
                "{name} {qtype}: {}",
                output.text()
            );
            assert_eq!(reply.answer.len(), 1, "{name} {qtype}: {}", output.text());
        }
    }
}

/// RFC 9715 §3.1: UDP answers leave with DF set and are never fragmented.
/// In a network namespace of its own (`unshare --net`, root) whose
/// loopback carries 1280 octets, a responder advertising 4096 answers
/// `mid.xcc.test.` (about 680 octets) whole, and `big.xcc.test.` (about
/// 1640: the kernel refuses it) again within 512 octets, empty and with TC
/// set, so that the client turns to TCP at once. Were the answer
/// fragmented instead, dig would get all 100 addresses over UDP.
#[test]
fn an_answer_larger_than_the_link_is_not_fragmented_but_truncated() {
    if !have_tools(&["unshare", "ip", "dig", "timeout", "curl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let records = dir.path().join("records.yaml");
    std::fs::write(&records, fixture_records()).expect("write records");
    // Inside the namespace every port is free. The responder is bounded by
    // `timeout` in case the shell is killed before its trap runs.
    let script = r#"
        set -eu
        ip link set lo mtu 1280 up
        timeout 60 "$1" --records "$2" --listen 127.0.0.1:5300 \
            --admin-listen 127.0.0.1:9153 --udp-payload 4096 --workers 1 >"$3" 2>&1 &
        responder=$!
        trap 'kill $responder 2>/dev/null || true' EXIT
        tries=0
        # dig +short prints its errors on stdout too, behind ";".
        until dig +short +time=1 +tries=1 -p 5300 @127.0.0.1 xcc.test SOA | grep -q '^[^;]'; do
            tries=$((tries + 1)); [ "$tries" -lt 100 ] || exit 3; sleep 0.1
        done
        for name in mid.xcc.test big.xcc.test; do
            dig +bufsize=4096 +ignore +time=2 +tries=1 -p 5300 @127.0.0.1 "$name" A
        done
        curl -sS --max-time 5 http://127.0.0.1:9153/metrics |
            grep -E '^xcc_responder_(truncated|socket_errors)_total '
    "#;
    let log = dir.path().join("responder.log");
    let Some(run) = run_in_network_namespace(
        script,
        &[BIN.as_ref(), records.as_os_str(), log.as_os_str()],
        Duration::from_secs(90),
    ) else {
        return;
    };
    let responder_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        run.status.is_some_and(|s| s.success()),
        "{run:?}\nresponder log:\n{responder_log}"
    );
    let replies = parse_tool_output(&run.stdout);
    assert_eq!(replies.len(), 2, "{}", run.stdout);
    let (mid, big) = (&replies[0], &replies[1]);
    assert_eq!(mid.status, "NOERROR", "{}", run.stdout);
    assert!(!mid.has_flag("tc"), "{}", run.stdout);
    assert_eq!(mid.answer_data("A").len(), MID_COUNT, "{}", run.stdout);
    assert_eq!(big.status, "NOERROR", "{}", run.stdout);
    assert!(big.has_flag("tc") && big.has_flag("aa"), "{}", run.stdout);
    assert!(big.answer.is_empty(), "{}", run.stdout);
    // Cut to 512 octets, which the OPT of the second answer says.
    assert!(run.stdout.contains("udp: 512"), "{}", run.stdout);
    // The answer re-sent with TC counts once as truncated; the refusal by
    // the link is not a socket error.
    let metric = |name: &str| {
        run.stdout
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in the metrics: {}", run.stdout))
    };
    assert_eq!(metric("xcc_responder_truncated_total"), 1.0);
    assert_eq!(metric("xcc_responder_socket_errors_total"), 0.0);
}
