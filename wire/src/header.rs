//! The 12-octet message header (RFC 1035 §4.1.1).

use crate::types::{Opcode, Rcode};

/// Length of the header in octets.
pub const HEADER_LEN: usize = 12;

/// The header of a message: ID, flags and the four section counts.
///
/// A plain `Copy` value: parsing reads it from the first 12 octets, writing
/// fills one in. The RCODE here is the header's four bits only; see
/// [`crate::Message::rcode`] for the extended RCODE that OPT adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Query identifier, copied from query to response.
    pub id: u16,
    /// The flags word: QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE.
    pub flags: Flags,
    /// Number of entries in the question section.
    pub qdcount: u16,
    /// Number of records in the answer section.
    pub ancount: u16,
    /// Number of records in the authority section.
    pub nscount: u16,
    /// Number of records in the additional section.
    pub arcount: u16,
}

impl Header {
    /// Reads the header from the first 12 octets of `bytes`, or `None` if
    /// there are fewer.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(Self {
            id: word(0),
            flags: Flags(word(2)),
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }

    /// The header in wire form.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        for (i, word) in [
            self.id,
            self.flags.0,
            self.qdcount,
            self.ancount,
            self.nscount,
            self.arcount,
        ]
        .into_iter()
        .enumerate()
        {
            out[2 * i..2 * i + 2].copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// The second header word, with one accessor and one setter per field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u16);

/// Generates a getter and a `with_` setter for one flag bit.
macro_rules! flag_bit {
    ($(#[$meta:meta])* $get:ident, $set:ident, $bit:literal) => {
        $(#[$meta])*
        pub const fn $get(self) -> bool {
            self.0 & (1 << $bit) != 0
        }

        /// Returns the flags with this bit set to `on`.
        #[must_use]
        pub const fn $set(self, on: bool) -> Self {
            if on {
                Self(self.0 | (1 << $bit))
            } else {
                Self(self.0 & !(1 << $bit))
            }
        }
    };
}

impl Flags {
    flag_bit!(
        /// QR: the message is a response.
        qr, with_qr, 15
    );
    flag_bit!(
        /// AA: authoritative answer.
        aa, with_aa, 10
    );
    flag_bit!(
        /// TC: truncated.
        tc, with_tc, 9
    );
    flag_bit!(
        /// RD: recursion desired.
        rd, with_rd, 8
    );
    flag_bit!(
        /// RA: recursion available.
        ra, with_ra, 7
    );
    flag_bit!(
        /// Z: the reserved bit, must be zero (RFC 1035 §4.1.1).
        z, with_z, 6
    );
    flag_bit!(
        /// AD: authentic data (RFC 4035 §3.2.3, RFC 6840 §5.8).
        ad, with_ad, 5
    );
    flag_bit!(
        /// CD: checking disabled (RFC 4035 §3.2.2).
        cd, with_cd, 4
    );

    /// The four-bit opcode.
    pub const fn opcode(self) -> Opcode {
        Opcode(((self.0 >> 11) & 0x0F) as u8)
    }

    /// Returns the flags with the opcode replaced.
    #[must_use]
    pub const fn with_opcode(self, opcode: Opcode) -> Self {
        Self((self.0 & !(0x0F << 11)) | (((opcode.0 as u16) & 0x0F) << 11))
    }

    /// The header's four RCODE bits (without the OPT extension).
    pub const fn rcode(self) -> Rcode {
        Rcode(self.0 & 0x0F)
    }

    /// Returns the flags with the low four RCODE bits set from `rcode`; the
    /// upper bits of an extended RCODE go into OPT.
    #[must_use]
    pub const fn with_rcode(self, rcode: Rcode) -> Self {
        Self((self.0 & !0x0F) | (rcode.header_bits() as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1035_4_1_1_every_field_round_trips() {
        let bytes = [
            0xAB,
            0xCD, // ID
            0b1010_1111,
            0b1011_0101, // QR, opcode 5, AA, TC, RD | RA, Z=0, AD, CD=1, rcode 5
            0,
            1,
            0,
            2,
            0,
            3,
            0,
            4,
        ];
        let header = Header::from_bytes(&bytes).unwrap();
        assert_eq!(header.id, 0xABCD);
        let flags = header.flags;
        assert!(flags.qr() && flags.aa() && flags.tc() && flags.rd() && flags.ra());
        assert!(!flags.z() && flags.ad() && flags.cd());
        assert_eq!(flags.opcode(), Opcode::UPDATE);
        assert_eq!(flags.rcode(), Rcode::REFUSED);
        assert_eq!(
            (
                header.qdcount,
                header.ancount,
                header.nscount,
                header.arcount
            ),
            (1, 2, 3, 4)
        );
        assert_eq!(header.to_bytes(), bytes);
    }

    #[test]
    fn setters_touch_only_their_bits() {
        let flags = Flags(0)
            .with_qr(true)
            .with_opcode(Opcode::NOTIFY)
            .with_rcode(Rcode::BADVERS)
            .with_aa(true);
        assert!(flags.qr() && flags.aa() && !flags.tc() && !flags.rd());
        assert_eq!(flags.opcode(), Opcode::NOTIFY);
        // BADVERS is 16: its low four bits are zero.
        assert_eq!(flags.rcode(), Rcode::NOERROR);
        assert_eq!(flags.with_aa(false).with_qr(false).0, 4 << 11);
    }

    #[test]
    fn short_header_is_none() {
        assert!(Header::from_bytes(&[0; 11]).is_none());
    }
}
