//! The floor of the benchmark: an actix-web server whose `GET /auth/me`
//! verifies an HS256 access token (signature, `exp`, `iss`, `aud`) and
//! answers its `sub`, with no database and no revocation check. Wristband's
//! `/auth/me` does this and more; the ratio of the two is the cost of the
//! rest. `WRISTBAND_JWT_SECRET` is the key; the first stdout line is
//! `floor listening on http://HOST:PORT`, like Wristband's.
//!
//! With `FLOOR_DATABASE_URL` (a PostgreSQL database where
//! `bench/pgbench/setup.sql` ran) it also serves `POST /auth/refresh`: the
//! least a server can do for a rotation in one round trip. The cookie
//! `wristband_refresh=<session>.<generation>` names a row of
//! `bench_sessions`; the answer sets the next generation's cookie after the
//! statement of `bench/pgbench/rotation.sql` (the one Wristband sends) moved
//! it, with no token, no hashing and no logging. Connections as Wristband
//! keeps them: 16 in all, a pool (deadpool-postgres) per worker, each
//! statement prepared once per connection.

use std::io::Write;

use std::cell::RefCell;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio_postgres::NoTls;

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

struct Keys {
    key: DecodingKey,
    validation: Validation,
}

async fn me(req: HttpRequest, keys: web::Data<Keys>) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return HttpResponse::Unauthorized().finish();
    };
    match jsonwebtoken::decode::<Claims>(token, &keys.key, &keys.validation) {
        Ok(data) => HttpResponse::Ok().json(user_body(&data.claims.sub)),
        Err(_) => HttpResponse::Unauthorized().finish(),
    }
}

fn user_body(sub: &str) -> std::collections::BTreeMap<&'static str, String> {
    std::collections::BTreeMap::from([("id", sub.to_owned())])
}

/// bench/pgbench/rotation.sql with its session and generation as parameters.
fn rotation_sql() -> String {
    include_str!("../../../pgbench/rotation.sql")
        .replace("'s' || :client_id", "$1")
        .replace(
            "bench_sessions.generation > 0",
            "bench_sessions.generation = $2",
        )
}

struct Rotation {
    config: tokio_postgres::Config,
    sql: String,
    per_worker: usize,
}

thread_local! {
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

impl Rotation {
    fn pool(&self) -> Pool {
        POOL.with(|pool| {
            pool.borrow_mut()
                .get_or_insert_with(|| {
                    let manager = Manager::from_config(
                        self.config.clone(),
                        NoTls,
                        ManagerConfig {
                            recycling_method: RecyclingMethod::Fast,
                        },
                    );
                    Pool::builder(manager)
                        .max_size(self.per_worker)
                        .runtime(Runtime::Tokio1)
                        .build()
                        .expect("a pool of a parsed config builds")
                })
                .clone()
        })
    }
}

async fn refresh(req: HttpRequest, rotation: web::Data<Rotation>) -> HttpResponse {
    let parsed = req
        .headers()
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let value = v
                .split("; ")
                .find_map(|c| c.strip_prefix("wristband_refresh="))?;
            let (id, generation) = value.split_once('.')?;
            Some((id.to_owned(), generation.parse::<i64>().ok()?))
        });
    let Some((id, generation)) = parsed else {
        return HttpResponse::Unauthorized().finish();
    };
    let rotated = async {
        let client = rotation.pool().get().await.map_err(|e| e.to_string())?;
        let statement = client
            .prepare_cached(&rotation.sql)
            .await
            .map_err(|e| e.to_string())?;
        client
            .query_opt(&statement, &[&id, &generation])
            .await
            .map_err(|e| e.to_string())
    };
    match rotated.await {
        Ok(Some(row)) => {
            let next: i64 = row.get("generation");
            HttpResponse::Ok()
                .insert_header((
                    "set-cookie",
                    format!(
                        "wristband_refresh={id}.{next}; Path=/auth; HttpOnly; Secure; SameSite=Strict"
                    ),
                ))
                .json(user_body(&row.get::<_, String>("user_id")))
        }
        Ok(None) => HttpResponse::Unauthorized().finish(),
        Err(error) => HttpResponse::ServiceUnavailable().body(error),
    }
}

/// actix's default: one worker per core.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> std::io::Result<()> {
    let secret = std::env::var("WRISTBAND_JWT_SECRET").unwrap_or_default();
    let bind = std::env::var("FLOOR_BIND").unwrap_or_else(|_| "127.0.0.1:0".into());
    actix_web::rt::System::new().block_on(async move {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&["wristband"]);
        validation.set_audience(&["wristband"]);
        validation.leeway = 0;
        let keys = web::Data::new(Keys {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        });
        let rotation = match std::env::var("FLOOR_DATABASE_URL") {
            Ok(url) => Some(web::Data::new(Rotation {
                config: url.parse().map_err(std::io::Error::other)?,
                sql: rotation_sql(),
                per_worker: 16usize.div_ceil(workers()),
            })),
            Err(_) => None,
        };
        let listener = std::net::TcpListener::bind(bind)?;
        let address = listener.local_addr()?;
        let server = HttpServer::new(move || {
            let app = App::new()
                .app_data(keys.clone())
                .route("/auth/me", web::get().to(me));
            match &rotation {
                Some(rotation) => app
                    .app_data(rotation.clone())
                    .route("/auth/refresh", web::post().to(refresh)),
                None => app.route("/auth/refresh", web::post().to(HttpResponse::NotFound)),
            }
        })
        .workers(workers())
        .listen(listener)?
        .run();
        println!("floor listening on http://{address}");
        std::io::stdout().flush()?;
        server.await
    })
}
