//! A bounds-checked cursor over a whole message.
//!
//! The cursor keeps the whole message (names inside may point anywhere
//! before themselves) and an `end` that child readers narrow to a record's
//! RDATA, so that a field can never be read past the length that announced
//! it (the rustls `Reader::sub` idea).

use crate::error::{ParseError, ParseErrorKind};
use crate::name::{Name, decode_name};

/// Cursor over `msg[pos..end]`; names are decoded against all of `msg`.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
    end: usize,
    /// The error kind to report when a read runs past `end`: the end of the
    /// message, or (in a child reader) malformed RDATA.
    short: ParseErrorKind,
}

impl<'a> Reader<'a> {
    /// A reader over the whole message starting at `pos`.
    pub(crate) fn new(msg: &'a [u8], pos: usize) -> Self {
        Self {
            msg,
            pos,
            end: msg.len(),
            short: ParseErrorKind::UnexpectedEnd,
        }
    }

    /// The whole message.
    pub(crate) fn message(&self) -> &'a [u8] {
        self.msg
    }

    /// Current offset in the message.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left before `end`.
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn short(&self) -> ParseError {
        ParseError::new(self.short, self.pos)
    }

    /// Takes the next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], ParseError> {
        if self.remaining() < len {
            return Err(self.short());
        }
        let bytes = &self.msg[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// Moves past `len` bytes the caller has checked are there
    /// (`len <= remaining()`).
    pub(crate) fn skip_fixed(&mut self, len: usize) {
        debug_assert!(len <= self.remaining());
        self.pos += len;
    }

    /// Takes `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    /// Reads a big-endian u16.
    pub(crate) fn u16(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Decodes a name at the cursor; its bytes at this position must end
    /// within this reader's bounds.
    pub(crate) fn name(&mut self, compressed: bool) -> Result<Name<'a>, ParseError> {
        let decoded = decode_name(&self.msg[..self.end], self.pos, compressed).map_err(|e| {
            // Running out of bytes inside RDATA is malformed RDATA, not a
            // short message.
            if e.kind() == ParseErrorKind::UnexpectedEnd {
                ParseError::new(self.short, e.offset())
            } else {
                e
            }
        })?;
        self.pos = decoded.end;
        Ok(decoded.name)
    }

    /// A child reader over the next `len` bytes; this reader skips them.
    /// `past_end` is the error when `len` runs past this reader's end.
    pub(crate) fn sub(&mut self, len: usize, past_end: ParseErrorKind) -> Result<Self, ParseError> {
        if self.remaining() < len {
            return Err(ParseError::new(past_end, self.pos));
        }
        let child = Self {
            msg: self.msg,
            pos: self.pos,
            end: self.pos + len,
            short: ParseErrorKind::RdataMalformed,
        };
        self.pos += len;
        Ok(child)
    }

    /// Fails unless every byte has been consumed.
    pub(crate) fn finish(&self, trailing: ParseErrorKind) -> Result<(), ParseError> {
        if self.pos == self.end {
            Ok(())
        } else {
            Err(ParseError::new(trailing, self.pos))
        }
    }
}
