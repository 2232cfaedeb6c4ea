//! `agentfs run SRC [--at PATH] -- CMD ARGS...`: a command in a throwaway view of a directory.
//!
//! Without `--at` (root only), this process moves into a private mount namespace and mounts
//! the view over SRC itself, so the command, and every program it starts, reads SRC at its own
//! path and finds it frozen; nobody outside the namespace sees the mount. With `--at`, the view
//! is mounted at PATH. The command starts at the same place relative to SRC as the caller, or
//! at the view's root. Signals sent to this process go on to the command; its exit code is
//! ours (128+N when a signal N ended it). At the end the view is unmounted and its pin removed;
//! should this process be killed, the daemon notices and unmounts by itself.

use crate::error::{Error, Result};
use crate::mount::{MountRequest, mount};
use crate::pin::PinRequest;
use crate::unmount::{Unmounted, unmount_record};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct RunRequest {
    pub src: PathBuf,
    pub at: Option<PathBuf>,
    pub pin: PinRequest,
    pub budget_bytes: u64,
    pub passthrough: bool,
    pub io_uring: agentfs_platform::io_uring_mode::IoUringMode,
    pub cmd: Vec<OsString>,
    pub quiet: bool,
}

/// Where the command starts: the place in `mnt` matching `cwd`'s place in `src`, or `mnt`.
pub fn start_dir(src: &Path, mnt: &Path, cwd: &Path) -> PathBuf {
    match cwd.strip_prefix(src) {
        Ok(rel) => mnt.join(rel),
        Err(_) => mnt.to_path_buf(),
    }
}

/// Runs the command; returns the exit code to leave with.
pub fn run(req: &RunRequest, exe: &Path) -> Result<i32> {
    let Some((program, args)) = req.cmd.split_first() else {
        return Err(Error::Usage("give the command to run after --: agentfs run SRC -- CMD ARGS...".into()));
    };
    let src = std::fs::canonicalize(&req.src).map_err(|e| {
        Error::Input(format!("SRC {} cannot be used ({e}); give the directory to freeze", req.src.display()))
    })?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| src.clone());
    let forwarder = forward::Forwarder::prepare()?;
    let (mnt, made) = match &req.at {
        Some(at) => view_place(at)?,
        None => {
            enter_private_namespace()?;
            (src.clone(), false)
        }
    };
    let id = format!("run-{}-{}", std::process::id(), crate::runtime::mount_id(&mnt));
    let mounted = mount(
        &MountRequest {
            pin: req.pin,
            budget_bytes: req.budget_bytes,
            passthrough: req.passthrough,
            io_uring: req.io_uring,
            quiet: req.quiet,
            over_source: req.at.is_none(),
            id: Some(id.clone()),
            exit_with: Some(std::process::id()),
            ..MountRequest::new(src.clone(), mnt.clone())
        },
        exe,
    );
    if let Err(e) = mounted {
        if made {
            let _ = std::fs::remove_dir(&mnt);
        }
        return Err(e);
    }
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(start_dir(&src, &mnt, &cwd));
    #[cfg(unix)]
    agentfs_platform::sys::child::die_with_parent(&mut cmd);
    let status = cmd.spawn().inspect(|child| forwarder.start(child.id()));
    let code = match status.and_then(|mut c| c.wait()) {
        Ok(st) => forward::exit_code(st),
        Err(e) => {
            let msg = format!("cannot run {}: {e}", Path::new(program).display());
            finish(&mnt, &id, made);
            return Err(Error::Input(msg));
        }
    };
    finish(&mnt, &id, made);
    Ok(code)
}

/// Where `--at PATH` puts the view (made if missing: then true), canonical; on Windows also a
/// drive letter.
fn view_place(at: &Path) -> Result<(PathBuf, bool)> {
    #[cfg(windows)]
    if agentfs_platform::winfsp::is_drive(at) {
        return Ok((at.to_path_buf(), false));
    }
    let made = !at.exists();
    if made {
        std::fs::create_dir_all(at).map_err(|e| Error::io("cannot create", at, &e))?;
    }
    let c = std::fs::canonicalize(at).map_err(|e| Error::io("cannot resolve", at, &e))?;
    Ok((crate::check::plain(c), made))
}

/// Passing signals on to the command, and its exit code.
#[cfg(unix)]
mod forward {
    use crate::error::{Error, Result};
    use agentfs_platform::sys::signals::{self, SignalSet};
    use std::os::unix::process::ExitStatusExt;

    pub struct Forwarder(SignalSet);

    impl Forwarder {
        /// Signals wait for the forwarding thread from now on (the command gets a clean mask).
        pub fn prepare() -> Result<Forwarder> {
            signals::block(&signals::FORWARDED)
                .map(Forwarder)
                .map_err(|e| Error::System(format!("cannot block signals: {e}")))
        }

        /// Passes on what is sent to us; a terminal's ^C reaches the command by itself.
        pub fn start(self, pid: u32) {
            let sigs = self.0;
            let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
                while let Ok((sig, from_kernel)) = sigs.wait_info() {
                    if from_kernel {
                        continue;
                    }
                    if let (Some(p), Some(s)) =
                        (rustix::process::Pid::from_raw(pid as i32), rustix::process::Signal::from_named_raw(sig))
                    {
                        let _ = rustix::process::kill_process(p, s);
                    }
                }
            });
        }
    }

    /// The command's exit code, or 128+N when signal N ended it.
    pub fn exit_code(st: std::process::ExitStatus) -> i32 {
        st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
    }
}

/// Windows: the command shares our console, so Ctrl-C and Ctrl-Break reach it by themselves;
/// there is nothing else to pass on.
#[cfg(windows)]
mod forward {
    use crate::error::Result;

    pub struct Forwarder;

    impl Forwarder {
        pub fn prepare() -> Result<Forwarder> {
            Ok(Forwarder)
        }

        pub fn start(self, _pid: u32) {}
    }

    pub fn exit_code(st: std::process::ExitStatus) -> i32 {
        st.code().unwrap_or(1)
    }
}

/// Unmounts (lazily if the command left something running in the view) and tidies up.
fn finish(mnt: &Path, id: &str, made: bool) {
    match unmount_record(mnt, id, false) {
        Ok(_) => {}
        Err(Error::Busy(_)) => {
            if let Ok(Unmounted::Detached(pid)) = unmount_record(mnt, id, true) {
                eprintln!("agentfs: the view stays until what the command left running closes it (daemon pid {pid})");
            }
        }
        Err(e) => eprintln!("agentfs: {e}"),
    }
    if made {
        let _ = std::fs::remove_dir(mnt);
    }
}

/// Moves this process into a mount namespace of its own whose mounts never propagate back.
#[cfg(target_os = "linux")]
fn enter_private_namespace() -> Result<()> {
    if !rustix::process::geteuid().is_root() {
        return Err(Error::Permission(
            "agentfs run without --at mounts over SRC in a private mount namespace, which needs root; \
             give --at PATH to mount the view elsewhere"
                .into(),
        ));
    }
    agentfs_platform::sys::namespace::unshare_mounts()
        .map_err(|e| Error::System(format!("cannot make a private mount namespace: {e}")))?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::REC | rustix::mount::MountPropagationFlags::PRIVATE,
    )
    .map_err(|e| Error::System(format!("cannot make the mount namespace private: {e}")))?;
    Ok(())
}

/// macOS has no private mount namespaces: a view over SRC's own path would be everyone's.
#[cfg(not(target_os = "linux"))]
fn enter_private_namespace() -> Result<()> {
    Err(Error::Usage(
        "this OS has no private mount namespaces, so agentfs run cannot show SRC frozen at its own path; \
         give --at PATH to mount the view there"
            .into(),
    ))
}
