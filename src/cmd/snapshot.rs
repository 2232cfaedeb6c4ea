//! `agentfs snapshot MNT NAME`, `agentfs snapshot rm NAME`, `agentfs snapshots`.

use super::human_bytes;
use crate::cli::{ListArgs, SnapshotAction, SnapshotArgs};
use crate::quote;
use agentfs_mount_helper::snapshot::remove::Removed;
use agentfs_mount_helper::snapshot::{self, record};
use agentfs_mount_helper::{Error, Result};
use serde_json::{Value, json};

pub fn run(a: SnapshotArgs) -> Result<()> {
    if let Some(SnapshotAction::Rm { name }) = a.action {
        match snapshot::remove(&name)? {
            Removed::Whole => crate::say!("removed the snapshot {name}"),
            Removed::RecordOnly { path, replaced: false, delete_with } => crate::say!(
                "removed the record of the snapshot {name}; its data was no longer at {} (deleted, or \
                 its filesystem is mounted elsewhere now: there, delete it with {delete_with})",
                quote::text(&path)
            ),
            Removed::RecordOnly { path, replaced: true, delete_with } => crate::say!(
                "removed the record of the snapshot {name}; something else is at {} now and was left \
                 alone (if the data was moved, delete it with {delete_with})",
                quote::text(&path)
            ),
        }
        return Ok(());
    }
    let (Some(mnt), Some(name)) = (a.mnt, a.name) else {
        return Err(Error::Usage("give the mount point and a name: agentfs snapshot MNT NAME".into()));
    };
    let s = snapshot::create(&mnt, &name)?;
    crate::say!(
        "snapshot {name}: {} changed objects, {} of data, in {} ms, at {}",
        s.changed_objects,
        human_bytes(s.changed_bytes),
        s.millis,
        quote::text(s.root_path())
    );
    Ok(())
}

fn to_json(s: &record::SnapshotRecord) -> Value {
    let mut v = json!({
        "name": s.name,
        "created": s.created,
        "holder": match s.holder { record::Holder::Subvolume => "btrfs-subvolume", record::Holder::Tree => "tree" },
        "read_only": s.sealed,
        "changed_objects": s.changed_objects,
        "changed_bytes": s.changed_bytes,
        "millis": s.millis,
    });
    quote::put(&mut v, "source", s.source_path());
    quote::put(&mut v, "path", s.root_path());
    let users: Vec<Value> = snapshot::remove::users(&s.container)
        .iter()
        .map(|u| {
            let mut o = json!({});
            quote::put(&mut o, "path", u);
            o
        })
        .collect();
    v["used_by"] = Value::Array(users);
    v
}

pub fn list(a: ListArgs) -> Result<()> {
    let all: Vec<_> = record::list()?.into_iter().filter(|s| s.complete()).collect();
    if a.json {
        crate::say!("{}", Value::Array(all.iter().map(to_json).collect()));
        return Ok(());
    }
    if all.is_empty() {
        crate::say!("no snapshots");
        return Ok(());
    }
    crate::say!("{:<24} {:<20} {:>10} {:>10}  SOURCE", "NAME", "CREATED (UTC)", "OBJECTS", "DATA");
    for s in &all {
        crate::say!(
            "{:<24} {:<20} {:>10} {:>10}  {}",
            s.name,
            utc(s.created),
            s.changed_objects,
            human_bytes(s.changed_bytes),
            quote::text(s.source_path())
        );
    }
    Ok(())
}

/// Seconds since the epoch as "YYYY-MM-DD HH:MM:SS" (UTC).
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_795_241_605), "2026-11-21 06:13:25");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00");
    }
}
