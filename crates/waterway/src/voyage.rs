//! Voyage progress along the river, as pure functions of km.

/// Which way a ship is going along the river.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Towards the sea: unified km decreasing.
    Downstream,
    /// Towards Chongqing: unified km increasing.
    Upstream,
}

impl Direction {
    /// The direction from one km to another; `None` when they are equal or not finite.
    pub fn between(from_km: f64, to_km: f64) -> Option<Direction> {
        if !(from_km.is_finite() && to_km.is_finite()) || from_km == to_km {
            None
        } else if to_km < from_km {
            Some(Direction::Downstream)
        } else {
            Some(Direction::Upstream)
        }
    }
}

/// How far a voyage has come.
///
/// Invariant: `done_km + to_go_km == total_km` (up to rounding), both in `0..=total_km`,
/// `percent` in `0..=100`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Which way the voyage runs.
    pub direction: Direction,
    /// Origin to destination, km along the river.
    pub total_km: f64,
    /// Made good from the origin, km (0 before the origin, `total_km` past the destination).
    pub done_km: f64,
    /// Left to the destination, km.
    pub to_go_km: f64,
    /// `done_km` as a percentage of `total_km`.
    pub percent: f64,
}

/// Progress of a voyage from `origin_km` to `destination_km` for a ship projected at
/// `current_km` (all unified km). Positions behind the origin or past the destination are
/// clamped. `None` when origin and destination coincide or a km is not finite.
///
/// ```
/// use jianghai_waterway::voyage::{progress, Direction};
/// // Guoyuan (L 2296) to Waigaoqiao (L −7), ship abreast Wuhan (L 1040).
/// let p = progress(2296.0, -7.0, 1040.0).unwrap();
/// assert_eq!(p.direction, Direction::Downstream);
/// assert_eq!(p.done_km, 1256.0);
/// assert_eq!(p.to_go_km, 1047.0);
/// assert!((p.percent - 54.54).abs() < 0.01);
/// ```
pub fn progress(origin_km: f64, destination_km: f64, current_km: f64) -> Option<Progress> {
    let direction = Direction::between(origin_km, destination_km)?;
    if !current_km.is_finite() {
        return None;
    }
    let total_km = (origin_km - destination_km).abs();
    let made = match direction {
        Direction::Downstream => origin_km - current_km,
        Direction::Upstream => current_km - origin_km,
    };
    let done_km = made.clamp(0.0, total_km);
    Some(Progress {
        direction,
        total_km,
        done_km,
        to_go_km: total_km - done_km,
        percent: done_km / total_km * 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_before_origin_and_after_destination() {
        let p = progress(100.0, 0.0, 120.0).unwrap();
        assert_eq!((p.done_km, p.to_go_km, p.percent), (0.0, 100.0, 0.0));
        let p = progress(100.0, 0.0, -5.0).unwrap();
        assert_eq!((p.done_km, p.to_go_km, p.percent), (100.0, 0.0, 100.0));
    }

    #[test]
    fn upstream_voyages_count_the_other_way() {
        let p = progress(0.0, 200.0, 50.0).unwrap();
        assert_eq!(p.direction, Direction::Upstream);
        assert_eq!((p.done_km, p.to_go_km, p.percent), (50.0, 150.0, 25.0));
    }

    #[test]
    fn degenerate_voyages_have_no_progress() {
        assert!(progress(10.0, 10.0, 10.0).is_none());
        assert!(progress(f64::NAN, 0.0, 10.0).is_none());
        assert!(progress(10.0, 0.0, f64::INFINITY).is_none());
    }
}
