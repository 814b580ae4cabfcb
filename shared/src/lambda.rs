//! What every Lambda `main` does: logs set up the way the function's
//! logging configuration asks, adapters built once during init ([`app`]),
//! then, for an HTTP function ([`run`]), the handler for each event inside
//! one span that carries the request ids. Event-triggered functions
//! (`http::permissions::EVENT_FUNCTIONS`) run their own loop on [`app`].

use std::io::IsTerminal;
use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Error, Request, RequestExt, service_fn};
use tracing::Instrument;
use tracing_subscriber::filter::LevelFilter;

use crate::App;
use crate::config::{Config, Profile};
use crate::http::{Function, handle};
use crate::seed::Seed;
use crate::wiring;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// The log level and format from the environment. Lambda's own settings
/// (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`, set by the function's
/// logging configuration) come first, then `RUST_LOG` (a level, not the
/// filter syntax: that keeps the regex engine out of every binary), then
/// `info` and `default_format`.
pub fn log_settings(
    var: impl Fn(&str) -> Option<String>,
    default_format: LogFormat,
) -> (LevelFilter, LogFormat) {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .filter_map(|name| var(name))
        .find_map(|v| match v.trim().to_ascii_lowercase().as_str() {
            // Lambda's FATAL has no tracing counterpart: errors only.
            "fatal" => Some(LevelFilter::ERROR),
            other => other.parse::<LevelFilter>().ok(),
        })
        .unwrap_or(LevelFilter::INFO);
    let format = match var("AWS_LAMBDA_LOG_FORMAT").map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "json" => LogFormat::Json,
        Some(v) if v == "text" => LogFormat::Text,
        _ => default_format,
    };
    (level, format)
}

/// Installs the log subscriber; colours only on a terminal.
pub fn init_tracing(default_format: LogFormat) {
    let (level, format) = log_settings(|name| std::env::var(name).ok(), default_format);
    let ansi = format == LogFormat::Text && std::io::stdout().is_terminal();
    let _ =
        tracing::subscriber::set_global_default(subscriber(level, format, ansi, std::io::stdout));
}

/// The log subscriber, writing to `writer`. In JSON, a `timestamp` (RFC
/// 3339) and a `level` are on every line: without a valid timestamp
/// Lambda's log-level filter takes a line for INFO, and would drop errors
/// when the function's level is WARN.
fn subscriber<W>(
    level: LevelFilter,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(builder.json().with_ansi(false).finish()),
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
    }
}

/// What every function does before its first event: logs, configuration,
/// the adapters, and (embedded store only) the seed file.
pub async fn app() -> Result<Arc<App>, Error> {
    Ok(parts().await?.0)
}

/// [`app`], with the in-process delivery queue when no SQS queue is
/// configured (local loops).
async fn parts() -> Result<(Arc<App>, Option<Arc<crate::mail::LocalQueue>>), Error> {
    init_tracing(LogFormat::Json);
    let config = Config::from_env(Profile::Lambda)?;
    let parts = wiring::build(config).await?;
    // Local loops (`cargo lambda watch`) on the embedded store start from
    // the same seed file as the devserver; a real table is never seeded here.
    if let (Some(memory), Some(path)) = (&parts.memory, std::env::var("SEED_FILE").ok()) {
        Seed::read(&path)?
            .load(
                memory.as_ref(),
                &parts.app.config.hash_keys,
                parts.app.now(),
            )
            .await
            .map_err(|e| format!("SEED_FILE {path}: {e}"))?;
        tracing::info!(path, "seed file loaded");
    }
    Ok((Arc::new(parts.app), parts.local_queue))
}

/// The runtime loop of an HTTP function.
pub async fn run(function: Function) -> Result<(), Error> {
    let (app, local_queue) = parts().await?;
    let namespace: Arc<str> = metrics_namespace(|name| std::env::var(name).ok()).into();
    let metrics_level = metrics_log_level(|name| std::env::var(name).ok());
    // Sequential as always unless Lambda sets AWS_LAMBDA_MAX_CONCURRENCY
    // (managed instances); then that many invocations share this process.
    lambda_http::run_concurrent(service_fn(move |req: Request| {
        let (app, namespace, local_queue) = (app.clone(), namespace.clone(), local_queue.clone());
        async move {
            let span = request_span(&req);
            let started = std::time::Instant::now();
            let (response, counted) = crate::metrics::scope(
                async {
                    let response = handle(&app, function, req).await;
                    // Without an SQS queue (a local loop), this process is
                    // the sender: it mails what the request queued.
                    if let Some(queue) = local_queue.as_deref() {
                        crate::service::delivery::drain(
                            &app,
                            queue,
                            crate::service::delivery::wait_before_retry,
                        )
                        .await;
                    }
                    response
                }
                .instrument(span),
            )
            .await;
            // One EMF line per invocation (docs/operations.md).
            println!(
                "{}",
                crate::metrics::emf_line(
                    &namespace,
                    function.name(),
                    &counted,
                    started.elapsed(),
                    response.status().as_u16(),
                    app.now(),
                    metrics_level,
                )
            );
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

/// Where an event-triggered function's metrics lines go: read once, at
/// start, like [`run`]'s.
pub struct MetricsLine {
    namespace: String,
    level: &'static str,
}

impl MetricsLine {
    pub fn from_env() -> Self {
        Self {
            namespace: metrics_namespace(|name| std::env::var(name).ok()),
            level: metrics_log_level(|name| std::env::var(name).ok()),
        }
    }

    /// One invocation of `function`, counted as [`run`] counts an HTTP
    /// one: what `f` counts goes out as one metrics line.
    pub async fn around<F: std::future::Future>(&self, function: &str, f: F) -> F::Output {
        let started = std::time::Instant::now();
        let (out, counted) = crate::metrics::scope(f).await;
        println!(
            "{}",
            crate::metrics::emf_line(
                &self.namespace,
                function,
                &counted,
                started.elapsed(),
                200,
                chrono::Utc::now(),
                self.level,
            )
        );
        out
    }
}

/// The CloudWatch namespace of the functions' metrics: `METRICS_NAMESPACE`
/// (the template sets `SeatInvitations/<stack name>`), else `SeatInvitations`.
fn metrics_namespace(var: impl Fn(&str) -> Option<String>) -> String {
    var("METRICS_NAMESPACE")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "SeatInvitations".to_owned())
}

/// The `level` the metric lines carry: Lambda's own application log level
/// when it filters (`AWS_LAMBDA_LOG_LEVEL`), so its filter always passes
/// them, else `INFO`. A metric line is a record, not a message: the level
/// only keeps it from being dropped.
fn metrics_log_level(var: impl Fn(&str) -> Option<String>) -> &'static str {
    match var("AWS_LAMBDA_LOG_LEVEL")
        .map(|v| v.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("FATAL") => "FATAL",
        Some("ERROR") => "ERROR",
        Some("WARN") => "WARN",
        Some("DEBUG") => "DEBUG",
        Some("TRACE") => "TRACE",
        _ => "INFO",
    }
}

/// One span per invocation with API Gateway's request id, which the access
/// log carries; the runtime's own span around it carries Lambda's
/// `requestId` and the X-Ray trace id. A log line is found from either.
fn request_span(req: &Request) -> tracing::Span {
    let api_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    };
    tracing::info_span!("request", api_request_id = %api_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// What Lambda's log-level filter reads: `level`, and a `timestamp` in
    /// RFC 3339 (without one, Lambda takes the line for INFO).
    #[test]
    fn json_lines_carry_their_level_and_an_rfc3339_timestamp() {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let out = buffer.clone();
        let sub = subscriber(LevelFilter::INFO, LogFormat::Json, false, move || {
            out.clone()
        });
        tracing::subscriber::with_default(sub, || tracing::error!(code = "X", "request failed"));
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "ERROR");
        let at = line["timestamp"].as_str().expect("a timestamp");
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }

    #[test]
    fn metric_lines_carry_a_level_lambdas_filter_lets_through() {
        assert_eq!(metrics_log_level(vars(&[])), "INFO");
        assert_eq!(
            metrics_log_level(vars(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")])),
            "WARN"
        );
        assert_eq!(
            metrics_log_level(vars(&[("AWS_LAMBDA_LOG_LEVEL", "fatal")])),
            "FATAL"
        );
        assert_eq!(
            metrics_log_level(vars(&[("AWS_LAMBDA_LOG_LEVEL", "nonsense")])),
            "INFO"
        );
    }

    #[test]
    fn lambdas_logging_configuration_comes_first() {
        let settings = log_settings(
            vars(&[
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("AWS_LAMBDA_LOG_FORMAT", "Text"),
                ("RUST_LOG", "error"),
            ]),
            LogFormat::Json,
        );
        assert_eq!(settings, (LevelFilter::DEBUG, LogFormat::Text));
        let settings = log_settings(vars(&[("RUST_LOG", "warn")]), LogFormat::Json);
        assert_eq!(settings, (LevelFilter::WARN, LogFormat::Json));
        let settings = log_settings(vars(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]), LogFormat::Text);
        assert_eq!(settings, (LevelFilter::ERROR, LogFormat::Text));
        let settings = log_settings(vars(&[("RUST_LOG", "shared=debug")]), LogFormat::Json);
        assert_eq!(
            settings,
            (LevelFilter::INFO, LogFormat::Json),
            "unknown: the default"
        );
    }
}
