//! The mail provider's bounce and complaint events: each address they name
//! is recorded as suppressed (by its hash), and `mail_guard` refuses to
//! mail it from then on. Run by the `mail-events` function.

use crate::App;
use crate::domain::Suppression;
use crate::error::ApiError;
use crate::mail::suppressions_in_event;

/// Records the suppressions one event message names; how many. A message
/// that is no event is logged and skipped (retrying would not help), so
/// only a store failure fails the invocation (and SNS retries it).
pub async fn record(app: &App, message: &str) -> Result<usize, ApiError> {
    let found = match suppressions_in_event(message) {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(error = %err, "mail event skipped");
            return Ok(0);
        }
    };
    let at = app.now();
    for (email, reason) in &found {
        app.store
            .suppress(&Suppression {
                address: email.hash(),
                reason: *reason,
                at,
            })
            .await?;
        tracing::info!(
            address_hash = email.hash().as_str(),
            ?reason,
            "address suppressed"
        );
    }
    Ok(found.len())
}
