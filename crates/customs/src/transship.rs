//! Transshipment at Shanghai: the ocean leg a river voyage's cars continue on (ocean vessel,
//! terminal, berth window, cut-off, ETD), direct ship-to-ship or through the yard with the dwell
//! measured, and the risk that the river voyage's cars miss the cut-off.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The ocean leg: where and when the cars must be ready for the ocean vessel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OceanLeg {
    /// The ocean voyage (a platform voyage id).
    pub voyage: String,
    /// The exit-port terminal (a facility id).
    pub terminal: String,
    pub berth_from: DateTime<Utc>,
    pub berth_to: DateTime<Utc>,
    /// The last moment cars are accepted for loading.
    pub cut_off: DateTime<Utc>,
    /// Estimated time of departure.
    pub etd: DateTime<Utc>,
    /// Port of discharge (UN/LOCODE, e.g. `MXZLO` Manzanillo).
    pub discharge_port: String,
    /// The river voyage whose cars continue on this leg, if known: its ETA feeds the cut-off
    /// risk.
    pub feeder: Option<String>,
    /// Time from the river arrival until a car is ready for the ocean vessel (discharge,
    /// transit close, transfer), minutes.
    pub handling_minutes: i64,
}

/// One thing wrong with an ocean leg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegProblem {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("the berth window ends before it starts")]
    BerthWindow,
    #[error("the cut-off must not be after the ETD")]
    CutOffAfterEtd,
    #[error("the ETD must be within or after the berth window's start")]
    EtdBeforeBerth,
    #[error("handling time {0} minutes must be 0 to 14 days")]
    Handling(i64),
}

impl OceanLeg {
    /// Every problem of the leg; empty when it may stand.
    pub fn problems(&self) -> Vec<LegProblem> {
        let mut out = Vec::new();
        for (name, v) in [
            ("voyage", &self.voyage),
            ("terminal", &self.terminal),
            ("discharge port", &self.discharge_port),
        ] {
            if v.trim().is_empty() {
                out.push(LegProblem::Empty(name));
            }
        }
        if self.berth_to < self.berth_from {
            out.push(LegProblem::BerthWindow);
        }
        if self.cut_off > self.etd {
            out.push(LegProblem::CutOffAfterEtd);
        }
        if self.etd < self.berth_from {
            out.push(LegProblem::EtdBeforeBerth);
        }
        if !(0..=14 * 24 * 60).contains(&self.handling_minutes) {
            out.push(LegProblem::Handling(self.handling_minutes));
        }
        out
    }
}

/// How a car goes from the river ship to the ocean vessel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// Ship to ship, alongside.
    Direct,
    /// Through the terminal's yard.
    Yard,
}

/// How long a car stayed in the yard: from its river arrival to its transshipment; zero for a
/// direct transfer. `None` when the times run backwards.
pub fn dwell(
    transfer: Transfer,
    arrived: DateTime<Utc>,
    transshipped: DateTime<Utc>,
) -> Option<Duration> {
    match transfer {
        Transfer::Direct => Some(Duration::zero()),
        Transfer::Yard => (transshipped >= arrived).then(|| transshipped - arrived),
    }
}

/// The river voyage's cars against the ocean leg's cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "risk", rename_all = "snake_case")]
pub enum CutOffRisk {
    /// Even the P90 arrival plus handling is before the cut-off.
    OnTime {
        #[serde(with = "seconds")]
        margin: Duration,
    },
    /// P50 makes it, P90 does not.
    AtRisk {
        #[serde(with = "seconds")]
        late_by_p90: Duration,
    },
    /// Even the P50 arrival plus handling passes the cut-off.
    Late {
        #[serde(with = "seconds")]
        late_by_p50: Duration,
    },
    /// The cut-off has passed (at `now`) and the cars are not there.
    Missed,
    /// No ETA to judge from.
    Unknown,
}

/// An open cut-off-risk alert clears only once the P90 arrival plus handling is this far before
/// the cut-off: an ETA wobbling around the cut-off must not raise and resolve it on every fix.
pub const CLEAR_MARGIN: Duration = Duration::minutes(30);

impl CutOffRisk {
    /// Whether it deserves an alert.
    pub fn alerts(self) -> bool {
        matches!(
            self,
            CutOffRisk::AtRisk { .. } | CutOffRisk::Late { .. } | CutOffRisk::Missed
        )
    }

    /// Whether an open alert about it should resolve: on time with at least [`CLEAR_MARGIN`]
    /// to spare. Between that and the cut-off itself the alert neither opens nor clears.
    pub fn clears(self) -> bool {
        matches!(self, CutOffRisk::OnTime { margin } if margin >= CLEAR_MARGIN)
    }
}

mod seconds {
    use chrono::Duration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }
}

/// The risk of missing `cut_off` when the river voyage arrives at its P50/P90 ETA and the cars
/// then take `handling` (discharge, customs close, transfer) to be ready. `arrived`: the cars
/// are already at the terminal (then only handling counts, from `now`).
pub fn cut_off_risk(
    now: DateTime<Utc>,
    eta_p50: Option<DateTime<Utc>>,
    eta_p90: Option<DateTime<Utc>>,
    handling: Duration,
    cut_off: DateTime<Utc>,
) -> CutOffRisk {
    if now > cut_off {
        return CutOffRisk::Missed;
    }
    let Some(p50) = eta_p50 else {
        return CutOffRisk::Unknown;
    };
    let ready50 = p50.max(now) + handling;
    let ready90 = eta_p90.unwrap_or(p50).max(now) + handling;
    if ready50 > cut_off {
        CutOffRisk::Late {
            late_by_p50: ready50 - cut_off,
        }
    } else if ready90 > cut_off {
        CutOffRisk::AtRisk {
            late_by_p90: ready90 - cut_off,
        }
    } else {
        CutOffRisk::OnTime {
            margin: cut_off - ready90,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + h * 3600, 0).expect("time")
    }

    #[test]
    fn an_alert_clears_only_with_a_margin() {
        let h = Duration::hours(2);
        // Margin 20 min: on time, yet not enough to clear an open alert.
        let close = cut_off_risk(
            t(0),
            Some(t(10)),
            Some(t(20)),
            h,
            t(22) + Duration::minutes(20),
        );
        assert!(!close.alerts() && !close.clears(), "{close:?}");
        let clear = cut_off_risk(t(0), Some(t(10)), Some(t(20)), h, t(23));
        assert!(!clear.alerts() && clear.clears(), "{clear:?}");
        for r in [
            CutOffRisk::Missed,
            CutOffRisk::Unknown,
            CutOffRisk::Late {
                late_by_p50: Duration::zero(),
            },
        ] {
            assert!(!r.clears(), "{r:?}");
        }
    }

    #[test]
    fn cut_off_risk_from_p50_and_p90() {
        let h = Duration::hours(6);
        assert_eq!(
            cut_off_risk(t(0), Some(t(10)), Some(t(20)), h, t(30)),
            CutOffRisk::OnTime {
                margin: Duration::hours(4)
            }
        );
        assert_eq!(
            cut_off_risk(t(0), Some(t(10)), Some(t(28)), h, t(30)),
            CutOffRisk::AtRisk {
                late_by_p90: Duration::hours(4)
            }
        );
        assert_eq!(
            cut_off_risk(t(0), Some(t(26)), Some(t(28)), h, t(30)),
            CutOffRisk::Late {
                late_by_p50: Duration::hours(2)
            }
        );
        assert_eq!(
            cut_off_risk(t(31), Some(t(10)), None, h, t(30)),
            CutOffRisk::Missed
        );
        assert_eq!(
            cut_off_risk(t(0), None, None, h, t(30)),
            CutOffRisk::Unknown
        );
        // An ETA in the past counts from now: handling still has to happen.
        assert_eq!(
            cut_off_risk(t(25), Some(t(10)), Some(t(12)), h, t(30)),
            CutOffRisk::Late {
                late_by_p50: Duration::hours(1)
            }
        );
        assert!(CutOffRisk::Missed.alerts() && !CutOffRisk::Unknown.alerts());
    }

    #[test]
    fn dwell_and_leg_problems() {
        assert_eq!(dwell(Transfer::Direct, t(5), t(1)), Some(Duration::zero()));
        assert_eq!(
            dwell(Transfer::Yard, t(1), t(30)),
            Some(Duration::hours(29))
        );
        assert_eq!(dwell(Transfer::Yard, t(5), t(1)), None);
        let leg = OceanLeg {
            voyage: "ov-0001".into(),
            terminal: "haitong-terminal".into(),
            berth_from: t(10),
            berth_to: t(40),
            cut_off: t(20),
            etd: t(40),
            discharge_port: "MXZLO".into(),
            feeder: Some("rv-0001".into()),
            handling_minutes: 360,
        };
        assert!(leg.problems().is_empty());
        let bad = OceanLeg {
            berth_to: t(5),
            cut_off: t(50),
            etd: t(8),
            discharge_port: " ".into(),
            handling_minutes: -1,
            ..leg
        };
        let p = bad.problems();
        assert!(p.contains(&LegProblem::BerthWindow));
        assert!(p.contains(&LegProblem::CutOffAfterEtd));
        assert!(p.contains(&LegProblem::EtdBeforeBerth));
        assert!(p.contains(&LegProblem::Empty("discharge port")));
        assert!(p.contains(&LegProblem::Handling(-1)));
    }
}
