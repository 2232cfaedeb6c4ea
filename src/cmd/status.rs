//! `agentfs status [MNT]` and `agentfs list`: what the registry and the mounts say.

use super::human_bytes;
use crate::cli::{ListArgs, StatusArgs};
use crate::{out, quote};
use agentfs_mount_helper::control::Usage;
use agentfs_mount_helper::control::client::Client;
use agentfs_mount_helper::registry::{self, MountRecord, MountState};
use agentfs_mount_helper::runtime::mount_id;
use agentfs_mount_helper::{Error, Result, mountinfo};
use serde_json::{Value, json};

/// How long `status` and `list` wait for a daemon's answer: a stopped or stuck daemon never
/// answers (and on Linux a statfs of its mount would wait in the kernel for ever; on macOS and
/// Windows, finding the mount itself asks the daemon, so there they can still wait).
const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What a mount's daemon says of itself over its control channel; each None when it does not
/// answer within [`ASK_TIMEOUT`] (or is of an agentfs that cannot answer that question).
#[derive(Default)]
struct Asked {
    /// Nodes in memory and open files.
    engine: Option<(u64, u64)>,
    counts: Option<Vec<(String, u64)>>,
    usage: Option<Usage>,
}

impl Asked {
    fn connect(rec: &MountRecord) -> Option<Client> {
        let client = Client::connect(&rec.id, &rec.mountpoint_path()).ok()?;
        client.set_timeout(ASK_TIMEOUT);
        Some(client)
    }

    /// Everything `status` shows. A daemon that did not answer the first question is not
    /// asked the others (each would wait as long again).
    fn all(rec: &MountRecord) -> Asked {
        let Some(mut client) = Self::connect(rec) else { return Asked::default() };
        let Ok(engine) = client.engine_stats() else { return Asked::default() };
        let counts = client.request_counts().ok();
        // Last: a daemon of an older agentfs does not know this question and hangs up.
        let usage = client.usage().ok();
        Asked { engine: Some(engine), counts, usage }
    }

    /// Only the RAM used, as `list` shows it.
    fn usage(rec: &MountRecord) -> Option<Usage> {
        Self::connect(rec)?.usage().ok()
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
            MountState::Mounted if Self::in_place(r) => Liveness::Serving,
            MountState::Mounted => Liveness::Detached,
        }
    }

    /// Whether the mount of `r` is at its mount point, as we see it or (Linux) as its daemon
    /// does, in a mount namespace of its own.
    fn in_place(r: &MountRecord) -> bool {
        let mnt = r.mountpoint_path();
        if mountinfo::agentfs_at(&mnt) {
            return true;
        }
        #[cfg(target_os = "linux")]
        if mountinfo::mount_at_seen_by(r.pid, &mnt).is_some_and(|m| mountinfo::is_agentfs(&m)) {
            return true;
        }
        false
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
    let asked = Asked::all(rec);
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
        "upper": {
            "used_bytes": asked.usage.map(|u| u.used_bytes),
            "budget_bytes": asked.usage.map_or(rec.budget_bytes, |u| u.budget_bytes),
        },
        "passthrough": rec.passthrough,
        "transport": rec.transport,
        "transport_reason": rec.transport_reason,
    });
    if let Some((nodes, open_files)) = asked.engine {
        v["engine"] = json!({ "nodes": nodes, "open_files": open_files });
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
    let asked = Asked::all(rec);
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
    match asked.usage {
        Some(u) => out!("  upper:  {} used of {}", human_bytes(u.used_bytes), human_bytes(u.budget_bytes))?,
        None => out!("  upper:  ? used of {} (the daemon does not answer)", human_bytes(rec.budget_bytes))?,
    }
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
            Liveness::Serving => Asked::usage(r).map_or_else(|| "?".into(), |u| human_bytes(u.used_bytes)),
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
