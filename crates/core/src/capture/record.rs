//! One Data Capture line: the real-time endpoint record.
//!
//! ```json
//! {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
//!                                      "data": "132,10,182.9", "encoding": "CSV"},
//!                  "endpointOutput": {"observedContentType": "text/csv; charset=utf-8",
//!                                      "mode": "OUTPUT", "data": "0.036", "encoding": "CSV"}},
//!  "eventMetadata": {"eventId": "f04a...", "inferenceId": "optional",
//!                    "inferenceTime": "2022-04-18T00:21:48Z"},
//!  "eventVersion": "0"}
//! ```
//! Keys come in any order and unknown keys are ignored. Strings borrow from the line unless they
//! hold escapes.

use std::borrow::Cow;

use super::raw::{CapturedPayload, RawRecord};
use crate::payload::json_error_detail;
use crate::time::Timestamp;

/// A decoded capture record.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRecord<'a> {
    /// When the endpoint was invoked (`eventMetadata.inferenceTime`).
    pub time: Timestamp,
    /// SageMaker's id of the invocation.
    pub event_id: Option<Cow<'a, str>>,
    /// The caller's `InferenceId`, when one was passed.
    pub inference_id: Option<Cow<'a, str>>,
    /// The request body, when captured.
    pub input: Option<CapturedPayload<'a>>,
    /// The response body, when captured.
    pub output: Option<CapturedPayload<'a>>,
}

/// Why a line is not a usable capture record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not a JSON object of the expected shape.
    #[error("malformed line: {detail}")]
    Malformed {
        /// Parser message (position, never content).
        detail: String,
    },
    /// A required field is absent.
    #[error("missing field {field}")]
    MissingField {
        /// Dotted path of the field.
        field: &'static str,
    },
    /// `inferenceTime` is not an RFC 3339 time.
    #[error("field eventMetadata.inferenceTime: not an RFC 3339 time ({value:?})")]
    BadTime {
        /// The value, cut to 40 characters (it is metadata, not payload).
        value: String,
    },
}

/// Decodes one line of a capture file.
pub fn decode_line(line: &str) -> Result<CaptureRecord<'_>, RecordError> {
    let raw: RawRecord<'_> = match super::scan::record(line) {
        Some(raw) => raw,
        None => serde_json::from_str(line).map_err(|e| RecordError::Malformed { detail: json_error_detail(&e) })?,
    };
    let meta = raw.event_metadata.ok_or(RecordError::MissingField { field: "eventMetadata" })?;
    let time_text = meta.inference_time.ok_or(RecordError::MissingField { field: "eventMetadata.inferenceTime" })?;
    let time = Timestamp::parse_rfc3339(&time_text)
        .ok_or_else(|| RecordError::BadTime { value: time_text.chars().take(40).collect() })?;
    let data = raw.capture_data.ok_or(RecordError::MissingField { field: "captureData" })?;
    if data.input.is_none() && data.output.is_none() {
        return Err(RecordError::MissingField { field: "captureData.endpointInput" });
    }
    Ok(CaptureRecord {
        time,
        event_id: meta.event_id,
        inference_id: meta.inference_id,
        input: data.input,
        output: data.output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.5","encoding":"CSV"}},"eventMetadata":{"eventId":"e1","inferenceTime":"2022-04-18T00:21:48Z"},"eventVersion":"0"}"#;

    #[test]
    fn decodes_a_record_and_borrows() {
        let r = decode_line(LINE).unwrap();
        assert_eq!(r.time.to_string(), "2022-04-18T00:21:48Z");
        let input = r.input.unwrap();
        assert!(matches!(input.data, Cow::Borrowed("1,2")));
        assert_eq!(input.encoding, "CSV");
        assert_eq!(r.output.unwrap().content_type.as_deref(), Some("text/csv; charset=utf-8"));
        assert_eq!(r.inference_id, None);
    }

    #[test]
    fn any_key_order_unknown_keys_and_inference_id() {
        let line = r#"{"eventVersion":"0","extra":{"x":[1,2]},"eventMetadata":{"inferenceId":"abc","customAttributes":"k=v","inferenceTime":"2022-04-18T00:21:48.250Z","eventId":"e"},"captureData":{"endpointOutput":{"data":"1","encoding":"CSV","mode":"OUTPUT"}}}"#;
        let r = decode_line(line).unwrap();
        assert_eq!(r.inference_id.as_deref(), Some("abc"));
        assert_eq!(r.time.millis() % 1000, 250);
        assert!(r.input.is_none());
        assert!(r.output.unwrap().content_type.is_none());
    }

    #[test]
    fn errors() {
        type Check = fn(&RecordError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("not json", |e| matches!(e, RecordError::Malformed { .. })),
            ("[1,2]", |e| matches!(e, RecordError::Malformed { .. })),
            (r#"{"captureData":{}}"#, |e| matches!(e, RecordError::MissingField { field: "eventMetadata" })),
            (r#"{"eventMetadata":{"inferenceTime":"{%s}"},"captureData":{}}"#, |e| {
                matches!(e, RecordError::BadTime { .. })
            }),
            (r#"{"eventMetadata":{"inferenceTime":"2022-04-18T00:21:48Z"},"captureData":{}}"#, |e| {
                matches!(e, RecordError::MissingField { .. })
            }),
            (r#"{"eventMetadata":{"inferenceTime":"2022-04-18T00:21:48Z"}}"#, |e| {
                matches!(e, RecordError::MissingField { field: "captureData" })
            }),
        ];
        for (line, check) in cases {
            let e = decode_line(line).unwrap_err();
            assert!(check(&e), "{line}: {e:?}");
        }
    }
}
