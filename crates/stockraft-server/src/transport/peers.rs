//! One long-lived gRPC channel per peer address, shared by the Raft transport and by request
//! forwarding. A tonic `Channel` is a multiplexed HTTP/2 connection that reconnects by itself;
//! building one per RPC would cost a TCP and HTTP/2 handshake on every heartbeat.
//!
//! With `[tls]` configured, peers are reached over TLS: their certificate must be signed by the
//! cluster CA, and this node presents its own (mutual TLS).

use crate::auth::AUTHORIZATION;
use crate::limits::{PEER_CONNECT_TIMEOUT, PEER_KEEPALIVE_INTERVAL};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

#[derive(Clone, Default)]
pub struct Peers {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// The local address connections leave from (config `source_ip`); the OS picks when `None`.
    source_ip: Option<IpAddr>,
    tls: Option<ClientTlsConfig>,
    /// `Bearer <peer token>`, sent on every Raft message when auth is on.
    peer_token: Option<MetadataValue<Ascii>>,
}

impl Peers {
    pub fn new(source_ip: Option<IpAddr>, tls: Option<ClientTlsConfig>, peer_token: Option<&str>) -> Peers {
        let peer_token = peer_token.map(|t| format!("Bearer {t}").parse().expect("validated: printable ASCII"));
        Peers { channels: Arc::default(), source_ip, tls, peer_token }
    }

    /// The channel to `address` (`host:port`), created on first use and kept.
    pub fn channel(&self, address: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))?
            .connect_timeout(PEER_CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .local_address(self.source_ip)
            .http2_keep_alive_interval(PEER_KEEPALIVE_INTERVAL)
            .keep_alive_while_idle(true);
        if let Some(tls) = &self.tls {
            endpoint = endpoint.tls_config(tls.clone())?;
        }
        let channel = endpoint.connect_lazy();
        channels.insert(address.to_string(), channel.clone());
        Ok(channel)
    }

    /// Marks a Raft message as coming from a peer (the `peer` token, when auth is on).
    pub fn authorize(&self, metadata: &mut MetadataMap) {
        if let Some(token) = &self.peer_token {
            metadata.insert(AUTHORIZATION, token.clone());
        }
    }
}
