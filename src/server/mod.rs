//! Serving the app over HTTP/1: the listening socket, and the connection layer that actix's
//! own `HttpServer` has no room for (`long_uri`). `main` serves through here; the tests
//! drive `build_app` directly and the real binary through `tests/api/startup.rs`.

pub mod long_uri;

use std::io;
use std::net::{SocketAddr, TcpListener};

use actix_http::HttpService;
use actix_server::Server;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::{rt::net::TcpStream, web};

use crate::app::build_app;
use crate::state::AppState;
use long_uri::LongUriGuard;

/// Connections waiting to be accepted (actix's default).
const BACKLOG: i32 = 1024;

/// Binds `address` as actix's `HttpServer` would (reusing an address in TIME_WAIT).
pub fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The server for `state` on `listener`, one app per worker thread, ready to `run`.
pub fn serve(listener: TcpListener, state: web::Data<AppState>) -> io::Result<Server> {
    let address = listener.local_addr()?;
    let builder = Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    builder
        .listen("convene", listener, move || {
            let state = state.clone();
            let shutdown = shutdown.clone();
            let app = build_app(state)
                .into_factory()
                .map_err(|error| error.error_response());
            let http = HttpService::build()
                .local_addr(address)
                // Idle keep-alive connections close when the server stops, as with
                // `HttpServer`.
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                // The app's configured host only names requests without a `Host` header in
                // generated URLs, which Convene never makes.
                .h1(map_config(app, |_| AppConfig::default()));
            fn_service(|stream: TcpStream| {
                let peer = stream.peer_addr().ok();
                std::future::ready(Ok::<_, actix_http::error::DispatchError>((
                    LongUriGuard::new(stream),
                    peer,
                )))
            })
            .and_then(http)
        })
        .map(|builder| builder.run())
}
