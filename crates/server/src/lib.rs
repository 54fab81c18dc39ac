//! Jianghai's HTTP shell. [`app`] builds the router (tests call it without a socket);
//! [`Application::build`] binds the listener and reports the bound port.
//!
//! - `/api/v1` ([`api`]): the JSON API. Every handler names the [`auth::Principal`]
//!   extractor (Bearer tokens) and asks the one [`policy`] what the caller may see or do.
//! - Errors are RFC 9457 problem documents from one type ([`problem::ApiError`]); rejections,
//!   unknown routes and the body-size limit are turned into the same shape.
//! - Every request gets an `x-request-id` (kept if the client sent one), which every log line
//!   of the request carries and the response echoes; every `/api/v1` request is audited.
//! - `/api/openapi.json` is the OpenAPI 3.1 document collected from the handlers, and
//!   `/api/docs` a Swagger UI served from the binary (no internet needed).
//! - Alerts ([`api::alerts`]) are pushed live over Server-Sent Events and to signed webhooks
//!   ([`webhooks`]); [`alerting`] holds the workers (escalation, webhook dispatch) that
//!   [`Application::run_until`] runs beside the server.
//! - Readings come in over HTTP (`POST /api/v1/readings`) and MQTT ([`ingest::mqtt`]), are
//!   stored by one group-commit queue ([`ingest`]) and, once durable, go to the watch engine.
//! - Everything else is the web console ([`console`]): `web/`'s built files, embedded.

pub mod alerting;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod bus;
pub mod console;
pub mod extract;
pub mod feeds;
pub mod ingest;
pub mod policy;
pub mod problem;
pub mod tracking;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::Request;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router, middleware};
use jianghai_store::Store;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa_swagger_ui::SwaggerUi;

/// Limits and knobs of the HTTP shell.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest request body, in bytes (manifests included).
    pub body_limit: usize,
    /// Requests a token may make in a burst, and refilled per second.
    pub rate_burst: u32,
    pub rate_per_second: u32,
    /// Failed logins per username within 15 minutes before it is locked for 15 minutes (an
    /// address gets four times as many).
    pub login_max_failures: i64,
    /// Escalation of unacknowledged alerts and webhook delivery.
    pub alerts: alerting::AlertsConfig,
    /// AIS feeds and vessel tracking ([`feeds`]); none by default.
    pub ais: feeds::AisConfig,
    /// The group commit of readings.
    pub ingest: jianghai_store::IngestConfig,
    /// How often raw readings older than their organisation's retention are deleted.
    pub retention_every: std::time::Duration,
    /// The MQTT broker to take readings from, if any.
    pub mqtt: Option<ingest::mqtt::MqttConfig>,
    /// The NATS JetStream bus shared with other nodes, if any ([`bus`]).
    pub bus: Option<bus::BusConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            body_limit: 4 * 1024 * 1024,
            rate_burst: 200,
            rate_per_second: 100,
            login_max_failures: 5,
            alerts: alerting::AlertsConfig::default(),
            ais: feeds::AisConfig::default(),
            ingest: jianghai_store::IngestConfig::default(),
            retention_every: std::time::Duration::from_secs(3600),
            mqtt: None,
            bus: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub limiter: auth::RateLimiter,
    /// Turns true when the server begins to shut down, so endless responses (live streams)
    /// end and the graceful shutdown can finish.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// Where durable readings go to be watched ([`alerting`]).
    pub watch: alerting::WatchInput,
    /// Reading ingestion: device authentication, checks, the group-commit queue.
    pub intake: ingest::Intake,
}

impl AppState {
    /// Needs a tokio runtime: it starts the ingestion queue's writer.
    pub fn new(store: Store, config: Config) -> AppState {
        let ingestor = jianghai_store::Ingestor::start(store.clone(), config.ingest);
        AppState {
            intake: ingest::Intake::new(store.clone(), ingestor),
            limiter: auth::RateLimiter::new(config.rate_burst, config.rate_per_second),
            store,
            config: Arc::new(config),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
            watch: alerting::WatchInput::default(),
        }
    }
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api::router();
    let api = api.route_layer(middleware::from_fn_with_state(state.clone(), audit::record));
    let limit = state.config.body_limit;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(livez))
        .merge(api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .fallback(console::serve)
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(middleware::map_response(problem::problemize))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &Request<axum::body::Body>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
                },
            ),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Liveness only: answers without touching the store (also the load runs' ceiling).
async fn livez() -> &'static str {
    "ok"
}

/// Liveness and readiness: 200 when the store answers, 503 when it does not.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.head().await {
        Ok(_) => (
            axum::http::StatusCode::OK,
            Json(serde_json::json!({ "status": "ok" })),
        ),
        Err(e) => {
            tracing::error!(error = %e, "Store health check failed.");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "store unavailable" })),
            )
        }
    }
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Binds `listen` (port 0 picks a free port).
    pub async fn build(listen: &str, state: AppState) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        Ok(Application {
            listener,
            router: app(state.clone()),
            state,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves (with the alert workers, the AIS feeds, the readings' way to the watch engine,
    /// the retention pass and, if configured, the MQTT subscriber) until `shutdown` resolves,
    /// then ends the live streams, drains in-flight requests and stops the workers.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let config = &self.state.config;
        let bus = match &config.bus {
            Some(cfg) => Some(bus::Bus::connect(cfg.clone()).await?),
            None => None,
        };
        let stats = std::sync::Arc::new(tracking::Stats::default());
        let ais = match (&bus, config.ais.is_empty()) {
            (_, true) => None,
            (None, false) => Some(feeds::start(&self.state.store, &config.ais).await?),
            // Several nodes: what the feeds decode goes to the bus, tracked by its partitions'
            // owners.
            (Some(bus), false) => Some(feeds::start_on_bus(&config.ais, bus, stats.clone()).await?),
        };
        let mut workers = alerting::spawn(&self.state.store, &config.alerts, &self.state.watch);
        match &bus {
            // Several nodes: committed readings go to the bus's partitions, whose owners
            // evaluate them; AIS likewise, whether or not this node has a feed.
            Some(bus) => {
                let tracking =
                    tracking::Tracking::new(self.state.store.clone(), config.ais.tracking.clone())
                        .await
                        .context("cannot start vessel tracking")?
                        .with_stats(stats);
                workers.extend(bus::spawn(
                    bus,
                    &self.state.store,
                    &config.alerts.rules,
                    config.alerts.watch_tick,
                    self.state.intake.ingestor().subscribe(),
                    &bus::AisTracking::new(tracking, config.ais.tracking.silence_tick),
                ));
            }
            None => {
                let (store, transit) = (self.state.store.clone(), ingest::TransitCache::default());
                // The engine's alerts go before the next group commit of readings.
                let hold = self.state.intake.ingestor().hold_for_watch();
                workers.push(alerting::forward(
                    self.state.intake.ingestor().subscribe(),
                    self.state.watch.clone(),
                    Some((hold, |b: &std::sync::Arc<jianghai_store::Committed>| b.seq)),
                    move |batch: std::sync::Arc<jianghai_store::Committed>| {
                        let (store, transit) = (store.clone(), transit.clone());
                        async move { ingest::watch_observations(&store, &transit, &batch).await }
                    },
                ));
            }
        }
        workers.push(ingest::retention(
            self.state.store.clone(),
            self.state.config.retention_every,
        ));
        if let Some(mqtt) = &self.state.config.mqtt {
            workers.push(ingest::mqtt::spawn(mqtt.clone(), self.state.intake.clone()));
        }
        let stopping = self.state.stopping.clone();
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.send_replace(true);
        })
        .await
        .context("server failed");
        for w in workers {
            w.abort();
        }
        drop(ais);
        served
    }
}
