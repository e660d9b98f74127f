//! The message writer: a caller-owned buffer, a hard size limit, name
//! compression, OPT reservation and RRset-level truncation.
//!
//! The writer never allocates. It writes the header last (in
//! [`MessageWriter::finish`]) so that section counts and flags can change
//! until then. The rules it follows:
//!
//! - **Limit.** Nothing is written past `limit`; the limit is the smaller of
//!   the buffer's length, the caller's limit (e.g. the client's EDNS payload
//!   size) and 65535.
//! - **OPT first.** [`MessageWriter::reserve_opt`] writes the OPT record to
//!   the very end of the limit at once and shrinks the limit by its size, so
//!   that answers can never crowd it out (the NSD `reserved_space` idea);
//!   `finish` moves it into place.
//! - **Atomic RRsets.** [`MessageWriter::push_rrset`] writes all records of
//!   an RRset or none. When an answer or authority RRset does not fit, TC is
//!   set (RFC 2181 §9: a partial RRset must never be sent); an additional
//!   RRset that does not fit is just left out (RFC 2181 §9, RFC 1035 §7.2).
//! - **Compression** ([`crate::compress`]) for owners and for names in the
//!   RDATA of NS, CNAME, SOA, PTR and MX; never in SRV or unknown types, nor
//!   in the question. Suffixes match ignoring ASCII case (RFC 4343), so a
//!   compressed name takes the letter case of the earlier name it points to:
//!   the answer owner takes the client's case from the question, as in NSD
//!   and Knot.

use crate::compress::Compressor;
use crate::edns::OptRecord;
use crate::error::WriteError;
use crate::header::{Flags, HEADER_LEN, Header};
use crate::message::{Question, Section};
use crate::name::Name;
use crate::rdata::RData;
use crate::types::{Class, RType, Rcode};

/// The largest DNS message (the TCP length prefix is 16 bits).
pub const MAX_MESSAGE_LEN: usize = 65535;

/// Writes one message into a caller-owned buffer.
#[derive(Debug)]
pub struct MessageWriter<'b> {
    buf: &'b mut [u8],
    /// Bytes written so far, header included.
    len: usize,
    /// Where records may end: the size limit minus the OPT reservation.
    limit: usize,
    /// Length of the reserved OPT record sitting at `limit..limit + opt_len`.
    opt_len: usize,
    header: Header,
    /// The section currently being written; `None` while in the question.
    section: Option<Section>,
    /// The upper eight bits of the RCODE, written into OPT by `finish`.
    extended_rcode: u8,
    compressor: Compressor,
    /// A name written but not yet in `compressor` (the question's): most
    /// answers write no name after the question (their owners are
    /// pointers to it, their records copied whole), so its suffixes are
    /// remembered only when another name is written.
    pending: Option<Written>,
}

/// A name just written uncompressed, for [`Compressor`]: where it starts,
/// its length and its label count.
#[derive(Clone, Copy, Debug)]
struct Written {
    start: usize,
    wire_len: usize,
    label_count: usize,
}

/// An OPT record without options: owner, TYPE, CLASS, TTL, RDLENGTH.
const OPT_FIXED_LEN: usize = 11;

/// A point the writer can roll back to.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    len: usize,
    counts: [u16; 4],
    compressor_len: usize,
    pending: Option<Written>,
    section: Option<Section>,
}

impl<'b> MessageWriter<'b> {
    /// A writer over `buf`, writing at most `limit` bytes (and never more
    /// than `buf.len()` or 65535). Fails with [`WriteError::NoSpace`] when
    /// not even a header fits.
    pub fn new(buf: &'b mut [u8], limit: usize) -> Result<Self, WriteError> {
        let limit = limit.min(buf.len()).min(MAX_MESSAGE_LEN);
        if limit < HEADER_LEN {
            return Err(WriteError::NoSpace);
        }
        Ok(Self {
            buf,
            len: HEADER_LEN,
            limit,
            opt_len: 0,
            header: Header::default(),
            section: None,
            extended_rcode: 0,
            compressor: Compressor::new(),
            pending: None,
        })
    }

    /// Sets the message ID.
    pub fn set_id(&mut self, id: u16) {
        self.header.id = id;
    }

    /// The flags as they will be written.
    pub fn flags(&self) -> Flags {
        self.header.flags
    }

    /// Replaces the flags (QR, opcode, AA, TC, RD, RA, AD, CD, RCODE).
    pub fn set_flags(&mut self, flags: Flags) {
        self.header.flags = flags;
    }

    /// Sets TC.
    pub fn set_truncated(&mut self) {
        self.header.flags = self.header.flags.with_tc(true);
    }

    /// Bytes written so far, header and reserved OPT included.
    pub fn len(&self) -> usize {
        self.len + self.opt_len
    }

    /// Always false: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Where the next record starts: the header, question and records
    /// written so far, the reserved OPT record not counted. A name the
    /// caller knows it wrote uncompressed at offset `p` (inside pre-encoded
    /// RDATA, say) can be pointed at with [`Owner::Offset`]`(p)` while
    /// `p ≤ 0x3FFF` (RFC 1035 §4.1.4: pointers have 14 bits).
    pub fn position(&self) -> usize {
        self.len
    }

    /// Bytes still available for records.
    pub fn remaining(&self) -> usize {
        self.limit - self.len
    }

    /// The counts of the question, answer, authority and additional sections.
    pub fn counts(&self) -> [u16; 4] {
        let h = &self.header;
        [h.qdcount, h.ancount, h.nscount, h.arcount]
    }

    /// Echoes a question exactly as received: the name uncompressed and in
    /// the client's letter case, then type and class. Must come before any
    /// record.
    pub fn push_question(&mut self, question: &Question<'_>) -> Result<(), WriteError> {
        if self.section.is_some() {
            return Err(WriteError::SectionOrder);
        }
        if self.header.qdcount == u16::MAX {
            return Err(WriteError::CountOverflow);
        }
        // The question of an answer: the first name written, in one piece.
        // What the careful path below does, with one bounds check.
        if self.pending.is_none()
            && let Some(wire) = question.qname.contiguous_wire()
        {
            let start = self.len;
            let end = start + wire.len() + 4;
            if end <= self.limit {
                let out = &mut self.buf[start..end];
                out[..wire.len()].copy_from_slice(wire);
                out[wire.len()..wire.len() + 2].copy_from_slice(&question.qtype.0.to_be_bytes());
                out[wire.len() + 2..].copy_from_slice(&question.qclass.0.to_be_bytes());
                self.len = end;
                self.pending = Some(Written {
                    start,
                    wire_len: wire.len(),
                    label_count: question.qname.label_count(),
                });
                self.header.qdcount += 1;
                return Ok(());
            }
        }
        let mark = self.mark();
        // Never compressed, so the question reads back exactly as received
        // (a later question could otherwise take an earlier one's case).
        let result = self
            .write_name(&question.qname, false, true)
            .and_then(|()| self.write_u16(question.qtype.0))
            .and_then(|()| self.write_u16(question.qclass.0));
        match result {
            Ok(()) => {
                self.header.qdcount += 1;
                Ok(())
            }
            Err(e) => {
                self.rollback(mark);
                Err(e)
            }
        }
    }

    /// Reserves room for our OPT record and writes it at the end of the limit
    /// (RFC 6891 §6.1.2: owner root, type OPT, the payload size in CLASS,
    /// extended RCODE, version and flags in TTL). The extended RCODE is the
    /// one given to [`Self::set_rcode`]. Calling it again replaces the
    /// reservation.
    pub fn reserve_opt(&mut self, opt: &OptRecord<'_>) -> Result<(), WriteError> {
        let total_limit = self.limit + self.opt_len;
        let needed = opt.wire_len();
        if self.len + needed > total_limit || opt.options.len() > usize::from(u16::MAX) {
            return Err(WriteError::NoSpace);
        }
        let at = total_limit - needed;
        let out = &mut self.buf[at..total_limit];
        out[0] = 0; // root owner
        out[1..3].copy_from_slice(&RType::OPT.0.to_be_bytes());
        out[3..5].copy_from_slice(&opt.udp_payload_size.to_be_bytes());
        out[5] = 0; // extended RCODE, filled in by finish()
        out[6] = opt.version;
        out[7..9].copy_from_slice(&opt.flags.to_be_bytes());
        out[9..11].copy_from_slice(&(opt.options.len() as u16).to_be_bytes());
        // Ours has no options: no call to copy none.
        if !opt.options.is_empty() {
            out[11..].copy_from_slice(opt.options);
        }
        self.limit = at;
        self.opt_len = needed;
        Ok(())
    }

    /// Sets the full (possibly extended) RCODE: the low four bits go into the
    /// header, the upper eight into the reserved OPT record at `finish`.
    pub fn set_rcode(&mut self, rcode: Rcode) {
        self.extended_rcode = rcode.extended_bits();
        self.header.flags = self.header.flags.with_rcode(rcode);
    }

    /// A point to roll back to.
    pub fn mark(&self) -> Mark {
        Mark {
            len: self.len,
            counts: self.counts(),
            compressor_len: self.compressor.len(),
            pending: self.pending,
            section: self.section,
        }
    }

    /// Forgets everything written since `mark`, compression entries included.
    pub fn rollback(&mut self, mark: Mark) {
        self.len = mark.len;
        let [qd, an, ns, ar] = mark.counts;
        self.header.qdcount = qd;
        self.header.ancount = an;
        self.header.nscount = ns;
        self.header.arcount = ar;
        self.compressor.truncate(mark.compressor_len);
        // A name pending at the mark and remembered since is pending again.
        self.pending = mark.pending;
        self.section = mark.section;
    }

    /// Writes one record, or nothing if it does not fit.
    pub fn push_record(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        rtype: RType,
        class: Class,
        ttl: u32,
        rdata: &RData<'_>,
    ) -> Result<(), WriteError> {
        let mark = self.mark();
        self.record(
            section,
            Owner::Name(owner),
            rtype,
            class,
            ttl,
            RdataSource::Typed(rdata),
        )
        .inspect_err(|_| self.rollback(mark))
    }

    /// Writes one record whose RDATA is given in uncompressed wire form and
    /// copied as is (pre-encoded table data, RFC 3597 opaque types).
    pub fn push_record_wire(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        rtype: RType,
        class: Class,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), WriteError> {
        let mark = self.mark();
        self.record(
            section,
            Owner::Name(owner),
            rtype,
            class,
            ttl,
            RdataSource::Wire(rdata),
        )
        .inspect_err(|_| self.rollback(mark))
    }

    /// Writes every record of one RRset, or none. When it does not fit, the
    /// writer is rolled back and, for the answer and authority sections, TC
    /// is set (RFC 2181 §9); the error is returned either way so the caller
    /// can stop adding records.
    pub fn push_rrset<'r>(
        &mut self,
        section: Section,
        owner: &Name<'_>,
        rtype: RType,
        class: Class,
        ttl: u32,
        rdatas: impl IntoIterator<Item = RData<'r>>,
    ) -> Result<(), WriteError> {
        let mark = self.mark();
        // After the first record, the owner is two bytes that point where
        // the first record's owner went: no second compression search.
        let mut owner_bytes = Owner::Name(owner);
        for rdata in rdatas {
            let at = self.len;
            let result = self.record(
                section,
                owner_bytes,
                rtype,
                class,
                ttl,
                RdataSource::Typed(&rdata),
            );
            if let Err(e) = result {
                self.rollback(mark);
                if e == WriteError::NoSpace && section != Section::Additional {
                    self.set_truncated();
                }
                return Err(e);
            }
            if let Some(pointer) = self.owner_pointer(at) {
                owner_bytes = Owner::Offset(pointer);
            }
        }
        Ok(())
    }

    /// Writes one RRset from pre-encoded record tails, or none of it (with
    /// TC as in [`Self::push_rrset`]).
    ///
    /// `tails` holds the records without their owner, back to back: TYPE,
    /// CLASS, TTL, RDLENGTH and RDATA each, names in the RDATA uncompressed.
    /// This is what a table stores at build time, so that answering is
    /// copying. Records are written starting with record number
    /// `first` (modulo the count) and wrapping around, which rotates the
    /// order from one answer to the next. Tails that are not well formed
    /// are rejected with [`WriteError::BadTails`] and nothing is written.
    pub fn push_rrset_tails(
        &mut self,
        section: Section,
        owner: Owner<'_, '_>,
        tails: &[u8],
        first: usize,
    ) -> Result<(), WriteError> {
        // One pass to count the records and find where record `first`
        // starts; the tails come from our own table, so this is cheap.
        let mut count = 0usize;
        let mut at = 0usize;
        while at < tails.len() {
            let Some(rdlength) = tails.get(at + 8..at + 10) else {
                return Err(WriteError::BadTails);
            };
            at += 10 + usize::from(u16::from_be_bytes([rdlength[0], rdlength[1]]));
            count += 1;
        }
        if at != tails.len() {
            return Err(WriteError::BadTails);
        }
        if count == 0 {
            return Ok(());
        }
        let first = first % count;
        let mut split = 0usize;
        for _ in 0..first {
            split += 10 + usize::from(u16::from_be_bytes([tails[split + 8], tails[split + 9]]));
        }
        if let Owner::Offset(offset) = owner
            && self.fits_whole(section, count, tails.len() + 2 * count)
        {
            // The common answer: every owner the same pointer, the whole
            // RRset known to fit; written in one go, nothing to undo.
            self.section = Some(section);
            let pointer = (0xC000 | offset).to_be_bytes();
            for part in [&tails[split..], &tails[..split]] {
                let mut at = 0;
                while at < part.len() {
                    let len = 10 + usize::from(u16::from_be_bytes([part[at + 8], part[at + 9]]));
                    let start = self.len;
                    self.buf[start..start + 2].copy_from_slice(&pointer);
                    self.buf[start + 2..start + 2 + len].copy_from_slice(&part[at..at + len]);
                    self.len = start + 2 + len;
                    at += len;
                }
            }
            // `fits_whole` checked that the count takes them all.
            self.bump_count(section, count as u16);
            return Ok(());
        }
        let mark = self.mark();
        let mut owner = owner;
        let result = (|| {
            for part in [&tails[split..], &tails[..split]] {
                let mut at = 0;
                while at < part.len() {
                    let len = 10 + usize::from(u16::from_be_bytes([part[at + 8], part[at + 9]]));
                    let start = self.len;
                    self.record_tail(section, owner, &part[at..at + len])?;
                    if let Some(pointer) = self.owner_pointer(start) {
                        owner = Owner::Offset(pointer);
                    }
                    at += len;
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.rollback(mark);
            if e == WriteError::NoSpace && section != Section::Additional {
                self.set_truncated();
            }
            return Err(e);
        }
        Ok(())
    }

    /// Writes the header and moves the OPT record into place; returns the
    /// message length. The message is `buf[..length]`.
    pub fn finish(self) -> usize {
        let Self {
            buf,
            mut len,
            limit,
            opt_len,
            mut header,
            extended_rcode,
            ..
        } = self;
        if opt_len > 0 {
            if opt_len == OPT_FIXED_LEN {
                // The common OPT, without options: a fixed-size copy the
                // compiler does in line.
                let opt: [u8; OPT_FIXED_LEN] = buf[limit..limit + OPT_FIXED_LEN]
                    .try_into()
                    .expect("the reserved OPT");
                buf[len..len + OPT_FIXED_LEN].copy_from_slice(&opt);
            } else {
                buf.copy_within(limit..limit + opt_len, len);
            }
            buf[len + 5] = extended_rcode;
            len += opt_len;
            header.arcount += 1;
        }
        buf[..HEADER_LEN].copy_from_slice(&header.to_bytes());
        len
    }

    //--- Internals

    /// Enters `section`, refusing to go back to an earlier one.
    fn enter(&mut self, section: Section) -> Result<(), WriteError> {
        if !self.may_enter(section) {
            return Err(WriteError::SectionOrder);
        }
        self.section = Some(section);
        Ok(())
    }

    /// Whether `section` is not before the one being written.
    fn may_enter(&self, section: Section) -> bool {
        self.section.is_none_or(|current| current <= section)
    }

    /// Where a pointer reproducing the owner written at `at` points: the
    /// target of its pointer if it was written as one, else `at` itself
    /// (when the offset fits in 14 bits).
    fn owner_pointer(&self, at: usize) -> Option<u16> {
        if self.buf[at] & 0xC0 == 0xC0 {
            Some(u16::from_be_bytes([self.buf[at] & 0x3F, self.buf[at + 1]]))
        } else if at <= 0x3FFF {
            Some(at as u16)
        } else {
            None
        }
    }

    /// Writes one record from its owner and its pre-encoded tail, without
    /// rolling back on failure.
    fn record_tail(
        &mut self,
        section: Section,
        owner: Owner<'_, '_>,
        tail: &[u8],
    ) -> Result<(), WriteError> {
        self.enter(section)?;
        self.bump_count_check(section)?;
        match owner {
            Owner::Name(name) => self.write_name(name, true, true)?,
            Owner::Offset(offset) => self.write_u16(0xC000 | offset)?,
        }
        self.write_bytes(tail)?;
        self.bump_count(section, 1);
        Ok(())
    }

    /// Whether `records` more records of `len` octets in all can go into
    /// `section` with nothing to refuse: the section comes in order, the
    /// count does not overflow, the octets fit.
    fn fits_whole(&self, section: Section, records: usize, len: usize) -> bool {
        self.may_enter(section)
            && records <= usize::from(self.count_room(section))
            && self.len + len <= self.limit
    }

    /// Fails when one more record would overflow the section's count.
    fn bump_count_check(&self, section: Section) -> Result<(), WriteError> {
        if self.count_room(section) == 0 {
            return Err(WriteError::CountOverflow);
        }
        Ok(())
    }

    /// How many more records `section`'s count can take (one slot of the
    /// additional section stays free for OPT).
    fn count_room(&self, section: Section) -> u16 {
        let (count, headroom) = match section {
            Section::Answer => (self.header.ancount, 0),
            Section::Authority => (self.header.nscount, 0),
            Section::Additional => (self.header.arcount, u16::from(self.opt_len > 0)),
        };
        (u16::MAX - headroom).saturating_sub(count)
    }

    /// Counts `records` more records in `section`.
    fn bump_count(&mut self, section: Section, records: u16) {
        match section {
            Section::Answer => self.header.ancount += records,
            Section::Authority => self.header.nscount += records,
            Section::Additional => self.header.arcount += records,
        }
    }

    /// Writes one record without rolling back on failure.
    fn record(
        &mut self,
        section: Section,
        owner: Owner<'_, '_>,
        rtype: RType,
        class: Class,
        ttl: u32,
        rdata: RdataSource<'_, '_>,
    ) -> Result<(), WriteError> {
        self.enter(section)?;
        self.bump_count_check(section)?;
        match owner {
            Owner::Name(name) => self.write_name(name, true, true)?,
            Owner::Offset(offset) => self.write_u16(0xC000 | offset)?,
        }
        self.write_u16(rtype.0)?;
        self.write_u16(class.0)?;
        self.write_bytes(&ttl.to_be_bytes())?;
        let rdlength_at = self.len;
        self.write_u16(0)?;
        match rdata {
            RdataSource::Wire(bytes) => self.write_bytes(bytes)?,
            RdataSource::Typed(rdata) => self.write_rdata(rdata)?,
        }
        let rdlength = self.len - rdlength_at - 2;
        let rdlength = u16::try_from(rdlength).map_err(|_| WriteError::RdataTooLong)?;
        self.buf[rdlength_at..rdlength_at + 2].copy_from_slice(&rdlength.to_be_bytes());
        self.bump_count(section, 1);
        Ok(())
    }

    /// Writes typed RDATA, compressing names where RFC 3597 §4 allows.
    fn write_rdata(&mut self, rdata: &RData<'_>) -> Result<(), WriteError> {
        match rdata {
            RData::A(addr) => self.write_bytes(&addr.octets()),
            RData::Aaaa(addr) => self.write_bytes(&addr.octets()),
            RData::Ns(name) | RData::Cname(name) | RData::Ptr(name) => {
                self.write_name(name, true, true)
            }
            RData::Soa(soa) => {
                self.write_name(&soa.mname, true, true)?;
                self.write_name(&soa.rname, true, true)?;
                for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
                    self.write_bytes(&value.to_be_bytes())?;
                }
                Ok(())
            }
            RData::Mx(mx) => {
                self.write_u16(mx.preference)?;
                self.write_name(&mx.exchange, true, true)
            }
            RData::Srv(srv) => {
                self.write_u16(srv.priority)?;
                self.write_u16(srv.weight)?;
                self.write_u16(srv.port)?;
                // RFC 2782: the target is never compressed, and we do not
                // let later names point into it either.
                self.write_name(&srv.target, false, false)
            }
            RData::Txt(txt) => self.write_bytes(txt.as_wire()),
            RData::Opt(data) => self.write_bytes(data.as_wire()),
            RData::Unknown(bytes) => self.write_bytes(bytes),
        }
    }

    /// Writes a name: the longest suffix already in the output becomes a
    /// pointer when `compress`; every new label position is remembered for
    /// later names when `remember`.
    fn write_name(
        &mut self,
        name: &Name<'_>,
        compress: bool,
        remember: bool,
    ) -> Result<(), WriteError> {
        // Entries go in in the order the names were written.
        if let Some(pending) = self.pending.take() {
            self.remember(
                pending.start,
                pending.wire_len,
                pending.label_count,
                0,
                true,
            );
        }
        let found = if compress {
            self.compressor.find(&self.buf[..self.len], name)
        } else {
            None
        };
        let (labels_to_write, pointer) = match found {
            Some(m) => (m.labels_before, Some(m.offset)),
            None => (name.label_count(), None),
        };
        let start = self.len;
        match name.contiguous_wire() {
            // No pointers in the source: the labels to write are one slice,
            // copied at once (and the root byte with them when uncompressed).
            Some(wire) => {
                let prefix_len = match pointer {
                    Some(_) => {
                        let mut len = 0;
                        for _ in 0..labels_to_write {
                            len += 1 + usize::from(wire[len]);
                        }
                        len
                    }
                    None => wire.len(),
                };
                self.write_bytes(&wire[..prefix_len])?;
            }
            None => {
                for label in name.labels().take(labels_to_write) {
                    self.write_bytes(&[label.len() as u8])?;
                    self.write_bytes(label)?;
                }
                if pointer.is_none() {
                    self.write_bytes(&[0])?;
                }
            }
        }
        match (remember, pointer) {
            // Whole and uncompressed (a question's name): remembered when
            // the next name is written, if one is.
            (true, None) if labels_to_write == name.label_count() => {
                self.pending = Some(Written {
                    start,
                    wire_len: name.wire_len(),
                    label_count: name.label_count(),
                });
            }
            (true, _) => self.remember(
                start,
                name.wire_len(),
                name.label_count(),
                name.label_count() - labels_to_write,
                pointer.is_none(),
            ),
            (false, _) => {}
        }
        match pointer {
            Some(offset) => self.write_u16(0xC000 | offset),
            None => Ok(()),
        }
    }

    /// Puts the label positions of a name written at `start` into the
    /// compression table, walking the output: `wire_len` and `label_count`
    /// are the whole name's, the last `labels_after` of which were not
    /// written there (a pointer stands for them, and `contiguous` is
    /// false).
    fn remember(
        &mut self,
        start: usize,
        wire_len: usize,
        label_count: usize,
        labels_after: usize,
        contiguous: bool,
    ) {
        let mut at = start;
        let mut suffix_len = wire_len;
        for suffix_labels in (labels_after + 1..=label_count).rev() {
            self.compressor
                .insert(at, suffix_len, suffix_labels, contiguous);
            let label_len = 1 + usize::from(self.buf[at]);
            at += label_len;
            suffix_len -= label_len;
        }
    }

    fn write_u16(&mut self, value: u16) -> Result<(), WriteError> {
        self.write_bytes(&value.to_be_bytes())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        let end = self.len + bytes.len();
        if end > self.limit {
            return Err(WriteError::NoSpace);
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// How a record's owner name is written.
#[derive(Clone, Copy, Debug)]
pub enum Owner<'r, 'a> {
    /// A name, compressed against the names already written.
    Name(&'r Name<'a>),
    /// A compression pointer to a name the caller knows is already in the
    /// message at this offset: 12 is the question name, `12 + k` one of its
    /// suffixes (the question is always written uncompressed at 12).
    Offset(u16),
}

/// Where a record's RDATA comes from.
#[derive(Clone, Copy)]
enum RdataSource<'r, 'a> {
    /// A typed value, names compressed where allowed.
    Typed(&'r RData<'a>),
    /// Uncompressed wire bytes, copied as they are.
    Wire(&'r [u8]),
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;

    use super::*;
    use crate::edns::OptionCode;
    use crate::message::Message;
    use crate::name::NameBuf;
    use crate::types::Rcode;

    fn name(text: &str) -> NameBuf {
        NameBuf::from_presentation(text).unwrap()
    }

    /// A query for `qname` A IN, as a message.
    fn query(qname: &str) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.set_id(0x1234);
        let qname = name(qname);
        writer
            .push_question(&Question {
                qname: qname.as_name(),
                qtype: RType::A,
                qclass: Class::IN,
            })
            .unwrap();
        let len = writer.finish();
        buf.truncate(len);
        buf
    }

    fn a(last: u8) -> RData<'static> {
        RData::A(Ipv4Addr::new(10, 0, 0, last))
    }

    /// A question whose name reaches its last labels through a pointer
    /// (so it is not one contiguous slice), read from a message: the
    /// careful path of `push_question` writes it.
    fn pointed_question(qname: &str) -> (Vec<u8>, usize) {
        // Header, then "xcc.test." at 12, then the labels of `qname` before
        // that suffix and a pointer to 12.
        let full = name(qname);
        let suffix = name("xcc.test");
        let mut message = vec![0u8; 12];
        message.extend_from_slice(suffix.as_name().contiguous_wire().unwrap());
        let at = message.len();
        let labels: Vec<&[u8]> = full.as_name().labels().collect();
        for label in &labels[..labels.len() - 2] {
            message.push(label.len() as u8);
            message.extend_from_slice(label);
        }
        message.extend_from_slice(&[0xc0, 12]);
        (message, at)
    }

    #[test]
    fn the_question_in_one_piece_is_written_as_the_careful_path_writes_it() {
        for qname in [
            "xcc.test",
            "a.xcc.test",
            "Mixed-Case.gateway.c1.ns.clusters.xcc.test",
        ] {
            let (message, at) = pointed_question(qname);
            let (pointed, _) = Name::parse_in_message(&message, at).unwrap();
            let whole = name(qname);
            assert!(pointed.contiguous_wire().is_none());
            assert!(whole.as_name().contiguous_wire().is_some());
            let needed = HEADER_LEN + whole.as_name().wire_len() + 4;
            // With room to spare, to the last octet, and one short.
            for limit in [512, needed, needed - 1] {
                let write = |qname: Name<'_>| {
                    let mut buf = vec![0u8; 512];
                    let mut writer = MessageWriter::new(&mut buf, limit).unwrap();
                    let result = writer.push_question(&Question {
                        qname,
                        qtype: RType::AAAA,
                        qclass: Class::IN,
                    });
                    // A later name compressed against the question.
                    let later = name("other.xcc.test");
                    let _ = writer.push_record(
                        Section::Answer,
                        &later.as_name(),
                        RType::A,
                        Class::IN,
                        30,
                        &a(1),
                    );
                    let len = writer.finish();
                    (result, buf[..len].to_vec())
                };
                assert_eq!(
                    write(whole.as_name()),
                    write(pointed),
                    "{qname} within {limit}"
                );
            }
        }
    }

    #[test]
    fn rfc1035_4_1_4_owner_equal_to_question_becomes_pointer_to_12_keeping_case() {
        let q = query("KuArD.Gateway.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.push_question(&question).unwrap();
        let owner = name("kuard.gateway.xcc.test");
        writer
            .push_rrset(
                Section::Answer,
                &owner.as_name(),
                RType::A,
                Class::IN,
                30,
                [a(1), a(2)],
            )
            .unwrap();
        let len = writer.finish();
        let answer = &buf[..len];
        // Question echoed in the client's case.
        assert_eq!(&answer[12..18], b"\x05KuArD");
        // Both owners are the pointer 0xC00C.
        let first_rr = q.len();
        assert_eq!(&answer[first_rr..first_rr + 2], &[0xC0, 0x0C]);
        assert_eq!(&answer[first_rr + 16..first_rr + 18], &[0xC0, 0x0C]);
        let parsed = Message::parse(answer).unwrap();
        let owners: Vec<String> = parsed.answers().map(|r| r.owner.to_string()).collect();
        assert_eq!(
            owners,
            ["KuArD.Gateway.xcc.test.", "KuArD.Gateway.xcc.test."]
        );
    }

    #[test]
    fn suffix_compression_points_into_the_question() {
        let q = query("a.b.xcc.test");
        let message = Message::parse(&q).unwrap();
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.push_question(&message.question().unwrap()).unwrap();
        let target = name("www.xcc.test");
        writer
            .push_record(
                Section::Answer,
                &message.question().unwrap().qname,
                RType::CNAME,
                Class::IN,
                30,
                &RData::Cname(target.as_name()),
            )
            .unwrap();
        let len = writer.finish();
        // CNAME RDATA: "www" then a pointer to "xcc.test" at 12 + 2 + 2 = 16.
        assert_eq!(&buf[len - 6..len], b"\x03www\xC0\x10");
        let parsed = Message::parse(&buf[..len]).unwrap();
        let record = parsed.answers().next().unwrap();
        assert_eq!(record.rdata, RData::Cname(target.as_name()));
    }

    #[test]
    fn rfc2782_srv_target_is_never_compressed() {
        let q = query("_http._tcp.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.push_question(&question).unwrap();
        let target = name("web.xcc.test");
        let srv = RData::Srv(crate::rdata::Srv {
            priority: 1,
            weight: 2,
            port: 80,
            target: target.as_name(),
        });
        writer
            .push_record(
                Section::Answer,
                &question.qname,
                RType::SRV,
                Class::IN,
                30,
                &srv,
            )
            .unwrap();
        let len = writer.finish();
        assert_eq!(&buf[len - 14..len], b"\x03web\x03xcc\x04test\x00");
    }

    #[test]
    fn rfc2181_9_rrset_that_does_not_fit_is_dropped_whole_and_sets_tc() {
        let q = query("big.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let mut buf = [0u8; 512];
        // Room for the question and exactly 3 A records of 16 bytes.
        let limit = q.len() + 3 * 16;
        let mut writer = MessageWriter::new(&mut buf, limit).unwrap();
        writer.push_question(&question).unwrap();
        writer
            .push_rrset(
                Section::Answer,
                &question.qname,
                RType::A,
                Class::IN,
                30,
                [a(1), a(2)],
            )
            .unwrap();
        let error = writer
            .push_rrset(
                Section::Authority,
                &question.qname,
                RType::A,
                Class::IN,
                30,
                [a(3), a(4)],
            )
            .unwrap_err();
        assert_eq!(error, WriteError::NoSpace);
        assert!(writer.flags().tc());
        let len = writer.finish();
        assert_eq!(len, q.len() + 2 * 16, "the half-written RRset is gone");
        let parsed = Message::parse(&buf[..len]).unwrap();
        assert_eq!(parsed.header().ancount, 2);
        assert_eq!(parsed.header().nscount, 0);
        assert!(parsed.header().flags.tc());
    }

    #[test]
    fn additional_rrset_that_does_not_fit_is_dropped_without_tc() {
        let q = query("x.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, q.len() + 16).unwrap();
        writer.push_question(&question).unwrap();
        writer
            .push_rrset(
                Section::Additional,
                &question.qname,
                RType::A,
                Class::IN,
                1,
                [a(1), a(2)],
            )
            .unwrap_err();
        assert!(!writer.flags().tc());
    }

    #[test]
    fn rfc6891_opt_is_reserved_first_and_carries_extended_rcode() {
        let q = query("x.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let mut buf = [0u8; 512];
        let cookie = b"\x00\x0a\x00\x08ABCDEFGH";
        let opt = OptRecord {
            udp_payload_size: 1232,
            version: 0,
            flags: 0x8000,
            options: cookie,
        };
        // Room for the question, the OPT and one A record, not two.
        let limit = q.len() + opt.wire_len() + 16 + 8;
        let mut writer = MessageWriter::new(&mut buf, limit).unwrap();
        writer.push_question(&question).unwrap();
        writer.reserve_opt(&opt).unwrap();
        writer.set_rcode(Rcode::BADVERS);
        writer
            .push_rrset(
                Section::Answer,
                &question.qname,
                RType::A,
                Class::IN,
                1,
                [a(1)],
            )
            .unwrap();
        writer
            .push_rrset(
                Section::Answer,
                &question.qname,
                RType::A,
                Class::IN,
                1,
                [a(2)],
            )
            .unwrap_err();
        let len = writer.finish();
        let parsed = Message::parse(&buf[..len]).unwrap();
        let edns = parsed.edns().expect("OPT kept despite the full answer");
        assert_eq!(edns.udp_payload_size, 1232);
        assert!(edns.dnssec_ok());
        assert_eq!(edns.option(OptionCode::COOKIE), Some(&b"ABCDEFGH"[..]));
        assert_eq!(parsed.rcode(), Rcode::BADVERS);
        assert_eq!(parsed.header().flags.rcode(), Rcode::NOERROR);
        assert_eq!(parsed.header().arcount, 1);
        assert_eq!(parsed.header().ancount, 1);
    }

    #[test]
    fn rollback_forgets_compression_entries() {
        let q = query("q.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.push_question(&question).unwrap();
        let mark = writer.mark();
        let other = name("other.example");
        writer
            .push_record(
                Section::Answer,
                &other.as_name(),
                RType::A,
                Class::IN,
                1,
                &a(1),
            )
            .unwrap();
        writer.rollback(mark);
        // Written again after the rollback: must not point at the forgotten
        // bytes, which the next record overwrites.
        writer
            .push_record(
                Section::Answer,
                &question.qname,
                RType::A,
                Class::IN,
                1,
                &a(2),
            )
            .unwrap();
        writer
            .push_record(
                Section::Answer,
                &other.as_name(),
                RType::A,
                Class::IN,
                1,
                &a(3),
            )
            .unwrap();
        let len = writer.finish();
        let parsed = Message::parse(&buf[..len]).unwrap();
        let owners: Vec<String> = parsed.answers().map(|r| r.owner.to_string()).collect();
        assert_eq!(owners, ["q.xcc.test.", "other.example."]);
    }

    #[test]
    fn the_question_is_remembered_for_compression_even_across_a_rollback() {
        // The question's suffixes enter the compression table only when a
        // later name is written; a rollback past that point must leave
        // them to be remembered again, not forget them.
        let q = query("a.b.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.push_question(&question).unwrap();
        let mark = writer.mark();
        let target = name("www.xcc.test");
        let cname = |writer: &mut MessageWriter<'_>| {
            writer
                .push_record(
                    Section::Answer,
                    &question.qname,
                    RType::CNAME,
                    Class::IN,
                    30,
                    &RData::Cname(target.as_name()),
                )
                .unwrap()
        };
        cname(&mut writer);
        writer.rollback(mark);
        cname(&mut writer);
        let len = writer.finish();
        // The owner points at the question, the target's "xcc.test" into it.
        assert_eq!(&buf[len - 6..len], b"\x03www\xC0\x10");
        let parsed = Message::parse(&buf[..len]).unwrap();
        let record = parsed.answers().next().unwrap();
        assert_eq!(&buf[q.len()..q.len() + 2], &[0xC0, 0x0C]);
        assert_eq!(record.rdata, RData::Cname(target.as_name()));
    }

    #[test]
    fn sections_must_come_in_order() {
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        let owner = name("x");
        writer
            .push_record(
                Section::Authority,
                &owner.as_name(),
                RType::A,
                Class::IN,
                1,
                &a(1),
            )
            .unwrap();
        assert_eq!(
            writer.push_record(
                Section::Answer,
                &owner.as_name(),
                RType::A,
                Class::IN,
                1,
                &a(1)
            ),
            Err(WriteError::SectionOrder)
        );
        let question = Question {
            qname: owner.as_name(),
            qtype: RType::A,
            qclass: Class::IN,
        };
        assert_eq!(
            writer.push_question(&question),
            Err(WriteError::SectionOrder)
        );
    }

    #[test]
    fn limit_below_header_is_refused_and_never_exceeded() {
        let mut small = [0u8; 11];
        assert_eq!(
            MessageWriter::new(&mut small, 512).unwrap_err(),
            WriteError::NoSpace
        );
        let mut buf = [0u8; 100];
        let mut writer = MessageWriter::new(&mut buf, 40).unwrap();
        let owner = name("abcdefghij.example");
        let result = writer.push_record(
            Section::Answer,
            &owner.as_name(),
            RType::A,
            Class::IN,
            1,
            &a(1),
        );
        assert_eq!(result, Err(WriteError::NoSpace));
        assert_eq!(writer.finish(), 12);
    }

    /// TYPE A, CLASS IN, TTL 30, RDLENGTH 4, then the address.
    fn a_tail(last: u8) -> [u8; 14] {
        [0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, last]
    }

    #[test]
    fn tails_are_written_rotated_behind_a_pointer_to_the_question() {
        let q = query("Kuard.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let tails: Vec<u8> = [a_tail(1), a_tail(2), a_tail(3)].concat();
        for first in 0..4 {
            let mut buf = [0u8; 512];
            let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
            writer.push_question(&question).unwrap();
            writer
                .push_rrset_tails(Section::Answer, Owner::Offset(12), &tails, first)
                .unwrap();
            let len = writer.finish();
            let parsed = Message::parse(&buf[..len]).unwrap();
            let order: Vec<String> = parsed
                .answers()
                .map(|r| {
                    assert!(r.owner.same_spelling(&question.qname));
                    match r.rdata {
                        RData::A(a) => a.octets()[3].to_string(),
                        other => panic!("{other:?}"),
                    }
                })
                .collect();
            let expected = match first % 3 {
                0 => ["1", "2", "3"],
                1 => ["2", "3", "1"],
                _ => ["3", "1", "2"],
            };
            assert_eq!(order, expected, "first = {first}");
        }
    }

    #[test]
    fn tails_with_a_named_owner_and_a_tc_on_overflow() {
        let q = query("a.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let tails: Vec<u8> = [a_tail(1), a_tail(2)].concat();
        let target = name("www.xcc.test");
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, q.len() + 20).unwrap();
        writer.push_question(&question).unwrap();
        let error = writer
            .push_rrset_tails(Section::Answer, Owner::Name(&target.as_name()), &tails, 0)
            .unwrap_err();
        assert_eq!(error, WriteError::NoSpace);
        assert!(writer.flags().tc());
        assert_eq!(writer.finish(), q.len());

        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.push_question(&question).unwrap();
        writer
            .push_rrset_tails(Section::Answer, Owner::Name(&target.as_name()), &tails, 0)
            .unwrap();
        let len = writer.finish();
        let parsed = Message::parse(&buf[..len]).unwrap();
        let owners: Vec<String> = parsed.answers().map(|r| r.owner.to_string()).collect();
        assert_eq!(owners, ["www.xcc.test.", "www.xcc.test."]);
    }

    #[test]
    fn an_rrset_behind_a_pointer_fits_to_the_last_octet_or_not_at_all() {
        // Written in one go when the whole RRset fits; one octet short, it
        // is refused whole and TC set, like any other.
        let q = query("kuard.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let tails: Vec<u8> = [a_tail(1), a_tail(2)].concat();
        let whole = q.len() + 2 * (2 + 14);
        for (limit, fits) in [(whole, true), (whole - 1, false)] {
            let mut buf = [0u8; 512];
            let mut writer = MessageWriter::new(&mut buf, limit).unwrap();
            writer.push_question(&question).unwrap();
            let result = writer.push_rrset_tails(Section::Answer, Owner::Offset(12), &tails, 1);
            assert_eq!(result.is_ok(), fits, "limit {limit}");
            assert_eq!(writer.flags().tc(), !fits);
            assert_eq!(writer.counts(), [1, u16::from(fits) * 2, 0, 0]);
            let len = writer.finish();
            assert_eq!(len, if fits { whole } else { q.len() });
            if fits {
                let records = &buf[q.len()..len];
                assert_eq!(&records[..2], &[0xC0, 0x0C]);
                assert_eq!(&records[2..16], &a_tail(2));
                assert_eq!(&records[16..18], &[0xC0, 0x0C]);
                assert_eq!(&records[18..32], &a_tail(1));
            }
        }
    }

    #[test]
    fn malformed_tails_are_refused_whole() {
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        let mut tails = a_tail(1).to_vec();
        tails.push(0);
        assert_eq!(
            writer.push_rrset_tails(Section::Answer, Owner::Offset(12), &tails, 0),
            Err(WriteError::BadTails)
        );
        assert_eq!(
            writer.push_rrset_tails(Section::Answer, Owner::Offset(12), &tails[..9], 0),
            Err(WriteError::BadTails)
        );
        assert_eq!(writer.counts(), [0, 0, 0, 0]);
    }

    /// A name inside pre-encoded RDATA (a CNAME target) can be an owner
    /// later in the message: `position()` says where the RDATA went, the
    /// reserved OPT record not counted.
    #[test]
    fn position_points_into_rdata_written_from_tails() {
        let q = query("alias.xcc.test");
        let message = Message::parse(&q).unwrap();
        let question = message.question().unwrap();
        let target = b"\x02lb\x07example\x03com\x00";
        let mut cname = vec![0, 5, 0, 1, 0, 0, 0, 30, 0, target.len() as u8];
        cname.extend_from_slice(target);
        let mut buf = [0u8; 512];
        let mut writer = MessageWriter::new(&mut buf, 512).unwrap();
        writer.push_question(&question).unwrap();
        let opt = OptRecord {
            udp_payload_size: 1232,
            version: 0,
            flags: 0,
            options: &[],
        };
        writer.reserve_opt(&opt).unwrap();
        assert_eq!(writer.position(), q.len());
        writer
            .push_rrset_tails(Section::Answer, Owner::Offset(12), &cname, 0)
            .unwrap();
        let target_at = writer.position() - target.len();
        assert_eq!(target_at, q.len() + 12);
        writer
            .push_rrset_tails(
                Section::Answer,
                Owner::Offset(target_at as u16),
                &a_tail(7),
                0,
            )
            .unwrap();
        let len = writer.finish();
        let parsed = Message::parse(&buf[..len]).unwrap();
        let owners: Vec<String> = parsed.answers().map(|r| r.owner.to_string()).collect();
        assert_eq!(owners, ["alias.xcc.test.", "lb.example.com."]);
    }
}
