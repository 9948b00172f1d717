//! Small text helpers for normalisation that allocate only when they must.

use std::borrow::Cow;

/// Lower-cases ASCII, borrowing when the text is already lower case.
pub fn lower(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        s
    }
}

/// Lower-cases a borrowed slice, borrowing when it is already lower case.
pub fn lower_str(s: &str) -> Cow<'_, str> {
    lower(Cow::Borrowed(s))
}

/// A sub-slice of a `Cow`, keeping the borrow when there is one.
pub fn sub_cow<'a>(s: &Cow<'a, str>, start: usize, end: usize) -> Cow<'a, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(&b[start..end]),
        Cow::Owned(o) => Cow::Owned(o[start..end].to_string()),
    }
}

/// Treats empty and whitespace-only text as absent.
pub fn non_empty(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_borrows_when_it_can() {
        assert!(matches!(lower_str("abc-1"), Cow::Borrowed("abc-1")));
        assert_eq!(lower_str("ABC"), "abc");
        let s = Cow::Borrowed("HelloWorld");
        assert_eq!(sub_cow(&s, 0, 5), "Hello");
        assert_eq!(non_empty(Some(Cow::Borrowed("  "))), None);
    }
}
