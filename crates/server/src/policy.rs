//! The one policy layer: who may see and do what, by party kind, role and relationship.
//!
//! Handlers never filter rows themselves. For reads they ask for a *scope* (which the store
//! turns into SQL), and an object outside the scope reads as absent: 404, never revealing that
//! it exists. For commands they ask [`may`], which answers 403 with the reason. A step on cars
//! is also checked against the submitter's read scope *before* the lifecycle, so a refusal
//! never tells a party the state of a car it may not see.
//!
//! "On a voyage" and "at a facility" are the ledger's ties (`vehicle_links`, a projection the
//! append writes and `verify` checks); "booked" is an exporter's shipment booked on a voyage.
//!
//! | party | vehicles | voyages, vessels | shipments | administers |
//! |---|---|---|---|---|
//! | exporter | its own (`vehicles.exporter`) | all (to book them) | its own | its users, devices |
//! | carrier | on its voyages, or booked on one | its own | none | its users, devices |
//! | port | at its facilities, or on (or booked on) a voyage from or to one | from or to its facilities | none | its users, devices |
//! | customs | all (under supervision) | all | all | its users, devices |
//! | coordinator | all, read-only | all | all | its users, devices |
//! | operator | all | all | all | every organisation |
//!
//! Alerts are scoped by their subject ([`alerts`]): an exporter sees alerts on its vehicles and
//! shipments (and on the seals of the customs transits naming its cars); a carrier those on its vessels (decks, zones, seals), its voyages and the vehicles
//! on them; a port those on its facilities (zones, seals) and the vehicles at them; customs, the
//! coordinator and the operator see all. Another party's alert reads as absent (404), for
//! reading and acting alike. Acting on an alert (acknowledge, resolve, assign, comment) needs
//! an admin or operator role and is not for the read-only coordinator.
//!
//! Voyage tracking (positions, progress, states, lock passages, ETAs, the plan) follows the
//! voyage scope, except that an exporter sees only the voyages it has cars on (a shipment
//! booked on one, or a car the ledger ties to one). A voyage's plan is set by its carrier,
//! customs (who sets the transit time limit) or the operator. An exporter also sees the alerts
//! of the voyages it has cars on.
//!
//! Sensors and readings: an organisation registers sensors on its own devices and attaches
//! them to subjects whose alerts it may see (a carrier to its decks, an exporter to its cars, a
//! port to its facilities; customs and the operator anywhere; the coordinator registers none).
//! A party reads the sensors of its own devices and those attached to subjects whose alerts it
//! may see, with their readings and rollups; others read as absent (404). Readings are
//! submitted only by devices, with their own credential, and only for their own registered
//! sensors (`ingest::Intake::check`); a user token cannot submit them.
//!
//! Tallies (gate-ins, sessions, identifications, condition reports, photos): a port operates
//! and reads those at its own facilities; an exporter reads those about its own vehicles and
//! shipments; customs and the coordinator read all; the operator reads and acts everywhere;
//! a carrier sees none.
//!
//! Loading (deck plans, stowage plans, ramp scans, load-complete): the carrier of the vessel
//! (and the operator) writes deck and stowage plans, edits and load-complete; the carrier and
//! the port operating the voyage's loading facility scan at the ramp. Plans are read by the
//! voyage scope, except an exporter's, which is narrowed to its own cars (a plan without them
//! reads as absent).
//!
//! Customs transit (ship filings, declarations, holds, seals, credit records): customs (and
//! the operator) act; the coordinator reads. An exporter reads, read-only, the declarations
//! naming its cars with their holds and log; a carrier reads the filings of its own ships.
//! Anything else reads as absent (404). Refund and savings reports follow the shipment scope.

use jianghai_core::{Ident, OrgKind, Organisation, Step};
use jianghai_store::{
    AlertScope, LoadingScope, MemberScope, OrgScope, Role, SensorScope, ShipmentScope, TallyScope,
    VehicleScope, VoyageScope,
};

use crate::auth::Principal;
use crate::problem::ApiError;

fn own(p: &Principal) -> Ident {
    p.organisation.id.clone()
}

/// The vehicles `p` may read.
pub fn vehicles(p: &Principal) -> VehicleScope {
    match p.kind() {
        OrgKind::Exporter => VehicleScope::ExportedBy(own(p)),
        OrgKind::Carrier => VehicleScope::OnVoyagesOf(own(p)),
        OrgKind::Port => VehicleScope::AtFacilitiesOf(own(p)),
        OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => VehicleScope::All,
    }
}

/// The voyages and vessels `p` may read.
pub fn voyages(p: &Principal) -> VoyageScope {
    match p.kind() {
        OrgKind::Carrier => VoyageScope::CarriedBy(own(p)),
        OrgKind::Port => VoyageScope::Touching(own(p)),
        OrgKind::Exporter | OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => {
            VoyageScope::All
        }
    }
}

/// The voyages whose tracking (positions, progress, states, locks, ETAs, plan) `p` may read:
/// as [`voyages`], except that an exporter sees only the voyages it has cars on.
pub fn voyage_tracking(p: &Principal) -> VoyageScope {
    match p.kind() {
        OrgKind::Exporter => VoyageScope::BookedBy(own(p)),
        _ => voyages(p),
    }
}

/// The shipments `p` may read: exporters' commercial data stays with them and supervisors.
pub fn shipments(p: &Principal) -> ShipmentScope {
    match p.kind() {
        OrgKind::Exporter => ShipmentScope::ExportedBy(own(p)),
        OrgKind::Carrier | OrgKind::Port => ShipmentScope::Nothing,
        OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => ShipmentScope::All,
    }
}

/// The tally records `p` may read.
pub fn tallies(p: &Principal) -> TallyScope {
    match p.kind() {
        OrgKind::Exporter => TallyScope::ExportedBy(own(p)),
        OrgKind::Port => TallyScope::AtFacilitiesOf(own(p)),
        OrgKind::Carrier => TallyScope::Nothing,
        OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => TallyScope::All,
    }
}

/// The stowage plans `p` may read.
pub fn loading(p: &Principal) -> LoadingScope {
    match p.kind() {
        OrgKind::Carrier => LoadingScope::CarriedBy(own(p)),
        OrgKind::Port => LoadingScope::Touching(own(p)),
        OrgKind::Exporter => LoadingScope::ExportedBy(own(p)),
        OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => LoadingScope::All,
    }
}

/// The alerts `p` may read (and, with [`Command::HandleAlert`], act on).
pub fn alerts(p: &Principal) -> AlertScope {
    alerts_of(&p.organisation)
}

/// The alerts an organisation may see: its users', its live stream's and its webhooks' scope.
pub fn alerts_of(org: &Organisation) -> AlertScope {
    let own = org.id.clone();
    match org.kind {
        OrgKind::Exporter => AlertScope::ExportedBy(own),
        OrgKind::Carrier => AlertScope::CarriedBy(own),
        OrgKind::Port => AlertScope::OperatedBy(own),
        OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => AlertScope::All,
    }
}

/// The sensors (and so the readings) `p` may read.
pub fn sensors(p: &Principal) -> SensorScope {
    SensorScope(alerts(p))
}

/// The subjects `p` may attach its organisation's sensors to.
pub fn attachable(p: &Principal) -> AlertScope {
    alerts(p)
}

/// Which ship filings a reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filings {
    All,
    /// The filings of this carrier's ships.
    CarriedBy(Ident),
    Nothing,
}

/// The ship filings `p` may read.
pub fn ship_filings(p: &Principal) -> Filings {
    match p.kind() {
        OrgKind::Carrier => Filings::CarriedBy(own(p)),
        OrgKind::Exporter | OrgKind::Port => Filings::Nothing,
        OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => Filings::All,
    }
}

/// The transit declarations `p` may read, as the vehicles that make one visible (any of its
/// cars in scope): all for customs and supervisors, an exporter's own cars, none otherwise.
pub fn transits(p: &Principal) -> Option<VehicleScope> {
    match p.kind() {
        OrgKind::Exporter => Some(VehicleScope::ExportedBy(own(p))),
        OrgKind::Carrier | OrgKind::Port => None,
        OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator => Some(VehicleScope::All),
    }
}

/// The organisations `p` may read.
pub fn organisations(p: &Principal) -> OrgScope {
    match p.kind() {
        OrgKind::Operator | OrgKind::Coordinator => OrgScope::All,
        _ => OrgScope::Only(own(p)),
    }
}

/// The users and devices `p` may read.
pub fn members(p: &Principal) -> Result<MemberScope, ApiError> {
    match (p.kind(), p.role) {
        (OrgKind::Operator, Role::Admin) => Ok(MemberScope::All),
        (_, Role::Admin) => Ok(MemberScope::Of(own(p))),
        _ => Err(ApiError::forbidden(
            "only an organisation's administrators manage its users and devices",
        )),
    }
}

/// Something `p` wants to do.
#[derive(Debug)]
pub enum Command<'a> {
    CreateOrganisation,
    /// Manage users or devices of `org`.
    Administer {
        org: &'a Ident,
    },
    CreateFacility {
        operator: &'a Ident,
    },
    /// Register a vessel for, or schedule a voyage of, `carrier`.
    Schedule {
        carrier: &'a Ident,
    },
    RegisterVehicles,
    CreateShipment,
    Submit {
        step: Step,
    },
    ReadLedger,
    ReadAudit,
    /// Acknowledge, resolve, assign or comment on an alert (in scope: the caller checks).
    HandleAlert,
    /// Register, list or remove the webhooks of `org`.
    ManageWebhooks {
        org: &'a Ident,
    },
    /// Gate in, identify, report condition, open and close tallies at a facility `operator` runs.
    OperateTally {
        operator: &'a Ident,
    },
    /// Replace the damage-code table.
    LoadDamageCodes,
    /// Deck plans, stowage plans, their edits and load-complete for a vessel of `carrier`.
    Stow {
        carrier: &'a Ident,
    },
    /// Scan at the ramp of a voyage of `carrier` loading at a facility `port` operates.
    ScanAtRamp {
        carrier: &'a Ident,
        port: &'a Ident,
    },
    /// Set the plan (planned arrival, customs transit limit) of a voyage of `carrier`.
    PlanVoyage {
        carrier: &'a Ident,
    },
    /// Register or re-attach sensors of devices of `org`.
    ManageSensors {
        org: &'a Ident,
    },
    /// File ships, declare, amend, hold, release, close transits, hold and release cars,
    /// record credit classes.
    Supervise,
}

fn operator_admin(p: &Principal) -> bool {
    p.kind() == OrgKind::Operator && p.role == Role::Admin
}

fn acts(p: &Principal) -> bool {
    matches!(p.role, Role::Admin | Role::Operator)
}

/// Whether `p` may perform `c`; 403 with the reason when not.
pub fn may(p: &Principal, c: Command<'_>) -> Result<(), ApiError> {
    let kind = p.kind();
    let allowed = match &c {
        Command::CreateOrganisation => operator_admin(p),
        Command::Administer { org } => {
            operator_admin(p) || (p.role == Role::Admin && *org == &p.organisation.id)
        }
        Command::CreateFacility { operator } => {
            operator_admin(p)
                || (kind == OrgKind::Port
                    && p.role == Role::Admin
                    && *operator == &p.organisation.id)
        }
        Command::Schedule { carrier } => {
            operator_admin(p)
                || (kind == OrgKind::Carrier && acts(p) && *carrier == &p.organisation.id)
        }
        Command::RegisterVehicles | Command::CreateShipment => kind == OrgKind::Exporter && acts(p),
        Command::Submit { step } => acts(p) && submits(kind, *step),
        Command::ReadLedger => matches!(
            kind,
            OrgKind::Customs | OrgKind::Coordinator | OrgKind::Operator
        ),
        Command::ReadAudit => kind == OrgKind::Operator,
        Command::HandleAlert => acts(p) && kind != OrgKind::Coordinator,
        Command::ManageWebhooks { org } => p.role == Role::Admin && *org == &p.organisation.id,
        Command::OperateTally { operator } => {
            acts(p)
                && (kind == OrgKind::Operator
                    || (kind == OrgKind::Port && *operator == &p.organisation.id))
        }
        Command::LoadDamageCodes => operator_admin(p),
        Command::Stow { carrier } => {
            acts(p)
                && (kind == OrgKind::Operator
                    || (kind == OrgKind::Carrier && *carrier == &p.organisation.id))
        }
        Command::ScanAtRamp { carrier, port } => {
            acts(p)
                && (kind == OrgKind::Operator
                    || (kind == OrgKind::Carrier && *carrier == &p.organisation.id)
                    || (kind == OrgKind::Port && *port == &p.organisation.id))
        }
        Command::PlanVoyage { carrier } => {
            acts(p)
                && (matches!(kind, OrgKind::Customs | OrgKind::Operator)
                    || (kind == OrgKind::Carrier && *carrier == &p.organisation.id))
        }
        Command::ManageSensors { org } => {
            operator_admin(p)
                || (acts(p) && kind != OrgKind::Coordinator && *org == &p.organisation.id)
        }
        Command::Supervise => acts(p) && matches!(kind, OrgKind::Customs | OrgKind::Operator),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(match c {
            Command::Submit { step } => format!(
                "a {} {} may not submit the {step} step",
                kind.as_str(),
                p.role.as_str()
            ),
            other => format!(
                "a {} {} may not do this ({other:?})",
                kind.as_str(),
                p.role.as_str()
            ),
        }))
    }
}

/// Which party kind performs which lifecycle step. The coordinator only reads.
fn submits(kind: OrgKind, step: Step) -> bool {
    use Step::*;
    match kind {
        OrgKind::Operator => true,
        OrgKind::Exporter => matches!(step, Register | Return),
        OrgKind::Port => matches!(step, GateIn | Tally | Load | Transship),
        OrgKind::Carrier => matches!(step, Load | Depart | Arrive | Transship | Export),
        OrgKind::Customs => matches!(step, Declare | CloseTransit | Hold | Release | Return),
        OrgKind::Coordinator => false,
    }
}
