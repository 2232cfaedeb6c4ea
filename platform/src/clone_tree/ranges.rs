//! The calls a ReFS block clone of one file takes (`FSCTL_DUPLICATE_EXTENTS_TO_FILE`): offsets
//! and lengths must be multiples of the volume's cluster size (4 or 64 KiB), and one call must
//! stay under 4 GiB. The last range is rounded up to a whole cluster, which ReFS accepts past
//! the end of the file once the destination has the source's size.

/// The largest length one call may ask for: under 4 GiB.
pub const MAX_CLONE_CALL: u64 = (4 << 30) - 1;

/// The (offset, length) pairs cloning a `len`-byte file takes on a volume of `cluster`-byte
/// clusters; empty for an empty file or a cluster size that is not a power of two.
pub fn clone_ranges(len: u64, cluster: u64) -> Vec<(u64, u64)> {
    if len == 0 || !cluster.is_power_of_two() || cluster > MAX_CLONE_CALL {
        return Vec::new();
    }
    let total = len.div_ceil(cluster) * cluster;
    let step = MAX_CLONE_CALL / cluster * cluster;
    let mut out = Vec::with_capacity(total.div_ceil(step) as usize);
    let mut off = 0;
    while off < total {
        let n = step.min(total - off);
        out.push((off, n));
        off += n;
    }
    out
}
