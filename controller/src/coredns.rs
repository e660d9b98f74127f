//! `xcc-controller patch-coredns`, the pure half: edits of the cluster DNS
//! configuration as text, with no client, no clock and no I/O, so every
//! rule is tested on real Corefiles byte for byte. The Kubernetes half
//! (find the Service, read and patch the ConfigMaps) is [`patch`].
//!
//! Two configurations point the zone (default `xcc.test`) at the
//! responder's Service:
//!
//! - the CoreDNS **Corefile** (`kube-system/coredns`, key `Corefile`) gets
//!   a server block of its own:
//!
//!   ```text
//!   # xcc-dns: xcc.test is answered by the xcc-dns responder (xcc-controller patch-coredns)
//!   xcc.test:53 {
//!       errors
//!       forward . 10.96.0.53
//!   }
//!   ```
//!
//!   [`add_forward`] appends it, or replaces the block the zone already
//!   has (the walkthrough's hand-written one, or ours with an old address);
//!   [`remove_forward`] takes it out. Every other line stays exactly as it
//!   was, and a second run returns its input unchanged. The port follows
//!   the root server block (`.:53` → `xcc.test:53`), so the block listens
//!   wherever CoreDNS does.
//! - **NodeLocal DNSCache** answers pods before CoreDNS and never reads
//!   that block; it reads the `stubDomains` of the `kube-system/kube-dns`
//!   ConfigMap (JSON: domain → list of name server addresses).
//!   [`add_stub_domain`] and [`remove_stub_domain`] edit that entry and
//!   leave the others alone.
//!
//! A Corefile is read as CoreDNS's own (Caddy) lexer reads it: tokens
//! separated by white space, `#` comments to the end of the line, `"…"`
//! quoted tokens (which may hold braces, `#` and newlines), and `{` and `}`
//! as tokens of their own. At the top level there are server blocks (one
//! or more addresses, commas allowed, then a braced body), snippets
//! (`(name) { … }`) and `import` lines. Anything else is refused with a
//! [`CorefileError`] that names the line, rather than guessed at: this edit
//! runs against the DNS of a whole cluster.

pub mod patch;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde_json::{Map, Value};

/// The zone forwarded when none is given (the original project's suffix).
pub const DEFAULT_ZONE: &str = "xcc.test";

/// How the comment line above our server block starts; a line like this
/// directly above the zone's block is ours and goes with it.
pub const MARKER_PREFIX: &str = "# xcc-dns:";

//----------- Zone -------------------------------------------------------------

/// A zone to forward: a valid DNS name below the root, in lower case and
/// without the trailing dot (`xcc.test`), spelled with letters, digits,
/// `-` and `_` only, so that it is one Corefile token and one JSON key as
/// it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Zone(String);

impl Zone {
    /// Checks and normalises `text` (`XCC.test.` → `xcc.test`).
    pub fn new(text: &str) -> Result<Self, ZoneError> {
        xcc_wire::NameBuf::from_presentation(text).map_err(|source| ZoneError::Syntax {
            zone: text.to_owned(),
            source,
        })?;
        let zone = text.trim_end_matches('.').to_ascii_lowercase();
        if zone.is_empty() {
            return Err(ZoneError::Root);
        }
        if let Some(character) = zone
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(ZoneError::Character {
                zone: text.to_owned(),
                character,
            });
        }
        Ok(Self(zone))
    }

    /// The zone, lower case, without the trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a domain as written in a configuration (any case, with or
    /// without the trailing dot) is this zone.
    fn matches(&self, domain: &str) -> bool {
        domain.trim_end_matches('.').eq_ignore_ascii_case(&self.0)
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self(DEFAULT_ZONE.to_owned())
    }
}

impl FromStr for Zone {
    type Err = ZoneError;

    fn from_str(text: &str) -> Result<Self, ZoneError> {
        Self::new(text)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a zone was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZoneError {
    /// Not a DNS name.
    #[error("the zone {zone:?} is not a valid DNS name")]
    Syntax {
        /// The zone as given.
        zone: String,
        /// What the name parser said.
        #[source]
        source: xcc_wire::ParseError,
    },
    /// The root: forwarding it would send every name to the responder.
    #[error("the root zone cannot be forwarded to xcc-dns (it would take every name)")]
    Root,
    /// A character that would need quoting in a Corefile.
    #[error(
        "the zone {zone:?} contains {character:?}; use letters, digits, '-', '_' and dots only"
    )]
    Character {
        /// The zone as given.
        zone: String,
        /// The first character refused.
        character: char,
    },
}

//----------- Corefile errors --------------------------------------------------

/// Why a Corefile was not edited. Lines count from 1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorefileError {
    /// A `"` opened a token that never ends.
    #[error("line {line}: a quoted string is never closed")]
    UnterminatedQuote {
        /// Where the quote opens.
        line: usize,
    },
    /// A `}` with no block open.
    #[error("line {line}: '}}' closes no block (unbalanced braces)")]
    UnexpectedClose {
        /// Where it is.
        line: usize,
    },
    /// A `{` at the top level with no server address before it.
    #[error("line {line}: '{{' opens a block with no server address before it")]
    MissingAddress {
        /// Where it is.
        line: usize,
    },
    /// Addresses followed by something other than `{`: a top-level
    /// directive, or the brace-less form Caddy allows for a Corefile of a
    /// single server block, which this tool does not edit.
    #[error(
        "line {line}: the server block {keys} has no '{{' after its addresses \
         (a Corefile whose only server block has no braces is not edited; add them)"
    )]
    MissingBrace {
        /// Where the addresses start.
        line: usize,
        /// The addresses read, space-separated.
        keys: String,
    },
    /// A block whose `{` is never matched by a `}`.
    #[error("line {line}: the block of {keys} opened here is never closed (unbalanced braces)")]
    Unclosed {
        /// Where the block starts.
        line: usize,
        /// Its addresses, space-separated.
        keys: String,
    },
    /// An address list ending with `,` and no address after it.
    #[error("line {line}: the address list ends with ',' but no address follows")]
    TrailingComma {
        /// Where the comma is.
        line: usize,
    },
    /// `import` with nothing to import.
    #[error("line {line}: `import` without a file or snippet name")]
    EmptyImport {
        /// Where it is.
        line: usize,
    },
    /// A brace on an `import` line.
    #[error("line {line}: a brace on an `import` line (an import takes no block)")]
    ImportBrace {
        /// Where it is.
        line: usize,
    },
    /// The zone's block also serves other zones: editing it would change
    /// them too.
    #[error(
        "line {line}: the server block {keys} serves {zone} together with other zones; \
         give {zone} a block of its own"
    )]
    SharedBlock {
        /// Where the block starts.
        line: usize,
        /// Its addresses, space-separated.
        keys: String,
        /// The zone.
        zone: String,
    },
    /// Two blocks for the zone on the same port (CoreDNS itself refuses
    /// to start with this).
    #[error("lines {first} and {second}: two server blocks for {zone} on the same port")]
    DuplicateBlocks {
        /// Where the first starts.
        first: usize,
        /// Where the second starts.
        second: usize,
        /// The zone.
        zone: String,
    },
    /// The zone's block shares a line with another item (`} xcc.test {`),
    /// so it cannot be replaced line by line.
    #[error(
        "line {line}: the server block for {zone} shares a line with something else; \
         put it on lines of its own"
    )]
    SharedLine {
        /// The line shared.
        line: usize,
        /// The zone.
        zone: String,
    },
}

//----------- Lexer ------------------------------------------------------------

/// One token: its text (quotes removed) and the lines (0-based) it starts
/// and ends on (a quoted token may span lines).
#[derive(Clone, Debug)]
struct Token {
    text: String,
    quoted: bool,
    line: usize,
    end_line: usize,
}

impl Token {
    fn is_open(&self) -> bool {
        !self.quoted && self.text == "{"
    }

    fn is_close(&self) -> bool {
        !self.quoted && self.text == "}"
    }
}

/// Splits a Corefile as Caddy's lexer does (see the module docs).
fn lex(text: &str) -> Result<Vec<Token>, CorefileError> {
    let mut tokens = Vec::new();
    let mut current: Option<Token> = None;
    let mut line = 0;
    let mut comment = false;
    let mut quoted = false;
    let mut escaped = false;
    for ch in text.chars() {
        if quoted {
            let token = current.as_mut().expect("a quoted token is open");
            if ch == '\n' {
                line += 1;
            }
            if escaped {
                // Only `\"` is an escape; any other backslash stays.
                if ch != '"' {
                    token.text.push('\\');
                }
                token.text.push(ch);
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                quoted = false;
                token.end_line = line;
                tokens.extend(current.take());
            } else {
                token.text.push(ch);
            }
            continue;
        }
        if ch == '\n' {
            comment = false;
            tokens.extend(current.take());
            line += 1;
            continue;
        }
        if comment {
            continue;
        }
        if ch.is_whitespace() {
            tokens.extend(current.take());
            continue;
        }
        if ch == '#' {
            comment = true;
            tokens.extend(current.take());
            continue;
        }
        let token = current.get_or_insert_with(|| Token {
            text: String::new(),
            quoted: false,
            line,
            end_line: line,
        });
        if token.text.is_empty() && !token.quoted && ch == '"' {
            token.quoted = true;
            quoted = true;
            continue;
        }
        token.text.push(ch);
    }
    if quoted {
        let line = current.map_or(line, |t| t.line);
        return Err(CorefileError::UnterminatedQuote { line: line + 1 });
    }
    tokens.extend(current);
    Ok(tokens)
}

//----------- Parser -----------------------------------------------------------

/// A top-level item of a Corefile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// A server block: its addresses (`.:53`, `xcc.test`, `dns://x:53`),
    /// commas removed.
    ServerBlock {
        /// The addresses, as written.
        keys: Vec<String>,
        /// Its directives: the first word of each line of the body (not
        /// of the blocks nested in it).
        directives: Vec<String>,
    },
    /// A snippet definition, `(name) { … }`, for `import name`.
    Snippet {
        /// The name, without the parentheses.
        name: String,
    },
    /// A top-level `import` line.
    Import {
        /// What follows `import`.
        args: Vec<String>,
    },
}

/// A top-level item and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// Its first line (0-based).
    pub first_line: usize,
    /// Its last line (0-based): the closing brace of a block.
    pub last_line: usize,
    /// Whether no other item has a token on its first or last line.
    pub own_lines: bool,
}

/// A Corefile, parsed as far as editing needs: its top-level items with
/// the lines they occupy. Nothing inside a block is interpreted beyond
/// brace balance and the first word of each line.
#[derive(Clone, Debug)]
pub struct Corefile<'a> {
    text: &'a str,
    items: Vec<Item>,
}

impl<'a> Corefile<'a> {
    /// Parses `text`, or says at which line and why it cannot.
    pub fn parse(text: &'a str) -> Result<Self, CorefileError> {
        let tokens = lex(text)?;
        let mut items = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let first = i;
            let token = &tokens[i];
            let kind = if token.is_close() {
                return Err(CorefileError::UnexpectedClose {
                    line: token.line + 1,
                });
            } else if token.is_open() {
                return Err(CorefileError::MissingAddress {
                    line: token.line + 1,
                });
            } else if !token.quoted
                && token.text == "import"
                && (i == 0 || tokens[i - 1].end_line < token.line)
            {
                i += 1;
                let mut args = Vec::new();
                while i < tokens.len() && tokens[i].line == token.line {
                    if tokens[i].is_open() || tokens[i].is_close() {
                        return Err(CorefileError::ImportBrace {
                            line: token.line + 1,
                        });
                    }
                    args.push(tokens[i].text.clone());
                    i += 1;
                }
                if args.is_empty() {
                    return Err(CorefileError::EmptyImport {
                        line: token.line + 1,
                    });
                }
                ItemKind::Import { args }
            } else {
                let keys = header(&tokens, &mut i)?;
                // `i` is at the `{`.
                let directives = body(&tokens, &mut i, &keys)?;
                match keys.as_slice() {
                    [key] if key.len() > 2 && key.starts_with('(') && key.ends_with(')') => {
                        ItemKind::Snippet {
                            name: key[1..key.len() - 1].to_owned(),
                        }
                    }
                    _ => ItemKind::ServerBlock { keys, directives },
                }
            };
            let last = i - 1;
            let first_line = tokens[first].line;
            let last_line = tokens[last].end_line;
            let own_lines = (first == 0 || tokens[first - 1].end_line < first_line)
                && tokens
                    .get(last + 1)
                    .is_none_or(|next| next.line > last_line);
            items.push(Item {
                kind,
                first_line,
                last_line,
                own_lines,
            });
        }
        Ok(Self { text, items })
    }

    /// The top-level items, in order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// The addresses of every server block, in order.
    pub fn server_blocks(&self) -> impl Iterator<Item = &[String]> {
        self.items.iter().filter_map(|item| match &item.kind {
            ItemKind::ServerBlock { keys, .. } => Some(keys.as_slice()),
            _ => None,
        })
    }

    /// What the top-level `import` lines import (files this edit cannot
    /// see; one of them may hold server blocks too).
    pub fn imports(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|item| match &item.kind {
                ItemKind::Import { args } => Some(args.join(" ")),
                _ => None,
            })
            .collect()
    }

    /// Whether some server block uses the `reload` plugin, without which
    /// CoreDNS reads an edited Corefile only when it restarts.
    pub fn reloads(&self) -> bool {
        self.items.iter().any(|item| match &item.kind {
            ItemKind::ServerBlock { directives, .. } => directives.iter().any(|d| d == "reload"),
            _ => false,
        })
    }

    /// The port of the root server block (`.:53` → `53`), if it has one.
    fn root_port(&self) -> Option<String> {
        self.server_blocks()
            .flatten()
            .map(|key| Address::parse(key))
            .find(|address| address.plain_dns() && address.zone == ".")
            .and_then(|address| address.port.map(str::to_owned))
    }

    /// The server block of `zone` on `port` (plain DNS), if there is one;
    /// refuses a block shared with other zones, two blocks for the zone,
    /// and a block that shares a line with another item.
    fn find_zone(&self, zone: &Zone, port: Option<&str>) -> Result<Option<&Item>, CorefileError> {
        let mut found: Option<&Item> = None;
        for item in &self.items {
            let ItemKind::ServerBlock { keys, .. } = &item.kind else {
                continue;
            };
            let ours = keys.iter().any(|key| {
                let address = Address::parse(key);
                address.plain_dns()
                    && zone.matches(&address.zone)
                    && address.port.unwrap_or("53") == port.unwrap_or("53")
            });
            if !ours {
                continue;
            }
            if keys.len() > 1 {
                return Err(CorefileError::SharedBlock {
                    line: item.first_line + 1,
                    keys: keys.join(" "),
                    zone: zone.to_string(),
                });
            }
            if let Some(first) = found {
                return Err(CorefileError::DuplicateBlocks {
                    first: first.first_line + 1,
                    second: item.first_line + 1,
                    zone: zone.to_string(),
                });
            }
            if !item.own_lines {
                return Err(CorefileError::SharedLine {
                    line: item.first_line + 1,
                    zone: zone.to_string(),
                });
            }
            found = Some(item);
        }
        Ok(found)
    }

    /// The indentation of the first indented line inside a server block
    /// (four spaces when there is none).
    fn indent(&self) -> &'a str {
        let lines: Vec<&'a str> = self.text.split_inclusive('\n').collect();
        self.items
            .iter()
            .filter(|item| matches!(item.kind, ItemKind::ServerBlock { .. }))
            .flat_map(|item| lines[item.first_line + 1..item.last_line].iter())
            .find_map(|line| {
                let trimmed = line.trim_start_matches([' ', '\t']);
                let indent = &line[..line.len() - trimmed.len()];
                (!indent.is_empty() && !trimmed.trim().is_empty()).then_some(indent)
            })
            .unwrap_or("    ")
    }
}

/// Reads a server block's addresses from `tokens[*i]` up to its `{`;
/// leaves `*i` at the `{`.
fn header(tokens: &[Token], i: &mut usize) -> Result<Vec<String>, CorefileError> {
    let start = *i;
    let mut keys = Vec::new();
    let mut expecting_another = false;
    loop {
        let Some(token) = tokens.get(*i) else {
            return Err(if expecting_another {
                CorefileError::TrailingComma {
                    line: tokens[*i - 1].line + 1,
                }
            } else {
                CorefileError::MissingBrace {
                    line: tokens[start].line + 1,
                    keys: keys.join(" "),
                }
            });
        };
        if token.is_open() {
            if expecting_another {
                return Err(CorefileError::TrailingComma {
                    line: tokens[*i - 1].line + 1,
                });
            }
            if keys.is_empty() {
                return Err(CorefileError::MissingAddress {
                    line: token.line + 1,
                });
            }
            return Ok(keys);
        }
        if token.is_close() {
            return Err(CorefileError::UnexpectedClose {
                line: token.line + 1,
            });
        }
        // A new line ends the addresses unless the last one ended with a
        // comma; then only `{` may follow.
        if *i > start && !expecting_another && token.line > tokens[*i - 1].end_line {
            return Err(CorefileError::MissingBrace {
                line: tokens[start].line + 1,
                keys: keys.join(" "),
            });
        }
        let key = match token.text.strip_suffix(',') {
            Some(key) if !token.quoted => {
                expecting_another = true;
                key
            }
            _ => {
                expecting_another = false;
                token.text.as_str()
            }
        };
        if !key.is_empty() {
            keys.push(key.to_owned());
        }
        *i += 1;
    }
}

/// Reads a block body from its `{` at `tokens[*i]` to the matching `}`;
/// leaves `*i` after the `}`. Returns the first word of each line inside.
fn body(tokens: &[Token], i: &mut usize, keys: &[String]) -> Result<Vec<String>, CorefileError> {
    let open = &tokens[*i];
    let mut depth = 1usize;
    let mut directives = Vec::new();
    *i += 1;
    while let Some(token) = tokens.get(*i) {
        *i += 1;
        if token.is_open() {
            depth += 1;
        } else if token.is_close() {
            depth -= 1;
            if depth == 0 {
                return Ok(directives);
            }
        } else if depth == 1 && tokens[*i - 2].end_line < token.line {
            directives.push(token.text.clone());
        }
    }
    Err(CorefileError::Unclosed {
        line: open.line + 1,
        keys: keys.join(" "),
    })
}

/// A server block address, `[scheme://]zone[:port]`.
struct Address<'k> {
    scheme: Option<&'k str>,
    /// Lower case, without the trailing dot; `.` for the root.
    zone: String,
    port: Option<&'k str>,
}

impl<'k> Address<'k> {
    fn parse(key: &'k str) -> Self {
        let (scheme, rest) = match key.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, key),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let zone = host.trim_end_matches('.').to_ascii_lowercase();
        Self {
            scheme,
            zone: if zone.is_empty() {
                ".".to_owned()
            } else {
                zone
            },
            port,
        }
    }

    /// Plain DNS (no scheme, or `dns://`), not TLS, gRPC or HTTPS.
    fn plain_dns(&self) -> bool {
        self.scheme.is_none_or(|s| s.eq_ignore_ascii_case("dns"))
    }
}

//----------- Corefile edits ---------------------------------------------------

/// The comment line above our block (without the line break).
pub fn marker(zone: &Zone) -> String {
    format!(
        "{MARKER_PREFIX} {zone} is answered by the xcc-dns responder (xcc-controller patch-coredns)"
    )
}

fn is_marker(line: &str) -> bool {
    line.trim_start().starts_with(MARKER_PREFIX)
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Our server block for `zone`: the marker comment, then the block, each
/// line ended by `newline`.
fn render_block(
    zone: &Zone,
    port: Option<&str>,
    target: IpAddr,
    indent: &str,
    newline: &str,
) -> String {
    let address = match port {
        Some(port) => format!("{zone}:{port}"),
        None => zone.to_string(),
    };
    let marker = marker(zone);
    format!(
        "{marker}{newline}\
         {address} {{{newline}\
         {indent}errors{newline}\
         {indent}forward . {target}{newline}\
         }}{newline}"
    )
}

/// `text` with a server block forwarding `zone` to `target`: the zone's
/// existing block (and our marker comment above it) replaced, or a new one
/// appended after a blank line. Returns `text` unchanged when it already
/// says exactly that.
pub fn add_forward(text: &str, zone: &Zone, target: IpAddr) -> Result<String, CorefileError> {
    let corefile = Corefile::parse(text)?;
    let port = corefile.root_port();
    let found = corefile.find_zone(zone, port.as_deref())?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let block = render_block(zone, port.as_deref(), target, corefile.indent(), newline);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + block.len() + 2);
    match found {
        Some(item) => {
            let mut start = item.first_line;
            if start > 0 && is_marker(lines[start - 1]) {
                start -= 1;
            }
            lines[..start].iter().for_each(|l| out.push_str(l));
            out.push_str(&block);
            lines[item.last_line + 1..]
                .iter()
                .for_each(|l| out.push_str(l));
        }
        None => {
            out.push_str(text);
            if let Some(last) = lines.last() {
                if !last.ends_with('\n') {
                    out.push_str(newline);
                }
                if !is_blank(last) {
                    out.push_str(newline);
                }
            }
            out.push_str(&block);
        }
    }
    Ok(out)
}

/// `text` without the server block of `zone` (with our marker comment
/// above it and one blank line that separated it); unchanged when there
/// is none.
pub fn remove_forward(text: &str, zone: &Zone) -> Result<String, CorefileError> {
    let corefile = Corefile::parse(text)?;
    let port = corefile.root_port();
    let Some(item) = corefile.find_zone(zone, port.as_deref())? else {
        return Ok(text.to_owned());
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut start = item.first_line;
    let mut end = item.last_line;
    if start > 0 && is_marker(lines[start - 1]) {
        start -= 1;
    }
    if start > 0 && is_blank(lines[start - 1]) {
        start -= 1;
    } else if end + 1 < lines.len() && is_blank(lines[end + 1]) {
        end += 1;
    }
    let mut out = String::with_capacity(text.len());
    lines[..start].iter().for_each(|l| out.push_str(l));
    lines[end + 1..].iter().for_each(|l| out.push_str(l));
    Ok(out)
}

//----------- kube-dns stubDomains ---------------------------------------------

/// Why a `stubDomains` value was not edited.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StubDomainsError {
    /// Not JSON at all.
    #[error("stubDomains is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// JSON, but not an object.
    #[error("stubDomains is not a JSON object (domain → list of name server addresses)")]
    NotAnObject,
    /// An entry that is not a list of strings.
    #[error("stubDomains[{domain:?}] is not a list of name server addresses")]
    NotAList {
        /// The entry's domain.
        domain: String,
    },
}

/// The entries of a `stubDomains` value (absent or blank: none).
fn stub_entries(value: Option<&str>) -> Result<Map<String, Value>, StubDomainsError> {
    let Some(text) = value.filter(|t| !t.trim().is_empty()) else {
        return Ok(Map::new());
    };
    let Value::Object(entries) = serde_json::from_str(text).map_err(StubDomainsError::Json)? else {
        return Err(StubDomainsError::NotAnObject);
    };
    for (domain, servers) in &entries {
        let valid = servers
            .as_array()
            .is_some_and(|list| list.iter().all(Value::is_string));
        if !valid {
            return Err(StubDomainsError::NotAList {
                domain: domain.clone(),
            });
        }
    }
    Ok(entries)
}

/// The `stubDomains` value (absent: `None`) with `zone` → `[target]`;
/// the input itself when it already says exactly that. Other entries are
/// kept (the JSON is written anew, compact, when it changes).
pub fn add_stub_domain(
    value: Option<&str>,
    zone: &Zone,
    target: IpAddr,
) -> Result<Option<String>, StubDomainsError> {
    let mut entries = stub_entries(value)?;
    let wanted = Value::Array(vec![Value::String(target.to_string())]);
    let matching: Vec<String> = entries
        .keys()
        .filter(|k| zone.matches(k))
        .cloned()
        .collect();
    if matching.len() == 1 && matching[0] == zone.as_str() && entries[zone.as_str()] == wanted {
        return Ok(value.map(str::to_owned));
    }
    for key in matching {
        entries.remove(&key);
    }
    entries.insert(zone.to_string(), wanted);
    Ok(Some(Value::Object(entries).to_string()))
}

/// The `stubDomains` value without `zone` (`None` when nothing is left);
/// the input itself when the zone is not there.
pub fn remove_stub_domain(
    value: Option<&str>,
    zone: &Zone,
) -> Result<Option<String>, StubDomainsError> {
    let mut entries = stub_entries(value)?;
    let matching: Vec<String> = entries
        .keys()
        .filter(|k| zone.matches(k))
        .cloned()
        .collect();
    if matching.is_empty() {
        return Ok(value.map(str::to_owned));
    }
    for key in matching {
        entries.remove(&key);
    }
    Ok((!entries.is_empty()).then(|| Value::Object(entries).to_string()))
}

//----------- Diff -------------------------------------------------------------

/// A unified diff (three lines of context) from `old` to `new`, with
/// `---`/`+++` headers naming them; empty when they are equal. Lines are
/// compared with their line breaks; a last line without one is flagged
/// as `diff` does.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    use std::fmt::Write as _;

    const CONTEXT: usize = 3;
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    // Longest common subsequence, by suffix lengths.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // The edit script: (' ', '-' or '+', the line).
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    // Line numbers before each op.
    let mut positions = Vec::with_capacity(ops.len() + 1);
    let (mut old_line, mut new_line) = (0usize, 0usize);
    for (op, _) in &ops {
        positions.push((old_line, new_line));
        match op {
            '-' => old_line += 1,
            '+' => new_line += 1,
            _ => {
                old_line += 1;
                new_line += 1;
            }
        }
    }
    positions.push((old_line, new_line));

    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(CONTEXT);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end + 2 * CONTEXT + 1 {
            end = changed[k];
            k += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        let old_count = positions[end].0 - positions[start].0;
        let new_count = positions[end].1 - positions[start].1;
        let old_start = positions[start].0 + usize::from(old_count > 0);
        let new_start = positions[start].1 + usize::from(new_count > 0);
        let _ = writeln!(
            out,
            "@@ -{old_start},{old_count} +{new_start},{new_count} @@"
        );
        for (op, line) in &ops[start..end] {
            let text = line.strip_suffix('\n').unwrap_or(line);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let _ = writeln!(out, "{op}{text}");
            if !line.ends_with('\n') {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
