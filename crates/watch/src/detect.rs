//! The detectors' state machines, one reading at a time. Times are microseconds since the Unix
//! epoch (event time); values are in canonical units. The engine owns one state per rule and
//! sensor (per rule and subject for the dew point) and turns each [`Change`] into an episode
//! update.

use std::collections::VecDeque;

use crate::rules::{Baseline, DewPoint, RateOfRise, Threshold};

/// Microseconds per millisecond (rule durations are in milliseconds).
pub const US_PER_MS: i64 = 1_000;
const US_PER_MINUTE: f64 = 60_000_000.0;

/// What one reading did to a detector's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    Raise,
    Clear,
}

/// A condition that must hold (`on`) for a minimum duration before it is active, and once active
/// stays active while the looser `hold` is true (hysteresis).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    /// First reading of the current excursion: (time, value); `NONE` outside one. (Not an
    /// `Option`: the engine keeps ten of these per sensor, and every byte is cache.)
    since: (i64, f64),
    pub active: bool,
}

const NONE: (i64, f64) = (i64::MIN, 0.0);

impl Default for Held {
    fn default() -> Held {
        Held {
            since: NONE,
            active: false,
        }
    }
}

impl Held {
    /// First reading of the current excursion.
    pub fn since(&self) -> Option<(i64, f64)> {
        (self.since.0 != i64::MIN).then_some(self.since)
    }

    pub fn step(&mut self, on: bool, hold: bool, for_ms: i64, time: i64, value: f64) -> Change {
        if self.active {
            if hold {
                return Change::None;
            }
            self.active = false;
            self.since = NONE;
            return Change::Clear;
        }
        if !on {
            self.since = NONE;
            return Change::None;
        }
        if self.since.0 == i64::MIN {
            self.since = (time, value);
        }
        if time - self.since.0 >= for_ms * US_PER_MS {
            self.active = true;
            Change::Raise
        } else {
            Change::None
        }
    }

    /// Threshold: `value` (or its magnitude) beyond the limit. `in_context` is the rule's `when`.
    pub fn threshold(&mut self, t: &Threshold, in_context: bool, time: i64, value: f64) -> Change {
        let v = if t.magnitude { value.abs() } else { value };
        let on = in_context && t.exceeded(v);
        let hold = in_context && t.holds(v);
        self.step(on, hold, t.for_ms, time, value)
    }
}

/// Points kept per rate-of-rise window (older ones are thinned out, so memory stays bounded
/// whatever the reading rate).
pub const RATE_POINTS: i64 = 64;

/// Rate of rise: the rise per minute from the oldest reading inside the window to this one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateState {
    points: VecDeque<(i64, f64)>,
    pub held: Held,
}

impl RateState {
    /// The rise per minute from the oldest point in the window to (`time`, `value`), and that
    /// point; `None` with less than half a window of history.
    pub fn rise(&self, r: &RateOfRise, time: i64, value: f64) -> Option<(f64, (i64, f64))> {
        let &(t0, v0) = self.points.front()?;
        (time - t0 >= r.over_ms * US_PER_MS / 2).then(|| {
            (
                (value - v0) / ((time - t0) as f64 / US_PER_MINUTE),
                (t0, v0),
            )
        })
    }

    pub fn step(&mut self, r: &RateOfRise, in_context: bool, time: i64, value: f64) -> Change {
        let window = r.over_ms * US_PER_MS;
        while self
            .points
            .front()
            .is_some_and(|&(t0, _)| t0 < time - window)
        {
            self.points.pop_front();
        }
        let slope = self.rise(r, time, value);
        let spacing = (window / RATE_POINTS).max(1);
        if self
            .points
            .back()
            .is_none_or(|&(tb, _)| time - tb >= spacing)
        {
            self.points.push_back((time, value));
        }
        let Some((rise, _)) = slope else {
            // Not enough history (start, or after a gap): the condition stays as it was.
            return Change::None;
        };
        let on = in_context && rise >= r.per_minute;
        let hold = in_context && rise >= r.per_minute - r.hysteresis;
        self.held.step(on, hold, 0, time, value)
    }
}

/// Deviation from an exponentially weighted moving mean and variance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BaselineState {
    pub n: u32,
    pub mean: f64,
    pub var: f64,
    pub active: bool,
}

impl BaselineState {
    /// Scores `value` against the baseline so far, then folds it in (a lasting shift becomes the
    /// new normal, and the alarm clears once it has). Returns the change, the score in standard
    /// deviations and the mean it was scored against.
    pub fn step(&mut self, b: &Baseline, in_context: bool, value: f64) -> (Change, f64, f64) {
        let against = self.mean;
        let mut z = 0.0;
        let change = if self.n >= b.warmup {
            let sigma = self.var.sqrt().max(b.min_sigma);
            z = (value - self.mean).abs() / sigma;
            let on = in_context && z > b.z;
            let hold = in_context && z > b.z - b.hysteresis;
            match (self.active, on, hold) {
                (false, true, _) => {
                    self.active = true;
                    Change::Raise
                }
                (true, _, false) => {
                    self.active = false;
                    Change::Clear
                }
                _ => Change::None,
            }
        } else {
            Change::None
        };
        if self.n == 0 {
            self.mean = value;
        } else {
            let d = value - self.mean;
            self.mean += b.alpha * d;
            self.var = (1.0 - b.alpha) * (self.var + b.alpha * d * d);
        }
        self.n = self.n.saturating_add(1);
        (change, z, against)
    }
}

/// Magnus coefficients over water (Sonntag 1990), good from −45 °C to 60 °C.
pub const MAGNUS_B: f64 = 17.62;
pub const MAGNUS_C: f64 = 243.12;

/// Dew point in °C of air at `t` °C and `rh` % relative humidity (Magnus formula). Dry air
/// (`rh` ≤ 0) has no dew point: −∞.
pub fn dew_point(t: f64, rh: f64) -> f64 {
    if rh <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let gamma = (rh / 100.0).ln() + MAGNUS_B * t / (MAGNUS_C + t);
    MAGNUS_C * gamma / (MAGNUS_B - gamma)
}

/// A reading remembered by the dew-point detector: (time, value, stream).
pub type Sample = (i64, f64, u32);

/// Dew-point margin on one subject: the latest temperature and humidity, paired when they are
/// at most `max_skew` apart.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DewState {
    pub temperature: Option<Sample>,
    pub humidity: Option<Sample>,
    pub held: Held,
    /// The last computed dew point and margin (air minus dew point), °C.
    pub dew_point: f64,
    pub margin: f64,
}

impl DewState {
    /// Takes a temperature (`is_temperature`) or relative humidity sample.
    pub fn step(
        &mut self,
        d: &DewPoint,
        in_context: bool,
        is_temperature: bool,
        sample: Sample,
    ) -> Change {
        let slot = if is_temperature {
            &mut self.temperature
        } else {
            &mut self.humidity
        };
        if slot.is_some_and(|(t, _, _)| t > sample.0) {
            return Change::None;
        }
        *slot = Some(sample);
        let (Some((tt, t, _)), Some((th, rh, _))) = (self.temperature, self.humidity) else {
            return Change::None;
        };
        if (tt - th).abs() > d.max_skew_ms * US_PER_MS {
            return Change::None;
        }
        self.dew_point = dew_point(t, rh);
        self.margin = t - self.dew_point;
        if self.margin.is_nan() {
            return Change::None;
        }
        let on = in_context && self.margin < d.margin;
        let hold = in_context && self.margin < d.margin + d.hysteresis;
        self.held.step(on, hold, d.for_ms, sample.0, sample.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;

    #[test]
    fn magnus_dew_points() {
        // Reference values of the Magnus–Sonntag formula.
        assert!(
            (dew_point(20.0, 50.0) - 9.26).abs() < 0.01,
            "{}",
            dew_point(20.0, 50.0)
        );
        assert!(
            (dew_point(25.0, 85.0) - 22.30).abs() < 0.01,
            "{}",
            dew_point(25.0, 85.0)
        );
        assert!((dew_point(10.0, 100.0) - 10.0).abs() < 1e-9);
        assert_eq!(dew_point(20.0, 0.0), f64::NEG_INFINITY);
        for t in [-40.0, -5.0, 0.0, 15.0, 35.0, 55.0] {
            for rh in [1.0, 30.0, 70.0, 99.0] {
                let td = dew_point(t, rh);
                assert!(
                    td < t,
                    "dew point {td} of {t} °C at {rh} % is below the air"
                );
            }
        }
    }

    #[test]
    fn held_needs_the_full_duration_and_clears_past_hysteresis() {
        let t = Threshold {
            above: Some(45.0),
            below: None,
            magnitude: false,
            for_ms: 5 * 60_000,
            hysteresis: 2.0,
        };
        let mut h = Held::default();
        let feed = [
            (0, 46.0, Change::None),
            (4, 47.0, Change::None),
            (5, 44.0, Change::None), // dips below: the 5 minutes start again
            (6, 46.0, Change::None),
            (10, 46.0, Change::None),
            (11, 46.0, Change::Raise), // 5 minutes since minute 6
            (12, 43.5, Change::None),  // inside the 2 °C band
            (13, 42.9, Change::Clear),
            (14, 46.0, Change::None),
        ];
        for (minute, v, want) in feed {
            assert_eq!(
                h.threshold(&t, true, minute * MIN, v),
                want,
                "minute {minute}"
            );
        }
        // Out of context nothing starts.
        let mut h = Held::default();
        let instant = Threshold { for_ms: 0, ..t };
        assert_eq!(h.threshold(&instant, false, 0, 99.0), Change::None);
        assert_eq!(h.threshold(&instant, true, 0, 99.0), Change::Raise);
        assert_eq!(h.threshold(&instant, false, 1, 99.0), Change::Clear);
    }

    #[test]
    fn magnitude_and_bands() {
        let t = Threshold {
            above: Some(50.0),
            below: Some(20.0),
            magnitude: false,
            for_ms: 0,
            hysteresis: 1.0,
        };
        assert!(t.exceeded(19.9) && t.exceeded(50.1) && !t.exceeded(35.0));
        assert!(t.holds(20.5) && !t.holds(21.5));
        let list = Threshold {
            above: Some(3.0),
            below: None,
            magnitude: true,
            for_ms: 0,
            hysteresis: 0.5,
        };
        let mut h = Held::default();
        assert_eq!(h.threshold(&list, true, 0, -3.5), Change::Raise);
        assert_eq!(h.threshold(&list, true, 1, -2.6), Change::None);
        assert_eq!(h.threshold(&list, true, 2, -2.4), Change::Clear);
    }

    #[test]
    fn rate_needs_half_a_window_of_history() {
        let r = RateOfRise {
            per_minute: 2.0,
            over_ms: 4 * 60_000,
            hysteresis: 1.0,
        };
        let mut s = RateState::default();
        assert_eq!(s.step(&r, true, 0, 20.0), Change::None);
        assert_eq!(
            s.step(&r, true, MIN, 25.0),
            Change::None,
            "1 minute < half of 4"
        );
        assert_eq!(
            s.step(&r, true, 2 * MIN, 25.0),
            Change::Raise,
            "5 °C in 2 minutes"
        );
        assert_eq!(s.rise(&r, 2 * MIN, 25.0), Some((2.5, (0, 20.0))));
        // A gap longer than the window empties it: no verdict, state kept.
        assert_eq!(s.step(&r, true, 60 * MIN, 20.0), Change::None);
        assert!(s.held.active);
    }

    #[test]
    fn baseline_warms_up_then_flags_outliers() {
        let b = Baseline {
            alpha: 0.1,
            z: 4.0,
            warmup: 10,
            min_sigma: 0.5,
            hysteresis: 1.0,
        };
        let mut s = BaselineState::default();
        for i in 0..10 {
            let v = if i % 2 == 0 { 10.0 } else { 10.4 };
            assert_eq!(s.step(&b, true, v).0, Change::None);
        }
        assert_eq!(s.step(&b, true, 11.0).0, Change::None, "within min_sigma");
        let (change, z, mean) = s.step(&b, true, 20.0);
        assert_eq!(change, Change::Raise);
        assert!(z > 4.0 && (mean - 10.2).abs() < 0.3, "{z} {mean}");
        // The level stays high: the baseline follows and the alarm clears.
        let mut cleared = false;
        for _ in 0..100 {
            cleared |= s.step(&b, true, 20.0).0 == Change::Clear;
        }
        assert!(cleared && !s.active);
    }

    #[test]
    fn dew_pairs_temperature_and_humidity_within_skew() {
        let d = DewPoint {
            margin: 2.0,
            for_ms: 0,
            hysteresis: 1.0,
            max_skew_ms: 10 * 60_000,
        };
        let mut s = DewState::default();
        assert_eq!(s.step(&d, true, true, (0, 20.0, 0)), Change::None);
        // 95 % at 20 °C: dew point 19.17 °C, margin 0.83 °C.
        assert_eq!(s.step(&d, true, false, (MIN, 95.0, 1)), Change::Raise);
        assert!((s.margin - 0.83).abs() < 0.01, "{}", s.margin);
        // An older humidity sample does not replace a newer one.
        assert_eq!(s.step(&d, true, false, (0, 40.0, 1)), Change::None);
        // Humidity too far from the temperature in time: no verdict.
        assert_eq!(s.step(&d, true, false, (30 * MIN, 40.0, 1)), Change::None);
        assert!(s.held.active);
        assert_eq!(s.step(&d, true, true, (31 * MIN, 20.0, 0)), Change::Clear);
        assert!(s.margin > 3.0);
    }
}
