//! The web console's serving: `/` and client-side routes get the console (or, in a build without
//! it, the page saying how to build it); built assets are served with their type and an immutable
//! cache; `/api/*` and missing files stay 404 problems.

use jianghai_server::{AppState, Application, Config, console};
use jianghai_store::Store;
use reqwest::{Client, StatusCode, header};

async fn start() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("console.db").display());
    let store = Store::open(&url).await.expect("open sqlite");
    let app = Application::build("127.0.0.1:0", AppState::new(store, Config::default()))
        .await
        .expect("bind");
    let addr = app.local_addr().expect("addr");
    tokio::spawn(app.run_until(std::future::pending()));
    (format!("http://{addr}"), dir)
}

#[tokio::test]
async fn the_console_is_served_at_the_root_and_for_its_routes_but_never_for_the_api() {
    let (base, _dir) = start().await;
    let c = Client::new();
    let mut index = None;
    for path in [
        "/",
        "/alerts",
        "/vin/LS5D3ECA4SC001001",
        "/vessels/minsheng-ro-ro-8",
    ] {
        let res = c.get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let ct = res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        let body = res.text().await.expect("body");
        if console::built() {
            assert!(body.contains(r#"<div id="app">"#), "{path}: {body}");
        } else {
            assert!(body.contains("JIANGHAI_SKIP_CONSOLE"), "{path}: {body}");
        }
        assert_eq!(
            index.get_or_insert_with(|| body.clone()),
            &body,
            "{path} is the same page"
        );
    }
    for (method, path) in [
        ("GET", "/api/v1/no-such-route"),
        ("GET", "/api"),
        ("GET", "/api/"),
        ("GET", "/assets/no-such-chunk.js"),
        ("POST", "/"),
        ("DELETE", "/alerts"),
    ] {
        let res = c
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json",
            "{method} {path}"
        );
    }
    // The API itself is untouched by the fallback.
    let res = c
        .get(format!("{base}/api/v1/me"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    if console::built() {
        let index = index.unwrap();
        let script = index
            .split(r#"src="/assets/"#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the entry script in index.html");
        let res = c
            .get(format!("{base}/assets/{script}"))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), StatusCode::OK);
        let ct = res.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(ct.contains("javascript"), "{ct}");
        assert_eq!(
            res.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
    }
}
