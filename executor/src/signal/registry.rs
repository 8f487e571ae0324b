//! Who listens for which signal, and the watchers that read the self-pipe.
//!
//! One registry serves the whole process. A *listener* is a [`Signals`]
//! stream or one loop's handler for one signal; each says which signals it
//! wants. A signal's handler is installed when its first listener arrives and
//! the previous disposition is put back when its last listener leaves.
//!
//! A *watcher* reads the self-pipe on one loop's reactor. Every loop with a
//! listener has one (shared by all of that loop's listeners), registered as
//! an [`Async`] on a duplicate of the pipe's read end, and its waker is the
//! watcher itself: when the reactor reports the pipe readable, the watcher
//! drains it, re-arms, and dispatches. Dispatch is process-wide: whichever
//! watcher reads a byte delivers the pending signals to every listener of
//! every loop, so a loop whose reactor is busy or blocked still hears of its
//! signals from another. No task and no thread is involved.
//!
//! [`Signals`]: super::Signals

use super::handler::{self, Disposition, NSIG};
use crate::handle::Handle;
use crate::scheduler::Shared;
use loopwork_reactor::{Async, Reactor};
use parking_lot::Mutex;
use slab::Slab;
use std::io;
use std::os::raw::c_int;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A set of signal numbers, bit `n` for signal `n`.
pub(super) type SignalSet = u128;

pub(super) fn bit(signal: c_int) -> SignalSet {
    1 << signal
}

/// What a listener wants, the loop that watches for it, and how it hears of it.
pub(super) struct Listener {
    pub(super) signals: SignalSet,
    pub(super) reactor: Arc<Reactor>,
    pub(super) kind: Kind,
}

pub(super) enum Kind {
    /// A `Signals` stream: arrivals collect in `pending` until it is polled.
    Stream(Mutex<StreamState>),
    /// `Handle::add_signal_handler`: each arrival runs `callback` on `handle`'s loop.
    Handler { handle: Handle, callback: Arc<dyn Fn() + Send + Sync> },
}

#[derive(Default)]
pub(super) struct StreamState {
    /// Signals delivered and not yet yielded; a repeat before the stream is
    /// polled is reported once, as the kernel does for a signal that is
    /// still pending.
    pub(super) pending: SignalSet,
    pub(super) waker: Option<Waker>,
}

struct Installed {
    previous: Disposition,
    listeners: usize,
}

struct WatcherEntry {
    reactor: Arc<Reactor>,
    watcher: Arc<Watcher>,
    listeners: usize,
}

struct Registry {
    /// The self-pipe's read end, once a first listener created the pipe.
    reader: Option<UnixStream>,
    installed: [Option<Installed>; NSIG],
    listeners: Slab<Arc<Listener>>,
    watchers: Vec<WatcherEntry>,
}

static REGISTRY: Mutex<Registry> = parking_lot::const_mutex(Registry {
    reader: None,
    installed: [const { None }; NSIG],
    listeners: Slab::new(),
    watchers: Vec::new(),
});

/// Registers `listener` for its signals, watched on its loop's reactor,
/// and returns its key for [`remove_where`].
///
/// Installs the handler of each signal that had no listener; on failure,
/// puts back what this call installed.
pub(super) fn add(listener: Arc<Listener>) -> io::Result<usize> {
    let mut registry = REGISTRY.lock();
    if registry.reader.is_none() {
        registry.reader = Some(handler::create_pipe()?);
    }
    let watcher = registry.watcher_for(&listener.reactor)?;
    let mut newly_installed = Vec::new();
    for signal in signals_in(listener.signals) {
        if registry.installed[signal as usize].is_some() {
            continue;
        }
        match handler::install(signal) {
            Ok(previous) => {
                registry.installed[signal as usize] = Some(Installed { previous, listeners: 0 });
                newly_installed.push(signal);
            }
            Err(err) => {
                for signal in newly_installed {
                    let installed = registry.installed[signal as usize].take().expect("installed just above");
                    handler::restore(signal, &installed.previous);
                }
                let unused = registry.release_watcher(&listener.reactor);
                drop(registry);
                drop(unused);
                return Err(err);
            }
        }
    }
    for signal in signals_in(listener.signals) {
        registry.installed[signal as usize].as_mut().expect("installed above").listeners += 1;
    }
    let key = registry.listeners.insert(listener);
    drop(registry);
    if let Some(watcher) = watcher {
        // A new watcher drains what came before it and arms itself.
        watcher.watch();
    }
    Ok(key)
}

/// Unregisters every listener `doomed` picks (given its key) and returns
/// how many. The last listener of a signal puts its previous disposition
/// back, and the last one of a loop stops that loop's watcher.
pub(super) fn remove_where(mut doomed: impl FnMut(usize, &Listener) -> bool) -> usize {
    let mut registry = REGISTRY.lock();
    let keys: Vec<usize> =
        registry.listeners.iter().filter(|(key, listener)| doomed(*key, listener)).map(|(key, _)| key).collect();
    let mut removed = Vec::with_capacity(keys.len());
    for &key in &keys {
        let listener = registry.listeners.remove(key);
        for signal in signals_in(listener.signals) {
            let slot = &mut registry.installed[signal as usize];
            let installed = slot.as_mut().expect("a listener's signals stay installed while it is registered");
            installed.listeners -= 1;
            if installed.listeners == 0 {
                handler::restore(signal, &installed.previous);
                *slot = None;
            }
        }
        let unused_pipe = registry.release_watcher(&listener.reactor);
        removed.push((listener, unused_pipe));
    }
    drop(registry);
    // Dropped unlocked: a stream's waker or a handler's `Handle` may run
    // executor code as it goes.
    drop(removed);
    keys.len()
}

/// Whether `listener` is a handler of the loop `shared` for a signal in `signals`.
pub(super) fn is_handler_of(listener: &Listener, shared: &Shared, signals: SignalSet) -> bool {
    matches!(&listener.kind, Kind::Handler { handle, .. } if std::ptr::eq(Arc::as_ptr(handle.shared()), shared))
        && listener.signals & signals != 0
}

impl Registry {
    /// The watcher of `reactor`'s loop, counted for one more listener;
    /// `Some` if it was just created and must be started.
    fn watcher_for(&mut self, reactor: &Arc<Reactor>) -> io::Result<Option<Arc<Watcher>>> {
        if let Some(entry) = self.watchers.iter_mut().find(|entry| Arc::ptr_eq(&entry.reactor, reactor)) {
            entry.listeners += 1;
            return Ok(None);
        }
        let reader = self.reader.as_ref().expect("the pipe is created first").try_clone()?;
        // `Async::new` registers with the current reactor; the caller may be
        // a thread of another loop, or of none.
        let pipe = {
            let _entered = reactor.enter();
            Async::new(reader)?
        };
        let watcher = Arc::new(Watcher { pipe: Mutex::new(Some(pipe)) });
        self.watchers.push(WatcherEntry { reactor: reactor.clone(), watcher: watcher.clone(), listeners: 1 });
        Ok(Some(watcher))
    }

    /// Counts one listener less on `reactor`'s watcher; returns the pipe of
    /// a watcher nobody uses any more, for the caller to drop unlocked.
    #[must_use = "drop the pipe after unlocking the registry"]
    fn release_watcher(&mut self, reactor: &Arc<Reactor>) -> Option<Async<UnixStream>> {
        let position = self.watchers.iter().position(|entry| Arc::ptr_eq(&entry.reactor, reactor))?;
        let entry = &mut self.watchers[position];
        entry.listeners -= 1;
        if entry.listeners > 0 {
            return None;
        }
        let entry = self.watchers.swap_remove(position);
        // Taking the pipe out breaks the cycle watcher -> pipe -> stored
        // waker -> watcher; dropping it deletes it from the reactor.
        let pipe = entry.watcher.pipe.lock().take();
        drop(entry);
        pipe
    }
}

/// Reads the self-pipe on one loop's reactor; its own waker.
struct Watcher {
    /// `None` once the last listener of the loop is gone.
    pipe: Mutex<Option<Async<UnixStream>>>,
}

impl Watcher {
    /// Drains the pipe, re-arms it with the reactor, and dispatches.
    fn watch(self: &Arc<Self>) {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        {
            let pipe = self.pipe.lock();
            let Some(pipe) = pipe.as_ref() else { return };
            loop {
                handler::drain(pipe.get_ref());
                // Ready means a byte may have come after the drain: drain
                // again. Pending leaves this watcher as the pipe's waker; a
                // byte written after the drain makes the reactor wake it.
                // An error means the poller refused to re-check a
                // descriptor it holds, which it does only for a closed one:
                // this watcher's duplicate stays open while it is here.
                match pipe.poll_readable(&mut cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(_)) | Poll::Pending => break,
                }
            }
        }
        dispatch();
    }
}

impl Wake for Watcher {
    fn wake(self: Arc<Self>) {
        self.watch();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.watch();
    }
}

/// Delivers every pending signal to every listener that wants it.
fn dispatch() {
    let mut fired: SignalSet = 0;
    for signal in 1..NSIG {
        if handler::take_pending(signal) {
            fired |= 1 << signal;
        }
    }
    if fired == 0 {
        return;
    }
    let mut wakers = Vec::new();
    let mut callbacks = Vec::new();
    {
        let registry = REGISTRY.lock();
        for (_, listener) in registry.listeners.iter() {
            let hits = listener.signals & fired;
            if hits == 0 {
                continue;
            }
            match &listener.kind {
                Kind::Stream(state) => {
                    let mut state = state.lock();
                    state.pending |= hits;
                    wakers.extend(state.waker.take());
                }
                Kind::Handler { handle, callback } => callbacks.push((handle.clone(), callback.clone())),
            }
        }
    }
    // Unlocked: a waker or `call_soon_threadsafe` runs executor code.
    for waker in wakers {
        waker.wake();
    }
    for (handle, callback) in callbacks {
        // Err(Closed): the loop is closing, and its handlers go with it.
        let _ = handle.call_soon_threadsafe(move || callback());
    }
}

/// The signal numbers in `set`, lowest first.
pub(super) fn signals_in(set: SignalSet) -> impl Iterator<Item = c_int> {
    (1..NSIG as c_int).filter(move |&signal| set & bit(signal) != 0)
}
