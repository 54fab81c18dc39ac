//! Tally over HTTP: the authorization rows of its routes, parties kept apart, an end-to-end
//! session, and bad images that change nothing.

use jianghai_core::{OrgKind, Organisation};
use jianghai_server::bootstrap;
use jianghai_store::Role;
use jianghai_tally::Symbology;
use jianghai_tally::render::{self, Distortion};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Row, World, id, none, org_of, vin};

/// A photo of a Code 39 VIN label (with the leading I) for `v`, as PNG.
pub fn label_png(v: &jianghai_core::Vin) -> Vec<u8> {
    let l = render::vin_label(v.as_str(), Symbology::Code39, true).expect("label");
    render::photograph(&l, Distortion::Clean, 1).png()
}

const CODES: &str = include_str!("../../../tally/data/damage-codes.sample.csv");

impl World {
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("send");
        let status = res.status();
        let text = res.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Sends a matrix row's request as `kind`.
    pub async fn send_row(
        &self,
        row: &Row,
        kind: OrgKind,
        auth: Option<&str>,
    ) -> (StatusCode, Value) {
        match &row.raw {
            Some((ct, bytes)) => {
                self.call_raw(row.method.clone(), &row.path, auth, ct, bytes.clone())
                    .await
            }
            None => {
                self.call(row.method.clone(), &row.path, auth, (row.body)(kind))
                    .await
            }
        }
    }

    async fn ok(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let (s, b) = self.call(method, path, Some(token), Some(body)).await;
        assert!(s.is_success(), "{path}: {s} {b}");
        b
    }
}

/// A seeded tally world: shipments, an open session S and one S2 to close, the damage-code
/// table, a photo on a condition report. Returns (S, S2, photo).
async fn seed(w: &World) -> (String, String, String) {
    let exporter = w.token(OrgKind::Exporter).await;
    let port = w.token(OrgKind::Port).await;
    let operator = w.token(OrgKind::Operator).await;
    for sh in ["sh-tally", "sh-close", "sh-open-port", "sh-open-operator"] {
        w.ok(
            Method::POST,
            "/api/v1/shipments",
            &exporter,
            json!({"id": sh, "destinationCountry": "MX", "vins": [vin(1).to_string()]}),
        )
        .await;
    }
    let open = |sh: &'static str| {
        let port = port.clone();
        async move {
            w.ok(
                Method::POST,
                "/api/v1/tally-sessions",
                &port,
                json!({"facility": "guoyuan-yard", "shipment": sh}),
            )
            .await["id"]
                .as_str()
                .expect("id")
                .to_string()
        }
    };
    let s = open("sh-tally").await;
    let s2 = open("sh-close").await;
    let (st, b) = w
        .call_raw(
            Method::PUT,
            "/api/v1/damage-codes?edition=sample",
            Some(&operator),
            "text/csv",
            CODES.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, b) = w
        .call_raw(
            Method::POST,
            "/api/v1/photos",
            Some(&port),
            "image/png",
            label_png(&vin(1)),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let photo = b["sha256"].as_str().expect("sha").to_string();
    w.ok(
        Method::POST,
        "/api/v1/condition-reports",
        &port,
        json!({"facility": "guoyuan-yard", "vin": vin(1).to_string(), "session": s,
               "entries": [{"code": "04122", "note": "scratch"}], "photos": [photo]}),
    )
    .await;
    (s, s2, photo)
}

fn raw(r: Row, content_type: &'static str, bytes: Vec<u8>) -> Row {
    Row {
        raw: Some((content_type, bytes)),
        ..r
    }
}

/// The rows of the tally routes in the authorization matrix.
pub async fn rows(w: &World) -> Vec<Row> {
    let (s, s2, photo) = seed(w).await;
    let row = |method: Method,
               route: &'static str,
               path: String,
               body: fn(OrgKind) -> Option<Value>,
               expect: [u16; 6]| Row {
        method,
        route,
        path,
        body,
        expect,
        fresh_token: false,
        raw: None,
    };
    let png = label_png(&vin(1));
    vec![
        row(
            Method::POST,
            "/api/v1/gate-ins",
            "/api/v1/gate-ins".into(),
            |k| {
                Some(
                    json!({"facility": "guoyuan-yard", "vin": vin(300 + k as u32).to_string(), "truck": "渝A12345"}),
                )
            },
            [403, 403, 201, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/gate-ins",
            "/api/v1/gate-ins".into(),
            none,
            [200; 6],
        ),
        raw(
            row(
                Method::POST,
                "/api/v1/identify",
                "/api/v1/identify".into(),
                none,
                [200; 6],
            ),
            "image/png",
            png.clone(),
        ),
        row(
            Method::POST,
            "/api/v1/tally-sessions",
            "/api/v1/tally-sessions".into(),
            |k| {
                Some(
                    json!({"facility": "guoyuan-yard", "shipment": format!("sh-open-{}", k.as_str())}),
                )
            },
            [403, 403, 201, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/tally-sessions",
            "/api/v1/tally-sessions".into(),
            none,
            [200; 6],
        ),
        row(
            Method::GET,
            "/api/v1/tally-sessions/{id}",
            format!("/api/v1/tally-sessions/{s}"),
            none,
            [200, 404, 200, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/tally-sessions/{id}/scans",
            format!("/api/v1/tally-sessions/{s}/scans"),
            |_| Some(json!({"text": vin(1).to_string(), "source": "scanner"})),
            [403, 404, 201, 403, 403, 201],
        ),
        row(
            Method::POST,
            "/api/v1/tally-sessions/{id}/external",
            format!("/api/v1/tally-sessions/{s}/external"),
            |_| {
                Some(
                    json!({"vin": vin(1).to_string(), "confidence": 0.97, "imageRef": "gate-cam-3/0001.jpg"}),
                )
            },
            [403, 404, 201, 403, 403, 201],
        ),
        raw(
            row(
                Method::POST,
                "/api/v1/tally-sessions/{id}/images",
                format!("/api/v1/tally-sessions/{s}/images"),
                none,
                [403, 404, 201, 403, 403, 201],
            ),
            "image/png",
            png.clone(),
        ),
        row(
            Method::POST,
            "/api/v1/tally-sessions/{id}/close",
            format!("/api/v1/tally-sessions/{s2}/close"),
            none,
            [403, 404, 200, 403, 403, 200],
        ),
        row(
            Method::GET,
            "/api/v1/tally-sessions/{id}/sheet",
            format!("/api/v1/tally-sessions/{s2}/sheet"),
            none,
            [200, 404, 200, 200, 200, 200],
        ),
        row(
            Method::POST,
            "/api/v1/condition-reports",
            "/api/v1/condition-reports".into(),
            |_| {
                Some(
                    json!({"facility": "guoyuan-yard", "vin": vin(1).to_string(), "entries": [{"code": "20201"}]}),
                )
            },
            [403, 403, 201, 403, 403, 201],
        ),
        row(
            Method::GET,
            "/api/v1/condition-reports",
            "/api/v1/condition-reports".into(),
            none,
            [200; 6],
        ),
        raw(
            row(
                Method::POST,
                "/api/v1/photos",
                "/api/v1/photos".into(),
                none,
                [403, 403, 201, 403, 403, 201],
            ),
            "image/png",
            png,
        ),
        row(
            Method::GET,
            "/api/v1/photos/{sha256}",
            format!("/api/v1/photos/{photo}"),
            none,
            [200, 404, 200, 200, 200, 200],
        ),
        row(
            Method::GET,
            "/api/v1/damage-codes",
            "/api/v1/damage-codes".into(),
            none,
            [200; 6],
        ),
        raw(
            row(
                Method::PUT,
                "/api/v1/damage-codes",
                "/api/v1/damage-codes?edition=sample-2".into(),
                none,
                [403, 403, 403, 403, 403, 200],
            ),
            "text/csv",
            CODES.as_bytes().to_vec(),
        ),
    ]
}

/// Another port and another exporter can neither read nor change Guoyuan's tally of
/// Changan's shipment; an end-to-end session tallies only what matched.
pub async fn isolation_and_a_whole_session(w: &World) {
    let (s, _, photo) = seed(w).await;
    // A second port (Shanghai Haitong) and a second exporter.
    w.store
        .create_organisation(&Organisation {
            id: id("other-exporter"),
            name: "Other exporter".into(),
            kind: OrgKind::Exporter,
        })
        .await
        .expect("org");
    for (org, user) in [
        ("haitong-terminal-co", "haitong"),
        ("other-exporter", "other"),
    ] {
        bootstrap::ensure_user(&w.store, &id(org), user, "a long password", Role::Admin)
            .await
            .expect("user");
    }
    let haitong = w.login("haitong", "a long password").await;
    let other = w.login("other", "a long password").await;
    for t in [&haitong, &other] {
        for path in [
            format!("/api/v1/tally-sessions/{s}"),
            format!("/api/v1/tally-sessions/{s}/sheet"),
            format!("/api/v1/photos/{photo}"),
        ] {
            let (st, _) = w.call(Method::GET, &path, Some(t), None).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
        }
        for path in [
            "/api/v1/tally-sessions",
            "/api/v1/condition-reports",
            "/api/v1/gate-ins",
        ] {
            let (st, b) = w.call(Method::GET, path, Some(t), None).await;
            assert_eq!(st, StatusCode::OK);
            assert_eq!(b["items"], json!([]), "{path}: {b}");
        }
        let (st, _) = w
            .call(
                Method::POST,
                &format!("/api/v1/tally-sessions/{s}/scans"),
                Some(t),
                Some(json!({"text": vin(1).to_string(), "source": "typed"})),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    }
    for body in [json!({"facility": "guoyuan-yard", "vin": vin(1).to_string()})] {
        let (st, _) = w
            .call(Method::POST, "/api/v1/gate-ins", Some(&haitong), Some(body))
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "another port's yard");
    }
    let (st, _) = w
        .call(
            Method::POST,
            "/api/v1/tally-sessions",
            Some(&haitong),
            Some(json!({"facility": "guoyuan-yard", "shipment": "sh-tally"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // The whole flow at Guoyuan: gate in V1, identify it from a photo, close.
    let port = w.token(OrgKind::Port).await;
    let g = w
        .ok(
            Method::POST,
            "/api/v1/gate-ins",
            &port,
            json!({"facility": "guoyuan-yard", "vin": vin(1).to_string()}),
        )
        .await;
    assert_eq!(g["onManifest"], true);
    let images = format!("/api/v1/tally-sessions/{s}/images");
    let (st, b) = w
        .call_raw(
            Method::POST,
            &images,
            Some(&port),
            "image/png",
            label_png(&vin(1)),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(b["vins"][0]["vin"], vin(1).to_string());
    assert_eq!(b["vins"][0]["text"], format!("I{}", vin(1)));
    assert!(b["vins"][0]["region"]["width"].as_u64().unwrap_or(0) > 0);
    assert_eq!(b["recorded"][0]["trusted"], true);
    // Bad images change nothing.
    let count = || async {
        w.call(
            Method::GET,
            &format!("/api/v1/tally-sessions/{s}"),
            Some(&port),
            None,
        )
        .await
        .1["identifications"]
            .as_array()
            .map(Vec::len)
    };
    let before = count().await;
    let png = label_png(&vin(1));
    for (ct, body, want) in [
        ("image/png", b"not an image at all".to_vec(), 422),
        ("image/png", png[..png.len() / 3].to_vec(), 422),
        ("image/jpeg", png.clone(), 415),
        ("text/plain", png.clone(), 415),
        ("image/gif", b"GIF89a\x01\x00\x01\x00".to_vec(), 415),
        ("image/png", huge_png(), 413),
    ] {
        let (st, b) = w
            .call_raw(Method::POST, &images, Some(&port), ct, body)
            .await;
        assert_eq!(st.as_u16(), want, "{ct}: {b}");
        assert!(b["detail"].as_str().is_some_and(|d| !d.is_empty()), "{b}");
    }
    // A photo without a label is an answer, and records nothing.
    let blank = render::photograph(&render::Gray::white(200, 80), Distortion::Clean, 1).png();
    let (st, b) = w
        .call_raw(Method::POST, &images, Some(&port), "image/png", blank)
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert!(
        b["message"]
            .as_str()
            .is_some_and(|m| m.contains("no readable VIN")),
        "{b}"
    );
    assert_eq!(count().await, before);

    let closed = w
        .ok(
            Method::POST,
            &format!("/api/v1/tally-sessions/{s}/close"),
            &port,
            json!({}),
        )
        .await;
    assert_eq!(
        closed["tallied"],
        json!([]),
        "V1 has damage recorded: {closed}"
    );
    assert_eq!(closed["counts"]["damaged"], 1, "{closed}");
    let (st, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/vehicles/{}", vin(1)),
            Some(&port),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b["state"], "gated_in", "a damaged car is not tallied");
    // The sheet, in Chinese and as a workbook.
    let res = w
        .client
        .get(format!(
            "{}/api/v1/tally-sessions/{s}/sheet?lang=zh",
            w.base
        ))
        .bearer_auth(&port)
        .send()
        .await
        .expect("sheet");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("csv");
    assert!(text.contains("残损") && text.contains("04122"), "{text}");
    let res = w
        .client
        .get(format!(
            "{}/api/v1/tally-sessions/{s}/sheet?format=xlsx",
            w.base
        ))
        .bearer_auth(&port)
        .send()
        .await
        .expect("sheet");
    let bytes = res.bytes().await.expect("xlsx");
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let (st, _) = w
        .call(
            Method::GET,
            &format!("/api/v1/tally-sessions/{s}/sheet?format=pdf"),
            Some(&port),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    // A closed session takes no more identifications.
    let (st, _) = w
        .call(
            Method::POST,
            &format!("/api/v1/tally-sessions/{s}/scans"),
            Some(&port),
            Some(json!({"text": vin(1).to_string(), "source": "typed"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let _ = org_of;
}

/// A PNG whose header claims 60,000 × 60,000 pixels: refused before decoding.
fn huge_png() -> Vec<u8> {
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
    let mut ihdr = 60_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&60_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}
