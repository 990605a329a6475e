//! The loopback port allocator every cluster uses (see `stockraft_testkit::ports`).

use std::collections::HashSet;
use std::net::TcpListener;
use stockraft_testkit::ports::{loopback_port, range};

#[test]
fn every_port_handed_out_is_free_new_and_below_the_ephemeral_range() {
    let mut held = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..300 {
        let port = loopback_port();
        assert!(range().contains(&port), "{port} is outside {:?}", range());
        assert!(seen.insert(port), "{port} was handed out twice");
        // Free when handed out: bind it, and keep it bound while the next ones are chosen.
        held.push(TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{port} was not free: {e}")));
    }
}

#[test]
fn the_range_leaves_room_and_stays_clear_of_outgoing_connections() {
    let ports = range();
    assert!(ports.len() >= 1_000, "{ports:?}");
    if let Ok(kernel) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") {
        let first: u16 = kernel.split_whitespace().next().unwrap().parse().unwrap();
        if first >= ports.start + 1_000 {
            assert_eq!(ports.end, first, "the range ends where the kernel's ephemeral range starts");
        }
    }
}
