//! Tally reconciliation: what the manifests said would arrive against what was identified.
//!
//! Each identification is classified once, in the order it was made; then every expected line
//! that no trusted identification confirmed is missing. Only [`Outcome::Matched`] moves a car to
//! `tallied`; every other outcome is a discrepancy that needs a person.
//!
//! An identification is *trusted* only when it carries a VIN whose check digit holds and, for
//! an external vision system, a confidence at or above the session's threshold. Anything else
//! is [`Outcome::Unconfirmed`]: it never counts as a match, whatever it says.

use std::collections::{BTreeMap, HashMap, HashSet};

use jianghai_core::Vin;
use serde::Serialize;

use crate::condition::DamageCode;

/// One line of the expected list (a manifest row, or a shipment's VIN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Line number on the manifest, or position in the shipment (1-based).
    pub line: u32,
    pub vin: Vin,
}

/// How a car was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Typed by a person.
    Typed,
    /// Read by a handheld scanner.
    Scanner,
    /// Decoded by the platform from an uploaded image.
    Image,
    /// Posted by an external vision system, with its confidence.
    External,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Typed => "typed",
            Source::Scanner => "scanner",
            Source::Image => "image",
            Source::External => "external",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        [
            Source::Typed,
            Source::Scanner,
            Source::Image,
            Source::External,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One identification made during the session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identification {
    /// What was read, as read (a typed VIN, a barcode's text, a vision system's answer).
    pub text: String,
    /// The VIN, when `text` is one with a valid check digit.
    pub vin: Option<Vin>,
    pub source: Source,
    /// An external system's confidence, 0–1.
    pub confidence: Option<f64>,
    /// The expected line the car was scanned for, when the tallyman named one.
    pub for_line: Option<u32>,
}

impl Identification {
    /// Builds an identification from what was read; the VIN is kept only if it validates.
    pub fn new(text: &str, source: Source, confidence: Option<f64>, for_line: Option<u32>) -> Self {
        Identification {
            text: text.trim().to_string(),
            vin: crate::label::vin_from_text(text).ok(),
            source,
            confidence,
            for_line,
        }
    }

    /// Why this identification cannot count, if it cannot.
    pub fn distrust(&self, min_confidence: f64) -> Option<String> {
        if self.vin.is_none() {
            return Some(match crate::label::vin_from_text(&self.text) {
                Err(e) => format!("not a valid VIN: {e}"),
                Ok(_) => "not a valid VIN".into(),
            });
        }
        match (self.source, self.confidence) {
            (Source::External, None) => Some("an external result without a confidence".into()),
            (_, Some(c)) if !c.is_finite() || !(0.0..=1.0).contains(&c) => {
                Some(format!("confidence {c} is not between 0 and 1"))
            }
            (_, Some(c)) if c < min_confidence => Some(format!(
                "confidence {c:.2} is below the threshold {min_confidence:.2}"
            )),
            _ => None,
        }
    }
}

/// The result for one line of the tally sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Expected, identified beyond doubt, no damage: the car is tallied.
    Matched,
    /// Expected and identified, but its condition report records damage.
    Damaged,
    /// Expected, never identified.
    Missing,
    /// Identified, on no expected line.
    Extra,
    /// Identified again after it was already identified.
    Duplicate,
    /// Scanned for an expected line whose VIN differs from the one read.
    Mismatched,
    /// A read that cannot count: invalid check digit, low confidence.
    Unconfirmed,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Matched,
        Outcome::Damaged,
        Outcome::Missing,
        Outcome::Extra,
        Outcome::Duplicate,
        Outcome::Mismatched,
        Outcome::Unconfirmed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Matched => "matched",
            Outcome::Damaged => "damaged",
            Outcome::Missing => "missing",
            Outcome::Extra => "extra",
            Outcome::Duplicate => "duplicate",
            Outcome::Mismatched => "mismatched",
            Outcome::Unconfirmed => "unconfirmed",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// 理货结果 in Chinese.
    pub fn zh(self) -> &'static str {
        match self {
            Outcome::Matched => "相符",
            Outcome::Damaged => "残损",
            Outcome::Missing => "短少",
            Outcome::Extra => "溢出",
            Outcome::Duplicate => "重复",
            Outcome::Mismatched => "不符",
            Outcome::Unconfirmed => "未确认",
        }
    }

    /// Whether this outcome needs a person (and raises an alert).
    pub fn is_discrepancy(self) -> bool {
        self != Outcome::Matched
    }
}

/// One line of the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TallyLine {
    pub outcome: Outcome,
    /// The expected line this result is about, if any.
    pub line: Option<u32>,
    /// The VIN the line expected.
    pub expected: Option<Vin>,
    /// What was read (the VIN, or the text of an unconfirmed read).
    pub observed: Option<String>,
    /// Index of the identification that decided this line, in the input order.
    pub identification: Option<usize>,
    /// Why, in English, for the sheet and the alert.
    pub detail: String,
}

impl TallyLine {
    /// The VIN this line is about: the expected one, else the one observed.
    pub fn subject(&self) -> Option<String> {
        self.expected
            .map(|v| v.to_string())
            .or_else(|| self.observed.clone())
    }
}

/// Settings of a reconciliation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// External results below this confidence never count (0–1).
    pub min_confidence: f64,
    /// Damage of at least this severity makes a car `damaged` rather than `matched`.
    pub min_damage_severity: u8,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_confidence: 0.9,
            min_damage_severity: 1,
        }
    }
}

/// The whole result of a session, lines in sheet order: expected lines by line number, then
/// the identifications that fit no line, in the order they were made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    pub lines: Vec<TallyLine>,
}

impl Reconciliation {
    /// How many lines have each outcome.
    pub fn counts(&self) -> BTreeMap<Outcome, usize> {
        let mut m = BTreeMap::new();
        for l in &self.lines {
            *m.entry(l.outcome).or_insert(0) += 1;
        }
        m
    }

    /// The VINs that move to `tallied`.
    pub fn matched(&self) -> Vec<Vin> {
        self.lines
            .iter()
            .filter(|l| l.outcome == Outcome::Matched)
            .filter_map(|l| l.expected)
            .collect()
    }

    /// Every line that needs a person.
    pub fn discrepancies(&self) -> impl Iterator<Item = &TallyLine> {
        self.lines.iter().filter(|l| l.outcome.is_discrepancy())
    }
}

/// Reconciles `expected` against `identifications` (in the order they were made), with the
/// damage recorded per VIN.
pub fn reconcile(
    expected: &[Expected],
    identifications: &[Identification],
    damage: &HashMap<Vin, Vec<DamageCode>>,
    rules: &Rules,
) -> Reconciliation {
    let by_vin: HashMap<Vin, u32> = expected.iter().map(|e| (e.vin, e.line)).collect();
    let by_line: HashMap<u32, Vin> = expected.iter().map(|e| (e.line, e.vin)).collect();
    // Per expected line: the decisive line (matched or mismatched), once.
    let mut decided: HashMap<u32, TallyLine> = HashMap::new();
    let mut extra: Vec<TallyLine> = Vec::new();
    let mut seen: HashSet<Vin> = HashSet::new();
    for (i, id) in identifications.iter().enumerate() {
        let line_of = |outcome, line: Option<u32>, expected, detail: String| TallyLine {
            outcome,
            line,
            expected,
            observed: id.vin.map(|v| v.to_string()).or(Some(id.text.clone())),
            identification: Some(i),
            detail,
        };
        if let Some(why) = id.distrust(rules.min_confidence) {
            extra.push(line_of(
                Outcome::Unconfirmed,
                id.for_line,
                id.for_line.and_then(|l| by_line.get(&l).copied()),
                format!("{} read {:?}: {why}", id.source.as_str(), id.text),
            ));
            continue;
        }
        let Some(vin) = id.vin else { continue };
        if let Some(l) = id.for_line
            && by_line.get(&l) != Some(&vin)
        {
            let want = by_line.get(&l).copied();
            let detail = match want {
                Some(w) => format!("scanned for line {l} ({w}) but read {vin}"),
                None => format!("scanned for line {l}, which is on no manifest, and read {vin}"),
            };
            match want {
                Some(_) if !decided.contains_key(&l) => {
                    decided.insert(l, line_of(Outcome::Mismatched, Some(l), want, detail));
                }
                _ => extra.push(line_of(Outcome::Mismatched, Some(l), want, detail)),
            }
            continue;
        }
        if !seen.insert(vin) {
            extra.push(line_of(
                Outcome::Duplicate,
                by_vin.get(&vin).copied(),
                by_vin.contains_key(&vin).then_some(vin),
                format!("{vin} was already identified in this session"),
            ));
            continue;
        }
        match by_vin.get(&vin) {
            Some(&l) => {
                let damaged: Vec<&DamageCode> = damage
                    .get(&vin)
                    .into_iter()
                    .flatten()
                    .filter(|c| c.severity >= rules.min_damage_severity)
                    .collect();
                let line = if damaged.is_empty() {
                    line_of(
                        Outcome::Matched,
                        Some(l),
                        Some(vin),
                        format!("identified by {}", id.source.as_str()),
                    )
                } else {
                    let codes: Vec<String> = damaged.iter().map(|c| c.to_string()).collect();
                    line_of(
                        Outcome::Damaged,
                        Some(l),
                        Some(vin),
                        format!("damage recorded: {}", codes.join(", ")),
                    )
                };
                // A correct read settles a line an earlier mismatch left open.
                if let Some(prev) = decided.insert(l, line) {
                    extra.push(prev);
                }
            }
            None => extra.push(line_of(
                Outcome::Extra,
                None,
                None,
                format!("{vin} is on no manifest of this session"),
            )),
        }
    }
    let mut lines: Vec<TallyLine> = Vec::with_capacity(expected.len() + extra.len());
    let mut sorted: Vec<&Expected> = expected.iter().collect();
    sorted.sort_by_key(|e| e.line);
    for e in sorted {
        lines.push(decided.remove(&e.line).unwrap_or_else(|| TallyLine {
            outcome: Outcome::Missing,
            line: Some(e.line),
            expected: Some(e.vin),
            observed: None,
            identification: None,
            detail: format!("{} was not identified", e.vin),
        }));
    }
    extra.sort_by_key(|l| l.identification);
    lines.extend(extra);
    Reconciliation { lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vin(serial: u32) -> Vin {
        Vin::with_check_digit(&format!("LS5A3DKE0RA{serial:06}")).expect("valid body")
    }

    fn typed(v: &Vin) -> Identification {
        Identification::new(v.as_str(), Source::Scanner, None, None)
    }

    fn expected(n: u32) -> Vec<Expected> {
        (1..=n)
            .map(|i| Expected {
                line: i,
                vin: vin(i),
            })
            .collect()
    }

    #[test]
    fn every_outcome_in_one_session() {
        let exp = expected(6);
        let stranger = vin(900);
        let mut bad_check = vin(5).to_string();
        bad_check.replace_range(8..9, if &bad_check[8..9] == "1" { "2" } else { "1" });
        let ids = vec![
            typed(&exp[0].vin), // matched
            typed(&exp[0].vin), // duplicate
            Identification::new(exp[1].vin.as_str(), Source::Scanner, None, Some(3)), // mismatched (line 3)
            typed(&stranger),                                                         // extra
            Identification::new(&bad_check, Source::Typed, None, None),               // unconfirmed
            Identification::new(exp[3].vin.as_str(), Source::External, Some(0.5), None), // unconfirmed
            typed(&exp[5].vin),                                                          // damaged
        ];
        let damage = HashMap::from([(
            exp[5].vin,
            vec![DamageCode {
                area: 3,
                kind: 12,
                severity: 2,
            }],
        )]);
        let r = reconcile(&exp, &ids, &damage, &Rules::default());
        let by_line: Vec<(Option<u32>, Outcome)> =
            r.lines.iter().map(|l| (l.line, l.outcome)).collect();
        assert_eq!(
            by_line,
            vec![
                (Some(1), Outcome::Matched),
                (Some(2), Outcome::Missing),
                (Some(3), Outcome::Mismatched),
                (Some(4), Outcome::Missing),
                (Some(5), Outcome::Missing),
                (Some(6), Outcome::Damaged),
                (Some(1), Outcome::Duplicate),
                (None, Outcome::Extra),
                (None, Outcome::Unconfirmed),
                (None, Outcome::Unconfirmed),
            ]
        );
        assert_eq!(r.matched(), vec![exp[0].vin]);
        assert_eq!(r.discrepancies().count(), 9);
    }

    #[test]
    fn a_later_correct_read_settles_a_mismatched_line() {
        let exp = expected(2);
        let ids = vec![
            Identification::new(exp[1].vin.as_str(), Source::Scanner, None, Some(1)),
            Identification::new(exp[0].vin.as_str(), Source::Scanner, None, Some(1)),
            typed(&exp[1].vin),
        ];
        let r = reconcile(&exp, &ids, &HashMap::new(), &Rules::default());
        assert_eq!(r.matched(), vec![exp[0].vin, exp[1].vin]);
        assert_eq!(r.counts().get(&Outcome::Mismatched), Some(&1));
    }

    #[test]
    fn external_results_need_a_confidence_at_the_threshold() {
        let exp = expected(1);
        let at = |c: Option<f64>| {
            let ids = [Identification::new(
                exp[0].vin.as_str(),
                Source::External,
                c,
                None,
            )];
            reconcile(&exp, &ids, &HashMap::new(), &Rules::default()).matched()
        };
        assert_eq!(at(Some(0.95)).len(), 1);
        assert_eq!(at(Some(0.9)).len(), 1);
        assert!(at(Some(0.89)).is_empty());
        assert!(at(None).is_empty());
        assert!(at(Some(f64::NAN)).is_empty());
        assert!(at(Some(1.5)).is_empty());
    }
}
