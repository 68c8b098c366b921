//! Log lines: levels through `RUST_LOG` (default `info`), written as text or,
//! with `WRISTBAND_LOG_FORMAT=json`, as one JSON object per line for log
//! shippers: `{"ts", "level", "target", "msg", …fields}` — the access log
//! (`wristband::access`) adds `method`, `route`, `status`, `latency_ms` and
//! `ip`. Nothing logs a token, cookie, password, secret or query string.

use std::io::Write;

use log::kv::{Key, Value, VisitSource};

use crate::config::LogFormat;

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

/// Installs the logger (once per process; later calls do nothing).
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    builder.format(move |buf, record| {
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
    let _ = builder.try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

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
