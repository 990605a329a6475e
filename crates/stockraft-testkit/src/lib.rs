//! # stockraft-testkit: clusters of real `stockd` processes
//!
//! One harness for everything that starts `stockd`: the tests under `tests/`, the chaos runs
//! (`stockraft-chaos`) and `stockbench --spawn-cluster`. A [`Cluster`] writes each node's
//! config, data dir and log into one directory, on loopback ports from [`ports`], optionally
//! behind the partitioning [`proxy`]; it kills (SIGKILL), stops (SIGTERM), pauses (SIGSTOP)
//! and restarts nodes by id, and answers the questions a runbook asks: who leads, has this
//! node applied that index. Waiting is polling for a condition ([`wait_for`]), never a fixed
//! sleep. [`shop`] is the small catalog the tests sell from.
//!
//! ```no_run
//! # async fn demo() {
//! use stockraft_testkit::*;
//! let mut cluster = Cluster::start(3);
//! let leader = cluster.wait_for_leader(&[1, 2, 3]).await;
//! set_up_shop(&cluster.client(), 10, 60_000, None).await;
//! cluster.kill(leader);
//! # }
//! ```
//!
//! A node that exits on its own (a refused config, a crash) fails the caller the next time it
//! asks that node for its status; when a test panics, the end of every node's log is printed.

mod binaries;
mod cluster;
pub mod ports;
mod processes;
pub mod proxy;
pub mod shop;
mod waiting;

pub use binaries::{BUILD_COMMAND, binary, stockd_binary};
pub use cluster::{Access, Cluster, Node, Settings};
pub use ports::loopback_port;
pub use shop::{
    ITEM, SKU, WAREHOUSE, availability, hold_state, local_availability, local_ledger, reserve, reserve_request,
    set_up_shop,
};
pub use waiting::{CONDITION_TIMEOUT, poll, wait_for};
