//! Finding a name in a table: exact match, closest encloser, wildcard.
//!
//! RFC 1034 §4.3.2 step 3 and RFC 4592 §3.3.1: look the query name up; if it
//! is not there, walk up one label at a time to the closest encloser (the
//! longest existing ancestor, empty non-terminals included, the apex at the
//! latest); if that has a wildcard child `*.<closest encloser>`, the answer
//! is synthesised from it, else the name does not exist. A name that exists,
//! even as an empty non-terminal, is never matched by a wildcard. The walk
//! costs one hash lookup per label between the query name and the apex,
//! whatever the size of the zone.

use xcc_wire::NameKey;

use super::{NO_NODE, NodeRef, Table, Zone};

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
}

impl Zone {
    /// Looks `key` up in this zone; `key` must be at or below the apex.
    pub fn lookup(&self, key: &NameKey) -> Lookup<'_> {
        let wire = key.as_wire();
        if let Some(node) = self.find(wire) {
            return Lookup::Found {
                zone: self,
                node,
                wildcard: false,
            };
        }
        // Walk up to the closest encloser; the apex exists, so the walk ends
        // there at the latest.
        let below_apex = key.label_count().saturating_sub(self.apex.label_count());
        let mut at = 0usize;
        for _ in 0..below_apex {
            at += 1 + usize::from(wire[at]);
            if let Some(encloser) = self.find(&wire[at..]) {
                let wildcard = encloser.node.wildcard;
                if wildcard == NO_NODE {
                    break;
                }
                return Lookup::Found {
                    zone: self,
                    node: self.node_ref(wildcard),
                    wildcard: true,
                };
            }
        }
        Lookup::NxDomain { zone: self }
    }
}
