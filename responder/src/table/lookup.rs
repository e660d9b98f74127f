//! Finding a name in a table: exact match, closest encloser, wildcard.
//!
//! RFC 1034 §4.3.2 step 3 and RFC 4592 §3.3.1: look the query name up; if it
//! is not there, walk up one label at a time to the closest encloser (the
//! longest existing ancestor, empty non-terminals included, the apex at the
//! latest); if that has a wildcard child `*.<closest encloser>`, the answer
//! is synthesised from it, else the name does not exist. A name that exists,
//! even as an empty non-terminal, is never matched by a wildcard.
//!
//! The order of the probes is ours: since every ancestor of a name in the
//! zone is a node too, the *parent* is asked first. When it does not exist,
//! neither does the name; when its only child is its wildcard, a name one
//! label below it other than `*` does not exist either, and the parent is
//! the closest encloser. So the commonest query of a gateway zone, a fresh
//! name under `*.gateway.<cluster>...`, costs one probe. Each probe costs
//! one hash, whatever the size of the zone. [`Table::plan`] and the
//! prefetch steps after it let a worker ask for the memory of a whole
//! batch of lookups before doing any; [`Table::lookup_planned`] then
//! starts from the plan's zone and hashes instead of working them out
//! again.

use xcc_wire::NameKey;

use super::index::{NodeData, Slot, WILDCARD_LABEL};
use super::{NodeRef, Table, Want, Zone};

/// Where a query name leads.
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'t> {
    /// No zone of ours is at or above the name: REFUSED.
    NotOurs,
    /// The zone holds no such name and no wildcard covers it: NXDOMAIN.
    NxDomain {
        /// The zone the name would be in.
        zone: &'t Zone,
    },
    /// The name exists, as itself or through a wildcard.
    Found {
        /// The zone it is in.
        zone: &'t Zone,
        /// The node holding its data (the wildcard node when `wildcard`).
        node: NodeRef<'t>,
        /// Whether the data comes from a wildcard (RFC 4592): the answer's
        /// owner is the query name all the same.
        wildcard: bool,
    },
}

impl Table {
    /// Looks `key` up in the zone that contains it.
    pub fn lookup(&self, key: &NameKey) -> Lookup<'_> {
        match self.zone_for(key) {
            Some(zone) => zone.lookup(key),
            None => Lookup::NotOurs,
        }
    }

    /// [`Table::lookup`] for a key this table has planned: the zone and
    /// the hashes are the plan's, not found and computed again (on a big
    /// table about 6 % of an answer's instructions). Same result as
    /// [`Table::lookup`] when `plan` is what [`Table::plan`] returned for
    /// `key` and this table; a plan of another key's shape is not used.
    pub(crate) fn lookup_planned(&self, key: &NameKey, plan: &Plan) -> Lookup<'_> {
        match self.planned_zone(plan) {
            Some(zone) if plan.is_for(key) => zone.lookup_with(key, Some(plan.hashes)),
            _ => self.lookup(key),
        }
    }

    /// Where a lookup of `key` will start: the zone and the hashes of the
    /// name and of its parent, computed without touching the big arrays.
    /// A worker plans every query of a batch, then asks for all their
    /// index slots at once ([`Table::prefetch_slots`]) and for what those
    /// slots point at ([`Table::prefetch_data`]) before answering any: on
    /// a table of a million names each query's cache misses then overlap
    /// with the others' instead of stalling its answer one after another.
    pub fn plan(&self, key: &NameKey) -> Option<Plan> {
        let position = self.zone_position(key)?;
        if !self.zones[position].index.worth_prefetching() {
            return None;
        }
        let zone = &self.zones[position];
        Some(Plan {
            zone: position,
            hashes: zone.hashes(key),
            has_parent: zone.below_apex(key) > 0,
            wire_len: key.as_wire().len() as u8,
            label_count: key.label_count() as u8,
        })
    }

    /// Asks the CPU for the index slots of a planned name and its parent,
    /// and returns without waiting. It changes nothing but time.
    #[inline]
    pub fn prefetch_slots(&self, plan: &Plan) {
        if let Some(zone) = self.planned_zone(plan) {
            zone.index.prefetch(plan.hashes.own);
            if plan.has_parent {
                zone.index.prefetch(plan.hashes.parent);
            }
        }
    }

    /// The step after [`Table::prefetch_slots`]: reads the slots and asks
    /// for what the lookup reads next (the names to compare, the RRsets
    /// and record tails of the candidates).
    #[inline]
    pub fn prefetch_data(&self, plan: &Plan) {
        if let Some(zone) = self.planned_zone(plan) {
            zone.prefetch_candidates(plan.hashes.own, Want::Own);
            if plan.has_parent {
                zone.prefetch_candidates(plan.hashes.parent, Want::Wildcard);
            }
        }
    }

    fn planned_zone(&self, plan: &Plan) -> Option<&Zone> {
        self.zones.get(plan.zone)
    }

    /// Whether any zone is big enough for prefetching to pay (its index
    /// outgrows a core's own caches); on a small table [`Table::plan`]
    /// plans nothing, and a batch need not even be parsed for it.
    pub fn worth_prefetching(&self) -> bool {
        self.zones.iter().any(|zone| zone.index.worth_prefetching())
    }
}

/// Where a lookup will start ([`Table::plan`]); only meaningful for the
/// key and the table that made it. With another table, prefetching reads
/// the wrong lines: slower, never wrong; [`Table::lookup_planned`] must be
/// given the same key and table.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// The zone's position in the table.
    zone: usize,
    hashes: Hashes,
    has_parent: bool,
    /// The key's shape, so that a plan handed with the wrong key is
    /// noticed (most of the time) rather than followed.
    wire_len: u8,
    label_count: u8,
}

impl Plan {
    /// Whether `key` has the shape of the key this plan was made for.
    fn is_for(&self, key: &NameKey) -> bool {
        usize::from(self.wire_len) == key.as_wire().len()
            && usize::from(self.label_count) == key.label_count()
    }
}

/// The hashes of a name and of its parent in one zone's index.
#[derive(Clone, Copy, Debug)]
struct Hashes {
    own: u64,
    /// 0 for the apex, which has no parent in the zone.
    parent: u64,
}

impl Zone {
    /// Looks `key` up in this zone; `key` must be at or below the apex.
    pub fn lookup(&self, key: &NameKey) -> Lookup<'_> {
        self.lookup_with(key, None)
    }

    /// [`Zone::lookup`], with the hashes of `key` and its parent when they
    /// are known already (`known`), else computed as they are needed.
    #[inline]
    fn lookup_with(&self, key: &NameKey, known: Option<Hashes>) -> Lookup<'_> {
        let wire = key.as_wire();
        let own_hash = || known.map_or_else(|| self.index.hash(wire), |hashes| hashes.own);
        let below_apex = self.below_apex(key);
        if below_apex == 0 {
            // The apex, which always exists.
            return match self.find_slot(wire, own_hash(), Want::Own) {
                Some(slot) => self.found(slot.node, false),
                None => Lookup::NxDomain { zone: self },
            };
        }
        // Every ancestor of a name of the zone is a node too (empty
        // non-terminals included), so the parent is asked first: when it
        // does not exist, neither does the name; when it has no child but
        // its wildcard, a name below it other than that wildcard does not
        // exist either, and the parent is the closest encloser. Most
        // queries of a gateway zone are answered there, in one probe.
        let parent_at = 1 + usize::from(wire[0]);
        let parent = &wire[parent_at..];
        let parent_hash = known.map_or_else(|| self.index.hash(parent), |hashes| hashes.parent);
        match self.find_slot(parent, parent_hash, Want::Wildcard) {
            None => self.walk_up(wire, parent_at, below_apex - 1),
            Some(encloser)
                if !encloser.has_other_children() && !wire.starts_with(WILDCARD_LABEL) =>
            {
                self.answer_below_encloser(encloser)
            }
            Some(encloser) => match self.find_slot(wire, own_hash(), Want::Own) {
                Some(slot) => self.found(slot.node, false),
                None => self.answer_below_encloser(encloser),
            },
        }
    }

    /// The name `wire[at..]` does not exist: walks up its `steps`
    /// ancestors to the closest encloser (the apex at the latest).
    fn walk_up(&self, wire: &[u8], mut at: usize, steps: usize) -> Lookup<'_> {
        for _ in 0..steps {
            at += 1 + usize::from(wire[at]);
            let suffix = &wire[at..];
            if let Some(encloser) = self.find_slot(suffix, self.index.hash(suffix), Want::Wildcard)
            {
                return self.answer_below_encloser(encloser);
            }
        }
        Lookup::NxDomain { zone: self }
    }

    /// The answer for a name that does not exist and whose closest
    /// encloser is `encloser`: its wildcard child's data (RFC 4592), or
    /// NXDOMAIN when it has none.
    fn answer_below_encloser(&self, encloser: &Slot) -> Lookup<'_> {
        if encloser.wildcard.exists() {
            self.found(encloser.wildcard, true)
        } else {
            Lookup::NxDomain { zone: self }
        }
    }

    fn found(&self, node: NodeData, wildcard: bool) -> Lookup<'_> {
        Lookup::Found {
            zone: self,
            node: NodeRef { zone: self, node },
            wildcard,
        }
    }

    /// The hashes of `key` and of its parent.
    #[inline]
    fn hashes(&self, key: &NameKey) -> Hashes {
        let wire = key.as_wire();
        let own = self.index.hash(wire);
        if self.below_apex(key) == 0 {
            return Hashes { own, parent: 0 };
        }
        Hashes {
            own,
            parent: self.index.hash(&wire[1 + usize::from(wire[0])..]),
        }
    }

    /// How many labels `key` has below the apex.
    fn below_apex(&self, key: &NameKey) -> usize {
        key.label_count().saturating_sub(self.apex.label_count())
    }
}
