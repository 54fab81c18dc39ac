//! PostgreSQL at volume (the SQLite path is unchanged):
//!
//! - **Readings partitioned by time:** `readings` is a native range-partitioned table on `at`
//!   (fixed-format UTC text in the "C" collation, so bytewise order is time order), one partition per month
//!   (`readings_pYYYYMM`) plus `readings_default` for anything no month covers.
//!   [`Store::maintain_reading_partitions`] creates the current and the next
//!   [`MONTHS_AHEAD`] months ahead (moving rows out of the default partition if some
//!   arrived first) and drops whole months older than the longest retention of any
//!   organisation; the per-sensor retention delete then only touches the boundary month.
//! - **Bulk ingestion with COPY:** a group commit of [`COPY_MIN_ROWS`] readings or more is
//!   copied (`COPY … FROM STDIN`, text format) into a per-connection temporary table and moved
//!   into `readings` with one `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`, which tells
//!   stored from duplicate exactly as the multi-row `INSERT` does for smaller batches.
//! - **Indexes:** the VIN timeline reads `event_vins`' primary key (vin, event_time, seq) and
//!   the ledger's; alert lists by subject read `alerts_by_subject_id` (kind, id, alert id).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::{Backend, Store, StoreError};

/// Months created ahead of the current one.
pub const MONTHS_AHEAD: u32 = 2;

/// Batches at least this large are written with COPY on PostgreSQL.
pub const COPY_MIN_ROWS: usize = 256;

/// Migration 11 on PostgreSQL: `readings` becomes partitioned (existing rows move into the
/// default partition and out of it as months are created), plus the alert index.
pub(crate) const POSTGRES_VOLUME: &str = r#"
ALTER TABLE readings RENAME TO readings_unpartitioned;
ALTER TABLE readings_unpartitioned RENAME CONSTRAINT readings_pkey TO readings_unpartitioned_pkey;
CREATE TABLE readings (
    device TEXT NOT NULL,
    sensor TEXT NOT NULL,
    at     TEXT COLLATE "C" NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    unit   TEXT NOT NULL,
    lat    DOUBLE PRECISION,
    lon    DOUBLE PRECISION,
    PRIMARY KEY (device, sensor, at)
) PARTITION BY RANGE (at);
CREATE TABLE readings_default PARTITION OF readings DEFAULT;
INSERT INTO readings SELECT device, sensor, at, value, unit, lat, lon FROM readings_unpartitioned;
DROP TABLE readings_unpartitioned;
CREATE INDEX alerts_by_subject_id ON alerts(subject_kind, subject_id, id);
"#;

/// The first day of the month `n` months after `d`'s.
fn month_start(d: NaiveDate, n: i32) -> NaiveDate {
    let m0 = d.year() * 12 + d.month0() as i32 + n;
    NaiveDate::from_ymd_opt(m0.div_euclid(12), m0.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(NaiveDate::MIN)
}

fn partition_name(start: NaiveDate) -> String {
    format!("readings_p{:04}{:02}", start.year(), start.month())
}

/// A month partition's name and bounds (`YYYY-MM-01`, inclusive, to the next month's,
/// exclusive: every `format_time` of that month sorts between them).
pub fn month_partition(start: NaiveDate) -> (String, String, String) {
    let end = month_start(start, 1);
    (
        partition_name(start),
        start.format("%Y-%m-%d").to_string(),
        end.format("%Y-%m-%d").to_string(),
    )
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionReport {
    pub created: Vec<String>,
    pub dropped: Vec<String>,
}

impl Store {
    /// PostgreSQL: creates this month's and the next [`MONTHS_AHEAD`] months' reading
    /// partitions and drops the months that ended more than the longest retention ago
    /// (`keep_days`, at least that of every organisation) before `now`. SQLite: nothing.
    pub async fn maintain_reading_partitions(
        &self,
        now: DateTime<Utc>,
        keep_days: i64,
    ) -> Result<PartitionReport, StoreError> {
        self.partition_pass(now, Some(keep_days)).await
    }

    /// Creates this month's and the months ahead's partitions, dropping nothing. Opening a
    /// PostgreSQL store does this before anything is written: attaching a month's partition
    /// while a reading of that month is being routed to the default partition fails that
    /// insert, so a month must exist before its first reading can arrive.
    pub(crate) async fn create_reading_partitions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<PartitionReport, StoreError> {
        self.partition_pass(now, None).await
    }

    async fn partition_pass(
        &self,
        now: DateTime<Utc>,
        keep_days: Option<i64>,
    ) -> Result<PartitionReport, StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(PartitionReport::default());
        };
        let mut report = PartitionReport::default();
        // One pass at a time across nodes: the whole pass is one transaction holding an
        // advisory lock.
        let mut tx = pool.begin().await?;
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.readings_partitions'))",
        )
        .execute(&mut *tx)
        .await?;
        let existing: Vec<(String,)> = sqlx::query_as(
            "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent \
             WHERE p.relname = 'readings' AND p.relnamespace = to_regnamespace(current_schema())",
        )
        .fetch_all(&mut *tx)
        .await?;
        let existing: std::collections::HashSet<String> =
            existing.into_iter().map(|(n,)| n).collect();
        let this_month = month_start(now.date_naive(), 0);
        for n in 0..=MONTHS_AHEAD as i32 {
            let (name, from, to) = month_partition(month_start(this_month, n));
            if existing.contains(&name) {
                continue;
            }
            // Rows of that month that arrived before it existed are in the default
            // partition: move them into the new table, then attach it.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )))
            .execute(&mut *tx)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "WITH moved AS (DELETE FROM readings_default \
                 WHERE at >= $1 AND at < $2 RETURNING *) \
                 INSERT INTO {name} SELECT * FROM moved"
            )))
            .bind(&from)
            .bind(&to)
            .execute(&mut *tx)
            .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE readings ATTACH PARTITION {name} FOR VALUES FROM ('{from}') TO ('{to}')"
            )))
            .execute(&mut *tx)
            .await?;
            report.created.push(name);
        }
        // Whole months past every retention.
        let mut old: Vec<&String> = match keep_days {
            None => Vec::new(),
            Some(keep_days) => {
                let cutoff = (now - Duration::days(keep_days.clamp(0, 1_000_000))).date_naive();
                existing
                    .iter()
                    .filter(|n| {
                        n.strip_prefix("readings_p")
                            .and_then(|ym| {
                                NaiveDate::parse_from_str(&format!("{ym}01"), "%Y%m%d").ok()
                            })
                            .is_some_and(|start| month_start(start, 1) <= cutoff)
                    })
                    .collect()
            }
        };
        old.sort();
        for name in old {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
                .execute(&mut *tx)
                .await?;
            report.dropped.push(name.clone());
        }
        tx.commit().await?;
        Ok(report)
    }

    /// The longest raw-reading retention of any organisation, in days (the default for those
    /// without their own).
    pub async fn longest_retention_days(&self) -> Result<i64, StoreError> {
        let (days,): (Option<i64>,) = crate::on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT MAX(days) FROM reading_retention"
        )
        .fetch_one(pool)
        .await?);
        Ok(days
            .unwrap_or(0)
            .max(crate::monitoring::DEFAULT_RETENTION_DAYS))
    }
}

/// Per engine: write new readings in bulk, or `None` to use the multi-row `INSERT`.
pub(crate) trait Bulk {
    /// Writes `rows` (device, sensor, at, value, unit, lat, lon) ignoring those already
    /// stored; returns the keys of the rows it stored.
    #[allow(clippy::type_complexity)]
    async fn copy_new(
        &mut self,
        rows: &[BulkRow<'_>],
    ) -> Result<Option<Vec<(String, String, String)>>, StoreError>;
}

/// One reading as stored.
pub(crate) type BulkRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    f64,
    &'a str,
    Option<f64>,
    Option<f64>,
);

impl Bulk for sqlx::SqliteConnection {
    async fn copy_new(
        &mut self,
        _rows: &[BulkRow<'_>],
    ) -> Result<Option<Vec<(String, String, String)>>, StoreError> {
        Ok(None)
    }
}

/// Text-format COPY field escaping.
fn copy_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn copy_float(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) => out.push_str(&v.to_string()),
        None => out.push_str("\\N"),
    }
}

impl Bulk for sqlx::PgConnection {
    async fn copy_new(
        &mut self,
        rows: &[BulkRow<'_>],
    ) -> Result<Option<Vec<(String, String, String)>>, StoreError> {
        use sqlx::Row;
        if rows.len() < COPY_MIN_ROWS {
            return Ok(None);
        }
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS readings_copy (device TEXT, sensor TEXT, at TEXT, \
             value DOUBLE PRECISION, unit TEXT, lat DOUBLE PRECISION, lon DOUBLE PRECISION) \
             ON COMMIT DELETE ROWS",
        )
        .execute(&mut *self)
        .await?;
        let mut data = String::with_capacity(rows.len() * 96);
        for (device, sensor, at, value, unit, lat, lon) in rows {
            copy_text(&mut data, device);
            data.push('\t');
            copy_text(&mut data, sensor);
            data.push('\t');
            copy_text(&mut data, at);
            data.push('\t');
            copy_float(&mut data, Some(*value));
            data.push('\t');
            copy_text(&mut data, unit);
            data.push('\t');
            copy_float(&mut data, *lat);
            data.push('\t');
            copy_float(&mut data, *lon);
            data.push('\n');
        }
        let mut copy = self
            .copy_in_raw(
                "COPY readings_copy (device, sensor, at, value, unit, lat, lon) FROM STDIN",
            )
            .await?;
        copy.send(data.into_bytes()).await?;
        copy.finish().await?;
        let stored = sqlx::query(
            "INSERT INTO readings (device, sensor, at, value, unit, lat, lon) \
             SELECT device, sensor, at, value, unit, lat, lon FROM readings_copy \
             ON CONFLICT DO NOTHING RETURNING device, sensor, at",
        )
        .fetch_all(&mut *self)
        .await?;
        let keys = stored
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_their_bounds() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 3).expect("date");
        assert_eq!(
            month_start(d, 0),
            NaiveDate::from_ymd_opt(2026, 12, 1).expect("d")
        );
        assert_eq!(
            month_start(d, 1),
            NaiveDate::from_ymd_opt(2027, 1, 1).expect("d")
        );
        assert_eq!(
            month_start(d, -12),
            NaiveDate::from_ymd_opt(2025, 12, 1).expect("d")
        );
        let (name, from, to) = month_partition(month_start(d, 0));
        assert_eq!(
            (name.as_str(), from.as_str(), to.as_str()),
            ("readings_p202612", "2026-12-01", "2027-01-01")
        );
        // Every stored time of the month sorts within the bounds, bytewise.
        let t = jianghai_core::ledger::format_time(
            chrono::DateTime::parse_from_rfc3339("2026-12-31T23:59:59.999999Z")
                .expect("t")
                .with_timezone(&Utc),
        );
        assert!(
            from.as_str() <= t.as_str() && t.as_str() < to.as_str(),
            "{t}"
        );
    }

    #[test]
    fn copy_fields_are_escaped() {
        let mut s = String::new();
        copy_text(&mut s, "a\tb\\c\nd");
        copy_float(&mut s, None);
        assert_eq!(s, "a\\tb\\\\c\\nd\\N");
    }
}
