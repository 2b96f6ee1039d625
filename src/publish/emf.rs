//! CloudWatch metrics with Model Monitor's names, as embedded-metric-format (EMF) log lines.
//!
//! Teams leaving Model Monitor have alarms and dashboards on the metrics its data-quality jobs
//! published (`feature_baseline_drift_<feature>` and friends in
//! `aws/sagemaker/Endpoints/data-metrics`, dimensions `Endpoint`, `Feature="_"`,
//! `MonitoringSchedule`). Each closed window is rendered here as a few JSON lines in CloudWatch's
//! embedded metric format; CloudWatch Logs turns a line printed by a Lambda function or a
//! container with the `awslogs` driver into metrics without an agent or a `PutMetricData` call.
//! `replay --emf FILE` writes the same lines to a file, so an alarm can be back-tested on
//! captured data.
//!
//! Nothing here does I/O: the same window gives the same lines whatever prints them. A datapoint
//! carries the window's end as its timestamp (the time by which its data is complete, as a
//! Model Monitor execution's metrics come after the hour they judge).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::baseline::Baseline;
use crate::bias::decide::Stage;
use crate::publish::window::JudgedWindow;

/// The namespace Model Monitor's real-time data-quality jobs publish to, spelled as the
/// SageMaker Python SDK's dashboards query it (`sagemaker/dashboard/data_quality_dashboard.py`).
pub const DATA_NAMESPACE: &str = "aws/sagemaker/Endpoints/data-metrics";

/// CloudWatch's limit of metric definitions in one EMF directive: a window with more metrics
/// is split over several lines.
pub const MAX_METRICS_PER_LINE: usize = 100;

/// CloudWatch's limit on a metric name's length: a feature whose metric names would be longer
/// is left out of the metrics (it is still in the reports).
pub const MAX_METRIC_NAME_CHARS: usize = 255;

/// The value of the `Feature` dimension: Model Monitor puts the feature in the metric name and
/// `"_"` here, and the SDK's dashboards search with `Feature="_"`.
pub const FEATURE_DIMENSION_VALUE: &str = "_";

/// The one dimension set of every metric, as Model Monitor publishes them.
pub const DIMENSIONS: [&str; 3] = ["Endpoint", "Feature", "MonitoringSchedule"];

/// The schedule name used when the monitor neither names one nor was found through a
/// data-quality monitoring schedule.
pub fn default_schedule(endpoint: &str) -> String {
    format!("driftwatch-{endpoint}")
}

/// One datapoint of a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Model Monitor's name (`feature_null_income`).
    pub name: String,
    /// A CloudWatch unit (`Count` or `None`).
    pub unit: &'static str,
    /// The value (finite).
    pub value: f64,
}

/// Model Monitor's per-feature data-quality metrics of a window judged against `baseline`,
/// feature by feature in baseline order. A window without rows has none (Model Monitor
/// publishes nothing for an hour without data); nor has a feature whose `monitoring_config`
/// says `"emit_metrics": "Disabled"`; a value that is not defined (the drift of a feature the
/// window did not see) is left out rather than written as zero.
pub fn data_metrics(w: &JudgedWindow, baseline: &Baseline) -> Vec<Metric> {
    let profile = &w.closed.profile;
    if profile.rows == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for ((fd, p), bf) in w.drift.features.iter().zip(&profile.features).zip(&baseline.features) {
        let f = &fd.name;
        if !bf.config.emit_metrics || "feature_estimated_unique_values_".len() + f.len() > MAX_METRIC_NAME_CHARS {
            continue;
        }
        let mut push = |prefix: &str, unit: &'static str, value: Option<f64>| {
            if let Some(value) = value.filter(|v| v.is_finite()) {
                out.push(Metric { name: format!("{prefix}{f}"), unit, value });
            }
        };
        let count = |n: u64| Some(n as f64);
        push("feature_baseline_drift_", "None", fd.drift_check.as_ref().map(|c| c.value));
        push("feature_completeness_", "None", p.completeness());
        push("feature_non_null_", "Count", count(p.present()));
        push("feature_null_", "Count", count(p.missing));
        push("feature_estimated_unique_values_", "Count", Some(p.distinct_estimate().round()));
        push("feature_fractional_counts_", "Count", count(p.types.fractional));
        push("feature_integral_counts_", "Count", count(p.types.integral));
        push("feature_string_counts_", "Count", count(p.types.string));
        push("feature_boolean_counts_", "Count", count(p.types.boolean));
        // Deequ's DataType analyzer counts a null as Unknown.
        push("feature_unknown_counts_", "Count", count(p.missing));
    }
    out
}

/// Renders metrics as EMF lines (no newline) of at most [`MAX_METRICS_PER_LINE`] metrics each,
/// in `namespace` with Model Monitor's data-quality dimensions. `variant` goes in as a property
/// (searchable in CloudWatch Logs Insights, not a dimension: Model Monitor's metrics have none).
pub fn lines(
    namespace: &str,
    endpoint: &str,
    variant: &str,
    schedule: &str,
    timestamp_ms: i64,
    metrics: &[Metric],
) -> Vec<String> {
    let [e, f, m] = DIMENSIONS;
    let dimensions = [(e, endpoint), (f, FEATURE_DIMENSION_VALUE), (m, schedule)];
    lines_with(namespace, &dimensions, &[("Variant", variant)], timestamp_ms, metrics)
}

/// Renders metrics as EMF lines of at most [`MAX_METRICS_PER_LINE`] metrics each, with one
/// dimension set (`dimensions`, names and values) and `properties` beside them.
pub fn lines_with(
    namespace: &str,
    dimensions: &[(&str, &str)],
    properties: &[(&str, &str)],
    timestamp_ms: i64,
    metrics: &[Metric],
) -> Vec<String> {
    let names: Vec<&str> = dimensions.iter().map(|(n, _)| *n).collect();
    metrics
        .chunks(MAX_METRICS_PER_LINE)
        .map(|chunk| {
            let mut line = Map::new();
            let definitions: Vec<Value> = chunk.iter().map(|m| json!({"Name": m.name, "Unit": m.unit})).collect();
            line.insert(
                "_aws".into(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [names],
                        "Metrics": definitions,
                    }],
                }),
            );
            for (name, value) in dimensions.iter().chain(properties) {
                line.insert((*name).to_owned(), Value::from(*value));
            }
            for m in chunk {
                line.insert(m.name.clone(), json!(m.value));
            }
            Value::Object(line).to_string()
        })
        .collect()
}

/// The namespace of Model Monitor's real-time model-quality metrics (the SDK's
/// `model_quality_dashboard.py` queries it with `Endpoint` and `MonitoringSchedule`).
pub const MODEL_NAMESPACE: &str = "aws/sagemaker/Endpoints/model-metrics";

/// The EMF lines of one model-quality window, when it is judged against labels: each scalar
/// metric of the labels it was judged on (those in by the judgement; the same whichever driver
/// judges it), by its name in `statistics.json` (`accuracy`, `f1`, `auc`, `mae`, ...),
/// dimensions `Endpoint` and `MonitoringSchedule`, at the window's end. None for a window
/// judged on estimates (Model Monitor has no such metric), without labelled rows, or rendered
/// again for late labels (Model Monitor publishes once per execution).
pub fn quality_lines(q: &crate::publish::window::JudgedQuality, schedule: &str) -> Vec<String> {
    let w = &q.quality;
    let Some(stats) = w.judged_statistics.as_ref().filter(|_| !w.update && !w.estimated) else { return Vec::new() };
    let metrics: Vec<Metric> = stats
        .metrics
        .iter()
        .filter_map(|(name, entry)| match entry {
            crate::quality::files::MetricEntry::Scalar { value, .. } if value.is_finite() => {
                Some(Metric { name: name.clone(), unit: "None", value: *value })
            }
            _ => None,
        })
        .collect();
    let end = w.window.end.millis();
    if is_batch(&q.stream) {
        let dimensions = [("MonitoringSchedule", schedule)];
        return lines_with(
            BATCH_MODEL_NAMESPACE,
            &dimensions,
            &[("Destination", q.stream.endpoint.as_str())],
            end,
            &metrics,
        );
    }
    let dimensions = [("Endpoint", q.stream.endpoint.as_str()), ("MonitoringSchedule", schedule)];
    lines_with(MODEL_NAMESPACE, &dimensions, &[("Variant", q.stream.variant.as_str())], end, &metrics)
}

/// The namespace of Model Monitor's batch transform data-quality metrics (dimensions `Feature`
/// and `MonitoringSchedule`: a transform job has no endpoint).
pub const BATCH_DATA_NAMESPACE: &str = "aws/sagemaker/ModelMonitoring/data-metrics";
/// The namespace of Model Monitor's batch transform model-quality metrics (dimension
/// `MonitoringSchedule`).
pub const BATCH_MODEL_NAMESPACE: &str = "aws/sagemaker/ModelMonitoring/model-metrics";

/// Whether a stream is batch transform capture (its metrics go in the batch namespaces).
fn is_batch(stream: &crate::capture::layout::StreamId) -> bool {
    stream.variant == crate::capture::batch::BATCH_VARIANT
}

/// The EMF lines of one closed window's data-quality metrics against `baseline` (a batch
/// transform stream's in Model Monitor's batch namespace, without `Endpoint`; its destination
/// is the `Destination` property).
pub fn window_lines(w: &JudgedWindow, baseline: &Baseline, schedule: &str) -> Vec<String> {
    let stream = &w.closed.stream;
    let metrics = data_metrics(w, baseline);
    let end = w.closed.window.end.millis();
    if is_batch(stream) {
        let dimensions = [("Feature", FEATURE_DIMENSION_VALUE), ("MonitoringSchedule", schedule)];
        return lines_with(
            BATCH_DATA_NAMESPACE,
            &dimensions,
            &[("Destination", stream.endpoint.as_str())],
            end,
            &metrics,
        );
    }
    lines(DATA_NAMESPACE, &stream.endpoint, &stream.variant, schedule, end, &metrics)
}

/// The EMF lines of a closed window when it closes: its data-quality metrics against
/// `baseline`, then its bias metrics (its model quality's come with each judgement:
/// [`quality_lines`]). What `serve` prints and `replay --emf` writes.
pub fn closed_window_lines(w: &JudgedWindow, baseline: &Baseline, schedule: &str) -> Vec<String> {
    let mut out = window_lines(w, baseline, schedule);
    out.extend(bias_lines(w, schedule));
    out
}

/// The namespace of Clarify's real-time bias metrics.
pub const BIAS_NAMESPACE: &str = "aws/sagemaker/Endpoints/bias-metrics";

/// How Clarify publishes an infinite metric (CloudWatch takes no infinity).
pub const BIAS_INFINITY: f64 = 2.348543e108;

/// The EMF lines of one window's bias, as Clarify's bias monitor names them: one line per facet
/// value with `bias_metric_<CODE>` of each defined metric, dimensions `Endpoint`,
/// `MonitoringSchedule`, `BiasStage` (`post_training`), `Label`, `LabelValue`, `Facet`,
/// `FacetValue`; an infinite value as ±[`BIAS_INFINITY`]; at the window's end.
pub fn bias_lines(w: &JudgedWindow, schedule: &str) -> Vec<String> {
    let Some(bias) = &w.bias else { return Vec::new() };
    bias_window_lines(&w.closed.stream, bias, w.closed.window.end, schedule, Stage::Predictions)
}

/// The EMF lines of a window's bias over its labelled predictions: the label-dependent
/// metrics, named as [`bias_lines`] names them, at the window's end (DPPL, DI and CDDPL are
/// published once, over every prediction, when the window closes: a second datapoint of the
/// same metric over the labelled rows would mix two populations).
pub fn labelled_bias_lines(b: &crate::publish::window::JudgedLabelledBias, schedule: &str) -> Vec<String> {
    bias_window_lines(&b.stream, &b.bias, b.window.end, schedule, Stage::Labels)
}

fn bias_window_lines(
    stream: &crate::capture::layout::StreamId,
    bias: &crate::bias::window::BiasWindow,
    end: crate::time::Timestamp,
    schedule: &str,
    stage: Stage,
) -> Vec<String> {
    let mut out = Vec::new();
    for (facet, values) in &bias.facets {
        for v in values {
            let metrics: Vec<Metric> = v
                .readings
                .iter()
                .filter(|r| stage.publishes(r.metric))
                .filter_map(|r| {
                    let x = r.value.value()?;
                    let x = if x.is_infinite() { BIAS_INFINITY.copysign(x) } else { x };
                    x.is_finite().then(|| Metric {
                        name: format!("bias_metric_{}", r.metric.code()),
                        unit: "None",
                        value: x,
                    })
                })
                .collect();
            let dimensions = [
                ("Endpoint", stream.endpoint.as_str()),
                ("MonitoringSchedule", schedule),
                ("BiasStage", "post_training"),
                ("Label", bias.label.as_str()),
                ("LabelValue", bias.label_values.as_str()),
                ("Facet", facet.as_str()),
                ("FacetValue", v.value_or_threshold.as_str()),
            ];
            out.extend(lines_with(
                BIAS_NAMESPACE,
                &dimensions,
                &[("Variant", stream.variant.as_str())],
                end.millis(),
                &metrics,
            ));
        }
    }
    out
}

/// Checks one line against the embedded metric format's rules (the specification in the
/// CloudWatch User Guide, "Specification: Embedded metric format"): a JSON object whose `_aws`
/// has an integer `Timestamp` and a `CloudWatchMetrics` array of directives, each with a
/// `Namespace` (1 to 255 characters), `Dimensions` (an array of dimension sets of at most 30
/// names, each a top-level string member) and `Metrics` (at most 100, each with a `Name` of 1
/// to 255 characters that is a top-level number or array of at most 100 numbers, and an
/// optional `Unit` CloudWatch knows). Returns the metric values by name, or what is wrong.
pub fn check_line(line: &str) -> Result<BTreeMap<String, f64>, String> {
    const UNITS: [&str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    const MAX_DIMENSIONS: usize = 30;
    const MAX_NAMESPACE_CHARS: usize = 255;
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let root = root.as_object().ok_or("not a JSON object")?;
    let aws = root.get("_aws").and_then(Value::as_object).ok_or("no _aws object")?;
    aws.get("Timestamp").and_then(Value::as_i64).ok_or("_aws.Timestamp is not an integer")?;
    let directives = aws.get("CloudWatchMetrics").and_then(Value::as_array).ok_or("no _aws.CloudWatchMetrics array")?;
    let mut values = BTreeMap::new();
    for d in directives {
        let ns = d.get("Namespace").and_then(Value::as_str).ok_or("a directive without a Namespace")?;
        if ns.is_empty() || ns.chars().count() > MAX_NAMESPACE_CHARS {
            return Err(format!("namespace {ns:?} is not 1 to {MAX_NAMESPACE_CHARS} characters"));
        }
        let sets = d.get("Dimensions").and_then(Value::as_array).ok_or("a directive without Dimensions")?;
        for set in sets {
            let set = set.as_array().ok_or("a dimension set that is not an array")?;
            if set.len() > MAX_DIMENSIONS {
                return Err(format!("a dimension set of {} names (at most {MAX_DIMENSIONS})", set.len()));
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name that is not a string")?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(format!("dimension {name} has no string value at the top level"));
                }
            }
        }
        let metrics = d.get("Metrics").and_then(Value::as_array).ok_or("a directive without Metrics")?;
        if metrics.len() > MAX_METRICS_PER_LINE {
            return Err(format!("{} metrics in one directive (at most {MAX_METRICS_PER_LINE})", metrics.len()));
        }
        for m in metrics {
            let name = m.get("Name").and_then(Value::as_str).ok_or("a metric without a Name")?;
            if name.is_empty() || name.chars().count() > MAX_METRIC_NAME_CHARS {
                return Err(format!("metric name {name:?} is not 1 to {MAX_METRIC_NAME_CHARS} characters"));
            }
            if let Some(unit) = m.get("Unit") {
                let unit = unit.as_str().ok_or("a Unit that is not a string")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("metric {name}: unit {unit:?} is not a CloudWatch unit"));
                }
            }
            let value = match root.get(name) {
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::Array(a)) if !a.is_empty() && a.len() <= 100 => a.first().and_then(Value::as_f64),
                _ => None,
            }
            .ok_or_else(|| format!("metric {name} has no numeric value at the top level"))?;
            values.insert(name.to_owned(), value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(n: usize) -> Vec<Metric> {
        (0..n).map(|i| Metric { name: format!("feature_null_f{i}"), unit: "Count", value: i as f64 }).collect()
    }

    #[test]
    fn a_window_of_many_features_is_split_at_one_hundred_metrics_a_line() {
        let ls = lines(DATA_NAMESPACE, "ep", "AllTraffic", "sched", 1_700_000_000_000, &metrics(250));
        assert_eq!(ls.len(), 3);
        let mut seen = BTreeMap::new();
        for l in &ls {
            let values = check_line(l).unwrap();
            assert!(values.len() <= MAX_METRICS_PER_LINE);
            seen.extend(values);
        }
        assert_eq!(seen.len(), 250, "every metric once");
        assert_eq!(seen["feature_null_f249"], 249.0);
        let v: Value = serde_json::from_str(&ls[0]).unwrap();
        assert_eq!(v["Endpoint"], "ep");
        assert_eq!(v["Feature"], "_");
        assert_eq!(v["MonitoringSchedule"], "sched");
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], DATA_NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Endpoint", "Feature", "MonitoringSchedule"]])
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }

    #[test]
    fn no_metrics_no_line() {
        assert!(lines(DATA_NAMESPACE, "ep", "v", "s", 0, &[]).is_empty());
    }

    #[test]
    fn the_checker_refuses_what_cloudwatch_refuses() {
        let good = &lines(DATA_NAMESPACE, "ep", "v", "s", 0, &metrics(2))[0];
        assert!(check_line(good).is_ok());
        let mut v: Value = serde_json::from_str(good).unwrap();
        v.as_object_mut().unwrap().remove("feature_null_f1");
        assert!(check_line(&v.to_string()).unwrap_err().contains("feature_null_f1"));
        let mut v: Value = serde_json::from_str(good).unwrap();
        v.as_object_mut().unwrap().remove("MonitoringSchedule");
        assert!(check_line(&v.to_string()).unwrap_err().contains("MonitoringSchedule"));
        let mut v: Value = serde_json::from_str(good).unwrap();
        v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Rows");
        assert!(check_line(&v.to_string()).unwrap_err().contains("unit"));
        let mut v: Value = serde_json::from_str(good).unwrap();
        v["_aws"]["CloudWatchMetrics"][0]["Metrics"] =
            Value::Array((0..101).map(|i| json!({"Name": format!("m{i}")})).collect());
        assert!(check_line(&v.to_string()).unwrap_err().contains("101 metrics"));
        assert!(check_line("{}").is_err());
        assert!(check_line("not json").is_err());
    }
}
