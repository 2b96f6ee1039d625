//! Batch transform data capture: manifests in, capture records out.
//!
//! A transform job with `DataCaptureConfig` writes no records: below its destination it writes
//! **manifests** under `input/yyyy/mm/dd/hh/` and `output/yyyy/mm/dd/hh/` (the hour of the job's
//! start), each a JSON array `[{"prefix": "s3://bucket/in/"}, "part-0.csv", ...]` naming the
//! objects the job read and wrote (`part-0.csv.out` for `part-0.csv`). With
//! `GenerateInferenceId`, every output line ends with the inference id and the job's start time
//! (two CSV columns, or `SageMakerInferenceId` / `SageMakerInferenceTime` in JSON).
//!
//! driftwatch reads such a destination as one stream, `{destination}/BatchTransform`, whose
//! objects are the input manifests. Reading one turns the lines of each input object, paired with
//! the lines of its output object, into Data Capture records stamped with the manifest's hour
//! (one window per job hour, as Model Monitor's batch monitoring has it), so everything after
//! (layout, mapping, checks, windows, events) is the path real-time capture takes. The inference
//! id columns are taken off the output and become the record's `inferenceId` (the join key of
//! ground truth); they are never features.

use serde_json::Value as Json;

use crate::time::Timestamp;

/// The variant of a batch transform capture stream (`{destination}/BatchTransform`).
pub const BATCH_VARIANT: &str = "BatchTransform";
/// The folder of input manifests below a batch capture destination.
pub const INPUT_FOLDER: &str = "input";
/// The folder of output manifests below a batch capture destination.
pub const OUTPUT_FOLDER: &str = "output";
/// The suffix a transform job gives the output object of an input object.
pub const OUTPUT_SUFFIX: &str = ".out";

/// What is wrong with a manifest (no payload content: names and positions only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not a JSON array of a prefix object and names.
    #[error("not a batch transform manifest ({0})")]
    Shape(String),
}

/// Returns the objects a manifest names, as `prefix + name` (`s3://...` URIs or local paths).
/// A manifest is a JSON array whose first element is `{"prefix": ...}` and whose other elements
/// are names below it; a file may hold several (one per line).
pub fn manifest_objects(text: &str) -> Result<Vec<String>, ManifestError> {
    let mut out = Vec::new();
    let mut arrays = 0;
    for doc in serde_json::Deserializer::from_str(text).into_iter::<Json>() {
        let doc = doc.map_err(|e| ManifestError::Shape(format!("line {}: not JSON", e.line())))?;
        let Json::Array(items) = doc else {
            return Err(ManifestError::Shape("an element that is not an array".into()));
        };
        arrays += 1;
        let mut items = items.into_iter();
        let prefix = match items.next() {
            Some(Json::Object(o)) => match o.get("prefix") {
                Some(Json::String(p)) => p.clone(),
                _ => return Err(ManifestError::Shape("the first element has no \"prefix\" string".into())),
            },
            _ => return Err(ManifestError::Shape("the first element is not {\"prefix\": ...}".into())),
        };
        for item in items {
            let Json::String(name) = item else {
                return Err(ManifestError::Shape("a name that is not a string".into()));
            };
            let sep = if prefix.ends_with('/') || prefix.is_empty() { "" } else { "/" };
            out.push(format!("{prefix}{sep}{}", name.trim_start_matches('/')));
        }
    }
    if arrays == 0 {
        return Err(ManifestError::Shape("empty".into()));
    }
    Ok(out)
}

/// Whether a listed object's first byte says it is a manifest (a JSON array) rather than capture
/// records (JSON objects).
pub fn looks_like_manifest(first_bytes: &[u8]) -> bool {
    let start = first_bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(first_bytes);
    start.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// The key of the output-manifest folder that pairs with an input manifest's key
/// (`.../input/yyyy/mm/dd/hh/m` -> `.../output/yyyy/mm/dd/hh/`); `None` when the key is not in
/// that layout.
pub fn output_folder_of(input_manifest_key: &str) -> Option<String> {
    let parts: Vec<&str> = input_manifest_key.split('/').collect();
    // ..., "input", yyyy, mm, dd, hh, name
    let at = parts.len().checked_sub(6)?;
    if parts[at] != INPUT_FOLDER {
        return None;
    }
    let mut out: Vec<&str> = parts[..at].to_vec();
    out.push(OUTPUT_FOLDER);
    out.extend_from_slice(&parts[at + 1..parts.len() - 1]);
    Some(out.join("/") + "/")
}

/// Pairs each input object with its output object: the output named `input + ".out"` (the
/// transform job's naming), else, when the names do not say and both lists are as long, the
/// output at the same position.
pub fn pair_outputs(inputs: &[String], outputs: &[String]) -> Vec<Option<String>> {
    let base = |u: &str| u.rsplit('/').next().unwrap_or(u).to_owned();
    let by_name: std::collections::HashMap<String, &String> = outputs.iter().map(|o| (base(o), o)).collect();
    let named: Vec<Option<String>> =
        inputs.iter().map(|i| by_name.get(&format!("{}{OUTPUT_SUFFIX}", base(i))).map(|o| (*o).clone())).collect();
    if named.iter().all(Option::is_none) && inputs.len() == outputs.len() {
        return outputs.iter().cloned().map(Some).collect();
    }
    named
}

/// Counts of one transcoded object pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transcoded {
    /// Capture records written (one per input line).
    pub records: u64,
    /// Output lines with no input line at their position (left out: a job's output has one line
    /// per input line when it splits by line).
    pub extra_outputs: u64,
    /// Output lines whose `GenerateInferenceId` columns were taken off.
    pub inference_ids: u64,
}

/// Writes one Data Capture record (a JSON line) per non-blank line of `input`, paired with the
/// line of `output` at the same position, stamped `hour`, to `out`. `name` (the input object)
/// and the line number make the `eventId`; an inference id the job appended becomes the
/// `inferenceId` (and is taken off the output). Each line's format is read from its first
/// character: `{` or `[` JSON, else CSV.
pub fn transcode(input: &str, output: Option<&str>, name: &str, hour: Timestamp, out: &mut String) -> Transcoded {
    let mut counts = Transcoded::default();
    let mut outputs = output.map(|o| o.lines().filter(|l| !l.trim().is_empty()));
    let time = hour.to_string();
    for (i, line) in input.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let response = outputs.as_mut().and_then(Iterator::next);
        let (response, inference_id) = match response {
            Some(r) => {
                let (body, id) = take_inference_id(r);
                counts.inference_ids += u64::from(id.is_some());
                (Some(body), id)
            }
            None => (None, None),
        };
        let mut record = serde_json::Map::new();
        let mut capture = serde_json::Map::new();
        capture.insert("endpointInput".into(), payload(line, "INPUT"));
        if let Some(r) = &response {
            capture.insert("endpointOutput".into(), payload(r, "OUTPUT"));
        }
        record.insert("captureData".into(), Json::Object(capture));
        let mut meta = serde_json::Map::new();
        meta.insert("eventId".into(), Json::String(format!("{name}:{}", i + 1)));
        meta.insert("inferenceTime".into(), Json::String(time.clone()));
        if let Some(id) = inference_id {
            meta.insert("inferenceId".into(), Json::String(id));
        }
        record.insert("eventMetadata".into(), Json::Object(meta));
        record.insert("eventVersion".into(), Json::String("0".into()));
        out.push_str(&Json::Object(record).to_string());
        out.push('\n');
        counts.records += 1;
    }
    if let Some(rest) = outputs {
        counts.extra_outputs = rest.count() as u64;
    }
    counts
}

/// The capture payload of one line: JSON or CSV by its first character.
fn payload(line: &str, mode: &str) -> Json {
    let json = matches!(line.trim_start().as_bytes().first(), Some(b'{' | b'['));
    serde_json::json!({
        "observedContentType": if json { "application/json" } else { "text/csv" },
        "mode": mode,
        "data": line,
        "encoding": if json { "JSON" } else { "CSV" },
    })
}

/// Takes the `GenerateInferenceId` columns off an output line: the last two CSV cells when they
/// are an id and an RFC 3339 time, or the `SageMakerInferenceId` / `SageMakerInferenceTime`
/// members of a JSON object. Returns the line without them and the id.
fn take_inference_id(line: &str) -> (String, Option<String>) {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim_start().starts_with('{') {
        if let Ok(Json::Object(mut o)) = serde_json::from_str::<Json>(line) {
            let id = o.remove("SageMakerInferenceId");
            let time = o.remove("SageMakerInferenceTime");
            if id.is_some() || time.is_some() {
                let id = id.map(|v| match v {
                    Json::String(s) => s,
                    other => other.to_string(),
                });
                return (Json::Object(o).to_string(), id);
            }
        }
        return (line.to_owned(), None);
    }
    let mut cells = line.rsplitn(3, ',');
    let (Some(time), Some(id)) = (cells.next(), cells.next()) else { return (line.to_owned(), None) };
    let rest = cells.next();
    let (time, id) = (time.trim(), id.trim());
    if Timestamp::parse_rfc3339(time).is_some() && looks_like_id(id) {
        return (rest.unwrap_or("").to_owned(), Some(id.to_owned()));
    }
    (line.to_owned(), None)
}

/// An inference id as transform jobs write them: a UUID (hex digits and four dashes).
fn looks_like_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().filter(|b| *b == b'-').count() == 4
        && s.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

/// The fuzz target's body: any manifest text is read or refused, and any input and output
/// text becomes one record per non-blank input line, each a capture record that decodes.
#[doc(hidden)]
pub fn fuzz_batch(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = manifest_objects(&text);
    let (input, output) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let mut out = String::new();
    let c = transcode(input, Some(output), "fuzz", Timestamp::from_millis(0), &mut out);
    let expected = input.lines().filter(|l| !l.strip_suffix('\r').unwrap_or(l).trim().is_empty()).count() as u64;
    assert_eq!(c.records, expected);
    assert_eq!(out.lines().count() as u64, c.records);
    for line in out.lines() {
        assert!(crate::capture::decode_line(line).is_ok(), "a transcoded record does not decode");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn every_input_line_is_one_record_that_decodes(
            rows in proptest::collection::vec("[ -~]{0,40}", 0..20),
            outs in proptest::collection::vec("[ -~]{0,40}", 0..20),
        ) {
            fuzz_batch(format!("{}\u{0}{}", rows.join("\n"), outs.join("\n")).as_bytes());
        }
    }

    #[test]
    fn manifests_name_their_objects() {
        let m = r#"[{"prefix": "s3://in/batch/"}, "part-0.csv", "sub/part-1.csv"]"#;
        assert_eq!(manifest_objects(m).unwrap(), ["s3://in/batch/part-0.csv", "s3://in/batch/sub/part-1.csv"]);
        let two = "[{\"prefix\": \"/data/in\"}, \"a.csv\"]\n[{\"prefix\": \"/data/in/\"}, \"b.csv\"]\n";
        assert_eq!(manifest_objects(two).unwrap(), ["/data/in/a.csv", "/data/in/b.csv"]);
        for bad in ["", "{}", "[1]", "[{\"prefix\": 3}]", "[{\"prefix\": \"p\"}, 7]", "[{\"prefix\": \"p\"}"] {
            assert!(manifest_objects(bad).is_err(), "{bad}");
        }
        assert!(looks_like_manifest(b"  [{\"prefix\""));
        assert!(!looks_like_manifest(b"{\"captureData\""));
    }

    #[test]
    fn output_folders_and_pairs() {
        assert_eq!(output_folder_of("dest/input/2022/08/26/13/m.jsonl").as_deref(), Some("dest/output/2022/08/26/13/"));
        assert_eq!(output_folder_of("input/2022/08/26/13/m").as_deref(), Some("output/2022/08/26/13/"));
        assert_eq!(output_folder_of("dest/ep/2022/08/26/13/m.jsonl"), None);
        let ins = ["s3://i/a.csv".to_owned(), "s3://i/b.csv".to_owned()];
        let outs = ["s3://o/b.csv.out".to_owned(), "s3://o/a.csv.out".to_owned()];
        assert_eq!(pair_outputs(&ins, &outs), [Some(outs[1].clone()), Some(outs[0].clone())]);
        let unnamed = ["s3://o/x".to_owned(), "s3://o/y".to_owned()];
        assert_eq!(pair_outputs(&ins, &unnamed), [Some(unnamed[0].clone()), Some(unnamed[1].clone())]);
        assert_eq!(pair_outputs(&ins, &unnamed[..1]), [None, None]);
    }

    #[test]
    fn lines_become_records_stamped_with_the_job_hour() {
        let hour = Timestamp::parse_rfc3339("2022-08-26T13:00:00Z").unwrap();
        let input = "41,52000.5,A\n\n38,61000,B\r\n";
        let output = "0.73,1f1d57b1-2e6f-488c-8c30-db4e6d757861,2022-08-26T13:04:15Z\n0.12\n0.5\n";
        let mut out = String::new();
        let c = transcode(input, Some(output), "s3://in/part-0.csv", hour, &mut out);
        assert_eq!(c, Transcoded { records: 2, extra_outputs: 1, inference_ids: 1 });
        let records: Vec<Json> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records[0]["captureData"]["endpointInput"]["data"], "41,52000.5,A");
        assert_eq!(records[0]["captureData"]["endpointOutput"]["data"], "0.73", "the id columns are taken off");
        assert_eq!(records[0]["eventMetadata"]["inferenceId"], "1f1d57b1-2e6f-488c-8c30-db4e6d757861");
        assert_eq!(records[0]["eventMetadata"]["inferenceTime"], "2022-08-26T13:00:00Z");
        assert_eq!(records[1]["eventMetadata"]["eventId"], "s3://in/part-0.csv:3");
        assert_eq!(records[1]["captureData"]["endpointInput"]["data"], "38,61000,B");
        assert_eq!(records[1]["captureData"]["endpointOutput"]["data"], "0.12");
        // Every record decodes as real-time capture does.
        for l in out.lines() {
            crate::capture::decode_line(l).unwrap();
        }
        // JSON Lines with the id members.
        let mut out = String::new();
        let output =
            r#"{"score": 0.7, "SageMakerInferenceId": "abc", "SageMakerInferenceTime": "2022-08-26T13:04:15Z"}"#;
        let c = transcode(r#"{"age": 41}"#, Some(output), "in.jsonl", hour, &mut out);
        assert_eq!((c.records, c.inference_ids), (1, 1));
        let r: Json = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(r["captureData"]["endpointOutput"]["data"], r#"{"score":0.7}"#);
        assert_eq!(r["captureData"]["endpointInput"]["encoding"], "JSON");
        assert_eq!(r["eventMetadata"]["inferenceId"], "abc");
        // A CSV output whose last cells only look like a time stays whole.
        assert_eq!(take_inference_id("1,2026-01-01T00:00:00Z").1, None);
    }
}
