//! From profiles to `statistics.json`, as Model Monitor writes it.
//!
//! Used twice: by `driftwatch baseline` (the training data's statistics) and by the per-window
//! reports (each window's statistics, so dashboards built on Model Monitor's output keep working).

use super::files::{
    CategoricalBucket, CategoricalDistribution, CommonStatistics, Count, DatasetStatistics, FeatureStatistics,
    KllBucket, KllDistribution, KllParameters, KllSketchData, NumericalDistribution, NumericalStatistics,
    StatisticsFile, StringDistribution, StringStatistics,
};
use crate::profile::kll::equal_width_buckets;
use crate::profile::{FeatureProfile, InferredType};

/// Number of KLL buckets Model Monitor materialises ("not currently configurable").
pub const KLL_BUCKETS: usize = 10;
/// Strings with at most this many distinct values get categorical buckets and a domain
/// (Deequ's `ColumnProfiler.DEFAULT_CARDINALITY_THRESHOLD`).
pub const CARDINALITY_THRESHOLD: usize = 120;

/// Returns the `statistics.json` entry of one feature.
pub fn feature_statistics(name: &str, p: &FeatureProfile) -> FeatureStatistics {
    let inferred = p.types.inferred();
    let present = p.present();
    let rows = present + p.missing;
    let completeness = (rows > 0).then(|| present as f64 / rows as f64);
    let common = CommonStatistics { num_present: Count(present as f64), num_missing: Count(p.missing as f64) };
    if inferred.is_numeric() {
        let m = &p.moments;
        let cdf = p.kll.cdf();
        let (c, k) = p.kll.parameters();
        let distribution = (!p.kll.is_empty()).then(|| NumericalDistribution {
            kll: Some(KllDistribution {
                buckets: equal_width_buckets(&cdf, m.min, m.max, KLL_BUCKETS)
                    .into_iter()
                    .map(|(lower_bound, upper_bound, count)| KllBucket { lower_bound, upper_bound, count })
                    .collect(),
                sketch: Some(KllSketchData {
                    parameters: KllParameters { c, k: f64::from(k) },
                    data: p.kll.levels().map(<[f64]>::to_vec).collect(),
                }),
            }),
        });
        FeatureStatistics {
            name: name.to_owned(),
            inferred_type: inferred.as_str().to_owned(),
            numerical_statistics: Some(NumericalStatistics {
                common,
                mean: m.deequ_mean(),
                sum: m.sum,
                std_dev: m.std_dev_pop(),
                min: if m.n > 0 { m.min } else { f64::NAN },
                max: if m.n > 0 { m.max } else { f64::NAN },
                distribution,
                approximate_num_distinct_values: Some(Count(p.distinct.estimate().round())),
                completeness,
            }),
            string_statistics: None,
        }
    } else {
        let distinct = p.distinct_estimate();
        let exact_small = p.categories.overflow() == 0
            && p.categories.total() == present
            && p.categories.len() <= CARDINALITY_THRESHOLD
            && present > 0;
        let distribution = exact_small.then(|| StringDistribution {
            categorical: Some(CategoricalDistribution {
                buckets: p
                    .categories
                    .sorted()
                    .into_iter()
                    .map(|(value, count)| CategoricalBucket { value: value.to_owned(), count: count as f64 })
                    .collect(),
            }),
        });
        FeatureStatistics {
            name: name.to_owned(),
            inferred_type: inferred.as_str().to_owned(),
            numerical_statistics: None,
            string_statistics: Some(StringStatistics {
                common,
                distinct_count: distinct.round(),
                distribution,
                completeness,
            }),
        }
    }
}

/// Returns a whole `statistics.json` for named profiles.
pub fn statistics_file<'a>(
    item_count: u64,
    features: impl Iterator<Item = (&'a str, &'a FeatureProfile)>,
) -> StatisticsFile {
    StatisticsFile {
        version: 0.0,
        dataset: Some(DatasetStatistics { item_count: Count(item_count as f64) }),
        features: features.map(|(n, p)| feature_statistics(n, p)).collect(),
    }
}

/// Returns the domain (sorted known values) of a low-cardinality string profile, if it has one.
pub fn domain_of(p: &FeatureProfile) -> Option<Vec<String>> {
    let inferred = p.types.inferred();
    if !matches!(inferred, InferredType::String | InferredType::Boolean) {
        return None;
    }
    let exact = p.categories.overflow() == 0 && p.categories.total() == p.present();
    if !exact || p.categories.len() > CARDINALITY_THRESHOLD || p.categories.is_empty() {
        return None;
    }
    let mut values: Vec<String> = p.categories.sorted().into_iter().map(|(v, _)| v.to_owned()).collect();
    values.sort();
    Some(values)
}
