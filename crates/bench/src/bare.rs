//! The baseline: a bare hyper server that answers every request with the same
//! bytes and `Content-Type` that entman answered, and nothing else.

use http_body_util::Full;
use hyper::body::Bytes;
use std::convert::Infallible;
use tokio::net::TcpListener;

/// Serves `body` with `content_type` on `listener` forever.
pub(crate) async fn serve(listener: TcpListener, body: Bytes, content_type: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        let content_type = content_type.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_request| {
                let response = hyper::Response::builder()
                    .header("Content-Type", content_type.as_str())
                    .body(Full::new(body.clone()))
                    .expect("a response");
                async move { Ok::<_, Infallible>(response) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}
