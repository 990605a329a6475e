//! The hash map every id-keyed table uses.
//!
//! Hashing must not be seeded randomly: the ledger is deterministic, and although no decision
//! depends on a map's iteration order, a fixed hasher keeps even a debugging dump reproducible.
//! foldhash is fast on short strings (ids are at most 64 bytes) and mixes well enough that
//! sequential order ids ("order-000001", "order-000002") spread across the table.

pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
