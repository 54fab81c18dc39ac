//! Builds the web console (`web/`, TypeScript + Vite) into `web/dist`, which `src/console.rs`
//! embeds, when the built files are missing or older than their sources, so that a plain
//! `cargo run --release -- demo` serves a working console on a fresh machine.
//!
//! - `npm ci` runs first when `web/node_modules` is missing or older than `package-lock.json`.
//! - `JIANGHAI_SKIP_CONSOLE=1` skips it all (the server then serves a page saying so).
//! - Without npm the build fails with a message saying what to install or set.
//! - `web/.build.lock` (a file lock) keeps two builds from running npm at once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.join("../..");
    let web = root.join("web");
    println!("cargo:rerun-if-env-changed=JIANGHAI_SKIP_CONSOLE");
    for p in [
        "src",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "scripts",
        "public/favicon.svg",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(p).display());
    }
    let centreline = root.join("crates/waterway/data/yangtze-centreline.geojson");
    println!("cargo:rerun-if-changed={}", centreline.display());
    if std::env::var_os("JIANGHAI_SKIP_CONSOLE").is_some_and(|v| !v.is_empty() && v != "0") {
        println!("cargo:warning=JIANGHAI_SKIP_CONSOLE is set: the web console is not built");
        return;
    }
    if !web.join("package.json").exists() {
        return; // a source package without the console (e.g. from crates.io)
    }
    // Two builds of this crate at once (clippy next to a test build, two worktrees' profiles)
    // would run npm in the same directory and break each other's node_modules: one at a time,
    // and the second finds the first's output fresh.
    let lock = std::fs::File::create(web.join(".build.lock"))
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", web.join(".build.lock").display()));
    if let Err(e) = lock.lock() {
        panic!("cannot lock {}: {e}", web.join(".build.lock").display());
    }
    let sources = newest([
        web.join("src"),
        web.join("index.html"),
        web.join("package-lock.json"),
        web.join("vite.config.ts"),
        web.join("scripts"),
        centreline,
    ]);
    let built = mtime(&web.join("dist/index.html"));
    if built.is_some_and(|b| sources.is_none_or(|s| b >= s)) {
        return;
    }
    let locked = mtime(&web.join("package-lock.json"));
    let installed = mtime(&web.join("node_modules/.package-lock.json"));
    if installed.is_none() || locked.is_some_and(|l| installed.is_some_and(|i| i < l)) {
        npm(&web, &["ci", "--no-audit", "--no-fund"]);
    }
    npm(&web, &["run", "build"]);
}

fn npm(web: &Path, args: &[&str]) {
    let status = Command::new("npm").args(args).current_dir(web).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`npm {}` in {} failed ({s}); fix the error above, or set JIANGHAI_SKIP_CONSOLE=1 \
             to build without the web console",
            args.join(" "),
            web.display()
        ),
        Err(e) => panic!(
            "the web console needs Node.js 20+ and npm to build (`npm {}` in {}: {e}); install \
             them, or set JIANGHAI_SKIP_CONSOLE=1 to build without the console",
            args.join(" "),
            web.display()
        ),
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the files under `paths`.
fn newest(paths: impl IntoIterator<Item = PathBuf>) -> Option<SystemTime> {
    let mut best = None;
    let mut stack: Vec<PathBuf> = paths.into_iter().collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        } else if let Ok(m) = meta.modified() {
            best = best.max(Some(m));
        }
    }
    best
}
