//! Runs the scenario suite and prints the score table (the one in the README):
//! `cargo run --release --example scenarios [-- --window 1h]`; `--random N [--cyclic] [--seed S]
//! [--kind K]` for randomised streams (with daily and weekly cycles), `--seasonality MODE`,
//! `--only NAME [--verbose] [--why]` to look at one.

use driftwatch::classify::ClassifierConfig;
use driftwatch::time::Duration;
use driftwatch_synth::suite::{random_cyclic_suite_of, random_suite_of, run, score, suite, table};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let window = match args.iter().position(|a| a == "--window") {
        Some(i) => Duration::parse(args.get(i + 1).map(String::as_str).unwrap_or(""))
            .ok_or_else(|| anyhow::anyhow!("--window: bad duration"))?,
        None => Duration::from_hours(1),
    };
    let only: Option<&String> = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
    let mut cfg = ClassifierConfig::default();
    let flag = |name: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<f64>().ok())
    };
    if let Some(v) = flag("--change-evidence") {
        cfg.change_evidence = v;
    }
    if let Some(v) = flag("--confirm") {
        cfg.confirm = v as usize;
    }
    if let Some(v) = flag("--z-level") {
        cfg.z_level = v;
    }
    let mut scores = Vec::new();
    let random: Option<usize> =
        args.iter().position(|a| a == "--random").and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok());
    let seed: u64 =
        args.iter().position(|a| a == "--seed").and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok()).unwrap_or(1);
    let kind = args.iter().position(|a| a == "--kind").and_then(|i| args.get(i + 1)).map(String::as_str);
    let cyclic = args.iter().any(|a| a == "--cyclic");
    if let Some(v) = args.iter().position(|a| a == "--seasonality").and_then(|i| args.get(i + 1)) {
        cfg.seasonality = driftwatch::classify::seasonal::Seasonality::parse(v)
            .ok_or_else(|| anyhow::anyhow!("--seasonality: auto, daily, weekly or none"))?;
    }
    let scenarios = match random {
        Some(n) if cyclic => random_cyclic_suite_of(n, seed, kind),
        Some(n) => random_suite_of(n, seed, kind),
        None => suite(),
    };
    for sc in scenarios {
        if only.is_some_and(|o| o != sc.name) {
            continue;
        }
        let r = run(&sc.spec, window, &sc.config(&cfg)).map_err(anyhow::Error::msg)?;
        if args.iter().any(|a| a == "--verbose") {
            for (start, view) in &r.window_log {
                println!("{start} {}", serde_json::to_value(view)?);
            }
        }
        if args.iter().any(|a| a == "--why") {
            for d in &r.decisions {
                let e = &serde_json::to_value(&d.evidence)?;
                println!(
                    "WHY {} {} {} series={} z={} ev={} sor={} feature={}",
                    sc.name,
                    d.kind.as_str(),
                    e["decision"],
                    e["trend"]["series"].as_str().or(e["lateStep"]["series"].as_str()).unwrap_or("-"),
                    e["trend"]["levelZ"].as_f64().or(e["lateStep"]["levelZ"].as_f64()).unwrap_or(0.0),
                    e["trend"]["changeEvidence"].as_f64().or(e["lateStep"]["changeEvidence"].as_f64()).unwrap_or(0.0),
                    e["trend"]["stepOverRamp"].as_f64().or(e["lateStep"]["stepOverRamp"].as_f64()).unwrap_or(0.0),
                    d.features.first().map(|f| f.name.as_str()).unwrap_or("-"),
                );
            }
        }
        if only.is_some() {
            println!(
                "stream: {} h, peak {}/h, reference {:?} h, features {:?}\ncycles {:?}\nchanges {:?}",
                sc.spec.hours,
                sc.spec.peak_rate,
                sc.reference_hours,
                sc.spec.features.iter().map(|f| (&f.name, &f.kind)).collect::<Vec<_>>(),
                sc.spec.cycles,
                sc.spec.changes
            );
            for d in &r.decisions {
                println!(
                    "{} {} onset {} features {:?}\n  evidence {}",
                    d.detected_at,
                    d.kind.as_str(),
                    d.onset,
                    d.features.iter().map(|f| &f.name).collect::<Vec<_>>(),
                    serde_json::to_value(&d.evidence)?
                );
            }
        }
        scores.push(score(&sc, &r, window));
    }
    print!("{}", table(&scores));
    Ok(())
}
