//! When HELD holds expire: a wheel of one-second buckets, walked in (expiry time, hold serial)
//! order.
//!
//! A sale schedules holds far faster than a sorted map likes to insert, and almost all of them
//! into the same second (the clock moves forward and TTLs are few), so the newest bucket is kept
//! aside and a schedule is usually a push onto it. A bucket is sorted once, when its second
//! comes due; nothing is scheduled into a due bucket again, because a TTL is at least a second.
//!
//! Holds that leave HELD early (confirmed, released) are not looked for: their entries go stale
//! and are skipped when their bucket comes due (the caller says which entries are still live).
//! The index is derived state: it is rebuilt from the holds on restore, never serialised.

use crate::hold_table::HoldSlot;
use crate::limits::HOLD_TTL_MS_MIN;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

const BUCKET_MS: u64 = 1_000;
const _: () = assert!(HOLD_TTL_MS_MIN >= BUCKET_MS, "a due bucket must never be scheduled into");

/// One scheduled expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scheduled {
    pub expires_at_ms: u64,
    pub serial: u64,
    pub slot: HoldSlot,
}

#[derive(Clone, Debug, Default)]
struct Bucket {
    entries: Vec<Scheduled>,
    /// Whether `entries` is sorted descending (the earliest last, ready to pop).
    sorted: bool,
}

impl Bucket {
    fn push(&mut self, entry: Scheduled) {
        self.entries.push(entry);
        self.sorted = false;
    }

    /// Its earliest expiry time, live or stale.
    fn earliest(&self) -> Option<u64> {
        if self.sorted {
            self.entries.last().map(|entry| entry.expires_at_ms)
        } else {
            self.entries.iter().map(|entry| entry.expires_at_ms).min()
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ExpiryIndex {
    /// Buckets by second, except the newest.
    buckets: BTreeMap<u64, Bucket>,
    /// The newest bucket's second and entries.
    tail_second: u64,
    tail: Bucket,
}

impl ExpiryIndex {
    pub fn schedule(&mut self, entry: Scheduled) {
        let second = entry.expires_at_ms / BUCKET_MS;
        if second == self.tail_second {
            self.tail.push(entry);
        } else if second > self.tail_second {
            self.retire_tail();
            self.tail_second = second;
            self.tail.push(entry);
        } else {
            self.buckets.entry(second).or_default().push(entry);
        }
    }

    /// Moves the newest bucket into the map.
    /// (The usual case, no bucket for that second yet, moves the entries without copying them:
    /// a sale's newest second holds tens of thousands.)
    fn retire_tail(&mut self) {
        if !self.tail.entries.is_empty() {
            let tail = std::mem::take(&mut self.tail);
            match self.buckets.entry(self.tail_second) {
                Entry::Vacant(vacant) => {
                    vacant.insert(tail);
                }
                Entry::Occupied(mut occupied) => {
                    let bucket = occupied.get_mut();
                    bucket.entries.extend(tail.entries);
                    bucket.sorted = false;
                }
            }
        }
    }

    /// The earliest entry due at `now_ms` for which `live` holds, removed from the index; stale
    /// entries met on the way are dropped.
    pub fn pop_due(&mut self, now_ms: u64, live: impl Fn(&Scheduled) -> bool) -> Option<Scheduled> {
        let due = self.next_due(now_ms, live)?;
        let mut first = self.buckets.first_entry().expect("next_due found it here");
        first.get_mut().entries.pop();
        if first.get().entries.is_empty() {
            first.remove();
        }
        Some(due)
    }

    /// Whether a live entry is due at `now_ms` (dropping stale entries met on the way).
    pub fn has_due(&mut self, now_ms: u64, live: impl Fn(&Scheduled) -> bool) -> bool {
        self.next_due(now_ms, live).is_some()
    }

    /// The earliest live entry due at `now_ms`, left in place as the last entry of the first
    /// bucket.
    fn next_due(&mut self, now_ms: u64, live: impl Fn(&Scheduled) -> bool) -> Option<Scheduled> {
        if self.tail_second * BUCKET_MS <= now_ms {
            self.retire_tail();
        }
        loop {
            let mut first = self.buckets.first_entry()?;
            if *first.key() * BUCKET_MS > now_ms {
                return None;
            }
            let bucket = first.get_mut();
            if !bucket.sorted {
                bucket.entries.sort_unstable_by(|a, b| b.cmp(a));
                bucket.sorted = true;
            }
            while let Some(&earliest) = bucket.entries.last() {
                if earliest.expires_at_ms > now_ms {
                    return None;
                }
                if live(&earliest) {
                    return Some(earliest);
                }
                bucket.entries.pop();
            }
            first.remove();
        }
    }

    /// The earliest expiry time scheduled, live or stale: no live entry is due before it. (A
    /// stale entry can make it early, never late: at worst one `Expire` finds nothing to do and
    /// drops the stale entries on its way.) Reads the first bucket, and the newest one when it
    /// can hold the earliest entry.
    pub fn earliest(&self) -> Option<u64> {
        let first = self.buckets.first_key_value();
        match first {
            Some((&second, bucket)) if second < self.tail_second || self.tail.entries.is_empty() => bucket.earliest(),
            _ => first.and_then(|(_, bucket)| bucket.earliest()).into_iter().chain(self.tail.earliest()).min(),
        }
    }

    /// Every entry, live or stale, in no particular order (for invariant checks).
    pub fn entries(&self) -> impl Iterator<Item = &Scheduled> {
        self.buckets.values().flat_map(|bucket| &bucket.entries).chain(self.tail.entries.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(expires_at_ms: u64, serial: u64) -> Scheduled {
        Scheduled { expires_at_ms, serial, slot: serial as HoldSlot }
    }

    #[test]
    fn pops_in_expiry_then_serial_order_whatever_the_schedule_order() {
        let mut index = ExpiryIndex::default();
        for entry in [at(5_500, 3), at(2_100, 9), at(5_500, 1), at(5_499, 7), at(9_000, 2), at(2_100, 4)] {
            index.schedule(entry);
        }
        let mut popped = Vec::new();
        while let Some(entry) = index.pop_due(6_000, |_| true) {
            popped.push((entry.expires_at_ms, entry.serial));
        }
        assert_eq!(popped, vec![(2_100, 4), (2_100, 9), (5_499, 7), (5_500, 1), (5_500, 3)]);
        assert_eq!(index.pop_due(8_999, |_| true), None);
        assert_eq!(index.pop_due(9_000, |_| true), Some(at(9_000, 2)));
    }

    #[test]
    fn stale_entries_are_skipped_and_dropped() {
        let mut index = ExpiryIndex::default();
        index.schedule(at(1_000, 1));
        index.schedule(at(1_001, 2));
        assert_eq!(index.pop_due(2_000, |entry| entry.serial == 2), Some(at(1_001, 2)));
        assert_eq!(index.entries().count(), 0);
    }

    #[test]
    fn the_earliest_time_is_the_first_due_whichever_bucket_holds_it() {
        let mut index = ExpiryIndex::default();
        assert_eq!(index.earliest(), None);
        index.schedule(at(5_700, 1));
        index.schedule(at(5_200, 2));
        assert_eq!(index.earliest(), Some(5_200), "the newest bucket alone");
        index.schedule(at(9_100, 3));
        index.schedule(at(3_900, 4));
        assert_eq!(index.earliest(), Some(3_900), "a bucket before the newest");
        // Popping sorts the first due bucket; a second scheduled into the newest one again.
        assert_eq!(index.pop_due(5_300, |_| true), Some(at(3_900, 4)));
        assert_eq!(index.pop_due(5_300, |_| true), Some(at(5_200, 2)));
        assert_eq!(index.earliest(), Some(5_700));
        index.schedule(at(9_050, 5));
        while index.pop_due(9_000, |_| true).is_some() {}
        assert_eq!(index.earliest(), Some(9_050), "a due bucket, sorted");
        index.schedule(at(9_020, 6));
        assert_eq!(index.earliest(), Some(9_020), "the map's and the newest bucket's second are one");
        while index.pop_due(10_000, |_| true).is_some() {}
        assert_eq!(index.earliest(), None);
    }

    #[test]
    fn nothing_due_before_its_time() {
        let mut index = ExpiryIndex::default();
        index.schedule(at(1_500, 1));
        assert_eq!(index.pop_due(1_499, |_| true), None);
        assert_eq!(index.entries().count(), 1);
    }
}
