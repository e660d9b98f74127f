//! The `xcc-responder` binary: command line → configuration, logging,
//! signals, then [`xcc_responder`]'s server, reloader and admin endpoint.
//! Every flag can also be set from an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use xcc_responder::metrics::Metrics;
use xcc_responder::net::{BindError, Server, ServerConfig, TcpLimits};
use xcc_responder::records::watch::Reloader;
use xcc_responder::respond::DEFAULT_UDP_PAYLOAD;
use xcc_responder::table::handle::TableHandle;
use xcc_responder::table::{TableBuilder, TableConfig, ZoneConfig};
use xcc_wire::NameBuf;

/// Authoritative DNS responder of xcc-dns: serves the records of a records
/// file (or a controller snapshot) and reloads it when it changes.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Records file to serve: DNSRecord manifests as YAML or JSON (see the
    /// README), or a snapshot written by `xcc-controller records`.
    #[arg(long, env = "XCC_RECORDS")]
    records: PathBuf,

    /// Address to listen on, UDP and TCP; repeat for several.
    #[arg(long = "listen", env = "XCC_LISTEN", value_delimiter = ',', default_values_t = default_listen())]
    listen: Vec<SocketAddr>,

    /// Zone served; repeat for several.
    #[arg(
        long = "zone",
        env = "XCC_ZONES",
        value_delimiter = ',',
        default_value = "xcc.test."
    )]
    zones: Vec<String>,

    /// UDP worker threads per listen address (default: available cores).
    #[arg(long, env = "XCC_WORKERS")]
    workers: Option<usize>,

    /// Admin HTTP address (/metrics, /healthz, /readyz, /explain); "off"
    /// disables it.
    #[arg(long, env = "XCC_ADMIN_LISTEN", default_value = "127.0.0.1:9153")]
    admin_listen: String,

    /// Log format.
    #[arg(long, env = "XCC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Our EDNS UDP payload size (RFC 6891); answers over UDP never exceed it.
    #[arg(long, env = "XCC_UDP_PAYLOAD", default_value_t = DEFAULT_UDP_PAYLOAD,
          value_parser = clap::value_parser!(u16).range(512..=4096))]
    udp_payload: u16,

    /// Most TCP connections open at once.
    #[arg(long, env = "XCC_TCP_MAX_CONNECTIONS", default_value_t = 1024)]
    tcp_max_connections: usize,

    /// Seconds a TCP connection may be idle between queries.
    #[arg(long, env = "XCC_TCP_IDLE_TIMEOUT", default_value_t = 10)]
    tcp_idle_timeout: u64,

    /// Seconds reading one TCP query (or writing its answer) may take.
    #[arg(long, env = "XCC_TCP_QUERY_TIMEOUT", default_value_t = 2)]
    tcp_query_timeout: u64,

    /// Seconds negative answers may be cached (SOA MINIMUM, RFC 2308).
    #[arg(long, env = "XCC_NEGATIVE_TTL", default_value_t = 5)]
    negative_ttl: u32,

    /// Seconds between checks of the records file when inotify misses a
    /// change (network filesystems).
    #[arg(long, env = "XCC_RELOAD_INTERVAL", default_value_t = 2)]
    reload_interval: u64,

    /// Move a big table (over ~44k names, parents counted) onto huge pages
    /// once it has been served 5 s unchanged: cheaper lookups after, about
    /// 1 s of one core and a latency blip (p99 of a few ms) while it moves.
    #[arg(long, env = "XCC_HUGE_PAGES", value_enum, default_value_t = HugePages::Auto)]
    huge_pages: HugePages,

    /// Answer CHAOS TXT `version.bind` with this (off when unset).
    #[arg(long, env = "XCC_CHAOS_VERSION")]
    chaos_version: Option<String>,

    /// Answer CHAOS TXT `id.server` with this (off when unset).
    #[arg(long, env = "XCC_CHAOS_ID")]
    chaos_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum HugePages {
    /// Big tables only (the index over 2 MiB), 5 s after they are served.
    Auto,
    /// Never.
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut zones = Vec::new();
    for zone in &args.zones {
        let apex = NameBuf::from_presentation(zone)
            .map_err(|e| format!("--zone {zone:?} is not a valid name: {e}"))?;
        zones.push(ZoneConfig {
            minimum: args.negative_ttl,
            ..ZoneConfig::new(apex)
        });
    }
    let table_config = TableConfig {
        zones,
        version: 0,
        chaos_version: args.chaos_version.clone(),
        chaos_id: args.chaos_id.clone(),
    };
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let server_config = ServerConfig {
        listen: args.listen.clone(),
        workers,
        udp_payload: args.udp_payload,
        socket_buffer: 4 << 20,
        tcp: TcpLimits {
            max_connections: args.tcp_max_connections,
            idle_timeout: Duration::from_secs(args.tcp_idle_timeout),
            query_timeout: Duration::from_secs(args.tcp_query_timeout),
            ..TcpLimits::default()
        },
    };
    tracing::info!(
        records = %args.records.display(),
        listen = ?args.listen,
        zones = ?args.zones,
        workers,
        admin = %args.admin_listen,
        udp_payload = args.udp_payload,
        tcp_max_connections = args.tcp_max_connections,
        "starting xcc-responder {}", env!("CARGO_PKG_VERSION")
    );

    // An empty table (SOA and NS only) until the records are loaded; not
    // ready until then.
    let handle = TableHandle::new(TableBuilder::new(table_config.clone()).build().table);
    let mut reloader = Reloader::new(&args.records, table_config, Arc::clone(&handle))
        .with_poll_interval(Duration::from_secs(args.reload_interval.max(1)))
        .with_huge_pages(args.huge_pages == HugePages::Auto);
    if reloader.reload_now().is_err() {
        // The reloader has logged why. Keep running: the file may appear or
        // be fixed, and /readyz says 503 until then.
        tracing::warn!("no records loaded yet; waiting for a valid file");
    }
    let metrics = Metrics::new(Arc::clone(&handle), reloader.stats());
    let server = bind(server_config, args.listen == default_listen())?;
    for address in server.local_addrs() {
        tracing::info!(%address, "listening (UDP and TCP)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _watch = reloader.spawn()?;
    runtime.block_on(async move {
        // Before anything can report ready: see `shutdown`.
        let signal = xcc_responder::shutdown::on_signal();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        if args.admin_listen != "off" {
            let address: SocketAddr = args
                .admin_listen
                .parse()
                .map_err(|e| format!("--admin-listen {:?}: {e}", args.admin_listen))?;
            let listener = xcc_responder::admin::bind(address)
                .await
                .map_err(|e| format!("cannot listen on admin address {address}: {e}"))?;
            tracing::info!(%address, "admin endpoint: /metrics /healthz /readyz");
            let mut stopped = stopped.clone();
            tokio::spawn(xcc_responder::admin::serve(
                listener,
                Arc::clone(&metrics),
                Arc::clone(&handle),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ));
        }
        let shutdown = async move {
            signal.await;
            let _ = stop.send(true);
        };
        server.serve(handle, metrics, shutdown).await?;
        tracing::info!("stopped");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

/// The listen addresses used when `--listen` is not given.
fn default_listen() -> Vec<SocketAddr> {
    vec![
        SocketAddr::from(([127, 0, 0, 1], 5353)),
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 5353)),
    ]
}

/// Binds the sockets. An IPv6 address that this host cannot have (no IPv6
/// at all) is left out with a warning, as long as another address remains,
/// when it is one of the defaults (some containers have no `::1`) or the
/// IPv6 wildcard `[::]` (the manifests listen on `0.0.0.0` and `[::]`, for
/// IPv4, IPv6 and dual-stack clusters alike); any other address given
/// explicitly must be bound or the start fails.
fn bind(mut config: ServerConfig, defaults: bool) -> Result<Server, BindError> {
    loop {
        match Server::bind(config.clone()) {
            Err(BindError::Socket {
                address, source, ..
            }) if may_skip(address, &source, defaults)
                && config.listen.iter().any(|other| *other != address) =>
            {
                tracing::warn!(%address, "no IPv6 on this host ({source}); not listening there");
                config.listen.retain(|other| *other != address);
            }
            result => return result,
        }
    }
}

/// Whether a failure to bind `address` may be passed over: see [`bind`].
fn may_skip(address: SocketAddr, error: &std::io::Error, defaults: bool) -> bool {
    address.is_ipv6()
        && xcc_responder::net::ipv6_unavailable(error)
        && (defaults || address.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn only_a_default_or_wildcard_ipv6_address_may_be_passed_over() {
        let no_family = io::Error::from_raw_os_error(libc::EAFNOSUPPORT);
        let not_here = io::Error::from(io::ErrorKind::AddrNotAvailable);
        let in_use = io::Error::from(io::ErrorKind::AddrInUse);
        let wildcard6: SocketAddr = "[::]:5353".parse().unwrap();
        let loopback6: SocketAddr = "[::1]:5353".parse().unwrap();
        let wildcard4: SocketAddr = "0.0.0.0:5353".parse().unwrap();
        // The IPv6 wildcard on a host without IPv6: passed over.
        assert!(may_skip(wildcard6, &no_family, false));
        assert!(may_skip(wildcard6, &not_here, false));
        // A specific IPv6 address given explicitly: must bind.
        assert!(!may_skip(loopback6, &not_here, false));
        // ... unless it is one of the defaults.
        assert!(may_skip(loopback6, &not_here, true));
        // A port in use is never passed over, nor is IPv4.
        assert!(!may_skip(wildcard6, &in_use, false));
        assert!(!may_skip(wildcard4, &no_family, true));
    }
}
