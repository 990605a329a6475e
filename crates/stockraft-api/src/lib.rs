//! # stockraft-api: the gRPC API mapped onto the ledger
//!
//! - [`to_core`]: every request a client sends, checked and turned into a ledger request (a
//!   refusal here is `INVALID_ARGUMENT` and changes nothing);
//! - [`to_proto`]: ledger answers into API messages, and ledger refusals into gRPC statuses
//!   with a machine-readable reason.
//!
//! No I/O and no storage: the server (`stockraft-server`) calls it for every RPC, and the
//! request-validation fuzz target (`crates/stockraft-fuzz`) feeds it arbitrary messages.

pub mod to_core;
pub mod to_proto;

/// Counted for every refusal turned into a status (by reason); stockd exports it.
pub const REJECTIONS_METRIC: &str = "stockraft_rejections_total";
