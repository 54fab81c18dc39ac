//! One module per command; this one maps their outcomes to exit codes in one place.

mod ais;
mod demo;
mod demo_customs;
mod demo_loading;
mod demo_sensors;
mod demo_voyage;
mod demo_yard;
mod events;
mod serve;
mod stowage;
mod tally;
mod verify;
mod vin;

use std::process::ExitCode;

use crate::cli::{
    AisCommand, Cli, Command, EventsCommand, StowageCommand, TallyCommand, VinCommand,
};

/// What a command concluded, beyond "it ran".
pub enum Outcome {
    /// Everything checked out.
    Ok,
    /// The command ran but found a problem the user asked about (an invalid VIN, a ledger that
    /// does not verify, a rejected line): exit status 1.
    Findings,
}

pub fn run(args: Cli) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,jianghai=info,jianghai_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match args.command {
            Command::Serve {
                store,
                listen,
                ais_tcp,
                ais_udp,
                mqtt,
                bus,
            } => {
                let ais = jianghai_server::feeds::AisConfig {
                    tcp: ais_tcp,
                    udp: ais_udp,
                    ..Default::default()
                };
                serve::run(&store.store, &listen, ais, mqtt.as_deref(), bus.as_deref()).await
            }
            Command::Demo {
                store,
                headless,
                listen,
                seed,
            } => demo::run(&store, headless, &listen, seed).await,
            Command::Verify { store } => verify::run(&store.store).await,
            Command::Vin {
                command: VinCommand::Check { vins, json },
            } => Ok(vin::check(&vins, json)),
            Command::Ais {
                command: AisCommand::Decode { device },
            } => ais::decode(device.as_deref()),
            Command::Stowage {
                command:
                    StowageCommand::Plan {
                        vessel,
                        cars,
                        list_cars,
                        json,
                    },
            } => stowage::plan(&vessel, &cars, list_cars, json),
            Command::Tally {
                command: TallyCommand::Scan { images, json },
            } => tally::scan(&images, json),
            Command::Events {
                command: EventsCommand::Append { store },
            } => events::append(&store.store).await,
            Command::Events {
                command: EventsCommand::Timeline { store, vin },
            } => events::timeline(&store.store, &vin).await,
        }
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) => {
            // BrokenPipe (output piped into `head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Opens the store, naming it in the error.
pub async fn open(url: &str) -> anyhow::Result<jianghai_store::Store> {
    use anyhow::Context;
    jianghai_store::Store::open(url)
        .await
        .with_context(|| format!("cannot open store {url}"))
}

/// Opens a store that must already exist: a mistyped SQLite path is an error, not a new, empty
/// ledger that trivially verifies.
pub async fn open_existing(url: &str) -> anyhow::Result<jianghai_store::Store> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))
        && path != ":memory:"
        && !std::path::Path::new(path).exists()
    {
        anyhow::bail!("no store at {url}: {path} does not exist");
    }
    open(url).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
