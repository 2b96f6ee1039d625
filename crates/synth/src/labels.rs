//! Ground truth for the bundled example, as a team would upload it to Model Monitor's
//! ground-truth prefix: one label per single-row request, drawn from the record's `eventId` so
//! that the same capture always gets the same labels.
//!
//! The story: the model is calibrated (a request scored `p` defaults with chance `p`) until
//! [`EXAMPLE_TURN`], when a new model version goes out whose scores are inverted (a sign bug
//! in its post-processing): the labels now agree with `1 - p`. Labels come two hours after
//! the inference, one in ten only after 30 hours, one in seven never; batch requests (several
//! rows) get none, since one label cannot be matched to their rows.

use std::collections::BTreeMap;
use std::path::Path;

use driftwatch_core::capture::layout::hour_path;
use driftwatch_core::time::{Duration, Timestamp};

/// Day 4, 00:00 UTC of the example: the inverted model version goes out.
pub const EXAMPLE_TURN: (i64, u32, u32) = (2026, 3, 4);
/// Hours between an inference and its label, for most labels.
pub const LABEL_HOURS: i64 = 2;
/// Hours between an inference and its label, for one label in [`SLOW_EVERY`].
pub const SLOW_LABEL_HOURS: i64 = 30;
/// One label in this many comes after [`SLOW_LABEL_HOURS`].
pub const SLOW_EVERY: u64 = 10;
/// One request in this many is never labelled.
pub const NEVER_EVERY: u64 = 7;

/// The example's ground truth and what went into it.
#[derive(Debug, Clone, Default)]
pub struct ExampleLabels {
    /// Ground-truth files by hour folder (`yyyy/mm/dd/hh`): JSON Lines in Model Monitor's
    /// ground-truth format.
    pub folders: BTreeMap<String, String>,
    /// Labelled scored rows from before the turn (`y,p`): the quality baseline's input, as a
    /// validation set scored by the model would be.
    pub baseline_csv: String,
    /// Single-row requests (a label could join them).
    pub records: u64,
    /// Of those, never labelled.
    pub never: u64,
    /// Of those, labelled after [`SLOW_LABEL_HOURS`].
    pub slow: u64,
    /// Batch requests (several rows): no label.
    pub several_rows: u64,
}

/// A stable number in [0, 1) from a text: FNV-1a, then splitmix64's finalizer (FNV alone
/// gives ids that differ in their last digit values in arithmetic progression).
pub fn unit_of(s: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The ground truth of the capture below `capture` (the example's layout), files read in key
/// order. Fails on an unreadable file or a record that is not the example's shape.
pub fn example_labels(capture: &Path) -> std::io::Result<ExampleLabels> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let (y, m, d) = EXAMPLE_TURN;
    let turn = Timestamp::from_civil(y, m, d, 0, 0, 0).ok_or_else(|| bad("turn"))?;
    let mut files = Vec::new();
    let mut stack = vec![capture.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = ExampleLabels { baseline_csv: String::from("y,p\n"), ..Default::default() };
    for f in files {
        for line in std::fs::read_to_string(&f)?.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad("a capture line is not JSON"))?;
            let id = v["eventMetadata"]["eventId"].as_str().ok_or_else(|| bad("no eventId"))?.to_owned();
            let at = v["eventMetadata"]["inferenceTime"].as_str().and_then(Timestamp::parse_rfc3339);
            let at = at.ok_or_else(|| bad("no inferenceTime"))?;
            let data = v["captureData"]["endpointOutput"]["data"].as_str().ok_or_else(|| bad("no output"))?.trim();
            if data.contains('\n') {
                out.several_rows += 1;
                continue;
            }
            let score: f64 = data.parse().map_err(|_| bad("the output is not a score"))?;
            out.records += 1;
            let u = unit_of(&id);
            let label = if at < turn { u < score } else { u < 1.0 - score };
            if at < turn {
                out.baseline_csv.push_str(&format!("{},{score}\n", u8::from(label)));
            }
            if out.records.is_multiple_of(NEVER_EVERY) {
                out.never += 1;
                continue;
            }
            let slow = out.records.is_multiple_of(SLOW_EVERY);
            out.slow += u64::from(slow);
            let delay = Duration::from_hours(if slow { SLOW_LABEL_HOURS } else { LABEL_HOURS });
            let folder = hour_path((at + delay).floor(Duration::from_hours(1)));
            let rec = serde_json::json!({
                "groundTruthData": {"data": u8::from(label).to_string(), "encoding": "CSV"},
                "eventMetadata": {"eventId": id},
                "eventVersion": "0"
            });
            let text = out.folders.entry(folder).or_default();
            text.push_str(&rec.to_string());
            text.push('\n');
        }
    }
    Ok(out)
}

/// Writes the folders of `labels` below `root` (`root/yyyy/mm/dd/hh/labels.jsonl`); returns
/// the bytes written.
pub fn write_labels(labels: &ExampleLabels, root: &Path) -> std::io::Result<u64> {
    let mut bytes = 0;
    for (folder, text) in &labels.folders {
        let dir = root.join(folder);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("labels.jsonl"), text)?;
        bytes += text.len() as u64;
    }
    Ok(bytes)
}
