//! Answers through a batch plan ([`BatchPrefetch::respond`]) are the answers
//! of [`respond`], byte for byte, on a table big enough to be planned: every
//! path of a lookup (wildcard under an encloser with and without other
//! children, exact names, empty non-terminals, the apex, CNAME chains), in
//! a big zone nested in a small one (so the plan's zone is the second), and
//! for other classes, names outside every zone and malformed queries; the
//! queries of the big zone are planned; and a plan is never used for bytes
//! or a table it was not made for.

use xcc_responder::records::model::DnsRecordSpec;
use xcc_responder::respond::{BatchPrefetch, Context, Outcome, Transport, respond};
use xcc_responder::table::{Table, TableConfig, ZoneConfig};
use xcc_wire::{Class, NameBuf, RType};

use crate::support::{Ask, addresses, cname, query_bytes, table_with, txt};

/// Gateway wildcards, enough of them for the index to outgrow a core's
/// caches, so that [`BatchPrefetch::run`] plans.
const GATEWAYS: usize = 20_000;

fn zone(apex: &str) -> ZoneConfig {
    ZoneConfig::new(NameBuf::from_presentation(apex).expect("an apex"))
}

/// A small zone `xcc.test` with a few names, and nested in it the big zone
/// `clusters.xcc.test`: [`GATEWAYS`] gateway wildcards (a tenth of them
/// with an exact name beside the wildcard), and names of every other kind.
fn big_table(address_base: u8) -> Table {
    let mut specs: Vec<DnsRecordSpec> = (0..GATEWAYS)
        .map(|i| {
            addresses(
                &format!("*.gateway.cluster-{i}.team-{}.clusters.xcc.test", i % 50),
                30,
                &[&format!("10.{address_base}.{}.{}", i / 250, i % 250)],
            )
        })
        .collect();
    for i in (0..GATEWAYS).step_by(10) {
        specs.push(addresses(
            &format!(
                "exact.gateway.cluster-{i}.team-{}.clusters.xcc.test",
                i % 50
            ),
            60,
            &["192.0.2.1", "192.0.2.2"],
        ));
    }
    specs.extend([
        addresses("www.xcc.test", 300, &["192.0.2.80"]),
        addresses("*.xcc.test", 300, &["192.0.2.81"]),
        addresses("www.clusters.xcc.test", 300, &["192.0.2.90"]),
        txt("www.clusters.xcc.test", &["hello"]),
        addresses("deep.empty.clusters.xcc.test", 300, &["192.0.2.91"]),
        cname("alias.clusters.xcc.test", "www.clusters.xcc.test"),
        cname("chain.clusters.xcc.test", "alias.clusters.xcc.test"),
        cname("away.clusters.xcc.test", "www.example.org"),
    ]);
    let config = TableConfig {
        zones: vec![zone("xcc.test"), zone("clusters.xcc.test")],
        chaos_version: Some("xcc-dns test".to_owned()),
        ..TableConfig::default()
    };
    let table = table_with(config, &specs);
    assert!(table.worth_prefetching(), "the table must be planned");
    table
}

/// A query, and whether [`BatchPrefetch::run`] plans it (its name is in
/// the big zone and it parses).
struct Case {
    query: Vec<u8>,
    planned: bool,
}

/// Queries down every path of a lookup, and some a lookup never sees.
fn cases() -> Vec<Case> {
    let ask = Ask::default();
    let class = |class| Ask { class, ..ask };
    let in_big_zone = [
        // Wildcards: encloser without, then with, other children.
        (
            "a.gateway.cluster-7.team-7.clusters.xcc.test",
            RType::A,
            ask,
        ),
        (
            "B.Gateway.Cluster-19999.team-49.clusters.xcc.test",
            RType::AAAA,
            ask,
        ),
        (
            "fresh.gateway.cluster-10.team-10.clusters.xcc.test",
            RType::A,
            ask,
        ),
        (
            "*.gateway.cluster-10.team-10.clusters.xcc.test",
            RType::A,
            ask,
        ),
        (
            "*.gateway.cluster-11.team-11.clusters.xcc.test",
            RType::TXT,
            ask,
        ),
        (
            "two.labels.gateway.cluster-3.team-3.clusters.xcc.test",
            RType::A,
            ask,
        ),
        // Exact names, and NODATA at one.
        (
            "exact.gateway.cluster-10.team-10.clusters.xcc.test",
            RType::A,
            ask,
        ),
        (
            "EXACT.gateway.cluster-20.team-20.clusters.xcc.test",
            RType::MX,
            ask,
        ),
        ("www.clusters.xcc.test", RType::TXT, ask),
        ("www.clusters.xcc.test", RType::ANY, ask),
        // Empty non-terminals, NXDOMAIN at several depths, the apex (whose
        // parent is in the other zone).
        ("gateway.cluster-7.team-7.clusters.xcc.test", RType::A, ask),
        ("team-7.clusters.xcc.test", RType::A, ask),
        ("empty.clusters.xcc.test", RType::A, ask),
        ("nope.cluster-7.team-7.clusters.xcc.test", RType::A, ask),
        ("a.b.c.nothing.clusters.xcc.test", RType::A, ask),
        ("clusters.xcc.test", RType::SOA, ask),
        ("CLUSTERS.xcc.test", RType::NS, ask),
        // CNAMEs in the zone and out of it.
        ("chain.clusters.xcc.test", RType::A, ask),
        ("away.clusters.xcc.test", RType::A, ask),
        // Planned, but answered before any lookup: other classes, a zone
        // transfer, an EDNS version we do not speak; and without EDNS.
        ("www.clusters.xcc.test", RType::A, class(Class::CH)),
        ("www.clusters.xcc.test", RType::A, class(Class::HS)),
        ("www.clusters.xcc.test", RType::AXFR, ask),
        ("www.clusters.xcc.test", RType::A, Ask { version: 1, ..ask }),
        ("www.clusters.xcc.test", RType::A, Ask { edns: None, ..ask }),
    ];
    // The small zone around it (not worth planning), outside every zone,
    // CHAOS.
    let elsewhere = [
        ("www.xcc.test", RType::A, ask),
        ("other.xcc.test", RType::A, ask),
        ("xcc.test", RType::SOA, ask),
        ("example.com", RType::A, ask),
        ("test", RType::A, ask),
        ("version.bind", RType::TXT, class(Class::CH)),
    ];
    let case = |planned| {
        move |(name, qtype, ask): &(&str, RType, Ask)| Case {
            query: query_bytes(name, *qtype, *ask),
            planned,
        }
    };
    let mut cases: Vec<Case> = in_big_zone.iter().map(case(true)).collect();
    cases.extend(elsewhere.iter().map(case(false)));
    let mut malformed = query_bytes("www.clusters.xcc.test", RType::A, ask);
    malformed.truncate(20);
    cases.push(Case {
        query: malformed,
        planned: false,
    });
    cases
}

/// The answer of `outcome`, from `out`.
fn answer(outcome: Outcome, out: &[u8]) -> Vec<u8> {
    match outcome {
        Outcome::Answered { len, .. } => out[..len].to_vec(),
        Outcome::Dropped(reason) => panic!("every query is answered: {reason:?}"),
    }
}

fn plain_answers(table: &Table, queries: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut context = Context::default();
    let mut out = vec![0u8; 1232];
    queries
        .iter()
        .map(|query| {
            let outcome = respond(query, table, Transport::Udp, &mut context, &mut out);
            answer(outcome, &out)
        })
        .collect()
}

#[test]
fn planned_answers_are_the_plain_answers() {
    let table = big_table(1);
    let cases = cases();
    let queries: Vec<Vec<u8>> = cases.iter().map(|case| case.query.clone()).collect();
    let expected = plain_answers(&table, &queries);

    let mut prefetch = BatchPrefetch::default();
    prefetch.run(&table, queries.iter().map(|query| &query[..]));
    for (index, (case, query)) in cases.iter().zip(&queries).enumerate() {
        let planned = prefetch.has_plan(index, query, &table);
        assert_eq!(planned, case.planned, "case {index} planned");
    }

    let mut out = vec![0u8; 1232];
    // In batches of several sizes, so that plans of an earlier, larger
    // batch are left behind in the prefetcher.
    for batch_size in [queries.len(), 7, 1] {
        // Address RRsets rotate: each round starts where the plain one did.
        let mut context = Context::default();
        for (batch, expected) in queries.chunks(batch_size).zip(expected.chunks(batch_size)) {
            prefetch.run(&table, batch.iter().map(|query| &query[..]));
            for (index, (query, expected)) in batch.iter().zip(expected).enumerate() {
                let outcome =
                    prefetch.respond(index, query, &table, Transport::Udp, &mut context, &mut out);
                let got = answer(outcome, &out);
                assert_eq!(&got, expected, "query {index} of a batch of {batch_size}");
            }
        }
    }
}

#[test]
fn a_plan_is_not_used_for_other_bytes_or_another_table() {
    let table = big_table(1);
    // The same names, other addresses, and other hash seeds: a plan made
    // on `table` and followed on `other` would miss.
    let other = big_table(2);
    let ask = Ask::default();
    let planned = query_bytes(
        "a.gateway.cluster-7.team-7.clusters.xcc.test",
        RType::A,
        ask,
    );
    // Same length and shape, another name.
    let unplanned = query_bytes(
        "a.gateway.cluster-8.team-8.clusters.xcc.test",
        RType::A,
        ask,
    );
    let expected_other = plain_answers(&other, std::slice::from_ref(&planned));
    let expected_unplanned = plain_answers(&table, std::slice::from_ref(&unplanned));
    let mut prefetch = BatchPrefetch::default();
    let mut context = Context::default();
    let mut out = vec![0u8; 1232];
    prefetch.run(&table, [&planned[..]]);
    assert!(prefetch.has_plan(0, &planned, &table));

    let outcome = prefetch.respond(0, &planned, &other, Transport::Udp, &mut context, &mut out);
    assert_eq!(answer(outcome, &out), expected_other[0], "another table");
    let outcome = prefetch.respond(
        0,
        &unplanned,
        &table,
        Transport::Udp,
        &mut context,
        &mut out,
    );
    assert_eq!(answer(outcome, &out), expected_unplanned[0], "other bytes");

    // A buffer planned in a batch of two, then a batch of one: refilled
    // with another name of the same length, it is past the batch.
    let mut buffer = planned.clone();
    prefetch.run(&table, [&planned[..], &buffer[..]]);
    prefetch.run(&table, [&planned[..]]);
    buffer.copy_from_slice(&unplanned);
    let outcome = prefetch.respond(1, &buffer, &table, Transport::Udp, &mut context, &mut out);
    assert_eq!(
        answer(outcome, &out),
        expected_unplanned[0],
        "past the batch"
    );
}
