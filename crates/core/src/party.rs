//! Parties (车、船、港、关、贸 and the coordinator) and the things they own: organisations,
//! facilities, vessels, voyages and shipments.

use serde::{Deserialize, Serialize};

use crate::ident::Ident;
use crate::vin::Vin;

/// The kind of party an organisation is; it decides what the organisation may see and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 贸: car makers' export arms and trading companies.
    Exporter,
    /// 船: river ro-ro operators and ocean car-carrier lines.
    Carrier,
    /// 港: consolidation yards and terminals.
    Port,
    /// 关: departure and exit customs.
    Customs,
    /// The corridor's coordinators (port logistics office): read everything.
    Coordinator,
    /// The logistics group that runs the platform: administers it.
    Operator,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::Exporter,
        OrgKind::Carrier,
        OrgKind::Port,
        OrgKind::Customs,
        OrgKind::Coordinator,
        OrgKind::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Exporter => "exporter",
            OrgKind::Carrier => "carrier",
            OrgKind::Port => "port",
            OrgKind::Customs => "customs",
            OrgKind::Coordinator => "coordinator",
            OrgKind::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A party on the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: Ident,
    pub name: String,
    pub kind: OrgKind,
}

/// What a facility is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    /// 集并场: where cars are gated in and tallied.
    ConsolidationYard,
    /// A river ro-ro berth.
    RiverTerminal,
    /// A sea-port car terminal (e.g. Haitong, Waigaoqiao).
    SeaTerminal,
    /// A customs office or inspection site.
    CustomsOffice,
}

impl FacilityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::ConsolidationYard => "consolidation_yard",
            FacilityKind::RiverTerminal => "river_terminal",
            FacilityKind::SeaTerminal => "sea_terminal",
            FacilityKind::CustomsOffice => "customs_office",
        }
    }

    pub fn parse(s: &str) -> Option<FacilityKind> {
        [
            FacilityKind::ConsolidationYard,
            FacilityKind::RiverTerminal,
            FacilityKind::SeaTerminal,
            FacilityKind::CustomsOffice,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A WGS-84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
}

impl Position {
    /// Whether the coordinates are finite and within ±90° / ±180°.
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }
}

/// A place where business steps happen, operated by one organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facility {
    pub id: Ident,
    pub name: String,
    pub kind: FacilityKind,
    /// The organisation operating it (a port, or customs for an office).
    pub operator: Ident,
    pub position: Option<Position>,
}

/// Whether a vessel works the river or the ocean leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VesselKind {
    /// 长江商品车滚装船.
    RiverRoRo,
    /// Ocean pure car (and truck) carrier.
    OceanPctc,
}

/// A ship, owned or operated by a carrier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vessel {
    pub id: Ident,
    pub name: String,
    pub kind: VesselKind,
    pub carrier: Ident,
    /// Maritime Mobile Service Identity, when the ship has AIS.
    pub mmsi: Option<u32>,
    pub imo: Option<u32>,
}

/// One sailing of a vessel between two facilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voyage {
    pub id: Ident,
    pub vessel: Ident,
    pub origin: Ident,
    pub destination: Ident,
}

/// An exporter's consignment: cars booked together towards a destination country.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: Ident,
    pub exporter: Ident,
    /// Destination country (ISO 3166 alpha-2), e.g. `MX`.
    pub destination_country: String,
    pub vins: Vec<Vin>,
    /// The river voyage the shipment is booked on, once booked: its carrier and the ports it
    /// touches may then see the shipment's cars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voyage: Option<Ident>,
    /// Dangerous goods the exporter declared with the shipment (IMDG classes vehicles as
    /// UN3166, flammable-liquid powered, and UN3171, battery powered, unless a special
    /// provision exempts them). Empty: none declared. A recorded fact for the departure-port
    /// tax refund, whose rule set decides what it means.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dangerous_goods: Vec<UnNumber>,
}

/// A UN number of the UN Model Regulations: `UN` and four digits, e.g. `UN3171`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnNumber(u16);

/// Why a text is not a UN number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a UN number: write UN and four digits, e.g. UN3171")]
pub struct UnNumberError(pub String);

impl UnNumber {
    /// Parses `UN3171` (the prefix case-insensitive, surrounding spaces ignored). `UN0000` is
    /// not assigned and is refused.
    pub fn parse(s: &str) -> Result<UnNumber, UnNumberError> {
        let t = s.trim();
        let digits = t
            .get(..2)
            .filter(|p| p.eq_ignore_ascii_case("UN"))
            .and_then(|_| t.get(2..))
            .filter(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()));
        match digits.and_then(|d| d.parse::<u16>().ok()) {
            Some(n) if n > 0 => Ok(UnNumber(n)),
            _ => Err(UnNumberError(s.to_string())),
        }
    }
}

impl std::fmt::Display for UnNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UN{:04}", self.0)
    }
}

impl std::str::FromStr for UnNumber {
    type Err = UnNumberError;
    fn from_str(s: &str) -> Result<UnNumber, UnNumberError> {
        UnNumber::parse(s)
    }
}

impl Serialize for UnNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UnNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<UnNumber, D::Error> {
        let s = String::deserialize(d)?;
        UnNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// How a car is powered; EVs have stowage and monitoring rules of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Powertrain {
    Bev,
    Phev,
    Hev,
    Erev,
    Ice,
}

impl Powertrain {
    /// Whether the car carries a traction battery that needs EV rules.
    pub fn is_electric(self) -> bool {
        matches!(self, Powertrain::Bev | Powertrain::Phev | Powertrain::Erev)
    }
}

/// A finished vehicle as registered from a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub vin: Vin,
    pub exporter: Ident,
    pub model: String,
    pub powertrain: Powertrain,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn un_numbers_parse_and_print() {
        assert_eq!(
            UnNumber::parse("UN3171").map(|u| u.to_string()),
            Ok("UN3171".into())
        );
        assert_eq!(
            UnNumber::parse(" un0004 ").map(|u| u.to_string()),
            Ok("UN0004".into())
        );
        for bad in [
            "",
            "UN",
            "3171",
            "UN317",
            "UN31711",
            "UN0000",
            "UN31a1",
            "XX3171",
            "UN-3171",
            "ＵＮ3171",
        ] {
            assert!(UnNumber::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let s: Shipment = serde_json::from_str(
            r#"{"id":"s-1","exporter":"changan-intl","destination_country":"MX","vins":[],"dangerous_goods":["UN3171"]}"#,
        )
        .expect("shipment");
        assert_eq!(s.dangerous_goods, [UnNumber(3171)]);
        assert!(
            serde_json::from_str::<Shipment>(
                r#"{"id":"s-1","exporter":"changan-intl","destination_country":"MX","vins":[],"dangerous_goods":["UN31"]}"#,
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn un_numbers_round_trip(n in 1u16..=9999) {
            let u = UnNumber::parse(&format!("UN{n:04}")).expect("valid");
            prop_assert_eq!(UnNumber::parse(&u.to_string()), Ok(u));
            let json = serde_json::to_string(&u).expect("json");
            prop_assert_eq!(serde_json::from_str::<UnNumber>(&json).expect("back"), u);
        }

        #[test]
        fn parsing_any_text_never_panics(s in "\\PC{0,12}") {
            if let Ok(u) = UnNumber::parse(&s) {
                prop_assert_eq!(u.to_string(), s.trim().to_ascii_uppercase());
            }
        }
    }
}
