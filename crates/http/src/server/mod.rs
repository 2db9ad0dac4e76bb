//! The listeners: accepting connections, TLS, and HTTP/1.1 and HTTP/2 through
//! hyper, with the two wire rules hyper does not follow by itself.
//!
//! * **Header-name case** (conventions.md §5.2). hyper writes HTTP/1 header names
//!   in lower case, or in "title case" (`X-Restsvcsessionid`); EM writes
//!   `X-RestSvcSessionId` and `WWW-Authenticate`. hyper keeps the spelling of a
//!   response's headers when the response carries the (crate-private) case map that
//!   its HTTP/1 parser records with `preserve_header_case`, the mechanism proxies use
//!   to forward headers as they came. [`header_case`] has hyper parse, once, a
//!   request whose header names are spelled as EM spells them and keeps the
//!   extensions that parse produced (the case map). Title case already spells
//!   `Content-Type`, `Set-Cookie`, `Location`, ... as EM does, so only responses
//!   with `X-RestSvcSessionId` or `WWW-Authenticate` get a copy of the map (a copy
//!   per response cost measurable throughput). HTTP/2 is lower case by protocol.
//! * **Raw request targets** (conventions.md §2.11): [`lenient::Lenient`] rewrites
//!   the HTTP/1 byte stream before hyper parses it.
//!
//! TLS offers `http/1.1` first and `h2` second in ALPN, so clients that speak both
//! (curl, Python, PHP) use HTTP/1.1 — where header case and raw targets hold — and
//! clients that speak only HTTP/2 still get it.

pub mod lenient;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tower::ServiceExt;

pub use tokio_rustls::rustls;

/// Response header names in the case EM writes them (conventions.md §5.2).
pub const HEADER_NAMES: &[&str] = &[
    "X-RestSvcSessionId",
    "Set-Cookie",
    "Content-Type",
    "Content-Length",
    "Location",
    "WWW-Authenticate",
    "Allow",
    "Retry-After",
    "Date",
];

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long open connections get to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A rustls server configuration from a PEM certificate chain and private key, with
/// ALPN `http/1.1` then `h2`.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the certificate file is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the certificate file holds no certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("the key file holds no private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not fit: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec(), b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Extensions that make hyper write the names of [`HEADER_NAMES`] in that case.
pub async fn header_case() -> Extensions {
    static TEMPLATE: OnceCell<Extensions> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            parse_header_case().await.unwrap_or_else(|| {
                tracing::warn!("hyper recorded no header case; header names go out in title case");
                Extensions::new()
            })
        })
        .await
        .clone()
}

/// Has hyper's HTTP/1 parser read a request with the names of [`HEADER_NAMES`] and
/// returns the extensions it recorded.
async fn parse_header_case() -> Option<Extensions> {
    use tokio::io::AsyncWriteExt;
    let (mut client, server) = tokio::io::duplex(4096);
    let mut request = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for name in HEADER_NAMES {
        let value = if name.eq_ignore_ascii_case("content-length") {
            "0"
        } else {
            "x"
        };
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(req.extensions().clone());
        }
        async { Ok::<_, Infallible>(hyper::Response::new(String::new())) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), service);
    let drive = tokio::spawn(connection);
    client.write_all(request.as_bytes()).await.ok()?;
    let extensions = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .ok()?
        .ok()?;
    drop(client);
    let _ = drive.await;
    (!extensions.is_empty()).then_some(extensions)
}

/// A listening socket with its TLS configuration, if it is an HTTPS listener.
pub struct Listener {
    /// The socket.
    pub tcp: TcpListener,
    /// TLS, for HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Serves `app` on a listener until `shutdown` completes, then lets open
/// connections finish (for at most ten seconds).
pub async fn serve(
    listener: Listener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let header_case = header_case().await;
    let acceptor = listener.tls.map(tokio_rustls::TlsAcceptor::from);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .title_case_headers(true)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = ConnectionService {
            app: app.clone(),
            remote,
            header_case: header_case.clone(),
        };
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => serve_connection(builder, watcher, tls, service).await,
                        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                }
                None => serve_connection(builder, watcher, tcp, service).await,
            }
        });
    }
    drop(listener.tcp);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("connections still open after the shutdown grace period");
        }
    }
    Ok(())
}

/// The connection was closed on purpose, without an answer (a `drop` fault).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a fault rule")
    }
}

impl std::error::Error for Dropped {}

/// What one connection's requests go to.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    remote: SocketAddr,
    header_case: Extensions,
}

async fn serve_connection<IO>(
    builder: auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    io: IO,
    service: ConnectionService,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let remote = service.remote;
    let hyper_service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let service = service.clone();
        request.extensions_mut().insert(ConnectInfo(service.remote));
        async move {
            let mut response = service
                .app
                .oneshot(request.map(axum::body::Body::new))
                .await
                .unwrap_or_else(|never| match never {});
            // A `drop` fault: an error ends the connection without an answer.
            if response
                .extensions()
                .get::<crate::control::DropConnection>()
                .is_some()
            {
                return Err(Dropped);
            }
            // Title case already writes most names as EM does; only two need the map.
            let headers = response.headers();
            if headers.contains_key("x-restsvcsessionid")
                || headers.contains_key(axum::http::header::WWW_AUTHENTICATE)
            {
                response.extensions_mut().extend(service.header_case);
            }
            Ok::<_, Dropped>(response)
        }
    });
    let io = TokioIo::new(lenient::Lenient::new(io));
    let connection = builder.serve_connection(io, hyper_service).into_owned();
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn every_documented_header_name_goes_out_in_its_case() {
        let router = Router::new()
            .route(
                "/plain",
                axum::routing::get(|| async {
                    // No name that needs the case map: title case alone.
                    let mut response = axum::response::Response::new(axum::body::Body::from("x"));
                    for name in [
                        "set-cookie",
                        "location",
                        "allow",
                        "retry-after",
                        "content-type",
                    ] {
                        response
                            .headers_mut()
                            .insert(HeaderName::from_static(name), HeaderValue::from_static("1"));
                    }
                    response
                }),
            )
            .route(
                "/",
                axum::routing::get(|| async {
                    let mut response = axum::response::Response::new(axum::body::Body::from("x"));
                    for name in HEADER_NAMES {
                        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
                        if name != axum::http::header::CONTENT_LENGTH
                            && name != axum::http::header::DATE
                        {
                            response
                                .headers_mut()
                                .insert(name, HeaderValue::from_static("1"));
                        }
                    }
                    response
                }),
            );
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(Listener { tcp, tls: None }, router, async {
            let _ = stopped.await;
        }));
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        for name in HEADER_NAMES {
            assert!(
                answer.contains(&format!("\r\n{name}: ")),
                "{name} is not in its case: {answer}"
            );
        }
        // Other names go out in title case.
        assert!(answer.contains("\r\nConnection: close"), "{answer}");
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        for name in [
            "Set-Cookie",
            "Location",
            "Allow",
            "Retry-After",
            "Content-Type",
            "Content-Length",
            "Date",
        ] {
            assert!(
                answer.contains(&format!("\r\n{name}: ")),
                "{name}: {answer}"
            );
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
