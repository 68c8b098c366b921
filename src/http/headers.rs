//! The headers every answer carries — `Cache-Control: no-store`,
//! `X-Content-Type-Options: nosniff`, and in test mode
//! `Wristband-Test-Mode: 1` — on successes and refusals alike.
//!
//! actix's `DefaultHeaders` only sees successful service responses: a guard's
//! refusal (401, 403, 429), a timeout's 408 or any other error passes it by
//! as an error and is turned into a response later. Here an error is wrapped
//! in [`WithHeaders`], whose response is the error's own plus these headers,
//! so nothing needs a copy of the request (which routing must hold alone).

use std::fmt;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use super::extract::state_of;

/// The name of test mode's mark.
pub const TEST_MODE: HeaderName = HeaderName::from_static("wristband-test-mode");

fn add(headers: &mut HeaderMap, test_mode: bool) {
    let defaults = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if test_mode {
        headers.insert(TEST_MODE, HeaderValue::from_static("1"));
    }
}

/// An error answered with the default headers added.
struct WithHeaders {
    error: actix_web::Error,
    test_mode: bool,
}

impl fmt::Debug for WithHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl fmt::Display for WithHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for WithHeaders {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.error.error_response();
        add(response.headers_mut(), self.test_mode);
        response
    }
}

/// App middleware: adds the default headers to every answer.
pub async fn default_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let test_mode = state_of(req.request()).is_ok_and(|s| s.config.operations.test_mode);
    match next.call(req).await {
        Ok(mut response) => {
            add(response.headers_mut(), test_mode);
            Ok(response)
        }
        Err(error) => Err(WithHeaders { error, test_mode }.into()),
    }
}
