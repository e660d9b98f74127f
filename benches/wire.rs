//! Codec benchmarks: parsing a typical query, writing typical answers, and
//! the two together (the codec's share of one query's budget).
//!
//! Run with `cargo bench -p xcc-benches --bench wire`; `cargo test --benches`
//! runs each once so they never rot.

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_main};
use xcc_wire::{
    Class, Flags, Message, MessageWriter, NameBuf, OptRecord, RData, RType, Rcode, Section, Soa,
};

/// Parses `query` and writes an answer of `addresses` owned by the question
/// name (pointer 0xC00C), with OPT; returns the answer length.
fn answer(query: &[u8], addresses: &[RData<'_>], out: &mut [u8]) -> usize {
    let message = Message::parse(query).expect("benchmark query parses");
    let question = message.question().expect("has a question");
    let limit = message
        .edns()
        .map_or(512, |e| usize::from(e.effective_payload_size()));
    let mut writer = MessageWriter::new(out, limit).expect("buffer fits a header");
    writer.set_id(message.header().id);
    writer.set_flags(
        Flags(0)
            .with_qr(true)
            .with_aa(true)
            .with_rd(message.header().flags.rd()),
    );
    writer.push_question(&question).expect("question fits");
    if message.edns().is_some() {
        writer
            .reserve_opt(&OptRecord {
                udp_payload_size: 1232,
                version: 0,
                flags: 0,
                options: &[],
            })
            .expect("OPT fits");
    }
    let _ = writer.push_rrset(
        Section::Answer,
        &question.qname,
        RType::A,
        Class::IN,
        30,
        addresses.iter().copied(),
    );
    writer.finish()
}

fn codec(c: &mut Criterion) {
    let typical = xcc_benches::typical_query();
    let wildcard = xcc_benches::wildcard_query();
    let three_a = [
        RData::A(Ipv4Addr::new(10, 0, 0, 10)),
        RData::A(Ipv4Addr::new(10, 0, 0, 11)),
        RData::A(Ipv4Addr::new(10, 0, 0, 12)),
    ];
    let one_a = [RData::A(Ipv4Addr::new(192, 0, 2, 80))];
    let mut out = [0u8; 1232];

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Elements(1));

    group.bench_function("parse_typical_query", |b| {
        b.iter(|| {
            let message = Message::parse(black_box(&typical)).unwrap();
            black_box(message.question());
            black_box(message.edns());
        })
    });

    // The query is parsed once outside the loop: this measures writing only.
    let parsed = Message::parse(&typical).unwrap();
    let question = parsed.question().unwrap();
    group.bench_function("write_3a_answer_with_opt", |b| {
        b.iter(|| {
            let mut writer = MessageWriter::new(&mut out, 1232).unwrap();
            writer.set_id(1);
            writer.set_flags(Flags(0).with_qr(true).with_aa(true));
            writer.push_question(black_box(&question)).unwrap();
            writer
                .reserve_opt(&OptRecord {
                    udp_payload_size: 1232,
                    version: 0,
                    flags: 0,
                    options: &[],
                })
                .unwrap();
            writer
                .push_rrset(
                    Section::Answer,
                    &question.qname,
                    RType::A,
                    Class::IN,
                    30,
                    three_a,
                )
                .unwrap();
            black_box(writer.finish())
        })
    });

    // A wildcard answer: the owner is synthesised as the (mixed-case)
    // question name and compressed to 0xC00C.
    let wildcard_parsed = Message::parse(&wildcard).unwrap();
    let wildcard_question = wildcard_parsed.question().unwrap();
    group.bench_function("write_wildcard_answer", |b| {
        b.iter(|| {
            let mut writer = MessageWriter::new(&mut out, 1232).unwrap();
            writer.push_question(black_box(&wildcard_question)).unwrap();
            writer
                .push_rrset(
                    Section::Answer,
                    &wildcard_question.qname,
                    RType::A,
                    Class::IN,
                    30,
                    one_a,
                )
                .unwrap();
            black_box(writer.finish())
        })
    });

    // A negative answer: the SOA owner (the zone apex) is a suffix of the
    // question name, found in the compressor's table.
    let apex = NameBuf::from_presentation("xcc.test.").unwrap();
    let mname = NameBuf::from_presentation("ns1.xcc.test.").unwrap();
    let rname = NameBuf::from_presentation("hostmaster.xcc.test.").unwrap();
    let soa = RData::Soa(Soa {
        mname: mname.as_name(),
        rname: rname.as_name(),
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 30,
    });
    group.bench_function("write_nxdomain_with_soa", |b| {
        b.iter(|| {
            let mut writer = MessageWriter::new(&mut out, 1232).unwrap();
            writer.set_rcode(Rcode::NXDOMAIN);
            writer.push_question(black_box(&wildcard_question)).unwrap();
            writer
                .push_record(
                    Section::Authority,
                    &apex.as_name(),
                    RType::SOA,
                    Class::IN,
                    30,
                    &soa,
                )
                .unwrap();
            black_box(writer.finish())
        })
    });

    group.bench_function("parse_and_answer_typical", |b| {
        b.iter(|| black_box(answer(black_box(&typical), &three_a, &mut out)))
    });
    group.bench_function("parse_and_answer_wildcard", |b| {
        b.iter(|| black_box(answer(black_box(&wildcard), &one_a, &mut out)))
    });
    group.finish();
}

// criterion_group! generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::codec);
}

criterion_main!(group::benches);
