//! Replay inputs: files, folders (recursive, Storage layout aware) and standard input.
//!
//! Azure Storage archives hold records by *arrival* hour
//! (`…/y=2024/m=04/d=08/h=15/m=00/PT1H.json`), one blob per vault and hour, and
//! vaults interleave. Replay therefore reads all blobs of one hour as a group before
//! the watermark moves, and groups go in hour order; see [`plan`]. When walking a
//! folder, names starting with `.` or `_` are skipped (so a folder can carry its own
//! notes, labels and fixtures); a file named explicitly is always read. A dangling
//! symbolic link or a link loop under a folder is skipped with a warning and counted
//! ([`Plan::skipped`]); it never stops the run.
//!
//! Inputs are then opened as streams ([`open_input`]): a file or standard input,
//! expanded on the fly when it starts with the gzip magic, never read whole.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::decode::gzip::{is_gzip, GuardedGzip};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// Inputs read together before the watermark moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The Storage hour these inputs belong to, when they follow the layout.
    pub hour: Option<StorageHour>,
    /// The inputs, in reading order.
    pub inputs: Vec<Input>,
}

/// `y=/m=/d=/h=` of a Storage blob path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorageHour {
    /// Year.
    pub year: u16,
    /// Month.
    pub month: u8,
    /// Day.
    pub day: u8,
    /// Hour.
    pub hour: u8,
}

/// Why an input cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A path does not exist or cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A folder walk failed.
    #[error("cannot walk {path}: {message}")]
    Walk {
        /// The folder.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// An input failed while it was read (a corrupt gzip member, a decompression
    /// bomb, an I/O error): what came before is kept, the rest of it is lost.
    #[error("{path}: {source}")]
    Read {
        /// The path (`<stdin>` for standard input).
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A path under a folder that was left out of the run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPath {
    /// The path.
    pub path: PathBuf,
    /// Why (a dangling link, a link loop, a permission error).
    pub reason: String,
}

/// What a run reads: the groups, and what was skipped while walking folders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The inputs, grouped by arrival hour.
    pub groups: Vec<Group>,
    /// Entries under a folder that cannot be read (skipped with a warning).
    pub skipped: Vec<SkippedPath>,
}

/// File extensions read when walking a folder.
const READABLE: &[&str] = &["json", "jsonl", "ndjson", "csv", "gz", "log", "txt"];

/// Expands paths (`-` is standard input) into reading groups.
///
/// Non-layout inputs (exports, JSON Lines, stdin) come first, as one group in
/// argument order, so they are ordered together (up to the reorder capacity); then
/// all Storage-layout files, grouped by hour, hours ascending, paths sorted inside.
pub fn plan(paths: &[PathBuf]) -> Result<Plan, InputError> {
    let mut skipped = Vec::new();
    let mut loose = Vec::new();
    let mut hours: BTreeMap<StorageHour, Vec<PathBuf>> = BTreeMap::new();
    for path in paths {
        if path.as_os_str() == "-" {
            loose.push(Input::Stdin);
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|source| InputError::Unreadable {
            path: path.clone(),
            source,
        })?;
        let files = if meta.is_dir() {
            walk(path, &mut skipped)?
        } else {
            vec![path.clone()]
        };
        for file in files {
            match storage_hour(&file) {
                Some(hour) => hours.entry(hour).or_default().push(file),
                None => loose.push(Input::File(file)),
            }
        }
    }
    let mut groups = Vec::new();
    if !loose.is_empty() {
        groups.push(Group {
            hour: None,
            inputs: loose,
        });
    }
    for (hour, mut files) in hours {
        files.sort();
        files.dedup();
        groups.push(Group {
            hour: Some(hour),
            inputs: files.into_iter().map(Input::File).collect(),
        });
    }
    Ok(Plan { groups, skipped })
}

/// The readable files under `dir`. An entry that cannot be followed (a dangling link,
/// a link loop, a folder that cannot be listed) is skipped and noted in `skipped`;
/// only the folder itself failing is an error.
fn walk(dir: &Path, skipped: &mut Vec<SkippedPath>) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    for entry in walker.filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name())) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.depth() > 0 => {
                let path = e.path().unwrap_or(dir).to_owned();
                let reason = if e.loop_ancestor().is_some() {
                    "a symbolic link loop".to_owned()
                } else if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) {
                    "a dangling symbolic link".to_owned()
                } else {
                    e.io_error()
                        .map_or_else(|| e.to_string(), std::string::ToString::to_string)
                };
                tracing::warn!("{}: {reason}; skipping it", path.display());
                skipped.push(SkippedPath { path, reason });
                continue;
            }
            Err(e) => {
                return Err(InputError::Walk {
                    path: dir.to_owned(),
                    message: e.to_string(),
                })
            }
        };
        if entry.file_type().is_file() && has_readable_extension(entry.path()) {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

fn has_readable_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| READABLE.iter().any(|r| r.eq_ignore_ascii_case(e)))
}

/// The Storage hour of a blob path (`…/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`).
pub fn storage_hour(path: &Path) -> Option<StorageHour> {
    let mut year = None;
    let mut month = None;
    let mut day = None;
    let mut hour = None;
    for part in path.components().filter_map(|c| c.as_os_str().to_str()) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key {
            "y" => year = value.parse().ok(),
            // The first `m=` is the month; the second is always `m=00` (minutes).
            "m" if month.is_none() => month = value.parse().ok(),
            "d" => day = value.parse().ok(),
            "h" => hour = value.parse().ok(),
            _ => {}
        }
    }
    Some(StorageHour {
        year: year?,
        month: month?,
        day: day?,
        hour: hour?,
    })
}

/// An opened input: its name for messages and a stream of its (decompressed) bytes.
pub struct OpenInput {
    /// The path, or `<stdin>`.
    pub name: String,
    /// The bytes, gzip already expanded; read errors name no path (see `name`).
    pub reader: Box<dyn Read + Send>,
    /// Whether the input was gzip.
    pub gzip: bool,
}

/// Opens an input as a stream. A gzip input (told by its magic number, not its
/// name) is expanded as it is read, and refused with an error as soon as it expands
/// more than `max_expansion_ratio` times the compressed bytes read so far (a
/// decompression bomb): nothing is allocated for it beyond the reading buffer.
pub fn open_input(input: &Input, max_expansion_ratio: u64) -> Result<OpenInput, InputError> {
    let (name, raw): (String, Box<dyn Read + Send>) = match input {
        Input::File(path) => {
            let file = std::fs::File::open(path).map_err(|source| InputError::Unreadable {
                path: path.clone(),
                source,
            })?;
            (path.display().to_string(), Box::new(file))
        }
        Input::Stdin => ("<stdin>".to_owned(), Box::new(std::io::stdin())),
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, raw);
    let head = buffered.fill_buf().map_err(|source| InputError::Read {
        path: name.clone(),
        source,
    })?;
    if is_gzip(head) {
        let reader = GuardedGzip::new(buffered, max_expansion_ratio);
        Ok(OpenInput {
            name,
            reader: Box::new(reader),
            gzip: true,
        })
    } else {
        Ok(OpenInput {
            name,
            reader: Box::new(buffered),
            gzip: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_hours_from_paths() {
        let p = Path::new("x/resourceId=/SUBSCRIPTIONS/S/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V/y=2024/m=04/d=08/h=15/m=00/PT1H.json");
        assert_eq!(
            storage_hour(p),
            Some(StorageHour {
                year: 2024,
                month: 4,
                day: 8,
                hour: 15
            })
        );
        assert_eq!(storage_hour(Path::new("logs/day1.jsonl")), None);
    }

    #[test]
    fn plan_groups_hours_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let blob = |vault: &str, h: u8| {
            let p = dir.path().join(format!(
                "resourceId=/V/{vault}/y=2024/m=04/d=08/h={h:02}/m=00/PT1H.json"
            ));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
            p
        };
        let b1 = blob("B", 10);
        let a1 = blob("A", 10);
        let a0 = blob("A", 9);
        std::fs::write(dir.path().join("_labels.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("notes.md"), "").unwrap();
        std::fs::write(dir.path().join("export.csv"), "").unwrap();
        let groups = plan(&[dir.path().to_owned()]).unwrap().groups;
        let shape: Vec<(Option<u8>, Vec<Input>)> = groups
            .into_iter()
            .map(|g| (g.hour.map(|h| h.hour), g.inputs))
            .collect();
        assert_eq!(
            shape,
            vec![
                (None, vec![Input::File(dir.path().join("export.csv"))]),
                (Some(9), vec![Input::File(a0)]),
                (Some(10), vec![Input::File(a1), Input::File(b1)]),
            ]
        );
    }

    #[test]
    fn missing_paths_are_errors() {
        let err = plan(&[PathBuf::from("/no/such/path")]).unwrap_err();
        assert!(err.to_string().contains("/no/such/path"));
    }
}
