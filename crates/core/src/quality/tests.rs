use super::files::{significant, QualityViolations};
use super::metrics::BinaryRow;
use super::rows::{RowCollector, RowSkip};
use super::*;
use crate::baseline::build::{read_csv, read_jsonl};
use crate::testing::sagemaker_fixtures;

fn attrs(gt: &str, inference: Option<&str>, probability: Option<&str>) -> Attributes {
    Attributes {
        ground_truth: gt.into(),
        inference: inference.map(Into::into),
        probability: probability.map(Into::into),
        probability_threshold: DEFAULT_PROBABILITY_THRESHOLD,
    }
}

fn collect_csv(text: &str, problem: ProblemType, a: Attributes) -> Result<rows::Collected, QualityError> {
    a.validate(problem)?;
    let mut c = RowCollector::new(problem, a);
    read_csv(text.as_bytes(), "t.csv", true, &mut c)?;
    c.finish("t.csv")
}

/// The SDK's model-quality fixture: the regression baseline built from its CSV is the
/// `statistics.json` and `constraints.json` it ships with (values to the last digit, NaN
/// standard deviations under 200 rows).
#[test]
fn the_sdks_regression_fixture_comes_out_as_its_files_say() {
    let Some(fx) = sagemaker_fixtures() else { return };
    let dir = fx.join("aws__sagemaker-python-sdk/tests/data/pipeline/quality_check_step/model_quality");
    let csv = std::fs::read_to_string(dir.join("baseline_dataset.csv")).unwrap();
    let got = collect_csv(&csv, ProblemType::Regression, attrs("Label", Some("Prediction"), None)).unwrap();
    assert!(got.skipped.is_empty());
    let (stats, constraints) = baseline_files(ProblemType::Regression, &got.rows);
    let want_stats = std::fs::read_to_string(dir.join("statistics.json")).unwrap();
    let want: serde_json::Value = serde_json::from_str(&want_stats).unwrap();
    assert_eq!(serde_json::to_value(&stats).unwrap(), want);
    let want_c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("good_cases/constraints.json")).unwrap()).unwrap();
    assert_eq!(serde_json::to_value(&constraints).unwrap(), want_c);
    // And both read back as what was written.
    let back = QualityStatistics::from_json(&want_stats, "statistics.json").unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&stats).unwrap());
    let c_text = serde_json::to_string(&want_c).unwrap();
    assert_eq!(QualityConstraints::from_json(&c_text, "constraints.json").unwrap(), constraints);
}

#[test]
fn deviations_come_from_five_draws_from_200_rows_and_are_stable() {
    let mut rng = crate::testing::Rng::new(11);
    let rows: Vec<BinaryRow> = (0..400)
        .map(|_| {
            let label = rng.uniform() < 0.3;
            let score = (if label { 0.65 } else { 0.35 } + 0.25 * rng.normal()).clamp(0.0, 1.0);
            BinaryRow { label, predicted: score >= 0.5, score }
        })
        .collect();
    let rows = LabelledRows::Binary(rows);
    let a = statistics(ProblemType::BinaryClassification, &rows);
    let b = statistics(ProblemType::BinaryClassification, &rows);
    assert_eq!(a, b, "the draws are seeded");
    let (auc, sd) = a.scalar("auc").unwrap();
    assert!(auc > 0.7 && sd > 0.0 && sd < 0.05, "auc {auc} sd {sd}");
    // 199 rows: no deviation.
    let few = rows.select(&(0..199).collect::<Vec<_>>());
    let s = statistics(ProblemType::BinaryClassification, &few);
    assert!(s.scalar("f1").unwrap().1.is_nan());
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains(r#""standard_deviation":"NaN""#));
    // Written and read back.
    let back = QualityStatistics::from_json(&serde_json::to_string_pretty(&a).unwrap(), "s.json").unwrap();
    assert_eq!(back, a);
}

#[test]
fn the_binary_file_has_model_monitors_keys_in_its_order() {
    let rows = LabelledRows::Binary(vec![
        BinaryRow { label: false, predicted: false, score: 0.2 },
        BinaryRow { label: true, predicted: true, score: 0.9 },
    ]);
    let s = statistics(ProblemType::BinaryClassification, &rows);
    let names: Vec<&str> = s.metrics.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "confusion_matrix",
            "recall",
            "precision",
            "accuracy",
            "recall_best_constant_classifier",
            "precision_best_constant_classifier",
            "accuracy_best_constant_classifier",
            "true_positive_rate",
            "true_negative_rate",
            "false_positive_rate",
            "false_negative_rate",
            "receiver_operating_characteristic_curve",
            "precision_recall_curve",
            "auc",
            "f0_5",
            "f1",
            "f2",
            "f0_5_best_constant_classifier",
            "f1_best_constant_classifier",
            "f2_best_constant_classifier",
        ]
    );
    let c = QualityConstraints::suggest(&s);
    let ops: Vec<(&str, &str)> =
        c.constraints.iter().map(|(n, c)| (n.as_str(), c.comparison_operator.as_str())).collect();
    assert!(ops.contains(&("false_positive_rate", "GreaterThanThreshold")));
    assert!(ops.contains(&("auc", "LessThanThreshold")));
    assert_eq!(ops.len(), 11);
}

#[test]
fn violations_follow_model_monitors_rule_and_wording() {
    let base = LabelledRows::Binary(
        (0..10).map(|i| BinaryRow { label: i % 2 == 0, predicted: i % 2 == 0, score: f64::from(i % 2) }).collect(),
    );
    let constraints = QualityConstraints::suggest(&statistics(ProblemType::BinaryClassification, &base));
    // A window where half the positives are missed.
    let window = LabelledRows::Binary(
        (0..10).map(|i| BinaryRow { label: i % 2 == 0, predicted: i % 4 == 0, score: f64::from(i % 4 == 0) }).collect(),
    );
    let v = constraints.check(&statistics(ProblemType::BinaryClassification, &window));
    let recall = v.iter().find(|v| v.metric_name == "true_positive_rate").unwrap();
    assert_eq!(recall.constraint_check_type, "LessThanThreshold");
    assert_eq!(recall.description, "Metric truePositiveRate with 0.6 +/- NaN was LessThanThreshold '1'");
    let fnr = v.iter().find(|v| v.metric_name == "false_negative_rate").unwrap();
    assert_eq!(fnr.constraint_check_type, "GreaterThanThreshold");
    assert!(!v.iter().any(|v| v.metric_name == "precision"), "precision held at 1");
    let file = serde_json::to_value(QualityViolations { violations: v }).unwrap();
    assert!(file["violations"][0]["metric_name"].is_string());
    assert_eq!(significant(0.115_912, 4), "0.1159");
    assert_eq!(significant(0.001_451_2, 3), "0.00145");
    assert_eq!(significant(0.571_428, 4), "0.5714");
    assert_eq!(files::camel_case("f0_5_best_constant_classifier"), "f0_5BestConstantClassifier");
}

#[test]
fn unusable_rows_are_counted_and_named() {
    let csv = "y,p,s\n1,1,0.9\n,1,0.8\nmaybe,0,0.1\n0,,\n0,0,1.7\n1,,0.7\n";
    let got = collect_csv(&csv.replace("maybe", "2"), ProblemType::BinaryClassification, attrs("y", None, Some("s")))
        .unwrap();
    // Row 2 no label; row 3 label 2; row 4 no probability; row 5 probability 1.7; rows 1 and 6 used.
    assert_eq!(got.rows.len(), 2);
    let counts: Vec<(RowSkip, u64)> = got.skipped.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        counts,
        [
            (RowSkip::MissingLabel, 1),
            (RowSkip::InvalidLabel, 1),
            (RowSkip::MissingPrediction, 1),
            (RowSkip::InvalidPrediction, 1)
        ]
    );
    assert_eq!((got.named[0].line, got.named[0].column.as_str()), (3, "y"));
    assert_eq!((got.named[3].line, got.named[3].column.as_str()), (6, "s"));
    // The probability decides the label at the threshold: 0.7 -> 1.
    let LabelledRows::Binary(r) = &got.rows else { panic!() };
    assert!(r[1].predicted && r[1].score == 0.7);

    let err = collect_csv(csv, ProblemType::Regression, attrs("y", Some("pred"), None)).unwrap_err();
    assert_eq!(err.to_string(), "t.csv: --inference-attribute \"pred\" is not a column (columns: y, p, s)");
    let err = collect_csv("y,p\nx,1\n", ProblemType::Regression, attrs("y", Some("p"), None)).unwrap_err();
    assert_eq!(err.to_string(), "t.csv: no row has a usable label and prediction (line 2: y: invalid_label)");
    let err = attrs("y", None, Some("s")).validate(ProblemType::Regression).unwrap_err();
    assert!(err.to_string().contains("needs --inference-attribute"), "{err}");
}

#[test]
fn json_lines_and_multiclass_labels() {
    let text = "{\"y\": \"cat\", \"p\": \"cat\"}\n{\"y\": 1, \"p\": 1.0}\n{\"y\": \"dog\", \"p\": \"cat\"}\n";
    let problem = ProblemType::MulticlassClassification;
    let mut c = RowCollector::new(problem, attrs("y", Some("p"), None));
    read_jsonl(text.as_bytes(), "t.jsonl", &mut c).unwrap();
    let got = c.finish("t.jsonl").unwrap();
    let LabelledRows::Multiclass(r) = &got.rows else { panic!() };
    assert_eq!(r[1], ("1".to_owned(), "1".to_owned()), "1 and 1.0 are the same class");
    let s = statistics(problem, &got.rows);
    assert!((s.scalar("accuracy").unwrap().0 - 2.0 / 3.0).abs() < 1e-12);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn binary_rows() -> impl Strategy<Value = Vec<BinaryRow>> {
        prop::collection::vec((any::<bool>(), 0u8..=20), 1..300).prop_map(|v| {
            v.into_iter()
                .map(|(label, s)| {
                    let score = f64::from(s) / 20.0;
                    BinaryRow { label, predicted: score >= 0.5, score }
                })
                .collect()
        })
    }

    proptest! {
        /// The AUC is the share of (positive, negative) pairs ranked right, ties counting half.
        #[test]
        fn auc_is_the_pairwise_ranking_share(rows in binary_rows()) {
            let pos: Vec<f64> = rows.iter().filter(|r| r.label).map(|r| r.score).collect();
            let neg: Vec<f64> = rows.iter().filter(|r| !r.label).map(|r| r.score).collect();
            let auc = metrics::compute(&LabelledRows::Binary(rows.clone())).get("auc").unwrap();
            if pos.is_empty() || neg.is_empty() {
                prop_assert!(auc.is_nan());
            } else {
                let mut wins = 0.0;
                for p in &pos {
                    for n in &neg {
                        wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
                    }
                }
                let want = wins / (pos.len() * neg.len()) as f64;
                prop_assert!((auc - want).abs() < 1e-9, "auc {} pairs {}", auc, want);
            }
        }

        /// Written, read back and written again, a statistics file is the same text; its
        /// constraints too.
        #[test]
        fn statistics_files_round_trip(rows in binary_rows()) {
            let s = statistics(ProblemType::BinaryClassification, &LabelledRows::Binary(rows));
            let text = serde_json::to_string_pretty(&s).unwrap();
            let back = QualityStatistics::from_json(&text, "s.json").unwrap();
            prop_assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
            let c = QualityConstraints::suggest(&s);
            let ctext = serde_json::to_string_pretty(&c).unwrap();
            let cback = QualityConstraints::from_json(&ctext, "c.json").unwrap();
            prop_assert_eq!(cback, c);
        }

        /// Rates are in [0, 1]; the rows' own constraints are never violated.
        #[test]
        fn a_baseline_does_not_violate_itself(rows in binary_rows()) {
            let rows = LabelledRows::Binary(rows);
            let s = statistics(ProblemType::BinaryClassification, &rows);
            for (name, e) in &s.metrics {
                if let files::MetricEntry::Scalar { value, .. } = e {
                    prop_assert!(value.is_nan() || (0.0..=1.0).contains(value), "{} = {}", name, value);
                }
            }
            prop_assert!(QualityConstraints::suggest(&s).check(&s).is_empty());
        }
    }
}
