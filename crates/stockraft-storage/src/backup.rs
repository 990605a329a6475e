//! The snapshot format on disk and in backups:
//!
//! ```text
//! metadata length (u32 LE) | postcard SnapshotMeta | the ledger's snapshot image
//! ```
//!
//! A node's current snapshot (`snapshot/current`) and a backup (`stockctl snapshot save`) are
//! the same bytes. The image carries its own checksum (`stockraft_core::snapshot`).
//!
//! [`parse`] takes bytes from outside (a backup file, a damaged disk): it refuses anything
//! malformed with an error and never panics (fuzzed: `crates/stockraft-fuzz`).

use crate::codec::{corrupt, decode, encode};
use crate::type_config::SnapshotMeta;
use std::io;

const LENGTH_BYTES: usize = 4;
/// Metadata is a log id and a membership: bytes to kilobytes. A length beyond this is damage.
pub const META_BYTES_MAX: usize = 1 << 20;

/// The bytes before the image.
pub fn header(meta: &SnapshotMeta) -> io::Result<Vec<u8>> {
    let meta = encode(meta)?;
    if meta.len() > META_BYTES_MAX {
        return Err(corrupt(format!("snapshot metadata of {} bytes", meta.len())));
    }
    let mut header = (meta.len() as u32).to_le_bytes().to_vec();
    header.extend_from_slice(&meta);
    Ok(header)
}

/// Splits a snapshot into its metadata and its image (not yet checked: see
/// `stockraft_core::State::restore`).
pub fn parse(mut bytes: Vec<u8>) -> io::Result<(SnapshotMeta, Vec<u8>)> {
    let length: [u8; LENGTH_BYTES] = bytes
        .get(..LENGTH_BYTES)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("snapshot shorter than its header"))?;
    let length = u32::from_le_bytes(length) as usize;
    if length > META_BYTES_MAX {
        return Err(corrupt(format!("snapshot metadata length {length} is not plausible")));
    }
    let end = LENGTH_BYTES + length;
    let meta = decode(
        "snapshot metadata",
        bytes.get(LENGTH_BYTES..end).ok_or_else(|| corrupt("snapshot cut in its metadata"))?,
    )?;
    let image = bytes.split_off(end);
    Ok((meta, image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_snapshots_are_refused_not_panicked_on() {
        assert!(parse(Vec::new()).unwrap_err().to_string().contains("shorter than its header"));
        assert!(parse(vec![9, 0, 0, 0, 1]).unwrap_err().to_string().contains("cut in its metadata"));
        let implausible = u32::MAX.to_le_bytes().to_vec();
        assert!(parse(implausible).unwrap_err().to_string().contains("not plausible"));
        assert!(parse(vec![2, 0, 0, 0, 0xff, 0xff]).unwrap_err().to_string().contains("does not decode"));
    }

    #[test]
    fn a_snapshot_parses_back_into_its_parts() {
        let meta = SnapshotMeta::default();
        let mut bytes = header(&meta).unwrap();
        bytes.extend_from_slice(b"image");
        let (parsed, image) = parse(bytes).unwrap();
        assert_eq!((parsed, image.as_slice()), (meta, &b"image"[..]));
    }
}
