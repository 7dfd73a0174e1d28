//! The smaller services beside the web server: the metrics server of
//! `metrics.listen`, the pruning of the rate limiters, and the signals
//! that stop the service.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer};
use tokio_util::sync::CancellationToken;

use super::StartError;
use crate::web::{self, AppState};

/// The inbound SMTP listener of `mail.bounce.listen`, on the listener
/// bound at start (so a taken port stops the start with one line).
pub(super) fn bounce_server(
    listener: TcpListener,
    processor: crate::bounces::Processor,
    settings: &crate::config::BounceSettings,
    shutdown: CancellationToken,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>), StartError> {
    let address = listener.local_addr().map_err(|source| StartError::Bind {
        address: "mail.bounce.listen".into(),
        source,
    })?;
    let bind_error = |source| StartError::Bind {
        address: address.to_string(),
        source,
    };
    listener.set_nonblocking(true).map_err(bind_error)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_error)?;
    let receiver = Arc::new(crate::bounces::listener::Receiver::new(
        processor,
        settings.complaints_address(),
        settings.max_message_bytes,
        settings.per_ip_per_minute,
    ));
    tracing::info!(%address, "receiving bounces and complaints by SMTP");
    Ok((
        address,
        tokio::spawn(crate::bounces::listener::serve(
            listener, receiver, shutdown,
        )),
    ))
}

/// The server of `metrics.listen`: `/metrics` and nothing else, on one
/// worker.
pub(super) fn metrics_server(
    listener: TcpListener,
) -> Result<(std::net::SocketAddr, Server), StartError> {
    let address = listener.local_addr().map_err(|source| StartError::Bind {
        address: "metrics.listen".into(),
        source,
    })?;
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/metrics",
                actix_web::web::get().to(web::metrics::metrics_only),
            )
            .default_service(actix_web::web::to(web::pages::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(|source| StartError::Bind {
        address: address.to_string(),
        source,
    })?
    .run();
    Ok((address, server))
}

/// How often the rate limiters forget idle clients, accounts and
/// addresses: often enough that a flood of new keys cannot grow the maps
/// for long, rarely enough to cost nothing.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub(super) async fn prune_limits(
    state: AppState,
    signups: Arc<web::rate_limit::SignupLimits>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
        state.login_limits.prune();
        state.token_page_limits.prune();
        signups.prune();
    }
}

pub(super) async fn termination_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = sigterm.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Binds an optional listening address from the settings at start, so a
/// bad or taken one stops the start with one line.
pub(super) fn bind_if_set(
    address: Result<Option<std::net::SocketAddr>, crate::config::ConfigError>,
) -> Result<Option<TcpListener>, StartError> {
    address
        .map_err(|e| StartError::Config(e.to_string()))?
        .map(|address| {
            TcpListener::bind(address).map_err(|source| StartError::Bind {
                address: address.to_string(),
                source,
            })
        })
        .transpose()
}
