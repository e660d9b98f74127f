//! Batched datagram I/O: `recvmmsg`/`sendmmsg` on Linux, one datagram per
//! call elsewhere, and the one socket option the standard library and
//! socket2 do not set ([`set_dont_fragment`]). With `memory.rs` (prefetch,
//! `malloc_trim`, `madvise`), the only `unsafe` code of the responder.
//!
//! A [`Batch`] owns every buffer a worker needs: `BATCH` receive buffers,
//! `BATCH` send buffers, their `iovec`s, `mmsghdr`s and source addresses.
//! They are allocated once when the worker starts and reused for every
//! batch, so the worker's loop allocates nothing. One `recvmmsg` call
//! returns up to `BATCH` queries (blocking until at least one, thanks to
//! `MSG_WAITFORONE`); one `sendmmsg` call sends every answer of the batch.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Datagrams per system call. 32 is where the syscall cost stops mattering
/// (quinn-udp and NSD use batches of the same order); more only adds latency
/// to the first answer of a burst.
pub const BATCH: usize = 32;

/// The largest UDP query we accept; bigger ones are truncated by the kernel
/// and then fail to parse (FORMERR).
pub const MAX_QUERY: usize = 4096;

/// The largest UDP answer we write (the EDNS payload size we advertise is at
/// most this).
pub const MAX_ANSWER: usize = 4096;

/// Receive and send buffers for one worker.
pub struct Batch {
    rx: Vec<[u8; MAX_QUERY]>,
    tx: Vec<[u8; MAX_ANSWER]>,
    /// Length received into each `rx` buffer.
    rx_len: [usize; BATCH],
    /// Where each query came from.
    sources: [Option<SocketAddr>; BATCH],
    /// Length to send from each `tx` buffer (0: nothing to send).
    tx_len: [usize; BATCH],
    #[cfg(target_os = "linux")]
    sys: linux::State,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").finish_non_exhaustive()
    }
}

impl Batch {
    /// Allocates the buffers.
    pub fn new() -> Box<Self> {
        Box::new(Self {
            rx: vec![[0; MAX_QUERY]; BATCH],
            tx: vec![[0; MAX_ANSWER]; BATCH],
            rx_len: [0; BATCH],
            sources: [None; BATCH],
            tx_len: [0; BATCH],
            #[cfg(target_os = "linux")]
            sys: linux::State::new(),
        })
    }

    /// Receives up to [`BATCH`] datagrams, blocking until at least one
    /// arrives or the socket's read timeout passes; returns how many.
    pub fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            linux::receive(self, socket)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let (len, source) = socket.recv_from(&mut self.rx[0])?;
            self.rx_len[0] = len;
            self.sources[0] = Some(source);
            self.tx_len[0] = 0;
            Ok(1)
        }
    }

    /// The `i`th datagram received.
    pub fn query(&self, i: usize) -> &[u8] {
        &self.rx[i][..self.rx_len[i]]
    }

    /// The `i`th datagram received, its source, and the `i`th send buffer.
    pub fn slot(&mut self, i: usize) -> (&[u8], Option<SocketAddr>, &mut [u8]) {
        (
            &self.rx[i][..self.rx_len[i]],
            self.sources[i],
            &mut self.tx[i][..],
        )
    }

    /// Marks the `i`th send buffer as holding `len` bytes to send back to
    /// the `i`th source (0: nothing).
    pub fn set_answer(&mut self, i: usize, len: usize) {
        self.tx_len[i] = len;
    }

    /// Forgets the answers of every slot not in `slots` (bit `i`: slot
    /// `i`), so that the next [`Batch::send`] sends only theirs.
    pub fn retain_answers(&mut self, slots: SlotSet) {
        for (i, len) in self.tx_len.iter_mut().enumerate() {
            if !slots.contains(i) {
                *len = 0;
            }
        }
    }

    /// Sends every answer set for the first `count` slots. Errors concern
    /// one datagram each: they are reported, never fatal.
    pub fn send(&mut self, socket: &UdpSocket, count: usize) -> Sent {
        #[cfg(target_os = "linux")]
        {
            linux::send(self, socket, count)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let mut sent = Sent::default();
            for i in 0..count {
                if let (len @ 1.., Some(to)) = (self.tx_len[i], self.sources[i])
                    && let Err(error) = socket.send_to(&self.tx[i][..len], to)
                {
                    sent.note_error(i, &error);
                }
            }
            sent
        }
    }
}

/// A set of slots of a batch, one bit each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotSet(u64);

// One bit per slot.
const _: () = assert!(BATCH <= 64);

impl SlotSet {
    /// Adds slot `i`.
    pub fn insert(&mut self, i: usize) {
        self.0 |= 1 << i;
    }

    /// Whether slot `i` is in the set.
    pub fn contains(self, i: usize) -> bool {
        i < 64 && self.0 & (1 << i) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many slots are in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The slots in the set, in order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..64).filter(move |&i| self.contains(i))
    }
}

/// What [`Batch::send`] could not send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Answers larger than the link carries (`EMSGSIZE`): with DF set
    /// ([`set_dont_fragment`]) the kernel refuses them rather than
    /// fragmenting them. They can be answered again, smaller.
    pub too_big: SlotSet,
    /// Datagrams lost to any other error (an ICMP-induced
    /// `ECONNREFUSED`, a full send buffer).
    pub failed: usize,
}

impl Sent {
    fn note_error(&mut self, slot: usize, error: &io::Error) {
        if error.raw_os_error() == Some(libc::EMSGSIZE) {
            self.too_big.insert(slot);
        } else {
            self.failed += 1;
        }
    }
}

/// Sets DF on every datagram the socket sends and has the kernel ignore
/// the path MTU it learns from ICMP (`IP_PMTUDISC_PROBE`, and its IPv6
/// twin), as RFC 9715 §3.1 asks of DNS responders: an answer is never
/// fragmented, by us or on the way, and a forged "fragmentation needed"
/// cannot shrink what we send. Answers stay within the payload size we
/// advertise (1232 octets by default, which any link of an IPv6 path
/// carries, and any IPv4 link of 1260 or more); one larger than the link's
/// MTU is refused by the kernel and answered again within 512 octets
/// ([`Sent::too_big`]). DF datagrams
/// also skip the kernel's per-destination IP ID generator. Does nothing
/// where the option does not exist.
pub fn set_dont_fragment(socket: &UdpSocket, ipv6: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        linux::set_dont_fragment(socket, ipv6)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, ipv6);
        Ok(())
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod linux {
    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;

    use super::{BATCH, Batch, Sent};

    /// The `mmsghdr`/`iovec`/address arrays the kernel reads and writes.
    /// Pointers inside them are refreshed before each call (the `Batch` is
    /// boxed and never moves while a call runs, but refreshing keeps the
    /// invariant local and obvious).
    pub(super) struct State {
        headers: [libc::mmsghdr; BATCH],
        iovecs: [libc::iovec; BATCH],
        addresses: [libc::sockaddr_storage; BATCH],
    }

    impl State {
        pub(super) fn new() -> Self {
            // SAFETY: mmsghdr, iovec and sockaddr_storage are plain C
            // structs for which all-zero bytes are a valid value.
            unsafe { zeroed() }
        }
    }

    pub(super) fn receive(batch: &mut Batch, socket: &UdpSocket) -> io::Result<usize> {
        let state = &mut batch.sys;
        for i in 0..BATCH {
            state.iovecs[i] = libc::iovec {
                iov_base: batch.rx[i].as_mut_ptr().cast(),
                iov_len: batch.rx[i].len(),
            };
            state.headers[i].msg_hdr.msg_name = (&raw mut state.addresses[i]).cast();
            state.headers[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            state.headers[i].msg_hdr.msg_iov = &raw mut state.iovecs[i];
            state.headers[i].msg_hdr.msg_iovlen = 1;
            state.headers[i].msg_hdr.msg_control = std::ptr::null_mut();
            state.headers[i].msg_hdr.msg_controllen = 0;
            state.headers[i].msg_hdr.msg_flags = 0;
            state.headers[i].msg_len = 0;
        }
        // SAFETY: every header points at a buffer, an iovec and an address
        // owned by `batch`, which outlives the call; the lengths given are
        // the real sizes of those buffers; the kernel writes at most that.
        let received = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                state.headers.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        let received = received as usize;
        for i in 0..received {
            batch.rx_len[i] = state.headers[i].msg_len as usize;
            batch.sources[i] =
                to_socket_addr(&state.addresses[i], state.headers[i].msg_hdr.msg_namelen);
            batch.tx_len[i] = 0;
        }
        Ok(received)
    }

    pub(super) fn set_dont_fragment(socket: &UdpSocket, ipv6: bool) -> io::Result<()> {
        let (level, name, value) = if ipv6 {
            (
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                libc::IPV6_PMTUDISC_PROBE,
            )
        } else {
            (
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_PROBE,
            )
        };
        // SAFETY: an int option, passed by pointer with its true size, on
        // a socket that stays open for the call.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                (&raw const value).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn send(batch: &mut Batch, socket: &UdpSocket, count: usize) -> Sent {
        let state = &mut batch.sys;
        // Pack the answers to send at the front of the header array,
        // remembering each one's slot.
        let mut slots = [0; BATCH];
        let mut pending = 0;
        for i in 0..count {
            let len = batch.tx_len[i];
            let Some(to) = batch.sources[i] else { continue };
            if len == 0 {
                continue;
            }
            let name_len = from_socket_addr(&to, &mut state.addresses[pending]);
            state.iovecs[pending] = libc::iovec {
                iov_base: batch.tx[i].as_mut_ptr().cast(),
                iov_len: len,
            };
            let header = &mut state.headers[pending].msg_hdr;
            header.msg_name = (&raw mut state.addresses[pending]).cast();
            header.msg_namelen = name_len;
            header.msg_iov = &raw mut state.iovecs[pending];
            header.msg_iovlen = 1;
            header.msg_control = std::ptr::null_mut();
            header.msg_controllen = 0;
            header.msg_flags = 0;
            slots[pending] = i;
            pending += 1;
        }
        let mut start = 0;
        let mut report = Sent::default();
        while start < pending {
            // SAFETY: headers `start..pending` point at answer buffers,
            // iovecs and addresses owned by `batch`, valid for the call.
            let sent = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    state.headers[start..].as_mut_ptr(),
                    (pending - start) as u32,
                    0,
                )
            };
            if sent <= 0 {
                // The first datagram failed (e.g. ICMP-induced ECONNREFUSED,
                // a full buffer, or too big for the link): note it, skip it,
                // carry on with the rest (hickory, quinn: never stop the
                // server for this).
                if sent < 0 {
                    report.note_error(slots[start], &io::Error::last_os_error());
                } else {
                    report.failed += 1;
                }
                start += 1;
            } else {
                start += sent as usize;
            }
        }
        report
    }

    fn to_socket_addr(storage: &libc::sockaddr_storage, len: u32) -> Option<SocketAddr> {
        match i32::from(storage.ss_family) {
            libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in,
                // and storage is large and aligned enough for any address.
                let v4 = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    u32::from_be(v4.sin_addr.s_addr).into(),
                    u16::from_be(v4.sin_port),
                )))
            }
            libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let v6 = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    v6.sin6_addr.s6_addr.into(),
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    fn from_socket_addr(address: &SocketAddr, storage: &mut libc::sockaddr_storage) -> u32 {
        match address {
            SocketAddr::V4(v4) => {
                // SAFETY: sockaddr_storage is large and aligned enough for a
                // sockaddr_in; we write a whole, initialised value.
                let out = unsafe {
                    &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                *out = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*v4.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                size_of::<libc::sockaddr_in>() as u32
            }
            SocketAddr::V6(v6) => {
                // SAFETY: as above, for sockaddr_in6.
                let out = unsafe {
                    &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                *out = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                size_of::<libc::sockaddr_in6>() as u32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_sets_hold_each_slot_of_a_batch() {
        let mut set = SlotSet::default();
        assert!(set.is_empty());
        for i in [0, 5, BATCH - 1] {
            set.insert(i);
        }
        assert_eq!(set.len(), 3);
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 5, BATCH - 1]);
        assert!(set.contains(5) && !set.contains(4) && !set.contains(64));
    }

    #[test]
    fn only_retained_answers_are_sent_again() {
        let mut batch = Batch::new();
        for i in 0..BATCH {
            batch.set_answer(i, 100);
        }
        let mut keep = SlotSet::default();
        keep.insert(3);
        batch.retain_answers(keep);
        let sent: Vec<usize> = (0..BATCH).filter(|&i| batch.tx_len[i] > 0).collect();
        assert_eq!(sent, [3]);
    }
}
