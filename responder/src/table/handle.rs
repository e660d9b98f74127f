//! Sharing the current table between workers, and replacing it.
//!
//! [`TableHandle`] wraps an `ArcSwap<Table>`: readers never lock and never
//! wait for a writer; [`TableHandle::publish`] replaces the table in one
//! atomic store, and since a worker loads the table once per query (a UDP
//! worker once per batch), every answer comes from exactly one version. Each worker reads through its own
//! [`TableReader`] (an `arc_swap::Cache`), which costs one atomic load of a
//! version counter per query when nothing changed.
//!
//! The old table is freed on the control side, not by a worker: `publish`
//! keeps the tables it replaced and drops each once no reader holds it
//! (checked on every publish and by [`TableHandle::reclaim`]), so that no
//! worker stalls freeing a million-name table (Knot does the same after
//! `synchronize_rcu`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::{ArcSwap, Cache};

use super::Table;

/// The current table, shared by every worker.
#[derive(Debug)]
pub struct TableHandle {
    current: Arc<ArcSwap<Table>>,
    /// Whether a real table has been published (the initial one is empty).
    loaded: AtomicBool,
    /// When the current table was published, in seconds since the Unix
    /// epoch; 0 before the first publish.
    published_at: AtomicU64,
    /// Tables replaced but possibly still read by a worker.
    retired: Mutex<Vec<Arc<Table>>>,
}

/// A worker's view of the current table.
pub type TableReader = Cache<Arc<ArcSwap<Table>>, Arc<Table>>;

impl TableHandle {
    /// A handle serving `initial` until something is published; not
    /// [`TableHandle::is_loaded`] yet.
    pub fn new(initial: Table) -> Arc<Self> {
        Arc::new(Self {
            current: Arc::new(ArcSwap::from_pointee(initial)),
            loaded: AtomicBool::new(false),
            published_at: AtomicU64::new(0),
            retired: Mutex::new(Vec::new()),
        })
    }

    /// A reader for one worker.
    pub fn reader(&self) -> TableReader {
        Cache::new(Arc::clone(&self.current))
    }

    /// The current table (for the control side and tests; workers use a
    /// [`TableReader`]).
    pub fn load(&self) -> Arc<Table> {
        self.current.load_full()
    }

    /// Whether a table has been published since start.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// When the current table was published, in seconds since the Unix
    /// epoch; `None` before the first publish. Read beside [`Self::load`]
    /// during a swap, it may already be the next table's (by a moment).
    pub fn published_at(&self) -> Option<u64> {
        match self.published_at.load(Ordering::Acquire) {
            0 => None,
            seconds => Some(seconds),
        }
    }

    /// Makes `table` the current table. Never blocks a reader.
    pub fn publish(&self, table: Table) {
        let old = self.current.swap(Arc::new(table));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |since| since.as_secs().max(1));
        self.published_at.store(now, Ordering::Release);
        self.loaded.store(true, Ordering::Release);
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        retired.push(old);
        Self::drop_unread(&mut retired);
    }

    /// Frees replaced tables that no reader holds any more; returns how many
    /// are still held.
    pub fn reclaim(&self) -> usize {
        let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
        Self::drop_unread(&mut retired);
        retired.len()
    }

    fn drop_unread(retired: &mut Vec<Arc<Table>>) {
        retired.retain(|table| Arc::strong_count(table) > 1);
    }
}
