//! What a real bucket and a hostile user throw at `driftwatch replay`: each test is named after
//! what it guards. The example's capture is copied, moved, linked, compressed and broken, and
//! the replay must name every stream from the Data Capture layout, read what it can, and count
//! and name what it cannot.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{driftwatch, root, text};

/// The example's capture files, relative to its variant folder.
fn example_files() -> BTreeMap<String, Vec<u8>> {
    common::tree(&root().join("examples/capture/loan-scoring-prod/AllTraffic"))
}

/// Writes `files` (relative to a variant folder) below `dir/{endpoint}/{variant}/`, each path
/// passed through `rename` first.
fn lay_out(dir: &Path, files: &BTreeMap<String, Vec<u8>>, rename: impl Fn(&str) -> String) -> PathBuf {
    let variant = dir.join("loan-scoring-prod/AllTraffic");
    for (rel, bytes) in files {
        let p = variant.join(rename(rel));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    variant
}

/// `replay --capture {capture}` of the example's baseline in `cwd`, events to `events.jsonl`.
fn replay(cwd: &Path, capture: &Path, extra: &[&str]) -> Output {
    let baseline = root().join("baselines/loan-scoring");
    let mut args = vec![
        "replay",
        "--capture",
        capture.to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--events",
        "events.jsonl",
    ];
    args.extend_from_slice(extra);
    driftwatch(cwd, &args)
}

/// The stream lines of a replay's summary (`name windows records ...`).
fn stream_lines(out: &Output) -> Vec<String> {
    text(&out.stdout)
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with(' ') && !l.starts_with("ground") && !l.starts_with("files") && !l.starts_with("not"))
        .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
        .collect()
}

fn events(cwd: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(cwd.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut e: serde_json::Value = serde_json::from_str(l).unwrap();
            e["detail"].as_object_mut().unwrap().remove("reports");
            e
        })
        .collect()
}

/// Wherever `--capture` points in the layout (the variant, a year, a day, an hour, one file),
/// the stream is the endpoint and variant of the layout above it; folders not padded to two
/// digits (`2026/3/2/7`) are the same hours.
#[test]
fn capture_anywhere_in_the_layout_is_named_from_the_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let files = example_files();
    let variant = lay_out(&tmp.path().join("dc"), &files, str::to_owned);
    let whole = tmp.path().join("whole");
    std::fs::create_dir_all(&whole).unwrap();
    let reference = replay(&whole, &variant, &[]);
    assert!(reference.status.success(), "{}", text(&reference.stderr));
    assert_eq!(stream_lines(&reference), vec!["loan-scoring-prod/AllTraffic 120 6886 13708"]);

    // The year folder holds everything: the same windows and events.
    let year = tmp.path().join("year");
    std::fs::create_dir_all(&year).unwrap();
    let out = replay(&year, &variant.join("2026"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(stream_lines(&out), stream_lines(&reference));
    assert_eq!(events(&year), events(&whole));

    // A day, an hour, one file: one stream, named from the layout.
    for (what, below) in [("day", "2026/03/02"), ("hour", "2026/03/02/16")] {
        let cwd = tmp.path().join(what);
        std::fs::create_dir_all(&cwd).unwrap();
        let out = replay(&cwd, &variant.join(below), &[]);
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        let lines = stream_lines(&out);
        assert_eq!(lines.len(), 1, "{what}: {lines:?}");
        assert!(lines[0].starts_with("loan-scoring-prod/AllTraffic "), "{what}: {lines:?}");
    }
    let one = files.keys().find(|k| k.starts_with("2026/03/02/16/")).unwrap();
    let cwd = tmp.path().join("file");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = replay(&cwd, &variant.join(one), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stream_lines(&out)[0].starts_with("loan-scoring-prod/AllTraffic 1 "), "{:?}", stream_lines(&out));

    // Folders not padded, as a hand-made copy may be: the same replay.
    let unpadded = |rel: &str| {
        let parts: Vec<&str> = rel.split('/').collect();
        let trim = |s: &str| s.trim_start_matches('0').to_owned();
        let t = |s: &str| if trim(s).is_empty() { "0".to_owned() } else { trim(s) };
        format!("{}/{}/{}/{}/{}", parts[0], t(parts[1]), t(parts[2]), t(parts[3]), parts[4])
    };
    let copy = lay_out(&tmp.path().join("copy"), &files, unpadded);
    assert!(copy.join("2026/3/2/7").is_dir());
    let cwd = tmp.path().join("unpadded");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = replay(&cwd, &copy, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(stream_lines(&out), stream_lines(&reference));
    assert_eq!(events(&cwd), events(&whole));

    // (An hour folder with fewer than two folders above it, as at a bucket's top, cannot be
    // named: `capture::layout`'s tests and `source`'s S3 test check the error.)
}

/// Linked folders are followed (a link loop is walked once); `.jsonl.gz` files are read; a
/// folder of other files says what it found.
#[test]
fn linked_folders_and_gzip_files_are_read() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    let files = example_files();
    let real = lay_out(&tmp.path().join("real"), &files, str::to_owned);
    let reference = tmp.path().join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    assert!(replay(&reference, &real, &[]).status.success());

    // dc/loan-scoring-prod -> the real endpoint folder, and a loop back to dc inside it.
    let dc = tmp.path().join("dc");
    std::fs::create_dir_all(&dc).unwrap();
    std::os::unix::fs::symlink(real.parent().unwrap(), dc.join("loan-scoring-prod")).unwrap();
    std::os::unix::fs::symlink(&dc, real.join("loop")).unwrap();
    let linked = tmp.path().join("linked");
    std::fs::create_dir_all(&linked).unwrap();
    let out = replay(&linked, &dc, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(events(&linked), events(&reference));
    std::fs::remove_file(real.join("loop")).unwrap();

    // Every other file gzipped (as exports are): the same replay.
    let gz = lay_out(&tmp.path().join("gz"), &files, str::to_owned);
    for (i, rel) in files.keys().enumerate().filter(|(i, _)| i % 2 == 0) {
        let _ = i;
        let p = gz.join(rel);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&std::fs::read(&p).unwrap()).unwrap();
        std::fs::write(p.with_extension("jsonl.gz"), e.finish().unwrap()).unwrap();
        std::fs::remove_file(p).unwrap();
    }
    let cwd = tmp.path().join("gzipped");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = replay(&cwd, &gz, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(events(&cwd), events(&reference));

    // Only other files: the error says what is there.
    let other = tmp.path().join("other/ep/v/2026/03/02/16");
    std::fs::create_dir_all(&other).unwrap();
    for name in ["a.json.gz", "b.json.gz", "notes.txt"] {
        std::fs::write(other.join(name), b"x").unwrap();
    }
    let out = replay(tmp.path(), &tmp.path().join("other"), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("no .jsonl capture files below this location (found 2 .gz files, 1 .txt files)"), "{err}");
}

/// A link that points nowhere and a broken gzip file are counted and named, and the replay goes
/// on; `--strict` makes it exit 2 at the end.
#[test]
fn an_unreadable_file_is_counted_and_the_replay_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let files = example_files();
    let variant = lay_out(&tmp.path().join("dc"), &files, str::to_owned);
    let hour = variant.join("2026/03/02/16");
    std::os::unix::fs::symlink(tmp.path().join("nowhere.jsonl"), hour.join("dangling.jsonl")).unwrap();
    std::fs::write(hour.join("broken.jsonl.gz"), b"not gzip at all").unwrap();
    std::fs::write(hour.join("notes.txt"), b"a note").unwrap();
    let out = replay(tmp.path(), &tmp.path().join("dc"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stream_lines(&out)[0].starts_with("loan-scoring-prod/AllTraffic 120 6886 "), "{stdout}");
    assert!(stdout.contains("files skipped: 2 cannot be read"), "{stdout}");
    assert!(stdout.contains("not capture, not read: 1 files (1 .txt)"), "{stdout}");
    let err = text(&out.stderr);
    assert!(err.contains("dangling.jsonl") && err.contains("broken.jsonl.gz"), "{err}");
    let strict = replay(tmp.path(), &tmp.path().join("dc"), &["--strict"]);
    assert_eq!(strict.status.code(), Some(2), "{}", text(&strict.stderr));
    assert!(text(&strict.stderr).contains("--strict: 2 files could not be read"), "{}", text(&strict.stderr));
}

/// A `constraints.json` naming a feature `statistics.json` does not have: the columns are the
/// statistics' features (every row is monitored, not discarded one column short), and the
/// stray constraint is named.
#[test]
fn a_constraint_without_statistics_is_set_aside_not_made_a_column() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("baseline");
    std::fs::create_dir_all(&base).unwrap();
    let src = root().join("baselines/loan-scoring");
    std::fs::copy(src.join("statistics.json"), base.join("statistics.json")).unwrap();
    let mut cons: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("constraints.json")).unwrap()).unwrap();
    cons["features"].as_array_mut().unwrap().push(serde_json::json!({"name": "ghost", "inferred_type": "String"}));
    std::fs::write(base.join("constraints.json"), serde_json::to_vec(&cons).unwrap()).unwrap();
    let capture = root().join("examples/capture");
    let out = driftwatch(
        tmp.path(),
        &["replay", "--capture", capture.to_str().unwrap(), "--baseline", base.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stream_lines(&out)[0].starts_with("loan-scoring-prod/AllTraffic 120 6886 13708"), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("constraints.json names features statistics.json does not have") && err.contains("ghost"),
        "{err}"
    );
}

/// Every skipped record, row or value is named with its file and line, on stderr and in the
/// window's `drift.json`: a record without a response (its rows profiled without the score),
/// a record of the wrong width without a response (counted once, as `column_count`), and
/// records that come after their window closed (`late_record`).
#[test]
fn every_skip_is_named_with_its_file_and_line_and_counted_once() {
    let tmp = tempfile::tempdir().unwrap();
    let files = example_files();
    let variant = lay_out(&tmp.path().join("dc"), &files, str::to_owned);
    let record = |time: &str, input: &str, output: Option<&str>| {
        let mut capture = serde_json::json!({
            "endpointInput": {"data": input, "encoding": "CSV", "mode": "INPUT", "observedContentType": "text/csv"}
        });
        if let Some(o) = output {
            capture["endpointOutput"] =
                serde_json::json!({"data": o, "encoding": "CSV", "mode": "OUTPUT", "observedContentType": "text/csv"});
        }
        serde_json::json!({"captureData": capture, "eventMetadata": {"eventId": format!("x-{time}"), "inferenceTime": time}, "eventVersion": "0"})
            .to_string()
    };
    let lines = [
        record("2026-03-02T10:05:00Z", "15000.00,62000.00,48,0.3200,7,RENT,DEBT", None),
        record("2026-03-02T10:06:00Z", "15000.00,62000.00,48,0.3200,RENT,DEBT", None),
        // In the 11:00 folder but of 09:30: its window closed when the 10:00 folder was read.
        record("2026-03-02T09:30:00Z", "15000.00,62000.00,48,0.3200,7,RENT,DEBT", Some("0.5")),
    ];
    std::fs::write(variant.join("2026/03/02/10/zz-odd.jsonl"), format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    std::fs::write(variant.join("2026/03/02/11/zz-late.jsonl"), format!("{}\n", lines[2])).unwrap();
    let out = replay(tmp.path(), &tmp.path().join("dc"), &["--output", "out", "--threads", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for (file, line, reason) in [
        ("zz-odd.jsonl", 1, "unpaired_output"),
        ("zz-odd.jsonl", 2, "column_count"),
        ("zz-late.jsonl", 1, "late_record"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(file) && l.contains(&format!("line={line}")) && l.contains(reason)),
            "no {reason} for {file}:{line} on stderr:\n{err}"
        );
    }
    let drift = |hour: &str| -> serde_json::Value {
        let p = tmp.path().join(format!("out/loan-scoring-prod/AllTraffic/2026/03/02/{hour}/drift.json"));
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let ten = drift("10");
    let issues: Vec<&str> = ten["issues"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert!(
        issues.iter().any(|i| i.contains(
            "zz-odd.jsonl:1: unpaired_output: 1 of 1 rows profiled without response columns: no endpointOutput"
        )),
        "{issues:?}"
    );
    assert!(issues.iter().any(|i| i.contains("zz-odd.jsonl:2: column_count")), "{issues:?}");
    // The short row without a response is one skipped row (column_count), not two.
    assert_eq!(
        (ten["skipped"]["unpaired_output"].as_u64(), ten["skipped"]["column_count"].as_u64()),
        (Some(1), Some(1)),
        "{}",
        ten["skipped"]
    );
    // The late record is counted in the next window that closes, named by its file and line.
    let late = drift("11");
    assert_eq!(late["skipped"]["late_record"], 1, "{}", late["skipped"]);
    let issues: Vec<&str> = late["issues"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert!(issues.iter().any(|i| i.contains("zz-late.jsonl:1: late_record")), "{issues:?}");
}

/// Errors are printed once, name the flag or the file and line, exit 2, and come before any
/// work; stderr has no colour codes when it is not a terminal; a byte order mark before the
/// first capture record is read past.
#[test]
fn errors_name_the_flag_once_and_come_first() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("afile"), b"x").unwrap();
    let capture = root().join("examples/capture");
    let base = root().join("baselines/loan-scoring");
    let run = |extra: &[&str]| {
        let mut args = vec!["replay", "--capture", capture.to_str().unwrap(), "--baseline", base.to_str().unwrap()];
        args.extend_from_slice(extra);
        let started = std::time::Instant::now();
        let out = driftwatch(tmp.path(), &args);
        (out, started.elapsed())
    };
    for (extra, want) in [
        (vec!["--output", "afile"], "error: --output afile: exists and is not a folder"),
        (vec!["--report", "/proc/nope/x.html"], "error: --report /proc/nope: cannot be made a folder"),
        (vec!["--events", "."], "error: --events .: is a folder; name a file"),
    ] {
        let (out, _) = run(&extra);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.starts_with(want), "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "printed once: {err}");
        assert!(!err.contains('\u{1b}'), "colour codes: {err:?}");
        assert!(out.stdout.is_empty(), "{extra:?}: no work before the error");
    }
    // A training CSV whose quote never closes: named by its line, not read as one long field.
    std::fs::write(tmp.path().join("q.csv"), "a,b\n1,\"x\n2,y\n3,z\n").unwrap();
    let out = driftwatch(tmp.path(), &["baseline", "--input", "q.csv", "--output", "qb"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("q.csv: line 2: a quoted field opened in this row is never closed"),
        "{}",
        text(&out.stderr)
    );
    // A byte order mark before the first capture record.
    let files = example_files();
    let variant = lay_out(&tmp.path().join("dc"), &files, str::to_owned);
    let first = variant.join(files.keys().next().unwrap());
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(std::fs::read(&first).unwrap());
    std::fs::write(&first, bytes).unwrap();
    let out = replay(tmp.path(), &tmp.path().join("dc"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("malformed_line"), "{}", text(&out.stdout));
    assert!(stream_lines(&out)[0].starts_with("loan-scoring-prod/AllTraffic 120 6886 13708"), "{}", text(&out.stdout));
}

/// A capture record longer than `--max-record-mib` is read past without being held (memory
/// stays bounded whatever the line), counted as `record_too_large` and named; the rest of its
/// file is read.
#[test]
fn a_record_above_the_size_bound_is_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let files = example_files();
    let variant = lay_out(&tmp.path().join("dc"), &files, str::to_owned);
    let rows = "15000.00,62000.00,48,0.3200,7,RENT,DEBT\n".repeat(60_000);
    let scores = "0.5\n".repeat(60_000);
    let big = serde_json::json!({
        "captureData": {
            "endpointInput": {"data": rows, "encoding": "CSV", "mode": "INPUT", "observedContentType": "text/csv"},
            "endpointOutput": {"data": scores, "encoding": "CSV", "mode": "OUTPUT", "observedContentType": "text/csv"}
        },
        "eventMetadata": {"eventId": "big", "inferenceTime": "2026-03-02T16:10:00Z"},
        "eventVersion": "0"
    })
    .to_string();
    assert!(big.len() > 2 << 20);
    let hour = variant.join("2026/03/02/16");
    let first = std::fs::read_dir(&hour).unwrap().next().unwrap().unwrap().path();
    let mut bytes = big.into_bytes();
    bytes.push(b'\n');
    bytes.extend(std::fs::read(&first).unwrap());
    std::fs::write(&first, bytes).unwrap();
    let out = replay(tmp.path(), &tmp.path().join("dc"), &["--max-record-mib", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("skipped: record_too_large 1"), "{stdout}");
    assert!(stream_lines(&out)[0].starts_with("loan-scoring-prod/AllTraffic 120 6886 13708"), "{stdout}");
    assert!(text(&out.stderr).contains("line=1 reason=\"record_too_large\""), "{}", text(&out.stderr));
    // With room for it, the record is read: 60,000 more rows.
    let out = replay(tmp.path(), &tmp.path().join("dc"), &["--max-record-mib", "8"]);
    assert!(stream_lines(&out)[0].starts_with("loan-scoring-prod/AllTraffic 120 6887 73708"), "{}", text(&out.stdout));
}

/// `--no-sketches` (or `[reports] sketches = false`) leaves the KLL sketches out of each
/// window's `statistics.json`, which stays in Model Monitor's schema with its buckets; most of
/// the file's size goes with them.
#[test]
fn window_statistics_can_leave_the_sketches_out() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = root().join("examples/capture");
    let run = |out: &str, extra: &[&str]| {
        let base = root().join("baselines/loan-scoring");
        let mut args = vec!["replay", "--capture", capture.to_str().unwrap(), "--baseline", base.to_str().unwrap()];
        args.extend_from_slice(&["--output", out]);
        args.extend_from_slice(extra);
        let o = driftwatch(tmp.path(), &args);
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    run("with", &[]);
    run("without", &["--no-sketches"]);
    std::fs::write(tmp.path().join("c.toml"), "[reports]\nsketches = false\n").unwrap();
    run("config", &["--config", "c.toml"]);
    let file = |dir: &str| {
        std::fs::read(tmp.path().join(dir).join("loan-scoring-prod/AllTraffic/2026/03/02/16/statistics.json")).unwrap()
    };
    let (with, without) = (file("with"), file("without"));
    assert_eq!(without, file("config"));
    let parse = |b: &[u8]| serde_json::from_slice::<driftwatch::baseline::StatisticsFile>(b).unwrap();
    let (w, wo) = (parse(&with), parse(&without));
    let kll = |s: &driftwatch::baseline::StatisticsFile| {
        s.features[0].numerical_statistics.as_ref().unwrap().distribution.as_ref().unwrap().kll.clone().unwrap()
    };
    assert!(kll(&w).sketch.is_some() && kll(&wo).sketch.is_none());
    assert_eq!(kll(&w).buckets, kll(&wo).buckets, "the buckets stay");
    assert!(without.len() * 3 < with.len(), "{} vs {} bytes", without.len(), with.len());
}
