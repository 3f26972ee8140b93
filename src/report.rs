//! The log: `tracing` lines on stderr, every field escaped, plain under
//! systemd (the journal adds its own timestamps and has no use for colour).
//! The console banner and the guestinfo keys vSphere shows are written with
//! the state file ([`crate::state`]: `state/banner.rs`, `state/vsphere.rs`).
//!
//! Commands whose only output on error is the one error line (`props`,
//! `render`, `images`, `status`) hold their log lines back ([`HeldLog`]): they
//! reach stderr only when the command succeeds, so a warning logged before a
//! later refusal never makes a second line.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Sets up `tracing` for the process. `verbosity` counts `-v` flags; the
/// `OVABOOT_LOG` variable (an `EnvFilter` directive) wins over both. With
/// `hold`, log lines are kept in memory until [`HeldLog::release`].
pub fn init_logging(verbosity: u8, hold: bool) -> HeldLog {
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
    let held = HeldLog {
        lines: hold.then(|| Arc::new(Mutex::new(Vec::new()))),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(EscapedFields)
        .with_writer(held.clone())
        .with_target(false);
    if under_systemd {
        builder.without_time().with_ansi(false).init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    held
}

/// Every event's message and fields as `tracing-subscriber` writes them,
/// then [`crate::show::escaped`]: a value from outside (a property, a
/// record, a parser's message) can neither drive the terminal nor, with a
/// CR or LF, make a line of its own in the journal.
pub struct EscapedFields;

impl<'writer> tracing_subscriber::fmt::FormatFields<'writer> for EscapedFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: tracing_subscriber::fmt::format::Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut text = String::new();
        tracing_subscriber::fmt::format::DefaultFields::new().format_fields(
            tracing_subscriber::fmt::format::Writer::new(&mut text),
            fields,
        )?;
        writer.write_str(&crate::show::escaped(&text))
    }
}

/// Log output: straight to stderr, or held until the command has succeeded.
/// Dropped without [`HeldLog::release`], the held lines are discarded.
#[derive(Clone, Default)]
pub struct HeldLog {
    lines: Option<Arc<Mutex<Vec<u8>>>>,
}

impl HeldLog {
    /// A log that holds every line until released (for tests).
    pub fn holding() -> HeldLog {
        HeldLog {
            lines: Some(Arc::new(Mutex::new(Vec::new()))),
        }
    }

    /// Writes the held lines to stderr (the command succeeded).
    pub fn release(self) {
        if let Some(lines) = self.lines {
            let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(PoisonError::into_inner));
            let _ = io::stderr().write_all(&lines);
        }
    }

    /// What is held so far, as text.
    pub fn held_text(&self) -> String {
        self.lines
            .as_ref()
            .map(|l| {
                String::from_utf8_lossy(&l.lock().unwrap_or_else(PoisonError::into_inner))
                    .into_owned()
            })
            .unwrap_or_default()
    }
}

/// One log line's writer: stderr, or the held buffer.
pub enum LogWriter {
    Stderr(io::Stderr),
    Held(Arc<Mutex<Vec<u8>>>),
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LogWriter::Stderr(e) => e.write(buf),
            LogWriter::Held(lines) => {
                lines
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            LogWriter::Stderr(e) => e.flush(),
            LogWriter::Held(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for HeldLog {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        match &self.lines {
            Some(lines) => LogWriter::Held(Arc::clone(lines)),
            None => LogWriter::Stderr(io::stderr()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::fmt;

    #[test]
    fn held_lines_wait_for_release_and_vanish_without_it() {
        let held = HeldLog::holding();
        let subscriber = fmt()
            .with_writer(held.clone())
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("guestinfo.no_proxy is set but no proxy is");
        });
        assert_eq!(
            held.held_text(),
            " WARN guestinfo.no_proxy is set but no proxy is\n"
        );
        // Dropping a clone discards nothing the original still holds.
        drop(held.clone());
        assert!(held.held_text().contains("no_proxy"));
    }

    /// A value from outside in a message or a field: one line in the
    /// journal, nothing a terminal acts on.
    #[test]
    fn messages_and_fields_are_escaped_into_one_line() {
        let held = HeldLog::holding();
        let subscriber = fmt()
            .fmt_fields(EscapedFields)
            .with_writer(held.clone())
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .finish();
        let key = "guestinfo.x\r\nFAKE: root logged in\u{2028}\u{202e}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(key = %key, "property {key} set\u{85}");
        });
        let text = held.held_text();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(
            !text
                .trim_end_matches('\n')
                .chars()
                .any(crate::show::is_unsafe),
            "{text:?}"
        );
        assert!(text.contains("guestinfo.x\\r\\nFAKE"), "{text}");
    }
}
