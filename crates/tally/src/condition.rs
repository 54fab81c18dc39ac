//! Condition reports: damage coded area (2 digits) + type (2) + severity (1), after the
//! structure of AIAG/ECG M-22 (the ANSI X12 `ID` segment carries the same three codes).
//!
//! The code tables are data the operator loads ([`CodeTable::from_csv`]); M-22's own tables are
//! copyrighted and are not shipped. [`CodeTable::sample`] is an illustrative table for tests and
//! the demo, marked as such in its edition.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// One damage code: area, type and severity, each validated against a [`CodeTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DamageCode {
    /// Where on the vehicle (two digits).
    pub area: u8,
    /// What kind of damage (two digits).
    pub kind: u8,
    /// How bad (one digit).
    pub severity: u8,
}

impl fmt::Display for DamageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}{:02}{}", self.area, self.kind, self.severity)
    }
}

/// Which part of a code a table row or an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Area,
    Type,
    Severity,
}

impl Part {
    fn digits(self) -> usize {
        match self {
            Part::Area | Part::Type => 2,
            Part::Severity => 1,
        }
    }

    /// A code of this part with its leading zeros (area 3 → "03").
    pub fn format(self, code: u8) -> String {
        match self {
            Part::Area | Part::Type => format!("{code:02}"),
            Part::Severity => code.to_string(),
        }
    }

    fn parse(s: &str) -> Option<Part> {
        match s.trim().to_ascii_lowercase().as_str() {
            "area" => Some(Part::Area),
            "type" => Some(Part::Type),
            "severity" => Some(Part::Severity),
            _ => None,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Area => "area",
            Part::Type => "type",
            Part::Severity => "severity",
        })
    }
}

/// Why a code, or a code table, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    #[error("damage code {0:?} must be five digits: area (2), type (2), severity (1), e.g. 03125")]
    Shape(String),
    #[error("{part} code {code} is not in the code table (edition {edition})")]
    Unknown {
        part: Part,
        code: String,
        edition: String,
    },
    #[error("code table line {line}: {message}")]
    Table { line: u64, message: String },
}

/// A label in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub en: String,
    pub zh: String,
}

/// The damage code table in force: area, type and severity codes with their labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeTable {
    /// Which edition this is (e.g. "M-22 v4.1" as licensed by the operator).
    pub edition: String,
    codes: BTreeMap<(Part, u8), Label>,
}

/// Most rows a code table may have (M-22's tables have a few hundred).
const MAX_TABLE_ROWS: usize = 10_000;

impl CodeTable {
    /// Reads a table from CSV text with the header `part,code,en,zh`: `part` is area, type or
    /// severity; `code` has 2, 2 or 1 digits. Every bad line is refused with its number.
    pub fn from_csv(edition: &str, text: &str) -> Result<CodeTable, CodeError> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let bad = |line: u64, message: String| CodeError::Table { line, message };
        let headers = rdr
            .headers()
            .map_err(|e| bad(1, e.to_string()))?
            .iter()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>();
        if headers != ["part", "code", "en", "zh"] {
            return Err(bad(1, "the header must be part,code,en,zh".into()));
        }
        let mut codes = BTreeMap::new();
        for rec in rdr.records() {
            let rec =
                rec.map_err(|e| bad(e.position().map(|p| p.line()).unwrap_or(0), e.to_string()))?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let part = Part::parse(&rec[0]).ok_or_else(|| {
                bad(
                    line,
                    format!("part {:?} is not area, type or severity", &rec[0]),
                )
            })?;
            let code = &rec[1];
            if code.len() != part.digits() || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(
                    line,
                    format!("{part} code {code:?} must have {} digits", part.digits()),
                ));
            }
            let n: u8 = code.parse().map_err(|_| bad(line, "not a number".into()))?;
            if rec[2].is_empty() {
                return Err(bad(line, "the English label is empty".into()));
            }
            let label = Label {
                en: rec[2].to_string(),
                zh: if rec[3].is_empty() {
                    rec[2].to_string()
                } else {
                    rec[3].to_string()
                },
            };
            if codes.insert((part, n), label).is_some() {
                return Err(bad(line, format!("{part} code {code} appears twice")));
            }
            if codes.len() > MAX_TABLE_ROWS {
                return Err(bad(line, format!("at most {MAX_TABLE_ROWS} codes")));
            }
        }
        for part in [Part::Area, Part::Type, Part::Severity] {
            if !codes.keys().any(|(p, _)| *p == part) {
                return Err(bad(0, format!("the table has no {part} codes")));
            }
        }
        Ok(CodeTable {
            edition: edition.to_string(),
            codes,
        })
    }

    /// An illustrative table (NOT M-22): a handful of areas, the type codes seen in a public
    /// third-party implementation, severities 1–6. For tests and the demo only.
    pub fn sample() -> CodeTable {
        CodeTable::from_csv(
            "sample (illustrative, not M-22)",
            include_str!("../data/damage-codes.sample.csv"),
        )
        .unwrap_or_else(|_| CodeTable {
            edition: "empty".into(),
            codes: BTreeMap::new(),
        })
    }

    /// Every code of the table: part, code, label.
    pub fn rows(&self) -> impl Iterator<Item = (Part, u8, &Label)> {
        self.codes.iter().map(|((p, c), l)| (*p, *c, l))
    }

    /// The label of one code part, if the table has it.
    pub fn label(&self, part: Part, code: u8) -> Option<&Label> {
        self.codes.get(&(part, code))
    }

    /// Parses a five-digit code and checks each part against the table.
    pub fn parse(&self, s: &str) -> Result<DamageCode, CodeError> {
        let t = s.trim();
        if t.len() != 5 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::Shape(s.to_string()));
        }
        let num = |r: std::ops::Range<usize>| t[r].parse::<u8>().unwrap_or(0);
        let code = DamageCode {
            area: num(0..2),
            kind: num(2..4),
            severity: num(4..5),
        };
        for (part, n, text) in [
            (Part::Area, code.area, &t[0..2]),
            (Part::Type, code.kind, &t[2..4]),
            (Part::Severity, code.severity, &t[4..5]),
        ] {
            if self.label(part, n).is_none() {
                return Err(CodeError::Unknown {
                    part,
                    code: text.to_string(),
                    edition: self.edition.clone(),
                });
            }
        }
        Ok(code)
    }

    /// "area / type / severity" in English or Chinese.
    pub fn describe(&self, code: &DamageCode, chinese: bool) -> String {
        let l = |part, n| {
            self.label(part, n)
                .map(|l| if chinese { l.zh.clone() } else { l.en.clone() })
                .unwrap_or_else(|| n.to_string())
        };
        format!(
            "{} / {} / {}",
            l(Part::Area, code.area),
            l(Part::Type, code.kind),
            l(Part::Severity, code.severity)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_digits_split_into_area_type_severity() {
        let t = CodeTable::sample();
        let c = t.parse("03125").expect("sample has 03, 12, 5");
        assert_eq!((c.area, c.kind, c.severity), (3, 12, 5));
        assert_eq!(c.to_string(), "03125");
        assert!(
            t.describe(&c, false).contains("Scratched"),
            "{}",
            t.describe(&c, false)
        );
    }

    #[test]
    fn bad_shapes_and_unknown_parts_are_refused_by_name() {
        let t = CodeTable::sample();
        for bad in ["", "0312", "031250", "03a25", "-3125"] {
            assert!(matches!(t.parse(bad), Err(CodeError::Shape(_))), "{bad}");
        }
        assert!(matches!(
            t.parse("98125"),
            Err(CodeError::Unknown {
                part: Part::Area,
                ..
            })
        ));
        assert!(matches!(
            t.parse("03995"),
            Err(CodeError::Unknown {
                part: Part::Type,
                ..
            })
        ));
        assert!(matches!(
            t.parse("03129"),
            Err(CodeError::Unknown {
                part: Part::Severity,
                ..
            })
        ));
    }

    #[test]
    fn tables_are_checked_line_by_line() {
        let ok = "part,code,en,zh\narea,01,Hood,发动机盖\ntype,12,scratched,划伤\nseverity,1,small,轻微\n";
        assert!(CodeTable::from_csv("t", ok).is_ok());
        let dup = format!("{ok}area,01,Hood again,\n");
        assert!(matches!(
            CodeTable::from_csv("t", &dup),
            Err(CodeError::Table { line: 5, .. })
        ));
        let short = "part,code,en,zh\narea,1,Hood,\ntype,12,x,\nseverity,1,x,\n";
        assert!(matches!(
            CodeTable::from_csv("t", short),
            Err(CodeError::Table { line: 2, .. })
        ));
        let no_sev = "part,code,en,zh\narea,01,Hood,\ntype,12,x,\n";
        assert!(CodeTable::from_csv("t", no_sev).is_err());
        assert!(CodeTable::from_csv("t", "a,b\n").is_err());
    }
}
