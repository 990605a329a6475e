//! A node's process: started on its data dir, then killed (SIGKILL), stopped (SIGTERM), paused
//! (SIGSTOP) and continued (SIGCONT), and restarted by id.

use crate::cluster::{Cluster, Node};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a SIGTERMed node may take to shut down before it is SIGKILLed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// Whether the process the harness started has exited without being killed or stopped (the
    /// harness lets go of the ones it ends). An exited child stays a zombie until it is waited
    /// for, so `/proc` still shows it, in state `Z`.
    pub(crate) fn exited_on_its_own(&self) -> bool {
        let Some(child) = &self.child else { return false };
        std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
            .ok()
            .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
            .unwrap_or(false)
    }
}

impl Cluster {
    fn node_mut(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&id).unwrap_or_else(|| panic!("no node {id}"))
    }

    pub(crate) fn spawn_all(&mut self) {
        for id in self.ids() {
            self.spawn(id);
        }
    }

    /// Starts (or restarts) a node's process on its data dir.
    pub fn spawn(&mut self, id: u64) {
        self.spawn_with(id, &[]);
    }

    /// Starts a node with extra flags (`--restore FILE`).
    pub fn spawn_with(&mut self, id: u64, flags: &[&str]) {
        let stockd = self.stockd.clone();
        let node = self.node_mut(id);
        assert!(node.child.is_none(), "node {id} is already running");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log).expect("open the node log");
        let child = Command::new(stockd)
            .arg("--config")
            .arg(&node.config)
            .args(flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start stockd");
        node.child = Some(child);
        node.paused = false;
    }

    /// SIGKILL: the process dies at once, mid-write if it was writing.
    pub fn kill(&mut self, id: u64) {
        let node = self.node_mut(id);
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// SIGTERM, then wait for a clean shutdown (SIGKILL after [`STOP_TIMEOUT`]).
    pub fn stop(&mut self, id: u64) {
        let node = self.node_mut(id);
        if let Some(mut child) = node.child.take() {
            if node.paused {
                signal(&child, "-CONT");
            }
            signal(&child, "-TERM");
            let deadline = Instant::now() + STOP_TIMEOUT;
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// SIGSTOP: the process freezes (timers, disk, network), as in a long GC pause or a VM stall.
    pub fn pause(&mut self, id: u64) {
        let node = self.node_mut(id);
        if let Some(child) = &node.child {
            signal(child, "-STOP");
            node.paused = true;
        }
    }

    /// SIGCONT.
    pub fn resume(&mut self, id: u64) {
        let node = self.node_mut(id);
        if let (Some(child), true) = (&node.child, node.paused) {
            signal(child, "-CONT");
            node.paused = false;
        }
    }

    /// The process id of node `id`, while it runs.
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.nodes[&id].child.as_ref().map(Child::id)
    }

    /// Whether node `id` runs and is not paused.
    pub fn is_up(&self, id: u64) -> bool {
        let node = &self.nodes[&id];
        node.child.is_some() && !node.paused
    }

    /// The nodes that run and are not paused.
    pub fn running(&self) -> Vec<u64> {
        self.ids().into_iter().filter(|id| self.is_up(*id)).collect()
    }
}

/// Sends a signal with kill(1) (procps; `make deps` installs it).
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill").arg(signal).arg(child.id().to_string()).status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()) || signal == "-CONT",
        "kill {signal} {} failed ({status:?}): is kill(1) installed (Debian: procps)?",
        child.id()
    );
}
