//! Sensor readings: the vocabulary shared by ingestion (server, store) and the watch engine.
//!
//! A reading is one measurement from one sensor of one device at one instant:
//! - what was measured is a [`MeasurementType`], named as in EPCIS 2.0 `sensorReport.type`
//!   (`Temperature`, `RelativeHumidity`, `Acceleration`, `Angle`, …) plus the few states this
//!   corridor needs that GS1 has no name for (`Smoke`, `DoorOpen`, `SealBroken`, `WaterLeak`);
//! - the unit it was sent in is a [`Unit`], a UN/ECE Recommendation 20 common code (`CEL`,
//!   `FAH`, `P1`, `MSK`, `DD`, …). Every measurement type has one canonical unit and a
//!   [`Reading`] holds its value in that unit, so detectors compare like with like;
//! - the value must be physically possible ([`MeasurementType::limits`]) and the time must not be
//!   more than five minutes ahead of the receiver's clock (passed in as `now`).
//!
//! [`ReadingInput`] is the wire form (JSON, camelCase, unknown fields refused) and
//! [`ReadingInput::validate`] the one gate every reading from outside passes.
//!
//! [`Subject`] names what a sensor watches (`deck:minsheng-1/D3`), so an alarm names what is
//! affected rather than which box measured it.
//!
//! ```
//! use jianghai_core::reading::{MeasurementType, ReadingInput, Unit};
//! let now = "2025-07-01T08:00:00Z".parse().unwrap();
//! let input: ReadingInput = serde_json::from_str(
//!     r#"{"device":"deck3-env-1","sensor":"air","measurement":"Temperature",
//!         "value":113.0,"unit":"FAH","time":"2025-07-01T07:59:00Z"}"#,
//! ).unwrap();
//! let reading = input.validate(now).unwrap();
//! assert_eq!(reading.measurement, MeasurementType::Temperature);
//! assert_eq!(reading.unit, Unit::Fahrenheit);
//! assert!((reading.value - 45.0).abs() < 1e-9); // canonical: °C
//!
//! let wrong: ReadingInput = serde_json::from_str(
//!     r#"{"device":"deck3-env-1","sensor":"rh","measurement":"RelativeHumidity",
//!         "value":80,"unit":"FAH","time":"2025-07-01T07:59:00Z"}"#,
//! ).unwrap();
//! assert_eq!(
//!     wrong.validate(now).unwrap_err().to_string(),
//!     "unit FAH is not a unit of RelativeHumidity (use P1)"
//! );
//! ```

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::ident::{Ident, IdentError};
use crate::party::Position;

/// Limits on what a reading may carry; anything outside is refused, not clamped.
pub mod limits {
    /// Readings whose time is further ahead of the receiver's clock than this are refused.
    pub const MAX_FUTURE_SKEW_SECONDS: i64 = 300;
    /// Readings before this year are refused: a device whose clock was never set reports 1970.
    pub const EARLIEST_YEAR: i32 = 2000;
    /// Longest sensor name, in characters.
    pub const MAX_SENSOR_LEN: usize = 64;
    /// Longest subject id, in characters.
    pub const MAX_SUBJECT_ID_LEN: usize = 128;
}

/// Base of the URIs for the measurement types GS1 has no name for.
pub const MEASUREMENT_URI_BASE: &str = "https://jianghai.dev/voc/MeasurementType-";

/// What a sensor measures. The names are EPCIS 2.0 `MeasurementType` names (GS1 Web
/// Vocabulary `gs1:MT-…`), except the four corridor states, which EPCIS carries as a
/// `booleanValue` with a non-GS1 type URI ([`MeasurementType::epcis_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MeasurementType {
    /// Air, surface or battery temperature. Canonical unit: °C (`CEL`).
    Temperature,
    /// Relative humidity. Canonical unit: percent (`P1`), 0–100.
    RelativeHumidity,
    /// Water vapour per volume of air. Canonical unit: g/m³ (`A93`).
    AbsoluteHumidity,
    /// Shock and vibration, one axis or magnitude. Canonical unit: m/s² (`MSK`).
    Acceleration,
    /// Tilt, list, roll. Canonical unit: degree (`DD`), −360–360.
    Angle,
    /// Battery or supply voltage. Canonical unit: volt (`VLT`).
    Voltage,
    /// Absolute pressure. Canonical unit: pascal (`PAL`).
    Pressure,
    /// Speed over ground or through water. Canonical unit: m/s (`MTS`).
    Speed,
    /// Level, distance (bilge level, draught). Canonical unit: metre (`MTR`).
    Length,
    /// A fraction in percent; on this corridor the battery state of charge. Canonical `P1`, 0–100.
    Dimensionless,
    /// Gas concentration (H₂, CO, VOC; the sensor name says which). Canonical unit: ppm (`59`).
    Concentration,
    /// Smoke detected (state: 1 = yes). Unit `C62`.
    Smoke,
    /// Door, boot or hatch open (state: 1 = open). Unit `C62`.
    DoorOpen,
    /// Seal broken or tampered with (state: 1 = broken). Unit `C62`.
    SealBroken,
    /// Water on the deck or in the bilge (state: 1 = wet). Unit `C62`.
    WaterLeak,
}

/// The physical dimension a unit measures; units of the same dimension convert linearly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Temperature,
    Percent,
    One,
    MassConcentration,
    Acceleration,
    Angle,
    Voltage,
    Pressure,
    Speed,
    Length,
    PartsPer,
}

impl MeasurementType {
    pub const ALL: [MeasurementType; 15] = [
        MeasurementType::Temperature,
        MeasurementType::RelativeHumidity,
        MeasurementType::AbsoluteHumidity,
        MeasurementType::Acceleration,
        MeasurementType::Angle,
        MeasurementType::Voltage,
        MeasurementType::Pressure,
        MeasurementType::Speed,
        MeasurementType::Length,
        MeasurementType::Dimensionless,
        MeasurementType::Concentration,
        MeasurementType::Smoke,
        MeasurementType::DoorOpen,
        MeasurementType::SealBroken,
        MeasurementType::WaterLeak,
    ];

    /// The bare name, as in JSON and rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementType::Temperature => "Temperature",
            MeasurementType::RelativeHumidity => "RelativeHumidity",
            MeasurementType::AbsoluteHumidity => "AbsoluteHumidity",
            MeasurementType::Acceleration => "Acceleration",
            MeasurementType::Angle => "Angle",
            MeasurementType::Voltage => "Voltage",
            MeasurementType::Pressure => "Pressure",
            MeasurementType::Speed => "Speed",
            MeasurementType::Length => "Length",
            MeasurementType::Dimensionless => "Dimensionless",
            MeasurementType::Concentration => "Concentration",
            MeasurementType::Smoke => "Smoke",
            MeasurementType::DoorOpen => "DoorOpen",
            MeasurementType::SealBroken => "SealBroken",
            MeasurementType::WaterLeak => "WaterLeak",
        }
    }

    /// Accepts the bare name, the EPCIS JSON-LD forms `gs1:Temperature` / `gs1:MT-Temperature` /
    /// `https://gs1.org/voc/MT-Temperature`, and for the corridor states their URI.
    pub fn parse(s: &str) -> Result<MeasurementType, ReadingError> {
        let gs1 = s
            .strip_prefix("https://gs1.org/voc/")
            .or_else(|| s.strip_prefix("gs1:"))
            .map(|rest| rest.strip_prefix("MT-").unwrap_or(rest));
        let ours = s.strip_prefix(MEASUREMENT_URI_BASE);
        MeasurementType::ALL
            .into_iter()
            .find(|m| match (gs1, ours) {
                // GS1 names only the quantities; the corridor states have our URI.
                (Some(name), _) => !m.is_state() && m.as_str() == name,
                (None, Some(name)) => m.is_state() && m.as_str() == name,
                (None, None) => m.as_str() == s,
            })
            .ok_or_else(|| ReadingError::UnknownMeasurement(truncated(s)))
    }

    /// The EPCIS `sensorReport.type`: `gs1:Temperature`, or a URI for the corridor states.
    pub fn epcis_type(self) -> String {
        if self.is_state() {
            format!("{MEASUREMENT_URI_BASE}{}", self.as_str())
        } else {
            format!("gs1:{}", self.as_str())
        }
    }

    /// Whether this is a yes/no state (value 0 or 1) rather than a quantity.
    pub fn is_state(self) -> bool {
        matches!(
            self,
            MeasurementType::Smoke
                | MeasurementType::DoorOpen
                | MeasurementType::SealBroken
                | MeasurementType::WaterLeak
        )
    }

    fn dimension(self) -> Dimension {
        match self {
            MeasurementType::Temperature => Dimension::Temperature,
            MeasurementType::RelativeHumidity | MeasurementType::Dimensionless => {
                Dimension::Percent
            }
            MeasurementType::AbsoluteHumidity => Dimension::MassConcentration,
            MeasurementType::Acceleration => Dimension::Acceleration,
            MeasurementType::Angle => Dimension::Angle,
            MeasurementType::Voltage => Dimension::Voltage,
            MeasurementType::Pressure => Dimension::Pressure,
            MeasurementType::Speed => Dimension::Speed,
            MeasurementType::Length => Dimension::Length,
            MeasurementType::Concentration => Dimension::PartsPer,
            MeasurementType::Smoke
            | MeasurementType::DoorOpen
            | MeasurementType::SealBroken
            | MeasurementType::WaterLeak => Dimension::One,
        }
    }

    /// The unit a [`Reading`]'s value is held in.
    pub fn canonical_unit(self) -> Unit {
        self.units()[0]
    }

    /// The units accepted for this measurement type; the first is the canonical one.
    pub fn units(self) -> &'static [Unit] {
        use Unit::*;
        match self.dimension() {
            Dimension::Temperature => &[Celsius, Fahrenheit, Kelvin],
            Dimension::Percent => &[Percent],
            Dimension::One => &[One],
            Dimension::MassConcentration => &[GramPerCubicMetre],
            Dimension::Acceleration => &[MetrePerSecondSquared, StandardGravity],
            Dimension::Angle => &[Degree, Radian],
            Dimension::Voltage => &[Volt, Millivolt, Kilovolt],
            Dimension::Pressure => &[Pascal, Hectopascal, Kilopascal, Millibar, Bar],
            Dimension::Speed => &[MetrePerSecond, KilometrePerHour, Knot],
            Dimension::Length => &[Metre, Centimetre, Millimetre, Kilometre],
            Dimension::PartsPer => &[PartsPerMillion, PartsPerBillion],
        }
    }

    /// The physically possible range of a value in the canonical unit (both ends included).
    /// Values outside are sensor faults or corrupt messages and are refused.
    pub fn limits(self) -> (f64, f64) {
        match self {
            // Absolute zero; a fire's hottest gases stay well below 2000 °C.
            MeasurementType::Temperature => (-273.15, 2000.0),
            MeasurementType::RelativeHumidity | MeasurementType::Dimensionless => (0.0, 100.0),
            // Saturated air at 100 °C holds about 600 g/m³.
            MeasurementType::AbsoluteHumidity => (0.0, 600.0),
            // ±5000 g: beyond any shock logger's range.
            MeasurementType::Acceleration => (-49_033.25, 49_033.25),
            MeasurementType::Angle => (-360.0, 360.0),
            // EV packs run at up to about 1000 V.
            MeasurementType::Voltage => (-2000.0, 2000.0),
            // Absolute pressure: vacuum up to 1000 bar.
            MeasurementType::Pressure => (0.0, 1.0e8),
            // Speed is a magnitude; 350 m/s is beyond anything on a river.
            MeasurementType::Speed => (0.0, 350.0),
            MeasurementType::Length => (-1.0e6, 1.0e6),
            MeasurementType::Concentration => (0.0, 1.0e6),
            MeasurementType::Smoke
            | MeasurementType::DoorOpen
            | MeasurementType::SealBroken
            | MeasurementType::WaterLeak => (0.0, 1.0),
        }
    }
}

impl fmt::Display for MeasurementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MeasurementType {
    type Err = ReadingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MeasurementType::parse(s)
    }
}

/// A unit of measure, by its UN/ECE Recommendation 20 common code (the EPCIS `uom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// `CEL` degree Celsius.
    Celsius,
    /// `FAH` degree Fahrenheit.
    Fahrenheit,
    /// `KEL` kelvin.
    Kelvin,
    /// `P1` percent.
    Percent,
    /// `C62` one (a count or a yes/no state).
    One,
    /// `A93` gram per cubic metre.
    GramPerCubicMetre,
    /// `MSK` metre per second squared.
    MetrePerSecondSquared,
    /// `K40` standard acceleration of free fall, g (9.80665 m/s²).
    StandardGravity,
    /// `DD` degree (angle).
    Degree,
    /// `C81` radian.
    Radian,
    /// `VLT` volt.
    Volt,
    /// `2Z` millivolt.
    Millivolt,
    /// `KVT` kilovolt.
    Kilovolt,
    /// `PAL` pascal.
    Pascal,
    /// `A97` hectopascal.
    Hectopascal,
    /// `KPA` kilopascal.
    Kilopascal,
    /// `MBR` millibar.
    Millibar,
    /// `BAR` bar.
    Bar,
    /// `MTS` metre per second.
    MetrePerSecond,
    /// `KMH` kilometre per hour.
    KilometrePerHour,
    /// `KNT` knot.
    Knot,
    /// `MTR` metre.
    Metre,
    /// `CMT` centimetre.
    Centimetre,
    /// `MMT` millimetre.
    Millimetre,
    /// `KMT` kilometre.
    Kilometre,
    /// `59` part per million.
    PartsPerMillion,
    /// `61` part per billion.
    PartsPerBillion,
}

impl Unit {
    pub const ALL: [Unit; 27] = [
        Unit::Celsius,
        Unit::Fahrenheit,
        Unit::Kelvin,
        Unit::Percent,
        Unit::One,
        Unit::GramPerCubicMetre,
        Unit::MetrePerSecondSquared,
        Unit::StandardGravity,
        Unit::Degree,
        Unit::Radian,
        Unit::Volt,
        Unit::Millivolt,
        Unit::Kilovolt,
        Unit::Pascal,
        Unit::Hectopascal,
        Unit::Kilopascal,
        Unit::Millibar,
        Unit::Bar,
        Unit::MetrePerSecond,
        Unit::KilometrePerHour,
        Unit::Knot,
        Unit::Metre,
        Unit::Centimetre,
        Unit::Millimetre,
        Unit::Kilometre,
        Unit::PartsPerMillion,
        Unit::PartsPerBillion,
    ];

    /// The Rec 20 common code.
    pub fn code(self) -> &'static str {
        self.spec().0
    }

    /// A human symbol for messages (`°C`, `%`, `m/s²`).
    pub fn symbol(self) -> &'static str {
        self.spec().1
    }

    /// (code, symbol, factor, offset): canonical = value × factor + offset.
    fn spec(self) -> (&'static str, &'static str, f64, f64) {
        match self {
            Unit::Celsius => ("CEL", "°C", 1.0, 0.0),
            Unit::Fahrenheit => ("FAH", "°F", 5.0 / 9.0, -32.0 * 5.0 / 9.0),
            Unit::Kelvin => ("KEL", "K", 1.0, -273.15),
            Unit::Percent => ("P1", "%", 1.0, 0.0),
            Unit::One => ("C62", "", 1.0, 0.0),
            Unit::GramPerCubicMetre => ("A93", "g/m³", 1.0, 0.0),
            Unit::MetrePerSecondSquared => ("MSK", "m/s²", 1.0, 0.0),
            Unit::StandardGravity => ("K40", "g", 9.80665, 0.0),
            Unit::Degree => ("DD", "°", 1.0, 0.0),
            Unit::Radian => ("C81", "rad", 180.0 / std::f64::consts::PI, 0.0),
            Unit::Volt => ("VLT", "V", 1.0, 0.0),
            Unit::Millivolt => ("2Z", "mV", 1.0e-3, 0.0),
            Unit::Kilovolt => ("KVT", "kV", 1.0e3, 0.0),
            Unit::Pascal => ("PAL", "Pa", 1.0, 0.0),
            Unit::Hectopascal => ("A97", "hPa", 100.0, 0.0),
            Unit::Kilopascal => ("KPA", "kPa", 1.0e3, 0.0),
            Unit::Millibar => ("MBR", "mbar", 100.0, 0.0),
            Unit::Bar => ("BAR", "bar", 1.0e5, 0.0),
            Unit::MetrePerSecond => ("MTS", "m/s", 1.0, 0.0),
            Unit::KilometrePerHour => ("KMH", "km/h", 1.0 / 3.6, 0.0),
            Unit::Knot => ("KNT", "kn", 1852.0 / 3600.0, 0.0),
            Unit::Metre => ("MTR", "m", 1.0, 0.0),
            Unit::Centimetre => ("CMT", "cm", 1.0e-2, 0.0),
            Unit::Millimetre => ("MMT", "mm", 1.0e-3, 0.0),
            Unit::Kilometre => ("KMT", "km", 1.0e3, 0.0),
            Unit::PartsPerMillion => ("59", "ppm", 1.0, 0.0),
            Unit::PartsPerBillion => ("61", "ppb", 1.0e-3, 0.0),
        }
    }

    /// Parses a Rec 20 code; ASCII case is ignored (`cel` is `CEL`).
    pub fn parse(code: &str) -> Result<Unit, ReadingError> {
        Unit::ALL
            .into_iter()
            .find(|u| u.code().eq_ignore_ascii_case(code.trim()))
            .ok_or_else(|| ReadingError::UnknownUnit(truncated(code)))
    }

    /// Whether values in this unit can be a `measurement`.
    pub fn fits(self, measurement: MeasurementType) -> bool {
        measurement.units().contains(&self)
    }

    /// Converts a value in this unit to the canonical unit of its dimension
    /// (exact for canonical units themselves).
    pub fn to_canonical(self, value: f64) -> f64 {
        let (_, _, factor, offset) = self.spec();
        if factor == 1.0 && offset == 0.0 {
            value
        } else {
            value * factor + offset
        }
    }

    /// Converts a difference (a rate, a margin, a hysteresis band) in this unit to the canonical
    /// unit: scaled, never offset (a rise of 9 °F is a rise of 5 °C).
    pub fn difference_to_canonical(self, delta: f64) -> f64 {
        delta * self.spec().2
    }

    /// Converts a canonical value back to this unit (the inverse of [`Unit::to_canonical`]).
    pub fn from_canonical(self, value: f64) -> f64 {
        let (_, _, factor, offset) = self.spec();
        if factor == 1.0 && offset == 0.0 {
            value
        } else {
            (value - offset) / factor
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Unit {
    type Err = ReadingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unit::parse(s)
    }
}

impl Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Unit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Unit::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One validated reading. `value` is in the measurement type's canonical unit; `unit` is the
/// unit the device sent (so `unit.from_canonical(value)` is what it sent, to rounding).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub device: Ident,
    pub sensor: String,
    pub measurement: MeasurementType,
    /// In `measurement.canonical_unit()`; finite and within `measurement.limits()`.
    pub value: f64,
    /// As sent.
    pub unit: Unit,
    pub time: DateTime<Utc>,
    pub position: Option<Position>,
}

impl Reading {
    /// The one constructor: converts `value` from `unit` to the canonical unit and checks
    /// everything that can be checked without a store. `now` is the receiver's clock.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        device: Ident,
        sensor: &str,
        measurement: MeasurementType,
        value: f64,
        unit: Unit,
        time: DateTime<Utc>,
        position: Option<Position>,
        now: DateTime<Utc>,
    ) -> Result<Reading, ReadingError> {
        check_sensor(sensor)?;
        if !unit.fits(measurement) {
            return Err(ReadingError::UnitMismatch { unit, measurement });
        }
        if !value.is_finite() {
            return Err(ReadingError::NotFinite(measurement));
        }
        let (min, max) = measurement.limits();
        let canonical = within_rounding(unit.to_canonical(value), min, max);
        if !canonical.is_finite() || canonical < min || canonical > max {
            return Err(ReadingError::Impossible {
                measurement,
                value,
                unit,
            });
        }
        if measurement.is_state() && canonical != 0.0 && canonical != 1.0 {
            return Err(ReadingError::NotAState { measurement, value });
        }
        check_time(time, now)?;
        if let Some(p) = position
            && !p.is_valid()
        {
            return Err(ReadingError::BadPosition {
                lat: p.lat,
                lon: p.lon,
            });
        }
        Ok(Reading {
            device,
            sensor: sensor.to_string(),
            measurement,
            // `+ 0.0` folds −0 into 0 so equal readings compare and hash the same.
            value: canonical + 0.0,
            unit,
            time,
            position,
        })
    }

    /// The value in the unit it was sent in.
    pub fn value_as_sent(&self) -> f64 {
        self.unit.from_canonical(self.value)
    }

    /// For a state (`DoorOpen`, `Smoke`, …): whether it is set.
    pub fn is_set(&self) -> bool {
        self.value >= 0.5
    }
}

/// A converted value a rounding error beyond a limit is taken as the limit itself
/// (−459.67 °F is exactly absolute zero, whatever the last bit of the conversion says).
fn within_rounding(value: f64, min: f64, max: f64) -> f64 {
    let close = |limit: f64| (value - limit).abs() <= 1e-12 * limit.abs().max(1.0);
    if close(min) {
        min
    } else if close(max) {
        max
    } else {
        value
    }
}

fn check_sensor(sensor: &str) -> Result<(), ReadingError> {
    let len = sensor.chars().count();
    if len == 0 {
        return Err(ReadingError::Sensor("is empty"));
    }
    if len > limits::MAX_SENSOR_LEN {
        return Err(ReadingError::Sensor("is longer than 64 characters"));
    }
    if sensor.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ReadingError::Sensor(
            "contains a space or control character",
        ));
    }
    Ok(())
}

fn check_time(time: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ReadingError> {
    if (time - now).num_seconds() > limits::MAX_FUTURE_SKEW_SECONDS {
        return Err(ReadingError::FromTheFuture { time, now });
    }
    let earliest = Utc
        .with_ymd_and_hms(limits::EARLIEST_YEAR, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if time < earliest {
        return Err(ReadingError::ClockNotSet { time });
    }
    Ok(())
}

/// The value of a reading as sent: a number, or `true`/`false` for a state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum InputValue {
    Number(f64),
    State(bool),
}

/// Read straight from the token: a derived untagged enum first buffers every value to try
/// each variant in turn, which showed up in the ingestion profile (one per reading).
impl<'de> Deserialize<'de> for InputValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<InputValue, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = InputValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, or true/false for a state")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<InputValue, E> {
                Ok(InputValue::State(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<InputValue, E> {
                Ok(InputValue::Number(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<InputValue, E> {
                Ok(InputValue::Number(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<InputValue, E> {
                Ok(InputValue::Number(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

/// A reading as it arrives over HTTP or MQTT (JSON, camelCase, unknown fields refused).
///
/// ```json
/// {"device":"deck3-env-1","sensor":"air","measurement":"Temperature","value":41.5,
///  "unit":"CEL","time":"2025-07-01T07:59:00Z","position":{"lat":30.6,"lon":114.3}}
/// ```
///
/// A state is sent as `{"measurement":"DoorOpen","value":true}` (no unit, or `C62` with 0/1).
/// `measurement` also accepts EPCIS forms (`gs1:Temperature`); `type` is accepted as its alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadingInput {
    /// Empty when left out: an adapter fills in the device its credential authenticated
    /// (an empty device is refused by [`ReadingInput::validate`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device: String,
    pub sensor: String,
    #[serde(alias = "type")]
    pub measurement: String,
    pub value: InputValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl ReadingInput {
    /// The gate: parses names and codes and builds a [`Reading`] via [`Reading::new`].
    pub fn validate(&self, now: DateTime<Utc>) -> Result<Reading, ReadingError> {
        let device = Ident::parse(&self.device).map_err(ReadingError::Device)?;
        let measurement = MeasurementType::parse(&self.measurement)?;
        let (value, unit) = match (self.value, self.unit.as_deref()) {
            (InputValue::State(set), unit) => {
                if !measurement.is_state() {
                    return Err(ReadingError::StateForQuantity(measurement));
                }
                let unit = unit.map(Unit::parse).transpose()?.unwrap_or(Unit::One);
                (if set { 1.0 } else { 0.0 }, unit)
            }
            (InputValue::Number(v), Some(code)) => (v, Unit::parse(code)?),
            (InputValue::Number(v), None) if measurement.is_state() => (v, Unit::One),
            (InputValue::Number(_), None) => return Err(ReadingError::MissingUnit(measurement)),
        };
        Reading::new(
            device,
            &self.sensor,
            measurement,
            value,
            unit,
            self.time,
            self.position,
            now,
        )
    }
}

impl From<&Reading> for ReadingInput {
    /// The wire form of a reading, in the unit it was sent in.
    fn from(r: &Reading) -> ReadingInput {
        let value = if r.measurement.is_state() {
            InputValue::State(r.is_set())
        } else {
            InputValue::Number(r.value_as_sent())
        };
        ReadingInput {
            device: r.device.to_string(),
            sensor: r.sensor.clone(),
            measurement: r.measurement.as_str().to_string(),
            value,
            unit: Some(r.unit.code().to_string()),
            time: r.time,
            position: r.position,
        }
    }
}

/// Why a reading was refused. The message names the field and what would be accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadingError {
    #[error("device: {0}")]
    Device(IdentError),
    #[error("sensor name {0}")]
    Sensor(&'static str),
    #[error(
        "unknown measurement type {0:?}; expected an EPCIS MeasurementType name such as Temperature, RelativeHumidity, Acceleration, Angle or DoorOpen"
    )]
    UnknownMeasurement(String),
    #[error("unknown unit {0:?}; expected a UN/ECE Rec 20 code such as CEL, P1, MSK or DD")]
    UnknownUnit(String),
    #[error("a {0} reading needs a unit (e.g. {unit})", unit = .0.canonical_unit())]
    MissingUnit(MeasurementType),
    #[error("unit {unit} is not a unit of {measurement} (use {canonical})", canonical = measurement.canonical_unit())]
    UnitMismatch {
        unit: Unit,
        measurement: MeasurementType,
    },
    #[error("{0} value is not a finite number")]
    NotFinite(MeasurementType),
    #[error(
        "{measurement} of {value} {unit} is physically impossible: it must lie within {min}..={max} {canonical}",
        min = measurement.limits().0, max = measurement.limits().1, canonical = measurement.canonical_unit()
    )]
    Impossible {
        measurement: MeasurementType,
        value: f64,
        unit: Unit,
    },
    #[error("{measurement} is a state: send true or false (or 1/0 with unit C62), not {value}")]
    NotAState {
        measurement: MeasurementType,
        value: f64,
    },
    #[error("{0} needs a number with a unit, not true/false")]
    StateForQuantity(MeasurementType),
    #[error(
        "reading time {time} is more than {} s ahead of the receiver's clock ({now})",
        limits::MAX_FUTURE_SKEW_SECONDS
    )]
    FromTheFuture {
        time: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error(
        "reading time {time} is before {}-01-01: the device clock is probably not set",
        limits::EARLIEST_YEAR
    )]
    ClockNotSet { time: DateTime<Utc> },
    #[error("position ({lat}, {lon}) is not a WGS-84 latitude/longitude in degrees")]
    BadPosition { lat: f64, lon: f64 },
}

/// Echoes at most 64 characters of unknown input back in an error.
fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

/// What a sensor watches: a vessel, one of its decks or zones, a vehicle, a seal, a facility or
/// a voyage. Written `kind:id` (`deck:minsheng-1/D3`, `vehicle:LRW3E7FS5PC695355`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    kind: SubjectKind,
    id: String,
}

/// The kinds of [`Subject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    Vessel,
    Deck,
    Zone,
    Vehicle,
    Seal,
    Facility,
    Voyage,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 7] = [
        SubjectKind::Vessel,
        SubjectKind::Deck,
        SubjectKind::Zone,
        SubjectKind::Vehicle,
        SubjectKind::Seal,
        SubjectKind::Facility,
        SubjectKind::Voyage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Vessel => "vessel",
            SubjectKind::Deck => "deck",
            SubjectKind::Zone => "zone",
            SubjectKind::Vehicle => "vehicle",
            SubjectKind::Seal => "seal",
            SubjectKind::Facility => "facility",
            SubjectKind::Voyage => "voyage",
        }
    }

    pub fn parse(s: &str) -> Result<SubjectKind, SubjectError> {
        SubjectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| SubjectError::UnknownKind(truncated(s)))
    }
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a [`Subject`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    #[error("subject {0:?} is not written kind:id (e.g. deck:minsheng-1/D3)")]
    NoKind(String),
    #[error(
        "unknown subject kind {0:?}; expected vessel, deck, zone, vehicle, seal, facility or voyage"
    )]
    UnknownKind(String),
    #[error("subject id is empty")]
    EmptyId,
    #[error("subject id is {0} characters long; at most {max} are allowed", max = limits::MAX_SUBJECT_ID_LEN)]
    TooLong(usize),
    #[error("subject id contains a space or control character")]
    BadCharacter,
}

impl Subject {
    pub fn new(kind: SubjectKind, id: &str) -> Result<Subject, SubjectError> {
        let len = id.chars().count();
        if len == 0 {
            return Err(SubjectError::EmptyId);
        }
        if len > limits::MAX_SUBJECT_ID_LEN {
            return Err(SubjectError::TooLong(len));
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SubjectError::BadCharacter);
        }
        Ok(Subject {
            kind,
            id: id.to_string(),
        })
    }

    /// Parses `kind:id`.
    pub fn parse(s: &str) -> Result<Subject, SubjectError> {
        let (kind, id) = s
            .split_once(':')
            .ok_or_else(|| SubjectError::NoKind(truncated(s)))?;
        Subject::new(SubjectKind::parse(kind)?, id)
    }

    pub fn kind(&self) -> SubjectKind {
        self.kind
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

impl std::str::FromStr for Subject {
    type Err = SubjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Subject::parse(s)
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Subject::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        "2025-07-01T08:00:00Z".parse().expect("time")
    }

    fn input(measurement: &str, value: serde_json::Value, unit: Option<&str>) -> ReadingInput {
        let mut json = serde_json::json!({
            "device": "deck3-env-1", "sensor": "s1", "measurement": measurement,
            "value": value, "time": "2025-07-01T07:59:00Z",
        });
        if let Some(u) = unit {
            json["unit"] = u.into();
        }
        serde_json::from_value(json).expect("input parses")
    }

    fn refused(measurement: &str, value: serde_json::Value, unit: Option<&str>) -> String {
        input(measurement, value, unit)
            .validate(now())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn converts_to_canonical_units() {
        let cases = [
            ("Temperature", 32.0, "FAH", 0.0),
            ("Temperature", 300.0, "KEL", 26.85),
            ("Temperature", 41.5, "CEL", 41.5),
            ("Acceleration", 2.0, "K40", 19.6133),
            ("Angle", std::f64::consts::FRAC_PI_2, "C81", 90.0),
            ("Voltage", 3700.0, "2Z", 3.7),
            ("Pressure", 1013.25, "A97", 101_325.0),
            ("Pressure", 1.0, "BAR", 100_000.0),
            ("Speed", 36.0, "KMH", 10.0),
            ("Speed", 10.0, "KNT", 5.144_444),
            ("Length", 250.0, "MMT", 0.25),
            ("Concentration", 5000.0, "61", 5.0),
            ("RelativeHumidity", 85.0, "p1", 85.0),
        ];
        for (m, v, u, want) in cases {
            let r = input(m, v.into(), Some(u)).validate(now()).expect(m);
            assert!((r.value - want).abs() < 1e-5, "{m} {v} {u}: {}", r.value);
            assert_eq!(r.unit.code(), u.to_ascii_uppercase());
            assert!((r.value_as_sent() - v).abs() < 1e-9);
        }
        assert!((Unit::Fahrenheit.difference_to_canonical(9.0) - 5.0).abs() < 1e-12);
        assert_eq!(Unit::Kelvin.difference_to_canonical(2.0), 2.0);
    }

    #[test]
    fn unit_must_fit_the_measurement() {
        assert_eq!(
            refused("RelativeHumidity", 50.into(), Some("FAH")),
            "unit FAH is not a unit of RelativeHumidity (use P1)"
        );
        assert_eq!(
            refused("Temperature", 50.into(), Some("MSK")),
            "unit MSK is not a unit of Temperature (use CEL)"
        );
        assert_eq!(
            refused("Temperature", 50.into(), Some("XYZ")),
            "unknown unit \"XYZ\"; expected a UN/ECE Rec 20 code such as CEL, P1, MSK or DD"
        );
        assert_eq!(
            refused("Temperature", 50.into(), None),
            "a Temperature reading needs a unit (e.g. CEL)"
        );
        assert!(refused("Temprature", 50.into(), Some("CEL")).starts_with("unknown measurement"));
    }

    #[test]
    fn impossible_values_are_refused() {
        assert_eq!(
            refused("Temperature", (-300.0).into(), Some("CEL")),
            "Temperature of -300 CEL is physically impossible: it must lie within -273.15..=2000 CEL"
        );
        // −1 K is below absolute zero even though −1 is a fine number of °C.
        assert!(refused("Temperature", (-1.0).into(), Some("KEL")).contains("impossible"));
        assert!(refused("RelativeHumidity", 100.5.into(), Some("P1")).contains("0..=100"));
        assert!(refused("RelativeHumidity", (-0.1).into(), Some("P1")).contains("impossible"));
        assert!(refused("Dimensionless", 120.into(), Some("P1")).contains("impossible"));
        assert!(refused("Speed", (-1.0).into(), Some("KNT")).contains("impossible"));
        assert_eq!(
            refused("DoorOpen", 0.5.into(), None),
            "DoorOpen is a state: send true or false (or 1/0 with unit C62), not 0.5"
        );
        assert_eq!(
            refused("Temperature", true.into(), Some("CEL")),
            "Temperature needs a number with a unit, not true/false"
        );
        // JSON has no NaN; the typed constructor refuses it.
        let err = Reading::new(
            Ident::parse("d").expect("ident"),
            "s",
            MeasurementType::Temperature,
            f64::NAN,
            Unit::Celsius,
            now(),
            None,
            now(),
        )
        .unwrap_err();
        assert_eq!(err, ReadingError::NotFinite(MeasurementType::Temperature));
        // Finite in kV, infinite in V.
        let err = Reading::new(
            Ident::parse("d").expect("ident"),
            "s",
            MeasurementType::Voltage,
            f64::MAX,
            Unit::Kilovolt,
            now(),
            None,
            now(),
        )
        .unwrap_err();
        assert!(matches!(err, ReadingError::Impossible { .. }));
    }

    #[test]
    fn states_accept_booleans_and_zero_one() {
        let open = input("DoorOpen", true.into(), None)
            .validate(now())
            .expect("door");
        assert!(open.is_set());
        assert_eq!((open.value, open.unit), (1.0, Unit::One));
        let closed = input("DoorOpen", 0.into(), Some("C62"))
            .validate(now())
            .expect("door");
        assert!(!closed.is_set());
        let smoke = input("gs1:Smoke", false.into(), None).validate(now());
        assert!(smoke.is_err(), "Smoke is not a GS1 name");
        let smoke = input(
            "https://jianghai.dev/voc/MeasurementType-Smoke",
            true.into(),
            None,
        )
        .validate(now())
        .expect("smoke by URI");
        assert_eq!(smoke.measurement, MeasurementType::Smoke);
        assert!(refused("SealBroken", true.into(), Some("CEL")).contains("not a unit of"));
    }

    #[test]
    fn epcis_type_names_parse_back() {
        for m in MeasurementType::ALL {
            assert_eq!(MeasurementType::parse(&m.epcis_type()), Ok(m));
            assert_eq!(MeasurementType::parse(m.as_str()), Ok(m));
            assert!(m.canonical_unit().fits(m));
            let (lo, hi) = m.limits();
            assert!(lo < hi);
        }
        assert_eq!(
            MeasurementType::parse("gs1:MT-Temperature"),
            Ok(MeasurementType::Temperature)
        );
        assert_eq!(
            MeasurementType::parse("https://gs1.org/voc/MT-RelativeHumidity"),
            Ok(MeasurementType::RelativeHumidity)
        );
        for u in Unit::ALL {
            assert_eq!(Unit::parse(u.code()), Ok(u));
            assert!(
                MeasurementType::ALL.iter().any(|m| u.fits(*m)),
                "{u} unused"
            );
        }
    }

    #[test]
    fn time_from_the_future_or_an_unset_clock_is_refused() {
        let mut i = input("Temperature", 20.into(), Some("CEL"));
        i.time = now() + chrono::Duration::seconds(300);
        assert!(i.validate(now()).is_ok(), "five minutes of skew is allowed");
        i.time = now() + chrono::Duration::seconds(301);
        assert!(matches!(
            i.validate(now()),
            Err(ReadingError::FromTheFuture { .. })
        ));
        i.time = "1970-01-01T00:00:10Z".parse().expect("time");
        assert_eq!(
            i.validate(now()).unwrap_err().to_string(),
            "reading time 1970-01-01 00:00:10 UTC is before 2000-01-01: the device clock is probably not set"
        );
    }

    #[test]
    fn malformed_json_and_fields_are_refused() {
        let base = r#""device":"d1","sensor":"s","measurement":"Temperature","value":1,"unit":"CEL","time":"2025-07-01T07:59:00Z""#;
        let ok: Result<ReadingInput, _> = serde_json::from_str(&format!("{{{base}}}"));
        assert!(ok.is_ok());
        let extra: Result<ReadingInput, _> =
            serde_json::from_str(&format!("{{{base},\"colour\":\"red\"}}"));
        assert!(
            extra
                .unwrap_err()
                .to_string()
                .contains("unknown field `colour`")
        );
        let with_type = base.replace("\"measurement\"", "\"type\"");
        let aliased: ReadingInput =
            serde_json::from_str(&format!("{{{with_type}}}")).expect("alias");
        assert_eq!(aliased.measurement, "Temperature");
        let bad_time = base.replace("2025-07-01T07:59:00Z", "yesterday");
        assert!(serde_json::from_str::<ReadingInput>(&format!("{{{bad_time}}}")).is_err());

        // Values: integers and decimals are numbers, true/false states, anything else refused.
        let value = |v: &str| {
            serde_json::from_str::<ReadingInput>(&format!(
                "{{{}}}",
                base.replace("\"value\":1", &format!("\"value\":{v}"))
            ))
            .map(|i| i.value)
        };
        assert_eq!(value("-40").ok(), Some(InputValue::Number(-40.0)));
        assert_eq!(
            value("18446744073709551615").ok(),
            Some(InputValue::Number(u64::MAX as f64))
        );
        assert_eq!(value("41.5e0").ok(), Some(InputValue::Number(41.5)));
        assert_eq!(value("true").ok(), Some(InputValue::State(true)));
        for bad in ["\"41.5\"", "null", "[1]", "{}"] {
            let e = value(bad).unwrap_err().to_string();
            assert!(e.contains("expected a number, or true/false"), "{bad}: {e}");
        }
        // Left out, the device is empty (the adapter's to fill in) and refused as it stands.
        let anonymous: ReadingInput =
            serde_json::from_str(&format!("{{{}}}", base.replace("\"device\":\"d1\",", "")))
                .expect("no device");
        assert_eq!(anonymous.device, "");
        assert!(anonymous.validate(now()).is_err());
        assert!(
            !serde_json::to_string(&anonymous)
                .expect("json")
                .contains("device")
        );

        let mut i = input("Temperature", 20.into(), Some("CEL"));
        i.device = "Deck 3".into();
        assert!(
            i.validate(now())
                .unwrap_err()
                .to_string()
                .starts_with("device: ")
        );
        i.device = "d1".into();
        i.sensor = "air temp".into();
        assert_eq!(
            i.validate(now()).unwrap_err().to_string(),
            "sensor name contains a space or control character"
        );
        i.sensor = "s".repeat(65);
        assert!(i.validate(now()).is_err());
        i.sensor = "air".into();
        i.position = Some(Position {
            lat: 91.0,
            lon: 0.0,
        });
        assert!(matches!(
            i.validate(now()),
            Err(ReadingError::BadPosition { .. })
        ));
    }

    #[test]
    fn subjects_parse_and_display_as_kind_colon_id() {
        let s = Subject::parse("deck:minsheng-1/D3").expect("subject");
        assert_eq!((s.kind(), s.id()), (SubjectKind::Deck, "minsheng-1/D3"));
        assert_eq!(s.to_string(), "deck:minsheng-1/D3");
        let json = serde_json::to_string(&s).expect("json");
        assert_eq!(json, "\"deck:minsheng-1/D3\"");
        assert_eq!(serde_json::from_str::<Subject>(&json).expect("back"), s);
        assert_eq!(
            Subject::parse("minsheng-1").unwrap_err().to_string(),
            "subject \"minsheng-1\" is not written kind:id (e.g. deck:minsheng-1/D3)"
        );
        assert!(matches!(
            Subject::parse("ship:x"),
            Err(SubjectError::UnknownKind(_))
        ));
        assert_eq!(Subject::parse("seal:"), Err(SubjectError::EmptyId));
        assert_eq!(Subject::parse("seal:a b"), Err(SubjectError::BadCharacter));
        assert!(Subject::parse(&format!("zone:{}", "z".repeat(129))).is_err());
    }

    fn any_measurement() -> impl Strategy<Value = MeasurementType> {
        proptest::sample::select(MeasurementType::ALL.to_vec())
    }

    proptest! {
        /// Any canonical value sent in any accepted unit comes back to itself.
        #[test]
        fn conversions_round_trip(m in any_measurement(), unit_pick in 0usize..8, t in 0.0f64..=1.0) {
            let units = m.units();
            let unit = units[unit_pick % units.len()];
            let (lo, hi) = m.limits();
            let canonical = if m.is_state() { t.round() } else { lo + (hi - lo) * t };
            let sent = unit.from_canonical(canonical);
            let back = unit.to_canonical(sent);
            prop_assert!((back - canonical).abs() <= 1e-9 * canonical.abs().max(1.0),
                "{m} {unit}: {canonical} -> {sent} -> {back}");
        }

        /// Whatever is accepted is finite, in its canonical unit's limits, and survives the
        /// wire form: reading -> input -> reading gives the same reading (to rounding).
        #[test]
        fn accepted_readings_are_finite_and_possible(
            m in any_measurement(),
            unit in proptest::sample::select(Unit::ALL.to_vec()),
            value in prop_oneof![any::<f64>(), -1.0e5f64..1.0e5, Just(0.0), Just(1.0)],
            skew in -100_000i64..1_000,
        ) {
            let time = now() + chrono::Duration::seconds(skew);
            let device = Ident::parse("dev-1").expect("ident");
            if let Ok(r) = Reading::new(device, "s", m, value, unit, time, None, now()) {
                let (lo, hi) = m.limits();
                prop_assert!(r.value.is_finite() && r.value >= lo && r.value <= hi);
                prop_assert!(unit.fits(m));
                prop_assert!(skew <= limits::MAX_FUTURE_SKEW_SECONDS);
                let again = ReadingInput::from(&r).validate(now());
                let again = again.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!((again.value - r.value).abs() <= 1e-9 * r.value.abs().max(1.0));
                prop_assert_eq!(again.unit, r.unit);
                prop_assert_eq!(again.time, r.time);
            }
        }
    }
}
