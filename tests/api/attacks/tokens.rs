//! Access tokens: other algorithms and `alg: none`, key headers and kids,
//! time claims, duplicate JSON keys, oversized tokens, and the one place a
//! Bearer token is read from. Each forgery is signed by hand ([`super::forge`]).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::forge::{Lab, append, now, prepend, signed, with_signature};
use super::{b64, read, send_raw};
use crate::helpers::{SECRET, TestApp, backend_test};

backend_test!(algorithms_other_than_hs256_are_refused);
async fn algorithms_other_than_hs256_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let claims = lab.claims_text();
    // HMAC with the server's own secret: only the algorithm is wrong.
    for alg in ["HS384", "HS512"] {
        let header = lab.header_with("alg", Some(&Value::from(alg).to_string()));
        lab.refused(&signed(alg, &header, &claims), alg).await;
        // And the HS256 signature under a header that names another algorithm.
        lab.refused(
            &signed("HS256", &header, &claims),
            &format!("{alg} header, HS256 MAC"),
        )
        .await;
    }
    // Asymmetric algorithms: the key-confusion attack signs with the HMAC
    // secret; an arbitrary signature of the right shape is refused too.
    for alg in ["RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA"] {
        let header = lab.header_with("alg", Some(&Value::from(alg).to_string()));
        lab.refused(
            &signed("HS256", &header, &claims),
            &format!("{alg} with the secret"),
        )
        .await;
        let junk = b64([0x5a; 64]);
        lab.refused(
            &with_signature(&header, &claims, &junk),
            &format!("{alg} junk"),
        )
        .await;
    }
    // Spellings and types of HS256 that are not exactly "HS256".
    for raw in [
        r#""hs256""#,
        r#""Hs256""#,
        r#""HS256 ""#,
        r#"" HS256""#,
        r#""HS256\u0000""#,
        r#""HS-256""#,
        r#""""#,
        r#"["HS256"]"#,
        r#"{"name":"HS256"}"#,
        "null",
        "256",
        "true",
    ] {
        lab.refused_header(&lab.header_with("alg", Some(raw)), "alg spelling")
            .await;
    }
    lab.refused_header(&lab.header_with("alg", None), "no alg")
        .await;
}

backend_test!(alg_none_is_refused_in_any_case);
async fn alg_none_is_refused_in_any_case(app: TestApp) {
    let lab = Lab::new(&app).await;
    let claims = lab.claims_text();
    let real = lab.user.token();
    let real_signature = real.rsplit('.').next().unwrap().to_owned();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = lab.header_with("alg", Some(&Value::from(alg).to_string()));
        let valid_mac = signed("HS256", &header, &claims);
        let valid_mac = valid_mac.rsplit('.').next().unwrap();
        for signature in ["", "AAAA", valid_mac, &real_signature] {
            let token = with_signature(&header, &claims, signature);
            lab.refused(&token, &format!("alg {alg}, signature {signature:?}"))
                .await;
        }
        // Two parts only, as some libraries write unsigned tokens.
        let two = format!("{}.{}", b64(&header), b64(&claims));
        lab.refused(&two, &format!("alg {alg}, two parts")).await;
    }
    // A real token with a part more, before or after the signature.
    let (head, signature) = real.rsplit_once('.').unwrap();
    for (what, token) in [
        ("a fourth part", format!("{real}.{signature}")),
        ("an empty fourth part", format!("{real}.")),
        (
            "a part in the middle",
            format!("{head}.{}.{signature}", b64(&claims)),
        ),
    ] {
        lab.refused(&token, what).await;
    }
}

backend_test!(key_headers_and_unknown_kids_are_refused);
async fn key_headers_and_unknown_kids_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let secret_jwk = json!({"kty": "oct", "k": b64(SECRET), "alg": "HS256"}).to_string();
    let attacker_jwk = json!({"kty": "oct", "k": b64("attacker key")}).to_string();
    let header = lab.header_text();
    for (key, raw) in [
        ("jwk", secret_jwk.as_str()),
        ("jwk", attacker_jwk.as_str()),
        ("jku", r#""https://evil.example/.well-known/jwks.json""#),
        ("jku", r#""http://127.0.0.1/keys""#),
        ("x5u", r#""https://evil.example/cert.pem""#),
        (
            "x5c",
            r#"["MIIBszCCAVmgAwIBAgIUQ0FBQUFBQUFBQUFBQUFBQUFBQUFBMAoGCCqGSM49BAMC"]"#,
        ),
        ("x5c", "[]"),
        ("crit", r#"["exp"]"#),
        ("crit", r#"["b64"]"#),
    ] {
        // Added to the otherwise valid header, signed with the right secret.
        let token = signed("HS256", &append(&header, key, raw), &lab.claims_text());
        // The library reads the header: the server's own policy refuses it.
        assert!(
            jsonwebtoken::decode_header(&token).is_ok(),
            "{key}: {raw} is a header the library reads"
        );
        lab.refused(&token, &format!("{key}: {raw}")).await;
    }
    for raw in [
        r#""0000000000000000""#,
        r#""""#,
        r#""../../../../dev/null""#,
        r#""' OR '1'='1""#,
        r#""\u0000""#,
        "null",
        "0",
        r#"["a"]"#,
    ] {
        lab.refused_header(&lab.header_with("kid", Some(raw)), "kid")
            .await;
    }
    lab.refused_header(&lab.header_with("kid", None), "no kid")
        .await;
    // The right kid in the wrong case.
    let kid = lab.header["kid"].as_str().unwrap().to_uppercase();
    lab.refused_header(
        &lab.header_with("kid", Some(&Value::from(kid).to_string())),
        "kid upper-case",
    )
    .await;
}

backend_test!(time_claims_of_the_wrong_type_or_range_are_refused);
async fn time_claims_of_the_wrong_type_or_range_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let far = (now() + 3600).to_string();
    let quoted_far = format!("\"{far}\"");
    let object_far = format!(r#"{{"$numberLong":"{far}"}}"#);
    let array_far = format!("[{far}]");
    let odd: Vec<&str> = vec![
        &quoted_far,
        r#""""#,
        r#""now""#,
        "null",
        "{}",
        &object_far,
        "[]",
        &array_far,
        "true",
        "false",
        "1e300",
        "-1e300",
        "1e400",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "-99999999999999999999999999",
    ];
    for claim in ["exp", "nbf", "iat"] {
        for raw in &odd {
            lab.refused_claims(&lab.claims_with(claim, Some(raw)), claim)
                .await;
        }
        lab.refused_claims(&lab.claims_with(claim, None), &format!("no {claim}"))
            .await;
    }
    // Fractional NumericDates that would be fine as integers.
    let n = now();
    for (claim, value) in [
        ("exp", format!("{}.5", n + 300)),
        ("nbf", format!("{}.5", n - 300)),
        ("iat", format!("{}.5", n - 300)),
    ] {
        lab.refused_claims(&lab.claims_with(claim, Some(&value)), "fraction")
            .await;
    }
    // Negative times.
    for (claim, value) in [("exp", "-1"), ("nbf", "-1"), ("iat", "-1"), ("exp", "0")] {
        lab.refused_claims(&lab.claims_with(claim, Some(value)), "negative")
            .await;
    }
}

backend_test!(expiry_and_not_before_are_strict);
async fn expiry_and_not_before_are_strict(app: TestApp) {
    let lab = Lab::new(&app).await;
    let n = now();
    // RFC 7519: the token is expired once now >= exp, so exp == now is refused
    // (if the second turns before the server looks, it is refused all the more).
    for (what, claim, value) in [
        ("expired a second ago", "exp", n - 1),
        ("expires this very second", "exp", n),
        ("expired long ago", "exp", n - 1_000_000_000),
        ("not valid for another minute", "nbf", n + 60),
        ("not valid for a century", "nbf", n + 3_155_760_000),
        ("not valid until the end of time", "nbf", i64::MAX),
    ] {
        let payload = lab.claims_with(claim, Some(&value.to_string()));
        lab.refused_claims(&payload, what).await;
    }
    // A control: a minute left is fine.
    let payload = lab.claims_with("exp", Some(&(n + 60).to_string()));
    let token = signed("HS256", &lab.header_text(), &payload);
    lab.get(&token, "a minute left").await.ok("a minute left");
}

backend_test!(duplicate_json_keys_are_refused);
async fn duplicate_json_keys_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    let header = lab.header_text();
    let claims = lab.claims_text();
    // Each is signed with the server's secret: only the duplicate is wrong.
    // The duplicate goes first and last, for first-wins and last-wins parsers.
    for (key, raw) in [
        ("alg", r#""none""#),
        ("alg", r#""HS256""#),
        ("alg", r#""HS512""#),
        ("kid", r#""0000000000000000""#),
        ("typ", r#""JWT""#),
    ] {
        lab.refused_header(&prepend(&header, key, raw), "duplicate first")
            .await;
        lab.refused_header(&append(&header, key, raw), "duplicate last")
            .await;
    }
    let other_user = Value::from(uuid::Uuid::new_v4().to_string()).to_string();
    let own_user = lab.claims["sub"].to_string();
    let later = (now() + 1_000_000).to_string();
    let earlier = (now() - 1_000).to_string();
    let own_exp = lab.claims["exp"].to_string();
    for (key, raw) in [
        ("sub", other_user.as_str()),
        ("sub", own_user.as_str()),
        ("exp", later.as_str()),
        ("exp", earlier.as_str()),
        ("exp", own_exp.as_str()),
        ("sid", other_user.as_str()),
        ("ver", "1"),
        ("role", r#""admin""#),
        ("aud", r#""wristband""#),
    ] {
        lab.refused_claims(&prepend(&claims, key, raw), "duplicate first")
            .await;
        lab.refused_claims(&append(&claims, key, raw), "duplicate last")
            .await;
    }
}

backend_test!(huge_tokens_are_refused_quickly);
async fn huge_tokens_are_refused_quickly(app: TestApp) {
    let lab = Lab::new(&app).await;
    let real = lab.user.token();
    let parts: Vec<&str> = real.split('.').collect();
    // 64 KiB of token68 characters, as one run and as a JWS whose payload
    // carries a padding claim (with a signature that is not the right one).
    let padded = append(
        &lab.claims_text(),
        "pad",
        &Value::from("x".repeat(48 * 1024)).to_string(),
    );
    let huge_jws = format!("{}.{}.{}", parts[0], b64(&padded), parts[2]);
    assert!(huge_jws.len() >= 64 * 1024);
    let cases = [
        ("64 KiB run", "a".repeat(64 * 1024)),
        ("64 KiB of dots", ".".repeat(64 * 1024)),
        ("64 KiB JWS", huge_jws),
    ];
    for (what, token) in cases {
        let started = Instant::now();
        let answer = lab.get(&token, what).await;
        let took = started.elapsed();
        answer.invalid_token(what);
        assert!(took < Duration::from_secs(1), "{what} took {took:?}");
    }
    // Past actix-http's 128 KiB request-head buffer, the server answers 431
    // itself (with an empty body) before any handler runs.
    let started = Instant::now();
    let answer = lab.get(&"a".repeat(200 * 1024), "200 KiB").await;
    let took = started.elapsed();
    assert_eq!(
        answer.status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "200 KiB: {}",
        answer.text
    );
    assert!(took < Duration::from_secs(1), "200 KiB took {took:?}");
}

/// The Bearer cap, in bytes (SECURITY.md, "Denial of service").
const MAX_TOKEN_BYTES: usize = 8192;

backend_test!(validly_signed_tokens_over_8_kib_are_refused);
async fn validly_signed_tokens_over_8_kib_are_refused(app: TestApp) {
    let lab = Lab::new(&app).await;
    // The user's own claims plus a padding claim, signed with the server's
    // key: nothing is wrong with these tokens but their length.
    let padded = |pad: usize| {
        let claims = append(
            &lab.claims_text(),
            "pad",
            &Value::from("x".repeat(pad)).to_string(),
        );
        signed("HS256", &lab.header_text(), &claims)
    };
    // base64url makes 4 characters of 3 bytes: search near the estimate.
    let estimate = (MAX_TOKEN_BYTES - padded(0).len()) * 3 / 4;
    let near: Vec<String> = (estimate - 8..estimate + 8).map(&padded).collect();
    let fits = near
        .iter()
        .filter(|t| t.len() <= MAX_TOKEN_BYTES)
        .max_by_key(|t| t.len())
        .unwrap();
    let over = near
        .iter()
        .filter(|t| t.len() > MAX_TOKEN_BYTES)
        .min_by_key(|t| t.len())
        .unwrap();
    assert!(fits.len() > MAX_TOKEN_BYTES - 4 && over.len() < MAX_TOKEN_BYTES + 4);
    lab.get(fits, "just under 8 KiB")
        .await
        .ok(&format!("{} bytes", fits.len()));
    lab.refused(over, &format!("{} bytes", over.len())).await;
    lab.refused(&padded(48 * 1024), "64 KiB, signed").await;
}

backend_test!(the_bearer_scheme_is_read_from_one_place_only);
async fn the_bearer_scheme_is_read_from_one_place_only(app: TestApp) {
    let lab = Lab::new(&app).await;
    let token = lab.user.token();
    let anon = app.anon();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = anon
            .get("/auth/me")
            .header("authorization", format!("{scheme} {token}"))
            .await;
        read(response, scheme).await.ok(scheme);
    }
    // Anywhere but the Authorization header, a token is not looked at.
    let query = anon.get(&format!("/auth/me?access_token={token}")).await;
    read(query, "query")
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_token", "query");
    let cookie = anon
        .get("/auth/me")
        .header("cookie", format!("access_token={token}"))
        .await;
    read(cookie, "cookie")
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_token", "cookie");
    let body = anon
        .get("/auth/me")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("access_token=x")
        .await;
    read(body, "form body")
        .await
        .error(StatusCode::UNAUTHORIZED, "missing_token", "form body");
    for scheme in ["Basic", "Token", "JWT", "Bearer-", "Bearerx"] {
        let response = anon
            .get("/auth/me")
            .header("authorization", format!("{scheme} {token}"))
            .await;
        read(response, scheme)
            .await
            .error(StatusCode::UNAUTHORIZED, "missing_token", scheme);
    }
    // Two headers, even both valid, are a bad request.
    let two = anon
        .get("/auth/me")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .await;
    read(two, "two headers")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request", "two headers");
    // A Bearer header without a token, or with one that is not token68.
    let malformed: [&[u8]; 8] = [
        b"Bearer",
        b"Bearer ",
        b"Bearer \"abc.def.ghi\"",
        b"Bearer a.b.c d",
        b"Bearer a,b",
        b"Bearer \xff\xfe\xfd",
        b"Bearer eyJ\xc3\xa9.a.b",
        b"\xff\xfe Bearer",
    ];
    for value in malformed {
        let what = String::from_utf8_lossy(value);
        let response = send_raw(
            &app,
            Method::GET,
            "/auth/me",
            &[("authorization", value)],
            vec![],
        )
        .await;
        read(response, &what).await.invalid_token(&what);
    }
}
