//! The original project's walkthrough, end to end on one machine, as
//! processes driven with `kubectl`: three real API servers with RBAC on
//! (management, cluster-a, cluster-b; no nodes), the repository's
//! manifests applied with `kubectl`, the built `xcc-controller gateways`
//! on the management cluster as the manifests' ServiceAccount
//! `xcc-dns-gateways` (a TokenRequest token in its kubeconfig), and in
//! cluster-b the `xcc-controller records` sidecar as the workload
//! manifests' ServiceAccount `xcc-dns`, writing the snapshot that
//! `xcc-responder` serves, with `unbound` forwarding `xcc.test` to the
//! responder as CoreDNS's `forward` block would.
//!
//! It shows, through `dig` asking unbound:
//! 1. after `kubectl apply -f manifests/example/dev-team-gateway-dns.yaml`
//!    (unchanged), `kuard.gateway.cluster-a.dev-team.clusters.xcc.test`
//!    answers with cluster-a's `projectcontour/envoy` LoadBalancer IP (and
//!    cluster-b's name with cluster-b's), and `kubectl get gatewaydns`
//!    says Ready;
//! 2. a new IP written into cluster-a's Service status reaches the answer;
//!    the time from the status write to the responder's and to unbound's
//!    answer is printed (the bound, 10 s, only catches a hang);
//! 3. after `kubectl delete gatewaydns`, both names are NXDOMAIN.
//!
//! After step 1, `xcc-controller explain` (cluster-b's kubeconfig, the
//! management kubeconfig, the responder's admin address) names the
//! wildcard owner, the DNSRecord, the GatewayDNS, cluster-a and when its
//! gateway was last confirmed.
//!
//! unbound runs with `cache-max-ttl: 0`: like the walkthrough's CoreDNS
//! block for the zone (`forward` without `cache`), it asks the responder
//! every time, so the timing is the chain's, not a cache's.
//!
//! Skips when kube-apiserver is not built or `kubectl`, `dig` or `unbound`
//! is missing, unless `XCC_REQUIRE_TOOLS=1`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::apiserver::{Instance, repo_root, skip};
use crate::processes::{
    Answer, Process, answer, dig, dig_resolver, find_tool, free_port, http_get, poll,
    responder_binary, run_bounded,
};

const TEST: &str = "e2e_walkthrough::the_walkthrough_on_one_machine";
/// The longest any set-up step may take.
const LIMIT: Duration = Duration::from_secs(30);
/// The longest one kubectl command may take.
const KUBECTL_LIMIT: Duration = Duration::from_secs(60);
/// Only catches a hang: timings are printed, not judged.
const PROPAGATION_BOUND: Duration = Duration::from_secs(10);

const KUARD_A: &str = "kuard.gateway.cluster-a.dev-team.clusters.xcc.test";
const KUARD_B: &str = "kuard.gateway.cluster-b.dev-team.clusters.xcc.test";
const IP_A: &str = "192.0.2.10";
const IP_A_NEW: &str = "192.0.2.11";
const IP_B: &str = "198.51.100.20";

/// A minimal Cluster API `Cluster` CRD (Cluster API itself is not
/// installed): any fields, a status subresource, as in `k8s_gateways`.
const CLUSTER_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusters.cluster.x-k8s.io
spec:
  group: cluster.x-k8s.io
  scope: Namespaced
  names: {plural: clusters, singular: cluster, kind: Cluster, listKind: ClusterList}
  versions:
    - name: v1beta1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

/// Contour's Envoy Service: the gateway the GatewayDNS names. No node or
/// cloud controller runs, so the test writes its load-balancer status.
const ENVOY: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: envoy
  namespace: projectcontour
spec:
  type: LoadBalancer
  selector: {app: envoy}
  ports: [{name: http, port: 80}]
"#;

//----------- kubectl -----------------------------------------------------------

/// `kubectl` against one API server.
struct Kubectl {
    /// The cluster's name, for messages.
    cluster: &'static str,
    kubeconfig: PathBuf,
    /// Discovery cache (kubectl's default is under `$HOME`).
    cache_dir: PathBuf,
}

impl Kubectl {
    fn new(cluster: &'static str, kubeconfig: &Path, dir: &Path) -> Self {
        Self {
            cluster,
            kubeconfig: kubeconfig.to_owned(),
            cache_dir: dir.join(format!("kubectl-cache-{cluster}")),
        }
    }

    /// Runs `kubectl <args>` with `input` on stdin; its stdout. Fails the
    /// test (with kubectl's stderr) when kubectl fails.
    fn run_with(&self, args: &[&str], input: Option<&str>) -> String {
        let output = run_bounded(
            Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .arg("--cache-dir")
                .arg(&self.cache_dir)
                .arg("--request-timeout=20s")
                .args(args),
            input,
            KUBECTL_LIMIT,
        );
        assert!(
            output.status.success(),
            "{}: kubectl {} failed ({}):\n{}",
            self.cluster,
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn run(&self, args: &[&str]) -> String {
        self.run_with(args, None)
    }

    /// `kubectl apply -f <file>...` (paths relative to the repository).
    fn apply_files(&self, files: &[&str]) {
        let paths: Vec<String> = files
            .iter()
            .map(|f| repo_root().join(f).display().to_string())
            .collect();
        let mut args = vec!["apply"];
        for path in &paths {
            args.extend(["-f", path]);
        }
        let out = self.run(&args);
        eprintln!("[{}] kubectl apply: {}", self.cluster, out.trim_end());
    }

    /// `kubectl apply -f -` with `yaml`.
    fn apply_yaml(&self, yaml: &str) {
        self.run_with(&["apply", "-f", "-"], Some(yaml));
    }

    /// Waits until CRD `name` is Established.
    fn wait_established(&self, name: &str) {
        self.run(&[
            "wait",
            "--for=condition=established",
            "--timeout=30s",
            &format!("crd/{name}"),
        ]);
    }

    /// Replaces the `status` of an object: `kubectl patch --subresource=
    /// status` where kubectl has it (1.24 and newer; it works against the
    /// 1.20 server too); Debian bookworm's kubectl (`kubernetes-client`,
    /// 1.20) does not, so there it is a GET and a PUT of the object to
    /// its status subresource (`kubectl replace --raw <api_path>/status`),
    /// still kubectl alone.
    fn write_status(
        &self,
        namespace: &str,
        resource: &str,
        name: &str,
        api_path: &str,
        status: Value,
    ) {
        if kubectl_has_subresource() {
            let patch = json!({ "status": status }).to_string();
            self.run(&[
                "-n",
                namespace,
                "patch",
                resource,
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                &patch,
            ]);
        } else {
            let text = self.run(&["-n", namespace, "get", resource, name, "-o", "json"]);
            let mut object: Value = serde_json::from_str(&text).unwrap();
            object["status"] = status;
            self.run_with(
                &["replace", "--raw", &format!("{api_path}/status"), "-f", "-"],
                Some(&object.to_string()),
            );
        }
    }

    /// Sets the load-balancer ingress of `projectcontour/envoy` to `ip`.
    fn set_envoy_ip(&self, ip: &str) {
        self.write_status(
            "projectcontour",
            "service",
            "envoy",
            "/api/v1/namespaces/projectcontour/services/envoy",
            json!({ "loadBalancer": { "ingress": [{ "ip": ip }] } }),
        );
    }

    /// A kubeconfig for this cluster whose user is service account
    /// `namespace:account`, with a token from the TokenRequest API (what
    /// the kubelet projects into a pod). `kubectl create token` is 1.24
    /// and newer; `create --raw` also works with Debian's kubectl 1.20.
    fn account_kubeconfig(&self, namespace: &str, account: &str, path: &Path) -> PathBuf {
        let request = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": { "expirationSeconds": 3600 },
        });
        let response = self.run_with(
            &[
                "create",
                "--raw",
                &format!("/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"),
                "-f",
                "-",
            ],
            Some(&request.to_string()),
        );
        let response: Value = serde_json::from_str(&response).unwrap();
        let token = response["status"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {response}"));
        let mut config: Value =
            serde_json::from_str(&self.run(&["config", "view", "--raw", "--minify", "-o", "json"]))
                .unwrap();
        let user = format!("system:serviceaccount:{namespace}:{account}");
        config["users"] = json!([{ "name": user, "user": { "token": token } }]);
        config["contexts"][0]["context"]["user"] = json!(user);
        std::fs::write(path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        path.to_owned()
    }
}

/// Whether this kubectl has `patch --subresource` (1.24 and newer).
fn kubectl_has_subresource() -> bool {
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        let output = run_bounded(
            Command::new("kubectl").args(["patch", "--help"]),
            None,
            KUBECTL_LIMIT,
        );
        String::from_utf8_lossy(&output.stdout).contains("--subresource")
    })
}

//----------- The clusters ----------------------------------------------------------

/// The management cluster as the walkthrough and README set it up, minus
/// the controller's Deployment (no nodes): the GatewayDNS CRD, namespace,
/// ServiceAccount and RBAC of `manifests/management`, a minimal Cluster API,
/// namespace `dev-team` with Clusters cluster-a and cluster-b (provisioned,
/// labelled `hasContour=true`) and their kubeconfig Secrets.
fn set_up_management(kubectl: &Kubectl, workloads: [(&str, &Instance); 2]) {
    kubectl.apply_files(&["manifests/crds/connectivity.tanzu.vmware.com_gatewaydns.yaml"]);
    kubectl.wait_established("gatewaydns.connectivity.tanzu.vmware.com");
    // `kubectl apply -k manifests/management/` without deployment.yaml.
    kubectl.apply_files(&[
        "manifests/management/namespace.yaml",
        "manifests/management/rbac.yaml",
    ]);
    kubectl.apply_yaml(CLUSTER_CRD);
    kubectl.wait_established("clusters.cluster.x-k8s.io");
    kubectl.run(&["create", "namespace", "dev-team"]);
    for (cluster, instance) in workloads {
        kubectl.apply_yaml(&format!(
            "apiVersion: cluster.x-k8s.io/v1beta1\nkind: Cluster\n\
             metadata: {{name: {cluster}, namespace: dev-team}}\nspec: {{}}\n"
        ));
        kubectl.write_status(
            "dev-team",
            "cluster",
            cluster,
            &format!("/apis/cluster.x-k8s.io/v1beta1/namespaces/dev-team/clusters/{cluster}"),
            json!({ "phase": "Provisioned" }),
        );
        // The walkthrough's step.
        kubectl.run(&[
            "-n",
            "dev-team",
            "label",
            "cluster",
            cluster,
            "hasContour=true",
            "--overwrite",
        ]);
        // What Cluster API keeps for each cluster: its admin kubeconfig.
        let secret = format!("{cluster}-kubeconfig");
        let from_file = format!("--from-file=value={}", instance.kubeconfig().display());
        kubectl.run(&[
            "-n",
            "dev-team",
            "create",
            "secret",
            "generic",
            &secret,
            "--type=cluster.x-k8s.io/secret",
            &from_file,
        ]);
        kubectl.run(&[
            "-n",
            "dev-team",
            "label",
            "secret",
            &secret,
            &format!("cluster.x-k8s.io/cluster-name={cluster}"),
        ]);
    }
}

/// A workload cluster: the DNSRecord CRD, namespace, ServiceAccount and
/// RBAC of `manifests/workload` (its Deployment, Service and Job need
/// nodes; its PodDisruptionBudget is policy/v1, which 1.20 lacks), and
/// Contour's Envoy Service with load-balancer IP `ip`.
fn set_up_workload(kubectl: &Kubectl, ip: &str) {
    kubectl.apply_files(&["manifests/crds/connectivity.tanzu.vmware.com_dnsrecords.yaml"]);
    kubectl.wait_established("dnsrecords.connectivity.tanzu.vmware.com");
    kubectl.apply_files(&[
        "manifests/workload/namespace.yaml",
        "manifests/workload/rbac.yaml",
    ]);
    kubectl.run(&["create", "namespace", "projectcontour"]);
    kubectl.apply_yaml(ENVOY);
    kubectl.set_envoy_ip(ip);
}

//----------- The data path ---------------------------------------------------------

/// unbound on `port`, forwarding `xcc.test` to the responder on
/// `upstream`, caching nothing (`cache-max-ttl: 0`), offline (no root
/// hints needed: it never recurses outside the forward zone).
fn unbound_config(dir: &Path, port: u16, upstream: u16) -> PathBuf {
    let config = dir.join("unbound.conf");
    let dir_text = dir.display();
    std::fs::write(
        &config,
        format!(
            r#"server:
  interface: 127.0.0.1
  port: {port}
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{dir_text}"
  pidfile: "{dir_text}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
  domain-insecure: "xcc.test"
  # unbound serves test. itself (RFC 6761 local zone) unless told not to.
  local-zone: "test." nodefault
  # As CoreDNS's `forward` block without `cache`: ask every time.
  cache-max-ttl: 0
  cache-max-negative-ttl: 0
remote-control:
  control-enable: no
forward-zone:
  name: "xcc.test"
  forward-addr: 127.0.0.1@{upstream}
"#
        ),
    )
    .unwrap();
    config
}

/// Waits until `/readyz` on `admin` answers 200 (the process must stay up).
fn until_ready(process: &mut Process, what: &str, admin: SocketAddr) {
    poll(&format!("{what} /readyz"), LIMIT, || {
        process.assert_running();
        http_get(admin, "/readyz")
            .is_some_and(|(code, _)| code == 200)
            .then_some(())
    });
}

/// Asks unbound for each name until every answer is the expected one;
/// returns the time since `since`. `each_round` runs before every round
/// (to check the processes are up, or take a measurement of its own). On
/// time-out, fails with unbound's last answers.
fn until_unbound_answers(
    port: u16,
    expected: &[(&str, &Answer)],
    since: Instant,
    limit: Duration,
    mut each_round: impl FnMut(),
) -> Duration {
    loop {
        each_round();
        let last: Vec<(&str, Option<Answer>)> = expected
            .iter()
            .map(|(name, _)| (*name, dig_resolver(port, name)))
            .collect();
        if last
            .iter()
            .zip(expected)
            .all(|((_, got), (_, want))| got.as_ref() == Some(*want))
        {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "timed out after {limit:?} waiting for unbound to answer {expected:?}; \
             its last answers: {last:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `xcc-controller explain` for cluster-a's kuard name, as an operator of
/// cluster-b runs it: its output names the whole chain.
fn explain_kuard_a(responder_admin: SocketAddr, kubeconfig: &Path, management: &Path) {
    let started = Instant::now();
    let output = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
            .arg("explain")
            .arg(KUARD_A)
            .arg(format!("--responder=http://{responder_admin}"))
            .arg("--record-namespace=xcc-dns")
            .arg("--management-kubeconfig")
            .arg(management)
            .env("KUBECONFIG", kubeconfig),
        None,
        LIMIT,
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "xcc-controller explain failed ({}):\n{text}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!(
        "[e2e] xcc-controller explain {KUARD_A} ({}):\n{text}",
        ms(started.elapsed())
    );
    for expected in [
        &format!("{KUARD_A}. 30 IN A {IP_A}") as &str,
        "matched: *.gateway.cluster-a.dev-team.clusters.xcc.test. (wildcard)",
        "record:  xcc-dns/dev-team-cluster-a-gateway (Accepted)",
        "source:  GatewayDNS dev-team/dev-team-gateway-dns, cluster cluster-a",
        "gateway: Ready",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    let confirmed = regex::Regex::new(r"confirmed -?\d+ s ago").unwrap();
    assert!(
        confirmed.is_match(&text),
        "no \"confirmed … ago\" in:\n{text}"
    );
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1e3)
}

//----------- The test ---------------------------------------------------------------

#[test]
fn the_walkthrough_on_one_machine() {
    for (tool, package) in [
        ("kubectl", "kubernetes-client"),
        ("dig", "bind9-dnsutils"),
        ("unbound", "unbound"),
    ] {
        if find_tool(tool).is_none() {
            skip::<()>(
                TEST,
                &format!("{tool} is not installed (apt-get install {package})"),
            );
            return;
        }
    }
    let unbound_bin = find_tool("unbound").unwrap();
    // One after the other: started side by side on two loaded cores they
    // can exceed the script's start timeout. No CRDs: kubectl applies them.
    let Some(management) = Instance::start_rbac_without_crds(TEST, "xcc-e2e-mgmt") else {
        return;
    };
    let Some(a) = Instance::start_rbac_without_crds(TEST, "xcc-e2e-a") else {
        return;
    };
    let Some(b) = Instance::start_rbac_without_crds(TEST, "xcc-e2e-b") else {
        return;
    };
    let responder_bin = responder_binary();
    let dir = tempfile::tempdir().unwrap();
    let mgmt = Kubectl::new("management", management.kubeconfig(), dir.path());
    let kubectl_a = Kubectl::new("cluster-a", a.kubeconfig(), dir.path());
    let kubectl_b = Kubectl::new("cluster-b", b.kubeconfig(), dir.path());
    eprintln!(
        "[e2e] kubectl {} status writes",
        if kubectl_has_subresource() {
            "has --subresource: patch --subresource=status for"
        } else {
            "lacks --subresource (before 1.24): get + replace --raw …/status for"
        }
    );

    let set_up = Instant::now();
    set_up_workload(&kubectl_a, IP_A);
    set_up_workload(&kubectl_b, IP_B);
    set_up_management(&mgmt, [("cluster-a", &a), ("cluster-b", &b)]);
    eprintln!(
        "[e2e] manifests and objects applied in {}",
        ms(set_up.elapsed())
    );

    // cluster-b's data path: the records sidecar as the workload
    // manifests' ServiceAccount, the responder, unbound in front.
    let sidecar_kubeconfig =
        kubectl_b.account_kubeconfig("xcc-dns", "xcc-dns", &dir.path().join("sidecar.kubeconfig"));
    let snapshot = dir.path().join("records.snapshot");
    let records_admin = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    // The flags of manifests/workload/deployment.yaml, on loopback ports.
    let mut records = Process::spawn(
        "xcc-controller records (cluster-b)",
        Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
            .arg("records")
            .arg(format!("--out={}", snapshot.display()))
            .arg("--zone=xcc.test.")
            .arg(format!("--admin-listen={records_admin}"))
            .env("XCC_NAMESPACE", "xcc-dns")
            .env("POD_NAME", "xcc-dns-e2e")
            .env("KUBECONFIG", &sidecar_kubeconfig)
            .env("RUST_LOG", "info"),
        dir.path().join("records.log"),
    );
    until_ready(&mut records, "the records sidecar", records_admin);
    let dns_port = free_port();
    let responder_admin = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let mut responder = Process::spawn(
        "xcc-responder (cluster-b)",
        Command::new(&responder_bin)
            .arg(format!("--records={}", snapshot.display()))
            .arg("--zone=xcc.test.")
            .arg(format!("--listen=127.0.0.1:{dns_port}"))
            .arg(format!("--admin-listen={responder_admin}"))
            .arg("--log-format=json"),
        dir.path().join("responder.log"),
    );
    until_ready(&mut responder, "the responder", responder_admin);
    let unbound_port = free_port();
    let mut unbound = Process::spawn(
        "unbound (cluster-b's CoreDNS)",
        Command::new(unbound_bin)
            .arg("-d")
            .arg("-c")
            .arg(unbound_config(dir.path(), unbound_port, dns_port)),
        dir.path().join("unbound.log"),
    );
    poll("unbound forwarding xcc.test", LIMIT, || {
        unbound.assert_running();
        dig_resolver(unbound_port, "xcc.test").filter(|a| a.status == "NOERROR")
    });

    // The management cluster's controller, as the manifests' account.
    let gateways_kubeconfig = mgmt.account_kubeconfig(
        "xcc-dns",
        "xcc-dns-gateways",
        &dir.path().join("gateways.kubeconfig"),
    );
    let gateways_admin = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    // The flags and environment of manifests/management/deployment.yaml.
    let mut gateways = Process::spawn(
        "xcc-controller gateways (management)",
        Command::new(env!("CARGO_BIN_EXE_xcc-controller"))
            .arg("gateways")
            .arg(format!("--admin-listen={gateways_admin}"))
            .env("DOMAIN_SUFFIX", "xcc.test")
            .env("POD_NAME", "xcc-dns-gateways-e2e")
            .env("POD_NAMESPACE", "xcc-dns")
            .env("KUBECONFIG", &gateways_kubeconfig)
            .env("RUST_LOG", "info"),
        dir.path().join("gateways.log"),
    );
    until_ready(&mut gateways, "the gateways controller", gateways_admin);

    // 1. The walkthrough's GatewayDNS, unchanged: both gateways answer
    //    through unbound.
    let applied = Instant::now();
    mgmt.run(&[
        "-n",
        "dev-team",
        "apply",
        "-f",
        &repo_root()
            .join("manifests/example/dev-team-gateway-dns.yaml")
            .display()
            .to_string(),
    ]);
    let took = until_unbound_answers(
        unbound_port,
        &[
            (KUARD_A, &answer("NOERROR", &[IP_A])),
            (KUARD_B, &answer("NOERROR", &[IP_B])),
        ],
        applied,
        LIMIT,
        || {
            gateways.assert_running();
            records.assert_running();
        },
    );
    eprintln!(
        "[e2e] kubectl apply GatewayDNS → dig through unbound answers {IP_A}: {}",
        ms(took)
    );
    poll("GatewayDNS Ready", LIMIT, || {
        let ready = mgmt.run(&[
            "-n",
            "dev-team",
            "get",
            "gatewaydns",
            "dev-team-gateway-dns",
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
        ]);
        (ready == "True").then_some(())
    });
    eprintln!(
        "[e2e] management: kubectl -n dev-team get gatewaydns\n{}",
        mgmt.run(&["-n", "dev-team", "get", "gatewaydns"])
    );
    // explain reports the record's status, which the records sidecar
    // writes after it has published the snapshot that answered above.
    poll("cluster-b's record of cluster-a Accepted", LIMIT, || {
        let state = kubectl_b.run(&[
            "-n",
            "xcc-dns",
            "get",
            "dnsrecord",
            "dev-team-cluster-a-gateway",
            "-o",
            "jsonpath={.status.state}",
        ]);
        (state == "Accepted").then_some(())
    });
    eprintln!(
        "[e2e] cluster-b: kubectl -n xcc-dns get dnsrecords -o wide\n{}",
        kubectl_b.run(&["-n", "xcc-dns", "get", "dnsrecords", "-o", "wide"])
    );
    explain_kuard_a(responder_admin, b.kubeconfig(), management.kubeconfig());
    // cluster-a got the same records (it runs no responder here).
    let names = kubectl_a.run(&["-n", "xcc-dns", "get", "dnsrecords", "-o", "name"]);
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            "dnsrecord.connectivity.tanzu.vmware.com/dev-team-cluster-a-gateway",
            "dnsrecord.connectivity.tanzu.vmware.com/dev-team-cluster-b-gateway",
        ]
    );

    // 2. cluster-a's gateway moves: from the status write (kubectl has
    //    returned) to the responder's answer and to unbound's.
    let started = Instant::now();
    kubectl_a.set_envoy_ip(IP_A_NEW);
    let written = Instant::now();
    let moved = answer("NOERROR", &[IP_A_NEW]);
    let mut at_responder = None;
    let through_unbound = until_unbound_answers(
        unbound_port,
        &[(KUARD_A, &moved)],
        written,
        PROPAGATION_BOUND,
        || {
            if at_responder.is_none() && dig(dns_port, KUARD_A).as_ref() == Some(&moved) {
                at_responder = Some(written.elapsed());
            }
        },
    );
    let at_responder = at_responder.unwrap_or(through_unbound);
    eprintln!(
        "[e2e] Service status write (kubectl took {}) → responder answers {IP_A_NEW}: {}, \
         → dig through unbound: {}",
        ms(written - started),
        ms(at_responder),
        ms(through_unbound)
    );
    assert_eq!(
        dig_resolver(unbound_port, KUARD_B),
        Some(answer("NOERROR", &[IP_B])),
        "cluster-b's own gateway is unchanged"
    );

    // 3. The GatewayDNS deleted: the names go.
    let deleted = Instant::now();
    mgmt.run(&[
        "-n",
        "dev-team",
        "delete",
        "gatewaydns",
        "dev-team-gateway-dns",
    ]);
    let gone = answer("NXDOMAIN", &[]);
    let took = until_unbound_answers(
        unbound_port,
        &[(KUARD_A, &gone), (KUARD_B, &gone)],
        deleted,
        PROPAGATION_BOUND,
        || {},
    );
    eprintln!(
        "[e2e] kubectl delete GatewayDNS → NXDOMAIN through unbound: {}",
        ms(took)
    );
    let left = kubectl_b.run(&["-n", "xcc-dns", "get", "dnsrecords", "-o", "name"]);
    assert_eq!(left.trim(), "", "no DNSRecords left in cluster-b");

    // Clean exits on SIGTERM; unbound is killed on drop.
    gateways.terminate();
    records.terminate();
    responder.terminate();
    drop(unbound);
}
