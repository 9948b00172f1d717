//! Replay inputs: files, folders (recursive, Storage layout aware) and standard input.
//!
//! Azure Storage archives hold records by *arrival* hour
//! (`…/y=2024/m=04/d=08/h=15/m=00/PT1H.json`), one blob per vault and hour, and
//! vaults interleave. Replay therefore reads all blobs of one hour as a group before
//! the watermark moves, and groups go in hour order; see [`plan`]. When walking a
//! folder, names starting with `.` or `_` are skipped (so a folder can carry its own
//! notes, labels and fixtures); a file named explicitly is always read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::decode::gzip::{gunzip, is_gzip};
use crate::decode::DecodeError;

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
    /// An input is larger than `pipeline.max_input_bytes`.
    #[error("{path}: larger than the {limit}-byte input limit (pipeline.max_input_bytes)")]
    TooLarge {
        /// The path (`<stdin>` for standard input).
        path: String,
        /// The limit.
        limit: u64,
    },
    /// A gzip input is corrupt or too large.
    #[error("{path}: {source}")]
    Decode {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: DecodeError,
    },
}

/// The default `pipeline.max_input_bytes`: 4 GiB, as large as a `.gz` input may
/// expand to, so a plain file is allowed what a compressed one is.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// File extensions read when walking a folder.
const READABLE: &[&str] = &["json", "jsonl", "ndjson", "csv", "gz", "log", "txt"];

/// Expands paths (`-` is standard input) into reading groups.
///
/// Non-layout inputs (exports, JSON Lines, stdin) come first, as one group in
/// argument order, so they are ordered together (up to the reorder capacity); then
/// all Storage-layout files, grouped by hour, hours ascending, paths sorted inside.
pub fn plan(paths: &[PathBuf]) -> Result<Vec<Group>, InputError> {
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
            walk(path)?
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
    Ok(groups)
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    for entry in walker.filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name())) {
        let entry = entry.map_err(|e| InputError::Walk {
            path: dir.to_owned(),
            message: e.to_string(),
        })?;
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

/// Reads an input whole, refusing one larger than `max_input` bytes (as stored) and
/// expanding gzip (capped at `max_decompressed` bytes).
///
/// The size is enforced while reading, not from file metadata, so a device, a pipe,
/// standard input or a file that grows while it is read cannot get past it.
pub fn read_input(
    input: &Input,
    max_input: u64,
    max_decompressed: u64,
) -> Result<Vec<u8>, InputError> {
    let (name, bytes) = match input {
        Input::File(path) => {
            let unreadable = |source| InputError::Unreadable {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::open(path).map_err(unreadable)?;
            // A regular file says its size up front: refuse it before reading a byte.
            if file
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() > max_input)
            {
                return Err(InputError::TooLarge {
                    path: path.display().to_string(),
                    limit: max_input,
                });
            }
            (
                path.display().to_string(),
                read_capped(file, max_input).map_err(unreadable)?,
            )
        }
        Input::Stdin => {
            let bytes = read_capped(std::io::stdin().lock(), max_input).map_err(|source| {
                InputError::Unreadable {
                    path: PathBuf::from("-"),
                    source,
                }
            })?;
            ("<stdin>".to_owned(), bytes)
        }
    };
    if bytes.len() as u64 > max_input {
        return Err(InputError::TooLarge {
            path: name,
            limit: max_input,
        });
    }
    if is_gzip(&bytes) {
        gunzip(&bytes, max_decompressed).map_err(|source| InputError::Decode { path: name, source })
    } else {
        Ok(bytes)
    }
}

/// Reads at most `max + 1` bytes, so the caller can tell "exactly `max`" from "more".
fn read_capped(reader: impl Read, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
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
        let groups = plan(&[dir.path().to_owned()]).unwrap();
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
    fn inputs_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.jsonl");
        std::fs::write(&path, vec![b'x'; 2000]).unwrap();
        let input = Input::File(path.clone());
        assert_eq!(read_input(&input, 2000, 1 << 20).unwrap().len(), 2000);
        let err = read_input(&input, 1999, 1 << 20).unwrap_err();
        assert!(
            matches!(err, InputError::TooLarge { limit: 1999, .. }),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("big.jsonl") && message.contains("pipeline.max_input_bytes"),
            "{message}"
        );
    }

    #[test]
    fn missing_paths_are_errors() {
        let err = plan(&[PathBuf::from("/no/such/path")]).unwrap_err();
        assert!(err.to_string().contains("/no/such/path"));
    }
}
