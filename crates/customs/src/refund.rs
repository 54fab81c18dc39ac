//! Departure-port tax refund (启运港退税) eligibility from recorded facts, against a rule set
//! that is data ([`RefundRules::corridor_defaults`] is this corridor's reading of the policy).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Customs credit classes (海关信用等级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditClass {
    Certified,
    General,
    Untrustworthy,
}

/// Tax credit grades (纳税信用等级), best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TaxCredit {
    A,
    B,
    M,
    C,
    D,
}

/// The rules. Every field is required in a rules file, so a typo cannot silently relax one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRules {
    pub departure_ports: Vec<String>,
    pub exit_ports: Vec<String>,
    pub exporter_refund_classes: Vec<u8>,
    pub exporter_customs_credit: Vec<CreditClass>,
    pub carrier_customs_credit: Vec<CreditClass>,
    pub carrier_min_tax_credit: TaxCredit,
    pub require_positioning: bool,
    pub require_video: bool,
    pub exclude_dangerous_goods: bool,
    pub baseline_days_after_exit: i64,
    pub days_after_departure_release: i64,
}

/// A rules file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refund rules: {0}")]
pub struct RulesError(String);

impl RefundRules {
    /// This corridor's defaults (`src/refund-defaults.toml`).
    pub fn corridor_defaults() -> RefundRules {
        match RefundRules::from_toml(include_str!("refund-defaults.toml")) {
            Ok(r) => r,
            // The file is compiled in and tested; this arm is unreachable in a tested build.
            Err(e) => panic!("{e}"),
        }
    }

    /// Parses and checks rules written in TOML.
    pub fn from_toml(text: &str) -> Result<RefundRules, RulesError> {
        let r: RefundRules = toml::from_str(text).map_err(|e| RulesError(e.to_string()))?;
        r.check()?;
        Ok(r)
    }

    /// Checks rules given as a value (e.g. JSON through the API).
    pub fn check(&self) -> Result<(), RulesError> {
        if self.departure_ports.is_empty() || self.exit_ports.is_empty() {
            return Err(RulesError("the port lists must not be empty".into()));
        }
        if self
            .exporter_refund_classes
            .iter()
            .any(|c| !(1..=4).contains(c))
        {
            return Err(RulesError("export-refund classes are 1 to 4".into()));
        }
        for (name, d) in [
            ("baseline_days_after_exit", self.baseline_days_after_exit),
            (
                "days_after_departure_release",
                self.days_after_departure_release,
            ),
        ] {
            if !(0..=365).contains(&d) {
                return Err(RulesError(format!("{name} must be 0 to 365 days")));
            }
        }
        Ok(())
    }
}

/// What the platform recorded about one shipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentFacts {
    pub shipment: String,
    pub departure_port: String,
    pub exit_port: String,
    pub exporter_refund_class: Option<u8>,
    pub exporter_customs_credit: Option<CreditClass>,
    pub carrier_customs_credit: Option<CreditClass>,
    pub carrier_tax_credit: Option<TaxCredit>,
    pub ship_positioning: bool,
    pub ship_video: bool,
    pub dangerous_goods: bool,
    /// When departure customs released the loaded transit.
    pub released_at: Option<DateTime<Utc>>,
    /// When the ocean vessel left (or is planned to leave) the exit port.
    pub ocean_departure: Option<DateTime<Utc>>,
}

/// One condition and whether the facts meet it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub name: &'static str,
    pub met: bool,
    pub detail: String,
}

/// The assessment of one shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub shipment: String,
    pub eligible: bool,
    pub conditions: Vec<Condition>,
    /// The first day the exporter can file for the refund under the policy.
    pub refund_from: Option<NaiveDate>,
    /// The day it could under the exit-port baseline.
    pub baseline_from: Option<NaiveDate>,
    /// How many days earlier than the baseline.
    pub days_earlier: Option<i64>,
}

/// Assesses `facts` against `rules`, naming every condition met or not. A fact that is
/// unknown counts as not met, with "not recorded" as the detail.
pub fn assess(rules: &RefundRules, f: &ShipmentFacts) -> Assessment {
    let mut c = Vec::new();
    let mut cond = |name, met: bool, detail: String| c.push(Condition { name, met, detail });
    let listed = |list: &[String], port: &str| list.iter().any(|p| p.eq_ignore_ascii_case(port));
    cond(
        "departure port on the list",
        listed(&rules.departure_ports, &f.departure_port),
        f.departure_port.clone(),
    );
    cond(
        "exit port on the list",
        listed(&rules.exit_ports, &f.exit_port),
        f.exit_port.clone(),
    );
    let known = |x: Option<String>| x.unwrap_or_else(|| "not recorded".into());
    cond(
        "exporter export-refund class",
        f.exporter_refund_class
            .is_some_and(|k| rules.exporter_refund_classes.contains(&k)),
        known(f.exporter_refund_class.map(|k| format!("class {k}"))),
    );
    cond(
        "exporter customs credit",
        f.exporter_customs_credit
            .is_some_and(|k| rules.exporter_customs_credit.contains(&k)),
        known(
            f.exporter_customs_credit
                .map(|k| format!("{k:?}").to_lowercase()),
        ),
    );
    cond(
        "carrier customs credit",
        f.carrier_customs_credit
            .is_some_and(|k| rules.carrier_customs_credit.contains(&k)),
        known(
            f.carrier_customs_credit
                .map(|k| format!("{k:?}").to_lowercase()),
        ),
    );
    cond(
        "carrier tax credit",
        f.carrier_tax_credit
            .is_some_and(|k| k <= rules.carrier_min_tax_credit),
        known(f.carrier_tax_credit.map(|k| {
            format!(
                "{k:?} (at least {:?} required)",
                rules.carrier_min_tax_credit
            )
        })),
    );
    if rules.require_positioning {
        cond(
            "ship navigation positioning",
            f.ship_positioning,
            if f.ship_positioning {
                "on file"
            } else {
                "not on file"
            }
            .into(),
        );
    }
    if rules.require_video {
        cond(
            "ship full-voyage video monitoring",
            f.ship_video,
            if f.ship_video {
                "on file"
            } else {
                "not on file"
            }
            .into(),
        );
    }
    if rules.exclude_dangerous_goods {
        cond(
            "no dangerous goods",
            !f.dangerous_goods,
            if f.dangerous_goods {
                "the shipment declares dangerous goods"
            } else {
                "none declared"
            }
            .into(),
        );
    }
    cond(
        "released by departure customs",
        f.released_at.is_some(),
        known(f.released_at.map(|t| t.to_rfc3339())),
    );
    let eligible = c.iter().all(|x| x.met);
    let refund_from = f
        .released_at
        .filter(|_| eligible)
        .map(|t| (t + Duration::days(rules.days_after_departure_release)).date_naive());
    let baseline_from = f
        .ocean_departure
        .map(|t| (t + Duration::days(rules.baseline_days_after_exit)).date_naive());
    let days_earlier = refund_from
        .zip(baseline_from)
        .map(|(a, b)| (b - a).num_days());
    Assessment {
        shipment: f.shipment.clone(),
        eligible,
        conditions: c,
        refund_from,
        baseline_from,
        days_earlier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(d: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_751_328_000 + d * 86_400, 0).expect("time")
    }

    fn facts() -> ShipmentFacts {
        ShipmentFacts {
            shipment: "sh-0001".into(),
            departure_port: "guoyuan-ro-ro".into(),
            exit_port: "haitong-terminal".into(),
            exporter_refund_class: Some(1),
            exporter_customs_credit: Some(CreditClass::Certified),
            carrier_customs_credit: Some(CreditClass::General),
            carrier_tax_credit: Some(TaxCredit::A),
            ship_positioning: true,
            ship_video: true,
            dangerous_goods: false,
            released_at: Some(t(4)),
            ocean_departure: Some(t(16)),
        }
    }

    #[test]
    fn the_demo_shipment_qualifies_fourteen_days_early() {
        let a = assess(&RefundRules::corridor_defaults(), &facts());
        assert!(a.eligible, "{a:?}");
        assert_eq!(a.refund_from, Some(t(5).date_naive()));
        assert_eq!(a.baseline_from, Some(t(19).date_naive()));
        assert_eq!(a.days_earlier, Some(14));
    }

    #[test]
    fn each_failed_condition_is_named() {
        let rules = RefundRules::corridor_defaults();
        let mut f = facts();
        f.departure_port = "chongqing-cuntan".into();
        f.carrier_tax_credit = Some(TaxCredit::C);
        f.exporter_customs_credit = None;
        f.dangerous_goods = true;
        f.ship_video = false;
        let a = assess(&rules, &f);
        assert!(!a.eligible);
        assert_eq!(a.refund_from, None);
        let failed: Vec<&str> = a
            .conditions
            .iter()
            .filter(|c| !c.met)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            failed,
            vec![
                "departure port on the list",
                "exporter customs credit",
                "carrier tax credit",
                "ship full-voyage video monitoring",
                "no dangerous goods",
            ]
        );
        let credit = a
            .conditions
            .iter()
            .find(|c| c.name == "exporter customs credit");
        assert_eq!(credit.map(|c| c.detail.as_str()), Some("not recorded"));
    }

    #[test]
    fn rules_are_data_and_bad_rules_are_refused() {
        let text = include_str!("refund-defaults.toml")
            .replace("require_video = true", "require_video = false");
        let relaxed = RefundRules::from_toml(&text).expect("rules");
        let mut f = facts();
        f.ship_video = false;
        assert!(assess(&relaxed, &f).eligible);
        assert!(!assess(&RefundRules::corridor_defaults(), &f).eligible);
        let typo = text.replace("require_video", "require_vidoe");
        assert!(RefundRules::from_toml(&typo).is_err(), "unknown field");
        let bad = text.replace(
            "exporter_refund_classes = [1, 2]",
            "exporter_refund_classes = [7]",
        );
        assert!(RefundRules::from_toml(&bad).is_err());
        let neg = text.replace(
            "baseline_days_after_exit = 3",
            "baseline_days_after_exit = -3",
        );
        assert!(RefundRules::from_toml(&neg).is_err());
    }
}
