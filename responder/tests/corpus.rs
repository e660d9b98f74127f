//! Replays the committed seed corpus of the responder's fuzz targets
//! (`fuzz/corpus/respond/`, `fuzz/corpus/snapshot/`) through the same
//! bodies the targets call, in every test run.

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("missing seed corpus {}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        body(&bytes);
        count += 1;
    }
    count
}

#[test]
fn respond_corpus_replays() {
    assert!(replay("respond", xcc_responder::fuzzing::respond_any) > 0);
}

#[test]
fn snapshot_corpus_replays() {
    assert!(replay("snapshot", xcc_responder::fuzzing::snapshot_any) > 0);
}
