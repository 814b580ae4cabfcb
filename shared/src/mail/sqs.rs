//! The delivery queue on Amazon SQS: jobs as JSON messages, ten to a
//! `SendMessageBatch` call.

use async_trait::async_trait;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use super::queue::{DeliveryJob, DeliveryQueue, EnqueueError};
use crate::error::MailError;

/// SQS takes at most ten messages per batch.
const BATCH: usize = 10;

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[DeliveryJob]) -> Result<(), EnqueueError> {
        let mut failed = Vec::new();
        let mut cause = None;
        for chunk in jobs.chunks(BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, job) in chunk.iter().enumerate() {
                let body = serde_json::to_string(job).map_err(|e| EnqueueError {
                    failed: chunk.to_vec(),
                    cause: MailError::internal("SQS message", e.to_string()),
                })?;
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| EnqueueError {
                        failed: chunk.to_vec(),
                        cause: MailError::internal("SQS batch entry", e.to_string()),
                    })?;
                entries.push(entry);
            }
            match self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    for refused in out.failed() {
                        if let Some(job) = refused
                            .id()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| chunk.get(i))
                        {
                            failed.push(job.clone());
                        }
                        cause.get_or_insert_with(|| {
                            MailError::unavailable(
                                "SQS SendMessageBatch",
                                refused.code().to_owned(),
                            )
                        });
                    }
                }
                Err(err) => {
                    // The batch may or may not have been queued; a job queued
                    // twice is harmless (the sender's claim takes it once), but
                    // a job reported queued that is not would never be sent.
                    failed.extend(chunk.iter().cloned());
                    cause.get_or_insert_with(|| {
                        MailError::outcome_unknown(
                            "SQS SendMessageBatch",
                            err.code().unwrap_or("no service response").to_owned(),
                        )
                    });
                }
            }
        }
        match cause {
            None => Ok(()),
            Some(cause) => Err(EnqueueError { failed, cause }),
        }
    }

    async fn hide(&self, receipt: &str, wait: std::time::Duration) {
        let secs = i32::try_from(wait.as_secs()).unwrap_or(i32::MAX);
        if let Err(err) = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
        {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "ChangeMessageVisibility failed; the queue's visibility timeout applies");
        }
    }
}
