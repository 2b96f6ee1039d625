//! The body of the `decode_line` fuzz target (`fuzz/fuzz_targets/decode_line.rs`), as a plain
//! function so that a stable proptest runs the same code: any bytes go through line decoding,
//! body decoding and row mapping, and must not panic; where the fast line scanner answers, its
//! record must be serde_json's.

use crate::payload::{body_text, decode_body, Table};

/// Decodes `data` as one capture line and its bodies; returns the rows found.
pub fn decode_capture_bytes(data: &[u8]) -> usize {
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    // The fast line scanner may only answer where serde_json gives the same record.
    if let Some(fast) = super::scan::record(text) {
        match serde_json::from_str::<super::raw::RawRecord<'_>>(text) {
            Ok(slow) => assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "fast and serde_json records differ"),
            Err(e) => panic!("the fast path accepted a line serde_json rejects: {e}"),
        }
    }
    let Ok(record) = super::decode_line(text) else {
        return 0;
    };
    let mut rows = 0;
    for payload in [&record.input, &record.output].into_iter().flatten() {
        let Ok(body) = body_text(&payload.data, &payload.encoding, payload.content_type.as_deref()) else {
            continue;
        };
        let mut t = Table::default();
        if decode_body(&body, payload.content_type.as_deref(), &payload.encoding, None, &mut t).is_ok() {
            for row in t.rows() {
                let mut p = crate::profile::FeatureProfile::default();
                for c in row {
                    p.observe(&c.value, true);
                }
            }
            rows += t.row_count();
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn csv_cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            (-1.0e6f64..1.0e6).prop_map(|v| format!("{v}")),
            (-1000i64..1000).prop_map(|v| v.to_string()),
            "[a-zA-Z]{1,8}",
            Just("NaN".to_owned()),
        ]
    }

    /// A CSV body, the number of rows it holds, and its width. A one-column row whose cell is
    /// empty is a blank line, which is not a row (wider rows of empty cells are rows of missing
    /// values).
    fn csv_body() -> impl Strategy<Value = (String, usize, usize)> {
        (1usize..6, 1usize..5).prop_flat_map(|(cols, rows)| {
            proptest::collection::vec(proptest::collection::vec(csv_cell(), cols), rows).prop_map(move |cells| {
                let real = cells.iter().filter(|r| !(cols == 1 && r[0].is_empty())).count();
                (cells.iter().map(|r| r.join(",")).collect::<Vec<_>>().join("\n"), real, cols)
            })
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            decode_capture_bytes(&data);
        }

        #[test]
        fn near_valid_lines_never_panic(body in ".{0,80}", enc in prop_oneof![Just("CSV"), Just("JSON"), Just("BASE64"), Just("X")], ct in prop_oneof![Just("text/csv"), Just("application/json"), Just("application/jsonlines"), Just("")]) {
            let line = serde_json::json!({"captureData": {"endpointInput": {"observedContentType": ct, "data": body, "encoding": enc}},
                "eventMetadata": {"inferenceTime": "2026-03-03T16:00:00Z"}}).to_string();
            decode_capture_bytes(line.as_bytes());
        }

        /// A record built from random fields decodes back to those fields and rows, in any
        /// encoding and key order.
        #[test]
        fn records_round_trip(
            (body, rows, cols) in csv_body(),
            secs in 0i64..4_000_000_000,
            millis in proptest::option::of(0u32..1000),
            base64 in any::<bool>(),
            event_first in any::<bool>(),
            id in proptest::option::of("[a-z0-9-]{1,36}"),
        ) {
            let t = crate::time::Timestamp::from_millis(secs * 1000 + i64::from(millis.unwrap_or(0)));
            let time = t.to_string();
            let (data, enc) = if base64 {
                (base64::engine::general_purpose::STANDARD.encode(body.as_bytes()), "BASE64")
            } else {
                (body.clone(), "CSV")
            };
            let capture = serde_json::json!({"endpointInput": {"observedContentType": "text/csv; charset=utf-8", "mode": "INPUT", "data": data, "encoding": enc}});
            let mut meta = serde_json::json!({"eventId": "e", "inferenceTime": time});
            if let Some(id) = &id {
                meta["inferenceId"] = serde_json::Value::String(id.clone());
            }
            let line = if event_first {
                format!(r#"{{"eventMetadata":{meta},"eventVersion":"0","captureData":{capture}}}"#)
            } else {
                format!(r#"{{"captureData":{capture},"eventMetadata":{meta},"eventVersion":"0"}}"#)
            };
            let r = crate::capture::decode_line(&line).unwrap();
            prop_assert_eq!(r.time, t);
            prop_assert_eq!(r.inference_id.as_deref(), id.as_deref());
            let p = r.input.unwrap();
            let text = body_text(&p.data, &p.encoding, p.content_type.as_deref()).unwrap();
            let mut table = Table::default();
            decode_body(&text, p.content_type.as_deref(), &p.encoding, None, &mut table).unwrap();
            prop_assert_eq!(table.row_count(), rows);
            for row in table.rows() {
                prop_assert_eq!(row.len(), cols);
            }
        }
    }
}
