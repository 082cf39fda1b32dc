//! The limits of a request as a whole: its URI's length (414), and a body over its limit,
//! which ends the connection (413) instead of being read to its end.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use futures_util::{Stream, StreamExt};

use crate::error::ApiError;

/// The longest request target (path and query) answered; longer ones are 414. Far above any
/// list query (free text is at most 200 characters) and under the HTTP parser's own limit of
/// 64 KiB, past which `server::long_uri` stands in for the parser.
pub const MAX_URI_LENGTH: usize = 16 * 1024;

/// The header that marks a request whose line was too long for the HTTP parser and was
/// replaced on its way in (`server::long_uri`); its value is the length of the line the
/// client sent. A client sending it itself only gets the 414 it asked for.
pub const LONG_LINE_HEADER: &str = "convene-uri-too-long";

/// Refuses a request whose target is longer than `MAX_URI_LENGTH` before anything reads it,
/// including one whose line was too long for the HTTP parser and was replaced on the way in
/// (`server::long_uri`).
pub async fn limit_uri(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let length = req
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    let replaced = req.headers().contains_key(LONG_LINE_HEADER);
    if length > MAX_URI_LENGTH || replaced {
        let error = ApiError::UriTooLong {
            limit: MAX_URI_LENGTH,
        };
        return Ok(req.error_response(error).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// A request body shared between the handler that reads it and `close_when_too_large`.
struct SharedBody(Rc<RefCell<Payload>>);

impl Stream for SharedBody {
    type Item = Result<web::Bytes, actix_web::error::PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.borrow_mut().poll_next_unpin(cx)
    }
}

/// The answer to a body refused as too large, holding the unread rest of that body until
/// the answer is written (see `close_when_too_large`).
pub struct HeldOpen {
    answer: BoxBody,
    _unread: Option<Rc<RefCell<Payload>>>,
}

impl MessageBody for HeldOpen {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.answer.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        Pin::new(&mut self.answer).poll_next(cx)
    }
}

/// Every 413, whoever refused the body (JSON bodies, idempotency keys, imports), ends the
/// connection: `Connection: close`, and the rest of the body is not read. actix reads on to
/// the end of a chunked body whose reader let go of it, to keep the connection for the next
/// request; a body still held when the answer is written makes it close instead. So the
/// answer holds the body until it is written.
pub async fn close_when_too_large(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, HeldOpen>>, actix_web::Error> {
    let body = match req.take_payload() {
        Payload::None => None,
        payload => {
            let body = Rc::new(RefCell::new(payload));
            req.set_payload(Payload::Stream {
                payload: Box::pin(SharedBody(body.clone())),
            });
            Some(body)
        }
    };
    let mut response = next.call(req).await?;
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return Ok(response.map_into_left_body());
    }
    response
        .response_mut()
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(response.map_body(|_, answer| {
        EitherBody::right(HeldOpen {
            answer: BoxBody::new(answer),
            _unread: body,
        })
    }))
}
