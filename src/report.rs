//! Where progress shows. For now: log lines on stderr, plain under systemd
//! (the journal adds its own timestamps and has no use for colour).

use tracing_subscriber::EnvFilter;

/// Sets up `tracing` for the process. `verbosity` counts `-v` flags; the
/// `OVABOOT_LOG` variable (an `EnvFilter` directive) wins over both.
pub fn init_logging(verbosity: u8) {
    let default = match verbosity {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // kube-client logs every failed connection at ERROR; ovaboot retries those
    // itself and reports what matters, so the client's own lines are noise.
    let filter = EnvFilter::try_from_env("OVABOOT_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{default},kube_client=off")));
    let under_systemd =
        std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if under_systemd {
        builder.without_time().with_ansi(false).init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}
