//! `jianghai serve`.

use jianghai_server::{AppState, Application};

use super::{Outcome, open, shutdown_signal};

pub async fn run(url: &str, listen: &str) -> anyhow::Result<Outcome> {
    let store = open(url).await?;
    serve(store, listen).await
}

/// Serves `store` on `listen` until Ctrl-C or SIGTERM.
pub async fn serve(store: jianghai_store::Store, listen: &str) -> anyhow::Result<Outcome> {
    let app = Application::build(
        listen,
        AppState {
            store: store.clone(),
        },
    )
    .await?;
    let addr = app.local_addr()?;
    println!("Jianghai is running at http://{addr}/  (Ctrl-C stops it)");
    app.run_until(shutdown_signal()).await?;
    store.close().await;
    Ok(Outcome::Ok)
}
