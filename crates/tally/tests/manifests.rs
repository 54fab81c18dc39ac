//! Manifests as exporters send them: `.xlsx` workbooks written with rust_xlsxwriter (merged
//! cells, formulas, empty rows, Chinese headers) and CSV in UTF-8 or GBK.

use jianghai_core::{Powertrain, Vin};
use jianghai_tally::manifest::{self, ManifestError};
use proptest::prelude::*;
use rust_xlsxwriter::{Format, Formula, Workbook};

fn vin(i: u32) -> Vin {
    Vin::with_check_digit(&format!("LS5A3DKE0SC{i:06}")).expect("vin")
}

fn book(fill: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut b = Workbook::new();
    fill(b.add_worksheet());
    b.save_to_buffer().expect("xlsx")
}

/// Rewrites one part of an .xlsx archive.
fn rewrite_part(xlsx: &[u8], part: &str, f: impl Fn(&str) -> String) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut file = zin.by_index(i).expect("entry");
        let name = file.name().expect("entry name").to_string();
        let mut data = Vec::new();
        file.read_to_end(&mut data).expect("read");
        if name == part {
            let text = String::from_utf8(data).expect("utf-8 xml");
            let changed = f(&text);
            assert_ne!(changed, text, "the rewrite changed nothing");
            data = changed.into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        out.write_all(&data).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

#[test]
fn a_chinese_workbook_with_empty_rows_and_a_merged_destination() {
    let x = book(|ws| {
        for (c, h) in ["车架号", "品牌", "车型", "动力类型", "电量", "目的国"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (r, i) in [(1u32, 1u32), (2, 2), (4, 3)] {
            ws.write_string(r, 0, vin(i).as_str()).unwrap();
            ws.write_string(r, 1, "长安").unwrap();
            ws.write_string(r, 2, "深蓝S7").unwrap();
            ws.write_string(r, 3, "纯电动").unwrap();
            ws.write_number(r, 4, 40.0).unwrap();
        }
        // One destination for the whole block, written once across rows 2–5.
        ws.merge_range(1, 5, 4, 5, "MX", &Format::new()).unwrap();
    });
    let m = manifest::parse_xlsx(&x).expect("valid workbook");
    let got: Vec<(u32, Vin, Option<&str>)> = m
        .lines
        .iter()
        .map(|l| (l.line, l.vin, l.destination.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, vin(1), Some("MX")),
            (3, vin(2), Some("MX")),
            (5, vin(3), Some("MX"))
        ]
    );
    assert_eq!(m.lines[0].powertrain, Some(Powertrain::Bev));
    assert_eq!(m.lines[0].soc_pct, Some(40));
    assert_eq!(m.lines[0].make.as_deref(), Some("长安"));
}

#[test]
fn a_merge_across_the_vin_column_is_refused() {
    let x = book(|ws| {
        ws.write_string(0, 0, "vin").unwrap();
        ws.merge_range(1, 0, 2, 0, vin(1).as_str(), &Format::new())
            .unwrap();
    });
    let Err(ManifestError::Rows(errs)) = manifest::parse_xlsx(&x) else {
        panic!("a merged VIN must be refused")
    };
    assert!(
        errs.iter()
            .any(|e| e.line == 2 && e.message.contains("merged")),
        "{errs:?}"
    );
}

#[test]
fn formulas_give_their_computed_value_or_a_clear_error() {
    let x = book(|ws| {
        ws.write_string(0, 0, "vin").unwrap();
        ws.write_string(0, 1, "weight_kg").unwrap();
        ws.write_string(1, 0, vin(1).as_str()).unwrap();
        ws.write_formula(1, 1, Formula::new("=1000+720").set_result("1720"))
            .unwrap();
        ws.write_string(2, 0, vin(2).as_str()).unwrap();
        ws.write_formula(2, 1, Formula::new("=1000+800").set_result(""))
            .unwrap();
    });
    // Writers such as openpyxl store formulas without their value: drop the value
    // rust_xlsxwriter stored.
    let x = rewrite_part(&x, "xl/worksheets/sheet1.xml", |s| {
        s.replace("<f>1000+800</f><v>0</v>", "<f>1000+800</f>")
    });
    let r = manifest::parse_xlsx(&x);
    let Err(ManifestError::Rows(errs)) = r else {
        panic!("a formula without a value must be refused: {r:?}")
    };
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column.as_str()), (3, "B"));
    assert!(errs[0].message.contains("formula"), "{errs:?}");

    let ok = book(|ws| {
        ws.write_string(0, 0, "vin").unwrap();
        ws.write_string(0, 1, "weight_kg").unwrap();
        ws.write_string(1, 0, vin(1).as_str()).unwrap();
        ws.write_formula(1, 1, Formula::new("=1000+720").set_result("1720"))
            .unwrap();
    });
    let m = manifest::parse_xlsx(&ok).expect("computed formula");
    assert_eq!(m.lines[0].weight_kg, Some(1720));
}

#[test]
fn bad_rows_in_a_workbook_are_named_by_row() {
    let x = book(|ws| {
        ws.write_string(2, 1, "VIN").unwrap(); // header on row 3, column B
        ws.write_string(2, 2, "powertrain").unwrap();
        ws.write_string(3, 1, vin(1).as_str()).unwrap();
        ws.write_string(3, 2, "diesel-electric").unwrap();
        ws.write_string(4, 1, "NOT-A-VIN").unwrap();
    });
    let Err(ManifestError::Rows(errs)) = manifest::parse_xlsx(&x) else {
        panic!("must be refused")
    };
    let got: Vec<(u32, &str)> = errs.iter().map(|e| (e.line, e.column.as_str())).collect();
    assert_eq!(got, vec![(4, "powertrain"), (5, "vin")]);
}

#[test]
fn an_empty_workbook_and_a_zip_that_is_not_one() {
    assert_eq!(
        manifest::parse_xlsx(&book(|_| {})),
        Err(ManifestError::NoRows)
    );
    // A valid zip archive (an .xlsx) whose workbook part was removed by renaming it.
    let mut x = book(|ws| {
        ws.write_string(0, 0, "vin").unwrap();
    });
    let needle = b"xl/workbook.xml";
    let mut i = 0;
    while let Some(p) = x[i..].windows(needle.len()).position(|w| w == needle) {
        x[i + p..i + p + 3].copy_from_slice(b"xx/");
        i += p + 1;
    }
    assert!(matches!(
        manifest::parse_xlsx(&x),
        Err(ManifestError::NotXlsx(_))
    ));
}

proptest! {
    /// Whatever the bytes, parsing answers (a manifest or an error) without panicking, and a
    /// manifest it returns only holds valid, distinct VINs.
    #[test]
    fn csv_parsing_never_panics_and_returns_only_valid_rows(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(m) = manifest::parse_csv(&bytes, None) {
            let mut vins: Vec<Vin> = m.lines.iter().map(|l| l.vin).collect();
            vins.sort();
            vins.dedup();
            prop_assert_eq!(vins.len(), m.lines.len());
        }
        let _ = manifest::parse_xlsx(&bytes);
    }

    /// Rows written as CSV come back in order with their line numbers, whatever the order of
    /// the columns and the empty rows in between.
    #[test]
    fn csv_round_trip(n in 1usize..30, gaps in proptest::collection::vec(0usize..3, 30), swap in any::<bool>()) {
        let mut text = if swap { "weight_kg,vin\n".to_string() } else { "vin,weight_kg\n".to_string() };
        let mut line = 1u32;
        let mut want = Vec::new();
        for (i, gap) in gaps.iter().take(n).enumerate() {
            for _ in 0..*gap {
                text.push('\n');
                line += 1;
            }
            line += 1;
            let v = vin(i as u32 + 1);
            let w = 1000 + i as u32;
            text.push_str(&if swap { format!("{w},{v}\n") } else { format!("{v},{w}\n") });
            want.push((line, v, Some(w)));
        }
        let m = manifest::parse_csv(text.as_bytes(), None).expect("valid");
        let got: Vec<(u32, Vin, Option<u32>)> = m.lines.iter().map(|l| (l.line, l.vin, l.weight_kg)).collect();
        prop_assert_eq!(got, want);
    }
}
