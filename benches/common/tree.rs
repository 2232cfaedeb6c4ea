//! A deterministic source tree for benchmarks: directories of varied fan-out and a realistic
//! file size distribution (most files small, a few large), the same on every run.

use std::fs;
use std::path::Path;

/// xorshift64*: deterministic and good enough for shaping a tree.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A file size: 60% under 2 KiB, 30% 2-32 KiB, 9% 32-256 KiB, 1% 256 KiB-2 MiB.
pub fn file_size(r: &mut Rng) -> usize {
    let p = r.below(100);
    (match p {
        0..=59 => 50 + r.below(2000),
        60..=89 => 2048 + r.below(30 * 1024),
        90..=98 => 32 * 1024 + r.below(224 * 1024),
        _ => 256 * 1024 + r.below(1792 * 1024),
    }) as usize
}

/// Writes `files` files under `root` in nested directories (fan-out 1 to 40 files per
/// directory, up to 5 levels). Returns the bytes written.
pub fn generate(root: &Path, files: usize, seed: u64) -> u64 {
    let mut r = Rng::new(seed);
    let mut bytes = 0u64;
    let mut made = 0usize;
    let mut dirs: Vec<std::path::PathBuf> = vec![root.to_path_buf()];
    let content: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    fs::create_dir_all(root).unwrap();
    while made < files {
        let parent = dirs[r.below(dirs.len() as u64) as usize].clone();
        let depth = parent.strip_prefix(root).map(|p| p.components().count()).unwrap_or(0);
        let dir = if depth < 5 { parent.join(format!("dir{}", dirs.len())) } else { parent };
        fs::create_dir_all(&dir).unwrap();
        dirs.push(dir.clone());
        let fanout = 1 + r.below(40) as usize;
        for i in 0..fanout.min(files - made) {
            let size = file_size(&mut r);
            let ext = ["rs", "c", "h", "txt", "json", "md", "py", "o"][r.below(8) as usize];
            fs::write(dir.join(format!("file{made}_{i}.{ext}")), &content[..size]).unwrap();
            bytes += size as u64;
            made += 1;
        }
    }
    bytes
}
