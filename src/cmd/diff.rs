//! `agentfs diff MNT [--json] [--stat]`.

use super::human_bytes;
use crate::cli::DiffArgs;
use crate::quote;
use agentfs_mount_helper::Result;
use agentfs_mount_helper::changeset::{Verdict, kind_name};
use agentfs_mount_helper::diff::{Entry, diff};
use serde_json::{Value, json};

fn to_json(e: &Entry) -> Value {
    let mut v = json!({
        "change": e.verdict.name(),
        "type": kind_name(e.kind),
    });
    quote::put(&mut v, "path", &e.path);
    if let Some(from) = &e.from {
        quote::put(&mut v, "from", from);
        v["content_changed"] = json!(e.content_changed);
    }
    if matches!(e.verdict, Verdict::Added | Verdict::Modified | Verdict::Renamed)
        && e.kind == agentfs_core::FileKind::Regular
    {
        v["size"] = json!(e.size);
    }
    v
}

/// One line per change, like `git status --short`: A, M, D, R, m (metadata only).
fn line(e: &Entry) -> String {
    let dir = if e.kind == agentfs_core::FileKind::Directory { "/" } else { "" };
    match (e.verdict, &e.from) {
        (Verdict::Renamed, Some(from)) => {
            let star = if e.content_changed { " (modified)" } else { "" };
            format!("R {}{dir} -> {}{dir}{star}", quote::text(from), quote::text(&e.path))
        }
        (v, _) => {
            let code = match v {
                Verdict::Added => "A",
                Verdict::Modified => "M",
                Verdict::Deleted => "D",
                Verdict::Renamed => "R",
                Verdict::Metadata => "m",
            };
            format!("{code} {}{dir}", quote::text(&e.path))
        }
    }
}

fn stat(entries: &[Entry]) -> String {
    let count = |v: Verdict| entries.iter().filter(|e| e.verdict == v).count();
    let bytes: u64 = entries
        .iter()
        .filter(|e| matches!(e.verdict, Verdict::Added | Verdict::Modified) || e.content_changed)
        .map(|e| e.size)
        .sum();
    format!(
        "{} added, {} modified, {} deleted, {} renamed, {} metadata only; {} in added and modified files",
        count(Verdict::Added),
        count(Verdict::Modified),
        count(Verdict::Deleted),
        count(Verdict::Renamed),
        count(Verdict::Metadata),
        human_bytes(bytes)
    )
}

pub fn run(a: DiffArgs) -> Result<()> {
    let entries = diff(&a.mnt)?;
    if a.json {
        if a.stat {
            let count = |v: Verdict| entries.iter().filter(|e| e.verdict == v).count();
            println!(
                "{}",
                json!({
                    "added": count(Verdict::Added),
                    "modified": count(Verdict::Modified),
                    "deleted": count(Verdict::Deleted),
                    "renamed": count(Verdict::Renamed),
                    "metadata": count(Verdict::Metadata),
                    "changes": entries.iter().map(to_json).collect::<Vec<_>>(),
                })
            );
        } else {
            println!("{}", Value::Array(entries.iter().map(to_json).collect()));
        }
        return Ok(());
    }
    if !a.stat {
        for e in &entries {
            println!("{}", line(e));
        }
    }
    if a.stat || entries.is_empty() {
        println!("{}", stat(&entries));
    }
    Ok(())
}
