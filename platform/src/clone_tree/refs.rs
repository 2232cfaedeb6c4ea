//! ReFS block cloning of whole files (Windows): every cluster of the new file shared with the
//! source's, in calls of [`super::clone_ranges`].

use super::{FileCloner, clone_ranges};
use crate::sys::windows::{refs, volume};
use std::fs::{File, OpenOptions};
use std::io;
use std::io::Write;
use std::os::windows::fs::MetadataExt;
use std::path::Path;

const FILE_ATTRIBUTE_SPARSE_FILE: u32 = 0x200;

/// Clones files on one ReFS volume.
pub struct RefsCloner {
    cluster: u64,
}

impl RefsCloner {
    /// A cloner for the volume holding `dir`; an error if it cannot block-clone.
    pub fn for_dir(dir: &Path) -> io::Result<RefsCloner> {
        if !volume::supports_block_cloning(dir)? {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "the volume has no block cloning (not ReFS)"));
        }
        Ok(RefsCloner { cluster: volume::cluster_size(&volume::volume_root(dir)?)? })
    }
}

impl FileCloner for RefsCloner {
    fn clone_file(&self, src: &Path, dst: &Path, size: u64) -> io::Result<()> {
        let from = File::open(src)?;
        let to = OpenOptions::new().read(true).write(true).create_new(true).open(dst)?;
        // Block cloning wants both files alike: integrity streams and sparseness.
        let _ = refs::copy_integrity(&from, &to);
        if from.metadata()?.file_attributes() & FILE_ATTRIBUTE_SPARSE_FILE != 0 {
            refs::set_sparse(&to)?;
        }
        to.set_len(size)?;
        for (offset, len) in clone_ranges(size, self.cluster) {
            refs::duplicate_extents(&from, &to, offset, len)?;
        }
        Ok(())
    }
}

/// Whether files in `dir` can be block-cloned: clones a small probe file once.
pub fn probe(dir: &Path) -> io::Result<()> {
    let cloner = RefsCloner::for_dir(dir)?;
    let a = dir.join(format!(".probe-{}-a", std::process::id()));
    let b = dir.join(format!(".probe-{}-b", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&a)?;
        f.write_all(&vec![0x5a; cloner.cluster as usize])?;
        f.sync_all()?;
        drop(f);
        cloner.clone_file(&a, &b, cloner.cluster)
    })();
    let _ = std::fs::remove_file(&a);
    let _ = std::fs::remove_file(&b);
    result
}
