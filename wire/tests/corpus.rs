//! Replays the committed cargo-fuzz seed corpus (`fuzz/corpus/<target>/`)
//! through the same bodies the fuzz targets call, so every ordinary test run
//! re-checks every input that ever found a bug.

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("missing seed corpus {}", dir.display());
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        body(&bytes);
        count += 1;
    }
    count
}

#[test]
fn parse_message_corpus_replays() {
    assert!(replay("parse_message", xcc_wire::fuzzing::parse_any) > 0);
}

#[test]
fn roundtrip_corpus_replays() {
    assert!(replay("roundtrip", xcc_wire::fuzzing::roundtrip) > 0);
}
