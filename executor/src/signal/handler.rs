//! The part of signal handling that runs in signal context: the process-wide
//! self-pipe, the handler that writes to it, and the `sigaction` calls that
//! install the handler and put the previous disposition back.
//!
//! A signal handler may only make async-signal-safe calls. This one sets the
//! signal's pending flag, writes one byte to the pipe (`write(2)` is on
//! POSIX's list) and restores `errno`, which the write may have changed under
//! the code the signal interrupted. Everything else (reading the pipe,
//! waking listeners, running callbacks) happens on the loop, in
//! [`super::registry`]. This file holds every `unsafe` block of the module.

use std::io;
use std::os::fd::IntoRawFd;
use std::os::raw::c_int;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// One more than the largest signal number on any supported platform
/// (Linux's real-time signals end at 64).
pub(super) const NSIG: usize = 65;

/// `PENDING[sig]`: `sig` arrived and no reader has taken it yet. The pipe
/// says *that* something arrived; these flags say *what*, and cannot
/// overflow as a full pipe can.
static PENDING: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];

/// The pipe's write end, or -1 before the first handler is installed. It is
/// never closed: a handler may run at any moment, on any thread.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// Signals no listener may take over: SIGKILL and SIGSTOP cannot be caught,
/// and a handler that returns from a fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE)
/// re-runs the faulting instruction forever.
const FORBIDDEN: [c_int; 6] = [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// A signal's disposition before a listener took it over.
#[derive(Clone, Copy)]
pub(super) struct Disposition(libc::sigaction);

/// Checks that `signal` is a number a listener may use.
pub(super) fn validate(signal: c_int) -> io::Result<()> {
    if signal <= 0 || signal as usize >= NSIG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signal} is not a signal number; pass one of the SIG* constants, such as signal::SIGTERM"),
        ));
    }
    if FORBIDDEN.contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signal} cannot be handled on the loop (SIGKILL and SIGSTOP cannot be caught, and a fault \
                 signal cannot be returned from); listen for SIGINT, SIGTERM, SIGHUP, SIGUSR1 and the like"
            ),
        ));
    }
    Ok(())
}

/// Creates the self-pipe and returns its read end; the write end is kept in
/// `WRITE_FD` for good. Called once, under the registry's lock.
pub(super) fn create_pipe() -> io::Result<UnixStream> {
    let (reader, writer) = UnixStream::pair()?;
    // A full pipe must not block the handler: the pending flag already
    // records the signal, and the bytes in the pipe already wake a reader.
    writer.set_nonblocking(true)?;
    reader.set_nonblocking(true)?;
    // Release: pairs with the Acquire load in `on_signal`, which may run on
    // another thread as soon as a handler is installed after this.
    WRITE_FD.store(writer.into_raw_fd(), Ordering::Release);
    Ok(reader)
}

/// Reads and discards everything in the pipe (through a duplicate of its
/// read end), so that the next signal makes it readable again.
pub(super) fn drain(reader: &UnixStream) {
    let mut buf = [0u8; 64];
    // `read` on a non-blocking socket: WouldBlock ends the loop, and so does
    // any other error, after which nothing more can be read anyway.
    while let Ok(n) = io::Read::read(&mut &*reader, &mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// Takes the pending flag of `signal`: true if it arrived since the last call.
pub(super) fn take_pending(signal: usize) -> bool {
    // SeqCst, as the store in `on_signal`: the handler stores the flag before
    // its write(2) and the reader swaps it after its read(2); the two system
    // calls order the pair in the kernel, and SeqCst keeps the flag accesses
    // themselves in one order with them on every architecture.
    PENDING[signal].swap(false, Ordering::SeqCst)
}

/// Routes `signal` to the handler and returns the disposition it replaces.
pub(super) fn install(signal: c_int) -> io::Result<Disposition> {
    // SAFETY: an all-zero `sigaction` is a valid value (no flags, no
    // handler), filled in below; `sigemptyset` gets a pointer to the mask
    // field of that live value. The handler makes only async-signal-safe
    // calls (see `on_signal`). SA_RESTART keeps the blocking calls of other
    // threads from failing with EINTR because of a signal only the loop
    // cares about. `previous` is a valid out-pointer.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, &action, &mut previous) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Disposition(previous))
    }
}

/// Puts back what `install` replaced.
pub(super) fn restore(signal: c_int, previous: &Disposition) {
    // SAFETY: `previous.0` is what the kernel returned for this signal,
    // hence a valid disposition to set again; the old-action pointer may be
    // null. It cannot fail for a signal `install` succeeded on.
    let restored = unsafe { libc::sigaction(signal, &previous.0, std::ptr::null_mut()) };
    debug_assert_eq!(restored, 0, "sigaction could not restore signal {signal}");
}

/// The handler of every signal a listener asked for.
extern "C" fn on_signal(signal: c_int) {
    // SAFETY: `errno_location` returns this thread's errno, valid for the
    // thread's lifetime; the write below may change it, and the interrupted
    // code must find it as it left it.
    let saved_errno = unsafe { *errno_location() };
    if let Some(flag) = PENDING.get(signal as usize) {
        // SeqCst: see `take_pending`.
        flag.store(true, Ordering::SeqCst);
    }
    // Acquire: pairs with the Release store in `create_pipe`, which happens
    // before any handler is installed.
    let fd = WRITE_FD.load(Ordering::Acquire);
    // SAFETY: write(2) is async-signal-safe; `fd` is the pipe's write end,
    // which is never closed; the buffer is a one-byte static. A failed write
    // (a full pipe) loses nothing: the bytes already there wake a reader,
    // and the flag above says which signal came.
    let _ = unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
    // SAFETY: as above.
    unsafe { *errno_location() = saved_errno };
}

#[cfg(any(
    target_os = "linux",
    target_os = "emscripten",
    target_os = "fuchsia",
    target_os = "l4re",
    target_os = "hurd"
))]
use libc::__errno_location as errno_location;

#[cfg(any(target_os = "android", target_os = "netbsd", target_os = "openbsd"))]
use libc::__errno as errno_location;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "tvos",
    target_os = "watchos",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
use libc::__error as errno_location;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_out_of_range_and_uncatchable_signals_are_refused_with_advice() {
        for bad in [0, -1, NSIG as c_int, libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
            let err = validate(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("SIG"), "{err}");
        }
        validate(libc::SIGTERM).unwrap();
    }

    #[test]
    fn drain_empties_the_pipe() {
        let (reader, writer) = UnixStream::pair().unwrap();
        reader.set_nonblocking(true).unwrap();
        io::Write::write_all(&mut &writer, &[1; 200]).unwrap();
        drain(&reader);
        let mut byte = [0];
        let err = io::Read::read(&mut &reader, &mut byte).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
