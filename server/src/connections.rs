//! Accepting connections. `axum::serve` has no limits of its own: a client could hold a
//! connection open for ever by sending its headers a byte at a time, or open connections until
//! the process runs out of file descriptors. Here every connection counts against
//! `DEVPULSE_MAX_CONNECTIONS` (beyond it, a new one is answered 503 and closed at once), and a
//! request's headers must arrive within `DEVPULSE_HEADER_READ_TIMEOUT_SECS` of the connection
//! being ready for them, which also closes idle keep-alive connections.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{body::Body, extract::Request, Router};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tower::{Service, ServiceExt};

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// How long shutdown waits for open requests before it drops them.
const DRAIN: Duration = Duration::from_secs(20);

/// Serves `router` on `listener` until `stop` resolves, then stops accepting, lets requests in
/// flight finish (at most [`DRAIN`]) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // WebSockets over HTTP/2 (RFC 8441), as axum::serve enables; pings find dead peers.
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or the like: give it a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = make
            .call(peer)
            .await
            .unwrap_or_else(|e| match e {})
            .map_request(|r: Request<Incoming>| r.map(Body::new));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let wait = limits.header_read_timeout;
        tokio::spawn(async move {
            // hyper's timer starts once it knows the protocol, which takes a first byte: a
            // connection that never sends one is closed here.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(wait, stream.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                drop(slot);
                return;
            }
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            );
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open {} s after shutdown began",
            DRAIN.as_secs()
        );
    }
}

/// Over the cap: a plain answer an HTTP/1 client understands, then the door closes. Nothing
/// is read, so this costs next to nothing however many arrive.
async fn refuse(mut stream: TcpStream) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!("refusing connections: DEVPULSE_MAX_CONNECTIONS are open");
    }
    let answer = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer)).await;
    let _ = stream.shutdown().await;
}
