//! The programs beneath the read paths: every file the dynamic loader (or
//! the kernel) could run, found once at start by reading each file's ELF
//! header.
//!
//! Under an allowlist, Landlock grants EXECUTE only on the allowed
//! programs; but the loader must stay executable (it is every dynamic
//! program's interpreter), and `ld.so /usr/bin/id` runs any program it can
//! read. So the read rules go around every program found here except the
//! allowed ones (and their interpreters and helpers, which get rules of
//! their own): what cannot be read can neither be mapped nor copied.
//!
//! A program is an ELF file of type `ET_EXEC`, or `ET_DYN` with a
//! `PT_INTERP` (a position-independent executable) or flagged `DF_1_PIE`
//! (a static one). Shared libraries stay readable: every program needs
//! them, and they have no entry point that takes arguments (`libc.so.6`
//! has a `PT_INTERP` and only prints its version). Not searched: the
//! kernel's own filesystems (`/proc`, `/sys`, cgroups…), the writable roots
//! (mounted noexec) and the hidden paths.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// What a search of the read paths found.
#[derive(Debug, Default, Clone)]
pub(crate) struct Census {
    /// Real paths of the programs, sorted.
    pub(crate) programs: Vec<PathBuf>,
    /// Regular files whose header was read.
    pub(crate) files: usize,
    pub(crate) took: Duration,
}

/// Filesystems that hold no programs a command could map: the kernel's.
const PSEUDO: &[i64] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x27e0eb,    // cgroup
    0x6367_7270, // cgroup2
    0x1cd1,      // devpts
    0x6462_6720, // debugfs
    0x7472_6163, // tracefs
    0x7363_6673, // securityfs
    0xcafe_4a11, // bpf
    0x6165_676c, // pstore
    0x6265_6570, // configfs
    0x1980_0202, // mqueue
    0x6573_5546, // fusectl
    0x4249_4e4d, // binfmt_misc
    0xf97c_ff8c, // selinuxfs
    0x6e73_6673, // nsfs
];

/// Who the commands run as: a file none of them may read (by its mode
/// bits, without an ACL) needs no rule against it.
#[derive(Debug, Clone)]
pub(crate) struct Readers {
    /// uid and groups of each identity commands run under.
    pub(crate) identities: Vec<(u32, Vec<u32>)>,
}

impl Readers {
    /// Whether one of the identities holds `bits` (4 read, 1 search) on a
    /// file of `meta`; an ACL, or root among them, counts as yes.
    fn may(&self, meta: &std::fs::Metadata, path: &Path, bits: u32) -> bool {
        let mode = meta.mode();
        let allowed = self.identities.iter().any(|(uid, groups)| {
            let shift = if *uid == meta.uid() {
                6
            } else if groups.contains(&meta.gid()) {
                3
            } else {
                0
            };
            *uid == 0 || (mode >> shift) & bits == bits
        });
        allowed || has_acl(path)
    }
}

fn has_acl(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(name) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return true };
    // SAFETY: lgetxattr with a NUL-terminated path and name and a zero-size
    // buffer only returns the attribute's size (or -1); nothing is written.
    let size = unsafe { libc::lgetxattr(name.as_ptr(), c"system.posix_acl_access".as_ptr(), std::ptr::null_mut(), 0) };
    size >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENODATA)
}

/// Searches `roots` for programs `readers` could read, leaving out `skip`
/// (real paths) and everything beneath it; one thread per CPU shares the
/// directories.
pub(crate) fn census(roots: &[PathBuf], skip: &[PathBuf], readers: &Readers) -> Census {
    let started = Instant::now();
    let skip: HashSet<&Path> = skip.iter().map(PathBuf::as_path).collect();
    let mut census = Census::default();
    let mut dirs = Vec::new();
    for root in roots {
        let Ok(real) = std::fs::canonicalize(root) else { continue };
        match std::fs::metadata(&real) {
            Ok(meta) if meta.is_dir() => dirs.push(real),
            Ok(meta) if meta.is_file() => {
                census.files += 1;
                if is_program(&real) {
                    census.programs.push(real);
                }
            }
            _ => {}
        }
    }
    let queue = Queue { state: Mutex::new((dirs, 0)), wake: Condvar::new() };
    let filesystems: Mutex<HashMap<u64, bool>> = Mutex::new(HashMap::new());
    let searchable = |dir: &Path, dev: u64| -> bool {
        if let Some(verdict) = filesystems.lock().unwrap_or_else(|e| e.into_inner()).get(&dev) {
            return *verdict;
        }
        let verdict = searchable_filesystem(dir);
        filesystems.lock().unwrap_or_else(|e| e.into_inner()).insert(dev, verdict);
        verdict
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let found: Vec<(Vec<PathBuf>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let (mut programs, mut files) = (Vec::new(), 0usize);
                    while let Some(dir) = queue.next() {
                        let mut subdirs = Vec::new();
                        let searched = !skip.contains(dir.as_path())
                            && std::fs::symlink_metadata(&dir)
                                .is_ok_and(|m| readers.may(&m, &dir, 1) && searchable(&dir, m.dev()));
                        let listed = searched.then(|| std::fs::read_dir(&dir).ok()).flatten();
                        if let (Some(entries), Ok(handle)) = (listed, std::fs::File::open(&dir)) {
                            for entry in entries.flatten() {
                                let Ok(kind) = entry.file_type() else { continue };
                                let path = entry.path();
                                if kind.is_dir() {
                                    subdirs.push(path);
                                } else if kind.is_file() && !skip.contains(path.as_path()) {
                                    files += 1;
                                    let readable = entry.metadata().is_ok_and(|m| readers.may(&m, &path, 4));
                                    if readable
                                        && open_at(&handle, &entry.file_name()).is_some_and(|f| classify(&f, &path))
                                    {
                                        programs.push(path);
                                    }
                                }
                            }
                        }
                        queue.done(subdirs);
                    }
                    (programs, files)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (programs, files) in found {
        census.programs.extend(programs);
        census.files += files;
    }
    census.programs.sort();
    census.programs.dedup();
    census.took = started.elapsed();
    census
}

/// The directories left to search, and how many are being searched.
struct Queue {
    state: Mutex<(Vec<PathBuf>, usize)>,
    wake: Condvar,
}

impl Queue {
    /// The next directory; `None` once none is left and none is being
    /// searched (which could add more).
    fn next(&self) -> Option<PathBuf> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(dir) = state.0.pop() {
                state.1 += 1;
                return Some(dir);
            }
            if state.1 == 0 {
                return None;
            }
            state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// One directory searched, with the directories found in it.
    fn done(&self, subdirs: Vec<PathBuf>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.extend(subdirs);
        state.1 -= 1;
        self.wake.notify_all();
    }
}

/// Whether the filesystem holding `dir` could hold programs: not one of
/// the kernel's. (A `noexec` mount is searched all the same: `noexec`
/// belongs to a mount, which shares its device number with every other
/// mount of the same filesystem, an executable view of it included.)
fn searchable_filesystem(dir: &Path) -> bool {
    let kind = nix::sys::statfs::statfs(dir).map(|s| s.filesystem_type().0).unwrap_or(0);
    !PSEUDO.contains(&kind)
}

/// Whether `path` is an ELF program (see the module's documentation).
pub(crate) fn is_program(path: &Path) -> bool {
    std::fs::File::open(path).is_ok_and(|file| classify(&file, path))
}

/// Opens `name` in the directory `dir` for reading its header: no path
/// lookup from the root for each of a few hundred thousand files, no
/// following a link, no blocking on a FIFO put there meanwhile.
fn open_at(dir: &std::fs::File, name: &std::ffi::OsStr) -> Option<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(name.as_bytes()).ok()?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
    // SAFETY: openat with a valid directory fd and a NUL-terminated name;
    // the returned fd, if any, is owned by nobody else.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    // SAFETY: `fd` was just opened here and is closed by the File alone.
    (fd >= 0).then(|| unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Whether the open `file` (at `path`) is an ELF program.
fn classify(file: &std::fs::File, path: &Path) -> bool {
    let mut file = file;
    let mut head = [0u8; 64];
    if file.read_exact(&mut head).is_err() || &head[..4] != b"\x7fELF" {
        return false;
    }
    let elf = Elf { file, wide: head[4] == 2, little: head[5] == 1 };
    match elf.u16(&head, 16) {
        2 => true, // ET_EXEC
        3 => elf.position_independent_executable(&head, path),
        _ => false,
    }
}

/// Reads the fields of an ELF file of either class and byte order.
struct Elf<'a> {
    file: &'a std::fs::File,
    wide: bool,
    little: bool,
}

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_1_PIE: u64 = 0x0800_0000;

impl Elf<'_> {
    fn bytes<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
        data.get(at..at + N).and_then(|b| b.try_into().ok()).unwrap_or([0; N])
    }

    fn u16(&self, data: &[u8], at: usize) -> u16 {
        let bytes = Self::bytes(data, at);
        if self.little { u16::from_le_bytes(bytes) } else { u16::from_be_bytes(bytes) }
    }

    fn u32(&self, data: &[u8], at: usize) -> u32 {
        let bytes = Self::bytes(data, at);
        if self.little { u32::from_le_bytes(bytes) } else { u32::from_be_bytes(bytes) }
    }

    /// A word: 8 bytes in a 64-bit file, 4 in a 32-bit one.
    fn word(&self, data: &[u8], at: usize) -> u64 {
        if self.wide {
            let bytes = Self::bytes(data, at);
            if self.little { u64::from_le_bytes(bytes) } else { u64::from_be_bytes(bytes) }
        } else {
            u64::from(self.u32(data, at))
        }
    }

    fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let mut buffer = vec![0u8; len];
        self.file.read_exact_at(&mut buffer, offset).ok()?;
        Some(buffer)
    }

    /// `ET_DYN` with a `PT_INTERP`, or with `DF_1_PIE` among its dynamic
    /// flags; a shared library's name (`lib….so…`) keeps it a library.
    fn position_independent_executable(&self, head: &[u8], path: &Path) -> bool {
        let (table, entry_size, count) = if self.wide {
            (self.word(head, 0x20), self.u16(head, 0x36), self.u16(head, 0x38))
        } else {
            (self.word(head, 0x1c), self.u16(head, 0x2a), self.u16(head, 0x2c))
        };
        let (entry_size, count) = (usize::from(entry_size), usize::from(count));
        if entry_size < if self.wide { 56 } else { 32 } || count == 0 {
            return false;
        }
        if entry_size * count > 64 * 1024 {
            return true; // no loader takes it; keep it out of reach all the same
        }
        let Some(headers) = self.read(table, entry_size * count) else { return false };
        let mut dynamic = None;
        let mut interp = false;
        for header in headers.chunks_exact(entry_size) {
            match self.u32(header, 0) {
                PT_INTERP => interp = true,
                PT_DYNAMIC if self.wide => dynamic = Some((self.word(header, 8), self.word(header, 32))),
                PT_DYNAMIC => dynamic = Some((self.word(header, 4), self.word(header, 16))),
                _ => {}
            }
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("lib") && name.contains(".so") {
            return false;
        }
        if interp {
            return true;
        }
        let Some((offset, size)) = dynamic else { return false };
        let Some(entries) = self.read(offset, (size as usize).min(64 * 1024)) else { return false };
        let width = if self.wide { 16 } else { 8 };
        entries.chunks_exact(width).any(|entry| {
            let half = width / 2;
            self.word(entry, 0) == DT_FLAGS_1 && self.word(entry, half) & DF_1_PIE != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_told_from_libraries_scripts_and_data() {
        let shell = std::fs::canonicalize("/bin/sh").unwrap();
        assert!(is_program(&shell), "{}", shell.display());
        let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .expect("libc");
        assert!(!is_program(libc), "a library");
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\nid\n").unwrap();
        assert!(!is_program(&script));
        let copy = dir.path().join("copy-of-sh");
        std::fs::copy(&shell, &copy).unwrap();
        assert!(is_program(&copy), "a copy, whatever its mode");
        let root = Readers { identities: vec![(0, vec![])] };
        let census = census(&[dir.path().to_path_buf()], &[], &root);
        assert_eq!(census.programs, [std::fs::canonicalize(&copy).unwrap()]);
        assert_eq!(census.files, 2);
        let skipped = super::census(&[dir.path().to_path_buf()], &[std::fs::canonicalize(dir.path()).unwrap()], &root);
        assert!(skipped.programs.is_empty());
        // What no identity may read needs no rule.
        std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let other = Readers { identities: vec![(4242, vec![4242])] };
        assert!(super::census(&[dir.path().to_path_buf()], &[], &other).programs.is_empty());
        assert_eq!(super::census(&[dir.path().to_path_buf()], &[], &root).programs.len(), 1);
    }
}
