//! Real-world messages captured on loopback from dig, kdig, unbound, Knot DNS
//! and NSD (`vectors/SOURCES.md` says which program made each and how;
//! `vectors/capture.py` regenerates them). Every file must parse, survive
//! the round trip through our writer, and come out no larger than the
//! original (our compression is at least as good as Knot's and NSD's, SRV
//! targets aside).

use std::path::{Path, PathBuf};

use xcc_wire::fuzzing::{roundtrip, same_content, transcribe};
use xcc_wire::{Class, Message, OptionCode, RData, RType, Rcode, Section};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The bytes of one fixture, leaked so that parsed views can outlive the
/// statement that read them.
fn read(name: &str) -> &'static [u8] {
    let bytes = std::fs::read(vectors_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    Box::leak(bytes.into_boxed_slice())
}

fn all_vectors() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn every_vector_parses_and_round_trips() {
    let vectors = all_vectors();
    assert!(vectors.len() >= 50, "the fixture directory went missing");
    for (name, bytes) in &vectors {
        let message =
            Message::parse(bytes).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        let is_response = name.ends_with(".response.bin");
        assert_eq!(message.header().flags.qr(), is_response, "{name}: QR bit");
        roundtrip(bytes);
        let mut out = vec![0u8; 65535];
        let len = transcribe(&message, &mut out).unwrap();
        let again = Message::parse(&out[..len]).unwrap();
        assert!(same_content(&message, &again), "{name}: content changed");
        // Knot and NSD compress SRV targets; RFC 2782 says not to, and we
        // don't, so only messages without SRV are held to the size check.
        let has_srv = [Section::Answer, Section::Authority, Section::Additional]
            .into_iter()
            .any(|s| message.records(s).any(|r| r.rtype == RType::SRV));
        assert!(
            has_srv || len <= bytes.len(),
            "{name}: our encoding is {len} bytes, the original {}",
            bytes.len()
        );
    }
}

#[test]
fn dig_mixed_case_question_is_kept_as_sent() {
    let bytes = read("dig-mixedcase.query.bin");
    let message = Message::parse(bytes).unwrap();
    let question = message.question().unwrap();
    assert_eq!(
        question.qname.to_string(),
        "KuArD.GateWay.cluster-a.dev-team.clusters.xcc.test."
    );
    assert_eq!((question.qtype, question.qclass), (RType::A, Class::IN));
    let edns = message.edns().unwrap();
    assert_eq!((edns.udp_payload_size, edns.version), (1232, 0));
    assert_eq!(edns.option(OptionCode::COOKIE).map(<[u8]>::len), Some(8));
}

#[test]
fn dig_edns_version_1_and_dnssec_ok() {
    let v1 = Message::parse(read("dig-edns1.query.bin")).unwrap();
    assert_eq!(v1.edns().unwrap().version, 1);
    let dnssec = Message::parse(read("dig-dnssec.query.bin")).unwrap();
    assert!(dnssec.edns().unwrap().dnssec_ok());
    let plain = Message::parse(read("dig-noedns.query.bin")).unwrap();
    assert!(plain.edns().is_none());
}

#[test]
fn kdig_options_are_iterated() {
    let padding = Message::parse(read("kdig-padding.query.bin")).unwrap();
    assert_eq!(
        padding
            .edns()
            .unwrap()
            .option(OptionCode::PADDING)
            .map(<[u8]>::len),
        Some(128)
    );
    let subnet = Message::parse(read("kdig-subnet.query.bin")).unwrap();
    assert!(
        subnet
            .edns()
            .unwrap()
            .option(OptionCode::CLIENT_SUBNET)
            .is_some()
    );
    let nsid = Message::parse(read("kdig-nsid.query.bin")).unwrap();
    assert_eq!(
        nsid.edns().unwrap().option(OptionCode::NSID),
        Some(&b""[..])
    );
}

#[test]
fn wildcard_answers_keep_the_client_case_in_both_servers() {
    for server in ["knot", "nsd"] {
        let bytes = read(&format!("{server}-wildcard-mixedcase.response.bin"));
        let message = Message::parse(bytes).unwrap();
        assert!(message.header().flags.aa(), "{server}");
        let answers: Vec<_> = message.answers().collect();
        assert_eq!(answers.len(), 2, "{server}");
        for answer in answers {
            assert!(
                answer
                    .owner
                    .same_spelling(&message.question().unwrap().qname)
            );
            assert!(matches!(answer.rdata, RData::A(_)), "{server}");
            assert_eq!(answer.ttl, 30);
        }
    }
}

#[test]
fn negative_answers_carry_the_soa() {
    for server in ["knot", "nsd"] {
        let nxdomain = Message::parse(read(&format!("{server}-nxdomain.response.bin"))).unwrap();
        assert_eq!(nxdomain.rcode(), Rcode::NXDOMAIN, "{server}");
        let soa = nxdomain.authority().next().unwrap();
        let RData::Soa(soa) = soa.rdata else {
            panic!("{server}: authority is not an SOA");
        };
        assert!(soa.minimum > 0);
        let nodata = Message::parse(read(&format!("{server}-ent-nodata.response.bin"))).unwrap();
        assert_eq!(nodata.rcode(), Rcode::NOERROR, "{server}");
        assert_eq!(nodata.answers().count(), 0, "{server}");
    }
}

#[test]
fn badvers_is_an_extended_rcode() {
    for server in ["knot", "nsd"] {
        let message = Message::parse(read(&format!("{server}-badvers.response.bin"))).unwrap();
        assert_eq!(message.rcode(), Rcode::BADVERS, "{server}");
        assert_eq!(message.header().flags.rcode(), Rcode::NOERROR, "{server}");
    }
}

#[test]
fn typed_rdata_of_server_answers() {
    let txt = Message::parse(read("knot-txt.response.bin")).unwrap();
    let RData::Txt(strings) = txt.answers().next().unwrap().rdata else {
        panic!("not a TXT");
    };
    assert_eq!(strings.strings().count(), 2);
    let srv = Message::parse(read("nsd-srv.response.bin")).unwrap();
    let RData::Srv(srv) = srv.answers().next().unwrap().rdata else {
        panic!("not an SRV");
    };
    assert_eq!(srv.target.to_string(), "www.xcc.test.");
    let cname = Message::parse(read("knot-cname.response.bin")).unwrap();
    let kinds: Vec<RType> = cname.answers().map(|r| r.rtype).collect();
    assert_eq!(kinds, [RType::CNAME, RType::A, RType::A]);
    let truncated = Message::parse(read("knot-truncated.response.bin")).unwrap();
    assert!(truncated.header().flags.tc());
}
