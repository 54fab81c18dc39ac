//! Writing VIN labels as images with rxing's encoders (feature `labels`): the test images, the
//! benchmark corpus and the demo's camera photos are made here, never downloaded.

use rxing::{BarcodeFormat, Writer};

use crate::label::Symbology;

/// An 8-bit grey image: `width` × `height` pixels, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gray {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Gray {
    /// A white canvas.
    pub fn white(width: u32, height: u32) -> Gray {
        Gray {
            width,
            height,
            pixels: vec![255; width as usize * height as usize],
        }
    }

    /// Copies `other` onto this image with its top left at (x, y), clipping at the edges.
    pub fn paste(&mut self, other: &Gray, x: u32, y: u32) {
        for oy in 0..other.height {
            let ty = y + oy;
            if ty >= self.height {
                break;
            }
            for ox in 0..other.width {
                let tx = x + ox;
                if tx >= self.width {
                    break;
                }
                self.pixels[(ty * self.width + tx) as usize] =
                    other.pixels[(oy * other.width + ox) as usize];
            }
        }
    }

    /// Encodes as PNG.
    pub fn png(&self) -> Vec<u8> {
        self.encode(image::ImageFormat::Png)
    }

    /// Encodes as JPEG (quality 85, as phones do).
    pub fn jpeg(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        let _ = image::ImageEncoder::write_image(
            enc,
            &self.pixels,
            self.width,
            self.height,
            image::ExtendedColorType::L8,
        );
        out
    }

    fn encode(&self, format: image::ImageFormat) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        if let Some(img) = image::GrayImage::from_raw(self.width, self.height, self.pixels.clone())
        {
            let _ = img.write_to(&mut out, format);
        }
        out.into_inner()
    }
}

/// Why a label could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {text:?} as {symbology:?}: {reason}")]
pub struct RenderError {
    pub symbology: Symbology,
    pub text: String,
    pub reason: String,
}

/// Draws `text` as a barcode of `symbology` with modules of `module` pixels (linear codes get
/// bars `height` pixels tall) and a quiet zone of ten modules.
pub fn barcode(
    text: &str,
    symbology: Symbology,
    module: u32,
    height: u32,
) -> Result<Gray, RenderError> {
    let format = match symbology {
        Symbology::Code39 => BarcodeFormat::CODE_39,
        Symbology::Code128 => BarcodeFormat::CODE_128,
        Symbology::DataMatrix => BarcodeFormat::DATA_MATRIX,
        Symbology::Qr => BarcodeFormat::QR_CODE,
        Symbology::Other => {
            return Err(RenderError {
                symbology,
                text: text.into(),
                reason: "not a VIN label symbology".into(),
            });
        }
    };
    let err = |reason: String| RenderError {
        symbology,
        text: text.into(),
        reason,
    };
    // Ask for the smallest size: the matrix comes back at one pixel per module.
    let m = rxing::MultiFormatWriter
        .encode(text, &format, 0, 0)
        .map_err(|e| err(e.to_string()))?;
    let linear = matches!(symbology, Symbology::Code39 | Symbology::Code128);
    let (mw, mh) = (m.width(), if linear { 1 } else { m.height() });
    let quiet = 10 * module;
    let w = mw * module + 2 * quiet;
    let h = if linear {
        height + 2 * quiet
    } else {
        mh * module + 2 * quiet
    };
    let mut out = Gray::white(w, h);
    for y in 0..h - 2 * quiet {
        let my = if linear { 0 } else { y / module };
        for x in 0..mw * module {
            if m.get(x / module, my) {
                out.pixels[((y + quiet) * w + x + quiet) as usize] = 0;
            }
        }
    }
    Ok(out)
}

/// A VIN label as printed for a car: the symbol for `vin` (Code 39 labels carry the leading
/// `I` when `leading_i`), with modules of 3 pixels, on a white label.
pub fn vin_label(vin: &str, symbology: Symbology, leading_i: bool) -> Result<Gray, RenderError> {
    let text = if leading_i {
        format!("I{vin}")
    } else {
        vin.to_string()
    };
    let module = match symbology {
        Symbology::Code39 | Symbology::Code128 => 2,
        _ => 6,
    };
    barcode(&text, symbology, module, 90)
}

/// A seeded xorshift generator: the distortions are reproducible without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Approximately normal (sum of four uniforms), mean 0, standard deviation 1.
    pub fn normal(&mut self) -> f32 {
        let s: f32 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * (3.0f32).sqrt()
    }
}

/// The ways a photographed label differs from a printed one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distortion {
    /// As printed, on a larger background.
    Clean,
    /// Turned by this many degrees.
    Rotation(f32),
    /// Photographed at an angle: the far edge is this fraction shorter (0–1).
    Perspective(f32),
    /// Out of focus: a box blur of this radius in pixels, applied twice (close to Gaussian).
    Blur(u32),
    /// Sensor noise with this standard deviation in grey levels.
    Noise(f32),
    /// Dark bars and light paper only this many grey levels apart.
    LowContrast(u8),
    /// A specular reflection: a spot of this radius (a fraction of the label width) that
    /// washes the print out towards white, by up to 60% at its centre.
    Glare(f32),
    /// A smudge or sticker covering this fraction of the symbol's width.
    Occlusion(f32),
}

impl Distortion {
    pub fn name(&self) -> String {
        match self {
            Distortion::Clean => "clean".into(),
            Distortion::Rotation(d) => format!("rotation {d}°"),
            Distortion::Perspective(p) => format!("perspective {:.0}%", p * 100.0),
            Distortion::Blur(r) => format!("blur r={r}"),
            Distortion::Noise(s) => format!("noise σ={s}"),
            Distortion::LowContrast(c) => format!("low contrast {c} levels"),
            Distortion::Glare(g) => format!("glare {:.0}%", g * 100.0),
            Distortion::Occlusion(o) => format!("occlusion {:.0}%", o * 100.0),
        }
    }
}

fn sample(img: &Gray, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(img.width) || y >= i64::from(img.height) {
            255.0
        } else {
            f32::from(img.pixels[y as usize * img.width as usize + x as usize])
        }
    };
    let (x0, y0) = (x0 as i64, y0 as i64);
    at(x0, y0) * (1.0 - fx) * (1.0 - fy)
        + at(x0 + 1, y0) * fx * (1.0 - fy)
        + at(x0, y0 + 1) * (1.0 - fx) * fy
        + at(x0 + 1, y0 + 1) * fx * fy
}

/// Places a label on a photo-like background and applies `d`; the result is what a camera
/// would hand the platform. Deterministic for a given `seed`.
pub fn photograph(label: &Gray, d: Distortion, seed: u64) -> Gray {
    let mut rng = Rng::new(seed);
    let margin = 60 + (rng.unit() * 40.0) as u32;
    let (w, h) = (label.width + 2 * margin, label.height + 2 * margin);
    // Background: a light grey body panel with a gentle gradient.
    let mut img = Gray {
        width: w,
        height: h,
        pixels: (0..h)
            .flat_map(|y| (0..w).map(move |x| (190 + (x + y) * 30 / (w + h)) as u8))
            .collect(),
    };
    let mut label = label.clone();
    if let Distortion::Occlusion(f) = d {
        // A dark smudge over a band of the symbol, away from its quiet zone.
        let span = (label.width as f32 * f) as u32;
        let x0 = label.width / 3;
        for y in label.height / 4..label.height * 3 / 4 {
            for x in x0..(x0 + span).min(label.width) {
                label.pixels[(y * label.width + x) as usize] = 70;
            }
        }
    }
    img.paste(&label, margin, margin);
    match d {
        Distortion::Rotation(deg) => rotate_canvas(&img, deg),
        Distortion::Perspective(p) => {
            // Map each destination row to a narrower source span at the top.
            let (cw, ch) = (img.width as f32, img.height as f32);
            let mut out = Gray::white(img.width, img.height);
            for y in 0..img.height {
                let t = 1.0 - y as f32 / ch; // 1 at the top, 0 at the bottom
                let scale = 1.0 - p * t;
                for x in 0..img.width {
                    let sx = cw / 2.0 + (x as f32 - cw / 2.0) / scale;
                    let sy = y as f32 * (1.0 + p * 0.3 * t);
                    out.pixels[(y * img.width + x) as usize] = sample(&img, sx, sy) as u8;
                }
            }
            out
        }
        Distortion::Blur(r) => box_blur(&box_blur(&img, r), r),
        Distortion::Noise(sigma) => {
            for p in &mut img.pixels {
                *p = (f32::from(*p) + rng.normal() * sigma).clamp(0.0, 255.0) as u8;
            }
            img
        }
        Distortion::LowContrast(levels) => {
            let lo = 128.0 - f32::from(levels) / 2.0;
            for p in &mut img.pixels {
                *p = (lo + f32::from(*p) / 255.0 * f32::from(levels)) as u8;
            }
            img
        }
        Distortion::Glare(frac) => {
            let (cx, cy) = (
                margin as f32 + label.width as f32 * (0.3 + 0.4 * rng.unit()),
                margin as f32 + label.height as f32 * 0.5,
            );
            let radius = label.width as f32 * frac;
            for y in 0..img.height {
                for x in 0..img.width {
                    let dist = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                    let k = (1.0 - dist / radius).max(0.0);
                    let i = (y * img.width + x) as usize;
                    let p = f32::from(img.pixels[i]);
                    img.pixels[i] = (p + (255.0 - p) * k * 0.6).min(255.0) as u8;
                }
            }
            img
        }
        Distortion::Clean | Distortion::Occlusion(_) => img,
    }
}

fn rotate_canvas(img: &Gray, degrees: f32) -> Gray {
    let (s, c) = degrees.to_radians().sin_cos();
    let (w, h) = (img.width as f32, img.height as f32);
    let nw = (w * c.abs() + h * s.abs()).ceil() as u32;
    let nh = (w * s.abs() + h * c.abs()).ceil() as u32;
    let (cx, cy, ncx, ncy) = (w / 2.0, h / 2.0, nw as f32 / 2.0, nh as f32 / 2.0);
    let mut out = Gray::white(nw, nh);
    for v in 0..nh {
        for u in 0..nw {
            let (du, dv) = (u as f32 - ncx, v as f32 - ncy);
            let sx = c * du + s * dv + cx;
            let sy = -s * du + c * dv + cy;
            out.pixels[(v * nw + u) as usize] = sample(img, sx, sy) as u8;
        }
    }
    out
}

fn box_blur(img: &Gray, r: u32) -> Gray {
    if r == 0 {
        return img.clone();
    }
    let (w, h) = (img.width as i64, img.height as i64);
    let r = i64::from(r);
    let pass = |src: &[u8], horizontal: bool| -> Vec<u8> {
        let mut out = vec![0u8; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut sum = 0u32;
                let mut n = 0u32;
                for k in -r..=r {
                    let (sx, sy) = if horizontal { (x + k, y) } else { (x, y + k) };
                    if sx >= 0 && sy >= 0 && sx < w && sy < h {
                        sum += u32::from(src[(sy * w + sx) as usize]);
                        n += 1;
                    }
                }
                out[(y * w + x) as usize] = (sum / n.max(1)) as u8;
            }
        }
        out
    };
    let horizontal = pass(&img.pixels, true);
    Gray {
        width: img.width,
        height: img.height,
        pixels: pass(&horizontal, false),
    }
}

/// The distortions the test suite and the benchmark measure, mild to hard.
pub const SUITE: &[Distortion] = &[
    Distortion::Clean,
    Distortion::Rotation(8.0),
    Distortion::Rotation(30.0),
    Distortion::Rotation(90.0),
    Distortion::Perspective(0.25),
    Distortion::Blur(1),
    Distortion::Blur(2),
    Distortion::Noise(20.0),
    Distortion::Noise(45.0),
    Distortion::LowContrast(60),
    Distortion::LowContrast(25),
    Distortion::Glare(0.25),
    Distortion::Occlusion(0.1),
    Distortion::Occlusion(0.25),
];

/// The symbologies VIN labels use.
pub const SYMBOLOGIES: [Symbology; 4] = [
    Symbology::Code39,
    Symbology::Code128,
    Symbology::DataMatrix,
    Symbology::Qr,
];
