//! Label values with a ceiling: the first few distinct values of an open set (vault
//! names, sinks, hubs, detectors) get a label of their own, the rest share `other`.
//!
//! Every series costs memory in kvwatch and in Prometheus, and a label fed from input
//! is a way to blow both up (a hostile or broken log with a million vault names). So
//! no label value ever comes from free text: values from an open set pass through a
//! [`LabelCap`], which also refuses values that do not look like what they claim to be
//! (a vault name has at most 24 of `[a-z0-9-]`), and closed sets (operation class,
//! outcome, shape, reason, severity) use their enums' stable labels.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The shared label for values past the cap or of the wrong form.
pub const OTHER: &str = "other";

/// Which values a capped label accepts at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelForm {
    /// A Key Vault or Managed HSM name: 1–24 of `[a-z0-9-]` (names are lower-cased
    /// when decoded).
    VaultName,
    /// A name from the configuration or the code (sinks, hubs, detectors): 1–64 of
    /// `[A-Za-z0-9_.:-]`.
    Identifier,
    /// An Event Hubs partition id: 1–4 decimal digits.
    PartitionId,
}

impl LabelForm {
    /// Whether `value` has this form.
    pub fn accepts(self, value: &str) -> bool {
        let bytes = value.as_bytes();
        match self {
            LabelForm::VaultName => {
                (1..=24).contains(&bytes.len())
                    && bytes
                        .iter()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            }
            LabelForm::Identifier => {
                (1..=64).contains(&bytes.len())
                    && bytes.iter().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')
                    })
            }
            LabelForm::PartitionId => {
                (1..=4).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_digit)
            }
        }
    }
}

/// Hands out label values for an open set, at most `max` distinct ones plus
/// [`OTHER`]. Cloning shares the set, so every user of one registry agrees.
#[derive(Debug, Clone)]
pub struct LabelCap {
    form: LabelForm,
    max: usize,
    given: Arc<Mutex<HashSet<Arc<str>>>>,
}

impl LabelCap {
    /// A cap of `max` values of the given form.
    pub fn new(form: LabelForm, max: usize) -> Self {
        LabelCap {
            form,
            max,
            given: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// The label for `value`: itself while there is room (or when it already has
    /// one), else [`OTHER`]. Values named `other` share the overflow label.
    pub fn label(&self, value: &str) -> Arc<str> {
        if !self.form.accepts(value) || value == OTHER {
            return Arc::from(OTHER);
        }
        let Ok(mut given) = self.given.lock() else {
            return Arc::from(OTHER);
        };
        if let Some(v) = given.get(value) {
            return v.clone();
        }
        if given.len() >= self.max {
            return Arc::from(OTHER);
        }
        let v: Arc<str> = Arc::from(value);
        given.insert(v.clone());
        v
    }

    /// How many values have a label of their own.
    pub fn used(&self) -> usize {
        self.given.lock().map(|g| g.len()).unwrap_or(0)
    }

    /// The most values that get a label of their own.
    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(LabelForm::VaultName.accepts("contosokeyvault"));
        assert!(LabelForm::VaultName.accepts("kv-prod-01"));
        assert!(!LabelForm::VaultName.accepts("Contoso"));
        assert!(!LabelForm::VaultName.accepts("a-vault-name-longer-than-24"));
        assert!(!LabelForm::VaultName.accepts(""));
        assert!(!LabelForm::VaultName.accepts("x\"}evil"));
        assert!(LabelForm::PartitionId.accepts("0"));
        assert!(LabelForm::PartitionId.accepts("1023"));
        assert!(!LabelForm::PartitionId.accepts("12345"));
        assert!(!LabelForm::PartitionId.accepts("p1"));
        assert!(LabelForm::Identifier.accepts("soc-webhook"));
        assert!(!LabelForm::Identifier.accepts("has space"));
    }

    #[test]
    fn the_cap_holds_and_is_shared() {
        let cap = LabelCap::new(LabelForm::VaultName, 2);
        let other = cap.clone();
        assert_eq!(&*cap.label("a"), "a");
        assert_eq!(&*other.label("b"), "b");
        assert_eq!(&*cap.label("c"), OTHER);
        assert_eq!(&*other.label("a"), "a");
        assert_eq!(&*cap.label("BAD NAME"), OTHER);
        assert_eq!(&*cap.label("other"), OTHER);
        assert_eq!(cap.used(), 2);
    }
}
