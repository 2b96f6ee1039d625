//! Amazon EventBridge as an [`EventBus`].

use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::bus::{BusEntry, BusError, EntryOutcome, EventBus};
use crate::aws::error_text;

/// A bus, by name or ARN.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    /// Sends to `bus` (a name or an ARN).
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridgeBus { client, bus: bus.into() }
    }
}

impl EventBus for EventBridgeBus {
    async fn put_events(&self, entries: &[BusEntry]) -> Result<Vec<EntryOutcome>, BusError> {
        let request: Vec<PutEventsRequestEntry> = entries
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .set_resources(Some(e.resources.clone()))
                    .build()
            })
            .collect();
        let out = match self.client.put_events().set_entries(Some(request)).send().await {
            Ok(o) => o,
            Err(e) => {
                let code = e.as_service_error().and_then(|s| s.code()).unwrap_or("");
                return Err(if code == "ResourceNotFoundException" {
                    BusError::NotFound(self.bus.clone())
                } else {
                    BusError::Other(error_text(&e))
                });
            }
        };
        Ok(out
            .entries()
            .iter()
            .map(|r| match (r.event_id(), r.error_code()) {
                (Some(id), None) => EntryOutcome::Sent { event_id: id.to_owned() },
                (_, code) => EntryOutcome::Failed {
                    code: code.unwrap_or("Unknown").to_owned(),
                    message: r.error_message().unwrap_or("").to_owned(),
                },
            })
            .collect())
    }
}
