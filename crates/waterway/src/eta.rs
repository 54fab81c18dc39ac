//! A data-driven ETA model: section transit-time histories, lock waits, a speed fallback.
//!
//! The river is cut into [`Section`]s (by default Chongqing – Three Gorges reservoir, the dam
//! area, Yichang – Wuhan, Wuhan – Nanjing, Nanjing – Wusongkou/estuary). For each section and
//! [`Direction`] the model keeps a bounded history of observed transit times, in hours, **not
//! counting lock waiting**; each lock keeps its own history of waits (待闸, from joining the queue
//! to entering the chamber). An estimate for a stretch of river adds, per section crossed, the
//! P50 (P90) of its history scaled by the fraction of the section that is still ahead, plus the
//! P50 (P90) wait of each lock ahead.
//!
//! Where a section has no history the ship's current speed is the fallback (km / speed, plus the
//! lock's passage time, which a measured transit would have included). A lock with no wait
//! history adds no wait and says so ([`Basis::NoData`]). Adding per-section P90s gives a
//! conservative route P90 (it assumes the slow cases coincide); that is deliberate for a
//! customs time-limit warning. Everything is pure: time comes in as `now`.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

use crate::datum::{Datum, DatumKm, Datums};
use crate::place::{Place, PlaceId, Places};
use crate::voyage::Direction;

/// A stretch of river whose transit times are recorded together.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    /// Stable identifier, e.g. `yichang-wuhan`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Upstream end, unified km.
    pub upstream_km: f64,
    /// Downstream end, unified km.
    pub downstream_km: f64,
}

impl Section {
    /// A section from `upstream_km` down to `downstream_km`.
    pub fn new(id: &str, name: &str, upstream_km: f64, downstream_km: f64) -> Section {
        Section {
            id: id.into(),
            name: name.into(),
            upstream_km,
            downstream_km,
        }
    }

    fn length_km(&self) -> f64 {
        self.upstream_km - self.downstream_km
    }

    fn overlap_km(&self, lo: f64, hi: f64) -> f64 {
        (hi.min(self.upstream_km) - lo.max(self.downstream_km)).max(0.0)
    }
}

/// A lock (or a pair of dams' locks) with its own waiting history.
#[derive(Clone, Debug, PartialEq)]
pub struct Lock {
    /// Stable identifier, e.g. `three-gorges-locks` (matches the place id).
    pub id: String,
    /// Unified km of the lock.
    pub km: f64,
    /// Time in the lock itself, hours; used only when the surrounding section has no history.
    pub passage_h: f64,
}

/// The 50th and 90th percentiles of a sample, in its unit (hours here).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
}

/// P50 and P90 of `samples` by linear interpolation between order statistics (the "linear"
/// method, numpy's default: rank `p·(n−1)`). Non-finite and negative samples are ignored;
/// `None` when nothing is left.
pub fn percentiles(samples: impl IntoIterator<Item = f64>) -> Option<Percentiles> {
    let mut xs: Vec<f64> = samples
        .into_iter()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .collect();
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let rank = p * (xs.len() - 1) as f64;
        let lo = rank.floor() as usize;
        let hi = rank.ceil() as usize;
        let (a, b) = (xs[lo], xs[hi.min(xs.len() - 1)]);
        a + (rank - lo as f64) * (b - a)
    };
    Some(Percentiles {
        p50: q(0.5),
        p90: q(0.9),
    })
}

/// A bounded history of observations (oldest dropped first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    samples: VecDeque<f64>,
}

impl History {
    fn push(&mut self, x: f64, cap: usize) {
        while self.samples.len() >= cap.max(1) {
            self.samples.pop_front();
        }
        self.samples.push_back(x);
    }

    /// How many observations are kept.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// P50/P90 of the kept observations.
    pub fn percentiles(&self) -> Option<Percentiles> {
        percentiles(self.samples.iter().copied())
    }
}

/// What a leg's time is based on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Basis {
    /// Percentiles of this many recorded observations.
    History {
        /// Number of observations.
        samples: usize,
    },
    /// Distance over the ship's current speed (no history).
    CurrentSpeed {
        /// The speed used, km/h.
        kmh: f64,
    },
    /// No history and nothing to fall back on; the leg contributes zero (lock waits only).
    NoData,
}

/// Time for the part of one section that lies ahead.
#[derive(Clone, Debug, PartialEq)]
pub struct Leg {
    /// Section id, or `""` for river outside every section.
    pub section: String,
    /// km of this section still ahead.
    pub km: f64,
    /// Hours, median.
    pub p50_h: f64,
    /// Hours, 90th percentile.
    pub p90_h: f64,
    /// Where the figures come from.
    pub basis: Basis,
}

/// Expected wait (and, on the speed fallback, passage) at one lock ahead.
#[derive(Clone, Debug, PartialEq)]
pub struct LockLeg {
    /// Lock id.
    pub lock: String,
    /// Waiting hours, median.
    pub wait_p50_h: f64,
    /// Waiting hours, 90th percentile.
    pub wait_p90_h: f64,
    /// Passage hours added because the section time came from the speed fallback (else 0).
    pub passage_h: f64,
    /// Where the wait figures come from.
    pub basis: Basis,
}

/// An ETA for one stretch of river.
///
/// Invariant: `p50_h <= p90_h`; both are the sums over `legs` and `locks`.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Hours to go, median.
    pub p50_h: f64,
    /// Hours to go, 90th percentile (conservative: per-section P90s added).
    pub p90_h: f64,
    /// Per-section breakdown, in the order travelled.
    pub legs: Vec<Leg>,
    /// Locks ahead, in the order travelled.
    pub locks: Vec<LockLeg>,
}

impl Estimate {
    /// Arrival instants (P50, P90) for an estimate made at `now`.
    pub fn arrival(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (now + hours(self.p50_h), now + hours(self.p90_h))
    }
}

fn hours(h: f64) -> TimeDelta {
    // Clamp to ±10 years so a silly input cannot overflow the conversion.
    let ms = (h * 3_600_000.0).clamp(-3.2e11, 3.2e11);
    TimeDelta::try_milliseconds(ms as i64).unwrap_or_default()
}

/// Why a model could not be built or an estimate made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EtaError {
    /// A section's km are not finite or its ends are out of order, or sections overlap.
    #[error(
        "section {id:?}: ends must be finite, upstream > downstream, and sections must not overlap"
    )]
    BadSection {
        /// The section id.
        id: String,
    },
    /// A lock's km or passage time is not finite (or negative).
    #[error("lock {id:?}: km must be finite and passage_h >= 0")]
    BadLock {
        /// The lock id.
        id: String,
    },
    /// No section or lock has this id.
    #[error("unknown section or lock {id:?}")]
    Unknown {
        /// The id asked for.
        id: String,
    },
    /// An observation is not a finite, non-negative number of hours.
    #[error("observation must be a finite, non-negative number of hours, got {hours}")]
    BadObservation {
        /// The value given.
        hours: f64,
    },
    /// A km given is not finite.
    #[error("km must be finite")]
    BadKm,
    /// A stretch has no history and there is no usable current speed to fall back on.
    #[error(
        "no history for section {section:?} and no usable current speed (need >= {min_kmh} km/h)"
    )]
    NoBasis {
        /// Section id (`""` outside every section).
        section: String,
        /// The minimum speed the model trusts.
        min_kmh: f64,
    },
}

/// The ETA model: sections, locks and their histories.
#[derive(Clone, Debug)]
pub struct EtaModel {
    sections: Vec<Section>,
    locks: Vec<Lock>,
    /// `[downstream, upstream]` history per section, parallel to `sections`.
    transit: Vec<[History; 2]>,
    /// `[downstream, upstream]` waits per lock, parallel to `locks`.
    waits: Vec<[History; 2]>,
    /// Observations kept per history.
    capacity: usize,
    /// Below this speed (km/h) the current speed is not a usable fallback.
    min_speed_kmh: f64,
}

fn slot(d: Direction) -> usize {
    match d {
        Direction::Downstream => 0,
        Direction::Upstream => 1,
    }
}

impl EtaModel {
    /// A model with no history. Sections must not overlap; they need not cover the whole river
    /// (the speed fallback covers gaps). Keeps 500 observations per history and trusts speeds
    /// of 2 km/h and more; see [`EtaModel::with_capacity`] and [`EtaModel::with_min_speed`].
    pub fn new(mut sections: Vec<Section>, locks: Vec<Lock>) -> Result<EtaModel, EtaError> {
        for s in &sections {
            let ok = s.upstream_km.is_finite()
                && s.downstream_km.is_finite()
                && s.upstream_km > s.downstream_km;
            if !ok {
                return Err(EtaError::BadSection { id: s.id.clone() });
            }
        }
        sections.sort_by(|a, b| b.upstream_km.total_cmp(&a.upstream_km));
        for w in sections.windows(2) {
            if w[1].upstream_km > w[0].downstream_km {
                return Err(EtaError::BadSection {
                    id: w[1].id.clone(),
                });
            }
        }
        for l in &locks {
            if !(l.km.is_finite() && l.passage_h.is_finite() && l.passage_h >= 0.0) {
                return Err(EtaError::BadLock { id: l.id.clone() });
            }
        }
        Ok(EtaModel {
            transit: vec![Default::default(); sections.len()],
            waits: vec![Default::default(); locks.len()],
            sections,
            locks,
            capacity: 500,
            min_speed_kmh: 2.0,
        })
    }

    /// The corridor's default sections and the two dams' locks (domain brief §1.2–§1.3).
    pub fn yangtze(d: &Datums) -> EtaModel {
        let u = |km: f64| d.to_unified(DatumKm::new(Datum::Upper, km));
        let m = |km: f64| d.to_unified(DatumKm::new(Datum::Middle, km));
        let l = |km: f64| d.to_unified(DatumKm::new(Datum::Lower, km));
        let sections = vec![
            Section::new(
                "chongqing-reservoir",
                "Chongqing – Three Gorges reservoir (to Miaohe)",
                u(700.0),
                u(59.0),
            ),
            Section::new(
                "dam-area",
                "Dam area: Miaohe – Three Gorges – Gezhouba – Yichang",
                u(59.0),
                u(0.0),
            ),
            Section::new("yichang-wuhan", "Yichang – Wuhan", u(0.0), m(0.0)),
            Section::new("wuhan-nanjing", "Wuhan – Nanjing", m(0.0), l(345.0)),
            Section::new(
                "nanjing-wusongkou",
                "Nanjing – Wusongkou and the estuary",
                l(345.0),
                l(-60.0),
            ),
        ];
        let locks = vec![
            // Five-step locks ~3 h per ship (3 h 10 min – 4 h); the lift ~40 min.
            Lock {
                id: "three-gorges-locks".into(),
                km: u(45.0),
                passage_h: 3.5,
            },
            // Gezhouba passage time not found; ~1 h inferred.
            Lock {
                id: "gezhouba-locks".into(),
                km: u(6.0),
                passage_h: 1.0,
            },
        ];
        // The table above is valid by construction (a test checks it).
        EtaModel::new(sections.clone(), locks.clone()).unwrap_or(EtaModel {
            transit: Vec::new(),
            waits: Vec::new(),
            sections: Vec::new(),
            locks: Vec::new(),
            capacity: 500,
            min_speed_kmh: 2.0,
        })
    }

    /// Keep at most `n` (≥ 1) observations per history.
    pub fn with_capacity(mut self, n: usize) -> EtaModel {
        self.capacity = n.max(1);
        self
    }

    /// Trust the current speed only at or above `kmh`.
    pub fn with_min_speed(mut self, kmh: f64) -> EtaModel {
        if kmh.is_finite() && kmh > 0.0 {
            self.min_speed_kmh = kmh;
        }
        self
    }

    /// The sections, upstream first.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The locks.
    pub fn locks(&self) -> &[Lock] {
        &self.locks
    }

    /// Records a complete transit of a section (hours, excluding lock waits).
    pub fn record_transit(
        &mut self,
        section: &str,
        direction: Direction,
        hours: f64,
    ) -> Result<(), EtaError> {
        check_obs(hours)?;
        let i = self.section_index(section)?;
        let cap = self.capacity;
        self.transit[i][slot(direction)].push(hours, cap);
        Ok(())
    }

    /// Records one wait at a lock (hours from joining the queue to entering the lock).
    pub fn record_lock_wait(
        &mut self,
        lock: &str,
        direction: Direction,
        hours: f64,
    ) -> Result<(), EtaError> {
        check_obs(hours)?;
        let i = self
            .locks
            .iter()
            .position(|l| l.id == lock)
            .ok_or_else(|| EtaError::Unknown { id: lock.into() })?;
        let cap = self.capacity;
        self.waits[i][slot(direction)].push(hours, cap);
        Ok(())
    }

    /// The transit history of a section in one direction.
    pub fn transit_history(&self, section: &str, direction: Direction) -> Option<&History> {
        let i = self.section_index(section).ok()?;
        Some(&self.transit[i][slot(direction)])
    }

    /// The wait history of a lock in one direction.
    pub fn wait_history(&self, lock: &str, direction: Direction) -> Option<&History> {
        let i = self.locks.iter().position(|l| l.id == lock)?;
        Some(&self.waits[i][slot(direction)])
    }

    fn section_index(&self, id: &str) -> Result<usize, EtaError> {
        self.sections
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| EtaError::Unknown { id: id.into() })
    }

    /// Estimates the time from `from_km` to `to_km` (unified km) for a ship now making
    /// `speed_kmh` over ground (`None` if unknown). Zero when the two coincide.
    pub fn estimate(
        &self,
        from_km: f64,
        to_km: f64,
        speed_kmh: Option<f64>,
    ) -> Result<Estimate, EtaError> {
        if !(from_km.is_finite() && to_km.is_finite()) {
            return Err(EtaError::BadKm);
        }
        let Some(direction) = Direction::between(from_km, to_km) else {
            return Ok(Estimate {
                p50_h: 0.0,
                p90_h: 0.0,
                legs: Vec::new(),
                locks: Vec::new(),
            });
        };
        let (lo, hi) = (from_km.min(to_km), from_km.max(to_km));
        let speed = speed_kmh.filter(|v| v.is_finite() && *v >= self.min_speed_kmh);
        let fallback = |section: &str, km: f64| -> Result<(f64, Basis), EtaError> {
            match speed {
                Some(v) => Ok((km / v, Basis::CurrentSpeed { kmh: v })),
                None => Err(EtaError::NoBasis {
                    section: section.into(),
                    min_kmh: self.min_speed_kmh,
                }),
            }
        };
        let mut legs = Vec::new();
        let mut speed_sections: Vec<(f64, f64)> = Vec::new();
        let mut covered = 0.0;
        for (i, s) in self.sections.iter().enumerate() {
            let km = s.overlap_km(lo, hi);
            if km <= 0.0 {
                continue;
            }
            covered += km;
            let hist = &self.transit[i][slot(direction)];
            let leg = match hist.percentiles() {
                Some(p) => {
                    let f = km / s.length_km();
                    Leg {
                        section: s.id.clone(),
                        km,
                        p50_h: p.p50 * f,
                        p90_h: p.p90 * f,
                        basis: Basis::History {
                            samples: hist.len(),
                        },
                    }
                }
                None => {
                    let (h, basis) = fallback(&s.id, km)?;
                    speed_sections.push((s.upstream_km, s.downstream_km));
                    Leg {
                        section: s.id.clone(),
                        km,
                        p50_h: h,
                        p90_h: h,
                        basis,
                    }
                }
            };
            legs.push(leg);
        }
        let uncovered = (hi - lo) - covered;
        if uncovered > 1e-9 {
            let (h, basis) = fallback("", uncovered)?;
            legs.push(Leg {
                section: String::new(),
                km: uncovered,
                p50_h: h,
                p90_h: h,
                basis,
            });
        }
        if direction == Direction::Upstream {
            legs.reverse();
        }
        let ahead = |k: f64| match direction {
            Direction::Downstream => to_km < k && k <= from_km,
            Direction::Upstream => from_km <= k && k < to_km,
        };
        let mut locks = Vec::new();
        for (i, l) in self.locks.iter().enumerate() {
            if !ahead(l.km) {
                continue;
            }
            let hist = &self.waits[i][slot(direction)];
            let (wait_p50_h, wait_p90_h, basis) = match hist.percentiles() {
                Some(p) => (
                    p.p50,
                    p.p90,
                    Basis::History {
                        samples: hist.len(),
                    },
                ),
                None => (0.0, 0.0, Basis::NoData),
            };
            let in_sections = self
                .sections
                .iter()
                .any(|s| s.downstream_km <= l.km && l.km <= s.upstream_km);
            let on_speed = !in_sections
                || speed_sections
                    .iter()
                    .any(|&(up, down)| down <= l.km && l.km <= up);
            let passage_h = if on_speed { l.passage_h } else { 0.0 };
            locks.push(LockLeg {
                lock: l.id.clone(),
                wait_p50_h,
                wait_p90_h,
                passage_h,
                basis,
            });
        }
        if direction == Direction::Upstream {
            locks.sort_by(|a, b| self.lock_km(&a.lock).total_cmp(&self.lock_km(&b.lock)));
        } else {
            locks.sort_by(|a, b| self.lock_km(&b.lock).total_cmp(&self.lock_km(&a.lock)));
        }
        let p50_h = legs.iter().map(|l| l.p50_h).sum::<f64>()
            + locks
                .iter()
                .map(|l| l.wait_p50_h + l.passage_h)
                .sum::<f64>();
        let p90_h = legs.iter().map(|l| l.p90_h).sum::<f64>()
            + locks
                .iter()
                .map(|l| l.wait_p90_h + l.passage_h)
                .sum::<f64>();
        Ok(Estimate {
            p50_h,
            p90_h,
            legs,
            locks,
        })
    }

    fn lock_km(&self, id: &str) -> f64 {
        self.locks.iter().find(|l| l.id == id).map_or(0.0, |l| l.km)
    }
}

fn check_obs(hours: f64) -> Result<(), EtaError> {
    if hours.is_finite() && hours >= 0.0 {
        Ok(())
    } else {
        Err(EtaError::BadObservation { hours })
    }
}

/// ETAs for a voyage: to the next place of interest and to the destination.
#[derive(Clone, Debug, PartialEq)]
pub struct VoyageEta {
    /// The next place ahead (before the destination) that the filter accepted, with its ETA.
    pub next_place: Option<(PlaceId, Estimate)>,
    /// ETA to the destination.
    pub destination: Estimate,
}

/// ETAs from `current_km` to the next place accepted by `filter` (strictly ahead, not beyond the
/// destination) and to `destination_km`.
pub fn voyage_eta(
    model: &EtaModel,
    places: &Places,
    current_km: f64,
    destination_km: f64,
    speed_kmh: Option<f64>,
    filter: impl FnMut(&Place) -> bool,
) -> Result<VoyageEta, EtaError> {
    let destination = model.estimate(current_km, destination_km, speed_kmh)?;
    let next_place = match Direction::between(current_km, destination_km) {
        None => None,
        Some(dir) => match places.next(current_km, dir, filter) {
            Some((id, p)) if between(p.km, current_km, destination_km) => {
                Some((id, model.estimate(current_km, p.km, speed_kmh)?))
            }
            _ => None,
        },
    };
    Ok(VoyageEta {
        next_place,
        destination,
    })
}

fn between(k: f64, a: f64, b: f64) -> bool {
    a.min(b) <= k && k <= a.max(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::place::PlaceKind;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile(range(1, 11), [50, 90]) == [5.5, 9.1]
        let p = percentiles((1..=10).map(f64::from)).unwrap();
        assert!(close(p.p50, 5.5) && close(p.p90, 9.1), "{p:?}");
        let p = percentiles([7.0]).unwrap();
        assert_eq!((p.p50, p.p90), (7.0, 7.0));
        // Order does not matter; junk is ignored.
        let p = percentiles([30.0, f64::NAN, 10.0, -1.0, 20.0]).unwrap();
        assert!(close(p.p50, 20.0) && close(p.p90, 28.0), "{p:?}");
        assert!(percentiles([f64::NAN]).is_none());
        assert!(percentiles(std::iter::empty()).is_none());
    }

    fn toy() -> EtaModel {
        EtaModel::new(
            vec![
                Section::new("a", "A", 300.0, 200.0),
                Section::new("b", "B", 200.0, 100.0),
            ],
            vec![Lock {
                id: "lock".into(),
                km: 150.0,
                passage_h: 2.0,
            }],
        )
        .unwrap()
    }

    #[test]
    fn history_scales_with_the_fraction_ahead() {
        let mut m = toy();
        for h in [8.0, 10.0, 12.0, 14.0, 16.0] {
            m.record_transit("a", Direction::Downstream, h).unwrap();
        }
        // Half of section a ahead: P50 12 h → 6 h; P90 15.2 h → 7.6 h.
        let e = m.estimate(250.0, 200.0, None).unwrap();
        assert!(close(e.p50_h, 6.0) && close(e.p90_h, 7.6), "{e:?}");
        assert_eq!(e.legs[0].basis, Basis::History { samples: 5 });
        // Upstream has no history and no speed: refused, naming the section.
        assert_eq!(
            m.estimate(200.0, 250.0, None).unwrap_err(),
            EtaError::NoBasis {
                section: "a".into(),
                min_kmh: 2.0
            }
        );
    }

    #[test]
    fn speed_fallback_adds_lock_passage_and_lock_waits_are_separate() {
        let mut m = toy();
        for h in [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0] {
            m.record_lock_wait("lock", Direction::Downstream, h)
                .unwrap();
        }
        // 100 km of section b at 20 km/h = 5 h, + passage 2 h, + wait 5.5 / 9.1 h.
        let e = m.estimate(200.0, 100.0, Some(20.0)).unwrap();
        assert!(close(e.p50_h, 12.5) && close(e.p90_h, 16.1), "{e:?}");
        assert_eq!(e.locks.len(), 1);
        assert_eq!(e.locks[0].basis, Basis::History { samples: 10 });
        // With a history for b, the passage is inside the transit times.
        for h in [20.0, 22.0] {
            m.record_transit("b", Direction::Downstream, h).unwrap();
        }
        let e = m.estimate(200.0, 100.0, Some(20.0)).unwrap();
        assert!(close(e.p50_h, 21.0 + 5.5), "{e:?}");
        assert_eq!(e.locks[0].passage_h, 0.0);
        // Past the lock, no wait.
        let e = m.estimate(140.0, 100.0, Some(20.0)).unwrap();
        assert!(e.locks.is_empty());
        // Upstream waits have their own (empty) history.
        let e = m.estimate(100.0, 200.0, Some(10.0)).unwrap();
        assert_eq!(e.locks[0].basis, Basis::NoData);
        assert!(close(e.p50_h, 10.0 + 2.0));
    }

    #[test]
    fn gaps_between_sections_use_speed_and_slow_ships_are_refused() {
        let m = EtaModel::new(vec![Section::new("a", "A", 300.0, 200.0)], vec![]).unwrap();
        let e = m.estimate(300.0, 150.0, Some(25.0)).unwrap();
        assert!(close(e.p50_h, 6.0));
        assert_eq!(e.legs.len(), 2);
        assert_eq!(e.legs[1].section, "");
        assert!(matches!(
            m.estimate(300.0, 150.0, Some(0.5)),
            Err(EtaError::NoBasis { .. })
        ));
        assert_eq!(m.estimate(10.0, 10.0, None).unwrap().p50_h, 0.0);
        assert_eq!(
            m.estimate(f64::NAN, 10.0, None).unwrap_err(),
            EtaError::BadKm
        );
    }

    #[test]
    fn histories_are_bounded_and_validated() {
        let mut m = toy().with_capacity(3);
        for h in [100.0, 1.0, 2.0, 3.0] {
            m.record_transit("a", Direction::Downstream, h).unwrap();
        }
        let h = m.transit_history("a", Direction::Downstream).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.percentiles().unwrap().p50, 2.0);
        assert!(matches!(
            m.record_transit("zz", Direction::Downstream, 1.0),
            Err(EtaError::Unknown { .. })
        ));
        assert!(matches!(
            m.record_transit("a", Direction::Downstream, -1.0),
            Err(EtaError::BadObservation { .. })
        ));
        assert!(matches!(
            m.record_lock_wait("a", Direction::Downstream, 1.0),
            Err(EtaError::Unknown { .. })
        ));
    }

    #[test]
    fn bad_models_are_refused() {
        let overlap = EtaModel::new(
            vec![
                Section::new("a", "A", 300.0, 200.0),
                Section::new("b", "B", 250.0, 100.0),
            ],
            vec![],
        );
        assert!(matches!(overlap, Err(EtaError::BadSection { .. })));
        let inverted = EtaModel::new(vec![Section::new("a", "A", 100.0, 200.0)], vec![]);
        assert!(matches!(inverted, Err(EtaError::BadSection { .. })));
        let lock = EtaModel::new(
            vec![],
            vec![Lock {
                id: "l".into(),
                km: f64::NAN,
                passage_h: 1.0,
            }],
        );
        assert!(matches!(lock, Err(EtaError::BadLock { .. })));
    }

    #[test]
    fn yangtze_model_and_voyage_eta() {
        let d = Datums::default();
        let mut m = EtaModel::yangtze(&d);
        assert_eq!(m.sections().len(), 5);
        // Guoyuan → Yichang ≈ 32 h (domain brief §1.3) recorded for the reservoir section.
        m.record_transit("chongqing-reservoir", Direction::Downstream, 36.0)
            .unwrap();
        m.record_lock_wait("three-gorges-locks", Direction::Downstream, 24.0)
            .unwrap();
        let places = Places::yangtze(&d);
        let v = voyage_eta(&m, &places, 2296.0, -7.0, Some(20.0), |p| {
            p.kind == PlaceKind::Lock
        })
        .unwrap();
        let (id, to_lock) = v.next_place.unwrap();
        assert_eq!(places.get(id).unwrap().id, "three-gorges-locks");
        // Reservoir share: (2296 − 1725) / (2366 − 1725) of 36 h, then 14 km of dam area at 20 km/h;
        // the lock's reference km (1711) is where its wait is counted.
        let reservoir = 36.0 * (2296.0 - 1725.0) / (2366.0 - 1725.0);
        assert!(
            close(to_lock.p50_h, reservoir + (1725.0 - 1711.0) / 20.0),
            "{to_lock:?}"
        );
        // Destination: wait 24 h, passages 3.5 + 1 h (dam area on speed), rest on speed.
        let rest = (1725.0 - (-7.0)) / 20.0;
        assert!(
            close(v.destination.p50_h, reservoir + rest + 24.0 + 4.5),
            "{:?}",
            v.destination
        );
        let now = DateTime::<Utc>::from_timestamp(1_751_000_000, 0).unwrap();
        let (a50, a90) = v.destination.arrival(now);
        assert!(a50 > now && a90 >= a50);
    }
}
