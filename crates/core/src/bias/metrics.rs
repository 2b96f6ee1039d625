//! Clarify's post-training bias metrics from mergeable counts.
//!
//! Every metric that needs no model call is a function of a few counts per group: rows,
//! predicted positives, and, for labelled rows, the confusion matrix. The counts of a window are
//! the sum of the counts of its parts, so a window's metrics equal those of its merged parts
//! (a property test checks it). Facet *d* is the rows whose facet value is the one measured; *a*
//! is every other row. Definitions and edge cases follow `smclarify` (`bias/metrics/common.py`,
//! `posttraining.py`): `divide(0, 0) = 0`, `divide(x, 0) = ±inf`, a difference of two infinite
//! rates is 0, an empty group is an error named in the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A confusion matrix of labelled rows (positive = the label or prediction is the favourable
/// outcome).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Predicted positive, labelled positive.
    pub tp: u64,
    /// Predicted positive, labelled negative.
    pub fp: u64,
    /// Predicted negative, labelled positive.
    pub fn_: u64,
    /// Predicted negative, labelled negative.
    pub tn: u64,
}

impl Confusion {
    /// Rows counted.
    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.fn_ + self.tn
    }

    fn add(&mut self, o: &Confusion) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.tn += o.tn;
    }

    fn minus(&self, o: &Confusion) -> Confusion {
        Confusion { tp: self.tp - o.tp, fp: self.fp - o.fp, fn_: self.fn_ - o.fn_, tn: self.tn - o.tn }
    }

    /// Counts one labelled row.
    pub fn count(&mut self, predicted: bool, label: bool) {
        match (predicted, label) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
}

/// The counts of one group of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCounts {
    /// Rows with a prediction.
    pub n: u64,
    /// Of them, predicted positive.
    pub predicted_positive: u64,
    /// The rows that also have a label.
    pub labelled: Confusion,
}

impl GroupCounts {
    /// Counts one row: its prediction and, when known, its label.
    pub fn count(&mut self, predicted: bool, label: Option<bool>) {
        self.n += 1;
        self.predicted_positive += u64::from(predicted);
        if let Some(l) = label {
            self.labelled.count(predicted, l);
        }
    }

    /// Adds another group's counts.
    pub fn add(&mut self, o: &GroupCounts) {
        self.n += o.n;
        self.predicted_positive += o.predicted_positive;
        self.labelled.add(&o.labelled);
    }

    fn minus(&self, o: &GroupCounts) -> GroupCounts {
        GroupCounts {
            n: self.n - o.n,
            predicted_positive: self.predicted_positive - o.predicted_positive,
            labelled: self.labelled.minus(&o.labelled),
        }
    }
}

/// The counts of one facet over a set of rows: every row, each facet value's rows, and, with a
/// group variable, the same per subgroup (for CDDPL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCounts {
    /// Every row.
    pub all: GroupCounts,
    /// The rows of each facet value (its text, or `(threshold, inf)` for a numeric threshold).
    pub by_value: BTreeMap<String, GroupCounts>,
    /// Per subgroup of the group variable: every row of it, and its rows of each facet value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_group: BTreeMap<String, (GroupCounts, BTreeMap<String, GroupCounts>)>,
}

impl FacetCounts {
    /// Counts one row of facet value `value` (in subgroup `group`, when there is a group
    /// variable).
    pub fn count(&mut self, value: &str, group: Option<&str>, predicted: bool, label: Option<bool>) {
        self.all.count(predicted, label);
        self.by_value.entry(value.to_owned()).or_default().count(predicted, label);
        if let Some(g) = group {
            let (all, values) = self.by_group.entry(g.to_owned()).or_default();
            all.count(predicted, label);
            values.entry(value.to_owned()).or_default().count(predicted, label);
        }
    }

    /// Adds the counts of other rows (merging two parts of a window).
    pub fn merge(&mut self, o: &FacetCounts) {
        self.all.add(&o.all);
        for (v, c) in &o.by_value {
            self.by_value.entry(v.clone()).or_default().add(c);
        }
        for (g, (all, values)) in &o.by_group {
            let (mine, my_values) = self.by_group.entry(g.clone()).or_default();
            mine.add(all);
            for (v, c) in values {
                my_values.entry(v.clone()).or_default().add(c);
            }
        }
    }

    /// The rows of every other value (*a*) and of facet value(s) `d_values` (*d*).
    pub fn split(&self, d_values: &[String]) -> (GroupCounts, GroupCounts) {
        let mut d = GroupCounts::default();
        for v in d_values {
            if let Some(c) = self.by_value.get(v) {
                d.add(c);
            }
        }
        (self.all.minus(&d), d)
    }

    /// The metrics of facet value(s) `d` (the rows of those values) against every other row.
    pub fn metrics(&self, d_values: &[String]) -> Vec<(Metric, MetricValue)> {
        let (a, d) = self.split(d_values);
        let cddpl = (!self.by_group.is_empty()).then(|| {
            let groups: Vec<(GroupCounts, GroupCounts)> = self
                .by_group
                .values()
                .map(|(all, values)| {
                    let mut gd = GroupCounts::default();
                    for v in d_values {
                        if let Some(c) = values.get(v) {
                            gd.add(c);
                        }
                    }
                    (*all, gd)
                })
                .collect();
            cddpl(&self.all, &groups)
        });
        let mut out: Vec<(Metric, MetricValue)> = Metric::ALL
            .iter()
            .filter_map(|&m| match m {
                Metric::Cddpl => cddpl.clone().map(|v| (m, v)),
                Metric::Ge => Some((m, ge(&self.all.labelled))),
                _ => Some((m, metric(m, &a, &d))),
            })
            .collect();
        out.sort_by_key(|(m, _)| m.code());
        out
    }
}

/// A metric's value: a number (possibly infinite, as Clarify's `divide` gives), or why it is not
/// defined (an empty group), as Clarify writes `null` with an `error`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// The value.
    Value(f64),
    /// Why there is none.
    Error(String),
}

impl MetricValue {
    /// The value, when there is one.
    pub fn value(&self) -> Option<f64> {
        match self {
            MetricValue::Value(v) => Some(*v),
            MetricValue::Error(_) => None,
        }
    }
}

/// The post-training metrics driftwatch computes (those that need no call to the model: FT,
/// the flip test, does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// Difference in Positive Proportions in Predicted Labels: q̂a − q̂d (no labels needed).
    Dppl,
    /// Disparate Impact: q̂d / q̂a (no labels needed).
    Di,
    /// Difference in Conditional Acceptance: (n1/n̂1)a − (n1/n̂1)d.
    Dca,
    /// Difference in Conditional Rejection: (n0/n̂0)d − (n0/n̂0)a.
    Dcr,
    /// Recall Difference: recall a − recall d.
    Rd,
    /// Difference in Acceptance Rates: precision a − precision d.
    Dar,
    /// Difference in Rejection Rates: NPV d − NPV a.
    Drr,
    /// Accuracy Difference: accuracy a − accuracy d.
    Ad,
    /// Treatment Equality: FN/FP of d − FN/FP of a.
    Te,
    /// Conditional Demographic Disparity in Predicted Labels (with a group variable).
    Cddpl,
    /// Generalized Entropy (α = 2) of the benefit prediction − label + 1, over every row.
    Ge,
}

impl Metric {
    /// Every metric, in Clarify's order of names.
    pub const ALL: [Metric; 11] = [
        Metric::Ad,
        Metric::Cddpl,
        Metric::Dar,
        Metric::Dca,
        Metric::Dcr,
        Metric::Di,
        Metric::Dppl,
        Metric::Drr,
        Metric::Ge,
        Metric::Rd,
        Metric::Te,
    ];

    /// Clarify's name (`analysis.json`, `bias_metric_<CODE>`).
    pub fn code(self) -> &'static str {
        match self {
            Metric::Dppl => "DPPL",
            Metric::Di => "DI",
            Metric::Dca => "DCA",
            Metric::Dcr => "DCR",
            Metric::Rd => "RD",
            Metric::Dar => "DAR",
            Metric::Drr => "DRR",
            Metric::Ad => "AD",
            Metric::Te => "TE",
            Metric::Cddpl => "CDDPL",
            Metric::Ge => "GE",
        }
    }

    /// Clarify's description (the first line of its docstring).
    pub fn description(self) -> &'static str {
        match self {
            Metric::Dppl => "Difference in Positive Proportions in Predicted Labels (DPPL)",
            Metric::Di => "Disparate Impact (DI)",
            Metric::Dca => "Difference in Conditional Acceptance (DCA)",
            Metric::Dcr => "Difference in Conditional Rejection (DCR)",
            Metric::Rd => "Recall Difference (RD)",
            Metric::Dar => "Difference in Acceptance Rates (DAR)",
            Metric::Drr => "Difference in Rejection Rates (DRR)",
            Metric::Ad => "Accuracy Difference (AD)",
            Metric::Te => "Treatment Equality (TE)",
            Metric::Cddpl => "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
            Metric::Ge => "Generalized Entropy (GE)",
        }
    }

    /// The metric of a name (Clarify's, or the documentation's `DCAcc`), any case.
    pub fn from_code(code: &str) -> Option<Metric> {
        let up = code.to_ascii_uppercase();
        let up = if up == "DCACC" { "DCA".to_owned() } else { up };
        Metric::ALL.into_iter().find(|m| m.code() == up)
    }

    /// Whether it needs labels (all but DPPL, DI and CDDPL).
    pub fn needs_labels(self) -> bool {
        !matches!(self, Metric::Dppl | Metric::Di | Metric::Cddpl)
    }

    /// The value it has when there is no bias (1 for DI, 0 for the others): Model Monitor's
    /// rule flags a value further from it than the baseline's.
    pub fn neutral(self) -> f64 {
        if self == Metric::Di {
            1.0
        } else {
            0.0
        }
    }
}

/// Clarify's `divide`: 0/0 is 0, x/0 is ±infinity.
fn divide(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        if a == 0.0 {
            0.0
        } else if a < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    } else {
        a / b
    }
}

/// `x − y`, 0 when both are the same infinity (Clarify's rule for two undefined rates).
fn diff(x: f64, y: f64) -> f64 {
    if x == y && x.is_infinite() {
        0.0
    } else {
        x - y
    }
}

const EMPTY_FACET: &str = "Facet set is empty";
const EMPTY_REST: &str = "Negated facet set is empty";

fn metric(m: Metric, a: &GroupCounts, d: &GroupCounts) -> MetricValue {
    use MetricValue::{Error, Value};
    let (ca, cd) = (&a.labelled, &d.labelled);
    let labelled = m.needs_labels();
    let (na, nd) = if labelled { (ca.total(), cd.total()) } else { (a.n, d.n) };
    if nd == 0 {
        return Error(EMPTY_FACET.into());
    }
    if na == 0 {
        return Error(EMPTY_REST.into());
    }
    let f = |x: u64| x as f64;
    Value(match m {
        Metric::Dppl => f(a.predicted_positive) / f(a.n) - f(d.predicted_positive) / f(d.n),
        Metric::Di => divide(f(d.predicted_positive) / f(d.n), f(a.predicted_positive) / f(a.n)),
        Metric::Dca => diff(divide(f(ca.tp + ca.fn_), f(ca.tp + ca.fp)), divide(f(cd.tp + cd.fn_), f(cd.tp + cd.fp))),
        Metric::Dcr => diff(divide(f(cd.tn + cd.fp), f(cd.tn + cd.fn_)), divide(f(ca.tn + ca.fp), f(ca.tn + ca.fn_))),
        Metric::Rd => diff(divide(f(ca.tp), f(ca.tp + ca.fn_)), divide(f(cd.tp), f(cd.tp + cd.fn_))),
        Metric::Dar => diff(divide(f(ca.tp), f(ca.tp + ca.fp)), divide(f(cd.tp), f(cd.tp + cd.fp))),
        Metric::Drr => diff(divide(f(cd.tn), f(cd.tn + cd.fn_)), divide(f(ca.tn), f(ca.tn + ca.fn_))),
        Metric::Ad => diff(divide(f(ca.tp + ca.tn), f(ca.total())), divide(f(cd.tp + cd.tn), f(cd.total()))),
        Metric::Te => diff(divide(f(cd.fn_), f(cd.fp)), divide(f(ca.fn_), f(ca.fp))),
        Metric::Cddpl | Metric::Ge => unreachable!("computed over every row"),
    })
}

/// CDDPL: the subgroups' demographic disparities in predicted labels, weighted by their sizes.
/// `groups` holds each subgroup's rows and its facet-*d* rows.
fn cddpl(all: &GroupCounts, groups: &[(GroupCounts, GroupCounts)]) -> MetricValue {
    let accepted = all.predicted_positive;
    let rejected = all.n - all.predicted_positive;
    if accepted == 0 {
        return MetricValue::Error("No positive labels in set".into());
    }
    if rejected == 0 {
        return MetricValue::Error("No negative labels in set".into());
    }
    let (mut weighted, mut total) = (0.0, 0.0);
    for (g, gd) in groups {
        let g_acc = g.predicted_positive;
        let g_rej = g.n - g.predicted_positive;
        let acc_share = if g_acc == 0 { 0.0 } else { gd.predicted_positive as f64 / g_acc as f64 };
        let rej_share = if g_rej == 0 { 0.0 } else { (gd.n - gd.predicted_positive) as f64 / g_rej as f64 };
        weighted += g.n as f64 * (rej_share - acc_share);
        total += g.n as f64;
    }
    MetricValue::Value(divide(weighted, total))
}

/// GE with α = 2 over every labelled row: benefit b = predicted − label + 1 (FN 0, TP/TN 1, FP
/// 2), GE = Σ((b/μ)² − 1) / (2N).
fn ge(c: &Confusion) -> MetricValue {
    let n = c.total() as f64;
    if n == 0.0 {
        return MetricValue::Error("dataset must be non-empty".into());
    }
    let sum_b = (c.tp + c.tn) as f64 + 2.0 * c.fp as f64;
    let sum_b2 = (c.tp + c.tn) as f64 + 4.0 * c.fp as f64;
    let mu = sum_b / n;
    if mu == 0.0 {
        return MetricValue::Error(
            "All predicted labels are false negatives. There should be at least one prediction that is not false negative."
                .into(),
        );
    }
    MetricValue::Value((sum_b2 / (mu * mu) - n) / (2.0 * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of rows (facet value, group, predicted, label) as Clarify's tests write them.
    fn counts(rows: &[(&str, &str, bool, Option<bool>)], grouped: bool) -> FacetCounts {
        let mut c = FacetCounts::default();
        for (v, g, p, l) in rows {
            c.count(v, grouped.then_some(*g), *p, *l);
        }
        c
    }

    fn get(ms: &[(Metric, MetricValue)], m: Metric) -> MetricValue {
        ms.iter().find(|(x, _)| *x == m).map(|(_, v)| v.clone()).unwrap()
    }

    fn close(v: MetricValue, want: f64) {
        let got = v.value().unwrap_or_else(|| panic!("no value: {v:?}"));
        assert!((got - want).abs() < 1e-12 || (got == want), "{got} vs {want}");
    }

    #[test]
    fn every_metric_by_hand() {
        // Facet d = "f": 4 rows; a = "m": 6 rows.
        //   d: (pred, label) = (1,1) (1,0) (0,1) (0,0)      -> TP1 FP1 FN1 TN1, q̂d = 2/4
        //   a: (1,1) (1,1) (1,0) (0,0) (0,0) (0,1)          -> TP2 FP1 FN1 TN2, q̂a = 3/6
        let t = true;
        let f = false;
        let rows = [
            ("f", "x", t, Some(t)),
            ("f", "x", t, Some(f)),
            ("f", "y", f, Some(t)),
            ("f", "y", f, Some(f)),
            ("m", "x", t, Some(t)),
            ("m", "x", t, Some(t)),
            ("m", "x", t, Some(f)),
            ("m", "y", f, Some(f)),
            ("m", "y", f, Some(f)),
            ("m", "y", f, Some(t)),
        ];
        let ms = counts(&rows, true).metrics(&["f".to_owned()]);
        let names: Vec<&str> = ms.iter().map(|(m, _)| m.code()).collect();
        assert_eq!(names, ["AD", "CDDPL", "DAR", "DCA", "DCR", "DI", "DPPL", "DRR", "GE", "RD", "TE"]);
        close(get(&ms, Metric::Dppl), 3.0 / 6.0 - 2.0 / 4.0);
        close(get(&ms, Metric::Di), (2.0 / 4.0) / (3.0 / 6.0));
        // DCA: (n1/n̂1)a − (n1/n̂1)d = 3/3 − 2/2
        close(get(&ms, Metric::Dca), 3.0 / 3.0 - 2.0 / 2.0);
        // DCR: (n0/n̂0)d − (n0/n̂0)a = 2/2 − 3/3
        close(get(&ms, Metric::Dcr), 2.0 / 2.0 - 3.0 / 3.0);
        // RD: recall a − recall d = 2/3 − 1/2
        close(get(&ms, Metric::Rd), 2.0 / 3.0 - 1.0 / 2.0);
        // DAR: precision a − precision d = 2/3 − 1/2
        close(get(&ms, Metric::Dar), 2.0 / 3.0 - 1.0 / 2.0);
        // DRR: NPV d − NPV a = 1/2 − 2/3
        close(get(&ms, Metric::Drr), 1.0 / 2.0 - 2.0 / 3.0);
        // AD: accuracy a − accuracy d = 4/6 − 2/4
        close(get(&ms, Metric::Ad), 4.0 / 6.0 - 2.0 / 4.0);
        // TE: FN/FP d − FN/FP a = 1/1 − 1/1
        close(get(&ms, Metric::Te), 0.0);
        // CDDPL: group x (5 rows: accepted 5, of them d 2; rejected 0), group y (5 rows:
        // accepted 0; rejected 5, of them d 2): DD_x = 0 − 2/5, DD_y = 2/5 − 0; weighted by 5.
        close(get(&ms, Metric::Cddpl), (5.0 * (0.0 - 2.0 / 5.0) + 5.0 * (2.0 / 5.0 - 0.0)) / 10.0);
        // GE over all 10: FN 2 (b 0), TP+TN 6 (b 1), FP 2 (b 2): μ = 10/10 = 1,
        // Σ(b²/μ² − 1) = (0−1)·2 + 0·6 + (4−1)·2 = 4; GE = 4 / (10·2).
        close(get(&ms, Metric::Ge), 4.0 / 20.0);
    }

    #[test]
    fn empty_groups_and_all_positive_groups_are_written_as_clarify_writes_them() {
        let t = true;
        // The facet value is absent: every metric of d is an error naming it.
        let c = counts(&[("m", "", t, Some(t)), ("m", "", false, Some(false))], false);
        let ms = c.metrics(&["f".to_owned()]);
        assert_eq!(get(&ms, Metric::Dppl), MetricValue::Error(EMPTY_FACET.into()));
        assert!(ms.iter().all(|(m, _)| *m != Metric::Cddpl), "no group variable, no CDDPL");
        // Only d: the rest is empty.
        let c = counts(&[("f", "", t, Some(t))], false);
        assert_eq!(get(&c.metrics(&["f".to_owned()]), Metric::Di), MetricValue::Error(EMPTY_REST.into()));
        // a never predicted positive: DI = q̂d / 0 = inf; d all positive.
        let c = counts(&[("f", "", t, Some(t)), ("f", "", t, Some(t)), ("m", "", false, Some(false))], false);
        let ms = c.metrics(&["f".to_owned()]);
        close(get(&ms, Metric::Di), f64::INFINITY);
        close(get(&ms, Metric::Dppl), -1.0);
        // d has no FP and no FN: TE = 0/0 − FN/FP a = 0 − 0/0 = 0.
        close(get(&ms, Metric::Te), 0.0);
        // Rows without labels count for DPPL and DI only.
        let c = counts(&[("f", "", t, None), ("m", "", false, None)], false);
        let ms = c.metrics(&["f".to_owned()]);
        close(get(&ms, Metric::Dppl), -1.0);
        assert_eq!(get(&ms, Metric::Rd), MetricValue::Error(EMPTY_FACET.into()));
        assert!(matches!(get(&ms, Metric::Ge), MetricValue::Error(_)));
    }

    proptest::proptest! {
        /// A window's metrics equal those of its merged parts.
        #[test]
        fn merged_parts_give_the_whole(
            rows in proptest::collection::vec((0u8..3, 0u8..2, proptest::bool::ANY, proptest::option::of(proptest::bool::ANY)), 0..60),
            cut in 0usize..60,
        ) {
            let values = ["a", "b", "c"];
            let groups = ["x", "y"];
            let table: Vec<(&str, &str, bool, Option<bool>)> =
                rows.iter().map(|(v, g, p, l)| (values[*v as usize], groups[*g as usize], *p, *l)).collect();
            let cut = cut.min(table.len());
            let whole = counts(&table, true);
            let mut merged = counts(&table[..cut], true);
            merged.merge(&counts(&table[cut..], true));
            proptest::prop_assert_eq!(&merged, &whole);
            for v in values {
                proptest::prop_assert_eq!(merged.metrics(&[v.to_owned()]), whole.metrics(&[v.to_owned()]));
            }
        }
    }
}
