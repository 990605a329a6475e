//! `stockctl snapshot save FILE`: a consistent backup, streamed from the leader; and
//! `stockctl snapshot status FILE`: a backup checked offline, as `stockd --restore` would
//! check it, without a cluster.
//!
//! The backup is written to `FILE.partial`, checked against the size the leader announced,
//! fsynced, and only then renamed to `FILE`: an interrupted save never leaves a file that looks
//! like a backup.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use stockraft_client::{Client, Error, MESSAGE_BYTES_MAX, v1};

pub struct Saved {
    pub info: v1::SnapshotInfo,
    pub path: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Usage(format!("{}: {e}", path.display()))
}

pub async fn save(client: &Client, path: &Path) -> Result<Saved, Error> {
    let mut parts = client
        .cluster(|c| async move {
            c.max_decoding_message_size(MESSAGE_BYTES_MAX).save_snapshot(v1::SaveSnapshotRequest {}).await
        })
        .await?;
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let mut file = std::fs::File::create(&partial).map_err(io(&partial))?;
    let mut info: Option<v1::SnapshotInfo> = None;
    let mut written = 0u64;
    let progress = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let result: Result<(), Error> = async {
        while let Some(part) = parts.message().await.map_err(Error::Rejected)? {
            if let Some(first) = part.info {
                progress.set_length(first.size_bytes);
                progress.set_style(
                    ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec}")
                        .expect("a valid template"),
                );
                info = Some(first);
            }
            file.write_all(&part.data).map_err(io(&partial))?;
            written += part.data.len() as u64;
            progress.set_position(written);
        }
        let info = info.as_ref().ok_or_else(|| Error::Usage("the leader sent no snapshot".into()))?;
        if written != info.size_bytes {
            return Err(Error::Usage(format!(
                "the backup stream ended after {written} of {} bytes; nothing was saved",
                info.size_bytes
            )));
        }
        file.sync_all().map_err(io(&partial))?;
        std::fs::rename(&partial, path).map_err(io(path))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        }
        Ok(())
    }
    .await;
    progress.finish_and_clear();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result?;
    Ok(Saved { info: info.expect("checked above"), path: path.to_path_buf() })
}

/// What a backup file holds, once checked.
pub struct Status {
    pub bytes: u64,
    pub log_index: u64,
    pub term: u64,
    pub voters: Vec<u64>,
    pub members: Vec<(u64, String)>,
    /// The ledger's own checksum, the same `cluster check-state` shows on a replica at the same
    /// log index.
    pub digest: u64,
    pub clock_ms: u64,
    pub warehouses: usize,
    pub items: usize,
    pub holds: usize,
    pub open_holds: usize,
}

/// Reads and checks a backup: its header, the image's version and checksum, and every ledger
/// invariant (what `stockd --restore` checks before it seeds a node). Reads nothing but FILE.
pub fn status(path: &Path) -> Result<Status, Error> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let size = bytes.len() as u64;
    let bad = |what: String| Error::Usage(format!("{} is not a usable backup: {what}", path.display()));
    let (meta, image) = stockraft_storage::backup::parse(bytes).map_err(|e| bad(e.to_string()))?;
    let state = stockraft_core::State::restore(&image).map_err(|e| bad(e.to_string()))?;
    state.check_invariants().map_err(|e| bad(format!("a ledger invariant does not hold: {e}")))?;
    let membership = meta.last_membership.membership();
    let (log_index, term) = meta.last_log_id.map_or((0, 0), |id| (id.index, id.leader_id.term));
    Ok(Status {
        bytes: size,
        log_index,
        term,
        voters: membership.voter_ids().collect(),
        members: membership.nodes().map(|(id, node)| (*id, node.addr.clone())).collect(),
        digest: state.digest(),
        clock_ms: state.clock_ms(),
        warehouses: state.warehouses().len(),
        items: state.items().count(),
        holds: state.hold_count(),
        open_holds: state.open_hold_count(),
    })
}
