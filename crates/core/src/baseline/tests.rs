use super::build::{build, TextFormat};
use super::files::*;
use super::*;
use crate::testing::sagemaker_fixtures;

const SDK_DQ: &str = "aws__sagemaker-python-sdk/tests/data/pipeline/quality_check_step/data_quality";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The golden pair: Model Monitor's own output for a 100-row headerless CSV.
#[test]
fn golden_statistics_from_fixture_csv() {
    let Some(fx) = sagemaker_fixtures() else {
        return;
    };
    let dir = fx.join(SDK_DQ);
    let want: StatisticsFile = serde_json::from_str(&read(&dir.join("statistics.json"))).unwrap();
    let got = build(&dir.join("baseline_dataset.csv"), TextFormat::Csv, false).unwrap();
    assert_eq!(got.rows, 100);
    assert_eq!(got.statistics.dataset.as_ref().unwrap().item_count, want.dataset.as_ref().unwrap().item_count);
    assert_eq!(got.statistics.features.len(), want.features.len());
    for (g, w) in got.statistics.features.iter().zip(&want.features) {
        assert_eq!(g.name, w.name);
        assert_eq!(g.inferred_type, w.inferred_type, "{}", w.name);
        let (gn, wn) = (g.numerical_statistics.as_ref().unwrap(), w.numerical_statistics.as_ref().unwrap());
        assert_eq!(gn.common, wn.common, "{}", w.name);
        for (what, a, b) in [
            ("mean", gn.mean, wn.mean),
            ("sum", gn.sum, wn.sum),
            ("std_dev", gn.std_dev, wn.std_dev),
            ("min", gn.min, wn.min),
            ("max", gn.max, wn.max),
        ] {
            assert_eq!(a.to_bits(), b.to_bits(), "{} {what}: {a} vs {b}", w.name);
        }
        let gk = gn.distribution.as_ref().unwrap().kll.as_ref().unwrap();
        let wk = wn.distribution.as_ref().unwrap().kll.as_ref().unwrap();
        assert_eq!(gk.buckets, wk.buckets, "{} buckets", w.name);
        // With <= 2048 rows the sketch is one level holding every value in row order.
        assert_eq!(gk.sketch, wk.sketch, "{} sketch", w.name);
    }
    // And the constraints Model Monitor suggested for it.
    let want_c: ConstraintsFile = serde_json::from_str(&read(&dir.join("good_cases/constraints.json"))).unwrap();
    for (g, w) in got.constraints.features.iter().zip(&want_c.features) {
        assert_eq!(g.name, w.name);
        assert_eq!(g.inferred_type, w.inferred_type);
        assert_eq!(g.completeness, w.completeness);
        assert_eq!(g.num_constraints, w.num_constraints);
    }
    let mc = got.constraints.monitoring_config.as_ref().unwrap();
    let wmc = want_c.monitoring_config.as_ref().unwrap();
    assert_eq!(mc.datatype_check_threshold, wmc.datatype_check_threshold);
    assert_eq!(mc.domain_content_threshold, wmc.domain_content_threshold);
    let (d, wd) = (mc.distribution_constraints.as_ref().unwrap(), wmc.distribution_constraints.as_ref().unwrap());
    assert_eq!((&d.comparison_method, d.comparison_threshold), (&wd.comparison_method, wd.comparison_threshold));
}

/// Every statistics/constraints file in the fixtures parses, whatever its vintage.
#[test]
fn every_fixture_file_parses() {
    let Some(fx) = sagemaker_fixtures() else {
        return;
    };
    let mut seen = 0;
    for entry in walk(&fx) {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let text = read(&entry);
        match name {
            "statistics.json" => {
                serde_json::from_str::<StatisticsFile>(&text).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
                seen += 1;
            }
            "constraints.json" => {
                serde_json::from_str::<ConstraintsFile>(&text).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
                seen += 1;
            }
            "constraint_violations.json" => {
                let v: ViolationsFile = serde_json::from_str(&text).unwrap();
                assert_eq!(v.violations.len(), 7);
                seen += 1;
            }
            _ => {}
        }
    }
    assert!(seen >= 8, "only {seen} baseline files found");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn loads_fixture_baselines_into_runtime_form() {
    let Some(fx) = sagemaker_fixtures() else {
        return;
    };
    let dir = fx.join(SDK_DQ);
    let b = Baseline::from_json(
        &read(&dir.join("statistics.json")),
        "statistics.json",
        &read(&dir.join("good_cases/constraints.json")),
        "constraints.json",
        "fixture",
    )
    .unwrap();
    assert_eq!(b.features.len(), 6);
    assert_eq!(b.config.comparison_method, ComparisonMethod::Robust);
    assert_eq!(b.config.datatype_check_threshold, 1.0);
    let f0 = &b.features[0];
    let num = f0.numeric.as_ref().unwrap();
    assert!(num.from_sketch);
    assert_eq!(num.cdf.total(), 100.0);
    assert_eq!(num.cdf.rank(1.0), 24.0);
    assert_eq!(f0.is_non_negative, Some(true));

    // The deliberately wrong constraints: _c5 expected String while the statistics say Fractional.
    let bad = Baseline::from_json(
        &read(&dir.join("statistics.json")),
        "statistics.json",
        &read(&dir.join("bad_cases/constraints.json")),
        "constraints.json",
        "fixture",
    )
    .unwrap();
    assert_eq!(bad.features[5].expected_type, InferredType::String);
    assert_eq!(bad.features[5].stats_type, InferredType::Fractional);

    // The old key set: monitoring_config_overrides, enable_comparisons; string-only statistics.
    let m = fx.join("aws__sagemaker-python-sdk/tests/data/monitor");
    let old = Baseline::from_json(
        &read(&m.join("statistics.json")),
        "statistics.json",
        &read(&m.join("constraints.json")),
        "constraints.json",
        "fixture",
    )
    .unwrap();
    // `second_message` has a constraint and no statistics: not a column (else every captured row
    // would be one column short and nothing monitored), set aside and named.
    assert_eq!(old.features.len(), 1);
    assert_eq!(old.unmatched_constraints, vec!["second_message"]);
    assert_eq!(old.config.comparison_threshold, 1.0);
    let cat = old.features[0].categorical.as_ref().unwrap();
    assert_eq!(cat.total, 418.0);
    assert!(old.features[0].domains.as_ref().unwrap().contains("preproc-not-YET-supported-for-csv-json"));

    // A model-quality statistics file is refused with a clear error.
    let mq = fx.join("aws__sagemaker-python-sdk/tests/data/pipeline/quality_check_step/model_quality");
    let err = Baseline::from_json(
        &read(&mq.join("statistics.json")),
        "model_quality/statistics.json",
        &read(&mq.join("good_cases/constraints.json")),
        "constraints.json",
        "fixture",
    )
    .unwrap_err();
    assert!(err.to_string().contains("no features"), "{err}");
}

#[test]
fn handles_shapes_newer_containers_write() {
    // Floats for counts, exponent form, completeness and approximate_num_distinct_values,
    // a string feature without distribution, "NaN" as a number, the LInfinity keys.
    let stats = r#"{"version":0.0,"dataset":{"item_count":23432},"features":[
      {"name":"amount","inferred_type":"Fractional","numerical_statistics":{"common":{"num_present":3,"num_missing":0},
        "mean":1.4402689218907343E10,"sum":3.0,"std_dev":"NaN","min":1.0,"max":3.0,"approximate_num_distinct_values":3,"completeness":1.0,
        "distribution":{"kll":{"buckets":[],"sketch":{"parameters":{"c":0.64,"k":2048.0},"data":[[1.0],[2.0]]}}}}},
      {"name":"id","inferred_type":"String","string_statistics":{"common":{"num_present":3,"num_missing":0},"distinct_count":24000.0,"completeness":1.0}},
      {"name":"state","inferred_type":"String","string_statistics":{"common":{"num_present":3.0,"num_missing":0.0},"distinct_count":2.0,
        "distribution":{"categorical":{"buckets":[{"value":"CA","count":2.0},{"value":"NY","count":1.0}]}}}}]}"#;
    let cons = r#"{"version":0.0,"features":[{"name":"state","inferred_type":"String","completeness":1.0,
        "string_constraints":{"domains":["CA","NY"]},"monitoringConfigOverrides":{"evaluate_constraints":"Disabled"}}],
      "monitoring_config":{"evaluate_constraints":"Enabled","emit_metrics":"Enabled","datatype_check_threshold":1.0,"domain_content_threshold":1.0,
        "distribution_constraints":{"perform_comparison":"Enabled","comparison_threshold":0.1,"comparison_method":"Robust",
        "categorical_comparison_threshold":0.2,"categorical_drift_method":"ChiSquared"}}}"#;
    let b = Baseline::from_json(stats, "s", cons, "c", "t").unwrap();
    let amount = b.features[0].numeric.as_ref().unwrap();
    assert!(amount.std_dev.is_nan());
    assert_eq!(amount.cdf.total(), 3.0, "level 1 weighs 2");
    assert!(b.features[1].categorical.is_none());
    assert_eq!(b.config.categorical_drift_method, CategoricalMethod::ChiSquared);
    assert_eq!(b.config.categorical_comparison_threshold, 0.2);
    assert!(!b.features[2].config.evaluate_constraints);
    assert!(b.features[2].is_categorical());
}

#[test]
fn clear_errors_for_bad_baselines() {
    let stats = r#"{"features":[{"name":"a","inferred_type":"Integral"}]}"#;
    let cases = [
        ("{", "{}", "line 1, column 1"),
        (
            stats,
            r#"{"monitoring_config":{"distribution_constraints":{"comparison_method":"Fancy"}}}"#,
            "comparison_method \"Fancy\"",
        ),
        (stats, r#"{"monitoring_config":{"datatype_check_threshold":-1}}"#, "datatype_check_threshold -1"),
        (
            r#"{"features":[{"name":"a","inferred_type":"Integral"},{"name":"a","inferred_type":"Integral"}]}"#,
            "{}",
            "listed twice",
        ),
        (r#"{"features":[]}"#, "{}", "no features"),
    ];
    for (s, c, want) in cases {
        let err = Baseline::from_json(s, "stats.json", c, "cons.json", "t").unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let err = Baseline::load_dir(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("statistics.json: not found"), "{err}");
    let err = Baseline::load_dir(&tmp.path().join("nope")).unwrap_err().to_string();
    assert!(err.contains("nope: not found"), "{err}");
}

#[test]
fn csv_errors_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.csv");
    std::fs::write(&p, "a,b\n1,2\n3\n").unwrap();
    let err = build(&p, TextFormat::Csv, true).unwrap_err().to_string();
    assert!(err.contains("bad.csv: line 3"), "{err}");
    std::fs::write(&p, "a,a\n1,2\n").unwrap();
    assert!(build(&p, TextFormat::Csv, true).unwrap_err().to_string().contains("appears twice"));
    std::fs::write(&p, "a,b\n").unwrap();
    assert!(build(&p, TextFormat::Csv, true).unwrap_err().to_string().contains("no rows"));
}
