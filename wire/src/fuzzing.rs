//! The bodies of the cargo-fuzz targets, kept in the library so that they
//! compile on stable, can be unit-tested, and replay the committed seed
//! corpus in the ordinary test run (`wire/tests/tests.rs`, `mod corpus`).
//! The targets in `fuzz/fuzz_targets/` are three-line wrappers.
//!
//! Compiled only with `cfg(fuzzing)` (set by cargo-fuzz) or the `fuzzing`
//! feature.

use crate::error::WriteError;
use crate::header::HEADER_LEN;
use crate::message::{Message, Section};
use crate::writer::{MAX_MESSAGE_LEN, MessageWriter};

/// Parses arbitrary bytes and, when they parse, reads every part of the
/// message. Must never panic. Also reads a record at every offset past the
/// header both ways, the OPT fast path and the general one, and panics
/// where they disagree.
pub fn parse_any(data: &[u8]) {
    for at in HEADER_LEN..data.len() {
        assert_ne!(
            crate::message::opt_skims_agree(data, at),
            Some(false),
            "the OPT fast path disagrees at {at}"
        );
    }
    let Ok(message) = Message::parse(data) else {
        return;
    };
    let _ = message.rcode();
    for question in message.questions() {
        let _ = question.qname.to_key();
        let _ = question.qname.to_string();
    }
    for section in [Section::Answer, Section::Authority, Section::Additional] {
        for record in message.records(section) {
            let _ = record.owner.to_string();
            let _ = record.rdata.rtype();
        }
    }
    if let Some(edns) = message.edns() {
        for option in edns.options() {
            let _ = option.data.len();
        }
    }
}

/// Writes every entry of `message` again through [`MessageWriter`] (names
/// recompressed by our compressor) and returns the new length.
pub fn transcribe(message: &Message<'_>, out: &mut [u8]) -> Result<usize, WriteError> {
    let mut writer = MessageWriter::new(out, MAX_MESSAGE_LEN)?;
    let header = message.header();
    writer.set_id(header.id);
    writer.set_flags(header.flags);
    for question in message.questions() {
        writer.push_question(&question)?;
    }
    for section in [Section::Answer, Section::Authority, Section::Additional] {
        for record in message.records(section) {
            writer.push_record(
                section,
                &record.owner,
                record.rtype,
                record.class,
                record.ttl,
                &record.rdata,
            )?;
        }
    }
    Ok(writer.finish())
}

/// Whether two messages have the same content: header, questions and
/// records, compression ignored. Questions must be spelled the same byte for
/// byte (they are echoed, never compressed); record names are compared
/// ignoring ASCII case, because compression may point a name at an earlier
/// one spelled in another case (RFC 4343; NSD and Knot do the same).
pub fn same_content(a: &Message<'_>, b: &Message<'_>) -> bool {
    if a.header() != b.header() || a.edns() != b.edns() {
        return false;
    }
    let questions_equal = a.questions().zip(b.questions()).all(|(x, y)| {
        x.qname.same_spelling(&y.qname) && x.qtype == y.qtype && x.qclass == y.qclass
    });
    let records_equal = [Section::Answer, Section::Authority, Section::Additional]
        .into_iter()
        .all(|section| {
            a.records(section).zip(b.records(section)).all(|(x, y)| {
                x.owner == y.owner
                    && x.rtype == y.rtype
                    && x.class == y.class
                    && x.ttl == y.ttl
                    && x.rdata == y.rdata
            })
        });
    questions_equal && records_equal
}

/// Parse → write → parse: a message that parses must be written again by
/// our writer and parse back to the same content, and writing that again
/// must give the same bytes (our output is a fixed point). Panics otherwise.
pub fn roundtrip(data: &[u8]) {
    let Ok(first) = Message::parse(data) else {
        return;
    };
    let mut buf = vec![0u8; MAX_MESSAGE_LEN];
    let len = match transcribe(&first, &mut buf) {
        Ok(len) => len,
        // Our compressor has a fixed capacity, so a message packed tighter
        // than we pack it may not fit in 64 KiB once rewritten.
        Err(WriteError::NoSpace) => return,
        Err(e) => panic!("writing a parsed message failed: {e}"),
    };
    let second = Message::parse(&buf[..len])
        .unwrap_or_else(|e| panic!("our own output does not parse: {e}"));
    assert!(
        same_content(&first, &second),
        "content changed on the way through the writer"
    );
    let mut again = vec![0u8; MAX_MESSAGE_LEN];
    let len_again = transcribe(&second, &mut again).expect("our own output fits again");
    assert_eq!(
        &buf[..len],
        &again[..len_again],
        "writer output is not stable"
    );
}
