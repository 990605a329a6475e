//! What a node tells its operators: Prometheus metrics on an HTTP port of their own
//! ([`prometheus`]), per-call counts and latencies ([`rpc`]), and logs whose filter can change
//! while the node runs ([`logs`]).

pub mod logs;
pub mod prometheus;
pub mod rpc;
