//! Table building: every rejection rule names the record it rejects, and
//! every valid record is still served.

use xcc_responder::table::{
    ObjectRef, Problem, RecordValue, Rejection, Source, SourceRef, TableBuilder, TableConfig,
    ZoneConfig,
};
use xcc_wire::{NameBuf, RType, Rcode};

use crate::support::*;

fn rejections(problems: &[Problem]) -> Vec<(Option<String>, Rejection)> {
    problems
        .iter()
        .map(|p| (p.source.object.clone(), p.rejection.clone()))
        .collect()
}

fn object(i: usize) -> Option<String> {
    Some(format!("test/{i}"))
}

#[test]
fn bad_records_are_rejected_by_name_and_the_rest_is_served() {
    let long_label = format!("{}.xcc.test", "a".repeat(64));
    let built = build(
        TableConfig::default(),
        &[
            addresses("good.xcc.test", 30, &["192.0.2.1"]),
            addresses(&long_label, 30, &["192.0.2.2"]),
            addresses("bad-address.xcc.test", 30, &["192.0.2.300"]),
            addresses("ttl.xcc.test", 0x8000_0000, &["192.0.2.3"]),
            addresses("outside.example.com", 30, &["192.0.2.4"]),
            cname("bad-target.xcc.test", "a..b"),
            txt("long.xcc.test", &[&"x".repeat(256)]),
            DnsRecordSpec {
                name: "empty.xcc.test".into(),
                ..DnsRecordSpec::default()
            },
            DnsRecordSpec {
                name: "mixed.xcc.test".into(),
                addresses: vec!["192.0.2.5".into()],
                cname: Some("www.xcc.test".into()),
                ..DnsRecordSpec::default()
            },
            addresses("good2.xcc.test", 30, &["192.0.2.6"]),
        ],
    );
    let found = rejections(&built.problems);
    let kinds: Vec<String> = found
        .iter()
        .map(|(object, rejection)| format!("{}: {:?}", object.as_deref().unwrap(), rejection))
        .collect();
    assert_eq!(found.len(), 8, "{kinds:#?}");
    assert!(matches!(&found[0], (o, Rejection::BadName { field: "name", .. }) if *o == object(1)));
    assert_eq!(
        found[1],
        (object(2), Rejection::BadAddress("192.0.2.300".into()))
    );
    assert_eq!(found[2], (object(3), Rejection::TtlOutOfRange(0x8000_0000)));
    assert!(matches!(&found[3], (o, Rejection::BadName { field: "cname", .. }) if *o == object(5)));
    assert_eq!(found[4], (object(6), Rejection::TxtTooLong(256)));
    assert_eq!(found[5], (object(7), Rejection::NoData));
    assert_eq!(found[6], (object(8), Rejection::MixedData));
    // Zone membership is checked at build time, after the static checks.
    assert_eq!(found[7], (object(4), Rejection::OutsideZones));

    for name in ["good.xcc.test", "good2.xcc.test"] {
        let answer = ask(&built.table, name, RType::A);
        assert_eq!(answer.rcode(), Rcode::NOERROR, "{name}");
        assert_eq!(answer.answers().len(), 1, "{name}");
    }
    assert_eq!(
        ask(&built.table, "bad-address.xcc.test", RType::A).rcode(),
        Rcode::NXDOMAIN
    );
}

#[test]
fn problems_say_where_what_and_why() {
    let built = build(
        TableConfig::default(),
        &[addresses("x.xcc.test", 30, &["not-an-ip"])],
    );
    let text = built.problems[0].to_string();
    assert_eq!(
        text,
        "DNSRecord test/0: x.xcc.test: \"not-an-ip\" is not an IPv4 or IPv6 address"
    );
    let mut builder = TableBuilder::new(TableConfig::default());
    let source = Source {
        file: Some("records.yaml".into()),
        document: Some(3),
        object: Some("xcc-dns/web".into()),
    };
    let _ = builder.add_spec(&addresses("a..b", 30, &["192.0.2.1"]), source);
    let text = builder.build().problems[0].to_string();
    assert!(
        text.starts_with("records.yaml, document 3, DNSRecord xcc-dns/web: a..b: invalid name"),
        "{text}"
    );
}

#[test]
fn a_borrowed_source_is_kept_and_given_back_as_an_owned_one() {
    // The builder keeps sources in arenas of its own; what it reports must
    // be what it was given, borrowed or owned, with or without a namespace.
    let mut builder = TableBuilder::new(TableConfig::default());
    let first = SourceRef {
        file: Some("big.json"),
        document: Some(1),
        object: Some(ObjectRef {
            namespace: Some("xcc-dns"),
            name: "web",
        }),
    };
    builder
        .add_spec(&addresses("web.xcc.test", 30, &["192.0.2.1"]), first)
        .unwrap();
    let second = SourceRef {
        object: Some(ObjectRef {
            namespace: None,
            name: "alias",
        }),
        ..first
    };
    builder
        .add_spec(&cname("web.xcc.test", "elsewhere.example.org"), second)
        .unwrap();
    let owned = Source {
        file: Some("other.yaml".into()),
        document: None,
        object: Some("ns/third".into()),
    };
    builder
        .add_spec(&addresses("third.xcc.test", 30, &["192.0.2.3"]), &owned)
        .unwrap();
    assert_eq!(builder.withdraw_last(), Some(owned.clone()));
    builder
        .add_spec(&addresses("third.xcc.test", 30, &["192.0.2.3"]), &owned)
        .unwrap();
    let bad = builder.add_spec(&addresses("bad.xcc.test", 30, &["x"]), second);
    assert_eq!(bad.unwrap_err().source, second.to_source());

    let built = builder.build();
    let web = Source {
        file: Some("big.json".into()),
        document: Some(1),
        object: Some("xcc-dns/web".into()),
    };
    let alias = Source {
        object: Some("alias".into()),
        ..web.clone()
    };
    assert_eq!(built.problems.len(), 2, "{:?}", built.problems);
    assert_eq!(built.problems[0].source, alias);
    assert_eq!(built.problems[1].source, alias);
    assert_eq!(
        built.problems[1].rejection,
        Rejection::CnameConflict { with: web }
    );
}

#[test]
fn rfc1034_3_6_2_cname_and_other_data_first_come_wins() {
    let built = build(
        TableConfig::default(),
        &[
            addresses("web.xcc.test", 30, &["192.0.2.1"]),
            cname("web.xcc.test", "elsewhere.xcc.test"),
            cname("alias.xcc.test", "web.xcc.test"),
            addresses("alias.xcc.test", 30, &["192.0.2.9"]),
            txt("alias.xcc.test", &["also not allowed"]),
        ],
    );
    let found = rejections(&built.problems);
    assert_eq!(found.len(), 3);
    let with = |i: usize| Source {
        object: object(i),
        ..Source::default()
    };
    assert_eq!(
        found[0],
        (object(1), Rejection::CnameConflict { with: with(0) })
    );
    assert_eq!(
        found[1],
        (object(3), Rejection::CnameConflict { with: with(2) })
    );
    assert_eq!(
        found[2],
        (object(4), Rejection::CnameConflict { with: with(2) })
    );
    let answer = ask(&built.table, "web.xcc.test", RType::A);
    assert_eq!(answer.answers().len(), 1);
    assert_eq!(answer.answers()[0].1, RType::A);
}

#[test]
fn one_cname_per_owner_and_none_at_the_apex() {
    let built = build(
        TableConfig::default(),
        &[
            cname("a.xcc.test", "b.xcc.test"),
            cname("a.xcc.test", "B.xcc.test."),
            cname("a.xcc.test", "c.xcc.test"),
            cname("xcc.test", "elsewhere.example"),
        ],
    );
    let found = rejections(&built.problems);
    assert_eq!(found.len(), 2, "the same target twice is merged: {found:?}");
    assert!(matches!(found[0].1, Rejection::SecondCname { .. }));
    assert_eq!(found[0].0, object(2));
    assert_eq!(found[1], (object(3), Rejection::CnameAtApex));
}

#[test]
fn ns_below_the_apex_and_soa_records_are_refused() {
    let mut builder = TableBuilder::new(TableConfig::default());
    let ns = |name: &str| RecordValue::Ns(Box::new(NameBuf::from_presentation(name).unwrap()));
    assert!(
        builder
            .add(
                Source::default(),
                "sub.xcc.test",
                30,
                vec![ns("ns.elsewhere.example")]
            )
            .is_ok()
    );
    assert!(
        builder
            .add(
                Source::default(),
                "xcc.test",
                30,
                vec![ns("ns1.xcc.test"), ns("ns2.xcc.test")]
            )
            .is_ok()
    );
    assert!(
        builder
            .add(
                Source::default(),
                "xcc.test",
                30,
                vec![RecordValue::Other {
                    rtype: RType::SOA,
                    rdata: vec![0; 22]
                }]
            )
            .is_ok()
    );
    let built = builder.build();
    let found: Vec<Rejection> = built.problems.into_iter().map(|p| p.rejection).collect();
    assert_eq!(found, [Rejection::Delegation, Rejection::MisplacedSoa]);
    // NS at the apex from records replace the synthesised one.
    let answer = ask(&built.table, "xcc.test", RType::NS);
    let targets: Vec<String> = answer.answers().into_iter().map(|r| r.2).collect();
    assert_eq!(targets, ["ns1.xcc.test.", "ns2.xcc.test."]);
}

#[test]
fn opaque_data_of_a_known_type_must_have_its_shape() {
    let mut builder = TableBuilder::new(TableConfig::default());
    let other = |rtype: RType, rdata: &[u8]| RecordValue::Other {
        rtype,
        rdata: rdata.to_vec(),
    };
    assert!(
        builder
            .add(
                Source::default(),
                "a.xcc.test",
                30,
                vec![other(RType::A, &[10, 0, 0])]
            )
            .is_err()
    );
    assert!(
        builder
            .add(
                Source::default(),
                "b.xcc.test",
                30,
                vec![other(RType::MX, b"\x00\x01\x41a\x00")]
            )
            .is_err()
    );
    assert!(
        builder
            .add(
                Source::default(),
                "c.xcc.test",
                30,
                vec![other(RType(65280), b"anything")]
            )
            .is_ok()
    );
    assert!(
        builder
            .add(
                Source::default(),
                "d.xcc.test",
                30,
                vec![other(RType::A, &[10, 0, 0, 4])]
            )
            .is_ok()
    );
    let built = builder.build();
    let found: Vec<Rejection> = built.problems.into_iter().map(|p| p.rejection).collect();
    assert_eq!(
        found,
        [
            Rejection::MalformedRdata(RType::A),
            Rejection::MalformedRdata(RType::MX)
        ]
    );
    assert_eq!(ask(&built.table, "d.xcc.test", RType::A).answers().len(), 1);
}

#[test]
fn duplicates_are_merged_and_an_rrset_takes_its_smallest_ttl() {
    let built = build(
        TableConfig::default(),
        &[
            addresses("web.xcc.test", 300, &["192.0.2.1", "192.0.2.2"]),
            addresses("web.xcc.test", 60, &["192.0.2.2", "192.0.2.3"]),
        ],
    );
    assert!(built.problems.is_empty());
    let answer = ask(&built.table, "web.xcc.test", RType::A);
    let mut addresses: Vec<String> = answer.answers().into_iter().map(|r| r.2).collect();
    addresses.sort();
    assert_eq!(addresses, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    assert_eq!(answer.ttls(xcc_wire::Section::Answer), [60, 60, 60]);
    // 3 A + apex SOA + apex NS.
    assert_eq!(built.table.record_count(), 5);
}

#[test]
fn several_zones_and_the_longest_apex_wins() {
    let name = |text: &str| NameBuf::from_presentation(text).unwrap();
    let config = TableConfig {
        zones: vec![
            ZoneConfig::new(name("xcc.test")),
            ZoneConfig::new(name("sub.xcc.test")),
            ZoneConfig::new(name("other.example")),
        ],
        ..TableConfig::default()
    };
    let built = build(
        config,
        &[
            addresses("a.xcc.test", 30, &["192.0.2.1"]),
            addresses("b.sub.xcc.test", 30, &["192.0.2.2"]),
            addresses("c.other.example", 30, &["192.0.2.3"]),
        ],
    );
    assert!(built.problems.is_empty());
    let table = &built.table;
    assert_eq!(table.zones().len(), 3);
    let nx = ask(table, "nope.sub.xcc.test", RType::A);
    assert_eq!(nx.rcode(), Rcode::NXDOMAIN);
    assert_eq!(
        nx.authority()[0].0,
        "sub.xcc.test.",
        "the SOA of the deeper zone"
    );
    assert_eq!(ask(table, "b.sub.xcc.test", RType::A).answers().len(), 1);
    assert_eq!(ask(table, "c.other.example", RType::A).answers().len(), 1);
    assert_eq!(ask(table, "sub.xcc.test", RType::SOA).answers().len(), 1);
}

use xcc_responder::records::model::DnsRecordSpec;

#[test]
fn parsed_specs_give_what_add_spec_gives() {
    use xcc_responder::table::ParsedSpec;
    use xcc_responder::table::snapshot;
    let long_label = format!("{}.xcc.test", "a".repeat(64));
    let specs = [
        addresses("good.xcc.test", 30, &["192.0.2.1", "2001:db8::1"]),
        addresses("*.gw.xcc.test", 60, &["192.0.2.7"]),
        addresses(&long_label, 30, &["192.0.2.2"]),
        addresses("bad-address.xcc.test", 30, &["192.0.2.300"]),
        addresses("ttl.xcc.test", 0x8000_0000, &["192.0.2.3"]),
        addresses("outside.example.com", 30, &["192.0.2.4"]),
        cname("alias.xcc.test", "good.xcc.test"),
        cname("bad-target.xcc.test", "a..b"),
        txt("text.xcc.test", &["one", "two"]),
        txt("long.xcc.test", &[&"x".repeat(256)]),
        DnsRecordSpec {
            name: "empty.xcc.test".into(),
            ..DnsRecordSpec::default()
        },
        DnsRecordSpec {
            name: "mixed.xcc.test".into(),
            addresses: vec!["192.0.2.5".into()],
            cname: Some("www.xcc.test".into()),
            ..DnsRecordSpec::default()
        },
        // A second group at a name, and a CNAME conflict the build finds.
        addresses("good.xcc.test", 10, &["192.0.2.9"]),
        cname("good.xcc.test", "text.xcc.test"),
        // Target addresses: good, malformed, and in-zone (found at build).
        cname_with_targets("lb.xcc.test", 30, "lb.example.com", &["192.0.2.8"]),
        cname_with_targets("bad-lb.xcc.test", 30, "lb.example.com", &["x"]),
        cname_with_targets("in-lb.xcc.test", 30, "good.xcc.test", &["192.0.2.8"]),
    ];
    let mut direct = TableBuilder::new(TableConfig::default());
    let mut parsed = TableBuilder::new(TableConfig::default());
    for (i, spec) in specs.iter().enumerate() {
        let source = || Source {
            object: object(i),
            ..Source::default()
        };
        let expected = direct
            .add_spec(spec, source())
            .map_err(|p| p.rejection.clone());
        match ParsedSpec::parse(spec) {
            Ok(spec) => {
                parsed.add_parsed(&spec, source());
                assert!(expected.is_ok(), "{i}: {expected:?}");
            }
            Err(rejection) => {
                assert_eq!(Err(rejection.clone()), expected, "{i}");
                parsed.reject(source(), Some(specs[i].name.clone()), rejection);
            }
        }
    }
    let (direct, parsed) = (direct.build(), parsed.build());
    assert_eq!(rejections(&direct.problems), rejections(&parsed.problems));
    assert_eq!(
        snapshot::encode(&direct.table),
        snapshot::encode(&parsed.table)
    );
}

//----------- Target addresses --------------------------------------------------

#[test]
fn target_addresses_are_rejected_by_name_unless_on_a_cname_leaving_every_zone() {
    let name = |text: &str| NameBuf::from_presentation(text).unwrap();
    let config = TableConfig {
        zones: vec![
            ZoneConfig::new(name("xcc.test")),
            ZoneConfig::new(name("other.example")),
        ],
        ..TableConfig::default()
    };
    let built = build(
        config,
        &[
            // 0: served.
            cname_with_targets("good.xcc.test", 30, "lb.example.com", &["192.0.2.1"]),
            // 1, 2: no CNAME to carry them (alone, or beside addresses).
            DnsRecordSpec {
                name: "alone.xcc.test".into(),
                target_addresses: vec!["192.0.2.1".into()],
                ..DnsRecordSpec::default()
            },
            DnsRecordSpec {
                name: "beside.xcc.test".into(),
                addresses: vec!["192.0.2.2".into()],
                target_addresses: vec!["192.0.2.1".into()],
                ..DnsRecordSpec::default()
            },
            // 3: not an address.
            cname_with_targets("bad.xcc.test", 30, "lb.example.com", &["192.0.2.1", "lb"]),
            // 4, 5: the target inside a served zone, this one or another.
            cname_with_targets("in.xcc.test", 30, "good.xcc.test", &["192.0.2.1"]),
            cname_with_targets("across.xcc.test", 30, "lb.Other.Example.", &["192.0.2.1"]),
            // 6: a CNAME, addresses and target addresses: two kinds of data.
            DnsRecordSpec {
                addresses: vec!["192.0.2.2".into()],
                ..cname_with_targets("mixed.xcc.test", 30, "lb.example.com", &["192.0.2.1"])
            },
            // 7: the same CNAME as 0, other target addresses.
            cname_with_targets("good.xcc.test", 30, "lb.example.com", &["192.0.2.9"]),
            // 8: another CNAME for 0's owner.
            cname_with_targets("good.xcc.test", 30, "lb2.example.com", &["192.0.2.1"]),
            // 9: in-zone target without target addresses: followed, fine.
            cname("plain.xcc.test", "good.xcc.test"),
        ],
    );
    let found = rejections(&built.problems);
    let with = |i: usize| Source {
        object: object(i),
        ..Source::default()
    };
    assert_eq!(
        found,
        [
            // Checked on their own, as each is added.
            (object(1), Rejection::TargetAddressesWithoutCname),
            (object(2), Rejection::TargetAddressesWithoutCname),
            (object(3), Rejection::BadTargetAddress("lb".into())),
            (object(6), Rejection::MixedData),
            // Checked against the zones and the earlier groups, at build.
            (
                object(4),
                Rejection::TargetAddressesInServedZone {
                    target: "good.xcc.test.".into(),
                    zone: "xcc.test.".into(),
                }
            ),
            (
                object(5),
                Rejection::TargetAddressesInServedZone {
                    target: "lb.Other.Example.".into(),
                    zone: "other.example.".into(),
                }
            ),
            (
                object(7),
                Rejection::DifferentTargetAddresses { with: with(0) }
            ),
            (object(8), Rejection::SecondCname { with: with(0) }),
        ]
    );
    // Every message names the record and says what to change.
    let messages: Vec<String> = built.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages[0],
        "DNSRecord test/1: alone.xcc.test: targetAddresses without a cname: \
         they are the addresses of a CNAME target"
    );
    assert_eq!(
        messages[2],
        "DNSRecord test/3: bad.xcc.test: targetAddresses: \"lb\" is not an IPv4 or IPv6 address"
    );
    assert!(
        messages[4].starts_with(
            "DNSRecord test/4: in.xcc.test: targetAddresses on a cname to good.xcc.test., \
             inside the served zone xcc.test.:"
        ),
        "{}",
        messages[4]
    );
    assert!(
        messages[6].ends_with(
            "the same CNAME with different targetAddresses; DNSRecord test/0 has the first"
        ),
        "{}",
        messages[6]
    );
    // What was accepted is served.
    let answer = ask(&built.table, "good.xcc.test", RType::A);
    assert_eq!(
        answer.answers(),
        [
            (
                "good.xcc.test.".into(),
                RType::CNAME,
                "lb.example.com.".into()
            ),
            ("lb.example.com.".into(), RType::A, "192.0.2.1".into()),
        ]
    );
    let plain = ask(&built.table, "plain.xcc.test", RType::A);
    assert_eq!(plain.answers().len(), 3, "followed in the zone");
}

#[test]
fn repeated_target_addresses_are_served_once_and_order_does_not_matter() {
    let built = build(
        TableConfig::default(),
        &[
            cname_with_targets(
                "gw.xcc.test",
                60,
                "lb.example.com",
                &[
                    "192.0.2.2",
                    "192.0.2.1",
                    " 192.0.2.2",
                    "2001:db8::1",
                    "2001:DB8:0::1",
                ],
            ),
            // The same CNAME and the same set, in another order, from a
            // second source: merged, served once, with the smaller TTL.
            cname_with_targets(
                "gw.xcc.test",
                30,
                "lb.example.com",
                &["2001:db8::1", "192.0.2.1", "192.0.2.2"],
            ),
        ],
    );
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    let answer = ask(&built.table, "gw.xcc.test", RType::A);
    let mut served: Vec<String> = answer.answers().into_iter().skip(1).map(|r| r.2).collect();
    served.sort();
    assert_eq!(served, ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(answer.ttls(xcc_wire::Section::Answer), [30, 30, 30]);
    let aaaa = ask(&built.table, "gw.xcc.test", RType::AAAA);
    assert_eq!(aaaa.answers()[1].2, "2001:db8::1");
    assert_eq!(aaaa.answers().len(), 2);
    // CNAME + 2 A + 1 AAAA + apex SOA + apex NS.
    assert_eq!(built.table.record_count(), 6);

    // Values given directly are made a set the same way.
    let mut builder = TableBuilder::new(TableConfig::default());
    let ip = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
    let value = RecordValue::Cname {
        target: Box::new(NameBuf::from_presentation("lb.example.com").unwrap()),
        target_addresses: vec![ip("192.0.2.2"), ip("192.0.2.1"), ip("192.0.2.2")].into(),
    };
    assert!(
        builder
            .add(Source::default(), "gw.xcc.test", 30, vec![value])
            .is_ok()
    );
    let table = builder.build().table;
    let answer = ask(&table, "gw.xcc.test", RType::A);
    let mut served: Vec<String> = answer.answers().into_iter().skip(1).map(|r| r.2).collect();
    served.sort();
    assert_eq!(served, ["192.0.2.1", "192.0.2.2"]);
}
