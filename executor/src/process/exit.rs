//! How a child's exit reaches the loop, and the reaping of children dropped
//! while they still ran.
//!
//! On Linux 5.3 and later a child gets a pidfd, which becomes readable when
//! the child exits; it is registered with the loop's reactor like a socket.
//! Elsewhere (or where `pidfd_open` is refused) the child listens for SIGCHLD
//! through [`Signals`], and each SIGCHLD makes it try `waitpid` on its own
//! pid, with `WNOHANG`. Nothing here ever waits for "any child": a child
//! this crate did not spawn is never reaped behind its owner's back. Either
//! way, no thread waits for a child.

use crate::signal::{Signals, SIGCHLD};
use loopwork_reactor::Reactor;
use std::io;
use std::process::ExitStatus;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Wake, Waker};

use parking_lot::Mutex;

/// What tells a child's owner to look at its exit status again.
///
/// Set up on the first wait that finds the child still running, not at
/// spawn: a child that has exited by then (a short command, awaited after
/// others) costs a `waitpid` and nothing else, no descriptor and no
/// registration with the reactor.
#[derive(Debug)]
pub(super) struct ExitWatch {
    /// The loop the child was spawned on, which watches it.
    reactor: Arc<Reactor>,
    /// False to go straight to SIGCHLD.
    try_pidfd: bool,
    registered: Option<Registered>,
}

#[derive(Debug)]
enum Registered {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Pidfd(loopwork_reactor::Async<std::os::fd::OwnedFd>),
    Sigchld(Signals),
}

impl ExitWatch {
    /// The watch for a child spawned on `reactor`'s loop: a pidfd where the
    /// kernel offers one, SIGCHLD otherwise.
    pub(super) fn new(reactor: Arc<Reactor>) -> ExitWatch {
        ExitWatch { reactor, try_pidfd: cfg!(any(target_os = "linux", target_os = "android")), registered: None }
    }

    /// The SIGCHLD watch, which platforms without pidfds use.
    #[cfg(test)]
    pub(super) fn sigchld(reactor: Arc<Reactor>) -> ExitWatch {
        ExitWatch { reactor, try_pidfd: false, registered: None }
    }

    /// Ready when the child `pid` may have exited since the last `Ready`.
    /// The first call sets the watch up and is ready at once, so that the
    /// caller looks at the child again: it may have exited before the watch
    /// could see it.
    fn poll_event(&mut self, pid: u32, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.registered {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Some(Registered::Pidfd(pidfd)) => pidfd.poll_readable(cx),
            Some(Registered::Sigchld(signals)) => signals.poll_recv(cx).map(|_| Ok(())),
            None => {
                self.registered = Some(self.register(pid)?);
                Poll::Ready(Ok(()))
            }
        }
    }

    fn register(&self, pid: u32) -> io::Result<Registered> {
        // The caller may run on another loop, or (an orphan's first look)
        // on none: register with the child's own.
        let _entered = self.reactor.enter();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.try_pidfd {
            if let Some(pidfd) = pidfd_open(pid)? {
                return Ok(Registered::Pidfd(loopwork_reactor::Async::new(pidfd)?));
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = (pid, self.try_pidfd);
        Ok(Registered::Sigchld(Signals::new([SIGCHLD])?))
    }
}

/// Reaps `child` once it has exited, or leaves `cx`'s waker with `watch`.
///
/// `try_wait` comes first every time: an exit before the watch was set up,
/// or between two events, is seen by it, and every exit after it produces an
/// event that wakes the caller.
pub(super) fn poll_exit(
    child: &mut std::process::Child,
    watch: &mut ExitWatch,
    cx: &mut Context<'_>,
) -> Poll<io::Result<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Poll::Ready(Ok(status));
        }
        ready!(watch.poll_event(child.id(), cx))?;
    }
}

/// Opens a pidfd for `pid`; `None` where the kernel has no `pidfd_open`
/// (before 5.3) or a sandbox refuses it.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn pidfd_open(pid: u32) -> io::Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::{FromRawFd, RawFd};

    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: pidfd_open(2) takes a pid and flags and touches no memory of
    // ours; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOSYS | libc::EPERM) => Ok(None),
            _ => Err(err),
        };
    }
    let fd = RawFd::try_from(fd).map_err(io::Error::other)?;
    // SAFETY: the call just returned this descriptor, which nothing else
    // owns; OwnedFd closes it once.
    Ok(Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
}

/// A child dropped before it was reaped. It is its own waker: the exit
/// event wakes it, it reaps the child, and then it lets go of its watch,
/// which held the only references to it.
struct Orphan {
    /// `None` once reaped.
    state: Mutex<Option<(std::process::Child, ExitWatch)>>,
}

/// Reaps `child` when it exits, on the loop its `watch` belongs to, with no
/// task and no thread.
pub(super) fn reap_when_exited(child: std::process::Child, watch: ExitWatch) {
    Arc::new(Orphan { state: Mutex::new(Some((child, watch))) }).reap();
}

impl Orphan {
    fn reap(self: &Arc<Self>) {
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut state = self.state.lock();
        let Some((child, watch)) = state.as_mut() else { return };
        // Ready(Err): waitpid failed (ECHILD: the process ignores SIGCHLD, so
        // the kernel reaped it); there is nothing left to wait for either way.
        if poll_exit(child, watch, &mut cx).is_ready() {
            let reaped = state.take();
            drop(state);
            // Unlocked: dropping the watch drops the wakers it kept, this
            // orphan among them.
            drop(reaped);
        }
    }
}

impl Wake for Orphan {
    fn wake(self: Arc<Self>) {
        self.reap();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.reap();
    }
}
