//! Log lines: levels through `RUST_LOG` (default `info`), written as text or,
//! with `WRISTBAND_LOG_FORMAT=json`, as one JSON object per line for log
//! shippers: `{"ts", "level", "target", "msg", …fields}` — the access log
//! (`wristband::access`) adds `method`, `route`, `status`, `latency_ms` and
//! `ip`. Nothing logs a token, cookie, password, secret or query string.
//!
//! Lines go to stderr in batches: the request path appends its line to a
//! buffer, and the buffer is written when it holds [`BATCH_BYTES`], every
//! [`BATCH_INTERVAL`] (a background thread), at once after a warning or an
//! error, and when the process ends ([`flush`]). One write per batch instead
//! of one per request keeps the access log off the hot path's profile.
//!
//! Text that comes from a request (a token's header, a path, a user agent,
//! an origin, a library's error about any of them) is logged through
//! [`Escaped`], so a newline in it cannot start a forged line.

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use log::kv::{Key, Value, VisitSource};

/// Request-derived text made safe for a log line: control characters (Cc)
/// and the line and paragraph separators (U+2028, U+2029, which some log
/// viewers break lines at) are written as escapes — `\n`, `\r`, `\t` as
/// such, the others as `\u{..}` — and a backslash as `\\`, so an escape in
/// the input cannot pass for one this wrote. Everything else is written as is.
///
/// ```
/// use wristband::logging::Escaped;
/// assert_eq!(Escaped("a\nINFO forged").to_string(), r"a\nINFO forged");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needs_escape = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\\');
        let mut rest = self.0;
        // Clean runs are written whole: most values have nothing to escape.
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                other => write!(f, "\\u{{{:04x}}}", u32::from(other))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

struct Fields(serde_json::Map<String, serde_json::Value>);

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let json = if let Some(n) = value.to_u64() {
            n.into()
        } else if let Some(n) = value.to_i64() {
            n.into()
        } else if let Some(x) = value.to_f64() {
            serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, Into::into)
        } else if let Some(b) = value.to_bool() {
            b.into()
        } else {
            value.to_string().into()
        };
        self.0.insert(key.as_str().to_owned(), json);
        Ok(())
    }
}

/// The JSON line of `record`, at `ts`.
fn json_line(record: &log::Record<'_>, ts: &str) -> String {
    let mut fields = Fields(serde_json::Map::new());
    fields.0.insert("ts".into(), ts.into());
    fields
        .0
        .insert("level".into(), record.level().as_str().into());
    fields.0.insert("target".into(), record.target().into());
    fields
        .0
        .insert("msg".into(), record.args().to_string().into());
    // A field that fails to read is left out; the line still goes out.
    let _ = record.key_values().visit(&mut fields);
    serde_json::Value::Object(fields.0).to_string()
}

/// A batch is written once it holds this many bytes.
pub const BATCH_BYTES: usize = 32 * 1024;
/// The longest a line waits in the batch.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(50);

/// Lines not yet written.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

thread_local! {
    /// Set while a warning or error is being written: it goes out at once.
    static URGENT: Cell<bool> = const { Cell::new(false) };
}

/// Writes what is pending to stderr now. `main` calls it before it exits.
pub fn flush() {
    write_out(&mut pending());
}

/// The pending lines, locked. A panic while the lock was held leaves only
/// bytes behind; they are written like any others.
fn pending() -> std::sync::MutexGuard<'static, Vec<u8>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes `pending` to stderr and empties it.
fn write_out(pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        let mut stderr = std::io::stderr().lock();
        // Nowhere to report a failed write to the log itself.
        let _ = stderr.write_all(pending).and_then(|()| stderr.flush());
        pending.clear();
    }
}

/// env_logger's output: appends to [`PENDING`].
struct Batched;

impl Write for Batched {
    /// env_logger writes a whole line, then flushes: the line is appended
    /// and, when the batch is full or the line urgent, written out, under
    /// one lock.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut pending = pending();
        pending.extend_from_slice(bytes);
        if pending.len() >= BATCH_BYTES || URGENT.with(|u| u.replace(false)) {
            write_out(&mut pending);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How log lines are written (`WRISTBAND_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `TIME LEVEL target: message key=value …`.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the logger (once per process; later calls do nothing).
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    builder.target(env_logger::Target::Pipe(Box::new(Batched)));
    builder.format(move |buf, record| {
        if record.level() <= log::Level::Warn {
            URGENT.with(|u| u.set(true));
        }
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match format {
            LogFormat::Json => writeln!(buf, "{}", json_line(record, &ts)),
            LogFormat::Text => writeln!(
                buf,
                "{ts} {:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            ),
        }
    });
    if builder.try_init().is_ok() {
        let ticker = std::thread::Builder::new()
            .name("wristband-log".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(BATCH_INTERVAL);
                    flush();
                }
            });
        if let Err(e) = ticker {
            // Without the ticker lines still go out when a batch fills.
            log::warn!("cannot start the log writer thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_stays_on_one_line() {
        let forged = "HS256\n2026-01-01T00:00:00.000Z INFO  wristband: admin logged in\r\n";
        let shown = Escaped(forged).to_string();
        assert_eq!(
            shown,
            r"HS256\n2026-01-01T00:00:00.000Z INFO  wristband: admin logged in\r\n"
        );
        assert_eq!(shown.lines().count(), 1);
        for (input, expected) in [
            ("plain text, é and ✓", "plain text, é and ✓"),
            ("", ""),
            ("tab\there", r"tab\there"),
            (
                "nul\0 esc\u{1b}[31m del\u{7f} nel\u{85}",
                r"nul\u{0000} esc\u{001b}[31m del\u{007f} nel\u{0085}",
            ),
            ("ls\u{2028}ps\u{2029}", r"ls\u{2028}ps\u{2029}"),
            // A backslash is doubled, so a literal `\n` in the input cannot
            // pass for an escaped newline.
            (r"a\nb", r"a\\nb"),
        ] {
            let shown = Escaped(input).to_string();
            assert_eq!(shown, expected, "{input:?}");
            assert!(
                !shown
                    .chars()
                    .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
            );
        }
    }

    #[test]
    fn json_lines_carry_the_fields() {
        let record = log::Record::builder()
            .target("wristband::access")
            .level(log::Level::Info)
            .args(format_args!("GET /auth/me 200"))
            .key_values(&[("status", 200u64), ("latency_ms", 2u64)])
            .build();
        let line: serde_json::Value =
            serde_json::from_str(&json_line(&record, "2026-01-01T00:00:00.000Z")).unwrap();
        assert_eq!(line["msg"], "GET /auth/me 200");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["status"], 200);
        assert_eq!(line["target"], "wristband::access");
    }
}
