//! `notifications/cancelled` over stateless HTTP: the notification arrives
//! on another request than the call it cancels, so calls in flight are
//! registered by client address and JSON-RPC id.
//!
//! With no session to scope ids, two clients behind one address could use
//! the same id; a cancellation that matches more than one call cancels
//! none (closing the connection always works). A cancelled call gets no
//! reply: its connection is closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// A client address and a JSON-encoded request id.
type CallKey = (IpAddr, String);

/// The calls registered under one key, each with a serial telling them apart.
type Waiters = Vec<(u64, Arc<Notify>)>;

/// Calls in flight by (client address, JSON-encoded id).
#[derive(Debug, Default)]
pub(crate) struct CancelRegistry {
    calls: Mutex<HashMap<CallKey, Waiters>>,
    next: AtomicU64,
}

/// A registered call; unregisters itself when dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: Arc<CancelRegistry>,
    key: CallKey,
    serial: u64,
    pub(crate) cancelled: Arc<Notify>,
}

impl CancelRegistry {
    pub(crate) fn register(self: &Arc<Self>, peer: IpAddr, id: String) -> Registration {
        let serial = self.next.fetch_add(1, Ordering::Relaxed);
        let cancelled = Arc::new(Notify::new());
        let key = (peer, id);
        self.calls.lock().expect("cancel lock").entry(key.clone()).or_default().push((serial, cancelled.clone()));
        Registration { registry: self.clone(), key, serial, cancelled }
    }

    /// Cancels the one call of `peer` with `id`; false if none or several.
    pub(crate) fn cancel(&self, peer: IpAddr, id: String) -> bool {
        let calls = self.calls.lock().expect("cancel lock");
        match calls.get(&(peer, id)).map(Vec::as_slice) {
            Some([(_, cancelled)]) => {
                cancelled.notify_one();
                true
            }
            _ => false,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut calls = self.registry.calls.lock().expect("cancel lock");
        if let Some(entries) = calls.get_mut(&self.key) {
            entries.retain(|(serial, _)| *serial != self.serial);
            if entries.is_empty() {
                calls.remove(&self.key);
            }
        }
    }
}

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cancelled;
