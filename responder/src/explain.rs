//! Explaining an answer: what the responder answers for one question, and
//! why.
//!
//! [`explain`] builds a query for the name and type, runs it through the
//! real answer engine ([`crate::respond::respond`], over TCP so nothing is
//! truncated) and reads the answer back, so the records it reports are
//! exactly what a client gets. Beside it, it asks the same table version
//! ([`Table::lookup`]) which node matched: the owner name, and whether the
//! answer was synthesised from a wildcard (RFC 4592) or matched exactly.
//! The answer path itself is untouched: this costs one query's work plus
//! the formatting, on the admin side only.
//!
//! The result, [`Explanation`], is what the admin endpoint's `/explain`
//! serves as JSON and what `xcc-controller explain` reads back (the same
//! type on both sides, so they cannot drift apart).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use xcc_wire::{
    Class, Flags, Message, MessageWriter, NameBuf, Question, RData, RType, Rcode, Record,
};

use crate::respond::{Context, Outcome, Transport, respond};
use crate::table::{Lookup, Table};

//----------- Explanation -------------------------------------------------------

/// What the responder answers for one question, and which node of which
/// table version answered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The name asked about, absolute, in presentation format.
    pub name: String,
    /// The type asked for (`A`, `AAAA`, ..., or `TYPE<n>`).
    #[serde(rename = "type")]
    pub qtype: String,
    /// The table's version (every zone's SOA serial).
    pub table_version: u32,
    /// Whether a records file or snapshot has been loaded since start
    /// (before that, every zone is empty).
    pub table_loaded: bool,
    /// When the current table was published, in seconds since the Unix
    /// epoch, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_loaded_at: Option<u64>,
    /// The zone the name is in; `None` when it is outside every zone
    /// (REFUSED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// What kind of answer the client gets.
    pub outcome: AnswerKind,
    /// The answer's RCODE (`NOERROR`, `NXDOMAIN`, `REFUSED`, ...).
    pub rcode: String,
    /// Whether the answer was truncated (never over TCP, which is how the
    /// explanation asks; a UDP client may still get TC for a large RRset).
    #[serde(default)]
    pub truncated: bool,
    /// The node the name matched, when it exists (itself or through a
    /// wildcard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<Matched>,
    /// The CNAMEs the answer followed, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cname_chain: Vec<CnameLink>,
    /// The answer section, one record per line in presentation format
    /// (`owner TTL IN TYPE RDATA`).
    #[serde(default)]
    pub answers: Vec<String>,
    /// The authority section (the SOA of a negative answer), likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authority: Vec<String>,
}

/// The kind of answer a question gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerKind {
    /// Records of the type asked for (or the CNAMEs leading to them, or a
    /// CNAME out of the zone).
    #[serde(rename = "answer")]
    Answer,
    /// The name exists, but has no data of that type (RFC 2308 §2.2).
    #[serde(rename = "NODATA")]
    NoData,
    /// The name does not exist and no wildcard covers it.
    #[serde(rename = "NXDOMAIN")]
    NxDomain,
    /// The name is outside every zone served (or the type is refused, as
    /// zone transfers are).
    #[serde(rename = "REFUSED")]
    Refused,
    /// Another RCODE (FORMERR for an OPT question, for example).
    #[serde(rename = "error")]
    Error,
}

impl AnswerKind {
    /// The kind as the JSON writes it (`answer`, `NODATA`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::NoData => "NODATA",
            Self::NxDomain => "NXDOMAIN",
            Self::Refused => "REFUSED",
            Self::Error => "error",
        }
    }
}

/// The node a name matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matched {
    /// The node's owner name, lowercase: the name itself, or the wildcard
    /// `*.<closest encloser>` the answer was synthesised from.
    pub owner: String,
    /// Whether the answer was synthesised from a wildcard (RFC 4592).
    pub wildcard: bool,
    /// Whether the node owns no data (an empty non-terminal: NODATA).
    #[serde(default)]
    pub empty_non_terminal: bool,
}

/// One CNAME the answer followed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CnameLink {
    /// The alias.
    pub owner: String,
    /// Its canonical name.
    pub target: String,
}

//----------- explain -----------------------------------------------------------

/// Explains the answer to `name` (class IN) of type `qtype` from `table`:
/// the real answer engine's answer, read back, with the node the table's
/// lookup matched. `loaded` and `loaded_at` describe the table (see
/// [`crate::table::handle::TableHandle`]).
pub fn explain(
    table: &Table,
    loaded: bool,
    loaded_at: Option<u64>,
    name: &NameBuf,
    qtype: RType,
) -> Explanation {
    let qname = name.as_name();
    let mut explanation = Explanation {
        name: qname.to_string(),
        qtype: qtype.to_string(),
        table_version: table.version(),
        table_loaded: loaded,
        table_loaded_at: loaded_at,
        zone: None,
        outcome: AnswerKind::Error,
        rcode: Rcode::SERVFAIL.to_string(),
        truncated: false,
        matched: None,
        cname_chain: Vec::new(),
        answers: Vec::new(),
        authority: Vec::new(),
    };
    let key = name.to_key();
    match table.lookup(&key) {
        Lookup::NotOurs => {}
        Lookup::NxDomain { zone } => explanation.zone = Some(zone.apex().to_string()),
        Lookup::Found {
            zone,
            node,
            wildcard,
        } => {
            explanation.zone = Some(zone.apex().to_string());
            explanation.matched = Some(Matched {
                owner: node.name().to_string(),
                wildcard,
                empty_non_terminal: node.is_empty_non_terminal(),
            });
        }
    }

    // The question as a client would send it, answered by the real engine.
    let mut query = [0u8; 512];
    let Ok(mut writer) = MessageWriter::new(&mut query, 512) else {
        return explanation;
    };
    writer.set_id(0x5843);
    writer.set_flags(Flags(0).with_rd(true));
    if writer
        .push_question(&Question {
            qname,
            qtype,
            qclass: Class::IN,
        })
        .is_err()
    {
        return explanation;
    }
    let query_len = writer.finish();
    let mut answer = vec![0u8; usize::from(u16::MAX)];
    let len = match respond(
        &query[..query_len],
        table,
        Transport::Tcp,
        &mut Context::default(),
        &mut answer,
    ) {
        Outcome::Answered { len, .. } => len,
        Outcome::Dropped(_) => return explanation,
    };
    let Ok(message) = Message::parse(&answer[..len]) else {
        return explanation;
    };
    let rcode = message.rcode();
    explanation.rcode = rcode.to_string();
    explanation.truncated = message.header().flags.tc();
    let mut has_soa = false;
    for record in message.answers() {
        if let RData::Cname(target) = record.rdata {
            explanation.cname_chain.push(CnameLink {
                owner: record.owner.to_string(),
                target: target.to_string(),
            });
        }
        explanation.answers.push(presentation(&record));
    }
    for record in message.authority() {
        has_soa |= record.rtype == RType::SOA;
        explanation.authority.push(presentation(&record));
    }
    explanation.outcome = match rcode {
        Rcode::NOERROR if has_soa || explanation.answers.is_empty() => AnswerKind::NoData,
        Rcode::NOERROR => AnswerKind::Answer,
        Rcode::NXDOMAIN => AnswerKind::NxDomain,
        Rcode::REFUSED => AnswerKind::Refused,
        _ => AnswerKind::Error,
    };
    explanation
}

/// Parses a query type as the admin endpoint takes it: a mnemonic (`A`,
/// `aaaa`, ...), `TYPE<n>` (RFC 3597 §5) or a number.
pub fn parse_type(text: &str) -> Option<RType> {
    if let Some(rtype) = RType::from_mnemonic(text) {
        return Some(rtype);
    }
    let digits = match text.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("TYPE") => &text[4..],
        _ => text,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u16>().ok().map(RType)
}

//----------- Presentation format ---------------------------------------------------

/// One record in presentation format (RFC 1035 §5.1):
/// `owner TTL CLASS TYPE RDATA`.
pub fn presentation(record: &Record<'_>) -> String {
    let mut out = format!(
        "{} {} {} {} ",
        record.owner, record.ttl, record.class, record.rtype
    );
    write_rdata(&record.rdata, record.rdata_wire, &mut out);
    out
}

/// Writes RDATA in presentation format; types without a typed view in the
/// RFC 3597 §5 generic form (`\# <length> <hex>`).
fn write_rdata(rdata: &RData<'_>, wire: &[u8], out: &mut String) {
    // Writing to a String cannot fail.
    let _ = match rdata {
        RData::A(address) => write!(out, "{address}"),
        RData::Aaaa(address) => write!(out, "{address}"),
        RData::Ns(name) | RData::Cname(name) | RData::Ptr(name) => write!(out, "{name}"),
        RData::Soa(soa) => write!(
            out,
            "{} {} {} {} {} {} {}",
            soa.mname, soa.rname, soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum
        ),
        RData::Mx(mx) => write!(out, "{} {}", mx.preference, mx.exchange),
        RData::Srv(srv) => write!(
            out,
            "{} {} {} {}",
            srv.priority, srv.weight, srv.port, srv.target
        ),
        RData::Txt(txt) => {
            for (i, string) in txt.strings().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_character_string(string, out);
            }
            Ok(())
        }
        RData::Opt(_) | RData::Unknown(_) => {
            let _ = write!(out, "\\# {}", wire.len());
            if !wire.is_empty() {
                out.push(' ');
            }
            for byte in wire {
                let _ = write!(out, "{byte:02x}");
            }
            Ok(())
        }
    };
}

/// A character-string in quotes, `"` and `\` escaped, other bytes outside
/// printable ASCII as `\DDD`.
fn write_character_string(string: &[u8], out: &mut String) {
    out.push('"');
    for &byte in string {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            0x20..=0x7E => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\{byte:03}");
            }
        }
    }
    out.push('"');
}

//----------- Tests ---------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::model::{DnsRecordSpec, SrvSpec};
    use crate::table::{Source, TableBuilder, TableConfig};

    fn table() -> Table {
        let spec = |name: &str| DnsRecordSpec {
            name: name.into(),
            ttl: 30,
            ..DnsRecordSpec::default()
        };
        let mut builder = TableBuilder::new(TableConfig {
            version: 1_732_881_234,
            ..TableConfig::default()
        });
        for s in [
            DnsRecordSpec {
                addresses: vec!["192.0.2.10".into()],
                ..spec("*.gateway.cluster-a.dev-team.clusters.xcc.test")
            },
            DnsRecordSpec {
                addresses: vec!["192.0.2.1".into()],
                ..spec("www.xcc.test")
            },
            DnsRecordSpec {
                cname: Some("www.xcc.test".into()),
                ..spec("alias.xcc.test")
            },
            DnsRecordSpec {
                txt: vec!["say \"hi\"".into()],
                ..spec("text.xcc.test")
            },
            DnsRecordSpec {
                srv: vec![SrvSpec {
                    priority: 1,
                    weight: 2,
                    port: 443,
                    target: "www.xcc.test".into(),
                }],
                ..spec("_https._tcp.xcc.test")
            },
        ] {
            builder.add_spec(&s, Source::default()).unwrap();
        }
        builder.build().table
    }

    fn run(name: &str, qtype: RType) -> Explanation {
        let name = NameBuf::from_presentation(name).unwrap();
        explain(&table(), true, Some(1_700_000_000), &name, qtype)
    }

    #[test]
    fn wildcard_answer_names_the_wildcard_owner() {
        let e = run(
            "kuard.gateway.cluster-a.dev-team.clusters.xcc.test",
            RType::A,
        );
        assert_eq!(e.outcome, AnswerKind::Answer);
        assert_eq!(e.rcode, "NOERROR");
        assert_eq!(e.table_version, 1_732_881_234);
        assert_eq!(e.table_loaded_at, Some(1_700_000_000));
        assert_eq!(e.zone.as_deref(), Some("xcc.test."));
        assert_eq!(
            e.matched,
            Some(Matched {
                owner: "*.gateway.cluster-a.dev-team.clusters.xcc.test.".into(),
                wildcard: true,
                empty_non_terminal: false,
            })
        );
        assert_eq!(
            e.answers,
            ["kuard.gateway.cluster-a.dev-team.clusters.xcc.test. 30 IN A 192.0.2.10"]
        );
        assert!(e.authority.is_empty() && e.cname_chain.is_empty());
    }

    #[test]
    fn exact_answer_and_the_client_case() {
        let e = run("WWW.xcc.test.", RType::A);
        assert_eq!(e.outcome, AnswerKind::Answer);
        let matched = e.matched.unwrap();
        assert_eq!(matched.owner, "www.xcc.test.");
        assert!(!matched.wildcard);
        assert_eq!(e.answers, ["WWW.xcc.test. 30 IN A 192.0.2.1"]);
    }

    #[test]
    fn cname_chain_is_listed() {
        let e = run("alias.xcc.test", RType::A);
        assert_eq!(e.outcome, AnswerKind::Answer);
        assert_eq!(e.matched.unwrap().owner, "alias.xcc.test.");
        assert_eq!(
            e.cname_chain,
            [CnameLink {
                owner: "alias.xcc.test.".into(),
                target: "www.xcc.test.".into()
            }]
        );
        assert_eq!(
            e.answers,
            [
                "alias.xcc.test. 30 IN CNAME www.xcc.test.",
                "www.xcc.test. 30 IN A 192.0.2.1"
            ]
        );
    }

    #[test]
    fn nodata_nxdomain_and_refused() {
        let e = run("www.xcc.test", RType::AAAA);
        assert_eq!(e.outcome, AnswerKind::NoData);
        assert_eq!(e.rcode, "NOERROR");
        assert!(e.answers.is_empty());
        assert_eq!(e.authority.len(), 1);
        assert!(e.authority[0].starts_with("xcc.test. 5 IN SOA "), "{e:?}");

        // An empty non-terminal exists: NODATA, and it is what matched.
        let e = run("clusters.xcc.test", RType::A);
        assert_eq!(e.outcome, AnswerKind::NoData);
        assert!(e.matched.unwrap().empty_non_terminal);

        let e = run("nope.xcc.test", RType::A);
        assert_eq!(e.outcome, AnswerKind::NxDomain);
        assert_eq!(e.zone.as_deref(), Some("xcc.test."));
        assert!(e.matched.is_none());

        let e = run("example.com", RType::A);
        assert_eq!(e.outcome, AnswerKind::Refused);
        assert_eq!(e.zone, None);
        assert!(e.matched.is_none() && e.answers.is_empty());
    }

    #[test]
    fn txt_srv_and_unknown_types_in_presentation_format() {
        let e = run("text.xcc.test", RType::TXT);
        assert_eq!(e.answers, [r#"text.xcc.test. 30 IN TXT "say \"hi\"""#]);
        let e = run("_https._tcp.xcc.test", RType::SRV);
        assert_eq!(
            e.answers,
            ["_https._tcp.xcc.test. 30 IN SRV 1 2 443 www.xcc.test."]
        );
        let e = run("www.xcc.test", RType(65280));
        assert_eq!(e.qtype, "TYPE65280");
        assert_eq!(e.outcome, AnswerKind::NoData);
    }

    #[test]
    fn json_round_trips_with_the_documented_field_names() {
        let e = run(
            "kuard.gateway.cluster-a.dev-team.clusters.xcc.test",
            RType::A,
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "A");
        assert_eq!(json["outcome"], "answer");
        assert_eq!(json["tableVersion"], 1_732_881_234);
        assert_eq!(json["matched"]["wildcard"], true);
        let back: Explanation = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn types_parse_by_mnemonic_and_number() {
        assert_eq!(parse_type("A"), Some(RType::A));
        assert_eq!(parse_type("aaaa"), Some(RType::AAAA));
        assert_eq!(parse_type("TYPE65280"), Some(RType(65280)));
        assert_eq!(parse_type("type16"), Some(RType::TXT));
        assert_eq!(parse_type("28"), Some(RType::AAAA));
        for bad in ["", "TYPE", "BOGUS", "TYPE70000", "-1", "TYPEx"] {
            assert_eq!(parse_type(bad), None, "{bad}");
        }
    }
}
