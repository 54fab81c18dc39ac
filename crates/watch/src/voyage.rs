//! Route anomalies of a tracked voyage: the voyage detectors. Observations of one voyage's
//! ship in (made by the shell from `jianghai_waterway`'s tracker: km, offset from the centre
//! line, speed, whether a stop is expected there, ETAs), [`Decision`]s about the voyage's
//! [`Subject`] out, in the same shape as the sensor engine's, so the shell raises and clears
//! alerts for both alike.
//!
//! - **Off the corridor**: the ship is further from the centre line than the corridor's
//!   half-width; cleared once it is back well inside (hysteresis).
//! - **Unplanned stop**: under 0.5 kn for `stop_after` while not where a stop is expected
//!   (ports, anchorages, lock areas, the approach of a lock it is waiting for).
//! - **AIS silence**: no position for `silence_after`. Raised by [`VoyageWatch::tick`] while
//!   the silence lasts (the shell asks [`VoyageWatch::poll_timeout`] when), or on the first fix
//!   after the gap when nobody ticked (replayed or time-compressed data); cleared by that fix.
//! - **ETA slipping**: the P50 arrival is more than `eta_slip_h` after the planned arrival.
//! - **Transit time limit at risk**: the P90 arrival is after the customs transit deadline.
//!
//! One anomaly of each kind is open at a time; a repeat of an open one says nothing. Time is
//! the observation's own time or `now` passed in. Nothing here knows AIS, the waterway model,
//! SQL or the clock.

use chrono::{DateTime, TimeDelta, Utc};
use jianghai_core::Ident;
use jianghai_core::reading::Subject;

use crate::{Alarm, Decision, EvidenceRef, RuleId, Severity};

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// Further from the centre line than the corridor allows.
    OffCorridor,
    /// Stopped where no stop is expected.
    UnplannedStop,
    /// No AIS position for too long.
    AisSilence,
    /// The expected arrival slipped past the plan.
    EtaSlip,
    /// The customs transit time limit (转关时限) is at risk.
    TransitLimitAtRisk,
}

impl AnomalyKind {
    /// Every kind.
    pub const ALL: [AnomalyKind; 5] = [
        AnomalyKind::OffCorridor,
        AnomalyKind::UnplannedStop,
        AnomalyKind::AisSilence,
        AnomalyKind::EtaSlip,
        AnomalyKind::TransitLimitAtRisk,
    ];

    /// The rule id alerts are raised under, e.g. `voyage-off-corridor`.
    pub fn rule_id(self) -> &'static str {
        match self {
            AnomalyKind::OffCorridor => "voyage-off-corridor",
            AnomalyKind::UnplannedStop => "voyage-unplanned-stop",
            AnomalyKind::AisSilence => "voyage-ais-silence",
            AnomalyKind::EtaSlip => "voyage-eta-slip",
            AnomalyKind::TransitLimitAtRisk => "voyage-transit-limit-at-risk",
        }
    }

    /// The kind whose rule id is `rule`.
    pub fn from_rule(rule: &str) -> Option<AnomalyKind> {
        AnomalyKind::ALL.into_iter().find(|k| k.rule_id() == rule)
    }

    /// The rule id as the engine's type.
    pub fn rule(self) -> RuleId {
        // The ids above are valid rule ids (a test checks them all).
        RuleId::parse(self.rule_id()).unwrap_or_else(|_| unreachable!())
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Thresholds of a [`VoyageWatch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnomalyConfig {
    /// Distance from the centre line beyond which the ship is off the corridor, m. The built-in
    /// line is good to 1–3 km in the reservoir, hence the generous default.
    pub corridor_half_width_m: f64,
    /// Back within this share of the half-width clears the anomaly.
    pub corridor_clear_share: f64,
    /// Below this speed (knots) the ship is stopped.
    pub stop_kn: f64,
    /// Stopped this long outside an expected place is an unplanned stop.
    pub stop_after: TimeDelta,
    /// No position for this long is AIS silence.
    pub silence_after: TimeDelta,
    /// P50 arrival this many hours after the plan is a slip.
    pub eta_slip_h: f64,
}

impl Default for AnomalyConfig {
    fn default() -> AnomalyConfig {
        AnomalyConfig {
            corridor_half_width_m: 2_000.0,
            corridor_clear_share: 0.8,
            stop_kn: 0.5,
            stop_after: TimeDelta::minutes(30),
            silence_after: TimeDelta::minutes(30),
            eta_slip_h: 6.0,
        }
    }
}

/// What the detectors look at, once per accepted fix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    /// Time of the fix.
    pub at: DateTime<Utc>,
    /// Unified km.
    pub km: f64,
    /// Signed offset from the centre line, m.
    pub offset_m: f64,
    /// Speed over ground, knots.
    pub sog_kn: f64,
    /// True where a stop is expected (port, anchorage, lock area, waiting for a lock).
    pub expected_stop: bool,
    /// Arrival at the destination, median and 90th percentile, if estimated.
    pub eta_p50: Option<DateTime<Utc>>,
    /// See `eta_p50`.
    pub eta_p90: Option<DateTime<Utc>>,
    /// The voyage's planned arrival, if planned.
    pub planned_arrival: Option<DateTime<Utc>>,
    /// The customs transit time limit, if set.
    pub transit_deadline: Option<DateTime<Utc>>,
}

/// A raised anomaly, before it becomes an [`Alarm`].
struct Anomaly {
    kind: AnomalyKind,
    severity: Severity,
    at: DateTime<Utc>,
    title: String,
    detail: String,
    /// The measurement that raised it: sensor name, time, value.
    evidence: (&'static str, DateTime<Utc>, f64),
}

/// The anomaly detectors of one voyage.
///
/// Invariant: for each kind, raises and clears alternate, starting with a raise.
#[derive(Clone, Debug)]
pub struct VoyageWatch {
    subject: Subject,
    /// The position source named in evidence, e.g. the ship's AIS station `mmsi-413801008`.
    source: Ident,
    config: AnomalyConfig,
    open: [bool; 5],
    stopped_since: Option<DateTime<Utc>>,
    last: Option<(DateTime<Utc>, f64)>,
}

fn hours(d: TimeDelta) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

fn duration_text(d: TimeDelta) -> String {
    let m = d.num_minutes();
    if m >= 60 {
        format!("{} h {:02} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

fn time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl VoyageWatch {
    /// Detectors for the voyage `subject` (kind voyage), whose positions come from `source`,
    /// with these thresholds and nothing open.
    pub fn new(subject: Subject, source: Ident, config: AnomalyConfig) -> VoyageWatch {
        VoyageWatch {
            subject,
            source,
            config,
            open: [false; 5],
            stopped_since: None,
            last: None,
        }
    }

    /// True when an anomaly of this kind is open.
    pub fn is_open(&self, kind: AnomalyKind) -> bool {
        self.open[kind.index()]
    }

    /// The time of the last observation.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last.map(|(t, _)| t)
    }

    /// When [`VoyageWatch::tick`] should next be called, if ever: when silence would begin.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        let (t, _) = self.last?;
        (!self.is_open(AnomalyKind::AisSilence)).then(|| t + self.config.silence_after)
    }

    fn raise(&mut self, out: &mut Vec<Decision>, a: Anomaly) {
        if !self.open[a.kind.index()] {
            self.open[a.kind.index()] = true;
            let (sensor, time, value) = a.evidence;
            out.push(Decision::Raise(Alarm {
                rule: a.kind.rule(),
                subject: self.subject.clone(),
                severity: a.severity,
                title: a.title,
                detail: a.detail,
                at: a.at,
                evidence: vec![EvidenceRef {
                    device: self.source.clone(),
                    sensor: sensor.to_string(),
                    time,
                    value,
                }],
            }));
        }
    }

    fn clear(&mut self, out: &mut Vec<Decision>, kind: AnomalyKind, at: DateTime<Utc>) {
        if self.open[kind.index()] {
            self.open[kind.index()] = false;
            out.push(Decision::Clear {
                rule: kind.rule(),
                subject: self.subject.clone(),
                at,
            });
        }
    }

    /// Checks for silence at `now` (the shell's clock, or the time of the next fix).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Decision> {
        let mut out = Vec::new();
        self.check_silence(&mut out, now);
        out
    }

    fn check_silence(&mut self, out: &mut Vec<Decision>, now: DateTime<Utc>) {
        let Some((t, km)) = self.last else { return };
        let gap = now - t;
        if gap > self.config.silence_after {
            self.raise(
                out,
                Anomaly {
                    kind: AnomalyKind::AisSilence,
                    severity: Severity::Warning,
                    at: t + self.config.silence_after,
                    evidence: ("ais_last_fix_km", t, km),
                    title: "AIS silence".into(),
                    detail: format!(
                        "no AIS position since {} at km {km:.1} ({} without a position)",
                        time_text(t),
                        duration_text(gap)
                    ),
                },
            );
        }
    }

    /// Looks at one accepted fix.
    pub fn observe(&mut self, o: &Observation) -> Vec<Decision> {
        let mut out = Vec::new();
        let c = self.config;
        // A fix ends any silence; one that arrives after a gap nobody ticked through first
        // raises it, so the record shows the gap either way.
        self.check_silence(&mut out, o.at);
        self.clear(&mut out, AnomalyKind::AisSilence, o.at);

        let off = o.offset_m.abs();
        if off > c.corridor_half_width_m {
            let side = if o.offset_m > 0.0 { "right" } else { "left" };
            self.raise(
                &mut out,
                Anomaly {
                    kind: AnomalyKind::OffCorridor,
                    severity: Severity::Warning,
                    at: o.at,
                    evidence: ("offset_m", o.at, o.offset_m),
                    title: "Off the corridor".into(),
                    detail: format!(
                    "{off:.0} m towards the {side} bank of the centre line at km {:.1} (corridor half-width {:.0} m)",
                    o.km, c.corridor_half_width_m
                ),
                },
            );
        } else if off <= c.corridor_half_width_m * c.corridor_clear_share {
            self.clear(&mut out, AnomalyKind::OffCorridor, o.at);
        }

        if o.expected_stop || o.sog_kn >= 2.0 * c.stop_kn {
            self.stopped_since = None;
            self.clear(&mut out, AnomalyKind::UnplannedStop, o.at);
        } else if o.sog_kn < c.stop_kn {
            let since = *self.stopped_since.get_or_insert(o.at);
            if o.at - since >= c.stop_after {
                self.raise(
                &mut out,
                Anomaly {
                    kind: AnomalyKind::UnplannedStop,
                    severity: Severity::Warning,
                    at: since,
                    evidence: ("sog_kn", o.at, o.sog_kn),
                    title: "Unplanned stop".into(),
                    detail: format!(
                        "under {} kn for {} at km {:.1}, outside ports, anchorages and lock areas",
                        c.stop_kn,
                        duration_text(o.at - since),
                        o.km
                    ),
                },
            );
            }
        }

        if let (Some(eta), Some(plan)) = (o.eta_p50, o.planned_arrival) {
            let slip = hours(eta - plan);
            if slip > c.eta_slip_h {
                self.raise(
                    &mut out,
                    Anomaly {
                        kind: AnomalyKind::EtaSlip,
                        severity: Severity::Warning,
                        at: o.at,
                        evidence: ("eta_p50_slip_h", o.at, slip),
                        title: "ETA slipping".into(),
                        detail: format!(
                            "expected arrival {} (P50) is {slip:.1} h after the planned {}",
                            time_text(eta),
                            time_text(plan)
                        ),
                    },
                );
            } else if slip <= c.eta_slip_h / 2.0 {
                self.clear(&mut out, AnomalyKind::EtaSlip, o.at);
            }
        }

        if let (Some(eta), Some(limit)) = (o.eta_p90, o.transit_deadline) {
            if eta > limit {
                self.raise(
                    &mut out,
                    Anomaly {
                        kind: AnomalyKind::TransitLimitAtRisk,
                        severity: Severity::Critical,
                        at: o.at,
                        evidence: ("eta_p90_over_limit_h", o.at, hours(eta - limit)),
                        title: "Customs transit time limit at risk".into(),
                        detail: format!(
                            "arrival {} (P90) is after the transit time limit {}",
                            time_text(eta),
                            time_text(limit)
                        ),
                    },
                );
            } else {
                self.clear(&mut out, AnomalyKind::TransitLimitAtRisk, o.at);
            }
        }
        self.last = Some((o.at, o.km));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_751_000_000, 0).unwrap_or_default()
            + TimeDelta::minutes(min)
    }

    fn obs(min: i64) -> Observation {
        Observation {
            at: t(min),
            km: 1500.0,
            offset_m: 100.0,
            sog_kn: 10.0,
            expected_stop: false,
            eta_p50: None,
            eta_p90: None,
            planned_arrival: None,
            transit_deadline: None,
        }
    }

    fn kinds(ds: &[Decision]) -> Vec<(bool, AnomalyKind)> {
        ds.iter()
            .map(|d| {
                let kind = AnomalyKind::from_rule(d.rule().as_str()).expect("a voyage rule");
                (matches!(d, Decision::Raise(_)), kind)
            })
            .collect()
    }

    fn watch() -> VoyageWatch {
        VoyageWatch::new(
            Subject::parse("voyage:rv-0001").expect("subject"),
            Ident::parse("mmsi-413801008").expect("ident"),
            AnomalyConfig::default(),
        )
    }

    #[test]
    fn off_corridor_raises_once_and_clears_with_hysteresis() {
        let mut w = watch();
        assert!(w.observe(&obs(0)).is_empty());
        let off = Observation {
            offset_m: -2_600.0,
            ..obs(5)
        };
        let d = w.observe(&off);
        assert_eq!(kinds(&d), vec![(true, AnomalyKind::OffCorridor)]);
        let Decision::Raise(a) = &d[0] else {
            panic!("raise")
        };
        assert!(
            a.detail.contains("2600 m towards the left bank"),
            "{}",
            a.detail
        );
        assert!(w.observe(&Observation { at: t(10), ..off }).is_empty());
        // 1,800 m is inside the corridor but not well inside: still open.
        let near = Observation {
            offset_m: 1_800.0,
            ..obs(15)
        };
        assert!(w.observe(&near).is_empty());
        assert_eq!(
            kinds(&w.observe(&obs(20))),
            vec![(false, AnomalyKind::OffCorridor)]
        );
    }

    #[test]
    fn stops_are_unplanned_only_outside_expected_places_and_after_a_while() {
        let mut w = watch();
        let stop = |min, expected| Observation {
            sog_kn: 0.1,
            expected_stop: expected,
            ..obs(min)
        };
        // Waiting at an anchorage for hours: nothing.
        for m in (0..240).step_by(10) {
            assert!(w.observe(&stop(m, true)).is_empty());
        }
        // Stopped in open river: raised after 30 minutes, dated from the start of the stop.
        assert!(w.observe(&stop(250, false)).is_empty());
        assert!(w.observe(&stop(270, false)).is_empty());
        let d = w.observe(&stop(280, false));
        assert_eq!(kinds(&d), vec![(true, AnomalyKind::UnplannedStop)]);
        let Decision::Raise(a) = &d[0] else {
            panic!("raise")
        };
        assert_eq!(a.at, t(250));
        // Drifting at 0.7 kn neither clears nor re-raises; under way again clears.
        let drift = Observation {
            sog_kn: 0.7,
            ..obs(290)
        };
        assert!(w.observe(&drift).is_empty());
        assert_eq!(
            kinds(&w.observe(&obs(300))),
            vec![(false, AnomalyKind::UnplannedStop)]
        );
    }

    #[test]
    fn silence_is_raised_by_tick_or_by_the_fix_after_the_gap() {
        let mut w = watch();
        w.observe(&obs(0));
        assert_eq!(w.poll_timeout(), Some(t(30)));
        assert!(w.tick(t(30)).is_empty());
        let d = w.tick(t(31));
        assert_eq!(kinds(&d), vec![(true, AnomalyKind::AisSilence)]);
        assert!(w.tick(t(60)).is_empty());
        assert_eq!(w.poll_timeout(), None);
        assert_eq!(
            kinds(&w.observe(&obs(90))),
            vec![(false, AnomalyKind::AisSilence)]
        );
        // Nobody ticked through a two-hour gap: the next fix raises and clears it.
        let d = w.observe(&obs(210));
        assert_eq!(
            kinds(&d),
            vec![
                (true, AnomalyKind::AisSilence),
                (false, AnomalyKind::AisSilence)
            ]
        );
        let Decision::Raise(a) = &d[0] else {
            panic!("raise")
        };
        assert_eq!(a.at, t(120));
        assert!(a.detail.contains("2 h 00 min"), "{}", a.detail);
    }

    #[test]
    fn eta_slip_and_transit_limit() {
        let mut w = watch();
        let plan = t(0) + TimeDelta::hours(100);
        let with = |min, p50_h: i64, p90_h: i64| Observation {
            eta_p50: Some(t(0) + TimeDelta::hours(p50_h)),
            eta_p90: Some(t(0) + TimeDelta::hours(p90_h)),
            planned_arrival: Some(plan),
            transit_deadline: Some(t(0) + TimeDelta::hours(120)),
            ..obs(min)
        };
        assert!(w.observe(&with(0, 104, 110)).is_empty());
        assert_eq!(
            kinds(&w.observe(&with(10, 107, 121))),
            vec![
                (true, AnomalyKind::EtaSlip),
                (true, AnomalyKind::TransitLimitAtRisk)
            ]
        );
        // 5 h late: not yet back within half the threshold (3 h).
        assert_eq!(
            kinds(&w.observe(&with(20, 105, 119))),
            vec![(false, AnomalyKind::TransitLimitAtRisk)]
        );
        assert_eq!(
            kinds(&w.observe(&with(30, 102, 110))),
            vec![(false, AnomalyKind::EtaSlip)]
        );
    }

    #[test]
    fn rule_ids_round_trip() {
        for k in AnomalyKind::ALL {
            assert!(RuleId::parse(k.rule_id()).is_ok());
            assert_eq!(k.rule().as_str(), k.rule_id());
            assert_eq!(AnomalyKind::from_rule(k.rule_id()), Some(k));
        }
        assert_eq!(AnomalyKind::from_rule("nope"), None);
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever the observations and ticks, each anomaly kind alternates raise, clear, raise…,
        /// and nothing is raised with a time after the observation or tick that raised it.
        #[test]
        fn anomaly_decisions_alternate_per_kind(
            steps in prop::collection::vec(
                (1i64..120, -4_000.0f64..4_000.0, 0.0f64..3.0, any::<bool>(), -20i64..20, any::<bool>()),
                1..80,
            ),
        ) {
            let mut w = watch();
            let mut open = std::collections::HashMap::new();
            let plan = t(0) + TimeDelta::hours(100);
            let mut now = t(0);
            for (minutes, offset_m, sog_kn, expected_stop, slip_h, tick) in steps {
                now += TimeDelta::minutes(minutes);
                let decisions = if tick {
                    w.tick(now)
                } else {
                    w.observe(&Observation {
                        at: now,
                        km: 1500.0,
                        offset_m,
                        sog_kn,
                        expected_stop,
                        eta_p50: Some(plan + TimeDelta::hours(slip_h)),
                        eta_p90: Some(plan + TimeDelta::hours(slip_h + 5)),
                        planned_arrival: Some(plan),
                        transit_deadline: Some(plan + TimeDelta::hours(12)),
                    })
                };
                for d in decisions {
                    let kind = AnomalyKind::from_rule(d.rule().as_str()).expect("a voyage rule");
                    let (raised, at) = match d {
                        Decision::Raise(a) => (true, a.at),
                        Decision::Clear { at, .. } => (false, at),
                    };
                    prop_assert!(at <= now);
                    let was = open.insert(kind, raised).unwrap_or(false);
                    prop_assert_ne!(was, raised, "{:?}", kind);
                }
                for k in AnomalyKind::ALL {
                    prop_assert_eq!(w.is_open(k), open.get(&k).copied().unwrap_or(false));
                }
            }
        }
    }
}
