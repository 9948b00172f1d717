//! The schedule of a maintenance window, read from its config text (`days`, `start`,
//! `end`): the config validates it at load and the suppression layer in
//! `detect::suppress` compiles it, so the parsing lives on the config side and
//! `detect` depends on `config`, never the other way round.

use super::MaintenanceWindow;

/// A weekly schedule in UTC minutes of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeeklySchedule {
    /// Bit `n` set: weekday `n` (Monday = 0) is covered; every bit when no days were given.
    pub days: u8,
    /// The first minute of the day inside the window (0-1439).
    pub start_min: u16,
    /// The first minute after the window (1-1440); below `start_min` when the window
    /// crosses midnight.
    pub end_min: u16,
}

impl MaintenanceWindow {
    /// The window's schedule, or what is wrong with its text.
    pub fn schedule(&self) -> Result<WeeklySchedule, String> {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut days = 0u8;
        for d in &self.days {
            let idx = DAYS
                .iter()
                .position(|n| d.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(n)))
                .ok_or_else(|| {
                    format!("unknown day {d:?}; write mon, tue, wed, thu, fri, sat or sun")
                })?;
            days |= 1 << idx;
        }
        if days == 0 {
            days = 0x7f;
        }
        let start_min = parse_hhmm(&self.start)
            .ok_or_else(|| format!("start {:?} is not a time of day (HH:MM)", self.start))?;
        let end_min = parse_hhmm(&self.end)
            .ok_or_else(|| format!("end {:?} is not a time of day (HH:MM)", self.end))?;
        if start_min == end_min {
            return Err("start and end are equal: the window would be empty".into());
        }
        Ok(WeeklySchedule {
            days,
            start_min,
            end_min,
        })
    }
}

/// Every maintenance window's schedule parses; the error names the window.
pub fn validate(windows: &[MaintenanceWindow]) -> Result<(), (String, String)> {
    for (i, w) in windows.iter().enumerate() {
        w.schedule().map_err(|m| (format!("maintenance[{i}]"), m))?;
    }
    Ok(())
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60)
        .then_some(h * 60 + m)
        .or((h == 24 && m == 0).then_some(1440))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[&str], start: &str, end: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            days: days.iter().map(|d| (*d).to_owned()).collect(),
            start: start.into(),
            end: end.into(),
            ..Default::default()
        }
    }

    #[test]
    fn schedules_read_like_their_text() {
        type Row<'a> = (
            &'a [&'a str],
            &'a str,
            &'a str,
            Result<(u8, u16, u16), &'a str>,
        );
        let table: [Row; 7] = [
            (&[], "01:00", "03:30", Ok((0x7f, 60, 210))),
            (
                &["Mon", "sunday"],
                "22:00",
                "02:00",
                Ok((0b100_0001, 1320, 120)),
            ),
            (&["sat"], "00:00", "24:00", Ok((0b010_0000, 0, 1440))),
            (&["mo"], "01:00", "02:00", Err("unknown day")),
            (&["é"], "01:00", "02:00", Err("unknown day")),
            (&[], "25:00", "02:00", Err("start \"25:00\"")),
            (&[], "02:00", "02:00", Err("equal")),
        ];
        for (days, start, end, want) in table {
            let got = window(days, start, end).schedule();
            match want {
                Ok((d, s, e)) => assert_eq!(
                    got,
                    Ok(WeeklySchedule {
                        days: d,
                        start_min: s,
                        end_min: e
                    }),
                    "{days:?} {start}-{end}"
                ),
                Err(text) => assert!(
                    got.as_ref().is_err_and(|m| m.contains(text)),
                    "{days:?} {start}-{end}: {got:?}"
                ),
            }
        }
    }
}
