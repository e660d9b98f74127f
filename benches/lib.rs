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

/// The dnsperf harness's realistic query mix (`benches/dnsperf/run.py`
/// `gen_queries`) over a [`gateway_specs`] data set, `count` queries drawn
/// deterministically: 70 % A under a random wildcard with a fresh first
/// label, 10 % exact names (the apex SOA without them), 10 % NXDOMAIN (half
/// below an exact name, half under a cluster that does not exist), 10 % AAAA
/// under a wildcard (NODATA for two clusters in three). Every query names a
/// random part of the table, so a big table is read the way the server
/// reads it: mostly out of cache, which one repeated name never shows.
pub fn mix_queries(wildcards: usize, exact: usize, count: usize) -> Vec<(String, RType)> {
    let mut rng = SplitMix(0x2026_1129);
    let wildcard = |n: usize| format!("gateway.c-{}.ns-{}.clusters.xcc.test.", n % 100, n / 100);
    let exact_name = |n: usize| format!("api.c-{}.ns-{}.clusters.xcc.test.", n % 100, n / 100);
    (0..count)
        .map(|_| match rng.below(100) {
            0..70 => {
                let n = rng.below(wildcards);
                (format!("{}.{}", rng.label(), wildcard(n)), RType::A)
            }
            70..80 if exact > 0 => (exact_name(rng.below(exact)), RType::A),
            70..80 => ("xcc.test.".to_string(), RType::SOA),
            80..90 if exact > 0 && rng.below(2) == 0 => {
                let n = rng.below(exact);
                (format!("{}.{}", rng.label(), exact_name(n)), RType::A)
            }
            80..90 => {
                let (ns, nope) = (rng.below(wildcards) / 100, rng.below(1_000_000));
                let name = format!(
                    "{}.gateway.nope-{nope}.ns-{ns}.clusters.xcc.test.",
                    rng.label()
                );
                (name, RType::A)
            }
            _ => {
                let n = rng.below(wildcards);
                (format!("{}.{}", rng.label(), wildcard(n)), RType::AAAA)
            }
        })
        .collect()
}

/// splitmix64: deterministic and dependency-free.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// A first label as the harness makes them: half service-like, half
    /// random (4 to 12 letters and digits), so most are looked up afresh.
    fn label(&mut self) -> String {
        const SERVICES: [&str; 4] = ["kuard", "www", "api-gw", "shop"];
        if self.below(2) == 0 {
            return SERVICES[self.below(SERVICES.len())].to_string();
        }
        let len = 4 + self.below(9);
        (0..len)
            .map(|_| char::from_digit(self.below(36) as u32, 36).expect("below 36"))
            .collect()
    }
}
