//! Files and folders only kvwatch's account can read: the state store, the outbox,
//! alert archives. They hold who read which secret from where, so they are created
//! `0600` (folders `0700`) whatever the process's umask; the mode of a file or folder
//! that already exists is left as its owner set it.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The mode of the files kvwatch creates.
pub const FILE_MODE: u32 = 0o600;
/// The mode of the folders kvwatch creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each `0700`.
pub fn create_dirs(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates the parent folders of `path` (`0700`) if they are missing.
pub fn create_parent_dirs(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => create_dirs(dir),
        None => Ok(()),
    }
}

/// Opens `path` for appending, creating it `0600` if it does not exist.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates (or truncates) `path` for writing; a new file is `0600`.
pub fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `path`, which must not exist yet, `0600`, for reading and writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_and_folders_are_private_and_old_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/b/alerts.jsonl");
        create_parent_dirs(&file).unwrap();
        open_append(&file).unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
        assert_eq!(mode(&dir.path().join("a/b")), DIR_MODE);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        create(&file).unwrap();
        assert_eq!(
            mode(&file),
            0o640,
            "an existing file keeps the mode its owner gave it"
        );
        assert!(create_new(&file).is_err());
    }
}
