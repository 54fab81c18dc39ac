//! `/api/v1`: the routes, their DTOs and the OpenAPI document collected from them.
//!
//! Every route is registered through utoipa-axum's `routes!`, so the router and the OpenAPI
//! document are built from the same list; the authorization test walks that document and
//! fails for any route without a row in its table.

mod access;
pub mod alerts;
mod corridor;
mod customs;
mod loading;
pub mod readings;
mod tally;
mod tracking;
pub(crate) mod transship;

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::problem::ApiError;

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageDto<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T> PageDto<T> {
    fn map<S>(p: jianghai_store::Page<S>, f: impl Fn(S) -> T) -> PageDto<T> {
        PageDto {
            items: p.items.into_iter().map(f).collect(),
            next: p.next,
        }
    }
}

pub(crate) fn ident(field: &str, s: &str) -> Result<jianghai_core::Ident, ApiError> {
    jianghai_core::Ident::parse(s).map_err(|e| ApiError::field(field, e.to_string()))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jianghai API",
        description = "Supervision of finished-vehicle exports on Yangtze river–sea ro-ro shipping. \
                       Errors are RFC 9457 problem documents; lists are cursor-paginated.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::problem::Problem, crate::problem::FieldError))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// Customs transit (转关), seals, holds, refund and savings (`customs.rs`).
fn customs_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customs::file_ship, customs::list_ship_filings))
        .routes(routes!(customs::get_ship_filing))
        .routes(routes!(customs::declare, customs::list_transits))
        .routes(routes!(customs::get_transit, customs::amend))
        .routes(routes!(customs::hold))
        .routes(routes!(customs::release))
        .routes(routes!(customs::arrive))
        .routes(routes!(customs::close))
        .routes(routes!(customs::hold_vehicle))
        .routes(routes!(customs::release_vehicle))
        .routes(routes!(customs::transit_log))
        .routes(routes!(customs::put_credit))
        .routes(routes!(customs::shipment_refund))
        .routes(routes!(customs::shipment_savings))
        .routes(routes!(customs::period_savings))
        .routes(routes!(transship::put_ocean_leg, transship::get_ocean_leg))
        .routes(routes!(transship::transship))
        .routes(routes!(transship::confirm_export))
}

/// The `/api/v1` routes, and the OpenAPI document describing exactly them.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::<AppState>::new()
        .routes(routes!(access::login))
        .routes(routes!(access::logout))
        .routes(routes!(access::me))
        .routes(routes!(
            access::create_organisation,
            access::list_organisations
        ))
        .routes(routes!(access::get_organisation))
        .routes(routes!(access::create_user, access::list_users))
        .routes(routes!(access::disable_user))
        .routes(routes!(access::enable_user))
        .routes(routes!(access::create_token, access::list_tokens))
        .routes(routes!(access::revoke_token))
        .routes(routes!(access::register_device, access::list_devices))
        .routes(routes!(access::rotate_device_credential))
        .routes(routes!(access::disable_device))
        .routes(routes!(access::read_audit))
        .routes(routes!(
            corridor::create_facility,
            corridor::list_facilities
        ))
        .routes(routes!(corridor::get_facility))
        .routes(routes!(corridor::create_vessel, corridor::list_vessels))
        .routes(routes!(corridor::create_voyage, corridor::list_voyages))
        .routes(routes!(corridor::get_voyage))
        .routes(routes!(tracking::get_tracking))
        .routes(routes!(tracking::list_states))
        .routes(routes!(tracking::list_progress))
        .routes(routes!(tracking::list_locks))
        .routes(routes!(tracking::list_positions))
        .routes(routes!(tracking::get_plan, tracking::put_plan))
        .routes(routes!(corridor::create_shipment, corridor::list_shipments))
        .routes(routes!(corridor::get_shipment))
        .routes(routes!(corridor::book_shipment))
        .routes(routes!(corridor::list_vehicles))
        .routes(routes!(corridor::get_vehicle))
        .routes(routes!(corridor::timeline))
        .routes(routes!(corridor::submit_manifest))
        .routes(routes!(corridor::submit_events))
        .routes(routes!(corridor::ledger_status))
        .routes(routes!(alerts::list_alerts))
        .routes(routes!(alerts::stream))
        .routes(routes!(alerts::get_alert))
        .routes(routes!(alerts::acknowledge_alert))
        .routes(routes!(alerts::resolve_alert))
        .routes(routes!(alerts::assign_alert))
        .routes(routes!(alerts::comment_alert))
        .routes(routes!(alerts::create_webhook, alerts::list_webhooks))
        .routes(routes!(alerts::delete_webhook))
        .routes(routes!(alerts::list_deliveries))
        .routes(routes!(tally::gate_in, tally::list_gate_ins))
        .routes(routes!(tally::identify))
        .routes(routes!(tally::open_session, tally::list_sessions))
        .routes(routes!(tally::get_session))
        .routes(routes!(tally::scan))
        .routes(routes!(tally::external))
        .routes(routes!(tally::session_image))
        .routes(routes!(tally::close_session))
        .routes(routes!(tally::tally_sheet))
        .routes(routes!(tally::create_report, tally::list_reports))
        .routes(routes!(tally::upload_photo))
        .routes(routes!(tally::get_photo))
        .routes(routes!(tally::get_damage_codes, tally::put_damage_codes))
        .routes(routes!(loading::put_deck_plan, loading::get_deck_plan))
        .routes(routes!(
            loading::create_stowage_plan,
            loading::get_stowage_plan
        ))
        .routes(routes!(loading::edit_stowage_plan))
        .routes(routes!(loading::ramp_scan))
        .routes(routes!(loading::load_complete))
        .routes(routes!(readings::submit_readings, readings::list_readings))
        .routes(routes!(readings::rollups))
        .routes(routes!(readings::register_sensor, readings::list_sensors))
        .routes(routes!(readings::attach_sensor))
        .merge(customs_routes());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts()
}
