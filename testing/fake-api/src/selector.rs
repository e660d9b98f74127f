//! Label and field selectors, parsed from a request's query and matched
//! against objects, with the grammar of the API server (`k8s.io/apimachinery`
//! `labels.Parse` and `fields.ParseSelector`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::status;
use crate::types::ResourceType;

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, BTreeSet<String>),
    NotIn(String, BTreeSet<String>),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A label selector: every requirement must hold. Empty: everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' => {
                chars.next();
            }
            ',' | '(' | ')' | '>' | '<' => {
                chars.next();
                tokens.push(match c {
                    ',' => Token::Comma,
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '>' => Token::Greater,
                    _ => Token::Less,
                });
            }
            '=' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::DoubleEquals);
                } else {
                    tokens.push(Token::Equals);
                }
            }
            '!' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::NotEquals);
                } else {
                    tokens.push(Token::Not);
                }
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if " \t\n,()<>=!".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    tokens
}

impl LabelSelector {
    /// Parses `text` (`a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3`); the
    /// error is the message of a 400 BadRequest.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text);
        let mut requirements = Vec::new();
        let mut at = 0;
        let word = |at: usize| match tokens.get(at) {
            Some(Token::Word(w)) => Some(w.clone()),
            _ => None,
        };
        while at < tokens.len() {
            let requirement = if tokens[at] == Token::Not {
                let key = word(at + 1)
                    .ok_or("unable to parse requirement: expected an identifier after '!'")?;
                at += 2;
                Requirement::NotExists(key)
            } else {
                let key = word(at).ok_or_else(|| {
                    format!(
                        "unable to parse requirement: found '{:?}', expected: identifier",
                        tokens[at]
                    )
                })?;
                at += 1;
                match tokens.get(at) {
                    None | Some(Token::Comma) => Requirement::Exists(key),
                    Some(op @ (Token::Equals | Token::DoubleEquals | Token::NotEquals)) => {
                        let op = op.clone();
                        at += 1;
                        // An empty value is allowed: `a=` and `a=,b`.
                        let value = match word(at) {
                            Some(value) => {
                                at += 1;
                                value
                            }
                            None => String::new(),
                        };
                        if op == Token::NotEquals {
                            Requirement::NotEquals(key, value)
                        } else {
                            Requirement::Equals(key, value)
                        }
                    }
                    Some(op @ (Token::Greater | Token::Less)) => {
                        let op = op.clone();
                        let value = word(at + 1)
                            .and_then(|v| v.parse::<i64>().ok())
                            .ok_or_else(|| {
                                format!("unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer (key {key})")
                            })?;
                        at += 2;
                        if op == Token::Greater {
                            Requirement::GreaterThan(key, value)
                        } else {
                            Requirement::LessThan(key, value)
                        }
                    }
                    Some(Token::Word(op)) if op == "in" || op == "notin" => {
                        let negated = op == "notin";
                        at += 1;
                        if tokens.get(at) != Some(&Token::Open) {
                            return Err(
                                "unable to parse requirement: found '', expected: '('".into()
                            );
                        }
                        at += 1;
                        let mut values = BTreeSet::new();
                        loop {
                            match tokens.get(at) {
                                Some(Token::Word(value)) => {
                                    values.insert(value.clone());
                                    at += 1;
                                }
                                Some(Token::Comma) => at += 1,
                                Some(Token::Close) => {
                                    at += 1;
                                    break;
                                }
                                _ => {
                                    return Err("unable to parse requirement: found '', expected: ',', ')' or identifier".into());
                                }
                            }
                        }
                        if negated {
                            Requirement::NotIn(key, values)
                        } else {
                            Requirement::In(key, values)
                        }
                    }
                    Some(other) => {
                        return Err(format!(
                            "unable to parse requirement: found '{other:?}', expected: in, notin, =, ==, !=, gt, lt"
                        ));
                    }
                }
            };
            requirements.push(requirement);
            match tokens.get(at) {
                None => {}
                Some(Token::Comma) => at += 1,
                Some(other) => {
                    return Err(format!(
                        "found '{other:?}', expected: ',' or 'end of string'"
                    ));
                }
            }
        }
        Ok(Self(requirements))
    }

    /// Whether the selector selects everything.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `object`'s labels satisfy the selector.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let get = |key: &str| labels.get(key).and_then(Value::as_str);
        self.0.iter().all(|requirement| match requirement {
            Requirement::Exists(key) => get(key).is_some(),
            Requirement::NotExists(key) => get(key).is_none(),
            Requirement::Equals(key, value) => get(key) == Some(value),
            Requirement::NotEquals(key, value) => get(key) != Some(value),
            Requirement::In(key, values) => get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(key, values) => get(key).is_none_or(|v| !values.contains(v)),
            Requirement::GreaterThan(key, n) => get(key)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Requirement::LessThan(key, n) => get(key)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        })
    }
}

/// A field selector: `path=value`, `path==value` or `path!=value` terms,
/// all of which must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `text` for objects of `ty`: `metadata.name`,
    /// `metadata.namespace` and the type's own extra paths are known; the
    /// error is the message of a 400 BadRequest.
    pub(crate) fn parse(text: &str, ty: &ResourceType) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (path, equal, value) = if let Some((p, v)) = term.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = term.split_once("==") {
                (p, true, v)
            } else if let Some((p, v)) = term.split_once('=') {
                (p, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{term}'; can't understand '{term}'"
                ));
            };
            let path = path.trim();
            let known = path == "metadata.name"
                || path == "metadata.namespace"
                || ty.field_selectors.iter().any(|p| p == path);
            if !known {
                let mut allowed = vec![
                    "\"metadata.name\"".to_owned(),
                    "\"metadata.namespace\"".to_owned(),
                ];
                allowed.extend(ty.field_selectors.iter().map(|p| format!("\"{p}\"")));
                return Err(format!(
                    "\"{path}\" is not a known field selector: only {}",
                    allowed.join(", ")
                ));
            }
            terms.push((path.to_owned(), equal, value.trim().to_owned()));
        }
        Ok(Self(terms))
    }

    /// Whether the selector selects everything.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `object` satisfies the selector (a missing field is `""`).
    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, equal, value)| {
            let mut at = object;
            for part in path.split('.') {
                at = &at[part];
            }
            let found = at.as_str().unwrap_or_default();
            (found == value) == *equal
        })
    }
}

/// Parses the selectors of a request, as `400 BadRequest` errors.
pub(crate) fn parse_selectors(
    labels: Option<&str>,
    fields: Option<&str>,
    ty: &ResourceType,
) -> Result<(LabelSelector, FieldSelector), kube::core::Status> {
    let labels =
        LabelSelector::parse(labels.unwrap_or_default()).map_err(|m| status::bad_request(&m))?;
    let fields = FieldSelector::parse(fields.unwrap_or_default(), ty)
        .map_err(|m| status::bad_request(&m))?;
    Ok((labels, fields))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(labels: Value) -> Value {
        json!({ "metadata": { "name": "n", "namespace": "ns", "labels": labels } })
    }

    #[test]
    fn label_selectors_match_like_the_api_server() {
        let o = object(json!({ "app": "web", "tier": "front", "n": "5" }));
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("missing notin (db)", true),
            ("app notin (web)", false),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("n>4", true),
            ("n<4", false),
            ("app=", false),
        ];
        for (selector, expected) in cases {
            let parsed =
                LabelSelector::parse(selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
            assert_eq!(parsed.matches(&o), expected, "{selector}");
        }
        for bad in ["a in (", "a in b", "=b", "a=b c", "a>b"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn field_selectors_know_names_namespaces_and_registered_paths() {
        let ty = ResourceType::new("", "v1", "Secret", "secrets", true).with_field_selector("type");
        let mut o = object(json!({}));
        o["type"] = json!("Opaque");
        for (selector, expected) in [
            ("metadata.name=n", true),
            ("metadata.name!=n", false),
            ("metadata.namespace==ns,metadata.name=n", true),
            ("type=Opaque", true),
            ("type!=Opaque", false),
        ] {
            assert_eq!(
                FieldSelector::parse(selector, &ty).unwrap().matches(&o),
                expected,
                "{selector}"
            );
        }
        let error = FieldSelector::parse("data.x=y", &ty).unwrap_err();
        assert!(error.contains("not a known field selector"), "{error}");
    }
}
