//! A tower layer around the gRPC server that measures every call under the names and labels
//! gRPC dashboards expect (go-grpc-prometheus, grpc-ecosystem/java-grpc-prometheus):
//!
//! - `grpc_server_started_total{grpc_type, grpc_service, grpc_method}`, when a call arrives;
//! - `grpc_server_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}`, when it ends,
//!   with the code's name (`OK`, `InvalidArgument`, `Unavailable`, ...);
//! - `grpc_server_handling_seconds{grpc_type, grpc_service, grpc_method}`, arrival to end.
//!
//! A call ends with its status: in the response headers when it failed before any message (a
//! "trailers-only" response, how tonic answers every unary error), else in the trailers after
//! the last message. Streams are measured to their trailers too, so a watch that fails on its
//! way counts under its real code; one the client abandons counts as `Canceled`.
//!
//! `grpc_type` is `unary`, `client_stream`, `server_stream` or `bidi_stream`, from the
//! methods' descriptors. A path that names no method this node serves is counted under
//! `unknown`, so a client sending made-up paths cannot create unbounded series.

use super::prometheus::{GRPC_HANDLED, GRPC_SECONDS, GRPC_STARTED};
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use metrics::{counter, histogram};
use prost::Message;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

/// The Raft transport's methods (internal: its descriptors are not compiled in).
const RAFT_METHODS: [(&str, &str, Kind); 6] = [
    ("stockraft.raft.v1.RaftTransport", "AppendEntries", Kind::Unary),
    ("stockraft.raft.v1.RaftTransport", "StreamAppend", Kind::BidiStream),
    ("stockraft.raft.v1.RaftTransport", "Vote", Kind::Unary),
    ("stockraft.raft.v1.RaftTransport", "PreVote", Kind::Unary),
    ("stockraft.raft.v1.RaftTransport", "InstallSnapshot", Kind::ClientStream),
    ("stockraft.raft.v1.RaftTransport", "TransferLeader", Kind::Unary),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unary,
    ClientStream,
    ServerStream,
    BidiStream,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Unary => "unary",
            Kind::ClientStream => "client_stream",
            Kind::ServerStream => "server_stream",
            Kind::BidiStream => "bidi_stream",
        }
    }
}

/// A method's labels, alive for the whole process.
#[derive(Debug, PartialEq, Eq)]
pub struct Method {
    pub grpc_type: &'static str,
    pub grpc_service: &'static str,
    pub grpc_method: &'static str,
}

static UNKNOWN: Method = Method { grpc_type: "unknown", grpc_service: "unknown", grpc_method: "unknown" };

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Every method this node serves, by path: the public API, health, reflection (v1 and v1alpha)
/// from their descriptors, and the Raft transport.
static METHODS: LazyLock<HashMap<&'static str, Method>> = LazyLock::new(|| {
    let mut methods = HashMap::new();
    let mut add = |service: &str, method: &str, kind: Kind| {
        let path = leak(format!("/{service}/{method}"));
        let labels =
            Method { grpc_type: kind.label(), grpc_service: leak(service.into()), grpc_method: leak(method.into()) };
        methods.insert(path, labels);
    };
    for (service, method, kind) in RAFT_METHODS {
        add(service, method, kind);
    }
    for bytes in [
        stockraft_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ] {
        let set = prost_types::FileDescriptorSet::decode(bytes).expect("a compiled-in descriptor set decodes");
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let kind = match (method.client_streaming(), method.server_streaming()) {
                        (false, false) => Kind::Unary,
                        (true, false) => Kind::ClientStream,
                        (false, true) => Kind::ServerStream,
                        (true, true) => Kind::BidiStream,
                    };
                    add(&format!("{}.{}", file.package(), service.name()), method.name(), kind);
                }
            }
        }
    }
    methods
});

/// The labels for a request path.
pub fn method(path: &str) -> &'static Method {
    METHODS.get(path).unwrap_or(&UNKNOWN)
}

/// gRPC status codes 0 to 16 by the names gRPC's own libraries print (Go's `codes.Code`).
const CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// The code named by a `grpc-status` header, if `headers` carry one.
fn status_code(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?;
    let code = value.to_str().ok().and_then(|v| v.parse::<usize>().ok());
    Some(code.and_then(|code| CODES.get(code).copied()).unwrap_or("Unknown"))
}

/// One call being measured, until it ends.
#[derive(Debug)]
struct Call {
    method: &'static Method,
    started: Instant,
}

impl Call {
    fn start(method: &'static Method) -> Call {
        let m = method;
        counter!(GRPC_STARTED, "grpc_type" => m.grpc_type, "grpc_service" => m.grpc_service, "grpc_method" => m.grpc_method)
            .increment(1);
        Call { method, started: Instant::now() }
    }

    fn end(self, code: &'static str) {
        let m = self.method;
        counter!(
            GRPC_HANDLED,
            "grpc_type" => m.grpc_type,
            "grpc_service" => m.grpc_service,
            "grpc_method" => m.grpc_method,
            "grpc_code" => code
        )
        .increment(1);
        histogram!(GRPC_SECONDS, "grpc_type" => m.grpc_type, "grpc_service" => m.grpc_service, "grpc_method" => m.grpc_method)
            .record(self.started.elapsed().as_secs_f64());
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
    type Response = Response<MeteredBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<MeteredBody<RB>>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let call = Call::start(method(request.uri().path()));
        let answer = self.inner.call(request);
        Box::pin(async move {
            match answer.await {
                Ok(response) => {
                    // Trailers-only: the call ended in its headers.
                    let call = match status_code(response.headers()) {
                        Some(code) => {
                            call.end(code);
                            None
                        }
                        None => Some(call),
                    };
                    Ok(response.map(|inner| MeteredBody { inner, call }))
                }
                Err(e) => {
                    call.end("Unknown");
                    Err(e)
                }
            }
        })
    }
}

/// A response body that ends its call's measurement at the trailers (or, abandoned, on drop).
#[derive(Debug)]
pub struct MeteredBody<B> {
    inner: B,
    call: Option<Call>,
}

impl<B: Body + Unpin> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|t| status_code(t).unwrap_or("Unknown")),
            Poll::Ready(Some(Err(_))) => Some("Unknown"),
            // A gRPC body always ends with trailers; one that does not, ended badly.
            Poll::Ready(None) => Some("Unknown"),
            Poll::Pending => None,
        };
        if let Some(code) = ended
            && let Some(call) = this.call.take()
        {
            call.end(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MeteredBody<B> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.end("Canceled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_methods_are_labelled_by_service_method_and_type_and_anything_else_is_unknown() {
        let reserve = method("/stockraft.v1.Inventory/Reserve");
        assert_eq!(
            (reserve.grpc_service, reserve.grpc_method, reserve.grpc_type),
            ("stockraft.v1.Inventory", "Reserve", "unary")
        );
        assert_eq!(method("/stockraft.v1.Inventory/WatchAvailability").grpc_type, "server_stream");
        assert_eq!(method("/stockraft.v1.Cluster/SaveSnapshot").grpc_type, "server_stream");
        assert_eq!(method("/stockraft.raft.v1.RaftTransport/StreamAppend").grpc_type, "bidi_stream");
        assert_eq!(method("/grpc.health.v1.Health/Check").grpc_service, "grpc.health.v1.Health");
        assert_eq!(method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo").grpc_type, "bidi_stream");
        assert_eq!(method("/stockraft.v1.Inventory/Nope"), &UNKNOWN);
        assert_eq!(method("/../../etc/passwd"), &UNKNOWN);
    }

    #[test]
    fn codes_are_named_as_grpc_libraries_name_them() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_code(&headers), None);
        for (number, name) in [
            ("0", "OK"),
            ("1", "Canceled"),
            ("3", "InvalidArgument"),
            ("14", "Unavailable"),
            ("16", "Unauthenticated"),
            ("99", "Unknown"),
        ] {
            headers.insert("grpc-status", number.parse().unwrap());
            assert_eq!(status_code(&headers), Some(name));
        }
    }
}
