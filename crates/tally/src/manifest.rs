//! Exporters' manifests (VIN lists with the car's particulars) from CSV or Excel `.xlsx`.
//!
//! Both formats become the same grid of text cells with their spreadsheet line numbers, and
//! one validator checks every row: a manifest is accepted whole or refused with every bad row
//! named by line and column. Nothing is guessed: undecodable text, formulas without a value,
//! and merged cells that would hide a value are refused or handled explicitly.
//!
//! | column (English / 中文) | required | meaning |
//! |---|---|---|
//! | `vin` / 车架号, VIN码, 车辆识别代号 | yes | ISO 3779 VIN with a valid check digit |
//! | `make` / 品牌, 厂牌 | no | maker, free text |
//! | `model` / 车型 | no | model, free text |
//! | `length_mm`, `width_mm`, `height_mm` / 长, 宽, 高 | no | integer millimetres, 1,000–20,000 (length), 1,000–3,000 (width), 1,000–4,500 (height) |
//! | `weight_kg` / 重量, 整备质量 | no | integer kilograms, 300–40,000 |
//! | `powertrain` (`fuel`, `fuel_type`) / 燃料类型, 动力类型 | no | BEV, PHEV, HEV, EREV or ICE (纯电动, 插电混动, 油电混动, 增程式, 燃油) |
//! | `soc_pct` (`soc`) / 电量, SOC | no | battery state of charge 0–100, only for BEV, PHEV, EREV |
//! | `destination` / 目的地, 目的国 | no | ISO 3166 alpha-2 country (e.g. `MX`) |
//!
//! Columns may come in any order; unknown columns are ignored; fully empty rows are skipped.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};

use calamine::{Data, Reader, Xlsx};
use jianghai_core::{Powertrain, Vin};
use serde::Serialize;

/// Most data rows one manifest may hold.
pub const MAX_ROWS: usize = 20_000;
/// Most bytes the parts of an `.xlsx` may expand to (a zip bomb is refused before reading).
pub const MAX_XLSX_EXPANDED: u64 = 64 * 1024 * 1024;
/// Most parts an `.xlsx` archive may hold.
const MAX_XLSX_ENTRIES: usize = 1_000;

/// One validated manifest row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManifestLine {
    /// Line number in the file: the CSV line, or the spreadsheet row (the header is line 1
    /// when it is the first row).
    pub line: u32,
    pub vin: Vin,
    pub make: Option<String>,
    pub model: Option<String>,
    pub length_mm: Option<u32>,
    pub width_mm: Option<u32>,
    pub height_mm: Option<u32>,
    pub weight_kg: Option<u32>,
    pub powertrain: Option<Powertrain>,
    pub soc_pct: Option<u8>,
    pub destination: Option<String>,
}

/// A whole, valid manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub lines: Vec<ManifestLine>,
}

/// One thing wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}, {column}: {message}")]
pub struct RowError {
    pub line: u32,
    pub column: String,
    pub message: String,
}

/// Why a manifest was refused. Nothing of it may be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("the manifest is empty")]
    Empty,
    #[error(
        "the manifest is not valid {0}; send UTF-8 (with or without BOM) or GBK, and say which"
    )]
    Encoding(String),
    #[error("charset {0:?} is not supported; use utf-8 or gbk")]
    Charset(String),
    #[error("not an .xlsx workbook: {0}")]
    NotXlsx(String),
    #[error("the workbook expands to more than {max} bytes or {MAX_XLSX_ENTRIES} parts; refused")]
    TooLarge { max: u64 },
    #[error("the header row (line {line}) has no VIN column (vin, 车架号, VIN码 or 车辆识别代号)")]
    NoVinColumn { line: u32 },
    #[error("the manifest has more than {MAX_ROWS} rows")]
    TooManyRows,
    #[error("the manifest lists no vehicles")]
    NoRows,
    #[error("{} row error(s), first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Rows(Vec<RowError>),
}

/// Decodes manifest bytes to text: `charset` wins (utf-8, gbk, gb18030, gb2312); without one,
/// a UTF-8 BOM or valid UTF-8 is UTF-8, and anything else is tried as GB18030 (a superset of
/// GBK). Undecodable bytes are refused, never replaced.
pub fn decode_text(bytes: &[u8], charset: Option<&str>) -> Result<String, ManifestError> {
    let strip_bom = |b: &[u8]| b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b).to_vec();
    match charset.map(|c| c.trim().trim_matches('"').to_ascii_lowercase()) {
        Some(label) => {
            let enc = encoding_rs::Encoding::for_label(label.as_bytes())
                .filter(|e| {
                    *e == encoding_rs::UTF_8 || *e == encoding_rs::GBK || *e == encoding_rs::GB18030
                })
                .ok_or(ManifestError::Charset(label))?;
            let body = if enc == encoding_rs::UTF_8 {
                strip_bom(bytes)
            } else {
                bytes.to_vec()
            };
            enc.decode_without_bom_handling_and_without_replacement(&body)
                .map(|c| c.into_owned())
                .ok_or_else(|| ManifestError::Encoding(enc.name().into()))
        }
        None => match String::from_utf8(strip_bom(bytes)) {
            Ok(s) => Ok(s),
            Err(e) => encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(e.as_bytes())
                .map(|c| c.into_owned())
                .ok_or_else(|| ManifestError::Encoding("UTF-8 or GBK".into())),
        },
    }
}

/// A row of text cells with its line number.
struct Row {
    line: u32,
    cells: Vec<String>,
}

/// Parses a CSV manifest (see [`decode_text`] for the encodings).
pub fn parse_csv(bytes: &[u8], charset: Option<&str>) -> Result<Manifest, ManifestError> {
    if bytes.is_empty() {
        return Err(ManifestError::Empty);
    }
    let text = decode_text(bytes, charset)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    // csv counts lines wrongly after blank lines; count them from the byte offsets instead.
    let mut lines = LineCounter::new(text.as_bytes());
    for rec in rdr.records() {
        match rec {
            Ok(r) => rows.push(Row {
                line: lines.at(r.position().map(|p| p.byte()).unwrap_or(0)),
                cells: r.iter().map(str::to_string).collect(),
            }),
            Err(e) => errors.push(RowError {
                line: lines.at(e.position().map(|p| p.byte()).unwrap_or(0)),
                column: "row".into(),
                message: e.to_string(),
            }),
        }
        if rows.len() > MAX_ROWS + 1 {
            return Err(ManifestError::TooManyRows);
        }
    }
    validate(rows, errors)
}

/// Line numbers (1-based) of byte offsets, for offsets that only grow.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record csv says starts at `byte` (it reports the start of the blank
    /// lines it skipped before the record, so those are skipped here too).
    fn at(&mut self, byte: u64) -> u32 {
        let mut to = (byte as usize).min(self.text.len());
        while to < self.text.len() && matches!(self.text[to], b'\n' | b'\r') {
            to += 1;
        }
        if to > self.offset {
            self.line += self.text[self.offset..to]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u32;
            self.offset = to;
        }
        self.line
    }
}

/// Refuses an archive whose parts would expand beyond [`MAX_XLSX_EXPANDED`], reading only the
/// zip's central directory.
fn check_archive<R: Read + Seek>(r: R) -> Result<(), ManifestError> {
    let mut zip = zip::ZipArchive::new(r).map_err(|e| ManifestError::NotXlsx(e.to_string()))?;
    if zip.len() > MAX_XLSX_ENTRIES {
        return Err(ManifestError::TooLarge {
            max: MAX_XLSX_EXPANDED,
        });
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let f = zip
            .by_index_raw(i)
            .map_err(|e| ManifestError::NotXlsx(e.to_string()))?;
        total = total.saturating_add(f.size());
    }
    if total > MAX_XLSX_EXPANDED {
        return Err(ManifestError::TooLarge {
            max: MAX_XLSX_EXPANDED,
        });
    }
    Ok(())
}

fn cell_text(d: &Data) -> Result<String, String> {
    Ok(match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d.to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("the cell holds the error {e}")),
    })
}

/// Parses the first worksheet of an Excel `.xlsx` workbook.
///
/// Merged cells: a merged range spanning rows (a destination written once for a block of
/// cars) gives its value to every row it covers; a merge across the VIN column is refused.
/// Formulas: the value Excel computed is used; a formula without a stored value is refused.
/// Legacy `.xls` (BIFF, with code-page text such as GBK) is refused: save as `.xlsx` or CSV.
pub fn parse_xlsx(bytes: &[u8]) -> Result<Manifest, ManifestError> {
    if bytes.is_empty() {
        return Err(ManifestError::Empty);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(ManifestError::NotXlsx(
            "this is a legacy .xls (BIFF) workbook; save it as .xlsx or CSV (UTF-8 or GBK)".into(),
        ));
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(ManifestError::NotXlsx(
            "the file is not a zip archive, as .xlsx files are".into(),
        ));
    }
    check_archive(Cursor::new(bytes))?;
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| ManifestError::NotXlsx(e.to_string()))?;
    let Some(sheet) = book.sheet_names().first().cloned() else {
        return Err(ManifestError::NotXlsx(
            "the workbook has no worksheet".into(),
        ));
    };
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| ManifestError::NotXlsx(e.to_string()))?;
    let formulas = book.worksheet_formula(&sheet).ok();
    let merges = book.merge_cells_by_sheet_name(&sheet).unwrap_or_default();
    let Some((r0, c0)) = range.start() else {
        return Err(ManifestError::NoRows);
    };
    let (h, w) = range.get_size();
    if h > MAX_ROWS + 1 {
        return Err(ManifestError::TooManyRows);
    }
    let mut errors = Vec::new();
    let mut grid: Vec<Vec<String>> = Vec::with_capacity(h);
    for (ri, row) in range.rows().enumerate() {
        let mut cells = Vec::with_capacity(w);
        for (ci, d) in row.iter().enumerate() {
            let (r, c) = (r0 + ri as u32, c0 + ci as u32);
            let text = match cell_text(d) {
                Ok(t) => t,
                Err(msg) => {
                    errors.push(RowError {
                        line: r + 1,
                        column: column_name(c),
                        message: msg,
                    });
                    String::new()
                }
            };
            let formula = formulas
                .as_ref()
                .and_then(|f| f.get_value((r, c)))
                .filter(|f| !f.is_empty());
            if let Some(f) = formula
                && text.is_empty()
            {
                errors.push(RowError {
                    line: r + 1,
                    column: column_name(c),
                    message: format!(
                        "the cell holds the formula ={f} without a computed value; open and save the workbook in Excel, or paste values"
                    ),
                });
            }
            cells.push(text);
        }
        grid.push(cells);
    }
    // Merged ranges: fill every cell with the top-left value, except in rows that are empty
    // of their own (a merged column passing beside an empty row does not make it a car).
    let empty: Vec<bool> = grid
        .iter()
        .map(|row| row.iter().all(String::is_empty))
        .collect();
    for m in &merges {
        let (top, left) = m.start;
        let (bottom, right) = m.end;
        let value = grid
            .get((top.saturating_sub(r0)) as usize)
            .and_then(|row| row.get((left.saturating_sub(c0)) as usize))
            .cloned()
            .unwrap_or_default();
        for r in top..=bottom {
            for c in left..=right {
                if r < r0 || c < c0 || empty.get((r - r0) as usize) == Some(&true) {
                    continue;
                }
                if let Some(cell) = grid
                    .get_mut((r - r0) as usize)
                    .and_then(|row| row.get_mut((c - c0) as usize))
                {
                    cell.clone_from(&value);
                }
            }
        }
    }
    let rows: Vec<Row> = grid
        .into_iter()
        .enumerate()
        .map(|(i, cells)| Row {
            line: r0 + i as u32 + 1,
            cells,
        })
        .collect();
    // A merge that spans rows across the VIN column would give two cars one VIN.
    if let Some(header) = rows.iter().find(|r| r.cells.iter().any(|c| !c.is_empty()))
        && let Some(vin_col) = header
            .cells
            .iter()
            .position(|h| column_of(h) == Some(Col::Vin))
    {
        let vin_col = c0 + vin_col as u32;
        for m in &merges {
            if m.start.1 <= vin_col && vin_col <= m.end.1 && m.end.0 > m.start.0 {
                errors.push(RowError {
                    line: m.start.0 + 1,
                    column: column_name(vin_col),
                    message: format!(
                        "cells {}{}:{}{} of the VIN column are merged; every car needs its own VIN",
                        column_name(m.start.1),
                        m.start.0 + 1,
                        column_name(m.end.1),
                        m.end.0 + 1
                    ),
                });
            }
        }
    }
    validate(rows, errors)
}

/// Spreadsheet column letters for a 0-based index (0 → A, 26 → AA).
fn column_name(mut c: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    Vin,
    Make,
    Model,
    Length,
    Width,
    Height,
    Weight,
    Powertrain,
    Soc,
    Destination,
}

fn column_of(header: &str) -> Option<Col> {
    let h = header.trim().to_lowercase();
    let h = h.split(['(', '（']).next().unwrap_or("").trim();
    Some(match h {
        "vin" | "vin码" | "车架号" | "车辆识别代号" | "车辆识别号" => Col::Vin,
        "make" | "brand" | "maker" | "品牌" | "厂牌" => Col::Make,
        "model" | "车型" | "型号" => Col::Model,
        "length_mm" | "length" | "长" | "车长" | "长度" => Col::Length,
        "width_mm" | "width" | "宽" | "车宽" | "宽度" => Col::Width,
        "height_mm" | "height" | "高" | "车高" | "高度" => Col::Height,
        "weight_kg" | "weight" | "重量" | "整备质量" | "质量" => Col::Weight,
        "powertrain" | "fuel" | "fuel_type" | "燃料类型" | "动力类型" | "能源类型" => {
            Col::Powertrain
        }
        "soc_pct" | "soc" | "battery_soc" | "电量" => Col::Soc,
        "destination" | "目的地" | "目的国" => Col::Destination,
        _ => return None,
    })
}

fn column_label(c: Col) -> &'static str {
    match c {
        Col::Vin => "vin",
        Col::Make => "make",
        Col::Model => "model",
        Col::Length => "length_mm",
        Col::Width => "width_mm",
        Col::Height => "height_mm",
        Col::Weight => "weight_kg",
        Col::Powertrain => "powertrain",
        Col::Soc => "soc_pct",
        Col::Destination => "destination",
    }
}

/// Parses a powertrain code in English or Chinese.
pub fn powertrain(s: &str) -> Option<Powertrain> {
    Some(match s.trim().to_ascii_uppercase().as_str() {
        "BEV" | "EV" | "纯电动" | "纯电" => Powertrain::Bev,
        "PHEV" | "插电混动" | "插电式混合动力" => Powertrain::Phev,
        "HEV" | "油电混动" | "混合动力" => Powertrain::Hev,
        "EREV" | "增程式" | "增程" => Powertrain::Erev,
        "ICE" | "燃油" | "汽油" | "柴油" => Powertrain::Ice,
        _ => return None,
    })
}

fn integer(s: &str, min: u32, max: u32, unit: &str) -> Result<u32, String> {
    let t = s.trim().replace([',', '_'], "");
    let n: f64 = t
        .parse()
        .map_err(|_| format!("{s:?} is not a number of {unit}"))?;
    if n.fract() != 0.0 || !n.is_finite() {
        return Err(format!("{s:?} must be a whole number of {unit}"));
    }
    if n < f64::from(min) || n > f64::from(max) {
        return Err(format!("{s} {unit} is outside {min}–{max}"));
    }
    Ok(n as u32)
}

fn text(s: &str) -> Result<String, String> {
    if s.chars().count() > 100 {
        return Err("longer than 100 characters".into());
    }
    if s.chars().any(|c| c.is_control() || c == '\u{FFFD}') {
        return Err("holds control or replacement characters (is the encoding right?)".into());
    }
    Ok(s.to_string())
}

/// Validates a grid: the first non-empty row is the header; every later non-empty row a car.
fn validate(rows: Vec<Row>, mut errors: Vec<RowError>) -> Result<Manifest, ManifestError> {
    let mut it = rows
        .into_iter()
        .filter(|r| r.cells.iter().any(|c| !c.trim().is_empty()));
    let Some(header) = it.next() else {
        return Err(if errors.is_empty() {
            ManifestError::NoRows
        } else {
            ManifestError::Rows(errors)
        });
    };
    let cols: Vec<Option<Col>> = header.cells.iter().map(|h| column_of(h)).collect();
    if !cols.contains(&Some(Col::Vin)) {
        return Err(ManifestError::NoVinColumn { line: header.line });
    }
    let mut lines = Vec::new();
    let mut seen: HashMap<Vin, u32> = HashMap::new();
    for row in it {
        let mut get: HashMap<Col, &str> = HashMap::new();
        for (i, c) in cols.iter().enumerate() {
            if let (Some(c), Some(v)) = (c, row.cells.get(i)) {
                get.entry(*c).or_insert(v.as_str());
            }
        }
        let before = errors.len();
        let mut err = |col: Col, message: String| {
            errors.push(RowError {
                line: row.line,
                column: column_label(col).into(),
                message,
            })
        };
        let opt = |c: Col| get.get(&c).map(|s| s.trim()).filter(|s| !s.is_empty());
        let vin = match opt(Col::Vin) {
            None => {
                err(Col::Vin, "the VIN is empty".into());
                None
            }
            Some(v) => match Vin::parse(v) {
                Ok(v) => {
                    if let Some(first) = seen.insert(v, row.line) {
                        err(Col::Vin, format!("VIN {v} already appears on line {first}"));
                    }
                    Some(v)
                }
                Err(e) => {
                    err(Col::Vin, format!("{v}: {e}"));
                    None
                }
            },
        };
        let mut num =
            |c: Col, min, max, unit: &str| match opt(c).map(|s| integer(s, min, max, unit)) {
                Some(Ok(n)) => Some(n),
                Some(Err(m)) => {
                    err(c, m);
                    None
                }
                None => None,
            };
        let length_mm = num(Col::Length, 1_000, 20_000, "mm");
        let width_mm = num(Col::Width, 1_000, 3_000, "mm");
        let height_mm = num(Col::Height, 1_000, 4_500, "mm");
        let weight_kg = num(Col::Weight, 300, 40_000, "kg");
        let soc = num(Col::Soc, 0, 100, "percent");
        let pt = match opt(Col::Powertrain) {
            None => None,
            Some(s) => match powertrain(s) {
                Some(p) => Some(p),
                None => {
                    err(
                        Col::Powertrain,
                        format!("{s:?} is not BEV, PHEV, HEV, EREV or ICE"),
                    );
                    None
                }
            },
        };
        if let (Some(_), Some(p)) = (soc, pt)
            && !p.is_electric()
        {
            err(
                Col::Soc,
                "a state of charge is given for a car without a traction battery".into(),
            );
        }
        let mut free = |c: Col| match opt(c).map(text) {
            Some(Ok(s)) => Some(s),
            Some(Err(m)) => {
                err(c, m);
                None
            }
            None => None,
        };
        let make = free(Col::Make);
        let model = free(Col::Model);
        let destination = match opt(Col::Destination) {
            None => None,
            Some(d) if d.len() == 2 && d.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(d.to_ascii_uppercase())
            }
            Some(d) => {
                err(
                    Col::Destination,
                    format!("{d:?} is not an ISO 3166 two-letter country code (e.g. MX)"),
                );
                None
            }
        };
        if errors.len() == before
            && let Some(vin) = vin
        {
            lines.push(ManifestLine {
                line: row.line,
                vin,
                make,
                model,
                length_mm,
                width_mm,
                height_mm,
                weight_kg,
                powertrain: pt,
                soc_pct: soc.map(|s| s as u8),
                destination,
            });
        }
        if lines.len() > MAX_ROWS {
            return Err(ManifestError::TooManyRows);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(ManifestError::Rows(errors));
    }
    if lines.is_empty() {
        return Err(ManifestError::NoRows);
    }
    Ok(Manifest { lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "LRW3E7FS5PC695355";
    const V2: &str = "1HGCM82633A004352";

    #[test]
    fn csv_with_every_column_in_any_order() {
        let csv = format!(
            "model,vin,make,length_mm,width_mm,height_mm,weight_kg,powertrain,soc_pct,destination\n\
             Model Y,{V1},Tesla,4750,1921,1624,1997,BEV,45,mx\n\n,,,,,,,,,\n\
             Accord,{V2},Honda,4900,1860,1450,1500,ICE,,MX\n"
        );
        let m = parse_csv(csv.as_bytes(), None).expect("valid");
        assert_eq!(m.lines.len(), 2);
        assert_eq!(m.lines[0].line, 2);
        assert_eq!(m.lines[1].line, 5, "empty rows are skipped but counted");
        assert_eq!(m.lines[0].soc_pct, Some(45));
        assert_eq!(m.lines[0].destination.as_deref(), Some("MX"));
        assert_eq!(m.lines[1].powertrain, Some(Powertrain::Ice));
    }

    #[test]
    fn every_bad_row_is_named_by_line_and_column() {
        let csv = format!(
            "vin,powertrain,soc_pct,length_mm,destination\n\
             {V1},BEV,145,4750,MX\n\
             LRW3E7FS6PC695355,ICE,,4750,MX\n\
             {V2},ICE,40,4750,MX\n\
             {V1},BEV,40,47.5,Mexico\n"
        );
        let Err(ManifestError::Rows(errs)) = parse_csv(csv.as_bytes(), None) else {
            panic!("must be refused")
        };
        let got: Vec<(u32, &str)> = errs.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "soc_pct"),
                (3, "vin"),
                (4, "soc_pct"),
                (5, "vin"),
                (5, "length_mm"),
                (5, "destination"),
            ]
        );
        assert!(errs[1].message.contains("check digit"));
        assert!(errs[3].message.contains("already appears on line 2"));
    }

    #[test]
    fn gbk_text_is_decoded_and_broken_bytes_refused() {
        let text = format!("车架号,品牌,车型\n{V1},长安,UNI-K\n");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let m = parse_csv(&gbk, None).expect("GBK without a charset is detected");
        assert_eq!(m.lines[0].make.as_deref(), Some("长安"));
        let m = parse_csv(&gbk, Some("gbk")).expect("declared GBK");
        assert_eq!(m.lines[0].model.as_deref(), Some("UNI-K"));
        assert!(matches!(
            parse_csv(&gbk, Some("utf-8")),
            Err(ManifestError::Encoding(_))
        ));
        assert!(matches!(
            parse_csv(b"vin\n\xff\xff\xff\n", None),
            Err(ManifestError::Encoding(_))
        ));
        assert!(matches!(
            parse_csv(b"vin\n", Some("latin1")),
            Err(ManifestError::Charset(_))
        ));
    }

    #[test]
    fn headers_and_empty_files_get_clear_errors() {
        assert_eq!(parse_csv(b"", None), Err(ManifestError::Empty));
        assert_eq!(parse_csv(b"\n\n,,\n", None), Err(ManifestError::NoRows));
        assert_eq!(
            parse_csv(b"\nmodel,make\nx,y\n", None),
            Err(ManifestError::NoVinColumn { line: 2 })
        );
        assert_eq!(parse_csv(b"vin\n", None), Err(ManifestError::NoRows));
    }

    #[test]
    fn xlsx_refuses_what_is_not_a_workbook() {
        assert!(matches!(
            parse_xlsx(b"vin\nX\n"),
            Err(ManifestError::NotXlsx(_))
        ));
        let xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        let Err(ManifestError::NotXlsx(m)) = parse_xlsx(&xls) else {
            panic!("legacy xls")
        };
        assert!(m.contains(".xls"));
        assert!(matches!(
            parse_xlsx(b"PK\x03\x04garbage"),
            Err(ManifestError::NotXlsx(_))
        ));
        assert_eq!(parse_xlsx(b""), Err(ManifestError::Empty));
    }

    #[test]
    fn column_letters() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(27), "AB");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }
}
