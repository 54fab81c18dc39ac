//! What the multi-process tests share: `jianghai serve` as a child process (started, waited
//! for, killed), its log collected, and the clean-up of what a run leaves in PostgreSQL and
//! NATS. Each test binary uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use jianghai_core::reading::{MeasurementType, Subject, Unit};
use jianghai_core::{Ident, OrgKind, Organisation, Vessel, VesselKind, ledger::format_time};
use jianghai_store::{DeviceKind, DeviceRecord, SensorRecord, Store, TokenOwner, TokenRecord};

/// The administrator's password every node gets.
pub const PASSWORD: &str = "a long admin password";

/// Every log line of every node started with it, as (node name, line), in arrival order.
pub type Log = Arc<Mutex<Vec<(String, String)>>>;

/// A running `jianghai serve`; killed (SIGKILL) when dropped.
pub struct Node {
    pub name: String,
    pub child: Child,
    /// `host:port` of its HTTP listener.
    pub addr: String,
}

impl Node {
    /// SIGKILL, and waits for it to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("wait");
        assert!(!status.success(), "{} was killed, not finished", self.name);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Without the terminal colour sequences.
pub fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of `name=value` in a log line.
pub fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {name}="))? + name.len() + 2;
    line[at..].split_whitespace().next()
}

/// Starts `jianghai serve` on `store` with `args` added, logging at `rust_log` into `log`
/// (and to this test's stderr), and waits until it is ready: listening, the administrator in
/// place, the API line printed.
pub fn serve(store: &str, name: &str, args: &[String], rust_log: &str, log: &Log) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jianghai"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .args(args)
        .env("JIANGHAI_ADMIN_PASSWORD", PASSWORD)
        .env("JIANGHAI_RATE_PER_SECOND", "100000")
        .env("JIANGHAI_RATE_BURST", "100000")
        .env("RUST_LOG", rust_log)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    {
        let (log, name) = (log.clone(), name.to_string());
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                let l = plain(&l);
                eprintln!("[{name}] {l}");
                log.lock().expect("log").push((name.clone(), l));
            }
        });
    }
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let banner = lines.next().expect("banner").expect("line");
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep reading stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if l.contains("API:") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{name} did not become ready in 60 s"));
    Node {
        name: name.to_string(),
        child,
        addr,
    }
}

/// `(node, partition)` of every "Took the watch partition" line from `from` on, in order.
pub fn takes(log: &Log, from: usize) -> Vec<(String, u32)> {
    let log = log.lock().expect("log");
    log.get(from..)
        .unwrap_or_default()
        .iter()
        .filter(|(_, l)| l.contains("Took the watch partition"))
        .filter_map(|(n, l)| Some((n.clone(), field(l, "partition")?.parse().ok()?)))
        .collect()
}

/// Lines of the log so far.
pub fn log_len(log: &Log) -> usize {
    log.lock().expect("log").len()
}

/// What a multi-node run needs: PostgreSQL (a fresh schema) and, if asked, NATS (a fresh
/// prefix). Dropping it (also when the test fails) deletes the schema and the prefix's
/// streams and lease bucket.
pub struct Deployment {
    /// The store URL with the run's schema.
    pub store: String,
    schema: String,
    nats: Option<(String, String)>,
}

impl Deployment {
    /// A fresh schema `NAME_<uuid>`; with `bus`, also a fresh prefix on the test NATS server
    /// (which must be up: the tests fail, not skip, without it).
    pub fn new(name: &str, bus: bool) -> Deployment {
        let pg = std::env::var("JIANGHAI_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let run = uuid::Uuid::new_v4().simple().to_string();
        let schema = format!("{name}_{run}");
        let nats = bus.then(|| {
            let server =
                std::env::var("JIANGHAI_TEST_NATS").unwrap_or_else(|_| "127.0.0.1:4222".into());
            std::net::TcpStream::connect(&server)
                .unwrap_or_else(|e| panic!("NATS with JetStream is required at {server}: {e}"));
            (server, format!("t{}", &run[..12]))
        });
        Deployment {
            store: format!("{pg}?schema={schema}"),
            schema,
            nats,
        }
    }

    /// The `--bus` URL with these options (`partitions=6&lease_ms=1500`, say) and the run's
    /// prefix.
    pub fn bus(&self, options: &str) -> String {
        let (server, prefix) = self.nats.as_ref().expect("a deployment with a bus");
        format!("nats://{server}?prefix={prefix}&{options}")
    }

    /// The stream and subject prefix.
    pub fn prefix(&self) -> &str {
        self.nats.as_ref().map_or("", |(_, p)| p.as_str())
    }

    async fn clean(store: String, schema: String, nats: Option<(String, String)>) {
        if let Some((server, prefix)) = nats {
            match async_nats::connect(server.as_str()).await {
                Ok(client) => {
                    let js = async_nats::jetstream::new(client);
                    for s in ["readings", "events", "ais"]
                        .map(|s| format!("{prefix}_{s}"))
                        .into_iter()
                        .chain([format!("KV_{prefix}_leases")])
                    {
                        let _ = js.delete_stream(&s).await;
                    }
                }
                Err(e) => eprintln!("cannot connect to NATS to clean up {prefix}: {e}"),
            }
        }
        match jianghai_store::Store::open(&store).await {
            Ok(s) => {
                if let Err(e) = s
                    .execute_raw(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await
                {
                    eprintln!("cannot drop the schema {schema}: {e}");
                }
                s.close().await;
            }
            Err(e) => eprintln!("cannot open the store to drop {schema}: {e}"),
        }
    }

    /// Cleans up now and returns which of the prefix's streams are still there (none, after
    /// a good clean-up).
    pub fn clean_up(mut self) -> Vec<String> {
        let nats = self.nats.take();
        run_aside(Deployment::clean(
            self.store.clone(),
            std::mem::take(&mut self.schema),
            nats.clone(),
        ));
        let Some((server, prefix)) = nats else {
            return Vec::new();
        };
        run_aside(async move {
            let client = async_nats::connect(server.as_str()).await.expect("NATS");
            let js = async_nats::jetstream::new(client);
            let mut left = Vec::new();
            for name in ["readings", "events", "ais"]
                .map(|s| format!("{prefix}_{s}"))
                .into_iter()
                .chain([format!("KV_{prefix}_leases")])
            {
                if js.get_stream(&name).await.is_ok() {
                    left.push(name);
                }
            }
            left
        })
        .unwrap_or_default()
    }
}

/// Runs `f` to its end on a runtime of its own, on a thread of its own (this may be called
/// inside a test's runtime, or while unwinding).
fn run_aside<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => Some(rt.block_on(f)),
            Err(e) => {
                eprintln!("cannot clean up: {e}");
                None
            }
        }
    })
    .join()
    .ok()
    .flatten()
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // An empty schema: cleaned up already.
        if !self.schema.is_empty() {
            let (store, schema, nats) = (self.store.clone(), self.schema.clone(), self.nats.take());
            run_aside(Deployment::clean(store, schema, nats));
        }
    }
}

fn id(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

/// Seeds what the streams need: the carrier `minsheng-shipping`, its vessel `minsheng-8`, and
/// its sensor device `device` (credential `secret`) with one air-temperature sensor per
/// (sensor, subject).
pub async fn seed_deck_sensors(
    url: &str,
    device: &str,
    secret: &str,
    sensors: &[(String, String)],
) {
    let store = Store::open(url).await.expect("open");
    store
        .create_organisation(&Organisation {
            id: id("minsheng-shipping"),
            name: "Minsheng Shipping".into(),
            kind: OrgKind::Carrier,
        })
        .await
        .expect("org");
    store
        .create_vessel(&Vessel {
            id: id("minsheng-8"),
            name: "Minsheng 8".into(),
            kind: VesselKind::RiverRoRo,
            carrier: id("minsheng-shipping"),
            mmsi: None,
            imo: None,
        })
        .await
        .expect("vessel");
    let now = format_time(Utc::now());
    let record = DeviceRecord {
        id: id(device),
        organisation: id("minsheng-shipping"),
        kind: DeviceKind::Sensor,
        name: device.into(),
        created_at: now.clone(),
        disabled_at: None,
    };
    let credential = TokenRecord {
        id: uuid::Uuid::new_v4(),
        secret_hash: jianghai_server::auth::secret_hash(secret),
        owner: TokenOwner::Device(record.id.clone()),
        name: "credential".into(),
        created_at: now.clone(),
        expires_at: None,
        revoked_at: None,
    };
    store
        .create_device(&record, &credential)
        .await
        .expect("device");
    for (sensor, subject) in sensors {
        store
            .register_sensor(&SensorRecord {
                device: id(device),
                sensor: sensor.clone(),
                organisation: id("minsheng-shipping"),
                measurement: MeasurementType::Temperature,
                unit: Unit::Celsius,
                subject: Subject::parse(subject).expect("subject"),
                name: "air".into(),
                created_at: now.clone(),
                updated_at: now.clone(),
            })
            .await
            .expect("sensor");
    }
    store.close().await;
}
