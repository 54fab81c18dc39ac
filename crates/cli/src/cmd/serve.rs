//! `jianghai serve`.

use jianghai_server::bootstrap::{self, Admin};
use jianghai_server::feeds::AisConfig;
use jianghai_server::{AppState, Application, Config};

use super::{Outcome, open, shutdown_signal};

pub async fn run(
    url: &str,
    listen: &str,
    ais: AisConfig,
    mqtt: Option<&str>,
    bus: Option<&str>,
) -> anyhow::Result<Outcome> {
    let mut config = Config {
        ais,
        ..config_from_env()?
    };
    if let Some(url) = mqtt {
        config.mqtt = Some(
            jianghai_server::ingest::mqtt::MqttConfig::from_url(url)
                .map_err(|e| anyhow::anyhow!(e))?,
        );
    }
    if let Some(url) = bus {
        config.bus =
            Some(jianghai_server::bus::BusConfig::from_url(url).map_err(|e| anyhow::anyhow!(e))?);
    }
    let store = open(url).await?;
    serve_with(store, listen, config).await
}

/// Makes sure an operator administrator exists: from `JIANGHAI_ADMIN_PASSWORD`, or with a
/// one-time password printed here, once.
pub async fn ensure_admin(store: &jianghai_store::Store) -> anyhow::Result<()> {
    let password = std::env::var("JIANGHAI_ADMIN_PASSWORD").ok();
    match bootstrap::ensure_admin(store, password.as_deref()).await? {
        Admin::Existing => {}
        Admin::Created { organisation } => println!(
            "created administrator {} in {organisation} with the password from JIANGHAI_ADMIN_PASSWORD",
            bootstrap::ADMIN
        ),
        Admin::Generated {
            organisation,
            password,
        } => println!(
            "created administrator {} in {organisation}; one-time password (shown only now): {password}",
            bootstrap::ADMIN
        ),
    }
    Ok(())
}

/// Serves `store` on `listen` with `config` until Ctrl-C or SIGTERM.
async fn serve_with(
    store: jianghai_store::Store,
    listen: &str,
    config: Config,
) -> anyhow::Result<Outcome> {
    let mqtt = config.mqtt.clone();
    let bus = config.bus.clone();
    let app = Application::build(listen, AppState::new(store.clone(), config)).await?;
    let addr = app.local_addr()?;
    println!("Jianghai is running at http://{addr}/  (Ctrl-C stops it)");
    if let Some(m) = mqtt {
        println!(
            "  MQTT: readings from {}:{} on {}",
            m.host,
            m.port,
            m.filter()
        );
    }
    if let Some(b) = bus {
        println!(
            "  bus: NATS {} prefix {} as node {} ({} watch partitions)",
            b.server, b.prefix, b.node, b.partitions
        );
    }
    ensure_admin(&store).await?;
    println!("  API: http://{addr}/api/v1  docs: http://{addr}/api/docs/");
    app.run_until(shutdown_signal()).await?;
    store.close().await;
    Ok(Outcome::Ok)
}

/// The server's limits, with `JIANGHAI_RATE_PER_SECOND` and `JIANGHAI_RATE_BURST` (requests per
/// token) overriding the defaults, e.g. for load runs.
pub(super) fn config_from_env() -> anyhow::Result<Config> {
    let mut config = Config::default();
    for (name, slot) in [
        ("JIANGHAI_RATE_PER_SECOND", &mut config.rate_per_second),
        ("JIANGHAI_RATE_BURST", &mut config.rate_burst),
    ] {
        if let Ok(v) = std::env::var(name) {
            *slot = v
                .parse()
                .map_err(|e| anyhow::anyhow!("{name}={v:?} is not a number of requests: {e}"))?;
        }
    }
    Ok(config)
}
