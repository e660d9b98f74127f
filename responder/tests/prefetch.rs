//! Answers through a batch plan ([`BatchPrefetch::respond`]) are the answers
//! of [`respond`], byte for byte, on a table big enough to be planned: every
//! path of a lookup (wildcard under an encloser with and without other
//! children, exact names, empty non-terminals, the apex, CNAME chains, a
//! second zone nested in the first, names outside every zone, malformed
//! queries), and a plan is never used for bytes or a table it was not made
//! for.

use xcc_responder::records::model::DnsRecordSpec;
use xcc_responder::respond::{BatchPrefetch, Context, Outcome, Transport, respond};
use xcc_responder::table::{Table, TableConfig, ZoneConfig};
use xcc_wire::{NameBuf, RType};

use crate::support::{Ask, addresses, cname, query_bytes, table_with, txt};

/// Gateway wildcards, enough of them for the index to outgrow a core's
/// caches, so that [`BatchPrefetch::run`] plans.
const GATEWAYS: usize = 20_000;

fn zone(apex: &str) -> ZoneConfig {
    ZoneConfig::new(NameBuf::from_presentation(apex).expect("an apex"))
}

/// `xcc.test` with `sub.xcc.test` delegated to a zone of its own in the
/// same table, [`GATEWAYS`] gateway wildcards (a tenth of them with exact
/// names beside the wildcard), and a few names of every other kind.
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
        addresses("deep.empty.xcc.test", 300, &["192.0.2.81"]),
        cname("alias.xcc.test", "www.xcc.test"),
        cname("chain.xcc.test", "alias.xcc.test"),
        cname("away.xcc.test", "www.example.org"),
        txt("www.xcc.test", &["hello"]),
        addresses("host.sub.xcc.test", 300, &["192.0.2.90"]),
        addresses("*.sub.xcc.test", 300, &["192.0.2.91"]),
    ]);
    let config = TableConfig {
        zones: vec![zone("xcc.test"), zone("sub.xcc.test")],
        ..TableConfig::default()
    };
    let table = table_with(config, &specs);
    assert!(table.worth_prefetching(), "the table must be planned");
    table
}

/// Queries down every path of a lookup.
fn queries() -> Vec<Vec<u8>> {
    let ask = Ask::default();
    let mut queries: Vec<Vec<u8>> = [
        // Wildcards: encloser without, then with, other children.
        ("a.gateway.cluster-7.team-7.clusters.xcc.test", RType::A),
        (
            "B.Gateway.Cluster-19999.team-49.clusters.xcc.test",
            RType::AAAA,
        ),
        (
            "fresh.gateway.cluster-10.team-10.clusters.xcc.test",
            RType::A,
        ),
        ("*.gateway.cluster-10.team-10.clusters.xcc.test", RType::A),
        ("*.gateway.cluster-11.team-11.clusters.xcc.test", RType::TXT),
        (
            "two.labels.gateway.cluster-3.team-3.clusters.xcc.test",
            RType::A,
        ),
        // Exact names, and NODATA at one.
        (
            "exact.gateway.cluster-10.team-10.clusters.xcc.test",
            RType::A,
        ),
        (
            "EXACT.gateway.cluster-20.team-20.clusters.xcc.test",
            RType::MX,
        ),
        ("www.xcc.test", RType::TXT),
        ("www.xcc.test", RType::ANY),
        // Empty non-terminals, NXDOMAIN at several depths, the apex.
        ("gateway.cluster-7.team-7.clusters.xcc.test", RType::A),
        ("clusters.xcc.test", RType::A),
        ("empty.xcc.test", RType::A),
        ("nope.cluster-7.team-7.clusters.xcc.test", RType::A),
        ("a.b.c.nothing.xcc.test", RType::A),
        ("xcc.test", RType::SOA),
        ("xcc.test", RType::NS),
        // CNAMEs in the zone and out of it.
        ("chain.xcc.test", RType::A),
        ("away.xcc.test", RType::A),
        // The nested zone: its apex, a name, its wildcard.
        ("sub.xcc.test", RType::SOA),
        ("host.sub.xcc.test", RType::A),
        ("other.sub.xcc.test", RType::A),
        // Outside every zone; CHAOS.
        ("example.com", RType::A),
        ("test", RType::A),
    ]
    .iter()
    .map(|(name, qtype)| query_bytes(name, *qtype, ask))
    .collect();
    let mut malformed = query_bytes("www.xcc.test", RType::A, ask);
    malformed.truncate(20);
    queries.push(malformed);
    queries.push(query_bytes(
        "www.xcc.test",
        RType::A,
        Ask { edns: None, ..ask },
    ));
    queries
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
    let queries = queries();
    let expected = plain_answers(&table, &queries);
    let mut prefetch = BatchPrefetch::default();
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
    let planned = query_bytes(
        "a.gateway.cluster-7.team-7.clusters.xcc.test",
        RType::A,
        Ask::default(),
    );
    // Same length and shape, another name.
    let unplanned = query_bytes(
        "a.gateway.cluster-8.team-8.clusters.xcc.test",
        RType::A,
        Ask::default(),
    );
    let expected_other = plain_answers(&other, std::slice::from_ref(&planned));
    let expected_unplanned = plain_answers(&table, std::slice::from_ref(&unplanned));
    let mut prefetch = BatchPrefetch::default();
    let mut context = Context::default();
    let mut out = vec![0u8; 1232];
    prefetch.run(&table, [&planned[..]]);

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
    let outcome = prefetch.respond(
        1,
        &unplanned,
        &table,
        Transport::Udp,
        &mut context,
        &mut out,
    );
    assert_eq!(
        answer(outcome, &out),
        expected_unplanned[0],
        "past the batch"
    );
}
