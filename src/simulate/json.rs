//! A tiny ordered JSON writer for rendering records.
//!
//! Azure emits record fields in a fixed order and downstream tools (and our golden
//! comparisons) see that order, so records are written field by field rather than
//! through a map that would sort keys. The writer appends to a `String`, escapes
//! strings per RFC 8259 and never fails.

/// Appends `s` as a JSON string literal.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// An object being written; fields are appended in call order.
pub(crate) struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object at the end of `out`; call [`Obj::end`] to close it.
    pub(crate) fn open(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(':');
    }

    /// A string field.
    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_str(self.out, value);
        self
    }

    /// A string field, when present.
    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.str(key, v);
        }
        self
    }

    /// An integer field.
    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.out.push_str(&value.to_string());
        self
    }

    /// A boolean field.
    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// A `null` field.
    pub(crate) fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.out.push_str("null");
        self
    }

    /// A field whose value is already JSON text.
    pub(crate) fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// A nested object, filled by `fill`.
    pub(crate) fn obj(&mut self, key: &str, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(key);
        let mut inner = Obj::open(self.out);
        fill(&mut inner);
        inner.end();
        self
    }

    /// An array of strings.
    pub(crate) fn str_array(&mut self, key: &str, items: &[&str]) -> &mut Self {
        self.key(key);
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_str(self.out, item);
        }
        self.out.push(']');
        self
    }

    /// An array of objects, each filled by `fill`.
    pub(crate) fn obj_array<T>(
        &mut self,
        key: &str,
        items: &[T],
        fill: impl Fn(&mut Obj<'_>, &T),
    ) -> &mut Self {
        self.key(key);
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let mut inner = Obj::open(self.out);
            fill(&mut inner, item);
            inner.end();
        }
        self.out.push(']');
        self
    }

    /// Closes the object.
    pub(crate) fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_fields_in_order_and_escapes() {
        let mut s = String::new();
        let mut o = Obj::open(&mut s);
        o.str("b", "x\"y\\z\r\n\u{1}")
            .int("a", -3)
            .bool("t", true)
            .null("n");
        o.obj("o", |i| {
            i.str_array("l", &["p", "q"]);
        });
        o.obj_array("arr", &[1, 2], |i, v| {
            i.int("v", *v);
        });
        o.end();
        assert_eq!(
            s,
            r#"{"b":"x\"y\\z\r\n\u0001","a":-3,"t":true,"n":null,"o":{"l":["p","q"]},"arr":[{"v":1},{"v":2}]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed["b"], "x\"y\\z\r\n\u{1}");
    }
}
