//! EDNS0 (RFC 6891): the OPT pseudo-record's fields and options.
//!
//! OPT reuses the record layout: the CLASS field carries the requester's UDP
//! payload size and the TTL field carries the extended RCODE, the EDNS
//! version and the flags (DO among them). [`Edns`] gives those fields names;
//! [`OptData`] is the validated option list of the RDATA.

use crate::error::{ParseError, ParseErrorKind};

/// The smallest UDP payload size an EDNS requester may advertise; smaller
/// values are treated as 512 (RFC 6891 §6.2.3).
pub const MIN_UDP_PAYLOAD: u16 = 512;

/// The DO bit in the EDNS flags (RFC 3225).
const DO_BIT: u16 = 0x8000;

/// An EDNS option code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OptionCode(pub u16);

impl OptionCode {
    /// Name server identifier (RFC 5001).
    pub const NSID: Self = Self(3);
    /// Client subnet (RFC 7871).
    pub const CLIENT_SUBNET: Self = Self(8);
    /// DNS cookie (RFC 7873).
    pub const COOKIE: Self = Self(10);
    /// TCP keepalive (RFC 7828).
    pub const TCP_KEEPALIVE: Self = Self(11);
    /// Padding (RFC 7830).
    pub const PADDING: Self = Self(12);
    /// Extended DNS error (RFC 8914).
    pub const EXTENDED_ERROR: Self = Self(15);
}

/// One EDNS option: its code and its data. Options this crate gives no
/// meaning to are still yielded, so a caller can skip them by code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdnsOption<'a> {
    /// The option code.
    pub code: OptionCode,
    /// The option data.
    pub data: &'a [u8],
}

/// The RDATA of an OPT record: a sequence of options, validated so that
/// every option lies within the RDATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptData<'a> {
    wire: &'a [u8],
}

impl<'a> OptData<'a> {
    /// Validates an option list in wire form (RFC 6891 §6.1.2).
    pub fn from_wire(wire: &'a [u8]) -> Result<Self, ParseError> {
        let mut at = 0;
        while at < wire.len() {
            let Some(len) = wire.get(at + 2..at + 4) else {
                return Err(ParseError::new(ParseErrorKind::OptOptionMalformed, at));
            };
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            if at + 4 + len > wire.len() {
                return Err(ParseError::new(ParseErrorKind::OptOptionMalformed, at));
            }
            at += 4 + len;
        }
        Ok(Self { wire })
    }

    /// No options at all.
    pub const EMPTY: OptData<'static> = OptData { wire: &[] };

    /// The options in wire form.
    pub fn as_wire(&self) -> &'a [u8] {
        self.wire
    }

    /// The options in order.
    pub fn options(&self) -> Options<'a> {
        Options { wire: self.wire }
    }
}

/// Iterator over the options of an OPT record.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = EdnsOption<'a>;

    fn next(&mut self) -> Option<EdnsOption<'a>> {
        let head = self.wire.get(..4)?;
        let code = OptionCode(u16::from_be_bytes([head[0], head[1]]));
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = self.wire.get(4..4 + len)?;
        self.wire = &self.wire[4 + len..];
        Some(EdnsOption { code, data })
    }
}

/// The EDNS fields of a message's OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns<'a> {
    /// The largest UDP payload the sender can reassemble (the CLASS field).
    pub udp_payload_size: u16,
    /// The upper eight bits of the 12-bit RCODE.
    pub extended_rcode: u8,
    /// The EDNS version; only 0 is defined.
    pub version: u8,
    /// The 16 flag bits; only DO is defined.
    pub flags: u16,
    /// The options.
    pub data: OptData<'a>,
}

impl<'a> Edns<'a> {
    /// Builds the view from an OPT record's CLASS, TTL and RDATA.
    pub(crate) fn from_record(class: u16, ttl: u32, data: OptData<'a>) -> Self {
        Self {
            udp_payload_size: class,
            extended_rcode: (ttl >> 24) as u8,
            version: (ttl >> 16) as u8,
            flags: ttl as u16,
            data,
        }
    }

    /// The TTL field these values encode to.
    pub const fn ttl_field(&self) -> u32 {
        ((self.extended_rcode as u32) << 24) | ((self.version as u32) << 16) | self.flags as u32
    }

    /// The DO ("DNSSEC OK") bit (RFC 3225).
    pub const fn dnssec_ok(&self) -> bool {
        self.flags & DO_BIT != 0
    }

    /// The payload size a responder should respect: the advertised size,
    /// raised to 512 when smaller (RFC 6891 §6.2.3).
    pub fn effective_payload_size(&self) -> u16 {
        self.udp_payload_size.max(MIN_UDP_PAYLOAD)
    }

    /// The options in order.
    pub fn options(&self) -> Options<'a> {
        self.data.options()
    }

    /// The first option with `code`, if any.
    pub fn option(&self, code: OptionCode) -> Option<&'a [u8]> {
        self.options().find(|o| o.code == code).map(|o| o.data)
    }
}

/// What a responder puts in its own OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptRecord<'a> {
    /// Our UDP payload size (RFC 6891 §6.2.5; 1232 is the DNS flag day 2020
    /// recommendation).
    pub udp_payload_size: u16,
    /// The EDNS version we speak.
    pub version: u8,
    /// Flags (the DO bit, echoed when set in the query).
    pub flags: u16,
    /// Options, already in wire form (e.g. a cookie echo).
    pub options: &'a [u8],
}

impl OptRecord<'_> {
    /// Length of the whole record on the wire: root owner, type, class, TTL,
    /// RDLENGTH and the options.
    pub const fn wire_len(&self) -> usize {
        11 + self.options.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6891_6_1_3_ttl_field_layout() {
        let edns = Edns::from_record(4096, 0x0100_8000, OptData::EMPTY);
        assert_eq!(edns.udp_payload_size, 4096);
        assert_eq!(edns.extended_rcode, 1);
        assert_eq!(edns.version, 0);
        assert!(edns.dnssec_ok());
        assert_eq!(edns.ttl_field(), 0x0100_8000);
        let v1 = Edns::from_record(100, 0x0001_0000, OptData::EMPTY);
        assert_eq!(v1.version, 1);
        assert!(!v1.dnssec_ok());
        assert_eq!(v1.effective_payload_size(), 512, "RFC 6891 §6.2.3");
    }

    #[test]
    fn rfc6891_6_1_2_options_iterate_and_unknown_pass_through() {
        let wire = b"\x00\x0a\x00\x08ABCDEFGH\xfd\xe9\x00\x00\x00\x03\x00\x01Z";
        let data = OptData::from_wire(wire).unwrap();
        let options: Vec<_> = data.options().collect();
        assert_eq!(options.len(), 3);
        assert_eq!(options[0].code, OptionCode::COOKIE);
        assert_eq!(options[0].data, b"ABCDEFGH");
        assert_eq!(options[1].code, OptionCode(65001));
        assert_eq!(options[1].data, b"");
        let edns = Edns::from_record(1232, 0, data);
        assert_eq!(edns.option(OptionCode::NSID), Some(&b"Z"[..]));
        assert_eq!(edns.option(OptionCode::PADDING), None);
    }

    #[test]
    fn rfc6891_6_1_2_option_past_rdata_is_rejected() {
        for (wire, offset) in [
            (&b"\x00\x0a\x00\x09ABCDEFGH"[..], 0),
            (b"\x00\x0a\x00", 0),
            (b"\x00\x03\x00\x00\x00", 4),
        ] {
            let error = OptData::from_wire(wire).unwrap_err();
            assert_eq!(error.kind(), ParseErrorKind::OptOptionMalformed);
            assert_eq!(error.offset(), offset);
        }
    }
}
