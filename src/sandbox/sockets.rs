//! What the socket broker allows, and how it performs an allowed call on the
//! command's behalf.
//!
//! `connect`:
//! - TCP (IPv4 and IPv6): only to the listed ports, judged on the broker's
//!   copy of the address and performed on the command's own socket; a
//!   blocking socket waits on a helper thread until connected, failed, its
//!   send timeout, or the command's end;
//! - TCP to the egress proxy (`127.0.0.1`, its port; no other address on
//!   that port): the socket is bound first (to `127.0.0.1:0` if unbound)
//!   and its port recorded with the command's cell, which the proxy reads
//!   when it accepts, so a connection is known to come from that cell;
//! - UNIX pathname sockets: only beneath the writable roots or at a socket
//!   the operator listed. The path is resolved by the broker (relative to
//!   the command's working directory) with the command's uid and groups, so
//!   file permissions still apply; the socket file found is checked by its
//!   real path, then connected through the broker's own descriptor of it,
//!   never by a second path lookup;
//! - UNIX abstract names: refused (a name has no path to judge, and the
//!   broker is outside the command's Landlock domain, whose scope would
//!   otherwise be the only check);
//! - UDP (when allowed): performed as asked.
//!
//! `listen`: a UNIX socket, or a TCP socket already bound to a listed port
//! (through `bind`, which Landlock checks). An unbound TCP socket would get
//! a port the kernel picks, so it is refused.

use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::as_user;
use super::notify::{self, Answer, Notification};

/// The largest socket address the kernel accepts (`sockaddr_storage`).
const MAX_ADDRESS: usize = 128;

/// How often a helper waiting for a blocking call checks that its caller
/// still waits.
const WAIT_TICK: Duration = Duration::from_millis(100);

/// What a command's sockets may reach. Invariant: paths are canonical.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SocketRules {
    pub(crate) tcp_connect_ports: Vec<u16>,
    pub(crate) tcp_bind_ports: Vec<u16>,
    /// Directories beneath which UNIX sockets may be connected to.
    pub(crate) unix_dirs: Vec<PathBuf>,
    /// UNIX socket files that may be connected to wherever they are.
    pub(crate) unix_sockets: Vec<PathBuf>,
    /// uid and gid the broker takes to reach a UNIX socket path, when the
    /// command's differ from the daemon's.
    pub(crate) credentials: Option<(u32, u32)>,
    /// The principal (sandbox cell) these rules are for: waiting calls are
    /// counted per principal.
    pub(crate) owner: usize,
    /// The egress proxy's port on 127.0.0.1, when this cell may use it.
    pub(crate) egress_proxy: Option<u16>,
}

/// The local addresses of command sockets the broker is connecting to the
/// egress proxy, with their cell; each is taken by the proxy when it
/// accepts, and dropped if the connect fails.
static EGRESS_PEERS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<SocketAddrV4, usize>>> =
    std::sync::LazyLock::new(Default::default);

fn egress_peers() -> std::sync::MutexGuard<'static, std::collections::HashMap<SocketAddrV4, usize>> {
    EGRESS_PEERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The cell whose command connected to the egress proxy from `peer`, if
/// the broker made that connection; forgotten once asked.
pub(crate) fn egress_peer(peer: std::net::SocketAddr) -> Option<usize> {
    let std::net::SocketAddr::V4(peer) = peer else { return None };
    egress_peers().remove(&peer)
}

impl SocketRules {
    fn allows_unix(&self, real: &Path) -> bool {
        self.unix_sockets.iter().any(|socket| socket == real) || self.unix_dirs.iter().any(|dir| real.starts_with(dir))
    }
}

/// One notification being answered.
pub(super) struct Call {
    pub(super) listener: RawFd,
    pub(super) notification: Notification,
    pub(super) rules: Arc<SocketRules>,
}

impl Call {
    fn pid(&self) -> u32 {
        self.notification.pid
    }

    fn arg(&self, n: usize) -> u64 {
        self.notification.data.args[n]
    }

    fn still_waiting(&self) -> bool {
        notify::still_waiting(self.listener, self.notification.id)
    }
}

/// Work for a helper thread: a call that may block.
pub(super) type Blocking = Box<dyn FnOnce(&Call) -> Answer + Send>;

/// What to do with a call.
pub(super) enum Step {
    Done(Answer),
    Blocking(Blocking),
}

pub(super) fn decide(call: &Call) -> Step {
    let step = match call.notification.data.nr as libc::c_long {
        libc::SYS_connect => connect(call),
        libc::SYS_listen => listen(call),
        _ => Err(Errno::ENOSYS),
    };
    step.unwrap_or_else(|errno| Step::Done(Answer::Fail(errno)))
}

/// The caller's socket (the same open file).
fn socket_of(call: &Call) -> Result<OwnedFd, Errno> {
    let pidfd = notify::pidfd(call.pid())?;
    if !call.still_waiting() {
        return Err(Errno::ESRCH);
    }
    notify::take_descriptor(&pidfd, call.arg(0)).inspect_err(|&errno| {
        if errno == Errno::EPERM {
            tracing::warn!(
                pid = call.pid(),
                "sandbox refused a socket call it cannot inspect (the process is not dumpable, or the daemon may \
                 not trace it)"
            );
        }
    })
}

fn connect(call: &Call) -> Result<Step, Errno> {
    let socket = socket_of(call)?;
    let domain = int_option(&socket, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    let length = call.arg(2) as u32 as usize;
    if length > MAX_ADDRESS {
        return Err(Errno::EINVAL);
    }
    let address = notify::copy_from(call.pid(), call.arg(1), length)?;
    if !call.still_waiting() {
        return Err(Errno::ESRCH);
    }
    let family = address.get(..2).map(|f| u16::from_ne_bytes([f[0], f[1]]) as i32);
    match domain {
        libc::AF_UNIX => Ok(unix_connect(call, socket, address, family)),
        libc::AF_INET | libc::AF_INET6 => inet_connect(call, socket, address, family),
        _ => Err(Errno::EACCES),
    }
}

fn inet_connect(call: &Call, socket: OwnedFd, address: Vec<u8>, family: Option<i32>) -> Result<Step, Errno> {
    let stream = int_option(&socket, libc::SOL_SOCKET, libc::SO_TYPE)? == libc::SOCK_STREAM;
    if stream && matches!(family, Some(libc::AF_INET | libc::AF_INET6)) && address.len() >= 4 {
        let port = u16::from_be_bytes([address[2], address[3]]);
        let to_proxy = call.rules.egress_proxy == Some(port)
            && family == Some(libc::AF_INET)
            && address.get(4..8) == Some(&[127, 0, 0, 1][..]);
        if to_proxy {
            let local = record_egress_peer(&socket, call.rules.owner)?;
            return Ok(egress_connect(socket, address, local));
        } else if !call.rules.tcp_connect_ports.contains(&port) {
            tracing::info!(pid = call.pid(), port, "sandbox refused a TCP connection to a port not listed");
            return Err(Errno::EACCES);
        }
    }
    if !stream || is_nonblocking(&socket)? {
        return Ok(Step::Done(answer(raw_connect(&socket, &address))));
    }
    Ok(Step::Blocking(Box::new(move |call| blocking_connect(call, &socket, &address))))
}

fn unix_connect(call: &Call, socket: OwnedFd, address: Vec<u8>, family: Option<i32>) -> Step {
    let path = address.get(2..).unwrap_or_default();
    if family != Some(libc::AF_UNIX) || path.is_empty() {
        // Not a pathname: let the kernel give its own error (EINVAL).
        return Step::Done(answer(raw_connect(&socket, &address)));
    }
    if path[0] == 0 {
        tracing::info!(pid = call.pid(), "sandbox refused a connection to an abstract UNIX socket");
        return Step::Done(Answer::Fail(Errno::EACCES));
    }
    let path = &path[..path.iter().position(|&b| b == 0).unwrap_or(path.len())];
    let found = match unix_socket_file(call, path) {
        Ok(found) => found,
        Err(errno) => return Step::Done(Answer::Fail(errno)),
    };
    let through = unix_address(format!("/proc/self/fd/{}", found.as_raw_fd()).as_bytes());
    let connect = || with_nonblocking(&socket, || raw_connect(&socket, &through));
    match as_user::as_user(call.rules.credentials, connect) {
        // A full backlog, and a blocking caller: it waits for room, on a
        // helper thread.
        Ok(Err(Errno::EAGAIN)) if !is_nonblocking(&socket).unwrap_or(true) => {
            Step::Blocking(Box::new(move |call| wait_for_room(call, &socket, &found, &through)))
        }
        Ok(result) => Step::Done(answer(result)),
        Err(errno) => Step::Done(Answer::Fail(errno)),
    }
}

/// Resolves `path` as the command would (from its working directory, with
/// its uid and groups, no magic links) and returns an `O_PATH` descriptor
/// of the socket file found, once its real path is allowed.
fn unix_socket_file(call: &Call, path: &[u8]) -> Result<OwnedFd, Errno> {
    let base = if path.starts_with(b"/") {
        None
    } else {
        Some(open_path(libc::AT_FDCWD, format!("/proc/{}/cwd", call.pid()).as_bytes(), 0)?)
    };
    if !call.still_waiting() {
        return Err(Errno::ESRCH);
    }
    let dirfd = base.as_ref().map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
    let found = as_user::as_user(call.rules.credentials, || open_path(dirfd, path, libc::RESOLVE_NO_MAGICLINKS))??;
    if !is_socket_file(&found)? {
        return Err(Errno::ECONNREFUSED);
    }
    let real = std::fs::read_link(format!("/proc/self/fd/{}", found.as_raw_fd())).map_err(|_| Errno::EACCES)?;
    if !call.rules.allows_unix(&real) {
        tracing::info!(
            pid = call.pid(),
            socket = %real.display(),
            "sandbox refused a connection to a UNIX socket outside the writable roots"
        );
        return Err(Errno::EACCES);
    }
    Ok(found)
}

/// On a helper thread: retries a UNIX connect whose listener's backlog is
/// full, as a blocking connect would wait, until it goes through, the
/// socket's send timeout, or the caller's end.
fn wait_for_room(call: &Call, socket: &OwnedFd, found: &OwnedFd, through: &[u8]) -> Answer {
    // `through` names `found` by its descriptor number: it stays open here.
    let _ = found;
    if let Err(errno) = as_user::become_user(call.rules.credentials) {
        return Answer::Fail(errno);
    }
    let started = Instant::now();
    let limit = send_timeout(socket);
    loop {
        std::thread::sleep(Duration::from_millis(10));
        match with_nonblocking(socket, || raw_connect(socket, through)) {
            Err(Errno::EAGAIN) => {
                if !call.still_waiting() || limit.is_some_and(|limit| started.elapsed() >= limit) {
                    return Answer::Fail(Errno::EAGAIN);
                }
            }
            other => return answer(other),
        }
    }
}

/// On a helper thread: connects a blocking socket without blocking the
/// helper past its caller's life.
fn blocking_connect(call: &Call, socket: &OwnedFd, address: &[u8]) -> Answer {
    match with_nonblocking(socket, || raw_connect(socket, address)) {
        Err(Errno::EINPROGRESS) => {}
        other => return answer(other),
    }
    let started = Instant::now();
    let limit = send_timeout(socket);
    loop {
        let mut entry = libc::pollfd { fd: socket.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        // SAFETY: one live pollfd.
        let ready = unsafe { libc::poll(&mut entry, 1, WAIT_TICK.as_millis() as libc::c_int) };
        if ready > 0 {
            return match int_option(socket, libc::SOL_SOCKET, libc::SO_ERROR) {
                Ok(0) => Answer::Value(0),
                Ok(error) => Answer::Fail(Errno::from_raw(error)),
                Err(errno) => Answer::Fail(errno),
            };
        }
        if !call.still_waiting() {
            return Answer::Fail(Errno::EINTR);
        }
        if limit.is_some_and(|limit| started.elapsed() >= limit) {
            return Answer::Fail(Errno::EINPROGRESS);
        }
    }
}

fn listen(call: &Call) -> Result<Step, Errno> {
    let socket = socket_of(call)?;
    let domain = int_option(&socket, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    match domain {
        libc::AF_UNIX => {
            // A pathname listener lives where Landlock let it bind (a
            // writable root). An abstract one, or an unbound socket (which
            // listen would give an abstract name), would take a name host
            // clients connect to.
            let name = local_name(&socket)?;
            if name.len() <= 2 || name[2] == 0 {
                tracing::info!(pid = call.pid(), "sandbox refused a UNIX listener on an abstract or unbound socket");
                return Err(Errno::EACCES);
            }
        }
        libc::AF_INET | libc::AF_INET6 => {
            let port = local_port(&socket)?;
            if port == 0 || !call.rules.tcp_bind_ports.contains(&port) {
                tracing::info!(pid = call.pid(), port, "sandbox refused a TCP listener on a port not listed");
                return Err(Errno::EACCES);
            }
        }
        _ => return Err(Errno::EACCES),
    }
    let backlog = call.arg(1) as i32;
    // SAFETY: listen takes a socket fd we own and an integer.
    let listen = || if unsafe { libc::listen(socket.as_raw_fd(), backlog) } == 0 { Ok(()) } else { Err(Errno::last()) };
    // A UNIX listener records who listened as its peer credentials: the
    // command's uid, not the daemon's.
    let credentials = if domain == libc::AF_UNIX { call.rules.credentials } else { None };
    Ok(Step::Done(answer(as_user::as_user(credentials, listen)?)))
}

fn answer(result: Result<(), Errno>) -> Answer {
    result.map_or_else(Answer::Fail, |()| Answer::Value(0))
}

fn raw_connect(socket: &OwnedFd, address: &[u8]) -> Result<(), Errno> {
    // SAFETY: `address` is a live buffer of the length given; connect reads
    // it and nothing else.
    let result =
        unsafe { libc::connect(socket.as_raw_fd(), address.as_ptr().cast(), address.len() as libc::socklen_t) };
    if result == 0 { Ok(()) } else { Err(Errno::last()) }
}

/// Runs `call` with O_NONBLOCK set on the open file, then restores its flags
/// (the command's other threads could notice only an unconnected socket
/// being non-blocking for the duration of one `connect`).
fn with_nonblocking(socket: &OwnedFd, call: impl FnOnce() -> Result<(), Errno>) -> Result<(), Errno> {
    // SAFETY: fcntl F_GETFL/F_SETFL on a socket fd we own.
    let flags = unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(Errno::last());
    }
    // SAFETY: as above.
    unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) };
    let result = call();
    // SAFETY: as above.
    unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_SETFL, flags) };
    result
}

fn is_nonblocking(socket: &OwnedFd) -> Result<bool, Errno> {
    // SAFETY: fcntl F_GETFL on a socket fd we own.
    let flags = unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 { Err(Errno::last()) } else { Ok(flags & libc::O_NONBLOCK != 0) }
}

fn int_option(socket: &OwnedFd, level: libc::c_int, name: libc::c_int) -> Result<i32, Errno> {
    let mut value: libc::c_int = 0;
    let mut length = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `length` bytes into `value`.
    let result = unsafe { libc::getsockopt(socket.as_raw_fd(), level, name, (&raw mut value).cast(), &mut length) };
    if result == 0 { Ok(value) } else { Err(Errno::last()) }
}

/// The socket's SO_SNDTIMEO, which also bounds a blocking connect.
fn send_timeout(socket: &OwnedFd) -> Option<Duration> {
    let mut value = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut length = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `length` bytes into `value`.
    let result = unsafe {
        libc::getsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDTIMEO, (&raw mut value).cast(), &mut length)
    };
    let timeout = Duration::from_secs(value.tv_sec.max(0) as u64) + Duration::from_micros(value.tv_usec.max(0) as u64);
    (result == 0 && !timeout.is_zero()).then_some(timeout)
}

/// Connects a command's socket to the egress proxy, whose record of it
/// (`local`) goes if the connect fails.
fn egress_connect(socket: OwnedFd, address: Vec<u8>, local: SocketAddrV4) -> Step {
    let forget = move |answer: Answer| {
        if matches!(answer, Answer::Fail(errno) if errno != Errno::EINPROGRESS) {
            egress_peers().remove(&local);
        }
        answer
    };
    match is_nonblocking(&socket) {
        Ok(false) => Step::Blocking(Box::new(move |call| forget(blocking_connect(call, &socket, &address)))),
        Ok(true) => Step::Done(forget(answer(raw_connect(&socket, &address)))),
        Err(errno) => Step::Done(forget(Answer::Fail(errno))),
    }
}

/// Binds an unbound socket to `127.0.0.1:0` and records its local address
/// as `owner`'s connection to the egress proxy, before it connects. A
/// socket already connected is not recorded (its connect fails anyway),
/// nor one bound anywhere but 127.0.0.1.
fn record_egress_peer(socket: &OwnedFd, owner: usize) -> Result<SocketAddrV4, Errno> {
    if peer_name(socket).is_ok() {
        return Err(Errno::EISCONN);
    }
    if local_port(socket)? == 0 {
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
            sin_zero: [0; 8],
        };
        // SAFETY: `address` is a live sockaddr_in of the length given.
        let result = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&raw const address).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if result != 0 {
            return Err(Errno::last());
        }
    }
    let name = local_name(socket)?;
    let local = match name.get(..8) {
        Some([_, _, p0, p1, a, b, c, d]) => {
            SocketAddrV4::new(Ipv4Addr::new(*a, *b, *c, *d), u16::from_be_bytes([*p0, *p1]))
        }
        _ => return Err(Errno::EINVAL),
    };
    if *local.ip() != Ipv4Addr::LOCALHOST {
        return Err(Errno::EACCES);
    }
    egress_peers().insert(local, owner);
    Ok(local)
}

/// The address a socket is connected to; `ENOTCONN` when it is not.
fn peer_name(socket: &OwnedFd) -> Result<(), Errno> {
    let mut address = [0u8; MAX_ADDRESS];
    let mut length = MAX_ADDRESS as libc::socklen_t;
    // SAFETY: getpeername writes at most `length` bytes into `address`.
    let result = unsafe { libc::getpeername(socket.as_raw_fd(), address.as_mut_ptr().cast(), &mut length) };
    if result == 0 { Ok(()) } else { Err(Errno::last()) }
}

/// The port a TCP socket is bound to (0: none yet).
fn local_port(socket: &OwnedFd) -> Result<u16, Errno> {
    let name = local_name(socket)?;
    Ok(u16::from_be_bytes([name.get(2).copied().unwrap_or(0), name.get(3).copied().unwrap_or(0)]))
}

/// The address a socket is bound to, as the kernel reports it.
fn local_name(socket: &OwnedFd) -> Result<Vec<u8>, Errno> {
    let mut address = [0u8; MAX_ADDRESS];
    let mut length = MAX_ADDRESS as libc::socklen_t;
    // SAFETY: getsockname writes at most `length` bytes into `address`.
    let result = unsafe { libc::getsockname(socket.as_raw_fd(), address.as_mut_ptr().cast(), &mut length) };
    if result != 0 {
        return Err(Errno::last());
    }
    Ok(address[..(length as usize).min(MAX_ADDRESS)].to_vec())
}

/// A `sockaddr_un` for a path (at most 107 bytes).
fn unix_address(path: &[u8]) -> Vec<u8> {
    let mut address = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    address.extend_from_slice(&path[..path.len().min(107)]);
    address.push(0);
    address
}

/// `struct open_how` of openat2 (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// An O_PATH descriptor of `path`, resolved from `dirfd` without magic links
/// (`/proc/<pid>/fd/N` would name a socket the path does not reach).
fn open_path(dirfd: RawFd, path: &[u8], resolve: u64) -> Result<OwnedFd, Errno> {
    let path = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow { flags: (libc::O_PATH | libc::O_CLOEXEC) as u64, mode: 0, resolve };
    // SAFETY: openat2 reads the path and one open_how, both live, of the
    // size given, and returns a new fd or -1.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat2, dirfd, path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>())
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn is_socket_file(fd: &OwnedFd) -> Result<bool, Errno> {
    // SAFETY: an all-zero stat is a valid value of this plain C struct.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one stat.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } != 0 {
        return Err(Errno::last());
    }
    Ok(stat.st_mode & libc::S_IFMT == libc::S_IFSOCK)
}

impl SocketRules {
    /// The writable roots (directories only) and listed sockets, canonical.
    pub(crate) fn unix_reach(writable_roots: &[PathBuf], sockets: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let canonical = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        let dirs = writable_roots.iter().filter(|p| p.is_dir()).map(canonical).collect();
        (dirs, sockets.iter().map(canonical).collect())
    }
}
