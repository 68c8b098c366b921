//! Bounds on how long a client may take: a request must be answered (its
//! headers and body read, and the handler done) within [`REQUEST_TIMEOUT`],
//! else it gets 408 `request_timeout` and its connection is closed. With the
//! head timeout and the per-worker connection cap set in `startup.rs`, a
//! client that trickles bytes cannot hold sockets for long, nor exhaust file
//! descriptors.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::ApiError;

/// The longest a whole request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the request head (line and headers) may take to arrive.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections each worker holds at most; further ones wait in the backlog.
pub const MAX_CONNECTIONS_PER_WORKER: usize = 4096;

/// App middleware: 408 when the request is not done within [`REQUEST_TIMEOUT`].
pub async fn deadline(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // (No clone of the request may be held here: routing needs it unshared.)
    actix_web::rt::time::timeout(REQUEST_TIMEOUT, next.call(req))
        .await
        .map_err(|_| ApiError::RequestTimeout)?
}
