//! Shared helpers: build tables from specs, make queries, read answers.

#![allow(dead_code, unreachable_pub)]

use std::net::IpAddr;

use xcc_responder::records::model::{DnsRecordSpec, SrvSpec};
use xcc_responder::respond::{Context, Outcome, Transport, respond};
use xcc_responder::table::build::Built;
use xcc_responder::table::{Source, Table, TableBuilder, TableConfig};
use xcc_wire::{
    Class, Flags, Message, MessageWriter, NameBuf, Opcode, OptRecord, Question, RData, RType,
    Rcode, Section,
};

/// A spec with addresses.
pub fn addresses(name: &str, ttl: u32, list: &[&str]) -> DnsRecordSpec {
    DnsRecordSpec {
        name: name.into(),
        ttl,
        addresses: list.iter().map(|s| s.to_string()).collect(),
        ..DnsRecordSpec::default()
    }
}

/// A spec with a CNAME.
pub fn cname(name: &str, target: &str) -> DnsRecordSpec {
    DnsRecordSpec {
        name: name.into(),
        ttl: 60,
        cname: Some(target.into()),
        ..DnsRecordSpec::default()
    }
}

/// A spec with a CNAME carrying its target's addresses (`targetAddresses`).
pub fn cname_with_targets(name: &str, ttl: u32, target: &str, targets: &[&str]) -> DnsRecordSpec {
    DnsRecordSpec {
        name: name.into(),
        ttl,
        cname: Some(target.into()),
        target_addresses: targets.iter().map(|s| s.to_string()).collect(),
        ..DnsRecordSpec::default()
    }
}

/// A spec with TXT strings.
pub fn txt(name: &str, strings: &[&str]) -> DnsRecordSpec {
    DnsRecordSpec {
        name: name.into(),
        ttl: 60,
        txt: strings.iter().map(|s| s.to_string()).collect(),
        ..DnsRecordSpec::default()
    }
}

/// A spec with one SRV entry.
pub fn srv(name: &str, priority: u16, weight: u16, port: u16, target: &str) -> DnsRecordSpec {
    DnsRecordSpec {
        name: name.into(),
        ttl: 60,
        srv: vec![SrvSpec {
            priority,
            weight,
            port,
            target: target.into(),
        }],
        ..DnsRecordSpec::default()
    }
}

/// Builds a table of `specs` (one source each, named by index) with
/// `config`; panics if any is rejected.
pub fn table_with(config: TableConfig, specs: &[DnsRecordSpec]) -> Table {
    let built = build(config, specs);
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    built.table
}

/// Builds, returning problems too.
pub fn build(config: TableConfig, specs: &[DnsRecordSpec]) -> Built {
    let mut builder = TableBuilder::new(config);
    for (i, spec) in specs.iter().enumerate() {
        let _ = builder.add_spec(
            spec,
            Source {
                object: Some(format!("test/{i}")),
                ..Source::default()
            },
        );
    }
    builder.build()
}

/// How a query is made.
#[derive(Clone, Copy, Debug)]
pub struct Ask {
    /// EDNS payload size, or no EDNS.
    pub edns: Option<u16>,
    /// EDNS version.
    pub version: u8,
    /// DO bit.
    pub dnssec_ok: bool,
    /// Opcode.
    pub opcode: Opcode,
    /// Class.
    pub class: Class,
    /// Transport.
    pub transport: Transport,
    /// RD.
    pub rd: bool,
}

impl Default for Ask {
    fn default() -> Self {
        Self {
            edns: Some(1232),
            version: 0,
            dnssec_ok: false,
            opcode: Opcode::QUERY,
            class: Class::IN,
            transport: Transport::Udp,
            rd: true,
        }
    }
}

/// The bytes of a query.
pub fn query_bytes(qname: &str, qtype: RType, ask: Ask) -> Vec<u8> {
    let qname = NameBuf::from_presentation(qname).unwrap();
    let mut buf = vec![0u8; 512];
    let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
    writer.set_id(0x5a5a);
    writer.set_flags(Flags(0).with_rd(ask.rd).with_opcode(ask.opcode));
    writer
        .push_question(&Question {
            qname: qname.as_name(),
            qtype,
            qclass: ask.class,
        })
        .unwrap();
    if let Some(size) = ask.edns {
        writer
            .reserve_opt(&OptRecord {
                udp_payload_size: size,
                version: ask.version,
                flags: if ask.dnssec_ok { 0x8000 } else { 0 },
                options: &[],
            })
            .unwrap();
    }
    let len = writer.finish();
    buf.truncate(len);
    buf
}

/// An answer, owned, with its parsed view available through `message()`.
#[derive(Debug)]
pub struct Answer {
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn message(&self) -> Message<'_> {
        Message::parse(&self.bytes).expect("every answer parses")
    }

    pub fn rcode(&self) -> Rcode {
        self.message().rcode()
    }

    pub fn flags(&self) -> Flags {
        self.message().header().flags
    }

    /// Answer records as `(owner, type, rdata text)`.
    pub fn records(&self, section: Section) -> Vec<(String, RType, String)> {
        self.message()
            .records(section)
            .filter(|r| r.rtype != RType::OPT)
            .map(|r| (r.owner.to_string(), r.rtype, rdata_text(&r.rdata)))
            .collect()
    }

    pub fn answers(&self) -> Vec<(String, RType, String)> {
        self.records(Section::Answer)
    }

    pub fn authority(&self) -> Vec<(String, RType, String)> {
        self.records(Section::Authority)
    }

    pub fn ttls(&self, section: Section) -> Vec<u32> {
        self.message().records(section).map(|r| r.ttl).collect()
    }
}

/// A short text form of RDATA for assertions.
pub fn rdata_text(rdata: &RData<'_>) -> String {
    match rdata {
        RData::A(a) => a.to_string(),
        RData::Aaaa(a) => a.to_string(),
        RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => n.to_string(),
        RData::Soa(soa) => format!("{} {} {}", soa.mname, soa.rname, soa.serial),
        RData::Txt(txt) => txt
            .strings()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join("|"),
        RData::Srv(srv) => format!(
            "{} {} {} {}",
            srv.priority, srv.weight, srv.port, srv.target
        ),
        RData::Mx(mx) => format!("{} {}", mx.preference, mx.exchange),
        RData::Opt(_) => "OPT".into(),
        RData::Unknown(bytes) => format!("{bytes:?}"),
    }
}

/// Sends `query` to the engine; `None` when it drops it.
pub fn answer_bytes(
    table: &Table,
    query: &[u8],
    transport: Transport,
    context: &mut Context,
) -> Option<Answer> {
    let mut out = vec![0u8; 65535];
    match respond(query, table, transport, context, &mut out) {
        Outcome::Answered { len, .. } => {
            out.truncate(len);
            Some(Answer { bytes: out })
        }
        Outcome::Dropped(_) => None,
    }
}

/// Asks `qname`/`qtype` with `ask`.
pub fn ask_with(table: &Table, qname: &str, qtype: RType, ask: Ask) -> Answer {
    let query = query_bytes(qname, qtype, ask);
    answer_bytes(table, &query, ask.transport, &mut Context::default()).expect("answered")
}

/// Asks with defaults (UDP, EDNS 1232).
pub fn ask(table: &Table, qname: &str, qtype: RType) -> Answer {
    ask_with(table, qname, qtype, Ask::default())
}

/// Parses an address for comparisons.
pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}
