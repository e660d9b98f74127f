//! The control path of one change in a zone of 100,000 records, as issue 6
//! budgets it (< 250 ms): one `DNSRecord` of the store changes (a new
//! address, a new `resourceVersion`); the controller decodes the store
//! (`RecordDecoder`: only the changed object), rebuilds the whole record set
//! (`plan_records`, the responder's `TableBuilder` inside), writes the
//! snapshot atomically, and the responder reads, checks and swaps it in.
//! The debounce and the watch latency are not included, nor the statuses,
//! which the controller works out after publishing (`Decisions::report`,
//! measured apart as `report`).
//! `cargo bench -p xcc-benches --bench propagation`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_main};
use kube::api::{DynamicObject, ObjectMeta};
use xcc_controller::api::DNSRecord;
use xcc_controller::records::build::{RecordDecoder, plan_records};
use xcc_controller::records::publish::write_atomic;
use xcc_responder::table::TableConfig;
use xcc_responder::table::handle::TableHandle;
use xcc_responder::table::snapshot;

/// A store entry as the reflector holds it.
fn object(index: usize, record: &DNSRecord, resource_version: u64) -> Arc<DynamicObject> {
    let mut record = record.clone();
    record.metadata.uid = Some(format!("00000000-0000-0000-0000-{index:012}"));
    // (The decoder keys on the store's `Arc`s, not on these.)
    record.metadata.resource_version = Some(resource_version.to_string());
    let value = serde_json::to_value(&record).expect("a record serializes");
    Arc::new(serde_json::from_value(value).expect("a record is an object"))
}

fn propagation(c: &mut Criterion) {
    let (wildcards, exact) = if xcc_benches::measuring() {
        (50_000, 50_000)
    } else {
        (500, 500)
    };
    let records: Vec<DNSRecord> = xcc_benches::gateway_specs(wildcards, exact)
        .into_iter()
        .enumerate()
        .map(|(i, spec)| DNSRecord {
            metadata: ObjectMeta {
                name: Some(format!("record-{i}")),
                namespace: Some("xcc-dns".into()),
                ..ObjectMeta::default()
            },
            spec: spec.into(),
            status: None,
        })
        .collect();
    let mut store: Vec<Arc<DynamicObject>> = records
        .iter()
        .enumerate()
        .map(|(i, record)| object(i, record, 1))
        .collect();
    let dir = std::env::temp_dir().join(format!("xcc-propagation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("records.snapshot");
    let handle = Arc::new(TableHandle::new(xcc_benches::build_table(&[], 0)));
    let mut decoder = RecordDecoder::default();
    // The controller's state before the change: every object decoded once.
    black_box(decoder.decode(&store));
    let mut group = c.benchmark_group("propagation");
    group.sample_size(10);
    let mut version = 1u32;
    group.bench_function(
        format!("{}_records_change_to_swap", wildcards + exact),
        |b| {
            // Timed by hand: from the store holding the change to the
            // responder's swap. What is freed afterwards (the build's
            // bookkeeping, the old table once its last reader lets go) and
            // the making of the changed object (the API server's work) are
            // outside.
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    version += 1;
                    let changed = version as usize % records.len();
                    let mut record = records[changed].clone();
                    if let Some(address) = record.spec.addresses.first_mut() {
                        *address = format!(
                            "10.{}.{}.{}",
                            version >> 16 & 255,
                            version >> 8 & 255,
                            version & 255
                        );
                    }
                    store[changed] = object(changed, &record, u64::from(version));
                    let config = TableConfig {
                        version,
                        ..TableConfig::default()
                    };
                    let started = Instant::now();
                    // Controller side.
                    let decoded = decoder.decode(&store);
                    let planned = plan_records(&decoded.records, &decoded.unreadable, &[], &config);
                    write_atomic(&path, &snapshot::encode(&planned.table))
                        .expect("snapshot written");
                    // Responder side.
                    let bytes = std::fs::read(&path).expect("snapshot read");
                    let table = snapshot::decode(&bytes).expect("valid snapshot");
                    handle.publish(table);
                    total += started.elapsed();
                    black_box(handle.reclaim());
                    drop((planned, bytes));
                }
                total
            })
        },
    );
    // After the publish: the statuses of every object.
    let decoded = decoder.decode(&store);
    group.bench_function(format!("{}_records_report", wildcards + exact), |b| {
        b.iter_batched(
            || plan_records(&decoded.records, &[], &[], &TableConfig::default()).decisions,
            |decisions| decisions.report(),
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

// criterion_group! generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::propagation);
}

criterion_main!(group::benches);
