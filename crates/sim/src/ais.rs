//! AIS of a ship sailing the waterway, as the NMEA sentences a shore receiver would log.
//!
//! A [`Script`] is a list of [`Leg`]s from a start km and time (sail, stop, detour off the
//! centre line, sail with the transponder silent); [`Script::render`] walks it along the
//! waterway's centre line and encodes a position report (type 1) every `every` of sailing, and a
//! static and voyage report (type 5) at the start and every six hours, each sentence with an NMEA
//! 4 tag block whose `c:` field is the time of the report. [`river_voyage`] is the demo's
//! Guoyuan → Shanghai voyage, with one lock wait, one detour off the corridor and one AIS gap.

use chrono::{DateTime, Duration, Utc};
use jianghai_ais::message::{Dimensions, Eta, NavigationStatus, PositionReport, StaticVoyageData};
use jianghai_ais::nmea::{WriteOptions, checksum};
use jianghai_ais::{AisText, Message};
use jianghai_waterway::{Datum, DatumKm, Waterway};

/// Kilometres per hour in one knot.
const KMH_PER_KN: f64 = 1.852;

/// One stretch of a scripted voyage.
#[derive(Debug, Clone, PartialEq)]
pub enum Leg {
    /// Sail along the centre line to `to_km` (unified km) at `kn` knots over ground.
    Sail { to_km: f64, kn: f64 },
    /// Lie still for `hours`, reporting `status` (at anchor, moored…).
    Stop {
        hours: f64,
        status: NavigationStatus,
    },
    /// Sail to `to_km` at `kn`, swinging out to `offset_m` from the centre line (positive
    /// towards the right bank) over the middle half of the leg and back.
    Detour { to_km: f64, kn: f64, offset_m: f64 },
    /// Sail to `to_km` at `kn` with the transponder silent: no report on this leg.
    Silent { to_km: f64, kn: f64 },
}

/// A scripted voyage of one ship.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub mmsi: u32,
    pub name: String,
    pub callsign: String,
    pub destination: String,
    pub start: DateTime<Utc>,
    /// Unified km where the ship starts.
    pub from_km: f64,
    /// A report this often while sailing or stopped.
    pub every: Duration,
    pub legs: Vec<Leg>,
}

/// One logged sentence and the time it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct AisLine {
    pub at: DateTime<Utc>,
    pub line: String,
}

/// Why a script cannot be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    #[error("leg {leg}: km {km} is not on the waterway's centre line")]
    OffTheLine { leg: usize, km: f64 },
    #[error("leg {leg}: speed {kn} kn is not a positive number")]
    BadSpeed { leg: usize, kn: f64 },
    #[error("leg {leg}: {hours} h is not a non-negative number")]
    BadDuration { leg: usize, hours: f64 },
    #[error("cannot encode a report: {0}")]
    Encode(#[from] jianghai_ais::EncodeError),
}

fn text(s: &str) -> AisText {
    let clean: String = s
        .to_ascii_uppercase()
        .chars()
        .filter(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == ' ' || *c == '-')
        .take(20)
        .collect();
    AisText::new(&clean).unwrap_or_default()
}

/// `line` with an NMEA 4 tag block carrying `c:` (unix seconds of `at`).
fn tagged(line: &str, at: DateTime<Utc>) -> String {
    let body = format!("c:{}", at.timestamp());
    format!("\\{body}*{:02X}\\{line}", checksum(body.as_bytes()))
}

fn hours(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 3_600_000.0
}

fn from_hours(h: f64) -> Duration {
    Duration::milliseconds((h * 3_600_000.0).round() as i64)
}

struct Walker<'a> {
    script: &'a Script,
    waterway: &'a Waterway,
    out: Vec<AisLine>,
    at: DateTime<Utc>,
    km: f64,
    next_static: DateTime<Utc>,
    sequence: u8,
}

impl Walker<'_> {
    fn emit(&mut self, m: &Message, at: DateTime<Utc>) -> Result<(), ScriptError> {
        // Tag blocks carry whole seconds.
        let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        let opts = WriteOptions {
            sequence_id: self.sequence,
            ..WriteOptions::default()
        };
        let lines = jianghai_ais::encode(m, &opts)?;
        if lines.len() > 1 {
            self.sequence = (self.sequence + 1) % 10;
        }
        for l in lines {
            self.out.push(AisLine {
                at,
                line: tagged(&l, at),
            });
        }
        Ok(())
    }

    fn statics(&mut self, at: DateTime<Utc>) -> Result<(), ScriptError> {
        if at < self.next_static {
            return Ok(());
        }
        self.next_static = at + Duration::hours(6);
        let s = self.script;
        let m = Message::StaticVoyage(StaticVoyageData {
            repeat: 0,
            mmsi: s.mmsi,
            ais_version: 0,
            imo: None,
            callsign: text(&s.callsign),
            shipname: text(&s.name),
            ship_type: Some(70),
            dimensions: Dimensions {
                to_bow: 80,
                to_stern: 30,
                to_port: 9,
                to_starboard: 10,
            },
            epfd: 1,
            eta: Eta::default(),
            draught: Some(3.5),
            destination: text(&s.destination),
            dte: false,
        });
        self.emit(&m, at)
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        leg: usize,
        at: DateTime<Utc>,
        km: f64,
        offset_m: f64,
        kn: f64,
        status: NavigationStatus,
    ) -> Result<(), ScriptError> {
        self.statics(at)?;
        let line = self.waterway.centreline();
        let p = line
            .position_at(km)
            .ok_or(ScriptError::OffTheLine { leg, km })?;
        // Heading downstream or up: the bearing to a point 500 m on.
        let ahead = line
            .position_at(km - 0.5)
            .or_else(|| line.position_at(km + 0.5).map(|q| mirror(p, q)))
            .unwrap_or(p);
        let (east, north) = local_m(p, ahead);
        let len = (east * east + north * north).sqrt().max(1e-9);
        let (ue, un) = (east / len, north / len);
        // Right bank, facing downstream, is the clockwise perpendicular.
        let (re, rn) = (un, -ue);
        let (lon, lat) = offset(p, re * offset_m, rn * offset_m);
        let course = (ue.atan2(un).to_degrees() + 360.0) % 360.0;
        let m = Message::Position(PositionReport {
            msg_type: 1,
            repeat: 0,
            mmsi: self.script.mmsi,
            status,
            turn: Some(0),
            speed: Some((kn * 10.0).round() / 10.0),
            accuracy: true,
            lon: Some(lon),
            lat: Some(lat),
            course: Some((course * 10.0).round() / 10.0 % 360.0),
            heading: Some(course.round() as u16 % 360),
            second: Some(u8::try_from(at.timestamp().rem_euclid(60)).unwrap_or(0)),
            maneuver: None,
            raim: false,
            radio: 0,
        });
        self.emit(&m, at)
    }

    fn sail(
        &mut self,
        leg: usize,
        to_km: f64,
        kn: f64,
        detour_m: f64,
        silent: bool,
    ) -> Result<(), ScriptError> {
        if !(kn.is_finite() && kn > 0.0) {
            return Err(ScriptError::BadSpeed { leg, kn });
        }
        let from = self.km;
        let dist = (to_km - from).abs();
        let h = dist / (kn * KMH_PER_KN);
        let start = self.at;
        let step = hours(self.script.every);
        let mut t = step;
        while t < h {
            let f = t / h;
            let km = from + (to_km - from) * f;
            // Out over the first quarter, away over the middle half, back over the last quarter.
            let swing = (f / 0.25).min(1.0).min((1.0 - f) / 0.25);
            if !silent {
                self.report(
                    leg,
                    start + from_hours(t),
                    km,
                    detour_m * swing,
                    kn,
                    NavigationStatus::UnderWayUsingEngine,
                )?;
            }
            t += step;
        }
        self.at = start + from_hours(h);
        self.km = to_km;
        Ok(())
    }

    fn stop(&mut self, leg: usize, h: f64, status: NavigationStatus) -> Result<(), ScriptError> {
        if !(h.is_finite() && h >= 0.0) {
            return Err(ScriptError::BadDuration { leg, hours: h });
        }
        let start = self.at;
        let step = hours(self.script.every);
        let mut t = 0.0;
        while t <= h {
            self.report(leg, start + from_hours(t), self.km, 0.0, 0.0, status)?;
            t += step;
        }
        self.at = start + from_hours(h);
        Ok(())
    }
}

/// Metres east and north from `a` to `b` (local flat approximation).
fn local_m(a: jianghai_waterway::Position, b: jianghai_waterway::Position) -> (f64, f64) {
    let k = 111_320.0;
    (
        (b.lon - a.lon) * k * a.lat.to_radians().cos(),
        (b.lat - a.lat) * k,
    )
}

fn mirror(
    p: jianghai_waterway::Position,
    q: jianghai_waterway::Position,
) -> jianghai_waterway::Position {
    jianghai_waterway::Position::new(2.0 * p.lon - q.lon, 2.0 * p.lat - q.lat)
}

/// `p` moved `east_m` east and `north_m` north; (lon, lat).
fn offset(p: jianghai_waterway::Position, east_m: f64, north_m: f64) -> (f64, f64) {
    let k = 111_320.0;
    (
        p.lon + east_m / (k * p.lat.to_radians().cos()),
        p.lat + north_m / k,
    )
}

impl Script {
    /// The sentences of the voyage in time order.
    pub fn render(&self, waterway: &Waterway) -> Result<Vec<AisLine>, ScriptError> {
        let mut w = Walker {
            script: self,
            waterway,
            out: Vec::new(),
            at: self.start,
            km: self.from_km,
            next_static: self.start,
            sequence: 0,
        };
        for (i, leg) in self.legs.iter().enumerate() {
            match *leg {
                Leg::Sail { to_km, kn } => w.sail(i, to_km, kn, 0.0, false)?,
                Leg::Detour {
                    to_km,
                    kn,
                    offset_m,
                } => w.sail(i, to_km, kn, offset_m, false)?,
                Leg::Silent { to_km, kn } => w.sail(i, to_km, kn, 0.0, true)?,
                Leg::Stop { hours, status } => w.stop(i, hours, status)?,
            }
        }
        Ok(w.out)
    }

    /// When the last leg ends.
    pub fn end(&self) -> DateTime<Utc> {
        let mut at = self.start;
        let mut km = self.from_km;
        for leg in &self.legs {
            match *leg {
                Leg::Sail { to_km, kn }
                | Leg::Detour { to_km, kn, .. }
                | Leg::Silent { to_km, kn } => {
                    at += from_hours((to_km - km).abs() / (kn * KMH_PER_KN));
                    km = to_km;
                }
                Leg::Stop { hours, .. } => at += from_hours(hours),
            }
        }
        at
    }
}

/// What the demo voyage does on the way, for printing and checking.
#[derive(Debug, Clone, PartialEq)]
pub struct RiverVoyage {
    pub script: Script,
    /// Hours waiting above the Three Gorges locks.
    pub lock_wait_h: f64,
    /// Unified km where the detour off the corridor starts and ends, and how far off it goes.
    pub detour_km: (f64, f64),
    pub detour_offset_m: f64,
    /// Unified km where the transponder falls silent and comes back.
    pub gap_km: (f64, f64),
}

/// The demo's river voyage from `from_km` (the Guoyuan berth) to `to_km` (Waigaoqiao Haitong),
/// leaving at `depart` and berthed an hour before `arrive`: a wait of five hours above the
/// Three Gorges locks, the locks and Gezhouba at lock speed, a detour three kilometres off the
/// corridor below Chenglingji, and two hours without AIS below Wuhan. The cruising speed is
/// what makes the times fit.
pub fn river_voyage(
    mmsi: u32,
    name: &str,
    waterway: &Waterway,
    from_km: f64,
    to_km: f64,
    depart: DateTime<Utc>,
    arrive: DateTime<Utc>,
) -> RiverVoyage {
    let d = waterway.centreline().datums();
    let u = |km: f64| d.to_unified(DatumKm::new(Datum::Upper, km));
    let m = |km: f64| d.to_unified(DatumKm::new(Datum::Middle, km));
    let l = |km: f64| d.to_unified(DatumKm::new(Datum::Lower, km));
    let lock_wait_h = 5.0;
    let lock_kn = 1.2;
    // Fixed-time parts: the wait, the two lock areas at lock speed (the approaches are part of
    // them), an hour berthed at the end.
    let three_gorges = (u(60.0), u(48.1), u(41.9));
    let gezhouba = (u(7.4), u(4.6));
    let lock_h =
        ((three_gorges.1 - three_gorges.2) + (gezhouba.0 - gezhouba.1)) / (lock_kn * KMH_PER_KN);
    let fixed_h = lock_wait_h + lock_h + 1.0;
    let sail_km =
        (from_km - to_km).abs() - (three_gorges.1 - three_gorges.2) - (gezhouba.0 - gezhouba.1);
    let available_h = hours(arrive - depart) - fixed_h;
    let kn = (sail_km / available_h.max(1.0) / KMH_PER_KN).clamp(4.0, 20.0);
    let detour_km = (m(225.0), m(205.0));
    let detour_offset_m = 3_000.0;
    let gap_km = (l(1_030.0), l(995.0));
    let legs = vec![
        Leg::Sail {
            to_km: three_gorges.0,
            kn,
        },
        Leg::Stop {
            hours: lock_wait_h,
            status: NavigationStatus::AtAnchor,
        },
        Leg::Sail {
            to_km: three_gorges.1,
            kn,
        },
        Leg::Sail {
            to_km: three_gorges.2,
            kn: lock_kn,
        },
        Leg::Sail {
            to_km: gezhouba.0,
            kn,
        },
        Leg::Sail {
            to_km: gezhouba.1,
            kn: lock_kn,
        },
        Leg::Sail {
            to_km: detour_km.0,
            kn,
        },
        Leg::Detour {
            to_km: detour_km.1,
            kn,
            offset_m: detour_offset_m,
        },
        Leg::Sail {
            to_km: gap_km.0,
            kn,
        },
        Leg::Silent {
            to_km: gap_km.1,
            kn,
        },
        Leg::Sail { to_km, kn },
        Leg::Stop {
            hours: 1.0,
            status: NavigationStatus::Moored,
        },
    ];
    RiverVoyage {
        script: Script {
            mmsi,
            name: name.to_string(),
            callsign: "BOXM8".into(),
            destination: "SHANGHAI".into(),
            start: depart,
            from_km,
            every: Duration::minutes(10),
            legs,
        },
        lock_wait_h,
        detour_km,
        detour_offset_m,
        gap_km,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jianghai_ais::Decoder;
    use jianghai_waterway::Datums;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-07-02T04:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_script_renders_decodable_tagged_sentences_on_the_line() {
        let w = Waterway::yangtze(Datums::default()).expect("waterway");
        let s = Script {
            mmsi: 413_801_008,
            name: "Minsheng Ro-Ro 8".into(),
            callsign: "BOXM8".into(),
            destination: "SHANGHAI".into(),
            start: t0(),
            from_km: 1_500.0,
            every: Duration::minutes(5),
            legs: vec![
                Leg::Sail {
                    to_km: 1_490.0,
                    kn: 10.0,
                },
                Leg::Detour {
                    to_km: 1_470.0,
                    kn: 10.0,
                    offset_m: 3_000.0,
                },
                Leg::Silent {
                    to_km: 1_450.0,
                    kn: 10.0,
                },
                Leg::Stop {
                    hours: 0.5,
                    status: NavigationStatus::AtAnchor,
                },
            ],
        };
        let lines = s.render(&w).expect("render");
        let mut d = Decoder::default();
        let mut max_off: f64 = 0.0;
        let mut last = None;
        let mut statics = 0;
        for l in &lines {
            let Some(m) = d
                .handle_line(&l.line, std::time::Duration::ZERO)
                .expect("decodes")
            else {
                continue;
            };
            assert_eq!(m.unix_time, Some(l.at.timestamp()));
            match m.message {
                Message::Position(p) => {
                    let pr = w
                        .project(jianghai_waterway::Position::new(
                            p.lon.expect("lon"),
                            p.lat.expect("lat"),
                        ))
                        .expect("projects");
                    // Silent between 1,470 and 1,450: no report in there.
                    assert!(!(1_450.5..1_469.5).contains(&pr.km), "{}", pr.km);
                    max_off = max_off.max(pr.offset_m);
                    if let Some(prev) = last {
                        assert!(l.at > prev);
                    }
                    last = Some(l.at);
                }
                Message::StaticVoyage(v) => {
                    statics += 1;
                    assert_eq!(v.shipname.as_str(), "MINSHENG RO-RO 8");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(statics, 1);
        // The detour reaches three kilometres towards the right bank (the line is good to a
        // few hundred metres here, and the swing is sampled).
        assert!((2_500.0..3_300.0).contains(&max_off), "{max_off}");
        // 10 km + 20 km + 20 km at 10 kn, then half an hour.
        let h = hours(s.end() - t0());
        assert!((h - (50.0 / 18.52 + 0.5)).abs() < 0.01, "{h}");
    }

    #[test]
    fn bad_scripts_are_refused() {
        let w = Waterway::yangtze(Datums::default()).expect("waterway");
        let mut s = river_voyage(1, "X", &w, 2_296.0, -7.0, t0(), t0() + Duration::days(5)).script;
        s.legs = vec![Leg::Sail {
            to_km: 9_000.0,
            kn: 10.0,
        }];
        assert!(matches!(s.render(&w), Err(ScriptError::OffTheLine { .. })));
        s.legs = vec![Leg::Sail {
            to_km: 2_000.0,
            kn: 0.0,
        }];
        assert!(matches!(s.render(&w), Err(ScriptError::BadSpeed { .. })));
        s.legs = vec![Leg::Stop {
            hours: f64::NAN,
            status: NavigationStatus::Moored,
        }];
        assert!(matches!(s.render(&w), Err(ScriptError::BadDuration { .. })));
    }

    #[test]
    fn the_demo_voyage_fits_its_schedule() {
        let w = Waterway::yangtze(Datums::default()).expect("waterway");
        let depart = t0();
        let arrive = depart + Duration::hours(132);
        let v = river_voyage(
            413_801_008,
            "Minsheng Ro-Ro 8",
            &w,
            2_296.0,
            -7.0,
            depart,
            arrive,
        );
        let end = v.script.end();
        assert!(
            (hours(arrive - end) - 0.0).abs() < 0.05,
            "ends {end}, arrival {arrive}"
        );
        let lines = v.script.render(&w).expect("render");
        assert!((700..1_200).contains(&lines.len()), "{}", lines.len());
        assert!(lines.windows(2).all(|p| p[0].at <= p[1].at));
    }
}
