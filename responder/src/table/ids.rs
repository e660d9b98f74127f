//! Numbers by name while a table is built: which owner, which node, a name
//! already has.
//!
//! Why not a general hash map: a build of a million names probes these maps
//! a few million times, each probe of a new name a cache miss. The names to
//! come are known in advance (the groups, the owners, in order), and the
//! slot a name starts probing at is a pure function of its hash, so the
//! builder asks for the slots of the names a few steps ahead
//! ([`IdMap::prefetch`]) and the misses overlap. The map stores only
//! numbers; the names stay in the builder's arenas, and the caller says
//! whether a number is the name sought.

/// `u32` numbers keyed by the 64-bit hash of a name: open addressing,
/// linear probing, at most two thirds full.
#[derive(Debug)]
pub(super) struct IdMap {
    /// A power of two of slots: the hash's top 32 bits, then the number
    /// plus one; 0 is an empty slot.
    slots: Vec<u64>,
    /// Numbers held.
    len: usize,
}

impl IdMap {
    /// A map for about `count` numbers before it grows.
    pub(super) fn with_capacity(count: usize) -> Self {
        Self {
            slots: vec![0; slots_for(count)],
            len: 0,
        }
    }

    /// Asks the CPU for the slot a name of this hash starts probing at,
    /// without waiting for it.
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        crate::memory::prefetch(&self.slots[self.start(hash)]);
    }

    /// The number stored with this hash for which `is_it` says yes.
    #[inline]
    pub(super) fn find(&self, hash: u64, mut is_it: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = hash & TAG;
        let mask = self.slots.len() - 1;
        let mut at = self.start(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            if slot & TAG == tag && is_it(number(slot)) {
                return Some(number(slot));
            }
            at = (at + 1) & mask;
        }
    }

    /// Stores `number` under `hash`, which no stored name has. `hash_of`
    /// hashes a stored number's name again when the map grows.
    pub(super) fn insert_new(&mut self, hash: u64, number: u32, hash_of: impl Fn(u32) -> u64) {
        let at = self.empty_slot(hash);
        self.slots[at] = (hash & TAG) | (u64::from(number) + 1);
        self.len += 1;
        if self.len * 3 > self.slots.len() * 2 {
            self.resize(self.slots.len() * 2, hash_of);
        }
    }

    /// Makes room for `count` more numbers.
    pub(super) fn reserve(&mut self, count: usize, hash_of: impl Fn(u32) -> u64) {
        if slots_for(self.len + count) > self.slots.len() {
            self.resize(slots_for(self.len + count), hash_of);
        }
    }

    fn resize(&mut self, slots: usize, hash_of: impl Fn(u32) -> u64) {
        let old = std::mem::replace(&mut self.slots, vec![0; slots]);
        for slot in old.into_iter().filter(|&slot| slot != 0) {
            let at = self.empty_slot(hash_of(number(slot)));
            self.slots[at] = slot;
        }
    }

    /// The first empty slot a name of `hash` probes.
    fn empty_slot(&self, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = self.start(hash);
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        at
    }

    #[inline]
    fn start(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }
}

/// The part of a hash a slot keeps: its top half (the bottom chose the
/// slot).
const TAG: u64 = !0 << 32;

/// The number in a full slot.
#[inline]
fn number(slot: u64) -> u32 {
    (slot as u32).wrapping_sub(1)
}

/// Slots for `count` numbers at most two thirds full.
fn slots_for(count: usize) -> usize {
    (count + count.div_ceil(2)).max(4).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn finds_what_it_stored_through_growth_and_collisions() {
        let hasher = foldhash::fast::FixedState::with_seed(7);
        // Few distinct hashes (and their tags), so that names collide.
        let hash_of = |n: u32| hasher.hash_one(n % 97) ^ u64::from(n % 3);
        let mut map = IdMap::with_capacity(0);
        for n in 0..5000u32 {
            assert_eq!(map.find(hash_of(n), |m| m == n), None);
            map.insert_new(hash_of(n), n, hash_of);
            if n % 7 == 0 {
                assert_eq!(map.find(hash_of(n), |m| m == n), Some(n));
            }
        }
        assert_eq!(map.len, 5000);
        assert!(map.len * 3 <= map.slots.len() * 2);
        for n in 0..5000u32 {
            assert_eq!(map.find(hash_of(n), |m| m == n), Some(n), "{n}");
        }
        assert_eq!(map.find(hash_of(5000), |m| m == 5000), None);
        map.reserve(10_000, hash_of);
        map.insert_new(hash_of(u32::MAX - 1), u32::MAX - 1, hash_of);
        assert_eq!(map.find(hash_of(4999), |m| m == 4999), Some(4999));
        assert_eq!(
            map.find(hash_of(u32::MAX - 1), |m| m == u32::MAX - 1),
            Some(u32::MAX - 1)
        );
    }
}
