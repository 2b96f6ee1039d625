//! Per-window reports in Model Monitor's layout:
//! `{endpoint}/{variant}/yyyy/mm/dd/HH/` holding `statistics.json` and
//! `constraint_violations.json` (Model Monitor's schemas) and `drift.json` (every metric with
//! its noise floor). The hour folder is the window's start; windows shorter than an hour add a
//! minute folder (`HH/MM/`) so that they do not overwrite each other.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::baseline::{statistics_file, Baseline, ViolationsFile};
use crate::capture::layout::{hour_path, StreamId};
use crate::drift::{FeatureDrift, WindowDrift};
use crate::pipeline::mapping::Layout;
use crate::pipeline::RecordIssue;
use crate::profile::{SkipCounts, WindowProfile};
use crate::time::{Duration, Window};

/// The file names in a window's folder.
pub const STATISTICS: &str = "statistics.json";
/// Model Monitor's violations file name (not the documented `constraints_violations.json`).
pub const VIOLATIONS: &str = "constraint_violations.json";
/// driftwatch's metrics file.
pub const DRIFT: &str = "drift.json";

/// Returns the report folder of a window: `{endpoint}/{variant}/yyyy/mm/dd/HH[/MM]`.
pub fn window_prefix(stream: &StreamId, window: &Window) -> String {
    let mut p = format!("{}/{}/{}", stream.endpoint, stream.variant, hour_path(window.start));
    if window.end.millis() - window.start.millis() < Duration::from_hours(1).millis() {
        p.push_str(&format!("/{:02}", window.start.civil().minute));
    }
    p
}

/// Everything known about one closed window, ready to report.
#[derive(Debug, Clone)]
pub struct WindowReport<'a> {
    /// The stream.
    pub stream: &'a StreamId,
    /// The window.
    pub window: Window,
    /// Its profile.
    pub profile: &'a WindowProfile,
    /// The comparison with the baseline.
    pub drift: &'a WindowDrift,
    /// Column mapping used.
    pub layout: Layout,
    /// Example issues.
    pub issues: &'a [RecordIssue],
    /// The classifier's view of this window, if it ran.
    pub classification: Option<crate::classify::evidence::WindowView>,
}

#[derive(Serialize)]
struct DriftFile<'a> {
    version: u32,
    endpoint: &'a str,
    variant: &'a str,
    window: WindowInfo,
    baseline: &'a str,
    layout: Layout,
    skipped: &'a SkipCounts,
    issues: Vec<String>,
    column_counts: &'a BTreeMap<u32, u64>,
    extra_columns: &'a BTreeMap<String, u64>,
    fields: Fields<'a>,
    violations: usize,
    features: &'a [FeatureDrift],
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "sorted_view")]
    classification: Option<&'a crate::classify::evidence::WindowView>,
}

fn sorted_view<S: serde::Serializer>(
    v: &Option<&crate::classify::evidence::WindowView>,
    s: S,
) -> Result<S::Ok, S::Error> {
    super::sorted_keys(v, s)
}

/// What became of the captured fields in the window.
#[derive(Serialize)]
struct Fields<'a> {
    /// Baseline features that got a value (or an explicit null) from the capture.
    mapped: Vec<&'a str>,
    /// Response fields that are not baseline features, with the rows that carried them: the
    /// model's output, left aside (named layouts; a positional layout reads the response's
    /// columns as `layout.output_cols` says).
    outputs: &'a BTreeMap<String, u64>,
    /// Request fields the baseline does not know, with their rows: a schema break
    /// (`extra_column_check`); the same as `extra_columns`.
    unknown: &'a BTreeMap<String, u64>,
    /// Header rows the client sent at the top of CSV requests, read past.
    header_rows: u64,
}

#[derive(Serialize)]
struct WindowInfo {
    start: String,
    end: String,
    records: u64,
    rows: u64,
}

/// A window's report files, rendered.
#[derive(Debug, Clone)]
pub struct RenderedReport {
    /// `(key, bytes)` of each file, below the reports root.
    pub files: Vec<(String, Vec<u8>)>,
    /// Key of `statistics.json`.
    pub statistics_key: String,
    /// Key of `constraint_violations.json`.
    pub violations_key: String,
}

/// The folder of a window's model-quality files, below its report folder.
pub const MODEL_QUALITY: &str = "model_quality";

/// The folder of a window's bias files, below its report folder.
pub const BIAS: &str = "bias";

/// The names of a window's two bias files, below its `bias/` folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BiasFiles {
    /// The analysis in Clarify's layout.
    pub analysis: &'static str,
    /// The `bias_drift_check` violations.
    pub violations: &'static str,
}

impl BiasFiles {
    /// Over the window's predictions when it closes (DPPL, DI, CDDPL): Clarify's names.
    pub const PREDICTIONS: BiasFiles = BiasFiles { analysis: "analysis.json", violations: VIOLATIONS };
    /// Over its predictions labelled when the label join judged it (every metric).
    pub const LABELS: BiasFiles =
        BiasFiles { analysis: "analysis_with_labels.json", violations: "constraint_violations_with_labels.json" };
}

/// A window's bias files (`files` names them): the analysis in Clarify's layout, each metric
/// with its `standard_error` and the baseline's value beside it and each facet value's rows,
/// and the `bias_drift_check` violations.
pub fn render_bias(
    prefix: &str,
    monitor: &crate::bias::window::BiasMonitor,
    bias: &crate::bias::window::BiasWindow,
    files: BiasFiles,
) -> Vec<(String, Vec<u8>)> {
    let mut analysis = bias.analysis(&monitor.config, &monitor.baseline.label).to_json();
    // Beside Clarify's keys: each metric's sampling error and the baseline's value.
    if let Some(facets) = analysis.pointer_mut("/post_training_bias_metrics/facets").and_then(|f| f.as_object_mut()) {
        for (name, entries) in facets.iter_mut() {
            let readings = bias.facets.get(name);
            for (entry, values) in entries.as_array_mut().into_iter().flatten().zip(readings.into_iter().flatten()) {
                entry["rows"] = serde_json::json!({"facet": values.rows.0, "rest": values.rows.1});
                for (m, r) in entry["metrics"].as_array_mut().into_iter().flatten().zip(&values.readings) {
                    m["standard_error"] = serde_json::json!(r.standard_error);
                    m["baseline"] = serde_json::json!(r.baseline);
                }
            }
        }
    }
    let violations = serde_json::json!({"violations": bias.violations});
    vec![
        (format!("{prefix}/{BIAS}/{}", files.analysis), to_json(&analysis)),
        (format!("{prefix}/{BIAS}/{}", files.violations), to_json(&violations)),
    ]
}
/// The join's account of a window (driftwatch's; beside Model Monitor's two files).
pub const LABELS: &str = "labels.json";
/// A window's quality estimated without labels (driftwatch's).
pub const ESTIMATED: &str = "estimated.json";

/// Renders a window's model-quality files below `prefix` (the window's report folder):
/// `model_quality/statistics.json` (when a row was labelled) and
/// `model_quality/constraint_violations.json` in Model Monitor's model-quality schemas, over
/// every label that came (late ones too), and `model_quality/labels.json`: the join's account
/// (predictions, labelled share, late and unusable labels, when it was judged and with how many
/// labels), the headline metrics as judged then, with their sampling errors and distance from
/// the baseline, and, with a calibration, the estimate from the scores beside them. A window
/// judged without labels gets `model_quality/estimated.json` instead (the estimated headline
/// metrics).
pub fn render_quality(prefix: &str, q: &crate::quality::join::WindowQuality) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if q.estimated {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Estimate<'a> {
            estimated: bool,
            predictions: u64,
            #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            records_without_prediction: &'a std::collections::BTreeMap<&'static str, u64>,
            metrics: &'a [crate::quality::decide::MetricJudgement],
        }
        let e = Estimate {
            estimated: true,
            predictions: q.counts.predictions,
            records_without_prediction: &q.counts.records_without_prediction,
            metrics: &q.judgements,
        };
        out.push((format!("{prefix}/{MODEL_QUALITY}/{ESTIMATED}"), to_json(&e)));
        return out;
    }
    if let Some(s) = &q.statistics {
        out.push((format!("{prefix}/{MODEL_QUALITY}/{STATISTICS}"), to_json(s)));
    }
    let violations = crate::quality::files::QualityViolations { violations: q.violations.clone() };
    out.push((format!("{prefix}/{MODEL_QUALITY}/{VIOLATIONS}"), to_json(&violations)));
    #[derive(serde::Serialize)]
    struct Account<'a> {
        #[serde(flatten)]
        counts: &'a crate::quality::join::JoinCounts,
        /// The headline metrics against the baseline when the window was judged, with their
        /// sampling errors.
        metrics: &'a [crate::quality::decide::MetricJudgement],
        /// The same metrics estimated from the calibrated scores (no labels needed).
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        estimated: &'a [crate::quality::decide::MetricJudgement],
    }
    let account = Account { counts: &q.counts, metrics: &q.judgements, estimated: &q.estimate };
    out.push((format!("{prefix}/{MODEL_QUALITY}/{LABELS}"), to_json(&account)));
    out
}

/// Renders the three files of one window (writing them is the caller's: replay writes to a
/// folder, the service to its reports store). Without `sketches`, `statistics.json` leaves out
/// the KLL sketches (Model Monitor's schema allows it; the buckets stay).
pub fn render_window(baseline: &Baseline, r: &WindowReport<'_>, sketches: bool) -> RenderedReport {
    let prefix = window_prefix(r.stream, &r.window);
    let mut stats = statistics_file(
        r.profile.rows,
        baseline.features.iter().map(|f| f.name.as_str()).zip(r.profile.features.iter()),
    );
    if !sketches {
        for f in &mut stats.features {
            if let Some(kll) =
                f.numerical_statistics.as_mut().and_then(|n| n.distribution.as_mut()).and_then(|d| d.kll.as_mut())
            {
                kll.sketch = None;
            }
        }
    }
    let violations = ViolationsFile { violations: r.drift.violations.clone() };
    let drift = DriftFile {
        version: 1,
        endpoint: &r.stream.endpoint,
        variant: &r.stream.variant,
        window: WindowInfo {
            start: r.window.start.to_string(),
            end: r.window.end.to_string(),
            records: r.profile.records,
            rows: r.profile.rows,
        },
        baseline: &baseline.source,
        layout: r.layout,
        skipped: &r.profile.skipped,
        issues: r.issues.iter().map(ToString::to_string).collect(),
        column_counts: &r.profile.column_counts,
        extra_columns: &r.profile.extra_columns,
        fields: Fields {
            mapped: baseline
                .features
                .iter()
                .zip(&r.profile.features)
                .filter(|(_, p)| p.present() + p.missing > p.absent)
                .map(|(f, _)| f.name.as_str())
                .collect(),
            outputs: &r.profile.outputs,
            unknown: &r.profile.extra_columns,
            header_rows: r.profile.header_rows,
        },
        violations: r.drift.violations.len(),
        features: &r.drift.features,
        classification: r.classification.as_ref(),
    };
    let statistics_key = format!("{prefix}/{STATISTICS}");
    let violations_key = format!("{prefix}/{VIOLATIONS}");
    RenderedReport {
        files: vec![
            (statistics_key.clone(), to_json(&stats)),
            (violations_key.clone(), to_json(&violations)),
            (format!("{prefix}/{DRIFT}"), to_json(&drift)),
        ],
        statistics_key,
        violations_key,
    }
}

/// Where a window's Model Monitor files went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUris {
    /// `statistics.json`.
    pub statistics: String,
    /// `constraint_violations.json`.
    pub violations: String,
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // These types serialise infallibly (string keys, no maps with non-string keys).
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    #[test]
    fn prefixes() {
        let s = StreamId::new("loan-scoring-prod", "AllTraffic");
        let t = Timestamp::parse_rfc3339("2026-03-03T16:45:00Z").unwrap();
        let hour = Window::containing(t, Duration::from_hours(1));
        assert_eq!(window_prefix(&s, &hour), "loan-scoring-prod/AllTraffic/2026/03/03/16");
        let q = Window::containing(t, Duration::from_mins(15));
        assert_eq!(window_prefix(&s, &q), "loan-scoring-prod/AllTraffic/2026/03/03/16/45");
        let day = Window::containing(t, Duration::from_days(1));
        assert_eq!(window_prefix(&s, &day), "loan-scoring-prod/AllTraffic/2026/03/03/00");
    }
}
