//! The fields of a capture line that driftwatch reads, as both decoders build them: serde_json
//! (in `record`) and the fast scanner (`scan`). Kept apart so that the two decoders depend on
//! these types and not on each other.

use std::borrow::Cow;

use serde::Deserialize;

/// One captured body and how it was stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CapturedPayload<'a> {
    /// The HTTP content type as observed, parameters included.
    #[serde(rename = "observedContentType", borrow, default)]
    pub content_type: Option<Cow<'a, str>>,
    /// `CSV`, `JSON` or `BASE64`.
    #[serde(borrow)]
    pub encoding: Cow<'a, str>,
    /// The body, verbatim or BASE64.
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

/// The fields of a line that driftwatch reads (serde_json's view; `scan` builds the same).
#[derive(Debug, Deserialize)]
pub(super) struct RawRecord<'a> {
    #[serde(rename = "captureData", borrow)]
    pub(super) capture_data: Option<RawCaptureData<'a>>,
    #[serde(rename = "eventMetadata", borrow)]
    pub(super) event_metadata: Option<RawEventMetadata<'a>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawCaptureData<'a> {
    #[serde(rename = "endpointInput", borrow)]
    pub(super) input: Option<CapturedPayload<'a>>,
    #[serde(rename = "endpointOutput", borrow)]
    pub(super) output: Option<CapturedPayload<'a>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawEventMetadata<'a> {
    #[serde(rename = "eventId", borrow, default)]
    pub(super) event_id: Option<Cow<'a, str>>,
    #[serde(rename = "inferenceId", borrow, default)]
    pub(super) inference_id: Option<Cow<'a, str>>,
    #[serde(rename = "inferenceTime", borrow, default)]
    pub(super) inference_time: Option<Cow<'a, str>>,
}
