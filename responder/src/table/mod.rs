//! The name table: immutable once built, shared by every worker, replaced
//! whole.
//!
//! A [`Table`] holds one or more [`Zone`]s. A zone keeps every name it knows
//! (owners, and the empty non-terminals their labels imply) as lowercase
//! wire-form keys in one byte arena, found through a flat hash index whose
//! slots carry each node and its wildcard child (module `index`), so that a
//! lookup costs one hash per label walked no matter how many names there
//! are, and a name found costs no further step to its node. Each node lists
//! its RRsets; each RRset's records are stored pre-encoded as *tails* (TYPE,
//! CLASS, TTL, RDLENGTH, RDATA, the owner left out), so that answering is
//! writing a two-byte pointer to the question name followed by a copy
//! ([`xcc_wire::MessageWriter::push_rrset_tails`]). A CNAME to a name
//! outside every zone may carry its target's current addresses
//! (`targetAddresses`): they are stored as RRsets too, right after the
//! node's own, counted apart so that they never answer for the node.
//!
//! Layout: [`build`] validates records and makes tables, [`lookup`] finds
//! names (RFC 1034 §4.3.2, RFC 4592) through the `index`, [`handle`]
//! shares the current table between workers and swaps it, [`snapshot`]
//! writes a built table to a checked binary file and reads it back.

pub mod build;
pub mod handle;
mod ids;
mod index;
pub mod lookup;
pub mod snapshot;

use xcc_wire::name::wire_is_at_or_below;
use xcc_wire::{Name, NameKey, RType};

pub use build::{
    AsSource, ObjectRef, ParsedSpec, Problem, RecordValue, Rejection, Source, SourceRef,
    TableBuilder, TableConfig, ZoneConfig,
};
use index::{NameIndex, NodeData, Slot};
pub use lookup::{Lookup, Plan};

/// How many octets of a node's first record tails a lookup asks for ahead.
const HOT_TAILS_SPAN: usize = 48;

/// Marks "no node" in [`Node::wildcard`].
const NO_NODE: u32 = u32::MAX;

/// An immutable set of zones, with the version it was built as.
#[derive(Debug)]
pub struct Table {
    /// The version: every zone's SOA serial.
    version: u32,
    zones: Box<[Zone]>,
    /// Records served, over all zones (apex SOA and NS included).
    record_count: usize,
    /// Pre-encoded CHAOS TXT answers (`version.bind`, `id.server`).
    chaos: Chaos,
}

/// What [`Table::back_with_huge_pages`] asked of the kernel, and what the
/// kernel said.
#[derive(Debug, Default)]
pub struct HugePageMove {
    /// Octets moved onto huge pages (those of the arrays the kernel took).
    pub octets: usize,
    /// How many arrays the kernel would not move.
    pub refused: usize,
    /// The kernel's last refusal (`EAGAIN`: no huge page free now).
    pub refusal: Option<std::io::Error>,
}

impl HugePageMove {
    fn add(&mut self, result: std::io::Result<usize>) {
        match result {
            Ok(octets) => self.octets += octets,
            Err(refusal) => {
                self.refused += 1;
                self.refusal = Some(refusal);
            }
        }
    }
}

/// One zone of authority.
#[derive(Debug)]
pub struct Zone {
    /// The apex, lowercase.
    apex: NameKey,
    /// Every node's lowercase wire-form name, back to back.
    names: Vec<u8>,
    /// Every node, in the order of the snapshot; wildcard links are
    /// numbers in it.
    nodes: Vec<Node>,
    /// Every node again, hashed by name, each beside its wildcard child:
    /// on a big table each step from the probe to the answer is a cache
    /// miss, so a slot holds all the answer needs next.
    index: NameIndex,
    rrsets: Vec<RrSet>,
    /// Every RRset's record tails, back to back.
    tails: Vec<u8>,
    /// The apex node.
    apex_node: u32,
    /// The SOA record's tail with the negative-caching TTL, min(SOA TTL,
    /// MINIMUM) (RFC 2308 §3), for the authority section of NXDOMAIN and
    /// NODATA answers.
    negative_soa: (u32, u32),
}

/// One name in a zone: an owner of RRsets, or an empty non-terminal.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// Offset and length of the name in [`Zone::names`].
    name_start: u32,
    name_len: u8,
    /// How many RRsets, from `rrset_start` in [`Zone::rrsets`]; zero for an
    /// empty non-terminal.
    rrset_count: u16,
    /// How many RRsets of the CNAME target follow the node's own (A, AAAA:
    /// at most two, and only at a node whose one RRset is a CNAME to a name
    /// outside every zone). They are not the node's data and never answer
    /// a query for the node's own name; see [`NodeRef::target_rrsets`].
    target_rrset_count: u8,
    rrset_start: u32,
    /// The node `*.<this name>`, or [`NO_NODE`].
    wildcard: u32,
}

/// One RRset: the records of one type at one owner.
#[derive(Clone, Copy, Debug)]
pub struct RrSet {
    /// The type of the records.
    pub rtype: RType,
    /// Number of records.
    pub count: u16,
    tail_start: u32,
    tail_len: u32,
}

/// CHAOS-class TXT answers, off unless configured.
#[derive(Clone, Debug, Default)]
struct Chaos {
    /// Tail of the TXT record for `version.bind` / `version.server`.
    version: Option<Vec<u8>>,
    /// Tail of the TXT record for `id.server` / `hostname.bind`.
    id: Option<Vec<u8>>,
}

/// A node of a zone, as the answer engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct NodeRef<'t> {
    zone: &'t Zone,
    node: NodeData,
}

impl Table {
    /// The version (the SOA serial of every zone).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The zones, in the order they were configured.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// Records served, apex SOA and NS included.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// The zone with the longest apex that `key` is at or below.
    pub fn zone_for(&self, key: &NameKey) -> Option<&Zone> {
        self.zone_position(key).map(|at| &self.zones[at])
    }

    /// Asks the kernel to back the big arrays of every zone worth it (the
    /// ones [`Table::plan`] prefetches for) with huge pages
    /// ([`crate::memory::back_with_huge_pages`]). About a second of one
    /// core on a table of a million names: the reloader has it done, on a
    /// thread of its own, once a table has been served a while unchanged,
    /// never before serving it. Every array is asked for, whatever the
    /// kernel answers for the others.
    pub fn back_with_huge_pages(&self) -> HugePageMove {
        use crate::memory::back_with_huge_pages;
        let mut moved = HugePageMove::default();
        for zone in self.zones.iter().filter(|z| z.index.worth_prefetching()) {
            moved.add(back_with_huge_pages(&zone.names));
            moved.add(back_with_huge_pages(&zone.nodes));
            moved.add(back_with_huge_pages(&zone.rrsets));
            moved.add(back_with_huge_pages(&zone.tails));
            moved.add(zone.index.back_with_huge_pages());
        }
        moved
    }

    /// Where in [`Table::zones`] the zone for `key` is.
    fn zone_position(&self, key: &NameKey) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (at, zone) in self.zones.iter().enumerate() {
            let apex_labels = zone.apex.label_count();
            if apex_labels > key.label_count()
                || best.is_some_and(|b| self.zones[b].apex.label_count() >= apex_labels)
            {
                continue;
            }
            if key.is_at_or_below(&zone.apex) {
                best = Some(at);
            }
        }
        best
    }

    /// The tail of the CHAOS TXT record answering `key`, if one is
    /// configured (`version.bind`, `version.server`, `id.server`,
    /// `hostname.bind`).
    pub fn chaos_tail(&self, key: &NameKey) -> Option<&[u8]> {
        match key.as_wire() {
            b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => {
                self.chaos.version.as_deref()
            }
            b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => self.chaos.id.as_deref(),
            _ => None,
        }
    }
}

impl Zone {
    /// The apex, lowercase.
    pub fn apex(&self) -> &NameKey {
        &self.apex
    }

    /// Number of names, empty non-terminals included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The apex node (SOA and NS live there).
    pub fn apex_node(&self) -> NodeRef<'_> {
        self.node_ref(self.apex_node)
    }

    /// The SOA record tail for negative answers (RFC 2308 §3).
    pub fn negative_soa_tail(&self) -> &[u8] {
        let (start, len) = self.negative_soa;
        &self.tails[start as usize..(start + len) as usize]
    }

    /// Finds the node named exactly `wire` (lowercase wire form).
    fn find(&self, wire: &[u8]) -> Option<NodeRef<'_>> {
        self.find_slot(wire, self.index.hash(wire), Want::Own)
            .map(|slot| NodeRef {
                zone: self,
                node: slot.node,
            })
    }

    /// Finds the slot of the node named exactly `wire`, whose hash is
    /// `hash`. Once a slot's tag matches, the RRsets and record tails the
    /// answer will read (the node's own, or its wildcard child's, as
    /// `want` says) are fetched while the name is compared.
    #[inline]
    fn find_slot(&self, wire: &[u8], hash: u64, want: Want) -> Option<&Slot> {
        let prefetching = self.index.worth_prefetching();
        self.index.find(hash, |slot| {
            if prefetching {
                self.prefetch_answer_data(slot, want);
            }
            self.name_of(&slot.node) == wire
        })
    }

    /// Asks for the names, RRsets and tails of every slot a name of `hash`
    /// could be in, without comparing anything.
    fn prefetch_candidates(&self, hash: u64, want: Want) {
        self.index.find(hash, |slot| {
            // A name of 50 octets crosses into a second cache line most of
            // the time: ask for its first and last octets.
            let first = slot.node.name_start as usize;
            let last = first + usize::from(slot.node.name_len).saturating_sub(1);
            for at in [first, last] {
                if let Some(octet) = self.names.get(at) {
                    crate::memory::prefetch(octet);
                }
            }
            self.prefetch_answer_data(slot, want);
            false
        });
    }

    /// Asks for the RRsets and first record tails an answer from `slot`
    /// reads.
    #[inline]
    fn prefetch_answer_data(&self, slot: &Slot, want: Want) {
        let data = match want {
            Want::Own => &slot.node,
            Want::Wildcard => &slot.wildcard,
        };
        if let Some(rrset) = self.rrsets.get(data.rrset_start as usize) {
            crate::memory::prefetch(rrset);
        }
        // The first records, up to a cache line's worth (three A records
        // are 42 octets), wherever that line ends.
        let hot = slot.hot_tails as usize;
        for at in [hot, hot + HOT_TAILS_SPAN - 1] {
            if let Some(octet) = self.tails.get(at) {
                crate::memory::prefetch(octet);
            }
        }
    }

    fn name_of(&self, node: &NodeData) -> &[u8] {
        let start = node.name_start as usize;
        &self.names[start..start + usize::from(node.name_len)]
    }

    fn node_name(&self, index: u32) -> &[u8] {
        self.name_of(&NodeData::of(&self.nodes[index as usize]))
    }

    fn node_ref(&self, index: u32) -> NodeRef<'_> {
        NodeRef {
            zone: self,
            node: NodeData::of(&self.nodes[index as usize]),
        }
    }

    /// Builds [`Zone::index`] over every node, now that nodes and RRsets
    /// are final; fails on a name seen twice or a node without its parent.
    fn index_nodes(&mut self) -> Result<(), index::IndexError> {
        self.index = NameIndex::build(&self.nodes, &self.names, &self.rrsets, self.apex.as_wire())?;
        Ok(())
    }

    /// Approximate heap bytes held by this zone (for the build-size bench).
    pub fn heap_bytes(&self) -> usize {
        self.names.capacity()
            + self.nodes.capacity() * size_of::<Node>()
            + self.index.heap_bytes()
            + self.rrsets.capacity() * size_of::<RrSet>()
            + self.tails.capacity()
    }
}

/// Which of a slot's nodes a lookup is after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// The node itself: the query name exists.
    Own,
    /// Its wildcard child: the node is a closest encloser.
    Wildcard,
}

impl<'t> NodeRef<'t> {
    /// The node's name, lowercase.
    pub fn name(&self) -> Name<'t> {
        let start = self.node.name_start as usize;
        Name::from_wire(&self.zone.names[start..start + usize::from(self.node.name_len)])
            .expect("node names are validated when the table is built")
    }

    /// A number identifying the node within its zone.
    pub fn id(&self) -> u32 {
        self.node.name_start
    }

    /// Whether the node owns no data (an empty non-terminal, RFC 4592 §2.2.2).
    pub fn is_empty_non_terminal(&self) -> bool {
        self.node.rrset_count == 0
    }

    /// The node's RRsets.
    pub fn rrsets(&self) -> &'t [RrSet] {
        let start = self.node.rrset_start as usize;
        &self.zone.rrsets[start..start + usize::from(self.node.rrset_count)]
    }

    /// The RRset of `rtype`, if the node has one.
    pub fn rrset(&self, rtype: RType) -> Option<&'t RrSet> {
        self.rrsets().iter().find(|rrset| rrset.rtype == rtype)
    }

    /// The addresses of the node's CNAME target that the record carries
    /// (`targetAddresses`): an A RRset, an AAAA RRset, or both, owned by
    /// the target and with the CNAME's TTL, for clients that do not follow
    /// CNAMEs themselves. Empty for every other node.
    pub fn target_rrsets(&self) -> &'t [RrSet] {
        let start = self.node.rrset_start as usize + usize::from(self.node.rrset_count);
        &self.zone.rrsets[start..start + usize::from(self.node.target_rrset_count)]
    }

    /// The target RRset of `rtype` (A or AAAA), if the node carries one.
    pub fn target_rrset(&self, rtype: RType) -> Option<&'t RrSet> {
        self.target_rrsets()
            .iter()
            .find(|rrset| rrset.rtype == rtype)
    }

    /// The pre-encoded record tails of one of this node's RRsets (its own
    /// or its target's).
    pub fn tails(&self, rrset: &RrSet) -> &'t [u8] {
        let start = rrset.tail_start as usize;
        &self.zone.tails[start..start + rrset.tail_len as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_page_move_keeps_what_moved_and_the_kernels_last_refusal() {
        let mut moved = HugePageMove::default();
        moved.add(Ok(4 << 20));
        moved.add(Err(std::io::Error::from_raw_os_error(11)));
        moved.add(Ok(2 << 20));
        assert_eq!(moved.octets, 6 << 20);
        assert_eq!(moved.refused, 1);
        let refusal = moved.refusal.expect("the refusal is kept");
        assert_eq!(refusal.raw_os_error(), Some(11));
    }
}
