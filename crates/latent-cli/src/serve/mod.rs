//! `latent serve`'s web server: one page that explores the latent space of trained runs in the
//! browser, and the JSON API it uses, which scripts may use too (`docs/serve.md`).
//!
//! - [`runs`]: each served run, loaded once: model, data, the codes of its test set.
//! - [`projection`]: the plane of the latent map (the codes themselves, or their two principal
//!   axes).
//! - [`workers`]: the threads that run the models, with a bounded queue.
//! - [`api`]: the endpoints under `/api/`.
//! - [`nearest`]: the search of the training set for an example's nearest neighbours.
//! - [`error`]: every failure as a status and a JSON body.
//! - `page.html`, `page.css`, `page.js`: the page, built into the binary (no build step, nothing
//!   fetched from elsewhere: it works offline).
//!
//! # Safety
//! Requests name runs by name; nothing in a request reaches the file system. Bodies are at most
//! [`MAX_BODY_BYTES`], a request handles at most [`MAX_ROWS`] examples, at most
//! [`workers::QUEUE`] requests wait for a worker (then 503), and every refusal is a 4xx with a
//! JSON error. A server on a loopback address answers only requests addressed to a loopback
//! name (`localhost`, `127.0.0.1`, `[::1]`), so a web page elsewhere cannot reach it by making
//! its own host name point here (DNS rebinding).

pub mod api;
pub mod error;
pub mod nearest;
pub mod projection;
pub mod runs;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use self::error::ApiError;
use self::runs::ServedRun;
use self::workers::Workers;

/// The largest request body accepted: 8 MiB (256 colour images of 32×32 as JSON numbers).
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// The most examples, codes or samples one request handles.
pub const MAX_ROWS: usize = 256;
/// The most points of one interpolation.
pub const MAX_STEPS: usize = 64;
/// The most neighbours one `nearest` request returns.
pub const MAX_K: usize = 64;

/// What every handler shares: the runs and the workers that compute with them.
pub struct AppState {
    /// The served runs, in the order given.
    pub runs: Vec<Arc<ServedRun>>,
    /// The compute workers.
    pub workers: Workers,
}

/// The page's files.
const PAGE_HTML: &str = include_str!("page.html");
const PAGE_CSS: &str = include_str!("page.css");
const PAGE_JS: &str = include_str!("page.js");

/// The content security policy of every answer: the page's own script and style only.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A static file's answer.
fn file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// The server's routes, over `state`. With `loopback_only`, requests must name a loopback host.
pub fn router(state: Arc<AppState>, loopback_only: bool) -> Router {
    let api = Router::new()
        .route("/api/runs", get(api::list))
        .route("/api/runs/{run}", get(api::info))
        .route("/api/runs/{run}/map", get(api::map))
        .route("/api/runs/{run}/test/{index}", get(api::test_example))
        .route("/api/runs/{run}/encode", post(api::encode))
        .route("/api/runs/{run}/decode", post(api::decode))
        .route("/api/runs/{run}/sample", post(api::sample))
        .route("/api/runs/{run}/reconstruct", post(api::reconstruct))
        .route("/api/runs/{run}/interpolate", post(api::interpolate))
        .route("/api/runs/{run}/nearest", post(api::nearest))
        .route("/api/runs/{run}/anomaly", post(api::anomaly))
        .with_state(state);
    let app = Router::new()
        .route("/", get(|| async { file("text/html; charset=utf-8", PAGE_HTML) }))
        .route("/page.css", get(|| async { file("text/css; charset=utf-8", PAGE_CSS) }))
        .route("/page.js", get(|| async { file("text/javascript; charset=utf-8", PAGE_JS) }))
        .merge(api)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(secure_headers));
    if loopback_only { app.layer(middleware::from_fn(loopback_host)) } else { app }
}

/// Adds the security headers to every answer.
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Refuses a request whose `Host` is not a loopback name (see the module's Safety section).
async fn loopback_host(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if is_loopback_host(host) {
        next.run(request).await
    } else {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "this server listens on a loopback address and answers only requests to localhost, 127.0.0.1 or [::1], not to `{host}`"
            ),
        }
        .into_response()
    }
}

/// Whether a `Host` header names this machine's loopback interface (`localhost:8080`,
/// `127.0.0.1`, `[::1]:80`).
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Serve `app` on `listener` until `shutdown` completes.
///
/// # Errors
/// If accepting connections fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// The address to show for a listener bound to `addr`: `localhost` names an unspecified
/// address (`0.0.0.0`), which a browser cannot open.
pub fn page_url(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("http://localhost:{}/", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("http://localhost:{}/", a.port()),
        SocketAddr::V4(a) => format!("http://{a}/"),
        SocketAddr::V6(a) => format!("http://[{}]:{}/", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_are_loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:9",
            "127.1.2.3:80",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in ["", "evil.example:8080", "localhost.evil.example", "10.0.0.1:8080", "[::2]:1", "0.0.0.0:8080"] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn unspecified_addresses_are_shown_as_localhost() {
        assert_eq!(page_url("0.0.0.0:8080".parse().unwrap()), "http://localhost:8080/");
        assert_eq!(page_url("127.0.0.1:9".parse().unwrap()), "http://127.0.0.1:9/");
        assert_eq!(page_url("[::1]:9".parse().unwrap()), "http://[::1]:9/");
    }
}
