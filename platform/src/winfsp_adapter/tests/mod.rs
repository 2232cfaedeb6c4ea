//! The adapter against the real engine: a lower directory read through `DirLower` on Unix (or
//! `PathLower`), upper data in the heap store.

mod files;
mod listing;
mod meta;
mod paths;

use super::*;
use agentfs_core::store::heap::HeapStore;
use agentfs_core::{Config as EngineConfig, Engine};
use std::fs;
use std::sync::Arc;

/// A WinFsp path from a `\`-separated string.
pub fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub adapter: Adapter,
}

/// A lower tree: `\d\f.txt` ("hello"), `\d\sub\deep.txt`, `\d\ro.txt` (read-only), `\empty`.
pub fn fixture(ignore_case: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lower");
    fs::create_dir_all(root.join("d/sub")).unwrap();
    fs::create_dir(root.join("empty")).unwrap();
    fs::write(root.join("d/f.txt"), b"hello").unwrap();
    fs::write(root.join("d/sub/deep.txt"), b"deep").unwrap();
    fs::write(root.join("d/ro.txt"), b"ro").unwrap();
    let mut p = fs::metadata(root.join("d/ro.txt")).unwrap().permissions();
    p.set_readonly(true);
    fs::set_permissions(root.join("d/ro.txt"), p).unwrap();
    let lower = crate::path_lower::PathLower::open(&root, Vec::new()).unwrap();
    let engine = Engine::new(Arc::new(lower), Arc::new(HeapStore), EngineConfig::default()).unwrap();
    let cfg = Config {
        ignore_case,
        owner: agentfs_core::Caller::new(1000, 1000),
        owner_sid: "S-1-5-21-1-2-3-1001".into(),
        volume_label: "agentfs".into(),
    };
    Fixture { _dir: dir, adapter: Adapter::new(Arc::new(engine), cfg) }
}

impl Fixture {
    pub fn open(&self, path: &str) -> Result<Opened> {
        self.adapter.open(&w(path), 0, FILE_WRITE_DATA | 1)
    }

    pub fn create_file(&self, path: &str) -> Result<Opened> {
        self.adapter.create(&CreateRequest {
            path: &w(path),
            create_options: FILE_NON_DIRECTORY_FILE,
            granted_access: FILE_WRITE_DATA | 1,
            file_attributes: 0,
            security: None,
            reparse: None,
        })
    }

    pub fn mkdir(&self, path: &str) -> Result<Opened> {
        self.adapter.create(&CreateRequest {
            path: &w(path),
            create_options: FILE_DIRECTORY_FILE,
            granted_access: 1,
            file_attributes: 0,
            security: None,
            reparse: None,
        })
    }

    /// The names of a directory's listing, in order.
    pub fn list(&self, path: &str, marker: Option<&str>) -> Vec<String> {
        let h = self.open(path).unwrap().handle;
        let marker = marker.map(w);
        let mut out = Vec::new();
        self.adapter
            .read_dir(&h, marker.as_deref(), |i| {
                out.push(String::from_utf16_lossy(&i.name));
                true
            })
            .unwrap();
        out
    }

    pub fn read_all(&self, path: &str) -> Vec<u8> {
        let h = self.open(path).unwrap().handle;
        let mut buf = vec![0u8; 1 << 16];
        let n = self.adapter.read(&h, &mut buf, 0).unwrap_or(0);
        buf.truncate(n);
        buf
    }
}
