//! The vessel model: decks, lanes, spacing rules, fire zones, EV zones and balance limits,
//! with JSON import/export and validation that says what is wrong and where.
//!
//! Coordinates and units (all integers, so plans are exact and deterministic):
//! - lengths, widths, heights and positions in **millimetres**;
//! - `x` is measured along the ship from midships, **positive forward**;
//! - `y` is measured across the ship from the centreline, **positive to starboard**;
//! - weights in kilograms; moment limits in tonne-metres (t·m).
//!
//! A lane is a straight strip of deck `width_mm` wide whose fore end sits at `fore_x_mm` and which
//! runs `length_mm` aft from there. Cars are parked along it; a car's position is its distance
//! from the lane's fore end to the car's front bumper.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A ro-ro vessel as the planner sees it. Build it with [`Vessel::from_json`] or check a
/// hand-built one with [`Vessel::validate`]; the planner assumes a validated vessel and
/// reports [`crate::PlanError::InvalidVessel`] otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vessel {
    /// Ship name, e.g. "MINJIANG 760".
    pub name: String,
    /// IMO or CCS/inland registry number, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Inland (Yangtze) or ocean ship; informational.
    pub kind: VesselKind,
    /// Length overall, mm.
    pub length_overall_mm: i64,
    /// Moulded beam, mm. Lanes must lie within ±beam/2.
    pub beam_mm: i64,
    /// Gaps the lashing gang needs between cars.
    pub spacing: SpacingRules,
    /// Heeling and trimming moment limits for the cargo.
    pub balance: BalanceLimits,
    /// Decks, in any order; `level` orders them bottom-up.
    pub decks: Vec<Deck>,
    /// Lanes designated for electrified vehicles (near fire detection).
    #[serde(default)]
    pub ev_zones: Vec<EvZone>,
}

/// Inland or ocean ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VesselKind {
    /// Yangtze river ro-ro car carrier (长江商品车滚装船).
    Inland,
    /// Ocean pure car / truck carrier (PCTC).
    Ocean,
}

/// Spacing rules. A car fits a lane when
/// `car.width_mm + mirror_allowance_mm + side_gap_mm <= lane.width_mm`;
/// consecutive cars in a lane keep at least `bumper_gap_mm` between bumpers;
/// a car fits a deck when `car.height_mm + head_clearance_mm <= deck.clear_height_mm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacingRules {
    /// Minimum gap between the rear bumper of one car and the front bumper of the next, mm.
    pub bumper_gap_mm: i64,
    /// Minimum total side clearance inside a lane (shared by both sides), mm.
    pub side_gap_mm: i64,
    /// Added to published widths, which exclude (folded) mirrors, mm.
    pub mirror_allowance_mm: i64,
    /// Minimum clearance between roof and deckhead, mm.
    pub head_clearance_mm: i64,
}

/// Limits on the cargo's moments. Moments are `Σ weight × arm`, arm measured from the
/// centreline (heel) and from `trim_reference_x_mm` (trim).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceLimits {
    /// Maximum |Σ w·y| of the car cargo, t·m.
    pub max_heel_moment_tm: f64,
    /// Maximum |Σ w·(x − trim_reference_x_mm)| of the car cargo, t·m.
    pub max_trim_moment_tm: f64,
    /// Longitudinal reference for the trim moment (usually the LCF or midships = 0), mm.
    #[serde(default)]
    pub trim_reference_x_mm: i64,
}

/// One vehicle deck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deck {
    /// Unique deck id, e.g. "D2".
    pub id: String,
    /// Human name, e.g. "Main deck".
    #[serde(default)]
    pub name: String,
    /// 1 = lowest deck. Unique.
    pub level: u32,
    /// Free height under the deckhead (or beams), mm.
    pub clear_height_mm: i64,
    /// Uniform load rating, kg per m² of lane area a car occupies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_kg_per_m2: Option<i64>,
    /// Axle load rating, kg; a car's heaviest axle is taken as
    /// `weight × PlanConfig::axle_share_pct / 100`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_axle_kg: Option<i64>,
    /// Total cargo weight rating for the deck, kg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_kg: Option<i64>,
    /// Which end of this deck's lanes the ramp (or internal ramp) reaches.
    pub ramp: RampEnd,
    /// Fire zones on this deck.
    #[serde(default)]
    pub fire_zones: Vec<FireZone>,
    /// Lanes; ids are unique across the whole vessel.
    pub lanes: Vec<Lane>,
}

/// Which end of a lane cars drive in and out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RampEnd {
    /// Ramp at the aft end (stern ramp): the first car in goes to the fore end.
    Aft,
    /// Ramp at the fore end (bow ramp).
    Fore,
}

/// A fire zone: a longitudinal section of a deck with its own detection and extinguishing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FireZone {
    /// Unique id within the vessel, e.g. "D2-FZ1".
    pub id: String,
    /// Fore boundary, mm from midships.
    pub fore_x_mm: i64,
    /// Aft boundary, mm from midships (`aft_x_mm < fore_x_mm`).
    pub aft_x_mm: i64,
    /// Fixed fire detection covers the zone (smoke/heat/flame detectors, CCTV).
    pub detection: bool,
    /// Free text: drencher, water mist, CO₂…
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extinguishing: String,
}

/// One parking lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    /// Unique id across the vessel, e.g. "D2-L03".
    pub id: String,
    /// Usable length, mm.
    pub length_mm: i64,
    /// Usable width, mm.
    pub width_mm: i64,
    /// x of the fore end, mm from midships (positive forward).
    pub fore_x_mm: i64,
    /// y of the lane centreline, mm from the ship's centreline (positive starboard).
    pub y_mm: i64,
}

/// A set of lanes designated for electrified vehicles, inside a fire zone with detection
/// (EMSA AFV guidance; Zhoushan MSA: separate zone, bow/stern).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvZone {
    /// Zone id, e.g. "EV-D2".
    pub id: String,
    /// Deck id.
    pub deck: String,
    /// Fire zone (on that deck) whose detection covers these lanes.
    pub fire_zone: String,
    /// Lane ids on that deck.
    pub lanes: Vec<String>,
}

/// Index of a lane inside a [`Vessel`]: `vessel.decks[deck].lanes[lane]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LaneIx {
    /// Index into `Vessel::decks`.
    pub deck: usize,
    /// Index into `Deck::lanes`.
    pub lane: usize,
}

/// Reading or validating a vessel failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VesselError {
    /// The text is not JSON of the vessel shape (unknown field, wrong type, syntax).
    #[error("vessel JSON, line {line} column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// The JSON parsed but describes an impossible vessel; every problem is listed.
    #[error("invalid vessel: {}", join(.0))]
    Invalid(Vec<VesselProblem>),
}

fn join(problems: &[VesselProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One thing wrong with a vessel: where (a JSON-path-like location) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VesselProblem {
    /// E.g. `decks[2].lanes[4] (D3-L05).width_mm`.
    pub at: String,
    /// E.g. `must be > 0, got 0`.
    pub what: String,
}

impl fmt::Display for VesselProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.what)
    }
}

impl Vessel {
    /// Parses and validates a vessel from JSON.
    ///
    /// # Errors
    /// [`VesselError::Json`] for malformed JSON or unknown fields, [`VesselError::Invalid`]
    /// listing every validation problem.
    pub fn from_json(text: &str) -> Result<Vessel, VesselError> {
        let vessel: Vessel = serde_json::from_str(text).map_err(|e| VesselError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        vessel.validate()?;
        Ok(vessel)
    }

    /// Pretty JSON, round-trips through [`Vessel::from_json`].
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings, integers and finite floats cannot fail;
        // fall back to an empty object rather than panic if it ever did.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Checks every invariant the planner relies on.
    ///
    /// # Errors
    /// [`VesselError::Invalid`] listing all problems found (not just the first).
    pub fn validate(&self) -> Result<(), VesselError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(VesselError::Invalid(problems))
        }
    }

    /// All validation problems; empty when the vessel is valid.
    pub fn problems(&self) -> Vec<VesselProblem> {
        let mut out = Vec::new();
        let mut p = |at: String, what: String| out.push(VesselProblem { at, what });
        if self.name.trim().is_empty() {
            p("name".into(), "must not be empty".into());
        }
        if self.length_overall_mm <= 0 {
            p(
                "length_overall_mm".into(),
                format!("must be > 0, got {}", self.length_overall_mm),
            );
        }
        if self.beam_mm <= 0 {
            p(
                "beam_mm".into(),
                format!("must be > 0, got {}", self.beam_mm),
            );
        }
        for (name, v) in [
            ("length_overall_mm", self.length_overall_mm),
            ("beam_mm", self.beam_mm),
            (
                "balance.trim_reference_x_mm",
                self.balance.trim_reference_x_mm,
            ),
        ] {
            if v.saturating_abs() > MAX_COORD_MM {
                p(
                    name.into(),
                    format!("must be within ±{MAX_COORD_MM} mm, got {v}"),
                );
            }
        }
        for (di, d) in self.decks.iter().enumerate() {
            for (li, l) in d.lanes.iter().enumerate() {
                for (name, v) in [("fore_x_mm", l.fore_x_mm), ("y_mm", l.y_mm)] {
                    if v.saturating_abs() > MAX_COORD_MM {
                        p(
                            format!("decks[{di}].lanes[{li}] ({}).{name}", l.id),
                            format!("must be within ±{MAX_COORD_MM} mm, got {v}"),
                        );
                    }
                }
            }
        }
        let s = &self.spacing;
        for (name, v) in [
            ("bumper_gap_mm", s.bumper_gap_mm),
            ("side_gap_mm", s.side_gap_mm),
            ("mirror_allowance_mm", s.mirror_allowance_mm),
            ("head_clearance_mm", s.head_clearance_mm),
        ] {
            if !(0..=10_000).contains(&v) {
                p(
                    format!("spacing.{name}"),
                    format!("must be within 0..=10000 mm, got {v}"),
                );
            }
        }
        let b = &self.balance;
        for (name, v) in [
            ("max_heel_moment_tm", b.max_heel_moment_tm),
            ("max_trim_moment_tm", b.max_trim_moment_tm),
        ] {
            if !v.is_finite() || !(0.0..=1.0e9).contains(&v) {
                p(
                    format!("balance.{name}"),
                    format!("must be a finite number within 0..=1e9 t·m, got {v}"),
                );
            }
        }
        if self.decks.is_empty() {
            p("decks".into(), "a vessel needs at least one deck".into());
        }
        let mut deck_ids = BTreeSet::new();
        let mut levels = BTreeSet::new();
        let mut lane_ids = BTreeSet::new();
        let mut fz_ids = BTreeSet::new();
        let half_beam = self.beam_mm / 2;
        let half_len = self.length_overall_mm / 2;
        for (di, d) in self.decks.iter().enumerate() {
            let at = format!("decks[{di}] ({})", d.id);
            if d.id.trim().is_empty() {
                p(format!("{at}.id"), "must not be empty".into());
            } else if !deck_ids.insert(d.id.as_str()) {
                p(format!("{at}.id"), format!("duplicate deck id {:?}", d.id));
            }
            if !levels.insert(d.level) {
                p(
                    format!("{at}.level"),
                    format!("duplicate level {}", d.level),
                );
            }
            if !(1..=20_000).contains(&d.clear_height_mm) {
                p(
                    format!("{at}.clear_height_mm"),
                    format!("must be within 1..=20000, got {}", d.clear_height_mm),
                );
            }
            for (name, v) in [
                ("max_kg_per_m2", d.max_kg_per_m2),
                ("max_axle_kg", d.max_axle_kg),
                ("max_total_kg", d.max_total_kg),
            ] {
                if let Some(v) = v
                    && !(1..=1_000_000_000).contains(&v)
                {
                    p(
                        format!("{at}.{name}"),
                        format!("must be within 1..=1e9 when given, got {v}"),
                    );
                }
            }
            for (fi, fz) in d.fire_zones.iter().enumerate() {
                let fat = format!("{at}.fire_zones[{fi}] ({})", fz.id);
                if fz.id.trim().is_empty() {
                    p(format!("{fat}.id"), "must not be empty".into());
                } else if !fz_ids.insert(fz.id.as_str()) {
                    p(
                        format!("{fat}.id"),
                        format!("duplicate fire zone id {:?}", fz.id),
                    );
                }
                if fz.aft_x_mm >= fz.fore_x_mm {
                    p(
                        fat,
                        format!(
                            "aft_x_mm ({}) must be less than fore_x_mm ({})",
                            fz.aft_x_mm, fz.fore_x_mm
                        ),
                    );
                }
            }
            if d.lanes.is_empty() {
                p(
                    format!("{at}.lanes"),
                    "a deck needs at least one lane".into(),
                );
            }
            for (li, l) in d.lanes.iter().enumerate() {
                let lat = format!("{at}.lanes[{li}] ({})", l.id);
                if l.id.trim().is_empty() {
                    p(format!("{lat}.id"), "must not be empty".into());
                } else if !lane_ids.insert(l.id.as_str()) {
                    p(format!("{lat}.id"), format!("duplicate lane id {:?}", l.id));
                }
                if !(1..=1_000_000).contains(&l.length_mm) {
                    p(
                        format!("{lat}.length_mm"),
                        format!("must be within 1..=1000000, got {}", l.length_mm),
                    );
                }
                if !(1..=100_000).contains(&l.width_mm) {
                    p(
                        format!("{lat}.width_mm"),
                        format!("must be within 1..=100000, got {}", l.width_mm),
                    );
                }
                if self.beam_mm > 0 && l.width_mm > 0 {
                    let port = l.y_mm.saturating_sub(l.width_mm / 2);
                    let stbd = l.y_mm.saturating_add(l.width_mm - l.width_mm / 2);
                    if port < -half_beam || stbd > half_beam {
                        p(
                            lat.clone(),
                            format!(
                                "lane spans y {port}..{stbd} mm, outside the beam ±{half_beam} mm"
                            ),
                        );
                    }
                }
                if self.length_overall_mm > 0
                    && l.length_mm > 0
                    && (l.fore_x_mm > half_len
                        || l.fore_x_mm.saturating_sub(l.length_mm) < -half_len)
                {
                    p(
                        lat.clone(),
                        format!(
                            "lane spans x {}..{} mm, outside the hull ±{half_len} mm",
                            l.fore_x_mm.saturating_sub(l.length_mm),
                            l.fore_x_mm
                        ),
                    );
                }
            }
            // Lanes of one deck must not overlap.
            for (i, a) in d.lanes.iter().enumerate() {
                for b in d.lanes.iter().skip(i + 1) {
                    if lanes_overlap(a, b) {
                        p(
                            format!("{at}.lanes"),
                            format!("lanes {} and {} overlap", a.id, b.id),
                        );
                    }
                }
            }
        }
        let mut ev_ids = BTreeSet::new();
        let mut ev_lanes = BTreeSet::new();
        for (zi, z) in self.ev_zones.iter().enumerate() {
            let at = format!("ev_zones[{zi}] ({})", z.id);
            if !ev_ids.insert(z.id.as_str()) {
                p(
                    format!("{at}.id"),
                    format!("duplicate EV zone id {:?}", z.id),
                );
            }
            let Some(deck) = self.decks.iter().find(|d| d.id == z.deck) else {
                p(format!("{at}.deck"), format!("no deck {:?}", z.deck));
                continue;
            };
            let fz = deck.fire_zones.iter().find(|f| f.id == z.fire_zone);
            match fz {
                None => p(
                    format!("{at}.fire_zone"),
                    format!("no fire zone {:?} on deck {}", z.fire_zone, deck.id),
                ),
                Some(f) if !f.detection => p(
                    format!("{at}.fire_zone"),
                    format!(
                        "fire zone {} has no fire detection; EV zones must be covered by detection",
                        f.id
                    ),
                ),
                Some(_) => {}
            }
            if z.lanes.is_empty() {
                p(
                    format!("{at}.lanes"),
                    "an EV zone needs at least one lane".into(),
                );
            }
            for lid in &z.lanes {
                match deck.lanes.iter().find(|l| &l.id == lid) {
                    None => p(
                        format!("{at}.lanes"),
                        format!("no lane {lid:?} on deck {}", deck.id),
                    ),
                    Some(l) => {
                        if !ev_lanes.insert(lid.as_str()) {
                            p(
                                format!("{at}.lanes"),
                                format!("lane {lid} is in more than one EV zone"),
                            );
                        }
                        if let Some(f) = fz
                            && (l.fore_x_mm > f.fore_x_mm
                                || l.fore_x_mm.saturating_sub(l.length_mm) < f.aft_x_mm)
                        {
                            {
                                p(
                                    format!("{at}.lanes"),
                                    format!(
                                        "lane {lid} (x {}..{}) is not inside fire zone {} (x {}..{})",
                                        l.fore_x_mm.saturating_sub(l.length_mm),
                                        l.fore_x_mm,
                                        f.id,
                                        f.aft_x_mm,
                                        f.fore_x_mm
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Finds a lane by deck id and lane id.
    pub fn lane_ix(&self, deck: &str, lane: &str) -> Option<LaneIx> {
        let di = self.decks.iter().position(|d| d.id == deck)?;
        let li = self.decks[di].lanes.iter().position(|l| l.id == lane)?;
        Some(LaneIx { deck: di, lane: li })
    }

    /// The lane at an index (None if out of range).
    pub fn lane(&self, ix: LaneIx) -> Option<&Lane> {
        self.decks.get(ix.deck)?.lanes.get(ix.lane)
    }

    /// All lanes in deck order, then lane order.
    pub fn lanes(&self) -> impl Iterator<Item = (LaneIx, &Deck, &Lane)> {
        self.decks.iter().enumerate().flat_map(|(di, d)| {
            d.lanes
                .iter()
                .enumerate()
                .map(move |(li, l)| (LaneIx { deck: di, lane: li }, d, l))
        })
    }

    /// Whether a lane lies in an EV zone.
    pub fn is_ev_lane(&self, ix: LaneIx) -> bool {
        let (Some(deck), Some(lane)) = (self.decks.get(ix.deck), self.lane(ix)) else {
            return false;
        };
        self.ev_zones
            .iter()
            .any(|z| z.deck == deck.id && z.lanes.contains(&lane.id))
    }

    /// Total lane length, mm.
    pub fn total_lane_mm(&self) -> i64 {
        self.lanes().map(|(_, _, l)| l.length_mm).sum()
    }

    /// Rough capacity in CEU (RT43: 4,125 × 1,550 mm footprint, stowed with this vessel's
    /// bumper gap, and as many abreast per lane as fit its width). Informational only.
    pub fn ceu_estimate(&self) -> i64 {
        let ceu_len = 4_125 + self.spacing.bumper_gap_mm;
        let ceu_w = 1_550 + self.spacing.side_gap_mm;
        self.lanes()
            .map(|(_, _, l)| {
                let rows = (l.length_mm + self.spacing.bumper_gap_mm) / ceu_len.max(1);
                let abreast = (l.width_mm / ceu_w.max(1)).max(1);
                rows * abreast
            })
            .sum()
    }
}

/// Coordinates and hull dimensions beyond 10 km are certainly typos.
const MAX_COORD_MM: i64 = 10_000_000;

fn lanes_overlap(a: &Lane, b: &Lane) -> bool {
    let (a_aft, b_aft) = (
        a.fore_x_mm.saturating_sub(a.length_mm),
        b.fore_x_mm.saturating_sub(b.length_mm),
    );
    let x_overlap = a_aft < b.fore_x_mm && b_aft < a.fore_x_mm;
    let y_gap = a
        .y_mm
        .saturating_sub(b.y_mm)
        .saturating_abs()
        .saturating_mul(2);
    x_overlap && y_gap < a.width_mm.saturating_add(b.width_mm)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YANGTZE: &str = include_str!("../fixtures/yangtze-car-carrier.json");
    const PCTC: &str = include_str!("../fixtures/ocean-pctc.json");

    #[test]
    fn fixtures_are_valid_and_realistic() {
        let y = Vessel::from_json(YANGTZE).expect("yangtze fixture");
        assert_eq!(y.decks.len(), 5);
        let y_cars = y.total_lane_mm() / 5_000;
        assert!((400..=900).contains(&y_cars), "{y_cars} cars of 5 m");
        let o = Vessel::from_json(PCTC).expect("pctc fixture");
        assert_eq!(o.decks.len(), 12);
        let ceu = o.ceu_estimate();
        assert!((6_000..=7_500).contains(&ceu), "{ceu} CEU");
    }

    #[test]
    fn json_round_trips() {
        let y = Vessel::from_json(YANGTZE).expect("fixture");
        let again = Vessel::from_json(&y.to_json()).expect("round trip");
        assert_eq!(y, again);
    }

    #[test]
    fn json_errors_give_position() {
        let err = Vessel::from_json("{\n \"name\": 3 }").unwrap_err();
        match err {
            VesselError::Json { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other}"),
        }
        let err = Vessel::from_json(r#"{"nmae": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn validation_lists_every_problem() {
        let mut v = Vessel::from_json(YANGTZE).expect("fixture");
        v.decks[0].lanes[0].width_mm = 0;
        v.decks[1].clear_height_mm = -5;
        v.decks[1].fire_zones[0].detection = false;
        let dup = v.decks[2].lanes[0].id.clone();
        v.decks[2].lanes[1].id = dup;
        let Err(VesselError::Invalid(problems)) = v.validate() else {
            panic!("expected invalid");
        };
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let all = text.join("\n");
        assert!(all.contains("width_mm: must be within"), "{all}");
        assert!(all.contains("clear_height_mm"), "{all}");
        assert!(all.contains("has no fire detection"), "{all}");
        assert!(all.contains("duplicate lane id"), "{all}");
    }

    #[test]
    fn overlapping_lanes_are_refused() {
        let mut v = Vessel::from_json(YANGTZE).expect("fixture");
        v.decks[0].lanes[1].y_mm = v.decks[0].lanes[0].y_mm + 100;
        let err = v.validate().unwrap_err().to_string();
        assert!(err.contains("overlap"), "{err}");
    }
}
