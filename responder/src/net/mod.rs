//! The network front: UDP workers and the TCP listener, built from
//! [`ServerConfig`].
//!
//! [`Server::bind`] opens every socket up front, so that a port that cannot
//! be bound is a clear error before anything runs, and so that a port of 0
//! (tests) is resolved once and shared by every worker. [`Server::serve`]
//! then runs until the shutdown future completes: one OS thread per UDP
//! socket (workers × listen addresses, SO_REUSEPORT spreading queries over
//! them), and one tokio task per TCP listener.

pub mod batch;
pub mod tcp;
pub mod udp;

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::respond::Context;
use crate::table::handle::TableHandle;
pub use tcp::TcpLimits;

/// How the worker threads notice shutdown while blocked in a receive.
const UDP_READ_TIMEOUT: Duration = Duration::from_millis(200);

/// What the network front listens on and how.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// UDP and TCP addresses.
    pub listen: Vec<SocketAddr>,
    /// UDP worker threads per address.
    pub workers: usize,
    /// Our EDNS UDP payload size.
    pub udp_payload: u16,
    /// Socket receive and send buffer size, bytes.
    pub socket_buffer: usize,
    /// TCP limits.
    pub tcp: TcpLimits,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum BindError {
    /// A socket could not be created, configured or bound.
    Socket {
        /// The address.
        address: SocketAddr,
        /// Which protocol.
        protocol: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Socket {
                address,
                protocol,
                source,
            } => write!(f, "cannot listen on {protocol} {address}: {source}"),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Socket { source, .. } => Some(source),
        }
    }
}

/// Sockets bound and ready to serve.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    /// UDP sockets: `workers` per address, all on the same port.
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    /// The addresses actually bound (ports resolved).
    local: Vec<SocketAddr>,
}

impl Server {
    /// Binds every socket.
    pub fn bind(config: ServerConfig) -> Result<Self, BindError> {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut local = Vec::new();
        for &requested in &config.listen {
            // TCP first: with port 0 it picks the port, and UDP follows it.
            let listener = tcp_listener(requested).map_err(|source| BindError::Socket {
                address: requested,
                protocol: "TCP",
                source,
            })?;
            let address = listener.local_addr().map_err(|source| BindError::Socket {
                address: requested,
                protocol: "TCP",
                source,
            })?;
            for _ in 0..config.workers.max(1) {
                let socket = udp_socket(address, config.socket_buffer).map_err(|source| {
                    BindError::Socket {
                        address,
                        protocol: "UDP",
                        source,
                    }
                })?;
                udp.push(socket);
            }
            tcp.push(listener);
            local.push(address);
        }
        Ok(Self {
            config,
            udp,
            tcp,
            local,
        })
    }

    /// The addresses bound, in the order of `listen`.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// Serves until `shutdown` completes, then stops accepting, lets TCP
    /// connections finish (bounded) and joins the UDP workers.
    pub async fn serve(
        self,
        handle: Arc<TableHandle>,
        metrics: Arc<Metrics>,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (index, socket) in self.udp.into_iter().enumerate() {
            let worker = udp::Worker {
                socket,
                reader: handle.reader(),
                context: Context::new(self.config.udp_payload),
                stats: metrics.worker(),
                stop: Arc::clone(&stop),
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("udp-{index}"))
                    .spawn(move || worker.run())?,
            );
        }
        let (stop_tcp, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for listener in self.tcp {
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tasks.push(tokio::spawn(tcp::serve(
                listener,
                Arc::clone(&handle),
                Arc::clone(&metrics),
                self.config.udp_payload,
                self.config.tcp,
                stopped.clone(),
            )));
        }
        shutdown.await;
        tracing::info!("shutting down: no new queries, finishing TCP answers");
        let _ = stop_tcp.send(true);
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            let _ = task.await;
        }
        for thread in threads {
            let _ = thread.join();
        }
        Ok(())
    }
}

/// Whether `error`, from creating or binding an IPv6 socket, means this
/// host has no IPv6 at all (`ipv6.disable=1`, or a container without an
/// IPv6 address): the socket family is not supported, or the address is not
/// available. Callers use it to fall back to IPv4 where an IPv6 address was
/// only a "both families if there are two" wish.
pub fn ipv6_unavailable(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::AddrNotAvailable
        || error.raw_os_error() == Some(libc::EAFNOSUPPORT)
}

/// A UDP socket bound to `address` beside the other workers' (SO_REUSEPORT
/// lets the kernel spread datagrams over them), with large buffers and a
/// read timeout so a blocked worker notices shutdown.
fn udp_socket(address: SocketAddr, buffer: usize) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(true)?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(buffer);
    let _ = socket.set_send_buffer_size(buffer);
    socket.set_read_timeout(Some(UDP_READ_TIMEOUT))?;
    socket.bind(&address.into())?;
    let socket = UdpSocket::from(socket);
    if let Err(error) = batch::set_dont_fragment(&socket, address.is_ipv6()) {
        // Answers are then sent as the kernel's defaults say: served all
        // the same, possibly fragmented when larger than the link.
        tracing::warn!(%address, %error, "cannot set DF on UDP answers");
    }
    Ok(socket)
}

/// A TCP listener with SO_REUSEADDR (restart without waiting for
/// TIME_WAIT).
fn tcp_listener(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
