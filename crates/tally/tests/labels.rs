//! VIN labels written with rxing's encoders, photographed with every distortion of
//! `render::SUITE`, then read back: the read rate per distortion, and never a wrong VIN.

use jianghai_core::Vin;
use jianghai_tally::label::{self, ImageError, ImageLimits, Symbology};
use jianghai_tally::render::{self, Distortion, Gray, SUITE, SYMBOLOGIES};

fn vins(n: u32) -> Vec<Vin> {
    (0..n)
        .map(|i| {
            Vin::with_check_digit(&format!("LS5A3DKE0SC{:06}", 100_000 + i * 7919)).expect("vin")
        })
        .collect()
}

fn photo(vin: &Vin, s: Symbology, d: Distortion, seed: u64) -> Gray {
    let l = render::vin_label(vin.as_str(), s, s == Symbology::Code39).expect("encodable");
    render::photograph(&l, d, seed)
}

/// (read correctly, read wrong) over `n` VINs of one symbology and distortion.
fn rate(s: Symbology, d: Distortion, n: u32) -> (u32, u32) {
    let mut ok = 0;
    let mut wrong = 0;
    for (i, v) in vins(n).iter().enumerate() {
        let img = photo(v, s, d, i as u64 + 1);
        let r = label::read_luma(&img.pixels, img.width, img.height);
        for f in &r.vins {
            if f.vin == *v {
                ok += 1;
            } else {
                wrong += 1;
            }
        }
    }
    (ok, wrong)
}

#[test]
fn every_symbology_reads_clean_and_mildly_distorted_labels() {
    for s in SYMBOLOGIES {
        for d in [
            Distortion::Clean,
            Distortion::Rotation(8.0),
            Distortion::Rotation(90.0),
            Distortion::Blur(1),
            Distortion::Noise(20.0),
            Distortion::LowContrast(60),
        ] {
            let (ok, wrong) = rate(s, d, 4);
            assert_eq!((ok, wrong), (4, 0), "{s:?} {}", d.name());
        }
    }
}

#[test]
fn no_distortion_ever_yields_a_wrong_vin() {
    for s in SYMBOLOGIES {
        for d in SUITE {
            let (_, wrong) = rate(s, *d, 1);
            assert_eq!(wrong, 0, "{s:?} {}", d.name());
        }
    }
}

#[test]
fn the_leading_i_of_code39_labels_is_stripped_and_the_position_reported() {
    let v = vins(1)[0];
    let l = render::vin_label(v.as_str(), Symbology::Code39, true).expect("label");
    let img = render::photograph(&l, Distortion::Clean, 7);
    let r = label::read(&img.png(), &ImageLimits::default()).expect("png decodes");
    assert_eq!(r.vins.len(), 1);
    let f = &r.vins[0];
    assert_eq!(f.vin, v);
    assert_eq!(f.text, format!("I{v}"));
    assert_eq!(f.symbology, Symbology::Code39);
    // The label sits inside the photo's margin, so the bars lie well inside the image.
    assert!(
        f.region.x >= 60 && f.region.x + f.region.width <= img.width - 60,
        "{:?}",
        f.region
    );
    assert!(
        f.region.y >= 60 && f.region.y <= img.height - 60,
        "{:?}",
        f.region
    );
}

#[test]
fn several_labels_in_one_photo_are_all_found_with_their_places() {
    let vs = vins(3);
    let mut canvas = Gray::white(1400, 500);
    let kinds = [Symbology::Code39, Symbology::DataMatrix, Symbology::Qr];
    let mut xs = Vec::new();
    let mut x = 40;
    for (v, s) in vs.iter().zip(kinds) {
        let l = render::vin_label(v.as_str(), s, false).expect("label");
        canvas.paste(&l, x, 60);
        xs.push(x);
        x += l.width + 60;
    }
    let r = label::read(&canvas.png(), &ImageLimits::default()).expect("png");
    let mut found: Vec<(Vin, u32)> = r.vins.iter().map(|f| (f.vin, f.region.x)).collect();
    found.sort_by_key(|(_, x)| *x);
    assert_eq!(found.iter().map(|(v, _)| *v).collect::<Vec<_>>(), vs);
    for ((_, fx), x) in found.iter().zip(xs) {
        assert!(*fx >= x, "found at {fx}, drawn at {x}");
    }
}

#[test]
fn a_failed_check_digit_is_rejected_with_its_reason_not_read_as_a_vin() {
    let v = vins(1)[0].to_string();
    let bad = format!(
        "{}{}{}",
        &v[..8],
        if &v[8..9] == "1" { "2" } else { "1" },
        &v[9..]
    );
    for s in SYMBOLOGIES {
        let l = render::vin_label(&bad, s, false).expect("label");
        let img = render::photograph(&l, Distortion::Clean, 3);
        let r = label::read_luma(&img.pixels, img.width, img.height);
        assert!(r.vins.is_empty(), "{s:?}");
        assert_eq!(r.rejected.len(), 1, "{s:?}");
        assert!(
            r.rejected[0].reason.contains("check digit"),
            "{:?}",
            r.rejected[0]
        );
    }
}

#[test]
fn an_image_without_a_label_is_an_answer_not_an_error() {
    let img = render::photograph(&Gray::white(300, 120), Distortion::Noise(10.0), 1);
    let r = label::read(&img.png(), &ImageLimits::default()).expect("decodes");
    assert!(r.vins.is_empty() && r.rejected.is_empty());
    let r = label::read(&img.jpeg(), &ImageLimits::default()).expect("decodes");
    assert!(r.vins.is_empty());
}

#[test]
fn jpeg_photos_read_like_png() {
    let v = vins(1)[0];
    let img = photo(&v, Symbology::DataMatrix, Distortion::Noise(10.0), 5);
    let r = label::read(&img.jpeg(), &ImageLimits::default()).expect("jpeg");
    assert_eq!(r.vins.first().map(|f| f.vin), Some(v));
}

#[test]
fn bad_images_get_clear_errors() {
    let limits = ImageLimits::default();
    assert_eq!(label::read(b"", &limits), Err(ImageError::Empty));
    assert_eq!(
        label::read(b"%PDF-1.7 not an image", &limits),
        Err(ImageError::NotAnImage)
    );
    assert!(matches!(
        label::read(b"GIF89a\x10\x00\x10\x00\x00\x00\x00;", &limits),
        Err(ImageError::UnsupportedFormat { .. })
    ));
    let png = photo(&vins(1)[0], Symbology::Qr, Distortion::Clean, 1).png();
    // Truncated: the header is intact, the pixel data is not.
    let truncated = &png[..png.len() / 2];
    assert!(matches!(
        label::read(truncated, &limits),
        Err(ImageError::Corrupt(_))
    ));
    let tiny = ImageLimits {
        max_bytes: 100,
        ..limits
    };
    assert!(matches!(
        label::read(&png, &tiny),
        Err(ImageError::TooManyBytes { .. })
    ));
}

/// A PNG header claiming 100,000 × 100,000 pixels (a decompression bomb) with a tiny body:
/// refused from the header, before a pixel buffer exists.
#[test]
fn decompression_bombs_are_refused_from_the_header() {
    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let mut crc = 0xFFFF_FFFFu32;
        for b in kind.iter().chain(data) {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        c.extend_from_slice(&(!crc).to_be_bytes());
        c
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    let err = label::read(&png, &ImageLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::TooLarge {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{err:?}"
    );
    // Within the side limit but over the pixel budget.
    let limits = ImageLimits {
        max_pixels: 1_000,
        ..ImageLimits::default()
    };
    let small = photo(&vins(1)[0], Symbology::Qr, Distortion::Clean, 1).png();
    assert!(matches!(
        label::read(&small, &limits),
        Err(ImageError::TooLarge { .. })
    ));
}
