//! Where things are in the config text, so every error can name its key and line
//! without quoting the file.
//!
//! toml's own error text quotes the offending line, and that line can hold a secret
//! (a literal `password = "…"`, a half-written URL). kvwatch therefore never shows
//! toml's snippet: it parses the text once more with spans ([`toml::de::DeTable`]),
//! finds the dotted key at an error's position (or the position of a key a check
//! names), and reports `line N` and the key. Syntax errors, where no table exists
//! yet, name the line, the column and the key written on that line.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The config text, with the spans of its keys when it parses.
pub struct Document<'i> {
    text: &'i str,
    root: Option<DeTable<'i>>,
}

impl<'i> Document<'i> {
    /// Parses `text` for positions; a syntax error becomes a located message.
    pub fn parse(text: &'i str) -> Result<Document<'i>, String> {
        match DeTable::parse(text) {
            Ok(root) => Ok(Document {
                text,
                root: Some(root.into_inner()),
            }),
            Err(e) => {
                let doc = Document { text, root: None };
                let mut out = match e.span() {
                    Some(span) => doc.position(span.start),
                    None => String::from("syntax error"),
                };
                if let Some(key) = e.span().and_then(|s| doc.key_written_at(s.start)) {
                    out.push_str(&format!(" (`{key}`)"));
                }
                out.push_str(": ");
                out.push_str(e.message().trim());
                Err(out)
            }
        }
    }

    /// `offset` moved back to a character boundary (spans are, but never panic).
    fn boundary(&self, offset: usize) -> usize {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        end
    }

    /// The 1-based line of byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// `line N, column M` of byte `offset`.
    fn position(&self, offset: usize) -> String {
        let end = self.boundary(offset);
        let start = self.text[..end].rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[start..end].chars().count() + 1;
        format!("line {}, column {column}", self.line(offset))
    }

    /// The key written at the start of the line holding `offset`, when it looks like
    /// one (`password` in `password = "…`): the line's text itself is never shown.
    fn key_written_at(&self, offset: usize) -> Option<String> {
        let end = self.boundary(offset);
        let start = self.text[..end].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim();
        let plain = |c: char| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c);
        (!key.is_empty() && key.len() <= 64 && key.chars().all(plain)).then(|| key.to_owned())
    }

    /// The value at a dotted key path (`sinks[0].port`, `outbox.max_tries`).
    fn value_at(&self, path: &str) -> Option<&Spanned<DeValue<'i>>> {
        let mut table = self.root.as_ref()?;
        let mut found: Option<&Spanned<DeValue<'i>>> = None;
        for part in path.split('.') {
            if let Some(v) = found {
                table = match v.get_ref() {
                    DeValue::Table(t) => t,
                    _ => return None,
                };
            }
            let (name, index) = match part.split_once('[') {
                Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
                None => (part, None),
            };
            let (_, value) = table.iter().find(|(k, _)| k.get_ref() == name)?;
            found = Some(match index {
                Some(i) => match value.get_ref() {
                    DeValue::Array(items) => items.get(i)?,
                    _ => return None,
                },
                None => value,
            });
        }
        found
    }

    /// The span of the value at a dotted key path.
    pub fn span_of(&self, path: &str) -> Option<Range<usize>> {
        self.value_at(path).map(Spanned::span)
    }

    /// The line of a dotted key path, when the file writes it.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        self.span_of(path).map(|s| self.line(s.start))
    }

    /// The deepest dotted key path whose key or value holds byte `offset`.
    pub fn path_at(&self, offset: usize) -> Option<String> {
        find_in_table(self.root.as_ref()?, offset, "")
    }

    /// The index of the `[[sinks]]` table whose header or keys hold byte `offset`.
    pub fn sink_at(&self, offset: usize) -> Option<usize> {
        let (_, sinks) = self
            .root
            .as_ref()?
            .iter()
            .find(|(k, _)| k.get_ref() == "sinks")?;
        let DeValue::Array(items) = sinks.get_ref() else {
            return None;
        };
        items.iter().position(|item| {
            item.span().contains(&offset)
                || match item.get_ref() {
                    DeValue::Table(t) => t
                        .iter()
                        .any(|(k, v)| k.span().contains(&offset) || v.span().contains(&offset)),
                    _ => false,
                }
        })
    }

    /// In the table at `path`, the first key among `names` whose value is a plain
    /// string (a secret written literally where a reference belongs), as a path.
    pub fn literal_among(&self, path: &str, names: &[&str]) -> Option<String> {
        let DeValue::Table(table) = self.value_at(path)?.get_ref() else {
            return None;
        };
        names.iter().find_map(|name| {
            table.iter().find_map(|(k, v)| {
                (k.get_ref() == *name && matches!(v.get_ref(), DeValue::String(_)))
                    .then(|| format!("{path}.{name}"))
            })
        })
    }
}

fn find_in_table(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        if key.span().contains(&offset) {
            return Some(path);
        }
        find_in_value(value, offset, &path)
    })
}

fn find_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &str) -> Option<String> {
    let inner = match value.get_ref() {
        DeValue::Table(t) => find_in_table(t, offset, path),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_in_value(item, offset, &format!("{path}[{i}]"))),
        _ => None,
    };
    inner.or_else(|| value.span().contains(&offset).then(|| path.to_owned()))
}

/// The keys whose value is a secret reference (`{ env = … }` or `{ file = … }`).
const SECRET_KEYS: [&str; 6] = [
    "password",
    "url",
    "signing_secret",
    "routing_key",
    "connection_string",
    "secret",
];

/// A schema error (a wrong type, an unknown key, a literal secret) as `line N:
/// `key`: what is wrong`, from toml's message and position, never its snippet.
pub fn schema_error(doc: &Document<'_>, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    let offset = e.span().map(|s| s.start);
    let line_at = |o: usize| doc.line(o);
    // A [[sinks]] table says where it starts and which of its keys failed (see
    // `delivery`): it is read as a whole, which loses the positions of its keys.
    if let Some((at, key, rest)) = super::delivery::sink_message(message) {
        if let Some(i) = doc.sink_at(at) {
            let path = match key {
                Some(k) => format!("sinks[{i}].{k}"),
                None => format!("sinks[{i}]"),
            };
            let line = doc.line_of(&path).unwrap_or_else(|| doc.line(at));
            return located(Some(line), Some(&path), rest);
        }
    }
    let mut key = offset.and_then(|o| doc.path_at(o));
    if message == super::delivery::LITERAL_SECRET {
        if let Some(inner) = key
            .as_deref()
            .and_then(|k| doc.literal_among(k, &SECRET_KEYS))
        {
            key = Some(inner);
        }
    }
    let line = key
        .as_deref()
        .and_then(|k| doc.line_of(k))
        .or(offset.map(line_at));
    located(line, key.as_deref(), message)
}

fn located(line: Option<usize>, key: Option<&str>, message: &str) -> String {
    let mut out = String::new();
    if let Some(l) = line {
        out.push_str(&format!("line {l}: "));
    }
    if let Some(k) = key {
        out.push_str(&format!("`{k}`: "));
    }
    out.push_str(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[outbox]\nmax_tries = 0\n\n[[sinks]]\nkind = \"email\"\nport = 70000\n\n[[sinks]]\nkind = \"slack\"\n";

    #[test]
    fn keys_and_lines() {
        let doc = Document::parse(TEXT).unwrap();
        assert_eq!(doc.line_of("outbox.max_tries"), Some(2));
        assert_eq!(doc.line_of("sinks[0].port"), Some(6));
        assert_eq!(doc.line_of("sinks[1].kind"), Some(9));
        assert_eq!(doc.line_of("sinks[2].kind"), None);
        let at = TEXT.find("70000").unwrap();
        assert_eq!(doc.path_at(at).as_deref(), Some("sinks[0].port"));
        assert_eq!(doc.sink_at(at), Some(0));
        assert_eq!(doc.sink_at(TEXT.find("slack").unwrap()), Some(1));
    }

    #[test]
    fn a_syntax_error_names_the_line_and_key_only() {
        let err = Document::parse("[a]\nx = 1\npassword = \"s3cr3t-text\n")
            .err()
            .unwrap();
        assert!(err.starts_with("line 3"), "{err}");
        assert!(
            err.contains("`password`") && !err.contains("s3cr3t"),
            "{err}"
        );
    }
}
