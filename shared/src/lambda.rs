//! What every Lambda `main` does: JSON logs, adapters built once during
//! init, then the handler for each event.

use lambda_http::{Error, Request, service_fn};

use crate::App;
use crate::config::{Config, Profile};
use crate::http::{Function, handle};

/// Logs as JSON lines without ANSI colours; `RUST_LOG` is a level (`error`,
/// `warn`, `info`, `debug`, `trace`; default `info`). A level, not the full
/// filter syntax, keeps the regex engine out of every binary.
pub fn init_tracing(json: bool) {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| {
            v.trim()
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .ok()
        })
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
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
