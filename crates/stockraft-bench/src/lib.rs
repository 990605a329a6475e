//! # stockraft-bench: what a flash sale costs end to end
//!
//! `stockbench` drives a running cluster through the client crate, as an order platform
//! would: each buyer is a task with its own buyer id and one call outstanding at a time.
//! Workloads so far: `hot` (one SKU, N units, C buyers reserving one unit each until it is
//! sold out), which verifies that exactly N reserves succeeded.

pub mod hot;
pub mod latency;
