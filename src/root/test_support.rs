//! For tests of reads that must never block.

/// Runs `f` on a thread and returns what it returns; panics if it has not
/// returned within a minute (it blocked: a FIFO waiting for a writer). A
/// watchdog for a hang, not a measure of speed.
pub(crate) fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} blocked"))
}
