//! The Raft transport, sending side: openraft's RPCs to peers over the `RaftTransport` gRPC
//! service, one shared channel per peer (see [`super::peers`]).
//!
//! Messages are openraft's own types, postcard-encoded into `RaftPayload.data`. Every RPC has a
//! deadline: openraft's hard TTL for appends and votes, and a size-scaled one for snapshots.
//! A peer that refuses connections is `Unreachable` (openraft backs off); any other failure is
//! a `Network` error (openraft retries at once).

use super::peers::Peers;
use crate::limits::{
    PEER_ANSWER_WAIT, PEER_STREAM_RETRY_AFTER, SNAPSHOT_BYTES_PER_SECOND, SNAPSHOT_CHUNK_BYTES, SNAPSHOT_TIMEOUT_BASE,
};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, stream_append_sequential, v2::RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;
use stockraft_proto::raft::raft_transport_client::RaftTransportClient;
use stockraft_proto::raft::{RaftPayload, SnapshotChunk};
use stockraft_storage::{SnapshotData, TypeConfig, Vote};
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;

type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("openraft messages always encode")
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// Creates a [`PeerClient`] per replication stream; all share [`Peers`]' channels.
#[derive(Clone)]
pub struct NetworkFactory {
    pub id: u64,
    pub peers: Peers,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        PeerClient {
            id: self.id,
            target,
            channel: self.peers.channel(&node.addr).map_err(|e| e.to_string()),
            peers: self.peers.clone(),
            sequential_until: None,
        }
    }
}

pub struct PeerClient {
    id: u64,
    target: u64,
    /// An invalid peer address is reported on every RPC (as unreachable) rather than panicking.
    channel: Result<Channel, String>,
    /// Signs each message with the peer token (when auth is on).
    peers: Peers,
    /// Set when the peer answered `StreamAppend` with UNIMPLEMENTED (a node of an older version,
    /// met during a rolling upgrade): until then appends go one unary call at a time.
    sequential_until: Option<Instant>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(String);

/// A failed transport call as openraft's error: a deadline is a timeout, a refused connection
/// unreachable (openraft backs off), anything else a network error (openraft retries).
fn rpc_error(id: u64, target: u64, action: RPCTypes, timeout: Duration, status: tonic::Status) -> RPCError<TypeConfig> {
    match status.code() {
        Code::DeadlineExceeded | Code::Cancelled => RPCError::Timeout(Timeout { action, id, target, timeout }),
        Code::Unavailable => RPCError::Unreachable(Unreachable::new(&TransportError(status.message().into()))),
        _ => RPCError::Network(NetworkError::new(&TransportError(format!("{}: {}", status.code(), status.message())))),
    }
}

fn undecodable(e: postcard::Error) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(&TransportError(format!("undecodable reply: {e}"))))
}

impl PeerClient {
    fn client(&self) -> Result<RaftTransportClient<Channel>, RPCError<TypeConfig>> {
        match &self.channel {
            Ok(channel) => Ok(RaftTransportClient::new(channel.clone())),
            Err(e) => Err(RPCError::Unreachable(Unreachable::new(&TransportError(e.clone())))),
        }
    }

    fn error(&self, action: RPCTypes, timeout: Duration, status: tonic::Status) -> RPCError<TypeConfig> {
        rpc_error(self.id, self.target, action, timeout, status)
    }

    /// One unary RPC: encode, send with a deadline, decode.
    async fn unary<Req, Resp, F, Fut>(
        &self,
        action: RPCTypes,
        request: &Req,
        timeout: Duration,
        call: F,
    ) -> Result<Resp, RPCError<TypeConfig>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        F: FnOnce(RaftTransportClient<Channel>, tonic::Request<RaftPayload>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<RaftPayload>, tonic::Status>>,
    {
        let mut message = tonic::Request::new(RaftPayload { data: encode(request) });
        message.set_timeout(timeout);
        self.peers.authorize(message.metadata_mut());
        let reply = call(self.client()?, message).await.map_err(|s| self.error(action, timeout, s))?;
        decode(&reply.get_ref().data).map_err(undecodable)
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(
            RPCTypes::AppendEntries,
            &rpc,
            option.hard_ttl(),
            |mut c, m| async move { c.append_entries(m).await },
        )
        .await
    }

    /// Appends pipelined over one bidirectional gRPC stream: openraft's replication task sends
    /// the next batch while the follower is still writing the one before, and the follower
    /// answers in order (HTTP/2 keeps a stream's messages in order). The stream ends when
    /// openraft ends its input, at the first error, or when an answer is [`PEER_ANSWER_WAIT`]
    /// late; openraft then starts another. (openraft's own TTL, the heartbeat interval, is for
    /// one call: used per answer it cut streams whenever a follower's fsync ran long.)
    ///
    /// A peer that does not know the stream (UNIMPLEMENTED: an older stockd, mid rolling
    /// upgrade) fails this one stream, and for [`PEER_STREAM_RETRY_AFTER`] its appends go as
    /// openraft's sequential unary calls, which every version serves; then the stream is tried
    /// again, so an upgraded peer is pipelined again without a restart.
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        _option: RPCOption,
    ) -> BoxFuture<
        's,
        Result<BoxStream<'s, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>, RPCError<TypeConfig>>,
    >
    where
        S: Stream<Item = AppendEntriesRequest<TypeConfig>> + OptionalSend + Unpin + 'static,
    {
        if self.sequential_until.is_some_and(|until| Instant::now() < until) {
            // Each unary append gets PEER_ANSWER_WAIT, as each answer on the stream does:
            // openraft's TTL (the heartbeat) would cut appends a loaded follower is still writing.
            return stream_append_sequential(self, input, RPCOption::new(PEER_ANSWER_WAIT));
        }
        Box::pin(async move {
            let (id, target) = (self.id, self.target);
            let failed = move |status| rpc_error(id, target, RPCTypes::AppendEntries, PEER_ANSWER_WAIT, status);
            // The connection opens only once openraft has an append to send. openraft applies
            // its backoff after an unreachable peer while producing that append, so waiting for
            // it first is what makes the backoff hold: opened at once, a dead peer's refused
            // connection came back in microseconds and the leader retried in a hot loop
            // (some 3,300 attempts and two warnings each per second per dead peer).
            let mut input = input;
            let Some(first) = input.next().await else {
                return Ok(stream::empty().boxed());
            };
            let input = stream::iter([first]).chain(input);
            let mut client = self.client()?;
            // When each unanswered append was sent, oldest first: an answer is late
            // PEER_ANSWER_WAIT after its own send, however long the stream sat idle before.
            let sent_at: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
            let sent = sent_at.clone();
            // The appends end when the answers do (an error, a late answer, openraft dropping
            // them): an orphaned request half would keep taking batches from openraft's
            // replication state beside the next session's stream.
            let (stop, stopped) = oneshot::channel::<()>();
            let appends = input.take_until(stopped).map(move |rpc| {
                sent.lock().unwrap_or_else(|p| p.into_inner()).push_back(Instant::now());
                RaftPayload { data: encode(&rpc) }
            });
            let mut request = tonic::Request::new(appends);
            self.peers.authorize(request.metadata_mut());
            let opened = tokio::time::timeout(PEER_ANSWER_WAIT, client.stream_append(request))
                .await
                .map_err(|_| failed(tonic::Status::deadline_exceeded("the append stream did not open")))?;
            let answers = match opened {
                Ok(answers) => answers.into_inner(),
                Err(status) if status.code() == Code::Unimplemented => {
                    tracing::warn!(
                        target_node = target,
                        "peer does not serve StreamAppend; appending one call at a time"
                    );
                    self.sequential_until = Some(Instant::now() + PEER_STREAM_RETRY_AFTER);
                    return Err(failed(status));
                }
                Err(status) => return Err(failed(status)),
            };
            let answers = stream::unfold(Some((answers, stop)), move |state| {
                let sent_at = sent_at.clone();
                async move {
                    let (mut answers, stop) = state?;
                    loop {
                        let oldest = sent_at.lock().unwrap_or_else(|p| p.into_inner()).front().copied();
                        // Nothing owed: an idle stream waits for entries (re-checking the queue).
                        let deadline = oldest.unwrap_or_else(Instant::now) + PEER_ANSWER_WAIT;
                        match tokio::time::timeout_at(deadline.into(), answers.message()).await {
                            Ok(Ok(Some(payload))) => {
                                sent_at.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                                return Some(match decode(&payload.data) {
                                    Ok(answer) => (Ok(answer), Some((answers, stop))),
                                    Err(e) => (Err(undecodable(e)), None),
                                });
                            }
                            Ok(Ok(None)) => return None,
                            Ok(Err(status)) => return Some((Err(failed(status)), None)),
                            Err(_) if oldest.is_some() => {
                                let late = tonic::Status::deadline_exceeded("an append went unanswered");
                                return Some((Err(failed(late)), None));
                            }
                            Err(_) => continue,
                        }
                    }
                }
            });
            Ok(answers.boxed())
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(RPCTypes::Vote, &rpc, option.hard_ttl(), |mut c, m| async move { c.vote(m).await }).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(RPCTypes::Vote, &rpc, option.hard_ttl(), |mut c, m| async move { c.pre_vote(m).await }).await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(
            RPCTypes::TransferLeader,
            &req,
            option.hard_ttl(),
            |mut c, m| async move { c.transfer_leader(m).await },
        )
        .await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let mut client = self.client().map_err(|e| match e {
            RPCError::Unreachable(u) => StreamingError::Unreachable(u),
            other => StreamingError::Network(NetworkError::new(&other)),
        })?;
        let bytes = snapshot.snapshot.len();
        let timeout = SNAPSHOT_TIMEOUT_BASE + Duration::from_secs(bytes as u64 / SNAPSHOT_BYTES_PER_SECOND);
        let header = encode(&(vote, snapshot.meta));
        let data = snapshot.snapshot;
        // Chunk 0 carries the header (and may be the only chunk, for an empty image).
        let chunks = data.len().div_ceil(SNAPSHOT_CHUNK_BYTES).max(1);
        let messages = (0..chunks).map(move |n| {
            let body =
                &data[(n * SNAPSHOT_CHUNK_BYTES).min(data.len())..((n + 1) * SNAPSHOT_CHUNK_BYTES).min(data.len())];
            SnapshotChunk { header: if n == 0 { header.clone() } else { Vec::new() }, data: body.to_vec() }
        });
        let mut request = tonic::Request::new(stream::iter(messages));
        request.set_timeout(timeout);
        self.peers.authorize(request.metadata_mut());
        let sent = client.install_snapshot(request);
        let reply = tokio::select! {
            reply = sent => reply,
            closed = cancel => return Err(StreamingError::Closed(closed)),
        };
        let reply = reply.map_err(|status| match self.error(RPCTypes::InstallSnapshot, timeout, status) {
            RPCError::Timeout(t) => StreamingError::Timeout(t),
            RPCError::Unreachable(u) => StreamingError::Unreachable(u),
            RPCError::Network(n) => StreamingError::Network(n),
            RPCError::RemoteError(r) => StreamingError::Network(NetworkError::new(&r)),
        })?;
        tracing::info!(target = self.target, bytes, "snapshot sent");
        decode(&reply.get_ref().data)
            .map_err(|e| StreamingError::Network(NetworkError::new(&TransportError(format!("undecodable reply: {e}")))))
    }
}

#[cfg(test)]
mod tests {
    //! A leader meeting a follower of an older version, which serves only unary appends.

    use super::*;
    use futures_util::stream;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use stockraft_proto::raft::raft_transport_server::{RaftTransport, RaftTransportServer};
    use tonic::{Request, Response, Status, Streaming};

    /// A peer from before `StreamAppend`: unary appends answer Success, the stream is unknown.
    #[derive(Clone, Default)]
    struct OldPeer {
        unary_appends: Arc<AtomicUsize>,
    }

    type Answers = Pin<Box<dyn Stream<Item = Result<RaftPayload, Status>> + Send>>;

    #[tonic::async_trait]
    impl RaftTransport for OldPeer {
        type StreamAppendStream = Answers;

        async fn stream_append(&self, _: Request<Streaming<RaftPayload>>) -> Result<Response<Answers>, Status> {
            Err(Status::unimplemented("unknown method StreamAppend"))
        }
        async fn append_entries(&self, _: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
            self.unary_appends.fetch_add(1, Ordering::SeqCst);
            Ok(Response::new(RaftPayload { data: encode(&AppendEntriesResponse::<TypeConfig>::Success) }))
        }
        async fn vote(&self, _: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }
        async fn pre_vote(&self, _: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }
        async fn transfer_leader(&self, _: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }
        async fn install_snapshot(
            &self,
            _: Request<Streaming<SnapshotChunk>>,
        ) -> Result<Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }
    }

    fn heartbeat() -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest { vote: Vote::new(1, 1), prev_log_id: None, entries: vec![], leader_commit: None }
    }

    #[tokio::test]
    async fn a_follower_without_the_stream_gets_its_appends_one_call_at_a_time() {
        let peer = OldPeer::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tonic::transport::Server::builder()
            .add_service(RaftTransportServer::new(peer.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        let peers = Peers::default();
        let mut client = NetworkFactory { id: 1, peers }.new_client(2, &BasicNode::new(address)).await;
        let option = RPCOption::new(Duration::from_secs(1));

        // The first stream is refused: openraft sees one failed replication attempt.
        let refused = client.stream_append(stream::iter(vec![heartbeat()]), option.clone()).await.map(|_| ());
        assert!(matches!(refused, Err(RPCError::Network(_))), "the stream must fail, not hang: {refused:?}");
        assert!(client.sequential_until.is_some(), "the refusal is remembered");

        // The retry goes as unary appends, and every one is answered.
        let answers: Vec<_> =
            client.stream_append(stream::iter(vec![heartbeat(), heartbeat()]), option).await.unwrap().collect().await;
        assert_eq!(answers.len(), 2);
        assert!(answers.iter().all(|answer| matches!(answer, Ok(Ok(_)))), "{answers:?}");
        assert_eq!(peer.unary_appends.load(Ordering::SeqCst), 2);
    }
}
