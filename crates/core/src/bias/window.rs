//! One window's bias against the bias baseline: the label-free metrics (DPPL, DI, CDDPL) from
//! the window's captured predictions as it closes, and every metric over its predictions
//! labelled when the label join judges it; each with its sampling error where it has one, and
//! Model Monitor's `bias_drift_check` beyond that noise.
//!
//! Model Monitor's rule flags a metric further from its neutral value (0, or 1 for DI) than the
//! baseline's. On live traffic a facet value may have a dozen rows in an hour, whose DPPL moves
//! by tenths from sampling alone; so a window violates only when it is further out than the
//! baseline by more than [`BIAS_NOISE_Z`] standard errors. The metrics that are differences of
//! two proportions (DPPL; AD, RD, DAR and DRR over labels) and DI have a standard error
//! ([`standard_error`]); DCA, DCR and TE (ratios of counts), CDDPL and GE are reported, not
//! checked.

use std::collections::BTreeMap;

use super::analysis::{BiasAnalysis, FacetValueMetrics};
use super::metrics::{FacetCounts, GroupCounts, Metric, MetricValue};
use super::{BiasConfig, FacetValues};
use crate::pipeline::predictions::Prediction;

/// A window is further from neutral than the baseline beyond noise when the excess is more than
/// this many standard errors (three: about one false violation in 700 windows per metric and
/// facet value from sampling alone, under the normal approximation).
pub const BIAS_NOISE_Z: f64 = 3.0;

/// A bias monitor: the analysis config and the baseline's analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct BiasMonitor {
    /// The analysis config.
    pub config: BiasConfig,
    /// The baseline (`analysis.json` of `driftwatch baseline --bias-config` or Clarify's).
    pub baseline: BiasAnalysis,
}

/// One metric of a window: its value, sampling error and the baseline's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The metric.
    pub metric: Metric,
    /// The window's value.
    pub value: MetricValue,
    /// Its standard error (DPPL and DI).
    pub standard_error: Option<f64>,
    /// The baseline's value for the same facet value, when it has one.
    pub baseline: Option<f64>,
}

/// The metrics of one facet value in a window.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueReadings {
    /// `value_or_threshold`, as in the baseline.
    pub value_or_threshold: String,
    /// Rows of the facet value (*d*) and of the rest (*a*).
    pub rows: (u64, u64),
    /// The metrics.
    pub readings: Vec<Reading>,
}

/// A `bias_drift_check` violation, as Model Monitor writes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BiasViolation {
    /// The facet.
    pub facet: String,
    /// Its value.
    pub facet_value: String,
    /// The metric's code.
    pub metric_name: String,
    /// Always `bias_drift_check`.
    pub constraint_check_type: &'static str,
    /// What was seen against what.
    pub description: String,
}

/// One window's bias.
#[derive(Debug, Clone, PartialEq)]
pub struct BiasWindow {
    /// The label's name (the baseline's).
    pub label: String,
    /// The favourable label values, joined by `,`.
    pub label_values: String,
    /// Predictions counted (with a probability).
    pub rows: u64,
    /// Predictions without a probability or a facet value, not counted.
    pub skipped: u64,
    /// Per facet, its values' readings.
    pub facets: BTreeMap<String, Vec<ValueReadings>>,
    /// The violations.
    pub violations: Vec<BiasViolation>,
}

/// The label-free metrics (those a window has before its labels come).
pub const LABEL_FREE: [Metric; 3] = [Metric::Cddpl, Metric::Di, Metric::Dppl];

impl BiasMonitor {
    /// A monitor of `config` against `baseline`. A facet the config gives one number for is a
    /// threshold when the baseline measured it as one (its `value_or_threshold` is an interval
    /// `(threshold, max]`, as Clarify and `driftwatch baseline` write a continuous facet).
    pub fn new(mut config: BiasConfig, baseline: BiasAnalysis) -> BiasMonitor {
        for facet in &mut config.facets {
            let Some(threshold) = facet.single_number() else { continue };
            let interval = baseline
                .facets
                .get(&facet.name)
                .into_iter()
                .flatten()
                .find(|e| super::threshold_of_label(&e.value_or_threshold) == Some(threshold));
            if let Some(e) = interval {
                facet.values = FacetValues::Threshold { threshold, label: e.value_or_threshold.clone() };
            }
        }
        BiasMonitor { config, baseline }
    }

    /// Counts a window's predictions per facet: each with a probability and the facet's value
    /// (rows without either are skipped, counted). Returns the counts and (rows, skipped).
    pub fn counts<'a>(&self, predictions: impl IntoIterator<Item = &'a Prediction>) -> (Vec<FacetCounts>, u64, u64) {
        let mut counts = vec![FacetCounts::default(); self.config.facets.len()];
        let (mut rows, mut skipped) = (0, 0);
        for p in predictions {
            if self.count(&mut counts, p.probability.as_deref(), &p.facets, p.group.as_deref(), None) {
                rows += 1;
            } else {
                skipped += 1;
            }
        }
        (counts, rows, skipped)
    }

    /// Counts one prediction in each facet it has a value of (predicted from its probability,
    /// with its label when known); `false` when it has no usable probability or no facet value.
    fn count(
        &self,
        counts: &mut [FacetCounts],
        probability: Option<&str>,
        facets: &[Option<String>],
        group: Option<&str>,
        label: Option<bool>,
    ) -> bool {
        let Some(probability) = probability.and_then(|t| t.trim().parse::<f64>().ok()) else { return false };
        let predicted = self.config.predicted(probability);
        let mut counted = false;
        for (c, v) in counts.iter_mut().zip(facets) {
            if let Some(v) = v {
                c.count(v, group, predicted, label);
                counted = true;
            }
        }
        counted
    }

    /// Every metric (label-dependent ones too) over a judged window's labelled predictions:
    /// predicted from the probability, favourable from the label's value. Predictions without a
    /// probability, a usable label or a facet value are left out (counted as skipped).
    pub fn judge_labelled(&self, rows: &[crate::quality::ledger::LabelledPrediction<'_>]) -> BiasWindow {
        let mut counts = vec![FacetCounts::default(); self.config.facets.len()];
        let (mut counted, mut skipped) = (0, 0);
        for r in rows {
            let label = self.config.favourable(&crate::payload::Value::from_text(r.label));
            if label.is_some() && self.count(&mut counts, r.probability, r.facets, r.group, label) {
                counted += 1;
            } else {
                skipped += 1;
            }
        }
        self.judge_metrics(&counts, counted, skipped, &Metric::ALL)
    }

    /// The window's label-free readings and violations from its counts.
    pub fn judge(&self, counts: &[FacetCounts], rows: u64, skipped: u64) -> BiasWindow {
        self.judge_metrics(counts, rows, skipped, &LABEL_FREE)
    }

    /// The readings of `metrics` and their violations from a window's counts.
    fn judge_metrics(&self, counts: &[FacetCounts], rows: u64, skipped: u64, metrics: &[Metric]) -> BiasWindow {
        let mut facets = BTreeMap::new();
        let mut violations = Vec::new();
        for (facet, c) in self.config.facets.iter().zip(counts) {
            // Every value seen now or in the baseline: a value that stopped appearing is read
            // as an empty facet.
            let baseline_values = self.baseline.facets.get(&facet.name).into_iter().flatten();
            let entries = facet.entries(c.by_value.keys(), baseline_values.map(|e| e.value_or_threshold.as_str()));
            let mut out = Vec::new();
            for (label, d_values) in entries {
                let (a, d) = c.split(&d_values);
                let baseline = self.baseline_entry(&facet.name, &label);
                let readings: Vec<Reading> = c
                    .metrics(&d_values)
                    .into_iter()
                    .filter(|(m, _)| metrics.contains(m))
                    .map(|(metric, value)| Reading {
                        metric,
                        standard_error: standard_error(metric, &a, &d),
                        baseline: baseline
                            .and_then(|b| b.metrics.iter().find(|(m, _)| *m == metric))
                            .and_then(|(_, v)| v.value()),
                        value,
                    })
                    .collect();
                for r in &readings {
                    if let Some(description) = violation(&facet.name, &label, r) {
                        violations.push(BiasViolation {
                            facet: facet.name.clone(),
                            facet_value: label.clone(),
                            metric_name: r.metric.code().to_owned(),
                            constraint_check_type: "bias_drift_check",
                            description,
                        });
                    }
                }
                out.push(ValueReadings { value_or_threshold: label, rows: (d.n, a.n), readings });
            }
            facets.insert(facet.name.clone(), out);
        }
        BiasWindow {
            label: self.baseline.label.clone(),
            label_values: self.config.label_values.join(","),
            rows,
            skipped,
            facets,
            violations,
        }
    }

    fn baseline_entry(&self, facet: &str, value: &str) -> Option<&FacetValueMetrics> {
        self.baseline.facets.get(facet)?.iter().find(|e| e.value_or_threshold == value)
    }
}

impl BiasWindow {
    /// The window's analysis in Clarify's layout (the label-free metrics).
    pub fn analysis(&self, config: &BiasConfig, label: &str) -> BiasAnalysis {
        let facets = self
            .facets
            .iter()
            .map(|(name, values)| {
                let entries = values
                    .iter()
                    .map(|v| FacetValueMetrics {
                        value_or_threshold: v.value_or_threshold.clone(),
                        metrics: v.readings.iter().map(|r| (r.metric, r.value.clone())).collect(),
                    })
                    .collect();
                (name.clone(), entries)
            })
            .collect();
        BiasAnalysis { label: label.to_owned(), label_value_or_threshold: config.label_values.join(","), facets }
    }
}

/// The standard error of a metric that is a difference of two proportions, or DI (a ratio
/// of two, by the delta method), taken under "no change": both groups at the pooled rate, as
/// the two-proportion test does. The plug-in error of each group's own rate would be zero for a
/// facet value whose few rows all went one way, and such a window would page. The proportions:
/// DPPL and DI the predicted-positive share of all rows; AD accuracy over labelled rows; RD
/// recall over labelled positives; DAR precision over predicted positives; DRR negative
/// predictive value over predicted negatives. `None` for the other metrics (DCA, DCR and TE are
/// ratios of counts, CDDPL and GE have no simple error) and when either group has fewer than
/// [`MIN_FACET_ROWS`] rows in the proportion's denominator.
pub fn standard_error(m: Metric, a: &GroupCounts, d: &GroupCounts) -> Option<f64> {
    let (la, ld) = (&a.labelled, &d.labelled);
    // (successes, denominator) of each group's proportion.
    let ((sa, na), (sd, nd)) = match m {
        Metric::Dppl | Metric::Di => ((a.predicted_positive, a.n), (d.predicted_positive, d.n)),
        Metric::Ad => ((la.tp + la.tn, la.total()), (ld.tp + ld.tn, ld.total())),
        Metric::Rd => ((la.tp, la.tp + la.fn_), (ld.tp, ld.tp + ld.fn_)),
        Metric::Dar => ((la.tp, la.tp + la.fp), (ld.tp, ld.tp + ld.fp)),
        Metric::Drr => ((la.tn, la.tn + la.fn_), (ld.tn, ld.tn + ld.fn_)),
        Metric::Dca | Metric::Dcr | Metric::Te | Metric::Cddpl | Metric::Ge => return None,
    };
    if na < MIN_FACET_ROWS || nd < MIN_FACET_ROWS {
        return None;
    }
    let p = (sa + sd) as f64 / (na + nd) as f64;
    let inv = 1.0 / na as f64 + 1.0 / nd as f64;
    match m {
        Metric::Di if p > 0.0 => Some(((1.0 - p) / p * inv).sqrt()),
        Metric::Di => None,
        _ => Some((p * (1.0 - p) * inv).sqrt()),
    }
}

/// A facet value (or the rest) with fewer rows in a window is reported but not checked: the
/// normal approximation behind the standard error does not hold for a handful of rows.
pub const MIN_FACET_ROWS: u64 = 30;

/// Model Monitor's rule beyond noise: the window's value is further from neutral than the
/// baseline's by more than [`BIAS_NOISE_Z`] standard errors. Returns the description.
fn violation(facet: &str, value: &str, r: &Reading) -> Option<String> {
    let (MetricValue::Value(v), Some(b), Some(se)) = (&r.value, r.baseline, r.standard_error) else { return None };
    if !v.is_finite() || !b.is_finite() {
        return None;
    }
    let neutral = r.metric.neutral();
    let excess = (v - neutral).abs() - (b - neutral).abs();
    (excess > BIAS_NOISE_Z * se).then(|| {
        format!(
            "Metric {} of facet {facet}={value}: {v:.4} +/- {se:.4} is further from {neutral} than the baseline's {b:.4}",
            r.metric.code()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bias::metrics::MetricValue;

    fn monitor(baseline_dppl: f64) -> BiasMonitor {
        let config = BiasConfig::from_json(
            r#"{"headers": ["employment"], "facet": [{"name_or_index": "employment", "value_or_threshold": ["self"]}]}"#,
            "c.json",
        )
        .unwrap();
        let mut baseline = BiasAnalysis::default();
        baseline.facets.insert(
            "employment".into(),
            vec![FacetValueMetrics {
                value_or_threshold: "self".into(),
                metrics: vec![(Metric::Dppl, MetricValue::Value(baseline_dppl)), (Metric::Di, MetricValue::Value(1.0))],
            }],
        );
        BiasMonitor { config, baseline }
    }

    fn predictions(rows: &[(&str, f64)]) -> Vec<Prediction> {
        rows.iter()
            .enumerate()
            .map(|(i, (facet, p))| Prediction {
                key: i.to_string(),
                inference: None,
                probability: Some(p.to_string()),
                facets: vec![Some((*facet).to_owned())],
                group: None,
            })
            .collect()
    }

    #[test]
    fn a_dozen_rows_do_not_page_and_a_thousand_do() {
        let m = monitor(0.0);
        // 12 self-employed rows, 4 approved (q̂d 1/3); 88 others, half approved: DPPL 0.17.
        let mut rows: Vec<(&str, f64)> = (0..12).map(|i| ("self", if i < 4 { 0.9 } else { 0.1 })).collect();
        rows.extend((0..88).map(|i| ("salaried", if i % 2 == 0 { 0.9 } else { 0.1 })));
        let (c, n, skipped) = m.counts(&predictions(&rows));
        assert_eq!((n, skipped), (100, 0));
        let w = m.judge(&c, n, skipped);
        let r = &w.facets["employment"][0];
        assert_eq!(r.rows, (12, 88));
        let dppl = r.readings.iter().find(|x| x.metric == Metric::Dppl).unwrap();
        assert!((dppl.value.value().unwrap() - (0.5 - 1.0 / 3.0)).abs() < 1e-12);
        assert_eq!(dppl.standard_error, None, "12 rows: reported, not checked");
        assert!(w.violations.is_empty(), "12 rows are noise: {:?}", w.violations);
        // 40 rows of the facet with the same shares: checked, and within noise.
        let mut rows: Vec<(&str, f64)> = (0..40).map(|i| ("self", if i % 3 == 0 { 0.9 } else { 0.1 })).collect();
        rows.extend((0..60).map(|i| ("salaried", if i % 2 == 0 { 0.9 } else { 0.1 })));
        let (c, n, skipped) = m.counts(&predictions(&rows));
        let w = m.judge(&c, n, skipped);
        let dppl = w.facets["employment"][0].readings.iter().find(|x| x.metric == Metric::Dppl).unwrap().clone();
        assert!(dppl.standard_error.unwrap() > 0.09, "{dppl:?}");
        assert!(w.violations.is_empty(), "40 rows, DPPL 0.17: noise: {:?}", w.violations);
        // The same shares over 1,000 rows are not.
        let mut rows: Vec<(&str, f64)> = (0..120).map(|i| ("self", if i % 3 == 0 { 0.9 } else { 0.1 })).collect();
        rows.extend((0..880).map(|i| ("salaried", if i % 2 == 0 { 0.9 } else { 0.1 })));
        let (c, n, skipped) = m.counts(&predictions(&rows));
        let w = m.judge(&c, n, skipped);
        let names: Vec<&str> = w.violations.iter().map(|v| v.metric_name.as_str()).collect();
        assert_eq!(names, ["DI", "DPPL"], "{:?}", w.violations);
        assert!(w.violations[1].description.contains("facet employment=self"), "{}", w.violations[1].description);
        // A window no further out than the baseline is not a violation.
        let w = monitor(0.2).judge(&c, n, skipped);
        assert!(!w.violations.iter().any(|v| v.metric_name == "DPPL"), "{:?}", w.violations);
    }

    #[test]
    fn rows_without_a_probability_or_facet_are_counted_as_skipped() {
        let m = monitor(0.0);
        let mut p = predictions(&[("self", 0.9), ("salaried", 0.2)]);
        p[0].probability = None;
        p[1].facets = vec![None];
        let (_, n, skipped) = m.counts(&p);
        assert_eq!((n, skipped), (0, 2));
    }

    /// A group of `n` labelled rows from (tp, fp, fn, tn), each predicted as its cell says.
    fn group(tp: u64, fp: u64, fn_: u64, tn: u64) -> GroupCounts {
        let mut g = GroupCounts::default();
        for (k, predicted, label) in [(tp, true, true), (fp, true, false), (fn_, false, true), (tn, false, false)] {
            for _ in 0..k {
                g.count(predicted, Some(label));
            }
        }
        g
    }

    #[test]
    fn label_dependent_errors_are_two_proportion_errors_over_their_denominators() {
        let a = group(40, 10, 20, 30); // 100 rows
        let d = group(30, 20, 10, 40); // 100 rows
        let two = |s_a: f64, n_a: f64, s_d: f64, n_d: f64| {
            let p = (s_a + s_d) / (n_a + n_d);
            (p * (1.0 - p) * (1.0 / n_a + 1.0 / n_d)).sqrt()
        };
        let close = |x: Option<f64>, y: f64| assert!((x.unwrap() - y).abs() < 1e-12, "{x:?} vs {y}");
        // AD: accuracy over every labelled row: (40+30)/100 and (30+40)/100.
        close(standard_error(Metric::Ad, &a, &d), two(70.0, 100.0, 70.0, 100.0));
        // RD: recall over labelled positives: 40/60 and 30/40.
        close(standard_error(Metric::Rd, &a, &d), two(40.0, 60.0, 30.0, 40.0));
        // DAR: precision over predicted positives: 40/50 and 30/50.
        close(standard_error(Metric::Dar, &a, &d), two(40.0, 50.0, 30.0, 50.0));
        // DRR: negative predictive value over predicted negatives: 30/50 and 40/50.
        close(standard_error(Metric::Drr, &a, &d), two(30.0, 50.0, 40.0, 50.0));
        // DPPL over every row: 50/100 and 50/100.
        close(standard_error(Metric::Dppl, &a, &d), two(50.0, 100.0, 50.0, 100.0));
        // Ratios of counts have none; nor does a denominator under 30 rows (d's positives: 29).
        assert_eq!(standard_error(Metric::Dca, &a, &d), None);
        assert_eq!(standard_error(Metric::Te, &a, &d), None);
        assert_eq!(standard_error(Metric::Rd, &a, &group(20, 20, 9, 40)), None);
    }

    #[test]
    fn a_labelled_window_checks_the_label_dependent_metrics() {
        use crate::quality::ledger::LabelledPrediction;
        // Baseline: AD 0 for "self". The window: both groups predicted alike (DPPL 0), but
        // the self-employed's predictions are right half as often.
        let mut m = monitor(0.0);
        m.baseline.facets.get_mut("employment").unwrap()[0].metrics.push((Metric::Ad, MetricValue::Value(0.0)));
        let facet = |v: &str| vec![Some(v.to_owned())];
        let (selfs, others) = (facet("self"), facet("salaried"));
        let mut rows = Vec::new();
        for i in 0..400 {
            let (facets, right) = if i % 2 == 0 { (&selfs, i % 8 < 4) } else { (&others, i % 8 != 1) };
            let predicted = i % 4 < 2;
            let label = if right == predicted { "1" } else { "0" };
            rows.push(LabelledPrediction {
                probability: Some(if predicted { "0.9" } else { "0.1" }),
                label,
                facets,
                group: None,
            });
        }
        // A row with an empty label is skipped, counted (any other value not among the label
        // values is the unfavourable outcome, as Clarify reads it).
        rows.push(LabelledPrediction { probability: Some("0.9"), label: "", facets: &selfs, group: None });
        let w = m.judge_labelled(&rows);
        assert_eq!((w.rows, w.skipped), (400, 1));
        let r = &w.facets["employment"][0];
        let names: Vec<&str> = r.readings.iter().map(|x| x.metric.code()).collect();
        assert_eq!(names, ["AD", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "GE", "RD", "TE"], "no group: no CDDPL");
        let ad = r.readings.iter().find(|x| x.metric == Metric::Ad).unwrap();
        // Accuracy 3/4 for the others, 1/2 for the self-employed.
        assert!((ad.value.value().unwrap() - 0.25).abs() < 1e-12 && ad.standard_error.is_some(), "{ad:?}");
        let violated: Vec<&str> = w.violations.iter().map(|v| v.metric_name.as_str()).collect();
        assert!(violated.contains(&"AD") && !violated.contains(&"DPPL"), "{violated:?}");
    }

    #[test]
    fn a_threshold_facet_measures_every_value_above_it() {
        let config = BiasConfig::from_json(
            r#"{"headers": ["age"], "facet": [{"name_or_index": "age", "value_or_threshold": [40]}]}"#,
            "c.json",
        )
        .unwrap();
        let mut baseline = BiasAnalysis::default();
        baseline.facets.insert(
            "age".into(),
            vec![FacetValueMetrics {
                value_or_threshold: "(40, 90]".into(),
                metrics: vec![(Metric::Dppl, MetricValue::Value(0.0))],
            }],
        );
        let m = BiasMonitor::new(config.clone(), baseline);
        assert_eq!(m.config.facets[0].values, FacetValues::Threshold { threshold: 40.0, label: "(40, 90]".into() });
        // Ages 20..100: those above 40 (and above the baseline's 90 too) are d.
        let rows: Vec<(String, f64)> = (20..100).map(|a| (a.to_string(), if a > 40 { 0.2 } else { 0.8 })).collect();
        let refs: Vec<(&str, f64)> = rows.iter().map(|(a, p)| (a.as_str(), *p)).collect();
        let (c, n, skipped) = m.counts(&predictions(&refs));
        let w = m.judge(&c, n, skipped);
        let e = &w.facets["age"][0];
        assert_eq!((e.value_or_threshold.as_str(), e.rows), ("(40, 90]", (59, 21)));
        let dppl = e.readings.iter().find(|r| r.metric == Metric::Dppl).unwrap();
        assert!((dppl.value.value().unwrap() - 1.0).abs() < 1e-12, "{dppl:?}");
        // A baseline that measured 40 as a value keeps it a value.
        let mut listed = BiasAnalysis::default();
        listed
            .facets
            .insert("age".into(), vec![FacetValueMetrics { value_or_threshold: "40".into(), metrics: vec![] }]);
        assert_eq!(BiasMonitor::new(config, listed).config.facets[0].values, FacetValues::Listed(vec!["40".into()]));
    }
}
