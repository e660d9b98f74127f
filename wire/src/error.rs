//! Errors of the codec: what is wrong with a message, and where.
//!
//! Both error types are small `Copy` values with a hand-written `Display`, so
//! that the hot path can return them without allocating and a server can map
//! them to an outcome (FORMERR or silence) with a `match`.

use core::fmt;

/// What is wrong with a message that failed to parse.
///
/// Every variant is a rule of RFC 1035 (or of RFC 6891 for OPT) that the bytes
/// break; [`ParseError`] adds the offset at which it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Fewer than the 12 octets of the header (RFC 1035 §4.1.1).
    ShortHeader,
    /// The message ends inside a field, a name or a record.
    UnexpectedEnd,
    /// A label type 0x40 or 0x80 (reserved, RFC 6891 §5 retired 0x40).
    ReservedLabelType,
    /// A name longer than 255 octets once decompressed (RFC 1035 §3.1).
    NameTooLong,
    /// A compression pointer that does not point strictly before every byte of
    /// the name read so far: forward pointers, self pointers and loops
    /// (RFC 1035 §4.1.4 only allows pointers to a *prior* occurrence).
    PointerNotBackward,
    /// A compression pointer into the 12-octet header.
    PointerIntoHeader,
    /// More compression pointers in one name than any valid name needs.
    TooManyPointers,
    /// A compression pointer where RFC 3597 §4 / a stand-alone name forbids
    /// one.
    CompressionNotAllowed,
    /// RDLENGTH runs past the end of the message.
    RdataPastEnd,
    /// The RDATA of a known type does not have the shape its type requires
    /// (wrong fixed length, a name or string running past RDLENGTH, bytes
    /// left over after the last field).
    RdataMalformed,
    /// Bytes after the last record the header counts announce.
    TrailingBytes,
    /// More than one OPT record (RFC 6891 §6.1.1).
    MultipleOpt,
    /// An OPT record whose owner is not the root (RFC 6891 §6.1.2).
    OptOwnerNotRoot,
    /// An OPT record outside the additional section (RFC 6891 §6.1.1).
    OptNotInAdditional,
    /// An EDNS option that runs past the end of the OPT RDATA (RFC 6891 §6.1.2).
    OptOptionMalformed,
    /// A presentation-format name that cannot be parsed (bad escape, empty
    /// label, label or name too long).
    BadPresentation,
}

impl ParseErrorKind {
    /// A short, fixed description of the rule that was broken.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ShortHeader => "message shorter than the 12-octet header",
            Self::UnexpectedEnd => "message ends inside a field",
            Self::ReservedLabelType => "reserved label type (0x40 or 0x80)",
            Self::NameTooLong => "name longer than 255 octets",
            Self::PointerNotBackward => "compression pointer does not point backwards",
            Self::PointerIntoHeader => "compression pointer into the header",
            Self::TooManyPointers => "too many compression pointers in one name",
            Self::CompressionNotAllowed => "compression pointer where none is allowed",
            Self::RdataPastEnd => "RDLENGTH runs past the end of the message",
            Self::RdataMalformed => "RDATA does not match its type",
            Self::TrailingBytes => "trailing bytes after the last record",
            Self::MultipleOpt => "more than one OPT record",
            Self::OptOwnerNotRoot => "OPT record owner is not the root",
            Self::OptNotInAdditional => "OPT record outside the additional section",
            Self::OptOptionMalformed => "EDNS option runs past the OPT RDATA",
            Self::BadPresentation => "malformed presentation-format name",
        }
    }
}

/// A parse failure: what is wrong and at which byte offset of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ParseErrorKind,
    offset: usize,
}

impl ParseError {
    /// Creates an error of `kind` found at `offset`.
    pub const fn new(kind: ParseErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// What is wrong.
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The offset into the message (or presentation text) where the problem
    /// was found.
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind.as_str(), self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Why the writer refused an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteError {
    /// The item does not fit within the size limit. The writer is unchanged:
    /// whatever was partially written has been rolled back.
    NoSpace,
    /// A record was pushed into a section that comes before one already
    /// written (sections are answer, authority, additional, in that order),
    /// or a question after a record.
    SectionOrder,
    /// A section would hold more than 65535 entries.
    CountOverflow,
    /// RDATA longer than 65535 octets.
    RdataTooLong,
    /// Pre-encoded record tails whose RDLENGTH fields do not add up.
    BadTails,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoSpace => "no space left within the message size limit",
            Self::SectionOrder => "records must be written in section order",
            Self::CountOverflow => "more than 65535 entries in one section",
            Self::RdataTooLong => "RDATA longer than 65535 octets",
            Self::BadTails => "pre-encoded records are not well formed",
        })
    }
}

impl std::error::Error for WriteError {}
