//! The Corefile and stubDomains edits on real configurations
//! (`controller/tests/corefiles/`): kubeadm's default, the original
//! walkthrough's, one with a block for the zone already, one with
//! comments, snippets, tabs and imports (k3s style); then every refusal.

use std::net::IpAddr;

use super::*;

const KUBEADM: &str = include_str!("../../tests/corefiles/kubeadm.Corefile");
const WALKTHROUGH: &str = include_str!("../../tests/corefiles/walkthrough.Corefile");
const EXISTING: &str = include_str!("../../tests/corefiles/existing-block.Corefile");
const COMMENTS_IMPORTS: &str = include_str!("../../tests/corefiles/comments-imports.Corefile");

fn zone() -> Zone {
    Zone::default()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Our block for `xcc.test` on port 53 with this indent.
fn block(target: &str, indent: &str) -> String {
    format!(
        "# xcc-dns: xcc.test is answered by the xcc-dns responder (xcc-controller patch-coredns)\n\
         xcc.test:53 {{\n\
         {indent}errors\n\
         {indent}forward . {target}\n\
         }}\n"
    )
}

/// Adding twice changes nothing the second time; removing gives back
/// `original_after_remove`; removing again changes nothing.
fn check_cycle(original: &str, target: IpAddr, after_remove: &str) -> String {
    let added = add_forward(original, &zone(), target).unwrap();
    assert_eq!(
        add_forward(&added, &zone(), target).unwrap(),
        added,
        "adding twice"
    );
    Corefile::parse(&added).expect("the result parses");
    let removed = remove_forward(&added, &zone()).unwrap();
    assert_eq!(removed, after_remove, "removing");
    assert_eq!(remove_forward(&removed, &zone()).unwrap(), removed);
    added
}

//----------- Real Corefiles ---------------------------------------------------

#[test]
fn kubeadm_default_gets_a_block_appended() {
    let corefile = Corefile::parse(KUBEADM).unwrap();
    assert_eq!(
        corefile.server_blocks().collect::<Vec<_>>(),
        [[".:53".to_owned()]]
    );
    assert!(corefile.reloads());
    let added = check_cycle(KUBEADM, ip("10.96.0.53"), KUBEADM);
    assert_eq!(added, format!("{KUBEADM}\n{}", block("10.96.0.53", "    ")));
    // A new address replaces the old one, and nothing else.
    let moved = add_forward(&added, &zone(), ip("10.96.7.7")).unwrap();
    assert_eq!(moved, format!("{KUBEADM}\n{}", block("10.96.7.7", "    ")));
    assert_eq!(
        unified_diff(&added, &moved, "a", "b"),
        format!(
            "--- a\n+++ b\n@@ -22,5 +22,5 @@\n {}\n xcc.test:53 {{\n     errors\n\
             -    forward . 10.96.0.53\n+    forward . 10.96.7.7\n }}\n",
            marker(&zone())
        )
    );
}

#[test]
fn the_walkthrough_block_is_replaced_not_duplicated() {
    let corefile = Corefile::parse(WALKTHROUGH).unwrap();
    assert_eq!(
        corefile.server_blocks().collect::<Vec<_>>(),
        [vec![".:53".to_owned()], vec!["xcc.test".to_owned()]]
    );
    let root_block_end = WALKTHROUGH.find("xcc.test {").unwrap();
    let root = &WALKTHROUGH[..root_block_end];
    let added = check_cycle(WALKTHROUGH, ip("10.96.0.53"), root);
    // The root block is kept byte for byte; the hand-written block (no
    // port, a placeholder address, `reload`) becomes ours.
    assert_eq!(added, format!("{root}{}", block("10.96.0.53", "    ")));
    assert_eq!(
        Corefile::parse(&added)
            .unwrap()
            .server_blocks()
            .filter(|keys| keys.iter().any(|k| k.starts_with("xcc.test")))
            .count(),
        1
    );
}

#[test]
fn an_existing_block_for_the_zone_is_updated_in_place() {
    let added = add_forward(EXISTING, &zone(), ip("10.96.0.53")).unwrap();
    // Only that block's lines change; the comment above it (not ours) and
    // the blocks around it stay.
    assert_eq!(
        unified_diff(EXISTING, &added, "before", "after"),
        "--- before\n+++ after\n@@ -20,10 +20,10 @@\n }\n \n \
         # The cross-cluster zone, added by hand during the pilot.\n\
         +# xcc-dns: xcc.test is answered by the xcc-dns responder (xcc-controller patch-coredns)\n \
         xcc.test:53 {\n     errors\n-    cache 10\n-    forward . 10.96.200.7\n\
         +    forward . 10.96.0.53\n }\n \n corp.example:53 {\n"
    );
    assert_eq!(
        add_forward(&added, &zone(), ip("10.96.0.53")).unwrap(),
        added
    );
    // Removing takes the block, our marker and one blank line; the other
    // comment stays.
    let removed = remove_forward(&added, &zone()).unwrap();
    let expected = EXISTING.replace(
        "xcc.test:53 {\n    errors\n    cache 10\n    forward . 10.96.200.7\n}\n\n",
        "",
    );
    assert_eq!(removed, expected);
    assert!(removed.contains("# The cross-cluster zone"));
    assert!(removed.contains("corp.example:53 {"));
}

#[test]
fn comments_snippets_tabs_and_imports_are_kept() {
    let corefile = Corefile::parse(COMMENTS_IMPORTS).unwrap();
    let kinds: Vec<&ItemKind> = corefile.items().iter().map(|i| &i.kind).collect();
    assert!(matches!(kinds[0], ItemKind::Snippet { name } if name == "common"));
    assert!(matches!(kinds[1], ItemKind::ServerBlock { keys, .. } if keys == &[".:53"]));
    assert!(
        matches!(kinds[2], ItemKind::Import { args } if args == &["/etc/coredns/custom/*.server"])
    );
    assert_eq!(kinds.len(), 3);
    assert_eq!(corefile.imports(), ["/etc/coredns/custom/*.server"]);
    // `reload 15s` inside `hosts { }` is the hosts plugin's option, not the
    // reload plugin.
    assert!(!corefile.reloads());
    let added = check_cycle(COMMENTS_IMPORTS, ip("10.43.0.53"), COMMENTS_IMPORTS);
    // Appended after a blank line, indented with a tab like the rest.
    assert_eq!(
        added,
        format!("{COMMENTS_IMPORTS}\n{}", block("10.43.0.53", "\t"))
    );
}

//----------- Addresses, ports, spellings --------------------------------------

#[test]
fn the_block_listens_where_the_root_block_does() {
    let text = ".:1053 {\n    forward . 8.8.8.8\n}\n";
    let added = add_forward(text, &zone(), ip("10.96.0.53")).unwrap();
    assert!(added.ends_with("xcc.test:1053 {\n    errors\n    forward . 10.96.0.53\n}\n"));
    // No port on the root block: none on ours (CoreDNS's default).
    let added = add_forward(". {\n  whoami\n}\n", &zone(), ip("10.96.0.53")).unwrap();
    assert!(added.ends_with("\nxcc.test {\n  errors\n  forward . 10.96.0.53\n}\n"));
    // A block for the zone on another port, or another transport, is not
    // ours to touch.
    let text = ".:53 {\n    whoami\n}\nxcc.test:5300 {\n    whoami\n}\n\
                tls://xcc.test:853 {\n    whoami\n}\n";
    let added = add_forward(text, &zone(), ip("10.96.0.53")).unwrap();
    assert!(added.starts_with(text));
    assert_eq!(remove_forward(text, &zone()).unwrap(), text);
}

#[test]
fn any_spelling_of_the_zone_is_recognised() {
    for key in ["XCC.TEST.:53", "dns://xcc.test:53", "xcc.test.", "Xcc.Test"] {
        let text = format!(".:53 {{\n    whoami\n}}\n{key} {{\n    forward . 192.0.2.1\n}}\n");
        let added = add_forward(&text, &zone(), ip("10.96.0.53")).unwrap();
        assert_eq!(
            added,
            format!(".:53 {{\n    whoami\n}}\n{}", block("10.96.0.53", "    ")),
            "{key}"
        );
        assert_eq!(
            remove_forward(&text, &zone()).unwrap(),
            ".:53 {\n    whoami\n}\n"
        );
    }
    // A zone below ours, or above it, is another zone.
    let text = ".:53 {\n    whoami\n}\n\na.xcc.test {\n    whoami\n}\n\ntest {\n    whoami\n}\n";
    assert_eq!(remove_forward(text, &zone()).unwrap(), text);
}

#[test]
fn a_brace_on_the_next_line_and_address_lists() {
    // Caddy allows the `{` on the line after the addresses, and address
    // lists with commas across lines.
    let text = ".:53\n{\n    whoami\n}\nexample.org,\n  example.net {\n    whoami\n}\n";
    let corefile = Corefile::parse(text).unwrap();
    assert_eq!(
        corefile.server_blocks().collect::<Vec<_>>(),
        [
            vec![".:53".to_owned()],
            vec!["example.org".to_owned(), "example.net".to_owned()]
        ]
    );
    let added = add_forward(text, &zone(), ip("10.96.0.53")).unwrap();
    assert_eq!(remove_forward(&added, &zone()).unwrap(), text, "round trip");
}

#[test]
fn ipv6_targets_line_endings_and_missing_final_newline() {
    let added = add_forward(KUBEADM, &zone(), ip("fd00:10:96::53")).unwrap();
    assert!(added.contains("\n    forward . fd00:10:96::53\n"));
    // CRLF files get CRLF lines.
    let crlf = KUBEADM.replace('\n', "\r\n");
    let added = add_forward(&crlf, &zone(), ip("10.96.0.53")).unwrap();
    assert_eq!(
        added,
        format!(
            "{crlf}\r\n{}",
            block("10.96.0.53", "    ").replace('\n', "\r\n")
        )
    );
    assert_eq!(remove_forward(&added, &zone()).unwrap(), crlf);
    // No newline at the end: one is added before the blank line.
    let text = ".:53 {\n    whoami\n}";
    let added = add_forward(text, &zone(), ip("10.96.0.53")).unwrap();
    assert_eq!(added, format!("{text}\n\n{}", block("10.96.0.53", "    ")));
    // An empty Corefile gets the block alone.
    assert_eq!(
        add_forward("", &zone(), ip("10.96.0.53")).unwrap(),
        block("10.96.0.53", "    ").replace(":53", "")
    );
}

//----------- Refusals ---------------------------------------------------------

#[test]
fn corefiles_it_cannot_parse_are_refused() {
    use CorefileError as E;
    let keys = |k: &str| k.to_owned();
    let cases: &[(&str, CorefileError)] = &[
        (
            ".:53 {\n    errors\n",
            E::Unclosed {
                line: 1,
                keys: keys(".:53"),
            },
        ),
        (
            ".:53 {\n    cache 30 {\n}\n",
            E::Unclosed {
                line: 1,
                keys: keys(".:53"),
            },
        ),
        (".:53 {\n}\n}\n", E::UnexpectedClose { line: 3 }),
        ("{\n    errors\n}\n", E::MissingAddress { line: 1 }),
        (
            ".:53\n    errors\n    forward . 8.8.8.8\n",
            E::MissingBrace {
                line: 1,
                keys: keys(".:53"),
            },
        ),
        (
            ".:53 {\n}\nerrors\n",
            E::MissingBrace {
                line: 3,
                keys: keys("errors"),
            },
        ),
        (
            ".:53 {\n    log \"unterminated\n}\n",
            E::UnterminatedQuote { line: 2 },
        ),
        ("example.org, {\n}\n", E::TrailingComma { line: 1 }),
        ("import\n.:53 {\n}\n", E::EmptyImport { line: 1 }),
        ("import foo {\n}\n", E::ImportBrace { line: 1 }),
        (
            ".:53 {\n}\nxcc.test corp.example {\n    forward . 10.0.0.1\n}\n",
            E::SharedBlock {
                line: 3,
                keys: keys("xcc.test corp.example"),
                zone: keys("xcc.test"),
            },
        ),
        (
            "xcc.test {\n}\nxcc.test:53 {\n}\n",
            E::DuplicateBlocks {
                first: 1,
                second: 3,
                zone: keys("xcc.test"),
            },
        ),
        (
            ".:53 {\n} xcc.test {\n    forward . 10.0.0.1\n}\n",
            E::SharedLine {
                line: 2,
                zone: keys("xcc.test"),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            add_forward(text, &zone(), ip("10.96.0.53")).as_ref(),
            Err(expected),
            "add: {text:?}"
        );
        assert_eq!(
            remove_forward(text, &zone()).as_ref(),
            Err(expected),
            "remove: {text:?}"
        );
    }
    // The messages name the line and say what to do.
    assert_eq!(
        E::MissingBrace {
            line: 1,
            keys: keys(".:53")
        }
        .to_string(),
        "line 1: the server block .:53 has no '{' after its addresses \
         (a Corefile whose only server block has no braces is not edited; add them)"
    );
    assert_eq!(
        E::UnexpectedClose { line: 3 }.to_string(),
        "line 3: '}' closes no block (unbalanced braces)"
    );
}

#[test]
fn braces_inside_quotes_and_comments_do_not_count() {
    let text = ".:53 {\n    # } not a brace {\n    log . \"{name} }\"\n    template IN A x {\n        answer \"{{ .Name }} 60 IN A 127.0.0.1\"\n    }\n}\n";
    let corefile = Corefile::parse(text).unwrap();
    assert_eq!(corefile.items().len(), 1);
    assert_eq!(corefile.items()[0].last_line, 6);
    // An escaped quote does not end the token.
    Corefile::parse(".:53 {\n    log . \"a \\\" } b\"\n}\n").unwrap();
}

//----------- Zones ------------------------------------------------------------

#[test]
fn zones_are_checked_and_normalised() {
    assert_eq!(Zone::new("XCC.Test.").unwrap().as_str(), "xcc.test");
    assert_eq!(
        "clusters.example.com".parse::<Zone>().unwrap().to_string(),
        "clusters.example.com"
    );
    assert_eq!(Zone::default().as_str(), DEFAULT_ZONE);
    assert_eq!(Zone::new("."), Err(ZoneError::Root));
    assert!(matches!(Zone::new("a..b"), Err(ZoneError::Syntax { .. })));
    assert!(matches!(Zone::new(""), Err(ZoneError::Syntax { .. })));
    assert_eq!(
        Zone::new("xcc{.test"),
        Err(ZoneError::Character {
            zone: "xcc{.test".into(),
            character: '{'
        })
    );
    assert!(matches!(
        Zone::new("x\\032y.test"),
        Err(ZoneError::Character {
            character: '\\',
            ..
        })
    ));
}

//----------- stubDomains ------------------------------------------------------

#[test]
fn stub_domains_add_update_and_remove() {
    let target = ip("10.96.0.53");
    // None → our entry alone, and back.
    let added = add_stub_domain(None, &zone(), target).unwrap();
    assert_eq!(added.as_deref(), Some(r#"{"xcc.test":["10.96.0.53"]}"#));
    assert_eq!(
        add_stub_domain(added.as_deref(), &zone(), target).unwrap(),
        added
    );
    assert_eq!(remove_stub_domain(added.as_deref(), &zone()).unwrap(), None);
    assert_eq!(remove_stub_domain(None, &zone()).unwrap(), None);
    assert_eq!(add_stub_domain(Some("  "), &zone(), target).unwrap(), added);

    // Other entries stay; an equal entry, however formatted, is left as
    // it is written.
    let existing = "{\n  \"acme.local\": [\"1.2.3.4\"],\n  \"xcc.test\": [\"10.96.0.53\"]\n}\n";
    assert_eq!(
        add_stub_domain(Some(existing), &zone(), target)
            .unwrap()
            .as_deref(),
        Some(existing)
    );
    assert_eq!(
        remove_stub_domain(Some(existing), &zone())
            .unwrap()
            .as_deref(),
        Some(r#"{"acme.local":["1.2.3.4"]}"#)
    );
    // An old address, or another spelling of the zone, is replaced.
    let old = r#"{"acme.local": ["1.2.3.4"], "XCC.test.": ["10.96.9.9", "10.96.9.10"]}"#;
    assert_eq!(
        add_stub_domain(Some(old), &zone(), target)
            .unwrap()
            .as_deref(),
        Some(r#"{"acme.local":["1.2.3.4"],"xcc.test":["10.96.0.53"]}"#)
    );
    let unrelated = r#"{"acme.local":["1.2.3.4"]}"#;
    assert_eq!(
        remove_stub_domain(Some(unrelated), &zone())
            .unwrap()
            .as_deref(),
        Some(unrelated)
    );
}

#[test]
fn stub_domains_that_are_not_json_objects_are_refused() {
    let target = ip("10.96.0.53");
    assert!(matches!(
        add_stub_domain(Some("{not json"), &zone(), target),
        Err(StubDomainsError::Json(_))
    ));
    assert!(matches!(
        add_stub_domain(Some(r#"["1.2.3.4"]"#), &zone(), target),
        Err(StubDomainsError::NotAnObject)
    ));
    assert!(matches!(
        remove_stub_domain(Some(r#"{"acme.local": "1.2.3.4"}"#), &zone()),
        Err(StubDomainsError::NotAList { domain }) if domain == "acme.local"
    ));
}

//----------- Diff -------------------------------------------------------------

#[test]
fn unified_diffs() {
    assert_eq!(unified_diff("a\n", "a\n", "x", "y"), "");
    assert_eq!(
        unified_diff("", "a\nb\n", "x", "y"),
        "--- x\n+++ y\n@@ -0,0 +1,2 @@\n+a\n+b\n"
    );
    assert_eq!(
        unified_diff("a\nb\n", "", "x", "y"),
        "--- x\n+++ y\n@@ -1,2 +0,0 @@\n-a\n-b\n"
    );
    // Far-apart changes make separate hunks.
    let old: String = (1..=20).map(|n| format!("{n}\n")).collect();
    let new: String = (1..=20)
        .map(|n| match n {
            2 => "two\n".to_owned(),
            19 => "nineteen\n".to_owned(),
            n => format!("{n}\n"),
        })
        .collect();
    assert_eq!(
        unified_diff(&old, &new, "x", "y"),
        "--- x\n+++ y\n\
         @@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n\
         @@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n"
    );
    // A missing final newline shows.
    assert_eq!(
        unified_diff("a", "a\n", "x", "y"),
        "--- x\n+++ y\n@@ -1,1 +1,1 @@\n-a\n\\ No newline at end of file\n+a\n"
    );
}
