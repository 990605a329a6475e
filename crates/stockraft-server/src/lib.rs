//! # stockraft-server: a stockraft node (`stockd`)
//!
//! The stock ledger (`stockraft-core`) replicated with openraft over gRPC, stored in RocksDB
//! (`stockraft-storage`), behind the `Inventory`, `Catalog` and `Cluster` services of
//! `stockraft-proto` (mapped onto the ledger by `stockraft-api`). See `DESIGN.md` for how a
//! write and a read travel through a node.

pub mod auth;
pub mod config;
pub mod demo;
mod leader_tasks;
pub mod leadership;
pub mod limits;
pub mod node;
pub mod proposer;
pub mod rich_errors;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod transport;
