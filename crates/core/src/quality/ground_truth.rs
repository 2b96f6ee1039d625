//! Ground-truth records as Model Monitor's model-quality job reads them: one JSON object per
//! line, `{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId":
//! "..."}, "eventVersion": "0"}`, uploaded under `{prefix}/yyyy/mm/dd/hh/` by collection time.
//!
//! The join key is the record's `eventMetadata.eventId` (the caller's inference id when the
//! captured record carried one, else the captured `eventId`; an `inferenceId` member is taken
//! when `eventId` is absent). [`Labels`] keeps one label per key: a second record for a key is
//! counted as a duplicate (and as conflicting when its label differs), never applied twice.

use std::collections::BTreeMap;

use base64::Engine as _;
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::time::Timestamp;

/// Why a ground-truth line was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLabel {
    /// The label's text.
    pub label: String,
    /// The hour folder it was uploaded under.
    pub collected: Option<Timestamp>,
}

/// Labels by join key, with everything that was not used counted.
#[derive(Debug, Default)]
pub struct Labels {
    by_key: FxHashMap<String, HeldLabel>,
    /// Records for a key that already had a label (the first label is kept).
    pub duplicates: u64,
    /// Of those, the ones whose label differed from the one kept.
    pub conflicting: u64,
    /// Lines not used, by reason.
    pub skipped: BTreeMap<LabelSkip, u64>,
    /// The first [`NAMED_LABEL_ISSUES`] of them.
    pub named: Vec<LabelIssue>,
}

impl Labels {
    /// No labels yet.
    pub fn new() -> Self {
        Labels::default()
    }

    /// Reads one ground-truth file's text (`file` names it in issues; `collected` is its hour
    /// folder). Blank lines are ignored.
    pub fn read(&mut self, file: &str, collected: Option<Timestamp>, text: &str) {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(gt) => self.insert(gt, collected),
                Err(reason) => {
                    *self.skipped.entry(reason).or_default() += 1;
                    if self.named.len() < NAMED_LABEL_ISSUES {
                        self.named.push(LabelIssue { file: file.to_owned(), line: i as u64 + 1, reason });
                    }
                }
            }
        }
    }

    /// Adds a label; a key seen before is counted as a duplicate and keeps its first label.
    pub fn insert(&mut self, gt: GroundTruth, collected: Option<Timestamp>) {
        match self.by_key.get(&gt.key) {
            Some(kept) => {
                self.duplicates += 1;
                if kept.label != gt.label {
                    self.conflicting += 1;
                }
            }
            None => {
                self.by_key.insert(gt.key, HeldLabel { label: gt.label, collected });
            }
        }
    }

    /// The label of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.by_key.get(key).map(|h| h.label.as_str())
    }

    /// Takes the label of `key` out (a joined label is used once; what stays at the end was
    /// never matched).
    pub fn take(&mut self, key: &str) -> Option<HeldLabel> {
        self.by_key.remove(key)
    }

    /// Labels held.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no label is held.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
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
    fn duplicates_and_bad_lines_are_counted_not_applied() {
        let mut labels = Labels::new();
        let text = concat!(
            r#"{"groundTruthData":{"data":"1"},"eventMetadata":{"eventId":"a"}}"#,
            "\n\n",
            r#"{"groundTruthData":{"data":"1"},"eventMetadata":{"eventId":"a"}}"#,
            "\n",
            r#"{"groundTruthData":{"data":"0"},"eventMetadata":{"eventId":"a"}}"#,
            "\n{oops\n",
            r#"{"groundTruthData":{"data":"0"},"eventMetadata":{"eventId":"b"}}"#,
            "\n"
        );
        labels.read("gt/2026/03/01/10/labels.jsonl", None, text);
        assert_eq!((labels.len(), labels.duplicates, labels.conflicting), (2, 2, 1));
        assert_eq!(labels.get("a"), Some("1"), "the first label is kept");
        assert_eq!(labels.skipped.get(&LabelSkip::NotJson), Some(&1));
        assert_eq!(labels.named[0].line, 5);
        assert_eq!(labels.take("b").map(|h| h.label).as_deref(), Some("0"));
        assert!(labels.get("b").is_none());
    }

    /// The SDK's pair: every label in `actuals.jsonl` finds its captured record by `eventId`.
    #[test]
    fn the_sdks_actuals_join_its_capture() {
        let Some(fx) = crate::testing::sagemaker_fixtures() else { return };
        let dir = fx.join("aws__sagemaker-python-sdk/tests/data/monitor");
        let mut labels = Labels::new();
        labels.read("actuals.jsonl", None, &std::fs::read_to_string(dir.join("actuals.jsonl")).unwrap());
        assert!(labels.skipped.is_empty());
        let capture = std::fs::read_to_string(dir.join("capture.jsonl")).unwrap();
        let mut joined = 0;
        let mut records = 0;
        for line in capture.lines().filter(|l| !l.trim().is_empty()) {
            records += 1;
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = v["eventMetadata"]["inferenceId"].as_str().or(v["eventMetadata"]["eventId"].as_str()).unwrap();
            if let Some(held) = labels.take(key) {
                assert!(held.label == "0" || held.label == "1");
                joined += 1;
            }
        }
        assert_eq!((records, joined, labels.len()), (44, 44, 0));
    }

    proptest::proptest! {
        /// Any file (valid records with repeated keys, broken lines, blank lines, mixed): every
        /// non-blank line is a kept label, a duplicate or a counted skip, once (the fuzz target
        /// `ground_truth` checks the same on arbitrary bytes).
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
            let mut labels = Labels::new();
            labels.read("p.jsonl", None, &text);
            let nonblank = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
            let skipped: u64 = labels.skipped.values().sum();
            proptest::prop_assert_eq!(labels.len() as u64 + labels.duplicates + skipped, nonblank);
            proptest::prop_assert!(labels.conflicting <= labels.duplicates);
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
