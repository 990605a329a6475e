//! A tower layer around the gRPC server that counts every call by method and status code and
//! records its latency: `stockraft_rpc_requests_total{method, code}` and
//! `stockraft_rpc_duration_seconds{method}`.
//!
//! Latency is until the response headers: the whole call for unary RPCs; for streams
//! (`WatchAvailability`, snapshot transfer) the time to accept them.
//!
//! The method label is the gRPC path when it names a method this node serves, and `unknown`
//! otherwise, so that a client sending made-up paths cannot create unbounded series.

use super::prometheus::{RPC_REQUESTS, RPC_SECONDS};
use http::{Request, Response};
use metrics::{counter, histogram};
use prost::Message;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

/// Internal and standard services served beside the public ones (their descriptors are not in
/// `stockraft_proto::FILE_DESCRIPTOR_SET`).
const OTHER_METHODS: [&str; 10] = [
    "/stockraft.raft.v1.RaftTransport/AppendEntries",
    "/stockraft.raft.v1.RaftTransport/StreamAppend",
    "/stockraft.raft.v1.RaftTransport/Vote",
    "/stockraft.raft.v1.RaftTransport/PreVote",
    "/stockraft.raft.v1.RaftTransport/InstallSnapshot",
    "/stockraft.raft.v1.RaftTransport/TransferLeader",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// Every method path this node serves, as label values that live for the whole process.
static METHODS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    let mut methods: HashSet<&'static str> = OTHER_METHODS.into_iter().collect();
    let set = prost_types::FileDescriptorSet::decode(stockraft_proto::FILE_DESCRIPTOR_SET)
        .expect("the compiled-in descriptor set decodes");
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                methods.insert(Box::leak(path.into_boxed_str()));
            }
        }
    }
    methods
});

/// The label for a request path.
pub fn method_label(path: &str) -> &'static str {
    METHODS.get(path).copied().unwrap_or("unknown")
}

/// gRPC status codes 0 to 16 as label values (no allocation per call).
const CODES: [&str; 17] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"];

/// The gRPC status code of a response: in its headers when the call failed before any message
/// (a "trailers-only" response, how tonic answers every unary error); otherwise the call has
/// started well and its final status travels in trailers (counted as `0`, OK).
fn status_code<B>(response: &Response<B>) -> &'static str {
    match response.headers().get("grpc-status") {
        None => CODES[0],
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .and_then(|code| CODES.get(code).copied())
            .unwrap_or("other"),
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RpcMetricsLayer;

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> RpcMetrics<S> {
        RpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for RpcMetrics<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = method_label(request.uri().path());
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            let code = match &answer {
                Ok(response) => status_code(response),
                Err(_) => "transport",
            };
            counter!(RPC_REQUESTS, "method" => method, "code" => code).increment(1);
            histogram!(RPC_SECONDS, "method" => method).record(started.elapsed().as_secs_f64());
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_methods_are_labelled_by_path_and_anything_else_is_unknown() {
        assert_eq!(method_label("/stockraft.v1.Inventory/Reserve"), "/stockraft.v1.Inventory/Reserve");
        assert_eq!(method_label("/stockraft.v1.Cluster/Status"), "/stockraft.v1.Cluster/Status");
        assert_eq!(method_label("/stockraft.raft.v1.RaftTransport/Vote"), "/stockraft.raft.v1.RaftTransport/Vote");
        assert_eq!(method_label("/stockraft.v1.Inventory/Nope"), "unknown");
        assert_eq!(method_label("/../../etc/passwd"), "unknown");
    }
}
