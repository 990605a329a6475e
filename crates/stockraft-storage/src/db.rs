//! The node's RocksDB: one database per node, one column family per concern.
//!
//! | column family | key | value |
//! | --- | --- | --- |
//! | `log` | log index, 8 bytes big-endian (so keys sort by index) | postcard `Entry` |
//! | `meta` | `vote`, `committed`, `last_purged` | postcard value |
//! | `snapshot` | `meta`, `data` | read only: where builds before `snapshot/current` saved snapshots |

pub use crate::codec::{corrupt, decode, encode};
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DB, Options, WriteOptions};
use serde::de::DeserializeOwned;
use std::io;
use std::path::Path;
use std::sync::Arc;

pub const CF_LOG: &str = "log";
pub const CF_META: &str = "meta";
pub const CF_SNAPSHOT: &str = "snapshot";

/// Opens (creating if needed) the node's database under `dir`.
pub fn open(dir: &Path) -> io::Result<Arc<DB>> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    let families = [CF_LOG, CF_META, CF_SNAPSHOT].map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    let db = DB::open_cf_descriptors(&options, dir, families).map_err(|e| storage_error("opening", e))?;
    Ok(Arc::new(db))
}

pub fn cf<'a>(db: &'a DB, name: &str) -> &'a ColumnFamily {
    db.cf_handle(name).unwrap_or_else(|| panic!("column family {name} is created at open"))
}

/// Write options that make a write durable (the WAL is fsynced) before it returns.
pub fn durable() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

pub fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

pub fn index_of(key: &[u8]) -> io::Result<u64> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| corrupt(format!("log key of {} bytes", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

pub fn get<T: DeserializeOwned>(db: &DB, family: &str, key: &str) -> io::Result<Option<T>> {
    let bytes = db.get_cf(cf(db, family), key).map_err(|e| storage_error("reading", e))?;
    bytes.map(|bytes| decode(key, &bytes)).transpose()
}

pub fn storage_error(doing: &str, error: rocksdb::Error) -> io::Error {
    io::Error::other(format!("rocksdb {doing}: {error}"))
}
