//! When the database goes away, or a client stalls: 503 `unavailable` with
//! `Retry-After` within the pool timeout, `/healthz` still 200, `/readyz`
//! 503, recovery without a restart, and never an access token accepted whose
//! session could not be checked. Stalled requests get 408 and cannot starve
//! the server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use reqwest::{Response, StatusCode};
use wristband::config::Settings;

use crate::helpers::{
    Backend, Client, PASSWORD, TestApp, TestDatabase, assert_error, backend_test, base_settings,
};

fn quick_timeout() -> Settings {
    Settings {
        database_timeout: Some("1s".into()),
        ..base_settings()
    }
}

/// A connection of this test's own to the SQLite file, that waits (as the
/// server's do) rather than failing when the server is writing at that moment.
fn sqlite_file(path: &str) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(path).expect("open the file");
    conn.batch_execute("PRAGMA busy_timeout = 5000")
        .expect("set the busy timeout");
    conn
}

/// The PostgreSQL server's URL and this test database's name.
fn postgres_admin(db: &TestDatabase) -> (PgConnection, String) {
    let (base, name) = db.url.rsplit_once('/').expect("a database URL");
    let conn = PgConnection::establish(&format!("{base}/postgres")).expect("PostgreSQL");
    (conn, name.to_owned())
}

/// Takes the database away: no new connections, the open ones killed.
fn take_away(db: &TestDatabase) {
    let (mut conn, name) = postgres_admin(db);
    conn.batch_execute(&format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
    ))
    .expect("take the database away");
}

fn give_back(db: &TestDatabase) {
    let (mut conn, name) = postgres_admin(db);
    conn.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .expect("give the database back");
}

async fn assert_unavailable(response: Response) {
    assert!(
        response.headers().contains_key("retry-after"),
        "Retry-After"
    );
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

/// Polls until `/auth/me` answers 200 again, for at most `limit`.
async fn wait_for_recovery(alice: &Client, limit: Duration) {
    let started = Instant::now();
    loop {
        let status = alice.get("/auth/me").await.status();
        if status == StatusCode::OK {
            return;
        }
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "only 503 meanwhile"
        );
        assert!(started.elapsed() < limit, "no recovery within {limit:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

backend_test!(an_outage_is_503_fails_closed_and_heals);
async fn an_outage_is_503_fails_closed_and_heals(db: TestDatabase) {
    let app = db.spawn(quick_timeout()).await;
    let alice = app.new_user().await;
    let email = alice.user().email.clone();
    let fresh = app.anon().try_login(&email, PASSWORD).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    match db.backend {
        Backend::Postgres => postgres_outage(&db, &app, &alice, &email).await,
        Backend::Sqlite => sqlite_lock(&db, &app, &email).await,
    }
}

async fn postgres_outage(db: &TestDatabase, app: &TestApp, alice: &Client, email: &str) {
    take_away(db);
    // Past the liveness cache's second: the session must be checked again.
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    let started = Instant::now();
    assert_unavailable(alice.get("/auth/me").await).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "503 within the pool timeout, took {:?}",
        started.elapsed()
    );
    assert_unavailable(app.anon().try_login(email, PASSWORD).await).await;
    assert_eq!(app.anon().get("/healthz").await.status(), StatusCode::OK);
    assert_unavailable(app.anon().get("/readyz").await).await;

    give_back(db);
    wait_for_recovery(alice, Duration::from_secs(15)).await;
    assert_eq!(app.anon().get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(
        app.anon().try_login(email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

/// SQLite keeps serving through the file descriptors it holds (and root, who
/// runs CI, ignores file modes), so its outage here is another process holding
/// the write lock: writes answer 503 once SQLite's busy wait is over.
async fn sqlite_lock(db: &TestDatabase, app: &TestApp, email: &str) {
    let path = db.url.strip_prefix("sqlite://").expect("a SQLite file");
    let mut holder = sqlite_file(path);
    holder
        .batch_execute("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let started = Instant::now();
    assert_unavailable(app.anon().try_login(email, PASSWORD).await).await;
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.anon().get("/healthz").await.status(), StatusCode::OK);
    holder.batch_execute("ROLLBACK").expect("release the lock");
    assert_eq!(
        app.anon().try_login(email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

backend_test!(readiness_checks_the_schema_not_just_the_connection);
async fn readiness_checks_the_schema_not_just_the_connection(db: TestDatabase) {
    let app = db.spawn(base_settings()).await;
    assert_eq!(app.anon().get("/readyz").await.status(), StatusCode::OK);
    let drop = "DROP TABLE login_failures";
    match db.backend {
        Backend::Postgres => PgConnection::establish(&db.url)
            .expect("PostgreSQL")
            .batch_execute(drop),
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").expect("a SQLite file");
            sqlite_file(path).batch_execute(drop)
        }
    }
    .expect("drop a table");
    assert_unavailable(app.anon().get("/readyz").await).await;
    assert_eq!(app.anon().get("/healthz").await.status(), StatusCode::OK);
}

/// Opens a connection that sends the head of a login and one byte of its body.
fn stalled_login(address: &str) -> TcpStream {
    let host = address.strip_prefix("http://").expect("http address");
    let mut stream = TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "POST /auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{"
    )
    .expect("send the head");
    stream
}

#[actix_web::test]
async fn a_stalled_body_gets_408_and_does_not_starve_the_server() {
    let app = TestDatabase::fresh(Backend::Sqlite)
        .spawn(base_settings())
        .await;
    assert_eq!(app.anon().get("/healthz").await.status(), StatusCode::OK);
    let address = app.address.clone();
    let started = Instant::now();
    // One stalled login, and hundreds more stalled clients meanwhile (opened
    // off this thread, which also drives the test server's runtime).
    let (mut stream, others) = actix_web::web::block(move || {
        let stream = stalled_login(&address);
        let others: Vec<_> = (0..300).map(|_| stalled_login(&address)).collect();
        (stream, others)
    })
    .await
    .unwrap();
    let healthz = Instant::now();
    assert_eq!(app.anon().get("/healthz").await.status(), StatusCode::OK);
    assert!(
        healthz.elapsed() < Duration::from_secs(2),
        "{:?}",
        healthz.elapsed()
    );

    let answer = actix_web::web::block(move || {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    })
    .await
    .unwrap();
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(answer.contains("request_timeout"), "{answer:?}");
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(13)).contains(&waited),
        "answered after {waited:?}"
    );
    drop(others);
}

/// Another process holds the database for `held`: SQLite's write lock, or
/// PostgreSQL's locks on the sessions and users tables. Returns once the lock
/// is taken; the thread releases it when the time is up.
fn hold_database(db: &TestDatabase, held: Duration) -> std::thread::JoinHandle<()> {
    let (taken, is_taken) = std::sync::mpsc::channel();
    let (backend, url) = (db.backend, db.url.clone());
    let holder = std::thread::spawn(move || {
        let (begin, mut conn): (&str, Box<dyn SimpleConnection>) = match backend {
            Backend::Sqlite => {
                let path = url.strip_prefix("sqlite://").expect("a SQLite file");
                ("BEGIN EXCLUSIVE", Box::new(sqlite_file(path)))
            }
            Backend::Postgres => {
                let conn = PgConnection::establish(&url).expect("PostgreSQL");
                let lock = "BEGIN; LOCK TABLE sessions, users IN ACCESS EXCLUSIVE MODE";
                (lock, Box::new(conn))
            }
        };
        conn.batch_execute(begin).expect("take the lock");
        taken.send(()).expect("the test waits");
        std::thread::sleep(held);
        conn.batch_execute("ROLLBACK").expect("release the lock");
    });
    is_taken.recv().expect("the lock is taken");
    holder
}

fn stall_settings() -> Settings {
    Settings {
        refresh_grace: Some("1s".into()),
        ..quick_timeout()
    }
}

backend_test!(a_stalled_database_answers_503_in_time_and_spends_no_cookie);
async fn a_stalled_database_answers_503_in_time_and_spends_no_cookie(db: TestDatabase) {
    let app = db.spawn(stall_settings()).await;
    let alice = app.new_user().await;
    let bob = app.login_as("bob@example.com").await;
    let holder = hold_database(&db, Duration::from_secs(4));
    let started = Instant::now();
    let (a, b) = futures_util::future::join(
        alice.post("/auth/refresh").into_future(),
        bob.post("/auth/refresh").into_future(),
    )
    .await;
    let waited = started.elapsed();
    // Within the database timeout (1 s) and some slack: not the request's
    // 10 s deadline, nor SQLite's old 5 s busy wait, nor the lock's 4 s.
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
    assert_unavailable(a).await;
    assert_unavailable(b).await;
    if db.backend == Backend::Postgres {
        // Readiness reads the locked tables too (SQLite readers are not blocked).
        let ready = app.anon().get("/readyz").await;
        assert_unavailable(ready).await;
    }
    actix_web::web::block(move || holder.join())
        .await
        .unwrap()
        .expect("the holder ends");
    // Past the grace window, long after the stalled work could have resumed:
    // the cookies the clients kept were never spent behind their backs.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    alice.refresh().await;
    bob.refresh().await;
    for client in [&alice, &bob] {
        let events = crate::helpers::storage::audit_events(&app, &client.user().id);
        assert!(!events.contains(&"refresh_reused".to_owned()), "{events:?}");
    }
}

/// Pools do not test a connection at each check-out (a round trip per
/// request on PostgreSQL). A connection the server dropped is found when it
/// fails, replaced by a fresh one, and the work runs again: reads, one-
/// statement writes (the rotation) and transactions all answer as if nothing
/// happened. PostgreSQL only: a SQLite connection has no server to lose.
#[actix_web::test]
async fn dropped_postgres_connections_cost_no_request() {
    crate::helpers::backends::run(
        Backend::Postgres,
        quick_timeout(),
        |db: TestDatabase| async move {
            let app = db.spawn(quick_timeout()).await;
            let mut clients = Vec::new();
            for _ in 0..6 {
                clients.push(app.new_user().await);
            }
            // Several connections open at once (the rotation's async ones
            // too, where the URL allows them), then every one dropped.
            let warm = clients.iter().map(|c| c.get("/auth/me").into_future());
            futures_util::future::join_all(warm).await;
            let warm = clients
                .iter()
                .map(|c| c.post("/auth/refresh").into_future());
            for response in futures_util::future::join_all(warm).await {
                assert_eq!(response.status(), StatusCode::OK, "a rotation");
            }
            let (mut admin, name) = postgres_admin(&db);
            admin
                .batch_execute(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ))
                .expect("drop the server's connections");
            // Past the liveness cache's second: `/auth/me` reads the session.
            actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
            let me = clients.iter().map(|c| c.get("/auth/me").into_future());
            for response in futures_util::future::join_all(me).await {
                assert_eq!(response.status(), StatusCode::OK, "a read");
            }
            let refreshes = clients
                .iter()
                .map(|c| c.post("/auth/refresh").into_future());
            for response in futures_util::future::join_all(refreshes).await {
                assert_eq!(response.status(), StatusCode::OK, "a rotation");
            }
            let email = clients[0].user().email.clone();
            let anon = app.anon();
            let logins = (0..3).map(|_| anon.try_login(&email, PASSWORD));
            for response in futures_util::future::join_all(logins).await {
                assert_eq!(response.status(), StatusCode::OK, "a transaction");
            }
        },
    )
    .await;
}
