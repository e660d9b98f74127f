//! The answer engine's behaviour, one test per rule, each named after the
//! RFC section it checks, over one fixture zone.

use xcc_responder::respond::{Context, DropReason, Outcome, Transport, respond};
use xcc_responder::table::{Table, TableConfig};
use xcc_wire::{Class, Opcode, RType, Rcode, Section};

use crate::support::*;

const GW_A: &str = "*.gateway.cluster-a.dev-team.clusters.xcc.test";

fn fixture() -> Table {
    fixture_with(TableConfig {
        version: 2026112901,
        ..TableConfig::default()
    })
}

fn fixture_with(config: TableConfig) -> Table {
    let big: Vec<String> = (1..=40).map(|i| format!("10.1.0.{i}")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    table_with(
        config,
        &[
            addresses(GW_A, 30, &["10.0.0.10", "10.0.0.11", "fd00::10"]),
            addresses(
                "*.gateway.cluster-b.dev-team.clusters.xcc.test",
                30,
                &["10.0.1.10"],
            ),
            addresses(
                "exact.gateway.cluster-a.dev-team.clusters.xcc.test",
                30,
                &["10.9.9.9"],
            ),
            addresses("www.xcc.test", 300, &["192.0.2.1"]),
            addresses("sub.deep.xcc.test", 300, &["192.0.2.7"]),
            cname("alias.xcc.test", "www.xcc.test"),
            cname("chain1.xcc.test", "chain2.xcc.test"),
            cname("chain2.xcc.test", "www.xcc.test"),
            cname("loop1.xcc.test", "loop2.xcc.test"),
            cname("loop2.xcc.test", "loop1.xcc.test"),
            cname("dangling.xcc.test", "nothere.xcc.test"),
            cname("out.xcc.test", "example.com"),
            cname("*.wild.xcc.test", "www.xcc.test"),
            txt("txt.xcc.test", &["hello", "world"]),
            srv("_http._tcp.xcc.test", 10, 5, 80, "www.xcc.test"),
            addresses("big.xcc.test", 30, &big),
        ],
    )
}

fn a(owner: &str, address: &str) -> (String, RType, String) {
    (owner.to_string(), RType::A, address.to_string())
}

fn sorted(mut records: Vec<(String, RType, String)>) -> Vec<(String, RType, String)> {
    records.sort();
    records
}

#[test]
fn rfc1035_4_1_1_header_flags_and_question_are_echoed() {
    let table = fixture();
    let answer = ask(&table, "WwW.XcC.TeSt", RType::A);
    let message = answer.message();
    let header = message.header();
    assert_eq!(header.id, 0x5a5a);
    assert!(header.flags.qr() && header.flags.aa() && header.flags.rd());
    assert!(!header.flags.tc() && !header.flags.ra());
    assert_eq!(header.flags.opcode(), Opcode::QUERY);
    let question = message.question().unwrap();
    assert_eq!(
        question.qname.to_string(),
        "WwW.XcC.TeSt.",
        "0x20 case kept"
    );
    assert_eq!((question.qtype, question.qclass), (RType::A, Class::IN));
    // RD clear in the query stays clear.
    let norec = ask_with(
        &table,
        "www.xcc.test",
        RType::A,
        Ask {
            rd: false,
            ..Ask::default()
        },
    );
    assert!(!norec.flags().rd());
}

#[test]
fn rfc4343_names_match_ignoring_case_and_owner_keeps_client_case() {
    let table = fixture();
    let answer = ask(&table, "WWW.xcc.TEST", RType::A);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert_eq!(answer.answers(), [a("WWW.xcc.TEST.", "192.0.2.1")]);
}

#[test]
fn rfc4592_3_3_1_wildcard_answer_is_owned_by_the_query_name() {
    let table = fixture();
    let qname = "KuArD.gateway.cluster-a.dev-team.clusters.xcc.test";
    let answer = ask(&table, qname, RType::A);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert!(answer.flags().aa());
    let owner = format!("{qname}.");
    assert_eq!(
        sorted(answer.answers()),
        [a(&owner, "10.0.0.10"), a(&owner, "10.0.0.11")]
    );
    assert_eq!(answer.ttls(Section::Answer), [30, 30]);
    let aaaa = ask(&table, qname, RType::AAAA);
    assert_eq!(aaaa.answers(), [(owner, RType::AAAA, "fd00::10".into())]);
}

#[test]
fn rfc4592_2_1_1_wildcard_covers_several_labels() {
    let table = fixture();
    let answer = ask(
        &table,
        "a.b.c.gateway.cluster-b.dev-team.clusters.xcc.test",
        RType::A,
    );
    assert_eq!(
        answer.answers(),
        [a(
            "a.b.c.gateway.cluster-b.dev-team.clusters.xcc.test.",
            "10.0.1.10"
        )]
    );
}

#[test]
fn rfc4592_2_2_1_wildcard_never_matches_an_existing_name() {
    let table = fixture();
    let answer = ask(
        &table,
        "exact.gateway.cluster-a.dev-team.clusters.xcc.test",
        RType::A,
    );
    assert_eq!(
        answer.answers(),
        [a(
            "exact.gateway.cluster-a.dev-team.clusters.xcc.test.",
            "10.9.9.9"
        )]
    );
    // The existing name has no AAAA: NODATA, not the wildcard's AAAA.
    let aaaa = ask(
        &table,
        "exact.gateway.cluster-a.dev-team.clusters.xcc.test",
        RType::AAAA,
    );
    assert_eq!(aaaa.rcode(), Rcode::NOERROR);
    assert!(aaaa.answers().is_empty());
    assert_eq!(aaaa.authority().len(), 1);
}

#[test]
fn rfc4592_2_2_2_empty_non_terminals_are_nodata_not_wildcard_matches() {
    let table = fixture();
    for ent in [
        "gateway.cluster-a.dev-team.clusters.xcc.test",
        "dev-team.clusters.xcc.test",
        "clusters.xcc.test",
        "deep.xcc.test",
    ] {
        let answer = ask(&table, ent, RType::A);
        assert_eq!(answer.rcode(), Rcode::NOERROR, "{ent}");
        assert!(answer.answers().is_empty(), "{ent}");
        assert_eq!(answer.authority()[0].1, RType::SOA, "{ent}");
    }
    // Below an empty non-terminal without a wildcard: NXDOMAIN.
    assert_eq!(
        ask(&table, "x.deep.xcc.test", RType::A).rcode(),
        Rcode::NXDOMAIN
    );
    // A cluster that does not exist: NXDOMAIN.
    let missing = ask(
        &table,
        "kuard.gateway.no-such-cluster.dev-team.clusters.xcc.test",
        RType::A,
    );
    assert_eq!(missing.rcode(), Rcode::NXDOMAIN);
}

#[test]
fn rfc2308_3_nxdomain_has_soa_with_ttl_min_of_soa_ttl_and_minimum() {
    let table = fixture();
    let answer = ask(&table, "nope.xcc.test", RType::A);
    assert_eq!(answer.rcode(), Rcode::NXDOMAIN);
    assert!(answer.flags().aa());
    assert!(answer.answers().is_empty());
    let authority = answer.authority();
    assert_eq!(authority.len(), 1);
    assert_eq!(authority[0].0, "xcc.test.");
    assert_eq!(authority[0].1, RType::SOA);
    assert_eq!(
        authority[0].2,
        "ns.xcc.test. hostmaster.xcc.test. 2026112901"
    );
    // Defaults: SOA TTL 30, MINIMUM 5.
    assert_eq!(answer.ttls(Section::Authority), [5]);
}

#[test]
fn rfc2308_3_negative_soa_owner_keeps_the_client_case() {
    let table = fixture();
    let answer = ask(&table, "NOPE.XCC.Test", RType::A);
    assert_eq!(answer.authority()[0].0, "XCC.Test.");
}

#[test]
fn rfc2308_2_2_nodata_for_a_type_the_name_does_not_have() {
    let table = fixture();
    let answer = ask(&table, "www.xcc.test", RType::AAAA);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert!(answer.answers().is_empty());
    assert_eq!(answer.authority()[0].1, RType::SOA);
    // An unknown type on an existing name is NODATA too (RFC 3597).
    let unknown = ask(&table, "www.xcc.test", RType(65280));
    assert_eq!(unknown.rcode(), Rcode::NOERROR);
    assert!(unknown.answers().is_empty());
    assert_eq!(unknown.authority().len(), 1);
}

#[test]
fn rfc1034_4_3_2_in_zone_cname_is_followed() {
    let table = fixture();
    let answer = ask(&table, "alias.xcc.test", RType::A);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert_eq!(
        answer.answers(),
        [
            (
                "alias.xcc.test.".into(),
                RType::CNAME,
                "www.xcc.test.".into()
            ),
            a("www.xcc.test.", "192.0.2.1"),
        ]
    );
    let chain = ask(&table, "chain1.xcc.test", RType::A);
    assert_eq!(
        chain.answers(),
        [
            (
                "chain1.xcc.test.".into(),
                RType::CNAME,
                "chain2.xcc.test.".into()
            ),
            (
                "chain2.xcc.test.".into(),
                RType::CNAME,
                "www.xcc.test.".into()
            ),
            a("www.xcc.test.", "192.0.2.1"),
        ]
    );
}

#[test]
fn rfc1034_4_3_2_cname_loop_stops() {
    let table = fixture();
    let answer = ask(&table, "loop1.xcc.test", RType::A);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    let answers = answer.answers();
    assert_eq!(
        answers,
        [
            (
                "loop1.xcc.test.".into(),
                RType::CNAME,
                "loop2.xcc.test.".into()
            ),
            (
                "loop2.xcc.test.".into(),
                RType::CNAME,
                "loop1.xcc.test.".into()
            ),
        ]
    );
}

#[test]
fn rfc6604_cname_to_a_missing_name_is_nxdomain() {
    let table = fixture();
    let answer = ask(&table, "dangling.xcc.test", RType::A);
    assert_eq!(answer.rcode(), Rcode::NXDOMAIN);
    assert_eq!(answer.answers().len(), 1);
    assert_eq!(answer.authority()[0].1, RType::SOA);
}

#[test]
fn rfc1034_4_3_2_out_of_zone_cname_is_returned_as_is() {
    let table = fixture();
    let answer = ask(&table, "out.xcc.test", RType::A);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert_eq!(
        answer.answers(),
        [("out.xcc.test.".into(), RType::CNAME, "example.com.".into())]
    );
    assert!(answer.authority().is_empty());
}

#[test]
fn rfc1034_3_6_2_cname_query_gets_the_cname_only() {
    let table = fixture();
    let answer = ask(&table, "alias.xcc.test", RType::CNAME);
    assert_eq!(
        answer.answers(),
        [(
            "alias.xcc.test.".into(),
            RType::CNAME,
            "www.xcc.test.".into()
        )]
    );
}

#[test]
fn rfc4592_wildcard_cname_is_synthesised_and_followed() {
    let table = fixture();
    let answer = ask(&table, "anything.wild.xcc.test", RType::A);
    assert_eq!(
        answer.answers(),
        [
            (
                "anything.wild.xcc.test.".into(),
                RType::CNAME,
                "www.xcc.test.".into()
            ),
            a("www.xcc.test.", "192.0.2.1"),
        ]
    );
}

#[test]
fn rfc1035_apex_soa_serial_is_the_table_version_and_ns_is_synthesised() {
    let table = fixture();
    let soa = ask(&table, "xcc.test", RType::SOA);
    assert_eq!(
        soa.answers(),
        [(
            "xcc.test.".into(),
            RType::SOA,
            "ns.xcc.test. hostmaster.xcc.test. 2026112901".into()
        )]
    );
    assert_eq!(soa.ttls(Section::Answer), [30]);
    let ns = ask(&table, "xcc.test", RType::NS);
    assert_eq!(
        ns.answers(),
        [("xcc.test.".into(), RType::NS, "ns.xcc.test.".into())]
    );
}

#[test]
fn rfc8482_4_1_any_gets_one_rrset() {
    let table = fixture();
    let answer = ask(&table, "xcc.test", RType::ANY);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert_eq!(answer.answers().len(), 1);
    let wildcard = ask(
        &table,
        "x.gateway.cluster-a.dev-team.clusters.xcc.test",
        RType::ANY,
    );
    let types: Vec<RType> = wildcard.answers().iter().map(|r| r.1).collect();
    assert!(types.iter().all(|t| *t == types[0]), "one RRset: {types:?}");
    let ent = ask(&table, "deep.xcc.test", RType::ANY);
    assert!(ent.answers().is_empty());
}

#[test]
fn txt_and_srv_are_answered() {
    let table = fixture();
    let answer = ask(&table, "txt.xcc.test", RType::TXT);
    assert_eq!(
        answer.answers(),
        [("txt.xcc.test.".into(), RType::TXT, "hello|world".into())]
    );
    let answer = ask(&table, "_http._tcp.xcc.test", RType::SRV);
    assert_eq!(
        answer.answers(),
        [(
            "_http._tcp.xcc.test.".into(),
            RType::SRV,
            "10 5 80 www.xcc.test.".into()
        )]
    );
}

#[test]
fn outside_every_zone_is_refused_without_aa() {
    let table = fixture();
    for name in ["example.com", "test", "xcc.test.evil"] {
        let answer = ask(&table, name, RType::A);
        assert_eq!(answer.rcode(), Rcode::REFUSED, "{name}");
        assert!(!answer.flags().aa(), "{name}");
        assert!(answer.answers().is_empty());
    }
}

#[test]
fn coredns_forward_health_check_root_ns_gets_a_well_formed_answer() {
    let table = fixture();
    let answer = ask_with(
        &table,
        ".",
        RType::NS,
        Ask {
            edns: None,
            ..Ask::default()
        },
    );
    let message = answer.message();
    assert!(message.header().flags.qr());
    assert_eq!(message.rcode(), Rcode::REFUSED);
    assert_eq!(message.question().unwrap().qname.to_string(), ".");
}

#[test]
fn rfc6891_6_1_1_opt_echoed_with_our_payload_size_and_do_bit() {
    let table = fixture();
    let answer = ask_with(
        &table,
        "www.xcc.test",
        RType::A,
        Ask {
            edns: Some(4096),
            dnssec_ok: true,
            ..Ask::default()
        },
    );
    let edns = answer.message().edns().expect("OPT echoed");
    assert_eq!(edns.udp_payload_size, 1232);
    assert_eq!(edns.version, 0);
    assert!(edns.dnssec_ok());
    let plain = ask_with(
        &table,
        "www.xcc.test",
        RType::A,
        Ask {
            edns: None,
            ..Ask::default()
        },
    );
    assert!(
        plain.message().edns().is_none(),
        "no OPT without one in the query"
    );
}

#[test]
fn rfc6891_6_1_3_unknown_edns_version_gets_badvers() {
    let table = fixture();
    let answer = ask_with(
        &table,
        "www.xcc.test",
        RType::A,
        Ask {
            version: 1,
            ..Ask::default()
        },
    );
    assert_eq!(answer.rcode(), Rcode::BADVERS);
    assert_eq!(answer.message().edns().unwrap().version, 0);
    assert!(answer.answers().is_empty());
}

#[test]
fn rfc6891_7_udp_answer_fits_the_client_size_and_sets_tc_at_an_rrset_boundary() {
    let table = fixture();
    // 40 A records take 40 * 16 = 640 octets.
    for (edns, fits) in [
        (None, false),
        (Some(512), false),
        (Some(4096), true),
        (Some(1232), true),
    ] {
        let answer = ask_with(
            &table,
            "big.xcc.test",
            RType::A,
            Ask {
                edns,
                ..Ask::default()
            },
        );
        let limit = edns.map_or(512, |e| usize::from(e.min(1232)));
        assert!(
            answer.bytes.len() <= limit,
            "{edns:?}: {} > {limit}",
            answer.bytes.len()
        );
        assert_eq!(answer.flags().tc(), !fits, "{edns:?}");
        let count = answer.answers().len();
        assert_eq!(
            count,
            if fits { 40 } else { 0 },
            "{edns:?}: whole RRset or nothing"
        );
        if edns.is_some() {
            assert!(answer.message().edns().is_some(), "OPT kept when truncated");
        }
    }
}

#[test]
fn rfc7766_tcp_answer_is_complete() {
    let table = fixture();
    let answer = ask_with(
        &table,
        "big.xcc.test",
        RType::A,
        Ask {
            edns: None,
            transport: Transport::Tcp,
            ..Ask::default()
        },
    );
    assert!(!answer.flags().tc());
    assert_eq!(answer.answers().len(), 40);
}

#[test]
fn rfc1035_4_1_1_opcodes_other_than_query_get_notimp() {
    let table = fixture();
    for opcode in [
        Opcode::IQUERY,
        Opcode::STATUS,
        Opcode::NOTIFY,
        Opcode::UPDATE,
        Opcode(9),
    ] {
        let answer = ask_with(
            &table,
            "www.xcc.test",
            RType::A,
            Ask {
                opcode,
                ..Ask::default()
            },
        );
        assert_eq!(answer.rcode(), Rcode::NOTIMP, "{opcode}");
        assert_eq!(answer.flags().opcode(), opcode);
        assert!(answer.answers().is_empty());
    }
}

#[test]
fn rfc1035_4_1_1_malformed_queries_get_formerr_with_the_header_echoed() {
    let table = fixture();
    let good = query_bytes("www.xcc.test", RType::A, Ask::default());
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut trailing = good.clone();
    trailing.push(0);
    cases.push(("trailing byte", trailing));
    cases.push(("cut inside the question", good[..20].to_vec()));
    let mut no_question = good[..12].to_vec();
    no_question[4..6].copy_from_slice(&[0, 0]);
    no_question[10..12].copy_from_slice(&[0, 0]);
    cases.push(("QDCOUNT 0", no_question));
    let mut two = good.clone();
    two[5] = 2;
    cases.push(("QDCOUNT 2 with one question", two));
    let mut pointer_loop = good[..12].to_vec();
    pointer_loop[10..12].copy_from_slice(&[0, 0]);
    pointer_loop.extend_from_slice(b"\xC0\x0C\x00\x01\x00\x01");
    cases.push(("pointer to itself", pointer_loop));
    for (what, query) in cases {
        let answer = answer_bytes(&table, &query, Transport::Udp, &mut Context::default())
            .unwrap_or_else(|| panic!("{what}: dropped"));
        assert_eq!(answer.bytes.len(), 12, "{what}: header only");
        let message = answer.message();
        assert_eq!(message.header().id, 0x5a5a, "{what}");
        assert!(message.header().flags.qr(), "{what}");
        assert!(message.header().flags.rd(), "{what}");
        assert_eq!(message.rcode(), Rcode::FORMERR, "{what}");
    }
}

#[test]
fn rfc1035_4_1_1_responses_and_runts_are_never_answered() {
    let table = fixture();
    let mut out = vec![0u8; 512];
    let mut response = query_bytes("www.xcc.test", RType::A, Ask::default());
    response[2] |= 0x80;
    assert_eq!(
        respond(
            &response,
            &table,
            Transport::Udp,
            &mut Context::default(),
            &mut out
        ),
        Outcome::Dropped(DropReason::Response)
    );
    for len in 0..12 {
        assert_eq!(
            respond(
                &response[..len],
                &table,
                Transport::Udp,
                &mut Context::default(),
                &mut out
            ),
            Outcome::Dropped(DropReason::TooShort)
        );
    }
}

#[test]
fn other_classes_and_zone_transfers_are_refused() {
    let table = fixture();
    for class in [Class::HS, Class::ANY, Class(77)] {
        let answer = ask_with(
            &table,
            "www.xcc.test",
            RType::A,
            Ask {
                class,
                ..Ask::default()
            },
        );
        assert_eq!(answer.rcode(), Rcode::REFUSED, "{class}");
    }
    for qtype in [RType::AXFR, RType::IXFR] {
        assert_eq!(ask(&table, "xcc.test", qtype).rcode(), Rcode::REFUSED);
    }
    assert_eq!(ask(&table, "xcc.test", RType::OPT).rcode(), Rcode::FORMERR);
}

#[test]
fn chaos_txt_is_refused_unless_configured() {
    let table = fixture();
    let chaos = Ask {
        class: Class::CH,
        ..Ask::default()
    };
    assert_eq!(
        ask_with(&table, "version.bind", RType::TXT, chaos).rcode(),
        Rcode::REFUSED
    );
    let configured = fixture_with(TableConfig {
        chaos_version: Some("xcc-dns 0.1.0".into()),
        chaos_id: Some("responder-0".into()),
        ..TableConfig::default()
    });
    let version = ask_with(&configured, "VERSION.bind", RType::TXT, chaos);
    assert_eq!(version.rcode(), Rcode::NOERROR);
    assert_eq!(
        version.answers(),
        [("VERSION.bind.".into(), RType::TXT, "xcc-dns 0.1.0".into())]
    );
    let id = ask_with(&configured, "id.server", RType::TXT, chaos);
    assert_eq!(id.answers()[0].2, "responder-0");
    assert_eq!(
        ask_with(&configured, "other.bind", RType::TXT, chaos).rcode(),
        Rcode::REFUSED
    );
}

#[test]
fn address_rrsets_rotate_from_one_answer_to_the_next() {
    let table = fixture();
    let query = query_bytes(
        "x.gateway.cluster-a.dev-team.clusters.xcc.test",
        RType::A,
        Ask::default(),
    );
    let mut context = Context::default();
    let mut firsts = std::collections::BTreeSet::new();
    let mut previous = None;
    for _ in 0..4 {
        let answer = answer_bytes(&table, &query, Transport::Udp, &mut context).unwrap();
        let order: Vec<String> = answer.answers().into_iter().map(|r| r.2).collect();
        assert_eq!(order.len(), 2);
        assert_ne!(Some(order.clone()), previous, "the order changes each time");
        firsts.insert(order[0].clone());
        previous = Some(order);
    }
    assert_eq!(firsts.len(), 2, "every record comes first in turn");
}

#[test]
fn every_answer_fits_its_limit_and_parses() {
    let table = fixture();
    let names = [
        "www.xcc.test",
        "big.xcc.test",
        "alias.xcc.test",
        "loop1.xcc.test",
        "nope.xcc.test",
        "xcc.test",
        "deep.xcc.test",
        "example.com",
        ".",
    ];
    let types = [
        RType::A,
        RType::AAAA,
        RType::ANY,
        RType::SOA,
        RType::TXT,
        RType::CNAME,
    ];
    for name in names {
        for qtype in types {
            for edns in [None, Some(512), Some(1232), Some(65535)] {
                let answer = ask_with(
                    &table,
                    name,
                    qtype,
                    Ask {
                        edns,
                        ..Ask::default()
                    },
                );
                let limit = edns.map_or(512, |e| usize::from(e.clamp(512, 1232)));
                assert!(answer.bytes.len() <= limit, "{name} {qtype} {edns:?}");
                let _ = answer.message();
            }
        }
    }
}

//----------- CNAMEs carrying their target's addresses -------------------------

/// The load balancer a hostname-publishing cloud gives the gateway.
const LB: &str = "lb-123.elb.example.com.";

/// A gateway published as a CNAME to its load balancer's hostname, with
/// the addresses that hostname has now (`targetAddresses`); a v4-only one;
/// an in-zone alias of a gateway name; one whose target has many
/// addresses.
fn hostname_gateways() -> Table {
    let many: Vec<String> = (1..=40).map(|i| format!("10.2.0.{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    table_with(
        TableConfig::default(),
        &[
            cname_with_targets(GW_A, 30, LB, &["192.0.2.10", "2001:db8::10"]),
            cname_with_targets(
                "*.gateway.cluster-c.dev-team.clusters.xcc.test",
                45,
                "lb-456.elb.example.com",
                &["192.0.2.20"],
            ),
            cname(
                "kuard.xcc.test",
                "kuard.gateway.cluster-a.dev-team.clusters.xcc.test",
            ),
            cname_with_targets("many.xcc.test", 30, "many.lb.example.com", &many),
        ],
    )
}

fn cname_rr(owner: &str, target: &str) -> (String, RType, String) {
    (owner.to_string(), RType::CNAME, target.to_string())
}

#[test]
fn rfc1034_4_3_2_out_of_zone_cname_carries_the_target_a_records() {
    let table = hostname_gateways();
    let qname = "KuArD.gateway.cluster-a.dev-team.clusters.xcc.test";
    let answer = ask(&table, qname, RType::A);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert!(answer.flags().aa() && !answer.flags().tc());
    // The CNAME owned by the query name (wildcard synthesis, client's
    // case), then the target's A owned by the target (RFC 1034 §3.6.2).
    assert_eq!(
        answer.answers(),
        [cname_rr(&format!("{qname}."), LB), a(LB, "192.0.2.10")]
    );
    assert_eq!(answer.ttls(Section::Answer), [30, 30], "the record's TTL");
    assert!(answer.authority().is_empty());

    // The target's owner is a compression pointer to the name inside the
    // CNAME's RDATA: question (12 + name + 4), CNAME owner pointer (2),
    // TYPE..RDLENGTH (10), then the target.
    let question_end = 12 + qname.len() + 2 + 4;
    let target_at = question_end + 2 + 10;
    let lb_wire = b"\x06lb-123\x03elb\x07example\x03com\x00";
    assert_eq!(&answer.bytes[target_at..target_at + lb_wire.len()], lb_wire);
    let a_owner = target_at + lb_wire.len();
    assert_eq!(
        &answer.bytes[a_owner..a_owner + 2],
        &[0xC0 | (target_at >> 8) as u8, target_at as u8]
    );
}

#[test]
fn rfc1034_4_3_2_out_of_zone_cname_carries_the_target_aaaa_records() {
    let table = hostname_gateways();
    let qname = "x.gateway.cluster-a.dev-team.clusters.xcc.test";
    let answer = ask(&table, qname, RType::AAAA);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    assert!(answer.flags().aa());
    assert_eq!(
        answer.answers(),
        [
            cname_rr(&format!("{qname}."), LB),
            (LB.to_string(), RType::AAAA, "2001:db8::10".to_string())
        ]
    );
}

#[test]
fn rfc1034_3_6_2_cname_txt_and_any_queries_get_the_cname_alone() {
    let table = hostname_gateways();
    let qname = "x.gateway.cluster-a.dev-team.clusters.xcc.test";
    // CNAME: the record asked for. TXT (any type the target addresses do
    // not answer): the CNAME, as for every out-of-zone CNAME. ANY: one
    // RRset (RFC 8482 §4.1), the CNAME.
    for qtype in [RType::CNAME, RType::TXT, RType::ANY, RType::MX] {
        let answer = ask(&table, qname, qtype);
        assert_eq!(answer.rcode(), Rcode::NOERROR, "{qtype}");
        assert!(answer.flags().aa(), "{qtype}");
        assert_eq!(
            answer.answers(),
            [cname_rr(&format!("{qname}."), LB)],
            "{qtype}"
        );
        assert!(answer.authority().is_empty(), "{qtype}");
    }
}

#[test]
fn target_without_addresses_of_the_family_asked_gets_the_cname_alone() {
    let table = hostname_gateways();
    let qname = "x.gateway.cluster-c.dev-team.clusters.xcc.test";
    let aaaa = ask(&table, qname, RType::AAAA);
    assert_eq!(aaaa.rcode(), Rcode::NOERROR);
    assert_eq!(
        aaaa.answers(),
        [cname_rr(&format!("{qname}."), "lb-456.elb.example.com.")]
    );
    let a_answer = ask(&table, qname, RType::A);
    assert_eq!(
        a_answer.answers(),
        [
            cname_rr(&format!("{qname}."), "lb-456.elb.example.com."),
            a("lb-456.elb.example.com.", "192.0.2.20")
        ]
    );
    assert_eq!(a_answer.ttls(Section::Answer), [45, 45]);
}

#[test]
fn rfc1034_4_3_2_in_zone_chain_ending_in_a_carrying_cname_gets_the_addresses() {
    let table = hostname_gateways();
    let answer = ask(&table, "kuard.xcc.test", RType::A);
    assert_eq!(answer.rcode(), Rcode::NOERROR);
    let gateway = "kuard.gateway.cluster-a.dev-team.clusters.xcc.test.";
    assert_eq!(
        answer.answers(),
        [
            cname_rr("kuard.xcc.test.", gateway),
            cname_rr(gateway, LB),
            a(LB, "192.0.2.10"),
        ]
    );
}

#[test]
fn rfc2181_9_target_addresses_that_do_not_fit_set_tc_and_come_whole_over_tcp() {
    let table = hostname_gateways();
    for (edns, transport, fits) in [
        (None, Transport::Udp, false),
        (Some(512), Transport::Udp, false),
        (Some(1232), Transport::Udp, true),
        (None, Transport::Tcp, true),
    ] {
        let answer = ask_with(
            &table,
            "many.xcc.test",
            RType::A,
            Ask {
                edns,
                transport,
                ..Ask::default()
            },
        );
        let limit = match transport {
            Transport::Udp => edns.map_or(512, |e| usize::from(e.min(1232))),
            Transport::Tcp => 65535,
        };
        assert!(answer.bytes.len() <= limit, "{edns:?} {transport:?}");
        assert_eq!(answer.flags().tc(), !fits, "{edns:?} {transport:?}");
        assert!(answer.flags().aa(), "{edns:?} {transport:?}");
        let answers = answer.answers();
        // The CNAME always fits; the target's RRset whole or not at all.
        assert_eq!(answers[0].1, RType::CNAME, "{edns:?} {transport:?}");
        assert_eq!(
            answers.len(),
            if fits { 41 } else { 1 },
            "{edns:?} {transport:?}"
        );
    }
}

#[test]
fn target_addresses_rotate_like_other_address_rrsets() {
    let table = hostname_gateways();
    let query = query_bytes("many.xcc.test", RType::A, Ask::default());
    let mut context = Context::default();
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..4 {
        let answer = answer_bytes(&table, &query, Transport::Udp, &mut context).unwrap();
        firsts.insert(answer.answers()[1].2.clone());
    }
    assert!(firsts.len() > 1, "{firsts:?}");
}
