//! gpsd's JSON-AIS rendering: the object `gpsdecode -j` prints for each
//! message, with gpsd's member names, member order and scaling
//! (`"scaled":true`), so tools written for gpsd read Jianghai's output.
//!
//! gpsd prints "not available" values as their sentinels (heading 511,
//! lon 181…), so `None` fields are written back as those; `turn` and the
//! Class A `speed` use gpsd's strings (`"nan"`, `"fastleft"`, `"fast"`).
//! Following gpsd 3.22, the Class A `turn` is printed as `(ROT/4.733)²`
//! without its sign; use [`PositionReport::turn_deg_per_min`] for the
//! signed rate.
//!
//! [`decode_lines`] is the pure core of `jianghai ais decode`: lines in, one
//! JSON object or one [`LineError`] (line number and reason) per message.
//!
//! [`PositionReport::turn_deg_per_min`]: crate::message::PositionReport::turn_deg_per_min

use std::fmt::Write as _;
use std::time::Duration;

use crate::bits::Payload;
use crate::decoder::{Decoder, DecoderError};
use crate::message::{
    AidToNavigationReport, BaseStationReport, ClassBPositionReport, Craft, Dimensions,
    ExtendedClassBReport, LongRangeReport, Message, NavigationStatus, PositionReport,
    StaticDataReport, StaticVoyageData,
};

/// Render one message as a gpsd JSON-AIS object (no trailing newline).
/// `device` becomes the `"device"` member when given (gpsdecode says
/// `"stdin"`).
pub fn to_json(message: &Message, device: Option<&str>) -> String {
    let mut out = String::with_capacity(384);
    write_json(&mut out, message, device);
    out
}

/// Append one message as a gpsd JSON-AIS object to `out`.
pub fn write_json(out: &mut String, message: &Message, device: Option<&str>) {
    let mut o = Obj::new(out);
    o.raw("class", "\"AIS\"");
    if let Some(d) = device.filter(|d| !d.is_empty()) {
        o.str("device", d);
    }
    o.num("type", message.msg_type());
    o.num("repeat", message.repeat());
    o.num("mmsi", message.mmsi());
    o.raw("scaled", "true");
    match message {
        Message::Position(m) => position(&mut o, m),
        Message::BaseStation(m) => base_station(&mut o, m),
        Message::StaticVoyage(m) => static_voyage(&mut o, m),
        Message::ClassBPosition(m) => class_b(&mut o, m),
        Message::ExtendedClassB(m) => extended_class_b(&mut o, m),
        Message::AidToNavigation(m) => aid_to_navigation(&mut o, m),
        Message::StaticData(m) => static_data(&mut o, m),
        Message::LongRange(m) => long_range(&mut o, m),
    }
    o.close();
}

/// A line that produced no message: its 1-based number and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line_no}: {error}")]
pub struct LineError {
    /// 1-based line number in the input.
    pub line_no: usize,
    /// The reason.
    pub error: DecoderError,
}

/// Decode lines to gpsd JSON objects, one item per decoded message or bad
/// line. Empty lines and `#` comments are skipped; lines that complete no
/// message yet (first fragments, type 24 part A) yield nothing.
///
/// Fragment groups are bounded by count (no clock is read; all lines are
/// taken as received at the same instant).
///
/// ```
/// use jianghai_ais::gpsd::decode_lines;
///
/// let input = "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\n\
///              !AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B\n";
/// let out: Vec<_> = decode_lines(input.lines()).device("stdin").collect();
/// assert_eq!(
///     out[0].as_deref().unwrap(),
///     "{\"class\":\"AIS\",\"device\":\"stdin\",\"type\":1,\"repeat\":0,\"mmsi\":371798000,\
///      \"scaled\":true,\"status\":0,\"status_text\":\"Under way using engine\",\
///      \"turn\":\"fastleft\",\"speed\":12.3,\"accuracy\":true,\"lon\":-123.395383,\
///      \"lat\":48.381633,\"course\":224.0,\"heading\":215,\"second\":33,\"maneuver\":0,\
///      \"raim\":false,\"radio\":34017}"
/// );
/// let err = out[1].as_ref().unwrap_err();
/// assert_eq!(err.line_no, 2);
/// assert_eq!(err.to_string(), "line 2: checksum mismatch: sentence says 4B, body XORs to 4A");
/// ```
pub fn decode_lines<'a, I>(lines: I) -> DecodeLines<'a, I::IntoIter>
where
    I: IntoIterator<Item = &'a str>,
{
    DecodeLines {
        lines: lines.into_iter(),
        line_no: 0,
        decoder: Decoder::default(),
        device: None,
    }
}

/// Iterator returned by [`decode_lines`].
#[derive(Debug)]
pub struct DecodeLines<'a, I> {
    lines: I,
    line_no: usize,
    decoder: Decoder,
    device: Option<&'a str>,
}

impl<'a, I> DecodeLines<'a, I> {
    /// Set the `"device"` member of every object.
    pub fn device(mut self, device: &'a str) -> Self {
        self.device = Some(device);
        self
    }
}

impl<'a, I: Iterator<Item = &'a str>> Iterator for DecodeLines<'a, I> {
    type Item = Result<String, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = self.lines.next()?;
            self.line_no += 1;
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match self.decoder.handle_line(trimmed, Duration::ZERO) {
                Ok(Some(d)) => return Some(Ok(to_json(&d.message, self.device))),
                Ok(None) => continue,
                Err(error) => {
                    return Some(Err(LineError {
                        line_no: self.line_no,
                        error,
                    }));
                }
            }
        }
    }
}

/// A JSON object under construction, members in insertion order.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }

    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push_str(v);
    }

    fn num(&mut self, k: &str, v: impl Into<u64>) {
        self.key(k);
        let _ = write!(self.out, "{}", v.into());
    }

    fn fixed(&mut self, k: &str, v: f64, decimals: usize) {
        self.key(k);
        let _ = write!(self.out, "{v:.decimals$}");
    }

    fn bool(&mut self, k: &str, v: bool) {
        self.raw(k, if v { "true" } else { "false" });
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push('"');
        for c in v.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn close(self) {
        self.out.push('}');
    }
}

fn lon_or_na(v: Option<f64>) -> f64 {
    v.unwrap_or(181.0)
}

fn lat_or_na(v: Option<f64>) -> f64 {
    v.unwrap_or(91.0)
}

fn dimensions(o: &mut Obj<'_>, d: &Dimensions) {
    o.num("to_bow", d.to_bow);
    o.num("to_stern", d.to_stern);
    o.num("to_port", d.to_port);
    o.num("to_starboard", d.to_starboard);
}

fn epfd(o: &mut Obj<'_>, v: u8) {
    o.num("epfd", v);
    o.str("epfd_text", epfd_text(v));
}

fn ship_type(o: &mut Obj<'_>, v: Option<u8>) {
    let v = v.unwrap_or(0);
    o.num("shiptype", v);
    o.str("shiptype_text", &ship_type_text(v));
}

fn position(o: &mut Obj<'_>, m: &PositionReport) {
    o.num("status", m.status.raw());
    o.str("status_text", nav_status_text(m.status));
    match m.turn {
        None => o.raw("turn", "\"nan\""),
        Some(-127) => o.raw("turn", "\"fastleft\""),
        Some(127) => o.raw("turn", "\"fastright\""),
        Some(t) => {
            let r = f64::from(t) / 4.733;
            o.fixed("turn", r * r, 0);
        }
    }
    match m.speed {
        None => o.raw("speed", "\"nan\""),
        Some(s) if (s * 10.0).round() == 1022.0 => o.raw("speed", "\"fast\""),
        Some(s) => o.fixed("speed", s, 1),
    }
    o.bool("accuracy", m.accuracy);
    o.fixed("lon", lon_or_na(m.lon), 6);
    o.fixed("lat", lat_or_na(m.lat), 6);
    o.fixed("course", m.course.unwrap_or(360.0), 1);
    o.num("heading", m.heading.unwrap_or(511));
    o.num("second", m.second.unwrap_or(60));
    o.num("maneuver", m.maneuver.unwrap_or(0));
    o.bool("raim", m.raim);
    o.num("radio", m.radio);
}

fn base_station(o: &mut Obj<'_>, m: &BaseStationReport) {
    o.str(
        "timestamp",
        &format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            m.year.unwrap_or(0),
            m.month.unwrap_or(0),
            m.day.unwrap_or(0),
            m.hour.unwrap_or(24),
            m.minute.unwrap_or(60),
            m.second.unwrap_or(60)
        ),
    );
    o.bool("accuracy", m.accuracy);
    o.fixed("lon", lon_or_na(m.lon), 6);
    o.fixed("lat", lat_or_na(m.lat), 6);
    epfd(o, m.epfd);
    o.bool("raim", m.raim);
    o.num("radio", m.radio);
}

fn static_voyage(o: &mut Obj<'_>, m: &StaticVoyageData) {
    o.num("imo", m.imo.unwrap_or(0));
    o.num("ais_version", m.ais_version);
    o.str("callsign", &m.callsign);
    o.str("shipname", &m.shipname);
    ship_type(o, m.ship_type);
    dimensions(o, &m.dimensions);
    epfd(o, m.epfd);
    o.str(
        "eta",
        &format!(
            "{:02}-{:02}T{:02}:{:02}Z",
            m.eta.month.unwrap_or(0),
            m.eta.day.unwrap_or(0),
            m.eta.hour.unwrap_or(24),
            m.eta.minute.unwrap_or(60)
        ),
    );
    o.fixed("draught", m.draught.unwrap_or(0.0), 1);
    o.str("destination", &m.destination);
    o.num("dte", u8::from(m.dte));
}

#[allow(clippy::too_many_arguments)]
fn class_b_common(
    o: &mut Obj<'_>,
    reserved: u8,
    speed: Option<f64>,
    accuracy: bool,
    lon: Option<f64>,
    lat: Option<f64>,
    course: Option<f64>,
    heading: Option<u16>,
    second: Option<u8>,
    regional: u8,
) {
    o.num("reserved", reserved);
    o.fixed("speed", speed.unwrap_or(102.3), 1);
    o.bool("accuracy", accuracy);
    o.fixed("lon", lon_or_na(lon), 6);
    o.fixed("lat", lat_or_na(lat), 6);
    o.fixed("course", course.unwrap_or(360.0), 1);
    o.num("heading", heading.unwrap_or(511));
    o.num("second", second.unwrap_or(60));
    o.num("regional", regional);
}

fn class_b(o: &mut Obj<'_>, m: &ClassBPositionReport) {
    class_b_common(
        o, m.reserved, m.speed, m.accuracy, m.lon, m.lat, m.course, m.heading, m.second, m.regional,
    );
    o.bool("cs", m.cs);
    o.bool("display", m.display);
    o.bool("dsc", m.dsc);
    o.bool("band", m.band);
    o.bool("msg22", m.msg22);
    o.bool("raim", m.raim);
    o.num("radio", m.radio);
}

fn extended_class_b(o: &mut Obj<'_>, m: &ExtendedClassBReport) {
    class_b_common(
        o, m.reserved, m.speed, m.accuracy, m.lon, m.lat, m.course, m.heading, m.second, m.regional,
    );
    o.str("shipname", &m.shipname);
    ship_type(o, m.ship_type);
    dimensions(o, &m.dimensions);
    epfd(o, m.epfd);
    o.bool("raim", m.raim);
    o.num("dte", u8::from(m.dte));
    o.bool("assigned", m.assigned);
}

fn aid_to_navigation(o: &mut Obj<'_>, m: &AidToNavigationReport) {
    o.num("aid_type", m.aid_type);
    o.str("aid_type_text", aid_type_text(m.aid_type));
    o.str("name", &m.name);
    o.fixed("lon", lon_or_na(m.lon), 6);
    o.fixed("lat", lat_or_na(m.lat), 6);
    o.bool("accuracy", m.accuracy);
    dimensions(o, &m.dimensions);
    epfd(o, m.epfd);
    o.num("second", m.second.unwrap_or(60));
    o.num("regional", m.regional);
    o.bool("off_position", m.off_position);
    o.bool("raim", m.raim);
    o.bool("virtual_aid", m.virtual_aid);
}

fn static_data(o: &mut Obj<'_>, m: &StaticDataReport) {
    match (&m.shipname, &m.part_b) {
        (Some(_), None) => o.str("part", "A"),
        (None, Some(_)) => o.str("part", "B"),
        _ => {}
    }
    if let Some(name) = &m.shipname {
        o.str("shipname", name);
    }
    if let Some(b) = &m.part_b {
        ship_type(o, b.ship_type);
        // gpsd reports the pre-M.1371-4 form: bits 48-89 as 7 characters.
        let mut legacy = Payload::new();
        let vendor = match crate::message::encode_vendor(&mut legacy, b) {
            Ok(()) => legacy.text(0, 7),
            Err(_) => b.vendor_id,
        };
        o.str("vendorid", &vendor);
        o.num("model", b.model);
        o.num("serial", b.serial);
        o.str("callsign", &b.callsign);
        match &b.craft {
            Craft::Mothership(mmsi) => o.num("mothership_mmsi", *mmsi),
            Craft::Dimensions(d) => dimensions(o, d),
        }
    }
}

fn long_range(o: &mut Obj<'_>, m: &LongRangeReport) {
    o.str("status", nav_status_text(m.status));
    o.bool("accuracy", m.accuracy);
    o.fixed("lon", lon_or_na(m.lon), 1);
    o.fixed("lat", lat_or_na(m.lat), 1);
    o.num("speed", m.speed.unwrap_or(63));
    o.num("course", m.course.unwrap_or(511));
    o.bool("raim", m.raim);
    o.bool("gnss", m.gnss);
}

/// gpsd's legend for a navigational status.
pub fn nav_status_text(s: NavigationStatus) -> &'static str {
    use NavigationStatus::*;
    match s {
        UnderWayUsingEngine => "Under way using engine",
        AtAnchor => "At anchor",
        NotUnderCommand => "Not under command",
        RestrictedManoeuvrability => "Restricted manoeuverability",
        ConstrainedByDraught => "Constrained by her draught",
        Moored => "Moored",
        Aground => "Aground",
        EngagedInFishing => "Engaged in fishing",
        UnderWaySailing => "Under way sailing",
        ReservedHsc => "Reserved for HSC",
        ReservedWig => "Reserved for WIG",
        TowingAstern | PushingAhead | Reserved13 | AisSartActive => "Reserved",
        NotDefined => "Not defined",
    }
}

/// gpsd's legend for an EPFD (position fixing device) code.
pub fn epfd_text(v: u8) -> &'static str {
    match v {
        0 => "Undefined",
        1 => "GPS",
        2 => "GLONASS",
        3 => "Combined GPS/GLONASS",
        4 => "Loran-C",
        5 => "Chayka",
        6 => "Integrated navigation system",
        7 => "Surveyed",
        8 => "Galileo",
        _ => "INVALID EPFD",
    }
}

/// gpsd's legend for a ship and cargo type.
pub fn ship_type_text(v: u8) -> String {
    let family = |name: &str, last: &str| -> String {
        let tail = match v % 10 {
            0 => "all ships of this type",
            1 => "Hazardous category A",
            2 => "Hazardous category B",
            3 => "Hazardous category C",
            4 => "Hazardous category D",
            5..=8 => "Reserved for future use",
            _ => last,
        };
        format!("{name} - {tail}")
    };
    match v {
        0 => "Not available".into(),
        1..=19 => "Reserved for future use".into(),
        20..=29 => family("Wing in ground (WIG)", "Reserved for future use"),
        30 => "Fishing".into(),
        31 => "Towing".into(),
        32 => "Towing: length exceeds 200m or breadth exceeds 25m".into(),
        33 => "Dredging or underwater ops".into(),
        34 => "Diving ops".into(),
        35 => "Military ops".into(),
        36 => "Sailing".into(),
        37 => "Pleasure Craft".into(),
        38 | 39 => "Reserved".into(),
        40..=49 => family("High speed craft (HSC)", "No additional information"),
        50 => "Pilot Vessel".into(),
        51 => "Search and Rescue vessel".into(),
        52 => "Tug".into(),
        53 => "Port Tender".into(),
        54 => "Anti-pollution equipment".into(),
        55 => "Law Enforcement".into(),
        56 | 57 => "Spare - Local Vessel".into(),
        58 => "Medical Transport".into(),
        59 => "Ship according to RR Resolution No. 18".into(),
        60..=69 => family("Passenger", "No additional information"),
        70..=79 => family("Cargo", "No additional information"),
        80..=89 => family("Tanker", "No additional information"),
        90..=99 => family("Other Type", "no additional information"),
        _ => "INVALID SHIP TYPE".into(),
    }
}

/// gpsd's legend for an aid-to-navigation type.
pub fn aid_type_text(v: u8) -> &'static str {
    match v {
        0 => "Unspecified",
        1 => "Reference point",
        2 => "RACON",
        3 => "Fixed offshore structure",
        4 => "Spare, Reserved for future use.",
        5 => "Light, without sectors",
        6 => "Light, with sectors",
        7 => "Leading Light Front",
        8 => "Leading Light Rear",
        9 => "Beacon, Cardinal N",
        10 => "Beacon, Cardinal E",
        11 => "Beacon, Cardinal S",
        12 => "Beacon, Cardinal W",
        13 => "Beacon, Port hand",
        14 => "Beacon, Starboard hand",
        15 => "Beacon, Preferred Channel port hand",
        16 => "Beacon, Preferred Channel starboard hand",
        17 => "Beacon, Isolated danger",
        18 => "Beacon, Safe water",
        19 => "Beacon, Special mark",
        20 => "Cardinal Mark N",
        21 => "Cardinal Mark E",
        22 => "Cardinal Mark S",
        23 => "Cardinal Mark W",
        24 => "Port hand Mark",
        25 => "Starboard hand Mark",
        26 => "Preferred Channel Port hand",
        27 => "Preferred Channel Starboard hand",
        28 => "Isolated danger",
        29 => "Safe Water",
        30 => "Special Mark",
        31 => "Light Vessel / LANBY / Rigs",
        _ => "INVALID NAVAID TYPE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(line: &str) -> String {
        let mut out: Vec<_> = decode_lines([line]).collect();
        out.pop().unwrap().unwrap()
    }

    #[test]
    fn type5_matches_gpsd_member_for_member() {
        let lines = [
            "!AIVDM,2,1,1,A,55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp8,0*1C",
            "!AIVDM,2,2,1,A,88888888880,2*25",
        ];
        let out: Vec<_> = decode_lines(lines).collect();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].as_deref().unwrap(),
            "{\"class\":\"AIS\",\"type\":5,\"repeat\":0,\"mmsi\":351759000,\"scaled\":true,\
             \"imo\":9134270,\"ais_version\":0,\"callsign\":\"3FOF8\",\"shipname\":\"EVER DIADEM\",\
             \"shiptype\":70,\"shiptype_text\":\"Cargo - all ships of this type\",\"to_bow\":225,\
             \"to_stern\":70,\"to_port\":1,\"to_starboard\":31,\"epfd\":1,\"epfd_text\":\"GPS\",\
             \"eta\":\"05-15T14:00Z\",\"draught\":12.2,\"destination\":\"NEW YORK\",\"dte\":0}"
        );
    }

    #[test]
    fn joined_type24_uses_the_legacy_vendor_string() {
        let out: Vec<_> = decode_lines([
            "!AIVDM,1,1,,A,H42O55i18tMET00000000000000,2*6D",
            "!AIVDM,1,1,,A,H42O55lti4hhhilD3nink000?050,0*40",
        ])
        .collect();
        let s = out[0].as_deref().unwrap();
        assert!(
            s.contains("\"shipname\":\"PROGUY\",\"shiptype\":60,"),
            "{s}"
        );
        assert!(
            s.contains("\"vendorid\":\"1D00014\",\"model\":12,\"serial\":199796"),
            "{s}"
        );
        assert!(!s.contains("\"part\""));
    }

    #[test]
    fn not_available_values_print_as_gpsd_sentinels() {
        let s = json("!AIVDM,1,1,,A,16SteH0P00Jt63hHaa6SagvJ087r,0*42");
        assert!(s.contains("\"turn\":\"nan\",\"speed\":0.0"), "{s}");
        assert!(s.contains("\"heading\":511"), "{s}");
    }

    #[test]
    fn long_range_prints_status_text_and_coarse_position() {
        let s = json("!AIVDM,1,1,,B,KC5E2b@U19PFdLbMuc5=ROv62<7m,0*16");
        assert!(
            s.ends_with("\"status\":\"Not under command\",\"accuracy\":false,\"lon\":137.0,\"lat\":4.8,\"speed\":57,\"course\":167,\"raim\":false,\"gnss\":false}"),
            "{s}"
        );
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_but_counted() {
        let out: Vec<_> = decode_lines(["# comment", "", "garbage"]).collect();
        assert_eq!(out.len(), 1);
        let err = out[0].as_ref().unwrap_err();
        assert_eq!(err.line_no, 3);
    }

    #[test]
    fn ship_type_legends() {
        assert_eq!(ship_type_text(70), "Cargo - all ships of this type");
        assert_eq!(ship_type_text(84), "Tanker - Hazardous category D");
        assert_eq!(ship_type_text(99), "Other Type - no additional information");
        assert_eq!(
            ship_type_text(29),
            "Wing in ground (WIG) - Reserved for future use"
        );
        assert_eq!(ship_type_text(37), "Pleasure Craft");
        assert_eq!(ship_type_text(100), "INVALID SHIP TYPE");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        let mut o = Obj::new(&mut out);
        o.str("n", "A\"B\\C");
        o.close();
        assert_eq!(out, "{\"n\":\"A\\\"B\\\\C\"}");
    }
}
