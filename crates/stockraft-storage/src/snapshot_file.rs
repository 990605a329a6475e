//! The current snapshot, as one file beside the database: `snapshot/current`, in the format of
//! [`crate::backup`].
//!
//! Written to `current.tmp`, fsynced, renamed over `current`, and the directory fsynced: a crash
//! leaves either the old snapshot or the new one, never half of one. The image carries its own
//! checksum (`stockraft_core::snapshot`), verified when it is installed.
//!
//! Why not RocksDB: an image is tens to hundreds of MiB (1,000,000 holds), and writing it
//! through the write-ahead log the Raft log shares made every log fsync behind it wait for the
//! whole image: appends stalled for the length of the write, on every node at once.

use crate::backup;
use crate::type_config::SnapshotMeta;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const DIR: &str = "snapshot";
const CURRENT: &str = "current";
const TEMPORARY: &str = "current.tmp";

#[derive(Clone, Debug)]
pub struct SnapshotFile {
    dir: PathBuf,
}

impl SnapshotFile {
    /// The current snapshot's path under a node's data dir.
    pub const CURRENT_PATH: &str = "snapshot/current";

    /// The snapshot directory under a node's data dir (created if missing).
    pub fn open(data_dir: &Path) -> io::Result<SnapshotFile> {
        let dir = data_dir.join(DIR);
        fs::create_dir_all(&dir)?;
        Ok(SnapshotFile { dir })
    }

    /// Replaces the current snapshot; durable when this returns.
    pub fn save(&self, meta: &SnapshotMeta, image: &[u8]) -> io::Result<()> {
        let header = backup::header(meta)?;
        let temporary = self.dir.join(TEMPORARY);
        let mut file = File::create(&temporary)?;
        file.write_all(&header)?;
        file.write_all(image)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, self.dir.join(CURRENT))?;
        File::open(&self.dir)?.sync_all()
    }

    /// The current snapshot's metadata and image, if one was saved.
    pub fn load(&self) -> io::Result<Option<(SnapshotMeta, Vec<u8>)>> {
        match fs::read(self.path()) {
            Ok(bytes) => backup::parse(bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The current snapshot's file, opened: it stays readable as it was even if a newer
    /// snapshot replaces it meanwhile (the rename leaves the open file alone).
    pub fn open_current(&self) -> io::Result<Option<File>> {
        match File::open(self.path()) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(CURRENT)
    }
}
