//! Voyage tracking: position fixes in; voyage state, lock passages, section transits, progress,
//! speed history and ETAs out.
//!
//! A [`VoyageTracker`] follows one voyage from its origin km to its destination km. Each
//! [`Fix`] (time, position, speed over ground, what the ship's own status says) is projected
//! onto the waterway and moves a small state machine:
//!
//! ```text
//!                 ┌──────────── in a lock area ────────────► in_lock ──(left on the far side)──► lock passage
//!  fix ─► stopped?├─ no ─► under_way
//!                 └─ yes ─► in a port ─► berthed
//!                           a lock ahead within the approach ─► waiting_for_lock
//!                           AIS says moored ─► moored
//!                           AIS says at anchor, or in an anchorage ─► at_anchor
//!                           otherwise ─► stopped (the unplanned-stop detector's case)
//! ```
//!
//! "Stopped" has hysteresis (below 0.5 kn to stop, 1 kn or more to count as moving again), so
//! a ship drifting around the threshold does not flap. Waiting for a lock starts at the first
//! stop within `lock_approach_km` before a lock not yet passed and ends when the ship enters
//! the lock area; a ship that is never seen inside the lock (an AIS gap) but is seen before
//! and after it gets an *inferred* passage. Sections of the [`EtaModel`] crossed by the ship
//! become [`SectionTransit`]s (lock waits subtracted), which is what the ETA model learns from.
//!
//! Everything is pure: the clock is each fix's own time; nothing here reads a clock or does I/O.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

use crate::centreline::Position;
use crate::eta::{Estimate, EtaError, EtaModel, Section, voyage_eta};
use crate::place::{Place, PlaceKind, Places};
use crate::voyage::{Direction, Progress, progress};
use crate::waterway::Waterway;

/// Kilometres per hour in one knot.
pub const KMH_PER_KN: f64 = 1.852;

/// What the ship's own AIS navigational status says, reduced to what tracking uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NavHint {
    /// Under way (engine or sailing), or any status that does not say stopped.
    UnderWay,
    /// At anchor.
    AtAnchor,
    /// Moored.
    Moored,
    /// Not available.
    Unknown,
}

/// One position report of the voyage's ship.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fix {
    /// When the position was taken.
    pub at: DateTime<Utc>,
    /// Where.
    pub position: Position,
    /// Speed over ground in knots, if known.
    pub sog_kn: Option<f64>,
    /// The ship's own navigational status.
    pub nav: NavHint,
}

/// What a voyage's ship is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VoyageState {
    /// Stopped in a port.
    Berthed,
    /// Moving.
    UnderWay,
    /// Stopped in an anchorage, or reporting "at anchor".
    AtAnchor,
    /// Stopped before a lock it has not passed yet (待闸).
    WaitingForLock,
    /// Inside a lock area (locks and their approaches, or the ship lift).
    InLock,
    /// Reporting "moored" outside a port.
    Moored,
    /// Stopped anywhere else: open river, no status that explains it.
    Stopped,
}

impl VoyageState {
    /// Every state.
    pub const ALL: [VoyageState; 7] = [
        VoyageState::Berthed,
        VoyageState::UnderWay,
        VoyageState::AtAnchor,
        VoyageState::WaitingForLock,
        VoyageState::InLock,
        VoyageState::Moored,
        VoyageState::Stopped,
    ];

    /// The snake_case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            VoyageState::Berthed => "berthed",
            VoyageState::UnderWay => "under_way",
            VoyageState::AtAnchor => "at_anchor",
            VoyageState::WaitingForLock => "waiting_for_lock",
            VoyageState::InLock => "in_lock",
            VoyageState::Moored => "moored",
            VoyageState::Stopped => "stopped",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<VoyageState> {
        VoyageState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// True where a ship is expected to be stopped: berthed, anchored, moored, at a lock.
    pub fn is_expected_stop(self) -> bool {
        !matches!(self, VoyageState::UnderWay | VoyageState::Stopped)
    }
}

/// Thresholds of a [`VoyageTracker`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackConfig {
    /// Below this speed over ground (knots) a moving ship counts as stopped.
    pub stop_kn: f64,
    /// At or above this speed (knots) a stopped ship counts as moving again.
    pub resume_kn: f64,
    /// A stop within this many km before a lock not yet passed is waiting for it.
    pub lock_approach_km: f64,
    /// A fix further than this from the centre line is not on this waterway and is refused.
    pub max_offset_m: f64,
    /// A fix implying more than this speed (knots) since the last one is a position glitch.
    pub max_speed_kn: f64,
    /// Speed samples kept.
    pub speed_history: usize,
    /// A section crossed for less than this share of its length records no transit.
    pub min_section_share: f64,
}

impl Default for TrackConfig {
    fn default() -> TrackConfig {
        TrackConfig {
            stop_kn: 0.5,
            resume_kn: 1.0,
            lock_approach_km: 30.0,
            max_offset_m: 20_000.0,
            max_speed_kn: 40.0,
            speed_history: 2_000,
            min_section_share: 0.5,
        }
    }
}

/// One passage through a lock.
#[derive(Clone, Debug, PartialEq)]
pub struct LockPassage {
    /// The lock's place id, e.g. `three-gorges-locks`.
    pub lock: String,
    /// Which way the ship went.
    pub direction: Direction,
    /// When the ship stopped to wait for this lock, if it did.
    pub waiting_since: Option<DateTime<Utc>>,
    /// When it entered the lock area.
    pub entered: DateTime<Utc>,
    /// When it left the lock area on the far side.
    pub left: DateTime<Utc>,
    /// True when no fix fell inside the lock area (an AIS gap): `entered` and `left` are then
    /// interpolated (linearly in km) between the last fix before the lock and the first after.
    pub inferred: bool,
}

impl LockPassage {
    /// Hours from stopping to wait until entering the lock (0 without a wait).
    pub fn wait_h(&self) -> f64 {
        self.waiting_since
            .map_or(0.0, |w| hours_between(w, self.entered))
    }

    /// Hours inside the lock area.
    pub fn passage_h(&self) -> f64 {
        hours_between(self.entered, self.left)
    }
}

/// A crossing of one ETA-model section: what the model learns from.
#[derive(Clone, Debug, PartialEq)]
pub struct SectionTransit {
    /// Section id.
    pub section: String,
    /// Which way.
    pub direction: Direction,
    /// When the ship entered the section (interpolated at the boundary between fixes).
    pub entered: DateTime<Utc>,
    /// When it left it.
    pub left: DateTime<Utc>,
    /// km of the section actually covered (the whole length unless the voyage began inside it).
    pub covered_km: f64,
    /// Hours for the whole section, lock waits excluded, scaled up from `covered_km` when the
    /// voyage covered only part of it.
    pub hours: f64,
}

/// What a fix changed.
#[derive(Clone, Debug, PartialEq)]
pub enum TrackEvent {
    /// The voyage's state changed (`from` is `None` for the first fix).
    StateChanged {
        /// Previous state.
        from: Option<VoyageState>,
        /// New state.
        to: VoyageState,
        /// Time of the fix that changed it.
        at: DateTime<Utc>,
        /// Unified km of that fix.
        km: f64,
    },
    /// The ship passed a lock.
    LockPassed(LockPassage),
    /// The ship crossed an ETA-model section.
    SectionTransited(SectionTransit),
}

/// Why a fix was not used. The tracker is unchanged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FixRejected {
    /// Not a WGS-84 coordinate.
    #[error("position lon {lon}, lat {lat} is not a WGS-84 coordinate")]
    BadPosition {
        /// Longitude given.
        lon: f64,
        /// Latitude given.
        lat: f64,
    },
    /// Too far from the centre line to be a ship on this river.
    #[error(
        "position is {offset_km:.1} km from the waterway's centre line (at most {max_km:.1} km): not on this river"
    )]
    OffTheMap {
        /// Distance from the line, km.
        offset_km: f64,
        /// The limit, km.
        max_km: f64,
    },
    /// Not newer than the last accepted fix (late or repeated data).
    #[error("fix at {at} is not newer than the last accepted fix at {last}")]
    OutOfOrder {
        /// This fix's time.
        at: DateTime<Utc>,
        /// The last accepted fix's time.
        last: DateTime<Utc>,
    },
    /// Implies an impossible speed since the last fix.
    #[error(
        "fix implies {kn:.0} kn since the last one (at most {max_kn:.0} kn): a position glitch"
    )]
    Jump {
        /// Implied speed, knots.
        kn: f64,
        /// The limit, knots.
        max_kn: f64,
    },
}

/// Why a tracker could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// Origin and destination coincide or are not finite.
    #[error("origin km {origin_km} and destination km {destination_km} do not make a voyage")]
    NoVoyage {
        /// Origin, unified km.
        origin_km: f64,
        /// Destination, unified km.
        destination_km: f64,
    },
}

/// One speed sample: a fix's time, km and speed over ground.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeedSample {
    /// Time of the fix.
    pub at: DateTime<Utc>,
    /// Unified km.
    pub km: f64,
    /// Speed over ground, knots, as reported (or made good along the river since the last fix
    /// when absent).
    pub sog_kn: f64,
}

/// The last accepted fix with its projection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Located {
    /// Time of the fix.
    pub at: DateTime<Utc>,
    /// Where.
    pub position: Position,
    /// Unified km.
    pub km: f64,
    /// Signed offset from the centre line, m.
    pub offset_m: f64,
    /// Speed over ground, knots (reported, or made good).
    pub sog_kn: f64,
    /// True when it lies in a port, anchorage, lock or ship-lift area.
    pub in_stopping_place: bool,
}

#[derive(Clone, Debug)]
struct LockVisit {
    id: String,
    upstream_km: f64,
    downstream_km: f64,
    waiting_since: Option<DateTime<Utc>>,
    entered: Option<DateTime<Utc>>,
}

impl LockVisit {
    fn of(p: &Place) -> LockVisit {
        LockVisit {
            id: p.id.clone(),
            upstream_km: p.upstream_km,
            downstream_km: p.downstream_km,
            waiting_since: None,
            entered: None,
        }
    }
}

#[derive(Clone, Debug)]
struct SectionVisit {
    index: usize,
    entered: DateTime<Utc>,
    entry_km: f64,
    waits_h: f64,
}

/// ETAs of a tracked voyage, made at the time of its last fix.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackEta {
    /// The time the estimate counts from (the last fix).
    pub from: DateTime<Utc>,
    /// The next port, lock or bridge ahead, with its estimate.
    pub next_place: Option<(String, Estimate)>,
    /// To the destination.
    pub destination: Estimate,
}

/// Follows one voyage. See the module documentation.
///
/// Invariants: accepted fixes are strictly increasing in time; every `StateChanged` event's
/// `from` is the previous event's `to`; each lock is passed at most once per voyage.
#[derive(Clone, Debug)]
pub struct VoyageTracker {
    config: TrackConfig,
    origin_km: f64,
    destination_km: f64,
    direction: Direction,
    sections: Vec<Section>,
    last: Option<Located>,
    state: Option<(VoyageState, DateTime<Utc>)>,
    moving: bool,
    lock: Option<LockVisit>,
    passages: Vec<LockPassage>,
    section: Option<SectionVisit>,
    speeds: VecDeque<SpeedSample>,
    /// Exponential average of the speed made good while moving, km/h.
    cruise_kmh: Option<f64>,
}

fn hours_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 3_600_000.0
}

fn is_lock(p: &Place) -> bool {
    matches!(p.kind, PlaceKind::Lock | PlaceKind::ShipLift)
}

impl VoyageTracker {
    /// A tracker for a voyage from `origin_km` to `destination_km` (unified km), recording
    /// transits of `sections` (usually [`EtaModel::sections`]).
    pub fn new(
        origin_km: f64,
        destination_km: f64,
        sections: &[Section],
        config: TrackConfig,
    ) -> Result<VoyageTracker, TrackError> {
        let direction =
            Direction::between(origin_km, destination_km).ok_or(TrackError::NoVoyage {
                origin_km,
                destination_km,
            })?;
        Ok(VoyageTracker {
            config,
            origin_km,
            destination_km,
            direction,
            sections: sections.to_vec(),
            last: None,
            state: None,
            moving: false,
            lock: None,
            passages: Vec::new(),
            section: None,
            speeds: VecDeque::new(),
            cruise_kmh: None,
        })
    }

    /// Which way the voyage runs.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Origin and destination, unified km.
    pub fn span_km(&self) -> (f64, f64) {
        (self.origin_km, self.destination_km)
    }

    /// The current state and since when, once a fix has been accepted.
    pub fn state(&self) -> Option<(VoyageState, DateTime<Utc>)> {
        self.state
    }

    /// The last accepted fix.
    pub fn last(&self) -> Option<&Located> {
        self.last.as_ref()
    }

    /// Progress at the last fix.
    pub fn progress(&self) -> Option<Progress> {
        progress(self.origin_km, self.destination_km, self.last?.km)
    }

    /// Locks passed so far, in order.
    pub fn lock_passages(&self) -> &[LockPassage] {
        &self.passages
    }

    /// The lock the ship is waiting for (id, since when), if it is.
    pub fn waiting_for(&self) -> Option<(&str, DateTime<Utc>)> {
        let v = self.lock.as_ref()?;
        Some((v.id.as_str(), v.waiting_since?))
    }

    /// Speed samples, oldest first (bounded by [`TrackConfig::speed_history`]).
    pub fn speed_history(&self) -> impl ExactSizeIterator<Item = &SpeedSample> {
        self.speeds.iter()
    }

    /// The speed to plan with, km/h: the current speed while moving, else the average speed
    /// made good while the ship was last moving outside lock areas. In a lock area the average
    /// is used too: lock speed says nothing about the river ahead.
    pub fn planning_speed_kmh(&self) -> Option<f64> {
        let last = self.last?;
        let current = self.moving.then_some(last.sog_kn * KMH_PER_KN);
        if matches!(self.state, Some((VoyageState::InLock, _))) {
            self.cruise_kmh.or(current)
        } else if self.moving {
            current
        } else {
            self.cruise_kmh
        }
    }

    /// Feeds one fix. Returns what changed, or why the fix was not used (the tracker is then
    /// unchanged).
    pub fn handle_fix(
        &mut self,
        waterway: &Waterway,
        fix: Fix,
    ) -> Result<Vec<TrackEvent>, FixRejected> {
        let p = fix.position;
        let bad = FixRejected::BadPosition {
            lon: p.lon,
            lat: p.lat,
        };
        if !p.is_valid() {
            return Err(bad);
        }
        let proj = waterway.project(p).ok_or(bad)?;
        if !proj.offset_m.is_finite() || proj.offset_m.abs() > self.config.max_offset_m {
            return Err(FixRejected::OffTheMap {
                offset_km: proj.offset_m.abs() / 1000.0,
                max_km: self.config.max_offset_m / 1000.0,
            });
        }
        let made_good_kn = match self.last {
            Some(last) if fix.at <= last.at => {
                return Err(FixRejected::OutOfOrder {
                    at: fix.at,
                    last: last.at,
                });
            }
            Some(last) => {
                let h = hours_between(last.at, fix.at);
                let kn = last.position.geodesic_m(p) / 1852.0 / h;
                if kn > self.config.max_speed_kn && last.position.geodesic_m(p) > 1000.0 {
                    return Err(FixRejected::Jump {
                        kn,
                        max_kn: self.config.max_speed_kn,
                    });
                }
                Some(((proj.km - last.km).abs() / KMH_PER_KN / h, kn))
            }
            None => None,
        };
        let sog_kn = fix
            .sog_kn
            .filter(|v| v.is_finite() && *v >= 0.0)
            .or(made_good_kn.map(|(along_kn, _)| along_kn))
            .unwrap_or(0.0);
        let km = proj.km;
        let places = waterway.places();
        let place = places.at(km, proj.offset_m).map(|(_, pl)| pl);
        let here = Located {
            at: fix.at,
            position: p,
            km,
            offset_m: proj.offset_m,
            sog_kn,
            in_stopping_place: place.is_some_and(|pl| pl.kind.is_stopping_place()),
        };

        self.moving = if self.moving {
            sog_kn >= self.config.stop_kn
        } else {
            sog_kn >= self.config.resume_kn
        };

        // Time spent waiting for a lock is not transit time: charge the interval since the last
        // fix to the section visited then when the ship was waiting through it.
        let was_waiting = self
            .lock
            .as_ref()
            .is_some_and(|v| v.waiting_since.is_some() && v.entered.is_none());
        if was_waiting && let (Some(last), Some(visit)) = (self.last, &mut self.section) {
            visit.waits_h += hours_between(last.at, fix.at);
        }

        let mut events = Vec::new();
        let in_lock = places
            .iter()
            .map(|(_, pl)| pl)
            .find(|pl| pl.kind == PlaceKind::Lock && pl.contains(km, proj.offset_m))
            .or_else(|| place.filter(|pl| is_lock(pl)));
        // The cruising speed learns from the open river only, not from lock speed.
        if self.moving
            && in_lock.is_none()
            && let Some((along_kn, _)) = made_good_kn
        {
            let v = along_kn * KMH_PER_KN;
            self.cruise_kmh = Some(self.cruise_kmh.map_or(v, |c| 0.8 * c + 0.2 * v));
        }
        self.handle_locks(places, in_lock, &here, &mut events);
        let waiting = !self.moving && in_lock.is_none() && self.lock_ahead(places, km).is_some();
        if waiting {
            let ahead = self.lock_ahead(places, km).cloned();
            if let Some(pl) = ahead {
                let visit = match &mut self.lock {
                    Some(v) if v.id == pl.id => v,
                    slot => slot.insert(LockVisit::of(&pl)),
                };
                visit.waiting_since.get_or_insert(fix.at);
            }
        }
        let state = if in_lock.is_some() {
            VoyageState::InLock
        } else if self.moving {
            VoyageState::UnderWay
        } else if place.is_some_and(|pl| pl.kind == PlaceKind::Port) {
            VoyageState::Berthed
        } else if waiting {
            VoyageState::WaitingForLock
        } else if fix.nav == NavHint::Moored {
            VoyageState::Moored
        } else if fix.nav == NavHint::AtAnchor
            || place.is_some_and(|pl| pl.kind == PlaceKind::Anchorage)
        {
            VoyageState::AtAnchor
        } else {
            VoyageState::Stopped
        };

        self.handle_sections(&here, &mut events);
        if self.speeds.len() >= self.config.speed_history.max(1) {
            self.speeds.pop_front();
        }
        self.speeds.push_back(SpeedSample {
            at: fix.at,
            km,
            sog_kn,
        });
        let previous = self.state.map(|(s, _)| s);
        if previous != Some(state) {
            self.state = Some((state, fix.at));
            events.push(TrackEvent::StateChanged {
                from: previous,
                to: state,
                at: fix.at,
                km,
            });
        }
        self.last = Some(here);
        Ok(events)
    }

    /// The first lock ahead within the approach distance that has not been passed.
    fn lock_ahead<'p>(&self, places: &'p Places, km: f64) -> Option<&'p Place> {
        let (_, pl) = places.next(km, self.direction, |pl| pl.kind == PlaceKind::Lock)?;
        let near = pl.distance_km(km) <= self.config.lock_approach_km;
        let passed = self.passages.iter().any(|x| x.lock == pl.id);
        (near && !passed).then_some(pl)
    }

    fn past(&self, km: f64, upstream_km: f64, downstream_km: f64) -> bool {
        match self.direction {
            Direction::Downstream => km < downstream_km,
            Direction::Upstream => km > upstream_km,
        }
    }

    fn before(&self, km: f64, upstream_km: f64, downstream_km: f64) -> bool {
        match self.direction {
            Direction::Downstream => km > upstream_km,
            Direction::Upstream => km < downstream_km,
        }
    }

    /// The end of an extent a ship going this voyage's way enters by.
    fn entry_km(&self, upstream_km: f64, downstream_km: f64) -> f64 {
        match self.direction {
            Direction::Downstream => upstream_km,
            Direction::Upstream => downstream_km,
        }
    }

    /// The end it leaves by.
    fn exit_km(&self, upstream_km: f64, downstream_km: f64) -> f64 {
        match self.direction {
            Direction::Downstream => downstream_km,
            Direction::Upstream => upstream_km,
        }
    }

    fn handle_locks(
        &mut self,
        places: &Places,
        in_lock: Option<&Place>,
        here: &Located,
        events: &mut Vec<TrackEvent>,
    ) {
        // The ship lift sits inside the lock area: both count as the lock's place.
        let lock_here = in_lock.map(|pl| {
            places
                .iter()
                .map(|(_, p)| p)
                .find(|p| p.kind == PlaceKind::Lock && p.contains_km(here.km))
                .unwrap_or(pl)
        });
        // Left the lock area of the last fix, perhaps (after an AIS gap) straight into the next
        // one: on the far side it is a passage; back on the near side, not yet.
        if let Some(v) = self.lock.clone()
            && let Some(entered) = v.entered
            && lock_here.is_none_or(|l| l.id != v.id)
        {
            if self.past(here.km, v.upstream_km, v.downstream_km) {
                let exit_km = self.exit_km(v.upstream_km, v.downstream_km);
                let left = self.time_at(exit_km, here).max(entered);
                self.pass(v, entered, left, false, events);
            } else if self.before(here.km, v.upstream_km, v.downstream_km)
                && let Some(visit) = &mut self.lock
            {
                // Back on the near side: not through yet. (Within the extent but laterally
                // outside the area keeps the entry.)
                visit.entered = None;
            }
        }
        // Then lock areas a gap crossed whole, so passages stay in the order they were made.
        self.infer_crossed(places, here, events);
        let Some(lock) = lock_here else { return };
        if self.passages.iter().any(|x| x.lock == lock.id) {
            return;
        }
        let visit = match &mut self.lock {
            Some(v) if v.id == lock.id => v,
            slot => slot.insert(LockVisit::of(lock)),
        };
        if visit.entered.is_none() {
            // Interpolate the crossing of the entry boundary when the last fix was before it.
            let (up, down) = (visit.upstream_km, visit.downstream_km);
            let entry_km = self.entry_km(up, down);
            let entered = match self.last {
                Some(l) if self.before(l.km, up, down) => self.time_at(entry_km, here),
                _ => here.at,
            };
            if let Some(visit) = &mut self.lock {
                visit.entered = Some(entered);
            }
        }
    }

    /// Lock areas crossed whole between the last fix and `here` (an AIS gap) get an inferred
    /// passage.
    fn infer_crossed(&mut self, places: &Places, here: &Located, events: &mut Vec<TrackEvent>) {
        let Some(last) = self.last else { return };
        let crossed: Vec<Place> = places
            .iter()
            .map(|(_, p)| p)
            .filter(|p| {
                p.kind == PlaceKind::Lock
                    && self.before(last.km, p.upstream_km, p.downstream_km)
                    && self.past(here.km, p.upstream_km, p.downstream_km)
                    && !self.passages.iter().any(|x| x.lock == p.id)
            })
            .cloned()
            .collect();
        let mut crossed = crossed;
        if self.direction == Direction::Upstream {
            crossed.reverse();
        }
        for p in crossed {
            let visit = match self.lock.take() {
                Some(v) if v.id == p.id => v,
                other => {
                    self.lock = other;
                    LockVisit::of(&p)
                }
            };
            let entered = self.time_at(self.entry_km(p.upstream_km, p.downstream_km), here);
            let left = self.time_at(self.exit_km(p.upstream_km, p.downstream_km), here);
            self.pass(visit, entered, left, true, events);
        }
    }

    fn pass(
        &mut self,
        v: LockVisit,
        entered: DateTime<Utc>,
        left: DateTime<Utc>,
        inferred: bool,
        events: &mut Vec<TrackEvent>,
    ) {
        let passage = LockPassage {
            lock: v.id.clone(),
            direction: self.direction,
            waiting_since: v.waiting_since.filter(|w| *w <= entered),
            entered,
            left,
            inferred,
        };
        if self.lock.as_ref().is_some_and(|l| l.id == v.id) {
            self.lock = None;
        }
        self.passages.push(passage.clone());
        events.push(TrackEvent::LockPassed(passage));
    }

    fn section_at(&self, km: f64) -> Option<usize> {
        self.sections
            .iter()
            .position(|s| s.downstream_km <= km && km <= s.upstream_km)
    }

    /// Time at which the ship passed `boundary_km` between the last fix and `here`, by linear
    /// interpolation in km.
    fn time_at(&self, boundary_km: f64, here: &Located) -> DateTime<Utc> {
        let Some(last) = self.last else {
            return here.at;
        };
        let span = here.km - last.km;
        if span == 0.0 {
            return here.at;
        }
        let f = ((boundary_km - last.km) / span).clamp(0.0, 1.0);
        let ms = ((here.at - last.at).num_milliseconds() as f64 * f) as i64;
        last.at + TimeDelta::milliseconds(ms)
    }

    fn handle_sections(&mut self, here: &Located, events: &mut Vec<TrackEvent>) {
        let now = self.section_at(here.km);
        if let Some(v) = &self.section
            && Some(v.index) != now
        {
            let s = &self.sections[v.index];
            let (exit_km, went_through) = match self.direction {
                Direction::Downstream => (s.downstream_km, here.km < s.downstream_km),
                Direction::Upstream => (s.upstream_km, here.km > s.upstream_km),
            };
            if went_through {
                let left = self.time_at(exit_km, here);
                let length = s.upstream_km - s.downstream_km;
                let covered_km = (v.entry_km - exit_km).abs();
                let raw_h = hours_between(v.entered, left) - v.waits_h;
                if covered_km >= self.config.min_section_share * length && raw_h > 0.0 {
                    events.push(TrackEvent::SectionTransited(SectionTransit {
                        section: s.id.clone(),
                        direction: self.direction,
                        entered: v.entered,
                        left,
                        covered_km,
                        hours: raw_h * length / covered_km,
                    }));
                }
            }
            self.section = None;
        }
        // A visit starts at a boundary crossed, or else at the first fix under way (hours
        // berthed before departure are not transit time).
        if self.section.is_none()
            && let Some(i) = now
            && (self.moving || self.last.is_some_and(|l| self.section_at(l.km) != Some(i)))
        {
            let s = &self.sections[i];
            let entry = match (self.last, self.direction) {
                (Some(l), _) if self.section_at(l.km) == Some(i) => None,
                (Some(l), Direction::Downstream) if l.km >= s.upstream_km => Some(s.upstream_km),
                (Some(l), Direction::Upstream) if l.km <= s.downstream_km => Some(s.downstream_km),
                _ => None,
            };
            let (entry_km, entered) = match entry {
                Some(b) => (b, self.time_at(b, here)),
                None => (here.km, here.at),
            };
            self.section = Some(SectionVisit {
                index: i,
                entered,
                entry_km,
                waits_h: 0.0,
            });
        }
    }

    /// ETAs from the last fix to the next port, lock or bridge ahead and to the destination.
    /// A lock the ship is already waiting for counts only its remaining expected wait, and a
    /// lock it is in counts none.
    pub fn eta(&self, model: &EtaModel, places: &Places) -> Result<Option<TrackEta>, EtaError> {
        let Some(last) = self.last else {
            return Ok(None);
        };
        let speed = self.planning_speed_kmh();
        let v = voyage_eta(model, places, last.km, self.destination_km, speed, |p| {
            matches!(
                p.kind,
                PlaceKind::Port | PlaceKind::Lock | PlaceKind::Bridge
            )
        })?;
        let next_place = v.next_place.and_then(|(id, e)| {
            let name = places.get(id)?.id.clone();
            Some((name, self.discount_waits(e, last.at)))
        });
        Ok(Some(TrackEta {
            from: last.at,
            next_place,
            destination: self.discount_waits(v.destination, last.at),
        }))
    }

    fn discount_waits(&self, mut e: Estimate, at: DateTime<Utc>) -> Estimate {
        let Some(visit) = &self.lock else { return e };
        let waited = match (visit.entered, visit.waiting_since) {
            (Some(_), _) => f64::INFINITY,
            (None, Some(since)) => hours_between(since, at).max(0.0),
            (None, None) => return e,
        };
        for l in e.locks.iter_mut().filter(|l| l.lock == visit.id) {
            let (p50, p90) = (
                (l.wait_p50_h - waited).max(0.0),
                (l.wait_p90_h - waited).max(0.0),
            );
            e.p50_h -= l.wait_p50_h - p50;
            e.p90_h -= l.wait_p90_h - p90;
            l.wait_p50_h = p50;
            l.wait_p90_h = p90;
        }
        e
    }
}
