//! Who may call what: bearer tokens by role, checked by a tower layer in front of every service
//! before a message is decoded, so a refused call changes nothing.
//!
//! | role         | may call                                                          |
//! |--------------|-------------------------------------------------------------------|
//! | `order`      | Inventory                                                         |
//! | `backoffice` | Catalog; Inventory's reads (GetHold, GetAvailability, Watch...)   |
//! | `operator`   | Cluster                                                           |
//! | `peer`       | the node-to-node Raft transport                                   |
//!
//! Health checks and server reflection need no token (load balancers and grpcurl use them).
//! No token, or one this node does not know: UNAUTHENTICATED. A known token of a role not
//! allowed the call: PERMISSION_DENIED. With no tokens configured, auth is off.
//!
//! A follower forwards a call to the leader with the caller's own token, so the leader decides
//! with the same facts; nodes send the `peer` token on Raft messages.

use crate::config::AuthSettings;
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use stockraft_proto::errors::refusal;
use stockraft_proto::v1::Reason;
use tonic::Status;
use tower::{Layer, Service};

/// The header a token travels in, as `Bearer <token>`.
pub const AUTHORIZATION: &str = "authorization";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Order,
    Backoffice,
    Operator,
    Peer,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Order => "order",
            Role::Backoffice => "backoffice",
            Role::Operator => "operator",
            Role::Peer => "peer",
        }
    }
}

/// What a call to `path` needs.
#[derive(Debug, PartialEq, Eq)]
enum Need {
    Nothing,
    OneOf(&'static [Role]),
}

const INVENTORY_READS: [&str; 3] = ["GetHold", "GetAvailability", "WatchAvailability"];

fn need(path: &str) -> Need {
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    match service {
        "stockraft.v1.Inventory" if INVENTORY_READS.contains(&method) => Need::OneOf(&[Role::Order, Role::Backoffice]),
        "stockraft.v1.Inventory" => Need::OneOf(&[Role::Order]),
        "stockraft.v1.Catalog" => Need::OneOf(&[Role::Backoffice]),
        "stockraft.v1.Cluster" => Need::OneOf(&[Role::Operator]),
        "stockraft.raft.v1.RaftTransport" => Need::OneOf(&[Role::Peer]),
        // Health and reflection; anything else is answered UNIMPLEMENTED by the router.
        _ => Need::Nothing,
    }
}

/// The configured tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    tokens: Arc<Vec<(Vec<u8>, Role)>>,
}

impl Tokens {
    pub fn new(settings: &AuthSettings) -> Tokens {
        let roles = [Role::Order, Role::Backoffice, Role::Operator, Role::Peer];
        let tokens = settings
            .roles()
            .into_iter()
            .zip(roles)
            .flat_map(|((_, tokens), role)| tokens.iter().map(move |t| (t.as_bytes().to_vec(), role)))
            .collect();
        Tokens { tokens: Arc::new(tokens) }
    }

    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The role of `token`. Every configured token is compared in full, in constant time, so the
    /// time taken says nothing about how much of a guess was right.
    fn role(&self, token: &[u8]) -> Option<Role> {
        let mut found = None;
        for (known, role) in self.tokens.iter() {
            if constant_time_eq(known, token) {
                found = Some(*role);
            }
        }
        found
    }

    /// Whether a call to `path` with these headers may go on.
    pub fn check(&self, path: &str, headers: &http::HeaderMap) -> Result<(), Status> {
        // Auth off (the usual benchmark and local setup): nothing to parse on the hot path.
        if !self.enabled() {
            return Ok(());
        }
        let Need::OneOf(roles) = need(path) else { return Ok(()) };
        let token =
            headers.get(AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer ")).ok_or_else(|| {
                refusal(
                    Reason::Unauthenticated,
                    "this call needs a bearer token: send the metadata `authorization: Bearer <token>`",
                )
            })?;
        let role = self.role(token).ok_or_else(|| {
            refusal(Reason::Unauthenticated, "the bearer token is not known to this node (auth.tokens in its config)")
        })?;
        if roles.contains(&role) {
            Ok(())
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            Err(refusal(
                Reason::NotPermitted,
                format!("role {} may not call {path} (allowed: {})", role.name(), allowed.join(", ")),
            ))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        difference |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    difference == 0
}

#[derive(Clone)]
pub struct AuthLayer {
    pub tokens: Tokens,
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth { inner, tokens: self.tokens.clone() }
    }
}

#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    tokens: Tokens,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for Auth<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self.tokens.check(request.uri().path(), request.headers()) {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => {
                tracing::debug!(path = request.uri().path(), code = ?status.code(), "call refused by auth");
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn tokens() -> Tokens {
        Tokens::new(&AuthSettings {
            order: vec!["order-token-0123456789".into()],
            backoffice: vec!["office-token-0123456789".into()],
            operator: vec!["operator-token-0123456789".into()],
            peer: vec!["peer-token-0123456789".into()],
        })
    }

    fn check(token: Option<&str>, path: &str) -> Result<(), Code> {
        let mut headers = http::HeaderMap::new();
        if let Some(token) = token {
            headers.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        }
        tokens().check(path, &headers).map_err(|s| s.code())
    }

    #[test]
    fn each_role_reaches_its_own_services_only() {
        let reserve = "/stockraft.v1.Inventory/Reserve";
        let availability = "/stockraft.v1.Inventory/GetAvailability";
        let upsert = "/stockraft.v1.Catalog/UpsertSku";
        let status = "/stockraft.v1.Cluster/Status";
        let append = "/stockraft.raft.v1.RaftTransport/AppendEntries";
        let order = Some("order-token-0123456789");
        let office = Some("office-token-0123456789");
        let operator = Some("operator-token-0123456789");
        let peer = Some("peer-token-0123456789");
        assert_eq!(check(order, reserve), Ok(()));
        assert_eq!(check(order, availability), Ok(()));
        assert_eq!(check(order, upsert), Err(Code::PermissionDenied));
        assert_eq!(check(office, upsert), Ok(()));
        assert_eq!(check(office, availability), Ok(()));
        assert_eq!(check(office, reserve), Err(Code::PermissionDenied));
        assert_eq!(check(operator, status), Ok(()));
        assert_eq!(check(operator, reserve), Err(Code::PermissionDenied));
        assert_eq!(check(peer, append), Ok(()));
        assert_eq!(check(order, append), Err(Code::PermissionDenied));
    }

    #[test]
    fn a_missing_or_unknown_token_is_unauthenticated_and_health_needs_none() {
        assert_eq!(check(None, "/stockraft.v1.Inventory/Reserve"), Err(Code::Unauthenticated));
        assert_eq!(check(Some("order-token-012345678"), "/stockraft.v1.Inventory/Reserve"), Err(Code::Unauthenticated));
        assert_eq!(
            check(Some("order-token-01234567890"), "/stockraft.v1.Inventory/Reserve"),
            Err(Code::Unauthenticated)
        );
        assert_eq!(check(None, "/grpc.health.v1.Health/Check"), Ok(()));
    }

    #[test]
    fn with_no_tokens_configured_everything_is_allowed() {
        assert!(Tokens::default().check("/stockraft.v1.Cluster/ChangeMembership", &http::HeaderMap::new()).is_ok());
    }

    #[test]
    fn token_comparison_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
