//! The Raft transport, receiving side: hands peers' RPCs to the local openraft node.

use super::network::{decode, encode};
use crate::limits::SNAPSHOT_BYTES_MAX;
use crate::proposer::StockRaft;
use futures_util::{Stream, StreamExt, future};
use openraft::storage::Snapshot;
use std::pin::Pin;
use stockraft_proto::raft::raft_transport_server::RaftTransport;
use stockraft_proto::raft::{RaftPayload, SnapshotChunk};
use stockraft_storage::{SnapshotMeta, Vote};
use tonic::{Request, Response, Status, Streaming};

pub struct RaftService {
    pub raft: StockRaft,
}

fn bad_payload(e: postcard::Error) -> Status {
    Status::invalid_argument(format!("undecodable Raft message: {e}"))
}

fn fatal(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("raft node stopped: {e}"))
}

fn reply<T: serde::Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    Ok(Response::new(RaftPayload { data: encode(value) }))
}

/// The answers to a pipelined append stream, one per append, in order.
type Answers = Pin<Box<dyn Stream<Item = Result<RaftPayload, Status>> + Send>>;

#[tonic::async_trait]
impl RaftTransport for RaftService {
    type StreamAppendStream = Answers;

    /// Hands the leader's appends to openraft as they arrive; openraft answers each once it is
    /// flushed. The stream of appends ends at the first message that fails to arrive or decode
    /// (the appends before it are still answered), and the leader starts a new stream.
    async fn stream_append(&self, request: Request<Streaming<RaftPayload>>) -> Result<Response<Answers>, Status> {
        let appends = request.into_inner().scan((), |_, message| {
            let rpc = message.and_then(|m| decode(&m.data).map_err(bad_payload));
            future::ready(match rpc {
                Ok(rpc) => Some(rpc),
                Err(status) => {
                    tracing::warn!(%status, "append stream from the leader ended");
                    None
                }
            })
        });
        let answers = self.raft.stream_append(appends).map(|answer| match answer {
            Ok(result) => Ok(RaftPayload { data: encode(&result) }),
            Err(e) => Err(fatal(e)),
        });
        Ok(Response::new(Box::pin(answers)))
    }

    async fn append_entries(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&request.get_ref().data).map_err(bad_payload)?;
        reply(&self.raft.append_entries(rpc).await.map_err(fatal)?)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&request.get_ref().data).map_err(bad_payload)?;
        reply(&self.raft.vote(rpc).await.map_err(fatal)?)
    }

    async fn pre_vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&request.get_ref().data).map_err(bad_payload)?;
        reply(&self.raft.pre_vote(rpc).await.map_err(fatal)?)
    }

    async fn transfer_leader(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&request.get_ref().data).map_err(bad_payload)?;
        reply(&self.raft.handle_transfer_leader(rpc).await.map_err(fatal)?)
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<RaftPayload>, Status> {
        let mut chunks = request.into_inner();
        let first = chunks.next().await.ok_or_else(|| Status::invalid_argument("empty snapshot stream"))??;
        let (vote, meta): (Vote, SnapshotMeta) = decode(&first.header).map_err(bad_payload)?;
        let mut data = first.data;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if data.len() + chunk.data.len() > SNAPSHOT_BYTES_MAX {
                return Err(Status::resource_exhausted(format!("snapshot larger than {SNAPSHOT_BYTES_MAX} bytes")));
            }
            data.extend_from_slice(&chunk.data);
        }
        tracing::info!(last_log_id = ?meta.last_log_id, bytes = data.len(), "snapshot received");
        let response = self.raft.install_full_snapshot(vote, Snapshot { meta, snapshot: data }).await.map_err(fatal)?;
        reply(&response)
    }
}
