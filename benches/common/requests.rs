//! Requests per workload: for agentfs, how many FUSE requests of each kind the kernel sent for
//! each workload (from `agentfs status --json`, taken before and after it), per file it touched.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Requests served so far by the mount at `mnt`, by operation (empty if it does not say).
pub fn counts(agentfs: &Path, mnt: &Path) -> BTreeMap<String, u64> {
    let Ok(out) = Command::new(agentfs).arg("status").arg("--json").arg(mnt).output() else {
        return BTreeMap::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["requests"]["by_operation"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, n)| Some((k.clone(), n.as_u64()?))).collect())
        .unwrap_or_default()
}

/// One workload's requests: total and the largest kinds, per unit (file) of work.
pub struct Row {
    pub implementation: String,
    pub workload: &'static str,
    pub per: u64,
    pub delta: BTreeMap<String, u64>,
}

/// The requests between `before` and `after`; the status call in between adds one STATFS.
pub fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut d: BTreeMap<String, u64> = after
        .iter()
        .map(|(k, n)| (k.clone(), n.saturating_sub(before.get(k).copied().unwrap_or(0))))
        .filter(|(_, n)| *n > 0)
        .collect();
    if let Some(n) = d.get_mut("statfs") {
        *n = n.saturating_sub(1);
    }
    d.retain(|_, n| *n > 0);
    d
}

/// A markdown table: requests per unit of work, in all and by the five largest kinds.
pub fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| implementation | workload | per | requests per unit | largest kinds (per unit) |\n|---|---|---:|---:|---|\n",
    );
    for r in rows {
        let per = r.per.max(1) as f64;
        let total: u64 = r.delta.values().sum();
        let mut kinds: Vec<(&String, &u64)> = r.delta.iter().collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(*k.1));
        let top: Vec<String> = kinds.iter().take(5).map(|(k, n)| format!("{k} {:.2}", **n as f64 / per)).collect();
        t.push_str(&format!(
            "| {} | {} | {} | {:.2} | {} |\n",
            r.implementation,
            r.workload,
            r.per,
            total as f64 / per,
            top.join(", ")
        ));
    }
    t
}
