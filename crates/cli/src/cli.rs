//! The command line, as clap derives it. Every command that touches data takes `--store`.

use clap::{Args, Parser, Subcommand};

/// 江海 Jianghai: supervision of finished-vehicle exports by river–sea ro-ro shipping.
#[derive(Debug, Parser)]
#[command(name = "jianghai", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// `HOST:PORT` with a port number (the host is resolved when connecting).
fn host_port(s: &str) -> Result<String, String> {
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(s.to_string())
        }
        _ => Err(format!(
            "{s:?} is not HOST:PORT (e.g. ais.example.org:5631)"
        )),
    }
}

/// An IP address and port to bind, e.g. `0.0.0.0:10110` or `[::]:10110`.
fn socket_addr(s: &str) -> Result<String, String> {
    s.parse::<std::net::SocketAddr>()
        .map(|_| s.to_string())
        .map_err(|_| format!("{s:?} is not an IP address and port (e.g. 0.0.0.0:10110)"))
}

#[derive(Debug, Args, Clone)]
pub struct StoreArg {
    /// Where the data lives: sqlite://PATH (the embedded default) or postgres://USER@HOST/DB.
    #[arg(long, env = "JIANGHAI_STORE", default_value = "sqlite://jianghai.db")]
    pub store: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the platform: HTTP API and ingestion.
    Serve {
        #[command(flatten)]
        store: StoreArg,
        /// Address to listen on.
        #[arg(long, env = "JIANGHAI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Read AIS sentences from an aggregator at HOST:PORT over TCP (reconnecting with
        /// back-off). Repeatable.
        #[arg(long = "ais-tcp", value_name = "HOST:PORT", value_parser = host_port)]
        ais_tcp: Vec<String>,
        /// Listen for AIS sentences in UDP datagrams on ADDR (e.g. 0.0.0.0:10110). Repeatable.
        #[arg(long = "ais-udp", value_name = "ADDR", value_parser = socket_addr)]
        ais_udp: Vec<String>,
        /// Also take readings from this MQTT broker: mqtt://HOST[:PORT][?client_id=ID&root=ROOT]
        /// (QoS 1 on ROOT/ORGANISATION/DEVICE/readings; ROOT defaults to jianghai).
        #[arg(long, env = "JIANGHAI_MQTT")]
        mqtt: Option<String>,
        /// Run as one of several nodes sharing this store over a NATS JetStream bus:
        /// nats://HOST[:PORT][?prefix=P&partitions=N&lease_ms=MS&node=NAME] (see docs/deploy.md).
        #[arg(long, env = "JIANGHAI_BUS")]
        bus: Option<String>,
    },
    /// Run the platform with the built-in scenario: 108 Chongqing cars from the consolidation
    /// yard to export at Shanghai, through every lifecycle step.
    Demo {
        /// Where the demo's data lives.
        #[arg(
            long,
            env = "JIANGHAI_STORE",
            default_value = "sqlite://jianghai-demo.db"
        )]
        store: String,
        /// Run the scenario to its end, verify the ledger and exit instead of serving.
        #[arg(long)]
        headless: bool,
        /// Address to serve on after the scenario (ignored with --headless).
        #[arg(long, env = "JIANGHAI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seed of the scenario generator.
        #[arg(long, default_value_t = 2025)]
        seed: u64,
    },
    /// Check the ledger: recompute the hash chain and the projections. Exits non-zero and names
    /// the first entry that does not match when it does not verify.
    Verify {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Vehicle identification numbers.
    Vin {
        #[command(subcommand)]
        command: VinCommand,
    },
    /// AIS (NMEA 0183 !AIVDM/!AIVDO).
    Ais {
        #[command(subcommand)]
        command: AisCommand,
    },
    /// Stowage planning (精准装船).
    Stowage {
        #[command(subcommand)]
        command: StowageCommand,
    },
    /// Consolidation and tally (集并理货).
    Tally {
        #[command(subcommand)]
        command: TallyCommand,
    },
    /// Ledger events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum VinCommand {
    /// Say for each VIN whether it is valid (and exactly why not), with maker and model year.
    /// Exits non-zero when any VIN is invalid.
    Check {
        /// VINs to check.
        #[arg(required = true)]
        vins: Vec<String>,
        /// One JSON object per VIN instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Append events read from stdin, one JSON event per line. Each line is acknowledged on
    /// stdout (a JSON object with its sequence number and hash) only once it is durable; bad
    /// lines are reported on stderr with their line number, and the exit status is non-zero.
    Append {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print the full timeline of a VIN, oldest first, as EPCIS 2.0 ObjectEvents (one per line).
    Timeline {
        #[command(flatten)]
        store: StoreArg,
        vin: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum StowageCommand {
    /// Plan where each car goes (deck, lane, position) and print the plan with its quality
    /// against an upper bound and a first-fit baseline. Exits non-zero when a car is left behind.
    Plan {
        /// The vessel's deck plan (JSON).
        #[arg(long)]
        vessel: std::path::PathBuf,
        /// The cars (CSV: vin,model,length_mm,width_mm,height_mm,weight_kg,powertrain[,soc_pct,discharge_seq,discharge]).
        #[arg(long)]
        cars: std::path::PathBuf,
        /// List every car in every lane.
        #[arg(long)]
        list_cars: bool,
        /// Print the plan as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TallyCommand {
    /// Find the VIN barcodes (Code 39, Code 128, Data Matrix, QR) in each PNG or JPEG image and
    /// print each VIN with its symbology and where it lies. Exits 1 when an image holds no VIN
    /// with a valid check digit (or is no image at all).
    Scan {
        /// Image files.
        #[arg(required = true)]
        images: Vec<std::path::PathBuf>,
        /// One JSON object per image instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AisCommand {
    /// Read AIVDM/AIVDO sentences on stdin and write one JSON object per decoded message, with
    /// gpsd's JSON-AIS member names and scaling. Bad sentences are reported on stderr with their
    /// line number and reason; the exit status is 1 when any line was malformed.
    Decode {
        /// Add gpsd's "device" member with this value.
        #[arg(long)]
        device: Option<String>,
    },
}
