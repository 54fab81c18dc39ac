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
