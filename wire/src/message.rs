//! A whole message, validated once and then viewed without copying.
//!
//! [`Message::parse`] walks every entry the header announces, decoding each
//! name and each typed RDATA, so that a message either parses completely or
//! not at all: counts that promise more than is there, RDLENGTH past the end,
//! trailing garbage and misplaced OPT records are errors with the offset at
//! which they were found. What it keeps is small: the header, the offsets of
//! the sections and the EDNS fields. The section iterators re-read records
//! lazily from the validated bytes.

use crate::edns::{Edns, OptData};
use crate::error::{ParseError, ParseErrorKind};
use crate::header::{HEADER_LEN, Header};
use crate::name::Name;
use crate::rdata::RData;
use crate::reader::Reader;
use crate::types::{Class, RType, Rcode};

/// The three record sections (RFC 1035 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// Records answering the question.
    Answer,
    /// Records pointing toward an authority (NS, or SOA in negative answers).
    Authority,
    /// Records that help but are not required (OPT lives here).
    Additional,
}

/// One entry of the question section (RFC 1035 §4.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    /// The name asked about, in the client's letter case.
    pub qname: Name<'a>,
    /// The type asked for.
    pub qtype: RType,
    /// The class asked for.
    pub qclass: Class,
}

/// One resource record (RFC 1035 §4.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The owner name.
    pub owner: Name<'a>,
    /// The record type.
    pub rtype: RType,
    /// The class (for OPT: the UDP payload size).
    pub class: Class,
    /// The TTL in seconds (for OPT: extended RCODE, version and flags).
    pub ttl: u32,
    /// The typed RDATA.
    pub rdata: RData<'a>,
    /// The RDATA exactly as on the wire (names possibly compressed).
    pub rdata_wire: &'a [u8],
}

/// A validated message borrowed from a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    header: Header,
    /// Offsets where each section starts; the question starts at 12.
    answer_start: usize,
    authority_start: usize,
    additional_start: usize,
    /// The first question, kept because nearly every caller wants it.
    question: Option<Question<'a>>,
    edns: Option<Edns<'a>>,
}

impl<'a> Message<'a> {
    /// Parses and validates a whole message.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let header = Header::from_bytes(bytes)
            .ok_or(ParseError::new(ParseErrorKind::ShortHeader, bytes.len()))?;
        let mut reader = Reader::new(bytes, HEADER_LEN);
        let mut question = None;
        for _ in 0..header.qdcount {
            let parsed = parse_question(&mut reader)?;
            question.get_or_insert(parsed);
        }
        let answer_start = reader.pos();
        let mut edns = None;
        for _ in 0..header.ancount {
            check_not_opt(&skim_record(&mut reader)?)?;
        }
        let authority_start = reader.pos();
        for _ in 0..header.nscount {
            check_not_opt(&skim_record(&mut reader)?)?;
        }
        let additional_start = reader.pos();
        for _ in 0..header.arcount {
            let record = skim_record(&mut reader)?;
            if let Some(data) = record.opt {
                // RFC 6891 §6.1.1: at most one OPT, owned by the root.
                if edns.is_some() {
                    return Err(ParseError::new(ParseErrorKind::MultipleOpt, record.start));
                }
                if !record.owner_is_root {
                    return Err(ParseError::new(
                        ParseErrorKind::OptOwnerNotRoot,
                        record.start,
                    ));
                }
                edns = Some(Edns::from_record(record.class.0, record.ttl, data));
            }
        }
        reader.finish(ParseErrorKind::TrailingBytes)?;
        Ok(Self {
            bytes,
            header,
            answer_start,
            authority_start,
            additional_start,
            question,
            edns,
        })
    }

    /// The message bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The header as received.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The full RCODE: the header's four bits extended by OPT's eight
    /// (RFC 6891 §6.1.3).
    pub fn rcode(&self) -> Rcode {
        let low = self.header.flags.rcode().0;
        let high = self.edns.map_or(0, |e| u16::from(e.extended_rcode));
        Rcode((high << 4) | low)
    }

    /// The first question, if the message has one.
    pub fn question(&self) -> Option<Question<'a>> {
        self.question
    }

    /// Every question, in order.
    pub fn questions(&self) -> Questions<'a> {
        Questions {
            reader: Reader::new(self.bytes, HEADER_LEN),
            remaining: self.header.qdcount,
        }
    }

    /// The records of one section, in order; OPT included in the additional
    /// section.
    pub fn records(&self, section: Section) -> Records<'a> {
        let (start, count) = match section {
            Section::Answer => (self.answer_start, self.header.ancount),
            Section::Authority => (self.authority_start, self.header.nscount),
            Section::Additional => (self.additional_start, self.header.arcount),
        };
        Records {
            reader: Reader::new(self.bytes, start),
            remaining: count,
        }
    }

    /// The answer section.
    pub fn answers(&self) -> Records<'a> {
        self.records(Section::Answer)
    }

    /// The authority section.
    pub fn authority(&self) -> Records<'a> {
        self.records(Section::Authority)
    }

    /// The additional section.
    pub fn additional(&self) -> Records<'a> {
        self.records(Section::Additional)
    }

    /// The EDNS fields, when the message has an OPT record.
    pub fn edns(&self) -> Option<Edns<'a>> {
        self.edns
    }
}

/// Rejects OPT outside the additional section (RFC 6891 §6.1.1).
fn check_not_opt(record: &Skimmed<'_>) -> Result<(), ParseError> {
    if record.rtype == RType::OPT {
        return Err(ParseError::new(
            ParseErrorKind::OptNotInAdditional,
            record.start,
        ));
    }
    Ok(())
}

/// What [`Message::parse`] keeps of a record while validating it: small, so
/// that validation does not move whole [`Record`]s around.
#[derive(Debug, PartialEq)]
struct Skimmed<'a> {
    start: usize,
    owner_is_root: bool,
    rtype: RType,
    class: Class,
    ttl: u32,
    opt: Option<OptData<'a>>,
}

/// Validates one record (owner, fields, typed RDATA) and keeps the little
/// the message parser needs.
fn skim_record<'a>(reader: &mut Reader<'a>) -> Result<Skimmed<'a>, ParseError> {
    match skim_root_opt(reader) {
        Some(skimmed) => skimmed,
        None => skim_any_record(reader),
    }
}

/// The record almost every query carries, an OPT owned by the root, skimmed
/// without the general name decoder and RDATA dispatch; `None` (nothing
/// read) for any other record, or one too short to hold the fixed fields,
/// which [`skim_any_record`] then reads. Where both read a record, they
/// return the same result and leave the reader at the same place.
#[inline]
fn skim_root_opt<'a>(reader: &mut Reader<'a>) -> Option<Result<Skimmed<'a>, ParseError>> {
    // Owner (the root: one zero octet), TYPE, CLASS, TTL, RDLENGTH.
    const FIXED: usize = 1 + 2 + 2 + 4 + 2;
    let start = reader.pos();
    let fixed = reader.message().get(start..start + FIXED)?;
    if reader.remaining() < FIXED || fixed[..3] != [0, 0, 41] {
        return None;
    }
    let class = Class(u16::from_be_bytes([fixed[3], fixed[4]]));
    let ttl = u32::from_be_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]);
    let rdlength = usize::from(u16::from_be_bytes([fixed[9], fixed[10]]));
    reader.skip_fixed(FIXED);
    Some(skim_opt_rdata(reader, rdlength).map(|opt| Skimmed {
        start,
        owner_is_root: true,
        rtype: RType::OPT,
        class,
        ttl,
        opt: Some(opt),
    }))
}

/// Takes `rdlength` octets of OPT RDATA and validates its options, with the
/// errors (and offsets) [`RData::parse`] gives.
fn skim_opt_rdata<'a>(reader: &mut Reader<'a>, rdlength: usize) -> Result<OptData<'a>, ParseError> {
    let rdata = reader.sub(rdlength, ParseErrorKind::RdataPastEnd)?;
    let at = rdata.pos();
    OptData::from_wire(&rdata.message()[at..at + rdlength])
        .map_err(|e| ParseError::new(e.kind(), at + e.offset()))
}

/// How the OPT fast path reads the record at `at` of `bytes`, beside the
/// general one: `None` when it declines (and leaves the reader where it
/// was), else whether both give the same result (error kinds and offsets
/// included) and leave the reader at the same place. For the tests and the
/// fuzz targets.
#[cfg(any(test, fuzzing, feature = "fuzzing"))]
pub(crate) fn opt_skims_agree(bytes: &[u8], at: usize) -> Option<bool> {
    let mut fast = Reader::new(bytes, at);
    let Some(fast_result) = skim_root_opt(&mut fast) else {
        return (fast.pos() != at).then_some(false);
    };
    let mut general = Reader::new(bytes, at);
    Some(match (fast_result, skim_any_record(&mut general)) {
        (Ok(a), Ok(b)) => a == b && fast.pos() == general.pos(),
        (Err(a), Err(b)) => (a.kind(), a.offset()) == (b.kind(), b.offset()),
        _ => false,
    })
}

/// [`skim_record`] for any record.
fn skim_any_record<'a>(reader: &mut Reader<'a>) -> Result<Skimmed<'a>, ParseError> {
    let start = reader.pos();
    let owner = reader.name(true)?;
    let rtype = RType(reader.u16()?);
    let class = Class(reader.u16()?);
    let ttl = reader.u32()?;
    let rdlength = usize::from(reader.u16()?);
    let rdata_reader = reader.sub(rdlength, ParseErrorKind::RdataPastEnd)?;
    let opt = match RData::parse(rtype, class, rdata_reader)? {
        RData::Opt(data) => Some(data),
        _ => None,
    };
    Ok(Skimmed {
        start,
        owner_is_root: owner.is_root(),
        rtype,
        class,
        ttl,
        opt,
    })
}

/// Reads one question entry.
fn parse_question<'a>(reader: &mut Reader<'a>) -> Result<Question<'a>, ParseError> {
    Ok(Question {
        qname: reader.name(true)?,
        qtype: RType(reader.u16()?),
        qclass: Class(reader.u16()?),
    })
}

/// Reads one resource record, validating its RDATA.
fn parse_record<'a>(reader: &mut Reader<'a>) -> Result<Record<'a>, ParseError> {
    let owner = reader.name(true)?;
    let rtype = RType(reader.u16()?);
    let class = Class(reader.u16()?);
    let ttl = reader.u32()?;
    let rdlength = usize::from(reader.u16()?);
    let rdata_reader = reader.sub(rdlength, ParseErrorKind::RdataPastEnd)?;
    let start = rdata_reader.pos();
    let rdata_wire = &reader.message()[start..start + rdlength];
    let rdata = RData::parse(rtype, class, rdata_reader)?;
    Ok(Record {
        owner,
        rtype,
        class,
        ttl,
        rdata,
        rdata_wire,
    })
}

/// Iterator over the question section of a parsed [`Message`].
#[derive(Clone, Debug)]
pub struct Questions<'a> {
    reader: Reader<'a>,
    remaining: u16,
}

impl<'a> Iterator for Questions<'a> {
    type Item = Question<'a>;

    fn next(&mut self) -> Option<Question<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // The message was validated, so this cannot fail; `ok()` keeps the
        // iterator panic-free all the same.
        parse_question(&mut self.reader).ok()
    }
}

/// Iterator over one record section of a parsed [`Message`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    reader: Reader<'a>,
    remaining: u16,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        parse_record(&mut self.reader).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OPT record owned by the root: payload 1232, DO set, a cookie
    /// option (8 octets) and an empty padding option.
    const OPT: [u8; 27] = [
        0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 16, // owner .. RDLENGTH
        0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, // COOKIE
        0, 12, 0, 0, // PADDING
    ];

    /// [`opt_skims_agree`] on `record` placed after a header.
    fn skims_agree(record: &[u8]) -> Option<bool> {
        let mut message = vec![0u8; HEADER_LEN];
        message.extend_from_slice(record);
        opt_skims_agree(&message, HEADER_LEN)
    }

    #[test]
    fn the_opt_fast_path_reads_every_record_as_the_general_path_does() {
        let mut taken = 0;
        let mut check = |record: &[u8]| match skims_agree(record) {
            Some(true) => taken += 1,
            Some(false) => panic!("{record:?}: the fast path reads it otherwise"),
            None => {}
        };
        // Every truncation, then every value of every octet (type, RDLENGTH
        // and option lengths included), each also with a trailing octet.
        for len in 0..=OPT.len() {
            check(&OPT[..len]);
        }
        for at in 0..OPT.len() {
            for value in 0..=255u8 {
                let mut record = OPT;
                record[at] = value;
                check(&record);
                let mut longer = record.to_vec();
                longer.push(0);
                check(&longer);
            }
        }
        // The fast path did read most of them (it is not declining all).
        assert!(taken > 10_000, "the fast path took {taken}");
    }

    #[test]
    fn the_opt_fast_path_declines_other_records() {
        // Type A at the root, an OPT under a non-root owner, a pointer owner.
        for record in [
            &[0u8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4][..],
            &[1, b'a', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0],
            &[0xc0, 12, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0],
        ] {
            assert_eq!(skims_agree(record), None, "{record:?}");
        }
    }
}
