//! Domain names: the one decoder of wire names, borrowed views, owned
//! buffers, lookup keys and presentation format.
//!
//! [`Name`] is a *validated* view of a name inside a buffer. It can only be
//! made by the decoder here, which enforces every bound of RFC 1035 §3.1 and
//! §4.1.4 once, so that everything downstream (comparison, iteration,
//! writing) can walk the labels without rechecking:
//!
//! - a label is at most 63 octets, a name at most 255 octets decompressed;
//! - label types 0x40 and 0x80 are rejected;
//! - a compression pointer must point strictly before the first byte of the
//!   run of labels it ends, so the positions visited strictly decrease and a
//!   loop is impossible by construction; pointers into the 12-octet header
//!   are rejected; the number of pointers per name is bounded as well.
//!
//! [`NameBuf`] owns an uncompressed name in a fixed 255-byte array (no heap),
//! and [`NameKey`] is the same with every ASCII letter lowercased: the form
//! the responder's tables are keyed on (RFC 4343 makes names case-insensitive,
//! so case is folded once, when the key is made, not at every comparison).

use core::fmt;
use core::hash::{Hash, Hasher};

use crate::error::{ParseError, ParseErrorKind};

/// The longest name in octets, wire form, decompressed, root included
/// (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;

/// The longest label in octets (RFC 1035 §3.1).
pub const MAX_LABEL_LEN: usize = 63;

/// The most compression pointers one name may contain. A name has at most
/// 127 labels, so a name needing more pointers than that is an attack, not
/// an encoding; the bound keeps decoding cost linear in the name length.
pub const MAX_POINTERS: usize = 127;

/// Size of the DNS header; pointers may not point into it.
const HEADER_LEN: usize = 12;

//----------- Name -------------------------------------------------------------

/// A validated domain name borrowed from a buffer: a whole message (the name
/// may use compression pointers to earlier bytes) or one uncompressed name.
///
/// Equality and hashing ignore ASCII case (RFC 4343). Use
/// [`Name::same_spelling`] to compare byte for byte.
#[derive(Clone, Copy)]
pub struct Name<'a> {
    /// The buffer the labels live in; pointers are offsets into it.
    buf: &'a [u8],
    /// Offset of the first label (or of the root byte, or of a pointer).
    start: usize,
    /// Decompressed wire length, root byte included: 1..=255.
    wire_len: u8,
    /// Number of labels, root excluded: 0..=127.
    label_count: u8,
    /// Whether the name is stored without pointers, so that its wire form is
    /// the slice `buf[start..start + wire_len]` (lets comparisons run over
    /// whole slices instead of label by label).
    contiguous: bool,
}

/// Where a name's encoding ended, for a caller walking a message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decoded<'a> {
    /// The name.
    pub(crate) name: Name<'a>,
    /// Offset just past the name's bytes at its own position (past the root
    /// byte, or past the first pointer).
    pub(crate) end: usize,
}

/// Decodes the name starting at `pos` in `msg`.
///
/// `compressed` says whether pointers are allowed: they are in a message,
/// they are not in a stand-alone wire name or in RDATA that RFC 3597 keeps
/// opaque. This is the only function that accepts name bytes; every other
/// part of the crate walks names it has validated.
pub(crate) fn decode_name(
    msg: &[u8],
    pos: usize,
    compressed: bool,
) -> Result<Decoded<'_>, ParseError> {
    let mut cursor = pos;
    // Every byte of the name read so far lies at or after `segment_start`; a
    // pointer must target strictly before it (see the module docs).
    let mut segment_start = pos;
    let mut end = None;
    let mut wire_len = 1usize; // the root byte
    let mut label_count = 0usize;
    let mut pointers = 0usize;
    loop {
        let Some(&len_byte) = msg.get(cursor) else {
            return Err(ParseError::new(ParseErrorKind::UnexpectedEnd, cursor));
        };
        match len_byte & 0xC0 {
            0x00 => {
                if len_byte == 0 {
                    let end = end.unwrap_or(cursor + 1);
                    return Ok(Decoded {
                        name: Name {
                            buf: msg,
                            start: pos,
                            wire_len: wire_len as u8,
                            label_count: label_count as u8,
                            contiguous: pointers == 0,
                        },
                        end,
                    });
                }
                let label_len = usize::from(len_byte);
                wire_len += 1 + label_len;
                if wire_len > MAX_NAME_LEN {
                    return Err(ParseError::new(ParseErrorKind::NameTooLong, cursor));
                }
                if cursor + 1 + label_len > msg.len() {
                    return Err(ParseError::new(ParseErrorKind::UnexpectedEnd, cursor));
                }
                label_count += 1;
                cursor += 1 + label_len;
            }
            0xC0 => {
                if !compressed {
                    return Err(ParseError::new(
                        ParseErrorKind::CompressionNotAllowed,
                        cursor,
                    ));
                }
                let Some(&low) = msg.get(cursor + 1) else {
                    return Err(ParseError::new(ParseErrorKind::UnexpectedEnd, cursor));
                };
                let target = (usize::from(len_byte & 0x3F) << 8) | usize::from(low);
                if target < HEADER_LEN {
                    return Err(ParseError::new(ParseErrorKind::PointerIntoHeader, cursor));
                }
                if target >= segment_start {
                    return Err(ParseError::new(ParseErrorKind::PointerNotBackward, cursor));
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(ParseError::new(ParseErrorKind::TooManyPointers, cursor));
                }
                if end.is_none() {
                    end = Some(cursor + 2);
                }
                segment_start = target;
                cursor = target;
            }
            // 0x40 (extended label types, retired by RFC 6891 §5) and 0x80
            // (unallocated).
            _ => return Err(ParseError::new(ParseErrorKind::ReservedLabelType, cursor)),
        }
    }
}

impl<'a> Name<'a> {
    /// The root name, `.`.
    pub const ROOT: Name<'static> = Name {
        buf: &[0],
        start: 0,
        wire_len: 1,
        label_count: 0,
        contiguous: true,
    };

    /// Views `wire` as one uncompressed name in wire form; the slice must hold
    /// exactly the name, root byte included, and no compression pointer.
    pub fn from_wire(wire: &'a [u8]) -> Result<Self, ParseError> {
        let decoded = decode_name(wire, 0, false)?;
        if decoded.end != wire.len() {
            return Err(ParseError::new(ParseErrorKind::TrailingBytes, decoded.end));
        }
        Ok(decoded.name)
    }

    /// Views the uncompressed name at the start of `wire` (no pointers);
    /// returns it and its length, so that names followed by other fields
    /// (SOA, MX, SRV RDATA) can be checked in place.
    pub fn from_wire_prefix(wire: &'a [u8]) -> Result<(Self, usize), ParseError> {
        let decoded = decode_name(wire, 0, false)?;
        Ok((decoded.name, decoded.end))
    }

    /// A view of a name this crate wrote itself (the writer's output), so it
    /// is known to be valid and its lengths are known.
    pub(crate) fn from_trusted(
        buf: &'a [u8],
        start: usize,
        wire_len: u8,
        label_count: u8,
        contiguous: bool,
    ) -> Self {
        Self {
            buf,
            start,
            wire_len,
            label_count,
            contiguous,
        }
    }

    /// The wire form as one slice, when the name is stored without
    /// compression pointers.
    pub(crate) fn contiguous_wire(&self) -> Option<&'a [u8]> {
        if self.contiguous {
            self.buf.get(self.start..self.start + self.wire_len())
        } else {
            None
        }
    }

    /// Decodes a possibly compressed name at `pos` of a whole message `msg`;
    /// returns the name and the offset just past its bytes at `pos`.
    pub fn parse_in_message(msg: &'a [u8], pos: usize) -> Result<(Self, usize), ParseError> {
        let decoded = decode_name(msg, pos, true)?;
        Ok((decoded.name, decoded.end))
    }

    /// Decompressed length in wire form, root byte included (1..=255).
    pub const fn wire_len(&self) -> usize {
        self.wire_len as usize
    }

    /// Number of labels, the root not counted (`a.b.` has 2).
    pub const fn label_count(&self) -> usize {
        self.label_count as usize
    }

    /// Whether this is the root name.
    pub const fn is_root(&self) -> bool {
        self.label_count == 0
    }

    /// Whether the first label is `*` (RFC 4592 §2.1.1).
    pub fn is_wildcard(&self) -> bool {
        self.labels().next() == Some(b"*")
    }

    /// The labels from the leftmost to the last before the root.
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            buf: self.buf,
            pos: self.start,
            remaining: self.label_count,
        }
    }

    /// Whether the labels are byte-for-byte the same, letter case included.
    pub fn same_spelling(&self, other: &Name<'_>) -> bool {
        self.wire_len == other.wire_len
            && self.label_count == other.label_count
            && self.labels().eq(other.labels())
    }

    /// Whether `self` equals `other` or lies below it, ignoring case.
    pub fn ends_with(&self, other: &Name<'_>) -> bool {
        if other.label_count > self.label_count {
            return false;
        }
        let skip = usize::from(self.label_count - other.label_count);
        self.labels()
            .skip(skip)
            .zip(other.labels())
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }

    /// Copies the name, uncompressed and in its own letter case, to the
    /// start of `out`; returns the number of bytes written, or `None` when
    /// `out` is shorter than [`Name::wire_len`].
    pub fn write_uncompressed(&self, out: &mut [u8]) -> Option<usize> {
        let out = out.get_mut(..self.wire_len())?;
        // One copy when the name lies in one piece (a question's name
        // does): label by label costs a call per label.
        if let Some(wire) = self.contiguous_wire() {
            out.copy_from_slice(wire);
            return Some(wire.len());
        }
        let mut at = 0;
        for label in self.labels() {
            out[at] = label.len() as u8;
            out[at + 1..at + 1 + label.len()].copy_from_slice(label);
            at += 1 + label.len();
        }
        out[at] = 0;
        Some(at + 1)
    }

    /// An owned copy in the name's own letter case.
    pub fn to_buf(&self) -> NameBuf {
        let mut bytes = [0u8; MAX_NAME_LEN];
        let len = self
            .write_uncompressed(&mut bytes)
            .expect("a validated name fits in 255 bytes");
        NameBuf {
            bytes,
            len: len as u8,
            label_count: self.label_count,
        }
    }

    /// The canonical lookup key: wire form with ASCII letters lowercased.
    pub fn to_key(&self) -> NameKey {
        let mut key = NameKey(NameBuf::root());
        self.write_key(&mut key);
        key
    }

    /// Makes `key` this name's [`Name::to_key`], in place: on the query
    /// path a key made and returned is copied whole (258 bytes) once more.
    #[inline]
    pub fn write_key(&self, key: &mut NameKey) {
        let buf = &mut key.0;
        match self.contiguous_wire() {
            // A query's name: copied and folded in one pass.
            Some(wire) => copy_lowercase(wire, &mut buf.bytes[..wire.len()]),
            None => {
                let len = self
                    .write_uncompressed(&mut buf.bytes)
                    .expect("a validated name fits in 255 bytes");
                lowercase_ascii(&mut buf.bytes[..len]);
            }
        }
        buf.len = self.wire_len;
        buf.label_count = self.label_count;
    }
}

impl PartialEq<Name<'_>> for Name<'_> {
    /// Case-insensitive comparison (RFC 4343 §3).
    fn eq(&self, other: &Name<'_>) -> bool {
        if self.wire_len != other.wire_len || self.label_count != other.label_count {
            return false;
        }
        // Length octets are below 64, so folding ASCII case over the whole
        // wire form only ever touches label bytes.
        if let (Some(a), Some(b)) = (self.contiguous_wire(), other.contiguous_wire()) {
            return a.eq_ignore_ascii_case(b);
        }
        self.labels()
            .zip(other.labels())
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl Eq for Name<'_> {}

impl Hash for Name<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for label in self.labels() {
            state.write_u8(label.len() as u8);
            for byte in label {
                state.write_u8(byte.to_ascii_lowercase());
            }
        }
        state.write_u8(0);
    }
}

impl fmt::Display for Name<'_> {
    /// Presentation format (RFC 1035 §5.1): absolute, with `\.`-style and
    /// `\DDD` escapes; the root is `.`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            write_label_presentation(label, f)?;
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Writes one label in presentation format.
fn write_label_presentation(label: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use fmt::Write as _;
    for &byte in label {
        match byte {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                f.write_char('\\')?;
                f.write_char(char::from(byte))?;
            }
            0x21..=0x7E => f.write_char(char::from(byte))?,
            _ => write!(f, "\\{byte:03}")?,
        }
    }
    Ok(())
}

//----------- Labels -----------------------------------------------------------

/// Iterator over the labels of a [`Name`], leftmost first, root excluded.
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    buf: &'a [u8],
    pos: usize,
    remaining: u8,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // The name was validated when it was made, so pointers go backwards
        // and labels are in bounds; `remaining` bounds the walk regardless.
        if self.remaining == 0 {
            return None;
        }
        loop {
            let len_byte = *self.buf.get(self.pos)?;
            if len_byte & 0xC0 == 0xC0 {
                let low = *self.buf.get(self.pos + 1)?;
                self.pos = (usize::from(len_byte & 0x3F) << 8) | usize::from(low);
                continue;
            }
            let len = usize::from(len_byte);
            let label = self.buf.get(self.pos + 1..self.pos + 1 + len)?;
            self.pos += 1 + len;
            self.remaining -= 1;
            return Some(label);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (
            usize::from(self.remaining),
            Some(usize::from(self.remaining)),
        )
    }
}

impl ExactSizeIterator for Labels<'_> {}

//----------- NameBuf ----------------------------------------------------------

/// An owned, uncompressed name in wire form, in a fixed array (no heap).
#[derive(Clone, Copy)]
pub struct NameBuf {
    /// Wire form; only `..len` is meaningful.
    bytes: [u8; MAX_NAME_LEN],
    /// Length of the wire form, root byte included: 1..=255.
    len: u8,
    /// Number of labels, root excluded.
    label_count: u8,
}

impl NameBuf {
    /// The root name.
    pub const fn root() -> Self {
        Self {
            bytes: [0; MAX_NAME_LEN],
            len: 1,
            label_count: 0,
        }
    }

    /// Parses an absolute name in presentation format (RFC 1035 §5.1):
    /// labels separated by `.`, `\X` for a literal character and `\DDD` for
    /// a decimal octet. A trailing dot is optional (every name is taken as
    /// absolute); `.` alone is the root. Empty labels, labels over 63 octets
    /// and names over 255 octets are errors, with the offset in `text`.
    pub fn from_presentation(text: &str) -> Result<Self, ParseError> {
        let err = |kind, offset| Err(ParseError::new(kind, offset));
        let bad = ParseErrorKind::BadPresentation;
        let input = text.as_bytes();
        if input == b"." {
            return Ok(Self::root());
        }
        if input.is_empty() {
            return err(bad, 0);
        }
        let mut out = Self::root();
        let mut at = 0usize; // where the current label's length byte goes
        let mut label_len = 0usize;
        let mut i = 0usize;
        // Appends one octet to the current label.
        let push = |out: &mut Self, at: usize, label_len: &mut usize, byte: u8, pos: usize| {
            if *label_len == MAX_LABEL_LEN {
                return Err(ParseError::new(bad, pos));
            }
            let index = at + 1 + *label_len;
            // The final root byte needs one more octet after this one.
            if index + 1 >= MAX_NAME_LEN {
                return Err(ParseError::new(ParseErrorKind::NameTooLong, pos));
            }
            out.bytes[index] = byte;
            *label_len += 1;
            Ok(())
        };
        while i < input.len() {
            match input[i] {
                b'.' => {
                    if label_len == 0 {
                        return err(bad, i);
                    }
                    out.bytes[at] = label_len as u8;
                    out.label_count += 1;
                    at += 1 + label_len;
                    label_len = 0;
                    i += 1;
                }
                b'\\' => {
                    let digits = input.get(i + 1..i + 4);
                    if let Some(d) = digits
                        && d.iter().all(u8::is_ascii_digit)
                    {
                        let value = u32::from(d[0] - b'0') * 100
                            + u32::from(d[1] - b'0') * 10
                            + u32::from(d[2] - b'0');
                        let Ok(byte) = u8::try_from(value) else {
                            return err(bad, i);
                        };
                        push(&mut out, at, &mut label_len, byte, i)?;
                        i += 4;
                    } else {
                        match input.get(i + 1) {
                            Some(&c) if !c.is_ascii_digit() && c.is_ascii() => {
                                push(&mut out, at, &mut label_len, c, i)?;
                                i += 2;
                            }
                            _ => return err(bad, i),
                        }
                    }
                }
                c => {
                    push(&mut out, at, &mut label_len, c, i)?;
                    i += 1;
                }
            }
        }
        if label_len > 0 {
            out.bytes[at] = label_len as u8;
            out.label_count += 1;
            at += 1 + label_len;
        }
        out.bytes[at] = 0;
        out.len = (at + 1) as u8;
        Ok(out)
    }

    /// Builds a name from a wire-form slice (uncompressed, root included).
    pub fn from_wire(wire: &[u8]) -> Result<Self, ParseError> {
        Ok(Name::from_wire(wire)?.to_buf())
    }

    /// A borrowed view.
    pub fn as_name(&self) -> Name<'_> {
        Name {
            buf: &self.bytes[..usize::from(self.len)],
            start: 0,
            wire_len: self.len,
            label_count: self.label_count,
            contiguous: true,
        }
    }

    /// The wire form, root byte included.
    pub fn as_wire(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The lowercased lookup key of this name.
    pub fn to_key(&self) -> NameKey {
        self.as_name().to_key()
    }

    /// [`NameBuf::to_key`], lowercasing this name in place rather than
    /// copying it.
    pub fn into_key(mut self) -> NameKey {
        lowercase_ascii(&mut self.bytes[..usize::from(self.len)]);
        NameKey(self)
    }

    /// Prepends one label; fails when the label is empty, longer than 63
    /// octets, or the name would exceed 255 octets.
    pub fn prepend_label(&self, label: &[u8]) -> Option<Self> {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return None;
        }
        let new_len = usize::from(self.len) + 1 + label.len();
        if new_len > MAX_NAME_LEN {
            return None;
        }
        let mut out = Self::root();
        out.bytes[0] = label.len() as u8;
        out.bytes[1..=label.len()].copy_from_slice(label);
        out.bytes[1 + label.len()..new_len].copy_from_slice(self.as_wire());
        out.len = new_len as u8;
        out.label_count = self.label_count + 1;
        Some(out)
    }
}

impl PartialEq for NameBuf {
    /// Case-insensitive, like [`Name`].
    fn eq(&self, other: &Self) -> bool {
        self.as_name() == other.as_name()
    }
}

impl Eq for NameBuf {}

impl Hash for NameBuf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_name().hash(state);
    }
}

impl fmt::Display for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_name().fmt(f)
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameBuf({self})")
    }
}

impl core::str::FromStr for NameBuf {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        Self::from_presentation(text)
    }
}

/// Whether the uncompressed wire name `name` equals `ancestor` or lies
/// below it, byte for byte (so both must be in the same case, e.g. two
/// lookup keys): `ancestor` is a suffix of `name` that starts at a label.
/// `name` must be a valid wire name (a [`NameKey`]'s, or one checked with
/// [`Name::from_wire`]); anything else gives `false` or a meaningless
/// answer, never a panic.
pub fn wire_is_at_or_below(name: &[u8], ancestor: &[u8]) -> bool {
    let mut at = 0;
    while name.len().saturating_sub(at) > ancestor.len() {
        at += 1 + usize::from(name[at]);
    }
    name.len().checked_sub(at) == Some(ancestor.len()) && name[at..] == *ancestor
}

/// Lowercases the ASCII letters of `bytes` (RFC 4343: other octets are
/// left alone), eight at a time ([`for_each_word`]): on the query path every
/// name is folded once, and byte by byte that was a tenth of an answer's
/// instructions. Length octets of a wire name are below 64, never letters.
fn lowercase_ascii(bytes: &mut [u8]) {
    if bytes.len() < 8 {
        bytes.make_ascii_lowercase();
        return;
    }
    for_each_word(bytes.len(), |at| {
        let word: &mut [u8; 8] = (&mut bytes[at..at + 8]).try_into().expect("eight octets");
        *word = lowercase_word(u64::from_le_bytes(*word)).to_le_bytes();
    });
}

/// Copies `from` into `to` (of the same length) with its ASCII letters
/// lowercased, eight octets at a time like [`lowercase_ascii`].
fn copy_lowercase(from: &[u8], to: &mut [u8]) {
    debug_assert_eq!(from.len(), to.len());
    if from.len() < 8 {
        for (to, from) in to.iter_mut().zip(from) {
            *to = from.to_ascii_lowercase();
        }
        return;
    }
    for_each_word(from.len(), |at| {
        let word: [u8; 8] = from[at..at + 8].try_into().expect("eight octets");
        to[at..at + 8].copy_from_slice(&lowercase_word(u64::from_le_bytes(word)).to_le_bytes());
    });
}

/// Calls `fold` with where each eight-octet word covering `len` (at least
/// 8) octets starts: every eighth octet, then, when `len` is not a multiple
/// of eight, a last word that overlaps the one before (folding twice is
/// folding once).
#[inline(always)]
fn for_each_word(len: usize, mut fold: impl FnMut(usize)) {
    debug_assert!(len >= 8);
    let mut at = 0;
    while at + 8 < len {
        fold(at);
        at += 8;
    }
    fold(len - 8);
}

/// [`u8::to_ascii_lowercase`] of each octet of `word`, with no carry
/// between them: bit 7 of each sum says whether the octet's low seven bits
/// are at least `A`, or above `Z`; an ASCII octet between the two gets
/// 0x20 added.
const fn lowercase_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low_seven = word & (0x7f * ONES);
    let above_z = low_seven + (0x7f - b'Z' as u64) * ONES;
    let from_a = low_seven + (0x80 - b'A' as u64) * ONES;
    let ascii = !word & (0x80 * ONES);
    let upper = ascii & (from_a ^ above_z);
    word | (upper >> 2)
}

//----------- NameKey ----------------------------------------------------------

/// The canonical lookup form of a name: uncompressed wire form with every
/// ASCII letter lowercased (RFC 4343). Equality and hashing are plain byte
/// operations, so a table keyed on it never folds case at lookup time.
///
/// The wire form makes walking up the tree cheap: the parent of a key is the
/// same bytes without the first label ([`NameKey::parent_wire`]).
#[derive(Clone, Copy)]
pub struct NameKey(NameBuf);

impl NameKey {
    /// The root name's key; [`Name::write_key`] makes it another's.
    pub const fn root() -> Self {
        Self(NameBuf::root())
    }

    /// The lowercased wire form, root byte included.
    pub fn as_wire(&self) -> &[u8] {
        self.0.as_wire()
    }

    /// A borrowed view of the key as a name.
    pub fn as_name(&self) -> Name<'_> {
        self.0.as_name()
    }

    /// Number of labels, the root not counted.
    pub fn label_count(&self) -> usize {
        usize::from(self.0.label_count)
    }

    /// Whether this name equals `ancestor` or lies below it.
    pub fn is_at_or_below(&self, ancestor: &Self) -> bool {
        wire_is_at_or_below(self.as_wire(), ancestor.as_wire())
    }

    /// The wire form of the ancestor `levels` labels up (`0` is the key
    /// itself); `None` past the root.
    pub fn parent_wire(&self, levels: usize) -> Option<&[u8]> {
        if levels > self.label_count() {
            return None;
        }
        let wire = self.as_wire();
        let mut at = 0;
        for _ in 0..levels {
            at += 1 + usize::from(wire[at]);
        }
        Some(&wire[at..])
    }
}

impl PartialEq for NameKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_wire() == other.as_wire()
    }
}

impl Eq for NameKey {}

impl Hash for NameKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_wire().hash(state);
    }
}

impl fmt::Display for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_name().fmt(f)
    }
}

impl fmt::Debug for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(text: &str) -> NameBuf {
        NameBuf::from_presentation(text).unwrap()
    }

    /// A 12-byte dummy header followed by `body`.
    fn message(body: &[u8]) -> Vec<u8> {
        let mut msg = vec![0u8; HEADER_LEN];
        msg.extend_from_slice(body);
        msg
    }

    fn kind_at(msg: &[u8], pos: usize) -> ParseErrorKind {
        decode_name(msg, pos, true).unwrap_err().kind()
    }

    #[test]
    fn decodes_uncompressed_name() {
        let msg = message(b"\x03www\x07example\x03com\x00");
        let decoded = decode_name(&msg, 12, true).unwrap();
        assert_eq!(decoded.end, msg.len());
        assert_eq!(decoded.name.to_string(), "www.example.com.");
        assert_eq!(decoded.name.label_count(), 3);
        assert_eq!(decoded.name.wire_len(), 17);
    }

    #[test]
    fn decodes_pointer_and_reports_end_after_first_pointer() {
        // "example.com." at 12, then "www" + pointer to 12.
        let msg = message(b"\x07example\x03com\x00\x03www\xC0\x0C");
        let decoded = decode_name(&msg, 25, true).unwrap();
        assert_eq!(decoded.end, 31);
        assert_eq!(decoded.name.to_string(), "www.example.com.");
        assert_eq!(decoded.name.wire_len(), 17);
    }

    #[test]
    fn rfc1035_3_1_label_longer_than_63_is_rejected() {
        let mut body = vec![64u8];
        body.extend_from_slice(&[b'a'; 64]);
        body.push(0);
        assert_eq!(
            kind_at(&message(&body), 12),
            ParseErrorKind::ReservedLabelType,
            "a length byte of 64 has the 0x40 bit set"
        );
    }

    #[test]
    fn rfc1035_3_1_name_longer_than_255_is_rejected() {
        // Four 63-octet labels: 4 * 64 + 1 = 257 octets.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(63);
            body.extend_from_slice(&[b'a'; 63]);
        }
        body.push(0);
        assert_eq!(kind_at(&message(&body), 12), ParseErrorKind::NameTooLong);
    }

    #[test]
    fn rfc1035_3_1_name_of_exactly_255_is_accepted() {
        // 3 * 64 + 62 + 1 = 255.
        let mut body = Vec::new();
        for _ in 0..3 {
            body.push(63);
            body.extend_from_slice(&[b'a'; 63]);
        }
        body.push(61);
        body.extend_from_slice(&[b'b'; 61]);
        body.push(0);
        let msg = message(&body);
        let decoded = decode_name(&msg, 12, true).unwrap();
        assert_eq!(decoded.name.wire_len(), 255);
    }

    #[test]
    fn rfc1035_3_1_length_checked_after_decompression() {
        // 200 octets of labels at 12, then a name with 60 more that points
        // to them: each piece is short, the whole is 261 octets.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(49);
            body.extend_from_slice(&[b'a'; 49]);
        }
        body.push(0); // 201 octets at 12..213
        let second = 12 + body.len();
        body.push(59);
        body.extend_from_slice(&[b'b'; 59]);
        body.extend_from_slice(&[0xC0, 12]);
        assert_eq!(
            kind_at(&message(&body), second),
            ParseErrorKind::NameTooLong
        );
    }

    #[test]
    fn rfc1035_4_1_4_forward_pointer_is_rejected() {
        let msg = message(b"\xC0\x0E\x00\x01a\x00");
        assert_eq!(kind_at(&msg, 12), ParseErrorKind::PointerNotBackward);
    }

    #[test]
    fn rfc1035_4_1_4_self_pointer_is_rejected() {
        let msg = message(b"\xC0\x0C");
        assert_eq!(kind_at(&msg, 12), ParseErrorKind::PointerNotBackward);
    }

    #[test]
    fn rfc1035_4_1_4_pointer_loop_is_rejected() {
        // 12: "a" then pointer to 16; 16: pointer back to 12. Whatever the
        // entry point, some pointer fails to go strictly backwards.
        let msg = message(b"\x01a\xC0\x10\xC0\x0C");
        assert_eq!(kind_at(&msg, 12), ParseErrorKind::PointerNotBackward);
        assert_eq!(kind_at(&msg, 16), ParseErrorKind::PointerNotBackward);
    }

    #[test]
    fn rfc1035_4_1_4_pointer_into_the_middle_of_the_same_run_is_rejected() {
        // 12: "a" "b" then a pointer to 14 ("b"), which is part of this run.
        let msg = message(b"\x01a\x01b\xC0\x0E");
        assert_eq!(kind_at(&msg, 12), ParseErrorKind::PointerNotBackward);
    }

    #[test]
    fn rfc1035_4_1_4_pointer_into_header_is_rejected() {
        let msg = message(b"\xC0\x05");
        assert_eq!(kind_at(&msg, 12), ParseErrorKind::PointerIntoHeader);
    }

    #[test]
    fn pointer_chain_longer_than_bound_is_rejected() {
        // A root at 12, then 200 pointers each to the one before.
        let mut body = vec![0u8];
        for i in 0..200usize {
            let target = if i == 0 { 12 } else { 13 + (i - 1) * 2 };
            body.push(0xC0 | (target >> 8) as u8);
            body.push(target as u8);
        }
        let msg = message(&body);
        let last = msg.len() - 2;
        assert_eq!(kind_at(&msg, last), ParseErrorKind::TooManyPointers);
        // A short chain is fine.
        assert!(decode_name(&msg, 13 + 2 * 5, true).is_ok());
    }

    #[test]
    fn reserved_label_types_are_rejected() {
        assert_eq!(
            kind_at(&message(b"\x41a\x00"), 12),
            ParseErrorKind::ReservedLabelType
        );
        assert_eq!(
            kind_at(&message(b"\x81a\x00"), 12),
            ParseErrorKind::ReservedLabelType
        );
    }

    #[test]
    fn truncated_names_are_rejected() {
        assert_eq!(
            kind_at(&message(b"\x03ww"), 12),
            ParseErrorKind::UnexpectedEnd
        );
        assert_eq!(
            kind_at(&message(b"\x03www"), 12),
            ParseErrorKind::UnexpectedEnd
        );
        assert_eq!(
            kind_at(&message(b"\xC0"), 12),
            ParseErrorKind::UnexpectedEnd
        );
        assert_eq!(kind_at(&message(b""), 12), ParseErrorKind::UnexpectedEnd);
    }

    #[test]
    fn stand_alone_wire_rejects_pointers_and_trailing_bytes() {
        assert_eq!(
            Name::from_wire(b"\x01a\xC0\x00").unwrap_err().kind(),
            ParseErrorKind::CompressionNotAllowed
        );
        assert_eq!(
            Name::from_wire(b"\x01a\x00\x00").unwrap_err().kind(),
            ParseErrorKind::TrailingBytes
        );
        assert!(Name::from_wire(b"\x00").unwrap().is_root());
    }

    #[test]
    fn lowercasing_eight_at_a_time_folds_exactly_the_ascii_letters() {
        // Every octet value at every position of a word, among neighbours
        // that could carry into it (0x7f, 0xff, letters).
        for position in 0..8 {
            for octet in 0..=255u8 {
                for filler in [0x00u8, b'Z', b'[', b'@', b'A', 0x7f, 0x80, 0xc1, 0xff] {
                    let mut bytes = [filler; 8];
                    bytes[position] = octet;
                    let want = bytes.map(|b| b.to_ascii_lowercase());
                    let got = lowercase_word(u64::from_le_bytes(bytes)).to_le_bytes();
                    assert_eq!(got, want, "{bytes:02x?}");
                }
            }
        }
        // Every length a name can have, over a pattern whose period (11)
        // is not the word's, so that every octet meets every position.
        for len in 0..=255 {
            let mut bytes: Vec<u8> = (0..len).map(|i| b"aZ@[Q\x00\xc1q\x7fMz"[i % 11]).collect();
            let want: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
            let mut copied = vec![0xaa; len];
            copy_lowercase(&bytes, &mut copied);
            assert_eq!(copied, want);
            lowercase_ascii(&mut bytes);
            assert_eq!(bytes, want);
        }
    }

    #[test]
    fn rfc4343_comparison_ignores_ascii_case_only() {
        let upper = wire("WWW.Example.COM.");
        let lower = wire("www.example.com");
        assert_eq!(upper.as_name(), lower.as_name());
        assert!(!upper.as_name().same_spelling(&lower.as_name()));
        assert_eq!(upper.to_key(), lower.to_key());
        assert_eq!(upper.to_key().as_wire(), b"\x03www\x07example\x03com\x00");
        assert_eq!(upper.into_key().as_wire(), lower.to_key().as_wire());
        assert_eq!(
            NameBuf::from_presentation("\\195A")
                .unwrap()
                .into_key()
                .as_wire(),
            b"\x02\xc3a\x00"
        );
        // Non-ASCII octets are not folded (RFC 4343 §3).
        assert_ne!(wire("\\195").as_name(), wire("\\227").as_name());
    }

    #[test]
    fn hash_agrees_with_case_insensitive_equality() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |name: &NameBuf| {
            let mut hasher = DefaultHasher::new();
            name.hash(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash(&wire("A.b.C")), hash(&wire("a.B.c")));
    }

    #[test]
    fn ends_with_is_label_wise() {
        let name = wire("a.gateway.xcc.test");
        assert!(name.as_name().ends_with(&wire("XCC.test").as_name()));
        assert!(name.as_name().ends_with(&Name::ROOT));
        assert!(!name.as_name().ends_with(&wire("cc.test").as_name()));
        assert!(!wire("test").as_name().ends_with(&name.as_name()));
    }

    #[test]
    fn presentation_round_trip_with_escapes() {
        for (text, wire_form) in [
            (".", &b"\x00"[..]),
            ("a.", b"\x01a\x00"),
            ("a.b", b"\x01a\x01b\x00"),
            ("a\\.b.c.", b"\x03a.b\x01c\x00"),
            ("\\000\\255.", b"\x02\x00\xff\x00"),
            ("sp\\032ace.", b"\x06sp ace\x00"),
            ("q\\\"\\\\.", b"\x03q\"\\\x00"),
        ] {
            let name = wire(text);
            assert_eq!(name.as_wire(), wire_form, "{text}");
            let shown = name.to_string();
            assert_eq!(wire(&shown).as_wire(), wire_form, "{text} shown as {shown}");
        }
        assert_eq!(wire("a\\.b.c").to_string(), "a\\.b.c.");
        assert_eq!(wire("\\000x").to_string(), "\\000x.");
        assert_eq!(wire("x\\@y").to_string(), "x\\@y.");
    }

    #[test]
    fn presentation_errors_say_where() {
        for (text, offset) in [
            ("", 0),
            ("a..b", 2),
            (".a", 0),
            ("a\\2", 1),
            ("a\\256", 1),
            ("a\\", 1),
        ] {
            let error = NameBuf::from_presentation(text).unwrap_err();
            assert_eq!(error.kind(), ParseErrorKind::BadPresentation, "{text}");
            assert_eq!(error.offset(), offset, "{text}");
        }
        let long_label = "a".repeat(64);
        assert!(NameBuf::from_presentation(&long_label).is_err());
        let ok_label = "a".repeat(63);
        assert!(NameBuf::from_presentation(&ok_label).is_ok());
        // 127 one-octet labels = 255 octets: the longest legal name.
        let longest = vec!["a"; 127].join(".");
        assert_eq!(wire(&longest).as_wire().len(), 255);
        let too_long = vec!["a"; 128].join(".");
        assert_eq!(
            NameBuf::from_presentation(&too_long).unwrap_err().kind(),
            ParseErrorKind::NameTooLong
        );
    }

    #[test]
    fn key_parent_walks_up_by_labels() {
        let key = wire("A.B.c").to_key();
        assert_eq!(key.parent_wire(0), Some(&b"\x01a\x01b\x01c\x00"[..]));
        assert_eq!(key.parent_wire(1), Some(&b"\x01b\x01c\x00"[..]));
        assert_eq!(key.parent_wire(3), Some(&b"\x00"[..]));
        assert_eq!(key.parent_wire(4), None);
        assert!(key.is_at_or_below(&wire("b.C").to_key()));
        assert!(key.is_at_or_below(&key));
        assert!(!key.is_at_or_below(&wire("x.a.b.c").to_key()));
        assert!(!wire("b.c").to_key().is_at_or_below(&key));
    }

    #[test]
    fn prepend_label_respects_bounds() {
        let base = wire("xcc.test");
        assert_eq!(base.prepend_label(b"*").unwrap().to_string(), "*.xcc.test.");
        assert!(base.prepend_label(b"").is_none());
        assert!(base.prepend_label(&[b'a'; 64]).is_none());
        assert!(
            wire(&vec!["a"; 127].join("."))
                .prepend_label(b"b")
                .is_none()
        );
        assert!(wire("*.x").as_name().is_wildcard());
        assert!(!wire("a*.x").as_name().is_wildcard());
    }
}
