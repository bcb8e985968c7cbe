//! Downloads in flight: one fetch per blob, however many pulls want it.
//!
//! Ten `docker pull`s of one image started at once do not download each
//! layer ten times. dockerd keeps a table of the transfers under way, keyed
//! by the blob's digest; a pull that wants a blob already being fetched
//! *attaches* to that transfer, shows `Waiting`, and when it is over finds
//! the blob in the store (`Download complete`). This is that table:
//!
//! ```text
//! pull A: claim(sha256:4b2c…) -> Fetch   GET /v2/…/blobs/sha256:4b2c…  -> store
//! pull B: claim(sha256:4b2c…) -> Wait    ……………………… (A's guard dropped) -> in the store? done
//! ```
//!
//! If the fetch fails (or its pull is cancelled), the guard is dropped all
//! the same, the waiters wake, do not find the blob, and claim it again:
//! one of them fetches it, the others wait for that one. A failure of one
//! pull never fails the others.
//!
//! The table is shared by every [`Client`](super::Client) made from clones
//! of one [`ClientConfig`](super::ClientConfig) (a daemon's). The key is the
//! store's directory *and* the digest: two stores want two copies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chapter04::Digest;
use tokio::sync::watch;

/// The status a blob's bar shows while another pull fetches it (the Engine
/// API calls it `Waiting`).
pub const WAITING_FOR_ANOTHER_PULL: &str = "Waiting for another pull";

type Key = (PathBuf, Digest);

/// The transfers under way (cheap to clone: clones share the table).
#[derive(Clone, Default)]
pub struct InFlight {
    map: Arc<Mutex<HashMap<Key, watch::Receiver<()>>>>,
}

/// What a pull should do about one blob.
pub enum Claim {
    /// Nobody fetches it: fetch it, holding this guard until done.
    Fetch(Fetching),
    /// Another pull fetches it: [`Waiting::done`] returns when that is over
    /// (successfully or not: look in the store, then claim again).
    Wait(Waiting),
}

/// Held by the pull that fetches a blob; dropping it (done, failed or
/// cancelled) takes the blob off the table and wakes the waiters.
pub struct Fetching {
    map: Arc<Mutex<HashMap<Key, watch::Receiver<()>>>>,
    key: Key,
    // Dropped after `drop` below removed the entry: waiters that wake up
    // and claim again find the table without it.
    _done: watch::Sender<()>,
}

/// A pull waiting for another's fetch.
pub struct Waiting(watch::Receiver<()>);

impl InFlight {
    /// Claim the fetch of `digest` into the store at `store_root`.
    pub fn claim(&self, store_root: &Path, digest: &Digest) -> Claim {
        let key = (store_root.to_path_buf(), digest.clone());
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rx) = map.get(&key) {
            return Claim::Wait(Waiting(rx.clone()));
        }
        let (tx, rx) = watch::channel(());
        map.insert(key.clone(), rx);
        Claim::Fetch(Fetching {
            map: self.map.clone(),
            key,
            _done: tx,
        })
    }
}

impl Waiting {
    /// Returns once the fetching pull dropped its guard.
    pub async fn done(mut self) {
        // Nothing is ever sent: `changed` fails when the sender is dropped.
        while self.0.changed().await.is_ok() {}
    }
}

impl Drop for Fetching {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_fetches_the_others_wait_and_a_failure_passes_the_fetch_on() {
        let t = InFlight::default();
        let d = chapter04::digest::sha256(b"layer");
        let root = Path::new("/store");
        let Claim::Fetch(first) = t.claim(root, &d) else {
            panic!("the first claim fetches")
        };
        let Claim::Wait(w) = t.clone().claim(root, &d) else {
            panic!("the second waits")
        };
        // Another store is another copy.
        assert!(matches!(t.claim(Path::new("/other"), &d), Claim::Fetch(_)));
        let waiter = tokio::spawn(w.done());
        drop(first); // failed: the waiter wakes and may fetch itself
        waiter.await.unwrap();
        assert!(matches!(t.claim(root, &d), Claim::Fetch(_)));
    }
}
