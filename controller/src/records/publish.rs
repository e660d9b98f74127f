//! Handing the table to the responder: a snapshot file replaced atomically.
//!
//! The snapshot ([`xcc_responder::table::snapshot`]) is written to a
//! temporary file in the same directory, flushed to disk, renamed over the
//! old one (a rename within one filesystem is atomic: the responder sees the
//! old file or the new one, never half of either) and the directory is
//! flushed so that the rename itself survives a crash. The two steps are
//! separate ([`SnapshotFile::replace`], then [`Replaced::make_durable`]):
//! the responder may serve the new file from the rename on, so whoever
//! counts it as published does so then, not after the directory flush. The
//! version (the zone's SOA serial) only increases, across restarts too: it
//! starts from the version of the snapshot already in place.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use xcc_responder::records::watch::next_version;
use xcc_responder::table::Table;
use xcc_responder::table::snapshot;

/// The snapshot file the responder reads.
#[derive(Debug)]
pub struct SnapshotFile {
    path: PathBuf,
    /// The version of the snapshot in place (0: none).
    last_version: u32,
}

impl SnapshotFile {
    /// The file at `path`; the versions continue from the snapshot already
    /// there, if any.
    pub fn open(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let last_version = fs::read(&path)
            .ok()
            .and_then(|bytes| snapshot::peek_version(&bytes).ok())
            .unwrap_or(0);
        Self { path, last_version }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version of the snapshot in place.
    pub fn version(&self) -> u32 {
        self.last_version
    }

    /// The version the next snapshot gets: above the last one, and the
    /// current Unix time when that is higher (so a serial also says when).
    pub fn next_version(&self) -> u32 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        next_version(self.last_version, now)
    }

    /// Writes `table` (built with [`Self::next_version`]) as the new
    /// snapshot, durably.
    pub fn write(&mut self, table: &Table) -> io::Result<()> {
        self.replace(table)?.make_durable()
    }

    /// Puts `table` (built with [`Self::next_version`]) in place as the new
    /// snapshot: once this returns `Ok` the responder may read it, but a
    /// crash could still bring the old file back until
    /// [`Replaced::make_durable`] has succeeded. The version in place is
    /// `table`'s from here on either way, so the next one is above it.
    pub fn replace(&mut self, table: &Table) -> io::Result<Replaced> {
        let replaced = replace_atomic(&self.path, &snapshot::encode(table))?;
        self.last_version = table.version();
        Ok(replaced)
    }
}

/// A file renamed into place whose directory has not been flushed yet.
#[derive(Debug)]
#[must_use = "the rename is not durable until make_durable succeeds"]
pub struct Replaced {
    directory: PathBuf,
}

impl Replaced {
    /// Flushes the directory, so that the rename survives a crash.
    pub fn make_durable(self) -> io::Result<()> {
        File::open(&self.directory)?.sync_all()
    }
}

/// Replaces the file at `path` with `bytes` atomically: temporary file in
/// the same directory, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_atomic(path, bytes)?.make_durable()
}

/// The first part of [`write_atomic`]: temporary file in the same
/// directory, fsync, rename. The new file is in place when this returns
/// `Ok`; the directory flush is left to [`Replaced::make_durable`].
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> io::Result<Replaced> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "snapshot path has no file name",
        )
    })?;
    let temporary = directory.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result?;
    // The rename is durable once the directory is.
    Ok(Replaced {
        directory: directory.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xcc_responder::table::{TableBuilder, TableConfig};

    fn table(version: u32) -> Table {
        TableBuilder::new(TableConfig {
            version,
            ..TableConfig::default()
        })
        .build()
        .table
    }

    #[test]
    fn writes_replace_the_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.snapshot");
        let mut file = SnapshotFile::open(&path);
        assert_eq!(file.version(), 0);
        let first = file.next_version();
        file.write(&table(first)).unwrap();
        assert_eq!(
            snapshot::decode(&fs::read(&path).unwrap())
                .unwrap()
                .version(),
            first
        );
        let second = file.next_version();
        assert!(second > first);
        file.write(&table(second)).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["records.snapshot"]);
    }

    #[test]
    fn a_replaced_snapshot_is_in_place_before_its_directory_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.snapshot");
        let mut file = SnapshotFile::open(&path);
        let version = file.next_version();
        let replaced = file.replace(&table(version)).unwrap();
        // Readable, and the next version is above it, before the flush.
        assert_eq!(
            snapshot::decode(&fs::read(&path).unwrap())
                .unwrap()
                .version(),
            version
        );
        assert_eq!(file.version(), version);
        assert!(file.next_version() > version);
        replaced.make_durable().unwrap();
    }

    #[test]
    fn versions_continue_from_the_snapshot_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.snapshot");
        let far_future = u32::MAX - 10;
        write_atomic(&path, &snapshot::encode(&table(far_future))).unwrap();
        let file = SnapshotFile::open(&path);
        assert_eq!(file.version(), far_future);
        assert_eq!(file.next_version(), far_future + 1);
    }

    #[test]
    fn a_write_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/records.snapshot");
        assert!(write_atomic(&path, b"x").is_err());
    }
}
