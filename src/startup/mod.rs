//! Builds the running service from settings: the store (migrated), the HTTP
//! server and the background workers, and stops them together. Tests build
//! the same [`Application`] on port 0 and read the port it got.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::delivery::outbox::MailWaker;
use crate::delivery::verp::Verp;
use crate::links::LinkSigner;
use crate::scheduling::{Scheduler, SystemClock};
use crate::store::{Store, StoreError};
use crate::subscriptions::signup::{SignupQueue, SignupWriter};
use crate::web::{self, AppState};
use actix_web::web::Data;

mod secrets;
mod services;

pub use secrets::server_secrets;
use services::{bind_if_set, bounce_server, metrics_server, prune_limits, termination_signal};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Templates(#[from] crate::templates::TemplatesLoadError),
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryStartError),
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    /// Where `metrics.listen` serves `/metrics`, when set.
    metrics_address: Option<std::net::SocketAddr>,
    bounce_address: Option<std::net::SocketAddr>,
    server: Server,
    store: Store,
    shutdown: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

/// How long shutdown waits for in-flight work before giving up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

impl Application {
    /// Connects, migrates and binds `server.host:server.port`.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartError::Bind {
            address: address.clone(),
            source,
        })?;
        Self::build_on(settings, listener).await
    }

    /// The same on a listener the caller bound, so tests can learn the port
    /// before the settings (and the links in emails) are made.
    pub async fn build_on(
        settings: Settings,
        listener: TcpListener,
    ) -> Result<Application, StartError> {
        // rustls panics when more than one crypto provider is built in and
        // none is chosen; Gazette uses ring (an Err means already installed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = Store::connect(&settings.database).await?;
        store.migrate().await?;
        crate::newsletters::ensure_default_newsletter(&store, &settings.site.name).await?;
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                address: address.clone(),
                source,
            })?
            .port();
        let templates = Arc::new(crate::templates::load(settings.templates.dir.as_deref())?);
        let (secret, previous_secrets) = server_secrets(&settings, &store).await?;
        let links = LinkSigner::new(&secret, settings.base_url())
            .with_previous_keys(previous_secrets.clone());
        let verp = Verp::new(
            &settings.mail.bounce.verp_domain().unwrap_or_default(),
            links.clone(),
        );
        let bounce_listener = bind_if_set(settings.mail.bounce.listen_address())?;
        let shutdown = CancellationToken::new();
        let trusted_proxies = settings
            .server
            .trusted_proxy_networks()
            .map_err(|e| StartError::Config(e.to_string()))?;
        let settings_server = settings.server.clone();
        let feed_fetcher = crate::feeds::FeedFetcher::new(&settings.feeds)
            .map_err(|e| StartError::Config(e.to_string()))?;
        let metrics_listener = bind_if_set(settings.metrics.listen_address())?;
        let bounce_threshold = settings.mail.bounce_threshold;
        let settings = Arc::new(settings);
        let mail_waker = MailWaker::default();
        let scheduler = Scheduler::new(
            store.clone(),
            settings.clone(),
            templates.clone(),
            mail_waker.clone(),
            Arc::new(SystemClock),
        );
        let signups = signup_queue(&store, &mail_waker, settings.database.max_connections);
        let check_inbox_pages =
            Arc::new(web::public::subscribe::CheckInboxPages::render(&templates));
        let state = AppState {
            mail_check_passed: Arc::default(),
            settings,
            store: store.clone(),
            templates,
            links,
            mail_waker,
            signups,
            scheduler: scheduler.clone(),
            newsletter_listing: crate::newsletters::NewsletterListing::new(store.clone()),
            check_inbox_pages,
            session_key: web::admin::session::session_key(&secret),
            previous_session_keys: Arc::new(
                previous_secrets
                    .iter()
                    .map(|key| web::admin::session::session_key(key))
                    .collect(),
            ),
            login_limits: Arc::new(web::login_limits::LoginLimits::new(
                settings_server.login_per_ip_per_minute,
            )),
            password_checks: crate::users::PasswordChecks::new(
                settings_server.login_hash_concurrency,
                settings_server.login_hash_queue,
            )
            .map_err(|e| StartError::Config(format!("cannot start the password checks: {e}")))?,
            test_recipients: Arc::default(),
            erased_addresses: crate::subscriptions::ErasedAddresses::new(
                &secret,
                &previous_secrets,
            ),
            token_page_limits: Arc::new(web::rate_limit::ClientLimit::new(
                settings_server.token_pages_per_ip_per_minute,
                settings_server.token_pages_per_ip_per_minute,
            )),
            trusted_proxies: Arc::new(trusted_proxies),
            feed_fetcher: feed_fetcher.clone(),
            bounces: crate::bounces::Processor::new(store.clone(), verp.clone(), bounce_threshold),
        };
        web::metrics::prometheus();
        let delivery_state = state.clone();
        // One set of counters for all HTTP workers.
        let signup_limits = Data::new(web::rate_limit::SignupLimits::from_settings(
            &state.settings.server,
        ));
        let server_limits = signup_limits.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(web::body_limit::refuse_large_bodies))
                .wrap(from_fn(web::metrics::record_request))
                .wrap(TracingLogger::<web::request_span::PathOnly>::new())
                .wrap(from_fn(web::security_headers::add_security_headers))
                .app_data(web_data(&state))
                .app_data(server_limits.clone())
                .configure(web::extractor_configs)
                .configure(web::routes)
                .default_service(actix_web::web::to(web::pages::not_found))
        })
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .listen(listener)
        .map_err(|source| StartError::Bind { address, source })?
        .run();
        let pruner = tokio::spawn(prune_limits(
            delivery_state.clone(),
            signup_limits.clone().into_inner(),
            shutdown.clone(),
        ));
        let (metrics_address, metrics_server) = match metrics_listener {
            Some(listener) => {
                let (address, server) = metrics_server(listener)?;
                (Some(address), Some(server))
            }
            None => (None, None),
        };
        let metrics_worker = metrics_server.map(|server| {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let handle = server.handle();
                let serving = tokio::spawn(server);
                shutdown.cancelled().await;
                handle.stop(true).await;
                let _ = serving.await;
            })
        });
        let feed_poller = tokio::spawn(crate::feeds::poller::run(
            store.clone(),
            feed_fetcher,
            shutdown.clone(),
        ));
        let address_index = tokio::spawn(store.clone().keep_address_index(shutdown.clone()));
        let delivery_workers =
            crate::delivery::start(delivery_parts(&delivery_state, verp), shutdown.clone())?;
        let bounce_settings = &delivery_state.settings.mail.bounce;
        let event_pruner = tokio::spawn(crate::bounces::prune(
            store.clone(),
            bounce_settings.keep_days,
            shutdown.clone(),
        ));
        let signup_reminders = tokio::spawn(crate::subscriptions::reminders::run(
            store.clone(),
            delivery_state.settings.subscriptions.clone(),
            delivery_state.mail_waker.clone(),
            shutdown.clone(),
        ));
        let (bounce_address, bounce_worker) = match bounce_listener {
            Some(listener) => {
                let (address, worker) = bounce_server(
                    listener,
                    delivery_state.bounces.clone(),
                    bounce_settings,
                    shutdown.clone(),
                )?;
                (Some(address), Some(worker))
            }
            None => (None, None),
        };
        let mailbox_poller = bounce_settings.imap.clone().map(|imap| {
            tokio::spawn(crate::bounces::imap::poll(
                delivery_state.bounces.clone(),
                imap,
                bounce_settings.max_message_bytes,
                shutdown.clone(),
            ))
        });
        let scheduler_loop = delivery_state
            .settings
            .scheduling
            .enabled
            .then(|| tokio::spawn(scheduler.run(shutdown.clone())));
        Ok(Application {
            port,
            metrics_address,
            bounce_address,
            server,
            store,
            shutdown,
            workers: [
                feed_poller,
                address_index,
                pruner,
                event_pruner,
                signup_reminders,
            ]
            .into_iter()
            .chain(bounce_worker)
            .chain(mailbox_poller)
            .chain(delivery_workers)
            .chain(scheduler_loop)
            .chain(metrics_worker)
            .collect(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address `/metrics` is served on without a token, when
    /// `metrics.listen` is set (its port when that was 0).
    pub fn metrics_address(&self) -> Option<std::net::SocketAddr> {
        self.metrics_address
    }

    /// The address of the inbound SMTP listener for bounces, when
    /// `mail.bounce.listen` is set (its port when that was 0).
    pub fn bounce_address(&self) -> Option<std::net::SocketAddr> {
        self.bounce_address
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Cancelling this token stops the server and the workers gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled or, when
    /// `stop_on_signals`, until SIGTERM or Ctrl-C; then lets in-flight
    /// requests and sends finish.
    ///
    /// The workers stop before the web server: a database connection
    /// opened by a request lives on that web worker's runtime, and once the
    /// server stopped, a worker given such a connection from the pool (the
    /// delivery recorder writing the last outcomes, say) would fail.
    pub async fn run(self, stop_on_signals: bool) -> std::io::Result<()> {
        let Application {
            server,
            shutdown,
            workers,
            store,
            ..
        } = self;
        let handle = server.handle();
        let serving = tokio::spawn(server);
        if stop_on_signals {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = termination_signal() => {
                    tracing::info!("shutting down: finishing in-flight work");
                    shutdown.cancel();
                }
            }
        } else {
            shutdown.cancelled().await;
        }
        // No new connections; requests on open ones are still answered.
        handle.pause().await;
        for worker in workers {
            if tokio::time::timeout(SHUTDOWN_GRACE, worker).await.is_err() {
                tracing::warn!("a background worker did not stop in time");
            }
        }
        handle.stop(true).await;
        let served = serving.await.unwrap_or(Ok(()));
        store.close().await;
        served
    }
}

/// Signup writers: as many as the database writes usefully side by side
/// (`Store::useful_writers`), but never more than half the pool: the
/// pages, the API and the delivery workers need connections too.
fn signup_queue(store: &Store, waker: &MailWaker, max_connections: u32) -> SignupQueue {
    let writers = store
        .useful_writers()
        .min(max_connections as usize / 2)
        .max(1);
    SignupQueue::start(SignupWriter::new(store.clone()), waker.clone(), writers)
}

/// The delivery workers' parts, with the renderer of each kind of mail
/// registered by the module that owns it.
fn delivery_parts(state: &AppState, verp: Verp) -> crate::delivery::DeliveryParts {
    use crate::subscriptions::signup::{CONFIRMATION, ConfirmationMails, ConfirmationRenderer};
    let settings = &state.settings;
    let mut renderers = crate::delivery::render::Renderers::default();
    renderers.register(
        crate::issues::mail::DIGEST,
        Arc::new(crate::issues::mail::DigestRenderer::new(
            state.store.clone(),
            state.templates.clone(),
            settings.clone(),
            state.links.clone(),
        )),
    );
    renderers.register(
        CONFIRMATION,
        Arc::new(ConfirmationRenderer::new(ConfirmationMails::new(
            state.templates.clone(),
            crate::templates::site(settings),
            settings.base_url().to_string(),
        ))),
    );
    renderers.register(
        crate::subscriptions::welcome::WELCOME,
        Arc::new(crate::subscriptions::welcome::WelcomeRenderer::new(
            state.store.clone(),
            state.templates.clone(),
            crate::templates::site(settings),
            state.links.clone(),
        )),
    );
    crate::delivery::DeliveryParts {
        store: state.store.clone(),
        mail: settings.mail.clone(),
        waker: state.mail_waker.clone(),
        renderers,
        verp,
    }
}

fn web_data(state: &AppState) -> Data<AppState> {
    Data::new(state.clone())
}
