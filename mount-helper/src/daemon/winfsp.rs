//! The WinFsp daemon (Windows): mounted through WinFsp, ended by `agentfs unmount` (a request on
//! the control pipe: only the daemon can take a WinFsp volume down), a console control event,
//! or the exit of the process it serves (`agentfs run`).

use super::{MountConfig, Running, Serving, engine, record, start_logging};
use crate::control::server::OnUnmount;
use crate::error::{Error, Result};
use crate::pin::PinKind;
use crate::readiness::Readiness;
use crate::registry;
use agentfs_platform::winfsp::{self, MountSpec};
use std::sync::Arc;
use std::sync::mpsc;

/// The volume label: the frozen directory's name.
fn label(cfg: &MountConfig) -> String {
    let name = cfg.source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String = name.chars().take(32).collect();
    if name.is_empty() { "agentfs".into() } else { name }
}

/// Calls `stop` when the process `pid` (started at `start`) is gone.
fn watch_owner(pid: u32, start: u64, stop: OnUnmount) -> Result<()> {
    agentfs_platform::os::process::on_exit(pid, start, move || {
        tracing::info!(pid, "the process that asked for this mount is gone: unmounting");
        stop();
    })
    .map_err(|e| Error::System(format!("cannot watch process {pid}: {e}")))
}

pub(super) fn start(cfg: &MountConfig, readiness: &Readiness) -> Result<Running> {
    let log = start_logging(cfg, readiness)?;
    // WinFsp opens and closes every handle it uses, so the engine tracks opens.
    let engine = engine(cfg, true)?;
    let spec = MountSpec {
        mountpoint: cfg.mountpoint.clone(),
        label: label(cfg),
        read_only: cfg.read_only,
        live: cfg.pin.kind == PinKind::Live,
        threads: 0,
    };
    let mounted = winfsp::mount(Arc::clone(&engine), &spec)
        .map_err(|e| Error::System(format!("cannot mount at {}: {e}", cfg.mountpoint.display())))?;
    let (tx, rx) = mpsc::channel::<()>();
    let stop: OnUnmount = Arc::new(move || {
        let _ = tx.send(());
    });
    let session = std::thread::Builder::new()
        .name("winfsp-session".into())
        .spawn(move || {
            let _ = rx.recv();
            mounted.unmount();
            Ok(())
        })
        .map_err(|e| Error::System(format!("cannot start the session thread: {e}")))?;
    let fail = |e: Error| {
        tracing::error!(%e, "taking the volume down again");
        e
    };
    let on_ctrl = Arc::clone(&stop);
    if let Err(e) = agentfs_platform::sys::windows::console::on_ctrl(move || on_ctrl()) {
        tracing::warn!(%e, "no console events: unmount with `agentfs unmount`");
    }
    if let Some((pid, start)) = cfg.exit_with {
        watch_owner(pid, start, Arc::clone(&stop)).map_err(fail)?;
    }
    let serving = Serving { passthrough: false, transport: "winfsp", transport_reason: "the WinFsp driver" };
    let rec = record(cfg, log.as_deref(), serving);
    let started = registry::save(&rec).and_then(|()| {
        // The only way to unmount: without it the mount must not stay.
        crate::control::server::start(engine, &cfg.id, rec.uid, Some(Arc::clone(&stop)))
            .map_err(|e| Error::System(format!("cannot listen for control requests: {e}")))
    });
    if let Err(e) = started {
        stop();
        let _ = session.join();
        registry::remove(&cfg.id);
        return Err(fail(e));
    }
    tracing::info!(pid = rec.pid, "serving");
    Ok(Running { id: cfg.id.clone(), session, log, pin: cfg.pin.clone() })
}
