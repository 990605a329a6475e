//! Faults, scheduled during the sale: each round picks the next kind (round robin, so every
//! kind happens in every long run), injects it, holds it for a while, undoes it and lets the
//! cluster settle before the next. Every fault is recorded in the history with its times.

use crate::history::{Fault, History};
use rand::Rng;
use rand::rngs::StdRng;
use std::time::Duration;
use stockraft_testkit::Cluster;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SIGKILL the leader, restart it from its data dir after a while.
    KillLeader,
    /// SIGKILL the leader, then the next leader as soon as it is elected, then restart both.
    KillLeadersInARow,
    /// SIGKILL a follower, restart it.
    KillFollower,
    /// SIGSTOP the leader well past the election timeout, then SIGCONT: it wakes up deposed.
    PauseLeader,
    /// Cut the leader off from every other node (clients still reach it).
    IsolateLeader,
    /// Split into a minority and a majority, the leader on a random side.
    SplitMinorityMajority,
    /// SIGTERM a random node and start it again (a rolling restart).
    RestartNode,
    /// Hand leadership to a random follower.
    TransferLeader,
}

pub const ALL: [Kind; 8] = [
    Kind::KillLeader,
    Kind::IsolateLeader,
    Kind::PauseLeader,
    Kind::KillFollower,
    Kind::SplitMinorityMajority,
    Kind::KillLeadersInARow,
    Kind::TransferLeader,
    Kind::RestartNode,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::KillLeader => "kill-leader",
            Kind::KillLeadersInARow => "kill-leaders-in-a-row",
            Kind::KillFollower => "kill-follower",
            Kind::PauseLeader => "pause-leader",
            Kind::IsolateLeader => "isolate-leader",
            Kind::SplitMinorityMajority => "split-minority-majority",
            Kind::RestartNode => "restart-node",
            Kind::TransferLeader => "transfer-leader",
        }
    }
}

/// How long a fault lasts: past the election timeout (300-600 ms) several times over.
const FAULT_MIN: Duration = Duration::from_millis(1_200);
const FAULT_MAX: Duration = Duration::from_millis(2_500);
/// How long to wait for a leader before injecting a leader fault anyway (on nobody).
const LEADER_WAIT: Duration = Duration::from_secs(5);

/// Injects one fault of `kind`, holds it, undoes it, and records it.
pub async fn inject(kind: Kind, cluster: &mut Cluster, history: &History, rng: &mut StdRng) {
    let started = history.now_ns();
    let hold = Duration::from_millis(rng.random_range(FAULT_MIN.as_millis() as u64..FAULT_MAX.as_millis() as u64));
    let leader = cluster.wait_for_leader_within(LEADER_WAIT).await;
    let ids = cluster.ids();
    let followers: Vec<u64> = ids.iter().copied().filter(|id| Some(*id) != leader).collect();
    let pick = |rng: &mut StdRng, from: &[u64]| from[rng.random_range(0..from.len())];
    let (nodes, note) = match (kind, leader) {
        (Kind::KillLeader, Some(leader)) => {
            cluster.kill(leader);
            tokio::time::sleep(hold).await;
            cluster.spawn(leader);
            (vec![leader], String::new())
        }
        (Kind::KillLeadersInARow, Some(first)) => {
            cluster.kill(first);
            let mut killed = vec![first];
            // The next leader dies as soon as the survivors elect it (a majority must remain).
            let spare = ids.len() - (ids.len() / 2 + 1);
            while killed.len() < spare {
                let Some(next) = cluster.wait_for_leader_within(LEADER_WAIT).await else { break };
                cluster.kill(next);
                killed.push(next);
            }
            tokio::time::sleep(hold).await;
            for id in &killed {
                cluster.spawn(*id);
            }
            // Then the leader the restarted nodes find (which may be either of them) dies too.
            if let Some(next) = cluster.wait_for_leader_within(LEADER_WAIT).await {
                cluster.kill(next);
                tokio::time::sleep(hold / 2).await;
                cluster.spawn(next);
                killed.push(next);
            }
            (killed, String::new())
        }
        (Kind::KillFollower, _) => {
            let victim = pick(rng, &followers);
            cluster.kill(victim);
            tokio::time::sleep(hold).await;
            cluster.spawn(victim);
            (vec![victim], String::new())
        }
        (Kind::PauseLeader, Some(leader)) => {
            cluster.pause(leader);
            tokio::time::sleep(hold).await;
            cluster.resume(leader);
            (vec![leader], String::new())
        }
        (Kind::IsolateLeader, Some(leader)) => {
            cluster.partition(&[vec![leader], followers.clone()]);
            tokio::time::sleep(hold).await;
            cluster.heal();
            (vec![leader], format!("{{{leader}}} | {followers:?}"))
        }
        (Kind::SplitMinorityMajority, _) => {
            let mut shuffled = ids.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.random_range(0..=i));
            }
            let minority: Vec<u64> = shuffled[..(ids.len() - 1) / 2].to_vec();
            let majority: Vec<u64> = shuffled[(ids.len() - 1) / 2..].to_vec();
            cluster.partition(&[minority.clone(), majority.clone()]);
            tokio::time::sleep(hold).await;
            cluster.heal();
            let side = if leader.is_some_and(|l| minority.contains(&l)) { "minority" } else { "majority" };
            (minority.clone(), format!("{minority:?} | {majority:?}, leader in the {side}"))
        }
        (Kind::RestartNode, _) => {
            let victim = pick(rng, &ids);
            cluster.stop(victim);
            cluster.spawn(victim);
            (vec![victim], String::new())
        }
        (Kind::TransferLeader, Some(leader)) => {
            let to = pick(rng, &followers);
            let note = match cluster.transfer_leader(leader, to).await {
                Ok(()) => format!("{leader} -> {to}"),
                Err(e) => format!("{leader} -> {to} failed: {e}"),
            };
            (vec![leader, to], note)
        }
        (_, None) => (Vec::new(), "skipped: no leader".into()),
    };
    history.fault(Fault { kind: kind.name(), nodes, started_ns: started, ended_ns: history.now_ns(), note });
}

/// Undoes whatever may still be in effect: heals partitions, resumes and restarts nodes.
pub fn heal_all(cluster: &mut Cluster) {
    cluster.heal();
    for id in cluster.ids() {
        cluster.resume(id);
        if !cluster.is_up(id) {
            cluster.spawn(id);
        }
    }
}
