//! Typed views of RDATA, and the rules for writing it.
//!
//! A, AAAA, NS, CNAME, SOA, PTR, MX, TXT, SRV and OPT are parsed into typed
//! views; every other type stays opaque bytes (RFC 3597 §5), so a record this
//! crate does not know passes through unchanged. Names inside RDATA are
//! decompressed when read. On output only the types RFC 3597 §4 lists as
//! well known (NS, CNAME, SOA, PTR, MX) have their names compressed; SRV
//! targets are written in full (RFC 2782, "name compression is not to be
//! used for this field").

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::edns::OptData;
use crate::error::{ParseError, ParseErrorKind};
use crate::name::Name;
use crate::reader::Reader;
use crate::types::{Class, RType};

/// The RDATA of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RData<'a> {
    /// An IPv4 address (class IN).
    A(Ipv4Addr),
    /// An IPv6 address (class IN, RFC 3596).
    Aaaa(Ipv6Addr),
    /// An authoritative name server.
    Ns(Name<'a>),
    /// The canonical name of an alias.
    Cname(Name<'a>),
    /// A domain name pointer.
    Ptr(Name<'a>),
    /// A start of authority.
    Soa(Soa<'a>),
    /// A mail exchange.
    Mx(Mx<'a>),
    /// One or more character-strings.
    Txt(Txt<'a>),
    /// A service location (class IN, RFC 2782).
    Srv(Srv<'a>),
    /// The EDNS0 pseudo-record's options (RFC 6891).
    Opt(OptData<'a>),
    /// Any other type, or a known type in a class where its layout is
    /// different: the RDATA as opaque bytes (RFC 3597).
    Unknown(&'a [u8]),
}

/// SOA RDATA (RFC 1035 §3.3.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Soa<'a> {
    /// The primary name server.
    pub mname: Name<'a>,
    /// The mailbox of the person responsible, as a name.
    pub rname: Name<'a>,
    /// The zone's version.
    pub serial: u32,
    /// Seconds before a secondary refreshes.
    pub refresh: u32,
    /// Seconds before a failed refresh is retried.
    pub retry: u32,
    /// Seconds after which a secondary stops answering.
    pub expire: u32,
    /// The negative-caching TTL bound (RFC 2308 §4).
    pub minimum: u32,
}

/// MX RDATA (RFC 1035 §3.3.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mx<'a> {
    /// Lower is preferred.
    pub preference: u16,
    /// The mail host.
    pub exchange: Name<'a>,
}

/// SRV RDATA (RFC 2782).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Srv<'a> {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative weight among equal priorities.
    pub weight: u16,
    /// The service's port.
    pub port: u16,
    /// The host providing the service.
    pub target: Name<'a>,
}

/// TXT RDATA: one or more character-strings, each a length octet and up to
/// 255 octets (RFC 1035 §3.3.14). Holds the validated wire bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Txt<'a> {
    wire: &'a [u8],
}

impl<'a> Txt<'a> {
    /// Validates TXT RDATA in wire form: at least one string, and the
    /// strings exactly fill the bytes.
    pub fn from_wire(wire: &'a [u8]) -> Result<Self, ParseError> {
        if wire.is_empty() {
            return Err(ParseError::new(ParseErrorKind::RdataMalformed, 0));
        }
        let mut at = 0;
        while at < wire.len() {
            at += 1 + usize::from(wire[at]);
        }
        if at != wire.len() {
            return Err(ParseError::new(ParseErrorKind::RdataMalformed, wire.len()));
        }
        Ok(Self { wire })
    }

    /// The RDATA in wire form.
    pub fn as_wire(&self) -> &'a [u8] {
        self.wire
    }

    /// The character-strings, without their length octets.
    pub fn strings(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let wire = self.wire;
        let mut at = 0;
        core::iter::from_fn(move || {
            let len = usize::from(*wire.get(at)?);
            let string = wire.get(at + 1..at + 1 + len)?;
            at += 1 + len;
            Some(string)
        })
    }
}

impl<'a> RData<'a> {
    /// Parses the RDATA of a record of `rtype` and `class` from a child
    /// reader spanning exactly RDLENGTH bytes.
    pub(crate) fn parse(
        rtype: RType,
        class: Class,
        mut rdata: Reader<'a>,
    ) -> Result<Self, ParseError> {
        let start = rdata.pos();
        let parsed = match rtype {
            RType::A if class == Class::IN => Self::A(Ipv4Addr::from(rdata.array::<4>()?)),
            RType::AAAA if class == Class::IN => Self::Aaaa(Ipv6Addr::from(rdata.array::<16>()?)),
            RType::NS => Self::Ns(rdata.name(true)?),
            RType::CNAME => Self::Cname(rdata.name(true)?),
            RType::PTR => Self::Ptr(rdata.name(true)?),
            RType::SOA => Self::Soa(Soa {
                mname: rdata.name(true)?,
                rname: rdata.name(true)?,
                serial: rdata.u32()?,
                refresh: rdata.u32()?,
                retry: rdata.u32()?,
                expire: rdata.u32()?,
                minimum: rdata.u32()?,
            }),
            RType::MX => Self::Mx(Mx {
                preference: rdata.u16()?,
                exchange: rdata.name(true)?,
            }),
            RType::TXT => {
                let bytes = rdata.take(rdata.remaining())?;
                Self::Txt(Txt::from_wire(bytes).map_err(|e| {
                    ParseError::new(ParseErrorKind::RdataMalformed, start + e.offset())
                })?)
            }
            // RFC 3597 §4 lets receivers decompress SRV targets even though
            // senders must not compress them.
            RType::SRV if class == Class::IN => Self::Srv(Srv {
                priority: rdata.u16()?,
                weight: rdata.u16()?,
                port: rdata.u16()?,
                target: rdata.name(true)?,
            }),
            RType::OPT => {
                let bytes = rdata.take(rdata.remaining())?;
                Self::Opt(
                    OptData::from_wire(bytes)
                        .map_err(|e| ParseError::new(e.kind(), start + e.offset()))?,
                )
            }
            _ => Self::Unknown(rdata.take(rdata.remaining())?),
        };
        rdata.finish(ParseErrorKind::RdataMalformed)?;
        Ok(parsed)
    }

    /// The record type this RDATA belongs to, where the variant says it;
    /// `None` for [`RData::Unknown`].
    pub fn rtype(&self) -> Option<RType> {
        Some(match self {
            Self::A(_) => RType::A,
            Self::Aaaa(_) => RType::AAAA,
            Self::Ns(_) => RType::NS,
            Self::Cname(_) => RType::CNAME,
            Self::Ptr(_) => RType::PTR,
            Self::Soa(_) => RType::SOA,
            Self::Mx(_) => RType::MX,
            Self::Txt(_) => RType::TXT,
            Self::Srv(_) => RType::SRV,
            Self::Opt(_) => RType::OPT,
            Self::Unknown(_) => return None,
        })
    }

    /// Whether two RDATA are identical on the wire once decompressed, names
    /// compared byte for byte (letter case included).
    pub fn same_spelling(&self, other: &RData<'_>) -> bool {
        match (self, other) {
            (Self::Ns(a), RData::Ns(b))
            | (Self::Cname(a), RData::Cname(b))
            | (Self::Ptr(a), RData::Ptr(b)) => a.same_spelling(b),
            (Self::Soa(a), RData::Soa(b)) => {
                a.mname.same_spelling(&b.mname)
                    && a.rname.same_spelling(&b.rname)
                    && (a.serial, a.refresh, a.retry, a.expire, a.minimum)
                        == (b.serial, b.refresh, b.retry, b.expire, b.minimum)
            }
            (Self::Mx(a), RData::Mx(b)) => {
                a.preference == b.preference && a.exchange.same_spelling(&b.exchange)
            }
            (Self::Srv(a), RData::Srv(b)) => {
                (a.priority, a.weight, a.port) == (b.priority, b.weight, b.port)
                    && a.target.same_spelling(&b.target)
            }
            _ => self == other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `rdata` placed after a 12-byte header.
    fn parse(rtype: RType, class: Class, rdata: &[u8]) -> Result<RData<'static>, ParseError> {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(rdata);
        let msg: &'static [u8] = Box::leak(msg.into_boxed_slice());
        let mut reader = Reader::new(msg, 12);
        let child = reader.sub(rdata.len(), ParseErrorKind::RdataPastEnd)?;
        RData::parse(rtype, class, child)
    }

    fn kind(result: Result<RData<'_>, ParseError>) -> ParseErrorKind {
        result.unwrap_err().kind()
    }

    #[test]
    fn fixed_length_types_must_match_exactly() {
        assert_eq!(
            parse(RType::A, Class::IN, &[10, 0, 0, 1]).unwrap(),
            RData::A(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            kind(parse(RType::A, Class::IN, &[10, 0, 0])),
            ParseErrorKind::RdataMalformed
        );
        assert_eq!(
            kind(parse(RType::A, Class::IN, &[10, 0, 0, 1, 2])),
            ParseErrorKind::RdataMalformed
        );
        assert_eq!(
            kind(parse(RType::AAAA, Class::IN, &[0; 15])),
            ParseErrorKind::RdataMalformed
        );
        assert!(matches!(
            parse(RType::AAAA, Class::IN, &[0; 16]).unwrap(),
            RData::Aaaa(_)
        ));
    }

    #[test]
    fn rfc3597_class_specific_types_outside_in_stay_opaque() {
        assert_eq!(
            parse(RType::A, Class::CH, &[1, 2]).unwrap(),
            RData::Unknown(&[1, 2])
        );
        assert_eq!(
            parse(RType(65280), Class::IN, &[9, 9, 9]).unwrap(),
            RData::Unknown(&[9, 9, 9])
        );
        assert_eq!(
            parse(RType(65280), Class::IN, &[]).unwrap(),
            RData::Unknown(&[])
        );
    }

    #[test]
    fn name_must_end_within_rdata() {
        // RDLENGTH 3 but the name needs 3 + root.
        assert_eq!(
            kind(parse(RType::CNAME, Class::IN, b"\x02ab")),
            ParseErrorKind::RdataMalformed
        );
        assert_eq!(
            kind(parse(RType::CNAME, Class::IN, b"\x01a\x00\x00")),
            ParseErrorKind::RdataMalformed
        );
    }

    #[test]
    fn soa_mx_srv_fields() {
        let mut soa = b"\x02ns\x00\x05admin\x00".to_vec();
        for value in [7u32, 3600, 600, 86400, 30] {
            soa.extend_from_slice(&value.to_be_bytes());
        }
        let RData::Soa(parsed) = parse(RType::SOA, Class::IN, &soa).unwrap() else {
            panic!("not an SOA");
        };
        assert_eq!(parsed.mname.to_string(), "ns.");
        assert_eq!(parsed.rname.to_string(), "admin.");
        assert_eq!(
            (
                parsed.serial,
                parsed.refresh,
                parsed.retry,
                parsed.expire,
                parsed.minimum
            ),
            (7, 3600, 600, 86400, 30)
        );
        assert_eq!(
            kind(parse(RType::SOA, Class::IN, &soa[..soa.len() - 1])),
            ParseErrorKind::RdataMalformed
        );

        let RData::Mx(mx) = parse(RType::MX, Class::IN, b"\x00\x0a\x02mx\x00").unwrap() else {
            panic!("not an MX");
        };
        assert_eq!(
            (mx.preference, mx.exchange.to_string().as_str()),
            (10, "mx.")
        );

        let RData::Srv(srv) = parse(
            RType::SRV,
            Class::IN,
            b"\x00\x01\x00\x02\x00\x50\x03web\x00",
        )
        .unwrap() else {
            panic!("not an SRV");
        };
        assert_eq!((srv.priority, srv.weight, srv.port), (1, 2, 80));
        assert_eq!(srv.target.to_string(), "web.");
    }

    #[test]
    fn txt_strings_must_fill_rdata() {
        let RData::Txt(txt) = parse(RType::TXT, Class::IN, b"\x02hi\x00\x03you").unwrap() else {
            panic!("not a TXT");
        };
        let strings: Vec<&[u8]> = txt.strings().collect();
        assert_eq!(strings, [&b"hi"[..], b"", b"you"]);
        assert_eq!(
            kind(parse(RType::TXT, Class::IN, b"\x05hi")),
            ParseErrorKind::RdataMalformed
        );
        assert_eq!(
            kind(parse(RType::TXT, Class::IN, b"")),
            ParseErrorKind::RdataMalformed
        );
    }
}
