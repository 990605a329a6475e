//! `stockd --restore FILE`: seeds this node's empty data dir from a backup before Raft starts
//! (see `stockraft_storage::restore`). Seed every voter of the new cluster from the same file,
//! with the same `members`; then start them as usual.

use crate::config::Config;
use crate::server::StartError;
use openraft::BasicNode;
use std::path::Path;

pub fn seed(config: &Config, backup: &Path) -> Result<(), StartError> {
    let bytes =
        std::fs::read(backup).map_err(|e| StartError::Restore(format!("cannot read {}: {e}", backup.display())))?;
    let voters = config.initial_members().into_iter().map(|m| (m.id, BasicNode { addr: m.address })).collect();
    let seeded = stockraft_storage::restore::seed(&config.data_dir, bytes, voters)
        .map_err(|e| StartError::Restore(format!("{}: {e}", backup.display())))?;
    tracing::info!(
        backup = %backup.display(),
        log_index = seeded.log_index,
        image_bytes = seeded.image_bytes,
        holds = seeded.holds,
        members = ?config.initial_members().iter().map(|m| m.id).collect::<Vec<_>>(),
        "seeded from a backup"
    );
    Ok(())
}
