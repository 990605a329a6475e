//! The current snapshot, as one file beside the database: `snapshot/current`.
//!
//! ```text
//! metadata length (u32 LE) | postcard SnapshotMeta | the ledger's snapshot image
//! ```
//!
//! Written to `current.tmp`, fsynced, renamed over `current`, and the directory fsynced: a crash
//! leaves either the old snapshot or the new one, never half of one. The image carries its own
//! checksum (`stockraft_core::snapshot`), verified when it is installed.
//!
//! Why not RocksDB: an image is tens to hundreds of MiB (1,000,000 holds), and writing it
//! through the write-ahead log the Raft log shares made every log fsync behind it wait for the
//! whole image: appends stalled for the length of the write, on every node at once.

use crate::db;
use crate::type_config::SnapshotMeta;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const DIR: &str = "snapshot";
const CURRENT: &str = "current";
const TEMPORARY: &str = "current.tmp";
const LENGTH_BYTES: usize = 4;

#[derive(Clone, Debug)]
pub struct SnapshotFile {
    dir: PathBuf,
}

impl SnapshotFile {
    /// The snapshot directory under a node's data dir (created if missing).
    pub fn open(data_dir: &Path) -> io::Result<SnapshotFile> {
        let dir = data_dir.join(DIR);
        fs::create_dir_all(&dir)?;
        Ok(SnapshotFile { dir })
    }

    /// Replaces the current snapshot; durable when this returns.
    pub fn save(&self, meta: &SnapshotMeta, image: &[u8]) -> io::Result<()> {
        let meta = db::encode(meta)?;
        let length = u32::try_from(meta.len()).map_err(|_| db::corrupt("snapshot metadata over 4 GiB"))?;
        let temporary = self.dir.join(TEMPORARY);
        let mut file = File::create(&temporary)?;
        file.write_all(&length.to_le_bytes())?;
        file.write_all(&meta)?;
        file.write_all(image)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, self.dir.join(CURRENT))?;
        File::open(&self.dir)?.sync_all()
    }

    /// The current snapshot's metadata and image, if one was saved.
    pub fn load(&self) -> io::Result<Option<(SnapshotMeta, Vec<u8>)>> {
        let mut bytes = match fs::read(self.dir.join(CURRENT)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let length: [u8; LENGTH_BYTES] = bytes
            .get(..LENGTH_BYTES)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| db::corrupt("snapshot file shorter than its header"))?;
        let end = LENGTH_BYTES + u32::from_le_bytes(length) as usize;
        let meta = db::decode(
            "snapshot metadata",
            bytes.get(LENGTH_BYTES..end).ok_or_else(|| db::corrupt("snapshot file cut in its metadata"))?,
        )?;
        let image = bytes.split_off(end);
        Ok(Some((meta, image)))
    }
}
