//! Samples of the workload benchmark, their medians and ratios to kernel overlayfs, as a
//! table, JSON, CSV and a Markdown table for the README.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The workloads, in the order they run (later ones change the tree).
pub const WORKLOADS: [&str; 13] = [
    "mount",
    "find cold",
    "find warm",
    "stat all",
    "git status",
    "grep -r",
    "read big",
    "append 1 byte to big",
    "write new big",
    "untar",
    "rm -rf tree",
    "unmount",
    "total",
];

/// The ratios are to this implementation.
const BASE: &str = "overlayfs";

/// Seconds per implementation and workload, one per round; implementations in run order.
#[derive(Default)]
pub struct Samples {
    order: Vec<&'static str>,
    secs: BTreeMap<&'static str, BTreeMap<&'static str, Vec<f64>>>,
}

fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => None,
        n if n % 2 == 1 => Some(s[n / 2]),
        n => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

impl Samples {
    pub fn add(&mut self, imp: &'static str, run: &[(&'static str, f64)]) {
        if !self.order.contains(&imp) {
            self.order.push(imp);
        }
        let per = self.secs.entry(imp).or_default();
        for (w, s) in run {
            per.entry(w).or_default().push(*s);
        }
    }

    pub fn median(&self, imp: &str, workload: &str) -> Option<f64> {
        median(self.secs.get(imp)?.get(workload)?)
    }

    fn ratio(&self, imp: &str, workload: &str) -> Option<f64> {
        let base = self.median(BASE, workload)?;
        (base > 0.0).then(|| self.median(imp, workload).map(|v| v / base)).flatten()
    }

    /// "seconds (ratio)" of one implementation and workload.
    fn cell(&self, imp: &str, workload: &str) -> String {
        match (self.median(imp, workload), self.ratio(imp, workload)) {
            (Some(v), Some(r)) => format!("{v:.3} ({r:.2}x)"),
            (Some(v), None) => format!("{v:.3}"),
            _ => "-".into(),
        }
    }

    /// Plain text: median seconds and (ratio to overlayfs).
    pub fn table(&self) -> String {
        let mut t = format!("{:<22}", "median seconds");
        for n in &self.order {
            let _ = write!(t, "{n:>20}");
        }
        t.push('\n');
        for w in WORKLOADS {
            let _ = write!(t, "{w:<22}");
            for n in &self.order {
                let _ = write!(t, "{:>20}", self.cell(n, w));
            }
            t.push('\n');
        }
        t.push_str("(ratios are to kernel overlayfs; lower is better)\n");
        t
    }

    /// The Markdown table the README shows.
    pub fn markdown(&self, rounds: usize, sizes: &str) -> String {
        let mut t = format!(
            "Median of {rounds} round(s); seconds, and the ratio to kernel overlayfs. {sizes}. {}.\n\n| workload |",
            machine()
        );
        for n in &self.order {
            let _ = write!(t, " {n} |");
        }
        t.push_str("\n|---|");
        t.push_str(&"---:|".repeat(self.order.len()));
        t.push('\n');
        for w in WORKLOADS {
            let _ = write!(t, "| {w} |");
            for n in &self.order {
                let _ = write!(t, " {} |", self.cell(n, w));
            }
            t.push('\n');
        }
        t
    }

    pub fn save(&self, dir: &Path, rounds: usize, sizes: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut csv = String::from("implementation,workload,median_seconds,ratio_to_overlayfs,samples\n");
        let mut json = BTreeMap::new();
        for n in &self.order {
            let mut per = serde_json::Map::new();
            for w in WORKLOADS {
                let Some(v) = self.secs.get(n).and_then(|p| p.get(w)) else { continue };
                let (m, r) = (self.median(n, w), self.ratio(n, w));
                let samples: Vec<String> = v.iter().map(|s| format!("{s:.4}")).collect();
                let _ = writeln!(
                    csv,
                    "{n},{w},{},{},{}",
                    m.map(|m| format!("{m:.4}")).unwrap_or_default(),
                    r.map(|r| format!("{r:.3}")).unwrap_or_default(),
                    samples.join(" ")
                );
                per.insert(w.to_string(), serde_json::json!({"median": m, "ratio_to_overlayfs": r, "samples": v}));
            }
            json.insert(n.to_string(), serde_json::Value::Object(per));
        }
        let doc = serde_json::json!({"rounds": rounds, "tree": sizes, "machine": machine(), "results": json});
        std::fs::write(dir.join("workload.csv"), csv)?;
        std::fs::write(dir.join("workload.json"), format!("{doc:#}\n"))?;
        std::fs::write(dir.join("workload.md"), self.markdown(rounds, sizes))
    }
}

/// Kernel, CPUs and memory of this machine, in one line.
fn machine() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().trim_end_matches(" kB").to_string()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!("Linux {}, {cpus} CPUs, {} GiB RAM", kernel.trim(), (mem_kib + (1 << 19)) >> 20)
}
