//! Property tests: whatever the writer writes parses back to the same
//! content; arbitrary and mutated bytes never panic the parser or the
//! round trip.

use core::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use xcc_wire::fuzzing::{parse_any, roundtrip};
use xcc_wire::{
    Class, Flags, Message, MessageWriter, Mx, NameBuf, Question, RData, RType, Section, Soa, Srv,
    Txt,
};

/// Owned RDATA, from which borrowed [`RData`] is made for the writer.
// Test data: size per variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum RdataModel {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Ns(NameBuf),
    Cname(NameBuf),
    Ptr(NameBuf),
    Soa(NameBuf, NameBuf, [u32; 5]),
    Mx(u16, NameBuf),
    Txt(Vec<u8>),
    Srv([u16; 3], NameBuf),
    Unknown(u16, Vec<u8>),
}

impl RdataModel {
    fn rtype(&self) -> RType {
        match self {
            Self::A(_) => RType::A,
            Self::Aaaa(_) => RType::AAAA,
            Self::Ns(_) => RType::NS,
            Self::Cname(_) => RType::CNAME,
            Self::Ptr(_) => RType::PTR,
            Self::Soa(..) => RType::SOA,
            Self::Mx(..) => RType::MX,
            Self::Txt(_) => RType::TXT,
            Self::Srv(..) => RType::SRV,
            Self::Unknown(rtype, _) => RType(*rtype),
        }
    }

    fn as_rdata(&self) -> RData<'_> {
        match self {
            Self::A(a) => RData::A(Ipv4Addr::from(*a)),
            Self::Aaaa(a) => RData::Aaaa(Ipv6Addr::from(*a)),
            Self::Ns(n) => RData::Ns(n.as_name()),
            Self::Cname(n) => RData::Cname(n.as_name()),
            Self::Ptr(n) => RData::Ptr(n.as_name()),
            Self::Soa(m, r, v) => RData::Soa(Soa {
                mname: m.as_name(),
                rname: r.as_name(),
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4],
            }),
            Self::Mx(p, n) => RData::Mx(Mx {
                preference: *p,
                exchange: n.as_name(),
            }),
            Self::Txt(wire) => RData::Txt(Txt::from_wire(wire).unwrap()),
            Self::Srv(v, n) => RData::Srv(Srv {
                priority: v[0],
                weight: v[1],
                port: v[2],
                target: n.as_name(),
            }),
            Self::Unknown(_, bytes) => RData::Unknown(bytes),
        }
    }
}

#[derive(Clone, Debug)]
struct RecordModel {
    owner: NameBuf,
    ttl: u32,
    rdata: RdataModel,
}

#[derive(Clone, Debug)]
struct MessageModel {
    id: u16,
    flags: u16,
    questions: Vec<(NameBuf, u16, u16)>,
    sections: [Vec<RecordModel>; 3],
}

/// Labels drawn mostly from a small set, so that names share suffixes and
/// the compressor has work to do, with arbitrary bytes now and then.
fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "B", "xcc", "test", "Gateway", "*", "c-1", "dev-team"])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..=63),
    ]
}

fn name() -> impl Strategy<Value = NameBuf> {
    prop::collection::vec(label(), 0..8).prop_filter_map("name too long", |labels| {
        let mut name = NameBuf::root();
        for label in labels.iter().rev() {
            name = name.prepend_label(label)?;
        }
        Some(name)
    })
}

fn txt_wire() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..4).prop_map(|strings| {
        let mut wire = Vec::new();
        for s in strings {
            wire.push(s.len() as u8);
            wire.extend_from_slice(&s);
        }
        wire
    })
}

fn rdata() -> impl Strategy<Value = RdataModel> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(RdataModel::A),
        any::<[u8; 16]>().prop_map(RdataModel::Aaaa),
        name().prop_map(RdataModel::Ns),
        name().prop_map(RdataModel::Cname),
        name().prop_map(RdataModel::Ptr),
        (name(), name(), any::<[u32; 5]>()).prop_map(|(m, r, v)| RdataModel::Soa(m, r, v)),
        (any::<u16>(), name()).prop_map(|(p, n)| RdataModel::Mx(p, n)),
        txt_wire().prop_map(RdataModel::Txt),
        (any::<[u16; 3]>(), name()).prop_map(|(v, n)| RdataModel::Srv(v, n)),
        (65280u16..=65534, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(t, b)| RdataModel::Unknown(t, b)),
    ]
}

fn record() -> impl Strategy<Value = RecordModel> {
    (name(), any::<u32>(), rdata()).prop_map(|(owner, ttl, rdata)| RecordModel {
        owner,
        ttl,
        rdata,
    })
}

fn message_model() -> impl Strategy<Value = MessageModel> {
    (
        any::<u16>(),
        any::<u16>(),
        prop::collection::vec((name(), any::<u16>(), any::<u16>()), 0..3),
        prop::collection::vec(record(), 0..6),
        prop::collection::vec(record(), 0..4),
        prop::collection::vec(record(), 0..4),
    )
        .prop_map(|(id, flags, questions, an, ns, ar)| MessageModel {
            id,
            flags,
            questions,
            sections: [an, ns, ar],
        })
}

const SECTIONS: [Section; 3] = [Section::Answer, Section::Authority, Section::Additional];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn whatever_the_writer_writes_parses_back_to_the_same_content(model in message_model()) {
        let mut buf = vec![0u8; 65535];
        let mut writer = MessageWriter::new(&mut buf, 65535).unwrap();
        writer.set_id(model.id);
        writer.set_flags(Flags(model.flags));
        for (qname, qtype, qclass) in &model.questions {
            let question = Question { qname: qname.as_name(), qtype: RType(*qtype), qclass: Class(*qclass) };
            writer.push_question(&question).unwrap();
        }
        for (section, records) in SECTIONS.iter().zip(&model.sections) {
            for record in records {
                writer.push_record(
                    *section,
                    &record.owner.as_name(),
                    record.rdata.rtype(),
                    Class::IN,
                    record.ttl,
                    &record.rdata.as_rdata(),
                ).unwrap();
            }
        }
        let len = writer.finish();
        let message = Message::parse(&buf[..len]).unwrap();
        let header = message.header();
        prop_assert_eq!(header.id, model.id);
        prop_assert_eq!(header.flags, Flags(model.flags));
        let questions: Vec<_> = message.questions().collect();
        prop_assert_eq!(questions.len(), model.questions.len());
        for (got, (qname, qtype, qclass)) in questions.iter().zip(&model.questions) {
            prop_assert!(got.qname.same_spelling(&qname.as_name()));
            prop_assert_eq!((got.qtype, got.qclass), (RType(*qtype), Class(*qclass)));
        }
        for (section, records) in SECTIONS.iter().zip(&model.sections) {
            let got: Vec<_> = message.records(*section).collect();
            prop_assert_eq!(got.len(), records.len());
            for (got, want) in got.iter().zip(records) {
                // Compression matches names ignoring case (RFC 4343), so a
                // name may come back in the case of the earlier name it
                // points to: compare names case-insensitively here.
                prop_assert_eq!(got.owner, want.owner.as_name());
                prop_assert_eq!(got.rtype, want.rdata.rtype());
                prop_assert_eq!(got.ttl, want.ttl);
                prop_assert_eq!(got.rdata, want.rdata.as_rdata());
            }
        }
        roundtrip(&buf[..len]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        parse_any(&bytes);
        roundtrip(&bytes);
    }

    #[test]
    fn mutated_real_messages_never_panic(
        index in 0usize..1000,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut files: Vec<_> = std::fs::read_dir(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
        )
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
        files.sort();
        let mut bytes = std::fs::read(&files[index % files.len()]).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        parse_any(&bytes);
        roundtrip(&bytes);
        let end = cut.index(bytes.len() + 1);
        parse_any(&bytes[..end]);
        roundtrip(&bytes[..end]);
    }
}
