//! The socket broker: one daemon thread that answers every `connect` and
//! `listen` a command makes (seccomp user notifications, [`super::notify`]),
//! by performing the call itself on the command's own socket with the
//! address it copied, after judging that copy ([`super::sockets`]).
//!
//! Why the daemon performs the call instead of letting the kernel continue
//! it: the address lives in the command's memory, and the socket behind a
//! descriptor number can be swapped by another of its threads, between the
//! check and the kernel's second look. The broker decides on its copy and
//! acts on the socket object it holds, so what it checked is what happens.
//!
//! Commands are known by process group (they cannot leave it): the spawner
//! registers each leader with the rules of its sandbox, and removes it when
//! the leader is reaped. A call from no registered group is refused.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use nix::errno::Errno;

use super::notify::{self, Answer, Notification};
use super::sockets::{self, SocketRules};

/// How long a call from a group not yet registered waits for the spawner to
/// register it (the leader can run before `clone` has returned to us).
const REGISTRATION_WAIT: Duration = Duration::from_millis(200);

/// Helper threads for calls that wait (a blocking connect) at most at once,
/// per command, per principal and in all; beyond, such a call fails with
/// EAGAIN, so one command's (or one principal's) waiting calls never hold up
/// another's.
const MAX_HELPERS_PER_COMMAND: usize = 8;
const MAX_HELPERS_PER_PRINCIPAL: usize = 32;
const MAX_HELPERS: usize = 256;

/// The broker. Invariant: started once per process, from a thread with no
/// seccomp filter, so that its own system calls (it connects and listens
/// for commands) are never sent to itself.
struct Broker {
    /// Leader pid of each running command and the rules it runs under.
    commands: Mutex<HashMap<i32, Arc<SocketRules>>>,
    registered: Condvar,
    /// Listeners of newly covered threads, waiting to be polled.
    new_listeners: Mutex<Vec<OwnedFd>>,
    /// Written to wake the broker thread for `new_listeners`.
    wake: OwnedFd,
    /// Helper threads running, in all, per command group and per principal.
    helpers: AtomicUsize,
    helpers_of: Mutex<HashMap<i32, usize>>,
    helpers_of_principal: Mutex<HashMap<usize, usize>>,
}

static BROKER: OnceLock<Result<Broker, String>> = OnceLock::new();

/// Starts the broker thread (once); refuses when the kernel or a container
/// profile lacks what it needs.
pub(crate) fn start() -> Result<(), String> {
    BROKER.get_or_init(launch).as_ref().map(|_| ()).map_err(Clone::clone)
}

fn launch() -> Result<Broker, String> {
    // The broker thread must never be under one of the daemon's own
    // filters, whose notifications it answers: it is started before any
    // thread is covered (covering needs the broker). A filter already here
    // came from outside (a container runtime's profile) and notifies no
    // one in this process.
    if seccomp_mode().is_none() {
        return Err("cannot read this thread's seccomp mode from /proc/thread-self/status".into());
    }
    if !notify::sizes_match() {
        return Err("the kernel lacks seccomp user notification (Linux 5.0) or uses another layout".into());
    }
    notify::can_inspect_processes()?;
    if !super::mounts::proc_is_own() {
        return Err("the /proc mounted here belongs to another PID namespace (the broker finds a command's \
                    working directory there): mount a procfs of the daemon's own PID namespace"
            .into());
    }
    // SAFETY: eventfd takes two integers and returns a new fd or -1.
    let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if wake < 0 {
        return Err(format!("eventfd: {}", Errno::last().desc()));
    }
    // SAFETY: a new fd that nothing else owns.
    let wake = unsafe { OwnedFd::from_raw_fd(wake) };
    let thread_wake = wake.try_clone().map_err(|e| format!("eventfd: {e}"))?;
    std::thread::Builder::new()
        .name("socket-broker".into())
        .spawn(move || serve(thread_wake))
        .map_err(|e| format!("cannot start the socket broker thread: {e}"))?;
    Ok(Broker {
        commands: Mutex::new(HashMap::new()),
        registered: Condvar::new(),
        new_listeners: Mutex::new(Vec::new()),
        wake,
        helpers: AtomicUsize::new(0),
        helpers_of: Mutex::new(HashMap::new()),
        helpers_of_principal: Mutex::new(HashMap::new()),
    })
}

fn broker() -> Option<&'static Broker> {
    BROKER.get().and_then(|b| b.as_ref().ok())
}

/// Covers the calling thread (once), so the commands it spawns have their
/// `connect` and `listen` brokered.
pub(crate) fn cover_this_thread() -> Result<(), Errno> {
    let broker = broker().ok_or(Errno::ENOSYS)?;
    if let Some(listener) = notify::cover_this_thread()? {
        broker.new_listeners.lock().expect("broker listeners").push(listener);
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live array to the eventfd.
        unsafe { libc::write(broker.wake.as_raw_fd(), one.as_ptr().cast(), 8) };
    }
    Ok(())
}

/// Records that the command led by `leader` runs under `rules`.
pub(crate) fn register(leader: i32, rules: Arc<SocketRules>) {
    if let Some(broker) = broker() {
        broker.commands.lock().expect("broker commands").insert(leader, rules);
        broker.registered.notify_all();
    }
}

/// Forgets the command led by `leader` (its leader was reaped).
pub(crate) fn unregister(leader: i32) {
    if let Some(broker) = broker() {
        broker.commands.lock().expect("broker commands").remove(&leader);
    }
}

/// The process group and rules of the command that `tid` belongs to.
fn rules_for(broker: &Broker, tid: u32) -> Option<(i32, Arc<SocketRules>)> {
    let group = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(tid as i32))).ok()?.as_raw();
    let commands = broker.commands.lock().expect("broker commands");
    let (commands, _) = broker
        .registered
        .wait_timeout_while(commands, REGISTRATION_WAIT, |commands| !commands.contains_key(&group))
        .expect("broker commands");
    commands.get(&group).map(|rules| (group, rules.clone()))
}

/// The broker thread: polls every listener and answers each notification.
fn serve(wake: OwnedFd) {
    let mut listeners: Vec<Arc<OwnedFd>> = Vec::new();
    loop {
        let mut polled: Vec<libc::pollfd> = std::iter::once(wake.as_raw_fd())
            .chain(listeners.iter().map(|l| l.as_raw_fd()))
            .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        // SAFETY: `polled` is a live array of pollfd of the length given.
        let ready = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, -1) };
        if ready < 0 {
            continue; // EINTR
        }
        if polled[0].revents != 0 {
            let mut count = [0u8; 8];
            // SAFETY: reads 8 bytes into a live array from the eventfd.
            unsafe { libc::read(wake.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
            let broker = broker();
            if let Some(broker) = broker {
                listeners.extend(broker.new_listeners.lock().expect("broker listeners").drain(..).map(Arc::new));
            }
        }
        let mut gone = Vec::new();
        for (index, entry) in polled.iter().enumerate().skip(1) {
            if entry.revents & libc::POLLIN != 0 {
                let listener = listeners[index - 1].clone();
                match notify::receive(listener.as_raw_fd()) {
                    Ok(notification) => answer(listener, notification),
                    Err(Errno::ENOENT | Errno::EINTR) => {} // the caller went away
                    Err(_) => gone.push(index - 1),
                }
            } else if entry.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                // Every task under this filter has exited.
                gone.push(index - 1);
            }
        }
        for index in gone.into_iter().rev() {
            listeners.swap_remove(index);
        }
    }
}

/// Answers one notification, here or, for a call that blocks, on a helper.
fn answer(listener: Arc<OwnedFd>, notification: Notification) {
    let fd = listener.as_raw_fd();
    let id = notification.id;
    if is_daemon_thread(notification.pid) && notify::still_waiting(fd, id) {
        notify::reply(fd, id, Answer::Continue);
        return;
    }
    let Some(broker) = broker() else { return notify::reply(fd, id, Answer::Fail(Errno::EACCES)) };
    let Some((group, rules)) = rules_for(broker, notification.pid) else {
        tracing::warn!(pid = notification.pid, "a socket call from no registered command was refused");
        return notify::reply(fd, id, Answer::Fail(Errno::EACCES));
    };
    let owner = rules.owner;
    let call = sockets::Call { listener: fd, notification, rules };
    match sockets::decide(&call) {
        sockets::Step::Done(answer) => notify::reply(fd, id, answer),
        sockets::Step::Blocking(work) => {
            if !broker.take_helper(group, owner) {
                tracing::info!(pid = notification.pid, "a waiting socket call was refused: the command has too many");
                return notify::reply(fd, id, Answer::Fail(Errno::EAGAIN));
            }
            let spawned = std::thread::Builder::new().name("socket-broker-call".into()).spawn(move || {
                let answer = work(&call);
                notify::reply(listener.as_raw_fd(), id, answer);
                broker.release_helper(group, owner);
            });
            if spawned.is_err() {
                broker.release_helper(group, owner);
                notify::reply(fd, id, Answer::Fail(Errno::EAGAIN));
            }
        }
    }
}

impl Broker {
    /// Counts one more helper for command `group` of principal `owner`,
    /// unless it, its principal or the daemon has as many as allowed.
    fn take_helper(&self, group: i32, owner: usize) -> bool {
        let mut of = self.helpers_of.lock().expect("broker helpers");
        let mut of_principal = self.helpers_of_principal.lock().expect("broker helpers");
        let mine = of.get(&group).copied().unwrap_or(0);
        let principals = of_principal.get(&owner).copied().unwrap_or(0);
        if mine >= MAX_HELPERS_PER_COMMAND
            || principals >= MAX_HELPERS_PER_PRINCIPAL
            || self.helpers.load(Ordering::SeqCst) >= MAX_HELPERS
        {
            return false;
        }
        of.insert(group, mine + 1);
        of_principal.insert(owner, principals + 1);
        self.helpers.fetch_add(1, Ordering::SeqCst);
        true
    }

    fn release_helper(&self, group: i32, owner: usize) {
        decrement(&mut self.helpers_of.lock().expect("broker helpers"), group);
        decrement(&mut self.helpers_of_principal.lock().expect("broker helpers"), owner);
        self.helpers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts one down for `key`, forgetting it at zero.
fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) {
    if let Some(count) = counts.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(&key);
        }
    }
}

/// Whether `tid` is one of the daemon's own threads (a covered thread's own
/// `connect` or `listen`): listed among the daemon's tasks. `/proc` is the
/// daemon's PID namespace's (checked when the broker starts), and the
/// caller still waits on its call, so its tid is not yet anyone else's.
fn is_daemon_thread(tid: u32) -> bool {
    std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
}

/// The calling thread's seccomp mode (0: none).
fn seccomp_mode() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("Seccomp:"))?.trim().parse().ok()
}
