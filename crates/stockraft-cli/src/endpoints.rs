//! `stockctl endpoint health|status` and `stockctl member list|remove|add-learner`: what an SRE
//! asks of each node, etcdctl-style. Every endpoint gets a row (or a JSON object), the
//! unreachable ones with their error; `--cluster` asks one node for the membership and then
//! every member. The command fails (exit 5) when any endpoint is unhealthy, so scripts and
//! probes can rely on the exit code.

use crate::Failure;
use crate::advice::explain_failure;
use crate::output::{self, Format};
use serde_json::json;
use std::time::{Duration, Instant};
use stockraft_client::{Client, Error, v1};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// How often `member add-learner` asks the leader whether the learner caught up.
const CATCH_UP_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, clap::Subcommand)]
pub enum EndpointCommand {
    /// Whether each endpoint serves (gRPC health: SERVING needs a leader holding its quorum).
    Health {
        /// Check every member of the cluster (discovered from the first endpoint that answers).
        #[arg(long)]
        cluster: bool,
    },
    /// Each endpoint's own view: role, leader, term, log positions, quorum.
    Status {
        /// Ask every member of the cluster (discovered from the first endpoint that answers).
        #[arg(long)]
        cluster: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum MemberCommand {
    /// Every voter and learner with its address, as the leader sees them.
    List,
    /// Remove a voter or a learner from the cluster.
    Remove { node_id: u64 },
    /// Add a node that receives the log but does not vote yet, and say whether it caught up.
    AddLearner {
        node_id: u64,
        /// HOST:PORT of the new node's gRPC listener, as the other nodes reach it.
        address: String,
        /// Seconds to wait for the learner to catch up (0: only add it).
        #[arg(long, default_value_t = 10.0)]
        wait: f64,
    },
}

/// The addresses to ask: the endpoints given, or with `cluster` every member's address as the
/// first endpoint that answers knows them.
async fn targets(client: &Client, cluster: bool) -> Result<Vec<String>, Failure> {
    let endpoints = client.options().endpoints.clone();
    if !cluster {
        return Ok(endpoints);
    }
    let mut errors = Vec::new();
    for endpoint in &endpoints {
        match client.node_status(endpoint).await {
            Ok(status) => return Ok(status.members.into_iter().map(|m| m.address).collect()),
            Err(e) => errors.push(format!("{endpoint}: {}", node_failure(&e, endpoint, client.options()))),
        }
    }
    Err(Failure::Unreachable(format!("no endpoint answered to list the members: {}", errors.join("; "))))
}

/// One node's failure without its address (the row or the list already names it).
fn node_failure(error: &Error, address: &str, options: &stockraft_client::Options) -> String {
    let text = explain_failure(error, options);
    text.strip_prefix(&format!("{address}: ")).map(str::to_string).unwrap_or(text)
}

/// One endpoint's health: SERVING or why not, and how long the answer took.
async fn health(client: &Client, address: &str) -> (Result<(), String>, Duration) {
    let started = Instant::now();
    let check = async {
        let mut health = HealthClient::new(client.channel_to(address).map_err(|e| e.to_string())?);
        let reply = health.check(HealthCheckRequest { service: String::new() }).await;
        match reply.map(|r| r.into_inner().status()) {
            Ok(ServingStatus::Serving) => Ok(()),
            Ok(status) => Err(format!("{} (no leader holding a quorum is known)", status.as_str_name())),
            Err(status) => Err(explain_failure(&Error::Rejected(status), client.options())),
        }
    };
    let result = match tokio::time::timeout(client.options().attempt_timeout, check).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {:?}", client.options().attempt_timeout)),
    };
    (result, started.elapsed())
}

pub async fn endpoint(client: &Client, out: Format, command: EndpointCommand) -> Result<(), Failure> {
    match command {
        EndpointCommand::Health { cluster } => endpoint_health(client, out, &targets(client, cluster).await?).await,
        EndpointCommand::Status { cluster } => endpoint_status(client, out, &targets(client, cluster).await?).await,
    }
}

fn took(duration: Duration) -> String {
    format!("{:.1}ms", duration.as_secs_f64() * 1000.0)
}

async fn endpoint_health(client: &Client, out: Format, addresses: &[String]) -> Result<(), Failure> {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["endpoint", "health", "took", "error"]);
    let mut unhealthy = Vec::new();
    for address in addresses {
        let (result, duration) = health(client, address).await;
        let error = result.as_ref().err().cloned().unwrap_or_default();
        match out {
            Format::Json => output::emit(
                json!({"endpoint": address, "health": result.is_ok(), "took": took(duration), "error": error}),
            ),
            Format::Table => {
                table.add_row([address.clone(), result.is_ok().to_string(), took(duration), error.clone()]);
            }
        }
        if result.is_err() {
            unhealthy.push(format!("{address}: {error}"));
        }
    }
    if out == Format::Table {
        output::emit(table);
    }
    unhealthy_if_any(unhealthy, addresses.len())
}

fn unhealthy_if_any(unhealthy: Vec<String>, of: usize) -> Result<(), Failure> {
    if unhealthy.is_empty() {
        return Ok(());
    }
    Err(Failure::Unhealthy(format!("{} of {of} endpoints unhealthy: {}", unhealthy.len(), unhealthy.join("; "))))
}

/// A role as the table shows it.
fn role(status: &v1::ClusterStatus) -> &'static str {
    match status.role() {
        v1::Role::Leader => "leader",
        v1::Role::Follower => "follower",
        v1::Role::Candidate => "candidate",
        v1::Role::Learner => "learner",
        v1::Role::LeaderWithoutQuorum => "leader, no quorum",
        v1::Role::Shutdown => "shut down",
        // An older stockd, without roles.
        v1::Role::Unspecified if status.leader_id == status.node_id => "leader",
        v1::Role::Unspecified => "follower",
    }
}

/// Why a status is unhealthy, if it is: no usable leader known.
fn status_problem(status: &v1::ClusterStatus) -> Option<String> {
    match status.role() {
        v1::Role::LeaderWithoutQuorum => Some(format!(
            "leads term {} but no quorum acknowledged it for {} ms: writes cannot commit",
            status.term,
            status.quorum_ack_age_ms.map_or("ever".to_string(), |ms| ms.to_string())
        )),
        _ if status.leader_id == 0 => Some("no leader is known".into()),
        _ => None,
    }
}

pub fn status_table() -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "endpoint",
        "node",
        "role",
        "leader",
        "term",
        "last log",
        "committed",
        "applied",
        "snapshot",
        "members",
        "error",
    ]);
    table
}

pub fn status_row(endpoint: &str, status: &v1::ClusterStatus) -> Vec<String> {
    let members = status
        .members
        .iter()
        .map(|m| format!("{}{}", m.node_id, if m.voter { "" } else { "(learner)" }))
        .collect::<Vec<_>>()
        .join(",");
    let leader = match status.members.iter().find(|m| m.node_id == status.leader_id) {
        _ if status.leader_id == 0 => "none".to_string(),
        Some(m) => format!("{} ({})", m.node_id, m.address),
        None => status.leader_id.to_string(),
    };
    vec![
        endpoint.to_string(),
        status.node_id.to_string(),
        role(status).to_string(),
        leader,
        status.term.to_string(),
        status.last_log_index.to_string(),
        status.committed_log_index.to_string(),
        status.applied_log_index.to_string(),
        status.snapshot_log_index.map_or("-".into(), |i| i.to_string()),
        members,
        status_problem(status).unwrap_or_default(),
    ]
}

/// The ClusterStatus as protobuf JSON, as a value to nest.
fn status_json(status: &v1::ClusterStatus) -> serde_json::Value {
    let text = output::json(&output::dynamic("ClusterStatus", status), false);
    serde_json::from_str(&text).expect("stockctl's own JSON parses")
}

/// Every endpoint's own view, so a split, a lagging node or a dead one shows at a glance. JSON:
/// one object per endpoint, `{"endpoint", "healthy", "error", "status"}` (`status` absent when
/// it did not answer).
pub async fn endpoint_status(client: &Client, out: Format, addresses: &[String]) -> Result<(), Failure> {
    let mut table = status_table();
    let mut unhealthy = Vec::new();
    for address in addresses {
        let (status, error) = match client.node_status(address).await {
            Ok(status) => {
                let problem = status_problem(&status);
                (Some(status), problem)
            }
            Err(e) => (None, Some(node_failure(&e, address, client.options()))),
        };
        match (out, &status) {
            (Format::Json, _) => {
                let mut line = json!({"endpoint": address, "healthy": error.is_none(), "error": error.clone().unwrap_or_default()});
                if let Some(status) = &status {
                    line["status"] = status_json(status);
                }
                output::emit(line);
            }
            (Format::Table, Some(status)) => {
                table.add_row(status_row(address, status));
            }
            (Format::Table, None) => {
                let mut row = vec![address.clone(), "-".into(), "unreachable".into()];
                row.resize(10, String::new());
                row.push(error.clone().unwrap_or_default());
                table.add_row(row);
            }
        }
        if let Some(error) = error {
            unhealthy.push(format!("{address}: {error}"));
        }
    }
    if out == Format::Table {
        output::emit(table);
    }
    unhealthy_if_any(unhealthy, addresses.len())
}

/// The leader's status: asked of the endpoints in turn, then of the leader one of them names
/// (only the leader knows its followers' replication and liveness).
async fn leader_status(client: &Client) -> Result<v1::ClusterStatus, Failure> {
    let mut errors = Vec::new();
    for endpoint in &client.options().endpoints {
        match client.node_status(endpoint).await {
            Ok(status) if status.leader_id == status.node_id && status.leader_id != 0 => return Ok(status),
            Ok(status) if !status.leader_address.is_empty() => match client.node_status(&status.leader_address).await {
                Ok(leader) if leader.leader_id == leader.node_id => return Ok(leader),
                Ok(_) => errors.push(format!("{}: no longer the leader", status.leader_address)),
                Err(e) => errors.push(format!(
                    "{}: {}",
                    status.leader_address,
                    node_failure(&e, &status.leader_address, client.options())
                )),
            },
            Ok(status) => errors.push(format!("{endpoint}: {}", status_problem(&status).unwrap_or_default())),
            Err(e) => errors.push(format!("{endpoint}: {}", node_failure(&e, endpoint, client.options()))),
        }
    }
    Err(Failure::Unreachable(format!("no leader found: {}", errors.join("; "))))
}

fn ack_age(member: &v1::Member) -> String {
    member.last_ack_age_ms.map_or("never".into(), |ms| format!("{ms} ms ago"))
}

fn members_table(status: &v1::ClusterStatus) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["node", "address", "role", "matched log", "last answer"]);
    for m in &status.members {
        let role = match (m.node_id == status.leader_id, m.voter) {
            (true, _) => "voter, leader",
            (false, true) => "voter",
            (false, false) => "learner",
        };
        let matched = m.matched_log_index.map_or("-".into(), |i| format!("{i} of {}", status.last_log_index));
        table.add_row([m.node_id.to_string(), m.address.clone(), role.into(), matched, ack_age(m)]);
    }
    table
}

fn print_members(out: Format, status: &v1::ClusterStatus) {
    match out {
        Format::Json => output::emit(output::json(&output::dynamic("ClusterStatus", status), true)),
        Format::Table => output::emit(members_table(status)),
    }
}

pub async fn member(client: &Client, out: Format, command: MemberCommand) -> Result<(), Failure> {
    match command {
        MemberCommand::List => print_members(out, &leader_status(client).await?),
        MemberCommand::Remove { node_id } => {
            let status = stockraft_client::call!(client, cluster, remove_member, v1::RemoveMemberRequest { node_id })?;
            if out == Format::Table {
                output::emit(format!("removed node {node_id}"));
            }
            print_members(out, &status);
        }
        MemberCommand::AddLearner { node_id, address, wait } => {
            if !(0.0..=3600.0).contains(&wait) {
                return Err(Error::Usage("--wait must be 0 to 3600 seconds".into()).into());
            }
            add_learner(client, out, node_id, address, Duration::from_secs_f64(wait)).await?
        }
    }
    Ok(())
}

/// Adds the learner (the call returns once the change is committed), then watches the leader's
/// replication to it for up to `wait`, and says which of the three happened: added and caught
/// up; added but not caught up (exit 5, with what to check); or not added.
pub async fn add_learner(
    client: &Client,
    out: Format,
    node_id: u64,
    address: String,
    wait: Duration,
) -> Result<(), Failure> {
    let request = v1::AddLearnerRequest { node_id, address: address.clone(), wait_for_catch_up: false };
    let added = match stockraft_client::call!(client, cluster, add_learner, request) {
        Ok(status) => status,
        Err(e @ Error::Unavailable { .. }) => {
            return Err(Failure::Unreachable(format!(
                "{}; node {node_id} may or may not have been added: check with `stockctl member list`",
                explain_failure(&e, client.options())
            )));
        }
        Err(e) => return Err(e.into()),
    };
    // The reply is the leader's status after the entry that added the learner: caught up means
    // the learner holds the leader's log up to there.
    let target = added.last_log_index;
    let started = Instant::now();
    let mut status = added;
    loop {
        let matched =
            status.members.iter().find(|m| m.node_id == node_id).and_then(|m| m.matched_log_index).unwrap_or(0);
        if matched >= target && target > 0 {
            if out == Format::Table {
                output::emit(format!(
                    "added node {node_id} at {address} as a learner; caught up to log index {matched}"
                ));
            }
            print_members(out, &status);
            return Ok(());
        }
        if started.elapsed() >= wait {
            if out == Format::Json {
                print_members(out, &status);
            }
            let waited = if wait.is_zero() { String::new() } else { format!(" within {wait:?}") };
            return Err(Failure::Unhealthy(format!(
                "added node {node_id} at {address} as a learner, but it has not caught up{waited} \
                 (it holds log index {matched} of {target}): check that stockd runs there with node_id {node_id} \
                 and that the address is right; `stockctl member remove {node_id}` takes it out again"
            )));
        }
        tokio::time::sleep(CATCH_UP_POLL).await;
        if let Ok(leader) = leader_status(client).await {
            status = leader;
        }
    }
}

/// `cluster status`, the older spelling: `endpoint status` over the endpoints given.
pub async fn cluster_status(client: &Client, out: Format) -> Result<(), Failure> {
    endpoint_status(client, out, &client.options().endpoints).await
}
