//! The corridor's parties, facilities, vessels and voyages.

use jianghai_core::{
    Facility, FacilityKind, Ident, OrgKind, Organisation, Position, Vessel, VesselKind, Voyage,
};

/// Everything events refer to.
#[derive(Debug, Clone)]
pub struct World {
    pub organisations: Vec<Organisation>,
    pub facilities: Vec<Facility>,
    pub vessels: Vec<Vessel>,
    pub voyages: Vec<Voyage>,
}

// Only called with the literals below and formatted run numbers; the unit test covers them.
fn id(s: &str) -> Ident {
    Ident::parse(s).expect("scenario identifiers are valid")
}

/// Identifiers the scenario uses.
pub mod ids {
    pub const EXPORTER: &str = "changan-intl";
    pub const RIVER_CARRIER: &str = "minsheng-shipping";
    pub const OCEAN_CARRIER: &str = "cosco-car-carriers";
    pub const YARD_PORT: &str = "guoyuan-port";
    pub const SEA_PORT: &str = "haitong-terminal-co";
    pub const DEPARTURE_CUSTOMS: &str = "chongqing-customs";
    pub const EXIT_CUSTOMS: &str = "shanghai-customs";
    pub const COORDINATOR: &str = "cq-port-logistics-office";
    pub const OPERATOR: &str = "cq-logistics-group";
    pub const YARD: &str = "guoyuan-yard";
    pub const RIVER_BERTH: &str = "guoyuan-ro-ro";
    pub const SEA_TERMINAL: &str = "haitong-terminal";
    pub const RIVER_VESSEL: &str = "minsheng-ro-ro-8";
    pub const OCEAN_VESSEL: &str = "cosco-pctc-1";
    pub const RIVER_VOYAGE_PREFIX: &str = "rv";
    pub const OCEAN_VOYAGE_PREFIX: &str = "ov";
}

/// The Chongqing → Shanghai corridor of the source article. `run` distinguishes the voyages
/// of repeated demo runs on one store.
pub fn corridor_world(run: u32) -> World {
    use ids::*;
    let org = |i: &str, name: &str, kind| Organisation {
        id: id(i),
        name: name.to_string(),
        kind,
    };
    let fac = |i: &str, name: &str, kind, operator: &str, lat, lon| Facility {
        id: id(i),
        name: name.to_string(),
        kind,
        operator: id(operator),
        position: Some(Position { lat, lon }),
    };
    World {
        organisations: vec![
            org(
                EXPORTER,
                "Changan International (export)",
                OrgKind::Exporter,
            ),
            org(
                RIVER_CARRIER,
                "Minsheng Shipping (river ro-ro)",
                OrgKind::Carrier,
            ),
            org(
                OCEAN_CARRIER,
                "COSCO Car Carriers (ocean PCTC)",
                OrgKind::Carrier,
            ),
            org(YARD_PORT, "Chongqing Guoyuan Port", OrgKind::Port),
            org(SEA_PORT, "Shanghai Haitong Terminal", OrgKind::Port),
            org(DEPARTURE_CUSTOMS, "Chongqing Customs", OrgKind::Customs),
            org(
                EXIT_CUSTOMS,
                "Shanghai Customs (Waigaoqiao)",
                OrgKind::Customs,
            ),
            org(
                COORDINATOR,
                "Chongqing Port Logistics Office",
                OrgKind::Coordinator,
            ),
            org(OPERATOR, "Chongqing Logistics Group", OrgKind::Operator),
        ],
        facilities: vec![
            fac(
                YARD,
                "Guoyuan consolidation yard",
                FacilityKind::ConsolidationYard,
                YARD_PORT,
                29.64,
                106.80,
            ),
            fac(
                RIVER_BERTH,
                "Guoyuan ro-ro berth",
                FacilityKind::RiverTerminal,
                YARD_PORT,
                29.641,
                106.805,
            ),
            fac(
                SEA_TERMINAL,
                "Haitong International Automobile Terminal",
                FacilityKind::SeaTerminal,
                SEA_PORT,
                31.36,
                121.60,
            ),
        ],
        vessels: vec![
            Vessel {
                id: id(RIVER_VESSEL),
                name: "Minsheng Ro-Ro 8".into(),
                kind: VesselKind::RiverRoRo,
                carrier: id(RIVER_CARRIER),
                mmsi: Some(413_801_008),
                imo: None,
            },
            Vessel {
                id: id(OCEAN_VESSEL),
                name: "COSCO PCTC 1".into(),
                kind: VesselKind::OceanPctc,
                carrier: id(OCEAN_CARRIER),
                mmsi: Some(477_100_001),
                imo: Some(9_800_001),
            },
        ],
        voyages: vec![
            Voyage {
                id: id(&format!("{RIVER_VOYAGE_PREFIX}-{run:04}")),
                vessel: id(RIVER_VESSEL),
                origin: id(RIVER_BERTH),
                destination: id(SEA_TERMINAL),
            },
            Voyage {
                id: id(&format!("{OCEAN_VOYAGE_PREFIX}-{run:04}")),
                vessel: id(OCEAN_VESSEL),
                origin: id(SEA_TERMINAL),
                destination: id(SEA_TERMINAL),
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identifier_is_valid_and_every_reference_resolves() {
        let w = corridor_world(7);
        let orgs: Vec<_> = w.organisations.iter().map(|o| o.id.clone()).collect();
        let facs: Vec<_> = w.facilities.iter().map(|f| f.id.clone()).collect();
        assert!(w.facilities.iter().all(|f| orgs.contains(&f.operator)));
        assert!(w.vessels.iter().all(|v| orgs.contains(&v.carrier)));
        assert!(
            w.voyages
                .iter()
                .all(|v| facs.contains(&v.origin) && facs.contains(&v.destination))
        );
        assert_eq!(w.voyages[0].id.as_str(), "rv-0007");
    }
}
