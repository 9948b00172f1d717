//! The [`Redactor`]: the last line between a secret and the text kvwatch shows (WARN
//! logs, the outbox's `last_error`, `kvwatch outbox list`, metrics events).
//!
//! Receivers rarely echo a secret the way kvwatch sent it. A web framework shows the
//! path and query percent-decoded (or re-encoded with lower-case hex), and HTTP
//! clients turn a URL's `user:password@` into an `Authorization: Basic` header
//! (base64 of the decoded pair) that a careless receiver prints back. So every secret
//! is remembered in each form a receiver may give it back in: as written, decoded,
//! re-encoded (upper- and lower-case hex), and, for a URL, its path, its path
//! segments, its query and each query value, its password, and the Basic
//! credentials its user information makes. Matching stays a plain substring search,
//! longest needle first.

use std::fmt;

use base64::Engine as _;

use super::secret::Secret;

/// What replaces a secret in text.
pub const REDACTED: &str = "<redacted>";

/// Needles shorter than this would mangle ordinary text and hide little.
const MIN_NEEDLE: usize = 6;

/// Removes known secret values (and the telling parts of secret URLs) from text.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

impl Redactor {
    /// Redacts nothing yet.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Adds a secret in every form a receiver may echo it in; a URL adds its parts.
    pub fn add(&mut self, secret: &Secret) {
        let value = secret.expose();
        self.push_forms(value);
        if let Ok(url) = reqwest::Url::parse(value) {
            self.push_forms(url.as_str());
            let path = url.path();
            if path.len() > 1 {
                self.push_forms(path);
                for segment in path.split('/') {
                    self.push_forms(segment);
                }
            }
            if let Some(query) = url.query() {
                self.push_forms(query);
                for pair in query.split('&') {
                    let value = pair.split_once('=').map_or(pair, |(_, v)| v);
                    self.push_forms(value);
                }
            }
            if let Some(password) = url.password() {
                self.push_forms(password);
            }
            if !url.username().is_empty() {
                // What reqwest sends for `user:password@`: base64 of the decoded pair.
                let user = percent_decode(url.username());
                let password = url.password().map(percent_decode).unwrap_or_default();
                let basic = base64::engine::general_purpose::STANDARD;
                self.push(&basic.encode(format!("{user}:{password}")));
            }
        }
        // Longest first, so a URL is replaced whole before its path is.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self.needles.dedup();
    }

    /// `text` as written, decoded, and re-encoded with either hex case.
    fn push_forms(&mut self, text: &str) {
        let decoded = percent_decode(text);
        for form in [
            text.to_owned(),
            hex_case(text, false),
            hex_case(text, true),
            percent_encode(&decoded, true),
            percent_encode(&decoded, false),
            decoded,
        ] {
            self.push(&form);
        }
    }

    fn push(&mut self, needle: &str) {
        if needle.len() >= MIN_NEEDLE {
            self.needles.push(needle.to_owned());
        }
    }

    /// The text with every secret replaced by `<redacted>`.
    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `%XX` escapes decoded; invalid escapes and invalid UTF-8 kept as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| {
                Some((
                    hex_value(*bytes.get(i + 1)?)?,
                    hex_value(*bytes.get(i + 2)?)?,
                ))
            })
            .flatten();
        match escape {
            Some((high, low)) => {
                out.push(high * 16 + low);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Every byte but RFC 3986's unreserved characters as `%XX`.
fn percent_encode(text: &str, upper: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The hex digits of `%XX` escapes in one case, the rest untouched.
fn hex_case(text: &str, upper: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_escape = 0;
    for c in text.chars() {
        if c == '%' {
            in_escape = 2;
            out.push(c);
        } else if in_escape > 0 {
            in_escape -= 1;
            out.push(if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_forms() {
        assert_eq!(percent_decode("tok%2Fen%3dx%zz%"), "tok/en=x%zz%");
        assert_eq!(percent_encode("a/b=c~", true), "a%2Fb%3Dc~");
        assert_eq!(percent_encode("a/b", false), "a%2fb");
        assert_eq!(hex_case("x%2fY%3D", true), "x%2FY%3D");
    }
}
