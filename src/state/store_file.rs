//! Opening the redb files kvwatch keeps (the state store, the outbox): the one place
//! that creates them, tells a damaged file from a healthy one, and turns every way
//! opening can fail into an error that names the file and says what to do.
//!
//! A file that does not exist is created whole: redb initialises it under a temporary
//! name (mode `0600`), and it is linked into place only once its header is on disk,
//! so kvwatch never leaves an empty or half-written database at the real path. An
//! empty file found there is therefore not kvwatch's, or was emptied since (a full
//! disk, an operator's `> file`): it is refused rather than silently started over,
//! because starting over would drop checkpoints or waiting alerts without a word.
//!
//! An existing file is checked before redb sees it (length, magic number, the size
//! its header describes), because redb asserts on some damage (a file cut short, a
//! scrambled allocator) instead of returning an error. Whatever still panics inside
//! redb, while opening or in the caller's first transaction, is caught here and
//! reported as damage.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, StorageError};

use super::private;

/// What a file is, for the advice in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A state store (`kvwatch run`'s checkpoints, `replay --state`, `route`).
    State,
    /// The outbox of alerts waiting for delivery.
    Outbox,
}

impl StoreKind {
    /// What to do about a damaged file of this kind.
    pub fn remedy(self) -> &'static str {
        match self {
            StoreKind::State => {
                "restore it from a backup, or move it aside to start over with fresh \
                 baselines and positions (`kvwatch replay --reset-state` does that for a \
                 replay's --state file)"
            }
            StoreKind::Outbox => {
                "restore it from a backup, or move it aside to start with an empty outbox \
                 (the deliveries waiting in it are then not made)"
            }
        }
    }
}

/// Why a store file could not be opened. The text names no file: the store's own
/// error adds it, with what kind of file it is.
#[derive(Debug, thiserror::Error)]
pub enum OpenFailure {
    /// Another process holds the file (redb locks it).
    #[error("another kvwatch process has it open")]
    Locked,
    /// The file is damaged, cut short, or not a redb database.
    #[error("{problem}; {remedy}")]
    Damaged {
        /// What is wrong with it.
        problem: String,
        /// What to do (see [`StoreKind::remedy`]).
        remedy: &'static str,
    },
    /// It could not be created, read or locked.
    #[error("{0}")]
    Io(String),
}

/// redb's magic number, the first bytes of every database file.
const MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// redb's header: the magic number, layout fields and two commit slots.
const HEADER_BYTES: usize = 320;
/// The page size redb uses unless told otherwise (kvwatch never does).
const PAGE_SIZE: u64 = 4096;

/// Opens the database at `path`, creating it (and its folders) when missing, then
/// runs `init` (its tables, a format check) on it; panics inside redb during either
/// become [`OpenFailure::Damaged`].
pub fn open<T, E>(
    path: &Path,
    kind: StoreKind,
    init: impl FnOnce(Database) -> Result<T, E>,
) -> Result<Result<T, E>, OpenFailure> {
    let db = match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(OpenFailure::Io(
                "not a regular file; give the path of a database file".to_owned(),
            ))
        }
        Ok(meta) => {
            precheck(path, meta.len()).map_err(|problem| damaged(problem, kind))?;
            guarded(kind, || Database::open(path))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path, kind)?,
        Err(e) => return Err(OpenFailure::Io(format!("cannot read it: {e}"))),
    };
    match catch_unwind(AssertUnwindSafe(|| init(db))) {
        Ok(result) => Ok(result),
        Err(panic) => Err(damaged(
            format!("it is damaged ({})", panic_text(&*panic)),
            kind,
        )),
    }
}

/// Creates a new database at `path` without ever leaving a partial file there.
fn create(path: &Path, kind: StoreKind) -> Result<Database, OpenFailure> {
    private::create_parent_dirs(path)
        .map_err(|e| OpenFailure::Io(format!("cannot create its folder: {e}")))?;
    let temp = temporary_name(path);
    let io = |what: &str, e: std::io::Error| OpenFailure::Io(format!("cannot {what}: {e}"));
    let file = private::create_new(&temp).map_err(|e| io("create it", e))?;
    let made = guarded(kind, || Database::builder().create_file(file));
    let linked = made.and_then(|db| {
        drop(db);
        // A hard link never replaces a file another process created meanwhile.
        std::fs::hard_link(&temp, path).map_err(|e| io("move the new database into place", e))
    });
    let _ = std::fs::remove_file(&temp);
    linked?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    guarded(kind, || Database::open(path))
}

fn temporary_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.new-{}", std::process::id()))
}

/// Runs a redb open call, mapping its errors and catching its panics.
fn guarded(
    kind: StoreKind,
    open: impl FnOnce() -> Result<Database, DatabaseError>,
) -> Result<Database, OpenFailure> {
    match catch_unwind(AssertUnwindSafe(open)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(failure(e, kind)),
        Err(panic) => Err(damaged(
            format!("it is damaged ({})", panic_text(&*panic)),
            kind,
        )),
    }
}

fn failure(e: DatabaseError, kind: StoreKind) -> OpenFailure {
    match e {
        DatabaseError::DatabaseAlreadyOpen => OpenFailure::Locked,
        DatabaseError::Storage(StorageError::Io(e)) => {
            OpenFailure::Io(format!("cannot open it: {e}"))
        }
        DatabaseError::Storage(StorageError::Corrupted(what)) => {
            damaged(format!("it is damaged ({what})"), kind)
        }
        DatabaseError::UpgradeRequired(version) => damaged(
            format!("it is in redb file format {version}, which this build cannot read"),
            kind,
        ),
        other => damaged(format!("it cannot be opened ({other})"), kind),
    }
}

fn damaged(problem: String, kind: StoreKind) -> OpenFailure {
    OpenFailure::Damaged {
        problem,
        remedy: kind.remedy(),
    }
}

/// The text of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "redb failed".to_owned());
    // Assertion messages span lines; an error is one.
    format!(
        "redb: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// Checks what can be checked before redb reads the file: that it is not empty,
/// starts like a redb database, and is as long as its header says.
fn precheck(path: &Path, len: u64) -> Result<(), String> {
    if len == 0 {
        return Err(
            "it is empty (0 bytes); kvwatch never leaves an empty database, so it was \
             emptied or cut short since it was written"
                .to_owned(),
        );
    }
    let mut header = [0u8; HEADER_BYTES];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|e| format!("its header cannot be read ({e}); it is {len} bytes long"));
    if len < HEADER_BYTES as u64 {
        return Err(format!(
            "it is cut short ({len} bytes, less than a database header)"
        ));
    }
    read?;
    if header[..MAGIC.len()] != MAGIC {
        return Err("it is not a redb database (its header is missing or overwritten)".into());
    }
    match described_len(&header) {
        Some(want) if len >= want => Ok(()),
        Some(want) => Err(format!(
            "it is cut short or its header is damaged ({len} bytes, its header describes {want})"
        )),
        None => Err("its header is damaged (an impossible layout)".into()),
    }
}

/// The file length redb's header describes (its regions' layout), or `None` when
/// the layout cannot be a real one.
fn described_len(header: &[u8; HEADER_BYTES]) -> Option<u64> {
    let field = |at: usize| {
        let bytes: [u8; 4] = header.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(u32::from_le_bytes(bytes)))
    };
    // After the magic number: a flags byte, two bytes of padding, then five u32s.
    let page_size = field(12)?;
    let region_header_pages = field(16)?;
    let region_max_data_pages = field(20)?;
    let full_regions = field(24)?;
    let trailing_data_pages = field(28)?;
    if page_size != PAGE_SIZE || region_max_data_pages == 0 {
        return None;
    }
    let header_bytes = region_header_pages.checked_mul(page_size)?;
    let region = |data_pages: u64| header_bytes.checked_add(data_pages.checked_mul(page_size)?);
    let full = full_regions.checked_mul(region(region_max_data_pages)?)?;
    let trailing = if trailing_data_pages > 0 {
        region(trailing_data_pages)?
    } else {
        0
    };
    full.checked_add(trailing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_database_is_created_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/state.redb");
        let db = open(&path, StoreKind::State, Ok::<_, ()>).unwrap().unwrap();
        drop(db);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let healthy = std::fs::read(&path).unwrap();
        assert!(precheck(&path, healthy.len() as u64).is_ok());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("new"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
        // Reopening finds the same database; a second holder is refused.
        let db = open(&path, StoreKind::State, Ok::<_, ()>).unwrap().unwrap();
        assert!(matches!(
            open(&path, StoreKind::State, Ok::<_, ()>),
            Err(OpenFailure::Locked)
        ));
        drop(db);
    }

    #[test]
    fn a_panic_in_the_first_transaction_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let err = open(&path, StoreKind::Outbox, |_db| -> Result<(), ()> {
            panic!("assertion failed: bitmap")
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("bitmap") && text.contains("move it aside"),
            "{text}"
        );
    }
}
