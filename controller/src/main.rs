//! `xcc-controller`: the command line. A thin shell over the library: it
//! parses arguments, runs one subcommand, and reports errors with their
//! chain of causes.
//!
//! Subcommands:
//! - `crd`: print the CustomResourceDefinitions generated from the Rust
//!   types, or write one file per CRD with `--out DIR`.
//! - `records`: the responder's sidecar in a workload cluster: watch
//!   `DNSRecord` objects (and annotated EndpointSlices), publish the
//!   snapshot the responder serves, write each record's status.
//! - `gateways`: the management cluster's controller: GatewayDNS objects
//!   and Cluster API Clusters to DNSRecords in every workload cluster.
//! - `patch-coredns`: point the cluster's CoreDNS (and NodeLocal DNSCache,
//!   through kube-dns `stubDomains`) at the responder's Service for the
//!   zone, or take that out again with `--remove`.
//! - `explain <name>`: which record answers a name, from which DNSRecord,
//!   GatewayDNS and cluster, the table version, and how long ago the
//!   cluster's gateway was last confirmed.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use xcc_controller::crd;
use xcc_controller::records::endpointslices::SliceApiVersion;
use xcc_controller::records::run::{RecordsOptions, run};
use xcc_controller::telemetry::{self, RecordsMetrics};
use xcc_responder::table::{TableConfig, ZoneConfig};
use xcc_wire::NameBuf;

/// The control plane of xcc-dns.
#[derive(Debug, Parser)]
#[command(name = "xcc-controller", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions (DNSRecord, GatewayDNS) as YAML.
    Crd {
        /// Write one file per CRD into this directory
        /// (`<group>_<plural>.yaml`) instead of printing them.
        #[arg(long, value_name = "DIR", env = "XCC_CRD_OUT")]
        out: Option<PathBuf>,
    },
    /// Watch DNSRecords (and annotated EndpointSlices) in one namespace and
    /// publish the snapshot the responder serves (the responder's sidecar).
    Records(RecordsArgs),
    /// Publish the gateway Service of Cluster API clusters, as GatewayDNS
    /// objects select them, as DNSRecords in every workload cluster (runs
    /// in the management cluster).
    Gateways(GatewaysArgs),
    /// Forward the zone from CoreDNS (and NodeLocal DNSCache) to the
    /// responder's Service, idempotently; `--remove` takes it out.
    PatchCoredns(PatchCorednsArgs),
    /// Explain the answer to a name: the responder's answer, the matched
    /// record (wildcard or exact), its DNSRecord, GatewayDNS and cluster,
    /// and when that cluster's gateway was last confirmed.
    Explain(ExplainArgs),
}

/// Flags of `explain`.
#[derive(Debug, clap::Args)]
struct ExplainArgs {
    /// The name to explain.
    name: String,
    /// The type asked for (A, AAAA, CNAME, TXT, SRV, ...).
    #[arg(long = "type", default_value = "A")]
    qtype: String,
    /// The responder's admin address (`xcc-responder --admin-listen`; in
    /// a cluster, `kubectl -n xcc-dns port-forward deploy/xcc-dns 9153`).
    #[arg(long, env = "XCC_RESPONDER", default_value = "http://127.0.0.1:9153")]
    responder: String,
    /// Namespace of the DNSRecords in the workload cluster (read with the
    /// default kube config: KUBECONFIG, ~/.kube/config or in-cluster).
    #[arg(long, env = "XCC_RECORD_NAMESPACE", default_value = "xcc-dns")]
    record_namespace: String,
    /// The management cluster's kubeconfig, to read the GatewayDNS status
    /// (without it, the gateway's state is not shown).
    #[arg(long, env = "XCC_MANAGEMENT_KUBECONFIG")]
    management_kubeconfig: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    /// For people.
    Text,
    /// The joined result as JSON.
    Json,
}

/// Flags of `patch-coredns`; each also reads an environment variable.
#[derive(Debug, clap::Args)]
struct PatchCorednsArgs {
    /// Zone forwarded to the responder.
    #[arg(long, env = "XCC_ZONE", default_value = xcc_controller::coredns::DEFAULT_ZONE)]
    zone: xcc_controller::coredns::Zone,
    /// The responder's Service (namespace/name): the zone goes to its
    /// ClusterIP.
    #[arg(long, env = "XCC_SERVICE", default_value = "xcc-dns/xcc-dns")]
    service: xcc_controller::coredns::patch::ObjectRef,
    /// The CoreDNS ConfigMap (namespace/name, key `Corefile`).
    #[arg(
        long,
        env = "XCC_COREDNS_CONFIGMAP",
        default_value = "kube-system/coredns"
    )]
    coredns_configmap: xcc_controller::coredns::patch::ObjectRef,
    /// The kube-dns ConfigMap (namespace/name) whose `stubDomains`
    /// NodeLocal DNSCache reads: edited when it exists; "off" leaves it
    /// alone.
    #[arg(
        long,
        env = "XCC_KUBE_DNS_CONFIGMAP",
        default_value = "kube-system/kube-dns"
    )]
    kube_dns_configmap: String,
    /// Take the zone's forwarding out instead.
    #[arg(long, env = "XCC_REMOVE")]
    remove: bool,
    /// Print what would change (a diff) and write nothing.
    #[arg(long, env = "XCC_DRY_RUN")]
    dry_run: bool,
}

/// Flags of `records`; each also reads an environment variable.
#[derive(Debug, clap::Args)]
struct RecordsArgs {
    /// Namespace watched.
    #[arg(long, env = "XCC_NAMESPACE", default_value = "xcc-dns")]
    namespace: String,
    /// Snapshot file the responder reads (`xcc-responder --records`).
    #[arg(long, env = "XCC_SNAPSHOT")]
    out: PathBuf,
    /// Zone served; repeat for several (must match the responder's).
    #[arg(
        long = "zone",
        env = "XCC_ZONES",
        value_delimiter = ',',
        default_value = "xcc.test."
    )]
    zones: Vec<String>,
    /// Seconds negative answers may be cached (SOA MINIMUM).
    #[arg(long, env = "XCC_NEGATIVE_TTL", default_value_t = 5)]
    negative_ttl: u32,
    /// Milliseconds of quiet after a change before rebuilding.
    #[arg(long, env = "XCC_DEBOUNCE_MS", default_value_t = 100)]
    debounce_ms: u64,
    /// What to watch.
    #[arg(
        long,
        env = "XCC_SOURCES",
        value_enum,
        value_delimiter = ',',
        default_value = "dnsrecords"
    )]
    sources: Vec<Sources>,
    /// API version of EndpointSlices (v1beta1 before Kubernetes 1.21).
    #[arg(long, env = "XCC_ENDPOINTSLICE_VERSION", value_enum, default_value_t = SliceVersion::V1)]
    endpointslice_version: SliceVersion,
    /// Address of /metrics, /healthz and /readyz; "off" disables it.
    #[arg(long, env = "XCC_ADMIN_LISTEN", default_value = "127.0.0.1:9154")]
    admin_listen: String,
    /// This instance's name in Events (the pod name).
    #[arg(long, env = "POD_NAME")]
    instance: Option<String>,
}

/// Flags of `gateways`; each also reads an environment variable.
#[derive(Debug, clap::Args)]
struct GatewaysArgs {
    /// DNS suffix of the published names
    /// (`*.gateway.<cluster>.<namespace>.clusters.<suffix>`).
    #[arg(long, env = "DOMAIN_SUFFIX", default_value = "xcc.test")]
    domain_suffix: String,
    /// Namespace of the DNSRecords in workload clusters.
    #[arg(long, env = "XCC_RECORD_NAMESPACE", default_value = "xcc-dns")]
    record_namespace: String,
    /// Milliseconds of quiet after a change before reconciling.
    #[arg(long, env = "XCC_DEBOUNCE_MS", default_value_t = 20)]
    debounce_ms: u64,
    /// Address of /metrics, /healthz and /readyz; "off" disables it.
    #[arg(long, env = "XCC_ADMIN_LISTEN", default_value = "127.0.0.1:9155")]
    admin_listen: String,
    /// Take part in leader election (a Lease): only the leader works, so
    /// several replicas can run. `false` for a single replica.
    #[arg(long, env = "XCC_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// Namespace of the Lease (the controller's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "xcc-dns")]
    lease_namespace: String,
    /// Name of the Lease.
    #[arg(
        long,
        env = "XCC_LEASE_NAME",
        default_value = "xcc-controller-gateways"
    )]
    lease_name: String,
    /// Seconds a leader's claim lasts without renewal.
    #[arg(long, env = "XCC_LEASE_SECONDS", default_value_t = 15)]
    lease_seconds: u64,
    /// This replica's identity in the Lease (default: the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// How to work in workload clusters: `service-account` installs a
    /// least-privilege ServiceAccount with the kubeconfig's admin identity
    /// and works with its token; `admin` works with the admin identity.
    #[arg(long, env = "XCC_WORKLOAD_CREDENTIALS", value_enum, default_value_t = Credentials::ServiceAccount)]
    workload_credentials: Credentials,
    /// Management namespaces to watch for GatewayDNS, Clusters and
    /// kubeconfig Secrets, comma-separated (default: all). With a list, the
    /// controller needs read access to Secrets in those namespaces only.
    #[arg(long, env = "XCC_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Directory for the least-privilege accounts' tokens (one file per
    /// workload cluster, mode 0600; kube's client reads it again every
    /// minute). Default: a directory under the system's temporary one.
    #[arg(long, env = "XCC_TOKEN_DIR")]
    token_dir: Option<PathBuf>,
    /// Renew each workload token after this many seconds instead of at two
    /// thirds of its lifetime (never later than that).
    #[arg(long, env = "XCC_TOKEN_RENEWAL_SECONDS")]
    token_renewal_seconds: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Credentials {
    ServiceAccount,
    Admin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Sources {
    /// DNSRecord objects.
    Dnsrecords,
    /// EndpointSlices annotated `connectivity.tanzu.vmware.com/dns-hostname`.
    Endpointslices,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SliceVersion {
    V1,
    V1beta1,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd { out } => run_crd(out),
        Command::Records(args) => run_records(args),
        Command::Gateways(args) => run_gateways(args),
        Command::PatchCoredns(args) => run_patch_coredns(args),
        Command::Explain(args) => run_explain(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = io::stderr().lock();
            let _ = write!(stderr, "xcc-controller: {error}");
            let mut source = std::error::Error::source(&*error);
            while let Some(cause) = source {
                let _ = write!(stderr, ": {cause}");
                source = cause.source();
            }
            let _ = writeln!(stderr);
            ExitCode::FAILURE
        }
    }
}

fn run_crd(out: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    match out {
        None => {
            let yaml = crd::all_yaml()?;
            io::stdout().lock().write_all(yaml.as_bytes())?;
        }
        Some(dir) => {
            let mut stdout = io::stdout().lock();
            for path in crd::write_dir(&dir)? {
                writeln!(stdout, "wrote {}", path.display())?;
            }
        }
    }
    Ok(())
}

fn run_patch_coredns(args: PatchCorednsArgs) -> Result<(), Box<dyn std::error::Error>> {
    use xcc_controller::coredns::patch::{Action, PatchOptions, patch_coredns};
    let kube_dns = match args.kube_dns_configmap.as_str() {
        "off" => None,
        name => Some(name.parse()?),
    };
    let options = PatchOptions {
        zone: args.zone,
        service: args.service,
        coredns: args.coredns_configmap,
        kube_dns,
        action: if args.remove {
            Action::Remove
        } else {
            Action::Add
        },
        dry_run: args.dry_run,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let client = kube::Client::try_default().await?;
        Ok::<_, Box<dyn std::error::Error>>(patch_coredns(&client, &options).await?)
    })?;
    io::stdout().lock().write_all(report.render().as_bytes())?;
    Ok(())
}

fn run_explain(args: ExplainArgs) -> Result<(), Box<dyn std::error::Error>> {
    use xcc_controller::explain::{ExplainOptions, explain, render};
    let options = ExplainOptions {
        responder: args.responder,
        name: args.name,
        qtype: args.qtype,
        record_namespace: args.record_namespace,
        management_kubeconfig: args.management_kubeconfig,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(explain(&options))?;
    let mut stdout = io::stdout().lock();
    match args.output {
        OutputFormat::Text => render(&report, &mut stdout)?,
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
    }
    Ok(())
}

fn run_records(args: RecordsArgs) -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let mut zones = Vec::new();
    for zone in &args.zones {
        let apex = NameBuf::from_presentation(zone)
            .map_err(|e| format!("--zone {zone:?} is not a valid name: {e}"))?;
        zones.push(ZoneConfig {
            minimum: args.negative_ttl,
            ..ZoneConfig::new(apex)
        });
    }
    let options = RecordsOptions {
        namespace: args.namespace.clone(),
        out: args.out.clone(),
        table: TableConfig {
            zones,
            ..TableConfig::default()
        },
        debounce: Duration::from_millis(args.debounce_ms),
        watch_records: args.sources.contains(&Sources::Dnsrecords),
        watch_endpointslices: args
            .sources
            .contains(&Sources::Endpointslices)
            .then_some(match args.endpointslice_version {
                SliceVersion::V1 => SliceApiVersion::V1,
                SliceVersion::V1beta1 => SliceApiVersion::V1Beta1,
            }),
        instance: args.instance.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // Before anything can report ready (see xcc_responder::shutdown).
        let signal = xcc_responder::shutdown::on_signal();
        let client = kube::Client::try_default().await?;
        let metrics = RecordsMetrics::new();
        serve_admin(
            &args.admin_listen,
            telemetry::router(std::sync::Arc::clone(&metrics)),
        )
        .await?;
        tracing::info!(
            namespace = %options.namespace,
            out = %options.out.display(),
            sources = ?args.sources,
            "starting xcc-controller records"
        );
        run(client, options, metrics, signal).await?;
        tracing::info!("stopped");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

fn run_gateways(args: GatewaysArgs) -> Result<(), Box<dyn std::error::Error>> {
    use xcc_controller::gateways::credentials::WorkloadCredentials;
    use xcc_controller::gateways::run::{GatewaysOptions, run as run_gateways_loop};
    init_logging();
    let options = GatewaysOptions {
        suffix: args.domain_suffix.trim_end_matches('.').to_owned(),
        record_namespace: args.record_namespace,
        debounce: Duration::from_millis(args.debounce_ms),
        credentials: match args.workload_credentials {
            Credentials::ServiceAccount => WorkloadCredentials::ServiceAccount,
            Credentials::Admin => WorkloadCredentials::Admin,
        },
        namespaces: args
            .namespaces
            .into_iter()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect(),
        token_dir: args
            .token_dir
            .unwrap_or_else(|| GatewaysOptions::default().token_dir),
        token_renewal: args.token_renewal_seconds.map(Duration::from_secs),
        confirm_every: GatewaysOptions::default().confirm_every,
    };
    NameBuf::from_presentation(&options.suffix).map_err(|e| {
        format!(
            "--domain-suffix {:?} is not a valid name: {e}",
            options.suffix
        )
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // Before anything can report ready (see xcc_responder::shutdown).
        let signal = xcc_responder::shutdown::on_signal();
        let client = kube::Client::try_default().await?;
        let metrics = telemetry::GatewaysMetrics::new();
        serve_admin(
            &args.admin_listen,
            telemetry::gateways_router(std::sync::Arc::clone(&metrics)),
        )
        .await?;
        tracing::info!(suffix = %options.suffix, "starting xcc-controller gateways");
        if options.credentials == WorkloadCredentials::Admin {
            tracing::warn!(
                "--workload-credentials admin: working in workload clusters with the kubeconfig \
                 Secrets' admin identity (system:masters) instead of a least-privilege account"
            );
        }
        if args.leader_elect {
            use xcc_controller::gateways::leader::{LeaseOptions, run_as_leader, stopped};
            let identity = match args.identity {
                Some(identity) => identity,
                None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|_| format!("xcc-controller-{}", std::process::id())),
            };
            let lease = LeaseOptions {
                namespace: args.lease_namespace,
                name: args.lease_name,
                identity,
                duration: Duration::from_secs(args.lease_seconds),
                grace: Duration::from_secs((args.lease_seconds / 3).max(1)),
            };
            // A standby replica is ready: it is up and waiting for the
            // Lease (readiness gates rollouts; a standby that never became
            // ready would stall every one). The leader is ready once its
            // initial lists are in.
            metrics
                .ready
                .store(true, std::sync::atomic::Ordering::Relaxed);
            run_as_leader(client.clone(), lease, signal, |stop| {
                let (client, options, metrics) = (
                    client.clone(),
                    options.clone(),
                    std::sync::Arc::clone(&metrics),
                );
                async move {
                    let result = run_gateways_loop(
                        client,
                        options,
                        std::sync::Arc::clone(&metrics),
                        stopped(stop),
                    )
                    .await;
                    metrics
                        .ready
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    result
                }
            })
            .await?;
        } else {
            run_gateways_loop(client, options, metrics, signal).await?;
        }
        tracing::info!("stopped");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

/// Serves `router` (metrics and health) on `listen` in the background;
/// `"off"` serves nothing.
async fn serve_admin(listen: &str, router: axum::Router) -> Result<(), Box<dyn std::error::Error>> {
    if listen == "off" {
        return Ok(());
    }
    let address: SocketAddr = listen
        .parse()
        .map_err(|e| format!("--admin-listen {listen:?}: {e}"))?;
    let listener = xcc_responder::admin::bind(address)
        .await
        .map_err(|e| format!("cannot listen on admin address {address}: {e}"))?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(())
}

/// Logs to stderr, `RUST_LOG` filtering (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .init();
}
