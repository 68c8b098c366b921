//! The Prometheus metrics of one instance: what `/metrics` exposes. A leaf
//! module: the HTTP middleware counts requests, the session rules count
//! logins, refreshes and revocations (in `sessions/login.rs`,
//! `sessions/rotate.rs` and the one revocation path), the pool reports its
//! state, and nothing here knows about any of them.
//!
//! | series | type | labels |
//! |---|---|---|
//! | `wristband_http_requests_total` | counter | `route` (pattern), `method`, `status` |
//! | `wristband_http_request_duration_seconds` | histogram | `route`, `method` |
//! | `wristband_logins_total` | counter | `outcome`: `succeeded`, `failed`, `locked`, `mfa_required` |
//! | `wristband_mfa_checks_total` | counter | `method`: `totp`, `recovery_code`; `outcome`: `accepted`, `refused` |
//! | `wristband_refreshes_total` | counter | `outcome`: `rotated`, `grace`, `reused`, `refused` |
//! | `wristband_revocations_total` | counter | `cause` |
//! | `wristband_db_pool_connections` | gauge | |
//! | `wristband_db_pool_idle_connections` | gauge | |
//! | `wristband_db_pool_wait_seconds` | histogram | |
//! | `wristband_mail_sent_total` | counter | |
//! | `wristband_mail_failed_total` | counter | (failed sending attempts; each is retried until the last) |
//! | `wristband_outbox_pending` | gauge | (mails waiting to be sent, as the delivery worker last counted) |
//! | `wristband_build_info` | gauge (1) | `version` |

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The `outcome` labels of [`Login`], in its order.
const LOGIN_OUTCOMES: [&str; 4] = ["succeeded", "failed", "locked", "mfa_required"];
/// The `outcome` labels of [`Refresh`], in its order.
const REFRESH_OUTCOMES: [&str; 4] = ["rotated", "grace", "reused", "refused"];

/// How a login ended.
#[derive(Debug, Clone, Copy)]
pub enum Login {
    /// Tokens issued.
    Succeeded,
    /// Wrong credentials (or a disabled user, or an unknown email).
    Failed,
    /// Refused by the lockout: the client class is locked, or attempts in
    /// flight held its budget for longer than an attempt waits.
    Locked,
    /// A right password for a user with a second factor: the login waits
    /// for its second step (which counts as a login of its own).
    MfaRequired,
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy)]
pub enum Refresh {
    /// A new generation was issued.
    Rotated,
    /// The predecessor within grace got the same successor.
    Grace,
    /// A spent token came back: the session was revoked.
    Reused,
    /// Refused otherwise (missing, unknown, expired, revoked).
    Refused,
}

/// Every series, registered once.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    logins: IntCounterVec,
    mfa_checks: IntCounterVec,
    refreshes: IntCounterVec,
    revocations: IntCounterVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_wait: Histogram,
    mail_sent: IntCounter,
    mail_failed: IntCounter,
    outbox_pending: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name} is well-formed: {e}"));
    registry
        .register(Box::new(counter.clone()))
        .unwrap_or_else(|e| unreachable!("metric {name} registered once: {e}"));
    counter
}

fn plain_counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let counter =
        IntCounter::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    registry
        .register(Box::new(counter.clone()))
        .unwrap_or_else(|e| unreachable!("metric {name} registered once: {e}"));
    counter
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    registry
        .register(Box::new(gauge.clone()))
        .unwrap_or_else(|e| unreachable!("metric {name} registered once: {e}"));
    gauge
}

impl Metrics {
    /// A fresh registry with every series.
    pub fn new() -> Self {
        let registry = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "wristband_http_request_duration_seconds",
                "Time from the request's arrival to its response, by route pattern and method.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route", "method"],
        )
        .unwrap_or_else(|e| unreachable!("latency histogram: {e}"));
        let pool_wait = Histogram::with_opts(
            HistogramOpts::new(
                "wristband_db_pool_wait_seconds",
                "Time a request waited for a database connection.",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0,
            ]),
        )
        .unwrap_or_else(|e| unreachable!("pool wait histogram: {e}"));
        for collector in [
            Box::new(latency.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(pool_wait.clone()),
        ] {
            registry
                .register(collector)
                .unwrap_or_else(|e| unreachable!("registered once: {e}"));
        }
        let build = IntGaugeVec::new(
            Opts::new(
                "wristband_build_info",
                "The running build: always 1, labelled with the version.",
            ),
            &["version"],
        )
        .unwrap_or_else(|e| unreachable!("build info: {e}"));
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        registry
            .register(Box::new(build))
            .unwrap_or_else(|e| unreachable!("registered once: {e}"));
        let metrics = Self {
            requests: counter(
                &registry,
                "wristband_http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
                &["route", "method", "status"],
            ),
            logins: counter(
                &registry,
                "wristband_logins_total",
                "Login attempts by outcome: succeeded, failed, locked, mfa_required.",
                &["outcome"],
            ),
            mfa_checks: counter(
                &registry,
                "wristband_mfa_checks_total",
                "Second-factor proofs checked, by method (totp, recovery_code) and outcome (accepted, refused).",
                &["method", "outcome"],
            ),
            refreshes: counter(
                &registry,
                "wristband_refreshes_total",
                "Refresh attempts by outcome: rotated, grace, reused, refused.",
                &["outcome"],
            ),
            revocations: counter(
                &registry,
                "wristband_revocations_total",
                "Sessions revoked (one per session, or one per user for a token-version bump), by cause.",
                &["cause"],
            ),
            pool_connections: gauge(
                &registry,
                "wristband_db_pool_connections",
                "Database connections the pool holds.",
            ),
            pool_idle: gauge(
                &registry,
                "wristband_db_pool_idle_connections",
                "Database connections idle in the pool.",
            ),
            mail_sent: plain_counter(
                &registry,
                "wristband_mail_sent_total",
                "Mails the SMTP server accepted (or test mode captured).",
            ),
            mail_failed: plain_counter(
                &registry,
                "wristband_mail_failed_total",
                "Sending attempts that failed (each mail is retried with growing delays).",
            ),
            outbox_pending: gauge(
                &registry,
                "wristband_outbox_pending",
                "Mails in the outbox waiting to be sent.",
            ),
            latency,
            pool_wait,
            registry,
        };
        metrics.declare_outcomes();
        metrics
    }

    /// Exports every series whose labels are known in advance at 0, so
    /// `rate()` and alerts work from the first scrape (Prometheus'
    /// instrumentation guidance): login and refresh outcomes here, and the
    /// revocation `causes` the session rules name.
    pub fn declare_causes<'a>(&self, causes: impl IntoIterator<Item = &'a str>) {
        for cause in causes {
            self.revocations.with_label_values(&[cause]);
        }
    }

    fn declare_outcomes(&self) {
        for outcome in LOGIN_OUTCOMES {
            self.logins.with_label_values(&[outcome]);
        }
        for outcome in REFRESH_OUTCOMES {
            self.refreshes.with_label_values(&[outcome]);
        }
        for method in ["totp", "recovery_code"] {
            for outcome in ["accepted", "refused"] {
                self.mfa_checks.with_label_values(&[method, outcome]);
            }
        }
    }

    /// One answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .with_label_values(&[route, method, status.to_string().as_str()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(took.as_secs_f64());
    }

    /// One login attempt.
    pub fn login(&self, outcome: Login) {
        self.logins
            .with_label_values(&[LOGIN_OUTCOMES[outcome as usize]])
            .inc();
    }

    /// One second-factor proof of `method` (`totp`, `recovery_code`),
    /// accepted or not.
    pub fn mfa_check(&self, method: &str, accepted: bool) {
        let outcome = if accepted { "accepted" } else { "refused" };
        self.mfa_checks.with_label_values(&[method, outcome]).inc();
    }

    /// One refresh attempt.
    pub fn refresh(&self, outcome: Refresh) {
        self.refreshes
            .with_label_values(&[REFRESH_OUTCOMES[outcome as usize]])
            .inc();
    }

    /// `count` revocations of one cause.
    pub fn revoked(&self, cause: &str, count: u64) {
        self.revocations.with_label_values(&[cause]).inc_by(count);
    }

    /// One mail sent.
    pub fn mail_sent(&self) {
        self.mail_sent.inc();
    }

    /// One failed sending attempt.
    pub fn mail_failed(&self) {
        self.mail_failed.inc();
    }

    /// How many mails wait in the outbox.
    pub fn outbox_pending(&self, pending: i64) {
        self.outbox_pending.set(pending);
    }

    /// One wait for a database connection.
    pub fn pool_waited(&self, took: Duration) {
        self.pool_wait.observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition, with the pool's `connections` and
    /// `idle` as of now.
    pub fn render(&self, connections: u32, idle: u32) -> String {
        self.pool_connections.set(i64::from(connections));
        self.pool_idle.set(i64::from(idle));
        let mut text = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            log::error!("cannot encode the metrics: {e}");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
