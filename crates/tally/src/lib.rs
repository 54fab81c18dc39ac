//! Consolidation and tally (集并理货), pure: no I/O, no clock.
//!
//! - [`label`]: VIN labels in images (Code 39, Code 128, Data Matrix, QR) with rxing, after a
//!   guarded PNG/JPEG decode: the VINs found, where, and the barcodes that carry no valid VIN.
//! - [`manifest`]: exporters' manifests from CSV (UTF-8, BOM, GBK) or `.xlsx`, every row
//!   validated and every error named by line and column.
//! - [`condition`]: damage codes (area 2 + type 2 + severity 1, after AIAG/ECG M-22) against a
//!   code table the operator loads.
//! - [`reconcile`]: expected against identified → matched, missing, extra, duplicate,
//!   mismatched, damaged, unconfirmed.
//! - [`sheet`]: the tally sheet as CSV or `.xlsx`, in English or Chinese.
//! - `render` (feature `labels`): VIN labels drawn with rxing's encoders, for tests and the demo.

pub mod condition;
pub mod label;
pub mod manifest;
pub mod reconcile;
#[cfg(feature = "labels")]
pub mod render;
pub mod sheet;

pub use condition::{CodeError, CodeTable, DamageCode};
pub use label::{Found, ImageError, ImageLimits, LabelReading, Region, Rejected, Symbology};
pub use manifest::{Manifest, ManifestError, ManifestLine, RowError};
pub use reconcile::{
    Expected, Identification, Outcome, Reconciliation, Rules, Source, TallyLine, reconcile,
};
pub use sheet::{Lang, SheetHeader, SheetRow};
