//! Lambda function `mail-events`: SES bounce and complaint events, from the
//! configuration set's SNS topic, recorded as suppressed addresses
//! (`seat_invitations::service::mail_events`). Not an HTTP function: it
//! serves no route.

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use seat_invitations::service::mail_events;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = seat_invitations::lambda::app().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| {
        let app = app.clone();
        async move {
            let mut recorded = 0;
            for record in &event.payload.records {
                // A store failure fails the invocation: SNS retries it, and
                // recording an address twice is harmless.
                recorded += mail_events::record(&app, &record.sns.message).await?;
            }
            tracing::info!(
                records = event.payload.records.len(),
                recorded,
                "mail events"
            );
            Ok::<(), Error>(())
        }
    }))
    .await
}
