//! Rules are data: a TOML (or JSON) document of `[[rule]]` tables, each with a scope and exactly
//! one detector. [`RuleSet::corridor_defaults`] is this corridor's set (`corridor.toml`).
//!
//! ```toml
//! reorder_window_seconds = 2          # optional; see the crate doc
//!
//! [[rule]]
//! id = "ev-battery-runaway"           # letters a-z, digits, '-', '_', '.'
//! title = "EV battery temperature rising fast"
//! severity = "critical"               # info | warning | critical
//! measurement = "Temperature"         # EPCIS MeasurementType; omitted for dew_point and all_of
//! subject = ["vehicle"]               # subject kinds; omitted = any
//! sensor = "battery*"                 # sensor name, one '*' wildcard; omitted = any
//! when = "in_transit"                 # always (default) | in_transit | alongside
//! unit = "FAH"                        # unit of the numbers below; omitted = canonical unit
//! rate_of_rise = { per_minute = 2.0, over_seconds = 180, hysteresis = 1.0 }
//! ```
//!
//! Detectors: `threshold = { above, below, magnitude, for_seconds, hysteresis }`,
//! `rate_of_rise = { per_minute, over_seconds, hysteresis }`,
//! `baseline = { alpha, z, warmup, min_sigma, hysteresis }`,
//! `dew_point = { margin, for_seconds, hysteresis, max_skew_seconds }`,
//! `state = { set }`, `silence = { after_seconds }`, `all_of = ["rule-a", "rule-b"]`.
//!
//! Every mistake is reported with its line and column and the field at fault
//! ([`RuleError`]); nothing is silently defaulted except what is documented above.

use std::fmt;

use jianghai_core::reading::{MeasurementType, SubjectKind, Unit};
use jianghai_core::{Ident, Subject};
use serde::{Deserialize, Serialize};

/// Largest rule file accepted, in bytes.
pub const MAX_RULE_FILE_BYTES: usize = 1 << 20;
/// Most rules in one set.
pub const MAX_RULES: usize = 1000;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest duration a rule may name (a week), in seconds.
pub const MAX_DURATION_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// Default reorder window, in milliseconds (see the crate doc).
pub const DEFAULT_REORDER_WINDOW_MS: i64 = 2_000;

const CORRIDOR: &str = include_str!("corridor.toml");

/// A rule's identifier (same alphabet as [`Ident`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RuleId(String);

impl RuleId {
    pub fn parse(s: &str) -> Result<RuleId, String> {
        Ident::parse(s)
            .map(|i| RuleId(i.to_string()))
            .map_err(|e| format!("rule id: {e}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How urgent an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// In which transport context a rule may fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    #[default]
    Always,
    /// The subject is moving between places (underway, on the road).
    InTransit,
    /// The subject is not in transit (alongside, at anchor, in the yard).
    Alongside,
}

impl When {
    pub fn matches(self, in_transit: bool) -> bool {
        match self {
            When::Always => true,
            When::InTransit => in_transit,
            When::Alongside => !in_transit,
        }
    }
}

/// A sensor name with at most one `*` (any run of characters): `battery*`, `*rms`, `air`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorPattern {
    prefix: String,
    suffix: Option<String>,
}

impl SensorPattern {
    pub fn parse(s: &str) -> Result<SensorPattern, String> {
        if s.is_empty() || s.chars().count() > 64 {
            return Err("sensor pattern must be 1 to 64 characters".into());
        }
        match s.split_once('*') {
            None => Ok(SensorPattern {
                prefix: s.to_string(),
                suffix: None,
            }),
            Some((_, rest)) if rest.contains('*') => {
                Err(format!("sensor pattern {s:?} has more than one '*'"))
            }
            Some((p, rest)) => Ok(SensorPattern {
                prefix: p.to_string(),
                suffix: Some(rest.to_string()),
            }),
        }
    }

    pub fn matches(&self, sensor: &str) -> bool {
        match &self.suffix {
            None => sensor == self.prefix,
            Some(suffix) => {
                sensor.len() >= self.prefix.len() + suffix.len()
                    && sensor.starts_with(&self.prefix)
                    && sensor.ends_with(suffix.as_str())
            }
        }
    }
}

impl fmt::Display for SensorPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.suffix {
            None => f.write_str(&self.prefix),
            Some(s) => write!(f, "{}*{s}", self.prefix),
        }
    }
}

/// Which readings a rule looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// `None` only for silence (any measurement), dew point (temperature and humidity) and
    /// combinations (which look at other rules).
    pub measurement: Option<MeasurementType>,
    /// Empty means any kind.
    pub subjects: Vec<SubjectKind>,
    pub sensor: Option<SensorPattern>,
    pub when: When,
}

impl Scope {
    pub fn covers_subject(&self, subject: &Subject) -> bool {
        self.subjects.is_empty() || self.subjects.contains(&subject.kind())
    }

    pub fn covers_sensor(&self, sensor: &str) -> bool {
        self.sensor.as_ref().is_none_or(|p| p.matches(sensor))
    }
}

/// Value above `above` or below `below` (or its magnitude, for signed axes such as list or
/// shock), held for `for_ms`; clears once back inside by `hysteresis`. Canonical units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub above: Option<f64>,
    pub below: Option<f64>,
    pub magnitude: bool,
    pub for_ms: i64,
    pub hysteresis: f64,
}

impl Threshold {
    /// Whether `v` starts (or continues) an excursion.
    pub fn exceeded(&self, v: f64) -> bool {
        self.above.is_some_and(|a| v > a) || self.below.is_some_and(|b| v < b)
    }

    /// Whether an active excursion goes on at `v` (it clears only past the hysteresis band).
    pub fn holds(&self, v: f64) -> bool {
        self.above.is_some_and(|a| v > a - self.hysteresis)
            || self.below.is_some_and(|b| v < b + self.hysteresis)
    }
}

/// Rise of at least `per_minute` (canonical unit per minute) between a reading and the oldest
/// one not older than `over_ms`; clears when the rise falls below `per_minute - hysteresis`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateOfRise {
    pub per_minute: f64,
    pub over_ms: i64,
    pub hysteresis: f64,
}

/// Deviation from an exponentially weighted moving baseline: `|x − mean| / max(σ, min_sigma)`
/// above `z`, after `warmup` readings; clears below `z − hysteresis`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub alpha: f64,
    pub z: f64,
    pub warmup: u32,
    pub min_sigma: f64,
    pub hysteresis: f64,
}

/// Air temperature minus dew point (Magnus formula, from temperature and relative humidity on the
/// same subject, at most `max_skew_ms` apart) below `margin` °C for `for_ms`; clears above
/// `margin + hysteresis`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DewPoint {
    pub margin: f64,
    pub for_ms: i64,
    pub hysteresis: f64,
    pub max_skew_ms: i64,
}

/// What a rule detects.
#[derive(Debug, Clone, PartialEq)]
pub enum Detector {
    Threshold(Threshold),
    RateOfRise(RateOfRise),
    Baseline(Baseline),
    DewPoint(DewPoint),
    /// A state (`DoorOpen`, `SealBroken`, `Smoke`, `WaterLeak`) equal to `set`.
    State {
        set: bool,
    },
    /// No reading from a sensor for `after_ms` (by the receiver's clock, checked on `tick`).
    Silence {
        after_ms: i64,
    },
    /// Every one of these rules (indices into the set) open on the same subject.
    AllOf(Vec<usize>),
}

impl Detector {
    pub fn name(&self) -> &'static str {
        match self {
            Detector::Threshold(_) => "threshold",
            Detector::RateOfRise(_) => "rate_of_rise",
            Detector::Baseline(_) => "baseline",
            Detector::DewPoint(_) => "dew_point",
            Detector::State { .. } => "state",
            Detector::Silence { .. } => "silence",
            Detector::AllOf(_) => "all_of",
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: RuleId,
    pub title: String,
    pub severity: Severity,
    pub scope: Scope,
    pub detector: Detector,
}

/// A validated set of rules and the reorder window the engine keeps per subject.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    rules: Vec<Rule>,
    reorder_window_ms: i64,
}

/// Why a rule file was refused: where (1-based line and column, when known) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RuleError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            (Some(l), None) => write!(f, "line {l}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl RuleSet {
    /// Parses a TOML rule file.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        check_size(text)?;
        let doc: FileDoc = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            RuleError {
                line,
                column,
                message: e.message().trim_end().to_string(),
            }
        })?;
        doc.resolve(text)
    }

    /// Parses the same document as JSON (`{"reorder_window_seconds": 2, "rules": [{…}]}`).
    pub fn from_json(text: &str) -> Result<RuleSet, RuleError> {
        check_size(text)?;
        let doc: FileDoc = serde_json::from_str(text).map_err(|e| RuleError {
            line: Some(e.line()),
            column: Some(e.column()),
            message: strip_json_position(&e.to_string()),
        })?;
        doc.resolve(text)
    }

    /// This corridor's defaults (domain brief §6): deck heat, condensation, water on deck,
    /// shock, vibration, list, EV battery thermal runaway, fire, gas, state of charge, doors and
    /// seals in transit, silent sensors.
    pub fn corridor_defaults() -> RuleSet {
        match RuleSet::from_toml(CORRIDOR) {
            Ok(set) => set,
            // The embedded file is tested (`corridor_defaults_parse`); this cannot happen.
            Err(e) => unreachable!("corridor.toml: {e}"),
        }
    }

    /// The text of the corridor defaults, to start a custom file from.
    pub fn corridor_defaults_toml() -> &'static str {
        CORRIDOR
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.as_str() == id)
    }

    pub fn reorder_window_ms(&self) -> i64 {
        self.reorder_window_ms
    }

    /// The same rules with another reorder window (0 evaluates every reading on arrival).
    pub fn with_reorder_window_ms(mut self, ms: i64) -> RuleSet {
        self.reorder_window_ms = ms.max(0);
        self
    }
}

fn check_size(text: &str) -> Result<(), RuleError> {
    if text.len() > MAX_RULE_FILE_BYTES {
        return Err(RuleError {
            line: None,
            column: None,
            message: format!(
                "rule file is {} bytes; at most {MAX_RULE_FILE_BYTES} are allowed",
                text.len()
            ),
        });
    }
    Ok(())
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Where the rule `id` is written (for errors found after parsing).
fn locate(text: &str, id: &str, nth: usize) -> Option<usize> {
    let needles = [format!("\"{id}\""), format!("'{id}'")];
    text.lines()
        .enumerate()
        .filter(|(_, l)| needles.iter().any(|n| l.contains(n.as_str())))
        .nth(nth)
        .map(|(i, _)| i + 1)
}

// ---- the document as written -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    reorder_window_seconds: Option<f64>,
    #[serde(default, alias = "rules")]
    rule: Vec<ParsedRule>,
}

/// A rule checked on its own; `all_of` names are resolved against the whole set afterwards.
#[derive(Deserialize)]
#[serde(try_from = "RuleDoc")]
struct ParsedRule {
    rule: Rule,
    all_of: Vec<RuleId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    id: String,
    title: String,
    severity: Severity,
    #[serde(default)]
    measurement: Option<MeasurementType>,
    #[serde(default)]
    subject: Vec<SubjectKind>,
    #[serde(default)]
    sensor: Option<String>,
    #[serde(default)]
    when: When,
    #[serde(default)]
    unit: Option<Unit>,
    #[serde(default)]
    threshold: Option<ThresholdDoc>,
    #[serde(default)]
    rate_of_rise: Option<RateDoc>,
    #[serde(default)]
    baseline: Option<BaselineDoc>,
    #[serde(default)]
    dew_point: Option<DewDoc>,
    #[serde(default)]
    state: Option<StateDoc>,
    #[serde(default)]
    silence: Option<SilenceDoc>,
    #[serde(default)]
    all_of: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdDoc {
    #[serde(default)]
    above: Option<f64>,
    #[serde(default)]
    below: Option<f64>,
    #[serde(default)]
    magnitude: bool,
    #[serde(default)]
    for_seconds: f64,
    #[serde(default)]
    hysteresis: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateDoc {
    per_minute: f64,
    over_seconds: f64,
    #[serde(default)]
    hysteresis: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineDoc {
    #[serde(default = "default_alpha")]
    alpha: f64,
    z: f64,
    #[serde(default = "default_warmup")]
    warmup: u32,
    min_sigma: f64,
    #[serde(default)]
    hysteresis: f64,
}

fn default_alpha() -> f64 {
    0.05
}

fn default_warmup() -> u32 {
    30
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DewDoc {
    margin: f64,
    #[serde(default)]
    for_seconds: f64,
    #[serde(default)]
    hysteresis: f64,
    #[serde(default = "default_max_skew")]
    max_skew_seconds: f64,
}

fn default_max_skew() -> f64 {
    600.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateDoc {
    #[serde(default = "default_set")]
    set: bool,
}

fn default_set() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceDoc {
    after_seconds: f64,
}

/// Checks one field of a rule; the message names the rule and the field.
struct Check<'a> {
    id: &'a str,
}

impl Check<'_> {
    fn fail<T>(&self, field: &str, problem: impl fmt::Display) -> Result<T, String> {
        Err(format!("rule {:?}: {field} {problem}", self.id))
    }

    fn finite(&self, field: &str, v: f64) -> Result<f64, String> {
        if v.is_finite() {
            Ok(v)
        } else {
            self.fail(field, "must be a finite number")
        }
    }

    fn positive(&self, field: &str, v: f64) -> Result<f64, String> {
        if self.finite(field, v)? > 0.0 {
            Ok(v)
        } else {
            self.fail(field, format!("must be greater than 0, not {v}"))
        }
    }

    fn non_negative(&self, field: &str, v: f64) -> Result<f64, String> {
        if self.finite(field, v)? >= 0.0 {
            Ok(v)
        } else {
            self.fail(field, format!("must not be negative, not {v}"))
        }
    }

    fn duration_ms(&self, field: &str, seconds: f64, zero_ok: bool) -> Result<i64, String> {
        let s = if zero_ok {
            self.non_negative(field, seconds)?
        } else {
            self.positive(field, seconds)?
        };
        if s > MAX_DURATION_SECONDS {
            return self.fail(
                field,
                format!("must be at most {MAX_DURATION_SECONDS} seconds"),
            );
        }
        Ok((s * 1000.0).round() as i64)
    }
}

impl TryFrom<RuleDoc> for ParsedRule {
    type Error = String;

    fn try_from(doc: RuleDoc) -> Result<ParsedRule, String> {
        let id = RuleId::parse(&doc.id)?;
        let c = Check { id: id.as_str() };
        let title = doc.title.trim().to_string();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return c.fail("title", format!("must be 1 to {MAX_TITLE} characters"));
        }
        let given: Vec<&str> = [
            ("threshold", doc.threshold.is_some()),
            ("rate_of_rise", doc.rate_of_rise.is_some()),
            ("baseline", doc.baseline.is_some()),
            ("dew_point", doc.dew_point.is_some()),
            ("state", doc.state.is_some()),
            ("silence", doc.silence.is_some()),
            ("all_of", doc.all_of.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if given.len() != 1 {
            return c.fail(
                "detector",
                format!(
                    "must be exactly one of threshold, rate_of_rise, baseline, dew_point, state, silence or all_of; found {}",
                    if given.is_empty() { "none".to_string() } else { given.join(" and ") }
                ),
            );
        }
        let sensor = doc
            .sensor
            .as_deref()
            .map(SensorPattern::parse)
            .transpose()
            .or_else(|e| c.fail("sensor", e))?;
        let m = doc.measurement;
        if let (Some(unit), Some(m)) = (doc.unit, m)
            && !unit.fits(m)
        {
            return c.fail(
                "unit",
                format!("{unit} is not a unit of {m} (use {})", m.canonical_unit()),
            );
        }
        let unit = doc.unit.or(m.map(|m| m.canonical_unit()));
        let value = |v: f64| unit.map_or(v, |u| u.to_canonical(v));
        let difference = |v: f64| unit.map_or(v, |u| u.difference_to_canonical(v));
        let needs_measurement = |quantity: bool| -> Result<MeasurementType, String> {
            match m {
                None => c.fail("measurement", format!("is required for {}", given[0])),
                Some(m) if quantity && m.is_state() => c.fail(
                    "measurement",
                    format!("{m} is a state: use state = {{ set = true }}"),
                ),
                Some(m) if !quantity && !m.is_state() => c.fail(
                    "measurement",
                    format!(
                        "{m} is a quantity: state needs DoorOpen, SealBroken, Smoke or WaterLeak"
                    ),
                ),
                Some(m) => Ok(m),
            }
        };
        let no_measurement = || -> Result<(), String> {
            if m.is_some() {
                return c.fail("measurement", format!("must be omitted for {}", given[0]));
            }
            Ok(())
        };
        let mut all_of = Vec::new();
        let detector = if let Some(t) = doc.threshold {
            needs_measurement(true)?;
            let above = t
                .above
                .map(|v| c.finite("threshold.above", v).map(value))
                .transpose()?;
            let below = t
                .below
                .map(|v| c.finite("threshold.below", v).map(value))
                .transpose()?;
            match (above, below) {
                (None, None) => return c.fail("threshold", "needs above, below or both"),
                (Some(a), Some(b)) if b >= a => {
                    return c.fail("threshold.below", "must be less than threshold.above");
                }
                _ => {}
            }
            Detector::Threshold(Threshold {
                above,
                below,
                magnitude: t.magnitude,
                for_ms: c.duration_ms("threshold.for_seconds", t.for_seconds, true)?,
                hysteresis: difference(c.non_negative("threshold.hysteresis", t.hysteresis)?),
            })
        } else if let Some(r) = doc.rate_of_rise {
            needs_measurement(true)?;
            let per_minute = c.positive("rate_of_rise.per_minute", r.per_minute)?;
            let hysteresis = c.non_negative("rate_of_rise.hysteresis", r.hysteresis)?;
            if hysteresis >= per_minute {
                return c.fail(
                    "rate_of_rise.hysteresis",
                    "must be less than rate_of_rise.per_minute",
                );
            }
            Detector::RateOfRise(RateOfRise {
                per_minute: difference(per_minute),
                over_ms: c.duration_ms("rate_of_rise.over_seconds", r.over_seconds, false)?,
                hysteresis: difference(hysteresis),
            })
        } else if let Some(b) = doc.baseline {
            needs_measurement(true)?;
            let alpha = c.positive("baseline.alpha", b.alpha)?;
            if alpha > 1.0 {
                return c.fail("baseline.alpha", "must be at most 1");
            }
            let z = c.positive("baseline.z", b.z)?;
            let hysteresis = c.non_negative("baseline.hysteresis", b.hysteresis)?;
            if hysteresis >= z {
                return c.fail("baseline.hysteresis", "must be less than baseline.z");
            }
            if !(2..=100_000).contains(&b.warmup) {
                return c.fail("baseline.warmup", "must be 2 to 100000 readings");
            }
            Detector::Baseline(Baseline {
                alpha,
                z,
                warmup: b.warmup,
                min_sigma: difference(c.positive("baseline.min_sigma", b.min_sigma)?),
                hysteresis,
            })
        } else if let Some(d) = doc.dew_point {
            no_measurement()?;
            let unit = doc.unit.unwrap_or(Unit::Celsius);
            if !unit.fits(MeasurementType::Temperature) {
                return c.fail("unit", format!("{unit} is not a temperature unit"));
            }
            Detector::DewPoint(DewPoint {
                margin: unit.difference_to_canonical(c.positive("dew_point.margin", d.margin)?),
                for_ms: c.duration_ms("dew_point.for_seconds", d.for_seconds, true)?,
                hysteresis: unit
                    .difference_to_canonical(c.non_negative("dew_point.hysteresis", d.hysteresis)?),
                max_skew_ms: c.duration_ms(
                    "dew_point.max_skew_seconds",
                    d.max_skew_seconds,
                    false,
                )?,
            })
        } else if let Some(s) = doc.state {
            needs_measurement(false)?;
            Detector::State { set: s.set }
        } else if let Some(s) = doc.silence {
            Detector::Silence {
                after_ms: c.duration_ms("silence.after_seconds", s.after_seconds, false)?,
            }
        } else {
            no_measurement()?;
            let names = doc.all_of.unwrap_or_default();
            if names.len() < 2 {
                return c.fail("all_of", "must name at least two rules");
            }
            for name in &names {
                all_of.push(RuleId::parse(name).or_else(|e| c.fail("all_of", e))?);
            }
            Detector::AllOf(Vec::new())
        };
        if doc.unit.is_some() && m.is_none() && !matches!(detector, Detector::DewPoint(_)) {
            return c.fail("unit", "needs a measurement to be a unit of");
        }
        if matches!(detector, Detector::AllOf(_)) && (sensor.is_some() || doc.when != When::Always)
        {
            return c.fail(
                "all_of",
                "takes its sensors and context from the rules it combines (omit sensor and when)",
            );
        }
        Ok(ParsedRule {
            rule: Rule {
                id,
                title,
                severity: doc.severity,
                scope: Scope {
                    measurement: m,
                    subjects: doc.subject,
                    sensor,
                    when: doc.when,
                },
                detector,
            },
            all_of,
        })
    }
}

impl FileDoc {
    fn resolve(self, text: &str) -> Result<RuleSet, RuleError> {
        let at = |id: &str, nth: usize, message: String| RuleError {
            line: locate(text, id, nth),
            column: None,
            message,
        };
        if self.rule.len() > MAX_RULES {
            return Err(RuleError {
                line: None,
                column: None,
                message: format!("{} rules; at most {MAX_RULES} are allowed", self.rule.len()),
            });
        }
        let reorder_window_ms = match self.reorder_window_seconds {
            None => DEFAULT_REORDER_WINDOW_MS,
            Some(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => (s * 1000.0).round() as i64,
            Some(s) => {
                return Err(RuleError {
                    line: text
                        .lines()
                        .position(|l| l.contains("reorder_window_seconds"))
                        .map(|i| i + 1),
                    column: None,
                    message: format!("reorder_window_seconds must be 0 to 3600, not {s}"),
                });
            }
        };
        let ids: Vec<RuleId> = self.rule.iter().map(|p| p.rule.id.clone()).collect();
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(at(
                    id.as_str(),
                    1,
                    format!("rule id {:?} is used twice", id.as_str()),
                ));
            }
        }
        let mut rules = Vec::with_capacity(self.rule.len());
        for parsed in &self.rule {
            let mut rule = parsed.rule.clone();
            if let Detector::AllOf(members) = &mut rule.detector {
                for name in &parsed.all_of {
                    let problem = match ids.iter().position(|id| id == name) {
                        Some(i) if parsed_is_plain(&self.rule[i]) => {
                            if !members.contains(&i) {
                                members.push(i);
                            }
                            continue;
                        }
                        Some(_) => "which is itself a combination or a silence rule",
                        None => "which is not a rule in this file",
                    };
                    return Err(at(
                        rule.id.as_str(),
                        0,
                        format!(
                            "rule {:?}: all_of names {:?}, {problem}",
                            rule.id.as_str(),
                            name.as_str()
                        ),
                    ));
                }
            }
            rules.push(rule);
        }
        Ok(RuleSet {
            rules,
            reorder_window_ms,
        })
    }
}

/// Combinations may name rules that look at readings, not other combinations or silences.
fn parsed_is_plain(p: &ParsedRule) -> bool {
    !matches!(
        p.rule.detector,
        Detector::AllOf(_) | Detector::Silence { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        RuleSet::from_toml(text).unwrap_err().to_string()
    }

    const HEAD: &str = "[[rule]]\nid = \"r1\"\ntitle = \"T\"\nseverity = \"warning\"\n";

    #[test]
    fn corridor_defaults_parse() {
        let set = RuleSet::from_toml(RuleSet::corridor_defaults_toml()).expect("corridor.toml");
        assert_eq!(set, RuleSet::corridor_defaults());
        assert_eq!(set.reorder_window_ms(), DEFAULT_REORDER_WINDOW_MS);
        let heat = set.get("deck-heat-warning").expect("deck heat");
        assert_eq!(
            heat.detector,
            Detector::Threshold(Threshold {
                above: Some(45.0),
                below: None,
                magnitude: false,
                for_ms: 300_000,
                hysteresis: 2.0
            })
        );
        // 2 g in m/s².
        let Detector::Threshold(shock) = &set.get("shock").expect("shock").detector else {
            panic!("shock is a threshold")
        };
        assert!((shock.above.unwrap_or_default() - 19.6133).abs() < 1e-9);
        assert_eq!(shock.for_ms, 10);
        let Detector::AllOf(fire) = &set.get("fire").expect("fire").detector else {
            panic!("fire is a combination")
        };
        let names: Vec<&str> = fire.iter().map(|&i| set.rules()[i].id.as_str()).collect();
        assert_eq!(names, ["smoke", "deck-temperature-rise"]);
        for r in set.rules() {
            assert!(!r.title.is_empty(), "{}", r.id);
        }
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = RuleSet::from_toml(&format!("{HEAD}threshold = {{ above = }}\n")).unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
    }

    #[test]
    fn unknown_fields_name_the_field_and_line() {
        let e = RuleSet::from_toml(&format!(
            "{HEAD}measurement = \"Temperature\"\nthreshold = {{ abov = 45 }}\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, Some(6), "{e}");
        assert!(e.message.contains("unknown field `abov`"), "{e}");
        let e = err(&format!("{HEAD}colour = \"red\"\n"));
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = err(&format!(
            "{HEAD}measurement = \"Temprature\"\nstate = {{}}\n"
        ));
        assert!(
            e.starts_with("line 5") && e.contains("unknown variant `Temprature`"),
            "{e}"
        );
    }

    #[test]
    fn semantic_errors_name_rule_field_and_line() {
        let e = RuleSet::from_toml(&format!(
            "reorder_window_seconds = 1\n{HEAD}measurement = \"Temperature\"\nrate_of_rise = {{ per_minute = -2, over_seconds = 60 }}\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.message,
            "rule \"r1\": rate_of_rise.per_minute must be greater than 0, not -2"
        );
        assert_eq!(e.line, Some(2), "the rule's table starts on line 2: {e}");
        let cases = [
            (
                "measurement = \"RelativeHumidity\"\nunit = \"FAH\"\nthreshold = { above = 85 }",
                "rule \"r1\": unit FAH is not a unit of RelativeHumidity (use P1)",
            ),
            (
                "measurement = \"Temperature\"",
                "rule \"r1\": detector must be exactly one of threshold, rate_of_rise, baseline, dew_point, state, silence or all_of; found none",
            ),
            (
                "measurement = \"Temperature\"\nthreshold = { above = 1 }\nstate = {}",
                "found threshold and state",
            ),
            (
                "threshold = { above = 1 }",
                "rule \"r1\": measurement is required for threshold",
            ),
            (
                "measurement = \"DoorOpen\"\nthreshold = { above = 0.5 }",
                "DoorOpen is a state: use state = { set = true }",
            ),
            (
                "measurement = \"Temperature\"\nstate = {}",
                "Temperature is a quantity",
            ),
            (
                "measurement = \"Temperature\"\nthreshold = {}",
                "threshold needs above, below or both",
            ),
            (
                "measurement = \"Temperature\"\nthreshold = { above = 10, below = 20 }",
                "threshold.below must be less than threshold.above",
            ),
            (
                "measurement = \"Temperature\"\nthreshold = { above = 10, for_seconds = -1 }",
                "threshold.for_seconds must not be negative",
            ),
            (
                "measurement = \"Temperature\"\nthreshold = { above = 10, for_seconds = 1e9 }",
                "must be at most",
            ),
            (
                "measurement = \"Temperature\"\nthreshold = { above = nan }",
                "threshold.above must be a finite number",
            ),
            (
                "measurement = \"Temperature\"\nsensor = \"a*b*\"\nthreshold = { above = 1 }",
                "more than one '*'",
            ),
            (
                "measurement = \"Temperature\"\ndew_point = { margin = 2 }",
                "measurement must be omitted for dew_point",
            ),
            (
                "dew_point = { margin = 2 }\nunit = \"P1\"",
                "P1 is not a temperature unit",
            ),
            (
                "measurement = \"Concentration\"\nbaseline = { z = 3, min_sigma = 1, alpha = 2 }",
                "baseline.alpha must be at most 1",
            ),
            (
                "measurement = \"Concentration\"\nbaseline = { z = 3, min_sigma = 1, hysteresis = 3 }",
                "baseline.hysteresis must be less than baseline.z",
            ),
            (
                "measurement = \"Concentration\"\nrate_of_rise = { per_minute = 1, over_seconds = 60, hysteresis = 1 }",
                "rate_of_rise.hysteresis must be less than",
            ),
            (
                "silence = { after_seconds = 0 }",
                "silence.after_seconds must be greater than 0",
            ),
            (
                "unit = \"CEL\"\nsilence = { after_seconds = 60 }",
                "unit needs a measurement",
            ),
            ("all_of = [\"a\"]", "all_of must name at least two rules"),
            ("all_of = [\"a\", \"B\"]", "rule id: identifier has 'B'"),
        ];
        for (body, want) in cases {
            let e = err(&format!("{HEAD}{body}\n"));
            assert!(e.contains(want), "{body}:\n  got {e}\n  want {want}");
            assert!(e.starts_with("line "), "{e}");
        }
        assert!(err("[[rule]]\nid = \"Bad Id\"\ntitle = \"T\"\nseverity = \"info\"\nsilence = { after_seconds = 1 }\n").contains("rule id: identifier has 'B'"));
    }

    #[test]
    fn set_level_errors_name_the_rule_line() {
        let two = format!(
            "{HEAD}silence = {{ after_seconds = 60 }}\n\n{HEAD}silence = {{ after_seconds = 60 }}\n"
        );
        let e = RuleSet::from_toml(&two).unwrap_err();
        assert_eq!(e.to_string(), "line 8: rule id \"r1\" is used twice");
        let combo = "[[rule]]\nid = \"s\"\ntitle = \"S\"\nseverity = \"info\"\nmeasurement = \"Smoke\"\nstate = {}\n\n[[rule]]\nid = \"fire\"\ntitle = \"F\"\nseverity = \"critical\"\nall_of = [\"s\", \"heat\"]\n";
        let e = RuleSet::from_toml(combo).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 9: rule \"fire\": all_of names \"heat\", which is not a rule in this file"
        );
        let nested = combo.replace("\"heat\"", "\"fire\"");
        assert!(err(&nested).contains("itself a combination"));
        let window =
            format!("reorder_window_seconds = -1\n{HEAD}silence = {{ after_seconds = 60 }}\n");
        assert_eq!(
            err(&window),
            "line 1: reorder_window_seconds must be 0 to 3600, not -1"
        );
        let big = "#".repeat(MAX_RULE_FILE_BYTES + 1);
        assert!(err(&big).contains("at most 1048576"));
    }

    #[test]
    fn json_is_the_same_document() {
        let json = r#"{"reorder_window_seconds": 0, "rules": [
            {"id": "door", "title": "Door open in transit", "severity": "critical",
             "measurement": "DoorOpen", "when": "in_transit", "state": {"set": true}}]}"#;
        let set = RuleSet::from_json(json).expect("json");
        assert_eq!(set.reorder_window_ms(), 0);
        assert_eq!(set.rules()[0].scope.when, When::InTransit);
        let e = RuleSet::from_json(&json.replace("\"set\"", "\"sett\"")).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("unknown field `sett`"), "{e}");
        assert!(!e.message.contains(" at line "), "{e}");
    }

    #[test]
    fn units_convert_thresholds_and_differences() {
        let set = RuleSet::from_toml(&format!(
            "{HEAD}measurement = \"Temperature\"\nunit = \"FAH\"\nthreshold = {{ above = 113, hysteresis = 9 }}\n"
        ))
        .expect("rule");
        let Detector::Threshold(t) = set.rules()[0].detector else {
            panic!("threshold")
        };
        assert!((t.above.unwrap_or_default() - 45.0).abs() < 1e-9);
        assert!(
            (t.hysteresis - 5.0).abs() < 1e-9,
            "a difference is scaled, not offset"
        );
    }

    proptest::proptest! {
        /// What the fuzz target checks, on mutations of the corridor file: no panic, and a
        /// refusal points at a line that exists.
        #[test]
        fn mutated_rule_files_are_refused_with_a_line(
            at in 0usize..8000, len in 0usize..40, insert in "[ -~\n]{0,12}"
        ) {
            let text = RuleSet::corridor_defaults_toml();
            let start = text.floor_char_boundary(at.min(text.len()));
            let end = text.floor_char_boundary((start + len).min(text.len()));
            let mutated = format!("{}{insert}{}", &text[..start], &text[end..]);
            let lines = mutated.lines().count().max(1);
            if let Err(e) = RuleSet::from_toml(&mutated) {
                proptest::prop_assert!(!e.message.is_empty());
                if let Some(line) = e.line {
                    proptest::prop_assert!((1..=lines + 1).contains(&line), "{e}");
                }
            }
        }
    }

    #[test]
    fn sensor_patterns() {
        let p = SensorPattern::parse("battery*").expect("pattern");
        assert!(p.matches("battery") && p.matches("battery-2") && !p.matches("air"));
        let p = SensorPattern::parse("*rms").expect("pattern");
        assert!(p.matches("vib-rms") && !p.matches("vib-peak"));
        let p = SensorPattern::parse("a*a").expect("pattern");
        assert!(!p.matches("a") && p.matches("aa"));
        assert!(SensorPattern::parse("").is_err());
    }
}
