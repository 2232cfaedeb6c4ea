//! The staging directory of a commit: made in the directory holding staging directories on
//! the target's filesystem, which another commit may remove when it finds it empty.

use crate::confined::{Dir, cause, errno};
use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::path::Path;

/// Makes the staging directory `id` in `place` (making `place` again if another commit just
/// removed it): the directory holding it, and it.
pub fn make(place: &Path, id: &OsStr) -> Result<(Dir, Dir)> {
    let fail = |e: std::io::Error| {
        Error::System(format!("cannot make a staging directory in {}: {}", place.display(), cause(&e)))
    };
    for _ in 0..50 {
        let parent = match Dir::open_root(place) {
            Ok(d) => d,
            Err(e) if errno(&e) == Some(libc::ENOENT) => {
                remake(place).map_err(fail)?;
                continue;
            }
            Err(e) => return Err(fail(e)),
        };
        match parent.mkdir(id, 0o700) {
            Ok(()) => {
                let staging = parent.open_dir(Path::new(id)).map_err(fail)?;
                return Ok((parent, staging));
            }
            // Removed (empty) by another commit between our open and mkdir.
            Err(e) if errno(&e) == Some(libc::ENOENT) => continue,
            Err(e) => return Err(fail(e)),
        }
    }
    Err(Error::Busy(format!("{} keeps vanishing; try again", place.display())))
}

fn remake(place: &Path) -> std::io::Result<()> {
    let (Some(up), Some(name)) = (place.parent(), place.file_name()) else {
        return Err(std::io::ErrorKind::InvalidInput.into());
    };
    match Dir::open_root(up)?.mkdir(name, 0o700) {
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        other => other,
    }
}
