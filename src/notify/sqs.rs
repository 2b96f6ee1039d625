//! The SQS queue behind [`Queue`].

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, MessageSystemAttributeName,
};

use super::{Queue, QueueError, QueueFuture, QueueMessage};

/// SQS takes at most ten messages a receive and ten entries a batch delete.
const SQS_BATCH: usize = 10;
/// SQS long polling waits at most 20 seconds.
const SQS_MAX_WAIT_S: u64 = 20;
/// SQS's longest visibility timeout (12 hours).
const SQS_MAX_VISIBILITY_S: u64 = 43_200;

/// An SQS queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// Uses the queue `name_or_url` (a name is looked up once, here).
    pub async fn open(client: aws_sdk_sqs::Client, name_or_url: &str) -> Result<Self, QueueError> {
        let url = if name_or_url.starts_with("https://") || name_or_url.starts_with("http://") {
            name_or_url.to_owned()
        } else {
            let out = client.get_queue_url().queue_name(name_or_url).send().await.map_err(|e| QueueError::Remote {
                queue: name_or_url.to_owned(),
                detail: format!("GetQueueUrl: {}", crate::aws::error_text(&e)),
            })?;
            out.queue_url().unwrap_or_default().to_owned()
        };
        Ok(SqsQueue { client, url })
    }

    fn error(&self, call: &str, detail: String) -> QueueError {
        QueueError::Remote { queue: self.url.clone(), detail: format!("{call}: {detail}") }
    }
}

impl Queue for SqsQueue {
    fn receive(&self, max: usize, wait: std::time::Duration) -> QueueFuture<'_, Vec<QueueMessage>> {
        Box::pin(async move {
            let out = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(max.clamp(1, SQS_BATCH) as i32)
                .wait_time_seconds(wait.as_secs().min(SQS_MAX_WAIT_S) as i32)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .send()
                .await
                .map_err(|e| self.error("ReceiveMessage", crate::aws::error_text(&e)))?;
            Ok(out
                .messages()
                .iter()
                .filter_map(|m| {
                    let sent_ms = m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                        .and_then(|s| s.parse().ok());
                    Some(QueueMessage {
                        id: m.message_id()?.to_owned(),
                        receipt: m.receipt_handle()?.to_owned(),
                        body: m.body().unwrap_or_default().to_owned(),
                        sent_ms,
                    })
                })
                .collect())
        })
    }

    fn delete<'a>(&'a self, receipts: &'a [String]) -> QueueFuture<'a, ()> {
        Box::pin(async move {
            for chunk in receipts.chunks(SQS_BATCH) {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(r)
                            .build()
                            .map_err(|e| self.error("DeleteMessageBatch", e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .delete_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| self.error("DeleteMessageBatch", crate::aws::error_text(&e)))?;
                // A failed entry is delivered again after its visibility timeout; its objects
                // are already in the checkpoint, so that costs one listing.
                for f in out.failed() {
                    tracing::warn!(queue = %self.url, code = %f.code(), "a message was not deleted; it will be delivered again");
                }
            }
            Ok(())
        })
    }

    fn release<'a>(&'a self, receipts: &'a [String], after: std::time::Duration) -> QueueFuture<'a, ()> {
        Box::pin(async move {
            let seconds = after.as_secs().min(SQS_MAX_VISIBILITY_S) as i32;
            for chunk in receipts.chunks(SQS_BATCH) {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        ChangeMessageVisibilityBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(r)
                            .visibility_timeout(seconds)
                            .build()
                            .map_err(|e| self.error("ChangeMessageVisibilityBatch", e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.client
                    .change_message_visibility_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| self.error("ChangeMessageVisibilityBatch", crate::aws::error_text(&e)))?;
            }
            Ok(())
        })
    }

    fn name(&self) -> &str {
        &self.url
    }
}
