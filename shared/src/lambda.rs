//! What every Lambda `main` does: JSON logs, adapters built once during
//! init, then the handler for each event.

use lambda_http::{Error, Request, service_fn};

use crate::App;
use crate::config::{Config, Profile};
use crate::http::{Function, handle};

/// Logs as JSON lines without ANSI colours; `RUST_LOG` filters (default info).
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().without_time().with_ansi(false).try_init()
    } else {
        builder.try_init()
    };
}

pub async fn run(function: Function) -> Result<(), Error> {
    init_tracing(true);
    let config = Config::from_env(Profile::Lambda)?;
    let app = App::build(config).await?.app;
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(handle(app, function, req).await)
    }))
    .await
}
