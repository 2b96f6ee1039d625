//! A small SVG writer for the replay report: time series, step CDFs, grouped bars and an
//! episode timeline, with labelled axes and times in UTC.
//!
//! Colours are CSS classes (`c1`..`c5`, `muted`, `alert`) that the page styles for light and
//! dark schemes, so charts follow the reader's theme. Text goes through [`esc`]; numbers are
//! written with at most two decimals of a pixel, and values that are not finite leave gaps.

use std::fmt::Write as _;

use crate::time::Timestamp;

/// Chart width in pixels (the `viewBox`; the page scales it).
pub const WIDTH: f64 = 760.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;
/// An 11 px label's average character width, to keep labels apart without measuring text.
const LABEL_CHAR_WIDTH: f64 = 6.2;

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Formats a number with three significant digits (as axis labels and tables show them).
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A line of a time chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// CSS class of the stroke.
    pub class: &'static str,
    /// Dashed.
    pub dashed: bool,
    /// `(time in ms, value)`; non-finite values leave a gap.
    pub points: Vec<(i64, f64)>,
}

/// A vertical marker on a time chart.
#[derive(Debug, Clone)]
pub struct Marker {
    /// Time in ms.
    pub at: i64,
    /// Short label drawn at the top.
    pub label: String,
    /// CSS class.
    pub class: &'static str,
}

/// A chart of values over time.
#[derive(Debug, Clone)]
pub struct TimeChart {
    /// The y axis' label.
    pub y_label: String,
    /// The chart's accessible title.
    pub title: String,
    /// Values above this are drawn at it (an L-infinity distance is at most 1; a noise floor of
    /// a tiny window may pass it and would squash the rest).
    pub y_cap: Option<f64>,
    /// Time range in ms.
    pub x_range: (i64, i64),
    /// Lines, drawn in order.
    pub lines: Vec<Line>,
    /// Points drawn as dots (violations), `(time, value)`.
    pub dots: Vec<(i64, f64)>,
    /// Legend text of the dots.
    pub dots_label: String,
    /// Vertical markers.
    pub markers: Vec<Marker>,
    /// Height in pixels.
    pub height: f64,
}

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    h: f64,
}

impl Frame {
    fn new(x0: f64, x1: f64, y0: f64, y1: f64, h: f64) -> Self {
        let (x1, y1) = (if x1 > x0 { x1 } else { x0 + 1.0 }, if y1 > y0 { y1 } else { y0 + 1.0 });
        Frame { x0, x1, y0, y1, h }
    }
    fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        self.h - BOTTOM - (v - self.y0) / (self.y1 - self.y0) * (self.h - TOP - BOTTOM)
    }
}

/// Returns about `n` round tick values covering `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..=n * 2 + 2).map(|i| first + step * i as f64).take_while(|v| *v <= hi + step * 1e-9).collect()
}

const HOUR: i64 = 3_600_000;

/// Tick times for a range in ms: whole hours or days in UTC, about `n` of them.
fn time_ticks(lo: i64, hi: i64, n: usize) -> Vec<i64> {
    let span = (hi - lo).max(1);
    let steps = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 7 * 24 * HOUR, 14 * 24 * HOUR];
    let step = steps
        .iter()
        .copied()
        .find(|s| span / s <= n as i64)
        .unwrap_or(((span / n as i64) / (24 * HOUR) + 1) * 24 * HOUR);
    let first = lo.div_euclid(step) * step + if lo.rem_euclid(step) == 0 { 0 } else { step };
    (0..).map(|i| first + i * step).take_while(|t| *t <= hi).collect()
}

fn time_label(ms: i64, with_day: bool) -> String {
    let c = Timestamp::from_millis(ms).civil();
    if with_day {
        format!("{:02}-{:02} {:02}:00", c.month, c.day, c.hour)
    } else {
        format!("{:02}:00", c.hour)
    }
}

fn open(out: &mut String, h: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {h}" role="img" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title)
    );
}

fn x_axis_time(out: &mut String, f: &Frame, lo: i64, hi: i64) {
    let ticks = time_ticks(lo, hi, 8);
    let with_day = hi - lo > 20 * HOUR;
    let y = f.h - BOTTOM;
    let _ = write!(out, r#"<line class="axis" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#, WIDTH - RIGHT);
    for t in ticks {
        let x = f.x(t as f64);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{y:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            y + 14.0,
            time_label(t, with_day)
        );
    }
    let _ = write!(
        out,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">time (UTC)</text>"#,
        WIDTH - RIGHT,
        f.h - 3.0
    );
}

fn y_axis(out: &mut String, f: &Frame, label: &str) {
    for v in ticks(f.y0, f.y1, 4) {
        let y = f.y(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            num(v)
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}"/><text class="label" transform="translate(12 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        f.h - BOTTOM,
        (f.h - BOTTOM + TOP) / 2.0,
        esc(label)
    );
}

fn path(out: &mut String, f: &Frame, points: impl Iterator<Item = (f64, f64)>, class: &str, dashed: bool, step: bool) {
    let mut d = String::new();
    let mut pen = false;
    for (x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            pen = false;
            continue;
        }
        let (px, py) = (f.x(x), f.y(y));
        if !pen {
            let _ = write!(d, "M{px:.1} {py:.1}");
        } else if step {
            let _ = write!(d, "H{px:.1}V{py:.1}");
        } else {
            let _ = write!(d, "L{px:.1} {py:.1}");
        }
        pen = true;
    }
    if d.is_empty() {
        return;
    }
    let dash = if dashed { r#" stroke-dasharray="5 4""# } else { "" };
    let _ = write!(out, r#"<path class="line {class}" d="{d}"{dash}/>"#);
}

/// Height of one legend row.
const LEGEND_ROW: f64 = 16.0;

/// Where each legend entry goes: `(x, row)`, wrapping at the chart's right edge.
fn legend_layout(entries: &[(String, &str, bool, bool)]) -> Vec<(f64, usize)> {
    let mut out = Vec::with_capacity(entries.len());
    let (mut x, mut row) = (LEFT + 4.0, 0);
    for (label, ..) in entries {
        let width = 30.0 + LABEL_CHAR_WIDTH * label.chars().count() as f64;
        if x > LEFT + 4.0 && x + width - 8.0 > WIDTH - RIGHT {
            x = LEFT + 4.0;
            row += 1;
        }
        out.push((x, row));
        x += width;
    }
    out
}

fn legend(out: &mut String, entries: &[(String, &str, bool, bool)]) {
    for ((label, class, dashed, dot), (x, row)) in entries.iter().zip(legend_layout(entries)) {
        let y = 9.0 + LEGEND_ROW * row as f64;
        if *dot {
            let _ = write!(out, r#"<circle class="dot" cx="{:.1}" cy="{y:.1}" r="3.5"/>"#, x + 8.0);
        } else {
            let dash = if *dashed { r#" stroke-dasharray="5 4""# } else { "" };
            let _ = write!(out, r#"<path class="line {class}" d="M{x:.1} {y:.1}h18"{dash}/>"#);
        }
        let _ = write!(out, r#"<text class="legend" x="{:.1}" y="{:.1}">{}</text>"#, x + 22.0, y + 3.0, esc(label));
    }
}

/// Renders a time chart.
pub fn time_chart(c: &TimeChart) -> String {
    let h = c.height;
    let ymax = c
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .chain(c.dots.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let ymax = c.y_cap.map_or(ymax, |cap| ymax.min(cap));
    let ymax = if ymax > 0.0 { ymax * 1.08 } else { 1.0 };
    // Not `f64::min`, which turns a gap (NaN) into the cap.
    let cap = |v: f64| match c.y_cap {
        Some(cap) if v > cap => cap,
        _ => v,
    };
    let f = Frame::new(c.x_range.0 as f64, c.x_range.1 as f64, 0.0, ymax, h);
    let mut entries: Vec<(String, &str, bool, bool)> =
        c.lines.iter().map(|l| (l.label.clone(), l.class, l.dashed, false)).collect();
    if !c.dots.is_empty() {
        entries.push((c.dots_label.clone(), "", false, true));
    }
    // A legend of more than one row pushes the plot down.
    let extra = LEGEND_ROW * legend_layout(&entries).last().map_or(0, |e| e.1) as f64;
    let mut out = String::new();
    open(&mut out, h + extra, &c.title);
    legend(&mut out, &entries);
    if extra > 0.0 {
        let _ = write!(out, r#"<g transform="translate(0 {extra:.1})">"#);
    }
    x_axis_time(&mut out, &f, c.x_range.0, c.x_range.1);
    y_axis(&mut out, &f, &c.y_label);
    let mut markers: Vec<&Marker> = c.markers.iter().collect();
    markers.sort_by_key(|m| m.at);
    // Labels go on the first row where they do not overlap the previous label of that row.
    let mut row_ends: Vec<f64> = Vec::new();
    for m in markers {
        let x = f.x(m.at as f64);
        let width = LABEL_CHAR_WIDTH * m.label.chars().count() as f64;
        let row = match row_ends.iter().position(|&end| end < x) {
            Some(r) => r,
            None => {
                row_ends.push(f64::NEG_INFINITY);
                row_ends.len() - 1
            }
        };
        row_ends[row] = x + 3.0 + width + 4.0;
        let _ = write!(
            out,
            r#"<line class="marker {}" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"/><text class="mlabel {}" x="{:.1}" y="{:.1}">{}</text>"#,
            m.class,
            h - BOTTOM,
            m.class,
            x + 3.0,
            TOP + 22.0 + 13.0 * row as f64,
            esc(&m.label)
        );
    }
    for l in &c.lines {
        path(&mut out, &f, l.points.iter().map(|&(t, v)| (t as f64, cap(v))), l.class, l.dashed, false);
    }
    for &(t, v) in &c.dots {
        if v.is_finite() {
            let _ = write!(out, r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="3"/>"#, f.x(t as f64), f.y(cap(v)));
        }
    }
    if extra > 0.0 {
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// Renders two step CDFs over `x_label`: `(value, cumulative share)` points, sorted.
pub fn cdf_chart(x_label: &str, baseline: &[(f64, f64)], window: &[(f64, f64)], window_label: &str) -> String {
    let h = 220.0;
    let xs = baseline.iter().chain(window).map(|p| p.0).filter(|v| v.is_finite());
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.02).max(1e-9);
    let f = Frame::new(lo - pad, hi + pad, 0.0, 1.0, h);
    let mut out = String::new();
    open(&mut out, h, &format!("distribution of {x_label}"));
    let y = h - BOTTOM;
    let _ = write!(out, r#"<line class="axis" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#, WIDTH - RIGHT);
    for v in ticks(lo, hi, 6) {
        let x = f.x(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{y:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            y + 14.0,
            num(v)
        );
    }
    let _ = write!(
        out,
        r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        WIDTH - RIGHT,
        h - 3.0,
        esc(x_label)
    );
    y_axis(&mut out, &f, "share ≤ value");
    let with_ends = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        let mut v = Vec::with_capacity(pts.len() + 2);
        if let Some(first) = pts.first() {
            v.push((lo - pad, 0.0));
            v.push((first.0, 0.0));
        }
        v.extend_from_slice(pts);
        if pts.last().is_some() {
            v.push((hi + pad, 1.0));
        }
        v
    };
    path(&mut out, &f, with_ends(baseline).into_iter(), "c1", false, true);
    path(&mut out, &f, with_ends(window).into_iter(), "c2", false, true);
    legend(&mut out, &[("baseline".into(), "c1", false, false), (window_label.into(), "c2", false, false)]);
    out.push_str("</svg>");
    out
}

/// Renders grouped bars: `(category, baseline share, window share)`.
pub fn bar_chart(bars: &[(String, f64, f64)], window_label: &str) -> String {
    let h = 220.0;
    let ymax = bars.iter().flat_map(|b| [b.1, b.2]).filter(|v| v.is_finite()).fold(0.0f64, f64::max).max(0.05) * 1.1;
    let f = Frame::new(0.0, bars.len().max(1) as f64, 0.0, ymax, h);
    let mut out = String::new();
    open(&mut out, h, "category shares");
    y_axis(&mut out, &f, "share of rows");
    let y0 = f.y(0.0);
    let _ = write!(out, r#"<line class="axis" x1="{LEFT}" y1="{y0:.1}" x2="{:.1}" y2="{y0:.1}"/>"#, WIDTH - RIGHT);
    let slot = f.x(1.0) - f.x(0.0);
    let bw = (slot * 0.36).min(40.0);
    for (i, (name, b, w)) in bars.iter().enumerate() {
        let cx = f.x(i as f64 + 0.5);
        for (v, class, dx) in [(*b, "c1", -bw), (*w, "c2", 0.0)] {
            if v.is_finite() && v > 0.0 {
                let top = f.y(v);
                let _ = write!(
                    out,
                    r#"<rect class="bar {class}" x="{:.1}" y="{top:.1}" width="{bw:.1}" height="{:.1}"/>"#,
                    cx + dx,
                    (y0 - top).max(0.5)
                );
            }
        }
        let label: String = name.chars().take(14).collect();
        let _ = write!(
            out,
            r#"<text class="tick" x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            y0 + 14.0,
            esc(&label)
        );
    }
    legend(&mut out, &[("baseline".into(), "c1", false, false), (window_label.into(), "c2", false, false)]);
    out.push_str("</svg>");
    out
}

/// One episode on a timeline.
#[derive(Debug, Clone)]
pub struct Span {
    /// Onset (ms).
    pub onset: i64,
    /// Decision (ms).
    pub decided: i64,
    /// Resolution (ms), or the end of the replay.
    pub end: i64,
    /// Whether it was resolved.
    pub resolved: bool,
    /// CSS class (`sudden`, `gradual`).
    pub class: &'static str,
    /// Label.
    pub label: String,
}

/// Renders episodes as bars over the replay's time range: the bar runs from onset to
/// resolution, a triangle marks the decision.
pub fn timeline(range: (i64, i64), spans: &[Span]) -> String {
    let rows = spans.len().max(1) as f64;
    let h = TOP + BOTTOM + 26.0 * rows + 8.0;
    let f = Frame::new(range.0 as f64, range.1 as f64, 0.0, 1.0, h);
    let mut out = String::new();
    open(&mut out, h, "episodes");
    x_axis_time(&mut out, &f, range.0, range.1);
    for (i, s) in spans.iter().enumerate() {
        let y = TOP + 6.0 + 26.0 * i as f64;
        let (x0, x1) = (f.x(s.onset as f64), f.x(s.end as f64).max(f.x(s.onset as f64) + 2.0));
        let xd = f.x(s.decided as f64);
        let open_end = if s.resolved { "" } else { " open" };
        let _ = write!(
            out,
            r#"<rect class="span {}{open_end}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="14" rx="3"/><path class="decision" d="M{xd:.1} {:.1}l-5 -7h10z"/><text class="legend" x="{:.1}" y="{:.1}">{}</text>"#,
            s.class,
            x1 - x0,
            y - 1.0,
            (x1 + 6.0).min(WIDTH - 200.0),
            y + 11.0,
            esc(&s.label)
        );
    }
    out.push_str("</svg>");
    out
}

/// Keeps at most `max` points of a series: consecutive points are pooled in equal groups, each
/// keeping its first time and its largest value (so peaks stay visible).
pub fn downsample(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let group = points.len().div_ceil(max);
    points
        .chunks(group)
        .map(|c| (c[0].0, c.iter().map(|p| p.1).filter(|v| v.is_finite()).fold(f64::NAN, f64::max)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(ticks(0.0, 0.37, 4), vec![0.0, 0.1, 0.2, 0.30000000000000004]);
        let t = time_ticks(0, 120 * HOUR, 8);
        assert!(t.len() <= 9 && t.iter().all(|x| x % (24 * HOUR) == 0), "{t:?}");
    }

    #[test]
    fn escaping_and_numbers() {
        assert_eq!(esc(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(num(0.12345), "0.123");
        assert_eq!(num(15000.4), "15000");
        assert_eq!(num(f64::NAN), "–");
        assert_eq!(num(2.5e-7), "2.50e-7");
    }

    #[test]
    fn gaps_and_downsampling() {
        let c = TimeChart {
            y_label: "d".into(),
            title: "t".into(),
            y_cap: None,
            x_range: (0, 10 * HOUR),
            lines: vec![Line {
                label: "x".into(),
                class: "c1",
                dashed: false,
                points: vec![(0, 0.1), (HOUR, f64::NAN), (2 * HOUR, 0.3), (3 * HOUR, 0.2)],
            }],
            dots: vec![],
            dots_label: String::new(),
            markers: vec![],
            height: 200.0,
        };
        let svg = time_chart(&c);
        assert_eq!(svg.matches("<path class=\"line c1\"").count(), 2, "{svg}");
        let d = svg.split("d=\"M").nth(1).unwrap();
        assert!(!d.contains("NaN"));
        let many: Vec<(i64, f64)> = (0..1000).map(|i| (i, if i == 777 { 5.0 } else { 1.0 })).collect();
        let small = downsample(&many, 100);
        assert_eq!(small.len(), 100);
        assert!(small.iter().any(|p| p.1 == 5.0), "the peak survives");
    }

    #[test]
    fn marker_labels_stack_and_values_are_capped() {
        let marker = |at: i64, label: &str| Marker { at, label: label.into(), class: "sudden" };
        let c = TimeChart {
            y_label: "d".into(),
            title: "t".into(),
            y_cap: Some(1.0),
            x_range: (0, 100 * HOUR),
            lines: vec![Line {
                label: "x".into(),
                class: "c1",
                dashed: false,
                points: vec![(0, f64::NAN), (HOUR, 0.5), (2 * HOUR, 1.9)],
            }],
            dots: vec![(HOUR, 1.9)],
            dots_label: "v".into(),
            // Two labels an hour apart would overlap; one far away goes back to the first row.
            markers: vec![marker(HOUR, "onset"), marker(2 * HOUR, "sudden decided"), marker(60 * HOUR, "resolved")],
            height: 200.0,
        };
        let svg = time_chart(&c);
        let label_y = |label: &str| -> f64 {
            let at = svg.find(&format!(">{label}</text>")).unwrap();
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y = tag.split("y=\"").nth(1).unwrap();
            y[..y.find('"').unwrap()].parse().unwrap()
        };
        assert!(label_y("sudden decided") > label_y("onset"));
        assert_eq!(label_y("resolved"), label_y("onset"));
        // A gap stays a gap under the cap: the line starts at the second point.
        // The series' path, not the legend's swatch (a short `h18` stroke).
        let d = svg
            .split("<path class=\"line c1\" d=\"")
            .skip(1)
            .filter_map(|d| d.split('"').next())
            .find(|d| !d.ends_with("h18"))
            .unwrap();
        assert_eq!(d.matches('M').count() + d.matches('L').count(), 2, "{d}");
        // The top tick is 1 (1.08 with the margin), not 1.9.
        assert!(svg.contains(">1.00</text>") && !svg.contains(">1.50</text>"), "{svg}");
    }
}
