//! `jianghai events append` and `jianghai events timeline`.

use anyhow::Context;
use jianghai_core::{Event, Vin};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{Outcome, open, open_existing};

/// Longest line accepted on stdin; longer lines are rejected, not truncated.
const MAX_LINE: usize = 1 << 20;

pub async fn append(url: &str) -> anyhow::Result<Outcome> {
    let store = open(url).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    let mut rejected = 0usize;
    let mut line_no = 0usize;
    while let Some(line) = lines.next_line().await.context("cannot read stdin")? {
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            rejected += 1;
            eprintln!("line {line_no}: rejected: longer than {MAX_LINE} bytes");
            continue;
        }
        let event: Event = match serde_json::from_str(&line) {
            Ok(e) => e,
            Err(e) => {
                rejected += 1;
                eprintln!("line {line_no}: rejected: not a valid event: {e}");
                continue;
            }
        };
        match store.append(event).await {
            Ok(r) => {
                // The acknowledgement: written only after the commit returned.
                let ack = json!({
                    "line": line_no, "eventId": r.event_id, "seq": r.seq,
                    "hash": r.hash, "recordTime": r.record_time, "duplicate": r.duplicate,
                });
                out.write_all(format!("{ack}\n").as_bytes()).await?;
                out.flush().await?;
            }
            Err(jianghai_store::AppendError::Store(e)) => {
                return Err(anyhow::Error::new(e).context(format!("line {line_no}")));
            }
            Err(e) => {
                rejected += 1;
                eprintln!("line {line_no}: rejected: {e}");
            }
        }
    }
    store.close().await;
    Ok(if rejected == 0 {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

pub async fn timeline(url: &str, vin: &str) -> anyhow::Result<Outcome> {
    let vin = match Vin::parse(vin) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}: invalid VIN: {e}", vin.trim());
            return Ok(Outcome::Findings);
        }
    };
    let store = open_existing(url).await?;
    let events = store.timeline(&vin).await?;
    if events.is_empty() {
        eprintln!("{vin}: no events");
        return Ok(Outcome::Findings);
    }
    for r in events {
        let doc = jianghai_core::epcis::object_event(&r.event, Some(&r.record_time));
        println!("{doc}");
    }
    Ok(Outcome::Ok)
}
