//! # stockraft-server: a stockraft node (`stockd`)
//!
//! The stock ledger (`stockraft-core`) replicated with openraft over gRPC, stored in RocksDB
//! (`stockraft-storage`), behind the `Inventory`, `Catalog` and `Cluster` services of
//! `stockraft-proto`. See `DESIGN.md` for how a write and a read travel through a node.

pub mod auth;
pub mod config;
/// The API's mapping onto the ledger (the `stockraft-api` crate).
pub mod convert {
    pub use stockraft_api::{to_core, to_proto};
}
pub mod demo;
mod leader_tasks;
pub mod node;
pub mod peers;
pub mod proposer;
pub mod raft_network;
pub mod restore;
pub mod server;
pub mod service;
pub mod telemetry;
