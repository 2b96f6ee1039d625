//! `replay --report FILE.html`: the bundled example's page as the README's first command writes
//! it, parsed whole, outlined against a snapshot and loaded in headless Chromium; and a long
//! replay whose page stays small.

#![allow(clippy::unwrap_used)] // tests: a panic is a failure with its message

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{driftwatch, root, text};
use driftwatch::publish::html::{DRAWN_POINTS, KEPT_POINTS};

/// Replays the bundled example from the project folder with the README's relative paths (the
/// page names them), writing the report to `out`.
fn example_report(out: &Path) -> String {
    let report = out.join("report.html");
    let run = driftwatch(
        &root(),
        &[
            "replay",
            "--capture",
            "examples/capture",
            "--baseline",
            "baselines/loan-scoring",
            "--quality-baseline",
            "baselines/loan-scoring-quality",
            "--ground-truth",
            "examples/ground-truth",
            "--probability-attribute",
            "0",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "stdout:\n{}\nstderr:\n{}", text(&run.stdout), text(&run.stderr));
    assert!(text(&run.stdout).contains(&format!("report:  {}", report.display())), "{}", text(&run.stdout));
    std::fs::read_to_string(&report).unwrap()
}

/// Parses the page as XML (its `<!DOCTYPE html>` is a DTD to the parser).
fn parse(html: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    roxmltree::Document::parse_with_options(html, roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() })
}

fn text_of(n: roxmltree::Node<'_, '_>) -> String {
    let t: String = n.descendants().filter(|d| d.is_text()).filter_map(|d| d.text()).collect();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The page's structure: headings, tables with their header cells and row counts, charts with
/// their titles and how many marks of each kind they draw, and the sentences that explain.
fn outline(doc: &roxmltree::Document<'_>) -> String {
    let mut out = String::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        let name = n.tag_name().name();
        let class = n.attribute("class").unwrap_or("");
        match name {
            "h1" | "h2" | "h3" => out.push_str(&format!("{name} {}\n", text_of(n))),
            "table" => {
                let heads: Vec<String> = n.descendants().filter(|c| c.has_tag_name("th")).map(text_of).collect();
                let rows = n.children().filter(|c| c.has_tag_name("tr")).count();
                out.push_str(&format!("  table.{class} rows={rows} [{}]\n", heads.join(" | ")));
            }
            "svg" => {
                let title = n.children().find(|c| c.has_tag_name("title")).map(text_of).unwrap_or_default();
                let count = |tag: &str| n.descendants().filter(|c| c.has_tag_name(tag)).count();
                out.push_str(&format!(
                    "  svg \"{title}\" paths={} circles={} rects={} lines={}\n",
                    count("path"),
                    count("circle"),
                    count("rect"),
                    count("line")
                ));
            }
            "p" if n.ancestors().any(|a| a.attribute("class") == Some("card feature")) => {
                out.push_str(&format!("  p {}\n", text_of(n)));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn the_example_report_is_one_well_formed_self_contained_page() {
    let tmp = tempfile::tempdir().unwrap();
    let html = example_report(tmp.path());
    // Well-formed XML throughout, inline SVG included.
    let doc = parse(&html).unwrap_or_else(|e| panic!("report is not well-formed: {e}"));
    // Nothing to fetch: no script, no external style, image or font; the only URL is the SVG
    // namespace.
    for n in doc.descendants().filter(|n| n.is_element()) {
        for a in ["src", "href"] {
            assert!(n.attribute(a).is_none(), "<{}> has {a}", n.tag_name().name());
        }
        assert!(!["script", "link", "img", "iframe", "object"].contains(&n.tag_name().name()));
    }
    for needle in ["url(", "@import", "@font-face"] {
        assert!(!html.contains(needle), "report holds {needle}");
    }
    let urls = html.matches("http").count();
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces, "a URL besides the SVG namespace");
    // Light and dark.
    assert!(html.contains("prefers-color-scheme: dark"));
    insta::assert_snapshot!("example_report_outline", outline(&doc));
}

/// Chromium as the test command installs it (`CHROMIUM_BIN`), or Debian's package.
fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHROMIUM_BIN") {
        let p = PathBuf::from(p);
        assert!(p.exists(), "CHROMIUM_BIN={} does not exist", p.display());
        return Some(p);
    }
    let p = PathBuf::from("/usr/bin/chromium");
    p.exists().then_some(p)
}

fn headless(browser: &Path, profile: &Path, extra: &[&str], page: &Path) -> Output {
    let out = Command::new("timeout")
        .arg("120")
        .arg(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}\n{}", out.status, text(&out.stderr));
    out
}

/// Console messages (an invalid SVG attribute, a failed load) as Chromium logs them.
fn console_messages(stderr: &[u8]) -> Vec<String> {
    text(stderr).lines().filter(|l| l.contains(":CONSOLE")).map(str::to_owned).collect()
}

#[test]
fn the_example_report_loads_in_headless_chromium_without_errors() {
    let Some(browser) = chromium() else {
        driftwatch::testing::skip("no /usr/bin/chromium (apt-get install chromium; ./scripts/test installs it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let html = example_report(tmp.path());
    let page = tmp.path().join("report.html");

    // The document as the browser built it, and every request it made on the page's behalf.
    let net = tmp.path().join("net.json");
    let dom = headless(
        &browser,
        &tmp.path().join("profile-dom"),
        &["--dump-dom", &format!("--log-net-log={}", net.display())],
        &page,
    );
    assert_eq!(console_messages(&dom.stderr), Vec::<String>::new());
    let dumped = text(&dom.stdout);
    assert!(dumped.contains("<h1>driftwatch replay</h1>"), "{}", &dumped[..dumped.len().min(400)]);
    assert_eq!(dumped.matches("<svg").count(), html.matches("<svg").count(), "charts lost in parsing");
    assert!(dumped.matches("<svg").count() >= 7, "the example has a timeline and two charts per feature");
    let log: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&net).unwrap()).unwrap();
    let from_page: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["params"]["network_isolation_key"].as_str().is_some_and(|k| k.contains("file://")))
        .filter_map(|e| e["params"]["url"].as_str())
        .collect();
    assert_eq!(from_page, Vec::<&str>::new(), "the page fetched something");

    // A screenshot in light and one in dark: rendered, not blank.
    for (name, extra) in [("light", None), ("dark", Some("--force-dark-mode"))] {
        let png = tmp.path().join(format!("{name}.png"));
        let mut args = vec!["--window-size=1100,2400".to_owned(), format!("--screenshot={}", png.display())];
        args.extend(extra.map(str::to_owned));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let shot = headless(&browser, &tmp.path().join(format!("profile-{name}")), &args, &page);
        assert_eq!(console_messages(&shot.stderr), Vec::<String>::new());
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
        // A blank 1100 x 2400 page compresses to a few kB; charts and text take far more.
        assert!(bytes.len() > 100_000, "{name}: screenshot of {} bytes looks blank", bytes.len());
    }
}

/// How many points a path's `d` draws.
fn vertices(d: &str) -> usize {
    d.chars().filter(|c| matches!(c, 'M' | 'L' | 'H')).count()
}

#[test]
fn a_long_replay_keeps_the_report_small() {
    // Three months of hourly windows with the example's episodes, a few requests an hour.
    let mut spec = driftwatch_synth::example_spec();
    spec.hours = 24 * 92;
    spec.peak_rate = 40.0;
    spec.max_rows = 1;
    let tmp = tempfile::tempdir().unwrap();
    let capture = tmp.path().join("capture");
    spec.write_capture(&capture).unwrap();
    let report = tmp.path().join("long.html");
    let baseline = root().join("baselines/loan-scoring");
    let run = driftwatch(
        tmp.path(),
        &[
            "replay",
            "--capture",
            capture.to_str().unwrap(),
            "--baseline",
            baseline.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    let windows: usize = stdout
        .lines()
        .find(|l| l.starts_with("loan-scoring-prod/AllTraffic"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no window count in {stdout}"));
    assert!(windows > 2 * KEPT_POINTS, "{windows} windows do not make the series pool");
    let html = std::fs::read_to_string(&report).unwrap();
    let doc = parse(&html).unwrap();
    let longest = doc.descendants().filter_map(|n| n.attribute("d")).map(vertices).max().unwrap_or(0);
    assert!(longest > DRAWN_POINTS / 2, "series drawn with {longest} points");
    assert!(longest <= DRAWN_POINTS + 1, "a path of {longest} points for {windows} windows");
    eprintln!("{windows} windows: a report of {} bytes, the longest path {longest} points", html.len());
    // Over 2,048 windows of eight features: the page stays the size of a short replay's.
    assert!(html.len() < 400_000, "report of {} bytes", html.len());
}
