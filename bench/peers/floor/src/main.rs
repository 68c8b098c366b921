//! The floor of the benchmark: an actix-web server whose `GET /auth/me`
//! verifies an HS256 access token (signature, `exp`, `iss`, `aud`) and
//! answers its `sub`, with no database and no revocation check. Wristband's
//! `/auth/me` does this and more; the ratio of the two is the cost of the
//! rest. `WRISTBAND_JWT_SECRET` is the key; the first stdout line is
//! `floor listening on http://HOST:PORT`, like Wristband's.

use std::io::Write;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

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
        let listener = std::net::TcpListener::bind(bind)?;
        let address = listener.local_addr()?;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(keys.clone())
                .route("/auth/me", web::get().to(me))
        })
        .listen(listener)?
        .run();
        println!("floor listening on http://{address}");
        std::io::stdout().flush()?;
        server.await
    })
}
