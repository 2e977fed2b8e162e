//! The calls whose commands may use the proxy: each running call (or
//! background job) of a principal with egress holds a secret, which its
//! commands present as the proxy's credentials, and counts its open
//! connections and bytes. When the call ends, its entry goes and every
//! tunnel it holds is closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::allow::AllowList;

/// One call that may use the proxy.
#[derive(Debug)]
pub(crate) struct CallState {
    pub(crate) principal: String,
    /// The principal's sandbox cell: connections must come through it.
    pub(crate) owner: usize,
    /// The tool call's request id, which its connections' records carry.
    pub(crate) request_id: String,
    pub(crate) allow: Arc<AllowList>,
    /// Connections open now.
    pub(crate) open: AtomicUsize,
    /// Bytes moved both ways so far.
    pub(crate) bytes: AtomicU64,
    /// Turns true when the call ends.
    pub(crate) ended: watch::Receiver<bool>,
}

/// Every call that may use the proxy, by secret, and the open
/// connections of each principal.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    by_secret: Mutex<HashMap<String, Arc<CallState>>>,
    open_by_principal: Mutex<HashMap<String, usize>>,
}

/// A call's place in [`Calls`], until dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    calls: Arc<Calls>,
    secret: String,
    ended: watch::Sender<bool>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.calls.by_secret).remove(&self.secret);
        let _ = self.ended.send(true);
    }
}

impl Calls {
    /// Registers a call under a new secret, returned with its registration.
    pub(crate) fn register(
        self: &Arc<Self>,
        principal: &str,
        owner: usize,
        request_id: &str,
        allow: Arc<AllowList>,
    ) -> (String, Registration) {
        let secret = crate::audit::random_id(16);
        let (sender, ended) = watch::channel(false);
        let state = CallState {
            principal: principal.to_string(),
            owner,
            request_id: request_id.to_string(),
            allow,
            open: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            ended,
        };
        lock(&self.by_secret).insert(secret.clone(), Arc::new(state));
        (secret.clone(), Registration { calls: self.clone(), secret, ended: sender })
    }

    /// The running call holding `secret`.
    pub(crate) fn get(&self, secret: &str) -> Option<Arc<CallState>> {
        lock(&self.by_secret).get(secret).cloned()
    }

    /// Counts a new connection of `call`, unless it would pass either
    /// limit: then says which.
    pub(crate) fn open(
        self: &Arc<Self>,
        call: &Arc<CallState>,
        per_call: usize,
        per_principal: usize,
    ) -> Result<Open, super::Rule> {
        let mut open = lock(&self.open_by_principal);
        let principal = open.entry(call.principal.clone()).or_default();
        if *principal >= per_principal {
            return Err(super::Rule::ConnectionsPerPrincipal);
        }
        if call.open.fetch_add(1, Ordering::AcqRel) >= per_call {
            call.open.fetch_sub(1, Ordering::AcqRel);
            return Err(super::Rule::ConnectionsPerCall);
        }
        *principal += 1;
        Ok(Open { calls: self.clone(), call: call.clone() })
    }
}

/// One counted connection, until dropped.
pub(crate) struct Open {
    calls: Arc<Calls>,
    call: Arc<CallState>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.call.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(count) = lock(&self.calls.open_by_principal).get_mut(&self.call.principal) {
            *count = count.saturating_sub(1);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::Rule;

    #[test]
    fn a_call_is_found_by_its_secret_until_its_registration_drops() {
        let calls = Arc::new(Calls::default());
        let (secret, registration) = calls.register("alice", 0, "r1", Arc::new(AllowList::default()));
        let call = calls.get(&secret).expect("registered");
        assert_eq!((call.principal.as_str(), call.request_id.as_str()), ("alice", "r1"));
        assert!(!*call.ended.borrow());
        drop(registration);
        assert!(calls.get(&secret).is_none());
        assert!(*call.ended.borrow(), "the call's tunnels learn that it ended");
    }

    #[test]
    fn connections_are_limited_per_call_and_per_principal() {
        let calls = Arc::new(Calls::default());
        let (a, _ra) = calls.register("alice", 0, "r1", Arc::new(AllowList::default()));
        let (b, _rb) = calls.register("alice", 0, "r2", Arc::new(AllowList::default()));
        let (a, b) = (calls.get(&a).unwrap(), calls.get(&b).unwrap());
        let first = calls.open(&a, 2, 3).unwrap();
        let _second = calls.open(&a, 2, 3).unwrap();
        assert_eq!(calls.open(&a, 2, 3).err(), Some(Rule::ConnectionsPerCall));
        let _third = calls.open(&b, 2, 3).unwrap();
        assert_eq!(calls.open(&b, 2, 3).err(), Some(Rule::ConnectionsPerPrincipal));
        drop(first);
        assert!(calls.open(&b, 2, 3).is_ok(), "a closed connection frees its place");
    }
}
