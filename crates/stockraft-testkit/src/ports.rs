//! Loopback ports for the nodes a run or a test starts.
//!
//! Binding port 0 and dropping the listener hands back an *ephemeral* port, and the kernel may
//! hand that same port again before the node binds it: to the next caller, or to any outgoing
//! connection. CI saw it happen: two members of one test cluster were given the same port, and
//! every node refused to start. So ports come from below the kernel's ephemeral range (outgoing
//! connections never take those), one process never hands out the same port twice, and each
//! port is checked free when it is handed out. Processes start at different places in the
//! range (by process id), so two test binaries or a bench beside a test rarely meet.
//!
//! Every [`Cluster`](crate::Cluster) takes its ports here, so the tests, the chaos runs and
//! stockbench's clusters share one allocator.

use std::net::TcpListener;
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out: above the well-known and most registered service ports.
const FLOOR: u32 = 10_000;

/// Linux's default first ephemeral port, used when the machine does not say.
const DEFAULT_EPHEMERAL_FLOOR: u32 = 32_768;

/// How far this process has gone through the range.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A loopback port that was free just now, that no outgoing connection will take, and that this
/// process has not handed out before (it would only come round again after the whole range,
/// 22,768 ports with Linux's defaults).
pub fn loopback_port() -> u16 {
    for _ in FLOOR..ephemeral_floor() {
        let port = candidate(NEXT.fetch_add(1, Ordering::Relaxed));
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {FLOOR} and {}", ephemeral_floor());
}

/// The ports [`loopback_port`] hands out: from [`FLOOR`] up to the kernel's ephemeral range.
pub fn range() -> Range<u16> {
    let floor = u16::try_from(FLOOR).expect("below 65536");
    floor..u16::try_from(ephemeral_floor()).unwrap_or(u16::MAX)
}

/// The `n`th port this process tries.
fn candidate(n: u32) -> u16 {
    let span = ephemeral_floor() - FLOOR;
    let start = std::process::id().wrapping_mul(7_919) % span;
    u16::try_from(FLOOR + (start + n % span) % span).expect("the range lies below 65536")
}

/// The first port of the kernel's ephemeral range (`ip_local_port_range`), if it leaves room
/// below it; otherwise Linux's default.
fn ephemeral_floor() -> u32 {
    static FLOOR_READ: OnceLock<u32> = OnceLock::new();
    *FLOOR_READ.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|range| range.split_whitespace().next()?.parse().ok())
            .filter(|low: &u32| (FLOOR + 1_000..=65_536).contains(low))
            .unwrap_or(DEFAULT_EPHEMERAL_FLOOR)
    })
}
