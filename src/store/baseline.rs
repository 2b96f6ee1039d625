//! Baselines in object stores: read by `serve` and by `replay --baseline s3://...`, written by
//! `baseline --output s3://...`. Local folders go through the core's own reader and writer
//! ([`Baseline::load_dir`], [`write_dir`](crate::baseline::build::write_dir)), which check the
//! folder's shape.

use super::{split_object_uri, Location, ObjectStore, StoreError, StoreFactory};
use crate::baseline::{Baseline, BaselineError, CONSTRAINTS_FILE, STATISTICS_FILE};
use crate::quality::estimate::Calibration;
use crate::quality::{QualityConstraints, QualityError, QualityStatistics};

/// Reads a text object; a missing object is [`BaselineError::Missing`] naming its URI.
pub async fn read_text<S: ObjectStore>(store: &S, key: &str) -> Result<String, BaselineError> {
    match store.get(key).await {
        Ok(Some(bytes)) => String::from_utf8(bytes).map_err(|_| BaselineError::Parse {
            path: store.uri(key),
            line: 0,
            column: 0,
            message: "not utf-8 text".into(),
        }),
        Ok(None) => Err(BaselineError::Missing { path: store.uri(key) }),
        // The store's error names the object already.
        Err(StoreError::Remote { uri, detail }) => {
            Err(BaselineError::Io { path: uri, source: std::io::Error::other(detail) })
        }
        Err(StoreError::Io { path, source }) => Err(BaselineError::Io { path, source }),
        Err(e @ StoreError::Conflict { .. }) => {
            Err(BaselineError::Io { path: store.uri(key), source: std::io::Error::other(e.to_string()) })
        }
    }
}

/// Reads `statistics.json` and `constraints.json` at the root of `store`; `source` names the
/// baseline in reports.
pub async fn read_baseline<S: ObjectStore>(store: &S, source: &str) -> Result<Baseline, BaselineError> {
    read_baseline_files((store, STATISTICS_FILE), (store, CONSTRAINTS_FILE), source).await
}

/// Reads a baseline whose two files may sit in different places (as SageMaker names them).
pub async fn read_baseline_files<S: ObjectStore>(
    statistics: (&S, &str),
    constraints: (&S, &str),
    source: &str,
) -> Result<Baseline, BaselineError> {
    let stats = read_text(statistics.0, statistics.1).await?;
    let cons = read_text(constraints.0, constraints.1).await?;
    Baseline::from_json(&stats, &statistics.0.uri(statistics.1), &cons, &constraints.0.uri(constraints.1), source)
}

/// Writes a baseline's named files (a data-quality [`BuiltBaseline`]'s or a model-quality
/// baseline's `file_texts`) at the root of `store`, as `write_files` lays them out in a folder.
pub async fn write_baseline<S: ObjectStore>(store: &S, files: &[(&str, String)]) -> Result<(), StoreError> {
    for (name, text) in files {
        store.put(name, text.clone().into_bytes()).await?;
    }
    Ok(())
}

/// A model-quality baseline as `baseline --problem-type` (or Model Monitor) writes it.
#[derive(Debug, Clone)]
pub struct QualityBaselineFiles {
    /// `statistics.json`: the metrics and their standard deviations.
    pub statistics: QualityStatistics,
    /// `constraints.json`: the thresholds and their operators.
    pub constraints: QualityConstraints,
    /// `calibration.json` (driftwatch's, for binary probabilities), when there is one.
    pub calibration: Option<Calibration>,
}

/// Why a model-quality baseline could not be read.
#[derive(Debug, thiserror::Error)]
pub enum QualityBaselineError {
    /// A file is missing or unreadable.
    #[error(transparent)]
    Read(#[from] BaselineError),
    /// A file is not in the model-quality schema.
    #[error(transparent)]
    Format(#[from] QualityError),
    /// The two files are of different problem types.
    #[error("{uri}: statistics.json is {statistics} but constraints.json is {constraints}")]
    Mismatch {
        /// The baseline's location.
        uri: String,
        /// The statistics' problem type.
        statistics: &'static str,
        /// The constraints' problem type.
        constraints: &'static str,
    },
    /// `calibration.json` does not read.
    #[error("{uri}: {detail}")]
    Calibration {
        /// The file.
        uri: String,
        /// What is wrong.
        detail: String,
    },
}

/// Reads a model-quality baseline at the root of `store`.
pub async fn read_quality_baseline<S: ObjectStore>(store: &S) -> Result<QualityBaselineFiles, QualityBaselineError> {
    let stats_text = read_text(store, STATISTICS_FILE).await?;
    let cons_text = read_text(store, CONSTRAINTS_FILE).await?;
    let statistics = QualityStatistics::from_json(&stats_text, &store.uri(STATISTICS_FILE))?;
    let constraints = QualityConstraints::from_json(&cons_text, &store.uri(CONSTRAINTS_FILE))?;
    if constraints.problem != statistics.problem {
        return Err(QualityBaselineError::Mismatch {
            uri: store.uri(""),
            statistics: statistics.problem.as_str(),
            constraints: constraints.problem.as_str(),
        });
    }
    let uri = store.uri(Calibration::FILE);
    let calibration = match store.get(Calibration::FILE).await {
        Ok(Some(bytes)) => Some(
            serde_json::from_slice(&bytes)
                .map_err(|e| QualityBaselineError::Calibration { uri: uri.clone(), detail: e.to_string() })?,
        ),
        Ok(None) => None,
        Err(e) => return Err(QualityBaselineError::Calibration { uri, detail: e.to_string() }),
    };
    Ok(QualityBaselineFiles { statistics, constraints, calibration })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn written_baselines_read_back_and_missing_files_are_named() {
        let built = crate::baseline::build::build_csv("a,b\n1,x\n2,y\n3,x\n".as_bytes(), true, "t").unwrap();
        let store = MemoryStore::default().below("baselines/v1/");
        let err = read_baseline(&store, "s3://b/baselines/v1/").await.unwrap_err();
        assert!(err.to_string().starts_with("memory://baselines/v1/statistics.json: not found"), "{err}");
        write_baseline(&store, &built.file_texts().unwrap()).await.unwrap();
        let b = read_baseline(&store, "s3://b/baselines/v1/").await.unwrap();
        assert_eq!(b.features.len(), 2);
        assert_eq!(b.source, "s3://b/baselines/v1/");
    }
}

/// Why a bias monitor's files cannot be read: which one (`bias_config` or `bias_baseline`, the
/// config's key; replay's flag is the same with a dash), and what.
#[derive(Debug, thiserror::Error)]
pub enum BiasFilesError {
    /// The store did not answer (may pass), or cannot be opened.
    #[error("{what}: {source}")]
    Store {
        /// `bias_config` or `bias_baseline`.
        what: &'static str,
        /// The store's error (it names the object).
        source: StoreError,
    },
    /// The file is missing or is not what it should be.
    #[error("{what}: {detail}")]
    File {
        /// `bias_config` or `bias_baseline`.
        what: &'static str,
        /// What is wrong, naming the file.
        detail: String,
    },
}

/// Reads a bias monitor, for `serve` and `replay` alike: Clarify's analysis config at `config`
/// (a file or an `s3://` object) and the bias baseline at `baseline` (its `analysis.json`, or a
/// folder or prefix holding one), opened through `factory`; `threshold` overrides the config's
/// probability threshold. Returns the monitor and the prediction spec that takes each record's
/// probability (at `probability`) and facet values.
pub async fn read_bias<S: ObjectStore>(
    factory: &dyn StoreFactory<S>,
    config: &str,
    baseline: &str,
    probability: crate::pipeline::predictions::Attr,
    threshold: Option<f64>,
) -> Result<(crate::bias::window::BiasMonitor, crate::pipeline::predictions::PredictionSpec), BiasFilesError> {
    async fn read<S: ObjectStore>(
        factory: &dyn StoreFactory<S>,
        what: &'static str,
        (at, key): (Location, String),
    ) -> Result<(String, String), BiasFilesError> {
        let store = factory.open(&at).map_err(|source| BiasFilesError::Store { what, source })?;
        let uri = store.uri(&key);
        let bytes = store.get(&key).await.map_err(|source| BiasFilesError::Store { what, source })?;
        let bytes = bytes.ok_or_else(|| BiasFilesError::File { what, detail: format!("{uri}: not found") })?;
        Ok((uri, String::from_utf8_lossy(&bytes).into_owned()))
    }
    let (config_uri, text) = read(factory, "bias_config", split_object_uri(config)).await?;
    let mut config = crate::bias::BiasConfig::from_json(&text, &config_uri)
        .map_err(|e| BiasFilesError::File { what: "bias_config", detail: e.to_string() })?;
    if let Some(t) = threshold {
        config.probability_threshold = t;
    }
    let at = if baseline.ends_with(".json") {
        split_object_uri(baseline)
    } else {
        (Location::parse(baseline), crate::bias::analysis::ANALYSIS_FILE.to_owned())
    };
    let (baseline_uri, text) = read(factory, "bias_baseline", at).await?;
    let baseline = crate::bias::analysis::BiasAnalysis::from_json(&text, &baseline_uri)
        .map_err(|e| BiasFilesError::File { what: "bias_baseline", detail: e.to_string() })?;
    let (facets, group) = config.request_attrs();
    let spec = crate::pipeline::predictions::PredictionSpec {
        probability: Some(probability),
        facets,
        group,
        ..Default::default()
    };
    Ok((crate::bias::window::BiasMonitor::new(config, baseline), spec))
}
