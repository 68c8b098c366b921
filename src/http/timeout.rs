//! Bounds on how long a client may take *to send* its request: the head within
//! [`HEAD_TIMEOUT`] (actix's client request timeout) and the whole body within
//! [`REQUEST_TIMEOUT`], else 408 `request_timeout` and the connection closes.
//! With the per-worker connection cap set in `startup.rs`, a client that
//! trickles bytes cannot hold sockets for long, nor exhaust file descriptors.
//!
//! The deadline covers reading the request only, not the work it starts: a
//! handler that has its body runs to its end, with its database work bounded
//! by the database timeout (503 `unavailable`, see `db/`) and its bcrypt work
//! by the hasher's queue. So a request is never answered 408 while its work
//! goes on and commits behind the client's back.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::Stream;

use crate::error::ApiError;

/// The longest the request body may take to arrive, counted from its head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the request head (line and headers) may take to arrive.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections each worker holds at most; further ones wait in the backlog.
pub const MAX_CONNECTIONS_PER_WORKER: usize = 4096;

/// App middleware: the body of a request must arrive within
/// [`REQUEST_TIMEOUT`]; reading it later fails with a timeout, which the body
/// extractors answer 408 (see [`body_error`]).
pub async fn deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if has_body(&req) {
        let body = req.take_payload();
        let bounded = Deadline {
            body,
            expired: Box::pin(actix_web::rt::time::sleep(REQUEST_TIMEOUT)),
            done: false,
        };
        req.set_payload(Payload::Stream {
            payload: Box::pin(bounded),
        });
    }
    next.call(req).await
}

/// Whether the request announces a body (the only requests with one to wait for).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}

/// The error a body extractor answers for `error`: 408 when the body did not
/// arrive in time, else `otherwise`.
pub fn body_error(error: &PayloadError, otherwise: ApiError) -> ApiError {
    match error {
        PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => ApiError::RequestTimeout,
        _ => otherwise,
    }
}

/// A request body that fails with a timeout once its deadline has passed.
struct Deadline {
    body: Payload,
    expired: Pin<Box<actix_web::rt::time::Sleep>>,
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(next) = Pin::new(&mut self.body).poll_next(cx) {
            return Poll::Ready(next);
        }
        match self.expired.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.done = true;
                let late = io::Error::new(io::ErrorKind::TimedOut, "body not received in time");
                Poll::Ready(Some(Err(PayloadError::Io(late))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
