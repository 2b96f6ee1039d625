//! Ground-truth records as Model Monitor's model-quality job reads them: one JSON object per
//! line, `{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId":
//! "..."}, "eventVersion": "0"}`, uploaded under `{prefix}/yyyy/mm/dd/hh/` by collection time.
//!
//! The join key is the record's `eventMetadata.eventId` (the caller's inference id when the
//! captured record carried one, else the captured `eventId`; an `inferenceId` member is taken
//! when `eventId` is absent). [`LabelFile`] is one file read; the ledger
//! ([`super::ledger`]) keeps one label per key: a second record for a key is counted as a
//! duplicate (and as conflicting when its label differs), never applied twice.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Why a ground-truth line was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSkip {
    /// Not a JSON object.
    NotJson,
    /// No `groundTruthData.data`.
    NoData,
    /// No `eventMetadata.eventId` (nor `inferenceId`).
    NoKey,
    /// An encoding other than CSV, JSON or BASE64, or BASE64 that does not decode.
    BadEncoding,
}

impl LabelSkip {
    /// The reason's name in counts and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelSkip::NotJson => "not_json",
            LabelSkip::NoData => "no_data",
            LabelSkip::NoKey => "no_key",
            LabelSkip::BadEncoding => "bad_encoding",
        }
    }

    /// The field at fault, as the error names it.
    pub fn field(self) -> &'static str {
        match self {
            LabelSkip::NotJson => "(line)",
            LabelSkip::NoData => "groundTruthData.data",
            LabelSkip::NoKey => "eventMetadata.eventId",
            LabelSkip::BadEncoding => "groundTruthData.encoding",
        }
    }
}

#[derive(Deserialize)]
struct RawRecord {
    #[serde(rename = "groundTruthData")]
    data: Option<RawData>,
    #[serde(rename = "eventMetadata")]
    meta: Option<RawMeta>,
}

#[derive(Deserialize)]
struct RawData {
    data: Option<serde_json::Value>,
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct RawMeta {
    #[serde(rename = "eventId")]
    event_id: Option<String>,
    #[serde(rename = "inferenceId")]
    inference_id: Option<String>,
}

/// One ground-truth record: its join key and the label's text (CSV text as written, JSON
/// scalars as their text, BASE64 decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroundTruth {
    /// The join key.
    pub key: String,
    /// The label's text.
    pub label: String,
}

/// Parses one line of a ground-truth file.
pub fn parse_line(line: &str) -> Result<GroundTruth, LabelSkip> {
    let raw: RawRecord = serde_json::from_str(line).map_err(|_| LabelSkip::NotJson)?;
    let meta = raw.meta.ok_or(LabelSkip::NoKey)?;
    let key = meta.event_id.or(meta.inference_id).filter(|k| !k.is_empty()).ok_or(LabelSkip::NoKey)?;
    let data = raw.data.ok_or(LabelSkip::NoData)?;
    let text = match data.data.ok_or(LabelSkip::NoData)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => return Err(LabelSkip::NoData),
        other => other.to_string(),
    };
    let label = match data.encoding.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("CSV") | Some("JSON") => text,
        Some("BASE64") => {
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| LabelSkip::BadEncoding)?;
            String::from_utf8(bytes).map_err(|_| LabelSkip::BadEncoding)?
        }
        Some(_) => return Err(LabelSkip::BadEncoding),
    };
    // A JSON-encoded label may itself be a JSON string ("\"cat\""): its content is the label.
    let label = match serde_json::from_str::<String>(&label) {
        Ok(s) => s,
        Err(_) => label.trim().to_owned(),
    };
    Ok(GroundTruth { key, label })
}

/// A ground-truth line that was not used, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelIssue {
    /// The file (URI or path).
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// Why.
    pub reason: LabelSkip,
}

/// How many bad lines are named one by one; the rest are counted.
pub const NAMED_LABEL_ISSUES: usize = 10;

/// A label and when it was collected (its file's hour folder, when the file is in the layout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldLabel {
    /// The label's text.
    pub label: String,
    /// The hour folder it was uploaded under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected: Option<Timestamp>,
}

/// One ground-truth file, read: its labels in line order and every line that gave none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelFile {
    /// The file (URI or path), as issues name it.
    pub file: String,
    /// Its hour folder (`yyyy/mm/dd/hh`): when its labels were collected. None for a file
    /// outside the layout (its labels count as collected before any window).
    pub collected: Option<Timestamp>,
    /// The labels, in line order (repeated keys included: the ledger counts duplicates).
    pub labels: Vec<GroundTruth>,
    /// Lines not used, by reason.
    pub skipped: BTreeMap<LabelSkip, u64>,
    /// The first [`NAMED_LABEL_ISSUES`] of them, with their lines.
    pub issues: Vec<LabelIssue>,
}

impl LabelFile {
    /// Reads one ground-truth file's text (`file` names it in issues; `collected` is its hour
    /// folder). Blank lines are ignored; every other line is a label or a counted skip.
    pub fn read(file: &str, collected: Option<Timestamp>, text: &str) -> LabelFile {
        let mut out = LabelFile { file: file.to_owned(), collected, ..Default::default() };
        // A byte order mark before the first record (editors on Windows add one).
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(gt) => out.labels.push(gt),
                Err(reason) => {
                    *out.skipped.entry(reason).or_default() += 1;
                    if out.issues.len() < NAMED_LABEL_ISSUES {
                        out.issues.push(LabelIssue { file: file.to_owned(), line: i as u64 + 1, reason });
                    }
                }
            }
        }
        out
    }

    /// Lines not used.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// The hour folder a ground-truth key sits in (`.../yyyy/mm/dd/hh/file.jsonl`): its collection
/// hour, or None outside the layout.
pub fn collection_hour(key: &str) -> Option<Timestamp> {
    let parts: Vec<&str> = key.split('/').collect();
    (parts.len() >= 5).then(|| crate::capture::layout::parse_hour(&parts[parts.len() - 5..parts.len() - 1])).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    #[test]
    fn lines_of_every_encoding_and_every_fault() {
        let ok = parse_line(
            r#"{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"e1"},"eventVersion":"0"}"#,
        );
        assert_eq!(ok, Ok(GroundTruth { key: "e1".into(), label: "1".into() }));
        let json =
            parse_line(r#"{"groundTruthData":{"data":"\"cat\"","encoding":"JSON"},"eventMetadata":{"eventId":"e2"}}"#);
        assert_eq!(json.unwrap().label, "cat");
        let number =
            parse_line(r#"{"groundTruthData":{"data":0,"encoding":"JSON"},"eventMetadata":{"inferenceId":"7"}}"#);
        assert_eq!(number, Ok(GroundTruth { key: "7".into(), label: "0".into() }));
        let b64 =
            parse_line(r#"{"groundTruthData":{"data":"MQ==","encoding":"BASE64"},"eventMetadata":{"eventId":"e3"}}"#);
        assert_eq!(b64.unwrap().label, "1");
        assert_eq!(parse_line("not json"), Err(LabelSkip::NotJson));
        assert_eq!(parse_line(r#"{"groundTruthData":{"data":"1"}}"#), Err(LabelSkip::NoKey));
        assert_eq!(parse_line(r#"{"eventMetadata":{"eventId":"e"}}"#), Err(LabelSkip::NoData));
        assert_eq!(
            parse_line(r#"{"groundTruthData":{"data":"1","encoding":"XML"},"eventMetadata":{"eventId":"e"}}"#),
            Err(LabelSkip::BadEncoding)
        );
    }

    #[test]
    fn bad_lines_are_counted_and_named_by_line() {
        let text = concat!(
            r#"{"groundTruthData":{"data":"1"},"eventMetadata":{"eventId":"a"}}"#,
            "\n\n",
            r#"{"groundTruthData":{"data":"0"},"eventMetadata":{"eventId":"a"}}"#,
            "\n{oops\n",
            r#"{"groundTruthData":{"data":"0"},"eventMetadata":{"eventId":"b"}}"#,
            "\n"
        );
        let at = Timestamp::parse_rfc3339("2026-03-01T10:00:00Z");
        let f = LabelFile::read("gt/2026/03/01/10/labels.jsonl", at, text);
        assert_eq!(f.labels.len(), 3, "repeated keys stay: the ledger counts them");
        assert_eq!(f.skipped.get(&LabelSkip::NotJson), Some(&1));
        assert_eq!((f.issues[0].line, f.skipped_lines()), (4, 1));
        assert_eq!(collection_hour("gt/2026/03/01/10/labels.jsonl"), at);
        assert_eq!(collection_hour("labels.jsonl"), None);
    }

    /// The SDK's pair: every label in `actuals.jsonl` finds its captured record by `eventId`.
    #[test]
    fn the_sdks_actuals_join_its_capture() {
        let Some(fx) = crate::testing::sagemaker_fixtures() else { return };
        let dir = fx.join("aws__sagemaker-python-sdk/tests/data/monitor");
        let f = LabelFile::read("actuals.jsonl", None, &std::fs::read_to_string(dir.join("actuals.jsonl")).unwrap());
        assert!(f.skipped.is_empty());
        let mut labels: std::collections::HashMap<String, String> =
            f.labels.into_iter().map(|g| (g.key, g.label)).collect();
        let capture = std::fs::read_to_string(dir.join("capture.jsonl")).unwrap();
        let mut joined = 0;
        let mut records = 0;
        for line in capture.lines().filter(|l| !l.trim().is_empty()) {
            records += 1;
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = v["eventMetadata"]["inferenceId"].as_str().or(v["eventMetadata"]["eventId"].as_str()).unwrap();
            if let Some(label) = labels.remove(key) {
                assert!(label == "0" || label == "1");
                joined += 1;
            }
        }
        assert_eq!((records, joined, labels.len()), (44, 44, 0));
    }

    proptest::proptest! {
        /// Any file (valid records with repeated keys, broken lines, blank lines, mixed): every
        /// non-blank line is a label or a counted skip, once (the ledger's property test counts
        /// duplicates; the fuzz target `ground_truth` checks both on arbitrary bytes).
        #[test]
        fn every_line_is_counted_once(lines in proptest::collection::vec(
            proptest::prop_oneof![
                (0u8..20, 0u8..2).prop_map(|(k, y)| format!(r#"{{"groundTruthData":{{"data":"{y}"}},"eventMetadata":{{"eventId":"k{k}"}}}}"#)),
                "\\PC{0,30}",
                proptest::strategy::Just(String::new()),
            ],
            0..60,
        )) {
            let text = lines.join("\n");
            let f = LabelFile::read("p.jsonl", None, &text);
            let nonblank = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
            proptest::prop_assert_eq!(f.labels.len() as u64 + f.skipped_lines(), nonblank);
            proptest::prop_assert!(f.issues.len() as u64 <= f.skipped_lines());
        }

        /// A record written by any client (key of any text, label in any encoding) parses back
        /// to its key and label.
        #[test]
        fn records_round_trip(key in "\\PC{1,40}", label in "[A-Za-z0-9_.-]{1,12}", encoding in 0u8..3) {
            let (data, enc) = match encoding {
                0 => (serde_json::Value::String(label.clone()), "CSV"),
                1 => (serde_json::Value::String(serde_json::to_string(&label).unwrap()), "JSON"),
                _ => (serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(&label)), "BASE64"),
            };
            let line = serde_json::json!({
                "groundTruthData": {"data": data, "encoding": enc},
                "eventMetadata": {"eventId": key},
                "eventVersion": "0"
            })
            .to_string();
            proptest::prop_assert_eq!(parse_line(&line), Ok(GroundTruth { key, label }));
        }
    }
}
