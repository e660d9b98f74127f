//! `manifests/crds/` must be exactly what `xcc-controller crd` generates
//! from the Rust types (a hand edit, or a type change without regenerating,
//! fails here).

use std::path::Path;

use xcc_controller::crd;

#[test]
fn manifests_match_generated_crds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/crds");
    let stale = crd::check_dir(&dir).expect("manifests/crds is readable");
    assert!(
        stale.is_empty(),
        "the CRDs under manifests/crds/ are out of date:\n  {}\nregenerate them with:\n  {}",
        stale.join("\n  "),
        crd::REGENERATE
    );
}

#[test]
fn binary_prints_the_same_yaml() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
        .arg("crd")
        .output()
        .expect("xcc-controller runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        crd::all_yaml().unwrap()
    );
}

#[test]
fn binary_writes_one_file_per_crd() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
        .args(["crd", "--out"])
        .arg(dir.path())
        .output()
        .expect("xcc-controller runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(crd::check_dir(dir.path()).unwrap().is_empty());
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "connectivity.tanzu.vmware.com_dnsrecords.yaml",
            "connectivity.tanzu.vmware.com_gatewaydns.yaml"
        ]
    );
}
