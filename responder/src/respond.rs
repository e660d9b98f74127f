//! The answer engine: query bytes in, answer bytes out.
//!
//! [`respond`] is pure: no sockets, no clock, no allocation. It parses the
//! query, decides what kind of answer it gets and writes it into the
//! caller's buffer with the pre-encoded records of one table version. The
//! rules, each with the RFC it comes from:
//!
//! - a message with QR=1 is never answered (RFC 1035 §4.1.1; answering
//!   responses makes reflection loops), nor one shorter than a header;
//! - a query that does not parse gets FORMERR with the header echoed and no
//!   question (RFC 1035 §4.1.1), as does one with a QDCOUNT other than 1;
//! - EDNS version ≠ 0 gets BADVERS (RFC 6891 §6.1.3), an opcode other than
//!   QUERY gets NOTIMP, a class other than IN gets REFUSED (CHAOS TXT
//!   `version.bind` / `id.server` are answered only when configured);
//! - a name outside every zone gets REFUSED: we are not an open resolver;
//! - answers are authoritative (AA) and echo ID, opcode, RD and CD and the
//!   question in the client's own letter case (0x20);
//! - NXDOMAIN and NODATA carry the zone's SOA in the authority section with
//!   TTL min(SOA TTL, MINIMUM) (RFC 2308 §3, §5); an empty non-terminal is
//!   NODATA;
//! - wildcard answers have the query name as owner (RFC 4592 §3.3.1);
//! - CNAMEs are followed within the zone, at most [`MAX_CNAME_CHAIN`] links,
//!   stopping at a loop; the RCODE is the last name's (RFC 1034 §4.3.2,
//!   RFC 6604); targets outside the zone are returned as they are, followed
//!   by the target's A or AAAA RRset when the record carries its addresses
//!   (`targetAddresses`) and the query asks for that type: owned by the
//!   target (a pointer to the name inside the CNAME's RDATA), with the
//!   CNAME's TTL, so that a client that does not chase CNAMEs still gets an
//!   address (RFC 1034 §3.6.2, §4.3.2; RFC 2181 §10.1); a query for the
//!   CNAME itself, or for another type, gets the CNAME alone;
//! - ANY gets one RRset (RFC 8482 §4.1): at a CNAME, the CNAME alone;
//! - A and AAAA RRsets rotate from one answer to the next, as CoreDNS's
//!   `loadbalance` plugin does;
//! - over UDP the answer fits min(client's EDNS size, ours), 512 without
//!   EDNS (RFC 6891 §6.2.3, §7); an RRset that does not fit is left out
//!   whole and TC set (RFC 2181 §9); the OPT record always fits.

use xcc_wire::{
    Class, Flags, Header, Message, MessageWriter, Name, NameKey, Opcode, OptRecord, Owner,
    Question, RType, Rcode, Section,
};

use crate::table::{Lookup, NodeRef, Plan, Table, Zone};

/// The longest CNAME chain followed inside a zone.
pub const MAX_CNAME_CHAIN: usize = 8;

/// Our EDNS UDP payload size by default: the DNS Flag Day 2020 value, which
/// avoids IP fragmentation on common paths.
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;

/// The largest UDP answer without EDNS (RFC 1035 §2.3.4).
const PLAIN_UDP_LIMIT: usize = 512;

/// The DO bit, echoed from the query (RFC 3225 §3).
const DO_BIT: u16 = 0x8000;

/// The transport a query came over: it decides the size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: the answer fits the client's advertised size.
    Udp,
    /// TCP: up to 65535 octets (RFC 7766).
    Tcp,
}

/// Per-worker state and settings of the answer engine.
#[derive(Clone, Debug)]
pub struct Context {
    /// Our EDNS UDP payload size (at least 512).
    udp_payload: u16,
    /// Advances once per rotated answer.
    rotation: usize,
}

impl Context {
    /// A context advertising `udp_payload` octets (raised to 512 if lower).
    pub fn new(udp_payload: u16) -> Self {
        Self {
            udp_payload: udp_payload.max(PLAIN_UDP_LIMIT as u16),
            rotation: 0,
        }
    }

    fn next_rotation(&mut self) -> usize {
        self.rotation = self.rotation.wrapping_add(1);
        self.rotation
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new(DEFAULT_UDP_PAYLOAD)
    }
}

/// What [`respond`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An answer of `len` octets is in the output buffer.
    Answered {
        /// The answer's length.
        len: usize,
        /// The query type asked, when the question could be read.
        qtype: Option<RType>,
        /// Its RCODE (extended RCODEs included).
        rcode: Rcode,
        /// Whether TC is set.
        truncated: bool,
    },
    /// Nothing is to be sent.
    Dropped(DropReason),
}

/// Why a message got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than a header: there is no ID to answer to.
    TooShort,
    /// A response (QR=1): answering it could start a loop.
    Response,
    /// The output buffer is smaller than a header (a caller bug).
    NoBuffer,
}

/// Answers `query` from `table` into `out`.
///
/// `out` should hold at least 512 octets for UDP and 65535 for TCP; the
/// answer never exceeds `out.len()`.
pub fn respond(
    query: &[u8],
    table: &Table,
    transport: Transport,
    context: &mut Context,
    out: &mut [u8],
) -> Outcome {
    respond_planned(query, table, transport, context, out, None)
}

/// [`respond`], with the lookup's plan and key when [`BatchPrefetch`] made
/// them for this query and table.
fn respond_planned(
    query: &[u8],
    table: &Table,
    transport: Transport,
    context: &mut Context,
    out: &mut [u8],
    planned: Option<(&Plan, &NameKey)>,
) -> Outcome {
    let Some(header) = Header::from_bytes(query) else {
        return Outcome::Dropped(DropReason::TooShort);
    };
    if header.flags.qr() {
        return Outcome::Dropped(DropReason::Response);
    }
    let Ok(message) = Message::parse(query) else {
        return header_only(&header, Rcode::FORMERR, out);
    };
    let question = match message.question() {
        Some(question) if header.qdcount == 1 => question,
        _ => return header_only(&header, Rcode::FORMERR, out),
    };
    let outcome = answer_question(&message, &question, table, transport, context, out, planned);
    match outcome {
        Outcome::Answered {
            len,
            rcode,
            truncated,
            ..
        } => Outcome::Answered {
            len,
            qtype: Some(question.qtype),
            rcode,
            truncated,
        },
        dropped => dropped,
    }
}

/// The most queries [`BatchPrefetch::run`] plans at once.
pub const PREFETCH_BATCH: usize = 64;

/// Prefetching for a batch of queries before any is answered.
///
/// On a table of a million names every step of a lookup is a cache miss
/// (a TLB miss too), and one query's misses follow each other: the index
/// slot, then the name to compare, then the RRsets and record tails. A
/// worker that has a batch of queries (a `recvmmsg`) first plans each one
/// ([`Table::plan`]: parse the name, hash it and its parent, nothing big
/// touched), then asks for every planned index slot in one tight loop and
/// for what those slots point at in another, so that the misses of the
/// whole batch overlap; [`BatchPrefetch::respond`] then finds its data in
/// the caches, and the key, zone and hashes worked out already. Holds the
/// plans and keys, so that the worker's loop allocates nothing.
#[derive(Debug)]
pub struct BatchPrefetch {
    plans: [Option<Plan>; PREFETCH_BATCH],
    /// The lookup key of each planned query, kept for its answer.
    keys: Box<[NameKey; PREFETCH_BATCH]>,
    /// Where each planned query lies (address and length): a plan is
    /// only used for the very bytes it was made from.
    query_spans: [(usize, usize); PREFETCH_BATCH],
    /// How many of `plans` belong to the last batch.
    count: usize,
    /// The address of the table the last batch was planned on.
    table: usize,
}

impl Default for BatchPrefetch {
    fn default() -> Self {
        Self {
            plans: [None; PREFETCH_BATCH],
            keys: Box::new([NameKey::root(); PREFETCH_BATCH]),
            query_spans: [(0, 0); PREFETCH_BATCH],
            count: 0,
            table: 0,
        }
    }
}

impl BatchPrefetch {
    /// Asks the CPU for what answering the first [`PREFETCH_BATCH`] of
    /// `queries` from `table` reads, and returns without waiting for it.
    /// Anything that is not a plain question in one of our zones is left
    /// alone; [`BatchPrefetch::respond`] judges it. Changes nothing but
    /// time.
    // Once per batch: kept out of line so that profiles see it apart.
    #[inline(never)]
    pub fn run<'q>(&mut self, table: &Table, queries: impl IntoIterator<Item = &'q [u8]>) {
        self.count = 0;
        if !table.worth_prefetching() {
            return;
        }
        self.table = std::ptr::from_ref(table).addr();
        let mut count = 0;
        // Each key is written in place, where its answer will read it.
        let slots = self.plans.iter_mut().zip(self.keys.iter_mut());
        for (((plan, key), span), query) in slots.zip(&mut self.query_spans).zip(queries) {
            *plan = Name::parse_in_message(query, xcc_wire::HEADER_LEN)
                .ok()
                .and_then(|(qname, _)| {
                    qname.write_key(key);
                    table.plan(key)
                });
            *span = (query.as_ptr().addr(), query.len());
            count += 1;
        }
        self.count = count;
        let plans = &self.plans[..count];
        for plan in plans.iter().flatten() {
            table.prefetch_slots(plan);
        }
        for plan in plans.iter().flatten() {
            table.prefetch_data(plan);
        }
    }

    /// Answers the query at `index` of the batch last given to
    /// [`BatchPrefetch::run`], exactly as [`respond`] would, looking it up
    /// as planned there. `query` must be that query's bytes, and nothing
    /// may have been written into them since `run`: a plan is matched to
    /// its query by the query's address and length, not its content. A
    /// query or table the plan was not made for (another slice, another
    /// table, an index past the batch) is answered without it.
    pub fn respond(
        &self,
        index: usize,
        query: &[u8],
        table: &Table,
        transport: Transport,
        context: &mut Context,
        out: &mut [u8],
    ) -> Outcome {
        let plan = self
            .plan_for(index, query, table)
            .map(|plan| (plan, &self.keys[index]));
        respond_planned(query, table, transport, context, out, plan)
    }

    /// Whether [`BatchPrefetch::respond`] would answer `query` at `index`
    /// with a plan: it was planned in the last batch, on `table` (a query
    /// outside every zone, malformed, or on a small table, is not).
    pub fn has_plan(&self, index: usize, query: &[u8], table: &Table) -> bool {
        self.plan_for(index, query, table).is_some()
    }

    fn plan_for(&self, index: usize, query: &[u8], table: &Table) -> Option<&Plan> {
        // Addresses are compared, never followed.
        let planned_here = index < self.count
            && self.table == std::ptr::from_ref(table).addr()
            && self.query_spans[index] == (query.as_ptr().addr(), query.len());
        if planned_here {
            self.plans[index].as_ref()
        } else {
            None
        }
    }
}

/// Answers a query that parsed and has exactly one question.
fn answer_question(
    message: &Message<'_>,
    question: &Question<'_>,
    table: &Table,
    transport: Transport,
    context: &mut Context,
    out: &mut [u8],
    planned: Option<(&Plan, &NameKey)>,
) -> Outcome {
    let header = message.header();
    let edns = message.edns();
    let limit = match (transport, edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, Some(edns)) => {
            usize::from(edns.effective_payload_size().min(context.udp_payload))
        }
        (Transport::Udp, None) => PLAIN_UDP_LIMIT,
    };
    let Ok(mut writer) = MessageWriter::new(out, limit) else {
        return Outcome::Dropped(DropReason::NoBuffer);
    };
    writer.set_id(header.id);
    writer.set_flags(answer_flags(header.flags));
    if writer.push_question(question).is_err() {
        // Cannot happen: a name is at most 255 octets, the limit at least
        // 512. Answer without the question rather than not at all.
        return finish(writer, Rcode::SERVFAIL);
    }
    if let Some(edns) = edns {
        let opt = OptRecord {
            udp_payload_size: context.udp_payload,
            version: 0,
            flags: edns.flags & DO_BIT,
            options: &[],
        };
        // Cannot fail: 12 + 259 + 11 octets fit in 512.
        let _ = writer.reserve_opt(&opt);
        if edns.version != 0 {
            return finish(writer, Rcode::BADVERS);
        }
    }
    if header.flags.opcode() != Opcode::QUERY {
        return finish(writer, Rcode::NOTIMP);
    }
    // The batch's key when it planned this query, else made here (in
    // place: a key made and returned is copied whole once more).
    let mut own_key = NameKey::root();
    let key = match planned {
        Some((_, key)) => key,
        None => {
            question.qname.write_key(&mut own_key);
            &own_key
        }
    };
    match question.qclass {
        Class::IN => {}
        Class::CH => {
            let rcode = answer_chaos(&mut writer, table, key, question.qtype);
            return finish(writer, rcode);
        }
        _ => return finish(writer, Rcode::REFUSED),
    }
    match question.qtype {
        // OPT is not a question (RFC 6891 §6.1.1).
        RType::OPT => return finish(writer, Rcode::FORMERR),
        // Zone transfers are not offered.
        RType::AXFR | RType::IXFR => return finish(writer, Rcode::REFUSED),
        _ => {}
    }
    // The answer is written through `&mut writer` from here on: moved
    // into each step, the writer (with its compression table) is copied.
    let lookup = match planned {
        Some((plan, key)) => table.lookup_planned(key, plan),
        None => table.lookup(key),
    };
    let rcode = match lookup {
        Lookup::NotOurs => Rcode::REFUSED,
        Lookup::NxDomain { zone } => {
            writer.set_flags(writer.flags().with_aa(true));
            negative(&mut writer, zone, &question.qname, Rcode::NXDOMAIN)
        }
        Lookup::Found { zone, node, .. } => {
            writer.set_flags(writer.flags().with_aa(true));
            answer_node(
                &mut writer,
                zone,
                node,
                &question.qname,
                question.qtype,
                context,
            )
        }
    };
    finish(writer, rcode)
}

/// Answers from a node that exists (itself or through a wildcard); the
/// owner of the records is the query name, written as a pointer to the
/// question. Returns the RCODE.
fn answer_node<'t>(
    writer: &mut MessageWriter<'_>,
    zone: &'t Zone,
    node: NodeRef<'t>,
    qname: &Name<'_>,
    qtype: RType,
    context: &mut Context,
) -> Rcode {
    if qtype == RType::ANY {
        // RFC 8482 §4.1: one RRset is enough.
        return match node.rrsets().first() {
            Some(rrset) => {
                let _ = writer.push_rrset_tails(
                    Section::Answer,
                    Owner::Offset(12),
                    node.tails(rrset),
                    0,
                );
                Rcode::NOERROR
            }
            None => negative(writer, zone, qname, Rcode::NOERROR),
        };
    }
    if let Some(rrset) = node.rrset(qtype) {
        let first = rotation(rrset.rtype, rrset.count, context);
        let _ =
            writer.push_rrset_tails(Section::Answer, Owner::Offset(12), node.tails(rrset), first);
        return Rcode::NOERROR;
    }
    if qtype != RType::CNAME
        && let Some(cname) = node.rrset(RType::CNAME)
    {
        let tails = node.tails(cname);
        if writer
            .push_rrset_tails(Section::Answer, Owner::Offset(12), tails, 0)
            .is_err()
        {
            return Rcode::NOERROR;
        }
        return follow_cname(writer, zone, node, tails, qname, qtype, context);
    }
    negative(writer, zone, qname, Rcode::NOERROR)
}

/// Follows a CNAME whose record tail is `tail` (RFC 1034 §4.3.2 step 3a),
/// within `zone`, from node `start`, which owns it and whose CNAME was the
/// last record written; writes each link and the final RRset with the
/// target as owner.
fn follow_cname<'t>(
    writer: &mut MessageWriter<'_>,
    zone: &'t Zone,
    start: NodeRef<'t>,
    mut tail: &'t [u8],
    qname: &Name<'_>,
    qtype: RType,
    context: &mut Context,
) -> Rcode {
    // Nodes already answered for, to stop at a loop; the first is the one
    // the query matched.
    let mut visited = [start.id(); MAX_CNAME_CHAIN + 1];
    // The node owning the CNAME last written.
    let mut owner = start;
    for depth in 1..=MAX_CNAME_CHAIN {
        // The tail is TYPE, CLASS, TTL, RDLENGTH, then the target in
        // uncompressed wire form, written by the table builder.
        let Some(target) = tail.get(10..).and_then(|rdata| Name::from_wire(rdata).ok()) else {
            break;
        };
        let key = target.to_key();
        if !key.is_at_or_below(zone.apex()) {
            // Out of zone: the client's resolver follows it (RFC 1034
            // §4.3.2); the addresses the record carries for the target, if
            // any, spare a client that does not.
            push_target_addresses(writer, owner, tail, &target, qtype, context);
            break;
        }
        match zone.lookup(&key) {
            Lookup::Found { node, .. } => {
                let identity = node.id();
                if visited[..depth].contains(&identity) {
                    break;
                }
                visited[depth] = identity;
                if let Some(rrset) = node.rrset(qtype) {
                    let first = rotation(rrset.rtype, rrset.count, context);
                    let _ = writer.push_rrset_tails(
                        Section::Answer,
                        Owner::Name(&target),
                        node.tails(rrset),
                        first,
                    );
                    break;
                }
                match node.rrset(RType::CNAME) {
                    Some(cname) => {
                        let next = node.tails(cname);
                        if writer
                            .push_rrset_tails(Section::Answer, Owner::Name(&target), next, 0)
                            .is_err()
                        {
                            break;
                        }
                        tail = next;
                        owner = node;
                    }
                    None => return negative(writer, zone, qname, Rcode::NOERROR),
                }
            }
            Lookup::NxDomain { .. } => return negative(writer, zone, qname, Rcode::NXDOMAIN),
            Lookup::NotOurs => break,
        }
    }
    Rcode::NOERROR
}

/// Writes the A or AAAA RRset that `node`'s CNAME carries for its target
/// (outside every zone), when `qtype` asks for it: the CNAME, whose record
/// tail is `cname_tail`, must be the last record written. The owner is a
/// pointer to the target name inside that CNAME's RDATA (copied
/// uncompressed from the tail, so it ends the record), or the name itself
/// where a pointer cannot reach. An RRset that does not fit is left out and
/// TC set (RFC 2181 §9), like any other.
fn push_target_addresses(
    writer: &mut MessageWriter<'_>,
    node: NodeRef<'_>,
    cname_tail: &[u8],
    target: &Name<'_>,
    qtype: RType,
    context: &mut Context,
) {
    if qtype != RType::A && qtype != RType::AAAA {
        return;
    }
    let Some(rrset) = node.target_rrset(qtype) else {
        return;
    };
    let target_at = writer
        .position()
        .checked_sub(cname_tail.len().saturating_sub(10));
    let owner = match target_at.and_then(|at| u16::try_from(at).ok()) {
        // RFC 1035 §4.1.4: a pointer has 14 bits of offset.
        Some(at) if at <= 0x3FFF => Owner::Offset(at),
        _ => Owner::Name(target),
    };
    let first = rotation(rrset.rtype, rrset.count, context);
    let _ = writer.push_rrset_tails(Section::Answer, owner, node.tails(rrset), first);
}

/// NXDOMAIN or NODATA: the zone's SOA in the authority section, owned by the
/// apex, which is a suffix of the question name (RFC 2308 §3). Returns
/// `rcode`.
fn negative(writer: &mut MessageWriter<'_>, zone: &Zone, qname: &Name<'_>, rcode: Rcode) -> Rcode {
    let apex_offset = 12 + qname.wire_len() - zone.apex().as_wire().len();
    let _ = writer.push_rrset_tails(
        Section::Authority,
        Owner::Offset(apex_offset as u16),
        zone.negative_soa_tail(),
        0,
    );
    rcode
}

/// CHAOS TXT answers, when configured; REFUSED otherwise. Returns the
/// RCODE.
fn answer_chaos(
    writer: &mut MessageWriter<'_>,
    table: &Table,
    key: &NameKey,
    qtype: RType,
) -> Rcode {
    match (qtype, table.chaos_tail(key)) {
        (RType::TXT | RType::ANY, Some(tail)) => {
            writer.set_flags(writer.flags().with_aa(true));
            let _ = writer.push_rrset_tails(Section::Answer, Owner::Offset(12), tail, 0);
            Rcode::NOERROR
        }
        _ => Rcode::REFUSED,
    }
}

/// Where a rotated RRset starts: A and AAAA rotate, others keep their order.
fn rotation(rtype: RType, count: u16, context: &mut Context) -> usize {
    if count > 1 && (rtype == RType::A || rtype == RType::AAAA) {
        context.next_rotation() % usize::from(count)
    } else {
        0
    }
}

/// The flags every answer to a query with `query` flags starts from: QR,
/// and opcode, RD and CD echoed (RFC 1035 §4.1.1, RFC 4035 §3.1.6).
fn answer_flags(query: Flags) -> Flags {
    Flags(0)
        .with_qr(true)
        .with_opcode(query.opcode())
        .with_rd(query.rd())
        .with_cd(query.cd())
}

/// Sets the RCODE and completes the answer.
fn finish(mut writer: MessageWriter<'_>, rcode: Rcode) -> Outcome {
    writer.set_rcode(rcode);
    let truncated = writer.flags().tc();
    let len = writer.finish();
    Outcome::Answered {
        len,
        qtype: None,
        rcode,
        truncated,
    }
}

/// An answer of only a header to a query with header `query`: the
/// [`answer_flags`], every count zero.
fn header_only(query: &Header, rcode: Rcode, out: &mut [u8]) -> Outcome {
    let Ok(mut writer) = MessageWriter::new(out, PLAIN_UDP_LIMIT) else {
        return Outcome::Dropped(DropReason::NoBuffer);
    };
    writer.set_id(query.id);
    writer.set_flags(answer_flags(query.flags));
    finish(writer, rcode)
}
