//! Group commit for the audit log. Every `/api/v1` request records one entry before its
//! response leaves, so under load the entries were a write transaction (and an fsync) per
//! request, taken outside the store's writer queue: on SQLite each one fought the readings'
//! group commit for the database's write lock, and the loser slept in SQLite's busy handler
//! (whole milliseconds at a time). Entries now wait in one queue; a single task writes
//! everything waiting in one transaction, through the writer queue, and only then answers each
//! caller: nothing is reported recorded that is not durable.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::access::AuditEntry;
use crate::{Store, StoreError};

/// Entries written in one transaction, at most.
const MAX_BATCH: usize = 1_000;

type Reply = oneshot::Sender<Result<(), Arc<StoreError>>>;

/// The queue's sending half, started on first use (a store may be opened outside a runtime's
/// task, and most stores never record an entry).
pub(crate) type AuditQueue = Arc<OnceLock<mpsc::UnboundedSender<(AuditEntry, Reply)>>>;

impl Store {
    /// Records an audit entry; returns once it is durable, written together with whatever
    /// other entries were waiting.
    pub async fn audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let queue = self.audit_queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            // The writer's store has a queue of its own (never used), so it does not keep this
            // one open: the writer ends when the last handle of this store is dropped.
            let writer = Store {
                audit_queue: Default::default(),
                ..self.clone()
            };
            tokio::spawn(write(writer, rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send((e.clone(), reply))
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Shared(e)),
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
        }
    }

    async fn write_audit(&self, batch: &[(AuditEntry, Reply)]) -> Result<(), StoreError> {
        let (begin, _writer) = self.writer().await;
        crate::write_tx!(self, begin, |tx| {
            for (e, _) in batch {
                sqlx::query(
                    "INSERT INTO audit_log (id, at, organisation, principal, method, route, \
                     object, status, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.id.to_string())
                .bind(&e.at)
                .bind(&e.organisation)
                .bind(&e.principal)
                .bind(&e.method)
                .bind(&e.route)
                .bind(&e.object)
                .bind(e.status)
                .bind(&e.request_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })
        .await?;
        Ok(())
    }
}

async fn write(store: Store, mut rx: mpsc::UnboundedReceiver<(AuditEntry, Reply)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let result = store.write_audit(&batch).await.map_err(Arc::new);
        if result.is_err() && batch.len() > 1 {
            // One entry the database refuses must not fail the others: each on its own.
            for one in batch {
                let result = store
                    .write_audit(std::slice::from_ref(&one))
                    .await
                    .map_err(Arc::new);
                answer(vec![one], result);
            }
        } else {
            answer(batch, result);
        }
    }
}

fn answer(batch: Vec<(AuditEntry, Reply)>, result: Result<(), Arc<StoreError>>) {
    if let Err(e) = &result {
        tracing::error!(error = %e, entries = batch.len(), "Cannot write audit entries; their requests fail.");
    }
    for (_, reply) in batch {
        // A caller that went away is no error: its entry is written all the same.
        let _ = reply.send(result.clone());
    }
}
