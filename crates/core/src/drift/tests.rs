use super::*;
use crate::baseline::build::{build, TextFormat};
use crate::baseline::Baseline;
use crate::payload::Value;
use crate::profile::WindowProfile;

/// A baseline of 2,000 rows: `amount` (Fractional, 0..1000), `count` (Integral 0..9), `state`
/// (String, 3 values), all complete.
fn baseline() -> Baseline {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("amount,count,state\n");
    for i in 0..2000 {
        csv.push_str(&format!("{}.5,{},{}\n", (i * 7919) % 1000, i % 10, ["CA", "NY", "TX"][i % 3]));
    }
    let p = tmp.path().join("train.csv");
    std::fs::write(&p, csv).unwrap();
    let built = build(&p, TextFormat::Csv, true).unwrap();
    Baseline::from_files(built.statistics, "s", built.constraints, "c", "t").unwrap()
}

fn window(b: &Baseline, rows: &[[&str; 3]]) -> WindowProfile {
    let mut w = WindowProfile::new(3);
    for r in rows {
        for (i, (f, v)) in w.features.iter_mut().zip(r).enumerate() {
            f.observe(&Value::from_text(v), b.features[i].is_categorical());
        }
        w.rows += 1;
        *w.column_counts.entry(3).or_default() += 1;
    }
    w
}

fn like_baseline(n: usize, shift: f64) -> Vec<[String; 3]> {
    (0..n)
        .map(|i| {
            [
                format!("{}.5", ((i * 7919) % 1000) as f64 + shift),
                format!("{}", i % 10),
                ["CA", "NY", "TX"][i % 3].to_string(),
            ]
        })
        .collect()
}

fn as_refs(rows: &[[String; 3]]) -> Vec<[&str; 3]> {
    rows.iter().map(|r| [r[0].as_str(), r[1].as_str(), r[2].as_str()]).collect()
}

fn checks(d: &WindowDrift) -> Vec<(String, String)> {
    d.violations.iter().map(|v| (v.feature_name.clone(), v.constraint_check_type.clone())).collect()
}

#[test]
fn a_window_like_the_baseline_has_no_violations() {
    let b = baseline();
    let rows = like_baseline(1000, 0.0);
    let d = compare(&b, &window(&b, &as_refs(&rows)), true);
    assert_eq!(checks(&d), vec![]);
    let amount = &d.features[0];
    assert_eq!(amount.kind, FeatureKind::Numeric);
    assert!(amount.linf_simple.unwrap() < amount.linf_noise_floor.unwrap());
    assert_eq!(amount.linf_robust, Some(0.0));
    let psi = amount.psi.unwrap();
    assert!(psi.value < psi.noise_floor, "{psi:?}");
    let state = &d.features[2];
    assert_eq!(state.kind, FeatureKind::Categorical);
    assert_eq!(state.unseen_share, Some(0.0));
    assert_eq!(state.completeness, Some(1.0));
    assert_eq!(d.features[1].type_match, Some(1.0));
}

#[test]
fn each_check_fires_on_its_own_break() {
    let b = baseline();
    type Case = (&'static str, Box<dyn Fn(&mut Vec<[String; 3]>)>, Vec<(&'static str, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "shift",
            Box::new(|r| {
                for x in r.iter_mut() {
                    x[0] = format!("{}", x[0].parse::<f64>().unwrap() + 400.0)
                }
            }),
            vec![("amount", "baseline_drift_check")],
        ),
        ("strings in an integral column", Box::new(|r| r[0][1] = "n/a".into()), vec![("count", "data_type_check")]),
        ("fractional in an integral column", Box::new(|r| r[3][1] = "2.5".into()), vec![("count", "data_type_check")]),
        ("missing values", Box::new(|r| r[5][0] = String::new()), vec![("amount", "completeness_check")]),
        ("unseen category", Box::new(|r| r[7][2] = "ca".into()), vec![("state", "categorical_values_check")]),
        (
            "category codes renamed",
            Box::new(|r| {
                for x in r.iter_mut() {
                    x[2] = x[2].to_lowercase()
                }
            }),
            vec![("state", "baseline_drift_check"), ("state", "categorical_values_check")],
        ),
    ];
    for (name, mutate, want) in cases {
        let mut rows = like_baseline(1000, 0.0);
        mutate(&mut rows);
        let d = compare(&b, &window(&b, &as_refs(&rows)), true);
        let got = checks(&d);
        let want: Vec<(String, String)> = want.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect();
        assert_eq!(got, want, "{name}: {:#?}", d.violations);
    }
}

#[test]
fn violation_texts_follow_model_monitor() {
    let b = baseline();
    let mut rows = like_baseline(1000, 0.0);
    rows[0][1] = "n/a".into();
    let d = compare(&b, &window(&b, &as_refs(&rows)), true);
    assert_eq!(
        d.violations[0].description,
        "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. Observed: Only 99.9% of data is Integral."
    );
    let mut rows = like_baseline(1000, 0.0);
    for x in rows.iter_mut() {
        x[0] = format!("{}", x[0].parse::<f64>().unwrap() + 400.0);
    }
    let d = compare(&b, &window(&b, &as_refs(&rows)), true);
    // The aws-samples drift pipeline parses this with `distance: (.+) exceeds threshold: (.+)`.
    let desc = &d.violations[0].description;
    assert!(desc.starts_with("Baseline drift distance: ") && desc.ends_with(" exceeds threshold: 0.1"), "{desc}");
}

#[test]
fn column_checks_need_most_rows() {
    let b = baseline();
    let rows = like_baseline(100, 0.0);
    let mut w = window(&b, &as_refs(&rows));
    // Three malformed rows with 2 columns: skipped rows, not a schema change.
    w.column_counts.insert(2, 3);
    assert_eq!(checks(&compare(&b, &w, true)), vec![]);
    // The schema lost a column: every row has 2.
    let mut w = WindowProfile::new(3);
    w.column_counts.insert(2, 50);
    assert_eq!(checks(&compare(&b, &w, true)), vec![("state".into(), "missing_column_check".into())]);
    let mut w = WindowProfile::new(3);
    w.column_counts.insert(5, 50);
    assert_eq!(
        checks(&compare(&b, &w, true)),
        vec![("_c3".into(), "extra_column_check".into()), ("_c4".into(), "extra_column_check".into())]
    );
    // Named layout: a key absent from most rows, an extra key in most rows.
    let mut w = window(&b, &as_refs(&rows));
    w.features[1].absent = 80;
    w.extra_columns.insert("score".into(), 100);
    assert_eq!(
        checks(&compare(&b, &w, false)),
        vec![("count".into(), "missing_column_check".into()), ("score".into(), "extra_column_check".into())]
    );
}

#[test]
fn disabled_evaluation_and_chi_squared_method() {
    let mut b = baseline();
    let mut rows = like_baseline(1000, 0.0);
    rows[0][1] = "n/a".into();
    b.features[1].config.evaluate_constraints = false;
    assert_eq!(checks(&compare(&b, &window(&b, &as_refs(&rows)), true)), vec![]);

    let mut b = baseline();
    b.features[2].config.categorical_drift_method = crate::baseline::CategoricalMethod::ChiSquared;
    let mut rows = like_baseline(900, 0.0);
    for (i, x) in rows.iter_mut().enumerate() {
        if i % 3 == 2 {
            x[2] = "CA".into();
        }
    }
    let d = compare(&b, &window(&b, &as_refs(&rows)), true);
    let dc = d.features[2].drift_check.as_ref().unwrap();
    assert_eq!(dc.metric, "chi_square_p_value");
    assert!(dc.violated && dc.value < 1e-6);
    assert!(d.violations[0].description.contains("p-value"));
}
