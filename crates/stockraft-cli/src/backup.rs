//! `stockctl snapshot save FILE`: a consistent backup, streamed from the leader.
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
