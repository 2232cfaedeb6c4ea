//! `agentfs status [MNT]` and `agentfs list`: what the registry and the mounts say.

use super::human_bytes;
use crate::cli::{ListArgs, StatusArgs};
use crate::{out, quote};
use agentfs_mount_helper::control::DaemonStats;
use agentfs_mount_helper::control::client::Client;
use agentfs_mount_helper::registry::{self, MountRecord, MountState};
use agentfs_mount_helper::runtime::mount_id;
use agentfs_mount_helper::{Error, Result, mountinfo};
use serde_json::{Value, json};

/// How long `status` and `list` wait for a daemon's answer: a stopped or stuck daemon never
/// answers (and a statfs of its mount would wait in the kernel for ever).
const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What a mount's daemon says of itself, over its control channel (each None when it does not
/// answer within [`ASK_TIMEOUT`]).
struct Asked {
    stats: Option<DaemonStats>,
    counts: Option<Vec<(String, u64)>>,
}

impl Asked {
    fn of(rec: &MountRecord) -> Asked {
        let Ok(mut client) = Client::connect(&rec.id, &rec.mountpoint_path()) else {
            return Asked { stats: None, counts: None };
        };
        client.set_timeout(ASK_TIMEOUT);
        let stats = client.engine_stats().ok();
        // One that did not answer the first question will not answer the second.
        let counts = stats.and_then(|_| client.request_counts().ok());
        Asked { stats, counts }
    }

    /// RAM the upper layer uses and its budget: as the daemon says, else (Windows) the space of
    /// the volume, else nothing used of the recorded budget.
    fn upper_use(&self, rec: &MountRecord) -> (u64, u64) {
        if let Some(s) = self.stats {
            return (s.used_bytes, s.budget_bytes);
        }
        #[cfg(windows)]
        if let Ok((total, free)) = agentfs_platform::sys::windows::volume::space(&rec.mountpoint_path()) {
            return (total.saturating_sub(free), total);
        }
        (0, rec.budget_bytes)
    }
}

/// What `list` says of a mount record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// The daemon runs and its mount is in place.
    Serving,
    /// `agentfs mount` is still making the pin.
    Pinning,
    /// The daemon runs but its mount is not at its mount point: being unmounted, detached
    /// lazily while files are open in it, or moved away (a parent directory renamed).
    Detached,
    /// The process responsible died: `agentfs gc` cleans up after it.
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
            MountState::Mounted => Liveness::Detached,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Liveness::Serving => "serving",
            Liveness::Pinning => "pinning",
            Liveness::Detached => "detached",
            Liveness::Dead => "dead",
        }
    }

    /// The state as the table shows it, with what to do where there is something to do.
    fn shown(self) -> &'static str {
        match self {
            Liveness::Dead => "dead (`agentfs gc` cleans up)",
            Liveness::Detached => "detached (not at its mount point; its daemon still runs)",
            l => l.name(),
        }
    }
}

/// The pin kind a record shows: none while the pin is being made (also in the record of an
/// `agentfs mount` that died making it).
fn pin_kind(r: &MountRecord) -> Option<&'static str> {
    (r.state == MountState::Mounted).then(|| r.pin.kind.name())
}

/// Records of mounts that serve now.
fn live_records() -> Vec<MountRecord> {
    registry::list().into_iter().filter(|r| Liveness::of(r) == Liveness::Serving).collect()
}

fn to_json(rec: &MountRecord) -> Value {
    let asked = Asked::of(rec);
    let (used, budget) = asked.upper_use(rec);
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
    if let Some(s) = asked.stats {
        v["engine"] = json!({ "nodes": s.nodes, "open_files": s.open_files });
    }
    if let Some(counts) = asked.counts {
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let by_op: serde_json::Map<String, Value> = counts.into_iter().map(|(k, n)| (k, Value::from(n))).collect();
        v["requests"] = json!({ "total": total, "by_operation": by_op });
    }
    quote::put(&mut v, "mountpoint", rec.mountpoint_path());
    quote::put(&mut v, "source", rec.source_path());
    v
}

fn print_human(rec: &MountRecord) -> Result<()> {
    let asked = Asked::of(rec);
    let (used, budget) = asked.upper_use(rec);
    out!("{}", quote::text(rec.mountpoint_path()))?;
    out!("  source: {}", quote::text(rec.source_path()))?;
    match rec.pin.kind {
        agentfs_mount_helper::pin::PinKind::Live => {
            out!("  pin:    live (no pin: outside changes to the source may show through)")?
        }
        agentfs_mount_helper::pin::PinKind::Branch => out!(
            "  pin:    branch of the snapshot {} at {}",
            rec.pin.path().file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            quote::text(rec.pin.lower_root())
        )?,
        k => out!(
            "  pin:    {} at {} ({} files, {} in {} ms)",
            k.name(),
            quote::text(rec.pin.path()),
            rec.pin.files,
            human_bytes(rec.pin.bytes),
            rec.pin.millis
        )?,
    }
    out!("  daemon: pid {}, FUSE passthrough {}", rec.pid, if rec.passthrough { "on" } else { "off" })?;
    out!("  transport: {}; {}", rec.transport, rec.transport_reason)?;
    out!("  upper:  {} used of {}", human_bytes(used), human_bytes(budget))?;
    if let Some(mut counts) = asked.counts {
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let top: Vec<String> = counts.iter().take(6).map(|(k, n)| format!("{k} {n}")).collect();
        out!("  requests: {total} ({})", top.join(", "))?;
    }
    Ok(())
}

pub fn status(a: StatusArgs) -> Result<()> {
    let Some(mnt) = a.mnt else {
        let recs = live_records();
        if a.json {
            return out!("{}", Value::Array(recs.iter().map(to_json).collect()));
        }
        if recs.is_empty() {
            return out!("no agentfs mounts");
        }
        return recs.iter().try_for_each(print_human);
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
    if a.json { out!("{}", to_json(&rec)) } else { print_human(&rec) }
}

/// The mounts of this user's registry: those that serve, those still pinning or no longer at
/// their mount point, and those whose daemon died (until `agentfs gc` cleans up after them),
/// each with its state.
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
        return out!("{}", Value::Array(all));
    }
    out!("{:<30} {:<30} {:<9} {:>8} {:>10}  STATE", "MOUNTPOINT", "SOURCE", "PIN", "PID", "UPPER")?;
    for (r, l) in &recs {
        let used = match l {
            Liveness::Serving => match Asked::of(r).stats {
                Some(s) => human_bytes(s.used_bytes),
                None => "?".into(),
            },
            _ => "-".into(),
        };
        out!(
            "{:<30} {:<30} {:<9} {:>8} {:>10}  {}",
            quote::text(r.mountpoint_path()),
            quote::text(r.source_path()),
            pin_kind(r).unwrap_or("-"),
            r.pid,
            used,
            l.shown()
        )?;
    }
    Ok(())
}

/// A serving mount as `status --json` shows it; any other only with what its record says (its
/// daemon may not answer, and statfs of its mount point would describe another filesystem).
fn list_json(r: &MountRecord, l: Liveness) -> Value {
    let mut v = if l == Liveness::Serving {
        to_json(r)
    } else {
        let mut v = json!({ "pid": r.pid, "started": r.started, "pin": { "kind": pin_kind(r) } });
        quote::put(&mut v, "mountpoint", r.mountpoint_path());
        quote::put(&mut v, "source", r.source_path());
        v
    };
    v["state"] = Value::from(l.name());
    v
}
