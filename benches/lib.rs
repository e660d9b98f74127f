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
