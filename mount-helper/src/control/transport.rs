//! How control connections are made, per OS: a Unix socket in the runtime directory (mode
//! 0600; the peer's uid is checked), or on Windows a named pipe `\\.\pipe\agentfs-ID` (local
//! clients only; the pipe's default security lets only its creator, administrators and
//! LocalSystem write to it, and a client that cannot write cannot send a request).

use std::io::{Read, Write};
use std::time::Duration;

/// A connection's stream, either side.
pub trait Conn: Read + Write + Send + 'static {
    /// Stop waiting for the peer after `timeout` of silence (None: wait for ever). Where the OS
    /// cannot time out a read (Windows pipes), this does nothing.
    fn set_idle_timeout(&self, timeout: Option<Duration>);
}

#[cfg(unix)]
pub use unix::*;
#[cfg(windows)]
pub use windows::*;

#[cfg(unix)]
mod unix {
    use super::Conn;
    use std::io;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;
    use std::time::Duration;

    impl Conn for UnixStream {
        fn set_idle_timeout(&self, timeout: Option<Duration>) {
            let _ = self.set_read_timeout(timeout);
        }
    }

    /// Where mount `id` listens.
    pub fn socket_path(id: &str) -> PathBuf {
        crate::runtime::records_dir().join(format!("{id}.sock"))
    }

    /// Removes what mount `id` listened on.
    pub fn remove_endpoint(id: &str) {
        let _ = std::fs::remove_file(socket_path(id));
    }

    /// A command's end of a control connection. Its writes never raise SIGPIPE: the commands
    /// that only print let SIGPIPE end them quietly when their stdout closes, and a daemon that
    /// exits in the middle of a request must not end them that way.
    pub struct ClientStream(UnixStream);

    impl io::Read for ClientStream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            io::Read::read(&mut self.0, buf)
        }
    }

    impl io::Write for ClientStream {
        #[cfg(target_os = "linux")]
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            rustix::net::send(&self.0, buf, rustix::net::SendFlags::NOSIGNAL).map_err(io::Error::from)
        }
        /// Elsewhere the standard library sets SO_NOSIGPIPE on the socket already.
        #[cfg(not(target_os = "linux"))]
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            io::Write::write(&mut self.0, buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Conn for ClientStream {
        fn set_idle_timeout(&self, timeout: Option<Duration>) {
            let _ = self.0.set_read_timeout(timeout);
        }
    }

    pub fn connect(id: &str) -> io::Result<(ClientStream, String)> {
        let path = socket_path(id);
        let stream = UnixStream::connect(&path)?;
        Ok((ClientStream(stream), path.display().to_string()))
    }

    /// Listens for mount `id` (replacing a stale socket).
    pub fn listen(id: &str) -> io::Result<Listener> {
        let path = socket_path(id);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(Listener(listener))
    }

    pub struct Listener(UnixListener);

    impl Listener {
        /// The next connection from `owner` or root (others are refused and logged).
        pub fn accept(&self, owner: u32) -> io::Result<UnixStream> {
            loop {
                let (stream, _) = self.0.accept()?;
                match agentfs_platform::os::peer::peer_uid(&stream) {
                    Ok(uid) if uid == 0 || uid == owner => return Ok(stream),
                    Ok(uid) => tracing::warn!(uid, "control connection refused: not the mount's owner"),
                    Err(e) => tracing::warn!(%e, "control connection refused: no peer credentials"),
                }
            }
        }
    }
}

#[cfg(windows)]
mod windows {
    use super::Conn;
    use agentfs_platform::sys::windows::pipe;
    use std::fs::File;
    use std::io;
    use std::time::Duration;

    impl Conn for File {
        fn set_idle_timeout(&self, _timeout: Option<Duration>) {}
    }

    const ERROR_PIPE_BUSY: i32 = 231;

    /// The pipe of mount `id`.
    pub fn pipe_name(id: &str) -> String {
        format!(r"\\.\pipe\agentfs-{id}")
    }

    /// A pipe leaves nothing behind.
    pub fn remove_endpoint(_id: &str) {}

    /// Connects to the pipe of mount `id`. Between two clients the daemon makes a new pipe
    /// instance, so a client that comes in that moment is told "busy" or "not found": it tries
    /// again for a second.
    pub fn connect(id: &str) -> io::Result<(File, String)> {
        let name = pipe_name(id);
        let mut tries = 0;
        loop {
            match std::fs::OpenOptions::new().read(true).write(true).open(&name) {
                Ok(f) => return Ok((f, name)),
                Err(e)
                    if tries < 50
                        && (e.raw_os_error() == Some(ERROR_PIPE_BUSY) || e.kind() == io::ErrorKind::NotFound) =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn listen(id: &str) -> io::Result<Listener> {
        Ok(Listener(pipe_name(id)))
    }

    pub struct Listener(String);

    impl Listener {
        /// The next connection (a new pipe instance per client).
        pub fn accept(&self, _owner: u32) -> io::Result<File> {
            pipe::accept(&self.0)
        }
    }
}
