//! The web console: the files `web/` builds (`web/dist`), embedded with rust-embed (read from disk
//! in debug builds) and served at `/` with the single-page fallback: a path that is not a file
//! gets `index.html`, so `/vin/LS5…` can be reloaded. `/api/*` is never answered here (an unknown
//! API path stays a 404 problem). Without built files (`JIANGHAI_SKIP_CONSOLE=1` at build time)
//! a small page says how to build them.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Dist;

/// The fallback of the whole router.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api"
        || path.starts_with("/api/")
        || !(method == Method::GET || method == Method::HEAD)
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = path.trim_start_matches('/');
    if !file.is_empty()
        && let Some(asset) = Dist::get(file)
    {
        return asset_response(file, asset);
    }
    // A missing file with an extension is a real 404 (a stale chunk, a typo), not the app.
    if file
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    match Dist::get("index.html") {
        Some(index) => asset_response("index.html", index),
        None => Html(include_str!("index.html")).into_response(),
    }
}

fn asset_response(file: &str, asset: rust_embed::EmbeddedFile) -> Response {
    let mime = asset.metadata.mimetype().to_string();
    // Vite names built assets by content hash: they never change under one name.
    let cache = if file.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut res = asset.data.into_owned().into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Whether the console's built files are in this binary (or, in a debug build, on disk).
pub fn built() -> bool {
    Dist::get("index.html").is_some()
}
