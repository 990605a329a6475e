//! The Raft transport: how nodes reach each other.
//!
//! - [`peers`]: one long-lived gRPC channel per peer address, shared by Raft's messages and by
//!   calls a follower forwards to its leader;
//! - [`network`]: the sending side, openraft's `RaftNetworkV2` over the internal
//!   `stockraft.raft.v1.RaftTransport` service (postcard-encoded openraft messages, a deadline
//!   on every RPC, snapshots in chunks);
//! - [`service`]: the receiving side, handing peers' messages to the local openraft node.

pub mod network;
pub mod peers;
pub mod service;
