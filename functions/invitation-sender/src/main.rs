//! Lambda function `invitation-sender`: mails the invitations the API
//! queued (SQS, `INVITATION_QUEUE_URL`), one at a time at no more than its
//! share of SES's send rate, through `seat_invitations::service::delivery`.
//! A job to be tried again (throttled, not readable yet, held by another
//! sender) is reported as a batch item failure, and hidden for its backoff
//! (`delivery::wait_before_retry`: 2 s, 4 s, 8 s … for a throttled send)
//! with `ChangeMessageVisibility`: SQS delivers it again then (after the
//! queue's visibility timeout if that call fails), and moves it to the
//! dead-letter queue after `delivery::MAX_ATTEMPTS` receives, on the last
//! of which the sender gives it up (`failed`, withdrawn). Not an HTTP
//! function.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use seat_invitations::mail::DeliveryJob;
use seat_invitations::service::delivery::{self, Settled};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = seat_invitations::lambda::app().await?;
    let pace = pace(std::env::var("MAIL_SEND_RATE").ok().as_deref());
    let metrics = std::sync::Arc::new(seat_invitations::lambda::MetricsLine::from_env());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (app, metrics) = (app.clone(), metrics.clone());
        async move {
            metrics.around("invitation-sender", async move {
            let mut failures = Vec::new();
            let mut sent = 0;
            for record in &event.payload.records {
                let id = record.message_id.clone().unwrap_or_default();
                let Some(job) = record
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<DeliveryJob>(b).ok())
                else {
                    // Not a job of ours: retrying cannot make it one.
                    tracing::warn!(message_id = %id, "not a delivery job; dropped");
                    continue;
                };
                let attempt = record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(1);
                // Before every send, the first of a batch too: the batch
                // before may have ended a moment ago.
                tokio::time::sleep(pace).await;
                match delivery::deliver(&app, &job, attempt).await {
                    Ok(Settled::Sent) => sent += 1,
                    Ok(settled) => {
                        tracing::info!(invitation_id = %job.invitation_id, ?settled, "delivery settled");
                    }
                    Err(later) => {
                        let wait = delivery::wait_before_retry(&later, attempt);
                        tracing::info!(invitation_id = %job.invitation_id, attempt, ?later, wait_secs = wait.as_secs(), "delivery later");
                        if let Some(receipt) = record.receipt_handle.as_deref() {
                            app.queue.hide(receipt, wait).await;
                        }
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = id;
                        failures.push(failure);
                    }
                }
            }
            tracing::info!(
                records = event.payload.records.len(),
                sent,
                later = failures.len(),
                "invitation mail"
            );
            let mut response = SqsBatchResponse::default();
            response.batch_item_failures = failures;
            Ok::<_, Error>(response)
            })
            .await
        }
    }))
    .await
}

/// The wait before each send of one container: `MAIL_SEND_RATE` is the
/// account's SES send rate (messages a second), shared by the queue's at
/// most 2 concurrent senders, of which they use 80 % (resends and Contact
/// Owner send too). Default: the sandbox's 1 a second.
fn pace(rate: Option<&str>) -> Duration {
    let rate = rate
        .and_then(|r| r.trim().parse::<f64>().ok())
        .filter(|r| r.is_finite() && *r >= 0.01)
        .unwrap_or(1.0);
    Duration::from_secs_f64(2.0 / (0.8 * rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_senders_share_the_accounts_rate() {
        assert_eq!(pace(None), Duration::from_millis(2500));
        assert_eq!(
            pace(Some("14")),
            Duration::from_secs_f64(2.0 / (0.8 * 14.0))
        );
        assert_eq!(pace(Some("0")), Duration::from_millis(2500));
        assert_eq!(pace(Some("1e-300")), Duration::from_millis(2500));
        assert_eq!(pace(Some("fast")), Duration::from_millis(2500));
    }
}
