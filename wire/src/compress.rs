//! Name compression for the writer (RFC 1035 §4.1.4), without the heap.
//!
//! The compressor remembers where names were written in the output: one
//! entry per label position, holding the offset and the length (octets and
//! labels) of the name from that label to the root. To write a name, the
//! writer looks for the longest suffix of it already in the output; the
//! length filter makes most comparisons a two-byte check, and the label
//! comparison ignores ASCII case, so an owner equal to the question name
//! becomes the pointer `0xC00C` and carries the client's own letter case
//! (what the 0x20 technique, and RFC 4343, expect).
//!
//! The table has a fixed capacity; when it is full, names are still written
//! correctly, only less compactly. [`Compressor::truncate`] forgets entries
//! added after a mark, so that a rolled-back RRset leaves no pointer to bytes
//! that are no longer there.

use crate::name::Name;

/// How many suffix positions the compressor remembers. An answer with a
/// question name of 8 labels, an SOA and a few distinct targets uses about
/// 20. The table lives inside the writer and is set up for every message,
/// so it is kept small; past capacity names are only compressed less.
pub const CAPACITY: usize = 32;

/// The largest offset a compression pointer can hold (14 bits).
const MAX_POINTER_OFFSET: usize = 0x3FFF;

/// One remembered name suffix in the output, packed into a `u32` so that the
/// table is 128 bytes, cheap to set up for every message:
///
/// | bits  | field                                              |
/// |-------|----------------------------------------------------|
/// | 0-7   | decompressed wire length of the suffix, root included |
/// | 8-14  | labels in the suffix, root excluded (at most 127)  |
/// | 15    | the suffix was written without pointers            |
/// | 16-29 | offset in the output where its first label starts  |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Entry(u32);

impl Entry {
    const CONTIGUOUS: u32 = 1 << 15;

    fn new(offset: usize, wire_len: usize, label_count: usize, contiguous: bool) -> Self {
        let flag = if contiguous { Self::CONTIGUOUS } else { 0 };
        Self((offset as u32) << 16 | flag | (label_count as u32) << 8 | wire_len as u32)
    }

    /// Wire length and label count together, the quick filter of `find`.
    fn shape(self) -> u32 {
        self.0 & 0x7FFF
    }

    fn wire_len(self) -> u8 {
        self.0 as u8
    }

    fn label_count(self) -> u8 {
        (self.0 >> 8) as u8 & 0x7F
    }

    fn contiguous(self) -> bool {
        self.0 & Self::CONTIGUOUS != 0
    }

    fn offset(self) -> u16 {
        (self.0 >> 16) as u16
    }
}

/// A fixed-capacity table of name suffixes already written.
#[derive(Clone, Debug)]
pub struct Compressor {
    entries: [Entry; CAPACITY],
    len: usize,
}

/// A suffix of the name being written that is already in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Match {
    /// How many leading labels must be written before the pointer.
    pub(crate) labels_before: usize,
    /// Where the pointer points.
    pub(crate) offset: u16,
}

impl Compressor {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            entries: [Entry(0); CAPACITY],
            len: 0,
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Number of entries held, for a later [`Compressor::truncate`].
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the entries added after the table held `len` of them.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Remembers that a suffix of `wire_len` octets and `label_count` labels
    /// starts at `offset` (`contiguous` when it ends in the root byte rather
    /// than a pointer); ignored when the offset does not fit a pointer or the
    /// table is full.
    pub(crate) fn insert(
        &mut self,
        offset: usize,
        wire_len: usize,
        label_count: usize,
        contiguous: bool,
    ) {
        if offset > MAX_POINTER_OFFSET || self.len == CAPACITY || label_count == 0 {
            return;
        }
        self.entries[self.len] = Entry::new(offset, wire_len, label_count, contiguous);
        self.len += 1;
    }

    /// Finds the longest suffix of `name` (the root alone excluded: a
    /// pointer to it would be longer than the root byte) already present in
    /// `out`, the bytes written so far.
    pub(crate) fn find(&self, out: &[u8], name: &Name<'_>) -> Option<Match> {
        if self.len == 0 {
            return None;
        }
        let mut labels = name.labels();
        let mut wire_len = name.wire_len();
        let total = name.label_count();
        let name_wire = name.contiguous_wire();
        for labels_before in 0..total {
            let label_count = total - labels_before;
            // The suffix as one slice, when the name has no pointers.
            let suffix_wire = name_wire.map(|w| &w[w.len() - wire_len..]);
            let shape = Entry::new(0, wire_len, label_count, false).shape();
            for &entry in &self.entries[..self.len] {
                if entry.shape() != shape {
                    continue;
                }
                let start = usize::from(entry.offset());
                let equal = match (suffix_wire, entry.contiguous()) {
                    // The common case (owner equal to the question name):
                    // one slice comparison. Length octets are below 64, so
                    // case folding only touches label bytes.
                    (Some(suffix), true) => out
                        .get(start..start + wire_len)
                        .is_some_and(|written| written.eq_ignore_ascii_case(suffix)),
                    _ => {
                        let written = Name::from_trusted(
                            out,
                            start,
                            entry.wire_len(),
                            entry.label_count(),
                            entry.contiguous(),
                        );
                        labels
                            .clone()
                            .zip(written.labels())
                            .all(|(a, b)| a.eq_ignore_ascii_case(b))
                    }
                };
                if equal {
                    return Some(Match {
                        labels_before,
                        offset: entry.offset(),
                    });
                }
            }
            let skipped = labels.next().map_or(0, <[u8]>::len);
            wire_len -= 1 + skipped;
        }
        None
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}
