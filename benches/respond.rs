//! The whole answer path, bytes in → bytes out, on tables of 1k, 100k and
//! 1M names: exact hit, wildcard hit, NXDOMAIN, NODATA; and the lookup
//! alone. One name asked again and again stays in the CPU cache whatever
//! the table's size, so `mix` also runs the dnsperf harness's query mix
//! over the whole table, one different name per iteration: that is where a
//! big table costs more per query than a small one. `mix/batch*` answer 32
//! queries at a time as a UDP worker does, with and without prefetching
//! the batch first (`BatchPrefetch`).
//! `cargo bench -p xcc-benches --bench respond`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use xcc_responder::net::batch::BATCH;
use xcc_responder::respond::{BatchPrefetch, Context, Transport, respond};
use xcc_wire::{NameBuf, RType};

fn sizes() -> Vec<(&'static str, usize, usize)> {
    if xcc_benches::measuring() {
        vec![
            ("1k", 1_000, 0),
            ("100k", 100_000, 100_000),
            ("1m", 500_000, 500_000),
        ]
    } else {
        vec![("1k", 1_000, 0)]
    }
}

fn answer_path(c: &mut Criterion) {
    let mut group = c.benchmark_group("respond");
    group.throughput(Throughput::Elements(1));
    for (label, wildcards, exact) in sizes() {
        let table = xcc_benches::build_table(&xcc_benches::gateway_specs(wildcards, exact), 1);
        let last = wildcards - 1;
        let (ns, cluster) = (last / 100, last % 100);
        let exact_name = if exact > 0 {
            format!("api.c-{cluster}.ns-{ns}.clusters.xcc.test.")
        } else {
            "xcc.test.".to_string()
        };
        let cases = [
            (
                "exact",
                exact_name,
                if exact > 0 { RType::A } else { RType::SOA },
            ),
            (
                "wildcard",
                format!("KuArD.gateway.c-{cluster}.ns-{ns}.clusters.xcc.test."),
                RType::A,
            ),
            (
                "nxdomain",
                format!("kuard.gateway.c-{cluster}.ns-none.clusters.xcc.test."),
                RType::A,
            ),
            (
                "nodata",
                // Gateways whose number is not a multiple of 3 have no AAAA.
                {
                    let n = if last % 3 != 0 { last } else { last - 1 };
                    format!(
                        "kuard.gateway.c-{}.ns-{}.clusters.xcc.test.",
                        n % 100,
                        n / 100
                    )
                },
                RType::AAAA,
            ),
        ];
        let mut out = vec![0u8; 1232];
        let mut context = Context::default();
        for (case, qname, qtype) in &cases {
            let query = xcc_benches::query(qname, *qtype);
            group.bench_with_input(BenchmarkId::new(*case, label), &query, |b, query| {
                b.iter(|| {
                    black_box(respond(
                        black_box(query),
                        &table,
                        Transport::Udp,
                        &mut context,
                        &mut out,
                    ))
                })
            });
            let key = NameBuf::from_presentation(qname).unwrap().to_key();
            group.bench_with_input(
                BenchmarkId::new(format!("lookup_{case}"), label),
                &key,
                |b, key| {
                    b.iter(|| {
                        black_box(table.lookup(black_box(key)));
                    })
                },
            );
        }
    }
    group.finish();
}

/// Queries in the mix: more than fit in any cache level with their names,
/// few enough to build quickly.
const MIX_QUERIES: usize = 1 << 18;

fn mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("mix");
    group.throughput(Throughput::Elements(1));
    for (label, wildcards, exact) in sizes() {
        let table = xcc_benches::build_table(&xcc_benches::gateway_specs(wildcards, exact), 1);
        let mix = xcc_benches::mix_queries(wildcards, exact, MIX_QUERIES);
        let keys: Vec<_> = mix
            .iter()
            .map(|(name, _)| NameBuf::from_presentation(name).unwrap().to_key())
            .collect();
        let queries: Vec<_> = mix
            .iter()
            .map(|(name, qtype)| xcc_benches::query(name, *qtype))
            .collect();
        let mut next = 0usize;
        group.bench_function(BenchmarkId::new("lookup", label), |b| {
            b.iter(|| {
                next = (next + 1) % keys.len();
                black_box(table.lookup(&keys[next]));
            })
        });
        let mut out = vec![0u8; 1232];
        let mut context = Context::default();
        group.bench_function(BenchmarkId::new("respond", label), |b| {
            b.iter(|| {
                next = (next + 1) % queries.len();
                black_box(respond(
                    &queries[next],
                    &table,
                    Transport::Udp,
                    &mut context,
                    &mut out,
                ))
            })
        });
        // As a UDP worker answers a recvmmsg batch: every query of the
        // batch planned and prefetched first, then each answered with its
        // plan.
        let mut prefetch = BatchPrefetch::default();
        group.throughput(Throughput::Elements(BATCH as u64));
        for (name, prefetching) in [("batch", false), ("batch-prefetched", true)] {
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| {
                    let start = next % (queries.len() - BATCH);
                    next += BATCH;
                    let batch = &queries[start..start + BATCH];
                    if prefetching {
                        prefetch.run(&table, batch.iter().map(|query| &query[..]));
                    }
                    for (index, query) in batch.iter().enumerate() {
                        let outcome = if prefetching {
                            prefetch.respond(
                                index,
                                query,
                                &table,
                                Transport::Udp,
                                &mut context,
                                &mut out,
                            )
                        } else {
                            respond(query, &table, Transport::Udp, &mut context, &mut out)
                        };
                        black_box(outcome);
                    }
                })
            });
        }
        group.throughput(Throughput::Elements(1));
    }
    group.finish();
}

// criterion_group! generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::answer_path, super::mix);
}

criterion_main!(group::benches);
