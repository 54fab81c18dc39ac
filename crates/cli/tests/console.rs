//! The web console end to end: the real binary serves the demo and its embedded console, and
//! `web/e2e/run.mjs` drives Debian's Chromium (playwright-core, never a downloaded browser) through
//! it as an exporter, customs and a carrier. Screenshots go to `target/e2e-screenshots`.
//!
//! Needs Node.js, `/usr/bin/chromium` (or `JIANGHAI_CHROMIUM`), `web/node_modules` and the built
//! `web/dist` (the server's build script makes both). Under `CI` a missing piece fails the test;
//! elsewhere it is skipped with a loud message.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// What the browser test needs that is missing, if anything.
fn missing() -> Vec<String> {
    let web = root().join("web");
    let chromium =
        std::env::var("JIANGHAI_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut out = Vec::new();
    if !Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        out.push("node (Node.js 20+)".to_string());
    }
    if !Path::new(&chromium).exists() {
        out.push(format!("{chromium} (apt-get install -y chromium)"));
    }
    for p in ["node_modules/playwright-core", "dist/index.html"] {
        if !web.join(p).exists() {
            out.push(format!(
                "web/{p} (cargo build without JIANGHAI_SKIP_CONSOLE runs npm ci && npm run build)"
            ));
        }
    }
    out
}

fn http_get(addr: &str, path: &str) -> String {
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut resp = String::new();
    conn.read_to_string(&mut resp).expect("response");
    resp
}

#[test]
fn console_end_to_end_in_headless_chromium() {
    let missing = missing();
    if !missing.is_empty() {
        let msg = format!(
            "the console's browser test cannot run; missing: {}",
            missing.join(", ")
        );
        if in_ci() {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let store = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_jianghai"))
        .args(["demo", "--listen", "127.0.0.1:0", "--store", &store])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the demo");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Kill(child);
    // The demo plays its scenario, then prints where it serves; keep draining its output.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("running at http://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or_default().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(600))
        .expect("the demo serves within 10 minutes");

    // The console is served at / and, for client-side routes, by the fallback; the API is not.
    for path in ["/", "/alerts", "/vin/LS5D3ECA4SC001001"] {
        let page = http_get(&addr, path);
        assert!(page.starts_with("HTTP/1.1 200"), "{path}: {page}");
        assert!(
            page.contains(r#"<div id="app">"#),
            "{path} is the console: {page}"
        );
    }
    let api = http_get(&addr, "/api/v1/no-such-route");
    assert!(api.starts_with("HTTP/1.1 404"), "{api}");
    assert!(api.contains("application/problem+json"), "{api}");
    let asset = http_get(&addr, "/assets/no-such-chunk.js");
    assert!(asset.starts_with("HTTP/1.1 404"), "{asset}");

    // The first screen's weight, as the console's build measured it.
    let measured = std::fs::read_to_string(root().join("web/dist/first-screen.json"))
        .expect("web/dist/first-screen.json (written by npm run build)");
    let measured: serde_json::Value = serde_json::from_str(&measured).expect("json");
    let bytes = measured["gzipBytes"].as_u64().expect("gzipBytes");
    assert!(bytes < 1024 * 1024, "first screen is {bytes} bytes gzipped");
    eprintln!("first screen: {} KiB gzipped", bytes / 1024);

    // The console's unit tests (GCJ-02, times, the SSE parser), with vitest.
    let unit = Command::new("node")
        .args(["node_modules/vitest/vitest.mjs", "run"])
        .current_dir(root().join("web"))
        .output()
        .expect("run vitest");
    assert!(
        unit.status.success(),
        "the console's unit tests failed:\n{}{}",
        String::from_utf8_lossy(&unit.stdout),
        String::from_utf8_lossy(&unit.stderr)
    );

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("../e2e-screenshots")
        .to_path_buf();
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg("e2e/run.mjs")
        .current_dir(root().join("web"))
        .env("JIANGHAI_E2E_URL", format!("http://{addr}"))
        .env("JIANGHAI_E2E_SHOTS", &shots)
        .output()
        .expect("run node");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(out.status.success(), "end-to-end checks failed:\n{report}");
    assert!(report.contains("all end-to-end checks passed"), "{report}");
    for name in [
        "exporter-map",
        "customs-vin-verified",
        "carrier-vessel",
        "carrier-alerts",
    ] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name}.png in {}",
            shots.display()
        );
    }
    drop(demo);
}
