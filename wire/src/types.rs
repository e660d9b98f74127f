//! Record types, classes, opcodes and response codes as open newtypes.
//!
//! They are newtypes over the wire integer with associated constants rather
//! than closed enums, so that a value this crate has no name for still parses
//! and passes through unchanged (RFC 3597): a query for an unknown type must
//! get NODATA, not a parse error.

use core::fmt;

/// Defines a newtype over an integer with named constants and a `Display`
/// that prints the mnemonic, or `<fallback><number>` (RFC 3597 §5 style).
macro_rules! int_newtype {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty), fallback $fallback:literal {
            $( $(#[$cmeta:meta])* $konst:ident = $value:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: Self = Self($value); )*

            /// The mnemonic of a known value, `None` for others.
            pub const fn mnemonic(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($text), )*
                    _ => None,
                }
            }

            /// Looks a mnemonic up, ignoring ASCII case.
            pub fn from_mnemonic(text: &str) -> Option<Self> {
                $( if text.eq_ignore_ascii_case($text) { return Some(Self::$konst); } )*
                None
            }
        }

        impl From<$int> for $name {
            fn from(value: $int) -> Self {
                Self(value)
            }
        }

        impl From<$name> for $int {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.mnemonic() {
                    Some(text) => f.write_str(text),
                    None => write!(f, concat!($fallback, "{}"), self.0),
                }
            }
        }
    };
}

int_newtype! {
    /// A resource record type (RFC 1035 §3.2.2 and later registrations).
    RType(u16), fallback "TYPE" {
        /// IPv4 host address (RFC 1035).
        A = 1 => "A",
        /// Authoritative name server (RFC 1035).
        NS = 2 => "NS",
        /// Canonical name (RFC 1035).
        CNAME = 5 => "CNAME",
        /// Start of a zone of authority (RFC 1035).
        SOA = 6 => "SOA",
        /// Domain name pointer (RFC 1035).
        PTR = 12 => "PTR",
        /// Host information (RFC 8482 uses it for minimal ANY answers).
        HINFO = 13 => "HINFO",
        /// Mail exchange (RFC 1035).
        MX = 15 => "MX",
        /// Text strings (RFC 1035).
        TXT = 16 => "TXT",
        /// IPv6 host address (RFC 3596).
        AAAA = 28 => "AAAA",
        /// Service location (RFC 2782).
        SRV = 33 => "SRV",
        /// EDNS0 pseudo-record (RFC 6891).
        OPT = 41 => "OPT",
        /// DNSSEC signature (RFC 4034); only named here.
        RRSIG = 46 => "RRSIG",
        /// Incremental zone transfer (RFC 1995), a query type.
        IXFR = 251 => "IXFR",
        /// Full zone transfer (RFC 5936), a query type.
        AXFR = 252 => "AXFR",
        /// Any type (RFC 1035 "*", RFC 8482), a query type.
        ANY = 255 => "ANY",
    }
}

int_newtype! {
    /// A record class (RFC 1035 §3.2.4).
    Class(u16), fallback "CLASS" {
        /// The Internet.
        IN = 1 => "IN",
        /// Chaos.
        CH = 3 => "CH",
        /// Hesiod.
        HS = 4 => "HS",
        /// No class (RFC 2136).
        NONE = 254 => "NONE",
        /// Any class, a query class.
        ANY = 255 => "ANY",
    }
}

int_newtype! {
    /// A message opcode (RFC 1035 §4.1.1), four bits.
    Opcode(u8), fallback "OPCODE" {
        /// A standard query.
        QUERY = 0 => "QUERY",
        /// An inverse query (obsolete, RFC 3425).
        IQUERY = 1 => "IQUERY",
        /// A server status request.
        STATUS = 2 => "STATUS",
        /// A zone change notification (RFC 1996).
        NOTIFY = 4 => "NOTIFY",
        /// A dynamic update (RFC 2136).
        UPDATE = 5 => "UPDATE",
    }
}

int_newtype! {
    /// A response code: four bits in the header, extended to twelve by the
    /// OPT record (RFC 6891 §6.1.3).
    Rcode(u16), fallback "RCODE" {
        /// No error.
        NOERROR = 0 => "NOERROR",
        /// The server could not interpret the query.
        FORMERR = 1 => "FORMERR",
        /// The server failed.
        SERVFAIL = 2 => "SERVFAIL",
        /// The name does not exist.
        NXDOMAIN = 3 => "NXDOMAIN",
        /// The kind of query is not implemented.
        NOTIMP = 4 => "NOTIMP",
        /// The server refuses to answer.
        REFUSED = 5 => "REFUSED",
        /// The EDNS version is not supported (RFC 6891), extended.
        BADVERS = 16 => "BADVERS",
    }
}

impl Rcode {
    /// The low four bits, which live in the header.
    pub const fn header_bits(self) -> u8 {
        (self.0 & 0x0F) as u8
    }

    /// The upper eight bits, which live in the OPT record's TTL field.
    pub const fn extended_bits(self) -> u8 {
        ((self.0 >> 4) & 0xFF) as u8
    }
}
