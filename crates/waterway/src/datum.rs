//! River-kilometre datums: the corridor's three published chainages and the unified km.
//!
//! The Yangtze is kilometred in three reaches, each from its own zero (domain brief §0 and §1.1):
//!
//! | datum | counts km upstream of | reach |
//! |---|---|---|
//! | [`Datum::Upper`] (上游航道里程) | Yichang 中水门 | Chongqing – Yichang |
//! | [`Datum::Middle`] (中游航道里程) | Wuhan Yangtze River Bridge (inferred zero) | Yichang – Wuhan |
//! | [`Datum::Lower`] (距吴淞口) | Wusongkou 吴淞口 | Wuhan – estuary |
//!
//! Jianghai works in one **unified km**, the distance upstream of Wusongkou (the lower datum extended
//! up the whole river, "L-km"). [`Datums`] holds the two offsets that join the reaches: Yichang at
//! L 1,666 and Wuhan at L 1,040 by default. Both are inferred, so they are configurable.

use std::fmt;

/// One of the corridor's three published chainages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Datum {
    /// Upper reach, km above Yichang 中水门 (上游航道里程).
    Upper,
    /// Middle reach, km above the Wuhan Yangtze River Bridge (中游航道里程).
    Middle,
    /// Lower reach, km above Wusongkou 吴淞口 (距吴淞口). Negative below Wusongkou.
    Lower,
}

impl Datum {
    /// The one-letter code used in the domain brief and the GeoJSON anchors: `U`, `M` or `L`.
    pub fn code(self) -> char {
        match self {
            Datum::Upper => 'U',
            Datum::Middle => 'M',
            Datum::Lower => 'L',
        }
    }

    /// Parses `U`/`M`/`L` (also `upper`/`middle`/`lower`, any case).
    pub fn parse(s: &str) -> Option<Datum> {
        match s.to_ascii_lowercase().as_str() {
            "u" | "upper" => Some(Datum::Upper),
            "m" | "middle" => Some(Datum::Middle),
            "l" | "lower" => Some(Datum::Lower),
            _ => None,
        }
    }
}

/// A km in one of the three datums, e.g. `U 660` for Chaotianmen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DatumKm {
    /// Which chainage `km` is counted in.
    pub datum: Datum,
    /// Kilometres above that datum's zero.
    pub km: f64,
}

impl DatumKm {
    /// Shorthand constructor.
    pub fn new(datum: Datum, km: f64) -> DatumKm {
        DatumKm { datum, km }
    }
}

impl fmt::Display for DatumKm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:.1}", self.datum.code(), self.km)
    }
}

/// Offsets joining the three datums into the unified km (km above Wusongkou).
///
/// Invariant: both offsets are finite and `0 < wuhan_l_km < yichang_l_km`, so each unified km
/// belongs to exactly one reach.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Datums {
    yichang_l_km: f64,
    wuhan_l_km: f64,
}

/// Returned by [`Datums::new`] when the offsets would not order the reaches.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("datum offsets must be finite with 0 < Wuhan ({wuhan_l_km}) < Yichang ({yichang_l_km})")]
pub struct DatumsError {
    /// The Yichang offset given.
    pub yichang_l_km: f64,
    /// The Wuhan offset given.
    pub wuhan_l_km: f64,
}

impl Default for Datums {
    /// Yichang 中水门 at L 1,666 and the Wuhan bridge at L 1,040 (domain brief §1.1, inferred).
    fn default() -> Datums {
        Datums {
            yichang_l_km: 1666.0,
            wuhan_l_km: 1040.0,
        }
    }
}

impl Datums {
    /// Offsets in unified km: where Yichang 中水门 (U 0) and the Wuhan bridge (M 0) lie above Wusongkou.
    pub fn new(yichang_l_km: f64, wuhan_l_km: f64) -> Result<Datums, DatumsError> {
        let ok = yichang_l_km.is_finite()
            && wuhan_l_km.is_finite()
            && wuhan_l_km > 0.0
            && wuhan_l_km < yichang_l_km;
        if ok {
            Ok(Datums {
                yichang_l_km,
                wuhan_l_km,
            })
        } else {
            Err(DatumsError {
                yichang_l_km,
                wuhan_l_km,
            })
        }
    }

    /// Unified km of Yichang 中水门 (the upper datum's zero).
    pub fn yichang_l_km(&self) -> f64 {
        self.yichang_l_km
    }

    /// Unified km of the Wuhan bridge (the middle datum's zero).
    pub fn wuhan_l_km(&self) -> f64 {
        self.wuhan_l_km
    }

    /// Converts a datum km to unified km (km above Wusongkou).
    pub fn to_unified(&self, at: DatumKm) -> f64 {
        match at.datum {
            Datum::Upper => at.km + self.yichang_l_km,
            Datum::Middle => at.km + self.wuhan_l_km,
            Datum::Lower => at.km,
        }
    }

    /// Converts a unified km to the datum of the reach it lies in: upper at and above Yichang,
    /// middle from Wuhan up to Yichang, lower below Wuhan (and negative below Wusongkou).
    pub fn to_datum(&self, unified_km: f64) -> DatumKm {
        if unified_km >= self.yichang_l_km {
            DatumKm::new(Datum::Upper, unified_km - self.yichang_l_km)
        } else if unified_km >= self.wuhan_l_km {
            DatumKm::new(Datum::Middle, unified_km - self.wuhan_l_km)
        } else {
            DatumKm::new(Datum::Lower, unified_km)
        }
    }

    /// Expresses a unified km in a chosen datum, even outside that datum's reach
    /// (e.g. Chaotianmen is `M 1286` if you insist on the middle datum).
    pub fn in_datum(&self, unified_km: f64, datum: Datum) -> DatumKm {
        let km = match datum {
            Datum::Upper => unified_km - self.yichang_l_km,
            Datum::Middle => unified_km - self.wuhan_l_km,
            Datum::Lower => unified_km,
        };
        DatumKm::new(datum, km)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_offsets_join_the_published_reach_ends() {
        let d = Datums::default();
        // Yichang is U 0 and M ≈ 626: 626 + 1040 = 1666.
        assert_eq!(d.to_unified(DatumKm::new(Datum::Upper, 0.0)), 1666.0);
        assert_eq!(d.to_unified(DatumKm::new(Datum::Middle, 626.0)), 1666.0);
        assert_eq!(d.to_unified(DatumKm::new(Datum::Upper, 660.0)), 2326.0);
        assert_eq!(d.to_unified(DatumKm::new(Datum::Middle, 374.0)), 1414.0);
        assert_eq!(d.to_unified(DatumKm::new(Datum::Lower, 310.0)), 310.0);
    }

    #[test]
    fn to_datum_picks_the_reach() {
        let d = Datums::default();
        assert_eq!(d.to_datum(2326.0), DatumKm::new(Datum::Upper, 660.0));
        assert_eq!(d.to_datum(1666.0), DatumKm::new(Datum::Upper, 0.0));
        assert_eq!(d.to_datum(1414.0), DatumKm::new(Datum::Middle, 374.0));
        assert_eq!(d.to_datum(1040.0), DatumKm::new(Datum::Middle, 0.0));
        assert_eq!(d.to_datum(310.0), DatumKm::new(Datum::Lower, 310.0));
        assert_eq!(d.to_datum(-7.0), DatumKm::new(Datum::Lower, -7.0));
        assert_eq!(
            d.in_datum(2326.0, Datum::Middle),
            DatumKm::new(Datum::Middle, 1286.0)
        );
    }

    #[test]
    fn custom_offsets_are_validated() {
        assert!(Datums::new(1670.0, 1045.0).is_ok());
        assert!(Datums::new(1000.0, 1040.0).is_err());
        assert!(Datums::new(f64::NAN, 1040.0).is_err());
        assert!(Datums::new(1666.0, 0.0).is_err());
        let d = Datums::new(1670.0, 1045.0).unwrap();
        assert_eq!(d.to_unified(DatumKm::new(Datum::Upper, 660.0)), 2330.0);
    }

    #[test]
    fn datum_codes_round_trip() {
        for d in [Datum::Upper, Datum::Middle, Datum::Lower] {
            assert_eq!(Datum::parse(&d.code().to_string()), Some(d));
        }
        assert_eq!(Datum::parse("lower"), Some(Datum::Lower));
        assert_eq!(Datum::parse("X"), None);
        assert_eq!(DatumKm::new(Datum::Upper, 652.0).to_string(), "U 652.0");
    }
}
