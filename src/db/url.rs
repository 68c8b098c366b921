//! `WRISTBAND_DATABASE_URL`, parsed once: which backend, and for PostgreSQL
//! the network timeouts a URL gets unless it sets its own. `Debug` hides
//! PostgreSQL credentials.

use std::fmt;

/// A parsed `WRISTBAND_DATABASE_URL`: the backend is chosen from the scheme here,
/// once, so a mistyped URL is a configuration error rather than a file named
/// `postgress://…` or an opaque "invalid connection url".
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: a database file (created if missing).
    SqliteFile(String),
    /// `sqlite::memory:`: one in-memory database shared by the whole process.
    SqliteMemory(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses the URL, refusing any scheme but `sqlite:` and `postgres(ql):`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url == "sqlite::memory:" {
            // The memdb VFS shares one database between the pool's connections
            // (a plain `:memory:` would give each connection its own), with the
            // ordinary locking and busy handling of SQLite.
            let name = format!(
                "file:/wristband-{}?vfs=memdb",
                uuid::Uuid::new_v4().simple()
            );
            return Ok(Self::SqliteMemory(name));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://wristband.db".into());
            }
            return Ok(Self::SqliteFile(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(with_network_timeouts(url)));
        }
        Err("expected sqlite://PATH, sqlite::memory: or postgres://…".into())
    }

    /// The backend's name, for logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::SqliteFile(_) | Self::SqliteMemory(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// libpq settings that keep a silent PostgreSQL host (packets dropped, no
/// reset) from holding connections and threads for the operating system's
/// minutes: a bounded connect, unacknowledged writes given up after 5 s, and
/// keepalives that notice a dead peer while a query waits. A URL that sets one
/// of them keeps its own.
const POSTGRES_TIMEOUTS: [(&str, &str); 5] = [
    ("connect_timeout", "5"),
    ("tcp_user_timeout", "5000"),
    ("keepalives_idle", "5"),
    ("keepalives_interval", "2"),
    ("keepalives_count", "3"),
];

fn with_network_timeouts(url: &str) -> String {
    let mut url = url.to_owned();
    for (name, value) in POSTGRES_TIMEOUTS {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        if query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
        {
            continue;
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{name}={value}"));
    }
    url
}

impl fmt::Debug for DatabaseUrl {
    // A PostgreSQL URL may carry a password: show the backend only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SqliteFile(path) => write!(f, "sqlite://{path}"),
            Self::SqliteMemory(_) => f.write_str("sqlite::memory:"),
            Self::Postgres(_) => f.write_str("postgres://[redacted]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_or_are_refused() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://wristband.db"),
            Ok(DatabaseUrl::SqliteFile("wristband.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("sqlite::memory:"),
            Ok(DatabaseUrl::SqliteMemory(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@localhost/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(DatabaseUrl::parse("mysql://localhost/db").is_err());
        assert!(DatabaseUrl::parse("wristband.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn postgres_urls_get_network_timeouts_unless_they_set_them() {
        let DatabaseUrl::Postgres(url) = DatabaseUrl::parse("postgres://h/db").unwrap() else {
            panic!("a PostgreSQL URL")
        };
        assert!(url.starts_with("postgres://h/db?connect_timeout=5&tcp_user_timeout=5000"));
        let own = "postgres://h/db?sslmode=require&connect_timeout=1";
        let DatabaseUrl::Postgres(url) = DatabaseUrl::parse(own).unwrap() else {
            panic!("a PostgreSQL URL")
        };
        assert!(url.contains("connect_timeout=1") && !url.contains("connect_timeout=5"));
        assert!(url.contains("sslmode=require&") && url.contains("keepalives_count=3"));
    }

    #[test]
    fn debug_hides_postgres_credentials() {
        let url = DatabaseUrl::parse("postgres://u:secret@localhost/db").unwrap();
        assert!(!format!("{url:?}").contains("secret"));
    }
}
