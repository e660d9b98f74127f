//! Tables: build time and memory per record (1k, 100k, 1M names), snapshot
//! encode/decode, and reader throughput while tables are swapped 100 times
//! per second.
//! `cargo bench -p xcc-benches --bench table`.

// A bench binary reports its extra figures (memory, swaps) on the terminal.
#![allow(clippy::disallowed_macros)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use xcc_responder::respond::{Context, Transport, respond};
use xcc_responder::table::handle::TableHandle;
use xcc_responder::table::snapshot;

fn sizes() -> Vec<(&'static str, usize, usize)> {
    if xcc_benches::measuring() {
        vec![
            ("1k", 1_000, 0),
            ("100k", 50_000, 50_000),
            ("1m", 500_000, 500_000),
        ]
    } else {
        vec![("1k", 1_000, 0)]
    }
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("table_build");
    group.sample_size(10);
    for (label, wildcards, exact) in sizes() {
        let specs = xcc_benches::gateway_specs(wildcards, exact);
        // Memory per record, reported once beside the timing.
        let table = xcc_benches::build_table(&specs, 1);
        let heap: usize = table.zones().iter().map(|z| z.heap_bytes()).sum();
        eprintln!(
            "table {label}: {} records, {} names, {:.1} MiB, {:.0} bytes/record",
            table.record_count(),
            table.zones().iter().map(|z| z.node_count()).sum::<usize>(),
            heap as f64 / (1024.0 * 1024.0),
            heap as f64 / table.record_count() as f64
        );
        drop(table);
        group.throughput(Throughput::Elements(specs.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &specs, |b, specs| {
            b.iter(|| black_box(xcc_benches::build_table(specs, 1)))
        });
    }
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    for (label, wildcards, exact) in sizes() {
        let table = xcc_benches::build_table(&xcc_benches::gateway_specs(wildcards, exact), 7);
        let bytes = snapshot::encode(&table);
        eprintln!(
            "snapshot {label}: {} records, {:.1} MiB",
            table.record_count(),
            bytes.len() as f64 / (1024.0 * 1024.0)
        );
        group.throughput(Throughput::Elements(table.record_count() as u64));
        group.bench_with_input(BenchmarkId::new("encode", label), &table, |b, table| {
            b.iter(|| black_box(snapshot::encode(table)))
        });
        group.bench_with_input(BenchmarkId::new("decode", label), &bytes, |b, bytes| {
            b.iter(|| black_box(snapshot::decode(bytes).expect("valid snapshot")))
        });
    }
    group.finish();
}

fn swap(c: &mut Criterion) {
    let specs = xcc_benches::gateway_specs(1_000, 0);
    let handle = Arc::new(TableHandle::new(xcc_benches::build_table(&specs, 1)));
    let query = xcc_benches::query(
        "kuard.gateway.c-7.ns-3.clusters.xcc.test.",
        xcc_wire::RType::A,
    );
    let mut out = vec![0u8; 1232];
    let mut context = Context::default();
    let mut group = c.benchmark_group("swap");
    group.throughput(Throughput::Elements(1));
    for swapping in [false, true] {
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = swapping.then(|| {
            let (handle, stop, specs) = (Arc::clone(&handle), Arc::clone(&stop), specs.clone());
            std::thread::spawn(move || {
                let mut version = 2;
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    handle.publish(xcc_benches::build_table(&specs, version));
                    version += 1;
                    next += Duration::from_millis(10);
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                version
            })
        });
        let mut reader = handle.reader();
        let name = if swapping {
            "read_while_swapping_100_per_s"
        } else {
            "read_no_swaps"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let table = reader.load();
                black_box(respond(
                    &query,
                    table,
                    Transport::Udp,
                    &mut context,
                    &mut out,
                ))
            })
        });
        stop.store(true, Ordering::Relaxed);
        if let Some(publisher) = publisher {
            let published = publisher.join().expect("publisher thread");
            eprintln!("swap: {} tables published during the run", published - 2);
        }
    }
    group.finish();
}

// criterion_group! generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::build, super::snapshot, super::swap);
}

criterion_main!(group::benches);
