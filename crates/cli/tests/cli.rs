//! The real binary, end to end: exit codes, messages, the demo, tampering, SIGKILL.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use jianghai_core::{Actor, Event, Ident, OrgKind, Organisation, Step, Vin};
use jianghai_store::Store;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jianghai"))
}

/// Runs the binary with `input` on stdin and collects its output.
fn run_with_stdin(args: &[&str], input: &str) -> std::process::Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("output")
}

fn postgres_url() -> String {
    std::env::var("JIANGHAI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn fresh_pg_url() -> String {
    format!(
        "{}?schema=cli_{}",
        postgres_url(),
        uuid::Uuid::new_v4().simple()
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn vin_check_says_why_and_sets_the_exit_status() {
    let ok = bin()
        .args(["vin", "check", " lrw3e7fs5pc695355 ", "LS5A2GCA2SC001001"])
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("LRW3E7FS5PC695355  valid    Tesla (Shanghai) (CN), model year 2023"));
    assert!(out.contains("Changan (CN), model year 2025"), "{out}");

    let bad = bin()
        .args([
            "vin",
            "check",
            "LRW3E7FS5PC695355",
            "LRW3E7FS6PC695355",
            "LRW3E7FS5PC69O355",
            "LRW3E7FS5PC69535",
        ])
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        out.contains("check digit at position 9: expected '5', found '6'"),
        "{out}"
    );
    assert!(out.contains("forbidden letter 'O' at position 14"), "{out}");
    assert!(
        out.contains("VIN must have 17 characters, found 16"),
        "{out}"
    );

    let json = bin()
        .args(["vin", "check", "--json", "LDC613P23A1305189"])
        .output()
        .expect("runs");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(v["valid"], true);
    assert_eq!(v["manufacturer"], "Dongfeng Peugeot-Citroën");
    assert_eq!(v["modelYear"], 2010);
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["verify", "--help"],
        vec!["vin", "check", "--help"],
        vec!["events", "append", "--help"],
        vec!["stowage", "plan", "--help"],
        vec!["tally", "scan", "--help"],
        vec!["ais", "decode", "--help"],
    ] {
        let out = bin().args(&args).output().expect("runs");
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = bin()
        .args(["verify", "--store", "mysql://x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite://PATH"));
}

fn demo_then_tamper(url: &str, unguard: &str) {
    let out = bin()
        .args(["demo", "--headless", "--store", url])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("exported: 108 of 108"), "{text}");
    assert!(
        text.contains("refused: cannot load: vehicle is tallied"),
        "{text}"
    );
    // 338 before the customs paths, +107: the export is confirmed per car.
    assert!(text.contains("ledger verifies: 445 entries"), "{text}");
    // Loading by plan: one wrong-slot scan caught, then load-complete allows departure.
    assert!(text.contains("108 cars in"), "{text}");
    assert!(
        text.contains("→ refused, alert raised; rescanned in"),
        "{text}"
    );
    assert!(
        text.contains(
            "108 loaded as planned, 0 left behind, 0 extra, 0 misplaced → departure allowed"
        ),
        "{text}"
    );
    // The river voyage, sailed from AIS through the TCP feed: both locks (on the ledger), the
    // wait above the Three Gorges, the detour and the AIS gap, each an alert that cleared.
    assert!(
        text.contains("over the TCP feed, 778 positions tracked"),
        "{text}"
    );
    assert!(text.contains("2303 of 2303 km (100%), berthed"), "{text}");
    assert!(
        text.contains("lock three-gorges-locks: waited 5.8 h"),
        "{text}"
    );
    assert!(text.contains("lock gezhouba-locks: no wait"), "{text}");
    assert!(
        text.contains("alert voyage-off-corridor (warning, resolved): 299"),
        "{text}"
    );
    assert!(
        text.contains("alert voyage-ais-silence (warning, resolved)"),
        "{text}"
    );
    assert_eq!(text.matches("  alert voyage-").count(), 2, "{text}");
    // The yard: gate-ins by truck, one tally session with its two discrepancies.
    assert!(
        text.contains("107 matched, 1 missing, 1 unconfirmed → tallied 107 cars"),
        "{text}"
    );
    assert!(text.contains("no readable VIN label"), "{text}");
    assert!(text.contains("both discrepancy alerts resolved"), "{text}");
    // Customs through the platform's paths: the sealed declaration, its close at Shanghai
    // after the seal check, the yard transfer with its dwell, the export per car.
    assert!(
        text.contains("4 seals (CQ-0001-D1, CQ-0001-D2, CQ-0001-D3, ES-0001-D3)"),
        "{text}"
    );
    assert!(
        text.contains(
            "transit CQZG2026000001 closed at shanghai-customs (转关核销): 4 seals verified intact"
        ),
        "{text}"
    );
    assert!(
        text.contains("close without the e-seal refused: ")
            && text.contains("seal ES-0001-D3 applied on deck:minsheng-ro-ro-8/D3 is missing"),
        "{text}"
    );
    assert!(
        text.contains("ocean leg ov-0001 on cosco-pctc-1 at haitong-terminal for MXZLO"),
        "{text}"
    );
    assert!(
        text.contains(
            "transshipped 108 cars through the yard at Haitong (mean dwell 49 h 47 min); export confirmed for 108 cars"
        ),
        "{text}"
    );
    assert!(
        text.contains("e-seal seal:minsheng-ro-ro-8/ES-0001-D3 (sealed, battery)"),
        "{text}"
    );
    assert!(!text.contains("seal-broken-in-transit"), "{text}");
    // The summary, read back from the stored facts through the routes: the transit closed,
    // the refund's start date 13 days before the exit-port baseline, the savings.
    assert!(
        text.contains(
            "as customs): transit CQZG2026000001 closed: 108 cars, 4 seals, 7 log entries"
        ),
        "{text}"
    );
    let refund = text
        .lines()
        .find_map(|l| l.split_once("tax refund (启运港退税): eligible; can be filed from "))
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| panic!("no refund line: {text}"));
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
    let from = date(&refund[..10]);
    let baseline = date(
        refund
            .rsplit_once('(')
            .map(|(_, b)| b.trim_end_matches(')'))
            .expect("baseline"),
    );
    // Released on day 4 at 07:30, the ocean departure on day 16 at 02:00: 13 or 14 calendar
    // days apart depending on the hour the scenario starts.
    let days = (baseline - from).num_days();
    assert!((13..=14).contains(&days), "{refund}");
    assert!(
        refund.contains(&format!(", {days} days before the exit-port baseline")),
        "{refund}"
    );
    let today = chrono::Utc::now().date_naive();
    assert!(
        from < today && from > today - chrono::Duration::days(17),
        "{refund}"
    );
    assert!(
        text.contains("savings against container transit: 162000 CNY (1500 a car)"),
        "{text}"
    );
    // Deck and car sensors through HTTP ingestion, and the three anomalies' alerts.
    assert!(text.contains("readings posted over HTTP"), "{text}");
    for rule in ["condensation", "ev-battery-runaway", "door-open-in-transit"] {
        assert!(
            text.lines()
                .any(|l| l.contains(rule) && l.trim_start().starts_with(['w', 'c'])),
            "{rule}: {text}"
        );
    }
    assert!(!text.contains("was not raised"), "{text}");
    // A second run on the same store adds a second consignment.
    let again = bin()
        .args(["demo", "--headless", "--store", url])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("ledger verifies: 890 entries"), "{text}");
    assert!(
        text.contains("as customs): transit CQZG2026000002 closed: 108 cars"),
        "{text}"
    );
    assert!(text.contains("door-open-in-transit"), "{text}");

    let ok = bin()
        .args(["verify", "--store", url])
        .output()
        .expect("runs");
    assert!(ok.status.success());

    runtime().block_on(async {
        let store = Store::open(url).await.expect("open");
        store.execute_raw(unguard).await.expect("unguard");
        store
            .execute_raw(
                "UPDATE ledger SET body = REPLACE(body, 'loading', 'unloading') WHERE seq = 300",
            )
            .await
            .expect("tamper");
        store.close().await;
    });
    let broken = bin()
        .args(["verify", "--store", url])
        .output()
        .expect("runs");
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8_lossy(&broken.stdout);
    assert!(text.contains("entry 300"), "{text}");
}

#[test]
fn demo_on_sqlite_verifies_and_tampering_fails_verify() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    demo_then_tamper(&url, "DROP TRIGGER ledger_no_update;");
}

#[test]
fn demo_on_postgres_verifies_and_tampering_fails_verify() {
    demo_then_tamper(&fresh_pg_url(), "ALTER TABLE ledger DISABLE TRIGGER USER;");
}

fn register_event(n: u32) -> Event {
    let vin = Vin::with_check_digit(&format!("LS5A2GCA0SC{n:06}")).expect("vin");
    Event::lifecycle(
        uuid::Uuid::now_v7(),
        Step::Register,
        chrono::Utc::now().fixed_offset(),
        vec![vin],
        Actor {
            organisation: Ident::parse("changan-intl").expect("id"),
            user: None,
            device: None,
        },
    )
}

/// Streams events into `jianghai events append`, SIGKILLs it mid-stream, and checks that every
/// acknowledged event survived with its sequence number and hash, and the chain verifies.
fn acknowledged_events_survive_sigkill(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.expect("open");
        store
            .create_organisation(&Organisation {
                id: Ident::parse("changan-intl").expect("id"),
                name: "Changan International".into(),
                kind: OrgKind::Exporter,
            })
            .await
            .expect("org");
        store.close().await;
    });
    let mut child = bin()
        .args(["events", "append", "--store", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    // The writer never stops on its own: the process dies under it.
    let writer = std::thread::spawn(move || {
        for n in 1..100_000u32 {
            let line = format!("{}\n", register_event(n).canonical());
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = Vec::new();
    while acks.len() < 300 {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("acknowledgements keep coming");
        acks.push(line);
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed, not finished");
    // Acks already written before the kill are acknowledged too.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
        acks.push(line);
    }
    let _ = writer.join();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(!stderr.contains("rejected"), "{stderr}");

    runtime().block_on(async {
        let store = Store::open(url).await.expect("reopen after SIGKILL");
        for ack in &acks {
            let v: serde_json::Value = serde_json::from_str(ack).expect("ack is JSON");
            let id: uuid::Uuid = v["eventId"].as_str().expect("id").parse().expect("uuid");
            let rec = store
                .event(id)
                .await
                .expect("read")
                .unwrap_or_else(|| panic!("acknowledged event {id} was lost"));
            assert_eq!(Some(rec.seq), v["seq"].as_i64());
            assert_eq!(Some(rec.hash.as_str()), v["hash"].as_str());
        }
        let summary = store.verify().await.expect("chain verifies after SIGKILL");
        assert!(summary.count >= acks.len() as i64);
        store.close().await;
    });
}

#[test]
fn sigkill_on_sqlite_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("dir");
    acknowledged_events_survive_sigkill(&format!(
        "sqlite://{}",
        dir.path().join("kill.db").display()
    ));
}

#[test]
fn sigkill_on_postgres_loses_nothing_acknowledged() {
    acknowledged_events_survive_sigkill(&fresh_pg_url());
}

#[test]
fn events_append_reports_bad_lines_with_numbers_and_keeps_going() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("bad.db").display());
    runtime().block_on(async {
        let store = Store::open(&url).await.expect("open");
        store
            .create_organisation(&Organisation {
                id: Ident::parse("changan-intl").expect("id"),
                name: "Changan International".into(),
                kind: OrgKind::Exporter,
            })
            .await
            .expect("org");
    });
    let good = register_event(1).canonical();
    let mut future = register_event(2);
    future.event_time = (chrono::Utc::now() + chrono::Duration::hours(1)).fixed_offset();
    let mut tally_first = register_event(3);
    tally_first.step = Some(Step::Tally);
    let input = format!(
        "{good}\nnot json\n{}\n{}\n{good}\n{}\n",
        future.canonical(),
        tally_first.canonical(),
        good.replace("\"commissioning\"", "\"inspecting\""),
    );
    let out = run_with_stdin(&["events", "append", "--store", &url], &input);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let acks: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json ack"))
        .collect();
    assert_eq!(acks.len(), 2, "{stdout}");
    assert_eq!(acks[0]["line"], 1);
    assert_eq!(acks[1]["line"], 5);
    assert_eq!(acks[1]["duplicate"], true);
    assert_eq!(acks[0]["seq"], acks[1]["seq"]);
    assert!(
        stderr.contains("line 2: rejected: not a valid event"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3: rejected: event 0: event time"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: rejected: event 0: VIN"),
        "{stderr}"
    );
    assert!(stderr.contains("not registered"), "{stderr}");
    assert!(
        stderr.contains("line 6: rejected: event id") && stderr.contains("different event"),
        "{stderr}"
    );
}

#[test]
fn serve_answers_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("serve.db").display());
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--store", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let banner = lines.next().expect("banner").expect("line");
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("address in banner")
        .to_string();
    let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut resp = String::new();
    conn.read_to_string(&mut resp).expect("response");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(r#"{"status":"ok"}"#), "{resp}");
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "graceful shutdown exits 0: {status}");
}

#[test]
fn serve_refuses_bad_ais_feeds() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("serve.db").display());
    for (flag, value, says) in [
        ("--ais-tcp", "no-port-here", "is not HOST:PORT"),
        ("--ais-tcp", "host:99999", "is not HOST:PORT"),
        (
            "--ais-udp",
            "localhost:10110",
            "is not an IP address and port",
        ),
    ] {
        let out = bin()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--store",
                &url,
                flag,
                value,
            ])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
    // A UDP port someone else holds: refused at start, nothing served.
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            &url,
            "--ais-udp",
            &addr,
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen for AIS on udp {addr}")),
        "{stderr}"
    );
}

#[test]
fn stowage_plan_prints_quality_and_explains_bad_input() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = bin()
        .args([
            "stowage",
            "plan",
            "--vessel",
            &format!("{root}/crates/stowage/fixtures/yangtze-car-carrier.json"),
            "--cars",
            &format!("{root}/examples/cars-108.csv"),
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("cars 108  placed 108  left behind 0"),
        "{text}"
    );
    assert!(text.contains("first-fit baseline"), "{text}");

    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"decks\": 3}").expect("write");
    let out = bin()
        .args([
            "stowage",
            "plan",
            "--vessel",
            &bad.display().to_string(),
            "--cars",
            &format!("{root}/examples/cars-108.csv"),
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a valid vessel"));
}

#[test]
fn ais_decode_writes_gpsd_json_and_reports_bad_lines() {
    let input = "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\n\
                 !AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B\n\
                 \n\
                 garbage\n";
    let out = run_with_stdin(&["ais", "decode"], input);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["class"], "AIS");
    assert_eq!(v["type"], 1);
    assert_eq!(v["mmsi"], 371_798_000);
    assert_eq!(v["speed"], 12.3);
    assert_eq!(v["lat"], 48.381633);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: checksum mismatch"), "{stderr}");
    assert!(stderr.contains("line 4:"), "{stderr}");
}

#[test]
fn tally_scan_prints_vins_and_fails_on_images_without_one() {
    use jianghai_tally::Symbology;
    use jianghai_tally::render::{Distortion, photograph, vin_label};
    let dir = tempfile::tempdir().expect("tempdir");
    let vin = "LS5A3DKE0RA000123";
    let vin = Vin::with_check_digit(vin).expect("body").to_string();
    let label = vin_label(&vin, Symbology::Code39, true).expect("renders");
    let photo = dir.path().join("gate-3.png");
    std::fs::write(
        &photo,
        photograph(&label, Distortion::Rotation(8.0), 7).png(),
    )
    .expect("write");
    let qr = dir.path().join("windscreen.jpg");
    let label = vin_label(&vin, Symbology::Qr, false).expect("renders");
    std::fs::write(&qr, photograph(&label, Distortion::Clean, 3).jpeg()).expect("write");
    let blank = dir.path().join("blank.png");
    let white = jianghai_tally::render::Gray::white(300, 200);
    std::fs::write(&blank, white.png()).expect("write");
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image at all").expect("write");

    let ok = bin()
        .args(["tally", "scan"])
        .arg(&photo)
        .arg(&qr)
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out}");
    assert!(out.contains(&format!("gate-3.png: {vin} (code39")), "{out}");
    assert!(out.contains(&format!("windscreen.jpg: {vin} (qr")), "{out}");

    let bad = bin()
        .args(["tally", "scan", "--json"])
        .arg(&photo)
        .arg(&blank)
        .arg(&text)
        .arg(dir.path().join("absent.png"))
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&bad.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per image"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["vins"][0]["vin"], vin.as_str());
    assert_eq!(lines[1]["vins"].as_array().map(Vec::len), Some(0));
    assert!(
        lines[2]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a PNG or JPEG")),
        "{}",
        lines[2]
    );
    assert!(
        lines[3]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot read the file")),
        "{}",
        lines[3]
    );
}
