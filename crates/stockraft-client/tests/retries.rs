//! Which failures the client retries (outcome still open) and which it reports as the
//! cluster's final answer.

use stockraft_client::v1::{ErrorDetail, Reason};
use stockraft_client::{handshake_refused, outcome_unknown, retryable};
use stockraft_proto::errors::{invalid_argument, status_with_detail, unavailable};
use tonic::{Code, Status};

#[test]
fn a_cut_connection_is_not_an_answer() {
    // What tonic reports when a partition resets the HTTP/2 connection mid-call: the call may
    // have been applied, so it must be retried (same request id), not reported as refused.
    // Regression: the chaos run reported an applied confirm as refused.
    assert!(retryable(&Status::internal("h2 protocol error: http2 error")));
    assert!(retryable(&Status::unknown("transport error")));
    // h2's rapid-reset defence tears the connection down (GOAWAY ENHANCE_YOUR_CALM); tonic
    // reports the calls on it as ResourceExhausted. Regression: reported as refused.
    assert!(retryable(&Status::resource_exhausted("h2 protocol error: http2 error")));
    assert!(retryable(&Status::new(Code::Unavailable, "connection refused")));
    assert!(retryable(&Status::deadline_exceeded("timeout")));
    assert!(retryable(&unavailable("no leader yet")));
}

#[test]
fn the_clusters_own_refusals_are_final() {
    let out_of_stock =
        ErrorDetail { reason: Reason::OutOfStock as i32, message: "sold out".into(), ..ErrorDetail::default() };
    assert!(!retryable(&status_with_detail(Code::FailedPrecondition, out_of_stock.clone())));
    // Even coded Internal or Unknown, a status with stockd's detail is stockd's answer.
    assert!(!retryable(&status_with_detail(Code::Internal, out_of_stock)));
    assert!(!retryable(&invalid_argument("quantity must be 1 or more")));
}

#[test]
fn a_server_failure_without_a_reason_is_open_and_a_reason_from_a_newer_server_is_final() {
    // The server failed without deciding (REASON_UNSPECIFIED): the outcome is open.
    let failed = ErrorDetail { reason: 0, message: "storage answered out of shape".into(), ..ErrorDetail::default() };
    assert!(retryable(&status_with_detail(Code::Internal, failed)));
    // A reason this build does not know is still the server's decision, not an open outcome.
    let newer = ErrorDetail { reason: 99, message: "a refusal of a newer server".into(), ..ErrorDetail::default() };
    assert!(!retryable(&status_with_detail(Code::ResourceExhausted, newer)));
}

#[test]
fn a_reply_too_large_to_deliver_is_an_unknown_outcome_not_a_refusal() {
    // The server's encoder refused the reply (stockd says so, reason UNSPECIFIED), or this
    // client's decoder did (tonic, no detail): the write may have been applied, and the same
    // request id would meet the same reply. Regression: reported as Rejected, which stockbench
    // panicked on and the chaos checkers counted as a refusal.
    let unsent = ErrorDetail { reason: 0, message: "a write may have taken effect".into(), ..ErrorDetail::default() };
    for status in [
        status_with_detail(Code::OutOfRange, unsent),
        Status::out_of_range("decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes"),
        Status::data_loss("storage answered out of shape"),
    ] {
        assert!(outcome_unknown(&status) && !retryable(&status), "{status:?}");
    }
    // OUT_OF_RANGE with stockd's reason is a refusal of the request (a quantity out of range).
    let refused = ErrorDetail { reason: Reason::InvalidArgument as i32, ..ErrorDetail::default() };
    assert!(!outcome_unknown(&status_with_detail(Code::OutOfRange, refused)));
    assert!(!outcome_unknown(&invalid_argument("quantity must be 1 or more")));
}

#[test]
fn only_a_handshake_refused_for_its_configuration_ends_the_retries_early() {
    // rustls's own words for a mistake of configuration: no retry mends them.
    assert!(handshake_refused("127.0.0.1:7001: Unavailable: invalid peer certificate: UnknownIssuer"));
    assert!(handshake_refused("received fatal alert: CertificateRequired"));
    // A connection cut mid-call or mid-handshake, as a partition cuts it, is retried as before.
    for cut in ["h2 protocol error: http2 error", "connection reset by peer", "broken pipe", "connection closed"] {
        assert!(!handshake_refused(cut), "{cut}");
    }
}
