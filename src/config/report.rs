//! `[report]`: the thresholds of `kvwatch report`'s hygiene findings and the bounds on
//! what the report keeps per principal and vault.
//!
//! Kept apart from the other sections because only the report reads it, and every
//! value here changes what a SOC lead is told is wrong: each one is documented with
//! the practice it encodes, so a reader of the config knows what they are tuning.

use serde::Deserialize;

use super::ConfigDuration;

/// `[report]`: hygiene thresholds and the report's memory bounds.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Rotation policy tiers: an object (secret, key, certificate) whose last write is
    /// at least this old when the period ends is reported. The first tier gives a low
    /// finding, the second a medium one, the third and later high ones. Ascending.
    /// Objects not written during the period are judged only when the period itself
    /// is longer than a tier (their last write is then "at least N days ago").
    pub rotation_tiers: Vec<ConfigDuration>,
    /// How long before expiry Key Vault sends its `…NearExpiry…` notification (Event
    /// Grid sends it 30 days before). The report estimates the expiry date as the
    /// notification time plus this, since the audit event does not carry the date.
    pub expiry_notice: ConfigDuration,
    /// A principal whose last successful request is at least this long before the end
    /// of the period is an access-review candidate (only when the period is longer).
    pub dormant_after: ConfigDuration,
    /// Objects and grants are called unused only when the period covers at least
    /// this long; shorter periods say too little about use.
    pub review_min_period: ConfigDuration,
    /// The most principals tracked; further principals are counted but not detailed.
    pub max_principals: usize,
    /// The most objects tracked per vault.
    pub max_objects_per_vault: usize,
    /// The most items kept in each per-principal list (vaults, objects, places,
    /// user agents …); the rest are counted as "more".
    pub max_items: usize,
    /// The most principals given a full section (charts, tables) in the report; the
    /// others are listed in one table. Principals with alerts or findings come first.
    pub principal_sections: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            rotation_tiers: vec![
                ConfigDuration::hours(60 * 24),
                ConfigDuration::hours(90 * 24),
                ConfigDuration::hours(180 * 24),
            ],
            expiry_notice: ConfigDuration::hours(30 * 24),
            dormant_after: ConfigDuration::hours(7 * 24),
            review_min_period: ConfigDuration::hours(7 * 24),
            max_principals: 50_000,
            max_objects_per_vault: 20_000,
            max_items: 50,
            principal_sections: 40,
        }
    }
}

impl ReportConfig {
    /// Checks the values; on error returns the key (below `report.`) and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let day = std::time::Duration::from_secs(86_400);
        if self.rotation_tiers.is_empty() {
            return Err((
                "rotation_tiers",
                "give at least one tier, such as [\"90d\"]".into(),
            ));
        }
        if self.rotation_tiers.windows(2).any(|w| w[0] >= w[1]) {
            return Err((
                "rotation_tiers",
                "tiers must be strictly ascending, such as [\"60d\", \"90d\", \"180d\"]".into(),
            ));
        }
        if self.rotation_tiers[0].as_std() < day {
            return Err((
                "rotation_tiers",
                "the first tier must be at least 1d".into(),
            ));
        }
        if self.expiry_notice.as_std() < day {
            return Err(("expiry_notice", "must be at least 1d".into()));
        }
        if self.dormant_after.as_std() < day {
            return Err(("dormant_after", "must be at least 1d".into()));
        }
        if self.max_principals < 10 || self.max_objects_per_vault < 10 || self.max_items < 5 {
            return Err(("max_principals", "max_principals and max_objects_per_vault must be at least 10, max_items at least 5".into()));
        }
        if self.principal_sections == 0 {
            return Err(("principal_sections", "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_tiers_are_not() {
        assert!(ReportConfig::default().validate().is_ok());
        let descending = ReportConfig {
            rotation_tiers: vec![
                ConfigDuration::hours(90 * 24),
                ConfigDuration::hours(30 * 24),
            ],
            ..ReportConfig::default()
        };
        assert_eq!(
            descending.validate().map_err(|e| e.0),
            Err("rotation_tiers")
        );
        let none = ReportConfig {
            rotation_tiers: vec![],
            ..ReportConfig::default()
        };
        assert_eq!(none.validate().map_err(|e| e.0), Err("rotation_tiers"));
    }
}
