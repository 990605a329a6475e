//! A first-in, first-out queue stored in fixed chunks that never move.
//!
//! The idempotency table keeps up to a million remembered requests in arrival order. In one
//! `VecDeque` every doubling copied the whole queue into fresh pages (the kernel zeroing them
//! first), as the hold table's single `Vec` did (see `slab.rs`); here each chunk is allocated
//! once at its final size, filled at the back and dropped when its last entry leaves the front.

use std::collections::VecDeque;
use std::ops::Index;

/// Entries per chunk: 48 KiB of remembered requests.
const CHUNK_ENTRIES: usize = 1_024;

#[derive(Clone, Debug)]
pub struct ChunkedQueue<T> {
    /// Every chunk but the first and the last holds exactly [`CHUNK_ENTRIES`]; the first may
    /// have lost entries from its front, the last may not be full yet. None is ever empty.
    chunks: VecDeque<VecDeque<T>>,
    len: usize,
}

impl<T> Default for ChunkedQueue<T> {
    fn default() -> Self {
        ChunkedQueue { chunks: VecDeque::new(), len: 0 }
    }
}

impl<T> ChunkedQueue<T> {
    pub fn push_back(&mut self, value: T) {
        match self.chunks.back_mut() {
            // A chunk's capacity is CHUNK_ENTRIES from the start, so this never reallocates.
            Some(last) if last.len() < CHUNK_ENTRIES => last.push_back(value),
            _ => {
                let mut chunk = VecDeque::with_capacity(CHUNK_ENTRIES);
                chunk.push_back(value);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<T> {
        let first = self.chunks.front_mut()?;
        let value = first.pop_front().expect("no chunk is empty");
        if first.is_empty() {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(value)
    }

    pub fn front(&self) -> Option<&T> {
        self.chunks.front().and_then(VecDeque::front)
    }

    pub fn get(&self, at: usize) -> Option<&T> {
        if at >= self.len {
            return None;
        }
        let first = self.chunks.front()?;
        if at < first.len() {
            return first.get(at);
        }
        let rest = at - first.len();
        self.chunks.get(1 + rest / CHUNK_ENTRIES)?.get(rest % CHUNK_ENTRIES)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Entries front to back.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T> Index<usize> for ChunkedQueue<T> {
    type Output = T;

    fn index(&self, at: usize) -> &T {
        self.get(at).unwrap_or_else(|| panic!("queue position {at} of {}", self.len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_behaves_as_a_vecdeque_across_chunk_boundaries() {
        let (mut queue, mut model) = (ChunkedQueue::default(), VecDeque::new());
        // Pushes and pops in uneven runs, so the first chunk is often part-consumed.
        for round in 0..40usize {
            for n in 0..(round * 97) % 2_500 {
                queue.push_back(round * 10_000 + n);
                model.push_back(round * 10_000 + n);
            }
            for _ in 0..(round * 61) % 1_900 {
                assert_eq!(queue.pop_front(), model.pop_front());
            }
            assert_eq!(queue.len(), model.len());
            assert_eq!(queue.front(), model.front());
            for at in (0..model.len()).step_by(37).chain(model.len().checked_sub(1)) {
                assert_eq!(queue[at], model[at], "position {at} in round {round}");
            }
            assert_eq!(queue.get(model.len()), None);
            assert!(queue.iter().eq(model.iter()));
        }
        while let Some(value) = model.pop_front() {
            assert_eq!(queue.pop_front(), Some(value));
        }
        assert!(queue.len() == 0 && queue.chunks.is_empty());
    }
}
