//! The demo's customs summary: the departure-port tax refund (启运港退税) assessed from the
//! run's recorded facts, and what river–sea ro-ro saved against container transit.

use chrono::Utc;
use jianghai_core::Step;
use jianghai_customs::refund::{self, CreditClass, RefundRules, ShipmentFacts, TaxCredit};
use jianghai_customs::savings::{self, CostModel};
use jianghai_sim::{Scenario, ids};

/// Lines for the headless report.
pub fn summary(s: &Scenario, shipment: &str) -> Vec<String> {
    let first = |step: Step| {
        s.steps
            .iter()
            .filter(|x| x.event.step == Some(step) && !x.expect_refusal)
            .map(|x| x.event.event_time.with_timezone(&Utc))
            .min()
    };
    // The demo's parties: a class-1, certified exporter; a general-credit, A-rated carrier
    // whose ship is filed with positioning and full-voyage video; cars, not dangerous goods.
    let facts = ShipmentFacts {
        shipment: shipment.to_string(),
        departure_port: ids::RIVER_BERTH.to_string(),
        exit_port: ids::SEA_TERMINAL.to_string(),
        exporter_refund_class: Some(1),
        exporter_customs_credit: Some(CreditClass::Certified),
        carrier_customs_credit: Some(CreditClass::General),
        carrier_tax_credit: Some(TaxCredit::A),
        ship_positioning: true,
        ship_video: true,
        dangerous_goods: false,
        released_at: first(Step::Declare),
        ocean_departure: first(Step::Export),
    };
    let a = refund::assess(&RefundRules::corridor_defaults(), &facts);
    let mut out = Vec::new();
    match (a.eligible, a.refund_from, a.baseline_from, a.days_earlier) {
        (true, Some(from), Some(base), Some(days)) => out.push(format!(
            "tax refund (启运港退税): eligible; can be filed from {from}, {days} days before the exit-port baseline ({base})"
        )),
        _ => {
            let failed: Vec<String> = a
                .conditions
                .iter()
                .filter(|c| !c.met)
                .map(|c| format!("{} ({})", c.name, c.detail))
                .collect();
            out.push(format!(
                "tax refund (启运港退税): not eligible: {}",
                failed.join("; ")
            ));
        }
    }
    let model = CostModel::corridor_defaults();
    let saved = savings::shipment(&model, shipment, s.cars.len() as u32);
    let parts: Vec<String> = saved
        .lines
        .iter()
        .map(|l| format!("{} {}", l.name, l.saved))
        .collect();
    out.push(format!(
        "savings against container transit: {} {} ({} a car): {}",
        saved.saved,
        model.currency,
        model.per_car(),
        parts.join(", ")
    ));
    out
}
