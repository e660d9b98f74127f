//! Shared inputs of the xcc-dns benchmarks.
//!
//! The benches themselves are the `[[bench]]` targets beside this file
//! (`cargo bench -p xcc-benches`); this library only holds the fixed inputs
//! they share, so that every bench measures the same messages.

use xcc_wire::{Class, MessageWriter, NameBuf, Question, RType};

/// Builds a query for `qname`/`qtype` with an EDNS0 OPT record advertising
/// 1232 octets and no options (what a forwarding CoreDNS sends upstream).
pub fn query(qname: &str, qtype: RType) -> Vec<u8> {
    let qname = NameBuf::from_presentation(qname).expect("valid benchmark name");
    let mut buf = vec![0u8; 512];
    let mut writer = MessageWriter::new(&mut buf, 512).expect("512 bytes fit a header");
    writer.set_id(0x2a2a);
    writer.set_flags(xcc_wire::Flags(0).with_rd(true));
    writer
        .push_question(&Question {
            qname: qname.as_name(),
            qtype,
            qclass: Class::IN,
        })
        .expect("the question fits");
    writer
        .reserve_opt(&xcc_wire::OptRecord {
            udp_payload_size: 1232,
            version: 0,
            flags: 0,
            options: &[],
        })
        .expect("the OPT fits");
    let len = writer.finish();
    buf.truncate(len);
    buf
}

/// The typical query: `www.xcc.test. A` with EDNS0, 41 octets
/// (12 header + 18 question + 11 OPT = 41).
pub fn typical_query() -> Vec<u8> {
    query("www.xcc.test.", RType::A)
}

/// The walkthrough name: a query that hits the `*.gateway.cluster-a.dev-team`
/// wildcard and is answered with a synthesised owner.
pub fn wildcard_query() -> Vec<u8> {
    query(
        "KuArD.gateway.cluster-a.dev-team.clusters.xcc.test.",
        RType::A,
    )
}

use xcc_responder::records::model::DnsRecordSpec;
use xcc_responder::table::{Source, Table, TableBuilder, TableConfig};

/// The shape of the peer harness's data sets (`shared/bench/gen_zone.py`):
/// `wildcards` gateway names `*.gateway.c-<j>.ns-<i>.clusters.xcc.test`
/// with 1-3 A records (every third with an AAAA too), 100 clusters per
/// namespace, and `exact` names `api.c-<j>.ns-<i>.clusters.xcc.test`.
pub fn gateway_specs(wildcards: usize, exact: usize) -> Vec<DnsRecordSpec> {
    let mut specs = Vec::with_capacity(wildcards + exact);
    for n in 0..wildcards {
        let (namespace, cluster) = (n / 100, n % 100);
        let mut addresses: Vec<String> = (0..1 + n % 3)
            .map(|k| format!("10.{}.{}.{}", (n >> 8) & 0xFF, n & 0xFF, 10 + k))
            .collect();
        if n % 3 == 0 {
            addresses.push(format!("fd00::{:x}:{:x}", (n + 1) >> 16, (n + 1) & 0xFFFF));
        }
        specs.push(DnsRecordSpec {
            name: format!("*.gateway.c-{cluster}.ns-{namespace}.clusters.xcc.test"),
            ttl: 30,
            addresses,
            ..DnsRecordSpec::default()
        });
    }
    for n in 0..exact {
        let (namespace, cluster) = (n / 100, n % 100);
        specs.push(DnsRecordSpec {
            name: format!("api.c-{cluster}.ns-{namespace}.clusters.xcc.test"),
            ttl: 30,
            addresses: vec![format!("172.16.{}.{}", (n >> 8) & 0xFF, n & 0xFF)],
            ..DnsRecordSpec::default()
        });
    }
    specs
}

/// Builds a table of `specs`, version `version`.
pub fn build_table(specs: &[DnsRecordSpec], version: u32) -> Table {
    let mut builder = TableBuilder::new(TableConfig {
        version,
        ..TableConfig::default()
    });
    for spec in specs {
        builder
            .add_spec(spec, Source::default())
            .expect("benchmark records are valid");
    }
    let built = builder.build();
    assert!(built.problems.is_empty(), "{:?}", built.problems.first());
    built.table
}

/// Whether criterion runs for real (`cargo bench`) rather than once as a
/// test (`cargo test --benches`, where big tables would only cost time).
pub fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}
