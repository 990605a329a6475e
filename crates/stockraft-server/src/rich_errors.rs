//! A tower layer that gives every error status stockd sends the standard rich detail
//! (`stockraft_proto::errors`), also those that tonic writes itself before a handler runs or
//! that a handler returns bare:
//!
//! - bytes that do not decode as the method's request: tonic says INTERNAL, which tells a
//!   client the server failed; it is the caller's fault, so INVALID_ARGUMENT;
//! - a request over `limits.message_bytes_max`: tonic says OUT_OF_RANGE; every other gRPC
//!   server (C core, Go, Java) says RESOURCE_EXHAUSTED, here with LIMIT_EXCEEDED naming the
//!   limit and its value;
//! - an unknown method: UNIMPLEMENTED with an empty message; now it names the path;
//! - anything else without a detail keeps its code and gets the reason that code stands for
//!   (UNAVAILABLE for transient codes, so clients retry it with the same request id).
//!
//! It rewrites the status wherever it travels: in the headers of a trailers-only response
//! (how tonic answers every failed unary call and every call refused before its first
//! message), and in the trailers of a stream that has already sent messages (a watch that
//! fails on its way, or a reply tonic cannot encode). Statuses that already carry a detail
//! are left as they are.

use http::{HeaderMap, Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use stockraft_proto::errors::{refusal, resource_exhausted};
use stockraft_proto::v1::Reason;
use tonic::{Code, Status};
use tower::{Layer, Service};

const GRPC_STATUS: &str = "grpc-status";
const GRPC_MESSAGE: &str = "grpc-message";
const GRPC_DETAILS: &str = "grpc-status-details-bin";

#[derive(Clone, Copy, Debug)]
pub struct RichErrorsLayer {
    /// `limits.message_bytes_max`, named in the refusal of an oversized request.
    pub message_bytes_max: usize,
}

impl<S> Layer<S> for RichErrorsLayer {
    type Service = RichErrors<S>;

    fn layer(&self, inner: S) -> RichErrors<S> {
        RichErrors { inner, message_bytes_max: self.message_bytes_max }
    }
}

#[derive(Clone, Debug)]
pub struct RichErrors<S> {
    inner: S,
    message_bytes_max: usize,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for RichErrors<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = Response<RichBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RichBody<RB>>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // A Uri clone shares its bytes: no copy on the path of a call that succeeds.
        let uri = request.uri().clone();
        let message_bytes_max = self.message_bytes_max;
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            complete(response.headers_mut(), &uri, message_bytes_max);
            Ok(response.map(|inner| RichBody { inner, uri, message_bytes_max }))
        })
    }
}

/// A response body whose trailers, if they close the call with a bare error, are rewritten
/// as a trailers-only response's headers are.
#[derive(Debug)]
pub struct RichBody<B> {
    inner: B,
    uri: Uri,
    message_bytes_max: usize,
}

impl<B: Body + Unpin> Body for RichBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(match frame.into_trailers() {
                Ok(mut trailers) => {
                    complete(&mut trailers, &this.uri, this.message_bytes_max);
                    Frame::trailers(trailers)
                }
                Err(data) => data,
            }))),
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Rewrites an error status (in a trailers-only response's headers, or in trailers) that
/// carries no detail into its standard form.
fn complete(headers: &mut HeaderMap, uri: &Uri, message_bytes_max: usize) {
    let failed = headers.get(GRPC_STATUS).is_some_and(|code| code.as_bytes() != b"0");
    if !failed || headers.contains_key(GRPC_DETAILS) {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else { return };
    let standard = standard(&status, uri.path(), message_bytes_max);
    headers.remove(GRPC_STATUS);
    headers.remove(GRPC_MESSAGE);
    if let Err(e) = standard.add_header(headers) {
        // Only a message that cannot be a header value fails here; ours are plain text.
        tracing::error!(error = %e, "could not write a status");
        let _ = status.add_header(headers);
    }
}

/// The standard form of a status that came without a detail.
pub fn standard(status: &Status, path: &str, message_bytes_max: usize) -> Status {
    let message = status.message();
    match status.code() {
        Code::Internal if message.starts_with("failed to decode Protobuf message") => refusal(
            Reason::InvalidArgument,
            format!("the request to {path} is not a valid protobuf message of its type ({message})"),
        ),
        // tonic's encoder: the reply, not the request, is over the limit. A write was applied
        // before its reply was encoded, so the outcome is unknown to the caller, and the same
        // request id would get the same reply: the code stays (not retryable), with no reason.
        Code::OutOfRange if message.contains("encoded message length too large") => {
            let detail = stockraft_proto::v1::ErrorDetail {
                reason: Reason::Unspecified as i32,
                message: format!(
                    "the reply of {path} is larger than this node sends ({message}); a write may have \
                     taken effect: read its result back (GetHold, QueryLedger) instead of retrying"
                ),
                ..stockraft_proto::v1::ErrorDetail::default()
            };
            stockraft_proto::errors::status_with_detail(Code::OutOfRange, detail)
        }
        Code::OutOfRange if message.contains("decoded message length too large") => resource_exhausted(
            "limits.message_bytes_max",
            message_bytes_max as u64,
            format!("the request to {path} is larger than this node accepts ({message_bytes_max} bytes)"),
        ),
        Code::Unimplemented => refusal(
            Reason::Unimplemented,
            if message.is_empty() {
                format!("no method {path} on this server (server reflection lists the ones there are)")
            } else {
                format!("{path}: {message}")
            },
        ),
        code => {
            let reason = match code {
                Code::InvalidArgument | Code::OutOfRange => Reason::InvalidArgument,
                Code::NotFound => Reason::NotFound,
                Code::AlreadyExists => Reason::AlreadyExists,
                Code::Unauthenticated => Reason::Unauthenticated,
                Code::PermissionDenied => Reason::NotPermitted,
                Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded | Code::Aborted => Reason::Unavailable,
                // Unknown, Internal, DataLoss, FailedPrecondition and ResourceExhausted without a
                // stockd reason: the server failed, and the outcome of the call is unknown.
                _ => Reason::Unspecified,
            };
            let message = if message.is_empty() { format!("{path} failed: {code}") } else { message.to_string() };
            let detail = stockraft_proto::v1::ErrorDetail {
                reason: reason as i32,
                message,
                ..stockraft_proto::v1::ErrorDetail::default()
            };
            // The code stays: a client's retry rules key on it.
            stockraft_proto::errors::status_with_detail(code, detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stockraft_proto::errors::{error_detail, reason};

    const PATH: &str = "/stockraft.v1.Inventory/Reserve";

    #[test]
    fn undecodable_bytes_are_the_callers_fault() {
        let tonic = Status::internal("failed to decode Protobuf message: invalid wire type value: 7");
        let status = standard(&tonic, PATH, 1 << 20);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason(&status), Reason::InvalidArgument);
        assert!(
            status.message().contains(PATH) && status.message().contains("invalid wire type"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn an_oversized_request_names_the_limit() {
        let tonic = Status::out_of_range(
            "Error, decoded message length too large: found 2000000 bytes, the limit is: 1048576 bytes",
        );
        let status = standard(&tonic, PATH, 1_048_576);
        assert_eq!(status.code(), Code::ResourceExhausted);
        let detail = error_detail(&status).unwrap();
        assert_eq!(
            (detail.reason, detail.limit.as_str(), detail.allowed),
            (Reason::LimitExceeded as i32, "limits.message_bytes_max", 1_048_576)
        );
    }

    #[test]
    fn an_oversized_reply_is_not_blamed_on_the_request() {
        let tonic = Status::out_of_range(
            "Error, encoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        );
        let status = standard(&tonic, "/stockraft.v1.Inventory/ReserveBatch", 1_048_576);
        assert_eq!((status.code(), reason(&status)), (Code::OutOfRange, Reason::Unspecified));
        assert!(status.message().contains("may have taken effect"), "{}", status.message());
    }

    #[test]
    fn an_unknown_method_is_named() {
        let status = standard(&Status::unimplemented(""), "/stockraft.v1.Inventory/Nope", 1 << 20);
        assert_eq!(status.code(), Code::Unimplemented);
        assert_eq!(reason(&status), Reason::Unimplemented);
        assert!(status.message().contains("/stockraft.v1.Inventory/Nope"));
    }

    #[test]
    fn other_bare_statuses_keep_their_code_and_get_its_reason() {
        let status = standard(&Status::cancelled("Timeout expired"), PATH, 1 << 20);
        assert_eq!((status.code(), reason(&status)), (Code::Cancelled, Reason::Unavailable));
        let status = standard(&Status::internal("storage answered out of shape"), PATH, 1 << 20);
        assert_eq!((status.code(), reason(&status)), (Code::Internal, Reason::Unspecified));
        assert_eq!(status.message(), "storage answered out of shape");
    }

    #[test]
    fn headers_are_rewritten_only_for_a_bare_error() {
        let uri: Uri = PATH.parse().unwrap();
        let mut ok = HeaderMap::new();
        ok.insert(GRPC_STATUS, "0".parse().unwrap());
        complete(&mut ok, &uri, 1 << 20);
        assert!(!ok.contains_key(GRPC_DETAILS));

        let mut bare = Status::unimplemented("").into_http::<()>().into_parts().0.headers;
        complete(&mut bare, &uri, 1 << 20);
        let rewritten = Status::from_header_map(&bare).unwrap();
        assert_eq!(rewritten.code(), Code::Unimplemented);
        assert_eq!(reason(&rewritten), Reason::Unimplemented);

        let own = refusal(Reason::OutOfStock, "sold out");
        let mut headers = own.clone().into_http::<()>().into_parts().0.headers;
        let before = headers.clone();
        complete(&mut headers, &uri, 1 << 20);
        assert_eq!(headers, before, "a status that has its detail is left alone");
    }

    /// A stream body: two messages, then trailers.
    struct Stream(Vec<Frame<&'static [u8]>>);

    impl Body for Stream {
        type Data = &'static [u8];
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<&'static [u8]>, Self::Error>>> {
            Poll::Ready(if self.0.is_empty() { None } else { Some(Ok(self.0.remove(0))) })
        }
    }

    fn frames(trailers: HeaderMap) -> Vec<Frame<&'static [u8]>> {
        let mut body = RichBody {
            inner: Stream(vec![Frame::data(&b"one"[..]), Frame::data(&b"two"[..]), Frame::trailers(trailers)]),
            uri: "/stockraft.v1.Inventory/WatchAvailability".parse().unwrap(),
            message_bytes_max: 1 << 20,
        };
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            out.push(frame);
        }
        out
    }

    #[test]
    fn a_stream_that_fails_on_its_way_closes_with_the_rich_status() {
        let bare = Status::unavailable("").into_http::<()>().into_parts().0.headers;
        let out = frames(bare);
        assert_eq!(out.len(), 3, "the messages pass untouched, then the trailers");
        assert_eq!(out[0].data_ref(), Some(&&b"one"[..]));
        let trailers = out[2].trailers_ref().expect("trailers last");
        let status = Status::from_header_map(trailers).unwrap();
        assert_eq!((status.code(), reason(&status)), (Code::Unavailable, Reason::Unavailable));
        assert!(status.message().contains("WatchAvailability"), "{}", status.message());

        let mut ok = HeaderMap::new();
        ok.insert(GRPC_STATUS, "0".parse().unwrap());
        let out = frames(ok.clone());
        assert_eq!(out[2].trailers_ref(), Some(&ok), "a stream that ends well keeps its trailers");
    }
}
