//! One named case per rejection rule, at message level: each builds the bad
//! bytes by hand and asserts the error kind and its offset.

use xcc_wire::{Message, ParseErrorKind};

/// A header with the given counts, RD set, ID 0xBEEF.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut bytes = vec![0xBE, 0xEF, 0x01, 0x00];
    for count in [qd, an, ns, ar] {
        bytes.extend_from_slice(&count.to_be_bytes());
    }
    bytes
}

/// `www.xcc.test. A IN`: 18 octets, so the first record starts at 30.
const QUESTION: &[u8] = b"\x03www\x03xcc\x04test\x00\x00\x01\x00\x01";

/// An A record owned by a pointer to the question name.
const A_RECORD: &[u8] = b"\xC0\x0C\x00\x01\x00\x01\x00\x00\x00\x1E\x00\x04\x0A\x00\x00\x01";

/// A plain OPT record: root owner, payload 1232, no options.
const OPT: &[u8] = b"\x00\x00\x29\x04\xD0\x00\x00\x00\x00\x00\x00";

fn message(counts: (u16, u16, u16, u16), parts: &[&[u8]]) -> Vec<u8> {
    let mut bytes = header(counts.0, counts.1, counts.2, counts.3);
    for part in parts {
        bytes.extend_from_slice(part);
    }
    bytes
}

fn error(bytes: &[u8]) -> (ParseErrorKind, usize) {
    let error = Message::parse(bytes).expect_err("must not parse");
    (error.kind(), error.offset())
}

#[test]
fn well_formed_baseline_parses() {
    let bytes = message((1, 1, 0, 1), &[QUESTION, A_RECORD, OPT]);
    let parsed = Message::parse(&bytes).unwrap();
    assert_eq!(parsed.header().id, 0xBEEF);
    assert_eq!(parsed.answers().count(), 1);
    assert_eq!(parsed.edns().unwrap().udp_payload_size, 1232);
}

#[test]
fn rfc1035_4_1_1_truncated_header() {
    for len in 0..12 {
        let bytes = message((1, 0, 0, 0), &[QUESTION]);
        assert_eq!(error(&bytes[..len]), (ParseErrorKind::ShortHeader, len));
    }
}

#[test]
fn rfc1035_3_1_label_longer_than_63() {
    let mut question = vec![64u8];
    question.extend_from_slice(&[b'a'; 64]);
    question.extend_from_slice(b"\x00\x00\x01\x00\x01");
    // A length octet of 64 is the reserved 0x40 label type.
    assert_eq!(
        error(&message((1, 0, 0, 0), &[&question])),
        (ParseErrorKind::ReservedLabelType, 12)
    );
}

#[test]
fn rfc1035_3_1_name_longer_than_255() {
    let mut question = Vec::new();
    for _ in 0..5 {
        question.push(60u8);
        question.extend_from_slice(&[b'x'; 60]);
    }
    question.extend_from_slice(b"\x00\x00\x01\x00\x01");
    // The fifth label takes the name to 306 octets; it starts at 12 + 4 * 61.
    assert_eq!(
        error(&message((1, 0, 0, 0), &[&question])),
        (ParseErrorKind::NameTooLong, 12 + 4 * 61)
    );
}

#[test]
fn rfc1035_4_1_4_pointer_loop() {
    // The answer owner is "a" + a pointer back to that "a": a loop.
    let record = b"\x01a\xC0\x1E\x00\x01\x00\x01\x00\x00\x00\x1E\x00\x04\x0A\x00\x00\x01";
    let bytes = message((1, 1, 0, 0), &[QUESTION, record]);
    assert_eq!(bytes[30], 1, "the record starts at 30");
    assert_eq!(error(&bytes), (ParseErrorKind::PointerNotBackward, 32));
}

#[test]
fn rfc1035_4_1_4_forward_pointer() {
    // The question name points to the answer section.
    let bytes = message((1, 0, 0, 0), &[b"\xC0\x20\x00\x01\x00\x01"]);
    assert_eq!(error(&bytes), (ParseErrorKind::PointerNotBackward, 12));
}

#[test]
fn rfc1035_4_1_4_pointer_into_the_header() {
    let record = b"\xC0\x02\x00\x01\x00\x01\x00\x00\x00\x1E\x00\x04\x0A\x00\x00\x01";
    let bytes = message((1, 1, 0, 0), &[QUESTION, record]);
    assert_eq!(error(&bytes), (ParseErrorKind::PointerIntoHeader, 30));
}

#[test]
fn rfc1035_4_1_3_rdlength_past_the_end() {
    let mut record = A_RECORD.to_vec();
    record[11] = 40; // RDLENGTH 40, only 4 bytes follow
    let bytes = message((1, 1, 0, 0), &[QUESTION, &record]);
    assert_eq!(error(&bytes), (ParseErrorKind::RdataPastEnd, 30 + 12));
}

#[test]
fn rfc1035_4_1_3_rdata_of_wrong_length_for_its_type() {
    let mut record = A_RECORD.to_vec();
    record[11] = 5;
    record.push(9);
    let bytes = message((1, 1, 0, 0), &[QUESTION, &record]);
    assert_eq!(error(&bytes), (ParseErrorKind::RdataMalformed, 30 + 16));
}

#[test]
fn trailing_garbage_after_the_last_record() {
    let bytes = message((1, 1, 0, 0), &[QUESTION, A_RECORD, b"\x00"]);
    assert_eq!(error(&bytes), (ParseErrorKind::TrailingBytes, 30 + 16));
}

#[test]
fn counts_that_promise_more_than_is_present() {
    assert_eq!(
        error(&message((2, 0, 0, 0), &[QUESTION])),
        (ParseErrorKind::UnexpectedEnd, 30)
    );
    assert_eq!(
        error(&message((1, 1, 0, 0), &[QUESTION])),
        (ParseErrorKind::UnexpectedEnd, 30)
    );
    assert_eq!(
        error(&message((1, 0, 0, 1), &[QUESTION])),
        (ParseErrorKind::UnexpectedEnd, 30)
    );
    // A record cut inside its fixed fields.
    assert_eq!(
        error(&message((1, 1, 0, 0), &[QUESTION, &A_RECORD[..6]])),
        (ParseErrorKind::UnexpectedEnd, 36)
    );
}

#[test]
fn rfc6891_6_1_1_two_opt_records() {
    let bytes = message((1, 0, 0, 2), &[QUESTION, OPT, OPT]);
    assert_eq!(error(&bytes), (ParseErrorKind::MultipleOpt, 30 + OPT.len()));
}

#[test]
fn rfc6891_6_1_1_opt_outside_the_additional_section() {
    let bytes = message((1, 1, 0, 0), &[QUESTION, OPT]);
    assert_eq!(error(&bytes).0, ParseErrorKind::OptNotInAdditional);
}

#[test]
fn rfc6891_6_1_2_opt_owner_not_root() {
    let opt = b"\xC0\x0C\x00\x29\x04\xD0\x00\x00\x00\x00\x00\x00";
    let bytes = message((1, 0, 0, 1), &[QUESTION, opt]);
    assert_eq!(error(&bytes), (ParseErrorKind::OptOwnerNotRoot, 30));
}

#[test]
fn rfc6891_6_1_2_option_past_the_opt_rdata() {
    // RDLENGTH 6, option claims 8 bytes of data.
    let opt = b"\x00\x00\x29\x04\xD0\x00\x00\x00\x00\x00\x06\x00\x0A\x00\x08\xAA\xBB";
    let bytes = message((1, 0, 0, 1), &[QUESTION, opt]);
    assert_eq!(error(&bytes), (ParseErrorKind::OptOptionMalformed, 30 + 11));
}

#[test]
fn reserved_label_type_0x80() {
    let bytes = message((1, 0, 0, 0), &[b"\x80\x00\x00\x01\x00\x01"]);
    assert_eq!(error(&bytes), (ParseErrorKind::ReservedLabelType, 12));
}

#[test]
fn errors_display_kind_and_offset() {
    let bytes = message((1, 0, 0, 0), &[b"\xC0\x02\x00\x01\x00\x01"]);
    let text = Message::parse(&bytes).unwrap_err().to_string();
    assert_eq!(text, "compression pointer into the header at offset 12");
}
