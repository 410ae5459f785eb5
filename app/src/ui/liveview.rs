//! The app served over liveview to a browser on this machine, guarded
//! against everything else that can reach a loopback port:
//! - other programs and users of the machine: every path holds a random key
//!   made at launch and printed once with the address;
//! - other web pages in the same browser (any page may open a WebSocket to
//!   any address): the socket and the photo upload need the app's own
//!   `Origin`;
//! - DNS rebinding (a web name that points at 127.0.0.1): the `Host` must be
//!   the address listened on.
//!
//! The map's renderer and an offline basemap are static files (third-party
//! library code, an admin's basemap): they are served under the key, but a
//! page's module and worker loads need not carry an `Origin`.
//!
//! liveview 0.7's own router mounts only at the root with a fixed `/ws`, so
//! the page and the socket are served here from its public parts.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use beatbook_schema::protocol::{ErrorBody, ErrorCode};
use beatbook_schema::text::Text;
use dioxus::prelude::VirtualDom;
use rand::RngCore;

use super::map::{MapSource, ASSET_FILES, DRAWING, DRAWING_FILE};
use super::{App, UiOptions, Uploads};

/// Who may use a liveview launch: the address it listens on and its key.
#[derive(Clone)]
pub struct LiveviewAccess {
    addr: SocketAddr,
    key: String,
}

impl std::fmt::Debug for LiveviewAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveviewAccess")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl LiveviewAccess {
    /// A new random key (256 bits) for a launch listening on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self {
            addr,
            key: hex::encode(bytes),
        }
    }

    /// The address to open in the browser, key included.
    pub fn url(&self) -> String {
        format!("{}{}", self.origin(), self.path(""))
    }

    /// A path under this launch's key.
    fn path(&self, rest: &str) -> String {
        format!("/app/{}/{rest}", self.key)
    }

    /// The page's own origin, as a browser sends it.
    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn host_is_ours(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::HOST)
            .is_some_and(|h| h.as_bytes() == self.addr.to_string().as_bytes())
    }

    fn origin_is_ours(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::ORIGIN)
            .is_some_and(|o| o.as_bytes() == self.origin().as_bytes())
    }

    /// What follows `/app/<key>/` in `path`, if it holds this launch's key.
    fn under_key<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix("/app/")?;
        let (key, rest) = rest.split_once('/')?;
        same_bytes(key.as_bytes(), self.key.as_bytes()).then_some(rest)
    }
}

/// Compares in time that depends on the length only, so that response
/// times do not tell how much of a guessed key was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The app at `/app/<key>/`, its socket at `/app/<key>/ws` and the photo
/// upload at `/app/<key>/upload`; anything else is refused with a JSON error.
pub fn liveview_router(mut options: UiOptions, access: &LiveviewAccess) -> axum::Router {
    options.upload_path = access.path("upload");
    let map = map_router(&mut options.map, access);
    let uploads = options.uploads.clone();
    let pool = dioxus_liveview::LiveViewPool::new();
    let glue = dioxus_liveview::interpreter_glue(&access.path("ws"));
    let page = Html(format!(
        r#"<!DOCTYPE html>
<html>
    <head><title>Beatbook 基础信息采集</title></head>
    <body><div id="main"></div></body>
    {glue}
</html>"#
    ));
    let socket = move |ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>| {
        let (pool, options) = (pool.clone(), options.clone());
        async move {
            let Ok(ws) = ws else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::MalformedRequest,
                    Text::new(
                        "此地址只接受 WebSocket 连接",
                        "This address takes WebSocket connections only",
                    ),
                );
            };
            ws.on_upgrade(move |socket| async move {
                // Ends when the page goes away; there is no one to tell.
                let _ = pool
                    .launch_virtualdom(dioxus_liveview::axum_socket(socket), move || {
                        VirtualDom::new(App).with_root_context(options)
                    })
                    .await;
            })
        }
    };
    axum::Router::new()
        .route(
            "/app/{key}/",
            get(move || {
                let page = page.clone();
                async move { (page_headers(), page) }
            }),
        )
        .route("/app/{key}/ws", get(socket))
        .merge(upload_router(uploads, "/app/{key}/upload"))
        .merge(map)
        .fallback(|| async {
            refuse(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                Text::new(
                    "没有此页面：请打开 beatbook-app liveview 启动时显示的完整地址",
                    "No such page: open the full address beatbook-app liveview printed when it started",
                ),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(access.clone()),
            guard,
        ))
}

/// The map's renderer and drawing under `/app/<key>/map/`, when its
/// directory holds them, and the basemap at `/app/<key>/basemap.pmtiles`
/// (ranges served: the PMTiles reader asks for parts of the file); sets
/// where the page finds them.
fn map_router(source: &mut MapSource, access: &LiveviewAccess) -> axum::Router {
    let mut router = axum::Router::new();
    match source.assets_dir.as_deref() {
        Some(dir) if MapSource::has_assets(dir) => {
            for file in ASSET_FILES {
                router = router.route_service(
                    &format!("/app/{{key}}/map/{file}"),
                    tower_http::services::ServeFile::new(dir.join(file)),
                );
            }
            router = router.route(
                &format!("/app/{{key}}/map/{DRAWING_FILE}"),
                get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], DRAWING) }),
            );
            source.assets_url = Some(access.path("map/"));
        }
        dir => tracing::warn!(
            dir = ?dir,
            "no map renderer there: the map screen will say so (scripts/map-assets.sh installs it)"
        ),
    }
    if let Some(file) = &source.basemap {
        router = router.route_service(
            "/app/{key}/basemap.pmtiles",
            tower_http::services::ServeFile::new(file),
        );
        source.basemap_url = Some(access.path("basemap.pmtiles"));
    }
    router
}

/// Static files a page loads as modules, workers or by range (no `Origin` asked).
fn is_static(rest: &str) -> bool {
    rest.starts_with("map/") || rest == "basemap.pmtiles"
}

/// `POST <path>` keeps the body and answers its id (the caller guards who may post).
fn upload_router(uploads: Uploads, path: &str) -> axum::Router {
    axum::Router::new()
        .route(
            path,
            post(|State(u): State<Uploads>, body: Bytes| async move { u.put(body.to_vec()) }),
        )
        .layer(DefaultBodyLimit::max(32 * 1024 * 1024))
        .with_state(uploads)
}

/// The page is not to be cached, framed, or named in a `Referer`: its
/// address holds the key.
fn page_headers() -> [(header::HeaderName, HeaderValue); 3] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

async fn guard(State(access): State<Arc<LiveviewAccess>>, req: Request, next: Next) -> Response {
    if !access.host_is_ours(req.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            Text::new(
                format!("只接受发往 {} 的请求", access.addr),
                format!("Only requests addressed to {} are served", access.addr),
            ),
        );
    }
    let Some(rest) = access.under_key(req.uri().path()) else {
        return refuse(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            Text::new(
                "地址缺少或带错了本次启动的密钥：请打开 beatbook-app liveview 启动时显示的完整地址",
                "The address lacks this launch's key or has a wrong one: open the full address beatbook-app liveview printed when it started",
            ),
        );
    };
    // The page itself is opened by typing its address (no Origin); the
    // socket and the upload come from that page, never from another one.
    if !rest.is_empty() && !is_static(rest) && !access.origin_is_ours(req.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            Text::new(
                "只接受来自本应用页面的连接",
                "Only the app's own page may connect here",
            ),
        );
    }
    next.run(req).await
}

fn refuse(status: StatusCode, code: ErrorCode, message: Text) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            code,
            message,
            errors: vec![],
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maps_static_files_need_no_origin_and_nothing_else_goes_without() {
        assert!(is_static("map/maplibre-gl.mjs"));
        assert!(is_static("basemap.pmtiles"));
        assert!(!is_static("ws"));
        assert!(!is_static("upload"));
        assert!(!is_static("basemap.pmtiles/x"));
    }

    #[test]
    fn the_key_is_random_and_only_the_exact_key_opens() {
        let addr: SocketAddr = "127.0.0.1:8780".parse().expect("addr");
        let a = LiveviewAccess::new(addr);
        let b = LiveviewAccess::new(addr);
        assert_ne!(a.key, b.key);
        assert_eq!(a.key.len(), 64);
        assert_eq!(a.url(), format!("http://127.0.0.1:8780/app/{}/", a.key));
        assert_eq!(a.under_key(&a.path("")), Some(""));
        assert_eq!(a.under_key(&a.path("ws")), Some("ws"));
        assert_eq!(a.under_key(&b.path("ws")), None);
        assert_eq!(a.under_key(&format!("/app/{}", a.key)), None);
        assert_eq!(a.under_key(&format!("/app/{}/", &a.key[..63])), None);
        assert_eq!(a.under_key("/app//ws"), None);
        assert_eq!(a.under_key("/ws"), None);
    }
}
