//! Seeding a new node from a backup (`stockd --restore FILE`), the way etcd restores: every voter
//! of the new cluster is seeded from the same backup with the same member list, so all of them
//! start from the same snapshot and the same membership, and elect a leader among themselves.
//!
//! The seed is the backup's ledger image as the node's snapshot, at the backup's log index but
//! under term 0 (the new cluster's first leader, at term 1, then appends after it), and a log
//! purged up to that point: a node that joins later receives the snapshot, never an empty log.

use crate::backup;
use crate::db::{self, CF_META};
use crate::log_store::KEY_LAST_PURGED;
use crate::snapshot_file::SnapshotFile;
use crate::type_config::{LogId, SnapshotMeta, StoredMembership, TypeConfig};
use openraft::alias::LeaderIdOf;
use openraft::vote::RaftLeaderIdExt;
use openraft::{BasicNode, Membership};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use stockraft_core::State;

/// What a seeded node starts from.
#[derive(Debug)]
pub struct Seeded {
    pub log_index: u64,
    pub image_bytes: usize,
    pub holds: usize,
}

/// Seeds the empty data dir `dir` from `backup` with `voters` as the new cluster's membership.
/// Refuses (changing nothing) a dir that already holds a node's data, and a backup that is not
/// one (bad framing, a checksum mismatch, an undecodable image).
pub fn seed(dir: &Path, backup: Vec<u8>, voters: BTreeMap<u64, BasicNode>) -> io::Result<Seeded> {
    if dir.join("CURRENT").exists() || dir.join(SnapshotFile::CURRENT_PATH).exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already holds a node's data; --restore seeds new, empty nodes only", dir.display()),
        ));
    }
    let (meta, image) = backup::parse(backup)?;
    let ledger = State::restore(&image)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("the backup's ledger is refused: {e}")))?;
    let at = meta.last_log_id.ok_or_else(|| db::corrupt("the backup has no log position (an empty cluster's)"))?;
    let position = LogId::new(LeaderIdOf::<TypeConfig>::new_committed(0, 0), at.index);
    let ids: BTreeSet<u64> = voters.keys().copied().collect();
    let membership =
        Membership::new(vec![ids], voters).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let seeded = SnapshotMeta {
        last_log_id: Some(position),
        last_membership: StoredMembership::new(Some(position), membership),
    };
    SnapshotFile::open(dir)?.save(&seeded, &image)?;
    let database = db::open(dir)?;
    database
        .put_cf_opt(db::cf(&database, CF_META), KEY_LAST_PURGED, db::encode(&position)?, &db::durable())
        .map_err(|e| db::storage_error("writing", e))?;
    Ok(Seeded { log_index: at.index, image_bytes: image.len(), holds: ledger.hold_count() })
}
