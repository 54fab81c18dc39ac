//! Reading VIN labels from images: find every barcode (Code 39, Code 128, Data Matrix, QR),
//! keep those that carry a valid VIN, and say where in the image each one is.
//!
//! The image is decoded here with `image` (PNG and JPEG only), after its header has been read
//! and its dimensions checked against [`ImageLimits`], so a decompression bomb is refused
//! before any pixel buffer is allocated. rxing then looks for barcodes in the luma plane.
//!
//! A barcode that is found but does not carry a valid VIN (wrong length, a failed check
//! digit) is reported as [`Rejected`], never as a VIN: the caller decides, and a failed check
//! digit must never count as an identification. An image without any readable VIN is an
//! answer ([`LabelReading::vins`] is empty), not an error.

use std::collections::HashSet;
use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};
use jianghai_core::{Vin, VinError};
use rxing::{BarcodeFormat, DecodeHints, RXingResult};
use serde::Serialize;

/// Bounds on what an uploaded image may be; larger input is refused before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest encoded file, in bytes.
    pub max_bytes: usize,
    /// Largest width or height, in pixels.
    pub max_side: u32,
    /// Largest width × height, in pixels.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    /// 20 MiB, 10,000 px a side, 40 megapixels: a phone or yard camera photo fits.
    fn default() -> Self {
        ImageLimits {
            max_bytes: 20 * 1024 * 1024,
            max_side: 10_000,
            max_pixels: 40_000_000,
        }
    }
}

/// Why an image could not be looked at. Nothing was decoded when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    #[error("the image is empty")]
    Empty,
    #[error("the image has {bytes} bytes; at most {max} are accepted")]
    TooManyBytes { bytes: usize, max: usize },
    #[error("not a PNG or JPEG image (the first bytes are not a PNG or JPEG signature)")]
    NotAnImage,
    #[error("{format} images are not accepted; send PNG or JPEG")]
    UnsupportedFormat { format: String },
    #[error(
        "the image is {width}×{height} pixels; at most {max_side} a side and {max_pixels} pixels are accepted"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

/// The barcode symbologies that carry VINs on labels and documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Symbology {
    Code39,
    Code128,
    DataMatrix,
    Qr,
    /// Any other symbology rxing found (never a VIN label, reported for completeness).
    Other,
}

impl Symbology {
    fn of(f: &BarcodeFormat) -> Symbology {
        match f {
            BarcodeFormat::CODE_39 => Symbology::Code39,
            BarcodeFormat::CODE_128 => Symbology::Code128,
            BarcodeFormat::DATA_MATRIX => Symbology::DataMatrix,
            BarcodeFormat::QR_CODE => Symbology::Qr,
            _ => Symbology::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Symbology::Code39 => "code39",
            Symbology::Code128 => "code128",
            Symbology::DataMatrix => "data_matrix",
            Symbology::Qr => "qr",
            Symbology::Other => "other",
        }
    }
}

/// Where a barcode lies in the image: its corner or finder points and their bounding box, in
/// pixels of the original image (origin top left).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The points rxing reported (bar ends for linear codes, corners or finders for 2D).
    pub points: Vec<(f32, f32)>,
}

/// A VIN read from a barcode whose check digit holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub vin: Vin,
    pub symbology: Symbology,
    /// The barcode's text as read (may carry the leading `I`).
    pub text: String,
    pub region: Region,
}

/// A barcode that was read but carries no valid VIN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub symbology: Symbology,
    pub text: String,
    /// Why it is not a VIN (for example the check digit that failed).
    pub reason: String,
    pub region: Region,
}

/// Everything found in one image.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LabelReading {
    pub width: u32,
    pub height: u32,
    /// VINs found, each once (the first place it was seen), in reading order.
    pub vins: Vec<Found>,
    /// Barcodes that were read but carry no valid VIN.
    pub rejected: Vec<Rejected>,
}

/// Sniffs the format from the magic bytes: PNG or JPEG, or a clear refusal.
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => Ok(f),
        Ok(other) => Err(ImageError::UnsupportedFormat {
            format: format!("{other:?}").to_uppercase(),
        }),
        Err(_) => Err(ImageError::NotAnImage),
    }
}

/// Decodes PNG or JPEG bytes to an 8-bit luma plane, checking size and dimensions first.
/// Returns (luma, width, height).
pub fn decode_luma(bytes: &[u8], limits: &ImageLimits) -> Result<(Vec<u8>, u32, u32), ImageError> {
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooManyBytes {
            bytes: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes)?;
    let too_large = |width, height| ImageError::TooLarge {
        width,
        height,
        max_side: limits.max_side,
        max_pixels: limits.max_pixels,
    };
    // The header alone gives the dimensions: refuse a bomb before allocating its pixels.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| ImageError::Corrupt(e.to_string()))?;
    if width == 0
        || height == 0
        || width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(too_large(width, height));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut l = Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    // RGBA at 16 bits per channel is the widest decode buffer, plus the luma copy.
    l.max_alloc = Some(limits.max_pixels.saturating_mul(10));
    reader.limits(l);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(width, height),
        other => ImageError::Corrupt(other.to_string()),
    })?;
    let luma = img.into_luma8();
    let (w, h) = luma.dimensions();
    Ok((luma.into_raw(), w, h))
}

/// Reads every VIN label in an encoded PNG or JPEG image.
pub fn read(bytes: &[u8], limits: &ImageLimits) -> Result<LabelReading, ImageError> {
    let (luma, width, height) = decode_luma(bytes, limits)?;
    Ok(read_luma(&luma, width, height))
}

/// Turns a barcode's text into a VIN: trims, drops the leading `I` some Code 39 labels carry
/// (SAE J1877), and accepts 2D contents that hold the VIN among other fields, as long as
/// exactly one 17-character token validates. `Err` says why the text is not a VIN.
pub fn vin_from_text(text: &str) -> Result<Vin, String> {
    let t = text.trim();
    let direct = |s: &str| -> Result<Vin, VinError> {
        match s.len() {
            18 if s.starts_with(['I', 'i']) => Vin::parse(&s[1..]),
            _ => Vin::parse(s),
        }
    };
    let first_error = match direct(t) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    // Structured contents (QR/Data Matrix: "VIN:…;MODEL:…"): a token that validates.
    let mut valid: Vec<Vin> = Vec::new();
    let mut near: Option<VinError> = None;
    for token in t.split(|c: char| !c.is_ascii_alphanumeric()) {
        if token.len() == 17 || (token.len() == 18 && token.starts_with(['I', 'i'])) {
            match direct(token) {
                Ok(v) if !valid.contains(&v) => valid.push(v),
                Ok(_) => {}
                Err(e) => near = near.or(Some(e)),
            }
        }
    }
    match valid.as_slice() {
        [one] => Ok(*one),
        [] => Err(near.unwrap_or(first_error).to_string()),
        many => Err(format!(
            "the barcode holds {} different valid VINs; it does not identify one car",
            many.len()
        )),
    }
}

/// An affine map from the coordinates of a transformed image back to the original.
#[derive(Debug, Clone, Copy)]
struct Back {
    /// original = [a b; c d] · p + (tx, ty)
    a: f32,
    b: f32,
    c: f32,
    d: f32,
    tx: f32,
    ty: f32,
}

impl Back {
    const IDENTITY: Back = Back {
        a: 1.0,
        b: 0.0,
        c: 0.0,
        d: 1.0,
        tx: 0.0,
        ty: 0.0,
    };

    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.a * x + self.b * y + self.tx,
            self.c * x + self.d * y + self.ty,
        )
    }
}

fn region(points: &[(f32, f32)], width: u32, height: u32) -> Region {
    let clamp = |v: f32, max: u32| v.max(0.0).min(max as f32);
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if points.is_empty() {
        (x0, y0, x1, y1) = (0.0, 0.0, width as f32, height as f32);
    }
    let (x0, y0) = (clamp(x0, width), clamp(y0, height));
    let (x1, y1) = (clamp(x1, width), clamp(y1, height));
    Region {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0).ceil() as u32,
        height: (y1 - y0).ceil() as u32,
        points: points.to_vec(),
    }
}

fn hints() -> DecodeHints {
    DecodeHints::default()
        .with(rxing::DecodeHintValue::TryHarder(true))
        .with(rxing::DecodeHintValue::PossibleFormats(HashSet::from([
            BarcodeFormat::CODE_39,
            BarcodeFormat::CODE_128,
            BarcodeFormat::DATA_MATRIX,
            BarcodeFormat::QR_CODE,
        ])))
}

fn detect(luma: &[u8], width: u32, height: u32) -> Vec<RXingResult> {
    if width == 0 || height == 0 || luma.len() != width as usize * height as usize {
        return Vec::new();
    }
    let mut h = hints();
    // Several labels (windscreen, door pillar, documents) may share one photo.
    let mut found =
        rxing::helpers::detect_multiple_in_luma_with_hints(luma.to_vec(), width, height, &mut h)
            .unwrap_or_default();
    if found.is_empty() {
        // The multi reader splits the image around what it finds; a single clean pass can
        // still see a symbol it missed.
        let mut h = hints();
        if let Ok(r) =
            rxing::helpers::detect_in_luma_slice_with_hints(luma, width, height, None, &mut h)
        {
            found.push(r);
        }
    }
    found
}

/// Halves an image by averaging 2×2 blocks (noise and blur suppression).
fn half(luma: &[u8], width: u32, height: u32) -> (Vec<u8>, u32, u32) {
    let (w2, h2) = (width / 2, height / 2);
    let mut out = Vec::with_capacity(w2 as usize * h2 as usize);
    let w = width as usize;
    for y in 0..h2 as usize {
        for x in 0..w2 as usize {
            let i = 2 * y * w + 2 * x;
            let s = u32::from(luma[i])
                + u32::from(luma[i + 1])
                + u32::from(luma[i + w])
                + u32::from(luma[i + w + 1]);
            out.push((s / 4) as u8);
        }
    }
    (out, w2, h2)
}

/// Rotates an image by `degrees` about its centre into a canvas that holds all of it
/// (bilinear, white background), and the map from the new coordinates back.
fn rotate(luma: &[u8], width: u32, height: u32, degrees: f32) -> (Vec<u8>, u32, u32, Back) {
    let (s, c) = degrees.to_radians().sin_cos();
    let (w, h) = (width as f32, height as f32);
    let nw = (w * c.abs() + h * s.abs()).ceil().max(1.0);
    let nh = (w * s.abs() + h * c.abs()).ceil().max(1.0);
    let (cx, cy, ncx, ncy) = (w / 2.0, h / 2.0, nw / 2.0, nh / 2.0);
    // Destination (u, v) → source: rotate by -degrees about the centres.
    let back = Back {
        a: c,
        b: s,
        c: -s,
        d: c,
        tx: cx - c * ncx - s * ncy,
        ty: cy + s * ncx - c * ncy,
    };
    let (nw, nh) = (nw as u32, nh as u32);
    let mut out = vec![255u8; nw as usize * nh as usize];
    let at = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(width) || y >= i64::from(height) {
            255.0
        } else {
            f32::from(luma[y as usize * width as usize + x as usize])
        }
    };
    for v in 0..nh {
        for u in 0..nw {
            let (sx, sy) = back.apply(u as f32 + 0.5, v as f32 + 0.5);
            let (sx, sy) = (sx - 0.5, sy - 0.5);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let p = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + at(x0 + 1, y0) * fx * (1.0 - fy)
                + at(x0, y0 + 1) * (1.0 - fx) * fy
                + at(x0 + 1, y0 + 1) * fx * fy;
            out[v as usize * nw as usize + u as usize] = p.round().clamp(0.0, 255.0) as u8;
        }
    }
    (out, nw, nh, back)
}

/// Reads every VIN label in an 8-bit luma plane of `width` × `height` pixels.
///
/// Tries the image as it is; if that yields no VIN, tries it halved (noise, blur) and
/// turned by ±30° and 60° (linear codes read along rows, so a label photographed at an angle
/// needs turning back), stopping at the first pass that yields a VIN.
pub fn read_luma(luma: &[u8], width: u32, height: u32) -> LabelReading {
    let mut out = LabelReading {
        width,
        height,
        ..LabelReading::default()
    };
    if luma.len() != width as usize * height as usize {
        return out;
    }
    let mut seen_text: HashSet<(Symbology, String)> = HashSet::new();
    let mut take = |results: Vec<RXingResult>, back: Back, out: &mut LabelReading| {
        for r in results {
            let symbology = Symbology::of(r.getBarcodeFormat());
            let text = r.getText().to_string();
            if !seen_text.insert((symbology, text.clone())) {
                continue;
            }
            let points: Vec<(f32, f32)> =
                r.getPoints().iter().map(|p| back.apply(p.x, p.y)).collect();
            let region = region(&points, width, height);
            match (symbology, vin_from_text(&text)) {
                (Symbology::Other, _) => out.rejected.push(Rejected {
                    symbology,
                    text,
                    reason: "not a VIN label symbology".into(),
                    region,
                }),
                (_, Ok(vin)) => {
                    if !out.vins.iter().any(|f| f.vin == vin) {
                        out.vins.push(Found {
                            vin,
                            symbology,
                            text,
                            region,
                        });
                    }
                }
                (_, Err(reason)) => out.rejected.push(Rejected {
                    symbology,
                    text,
                    reason,
                    region,
                }),
            }
        }
    };
    take(detect(luma, width, height), Back::IDENTITY, &mut out);
    if !out.vins.is_empty() {
        return out;
    }
    if width >= 200 && height >= 100 {
        let (h, hw, hh) = half(luma, width, height);
        let back = Back {
            a: 2.0,
            b: 0.0,
            c: 0.0,
            d: 2.0,
            tx: 0.0,
            ty: 0.0,
        };
        take(detect(&h, hw, hh), back, &mut out);
        if !out.vins.is_empty() {
            return out;
        }
    }
    for degrees in [30.0, -30.0, 60.0, -60.0] {
        let (r, rw, rh, back) = rotate(luma, width, height, degrees);
        take(detect(&r, rw, rh), back, &mut out);
        if !out.vins.is_empty() {
            return out;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_i_is_stripped_and_the_check_digit_decides() {
        assert_eq!(
            vin_from_text("ILRW3E7FS5PC695355").unwrap().as_str(),
            "LRW3E7FS5PC695355"
        );
        assert_eq!(
            vin_from_text(" LRW3E7FS5PC695355 ").unwrap().as_str(),
            "LRW3E7FS5PC695355"
        );
        let err = vin_from_text("LRW3E7FS6PC695355").unwrap_err();
        assert!(err.contains("check digit"), "{err}");
        let err = vin_from_text("ILRW3E7FS6PC695355").unwrap_err();
        assert!(err.contains("check digit"), "{err}");
        assert!(vin_from_text("HELLO").is_err());
    }

    #[test]
    fn structured_contents_yield_their_one_valid_vin() {
        assert_eq!(
            vin_from_text("VIN:LRW3E7FS5PC695355;MODEL:Y")
                .unwrap()
                .as_str(),
            "LRW3E7FS5PC695355"
        );
        let two = vin_from_text("LRW3E7FS5PC695355 1HGCM82633A004352").unwrap_err();
        assert!(two.contains("2 different"), "{two}");
        let bad = vin_from_text("VIN:LRW3E7FS6PC695355").unwrap_err();
        assert!(bad.contains("check digit"), "{bad}");
    }

    #[test]
    fn sniffing_refuses_what_is_not_png_or_jpeg() {
        assert_eq!(sniff(b""), Err(ImageError::Empty));
        assert_eq!(sniff(b"hello, world"), Err(ImageError::NotAnImage));
        assert!(matches!(
            sniff(b"GIF89a\x01\x00\x01\x00"),
            Err(ImageError::UnsupportedFormat { .. })
        ));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Ok(ImageFormat::Png));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Ok(ImageFormat::Jpeg));
    }

    #[test]
    fn rotation_maps_points_back_to_the_original() {
        let (w, h) = (40u32, 20u32);
        let mut img = vec![255u8; (w * h) as usize];
        img[(5 * w + 30) as usize] = 0;
        let (r, rw, rh, back) = rotate(&img, w, h, 30.0);
        let (i, _) = r
            .iter()
            .enumerate()
            .min_by_key(|(_, v)| **v)
            .expect("pixels");
        let (u, v) = ((i as u32 % rw) as f32 + 0.5, (i as u32 / rw) as f32 + 0.5);
        let (x, y) = back.apply(u, v);
        assert!((x - 30.5).abs() < 1.5 && (y - 5.5).abs() < 1.5, "{x},{y}");
        assert!(rh > h && rw > w);
    }

    #[test]
    fn a_blank_image_has_no_vin_and_a_wrong_buffer_is_not_read() {
        let r = read_luma(&[255u8; 300 * 200], 300, 200);
        assert!(r.vins.is_empty() && r.rejected.is_empty());
        let r = read_luma(&[0u8; 10], 300, 200);
        assert!(r.vins.is_empty());
    }
}
