//! A fault-injecting TCP proxy in front of every node of a proxied cluster
//! ([`Settings::proxied`](crate::Settings)): the network partitions of a chaos run.
//!
//! Each node listens on a private port; the address it advertises (to peers and clients) is
//! its proxy's. Every node connects to its peers from its own loopback address
//! (`127.0.0.<10 + id>`, stockd's `source_ip`), so a proxy knows which node a connection comes
//! from; clients connect from `127.0.0.1` and are never cut off. A partition blocks pairs of
//! nodes: their open connections are cut at once and new ones are accepted and then left
//! silent until the partition heals (as a dropped-packet partition looks to TCP: connects may
//! succeed, nothing gets through, calls time out).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The loopback address node `id` connects to its peers from.
pub fn source_ip(id: u64) -> IpAddr {
    assert!((1..=200).contains(&id), "node ids 1..=200 map to loopback source addresses");
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + id as u8))
}

/// The node a connection came from, or `None` for a client.
fn node_of(peer: SocketAddr) -> Option<u64> {
    match peer.ip() {
        IpAddr::V4(ip) if ip.octets()[..3] == [127, 0, 0] && ip.octets()[3] > 10 => {
            Some(u64::from(ip.octets()[3] - 10))
        }
        _ => None,
    }
}

#[derive(Default)]
struct Links {
    /// Blocked node pairs, smaller id first.
    blocked: HashSet<(u64, u64)>,
}

impl Links {
    fn is_blocked(&self, a: u64, b: u64) -> bool {
        self.blocked.contains(&(a.min(b), a.max(b)))
    }
}

/// The proxies of one cluster. Dropping it stops them.
pub struct Proxy {
    links: Arc<Mutex<Links>>,
    /// Bumped on every change of the blocked set; connections re-check their link.
    changes: watch::Sender<u64>,
    listeners: Vec<JoinHandle<()>>,
}

impl Default for Proxy {
    fn default() -> Self {
        Proxy { links: Arc::default(), changes: watch::Sender::new(0), listeners: Vec::new() }
    }
}

impl Proxy {
    /// Starts forwarding `public` (what node `node` advertises) to `private` (where it listens).
    /// Call it inside a tokio runtime: the proxy's connections are tasks on it.
    pub fn add(&mut self, node: u64, public: SocketAddr, private: SocketAddr) -> std::io::Result<()> {
        let listener = std::net::TcpListener::bind(public)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let (links, changes) = (self.links.clone(), self.changes.clone());
        self.listeners.push(tokio::spawn(async move {
            while let Ok((inbound, peer)) = listener.accept().await {
                let (links, changes) = (links.clone(), changes.subscribe());
                tokio::spawn(forward(inbound, node_of(peer), node, private, links, changes));
            }
        }));
        Ok(())
    }

    /// Blocks every link between nodes of different groups (nodes in no group keep their links).
    pub fn partition(&self, groups: &[Vec<u64>]) {
        let mut links = self.links.lock().expect("links");
        links.blocked.clear();
        for (g, group) in groups.iter().enumerate() {
            for other in &groups[g + 1..] {
                for &a in group {
                    for &b in other {
                        links.blocked.insert((a.min(b), a.max(b)));
                    }
                }
            }
        }
        drop(links);
        self.changes.send_modify(|n| *n += 1);
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.links.lock().expect("links").blocked.clear();
        self.changes.send_modify(|n| *n += 1);
    }

    pub fn is_partitioned(&self) -> bool {
        !self.links.lock().expect("links").blocked.is_empty()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

/// Carries one connection while its link is up; cuts it when the link goes down.
async fn forward(
    mut inbound: TcpStream,
    from: Option<u64>,
    to: u64,
    private: SocketAddr,
    links: Arc<Mutex<Links>>,
    mut changes: watch::Receiver<u64>,
) {
    let blocked =
        |links: &Arc<Mutex<Links>>| from.is_some_and(|from| links.lock().expect("links").is_blocked(from, to));
    // A blocked link: accept, say nothing, and drop the connection once the partition heals.
    while blocked(&links) {
        if changes.changed().await.is_err() {
            return;
        }
    }
    let _ = inbound.set_nodelay(true);
    let Ok(mut outbound) = TcpStream::connect(private).await else { return };
    let _ = outbound.set_nodelay(true);
    let copy = copy_bidirectional(&mut inbound, &mut outbound);
    tokio::pin!(copy);
    loop {
        tokio::select! {
            _ = &mut copy => return,
            changed = changes.changed() => {
                if changed.is_err() || blocked(&links) {
                    return; // both sockets drop: the connection is cut
                }
            }
        }
    }
}
