//! The control path of one change in a zone of 100,000 records, as issue 6
//! budgets it (< 250 ms): the controller rebuilds the whole record set from
//! its store (`build_records`, the responder's `TableBuilder` inside),
//! writes the snapshot atomically, and the responder reads, checks and
//! swaps it in. The debounce and the watch latency are not included.
//! `cargo bench -p xcc-benches --bench propagation`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_main};
use kube::api::ObjectMeta;
use xcc_controller::api::DNSRecord;
use xcc_controller::records::build::build_records;
use xcc_controller::records::publish::write_atomic;
use xcc_responder::table::TableConfig;
use xcc_responder::table::handle::TableHandle;
use xcc_responder::table::snapshot;

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
    let dir = std::env::temp_dir().join(format!("xcc-propagation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("records.snapshot");
    let handle = Arc::new(TableHandle::new(xcc_benches::build_table(&[], 0)));
    let mut group = c.benchmark_group("propagation");
    group.sample_size(10);
    let mut version = 1;
    group.bench_function(
        format!("{}_records_change_to_swap", wildcards + exact),
        |b| {
            b.iter(|| {
                version += 1;
                let config = TableConfig {
                    version,
                    ..TableConfig::default()
                };
                // Controller side.
                let build = build_records(&records, &[], &[], &config);
                write_atomic(&path, &snapshot::encode(&build.table)).expect("snapshot written");
                // Responder side.
                let bytes = std::fs::read(&path).expect("snapshot read");
                let table = snapshot::decode(&bytes).expect("valid snapshot");
                handle.publish(table);
                black_box(handle.reclaim())
            })
        },
    );
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

// criterion_group! generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::propagation);
}

criterion_main!(group::benches);
