//! NTSTATUS values WinFsp passes back to Windows, and the engine's errors translated to them.

use agentfs_core::Errno;

/// An NTSTATUS (negative for errors).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NtStatus(pub i32);

macro_rules! statuses {
    ($($name:ident = $val:expr;)*) => {
        impl NtStatus {
            $(pub const $name: NtStatus = NtStatus($val as u32 as i32);)*

            /// The symbolic name, for logs and test failures.
            pub fn name(self) -> &'static str {
                match self.0 as u32 {
                    $($val => stringify!($name),)*
                    _ => "STATUS_?",
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000;
    INVALID_HANDLE = 0xC000_0008;
    INVALID_PARAMETER = 0xC000_000D;
    INVALID_DEVICE_REQUEST = 0xC000_0010;
    END_OF_FILE = 0xC000_0011;
    ACCESS_DENIED = 0xC000_0022;
    BUFFER_TOO_SMALL = 0xC000_0023;
    OBJECT_NAME_INVALID = 0xC000_0033;
    OBJECT_NAME_NOT_FOUND = 0xC000_0034;
    OBJECT_NAME_COLLISION = 0xC000_0035;
    OBJECT_PATH_NOT_FOUND = 0xC000_003A;
    SHARING_VIOLATION = 0xC000_0043;
    EA_TOO_LARGE = 0xC000_0050;
    DISK_FULL = 0xC000_007F;
    INSUFFICIENT_RESOURCES = 0xC000_009A;
    MEDIA_WRITE_PROTECTED = 0xC000_00A2;
    FILE_IS_A_DIRECTORY = 0xC000_00BA;
    NOT_SUPPORTED = 0xC000_00BB;
    NOT_SAME_DEVICE = 0xC000_00D4;
    DIRECTORY_NOT_EMPTY = 0xC000_0101;
    NOT_A_DIRECTORY = 0xC000_0103;
    NAME_TOO_LONG = 0xC000_0106;
    TOO_MANY_OPENED_FILES = 0xC000_011F;
    CANNOT_DELETE = 0xC000_0121;
    FILE_DELETED = 0xC000_0123;
    IO_DEVICE_ERROR = 0xC000_0185;
    NOT_FOUND = 0xC000_0225;
    TOO_MANY_LINKS = 0xC000_0265;
    NOT_A_REPARSE_POINT = 0xC000_0275;
    IO_REPARSE_DATA_INVALID = 0xC000_0278;
    REPARSE_POINT_NOT_RESOLVED = 0xC000_0280;
    FILE_TOO_LARGE = 0xC000_0904;
}

impl std::fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({:#010x})", self.name(), self.0 as u32)
    }
}

/// What Windows is told for an engine error.
const FROM_ERRNO: [(Errno, NtStatus); 30] = [
    (Errno::EPERM, NtStatus::ACCESS_DENIED),
    (Errno::EACCES, NtStatus::ACCESS_DENIED),
    (Errno::ENOENT, NtStatus::OBJECT_NAME_NOT_FOUND),
    (Errno::EEXIST, NtStatus::OBJECT_NAME_COLLISION),
    (Errno::ENOTDIR, NtStatus::NOT_A_DIRECTORY),
    (Errno::EISDIR, NtStatus::FILE_IS_A_DIRECTORY),
    (Errno::ENOTEMPTY, NtStatus::DIRECTORY_NOT_EMPTY),
    (Errno::EINVAL, NtStatus::INVALID_PARAMETER),
    (Errno::ENAMETOOLONG, NtStatus::NAME_TOO_LONG),
    (Errno::ENOSPC, NtStatus::DISK_FULL),
    (Errno::EFBIG, NtStatus::FILE_TOO_LARGE),
    (Errno::EROFS, NtStatus::MEDIA_WRITE_PROTECTED),
    (Errno::EXDEV, NtStatus::NOT_SAME_DEVICE),
    (Errno::ENOMEM, NtStatus::INSUFFICIENT_RESOURCES),
    (Errno::EMFILE, NtStatus::TOO_MANY_OPENED_FILES),
    (Errno::EMLINK, NtStatus::TOO_MANY_LINKS),
    (Errno::ESTALE, NtStatus::FILE_DELETED),
    (Errno::EBADF, NtStatus::INVALID_HANDLE),
    (Errno::EAGAIN, NtStatus::SHARING_VIOLATION),
    (Errno::ETXTBSY, NtStatus::SHARING_VIOLATION),
    (Errno::ELOOP, NtStatus::REPARSE_POINT_NOT_RESOLVED),
    (Errno::ENODATA, NtStatus::NOT_FOUND),
    (Errno::ERANGE, NtStatus::BUFFER_TOO_SMALL),
    (Errno::E2BIG, NtStatus::EA_TOO_LARGE),
    (Errno::ENXIO, NtStatus::INVALID_PARAMETER),
    (Errno::ESPIPE, NtStatus::INVALID_PARAMETER),
    (Errno::EOVERFLOW, NtStatus::INVALID_PARAMETER),
    (Errno::EOPNOTSUPP, NtStatus::NOT_SUPPORTED),
    (Errno::ENOSYS, NtStatus::INVALID_DEVICE_REQUEST),
    (Errno::ENOTTY, NtStatus::INVALID_DEVICE_REQUEST),
];

impl From<Errno> for NtStatus {
    fn from(e: Errno) -> NtStatus {
        FROM_ERRNO.iter().find(|(k, _)| *k == e).map_or(NtStatus::IO_DEVICE_ERROR, |(_, s)| *s)
    }
}

/// Results of the adapter.
pub type Result<T> = std::result::Result<T, NtStatus>;
