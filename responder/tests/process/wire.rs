//! A small, independent DNS wire codec for the raw clients of these tests:
//! build a query, parse a message strictly (bounds, pointer loops), frame
//! for TCP. Written apart from `xcc-wire` on purpose, so that the tests do
//! not share the codec's mistakes.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;

/// Query types used here.
pub(crate) const A: u16 = 1;
pub(crate) const SOA: u16 = 6;
pub(crate) const AAAA: u16 = 28;
pub(crate) const OPT: u16 = 41;

/// Response codes.
pub(crate) const NOERROR: u8 = 0;
pub(crate) const FORMERR: u8 = 1;
pub(crate) const NXDOMAIN: u8 = 3;
pub(crate) const NOTIMP: u8 = 4;
pub(crate) const REFUSED: u8 = 5;

/// BADVERS, an extended RCODE (RFC 6891 §9).
pub(crate) const BADVERS: u16 = 16;

/// A query for `name` (presentation form, no escapes) and `qtype`, class
/// IN, RD clear, with an OPT record advertising `edns` when given.
pub(crate) fn query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    let mut message = Vec::with_capacity(64);
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&0u16.to_be_bytes()); // flags
    message.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    message.extend_from_slice(&0u16.to_be_bytes()); // ANCOUNT
    message.extend_from_slice(&0u16.to_be_bytes()); // NSCOUNT
    message.extend_from_slice(&u16::from(edns.is_some()).to_be_bytes()); // ARCOUNT
    for label in name.split('.').filter(|l| !l.is_empty()) {
        message.push(u8::try_from(label.len()).expect("label fits"));
        message.extend_from_slice(label.as_bytes());
    }
    message.push(0);
    message.extend_from_slice(&qtype.to_be_bytes());
    message.extend_from_slice(&1u16.to_be_bytes()); // IN
    if let Some(payload) = edns {
        message.push(0); // root
        message.extend_from_slice(&OPT.to_be_bytes());
        message.extend_from_slice(&payload.to_be_bytes());
        message.extend_from_slice(&0u32.to_be_bytes()); // ext-rcode, version, flags
        message.extend_from_slice(&0u16.to_be_bytes()); // RDLENGTH
    }
    message
}

/// A name as its labels (original case).
pub(crate) type Labels = Vec<Vec<u8>>;

/// A question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Question {
    pub(crate) name: Labels,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
}

/// A resource record with its RDATA uninterpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) name: Labels,
    pub(crate) rtype: u16,
    pub(crate) class: u16,
    pub(crate) ttl: u32,
    pub(crate) rdata: Vec<u8>,
}

/// A parsed message.
#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub(crate) id: u16,
    pub(crate) flags: u16,
    pub(crate) questions: Vec<Question>,
    pub(crate) answers: Vec<Record>,
    pub(crate) authority: Vec<Record>,
    pub(crate) additional: Vec<Record>,
    /// Octets after the last counted record.
    pub(crate) trailing: usize,
}

impl Message {
    /// QR: a response.
    pub(crate) fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The opcode.
    pub(crate) fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// TC.
    pub(crate) fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// The low four bits of the RCODE (the header's part).
    pub(crate) fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    /// The full RCODE: the header's four bits and the OPT record's upper
    /// eight (RFC 6891 §6.1.3).
    pub(crate) fn full_rcode(&self) -> u16 {
        let upper = self.opt().map_or(0, |opt| (opt.ttl >> 24) as u16);
        (upper << 4) | u16::from(self.rcode())
    }

    /// The OPT record, if any.
    pub(crate) fn opt(&self) -> Option<&Record> {
        self.additional.iter().find(|r| r.rtype == OPT)
    }

    /// The OPT record's advertised UDP payload size, if there is an OPT.
    pub(crate) fn edns_payload(&self) -> Option<u16> {
        self.additional
            .iter()
            .find(|r| r.rtype == OPT)
            .map(|r| r.class)
    }
}

fn u16_at(data: &[u8], at: usize) -> Result<u16, String> {
    data.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| format!("u16 at {at} past the end ({})", data.len()))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("u32 at {at} past the end ({})", data.len()))
}

/// Reads a (possibly compressed) name at `at`; returns it and the offset
/// after it in the uncompressed stream.
fn read_name(data: &[u8], mut at: usize) -> Result<(Labels, usize), String> {
    let mut labels = Vec::new();
    let mut end = None;
    let mut total = 1;
    for _ in 0..128 {
        let len = *data.get(at).ok_or("name past the end")?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok((labels, end.unwrap_or(at + 1)));
                }
                let label = data
                    .get(at + 1..at + 1 + usize::from(len))
                    .ok_or("label past the end")?;
                total += 1 + usize::from(len);
                if total > 255 {
                    return Err("name longer than 255".into());
                }
                labels.push(label.to_vec());
                at += 1 + usize::from(len);
            }
            0xc0 => {
                let target = usize::from(u16_at(data, at)? & 0x3fff);
                if target >= at {
                    return Err("forward compression pointer".into());
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return Err(format!("label type {len:#x}")),
        }
    }
    Err("too many labels or pointers".into())
}

fn read_record(data: &[u8], at: usize) -> Result<(Record, usize), String> {
    let (name, at) = read_name(data, at)?;
    let rtype = u16_at(data, at)?;
    let class = u16_at(data, at + 2)?;
    let ttl = u32_at(data, at + 4)?;
    let len = usize::from(u16_at(data, at + 8)?);
    let rdata = data
        .get(at + 10..at + 10 + len)
        .ok_or("RDATA past the end")?
        .to_vec();
    Ok((
        Record {
            name,
            rtype,
            class,
            ttl,
            rdata,
        },
        at + 10 + len,
    ))
}

/// Parses `data` strictly: header, every counted question and record.
pub(crate) fn parse(data: &[u8]) -> Result<Message, String> {
    if data.len() < 12 {
        return Err(format!("{} octets: shorter than a header", data.len()));
    }
    let id = u16_at(data, 0)?;
    let flags = u16_at(data, 2)?;
    let counts = [
        u16_at(data, 4)?,
        u16_at(data, 6)?,
        u16_at(data, 8)?,
        u16_at(data, 10)?,
    ];
    let mut at = 12;
    let mut questions = Vec::new();
    for _ in 0..counts[0] {
        let (name, next) = read_name(data, at)?;
        questions.push(Question {
            name,
            qtype: u16_at(data, next)?,
            qclass: u16_at(data, next + 2)?,
        });
        at = next + 4;
    }
    let mut sections: [Vec<Record>; 3] = Default::default();
    for (section, &count) in sections.iter_mut().zip(&counts[1..]) {
        for _ in 0..count {
            let (record, next) = read_record(data, at)?;
            section.push(record);
            at = next;
        }
    }
    let [answers, authority, additional] = sections;
    Ok(Message {
        id,
        flags,
        questions,
        answers,
        authority,
        additional,
        trailing: data.len() - at,
    })
}

/// The IPv4 addresses of the A records in `records`, sorted.
pub(crate) fn a_addresses(records: &[Record]) -> Vec<String> {
    let mut addresses: Vec<String> = records
        .iter()
        .filter(|r| r.rtype == A && r.rdata.len() == 4)
        .map(|r| {
            format!(
                "{}.{}.{}.{}",
                r.rdata[0], r.rdata[1], r.rdata[2], r.rdata[3]
            )
        })
        .collect();
    addresses.sort();
    addresses
}

/// `name` in presentation form (for messages; no escaping).
pub(crate) fn name_text(name: &Labels) -> String {
    let mut text: String = name
        .iter()
        .map(|l| format!("{}.", String::from_utf8_lossy(l)))
        .collect();
    if text.is_empty() {
        text.push('.');
    }
    text
}

/// `message` with its two-octet TCP length prefix.
pub(crate) fn framed(message: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(message.len() + 2);
    frame.extend_from_slice(&u16::try_from(message.len()).expect("fits").to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// Reads one length-prefixed message from `stream`. `Ok(None)` on a clean
/// close before the length.
pub(crate) fn read_frame(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut length = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        let n = stream.read(&mut length[got..])?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut message)?;
    Ok(Some(message))
}

/// Writes all of `data` to `stream`.
pub(crate) fn write_all(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    stream.write_all(data)?;
    stream.flush()
}

/// A small deterministic PRNG (xorshift64*), so a failing burst can be
/// replayed from its seed.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is remapped).
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// `len` random octets.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
