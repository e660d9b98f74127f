//! The name index: every node of a zone, hashed by name, in a flat
//! open-addressing table (linear probing, at most two thirds full).
//!
//! Why not a general hash map: on a table of a million names every step of
//! a lookup is a cache miss, and the misses of one lookup come one after
//! the other. Here the slot a name starts probing at is a pure function of
//! its hash, so the slots a lookup will read (its parent's, where a
//! wildcard answer comes from, and the name's own) can be asked for before
//! any is read, for a whole batch of queries at once, and the misses
//! overlap. A slot is 32 bytes, aligned so that
//! it never straddles a cache line, and holds everything the answer needs
//! next: a tag of the hash, the node (where its name and RRsets are) and
//! its wildcard child `*.<name>`, so that a wildcard answer costs no step
//! from the parent to the child. It also says where the node's record
//! tails begin, so that they can be fetched while the name is compared.

use std::hash::BuildHasher;

use super::{NO_NODE, Node, RrSet};

/// Where a node's name and RRsets are: all the answer engine needs of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct NodeData {
    /// Offset of the name in the zone's name arena.
    pub(super) name_start: u32,
    /// First RRset in the zone's RRset table.
    pub(super) rrset_start: u32,
    /// How many RRsets are the node's own.
    pub(super) rrset_count: u16,
    /// Length of the name; 0 means "no node" (a real name is at least the
    /// root label).
    pub(super) name_len: u8,
    /// How many RRsets of a CNAME target follow the node's own.
    pub(super) target_rrset_count: u8,
}

impl NodeData {
    /// The data of a stored node.
    pub(super) fn of(node: &Node) -> Self {
        Self {
            name_start: node.name_start,
            rrset_start: node.rrset_start,
            rrset_count: node.rrset_count,
            name_len: node.name_len,
            target_rrset_count: node.target_rrset_count,
        }
    }

    /// Whether this stands for a node at all.
    pub(super) fn exists(&self) -> bool {
        self.name_len != 0
    }
}

/// One slot of the index.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
pub(super) struct Slot {
    /// High bits of the name's hash, never 0; 0 marks an empty slot.
    tag: u16,
    /// Whether the node has a child other than its wildcard `*.<name>`:
    /// when it has none, a name one label below it that is not `*` does
    /// not exist, and the lookup need not probe for it.
    has_other_children: bool,
    /// Where the first record tails worth fetching early begin: the node's
    /// own when it has RRsets, else its wildcard child's (an empty
    /// non-terminal is only ever looked up as a closest encloser).
    pub(super) hot_tails: u32,
    /// The node.
    pub(super) node: NodeData,
    /// Its wildcard child `*.<name>`, or a `NodeData` that does not exist.
    pub(super) wildcard: NodeData,
}

/// The index of one zone's nodes.
#[derive(Debug)]
pub(super) struct NameIndex {
    /// A power of two of slots.
    slots: Box<[Slot]>,
    /// `slots.len() - 1`.
    mask: usize,
    hasher: foldhash::fast::RandomState,
}

/// Why nodes cannot be indexed; each names the node (its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IndexError {
    /// The node has the name of an earlier one.
    DuplicateName(u32),
    /// The node is not the apex and its parent is not a node.
    MissingParent(u32),
}

impl NameIndex {
    /// [`crate::memory::back_with_huge_pages`] for the slots.
    pub(crate) fn back_with_huge_pages(&self) -> std::io::Result<usize> {
        crate::memory::back_with_huge_pages(&self.slots)
    }

    /// An index with no names (every lookup misses).
    pub(super) fn empty() -> Self {
        Self {
            slots: vec![Slot::default(); 1].into_boxed_slice(),
            mask: 0,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Indexes `nodes`, whose names must lie in `names`; fails on the first
    /// name seen twice, or on a node other than the `apex` whose parent is
    /// not a node (every ancestor of a name must be one, which the lookup
    /// relies on). Wildcard links and RRset numbers need not be checked
    /// yet: out of range, they read as no node and no tails.
    pub(super) fn build(
        nodes: &[Node],
        names: &[u8],
        rrsets: &[RrSet],
        apex: &[u8],
    ) -> Result<Self, IndexError> {
        // At most two thirds full: linear probing stays short (1.5 slots
        // for a name found, 2–3 for a miss, mostly in one cache line).
        let wanted = (nodes.len() + nodes.len().div_ceil(2)).max(2);
        let capacity = wanted.next_power_of_two();
        let mut index = Self {
            slots: vec![Slot::default(); capacity].into_boxed_slice(),
            mask: capacity - 1,
            hasher: foldhash::fast::RandomState::default(),
        };
        let name_of = |data: &NodeData| {
            let start = data.name_start as usize;
            &names[start..start + usize::from(data.name_len)]
        };
        let first_tails = |data: &NodeData| {
            (data.rrset_count > 0)
                .then(|| rrsets.get(data.rrset_start as usize))
                .flatten()
                .map(|rrset| rrset.tail_start)
        };
        // Every node's parent exists (the apex's is outside the zone), and
        // is marked when it has a child other than its wildcard. Tables
        // list a parent before its children (the builder makes a name's
        // ancestors first), so the parent is probed as the child is
        // inserted, its slot mostly still in the caches; a child met
        // before its parent is checked once all are in.
        fn parent_of(wire: &[u8]) -> &[u8] {
            wire.first()
                .and_then(|&label| wire.get(1 + usize::from(label)..))
                .unwrap_or_default()
        }
        let mark_parent = |index: &mut Self, wire: &[u8]| {
            let parent = parent_of(wire);
            let at = index.position(index.hash(parent), |slot| name_of(&slot.node) == parent)?;
            if !wire.starts_with(WILDCARD_LABEL) {
                index.slots[at].has_other_children = true;
            }
            Some(())
        };
        let mut orphans = Vec::new();
        // Each insert misses the caches on a big table; the slot a name
        // starts at is known from its hash, so the loop asks for the slot
        // of the node `AHEAD` of the one it works on, and the misses
        // overlap (1M names: a snapshot loaded in 0.78 s before, 0.64 s
        // after).
        let hashes: Vec<u64> = nodes
            .iter()
            .map(|node| index.hash(name_of(&NodeData::of(node))))
            .collect();
        for (number, node) in nodes.iter().enumerate() {
            if let Some(&ahead) = hashes.get(number + AHEAD) {
                index.prefetch(ahead);
            }
            let data = NodeData::of(node);
            // A link out of range (a snapshot not yet checked) reads as none.
            let wildcard = match node.wildcard {
                NO_NODE => NodeData::default(),
                child => nodes
                    .get(child as usize)
                    .map(NodeData::of)
                    .unwrap_or_default(),
            };
            let wire = name_of(&data);
            let hash = hashes[number];
            let tag = tag_of(hash);
            let mut at = hash as usize & index.mask;
            loop {
                let slot = &index.slots[at];
                if slot.tag == 0 {
                    break;
                }
                if slot.tag == tag && name_of(&slot.node) == wire {
                    return Err(IndexError::DuplicateName(number as u32));
                }
                at = (at + 1) & index.mask;
            }
            index.slots[at] = Slot {
                tag,
                has_other_children: false,
                hot_tails: first_tails(&data)
                    .or_else(|| first_tails(&wildcard))
                    .unwrap_or(0),
                node: data,
                wildcard,
            };
            if wire != apex && mark_parent(&mut index, wire).is_none() {
                orphans.push(number);
            }
        }
        for number in orphans {
            let wire = name_of(&NodeData::of(&nodes[number]));
            if mark_parent(&mut index, wire).is_none() {
                return Err(IndexError::MissingParent(number as u32));
            }
        }
        Ok(index)
    }

    /// The hash of a lowercase wire-form name.
    #[inline]
    pub(super) fn hash(&self, wire: &[u8]) -> u64 {
        self.hasher.hash_one(wire)
    }

    /// Asks the CPU for the slot a name of this hash starts probing at,
    /// without waiting for it.
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        crate::memory::prefetch(&self.slots[hash as usize & self.mask]);
    }

    /// The slot whose tag matches `hash` and for which `is_the_name` says
    /// yes (it compares the names).
    #[inline]
    pub(super) fn find(&self, hash: u64, is_the_name: impl FnMut(&Slot) -> bool) -> Option<&Slot> {
        self.position(hash, is_the_name).map(|at| &self.slots[at])
    }

    /// Where [`NameIndex::find`]'s slot is.
    #[inline]
    fn position(&self, hash: u64, mut is_the_name: impl FnMut(&Slot) -> bool) -> Option<usize> {
        let tag = tag_of(hash);
        let mut at = hash as usize & self.mask;
        loop {
            let slot = &self.slots[at];
            if slot.tag == tag && is_the_name(slot) {
                return Some(at);
            }
            if slot.tag == 0 {
                return None;
            }
            at = (at + 1) & self.mask;
        }
    }

    /// Whether prefetching pays: only when the slots do not all stay in
    /// a core's own caches (below that, asking for lines already there
    /// costs more than it saves: measured at 1k names, see `mix/batch*`
    /// in `benches/respond.rs`).
    #[inline]
    pub(super) fn worth_prefetching(&self) -> bool {
        self.heap_bytes() > PREFETCH_ABOVE
    }

    /// Heap bytes held.
    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.len() * size_of::<Slot>()
    }
}

/// How many nodes ahead [`NameIndex::build`] asks for slots.
const AHEAD: usize = 16;

/// Index size above which lookups prefetch: about a core's L2 cache.
const PREFETCH_ABOVE: usize = 1 << 21;

/// The tag kept in a slot: the hash's top 16 bits (the low bits chose the
/// slot), never 0. A slot whose tag matches by chance costs one name
/// comparison, once in 65,536 probes.
#[inline]
fn tag_of(hash: u64) -> u16 {
    ((hash >> 48) as u16).max(1)
}

/// The first label of a wildcard name, in wire form.
pub(super) const WILDCARD_LABEL: &[u8] = b"\x01*";

impl Slot {
    /// Whether the node has a child other than its wildcard.
    #[inline]
    pub(super) fn has_other_children(&self) -> bool {
        self.has_other_children
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(names: &mut Vec<u8>, wire: &[u8], rrset_start: u32, rrset_count: u16) -> Node {
        let name_start = names.len() as u32;
        names.extend_from_slice(wire);
        Node {
            name_start,
            name_len: wire.len() as u8,
            rrset_count,
            target_rrset_count: 0,
            rrset_start,
            wildcard: NO_NODE,
        }
    }

    fn rrset(tail_start: u32) -> RrSet {
        RrSet {
            rtype: xcc_wire::RType::A,
            count: 1,
            tail_start,
            tail_len: 14,
        }
    }

    fn find<'i>(index: &'i NameIndex, names: &[u8], wire: &[u8]) -> Option<&'i Slot> {
        index.find(index.hash(wire), |slot| {
            let start = slot.node.name_start as usize;
            &names[start..start + usize::from(slot.node.name_len)] == wire
        })
    }

    #[test]
    fn finds_every_name_and_nothing_else_at_any_fill() {
        for count in [0usize, 1, 2, 3, 7, 100, 1000] {
            let mut names = Vec::new();
            let mut wires = Vec::new();
            let apex = node(&mut names, b"\x04test\x00", 0, 0);
            let nodes: Vec<Node> = std::iter::once(apex)
                .chain((0..count).map(|i| {
                    let label = format!("n{i}");
                    let mut wire = vec![label.len() as u8];
                    wire.extend_from_slice(label.as_bytes());
                    wire.extend_from_slice(b"\x04test\x00");
                    let node = node(&mut names, &wire, 0, 0);
                    wires.push(wire);
                    node
                }))
                .collect();
            let index =
                NameIndex::build(&nodes, &names, &[], b"\x04test\x00").expect("a valid tree");
            assert!(index.slots.len() * 2 >= nodes.len() * 3, "{count} names");
            for (i, wire) in wires.iter().enumerate() {
                let slot = find(&index, &names, wire).expect("indexed");
                assert_eq!(slot.node, NodeData::of(&nodes[i + 1]));
            }
            assert!(find(&index, &names, b"\x04test\x00").is_some());
            assert!(find(&index, &names, b"\x07missing\x04test\x00").is_none());
            assert!(find(&index, &names, b"\x00").is_none());
        }
    }

    #[test]
    fn refuses_a_name_seen_twice() {
        let mut names = Vec::new();
        let nodes = [
            node(&mut names, b"\x00", 0, 0),
            node(&mut names, b"\x01a\x00", 0, 0),
            node(&mut names, b"\x01b\x00", 0, 0),
            node(&mut names, b"\x01a\x00", 0, 0),
        ];
        assert_eq!(
            NameIndex::build(&nodes, &names, &[], b"\x00").unwrap_err(),
            IndexError::DuplicateName(3)
        );
    }

    #[test]
    fn refuses_a_node_whose_parent_is_not_a_node() {
        let mut names = Vec::new();
        let nodes = [
            node(&mut names, b"\x04test\x00", 0, 0),
            node(&mut names, b"\x01a\x04test\x00", 0, 0),
            node(&mut names, b"\x01b\x07missing\x04test\x00", 0, 0),
        ];
        assert_eq!(
            NameIndex::build(&nodes, &names, &[], b"\x04test\x00").unwrap_err(),
            IndexError::MissingParent(2)
        );
        // The apex alone has no parent in the zone.
        assert!(NameIndex::build(&nodes[..2], &names, &[], b"\x04test\x00").is_ok());
        assert_eq!(
            NameIndex::build(&nodes[..2], &names, &[], b"\x01a\x04test\x00").unwrap_err(),
            IndexError::MissingParent(0)
        );
    }

    #[test]
    fn a_slot_carries_the_wildcard_child_and_the_tails_to_fetch_first() {
        let mut names = Vec::new();
        let rrsets = [rrset(100), rrset(200)];
        let root = node(&mut names, b"\x00", 0, 0);
        let mut parent = node(&mut names, b"\x01p\x00", 0, 0);
        let child = node(&mut names, b"\x01*\x01p\x00", 0, 1);
        let owner = node(&mut names, b"\x01q\x00", 1, 1);
        parent.wildcard = 2;
        let nodes = [root, parent, child, owner];
        let index = NameIndex::build(&nodes, &names, &rrsets, b"\x00").expect("a valid tree");

        let slot = find(&index, &names, b"\x01p\x00").expect("parent");
        assert_eq!(slot.wildcard, NodeData::of(&child));
        // An empty non-terminal: the wildcard's tails are the hot ones.
        assert_eq!(slot.hot_tails, 100);
        let slot = find(&index, &names, b"\x01q\x00").expect("owner");
        assert!(!slot.wildcard.exists());
        assert_eq!(slot.hot_tails, 200);
        assert_eq!(
            find(&index, &names, b"\x01*\x01p\x00")
                .expect("child")
                .hot_tails,
            100
        );
    }

    #[test]
    fn a_slot_says_whether_the_node_has_children_besides_its_wildcard() {
        let mut names = Vec::new();
        let nodes = [
            node(&mut names, b"\x00", 0, 0),
            node(&mut names, b"\x04only\x00", 0, 0),
            node(&mut names, b"\x01*\x04only\x00", 0, 0),
            node(&mut names, b"\x04both\x00", 0, 0),
            node(&mut names, b"\x01*\x04both\x00", 0, 0),
            node(&mut names, b"\x03api\x04both\x00", 0, 0),
            node(&mut names, b"\x04leaf\x00", 0, 0),
        ];
        let index = NameIndex::build(&nodes, &names, &[], b"\x00").expect("a valid tree");
        let other = |wire: &[u8]| {
            find(&index, &names, wire)
                .expect("indexed")
                .has_other_children()
        };
        assert!(other(b"\x00"), "the root has three children");
        assert!(!other(b"\x04only\x00"), "a wildcard is not another child");
        assert!(other(b"\x04both\x00"));
        assert!(!other(b"\x04leaf\x00"));
        assert!(!other(b"\x03api\x04both\x00"));
    }

    #[test]
    fn slots_never_straddle_a_cache_line() {
        assert_eq!(size_of::<Slot>(), 32);
        assert_eq!(align_of::<Slot>(), 32);
        let index = NameIndex::empty();
        assert_eq!(index.slots.as_ptr() as usize % 32, 0);
    }
}
