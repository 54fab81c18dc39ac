//! Storage and labour saved against the container-transit baseline, from a cost model that is
//! data ([`CostModel::corridor_defaults`]), per shipment and per period, as CSV or `.xlsx`.

use serde::{Deserialize, Serialize};

/// One cost, per car, on each path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostItem {
    pub name: String,
    pub zh: String,
    /// Cost per car on the container-transit baseline.
    pub baseline: u32,
    /// Cost per car by river–sea ro-ro.
    pub ro_ro: u32,
}

/// The cost model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostModel {
    pub currency: String,
    pub items: Vec<CostItem>,
}

/// A cost model that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cost model: {0}")]
pub struct ModelError(String);

impl CostModel {
    /// This corridor's defaults (`src/savings-defaults.toml`): 1,500 yuan a car.
    pub fn corridor_defaults() -> CostModel {
        match CostModel::from_toml(include_str!("savings-defaults.toml")) {
            Ok(m) => m,
            // Compiled in and tested; unreachable in a tested build.
            Err(e) => panic!("{e}"),
        }
    }

    pub fn from_toml(text: &str) -> Result<CostModel, ModelError> {
        let m: CostModel = toml::from_str(text).map_err(|e| ModelError(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    pub fn check(&self) -> Result<(), ModelError> {
        if self.items.is_empty() {
            return Err(ModelError("no cost items".into()));
        }
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ModelError(format!(
                "currency {:?} is not an ISO 4217 code",
                self.currency
            )));
        }
        if let Some(i) = self.items.iter().find(|i| i.name.trim().is_empty()) {
            return Err(ModelError(format!("an item has no name ({:?})", i.zh)));
        }
        Ok(())
    }

    /// Saved per car (negative when ro-ro costs more).
    pub fn per_car(&self) -> i64 {
        self.items
            .iter()
            .map(|i| i64::from(i.baseline) - i64::from(i.ro_ro))
            .sum()
    }
}

/// One line of a breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub name: String,
    pub zh: String,
    pub baseline: i64,
    pub ro_ro: i64,
    pub saved: i64,
}

/// What one shipment saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentSavings {
    pub shipment: String,
    pub cars: u32,
    pub lines: Vec<Line>,
    pub saved: i64,
}

/// What a set of shipments (a period) saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Savings {
    pub currency: String,
    pub shipments: Vec<ShipmentSavings>,
    pub cars: u64,
    pub saved: i64,
    /// Per item, over the period.
    pub lines: Vec<Line>,
}

/// The savings of one shipment of `cars` cars.
pub fn shipment(model: &CostModel, id: &str, cars: u32) -> ShipmentSavings {
    let n = i64::from(cars);
    let lines: Vec<Line> = model
        .items
        .iter()
        .map(|i| Line {
            name: i.name.clone(),
            zh: i.zh.clone(),
            baseline: i64::from(i.baseline) * n,
            ro_ro: i64::from(i.ro_ro) * n,
            saved: (i64::from(i.baseline) - i64::from(i.ro_ro)) * n,
        })
        .collect();
    ShipmentSavings {
        shipment: id.to_string(),
        cars,
        saved: lines.iter().map(|l| l.saved).sum(),
        lines,
    }
}

/// The savings of a period: each shipment (id, cars) and the totals per item.
pub fn period(model: &CostModel, shipments: &[(String, u32)]) -> Savings {
    let each: Vec<ShipmentSavings> = shipments
        .iter()
        .map(|(id, cars)| shipment(model, id, *cars))
        .collect();
    let lines = model
        .items
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let sum = |f: fn(&Line) -> i64| each.iter().map(|s| f(&s.lines[k])).sum();
            Line {
                name: i.name.clone(),
                zh: i.zh.clone(),
                baseline: sum(|l| l.baseline),
                ro_ro: sum(|l| l.ro_ro),
                saved: sum(|l| l.saved),
            }
        })
        .collect();
    Savings {
        currency: model.currency.clone(),
        cars: each.iter().map(|s| u64::from(s.cars)).sum(),
        saved: each.iter().map(|s| s.saved).sum(),
        shipments: each,
        lines,
    }
}

/// The report's rows: one per shipment and item, then the totals per item.
fn rows(s: &Savings, zh: bool) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = if zh {
        vec![
            "运单",
            "车辆数",
            "项目",
            "集装箱转关基准",
            "江海滚装",
            "节省",
            "币种",
        ]
    } else {
        vec![
            "shipment",
            "cars",
            "item",
            "container baseline",
            "river-sea ro-ro",
            "saved",
            "currency",
        ]
    };
    let name = |l: &Line| if zh { l.zh.clone() } else { l.name.clone() };
    let mut out = Vec::new();
    for sh in &s.shipments {
        for l in &sh.lines {
            out.push(vec![
                sh.shipment.clone(),
                sh.cars.to_string(),
                name(l),
                l.baseline.to_string(),
                l.ro_ro.to_string(),
                l.saved.to_string(),
                s.currency.clone(),
            ]);
        }
    }
    let total = if zh { "合计" } else { "total" };
    for l in &s.lines {
        out.push(vec![
            total.to_string(),
            s.cars.to_string(),
            name(l),
            l.baseline.to_string(),
            l.ro_ro.to_string(),
            l.saved.to_string(),
            s.currency.clone(),
        ]);
    }
    out.push(vec![
        total.to_string(),
        s.cars.to_string(),
        if zh { "全部" } else { "all" }.to_string(),
        s.lines.iter().map(|l| l.baseline).sum::<i64>().to_string(),
        s.lines.iter().map(|l| l.ro_ro).sum::<i64>().to_string(),
        s.saved.to_string(),
        s.currency.clone(),
    ]);
    (header, out)
}

/// The report as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese).
pub fn csv(s: &Savings, zh: bool) -> Result<Vec<u8>, String> {
    let (header, rows) = rows(s, zh);
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(&header).map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record(&r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// The report as an `.xlsx` workbook (numbers as numbers).
pub fn xlsx(s: &Savings, zh: bool) -> Result<Vec<u8>, String> {
    let (header, rows) = rows(s, zh);
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let e = |e: rust_xlsxwriter::XlsxError| e.to_string();
    sheet
        .set_name(if zh { "节省" } else { "savings" })
        .map_err(e)?;
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).map_err(e)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in row.iter().enumerate() {
            match v.parse::<i64>() {
                Ok(n) if c != 0 => sheet.write_number(r, c as u16, n as f64).map_err(e)?,
                _ => sheet.write_string(r, c as u16, v).map_err(e)?,
            };
        }
    }
    book.save_to_buffer().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_save_1500_yuan_a_car() {
        let m = CostModel::corridor_defaults();
        assert_eq!(m.per_car(), 1_500);
        let s = shipment(&m, "sh-0001", 108);
        assert_eq!(s.saved, 162_000);
        assert_eq!(s.lines.iter().map(|l| l.saved).sum::<i64>(), s.saved);
    }

    #[test]
    fn a_period_adds_up_per_item_and_exports() {
        let m = CostModel::corridor_defaults();
        let p = period(&m, &[("a".into(), 108), ("b".into(), 40), ("c".into(), 0)]);
        assert_eq!(p.cars, 148);
        assert_eq!(p.saved, 148 * 1_500);
        assert_eq!(p.lines.iter().map(|l| l.saved).sum::<i64>(), p.saved);
        let text = String::from_utf8(csv(&p, true).expect("csv")).expect("utf-8");
        assert!(text.starts_with("\u{feff}运单,车辆数"), "{text}");
        assert!(
            text.trim_end()
                .ends_with("合计,148,全部,251600,29600,222000,CNY"),
            "{text}"
        );
        let book = xlsx(&p, false).expect("xlsx");
        assert!(book.starts_with(b"PK"));
    }

    #[test]
    fn bad_models_are_refused() {
        let text = include_str!("savings-defaults.toml");
        assert!(CostModel::from_toml(&text.replace("CNY", "yuan")).is_err());
        assert!(CostModel::from_toml(&text.replace("baseline = 420", "baseline = -420")).is_err());
        assert!(CostModel::from_toml(&text.replace("ro_ro = 0", "ro_ro = 0\ncost = 1")).is_err());
        assert!(CostModel::from_toml("currency = \"CNY\"\nitems = []").is_err());
    }

    proptest::proptest! {
        #[test]
        fn totals_are_the_sum_of_shipments(cars in proptest::collection::vec(0u32..5_000, 0..20)) {
            let m = CostModel::corridor_defaults();
            let list: Vec<(String, u32)> = cars.iter().enumerate().map(|(i, c)| (format!("s{i}"), *c)).collect();
            let p = period(&m, &list);
            proptest::prop_assert_eq!(p.saved, p.shipments.iter().map(|s| s.saved).sum::<i64>());
            proptest::prop_assert_eq!(p.saved, m.per_car() * p.cars as i64);
        }
    }
}
