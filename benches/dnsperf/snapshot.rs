//! Writes a records file as a table snapshot, the file `xcc-controller
//! records` publishes in a cluster, so that the harness can time the
//! responder's production start-up path (decode a snapshot) beside the
//! manifest path (parse YAML/JSON, validate, build) without a Kubernetes API
//! server.
//!
//! Not a workspace member: `run.py` builds it in its cache directory against
//! this checkout's `responder/` and `wire/`, so the snapshot format always
//! matches the responder being measured.
//!
//! Usage: `xcc-dnsperf-snapshot RECORDS SNAPSHOT NEGATIVE_TTL`

use std::path::Path;
use std::process::ExitCode;

use xcc_responder::records::load::load_file;
use xcc_responder::table::TableConfig;
use xcc_responder::table::snapshot;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, records, out, negative_ttl] = &args[..] else {
        eprintln!("usage: xcc-dnsperf-snapshot RECORDS SNAPSHOT NEGATIVE_TTL");
        return ExitCode::from(2);
    };
    let Ok(negative_ttl) = negative_ttl.parse::<u32>() else {
        eprintln!("NEGATIVE_TTL {negative_ttl:?} is not a number of seconds");
        return ExitCode::from(2);
    };
    // The same zone configuration the responder gets from its flags
    // (`--zone xcc.test.`, `--negative-ttl`): a snapshot carries its SOA.
    let mut config = TableConfig::default();
    for zone in &mut config.zones {
        zone.minimum = negative_ttl;
    }
    let built = match load_file(Path::new(records), &config) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // A benchmark data set has no bad record; one would make the servers
    // serve different zones.
    if let Some(problem) = built.problems.first() {
        eprintln!(
            "{} record(s) rejected; the first: {problem}",
            built.problems.len()
        );
        return ExitCode::FAILURE;
    }
    let bytes = snapshot::encode(&built.table);
    let tmp = format!("{out}.tmp");
    if let Err(e) = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, out)) {
        eprintln!("{out}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
