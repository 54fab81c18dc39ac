//! Vessel tracking: what AIS says about registered vessels, kept and followed along the river.
//!
//! [`Tracking`] takes decoded AIS messages (from the feeds in [`crate::feeds`]) with the time
//! they were received:
//!
//! - static and voyage data (types 5, 19, 24) of a registered vessel → `ais_static`;
//! - positions (types 1–3, 18, 19, 27) of a registered vessel → `ais_positions`, on the
//!   voyage the ledger says the vessel was on at that time (its `departing` and `arriving`
//!   events). On a voyage each position is a fix for the voyage's
//!   [`VoyageTracker`] (state, lock passages, section transits, progress, ETAs), whose
//!   changes are written with the position in one transaction, and an observation for its
//!   [`VoyageWatch`] (off the corridor, unplanned stop, AIS silence, ETA slip, transit limit),
//!   whose decisions become alerts on `voyage:<id>` ([`crate::alerting::persist`]);
//! - a lock passage is also appended to the ledger, as an EPCIS ObjectEvent about the voyage.
//!
//! Positions are timed by the tag block's `c:` field when there is one, else by reception.
//! MMSIs that no registered vessel claims are counted and dropped, as is anything that is not
//! a ship (base stations, aids to navigation). Trackers live in memory; after a restart a
//! voyage's tracker and detectors are rebuilt from its stored positions before its next fix.
//! The ETA model starts from the stored section transits and lock waits and learns each new one.
//! [`Tracking::tick`] raises AIS silence for voyages still under way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use jianghai_ais::message::NavigationStatus;
use jianghai_ais::{Decoded, Message};
use jianghai_core::ledger::format_time;
use jianghai_core::reading::{Subject, SubjectKind};
use jianghai_core::{Action, Actor, BizStep, Disposition, Event, Ident, Subjects, Vessel, Voyage};
use jianghai_store::{
    AppendError, LockPassageRecord, PositionRecord, SectionTransitRecord, StateChangeRecord,
    StaticRecord, Store, StoreError, TrackSnapshot, TrackingRecord, VoyagePlan, VoyageScope,
    VoyageWindow,
};
use jianghai_watch::Decision;
use jianghai_watch::voyage::{AnomalyConfig, Observation, VoyageWatch};
use jianghai_waterway::track::{FixRejected, LockPassage};
use jianghai_waterway::{
    Datums, Direction, EtaModel, Fix, NavHint, Position, TrackConfig, TrackEvent, VoyageTracker,
    Waterway,
};

/// The ledger's bizStep for a lock passage (CBV has none).
pub const LOCK_PASSAGE_STEP: &str = "https://jianghai.dev/voc/bizStep-passing_lock";

/// Thresholds and knobs of [`Tracking`].
#[derive(Debug, Clone)]
pub struct TrackingConfig {
    /// The voyage tracker's thresholds.
    pub track: TrackConfig,
    /// The voyage anomaly detectors' thresholds.
    pub anomalies: AnomalyConfig,
    /// A progress snapshot joins the voyage's history at most this often (and at each state
    /// change).
    pub progress_every: TimeDelta,
    /// A position timed further ahead of its reception than this is refused.
    pub max_ahead: TimeDelta,
    /// How long an MMSI's vessel and a vessel's voyages are trusted before being read again.
    pub cache_for: Duration,
    /// How often AIS silence is checked.
    pub silence_tick: Duration,
    /// Past section transits and lock waits the ETA model starts from, at most.
    pub eta_history: i64,
    /// A voyage that has arrived is let go (its tracker dropped) once no position of it has
    /// come for this long (a replay of old positions keeps it).
    pub forget_after: Duration,
}

impl Default for TrackingConfig {
    fn default() -> TrackingConfig {
        TrackingConfig {
            track: TrackConfig::default(),
            anomalies: AnomalyConfig::default(),
            progress_every: TimeDelta::minutes(10),
            max_ahead: TimeDelta::minutes(5),
            cache_for: Duration::from_secs(10),
            silence_tick: Duration::from_secs(30),
            eta_history: 5_000,
            forget_after: Duration::from_secs(600),
        }
    }
}

/// Counters of the AIS path, shared between the feeds and the tracker.
#[derive(Debug, Default)]
pub struct Stats {
    lines: AtomicU64,
    bad_lines: AtomicU64,
    messages: AtomicU64,
    positions: AtomicU64,
    fixes: AtomicU64,
    rejected_fixes: AtomicU64,
    unregistered: AtomicU64,
    static_reports: AtomicU64,
    ignored: AtomicU64,
    errors: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Lines read from the feeds (blank lines aside).
    pub lines: u64,
    /// Lines that were not a sentence, or that could not be assembled or decoded.
    pub bad_lines: u64,
    /// Decoded messages handled by the tracker (whatever became of them).
    pub messages: u64,
    /// Positions of registered vessels stored.
    pub positions: u64,
    /// Positions that advanced a voyage's tracker.
    pub fixes: u64,
    /// Positions the tracker refused (glitches, late data, off the river).
    pub rejected_fixes: u64,
    /// Messages from MMSIs no registered vessel claims.
    pub unregistered: u64,
    /// Static reports of registered vessels stored.
    pub static_reports: u64,
    /// Messages about no ship (base stations, aids to navigation) or without a usable position.
    pub ignored: u64,
    /// Messages the store failed on (logged).
    pub errors: u64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn line(&self, bad: bool) {
        Stats::add(&self.lines);
        if bad {
            Stats::add(&self.bad_lines);
        }
    }

    /// The counts now.
    pub fn counts(&self) -> Counts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        // Acquire, and before the others: every message counted has its outcome counted.
        let messages = self.messages.load(Ordering::Acquire);
        Counts {
            lines: g(&self.lines),
            bad_lines: g(&self.bad_lines),
            messages,
            positions: g(&self.positions),
            fixes: g(&self.fixes),
            rejected_fixes: g(&self.rejected_fixes),
            unregistered: g(&self.unregistered),
            static_reports: g(&self.static_reports),
            ignored: g(&self.ignored),
            errors: g(&self.errors),
        }
    }
}

/// Why a message could not be handled. Nothing of it, or all of it, was written.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot record the lock passage on the ledger: {0}")]
    Ledger(#[from] AppendError),
}

/// What became of one position of a registered vessel.
#[derive(Debug, Clone, PartialEq)]
pub enum FixOutcome {
    /// The vessel was on no voyage at that time: stored only.
    NoVoyage,
    /// On a voyage that cannot be tracked (origin or destination not on the waterway): stored.
    Untracked,
    /// Stored before (same MMSI and time): nothing changed.
    Duplicate,
    /// Stored, but the tracker refused it (a glitch, late, off the river).
    Rejected(FixRejected),
    /// Stored and tracked: what it changed and what the detectors decided.
    Tracked {
        events: Vec<TrackEvent>,
        decisions: Vec<Decision>,
    },
}

/// What [`Tracking::handle`] did with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Not about a ship (base station, aid to navigation).
    NotAShip,
    /// No registered vessel has this MMSI.
    Unregistered { mmsi: u32 },
    /// Static data of a registered vessel, stored.
    Static { vessel: Ident },
    /// A position report without a usable position or time (said why); nothing stored.
    Unusable { vessel: Ident, reason: String },
    /// A position of a registered vessel, stored.
    Position {
        vessel: Ident,
        voyage: Option<Ident>,
        outcome: FixOutcome,
    },
}

/// The parts of a position report tracking uses.
#[derive(Debug, Clone, Copy)]
struct Report {
    lat: Option<f64>,
    lon: Option<f64>,
    sog_kn: Option<f64>,
    cog_deg: Option<f64>,
    heading: Option<u16>,
    status: Option<NavigationStatus>,
}

fn report(m: &Message) -> Option<Report> {
    Some(match m {
        Message::Position(p) => Report {
            lat: p.lat,
            lon: p.lon,
            sog_kn: p.speed,
            cog_deg: p.course,
            heading: p.heading,
            status: Some(p.status),
        },
        Message::ClassBPosition(p) => Report {
            lat: p.lat,
            lon: p.lon,
            sog_kn: p.speed,
            cog_deg: p.course,
            heading: p.heading,
            status: None,
        },
        Message::ExtendedClassB(p) => Report {
            lat: p.lat,
            lon: p.lon,
            sog_kn: p.speed,
            cog_deg: p.course,
            heading: p.heading,
            status: None,
        },
        Message::LongRange(p) => Report {
            lat: p.lat,
            lon: p.lon,
            sog_kn: p.speed.map(f64::from),
            cog_deg: p.course.map(f64::from),
            heading: None,
            status: Some(p.status),
        },
        _ => return None,
    })
}

fn text(t: &jianghai_ais::AisText) -> Option<String> {
    let s = t.as_str().trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn dimensions(d: &jianghai_ais::message::Dimensions) -> (Option<u16>, Option<u16>) {
    let length = d.to_bow + d.to_stern;
    let beam = u16::from(d.to_port) + u16::from(d.to_starboard);
    ((length > 0).then_some(length), (beam > 0).then_some(beam))
}

/// Static data in a message, without the vessel link.
fn static_record(m: &Message) -> Option<StaticRecord> {
    Some(match m {
        Message::StaticVoyage(s) => {
            let (length_m, beam_m) = dimensions(&s.dimensions);
            StaticRecord {
                mmsi: s.mmsi,
                name: text(&s.shipname),
                callsign: text(&s.callsign),
                imo: s.imo,
                ship_type: s.ship_type,
                length_m,
                beam_m,
                draught_m: s.draught,
                destination: text(&s.destination),
                ..StaticRecord::default()
            }
        }
        Message::ExtendedClassB(s) => {
            let (length_m, beam_m) = dimensions(&s.dimensions);
            StaticRecord {
                mmsi: s.mmsi,
                name: text(&s.shipname),
                ship_type: s.ship_type,
                length_m,
                beam_m,
                ..StaticRecord::default()
            }
        }
        Message::StaticData(s) => {
            let b = s.part_b.as_ref();
            let (length_m, beam_m) = match b.map(|b| b.craft) {
                Some(jianghai_ais::message::Craft::Dimensions(d)) => dimensions(&d),
                _ => (None, None),
            };
            StaticRecord {
                mmsi: s.mmsi,
                name: s.shipname.as_ref().and_then(text),
                callsign: b.and_then(|b| text(&b.callsign)),
                ship_type: b.and_then(|b| b.ship_type),
                length_m,
                beam_m,
                ..StaticRecord::default()
            }
        }
        _ => return None,
    })
}

fn hint(status: Option<NavigationStatus>) -> NavHint {
    match status {
        Some(NavigationStatus::AtAnchor) => NavHint::AtAnchor,
        Some(NavigationStatus::Moored) => NavHint::Moored,
        None | Some(NavigationStatus::NotDefined) => NavHint::Unknown,
        Some(_) => NavHint::UnderWay,
    }
}

fn direction_str(d: Direction) -> &'static str {
    match d {
        Direction::Downstream => "downstream",
        Direction::Upstream => "upstream",
    }
}

fn fix_of(p: &PositionRecord) -> Fix {
    Fix {
        at: p.at,
        position: Position::new(p.lon, p.lat),
        sog_kn: p.sog_kn,
        nav: hint(p.nav_status.map(NavigationStatus::from_raw)),
    }
}

/// The ledger event id of a voyage's passage of a lock: derived from both, so a replayed
/// passage is recognised by the ledger's idempotency rather than recorded twice.
pub fn lock_event_id(voyage: &str, lock: &str) -> uuid::Uuid {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("jianghai lock passage\n{voyage}\n{lock}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// One voyage being followed.
struct Run {
    vessel: Vessel,
    tracker: Option<VoyageTracker>,
    watch: VoyageWatch,
    /// Time of the last snapshot kept in the progress history.
    kept: Option<DateTime<Utc>>,
    /// When it last had a position (the shell's clock).
    touched: Instant,
}

/// AIS messages in; positions, static data, voyage tracking and voyage alerts out. See the
/// module documentation.
pub struct Tracking {
    store: Store,
    waterway: Arc<Waterway>,
    eta: EtaModel,
    config: TrackingConfig,
    links: HashMap<u32, Vessel>,
    links_read: Option<Instant>,
    windows: HashMap<String, (Instant, Vec<VoyageWindow>)>,
    runs: HashMap<String, Run>,
    stats: Arc<Stats>,
}

impl Tracking {
    /// Tracking on the built-in Yangtze waterway, its ETA model loaded with the store's
    /// history.
    pub async fn new(store: Store, config: TrackingConfig) -> Result<Tracking, TrackingError> {
        let datums = Datums::default();
        let waterway = Waterway::yangtze(datums)
            .map_err(|e| StoreError::Corrupt(format!("the built-in waterway: {e}")))?;
        let mut eta = EtaModel::yangtze(&datums);
        let (transits, passages) = store.eta_history(config.eta_history).await?;
        let dir = |s: &str| match s {
            "upstream" => Direction::Upstream,
            _ => Direction::Downstream,
        };
        for t in &transits {
            // Transits of sections this model does not have are someone else's model's.
            let _ = eta.record_transit(&t.section, dir(&t.direction), t.hours);
        }
        for p in &passages {
            let _ = eta.record_lock_wait(&p.lock, dir(&p.direction), p.wait_h);
        }
        Ok(Tracking {
            store,
            waterway: Arc::new(waterway),
            eta,
            config,
            links: HashMap::new(),
            links_read: None,
            windows: HashMap::new(),
            runs: HashMap::new(),
            stats: Arc::new(Stats::default()),
        })
    }

    /// Shares these counters instead of its own (the feeds count lines into them).
    pub fn with_stats(mut self, stats: Arc<Stats>) -> Tracking {
        self.stats = stats;
        self
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// The waterway fixes are projected onto.
    pub fn waterway(&self) -> &Waterway {
        &self.waterway
    }

    /// Voyages followed in memory.
    pub fn voyages(&self) -> usize {
        self.runs.len()
    }

    /// Lets go of the voyages whose vessel's MMSI `keep` refuses: on several nodes another
    /// node tracks them now, and should they come back here they are rebuilt from the store.
    pub fn retain_vessels(&mut self, keep: impl Fn(u32) -> bool) {
        self.runs.retain(|_, r| r.vessel.mmsi.is_some_and(&keep));
    }

    /// Follows again, from their stored positions, the voyages under way at `now` of the
    /// registered vessels whose MMSI `take` accepts: what a node does when it takes vessels
    /// over from another, so that a voyage that falls silent just then still raises AIS
    /// silence at [`Tracking::tick`]. Voyages without stored positions wait for their first.
    /// Returns how many were taken up.
    pub async fn resume(
        &mut self,
        take: impl Fn(u32) -> bool,
        now: DateTime<Utc>,
    ) -> Result<usize, TrackingError> {
        self.read_links().await?;
        let vessels: Vec<Vessel> = self
            .links
            .values()
            .filter(|v| v.mmsi.is_some_and(&take))
            .cloned()
            .collect();
        let mut n = 0;
        for vessel in vessels {
            let Some(w) = self.window(&vessel, now).await? else {
                continue;
            };
            if self.runs.contains_key(w.voyage.as_str()) {
                continue;
            }
            let run = self.start_run(&w.voyage, &vessel).await?;
            if run.tracker.as_ref().is_some_and(|t| t.last().is_some()) {
                self.runs.insert(w.voyage.to_string(), run);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Handles one decoded message received at `received`. An error means the store failed;
    /// the message may be handled again.
    pub async fn handle(
        &mut self,
        d: &Decoded,
        received: DateTime<Utc>,
    ) -> Result<Handled, TrackingError> {
        let r = self.handle_inner(d, received).await;
        match &r {
            Ok(Handled::NotAShip | Handled::Unusable { .. }) => Stats::add(&self.stats.ignored),
            Ok(Handled::Unregistered { .. }) => Stats::add(&self.stats.unregistered),
            Ok(Handled::Static { .. }) => Stats::add(&self.stats.static_reports),
            Ok(Handled::Position { outcome, .. }) => {
                if *outcome != FixOutcome::Duplicate {
                    Stats::add(&self.stats.positions);
                }
                match outcome {
                    FixOutcome::Tracked { .. } => Stats::add(&self.stats.fixes),
                    FixOutcome::Rejected(_) => Stats::add(&self.stats.rejected_fixes),
                    _ => {}
                }
            }
            Err(_) => Stats::add(&self.stats.errors),
        }
        // Counted last: whoever waits for N messages handled then reads the outcome counters
        // of all N (the demo printed 777 fixes of 778 when this came first).
        self.stats.messages.fetch_add(1, Ordering::Release);
        r
    }

    async fn handle_inner(
        &mut self,
        d: &Decoded,
        received: DateTime<Utc>,
    ) -> Result<Handled, TrackingError> {
        let m = &d.message;
        if matches!(m, Message::BaseStation(_) | Message::AidToNavigation(_)) {
            return Ok(Handled::NotAShip);
        }
        let mmsi = m.mmsi();
        let Some(vessel) = self.vessel(mmsi).await? else {
            return Ok(Handled::Unregistered { mmsi });
        };
        if let Some(mut s) = static_record(m) {
            s.vessel = Some(vessel.id.clone());
            s.updated_at = Some(received);
            self.store.record_static(&s).await?;
            if !matches!(m, Message::ExtendedClassB(_)) {
                return Ok(Handled::Static { vessel: vessel.id });
            }
        }
        let Some(r) = report(m) else {
            return Ok(Handled::NotAShip);
        };
        let at = match d.unix_time {
            None => received,
            Some(t) => match DateTime::<Utc>::from_timestamp(t, 0) {
                Some(at) => at,
                None => {
                    return Ok(Handled::Unusable {
                        vessel: vessel.id,
                        reason: format!("tag block time {t} is not a time"),
                    });
                }
            },
        };
        if at > received + self.config.max_ahead {
            return Ok(Handled::Unusable {
                vessel: vessel.id,
                reason: format!(
                    "timed {} but received {}: more than {} min ahead",
                    format_time(at),
                    format_time(received),
                    self.config.max_ahead.num_minutes()
                ),
            });
        }
        let (Some(lat), Some(lon)) = (r.lat, r.lon) else {
            return Ok(Handled::Unusable {
                vessel: vessel.id,
                reason: "no position (not available)".into(),
            });
        };
        if !Position::new(lon, lat).is_valid() {
            return Ok(Handled::Unusable {
                vessel: vessel.id,
                reason: format!("lon {lon}, lat {lat} is not a WGS-84 coordinate"),
            });
        }
        let window = self.window(&vessel, at).await?;
        let record = PositionRecord {
            mmsi,
            at,
            vessel: vessel.id.clone(),
            voyage: window.as_ref().map(|w| w.voyage.clone()),
            lat,
            lon,
            sog_kn: r.sog_kn,
            cog_deg: r.cog_deg,
            heading: r.heading,
            nav_status: r.status.map(NavigationStatus::raw),
            received_at: received,
        };
        let outcome = match &window {
            None => self.store_only(&record).await?,
            Some(w) => self.track(&w.voyage, &vessel, &record).await?,
        };
        Ok(Handled::Position {
            vessel: vessel.id,
            voyage: window.map(|w| w.voyage),
            outcome,
        })
    }

    async fn store_only(&self, p: &PositionRecord) -> Result<FixOutcome, TrackingError> {
        Ok(if self.store.record_fix(p, None).await? {
            FixOutcome::NoVoyage
        } else {
            FixOutcome::Duplicate
        })
    }

    /// The registered vessel of `mmsi` (the first by id if several claim it). The MMSIs of all
    /// registered vessels are read at most once per [`TrackingConfig::cache_for`], so a feed
    /// full of other ships costs no query per message.
    async fn vessel(&mut self, mmsi: u32) -> Result<Option<Vessel>, StoreError> {
        self.read_links().await?;
        Ok(self.links.get(&mmsi).cloned())
    }

    /// Reads the MMSIs of all registered vessels unless read within
    /// [`TrackingConfig::cache_for`].
    async fn read_links(&mut self) -> Result<(), StoreError> {
        if self
            .links_read
            .is_none_or(|t| t.elapsed() >= self.config.cache_for)
        {
            let mut links = HashMap::new();
            let mut after = String::new();
            loop {
                let page = self.store.vessels(&VoyageScope::All, &after, 500).await?;
                for v in page.items {
                    if let Some(m) = v.mmsi {
                        links.entry(m).or_insert(v);
                    }
                }
                match page.next {
                    Some(next) => after = next,
                    None => break,
                }
            }
            self.links = links;
            self.links_read = Some(Instant::now());
        }
        Ok(())
    }

    /// The voyage `vessel` was on at `at`, from its voyage windows (cached for a while).
    async fn window(
        &mut self,
        vessel: &Vessel,
        at: DateTime<Utc>,
    ) -> Result<Option<VoyageWindow>, StoreError> {
        let key = vessel.id.as_str();
        let fresh = self
            .windows
            .get(key)
            .is_some_and(|(t, _)| t.elapsed() < self.config.cache_for);
        if !fresh {
            let w = self.store.voyage_windows(key).await?;
            self.windows.insert(key.to_string(), (Instant::now(), w));
        }
        Ok(self
            .windows
            .get(key)
            .and_then(|(_, w)| VoyageWindow::at(w, at).cloned()))
    }

    /// The unified km of a facility, if it lies on the waterway.
    async fn facility_km(&self, id: &Ident) -> Result<Option<f64>, StoreError> {
        let Some(f) = self.store.facility(id.as_str()).await? else {
            return Ok(None);
        };
        Ok(f.position
            .and_then(|p| self.waterway.project(Position::new(p.lon, p.lat)))
            .filter(|pr| pr.offset_m.abs() <= self.config.track.max_offset_m)
            .map(|pr| pr.km))
    }

    async fn tracker_for(&self, voyage: &Voyage) -> Result<Option<VoyageTracker>, StoreError> {
        let (Some(from), Some(to)) = (
            self.facility_km(&voyage.origin).await?,
            self.facility_km(&voyage.destination).await?,
        ) else {
            return Ok(None);
        };
        Ok(VoyageTracker::new(from, to, self.eta.sections(), self.config.track).ok())
    }

    /// A new run for `voyage`, replaying its stored positions so its tracker and detectors
    /// stand where they stood.
    async fn start_run(&self, voyage: &Ident, vessel: &Vessel) -> Result<Run, StoreError> {
        let tracker = match self.store.voyage(voyage.as_str()).await? {
            Some(v) => self.tracker_for(&v).await?,
            None => None,
        };
        let subject = Subject::new(SubjectKind::Voyage, voyage.as_str())
            .map_err(|e| StoreError::Corrupt(format!("voyage {voyage}: {e}")))?;
        let source = vessel
            .mmsi
            .and_then(|m| Ident::parse(&format!("mmsi-{m}")).ok())
            .unwrap_or_else(|| vessel.id.clone());
        let mut run = Run {
            vessel: vessel.clone(),
            tracker,
            watch: VoyageWatch::new(subject, source, self.config.anomalies),
            kept: None,
            touched: Instant::now(),
        };
        if run.tracker.is_some() {
            let plan = self.store.voyage_plan(voyage.as_str()).await?;
            let positions = self.store.voyage_positions(voyage.as_str()).await?;
            for p in &positions {
                let Some(tracker) = run.tracker.as_mut() else {
                    break;
                };
                if tracker.handle_fix(&self.waterway, fix_of(p)).is_ok()
                    && let Some(s) = self.snapshot(voyage, vessel, tracker)
                {
                    run.watch.observe(&observation(&s, tracker, plan.as_ref()));
                    run.kept = Some(s.at);
                }
            }
            if !positions.is_empty() {
                tracing::info!(voyage = %voyage, positions = positions.len(), "Voyage tracking resumed from the stored positions.");
            }
        }
        Ok(run)
    }

    /// The tracker's view after its last fix, as the store keeps it.
    fn snapshot(
        &self,
        voyage: &Ident,
        vessel: &Vessel,
        tracker: &VoyageTracker,
    ) -> Option<TrackSnapshot> {
        let last = tracker.last()?;
        let (state, since) = tracker.state()?;
        let progress = tracker.progress()?;
        let eta = tracker
            .eta(&self.eta, self.waterway.places())
            .ok()
            .flatten();
        let (next_place, next_p50, next_p90) = match eta.as_ref().and_then(|e| {
            let (name, est) = e.next_place.as_ref()?;
            let (p50, p90) = est.arrival(e.from);
            Some((name.clone(), p50, p90))
        }) {
            Some((n, a, b)) => (Some(n), Some(a), Some(b)),
            None => (None, None, None),
        };
        let (arrival_p50, arrival_p90) = match &eta {
            Some(e) => {
                let (a, b) = e.destination.arrival(e.from);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        Some(TrackSnapshot {
            voyage: voyage.clone(),
            vessel: vessel.id.clone(),
            at: last.at,
            state: state.as_str().to_string(),
            state_since: since,
            lat: last.position.lat,
            lon: last.position.lon,
            km: last.km,
            offset_m: last.offset_m,
            sog_kn: last.sog_kn,
            total_km: progress.total_km,
            done_km: progress.done_km,
            to_go_km: progress.to_go_km,
            percent: progress.percent,
            next_place,
            next_p50,
            next_p90,
            arrival_p50,
            arrival_p90,
        })
    }

    async fn track(
        &mut self,
        voyage: &Ident,
        vessel: &Vessel,
        p: &PositionRecord,
    ) -> Result<FixOutcome, TrackingError> {
        if !self.runs.contains_key(voyage.as_str()) {
            let run = self.start_run(voyage, vessel).await?;
            self.runs.insert(voyage.to_string(), run);
        }
        let Some(mut run) = self.runs.remove(voyage.as_str()) else {
            return self.store_only(p).await;
        };
        // On any error the run is dropped, to be rebuilt from what the store has.
        run.touched = Instant::now();
        let out = self.advance(&mut run, voyage, p).await;
        if out.is_ok() {
            self.runs.insert(voyage.to_string(), run);
        }
        out
    }

    async fn advance(
        &mut self,
        run: &mut Run,
        voyage: &Ident,
        p: &PositionRecord,
    ) -> Result<FixOutcome, TrackingError> {
        let Some(tracker) = run.tracker.as_mut() else {
            return Ok(if self.store.record_fix(p, None).await? {
                FixOutcome::Untracked
            } else {
                FixOutcome::Duplicate
            });
        };
        let events = match tracker.handle_fix(&self.waterway, fix_of(p)) {
            Ok(events) => events,
            Err(rejected) => {
                tracing::debug!(voyage = %voyage, reason = %rejected, "AIS position not used for tracking.");
                return Ok(if self.store.record_fix(p, None).await? {
                    FixOutcome::Rejected(rejected)
                } else {
                    FixOutcome::Duplicate
                });
            }
        };
        let Some(snapshot) = self.snapshot(voyage, &run.vessel, tracker) else {
            return self.store_only(p).await;
        };
        let mut record = TrackingRecord {
            snapshot,
            states: Vec::new(),
            passages: Vec::new(),
            transits: Vec::new(),
            keep_progress: false,
        };
        for e in &events {
            match e {
                TrackEvent::StateChanged { to, at, km, .. } => {
                    record.states.push(StateChangeRecord {
                        at: *at,
                        state: to.as_str().to_string(),
                        km: *km,
                    });
                }
                TrackEvent::LockPassed(x) => {
                    let event_id = self.record_passage(voyage, &run.vessel, x).await?;
                    record.passages.push(LockPassageRecord {
                        voyage: voyage.clone(),
                        lock: x.lock.clone(),
                        direction: direction_str(x.direction).into(),
                        waiting_since: x.waiting_since,
                        entered: x.entered,
                        left: x.left,
                        inferred: x.inferred,
                        wait_h: x.wait_h(),
                        passage_h: x.passage_h(),
                        event_id,
                    });
                }
                TrackEvent::SectionTransited(x) => record.transits.push(SectionTransitRecord {
                    voyage: voyage.clone(),
                    section: x.section.clone(),
                    direction: direction_str(x.direction).into(),
                    entered: x.entered,
                    left: x.left,
                    hours: x.hours,
                }),
            }
        }
        record.keep_progress = !record.states.is_empty()
            || run
                .kept
                .is_none_or(|k| p.at - k >= self.config.progress_every);
        if !self.store.record_fix(p, Some(&record)).await? {
            return Ok(FixOutcome::Duplicate);
        }
        if record.keep_progress {
            run.kept = Some(p.at);
        }
        for x in &record.transits {
            let dir = tracker.direction();
            let _ = self.eta.record_transit(&x.section, dir, x.hours);
        }
        for x in &record.passages {
            let _ = self
                .eta
                .record_lock_wait(&x.lock, tracker.direction(), x.wait_h);
        }
        for x in &record.passages {
            tracing::info!(voyage = %voyage, lock = %x.lock, wait_h = x.wait_h, passage_h = x.passage_h,
                inferred = x.inferred, "Lock passed.");
        }
        let plan = self.store.voyage_plan(voyage.as_str()).await?;
        let decisions = run
            .watch
            .observe(&observation(&record.snapshot, tracker, plan.as_ref()));
        crate::alerting::persist(&self.store, decisions.clone()).await;
        crate::api::transship::watch_cut_off(&self.store, voyage.as_str(), p.at).await;
        Ok(FixOutcome::Tracked { events, decisions })
    }

    /// Appends a lock passage to the ledger; returns its event id.
    async fn record_passage(
        &self,
        voyage: &Ident,
        vessel: &Vessel,
        x: &LockPassage,
    ) -> Result<uuid::Uuid, TrackingError> {
        let id = lock_event_id(voyage.as_str(), &x.lock);
        let event = lock_event(id, voyage, vessel, x, &self.waterway);
        match self.store.append(event).await {
            Ok(_) => Ok(id),
            // Recorded before with other times (a rebuilt tracker): the first record stands.
            Err(AppendError::Conflict { .. }) => Ok(id),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks every voyage under way for AIS silence at `now`. Voyages that have arrived (per
    /// the ledger) raise none, and are let go once idle for
    /// [`TrackingConfig::forget_after`].
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<(), TrackingError> {
        let due: Vec<String> = self
            .runs
            .iter()
            .filter(|(_, r)| r.watch.poll_timeout().is_some_and(|t| t <= now))
            .map(|(v, _)| v.clone())
            .collect();
        for voyage in due {
            let Some(vessel) = self.runs.get(&voyage).map(|r| r.vessel.clone()) else {
                continue;
            };
            let windows = self.store.voyage_windows(vessel.id.as_str()).await?;
            let arrived = windows
                .iter()
                .find(|w| w.voyage.as_str() == voyage)
                .is_none_or(|w| w.arrived.is_some_and(|a| a <= now));
            if arrived {
                if self
                    .runs
                    .get(&voyage)
                    .is_some_and(|r| r.touched.elapsed() >= self.config.forget_after)
                {
                    self.runs.remove(&voyage);
                }
                continue;
            }
            if let Some(run) = self.runs.get_mut(&voyage) {
                let decisions = run.watch.tick(now);
                crate::alerting::persist(&self.store, decisions).await;
            }
        }
        Ok(())
    }
}

/// What the voyage detectors look at after a fix.
fn observation(s: &TrackSnapshot, t: &VoyageTracker, plan: Option<&VoyagePlan>) -> Observation {
    let expected_stop = t.state().is_some_and(|(st, _)| st.is_expected_stop())
        || t.waiting_for().is_some()
        || t.last().is_some_and(|l| l.in_stopping_place);
    Observation {
        at: s.at,
        km: s.km,
        offset_m: s.offset_m,
        sog_kn: s.sog_kn,
        expected_stop,
        eta_p50: s.arrival_p50,
        eta_p90: s.arrival_p90,
        planned_arrival: plan.and_then(|p| p.planned_arrival),
        transit_deadline: plan.and_then(|p| p.transit_deadline),
    }
}

/// The ledger event of a lock passage: an EPCIS ObjectEvent (observe) about the voyage, at the
/// time the ship left the lock, by the carrier's AIS station.
pub fn lock_event(
    id: uuid::Uuid,
    voyage: &Ident,
    vessel: &Vessel,
    x: &LockPassage,
    waterway: &Waterway,
) -> Event {
    let mut ext = BTreeMap::new();
    ext.insert("jh:lock".to_string(), serde_json::json!(x.lock));
    ext.insert("jh:vessel".to_string(), serde_json::json!(vessel.id));
    ext.insert(
        "jh:direction".to_string(),
        serde_json::json!(direction_str(x.direction)),
    );
    ext.insert(
        "jh:entered".to_string(),
        serde_json::json!(format_time(x.entered)),
    );
    ext.insert(
        "jh:left".to_string(),
        serde_json::json!(format_time(x.left)),
    );
    if let Some(w) = x.waiting_since {
        ext.insert(
            "jh:waitingSince".to_string(),
            serde_json::json!(format_time(w)),
        );
    }
    ext.insert(
        "jh:waitHours".to_string(),
        serde_json::json!((x.wait_h() * 100.0).round() / 100.0),
    );
    ext.insert("jh:inferred".to_string(), serde_json::json!(x.inferred));
    let position = waterway
        .places()
        .by_id(&x.lock)
        .and_then(|(_, pl)| waterway.centreline().position_at(pl.km))
        .map(|p| jianghai_core::Position {
            lat: p.lat,
            lon: p.lon,
        });
    Event {
        event_id: id,
        action: Action::Observe,
        event_time: x.left.fixed_offset(),
        biz_step: BizStep(LOCK_PASSAGE_STEP.into()),
        disposition: Some(Disposition("in_transit".into())),
        step: None,
        subjects: Subjects {
            voyage: Some(voyage.clone()),
            ..Subjects::default()
        },
        read_point: None,
        biz_location: None,
        position,
        actor: Actor {
            organisation: vessel.carrier.clone(),
            user: None,
            device: vessel
                .mmsi
                .and_then(|m| Ident::parse(&format!("mmsi-{m}")).ok()),
        },
        extensions: ext,
    }
}
