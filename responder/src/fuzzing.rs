//! Bodies of the responder's cargo-fuzz targets (`fuzz/fuzz_targets/`),
//! kept in the library so they compile on stable and the ordinary test run
//! can replay their corpus. Compiled with `cfg(fuzzing)` or the `fuzzing`
//! feature.

use std::sync::OnceLock;

use xcc_wire::Message;

use crate::records::model::DnsRecordSpec;
use crate::respond::{BatchPrefetch, Context, Outcome, Transport, respond};
use crate::table::{Source, Table, TableBuilder, TableConfig, snapshot};

/// A small zone with every kind of node: exact names, wildcards, a CNAME
/// chain and a loop, a CNAME leaving the zone with its target's addresses,
/// and an RRset too large for 512 octets.
fn fixture() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| build_fixture(0))
}

/// The fixture with enough gateway wildcards beside its names
/// (`*.gateway.c<i>.b.clusters.xcc.test`) for the table to be planned in
/// batches ([`BatchPrefetch`]).
fn big_fixture() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| build_fixture(20_000))
}

fn build_fixture(gateways: usize) -> Table {
    let spec = |name: &str, addresses: Vec<String>, cname: Option<&str>| DnsRecordSpec {
        name: name.into(),
        ttl: 30,
        addresses,
        cname: cname.map(Into::into),
        ..DnsRecordSpec::default()
    };
    let mut builder = TableBuilder::new(TableConfig {
        chaos_version: Some("fuzz".into()),
        ..TableConfig::default()
    });
    let big = (1..=60).map(|i| format!("10.1.0.{i}")).collect();
    for s in [
        spec(
            "*.gateway.a.b.clusters.xcc.test",
            vec!["10.0.0.1".into(), "fd00::1".into()],
            None,
        ),
        spec("www.xcc.test", vec!["192.0.2.1".into()], None),
        spec("alias.xcc.test", vec![], Some("www.xcc.test")),
        spec("loop1.xcc.test", vec![], Some("loop2.xcc.test")),
        spec("loop2.xcc.test", vec![], Some("loop1.xcc.test")),
        spec("*.w.xcc.test", vec![], Some("alias.xcc.test")),
        spec("big.xcc.test", big, None),
        DnsRecordSpec {
            target_addresses: vec!["192.0.2.10".into(), "2001:db8::10".into()],
            ..spec("*.lb.xcc.test", vec![], Some("lb-1.elb.example.com"))
        },
    ] {
        let _ = builder.add_spec(&s, Source::default());
    }
    for i in 0..gateways {
        let name = format!("*.gateway.c{i}.b.clusters.xcc.test");
        let address = format!("10.2.{}.{}", i / 250, i % 250);
        let _ = builder.add_spec(&spec(&name, vec![address], None), Source::default());
    }
    builder.build().table
}

/// Answers arbitrary bytes over UDP and TCP. Must never panic, never answer
/// a message with QR=1, never exceed the transport's limit, and everything
/// it writes must parse. On a table big enough to be planned, the answer
/// through the batch plan must be the plain answer, byte for byte.
pub fn respond_any(data: &[u8]) {
    check_answers(fixture(), data);
    check_planned_answer(big_fixture(), data);
}

fn check_planned_answer(table: &Table, data: &[u8]) {
    let mut plain = vec![0u8; 4096];
    let mut planned = vec![0u8; 4096];
    let outcome = respond(
        data,
        table,
        Transport::Udp,
        &mut Context::default(),
        &mut plain,
    );
    let mut prefetch = BatchPrefetch::default();
    prefetch.run(table, [data]);
    let planned_outcome = prefetch.respond(
        0,
        data,
        table,
        Transport::Udp,
        &mut Context::default(),
        &mut planned,
    );
    assert_eq!(planned_outcome, outcome, "outcome with the batch plan");
    if let Outcome::Answered { len, .. } = outcome {
        assert_eq!(planned[..len], plain[..len], "answer with the batch plan");
    }
}

fn check_answers(table: &Table, data: &[u8]) {
    let mut out = vec![0u8; 65535];
    for transport in [Transport::Udp, Transport::Tcp] {
        let outcome = respond(data, table, transport, &mut Context::default(), &mut out);
        let Outcome::Answered { len, .. } = outcome else {
            continue;
        };
        assert!(data.len() >= 12, "answered a runt");
        assert_eq!(data[2] & 0x80, 0, "answered a response");
        if transport == Transport::Udp {
            assert!(len <= 4096, "UDP answer of {len} octets");
            let edns_limit = Message::parse(data)
                .ok()
                .and_then(|m| m.edns())
                .map_or(512, |e| usize::from(e.effective_payload_size().min(1232)));
            assert!(
                len <= edns_limit.max(512),
                "UDP answer of {len} > {edns_limit}"
            );
        }
        let answer = Message::parse(&out[..len]).expect("our answer parses");
        assert!(answer.header().flags.qr());
        assert_eq!(answer.header().id, u16::from_be_bytes([data[0], data[1]]));
    }
}

/// Decodes arbitrary bytes as a snapshot; must never panic, and a table
/// that decodes must answer queries without panicking.
pub fn snapshot_any(data: &[u8]) {
    if let Ok(table) = snapshot::decode(data) {
        for query in SAMPLE_QUERIES {
            check_answers(&table, query);
        }
    }
}

/// A few queries to run against decoded tables.
const SAMPLE_QUERIES: &[&[u8]] = &[
    // www.xcc.test. A, RD
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x03xcc\x04test\x00\x00\x01\x00\x01",
    // x.gateway.a.b.clusters.xcc.test. AAAA
    b"\x12\x35\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x07gateway\x01a\x01b\x08clusters\x03xcc\x04test\x00\x00\x1c\x00\x01",
    // alias.xcc.test. A
    b"\x12\x36\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05alias\x03xcc\x04test\x00\x00\x01\x00\x01",
    // xcc.test. ANY
    b"\x12\x37\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03xcc\x04test\x00\x00\xff\x00\x01",
    // x.lb.xcc.test. A: a CNAME out of the zone with its target's addresses
    b"\x12\x38\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x02lb\x03xcc\x04test\x00\x00\x01\x00\x01",
];

/// The snapshot of the fixture table, a seed for the `snapshot` target.
pub fn fixture_snapshot() -> Vec<u8> {
    snapshot::encode(fixture())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bodies_accept_their_own_seeds() {
        for query in SAMPLE_QUERIES {
            respond_any(query);
        }
        snapshot_any(&fixture_snapshot());
        respond_any(b"");
        snapshot_any(b"XCCSNAP\x01");
        snapshot_any(&snapshot::MAGIC);
    }

    #[test]
    fn the_big_fixture_is_planned() {
        let table = big_fixture();
        let gateway = SAMPLE_QUERIES[1];
        let mut prefetch = BatchPrefetch::default();
        prefetch.run(table, [gateway]);
        assert!(prefetch.has_plan(0, gateway, table));
    }

    /// Writes the `snapshot` target's seeds: `cargo test -p xcc-responder
    /// --lib write_snapshot_seeds -- --ignored`.
    #[test]
    #[ignore = "writes fuzz/corpus/snapshot; run by hand to refresh the seeds"]
    fn write_snapshot_seeds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/snapshot");
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = fixture_snapshot();
        std::fs::write(dir.join("fixture.bin"), &bytes).unwrap();
        std::fs::write(dir.join("fixture-truncated.bin"), &bytes[..bytes.len() / 2]).unwrap();
        let empty = snapshot::encode(&TableBuilder::new(TableConfig::default()).build().table);
        std::fs::write(dir.join("empty-zone.bin"), empty).unwrap();
    }
}
