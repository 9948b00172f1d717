//! The name of `bulk_secret_retrieval`, its rules and its two windows.

/// The detector's name.
pub const NAME: &str = "bulk_secret_retrieval";

/// The rules of `bulk_secret_retrieval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The short window beyond the principal's history or its kind's population.
    Burst,
    /// The long window beyond the principal's history or its kind's population.
    LowAndSlow,
    /// The principal's usual volume, made of objects it never read.
    UnfamiliarObjects,
    /// The principal's usual volume, at an hour or from a place it never reads at.
    UnusualContext,
    /// Far more objects new to the principal in a day, across its vaults, than it
    /// usually meets (the slow thief).
    DailyNovelty,
}

impl Rule {
    /// The stable rule name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Burst => "burst",
            Self::LowAndSlow => "low_and_slow",
            Self::UnfamiliarObjects => "unfamiliar_objects",
            Self::UnusualContext => "unusual_context",
            Self::DailyNovelty => "daily_novelty",
        }
    }

    /// The volume rule of a window.
    pub fn volume(w: Win) -> Rule {
        match w {
            Win::Short => Self::Burst,
            Win::Long => Self::LowAndSlow,
        }
    }

    /// Whether the rule is about how many (and must be improbable), not about when,
    /// where or what.
    pub fn by_volume(self) -> bool {
        matches!(self, Self::Burst | Self::LowAndSlow)
    }
}

/// One of the two sliding windows (`[short]`, `[long]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Win {
    /// Minutes: a dump.
    Short,
    /// Hours: low and slow.
    Long,
}

impl Win {
    /// Its slot in per-window pairs (`[short, long]`).
    pub fn slot(self) -> usize {
        match self {
            Self::Short => 0,
            Self::Long => 1,
        }
    }
}

/// Which count a finding of an episode last reported: one per window, and one for
/// the context rule whichever the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// A rule of the short window.
    Short,
    /// A rule of the long window.
    Long,
    /// `unusual_context`.
    Context,
}

impl Report {
    /// How many there are (the size of an episode's reported counts).
    pub const COUNT: usize = 3;

    /// The count `rule` in window `w` reports under.
    pub fn of(rule: Rule, w: Win) -> Report {
        match (rule, w) {
            (Rule::UnusualContext, _) => Self::Context,
            (_, Win::Short) => Self::Short,
            (_, Win::Long) => Self::Long,
        }
    }

    /// Its slot in an episode's reported counts.
    pub fn slot(self) -> usize {
        match self {
            Self::Short => 0,
            Self::Long => 1,
            Self::Context => 2,
        }
    }
}
