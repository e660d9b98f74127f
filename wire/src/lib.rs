//! `xcc-wire`: the DNS wire codec of xcc-dns.
//!
//! Reading is done through borrowed views over the received bytes:
//! [`Message::parse`] validates a whole message once (every name, every
//! record, the OPT rules) and then hands out [`Question`]s, [`Record`]s and
//! [`Edns`] fields that point into the input. Nothing is copied and nothing
//! is allocated.
//!
//! Writing goes the other way: a [`MessageWriter`] fills a buffer the caller
//! owns, up to a hard size limit, compressing names with a fixed-size table
//! ([`compress`]), reserving room for OPT first, and rolling back a whole
//! RRset that does not fit, setting TC when an answer or authority RRset is
//! cut (RFC 2181 §9).
//!
//! ```text
//!   &[u8] ──Message::parse──▶ Message<'a> ─┬─ question() ─▶ Question { qname: Name<'a>, .. }
//!                                          ├─ records(Section) ─▶ Record { owner, rdata: RData<'a>, .. }
//!                                          └─ edns() ─▶ Edns { udp_payload_size, version, DO, options }
//!   &mut [u8] ◀──MessageWriter── header, question echo, RRsets (compressed), OPT, TC
//! ```
//!
//! Layout: [`name`] is the only code that accepts name bytes and holds the
//! RFC 1035 bounds; [`types`] has the open code newtypes (RFC 3597);
//! [`rdata`] the typed RDATA views; [`edns`] OPT; [`message`] the whole-message
//! parser; [`writer`] and [`compress`] the output side; [`error`] the two
//! error enums.

#![forbid(unsafe_code)]

pub mod compress;
pub mod edns;
pub mod error;
#[cfg(any(fuzzing, feature = "fuzzing"))]
pub mod fuzzing;
pub mod header;
pub mod message;
pub mod name;
pub mod rdata;
mod reader;
pub mod types;
pub mod writer;

pub use edns::{Edns, EdnsOption, OptData, OptRecord, OptionCode};
pub use error::{ParseError, ParseErrorKind, WriteError};
pub use header::{Flags, HEADER_LEN, Header};
pub use message::{Message, Question, Record, Section};
pub use name::{Name, NameBuf, NameKey};
pub use rdata::{Mx, RData, Soa, Srv, Txt};
pub use types::{Class, Opcode, RType, Rcode};
pub use writer::{MessageWriter, Owner};
