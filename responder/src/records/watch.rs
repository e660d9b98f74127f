//! Hot reload: watch the records file, rebuild the table when it changes,
//! publish it, and keep the last good table when the new file is bad.
//!
//! A [`Reloader`] owns the reload state of one file: its path, the base
//! [`TableConfig`], the [`TableHandle`] the workers read, the digest of the
//! content now served (an unchanged file is not rebuilt), and the last
//! version published. [`Reloader::reload_now`] reads, builds and publishes
//! once; [`Reloader::spawn`] moves it onto a thread that does so whenever
//! the file changes, until the returned [`WatchGuard`] is dropped.
//!
//! Versions: a table's version is its zones' SOA serial, `max(previous + 1,
//! now in Unix seconds)`, so it only ever increases, across restarts too
//! (as long as the clock does).
//!
//! Noticing changes. The expected update is atomic: write a temporary file
//! in the same directory, then rename it over the records file. A rename
//! replaces the inode, so the watch is on the file's *directory* (inotify
//! through the `notify` crate), and events are filtered by file name. Events
//! are debounced (50 ms by default). An in-place write is noticed too, but
//! the reload waits until the writer closes the file (inotify's
//! `IN_CLOSE_WRITE`), for at most a second of silence; a file read while
//! half-written either fails to parse and is rejected like any bad file, or
//! — if a writer stops at a document boundary for longer than that — is
//! served as it is: only atomic replacement guarantees that a half-written
//! file is never served. Events for other names in the directory trigger a
//! cheap metadata check, which catches Kubernetes volume updates (they swap
//! a `..data` symlink rather than the file). Besides events, a periodic
//! check (every 2 s by default) compares the file's mtime, ctime, size and
//! inode and rereads it when one changed, for filesystems where inotify
//! sees nothing (NFS, some container overlays), or when inotify cannot be
//! set up at all.
//!
//! Failures: a file that cannot be read or loaded ([`LoadError`]) is logged
//! with `tracing::error!` naming the file and the error, counted in
//! [`ReloadStats`], and the last good table keeps serving. Each swap is
//! logged with `tracing::info!` (version, records, build time), each
//! rejected record with `tracing::warn!` (the first [`MAX_LOGGED_PROBLEMS`]
//! of a load; a file with a million bad records must not flood the log).

use std::ffi::OsString;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::load::{LoadError, load_bytes};
use crate::table::build::{Problem, TableConfig};
use crate::table::handle::TableHandle;

/// How many rejected records of one load are logged one by one.
pub const MAX_LOGGED_PROBLEMS: usize = 20;

/// Default quiet time after the last file event before reloading.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(50);

/// How long a table is served unchanged before its big arrays are moved
/// onto huge pages ([`crate::table::Table::back_with_huge_pages`]): that
/// costs about a second of one core on a million names, worth it for a
/// table that stays, not for one replaced a moment later. Checked on the
/// periodic check ([`DEFAULT_POLL_INTERVAL`]), so the move comes up to one
/// interval later.
pub const SETTLE_AFTER: Duration = Duration::from_secs(5);

/// Default interval of the fallback check.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How long a file that is open for writing may stay silent before it is
/// read anyway.
const WRITE_GRACE: Duration = Duration::from_secs(1);

/// The longest a burst of events can delay a reload.
const MAX_DELAY: Duration = Duration::from_secs(2);

//----------- Statistics -------------------------------------------------------

/// Counters of one reloader, shared with whoever reports them (the admin
/// endpoint). All reads are relaxed: each value is current on its own, not
/// consistent with the others.
#[derive(Debug, Default)]
pub struct ReloadStats {
    ok: AtomicU64,
    failed: AtomicU64,
    last_ok_unix: AtomicU64,
    last_failure_unix: AtomicU64,
    version: AtomicU32,
    records: AtomicU64,
    rejected: AtomicU64,
    last_error: Mutex<Option<String>>,
    settled: AtomicU64,
    huge_page_refusals: AtomicU64,
}

impl ReloadStats {
    /// Tables moved onto huge pages after being served a while unchanged
    /// (counted whether or not they were big enough to need it).
    pub fn tables_settled(&self) -> u64 {
        self.settled.load(Ordering::Acquire)
    }

    /// Tables of which the kernel refused to move some array onto huge
    /// pages (counted before [`Self::tables_settled`]).
    pub fn huge_page_refusals(&self) -> u64 {
        self.huge_page_refusals.load(Ordering::Relaxed)
    }

    /// Tables published.
    pub fn reloads_ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Loads that failed (the previous table kept serving).
    pub fn reloads_failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// When the last table was published, in Unix seconds; 0 if never.
    pub fn last_reload_unix(&self) -> u64 {
        self.last_ok_unix.load(Ordering::Relaxed)
    }

    /// When the last load failed, in Unix seconds; 0 if never.
    pub fn last_failure_unix(&self) -> u64 {
        self.last_failure_unix.load(Ordering::Relaxed)
    }

    /// The version of the last table published; 0 if none.
    pub fn version(&self) -> u32 {
        self.version.load(Ordering::Relaxed)
    }

    /// Records in the last table published (apex SOA and NS included).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Groups of records rejected in the last table published.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The message of the last failed load; kept after a later success
    /// (compare [`Self::last_failure_unix`] and [`Self::last_reload_unix`]).
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record_ok(&self, version: u32, records: usize, rejected: usize) {
        self.version.store(version, Ordering::Relaxed);
        self.records.store(records as u64, Ordering::Relaxed);
        self.rejected.store(rejected as u64, Ordering::Relaxed);
        self.last_ok_unix.store(unix_now(), Ordering::Relaxed);
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    fn record_failure(&self, error: &LoadError) {
        // Counted before the message is stored: whoever reads the message
        // (through the lock) sees the failure counted too.
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.last_failure_unix.store(unix_now(), Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
    }
}

//----------- Reports ----------------------------------------------------------

/// What a successful [`Reloader::reload_now`] did.
#[derive(Debug)]
pub enum ReloadReport {
    /// The content is the one already served; nothing was rebuilt.
    Unchanged {
        /// The version still served.
        version: u32,
    },
    /// A new table was built and published.
    Swapped {
        /// Its version (the SOA serial).
        version: u32,
        /// Records in it, apex SOA and NS included.
        records: usize,
        /// The records rejected (served without them).
        problems: Vec<Problem>,
        /// How long reading the content into a table took.
        build_time: Duration,
    },
}

//----------- The reloader -----------------------------------------------------

/// Reloads one records file into a [`TableHandle`].
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    /// The last component of `path`, which file events are matched on.
    file_name: Option<OsString>,
    /// The configuration every table is built with (its version replaced).
    config: TableConfig,
    handle: Arc<TableHandle>,
    stats: Arc<ReloadStats>,
    /// The content now served.
    published: Option<Digest>,
    /// The version of the table now served.
    last_version: u32,
    /// The file's metadata when it was last read (`None`: missing).
    file_state: Option<FileState>,
    /// Whether a load was ever attempted.
    attempted: bool,
    debounce: Duration,
    poll_interval: Duration,
    use_notify: bool,
    /// When the table now served was published, until it is moved onto
    /// huge pages (`None`: done, or nothing served).
    unsettled_since: Option<Instant>,
    settle_after: Duration,
    /// Whether big tables are moved onto huge pages at all.
    huge_pages: bool,
}

impl Reloader {
    /// A reloader of the file at `path` into `handle`, building tables with
    /// `config` (whose `version` is replaced by each table's own). Nothing
    /// is read until [`Self::reload_now`] or [`Self::spawn`].
    pub fn new(path: impl Into<PathBuf>, config: TableConfig, handle: Arc<TableHandle>) -> Self {
        let path = path.into();
        let last_version = handle.load().version();
        Self {
            file_name: path.file_name().map(|name| name.to_owned()),
            path,
            config,
            handle,
            stats: Arc::new(ReloadStats::default()),
            published: None,
            last_version,
            file_state: None,
            attempted: false,
            debounce: DEFAULT_DEBOUNCE,
            poll_interval: DEFAULT_POLL_INTERVAL,
            unsettled_since: None,
            settle_after: SETTLE_AFTER,
            huge_pages: true,
            use_notify: true,
        }
    }

    /// Sets the quiet time after a file event before reloading.
    pub fn with_debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// Sets how long a table is served unchanged before it is moved onto
    /// huge pages ([`SETTLE_AFTER`] by default).
    pub fn with_settle_after(mut self, settle_after: Duration) -> Self {
        self.settle_after = settle_after;
        self
    }

    /// Whether a big table served a while unchanged is moved onto huge
    /// pages (yes by default): the move makes every later lookup a little
    /// cheaper, and on one core delays the answers of the second it takes
    /// (p99 of 7–9 ms at 1M names, against 2 ms while a reload builds).
    pub fn with_huge_pages(mut self, enabled: bool) -> Self {
        self.huge_pages = enabled;
        self
    }

    /// Sets the interval of the fallback check (at least 10 ms).
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Whether to watch with inotify (the default) or rely on the periodic
    /// check alone.
    pub fn with_notify(mut self, enabled: bool) -> Self {
        self.use_notify = enabled;
        self
    }

    /// The file reloaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The handle tables are published to.
    pub fn handle(&self) -> &Arc<TableHandle> {
        &self.handle
    }

    /// The counters, to share with a reporter.
    pub fn stats(&self) -> Arc<ReloadStats> {
        Arc::clone(&self.stats)
    }

    /// The version of the table now served.
    pub fn version(&self) -> u32 {
        self.last_version
    }

    /// Reads the file and, if its content differs from what is served,
    /// builds a table and publishes it. On error the table served stays,
    /// the error is logged and counted, and returned.
    pub fn reload_now(&mut self) -> Result<ReloadReport, LoadError> {
        let result = self.try_reload();
        let file = self.path.display();
        match &result {
            Ok(ReloadReport::Unchanged { version }) => {
                tracing::debug!(file = %file, version, "records file unchanged");
            }
            Ok(ReloadReport::Swapped {
                version,
                records,
                problems,
                build_time,
            }) => {
                log_problems(problems);
                tracing::info!(
                    file = %file,
                    version,
                    records,
                    rejected = problems.len(),
                    build_ms = build_time.as_secs_f64() * 1e3,
                    "records table swapped"
                );
                // The file's bytes and the parser's garbage are freed by
                // now; without this their pages stay in RSS.
                crate::memory::release_free_memory();
            }
            Err(LoadError::Io { source, .. })
                if source.kind() == io::ErrorKind::NotFound && self.published.is_none() =>
            {
                // Not an error yet: in a pod the sidecar writes the first
                // snapshot a moment after the responder starts. Not ready
                // (nothing loaded) until it does.
                tracing::info!(file = %file, "waiting for the records file to appear");
            }
            Err(error) => {
                if let LoadError::NothingValid { problems, .. } = error {
                    log_problems(problems);
                }
                tracing::error!(
                    file = %file,
                    error = %error,
                    serving = self.last_version,
                    "records file rejected; the last good table keeps serving"
                );
                self.stats.record_failure(error);
            }
        }
        result
    }

    fn try_reload(&mut self) -> Result<ReloadReport, LoadError> {
        self.attempted = true;
        // Metadata first: if the file changes between this and the read,
        // the next check sees a difference and reads again.
        self.file_state = FileState::of(&self.path);
        let bytes = std::fs::read(&self.path).map_err(|source| LoadError::Io {
            path: self.path.clone(),
            source,
        })?;
        // Nothing published yet, nothing to compare: the digest is taken
        // after the table is served (0.1 s on a 270 MB file).
        let digest = self.published.map(|_| Digest::of(&bytes));
        if digest.is_some() && self.published == digest {
            return Ok(ReloadReport::Unchanged {
                version: self.last_version,
            });
        }
        let version = next_version(self.last_version, unix_now());
        let mut config = self.config.clone();
        config.version = version;
        let start = Instant::now();
        let name = self.path.display().to_string();
        let built = load_bytes(&bytes, Some(&name), &config)?;
        let build_time = start.elapsed();
        let records = built.table.record_count();
        // A snapshot carries the version its writer gave it; a records file
        // gets ours.
        let version = built.table.version();
        // Counted before it is served, so that whoever sees the new table
        // (a test, a probe reading the metrics after a query) also sees it
        // counted; the publish below makes these stores visible with it.
        self.stats.record_ok(version, records, built.problems.len());
        self.handle.publish(built.table);
        self.unsettled_since = Some(Instant::now());
        self.published = Some(digest.unwrap_or_else(|| Digest::of(&bytes)));
        self.last_version = version;
        Ok(ReloadReport::Swapped {
            version,
            records,
            problems: built.problems,
            build_time,
        })
    }

    /// Rereads the file if its metadata changed since the last read.
    fn check(&mut self) {
        if !self.attempted || FileState::of(&self.path) != self.file_state {
            let _ = self.reload_now();
        }
    }

    /// Watches the file on a thread of its own (see the module docs) until
    /// the guard is dropped. If inotify cannot be set up, the periodic check
    /// carries on alone (logged as a warning).
    ///
    /// Before returning, once the watch is set up, the file is checked on
    /// the caller's thread (loaded, if no load was attempted yet), so that a
    /// change made before this call is never missed and one made after it
    /// is seen by the watch.
    pub fn spawn(mut self) -> io::Result<WatchGuard> {
        let (sender, receiver) = mpsc::channel();
        let watcher = if self.use_notify {
            self.start_notify(sender.clone())
        } else {
            None
        };
        self.check();
        let stats = Arc::clone(&self.stats);
        let thread = thread::Builder::new()
            .name("xcc-records-watch".to_owned())
            .spawn(move || self.run(&receiver, watcher))?;
        Ok(WatchGuard {
            stop: sender,
            thread: Some(thread),
            stats,
        })
    }

    /// Sets up inotify on the file's directory, events going to `sender`.
    fn start_notify(&self, sender: Sender<Message>) -> Option<RecommendedWatcher> {
        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let handler = move |event: notify::Result<notify::Event>| {
            // The thread may be gone already; then nobody needs the event.
            let _ = sender.send(Message::Event(event));
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut watcher| {
            watcher
                .watch(&directory, RecursiveMode::NonRecursive)
                .map(|()| watcher)
        });
        match watched {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                tracing::warn!(
                    directory = %directory.display(),
                    error = %error,
                    interval_ms = self.poll_interval.as_millis() as u64,
                    "cannot watch the records directory; checking periodically only"
                );
                None
            }
        }
    }

    /// The watch loop: debounce events, reload, check periodically, stop on
    /// [`Message::Stop`].
    fn run(mut self, receiver: &Receiver<Message>, _watcher: Option<RecommendedWatcher>) {
        let mut pending: Option<Pending> = None;
        let mut next_poll = Instant::now() + self.poll_interval;
        loop {
            let wake = pending
                .as_ref()
                .map_or(next_poll, |p| p.due(self.debounce).min(next_poll));
            match receiver.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Message::Event(event)) => self.note(event, &mut pending),
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if let Some(due) = pending.as_ref().filter(|p| now >= p.due(self.debounce)) {
                if due.read {
                    let _ = self.reload_now();
                } else {
                    self.check();
                }
                pending = None;
            }
            if now >= next_poll {
                self.check();
                // Free the tables replaced since, once no worker reads them.
                self.handle.reclaim();
                if self.huge_pages
                    && self.unsettled_since.is_some_and(|since| {
                        since
                            .checked_add(self.settle_after)
                            .is_some_and(|due| now >= due)
                    })
                {
                    self.settle();
                }
                next_poll = now + self.poll_interval;
            }
        }
    }

    /// Moves the table now served onto huge pages
    /// ([`crate::table::Table::back_with_huge_pages`]), once, on a thread
    /// of its own: the move takes about a second on a million names, and
    /// a change to the records file meanwhile must not wait for it.
    fn settle(&mut self) {
        self.unsettled_since = None;
        let table = self.handle.load();
        let stats = Arc::clone(&self.stats);
        let settle = move || {
            let start = Instant::now();
            let moved = table.back_with_huge_pages();
            if moved.octets > 0 {
                tracing::info!(
                    version = table.version(),
                    mib = moved.octets >> 20,
                    ms = start.elapsed().as_secs_f64() * 1e3,
                    "records table moved onto huge pages"
                );
            }
            if let Some(refusal) = &moved.refusal {
                // Served as it is, only a little slower at a million names.
                tracing::warn!(
                    version = table.version(),
                    arrays = moved.refused,
                    error = %refusal,
                    "the kernel did not move (all of) the records table onto huge pages"
                );
                stats.huge_page_refusals.fetch_add(1, Ordering::Relaxed);
            }
            // Release: whoever sees the table settled sees its refusal.
            stats.settled.fetch_add(1, Ordering::Release);
        };
        if let Err(error) = thread::Builder::new()
            .name("xcc-settle".into())
            .spawn(settle)
        {
            // Not moved: served as it is, only a little slower.
            tracing::warn!(%error, "cannot start the thread that moves the table onto huge pages");
        }
    }

    /// Takes one file event into account.
    fn note(&self, event: notify::Result<notify::Event>, pending: &mut Option<Pending>) {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(error = %error, "records directory watch error; rereading");
                Pending::mark(pending, true, None);
                return;
            }
        };
        if event.need_rescan() {
            Pending::mark(pending, true, None);
            return;
        }
        let ours = self.file_name.as_deref().is_some_and(|name| {
            event
                .paths
                .iter()
                .any(|path| path.file_name() == Some(name))
        });
        if !ours {
            if !matches!(event.kind, EventKind::Access(_)) {
                // Something else in the directory: a symlink swap may have
                // changed what the path points to. Compare metadata.
                Pending::mark(pending, false, None);
            }
            return;
        }
        match event.kind {
            // The writer is done.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                Pending::mark(pending, true, Some(false))
            }
            // Opened (by us, too): nothing changed.
            EventKind::Access(_) => {}
            // Written in place, or created: a writer has it open.
            EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) | EventKind::Create(_) => {
                Pending::mark(pending, true, Some(true))
            }
            // Renamed onto (the expected update), removed, attributes...
            _ => Pending::mark(pending, true, Some(false)),
        }
    }
}

/// Logs the first [`MAX_LOGGED_PROBLEMS`] problems, then how many more.
fn log_problems(problems: &[Problem]) {
    for problem in problems.iter().take(MAX_LOGGED_PROBLEMS) {
        tracing::warn!(problem = %problem, "record rejected");
    }
    if problems.len() > MAX_LOGGED_PROBLEMS {
        tracing::warn!(
            more = problems.len() - MAX_LOGGED_PROBLEMS,
            "more records rejected, not logged one by one"
        );
    }
}

/// The next version after `previous` at Unix time `now`: never smaller than
/// `previous + 1`, and the current time when that is larger, so that a
/// restarted responder continues above the versions it served before.
pub fn next_version(previous: u32, now: u64) -> u32 {
    let now = u32::try_from(now).unwrap_or(u32::MAX);
    previous.saturating_add(1).max(now)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

//----------- The watch thread's state -----------------------------------------

/// Messages to the watch thread.
enum Message {
    /// A file event from inotify.
    Event(notify::Result<notify::Event>),
    /// Stop now.
    Stop,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event(event) => f.debug_tuple("Event").field(event).finish(),
            Self::Stop => f.write_str("Stop"),
        }
    }
}

/// Events seen and not yet acted on.
#[derive(Debug)]
struct Pending {
    first: Instant,
    last: Instant,
    /// Reread the content (an event named our file), rather than compare
    /// metadata only.
    read: bool,
    /// A writer has the file open (modified, not yet closed).
    writing: bool,
}

impl Pending {
    /// Notes an event now; `writing` says whether it opened (`Some(true)`)
    /// or closed (`Some(false)`) a write.
    fn mark(pending: &mut Option<Self>, read: bool, writing: Option<bool>) {
        let now = Instant::now();
        let entry = pending.get_or_insert(Self {
            first: now,
            last: now,
            read: false,
            writing: false,
        });
        entry.last = now;
        entry.read |= read;
        if let Some(writing) = writing {
            entry.writing = writing;
        }
    }

    /// When to act: after `debounce` of quiet (a second while a writer has
    /// the file open), and at most [`MAX_DELAY`] after the first event.
    fn due(&self, debounce: Duration) -> Instant {
        let quiet = if self.writing { WRITE_GRACE } else { debounce };
        (self.last + quiet).min(self.first + MAX_DELAY)
    }
}

/// What the fallback check compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileState {
    modified: Option<SystemTime>,
    len: u64,
    /// ctime in nanoseconds, inode and device, where the platform has them.
    changed: i128,
    inode: u64,
    device: u64,
}

impl FileState {
    /// The state of the file `path` leads to (symlinks followed); `None`
    /// when there is none.
    fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (changed, inode, device) = {
            use std::os::unix::fs::MetadataExt;
            (
                i128::from(metadata.ctime()) * 1_000_000_000 + i128::from(metadata.ctime_nsec()),
                metadata.ino(),
                metadata.dev(),
            )
        };
        #[cfg(not(unix))]
        let (changed, inode, device) = (0, 0, 0);
        Some(Self {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            changed,
            inode,
            device,
        })
    }
}

/// A digest of a file's content, to tell whether it changed. Not a
/// checksum against tampering or corruption (whoever writes the file
/// chooses the records anyway): a fast 64-bit hash of the bytes, with the
/// length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Digest {
    len: usize,
    hash: u64,
}

impl Digest {
    fn of(bytes: &[u8]) -> Self {
        let mut hasher = foldhash::quality::FixedState::with_seed(0).build_hasher();
        hasher.write(bytes);
        Self {
            len: bytes.len(),
            hash: hasher.finish(),
        }
    }
}

//----------- The guard --------------------------------------------------------

/// Keeps the watch thread running; dropping it stops the thread and waits
/// for it: at once when it is idle, after the reload in progress when it is
/// building a table.
#[derive(Debug)]
pub struct WatchGuard {
    stop: Sender<Message>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<ReloadStats>,
}

impl WatchGuard {
    /// The reloader's counters.
    pub fn stats(&self) -> Arc<ReloadStats> {
        Arc::clone(&self.stats)
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let _ = self.stop.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            // A panic on the watch thread has been reported already.
            let _ = thread.join();
        }
    }
}

//----------- Tests ------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;
    use crate::table::build::TableBuilder;

    fn empty_table() -> Table {
        TableBuilder::new(TableConfig::default()).build().table
    }

    const GOOD: &str = "apiVersion: connectivity.tanzu.vmware.com/v1alpha1\nkind: DNSRecord\n\
        metadata: {name: a, namespace: xcc-dns}\nspec: {name: a.xcc.test, addresses: [192.0.2.1]}\n";

    #[test]
    fn versions_only_increase() {
        assert_eq!(next_version(5, 0), 6);
        assert_eq!(next_version(5, 1_700_000_000), 1_700_000_000);
        assert_eq!(next_version(1_700_000_010, 1_700_000_000), 1_700_000_011);
        assert_eq!(next_version(u32::MAX, 0), u32::MAX);
        assert_eq!(next_version(1, u64::MAX), u32::MAX);
    }

    #[test]
    fn unchanged_content_is_not_rebuilt_and_versions_increase() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("records.yaml");
        std::fs::write(&path, GOOD).expect("written");
        let handle = TableHandle::new(empty_table());
        let mut reloader = Reloader::new(&path, TableConfig::default(), Arc::clone(&handle));
        let first = match reloader.reload_now() {
            Ok(ReloadReport::Swapped { version, .. }) => version,
            other => panic!("expected a swap, got {other:?}"),
        };
        assert!(u64::from(first) >= unix_now() - 5);
        assert_eq!(handle.load().version(), first);
        assert!(handle.is_loaded());
        assert!(matches!(
            reloader.reload_now(),
            Ok(ReloadReport::Unchanged { version }) if version == first
        ));
        std::fs::write(&path, GOOD.replace("192.0.2.1", "192.0.2.2")).expect("written");
        let second = match reloader.reload_now() {
            Ok(ReloadReport::Swapped { version, .. }) => version,
            other => panic!("expected a swap, got {other:?}"),
        };
        assert!(second > first, "{second} > {first}");
        let stats = reloader.stats();
        assert_eq!(stats.reloads_ok(), 2);
        assert_eq!(stats.reloads_failed(), 0);
        assert_eq!(stats.version(), second);
        assert!(stats.last_reload_unix() > 0);
    }

    #[test]
    fn a_file_not_there_yet_is_waited_for_not_counted() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("records.snapshot");
        let handle = TableHandle::new(empty_table());
        let mut reloader = Reloader::new(&path, TableConfig::default(), Arc::clone(&handle));
        assert!(matches!(reloader.reload_now(), Err(LoadError::Io { .. })));
        assert_eq!(reloader.stats().reloads_failed(), 0);
        assert!(!handle.is_loaded());
        std::fs::write(&path, GOOD).expect("written");
        assert!(reloader.reload_now().is_ok());
        assert!(handle.is_loaded());
    }

    #[test]
    fn a_failed_load_keeps_the_table_and_is_counted() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("records.yaml");
        std::fs::write(&path, GOOD).expect("written");
        let handle = TableHandle::new(empty_table());
        let mut reloader = Reloader::new(&path, TableConfig::default(), Arc::clone(&handle));
        assert!(reloader.reload_now().is_ok());
        let version = handle.load().version();

        std::fs::write(&path, "kind: [unclosed\n").expect("written");
        assert!(matches!(
            reloader.reload_now(),
            Err(LoadError::Syntax { .. })
        ));
        std::fs::remove_file(&path).expect("removed");
        // Gone after a load: a failure, counted (the table stays).
        assert!(matches!(reloader.reload_now(), Err(LoadError::Io { .. })));
        assert_eq!(handle.load().version(), version);
        let stats = reloader.stats();
        assert_eq!(stats.reloads_failed(), 2);
        assert!(stats.last_failure_unix() > 0);
        assert!(
            stats
                .last_error()
                .is_some_and(|e| e.contains("records.yaml")),
            "{:?}",
            stats.last_error()
        );
        // Back to the good content: served again, under a new version.
        std::fs::write(&path, GOOD).expect("written");
        assert!(matches!(
            reloader.reload_now(),
            Ok(ReloadReport::Unchanged { .. })
        ));
        std::fs::write(&path, GOOD.replace("192.0.2.1", "192.0.2.3")).expect("written");
        assert!(matches!(
            reloader.reload_now(),
            Ok(ReloadReport::Swapped { version: v, .. }) if v > version
        ));
    }

    #[test]
    fn dropping_the_guard_stops_the_thread() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("records.yaml");
        std::fs::write(&path, GOOD).expect("written");
        let handle = TableHandle::new(empty_table());
        let guard = Reloader::new(&path, TableConfig::default(), Arc::clone(&handle))
            .with_poll_interval(Duration::from_secs(3600))
            .spawn()
            .expect("spawned");
        // No load was attempted, so `spawn` made one.
        assert!(handle.is_loaded());
        let start = Instant::now();
        drop(guard);
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
