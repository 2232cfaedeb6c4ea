//! `agentfs status [MNT]` and `agentfs list`: what the registry and the mounts say.

use super::human_bytes;
use crate::cli::{ListArgs, StatusArgs};
use crate::quote;
use agentfs_mount_helper::registry::{self, MountRecord, MountState};
use agentfs_mount_helper::runtime::mount_id;
use agentfs_mount_helper::{Error, Result, mountinfo};
use serde_json::{Value, json};

/// RAM the upper layer uses and its budget, from statfs of the mount (the space of the volume
/// on Windows).
fn upper_use(rec: &MountRecord) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        let st = rustix::fs::statvfs(rec.mountpoint_path()).ok()?;
        let total = st.f_blocks * st.f_frsize;
        Some((total.saturating_sub(st.f_bfree * st.f_frsize), total))
    }
    #[cfg(windows)]
    {
        let (total, free) = agentfs_platform::sys::windows::volume::space(&rec.mountpoint_path()).ok()?;
        Some((total.saturating_sub(free), total))
    }
}

/// What `list` says of a mount record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// The daemon runs and its mount is in place.
    Serving,
    /// `agentfs mount` is still making the pin.
    Pinning,
    /// The process responsible died, or the mount is gone: `agentfs gc` cleans up after it.
    Dead,
}

impl Liveness {
    fn of(r: &MountRecord) -> Self {
        if !r.owner_alive() {
            return Liveness::Dead;
        }
        match r.state {
            MountState::Pinning => Liveness::Pinning,
            MountState::Mounted
                if mountinfo::mount_at(&r.mountpoint_path()).is_some_and(|m| mountinfo::is_agentfs(&m)) =>
            {
                Liveness::Serving
            }
            MountState::Mounted => Liveness::Dead,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Liveness::Serving => "serving",
            Liveness::Pinning => "pinning",
            Liveness::Dead => "dead",
        }
    }
}

/// Records of mounts that serve now.
fn live_records() -> Vec<MountRecord> {
    registry::list().into_iter().filter(|r| Liveness::of(r) == Liveness::Serving).collect()
}

/// The requests the kernel sent the mount so far, by operation, as its daemon counts them (None
/// when the daemon does not answer, or counts nothing).
fn request_counts(rec: &MountRecord) -> Option<Vec<(String, u64)>> {
    let mut client = agentfs_mount_helper::control::client::Client::connect(&rec.id, &rec.mountpoint_path()).ok()?;
    client.request_counts().ok()
}

/// Nodes the daemon holds in memory and its open files (None when it does not answer).
fn engine_stats(rec: &MountRecord) -> Option<(u64, u64)> {
    let mut client = agentfs_mount_helper::control::client::Client::connect(&rec.id, &rec.mountpoint_path()).ok()?;
    client.engine_stats().ok()
}

fn to_json(rec: &MountRecord) -> Value {
    let (used, budget) = upper_use(rec).unwrap_or((0, rec.budget_bytes));
    let mut pin = json!({
        "kind": rec.pin.kind.name(),
        "files": rec.pin.files,
        "bytes": rec.pin.bytes,
        "millis": rec.pin.millis,
    });
    quote::put(&mut pin, "path", rec.pin.path());
    quote::put(&mut pin, "lower_root", rec.pin.lower_root());
    let mut v = json!({
        "pid": rec.pid,
        "started": rec.started,
        "read_only": rec.read_only,
        "allow_other": rec.allow_other,
        "pin": pin,
        "upper": { "used_bytes": used, "budget_bytes": budget },
        "passthrough": rec.passthrough,
        "transport": rec.transport,
        "transport_reason": rec.transport_reason,
    });
    if let Some((nodes, open_files)) = engine_stats(rec) {
        v["engine"] = json!({ "nodes": nodes, "open_files": open_files });
    }
    if let Some(counts) = request_counts(rec) {
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let by_op: serde_json::Map<String, Value> = counts.into_iter().map(|(k, n)| (k, Value::from(n))).collect();
        v["requests"] = json!({ "total": total, "by_operation": by_op });
    }
    quote::put(&mut v, "mountpoint", rec.mountpoint_path());
    quote::put(&mut v, "source", rec.source_path());
    v
}

fn print_human(rec: &MountRecord) {
    let (used, budget) = upper_use(rec).unwrap_or((0, rec.budget_bytes));
    println!("{}", quote::text(rec.mountpoint_path()));
    println!("  source: {}", quote::text(rec.source_path()));
    match rec.pin.kind {
        agentfs_mount_helper::pin::PinKind::Live => {
            println!("  pin:    live (no pin: outside changes to the source may show through)")
        }
        agentfs_mount_helper::pin::PinKind::Branch => println!(
            "  pin:    branch of the snapshot {} at {}",
            rec.pin.path().file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            quote::text(rec.pin.lower_root())
        ),
        k => println!(
            "  pin:    {} at {} ({} files, {} in {} ms)",
            k.name(),
            quote::text(rec.pin.path()),
            rec.pin.files,
            human_bytes(rec.pin.bytes),
            rec.pin.millis
        ),
    }
    println!("  daemon: pid {}, FUSE passthrough {}", rec.pid, if rec.passthrough { "on" } else { "off" });
    println!("  transport: {}; {}", rec.transport, rec.transport_reason);
    println!("  upper:  {} used of {}", human_bytes(used), human_bytes(budget));
    if let Some(mut counts) = request_counts(rec) {
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let top: Vec<String> = counts.iter().take(6).map(|(k, n)| format!("{k} {n}")).collect();
        println!("  requests: {total} ({})", top.join(", "));
    }
}

pub fn status(a: StatusArgs) -> Result<()> {
    let Some(mnt) = a.mnt else {
        let recs = live_records();
        if a.json {
            println!("{}", Value::Array(recs.iter().map(to_json).collect()));
        } else if recs.is_empty() {
            println!("no agentfs mounts");
        } else {
            recs.iter().for_each(print_human);
        }
        return Ok(());
    };
    let canon =
        agentfs_mount_helper::check::canonical_mountpoint(&mnt).map_err(|e| Error::io("cannot resolve", &mnt, &e))?;
    let rec =
        live_records().into_iter().find(|r| r.id == mount_id(&canon)).ok_or_else(|| {
            match mountinfo::mount_at(&canon).filter(mountinfo::is_agentfs) {
                Some(entry) => mountinfo::not_ours(&entry),
                None => {
                    Error::NotMounted(format!("{} is not a live agentfs mount (see `agentfs list`)", canon.display()))
                }
            }
        })?;
    if a.json {
        println!("{}", to_json(&rec));
    } else {
        print_human(&rec);
    }
    Ok(())
}

/// The mounts of this user's registry: those that serve, those still pinning, and those whose
/// daemon died (until `agentfs gc` cleans up after them), each with its state.
pub fn list(a: ListArgs) -> Result<()> {
    let recs: Vec<(MountRecord, Liveness)> = registry::list()
        .into_iter()
        .map(|r| {
            let l = Liveness::of(&r);
            (r, l)
        })
        .collect();
    if a.json {
        let all = recs.iter().map(|(r, l)| list_json(r, *l)).collect();
        println!("{}", Value::Array(all));
        return Ok(());
    }
    println!("{:<30} {:<30} {:<9} {:>8} {:>10}  STATE", "MOUNTPOINT", "SOURCE", "PIN", "PID", "UPPER");
    for (r, l) in &recs {
        let used = match l {
            Liveness::Serving => upper_use(r).map(|(u, _)| human_bytes(u)).unwrap_or_else(|| "?".into()),
            _ => "-".into(),
        };
        let state = match l {
            Liveness::Dead => "dead (`agentfs gc` cleans up)",
            l => l.name(),
        };
        println!(
            "{:<30} {:<30} {:<9} {:>8} {:>10}  {state}",
            quote::text(r.mountpoint_path()),
            quote::text(r.source_path()),
            r.pin.kind.name(),
            r.pid,
            used
        );
    }
    Ok(())
}

/// A serving mount as `status --json` shows it; any other only with what its record says (its
/// daemon cannot be asked, and statfs of its mount point would describe another filesystem).
fn list_json(r: &MountRecord, l: Liveness) -> Value {
    let mut v = if l == Liveness::Serving {
        to_json(r)
    } else {
        let mut v = json!({ "pid": r.pid, "started": r.started, "pin": { "kind": r.pin.kind.name() } });
        quote::put(&mut v, "mountpoint", r.mountpoint_path());
        quote::put(&mut v, "source", r.source_path());
        v
    };
    v["state"] = Value::from(l.name());
    v
}
