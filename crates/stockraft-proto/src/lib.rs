//! # stockraft-proto: the gRPC API
//!
//! The `stockraft.v1` package from `proto/`: messages (prost), and clients and servers (tonic)
//! for the three services:
//!
//! - `Inventory`: order platforms (reserve, batch reserve, deduct, confirm, release, cancel,
//!   holds, availability and its watch stream);
//! - `Catalog`: back office, warehouses and ERP (catalog and sale rules, stock movements,
//!   inbound shipments, shipping, the audit ledger);
//! - `Cluster`: SREs (status, membership, leadership, snapshots).
//!
//! Errors are gRPC statuses whose details hold one [`v1::ErrorDetail`] with a machine-readable
//! [`v1::Reason`].

pub mod errors;

pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("stockraft.v1");
}

/// The node-to-node Raft transport (internal: postcard-encoded openraft messages).
pub mod raft {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("stockraft.raft.v1");
}

/// The largest gRPC message a node accepts or sends unless configured otherwise (stockd's
/// `limits.message_bytes_max`), and the largest reply the Rust client accepts: a full
/// 1,024-reserve batch or a 10,000-entry ledger page fits.
pub const MESSAGE_BYTES_MAX_DEFAULT: usize = 16 << 20;

/// Most reserves in one `ReserveBatch` call (the ledger's `RESERVE_BATCH_MAX`, which
/// `stockraft-api` checks is the same number): what a client may pack into one call.
pub const RESERVE_BATCH_MAX: usize = 1_024;

/// The encoded `FileDescriptorSet` of every stockraft proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/stockraft_descriptor.bin"));
