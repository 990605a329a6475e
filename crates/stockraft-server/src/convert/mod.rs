//! Conversions between the API (`stockraft_proto::v1`) and the ledger (`stockraft_core`).

pub mod to_core;
pub mod to_proto;
