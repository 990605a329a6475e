//! Raffle seeds and the check of a draw.
//!
//! A seed lives in a file of hex (`stockctl raffle seed FILE` writes 32 random bytes), stays on
//! the back office's machine until the draw, and is committed to by its SHA-256 when the raffle
//! is created. `verify` recomputes a published draw from the published entries and the
//! revealed seed: the commitment, then the order (stockraft-core's `raffle::draw_order`, which
//! its module doc states in full so that anyone can write it again).

use std::path::Path;
use stockraft_core::HoldId;
use stockraft_core::raffle::{commitment, draw_order};
use stockraft_proto::v1;

/// Bytes in a seed `raffle seed` writes: SHA-256's own width.
pub const SEED_BYTES: usize = 32;

/// Writes a fresh random seed to `path` (owner-only, never over an existing file); returns its
/// SHA-256, the commitment to publish.
pub fn new_seed(path: &Path) -> Result<[u8; 32], String> {
    let mut seed = [0u8; SEED_BYTES];
    getrandom::fill(&mut seed).map_err(|e| format!("no random bytes from the operating system: {e}"))?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e} (a seed file is never overwritten)", path.display()))?;
    writeln!(file, "{}", hex::encode(seed)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(commitment(&seed))
}

/// The seed in a seed file (hex, surrounding whitespace ignored).
pub fn read_seed(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    hex::decode(text.trim()).map_err(|e| format!("{}: not a seed in hex ({e})", path.display()))
}

/// A SHA-256 given in hex: 64 digits.
pub fn sha256_hex(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("{text:?}: not hex ({e})"))?;
    bytes.try_into().map_err(|bytes: Vec<u8>| format!("{text:?}: {} bytes; a SHA-256 is 32", bytes.len()))
}

/// Recomputes a drawn raffle: the revealed seed hashes to the commitment (and is the seed in
/// `local_seed`, if given), every entry is drawn exactly once, and the order is the one the seed
/// and the entries give. Returns the number of entries checked. (Who got a hold at the draw
/// depends on stock too: the holds themselves say, `stockctl hold ORDER`.)
pub fn verify(raffle: &v1::Raffle, local_seed: Option<&[u8]>) -> Result<usize, String> {
    let draw = raffle.draw.as_ref().ok_or("the raffle has not been drawn: there is nothing to verify yet")?;
    if commitment(&draw.seed).as_slice() != raffle.seed_sha256.as_slice() {
        return Err(format!(
            "the revealed seed's SHA-256 is {}, but the raffle committed to {}",
            hex::encode(commitment(&draw.seed)),
            hex::encode(&raffle.seed_sha256)
        ));
    }
    if let Some(seed) = local_seed
        && seed != draw.seed.as_slice()
    {
        return Err("the revealed seed is not the one in the seed file".into());
    }
    let entries = raffle.entries.iter().map(|e| HoldId::new(&e.hold_id)).collect::<Result<Vec<_>, _>>();
    let entries = entries.map_err(|e| format!("an entry's order id is malformed: {e}"))?;
    let recomputed: Vec<String> = draw_order(&draw.seed, &entries).iter().map(ToString::to_string).collect();
    if recomputed != draw.order {
        let at = recomputed
            .iter()
            .zip(&draw.order)
            .position(|(a, b)| a != b)
            .unwrap_or(recomputed.len().min(draw.order.len()));
        return Err(format!(
            "the published order differs from the recomputed one at place {} ({:?} published, {:?} recomputed; {} entries, {} drawn)",
            at + 1,
            draw.order.get(at),
            recomputed.get(at),
            recomputed.len(),
            draw.order.len()
        ));
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drawn(seed: &[u8], order: Vec<String>) -> v1::Raffle {
        let entries = ["a", "b", "c"].map(|h| v1::RaffleEntry { hold_id: h.into(), buyer_id: h.into(), quantity: 1 });
        v1::Raffle {
            seed_sha256: commitment(b"the seed that was committed to!!").to_vec(),
            entries: entries.to_vec(),
            draw: Some(v1::RaffleDraw { seed: seed.to_vec(), order, ..v1::RaffleDraw::default() }),
            ..v1::Raffle::default()
        }
    }

    #[test]
    fn an_honest_draw_verifies_and_any_tampering_is_named() {
        let seed = b"the seed that was committed to!!";
        let ids = ["a", "b", "c"].map(|h| HoldId::new(h).unwrap());
        let order: Vec<String> = draw_order(seed, &ids).iter().map(ToString::to_string).collect();
        assert_eq!(verify(&drawn(seed, order.clone()), Some(seed)), Ok(3));

        let mut swapped = order.clone();
        swapped.swap(0, 1);
        assert!(verify(&drawn(seed, swapped), None).unwrap_err().contains("differs"), "a reordered draw");
        let other = b"another seed, chosen after entry";
        assert!(verify(&drawn(other, order.clone()), None).unwrap_err().contains("committed to"));
        assert!(verify(&drawn(seed, order), Some(b"mine")).unwrap_err().contains("seed file"));
    }

    #[test]
    fn seed_files_are_hex_and_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("stockctl-seed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seed");
        let _ = std::fs::remove_file(&path);
        let committed = new_seed(&path).unwrap();
        assert_eq!(commitment(&read_seed(&path).unwrap()), committed);
        assert!(new_seed(&path).unwrap_err().contains("never overwritten"));
        assert!(sha256_hex("abc").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
