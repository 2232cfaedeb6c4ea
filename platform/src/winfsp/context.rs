//! `FileSystemContext` for the adapter: type conversions only.

use crate::sys::windows::security;
use crate::winfsp_adapter::{self as ad, Adapter, BasicInfo, CreateRequest, Descriptor, Handle, NtStatus};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::c_void;
use winfsp::filesystem::{
    DirInfo, DirMarker, FileInfo, FileSecurity, FileSystemContext, ModificationDescriptor, OpenFileInfo, VolumeInfo,
    WideNameInfo,
};
use winfsp::{FspError, U16CStr};

/// STATUS_BUFFER_OVERFLOW: the caller's buffer is too small (it asks again with the size).
const BUFFER_OVERFLOW: i32 = 0x8000_0005_u32 as i32;

/// The file system WinFsp calls.
pub struct Context {
    adapter: Adapter,
    /// Descriptors made from SDDL, by SDDL (a handful of distinct modes in practice).
    made: Mutex<HashMap<String, Vec<u8>>>,
}

fn fsp(s: NtStatus) -> FspError {
    FspError::NTSTATUS(s.0)
}

fn put(out: &mut FileInfo, i: &ad::FileInfo) {
    out.file_attributes = i.file_attributes;
    out.reparse_tag = i.reparse_tag;
    out.allocation_size = i.allocation_size;
    out.file_size = i.file_size;
    out.creation_time = i.creation_time;
    out.last_access_time = i.last_access_time;
    out.last_write_time = i.last_write_time;
    out.change_time = i.change_time;
    out.index_number = i.index_number;
    out.hard_links = 0;
    out.ea_size = 0;
}

/// Copies `data` into `buffer`; BUFFER_TOO_SMALL if it does not fit. Returns its length.
fn copy_out(data: &[u8], buffer: &mut [u8]) -> winfsp::Result<u64> {
    let dst = buffer.get_mut(..data.len()).ok_or(fsp(NtStatus::BUFFER_TOO_SMALL))?;
    dst.copy_from_slice(data);
    Ok(data.len() as u64)
}

impl Context {
    pub fn new(adapter: Adapter) -> Context {
        Context { adapter, made: Mutex::new(HashMap::new()) }
    }

    /// The binary form of a descriptor.
    fn bytes(&self, d: Descriptor) -> winfsp::Result<Vec<u8>> {
        match d {
            Descriptor::Stored(b) => Ok(b),
            Descriptor::Sddl(s) => {
                if let Some(b) = self.made.lock().get(&s) {
                    return Ok(b.clone());
                }
                let b = security::from_sddl(&s).map_err(FspError::from)?;
                self.made.lock().insert(s, b.clone());
                Ok(b)
            }
        }
    }

    fn opened(&self, o: ad::Opened, file_info: &mut OpenFileInfo) -> Handle {
        put(file_info.as_mut(), &o.info);
        // Windows is told each name's stored case (the buffer holds a full path; longer ones
        // keep the case they were asked with).
        if self.adapter.config().ignore_case && o.normalized.len() < 1024 {
            file_info.set_normalized_name(&o.normalized, Some(b'\\' as u16));
        }
        o.handle
    }
}

impl FileSystemContext for Context {
    type FileContext = Handle;

    fn get_security_by_name(
        &self,
        file_name: &U16CStr,
        security_descriptor: Option<&mut [c_void]>,
        reparse_point_resolver: impl FnOnce(&U16CStr) -> Option<FileSecurity>,
    ) -> winfsp::Result<FileSecurity> {
        match self.adapter.security_by_name(file_name.as_slice()) {
            Ok((attributes, d)) => {
                let sd = self.bytes(d)?;
                let size = security::write_descriptor(security_descriptor, &sd);
                Ok(FileSecurity { reparse: false, sz_security_descriptor: size, attributes })
            }
            Err(s) if s == NtStatus::OBJECT_PATH_NOT_FOUND || s == NtStatus::OBJECT_NAME_NOT_FOUND => {
                // A symlink on the way: WinFsp follows it.
                reparse_point_resolver(file_name).ok_or(fsp(s))
            }
            Err(s) => Err(fsp(s)),
        }
    }

    fn open(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: u32,
        file_info: &mut OpenFileInfo,
    ) -> winfsp::Result<Handle> {
        let o = self.adapter.open(file_name.as_slice(), create_options, granted_access).map_err(fsp)?;
        Ok(self.opened(o, file_info))
    }

    fn close(&self, context: Handle) {
        drop(context);
    }

    fn create(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: u32,
        file_attributes: u32,
        security_descriptor: Option<&[c_void]>,
        _allocation_size: u64,
        extra_buffer: Option<&[u8]>,
        extra_buffer_is_reparse_point: bool,
        file_info: &mut OpenFileInfo,
    ) -> winfsp::Result<Handle> {
        let req = CreateRequest {
            path: file_name.as_slice(),
            create_options,
            granted_access,
            file_attributes,
            security: security_descriptor.map(security::descriptor_bytes),
            reparse: extra_buffer.filter(|_| extra_buffer_is_reparse_point),
        };
        let o = self.adapter.create(&req).map_err(fsp)?;
        Ok(self.opened(o, file_info))
    }

    fn cleanup(&self, context: &Handle, file_name: Option<&U16CStr>, flags: u32) {
        self.adapter.cleanup(context, file_name.map(U16CStr::as_slice), flags);
    }

    fn flush(&self, context: Option<&Handle>, file_info: &mut FileInfo) -> winfsp::Result<()> {
        if let Some(i) = self.adapter.flush(context).map_err(fsp)? {
            put(file_info, &i);
        }
        Ok(())
    }

    fn get_file_info(&self, context: &Handle, file_info: &mut FileInfo) -> winfsp::Result<()> {
        put(file_info, &self.adapter.info(context).map_err(fsp)?);
        Ok(())
    }

    fn get_security(&self, context: &Handle, security_descriptor: Option<&mut [c_void]>) -> winfsp::Result<u64> {
        let sd = self.bytes(self.adapter.security(context).map_err(fsp)?)?;
        if security_descriptor.as_ref().is_some_and(|b| b.len() < sd.len()) {
            return Err(FspError::NTSTATUS(BUFFER_OVERFLOW));
        }
        Ok(security::write_descriptor(security_descriptor, &sd))
    }

    fn set_security(
        &self,
        context: &Handle,
        security_information: u32,
        modification_descriptor: ModificationDescriptor,
    ) -> winfsp::Result<()> {
        let old = self.bytes(self.adapter.security(context).map_err(fsp)?)?;
        let new = security::merge(&old, security_information, &modification_descriptor).map_err(FspError::from)?;
        self.adapter.set_security(context, &new).map_err(fsp)
    }

    fn overwrite(
        &self,
        context: &Handle,
        file_attributes: u32,
        replace_file_attributes: bool,
        _allocation_size: u64,
        _extra_buffer: Option<&[u8]>,
        file_info: &mut FileInfo,
    ) -> winfsp::Result<()> {
        put(file_info, &self.adapter.overwrite(context, file_attributes, replace_file_attributes).map_err(fsp)?);
        Ok(())
    }

    fn read_directory(
        &self,
        context: &Handle,
        _pattern: Option<&U16CStr>,
        marker: DirMarker,
        buffer: &mut [u8],
    ) -> winfsp::Result<u32> {
        let mut cursor = 0u32;
        let mut full = false;
        let mut entry: DirInfo<255> = DirInfo::new();
        self.adapter
            .read_dir(context, marker.inner(), |item| {
                entry.reset();
                let mut info = FileInfo::default();
                put(&mut info, &item.info);
                *entry.file_info_mut() = info;
                if entry.set_name_raw(item.name.as_slice()).is_err() {
                    // A name longer than 255 UTF-16 units cannot be listed: skip it.
                    return true;
                }
                full = !entry.append_to_buffer(buffer, &mut cursor);
                !full
            })
            .map_err(fsp)?;
        if !full {
            DirInfo::<255>::finalize_buffer(buffer, &mut cursor);
        }
        Ok(cursor)
    }

    fn rename(
        &self,
        context: &Handle,
        file_name: &U16CStr,
        new_file_name: &U16CStr,
        replace_if_exists: bool,
    ) -> winfsp::Result<()> {
        self.adapter.rename(context, file_name.as_slice(), new_file_name.as_slice(), replace_if_exists).map_err(fsp)
    }

    fn set_basic_info(
        &self,
        context: &Handle,
        file_attributes: u32,
        creation_time: u64,
        last_access_time: u64,
        last_write_time: u64,
        last_change_time: u64,
        file_info: &mut FileInfo,
    ) -> winfsp::Result<()> {
        let b = BasicInfo {
            attributes: file_attributes,
            creation_time,
            last_access_time,
            last_write_time,
            change_time: last_change_time,
        };
        put(file_info, &self.adapter.set_basic_info(context, &b).map_err(fsp)?);
        Ok(())
    }

    fn set_delete(&self, context: &Handle, _file_name: &U16CStr, delete_file: bool) -> winfsp::Result<()> {
        self.adapter.set_delete(context, delete_file).map_err(fsp)
    }

    fn set_file_size(
        &self,
        context: &Handle,
        new_size: u64,
        set_allocation_size: bool,
        file_info: &mut FileInfo,
    ) -> winfsp::Result<()> {
        put(file_info, &self.adapter.set_file_size(context, new_size, set_allocation_size).map_err(fsp)?);
        Ok(())
    }

    fn read(&self, context: &Handle, buffer: &mut [u8], offset: u64) -> winfsp::Result<u32> {
        let n = self.adapter.read(context, buffer, offset).map_err(fsp)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn write(
        &self,
        context: &Handle,
        buffer: &[u8],
        offset: u64,
        write_to_eof: bool,
        constrained_io: bool,
        file_info: &mut FileInfo,
    ) -> winfsp::Result<u32> {
        let (n, i) = self.adapter.write(context, buffer, offset, write_to_eof, constrained_io).map_err(fsp)?;
        put(file_info, &i);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn get_volume_info(&self, out_volume_info: &mut VolumeInfo) -> winfsp::Result<()> {
        let v = self.adapter.volume();
        out_volume_info.total_size = v.total;
        out_volume_info.free_size = v.free;
        out_volume_info.set_volume_label(&self.adapter.config().volume_label);
        Ok(())
    }

    fn get_reparse_point_by_name(
        &self,
        file_name: &U16CStr,
        _is_directory: bool,
        buffer: &mut [u8],
    ) -> winfsp::Result<u64> {
        let data = self.adapter.reparse_by_name(file_name.as_slice()).map_err(fsp)?;
        copy_out(&data, buffer)
    }

    fn get_reparse_point(&self, context: &Handle, _file_name: &U16CStr, buffer: &mut [u8]) -> winfsp::Result<u64> {
        let data = self.adapter.reparse(context).map_err(fsp)?;
        copy_out(&data, buffer)
    }

    fn set_reparse_point(&self, context: &Handle, file_name: &U16CStr, buffer: &[u8]) -> winfsp::Result<()> {
        self.adapter.set_reparse(context, file_name.as_slice(), buffer).map_err(fsp)
    }

    fn delete_reparse_point(&self, context: &Handle, file_name: &U16CStr, _buffer: &[u8]) -> winfsp::Result<()> {
        self.adapter.delete_reparse(context, file_name.as_slice()).map_err(fsp)
    }
}
