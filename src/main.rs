//! The `driftwatch` command: parses arguments and wires the library's parts together.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use driftwatch::baseline::build;
use driftwatch::config::Config;
use driftwatch::publish::events::EventSettings;
use driftwatch::quality::ProblemType;
use driftwatch::replay::{self, ReplayOptions};
use driftwatch::store::{AnyStore, Location, StoreFactory};
use driftwatch::time::Duration;
use driftwatch::training::{self, InputFormat};

/// Drift monitoring for Amazon SageMaker endpoints.
#[derive(Debug, Parser)]
#[command(name = "driftwatch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Build statistics.json and constraints.json from training data, as Model Monitor's
    /// suggest-baseline job does; with --problem-type, a model-quality baseline from labelled
    /// rows, as its model-quality suggest-baseline job does.
    Baseline {
        /// Training data: CSV, Parquet or JSON Lines.
        #[arg(long)]
        input: PathBuf,
        /// Input format (default: from the file extension).
        #[arg(long, value_enum)]
        format: Option<InputFormat>,
        /// The CSV has no header row (columns become _c0, _c1, ...).
        #[arg(long)]
        no_header: bool,
        /// Folder or s3:// prefix to write statistics.json and constraints.json into.
        #[arg(long)]
        output: String,
        /// Build a bias baseline instead: Clarify's analysis config (facet, label values,
        /// group variable, probability threshold); writes analysis.json with Clarify's
        /// post-training metrics. Needs --ground-truth-attribute and --probability-attribute.
        #[arg(long, conflicts_with = "problem_type")]
        bias_config: Option<PathBuf>,
        #[command(flatten)]
        quality: QualityArgs,
    },
    /// Replay captured files against a baseline: windows, checks, drift, episodes, events.
    Replay {
        /// Data Capture: the destination root, an endpoint or a variant folder, or one file; a
        /// local folder or s3://bucket/prefix/.
        #[arg(long)]
        capture: String,
        /// Folder or s3:// prefix holding statistics.json and constraints.json (the data-quality
        /// baseline); may be left out when --quality-baseline is given.
        #[arg(long, required_unless_present_any = ["quality_baseline", "bias_config"])]
        baseline: Option<String>,
        /// Window length, 1m to 1d.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        window: Duration,
        /// Write the events a rule target would receive, one JSON object per line.
        #[arg(long)]
        events: Option<PathBuf>,
        /// Write per-window reports and drift_metrics.parquet below this folder or s3:// prefix.
        #[arg(long)]
        output: Option<String>,
        /// Write one self-contained HTML page telling each stream's story.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write each window's CloudWatch metrics (Model Monitor's names, embedded metric
        /// format: the lines serve prints) to back-test an alarm.
        #[arg(long)]
        emf: Option<PathBuf>,
        /// The MonitoringSchedule dimension of the --emf metrics (default
        /// driftwatch-<endpoint>); give the old schedule's name to match an existing alarm.
        #[arg(long, requires = "emf")]
        monitoring_schedule: Option<String>,
        /// The MonitoringSchedule dimension of the --emf model-quality metrics (default: as
        /// --monitoring-schedule).
        #[arg(long, requires = "emf")]
        quality_monitoring_schedule: Option<String>,
        /// Configuration file ([classifier] and [events] apply to replay).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Threads that read and decode capture files (default: one per core). Windows,
        /// reports and events are the same whatever the number.
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        threads: usize,
        /// Exit 2 at the end when a file could not be read (it is counted, named and skipped
        /// either way).
        #[arg(long)]
        strict: bool,
        /// Capture records (lines) longer than this many MiB are skipped and counted as
        /// record_too_large: a record is decoded whole, in about twelve times its size.
        #[arg(long, default_value_t = (driftwatch::pipeline::DEFAULT_MAX_RECORD_BYTES >> 20) as u64, value_parser = clap::value_parser!(u64).range(1..=4096))]
        max_record_mib: u64,
        /// Objects of an s3:// capture requested ahead of decoding, in key order (fewer for
        /// large objects: at most 64 MiB of them wait). Results do not depend on it.
        #[arg(long, default_value_t = driftwatch::source::DEFAULT_FETCH_AHEAD, value_parser = parse_fetch_ahead)]
        fetch_ahead: usize,
        /// Leave the KLL sketches out of each window's statistics.json (most of its size on wide
        /// baselines; the buckets stay). Also `[reports] sketches = false` in --config.
        #[arg(long)]
        no_sketches: bool,
        #[command(flatten)]
        quality: ReplayQualityArgs,
    },
    /// Watch endpoints: read new Data Capture objects from S3, publish events to EventBridge,
    /// write reports and checkpoints; serve /healthz and /metrics. Stops cleanly on SIGTERM.
    #[cfg(feature = "aws")]
    Serve {
        /// Configuration: a file or an s3:// URI (see examples/config/serve.toml); without it,
        /// the TOML in DRIFTWATCH_CONFIG_TEXT.
        #[arg(long, env = "DRIFTWATCH_CONFIG")]
        config: Option<String>,
        /// How long shutdown may take to write checkpoints and send the outbox.
        #[arg(long, default_value = "20s", value_parser = parse_duration)]
        shutdown_timeout: Duration,
    },
    /// Exit 0 when the service's /healthz answers 200, 1 otherwise (container health checks in
    /// an image without a shell).
    #[cfg(feature = "aws")]
    Healthcheck {
        /// The health URL.
        #[arg(long, default_value = "http://127.0.0.1:9090/healthz")]
        url: String,
        /// How long to wait for an answer.
        #[arg(long, default_value = "3s", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// The model-quality baseline's flags (Model Monitor's `ModelQualityMonitor.suggest_baseline`).
#[derive(Debug, clap::Args)]
struct QualityArgs {
    /// Build a model-quality baseline: BinaryClassification, MulticlassClassification or
    /// Regression.
    #[arg(long, value_parser = str::parse::<ProblemType>)]
    problem_type: Option<ProblemType>,
    /// The ground-truth column.
    #[arg(long)]
    ground_truth_attribute: Option<String>,
    /// The predicted label (regression: the predicted value).
    #[arg(long, requires = "problem_type")]
    inference_attribute: Option<String>,
    /// The predicted probability of the positive class (binary).
    #[arg(long)]
    probability_attribute: Option<String>,
    /// A probability at or above it predicts the positive class (default 0.5; with
    /// --bias-config, above it, and the config's probability_threshold by default).
    #[arg(long)]
    probability_threshold_attribute: Option<f64>,
}

/// Replay's model-quality flags.
#[derive(Debug, clap::Args)]
struct ReplayQualityArgs {
    /// Folder or s3:// prefix of a model-quality baseline (statistics.json and constraints.json
    /// as `baseline --problem-type` or Model Monitor writes them): judge each window's model
    /// quality against ground truth.
    #[arg(long)]
    quality_baseline: Option<String>,
    /// Folder or s3:// prefix of the ground truth (Model Monitor's layout: yyyy/mm/dd/hh/*.jsonl
    /// by collection time, records joined on inferenceId, else eventId). Without it, binary
    /// quality is estimated from the calibrated probabilities.
    /// (With --bias-config it gives bias's label-dependent metrics through the model-quality
    /// monitor's join, so with --quality-baseline; with --bias-config alone it is not read.)
    #[arg(long)]
    ground_truth: Option<String>,
    /// The predicted label or value in each response: a CSV column index (0 is the first
    /// response column) or a JSON name or path.
    #[arg(long, requires = "quality_baseline")]
    inference_attribute: Option<String>,
    /// The positive class's probability in each response (index or name, as above); for
    /// --quality-baseline and --bias-config.
    #[arg(long)]
    probability_attribute: Option<String>,
    /// A probability at or above it predicts the positive class (default 0.5); with
    /// --bias-config, above it (default: the config's probability_threshold).
    #[arg(long)]
    probability_threshold_attribute: Option<f64>,
    /// Clarify's analysis config (facets, label values, group variable, probability
    /// threshold): judge each window's bias (DPPL, DI, CDDPL) against --bias-baseline.
    #[arg(long, requires = "bias_baseline")]
    bias_config: Option<PathBuf>,
    /// Folder or s3:// prefix of the bias baseline's analysis.json (`baseline --bias-config`'s,
    /// or Clarify's).
    #[arg(long, requires = "bias_config")]
    bias_baseline: Option<String>,
    /// How long after a window's end its labels are waited for: the window is judged then, by
    /// the labels collected before (labels collected later update its files, counted late).
    #[arg(long, requires = "ground_truth", default_value = "24h", value_parser = parse_duration)]
    ground_truth_delay: Duration,
    /// Judge a window before the delay once this share of its predictions is labelled (1:
    /// always wait for the delay).
    #[arg(long, requires = "ground_truth", default_value_t = driftwatch::quality::join::DEFAULT_ENOUGH_SHARE)]
    ground_truth_share: f64,
    /// How long after a window's end labels that come late still update its files; labels
    /// wait as long for their prediction (default: three times the delay).
    #[arg(long, requires = "ground_truth", value_parser = parse_duration)]
    ground_truth_expiry: Option<Duration>,
}

impl ReplayQualityArgs {
    /// The bias monitor's options (`--bias-config`), when given.
    fn bias(&self) -> Result<Option<replay::BiasOptions>, Failure> {
        if self.ground_truth.is_some() && self.quality_baseline.is_none() && self.bias_config.is_none() {
            return Err(Failure::Usage(anyhow::anyhow!("--ground-truth needs --quality-baseline or --bias-config")));
        }
        let (Some(config), Some(baseline)) = (&self.bias_config, &self.bias_baseline) else { return Ok(None) };
        // The first response column by default, as the command line of the bias monitor has it.
        let probability = self.probability_attribute.as_deref().unwrap_or("0");
        Ok(Some(replay::BiasOptions {
            config: config.clone(),
            baseline: baseline.clone(),
            probability: driftwatch::pipeline::predictions::Attr::parse(probability),
            threshold: self.probability_threshold_attribute,
        }))
    }

    fn options(self) -> Result<Option<replay::QualityOptions>, Failure> {
        use driftwatch::pipeline::predictions::{Attr, PredictionSpec};
        let Some(baseline) = self.quality_baseline else {
            if self.bias_config.is_some() && self.ground_truth.is_some() {
                // Labels joined for the bias monitor's label-dependent metrics only (its own
                // spec names the probability).
                return Ok(Some(replay::QualityOptions {
                    baseline: None,
                    ground_truth: self.ground_truth,
                    spec: PredictionSpec::default(),
                    probability_threshold: driftwatch::quality::DEFAULT_PROBABILITY_THRESHOLD,
                    delay: self.ground_truth_delay,
                    enough_share: self.ground_truth_share,
                    expiry: self.ground_truth_expiry,
                }));
            }
            if self.bias_config.is_none() {
                for (flag, given) in [
                    ("--probability-attribute", self.probability_attribute.is_some()),
                    ("--probability-threshold-attribute", self.probability_threshold_attribute.is_some()),
                ] {
                    if given {
                        return Err(Failure::Usage(anyhow::anyhow!(
                            "{flag} needs --quality-baseline or --bias-config"
                        )));
                    }
                }
            }
            return Ok(None);
        };
        let ground_truth = self.ground_truth;
        if self.inference_attribute.is_none() && self.probability_attribute.is_none() {
            return Err(Failure::Usage(anyhow::anyhow!(
                "--quality-baseline needs --inference-attribute or --probability-attribute (where the prediction is in each response)"
            )));
        }
        Ok(Some(replay::QualityOptions {
            baseline: Some(baseline),
            ground_truth,
            spec: PredictionSpec {
                inference: self.inference_attribute.as_deref().map(Attr::parse),
                probability: self.probability_attribute.as_deref().map(Attr::parse),
                ..Default::default()
            },
            probability_threshold: self
                .probability_threshold_attribute
                .unwrap_or(driftwatch::quality::DEFAULT_PROBABILITY_THRESHOLD),
            delay: self.ground_truth_delay,
            enough_share: self.ground_truth_share,
            expiry: self.ground_truth_expiry,
        }))
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    Duration::parse(s).ok_or_else(|| format!("{s:?} is not a duration; write a number and a unit, e.g. 15m, 1h, 1d"))
}

fn main() -> ExitCode {
    // Started by the Lambda runtime (provided.al2023 runs `bootstrap` with no arguments).
    #[cfg(feature = "aws")]
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1 {
        init_logging(true);
        return lambda_main();
    }
    let cli = Cli::parse();
    #[cfg(feature = "aws")]
    let service = matches!(cli.command, Command::Serve { .. });
    #[cfg(not(feature = "aws"))]
    let service = false;
    // JSON logs for the service (containers, CloudWatch), readable ones for the CLI.
    init_logging(service);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {}", chain_text(&e));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("error: {}", chain_text(&e));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes on one line, each cause once: most errors already say their cause
/// (`{path}: {source}`), which `{:#}` would print a second time.
fn chain_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

#[cfg(feature = "aws")]
fn lambda_main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(driftwatch::lambda::run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda runtime stopped");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    /// Bad input or flags: exit code 2.
    Usage(anyhow::Error),
    /// Anything else: exit code 1.
    Runtime(anyhow::Error),
}

fn reject_s3(flag: &str, p: &std::path::Path) -> Result<(), Failure> {
    if p.to_str().is_some_and(|s| s.starts_with("s3://")) {
        return Err(Failure::Usage(anyhow::anyhow!("{flag} {}: takes a local file", p.display())));
    }
    Ok(())
}

/// The async runtime the command-line tools' store calls run on (S3; local stores answer at
/// once). Two threads drive S3's connections while replay's own threads decode.
fn tool_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
        .map_err(Failure::Runtime)
}

/// Opens local folders, and `s3://` locations when built with the `aws` feature.
fn stores(runtime: &tokio::runtime::Runtime) -> Box<dyn StoreFactory<AnyStore>> {
    #[cfg(feature = "aws")]
    return Box::new(driftwatch::store::s3::tool_factory(runtime.handle().clone()));
    #[cfg(not(feature = "aws"))]
    {
        let _ = runtime;
        Box::new(AnyStore::open_local)
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Baseline { input, format, no_header, output, bias_config, quality } => {
            reject_s3("--input", &input)?;
            let format = match format.or_else(|| InputFormat::from_path(&input)) {
                Some(f) => f,
                None => {
                    return Err(Failure::Usage(anyhow::anyhow!(
                        "--input {}: cannot tell the format from the extension; pass --format csv|parquet|jsonl",
                        input.display()
                    )))
                }
            };
            if quality.problem_type.is_none() && bias_config.is_none() {
                let given = [
                    ("--ground-truth-attribute", quality.ground_truth_attribute.is_some()),
                    ("--probability-attribute", quality.probability_attribute.is_some()),
                    ("--probability-threshold-attribute", quality.probability_threshold_attribute.is_some()),
                ];
                if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
                    return Err(Failure::Usage(anyhow::anyhow!(
                        "{flag} needs --problem-type (a model-quality baseline) or --bias-config (a bias baseline)"
                    )));
                }
            }
            let (files, summary) = if let Some(config) = &bias_config {
                let (text, summary) = training::build_bias(
                    &input,
                    format,
                    !no_header,
                    config,
                    quality.ground_truth_attribute.as_deref(),
                    quality.probability_attribute.as_deref(),
                    quality.probability_threshold_attribute,
                )
                .map_err(|e| Failure::Usage(anyhow::anyhow!("{e}")))?;
                (Ok(vec![(driftwatch::bias::analysis::ANALYSIS_FILE, text)]), summary)
            } else if let Some(problem) = quality.problem_type {
                let Some(ground_truth) = quality.ground_truth_attribute else {
                    return Err(Failure::Usage(anyhow::anyhow!(
                        "--problem-type needs --ground-truth-attribute (the label column)"
                    )));
                };
                let attrs = driftwatch::quality::Attributes {
                    ground_truth,
                    inference: quality.inference_attribute,
                    probability: quality.probability_attribute,
                    probability_threshold: quality
                        .probability_threshold_attribute
                        .unwrap_or(driftwatch::quality::DEFAULT_PROBABILITY_THRESHOLD),
                };
                let built = training::build_quality(&input, format, !no_header, problem, attrs)
                    .map_err(|e| Failure::Usage(e.into()))?;
                for s in &built.named {
                    tracing::warn!(line = s.line, column = %s.column, reason = s.reason.as_str(), "row left out");
                }
                let skipped: u64 = built.skipped.values().sum();
                let skipped = if skipped == 0 {
                    String::new()
                } else {
                    let by: Vec<String> = built.skipped.iter().map(|(r, n)| format!("{} {n}", r.as_str())).collect();
                    format!(" ({skipped} rows left out: {})", by.join(", "))
                };
                let summary =
                    format!("{} model quality from {} rows{skipped}", problem.as_str(), built.statistics.item_count);
                (built.file_texts(), summary)
            } else {
                let built = training::build(&input, format, !no_header).map_err(|e| Failure::Usage(e.into()))?;
                let summary = format!("profiled {} rows, {} features", built.rows, built.statistics.features.len());
                (built.file_texts(), summary)
            };
            let files = files.map_err(|e| Failure::Runtime(e.into()))?;
            match Location::parse(&output) {
                Location::Local(dir) => build::write_files(&dir, &files).map_err(|e| Failure::Runtime(e.into()))?,
                at => {
                    let runtime = tool_runtime()?;
                    let store =
                        stores(&runtime).open(&at).map_err(|e| Failure::Usage(anyhow::anyhow!("--output {e}")))?;
                    runtime
                        .block_on(driftwatch::store::write_baseline(&store, &files))
                        .map_err(|e| Failure::Runtime(e.into()))?;
                }
            }
            let output = output.trim_end_matches('/');
            let written: Vec<String> = files.iter().map(|(name, _)| format!("{output}/{name}")).collect();
            println!("{summary} -> {}", written.join(", "));
            Ok(())
        }
        Command::Replay {
            capture,
            baseline,
            window,
            events,
            output,
            report,
            emf,
            monitoring_schedule,
            quality_monitoring_schedule,
            config,
            threads,
            strict,
            max_record_mib,
            fetch_ahead,
            no_sketches,
            quality,
        } => {
            let bias = quality.bias()?;
            let quality = quality.options()?;
            if let Some(e) = &events {
                reject_s3("--events", e)?;
            }
            if let Some(r) = &report {
                reject_s3("--report", r)?;
            }
            if let Some(m) = &emf {
                reject_s3("--emf", m)?;
            }
            let (classifier, event_settings, sketches) = match &config {
                Some(path) => {
                    let c =
                        Config::load(path).map_err(|e| Failure::Usage(anyhow::Error::new(e).context("--config")))?;
                    let s = c.events.settings(None);
                    (c.classifier, s, c.report_sketches)
                }
                None => (Default::default(), EventSettings::default(), true),
            };
            let opts = ReplayOptions {
                capture,
                baseline,
                window,
                events: events.clone(),
                output: output.clone(),
                emf: emf.clone(),
                monitoring_schedule,
                quality_monitoring_schedule,
                report: report.clone(),
                classifier,
                event_settings,
                progress: true,
                threads,
                max_record_bytes: (max_record_mib as usize) << 20,
                fetch_ahead,
                report_sketches: sketches && !no_sketches,
                quality,
                bias,
            };
            let runtime = tool_runtime()?;
            let stores = stores(&runtime);
            let io = replay::ReplayIo { stores: stores.as_ref(), runtime: runtime.handle() };
            let summary = replay::run(&opts, &io).map_err(|e| {
                if e.is_usage() {
                    Failure::Usage(e.into())
                } else {
                    Failure::Runtime(e.into())
                }
            })?;
            let mut out = std::io::stdout().lock();
            replay::print_summary(&summary, &mut out).context("writing the summary").map_err(Failure::Runtime)?;
            if let Some(o) = &output {
                let o = o.trim_end_matches('/');
                println!("\nreports: {o}/<endpoint>/<variant>/yyyy/mm/dd/HH/");
                println!("metrics: {o}/{} ({} rows)", replay::METRICS_FILE, summary.metrics_rows);
                if summary.quality_rows > 0 {
                    println!("quality: {o}/{} ({} rows)", replay::QUALITY_METRICS_FILE, summary.quality_rows);
                }
            }
            if let Some(e) = &events {
                let n: u64 = summary.streams.iter().map(|s| s.events).sum();
                println!("events:  {} ({n})", e.display());
            }
            if let Some(r) = &report {
                println!("report:  {}", r.display());
            }
            if let Some(m) = &emf {
                println!("metrics: {} (CloudWatch embedded metric format)", m.display());
            }
            if strict && !summary.unreadable.is_empty() {
                return Err(Failure::Usage(anyhow::anyhow!(
                    "--strict: {} files could not be read (named above); the rest was replayed",
                    summary.unreadable.len()
                )));
            }
            Ok(())
        }
        #[cfg(feature = "aws")]
        Command::Healthcheck { url, timeout } => {
            let timeout = std::time::Duration::from_millis(timeout.millis().max(1) as u64);
            match driftwatch::serve::http::probe(&url, timeout) {
                Ok(200) => Ok(()),
                Ok(code) => Err(Failure::Runtime(anyhow::anyhow!("{url}: status {code}"))),
                Err(e) => Err(Failure::Runtime(anyhow::anyhow!(e))),
            }
        }
        #[cfg(feature = "aws")]
        Command::Serve { config, shutdown_timeout } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")
                .map_err(Failure::Runtime)?;
            let timeout = std::time::Duration::from_millis(shutdown_timeout.millis().max(0) as u64);
            runtime.block_on(driftwatch::serve::wiring::serve(config.as_deref(), timeout)).map_err(|e| match e {
                driftwatch::serve::ServeError::Config(_)
                | driftwatch::serve::ServeError::Discovery(_)
                | driftwatch::serve::ServeError::Baseline { .. } => Failure::Usage(e.into()),
                other => Failure::Runtime(other.into()),
            })
        }
    }
}

fn init_logging(json_by_default: bool) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_env("DRIFTWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("DRIFTWATCH_LOG_FORMAT") {
        Ok(f) => f.eq_ignore_ascii_case("json"),
        Err(_) => json_by_default,
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    if json {
        builder.json().flatten_event(true).with_current_span(false).init();
    } else {
        // Colour only for a terminal: a log file or a CI capture gets plain text.
        use std::io::IsTerminal as _;
        builder.compact().with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn parse_fetch_ahead(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!("{s:?}: requests ahead, from 1 to 1024")),
    }
}
