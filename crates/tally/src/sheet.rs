//! The tally sheet (理货单): a session's result as CSV or Excel `.xlsx`, in English or Chinese.

use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;

use crate::reconcile::{Outcome, TallyLine};

/// The language of a sheet's headings and results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "zh" | "zh-cn" | "chinese" | "中文" => Some(Lang::Zh),
            _ => None,
        }
    }
}

/// What a sheet says about its session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SheetHeader {
    pub session: String,
    pub facility: String,
    pub shipment: String,
    pub opened_at: String,
    pub closed_at: Option<String>,
    pub tallyman: String,
}

/// One row of the sheet: a reconciliation line plus the car's particulars, if known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SheetRow {
    pub line: TallyLine,
    pub model: Option<String>,
    /// Damage codes recorded for the car (five digits each).
    pub damage: Vec<String>,
}

const COLUMNS_EN: [&str; 7] = [
    "Line",
    "Expected VIN",
    "Observed",
    "Result",
    "Model",
    "Damage codes",
    "Detail",
];
const COLUMNS_ZH: [&str; 7] = [
    "序号",
    "舱单车架号",
    "实际识别",
    "理货结果",
    "车型",
    "残损代码",
    "说明",
];

fn header_pairs(h: &SheetHeader, lang: Lang) -> Vec<(&'static str, String)> {
    let zh = lang == Lang::Zh;
    vec![
        (if zh { "理货单" } else { "Tally sheet" }, h.session.clone()),
        (if zh { "场站" } else { "Facility" }, h.facility.clone()),
        (if zh { "批次" } else { "Shipment" }, h.shipment.clone()),
        (if zh { "开始时间" } else { "Opened" }, h.opened_at.clone()),
        (
            if zh { "结束时间" } else { "Closed" },
            h.closed_at.clone().unwrap_or_default(),
        ),
        (if zh { "理货员" } else { "Tallyman" }, h.tallyman.clone()),
    ]
}

fn outcome(o: Outcome, lang: Lang) -> &'static str {
    match lang {
        Lang::En => o.as_str(),
        Lang::Zh => o.zh(),
    }
}

fn cells(r: &SheetRow, lang: Lang) -> [String; 7] {
    [
        r.line.line.map(|l| l.to_string()).unwrap_or_default(),
        r.line.expected.map(|v| v.to_string()).unwrap_or_default(),
        r.line.observed.clone().unwrap_or_default(),
        outcome(r.line.outcome, lang).to_string(),
        r.model.clone().unwrap_or_default(),
        r.damage.join(" "),
        r.line.detail.clone(),
    ]
}

fn summary(rows: &[SheetRow], lang: Lang) -> Vec<(String, usize)> {
    Outcome::ALL
        .into_iter()
        .map(|o| {
            (
                outcome(o, lang).to_string(),
                rows.iter().filter(|r| r.line.outcome == o).count(),
            )
        })
        .collect()
}

/// Neutralises text a spreadsheet would run as a formula (CSV injection).
fn safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The sheet as CSV (UTF-8 with a BOM, so Excel opens Chinese text correctly): the header
/// block, a blank line, the lines, a blank line, the count per result.
pub fn csv(h: &SheetHeader, rows: &[SheetRow], lang: Lang) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut write = |rec: Vec<String>| {
        let _ = w.write_record(rec.iter().map(|s| safe(s)));
    };
    for (k, v) in header_pairs(h, lang) {
        write(vec![k.into(), v]);
    }
    write(vec![String::new()]);
    let cols = if lang == Lang::Zh {
        COLUMNS_ZH
    } else {
        COLUMNS_EN
    };
    write(cols.iter().map(|s| s.to_string()).collect());
    for r in rows {
        write(cells(r, lang).to_vec());
    }
    write(vec![String::new()]);
    for (k, n) in summary(rows, lang) {
        write(vec![k, n.to_string()]);
    }
    w.into_inner().unwrap_or_default()
}

/// Why an `.xlsx` could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the tally sheet: {0}")]
pub struct SheetError(#[from] rust_xlsxwriter::XlsxError);

/// The sheet as an Excel workbook: one worksheet with the header block, the lines (with a
/// filter and frozen headings) and the count per result.
pub fn xlsx(h: &SheetHeader, rows: &[SheetRow], lang: Lang) -> Result<Vec<u8>, SheetError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = book.add_worksheet();
    ws.set_name(if lang == Lang::Zh {
        "理货单"
    } else {
        "Tally sheet"
    })?;
    let mut row = 0u32;
    for (k, v) in header_pairs(h, lang) {
        ws.write_string_with_format(row, 0, k, &bold)?;
        ws.write_string(row, 1, v)?;
        row += 1;
    }
    row += 1;
    let first = row;
    let cols = if lang == Lang::Zh {
        COLUMNS_ZH
    } else {
        COLUMNS_EN
    };
    for (c, name) in cols.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *name, &bold)?;
    }
    for (c, width) in [6.0, 20.0, 20.0, 12.0, 18.0, 14.0, 50.0]
        .into_iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, width)?;
    }
    for r in rows {
        row += 1;
        for (c, value) in cells(r, lang).into_iter().enumerate() {
            if c == 0
                && let Some(n) = r.line.line
            {
                ws.write_number(row, 0, f64::from(n))?;
            } else {
                ws.write_string(row, c as u16, value)?;
            }
        }
    }
    ws.autofilter(first, 0, row.max(first), (cols.len() - 1) as u16)?;
    ws.set_freeze_panes(first + 1, 0)?;
    row += 2;
    for (k, n) in summary(rows, lang) {
        ws.write_string_with_format(row, 0, k, &bold)?;
        ws.write_number(row, 1, n as f64)?;
        row += 1;
    }
    Ok(book.save_to_buffer()?)
}
