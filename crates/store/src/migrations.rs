//! The schema, once per backend. Times are fixed-format UTC text
//! ([`jianghai_core::ledger::format_time`]) in both, so they sort and hash identically.
//!
//! The ledger is append-only twice over: triggers refuse UPDATE and DELETE, and the hash chain
//! exposes anyone who gets around them.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

const COMMON: &str = r#"
CREATE TABLE organisations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE facilities (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    operator TEXT NOT NULL REFERENCES organisations(id),
    lat      DOUBLE PRECISION,
    lon      DOUBLE PRECISION
);
CREATE TABLE vessels (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    carrier TEXT NOT NULL REFERENCES organisations(id),
    mmsi    BIGINT,
    imo     BIGINT
);
CREATE TABLE voyages (
    id          TEXT PRIMARY KEY,
    vessel      TEXT NOT NULL REFERENCES vessels(id),
    origin      TEXT NOT NULL REFERENCES facilities(id),
    destination TEXT NOT NULL REFERENCES facilities(id)
);
CREATE TABLE ledger (
    seq          BIGINT PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    event_time   TEXT NOT NULL,
    record_time  TEXT NOT NULL,
    biz_step     TEXT NOT NULL,
    organisation TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE TABLE ledger_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    count BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO ledger_head (id, count, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
-- The VIN timeline index: which ledger entries name a VIN, in event-time order.
CREATE TABLE event_vins (
    vin        TEXT NOT NULL,
    event_time TEXT NOT NULL,
    seq        BIGINT NOT NULL REFERENCES ledger(seq),
    PRIMARY KEY (vin, event_time, seq)
);
-- The current-state projection of the ledger, updated in the append transaction.
CREATE TABLE vehicles (
    vin          TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    held_from    TEXT,
    exporter     TEXT NOT NULL REFERENCES organisations(id),
    manufacturer TEXT,
    model_year   INTEGER,
    last_seq     BIGINT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX vehicles_by_state ON vehicles(state);
CREATE INDEX vehicles_by_exporter ON vehicles(exporter);
"#;

const SQLITE_GUARDS: &str = r#"
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"#;

const POSTGRES_GUARDS: &str = r#"
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the ledger is append-only'; END; $$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE OR DELETE ON ledger
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
"#;

/// Version 2: who may do what. Users, API tokens (stored as SHA-256 of the secret, owned by a
/// user or a device), devices, shipments and their VINs, the audit log and login throttling.
/// Booleans are nullable times (`disabled_at`, `revoked_at`), so both engines read them alike.
const ACCESS: &str = r#"
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    organisation  TEXT NOT NULL REFERENCES organisations(id),
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at    TEXT NOT NULL,
    disabled_at   TEXT
);
CREATE INDEX users_by_organisation ON users(organisation, id);
CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    kind         TEXT NOT NULL CHECK (kind IN ('sensor', 'camera', 'ais_receiver', 'e_seal')),
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    disabled_at  TEXT
);
CREATE INDEX devices_by_organisation ON devices(organisation, id);
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    user_id     TEXT REFERENCES users(id),
    device_id   TEXT REFERENCES devices(id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT,
    CHECK ((user_id IS NULL) <> (device_id IS NULL))
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id, id);
CREATE TABLE shipments (
    id                  TEXT PRIMARY KEY,
    exporter            TEXT NOT NULL REFERENCES organisations(id),
    destination_country TEXT NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX shipments_by_exporter ON shipments(exporter, id);
CREATE TABLE shipment_vins (
    shipment TEXT NOT NULL REFERENCES shipments(id),
    vin      TEXT NOT NULL,
    PRIMARY KEY (shipment, vin)
);
CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    at           TEXT NOT NULL,
    organisation TEXT,
    principal    TEXT,
    method       TEXT NOT NULL,
    route        TEXT NOT NULL,
    object       TEXT NOT NULL,
    status       INTEGER NOT NULL,
    request_id   TEXT
);
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    first_at     TEXT NOT NULL,
    locked_until TEXT
);
"#;

/// Version 4: monitoring. Sensors (keyed by device and sensor key) with what they watch
/// (`subject_kind`, `subject_id` and its `owner`, named as on alerts, so the same scopes
/// apply); raw readings keyed by (device, sensor, event time), so a duplicate is stored once
/// (`{WITHOUT_ROWID}` on SQLite keeps them in key order, with no second b-tree); rollups per
/// minute and hour with min, max, sum and count; retention in days per organisation.
const MONITORING: &str = r#"
CREATE TABLE sensors (
    device       TEXT NOT NULL REFERENCES devices(id),
    sensor       TEXT NOT NULL,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    measurement  TEXT NOT NULL,
    unit         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    owner        TEXT NOT NULL,
    name         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (device, sensor)
);
CREATE INDEX sensors_by_subject ON sensors(subject_kind, subject_id);
CREATE INDEX sensors_by_organisation ON sensors(organisation);
CREATE TABLE readings (
    device TEXT NOT NULL,
    sensor TEXT NOT NULL,
    at     TEXT NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    unit   TEXT NOT NULL,
    lat    DOUBLE PRECISION,
    lon    DOUBLE PRECISION,
    PRIMARY KEY (device, sensor, at)
){WITHOUT_ROWID};
CREATE TABLE reading_rollups (
    device     TEXT NOT NULL,
    sensor     TEXT NOT NULL,
    resolution BIGINT NOT NULL CHECK (resolution IN (60, 3600)),
    bucket     TEXT NOT NULL,
    min        DOUBLE PRECISION NOT NULL,
    max        DOUBLE PRECISION NOT NULL,
    sum        DOUBLE PRECISION NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (device, sensor, resolution, bucket)
){WITHOUT_ROWID};
CREATE TABLE reading_retention (
    organisation TEXT PRIMARY KEY REFERENCES organisations(id),
    days         BIGINT NOT NULL
);
"#;

/// Version 8: alerts. One open alert per (rule, subject) is a partial unique index, which both
/// engines enforce against concurrent writers; `owner` is what the subject belongs to (the
/// vessel of a deck), for scoping. The alert log (`alert_events`) numbers every change from a
/// one-row head that writers update in their transaction, so numbers commit in order. Webhooks
/// keep their cursor into that log; each delivery and each attempt is recorded.
const ALERTS: &str = r#"
CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    rule            TEXT NOT NULL,
    subject_kind    TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    owner           TEXT NOT NULL,
    source          TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    severity_before TEXT,
    state           TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    title           TEXT NOT NULL,
    detail          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    last_evidence   TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    count           BIGINT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    resolved_at     TEXT,
    resolved_by     TEXT,
    resolution      TEXT,
    assignee        TEXT,
    escalation      INTEGER NOT NULL,
    escalated_at    TEXT,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX alerts_one_open ON alerts(rule, subject_kind, subject_id)
    WHERE resolved_at IS NULL;
CREATE INDEX alerts_by_subject ON alerts(subject_kind, subject_id);
CREATE INDEX alerts_by_owner ON alerts(owner);
CREATE INDEX alerts_by_state ON alerts(state, severity);
CREATE TABLE alert_comments (
    id     TEXT PRIMARY KEY,
    alert  TEXT NOT NULL REFERENCES alerts(id),
    at     TEXT NOT NULL,
    author TEXT NOT NULL,
    body   TEXT NOT NULL
);
CREATE INDEX alert_comments_by_alert ON alert_comments(alert, id);
CREATE TABLE alert_log_head (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO alert_log_head (id, seq) VALUES (1, 0);
CREATE TABLE alert_events (
    seq    BIGINT PRIMARY KEY,
    alert  TEXT NOT NULL REFERENCES alerts(id),
    at     TEXT NOT NULL,
    kind   TEXT NOT NULL,
    actor  TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX alert_events_by_alert ON alert_events(alert, seq);
CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    url          TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    disabled_at  TEXT,
    cursor       BIGINT NOT NULL
);
CREATE INDEX webhooks_by_organisation ON webhooks(organisation, id);
CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    webhook      TEXT NOT NULL REFERENCES webhooks(id),
    event_seq    BIGINT NOT NULL,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL,
    next_at      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (webhook, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);
CREATE TABLE webhook_attempts (
    delivery    TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery, attempt)
);
"#;

/// Version 7: vessels at sea. AIS positions of registered vessels keyed by (MMSI, time), their
/// static data by MMSI, and what voyage tracking derived from them: the latest progress per
/// voyage and its history, state changes, lock passages (also ledger events), per-section
/// transit times (the ETA model's history) and voyage plans. Vessels are linked to their AIS
/// station by `vessels.mmsi`; the voyage a position belongs to is found from the ledger's
/// departing/arriving events, hence the index on `ledger(biz_step)`.
const VESSELS: &str = r#"
CREATE INDEX vessels_by_mmsi ON vessels(mmsi);
CREATE INDEX ledger_by_biz_step ON ledger(biz_step, event_time);
CREATE TABLE ais_positions (
    mmsi        BIGINT NOT NULL,
    at          TEXT NOT NULL,
    vessel      TEXT NOT NULL REFERENCES vessels(id),
    voyage      TEXT REFERENCES voyages(id),
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    sog_kn      DOUBLE PRECISION,
    cog_deg     DOUBLE PRECISION,
    heading     BIGINT,
    nav_status  BIGINT,
    received_at TEXT NOT NULL,
    PRIMARY KEY (mmsi, at)
);
CREATE INDEX ais_positions_by_vessel ON ais_positions(vessel, at);
CREATE INDEX ais_positions_by_voyage ON ais_positions(voyage, at);
CREATE TABLE ais_static (
    mmsi        BIGINT PRIMARY KEY,
    vessel      TEXT NOT NULL REFERENCES vessels(id),
    name        TEXT,
    callsign    TEXT,
    imo         BIGINT,
    ship_type   BIGINT,
    length_m    BIGINT,
    beam_m      BIGINT,
    draught_m   DOUBLE PRECISION,
    destination TEXT,
    updated_at  TEXT NOT NULL
);
CREATE TABLE voyage_plans (
    voyage           TEXT PRIMARY KEY REFERENCES voyages(id),
    planned_arrival  TEXT,
    transit_deadline TEXT,
    updated_at       TEXT NOT NULL
);
CREATE TABLE voyage_tracks (
    voyage      TEXT PRIMARY KEY REFERENCES voyages(id),
    vessel      TEXT NOT NULL REFERENCES vessels(id),
    at          TEXT NOT NULL,
    state       TEXT NOT NULL,
    state_since TEXT NOT NULL,
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    km          DOUBLE PRECISION NOT NULL,
    offset_m    DOUBLE PRECISION NOT NULL,
    sog_kn      DOUBLE PRECISION NOT NULL,
    total_km    DOUBLE PRECISION NOT NULL,
    done_km     DOUBLE PRECISION NOT NULL,
    to_go_km    DOUBLE PRECISION NOT NULL,
    percent     DOUBLE PRECISION NOT NULL,
    next_place  TEXT,
    next_p50    TEXT,
    next_p90    TEXT,
    arrival_p50 TEXT,
    arrival_p90 TEXT,
    updated_at  TEXT NOT NULL
);
CREATE TABLE voyage_progress (
    voyage      TEXT NOT NULL REFERENCES voyages(id),
    at          TEXT NOT NULL,
    state       TEXT NOT NULL,
    km          DOUBLE PRECISION NOT NULL,
    sog_kn      DOUBLE PRECISION NOT NULL,
    done_km     DOUBLE PRECISION NOT NULL,
    percent     DOUBLE PRECISION NOT NULL,
    arrival_p50 TEXT,
    PRIMARY KEY (voyage, at)
);
CREATE TABLE voyage_states (
    voyage TEXT NOT NULL REFERENCES voyages(id),
    at     TEXT NOT NULL,
    state  TEXT NOT NULL,
    km     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (voyage, at)
);
CREATE TABLE lock_passages (
    voyage        TEXT NOT NULL REFERENCES voyages(id),
    lock_id       TEXT NOT NULL,
    direction     TEXT NOT NULL CHECK (direction IN ('downstream', 'upstream')),
    waiting_since TEXT,
    entered       TEXT NOT NULL,
    left_at       TEXT NOT NULL,
    inferred      BIGINT NOT NULL,
    wait_h        DOUBLE PRECISION NOT NULL,
    passage_h     DOUBLE PRECISION NOT NULL,
    event_id      TEXT NOT NULL,
    PRIMARY KEY (voyage, lock_id)
);
CREATE INDEX lock_passages_by_time ON lock_passages(entered);
CREATE TABLE section_transits (
    voyage    TEXT NOT NULL REFERENCES voyages(id),
    section   TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('downstream', 'upstream')),
    entered   TEXT NOT NULL,
    left_at   TEXT NOT NULL,
    hours     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (voyage, section)
);
CREATE INDEX section_transits_by_time ON section_transits(left_at);
"#;

/// Version 3: the ties that decide carriers' and ports' reads. `vehicle_links` is a projection
/// of the ledger (every VIN an event names, to its voyage, read point and business location),
/// backfilled here from what is already recorded; a shipment may be booked on a voyage, which
/// shows its cars to that voyage's carrier and ports before any of them has handled one.
const LINKS: &str = r#"
CREATE TABLE vehicle_links (
    vin  TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('voyage', 'facility')),
    ref  TEXT NOT NULL,
    PRIMARY KEY (vin, kind, ref)
);
CREATE INDEX vehicle_links_by_ref ON vehicle_links(kind, ref, vin);
ALTER TABLE shipments ADD COLUMN voyage TEXT REFERENCES voyages(id);
CREATE INDEX shipments_by_voyage ON shipments(voyage);
CREATE INDEX shipment_vins_by_vin ON shipment_vins(vin);
"#;

/// The backfill of `vehicle_links`, with `{path}` replaced per JSON path and engine.
fn links_backfill(text: impl Fn(&str) -> String) -> String {
    [
        ("voyage", "subjects.voyage"),
        ("facility", "readPoint"),
        ("facility", "bizLocation"),
    ]
    .iter()
    .map(|(kind, path)| {
        let t = text(path);
        format!(
            "INSERT INTO vehicle_links (vin, kind, ref) SELECT DISTINCT ev.vin, '{kind}', {t} \
             FROM event_vins ev JOIN ledger l ON l.seq = ev.seq WHERE {t} IS NOT NULL \
             ON CONFLICT DO NOTHING;\n"
        )
    })
    .collect()
}

fn links_sqlite() -> String {
    let backfill = links_backfill(|p| format!("json_extract(l.body, '$.{p}')"));
    format!("{LINKS}{backfill}")
}

fn links_postgres() -> String {
    let backfill = links_backfill(|p| format!("(l.body::jsonb #>> '{{{}}}')", p.replace('.', ",")));
    format!("{LINKS}{backfill}")
}

/// Version 5: consolidation and tally. Gate-ins (with the ledger entry that moved the car, if
/// any), tally sessions and their identifications and results, condition reports with damage
/// entries, photos stored once under their SHA-256, and the damage-code table the operator
/// loads. `{BLOB}` is the engine's binary type.
const TALLY: &str = r#"
CREATE TABLE gate_ins (
    id           TEXT PRIMARY KEY,
    facility     TEXT NOT NULL REFERENCES facilities(id),
    vin          TEXT NOT NULL,
    at           TEXT NOT NULL,
    truck        TEXT,
    driver       TEXT,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    username     TEXT NOT NULL,
    seq          BIGINT REFERENCES ledger(seq)
);
CREATE INDEX gate_ins_by_facility ON gate_ins(facility, at);
CREATE INDEX gate_ins_by_vin ON gate_ins(vin);
CREATE TABLE tally_sessions (
    id             TEXT PRIMARY KEY,
    facility       TEXT NOT NULL REFERENCES facilities(id),
    shipment       TEXT NOT NULL REFERENCES shipments(id),
    organisation   TEXT NOT NULL REFERENCES organisations(id),
    tallyman       TEXT NOT NULL,
    opened_at      TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('open', 'closing', 'closed')),
    min_confidence DOUBLE PRECISION NOT NULL,
    closed_at      TEXT,
    event_id       TEXT,
    next_seq       BIGINT NOT NULL
);
CREATE UNIQUE INDEX tally_sessions_one_open ON tally_sessions(facility, shipment)
    WHERE state <> 'closed';
CREATE TABLE identifications (
    id           TEXT PRIMARY KEY,
    session      TEXT NOT NULL REFERENCES tally_sessions(id),
    seq          BIGINT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('typed', 'scanner', 'image', 'external')),
    text         TEXT NOT NULL,
    vin          TEXT,
    confidence   DOUBLE PRECISION,
    image        TEXT,
    for_line     BIGINT,
    at           TEXT NOT NULL,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    username     TEXT NOT NULL,
    UNIQUE (session, seq)
);
CREATE TABLE tally_results (
    session        TEXT NOT NULL REFERENCES tally_sessions(id),
    n              BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    line           BIGINT,
    expected       TEXT,
    observed       TEXT,
    identification BIGINT,
    detail         TEXT NOT NULL,
    PRIMARY KEY (session, n)
);
CREATE TABLE photos (
    sha256     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       BIGINT NOT NULL,
    bytes      {BLOB} NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE photo_uploads (
    sha256       TEXT NOT NULL REFERENCES photos(sha256),
    organisation TEXT NOT NULL REFERENCES organisations(id),
    PRIMARY KEY (sha256, organisation)
);
CREATE TABLE condition_reports (
    id           TEXT PRIMARY KEY,
    facility     TEXT NOT NULL REFERENCES facilities(id),
    vin          TEXT NOT NULL,
    session      TEXT REFERENCES tally_sessions(id),
    at           TEXT NOT NULL,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    username     TEXT NOT NULL,
    note         TEXT
);
CREATE INDEX condition_reports_by_vin ON condition_reports(vin);
CREATE INDEX condition_reports_by_session ON condition_reports(session);
CREATE TABLE damage_entries (
    report   TEXT NOT NULL REFERENCES condition_reports(id),
    n        BIGINT NOT NULL,
    code     TEXT NOT NULL,
    area     BIGINT NOT NULL,
    kind     BIGINT NOT NULL,
    severity BIGINT NOT NULL,
    note     TEXT,
    PRIMARY KEY (report, n)
);
CREATE TABLE report_photos (
    report TEXT NOT NULL REFERENCES condition_reports(id),
    sha256 TEXT NOT NULL REFERENCES photos(sha256),
    PRIMARY KEY (report, sha256)
);
CREATE TABLE damage_code_table (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    edition   TEXT NOT NULL,
    csv       TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    loaded_by TEXT NOT NULL
);
"#;

const CUSTOMS: &str = r#"
CREATE TABLE ship_filings (
    vessel      TEXT PRIMARY KEY REFERENCES vessels(id),
    carrier     TEXT NOT NULL,
    positioning BOOLEAN NOT NULL,
    video       BOOLEAN NOT NULL,
    filed_at    TEXT NOT NULL
);
CREATE TABLE transit_declarations (
    number      TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    state       TEXT NOT NULL,
    held_from   TEXT,
    hold_reason TEXT,
    declared_by TEXT NOT NULL REFERENCES organisations(id),
    voyage      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE transit_vins (
    number TEXT NOT NULL REFERENCES transit_declarations(number),
    vin    TEXT NOT NULL,
    PRIMARY KEY (number, vin)
);
CREATE INDEX transit_vins_by_vin ON transit_vins(vin);
CREATE TABLE transit_log (
    number       TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    at           TEXT NOT NULL,
    organisation TEXT NOT NULL,
    action       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT NOT NULL,
    PRIMARY KEY (number, seq)
);
"#;

/// Customs, continued: holds on single cars of a transit with their reasons and release, the
/// seal subjects of each declaration (`<vessel>/<seal number>`, so an exporter sees the alerts
/// of the seals on its transits), the Shanghai ocean legs with each car's transfer and export,
/// and the credit classes customs records for exporters and carriers (tax-refund facts).
const CUSTOMS_HOLDS: &str = r#"
CREATE TABLE transit_holds (
    number      TEXT NOT NULL REFERENCES transit_declarations(number),
    vin         TEXT NOT NULL,
    n           BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    held_at     TEXT NOT NULL,
    held_by     TEXT NOT NULL,
    released_at TEXT,
    released_by TEXT,
    PRIMARY KEY (number, vin, n)
);
CREATE TABLE transit_seals (
    number  TEXT NOT NULL REFERENCES transit_declarations(number),
    subject TEXT NOT NULL,
    PRIMARY KEY (number, subject)
);
CREATE INDEX transit_seals_by_subject ON transit_seals(subject);
CREATE TABLE ocean_legs (
    voyage TEXT PRIMARY KEY REFERENCES voyages(id),
    feeder TEXT,
    body   TEXT NOT NULL,
    set_at TEXT NOT NULL,
    set_by TEXT NOT NULL
);
CREATE TABLE transshipments (
    vin             TEXT NOT NULL,
    voyage          TEXT NOT NULL REFERENCES voyages(id),
    transfer        TEXT NOT NULL,
    arrived_at      TEXT NOT NULL,
    transshipped_at TEXT NOT NULL,
    dwell_seconds   BIGINT NOT NULL,
    exported_at     TEXT,
    PRIMARY KEY (vin, voyage)
);
CREATE TABLE credit_records (
    organisation    TEXT PRIMARY KEY REFERENCES organisations(id),
    body            TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL
);
"#;

/// Precise loading (精准装船): deck plans, stowage plans with their edits, ramp scans and
/// load completions. Plans and their inputs are kept as the stowage crate's JSON.
const LOADING: &str = r#"
CREATE TABLE deck_plans (
    vessel       TEXT PRIMARY KEY REFERENCES vessels(id),
    body         TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    username     TEXT NOT NULL
);
CREATE TABLE stowage_plans (
    voyage       TEXT PRIMARY KEY REFERENCES voyages(id),
    vessel       TEXT NOT NULL REFERENCES vessels(id),
    deck_plan    TEXT NOT NULL,
    cars         TEXT NOT NULL,
    plan         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    username     TEXT NOT NULL
);
CREATE TABLE stowage_plan_vins (
    voyage TEXT NOT NULL REFERENCES stowage_plans(voyage),
    vin    TEXT NOT NULL,
    PRIMARY KEY (voyage, vin)
);
CREATE INDEX stowage_plan_vins_by_vin ON stowage_plan_vins(vin);
CREATE TABLE stowage_edits (
    voyage       TEXT NOT NULL REFERENCES stowage_plans(voyage),
    version      BIGINT NOT NULL,
    edit         TEXT NOT NULL,
    at           TEXT NOT NULL,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    username     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    PRIMARY KEY (voyage, version)
);
CREATE TABLE ramp_scans (
    id           TEXT PRIMARY KEY,
    voyage       TEXT NOT NULL REFERENCES stowage_plans(voyage),
    n            BIGINT NOT NULL,
    vin          TEXT NOT NULL,
    deck         TEXT NOT NULL,
    lane         TEXT NOT NULL,
    at           TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    accepted     BIGINT NOT NULL CHECK (accepted IN (0, 1)),
    refusal      TEXT,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    username     TEXT NOT NULL,
    seq          BIGINT REFERENCES ledger(seq),
    UNIQUE (voyage, n)
);
CREATE TABLE load_completions (
    voyage            TEXT PRIMARY KEY REFERENCES stowage_plans(voyage),
    at                TEXT NOT NULL,
    reconciliation    TEXT NOT NULL,
    departure_allowed BIGINT NOT NULL CHECK (departure_allowed IN (0, 1)),
    organisation      TEXT NOT NULL REFERENCES organisations(id),
    username          TEXT NOT NULL,
    event_id          TEXT NOT NULL
);
"#;

/// Migration 12, both engines: the dangerous goods declared with a shipment (UN numbers,
/// comma-separated; empty when none), a recorded fact of the departure-port tax refund.
const SHIPMENT_DANGEROUS_GOODS: &str = r#"
ALTER TABLE shipments ADD COLUMN dangerous_goods TEXT NOT NULL DEFAULT '';
"#;

/// Migration 13, SQLite's alone: rollups kept in time order. Keyed by sensor first, a batch of
/// readings from 2,000 sensors updated a minute and an hour row on each sensor's own b-tree
/// leaf: two pages written per sensor per commit. Keyed by (resolution, bucket) first, the
/// rows being updated are the current buckets' few adjacent leaves; the per-sensor index that
/// charts read is written only when a bucket row is new (an update changes none of its
/// columns). PostgreSQL keeps its heap, which updates in place.
const SQLITE_ROLLUPS_IN_TIME_ORDER: &str = r#"
CREATE TABLE reading_rollups_by_time (
    device     TEXT NOT NULL,
    sensor     TEXT NOT NULL,
    resolution BIGINT NOT NULL CHECK (resolution IN (60, 3600)),
    bucket     TEXT NOT NULL,
    min        DOUBLE PRECISION NOT NULL,
    max        DOUBLE PRECISION NOT NULL,
    sum        DOUBLE PRECISION NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (resolution, bucket, device, sensor)
) WITHOUT ROWID;
INSERT INTO reading_rollups_by_time (device, sensor, resolution, bucket, min, max, sum, count)
    SELECT device, sensor, resolution, bucket, min, max, sum, count FROM reading_rollups;
DROP TABLE reading_rollups;
ALTER TABLE reading_rollups_by_time RENAME TO reading_rollups;
CREATE INDEX reading_rollups_by_sensor ON reading_rollups (device, sensor, resolution, bucket);
"#;

fn migration(version: i64, description: &'static str, sql: String) -> Migration {
    Migration::new(
        version,
        Cow::Borrowed(description),
        MigrationType::Simple,
        sqlx::AssertSqlSafe(sql).into_sql_str(),
        false,
    )
}

/// Migrations for SQLite.
pub fn sqlite() -> Migrator {
    Migrator::with_migrations(vec![
        migration(1, "ledger and registry", format!("{COMMON}{SQLITE_GUARDS}")),
        migration(2, "access", ACCESS.to_string()),
        migration(3, "access links", links_sqlite()),
        migration(
            4,
            "monitoring",
            MONITORING.replace("{WITHOUT_ROWID}", " WITHOUT ROWID"),
        ),
        migration(5, "tally", TALLY.replace("{BLOB}", "BLOB")),
        migration(6, "loading", LOADING.to_string()),
        migration(7, "vessels", VESSELS.to_string()),
        migration(8, "alerts", ALERTS.to_string()),
        migration(9, "customs", CUSTOMS.to_string()),
        migration(
            10,
            "customs holds, seals, transshipment and credit",
            CUSTOMS_HOLDS.to_string(),
        ),
        // (11, readings at volume, is PostgreSQL's alone.)
        migration(
            12,
            "shipment dangerous goods",
            SHIPMENT_DANGEROUS_GOODS.to_string(),
        ),
        migration(
            13,
            "rollups in time order",
            SQLITE_ROLLUPS_IN_TIME_ORDER.to_string(),
        ),
    ])
}

/// Migrations for PostgreSQL.
pub fn postgres() -> Migrator {
    Migrator::with_migrations(vec![
        migration(
            1,
            "ledger and registry",
            format!("{COMMON}{POSTGRES_GUARDS}"),
        ),
        migration(2, "access", ACCESS.to_string()),
        migration(3, "access links", links_postgres()),
        migration(4, "monitoring", MONITORING.replace("{WITHOUT_ROWID}", "")),
        migration(5, "tally", TALLY.replace("{BLOB}", "BYTEA")),
        migration(6, "loading", LOADING.to_string()),
        migration(7, "vessels", VESSELS.to_string()),
        migration(8, "alerts", ALERTS.to_string()),
        migration(9, "customs", CUSTOMS.to_string()),
        migration(
            10,
            "customs holds, seals, transshipment and credit",
            CUSTOMS_HOLDS.to_string(),
        ),
        migration(
            11,
            "readings at volume",
            crate::volume::POSTGRES_VOLUME.to_string(),
        ),
        migration(
            12,
            "shipment dangerous goods",
            SHIPMENT_DANGEROUS_GOODS.to_string(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IngestRow, Store};
    use chrono::{TimeZone, Utc};
    use jianghai_core::Ident;
    use jianghai_core::reading::{MeasurementType, Reading, Subject, Unit};
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

    /// A SQLite file written before migration 13 keeps its rollups: the move to time order
    /// carries every row over, the charts' reads find them, and new readings of the same
    /// minute fold into the carried row (the upsert's conflict target is the new key).
    #[tokio::test]
    async fn rollups_carried_into_time_order_keep_folding() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("v12.db");
        let pool = SqlitePool::connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .expect("open");
        let mut v12 = sqlite();
        v12.migrations = v12
            .migrations
            .iter()
            .filter(|m| m.version <= 12)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        v12.run(&pool).await.expect("migrations 1-12");
        let minute = Utc
            .with_ymd_and_hms(2026, 11, 30, 8, 15, 0)
            .single()
            .expect("time");
        for (sensor, resolution, bucket, count) in [
            ("air", 60, minute, 3),
            ("air", 3600, minute - chrono::Duration::minutes(15), 3),
            ("rh", 60, minute, 1),
        ] {
            sqlx::query(
                "INSERT INTO reading_rollups (device, sensor, resolution, bucket, min, max, sum, count) \
                 VALUES ('dev-1', ?, ?, ?, 20.0, 22.0, 63.0, ?)",
            )
            .bind(sensor)
            .bind(resolution)
            .bind(jianghai_core::ledger::format_time(bucket))
            .bind(count)
            .execute(&pool)
            .await
            .expect("v12 rollup");
        }
        pool.close().await;

        let store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("migration 13");
        let (from, to) = (
            minute - chrono::Duration::hours(1),
            minute + chrono::Duration::hours(1),
        );
        let carried = store
            .rollups("dev-1", "air", 60, from, to, 10)
            .await
            .expect("read");
        assert_eq!(carried.len(), 1);
        assert_eq!(
            (carried[0].count, carried[0].min, carried[0].max),
            (3, 20.0, 22.0)
        );
        assert_eq!(
            store
                .rollups("dev-1", "rh", 60, from, to, 10)
                .await
                .expect("read")
                .len(),
            1
        );

        let reading = Reading::new(
            Ident::parse("dev-1").expect("ident"),
            "air",
            MeasurementType::Temperature,
            30.0,
            Unit::Celsius,
            minute + chrono::Duration::seconds(30),
            None,
            Utc::now(),
        )
        .expect("reading");
        store
            .store_readings(&[IngestRow {
                reading,
                organisation: Ident::parse("org-1").expect("ident"),
                subject: Subject::parse("facility:yard").expect("subject"),
            }])
            .await
            .expect("store");
        for (resolution, expected_at) in
            [(60, minute), (3600, minute - chrono::Duration::minutes(15))]
        {
            let r = store
                .rollups("dev-1", "air", resolution, from, to, 10)
                .await
                .expect("read");
            assert_eq!(r.len(), 1, "resolution {resolution}: {r:?}");
            assert_eq!(r[0].bucket, expected_at);
            assert_eq!((r[0].count, r[0].min, r[0].max), (4, 20.0, 30.0));
            assert_eq!(r[0].mean, 93.0 / 4.0);
        }
    }
}
