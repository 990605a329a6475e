//! Waiting for a condition, never for a fixed time; and the questions a runbook asks the
//! cluster while it waits: a node's own status, who leads, what has been applied.

use crate::cluster::Cluster;
use std::future::Future;
use std::time::{Duration, Instant};
use stockraft_client::{Client, Options, call, v1};

/// Elections take well under a second; a loaded 2-core CI machine gets thirty.
pub const CONDITION_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a condition is checked again.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// How long a status probe waits for one node: a node that is dead, paused or cut off must not
/// hold up the caller, who asks again anyway.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// How long a leadership transfer may take: an election, with room for a loaded machine.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(6);

/// Polls `check` until it returns `Some`, or gives up with `None` after `timeout`.
pub async fn poll<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls `check` until it returns `Some`, or panics naming `what` after [`CONDITION_TIMEOUT`].
pub async fn wait_for<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll(CONDITION_TIMEOUT, check).await {
        Some(value) => value,
        None => panic!("timed out after {CONDITION_TIMEOUT:?} waiting for {what}"),
    }
}

impl Cluster {
    /// Options for a client of node `id` alone that gives up quickly (see [`PROBE_TIMEOUT`]).
    fn probe(&self, id: u64, timeout: Duration) -> Options {
        let mut options = Options::new([self.address(id)]);
        options.token = self.access.token.clone();
        options.tls = self.access.tls.clone();
        options.attempt_timeout = timeout;
        options.deadline = timeout;
        options.connect_timeout = PROBE_CONNECT_TIMEOUT;
        options
    }

    /// The status as node `id` sees it, if it answers within [`PROBE_TIMEOUT`]. A node that
    /// the harness started and that exited on its own (a refused config, a crash) panics the
    /// caller at once, rather than after [`CONDITION_TIMEOUT`] of waiting for it to answer.
    pub async fn status(&self, id: u64) -> Option<v1::ClusterStatus> {
        assert!(!self.nodes[&id].exited_on_its_own(), "node {id} exited on its own (its log is below)");
        let client = Client::new(self.probe(id, PROBE_TIMEOUT)).ok()?;
        client.node_status(&self.address(id)).await.ok()
    }

    /// The running node that leads in the highest term, if any claims to (a cut-off leader
    /// may still claim an older term).
    pub async fn leader(&self) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        for id in self.running() {
            if let Some(status) = self.status(id).await
                && status.leader_id == id
                && best.is_none_or(|(term, _)| status.term > term)
            {
                best = Some((status.term, id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// The leader every node among `ids` names, if they all answer and name the same one.
    async fn leader_named_by(&self, ids: &[u64]) -> Option<u64> {
        let mut leaders = Vec::new();
        for id in ids {
            leaders.push(self.status(*id).await?.leader_id);
        }
        let first = *leaders.first()?;
        (first != 0 && leaders.iter().all(|l| *l == first)).then_some(first)
    }

    /// Waits until every node among `ids` names the same leader, and returns it.
    pub async fn wait_for_leader(&self, ids: &[u64]) -> u64 {
        wait_for(&format!("nodes {ids:?} to agree on a leader"), || self.leader_named_by(ids)).await
    }

    /// Waits until every node among `ids` names the same leader other than `old`.
    pub async fn wait_for_new_leader(&self, ids: &[u64], old: u64) -> u64 {
        wait_for(&format!("nodes {ids:?} to agree on a leader other than {old}"), || async {
            self.leader_named_by(ids).await.filter(|leader| *leader != old)
        })
        .await
    }

    /// Waits until every running node names the same running leader; `None` after `timeout`
    /// (for programs that go on without one: the nemesis, stockbench).
    pub async fn wait_for_leader_within(&self, timeout: Duration) -> Option<u64> {
        poll(timeout, || async {
            let running = self.running();
            self.leader_named_by(&running).await.filter(|leader| running.contains(leader))
        })
        .await
    }

    /// Waits until node `id` has applied at least `index`.
    pub async fn wait_for_applied(&self, id: u64, index: u64) {
        wait_for(&format!("node {id} to apply log index {index}"), || async {
            (self.status(id).await?.applied_log_index >= index).then_some(())
        })
        .await
    }

    /// The leader's committed index, once a leader is known among `ids`.
    pub async fn committed(&self, ids: &[u64]) -> u64 {
        let leader = self.wait_for_leader(ids).await;
        self.status(leader).await.map_or(0, |s| s.committed_log_index)
    }

    /// Asks node `from` to hand leadership to `to`.
    pub async fn transfer_leader(&self, from: u64, to: u64) -> Result<(), String> {
        let client = Client::new(self.probe(from, TRANSFER_TIMEOUT)).map_err(|e| e.to_string())?;
        let request = v1::TransferLeaderRequest { to_node_id: to };
        call!(client, cluster, transfer_leader, request).map(|_| ()).map_err(|e| e.to_string())
    }
}
