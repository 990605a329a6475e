//! The summary tables a chaos run prints.

use crate::RunReport;
use comfy_table::Table;

/// One row per run: what happened and the verdict.
pub fn summary(reports: &[RunReport]) -> Table {
    let mut table = Table::new();
    table.set_header([
        "nodes",
        "seconds",
        "operations",
        "faults",
        "acknowledged",
        "rejected",
        "unknown",
        "longest write stall",
        "verdict",
    ]);
    for r in reports {
        table.add_row([
            r.nodes.to_string(),
            format!("{:.0}", r.seconds),
            r.operations.to_string(),
            r.faults.len().to_string(),
            r.acknowledged.to_string(),
            r.rejected.to_string(),
            r.unknown.to_string(),
            format!("{:.2} s", r.longest_write_gap.as_secs_f64()),
            if r.passed() { "PASS".into() } else { "FAIL".into() },
        ]);
    }
    table
}

/// Faults injected, by kind, per run.
pub fn faults(reports: &[RunReport]) -> Table {
    let mut table = Table::new();
    table.set_header(["nodes", "fault", "times", "nodes hit"]);
    for r in reports {
        let mut kinds: Vec<&str> = r.faults.iter().map(|f| f.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        for kind in kinds {
            let of_kind: Vec<_> = r.faults.iter().filter(|f| f.kind == kind).collect();
            let hit: Vec<String> = of_kind.iter().map(|f| format!("{:?}", f.nodes)).collect();
            table.add_row([r.nodes.to_string(), kind.to_string(), of_kind.len().to_string(), hit.join(" ")]);
        }
    }
    table
}

/// Every checker's verdict per run.
pub fn checks(reports: &[RunReport]) -> Table {
    let mut table = Table::new();
    table.set_header(["nodes", "checker", "verdict", "detail"]);
    for r in reports {
        for check in &r.checks {
            let verdict = if check.passed { "ok" } else { "FAILED" };
            table.add_row([r.nodes.to_string(), check.name.to_string(), verdict.to_string(), check.detail.clone()]);
        }
    }
    table
}
