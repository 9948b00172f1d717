//! Durations in config files, written as people write them: `90s`, `15m`, `72h`, `14d`.
//! None is longer than [`ConfigDuration::LONGEST`], so adding one to an event time or
//! a deadline can never overflow; each key has its own, tighter bound as well
//! ([`super::limits`]).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration parsed from text with `humantime` (`15m`, `1h 30m`, `7d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConfigDuration(Duration);

impl ConfigDuration {
    /// The longest duration any config key accepts: ten years (3650 days).
    pub const LONGEST: ConfigDuration = ConfigDuration(Duration::from_secs(3650 * 86_400));

    /// `n` seconds.
    pub const fn seconds(n: u64) -> Self {
        ConfigDuration(Duration::from_secs(n))
    }
    /// `n` minutes.
    pub const fn minutes(n: u64) -> Self {
        ConfigDuration(Duration::from_secs(n * 60))
    }
    /// `n` hours.
    pub const fn hours(n: u64) -> Self {
        ConfigDuration(Duration::from_secs(n * 3600))
    }
    /// As a standard duration.
    pub fn as_std(self) -> Duration {
        self.0
    }
    /// As a chrono duration (saturating).
    pub fn as_chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl From<Duration> for ConfigDuration {
    fn from(d: Duration) -> Self {
        ConfigDuration(d)
    }
}

impl std::str::FromStr for ConfigDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = humantime::parse_duration(s.trim()).map_err(|e| {
            format!("invalid duration {s:?} ({e}); write e.g. \"90s\", \"15m\", \"72h\" or \"14d\"")
        })?;
        if d > Self::LONGEST.0 {
            return Err(format!(
                "invalid duration {s:?}: longer than 3650d; no setting needs that long"
            ));
        }
        Ok(ConfigDuration(d))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        for (text, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("72h", 259_200),
            ("14d", 1_209_600),
            ("1h 30m", 5400),
        ] {
            assert_eq!(
                text.parse::<ConfigDuration>().unwrap().as_std().as_secs(),
                secs,
                "{text}"
            );
        }
        assert!("fast".parse::<ConfigDuration>().is_err());
        assert!("3650d".parse::<ConfigDuration>().is_ok());
        let err = "1000000000d".parse::<ConfigDuration>().unwrap_err();
        assert!(err.contains("longer than"), "{err}");
    }
}
