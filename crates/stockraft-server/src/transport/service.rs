//! The Raft transport, receiving side: hands peers' RPCs to the local openraft node.

use super::network::{decode, encode};
use crate::limits::SNAPSHOT_BYTES_MAX;
use crate::proposer::StockRaft;
use futures_util::StreamExt;
use openraft::storage::Snapshot;
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

#[tonic::async_trait]
impl RaftTransport for RaftService {
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
