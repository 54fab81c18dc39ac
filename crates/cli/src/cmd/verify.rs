//! `jianghai verify`.

use super::{Outcome, open_existing};

pub async fn run(url: &str) -> anyhow::Result<Outcome> {
    let store = open_existing(url).await?;
    let outcome = match store.verify().await {
        Ok(summary) => {
            println!(
                "ledger verifies: {} entries, head {}",
                summary.count, summary.head
            );
            Outcome::Ok
        }
        Err(jianghai_store::VerifyError::Store(e)) => return Err(e.into()),
        Err(e) => {
            println!("{e}");
            Outcome::Findings
        }
    };
    store.close().await;
    Ok(outcome)
}
