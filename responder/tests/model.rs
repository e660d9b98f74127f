//! A reference model: an obviously-correct, slow lookup written from the
//! RFC text (RFC 1034 §4.3.2, RFC 4592, RFC 2308), checked against the
//! engine on random tables and random queries.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use xcc_responder::records::model::DnsRecordSpec;
use xcc_responder::respond::MAX_CNAME_CHAIN;
use xcc_responder::table::TableConfig;
use xcc_wire::{RType, Rcode};

use crate::support::*;

const ZONE: &str = "xcc.test.";

/// The data one owner holds in a generated table.
#[derive(Clone, Debug)]
enum Data {
    A(Vec<u8>),
    Aaaa(Vec<u8>),
    Cname(String),
}

/// What the model says the answer is.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    rcode: Rcode,
    answers: Vec<(String, RType, String)>,
    soa_in_authority: bool,
}

/// Ancestors of `name` from itself up to the zone apex.
fn ancestors(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = name.to_string();
    loop {
        out.push(current.clone());
        if current == ZONE {
            break;
        }
        match current.split_once('.') {
            Some((_, rest)) => current = rest.to_string(),
            None => break,
        }
    }
    out
}

fn in_zone(name: &str) -> bool {
    name == ZONE || name.ends_with(&format!(".{ZONE}"))
}

/// RFC 4592 §3.3.1, by the letter: the node holding `name`'s data, or
/// `None` when the name does not exist. Returns (identity, data).
fn resolve<'a>(
    owners: &'a BTreeMap<String, Data>,
    existing: &BTreeSet<String>,
    name: &str,
) -> Option<(String, Option<&'a Data>)> {
    if existing.contains(name) {
        return Some((name.to_string(), owners.get(name)));
    }
    let closest_encloser = ancestors(name)
        .into_iter()
        .skip(1)
        .find(|a| existing.contains(a))?;
    let source = format!("*.{closest_encloser}");
    owners.get(&source).map(|data| (source, Some(data)))
}

fn model(owners: &BTreeMap<String, Data>, qname: &str, qtype: RType) -> Expected {
    let mut existing = BTreeSet::new();
    existing.insert(ZONE.to_string());
    for owner in owners.keys() {
        existing.extend(ancestors(owner));
    }
    let mut answers = Vec::new();
    let mut current = qname.to_string();
    let mut visited: Vec<String> = Vec::new();
    let mut cnames = 0;
    let negative = |answers, rcode| Expected {
        rcode,
        answers,
        soa_in_authority: true,
    };
    loop {
        let Some((identity, data)) = resolve(owners, &existing, &current) else {
            return negative(answers, Rcode::NXDOMAIN);
        };
        if visited.contains(&identity) {
            break;
        }
        visited.push(identity);
        match (data, qtype) {
            (Some(Data::A(hosts)), RType::A) => {
                for h in hosts {
                    answers.push((current.clone(), RType::A, format!("10.0.0.{h}")));
                }
                break;
            }
            (Some(Data::Aaaa(hosts)), RType::AAAA) => {
                for h in hosts {
                    answers.push((current.clone(), RType::AAAA, format!("fd00::{h:x}")));
                }
                break;
            }
            (Some(Data::Cname(target)), _) => {
                answers.push((current.clone(), RType::CNAME, target.clone()));
                cnames += 1;
                if qtype == RType::CNAME || cnames > MAX_CNAME_CHAIN || !in_zone(target) {
                    break;
                }
                current = target.clone();
            }
            _ => return negative(answers, Rcode::NOERROR),
        }
    }
    Expected {
        rcode: Rcode::NOERROR,
        answers,
        soa_in_authority: false,
    }
}

fn label() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "c", "gw"])
}

/// A name of 1..=3 labels under the zone, maybe a wildcard.
fn owner() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 1..=3),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(labels, wild)| {
            let mut name = labels.join(".");
            if wild {
                name = format!("*.{name}");
            }
            format!("{name}.{ZONE}")
        })
}

fn query_name() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::collection::vec(label(), 1..=4).prop_map(|l| format!("{}.{ZONE}", l.join("."))),
        1 => Just(ZONE.to_string()),
        1 => owner(),
    ]
}

fn data() -> impl Strategy<Value = Data> {
    let hosts = prop::collection::btree_set(1u8..=9, 1..=3).prop_map(|s| s.into_iter().collect());
    prop_oneof![
        3 => hosts.clone().prop_map(Data::A),
        1 => hosts.prop_map(Data::Aaaa),
        2 => prop_oneof![
            4 => prop::collection::vec(label(), 1..=3).prop_map(|l| format!("{}.{ZONE}", l.join("."))),
            1 => Just("out.example.".to_string()),
        ]
        .prop_map(Data::Cname),
    ]
}

fn spec(owner: &str, data: &Data) -> DnsRecordSpec {
    match data {
        Data::A(hosts) => {
            let list: Vec<String> = hosts.iter().map(|h| format!("10.0.0.{h}")).collect();
            addresses(
                owner,
                30,
                &list.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        }
        Data::Aaaa(hosts) => {
            let list: Vec<String> = hosts.iter().map(|h| format!("fd00::{h:x}")).collect();
            addresses(
                owner,
                30,
                &list.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        }
        Data::Cname(target) => cname(owner, target),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn engine_agrees_with_the_reference_model(
        owners in prop::collection::btree_map(owner(), data(), 1..12),
        queries in prop::collection::vec(
            (query_name(), prop::sample::select(vec![RType::A, RType::AAAA, RType::CNAME, RType::TXT])),
            1..12,
        ),
    ) {
        let specs: Vec<DnsRecordSpec> = owners.iter().map(|(o, d)| spec(o, d)).collect();
        let table = table_with(TableConfig::default(), &specs);
        for (qname, qtype) in queries {
            let expected = model(&owners, &qname, qtype);
            let answer = ask(&table, &qname, qtype);
            let mut got_answers = answer.answers();
            let mut want_answers = expected.answers.clone();
            got_answers.sort();
            want_answers.sort();
            let soa = answer.authority().iter().any(|r| r.1 == RType::SOA);
            prop_assert_eq!(answer.rcode(), expected.rcode, "{} {}", qname, qtype);
            prop_assert_eq!(got_answers, want_answers, "{} {}", qname, qtype);
            prop_assert_eq!(soa, expected.soa_in_authority, "{} {}", qname, qtype);
        }
    }
}

#[test]
fn the_model_itself_knows_the_rfc4592_examples() {
    // RFC 4592 §2.2.1's point in miniature: an existing name blocks the
    // wildcard, an empty non-terminal too.
    let mut owners = BTreeMap::new();
    owners.insert("*.a.xcc.test.".to_string(), Data::A(vec![1]));
    owners.insert("b.c.a.xcc.test.".to_string(), Data::A(vec![2]));
    let hit = model(&owners, "x.a.xcc.test.", RType::A);
    assert_eq!(
        hit.answers,
        [("x.a.xcc.test.".into(), RType::A, "10.0.0.1".into())]
    );
    let ent = model(&owners, "c.a.xcc.test.", RType::A);
    assert_eq!(
        (ent.rcode, ent.answers.len(), ent.soa_in_authority),
        (Rcode::NOERROR, 0, true)
    );
    let below_ent = model(&owners, "x.c.a.xcc.test.", RType::A);
    assert_eq!(below_ent.rcode, Rcode::NXDOMAIN);
}
