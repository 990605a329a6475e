//! The same `hot` sale against what platforms use today, for `make bench-peers`:
//!
//! - etcd (3 members), the usual compare-and-swap: read the stock key and its mod revision,
//!   then one Txn "if the key's mod revision is still r: write stock - 1 and the hold key, else
//!   read the key"; a lost race retries with the fresh value. Every attempt, lost or won, is a
//!   replicated, fsynced write.
//! - Redis (one node, append-only file fsynced on every write): a Lua script that checks the
//!   stock, decrements it and records the hold, atomically. Not replicated.
//!
//! One unit per reserve, each buyer with one call outstanding, latency from a reserve's first
//! attempt to its answer: a success, or the sold-out answer that ends the buyer's sale (counted
//! in the percentiles, not in the throughput), for all three systems alike. The verdict, as for stockraft: exactly `units` reserves acknowledged
//! and nothing left.

use crate::recorder::Recorder;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

use etcdserverpb::kv_client::KvClient;
use etcdserverpb::{compare, request_op, response_op};

#[derive(Clone, Debug, Serialize)]
pub struct PeerReport {
    pub system: &'static str,
    pub units: u32,
    pub buyers: usize,
    /// Connections the buyers shared (each multiplexed: calls of many buyers in flight on one).
    pub connections: usize,
    pub acknowledged: u64,
    /// Attempts that lost a race and were retried (etcd's failed compares).
    pub retries: u64,
    pub seconds: f64,
    pub reserves_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub left_on_sale: u64,
    pub verdict: String,
}

fn report(
    system: &'static str,
    units: u32,
    buyers: usize,
    mut recorder: Recorder,
    retries: u64,
    elapsed: Duration,
    left: u64,
) -> PeerReport {
    let acknowledged = recorder.len() as u64;
    let verdict = if acknowledged + left > u64::from(units) {
        "OVERSOLD"
    } else if acknowledged + left < u64::from(units) || left > 0 {
        "UNDERSOLD"
    } else {
        "EXACT"
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    PeerReport {
        system,
        units,
        buyers,
        // One gRPC channel per member, shared by all buyers (etcd); Redis sets its own.
        connections: 1,
        acknowledged,
        retries,
        seconds: elapsed.as_secs_f64(),
        reserves_per_second: acknowledged as f64 / elapsed.as_secs_f64(),
        p50_ms: ms(recorder.quantile(0.5)),
        p99_ms: ms(recorder.quantile(0.99)),
        max_ms: ms(recorder.quantile(1.0)),
        left_on_sale: left,
        verdict: verdict.into(),
    }
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// How long to wait for a freshly started etcd cluster to take its first write.
const ETCD_READY_WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// etcd

fn put(key: Vec<u8>, value: Vec<u8>) -> etcdserverpb::RequestOp {
    etcdserverpb::RequestOp {
        request: Some(request_op::Request::RequestPut(etcdserverpb::PutRequest { key, value, lease: 0 })),
    }
}

fn range(key: Vec<u8>) -> etcdserverpb::RangeRequest {
    etcdserverpb::RangeRequest { key, ..etcdserverpb::RangeRequest::default() }
}

/// (units, mod revision) of the stock key in a range answer.
fn stock_of(kvs: &[etcdserverpb::KeyValue]) -> Result<(u32, i64), Failure> {
    let kv = kvs.first().ok_or("the stock key is missing")?;
    Ok((std::str::from_utf8(&kv.value)?.parse()?, kv.mod_revision))
}

pub async fn etcd_hot(endpoints: &[String], units: u32, buyers: usize, run: &str) -> Result<PeerReport, Failure> {
    let channels: Vec<Channel> = endpoints
        .iter()
        .map(|e| Ok(Endpoint::from_shared(format!("http://{e}"))?.connect_lazy()))
        .collect::<Result<_, tonic::transport::Error>>()?;
    let stock_key = format!("stockbench/{run}/stock").into_bytes();
    let mut kv = KvClient::new(channels[0].clone());
    let set_up = etcdserverpb::TxnRequest {
        success: vec![put(stock_key.clone(), units.to_string().into_bytes())],
        ..Default::default()
    };
    // A cluster just started may still be electing its first leader.
    let deadline = Instant::now() + ETCD_READY_WAIT;
    while let Err(status) = kv.txn(set_up.clone()).await {
        if Instant::now() > deadline {
            return Err(format!("etcd at {endpoints:?} is not ready after {ETCD_READY_WAIT:?}: {status}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..buyers)
        .map(|id| {
            let kv = KvClient::new(channels[id % channels.len()].clone());
            let (stock_key, run) = (stock_key.clone(), run.to_string());
            tokio::spawn(async move { etcd_buyer(kv, stock_key, run, id, started).await })
        })
        .collect();
    let (mut recorder, mut retries) = (Recorder::default(), 0);
    for task in tasks {
        let (r, n) = task.await??;
        recorder.merge(r);
        retries += n;
    }
    let elapsed = started.elapsed();
    let (left, _) = stock_of(&kv.range(range(stock_key)).await?.into_inner().kvs)?;
    let holds = etcdserverpb::RangeRequest {
        key: format!("stockbench/{run}/hold/").into_bytes(),
        range_end: format!("stockbench/{run}/hold0").into_bytes(),
        count_only: true,
        ..Default::default()
    };
    let held = kv.range(holds).await?.into_inner().count as u64;
    let mut report = report("etcd", units, buyers, recorder, retries, elapsed, u64::from(left));
    if held != report.acknowledged {
        report.verdict = format!("{} acknowledged but {held} hold keys", report.acknowledged);
    }
    Ok(report)
}

async fn etcd_buyer(
    mut kv: KvClient<Channel>,
    stock_key: Vec<u8>,
    run: String,
    id: usize,
    started: Instant,
) -> Result<(Recorder, u64), Failure> {
    let (mut recorder, mut retries) = (Recorder::default(), 0u64);
    let (mut units, mut revision) = stock_of(&kv.range(range(stock_key.clone())).await?.into_inner().kvs)?;
    let mut sequence = 0u64;
    while units > 0 {
        sequence += 1;
        let hold_key = format!("stockbench/{run}/hold/{id}-{sequence}").into_bytes();
        let reserve_started = Instant::now();
        loop {
            let txn = etcdserverpb::TxnRequest {
                compare: vec![etcdserverpb::Compare {
                    result: compare::CompareResult::Equal as i32,
                    target: compare::CompareTarget::Mod as i32,
                    key: stock_key.clone(),
                    target_union: Some(compare::TargetUnion::ModRevision(revision)),
                }],
                success: vec![
                    put(stock_key.clone(), (units - 1).to_string().into_bytes()),
                    put(hold_key.clone(), format!("buyer-{id}").into_bytes()),
                ],
                failure: vec![etcdserverpb::RequestOp {
                    request: Some(request_op::Request::RequestRange(range(stock_key.clone()))),
                }],
            };
            let answer = kv.txn(txn).await?.into_inner();
            if answer.succeeded {
                units -= 1;
                revision = answer.header.map_or(0, |h| h.revision);
                recorder.record(started.elapsed(), reserve_started.elapsed());
                break;
            }
            retries += 1;
            let Some(response_op::Response::ResponseRange(current)) =
                answer.responses.into_iter().next().and_then(|r| r.response)
            else {
                return Err("a failed compare did not return the key".into());
            };
            (units, revision) = stock_of(&current.kvs)?;
            if units == 0 {
                recorder.record_refused(reserve_started.elapsed());
                break;
            }
        }
    }
    Ok((recorder, retries))
}

// ---------------------------------------------------------------------------------------------
// Redis

/// Checks the stock, takes one unit and records the hold, atomically; -1 when sold out.
const RESERVE_SCRIPT: &str = r"
local units = tonumber(redis.call('GET', KEYS[1]) or '0')
if units <= 0 then return -1 end
redis.call('SET', KEYS[1], units - 1)
redis.call('SET', KEYS[2], ARGV[1])
return units - 1
";

/// How long an append-only-file rewrite of an emptied Redis may take.
const REDIS_REWRITE_WAIT: Duration = Duration::from_secs(60);

/// Empties Redis (every database: FLUSHALL) and rewrites its append-only file, so the next sale starts as on a fresh
/// server: with `appendfsync always` every write appends to that file, and a million-unit sale
/// left it hundreds of megabytes long, which slowed each run after it (118,090 -> 101,850 ->
/// 78,618 per s over three runs).
pub async fn redis_reset(address: &str) -> Result<(), Failure> {
    let client = redis::Client::open(format!("redis://{address}/"))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    // A rewrite Redis started on its own (the file doubled) must end before one can be asked.
    redis_rewrite_done(&mut connection).await?;
    redis::cmd("FLUSHALL").exec_async(&mut connection).await?;
    // Redis may start a rewrite of its own in between; that one rewrites the emptied data too.
    if let Err(e) = redis::cmd("BGREWRITEAOF").exec_async(&mut connection).await
        && !e.to_string().contains("already in progress")
    {
        return Err(e.into());
    }
    redis_rewrite_done(&mut connection).await
}

async fn redis_rewrite_done(connection: &mut redis::aio::MultiplexedConnection) -> Result<(), Failure> {
    let deadline = Instant::now() + REDIS_REWRITE_WAIT;
    loop {
        let info: String = redis::cmd("INFO").arg("persistence").query_async(connection).await?;
        let busy =
            info.lines().any(|line| matches!(line.trim(), "aof_rewrite_in_progress:1" | "aof_rewrite_scheduled:1"));
        if !busy {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the append-only file rewrite did not finish in 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The hot sale on Redis, the buyers sharing `connections` multiplexed connections (one is what
/// a service embedding redis-rs would use; one per buyer is what a pool of blocking clients
/// gives).
pub async fn redis_hot(
    address: &str,
    units: u32,
    buyers: usize,
    connections: usize,
    run: &str,
) -> Result<PeerReport, Failure> {
    let client = redis::Client::open(format!("redis://{address}/"))?;
    let stock_key = format!("stockbench:{run}:stock");
    let mut setup = client.get_multiplexed_async_connection().await?;
    redis::cmd("SET").arg(&stock_key).arg(units).exec_async(&mut setup).await?;
    let script = Arc::new(redis::Script::new(RESERVE_SCRIPT));
    let mut shared = Vec::with_capacity(connections);
    for _ in 0..connections.clamp(1, buyers) {
        shared.push(client.get_multiplexed_async_connection().await?);
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..buyers)
        .map(|id| {
            let mut connection = shared[id % shared.len()].clone();
            let (script, stock_key, run) = (script.clone(), stock_key.clone(), run.to_string());
            tokio::spawn(async move {
                let mut recorder = Recorder::default();
                for sequence in 0u64.. {
                    let reserve_started = Instant::now();
                    let left: i64 = script
                        .key(&stock_key)
                        .key(format!("stockbench:{run}:hold:{id}-{sequence}"))
                        .arg(format!("buyer-{id}"))
                        .invoke_async(&mut connection)
                        .await?;
                    if left < 0 {
                        recorder.record_refused(reserve_started.elapsed());
                        break;
                    }
                    recorder.record(started.elapsed(), reserve_started.elapsed());
                }
                Ok::<_, redis::RedisError>(recorder)
            })
        })
        .collect();
    let mut recorder = Recorder::default();
    for task in tasks {
        recorder.merge(task.await??);
    }
    let elapsed = started.elapsed();
    let left: u64 = redis::cmd("GET").arg(&stock_key).query_async(&mut setup).await?;
    let mut report = report("redis", units, buyers, recorder, 0, elapsed, left);
    report.connections = shared.len();
    Ok(report)
}
