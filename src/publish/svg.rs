//! A small SVG writer for the replay report: time series, step CDFs, grouped bars and an
//! episode timeline, with labelled axes and times in UTC.
//!
//! Colours are CSS classes (`c1`..`c5`, `muted`, `alert`) that the page styles for light and
//! dark schemes, so charts follow the reader's theme. Markup comes from maud templates, which
//! escape every interpolated text; coordinates are written with one decimal of a pixel, and
//! values that are not finite leave gaps. SVG elements are written with an end tag, so the
//! page is well-formed XML as well as HTML.

use std::fmt::Write as _;

use maud::{html, Markup};

use crate::time::Timestamp;

/// Chart width in pixels (the `viewBox`; the page scales it).
pub const WIDTH: f64 = 760.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;
/// An 11 px label's average character width, to keep labels apart without measuring text.
const LABEL_CHAR_WIDTH: f64 = 6.2;

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

/// A coordinate as the charts write it: one decimal of a pixel.
#[derive(Debug, Clone, Copy)]
struct P(f64);

impl std::fmt::Display for P {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// The chart's outer element: its size and accessible title around `body`.
fn chart(h: f64, title: &str, body: Markup) -> Markup {
    html! {
        svg class="chart" viewBox=(format!("0 0 {WIDTH} {h}")) role="img" xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            (body)
        }
    }
}

fn x_axis_time(f: &Frame, lo: i64, hi: i64) -> Markup {
    let ticks = time_ticks(lo, hi, 8);
    let with_day = hi - lo > 20 * HOUR;
    let y = P(f.h - BOTTOM);
    html! {
        line class="axis" x1=(LEFT) y1=(y) x2=(P(WIDTH - RIGHT)) y2=(y) {}
        @for t in ticks {
            @let x = P(f.x(t as f64));
            line class="grid" x1=(x) y1=(TOP) x2=(x) y2=(y) {}
            text class="tick" x=(x) y=(P(y.0 + 14.0)) text-anchor="middle" { (time_label(t, with_day)) }
        }
        text class="label" x=(P(WIDTH - RIGHT)) y=(P(f.h - 3.0)) text-anchor="end" { "time (UTC)" }
    }
}

fn y_axis(f: &Frame, label: &str) -> Markup {
    html! {
        @for v in ticks(f.y0, f.y1, 4) {
            @let y = f.y(v);
            line class="grid" x1=(LEFT) y1=(P(y)) x2=(P(WIDTH - RIGHT)) y2=(P(y)) {}
            text class="tick" x=(P(LEFT - 6.0)) y=(P(y + 4.0)) text-anchor="end" { (num(v)) }
        }
        line class="axis" x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(P(f.h - BOTTOM)) {}
        text class="label" transform=(format!("translate(12 {}) rotate(-90)", P((f.h - BOTTOM + TOP) / 2.0))) text-anchor="middle" { (label) }
    }
}

/// A polyline (or steps) through `points`; non-finite points leave gaps.
fn path(f: &Frame, points: impl Iterator<Item = (f64, f64)>, class: &str, dashed: bool, step: bool) -> Markup {
    let mut d = String::new();
    let mut pen = false;
    for (x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            pen = false;
            continue;
        }
        let (px, py) = (P(f.x(x)), P(f.y(y)));
        // Numbers only: the path data needs no escaping (the attribute gets it anyway).
        let _ = if !pen {
            write!(d, "M{px} {py}")
        } else if step {
            write!(d, "H{px}V{py}")
        } else {
            write!(d, "L{px} {py}")
        };
        pen = true;
    }
    html! {
        @if !d.is_empty() {
            path class=(format!("line {class}")) d=(d) stroke-dasharray=[dashed.then_some("5 4")] {}
        }
    }
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

fn legend(entries: &[(String, &str, bool, bool)]) -> Markup {
    html! {
        @for ((label, class, dashed, dot), (x, row)) in entries.iter().zip(legend_layout(entries)) {
            @let y = 9.0 + LEGEND_ROW * row as f64;
            @if *dot {
                circle class="dot" cx=(P(x + 8.0)) cy=(P(y)) r="3.5" {}
            } @else {
                path class=(format!("line {class}")) d=(format!("M{} {}h18", P(x), P(y))) stroke-dasharray=[dashed.then_some("5 4")] {}
            }
            text class="legend" x=(P(x + 22.0)) y=(P(y + 3.0)) { (label) }
        }
    }
}

/// Renders a time chart.
pub fn time_chart(c: &TimeChart) -> Markup {
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
    // A line without a label (the second edge of a band) has no legend entry.
    let mut entries: Vec<(String, &str, bool, bool)> =
        c.lines.iter().filter(|l| !l.label.is_empty()).map(|l| (l.label.clone(), l.class, l.dashed, false)).collect();
    if !c.dots.is_empty() {
        entries.push((c.dots_label.clone(), "", false, true));
    }
    // A legend of more than one row pushes the plot down.
    let extra = LEGEND_ROW * legend_layout(&entries).last().map_or(0, |e| e.1) as f64;
    let mut markers: Vec<&Marker> = c.markers.iter().collect();
    markers.sort_by_key(|m| m.at);
    // Labels go on the first row where they do not overlap the previous label of that row.
    let mut row_ends: Vec<f64> = Vec::new();
    let placed: Vec<(&Marker, f64, usize)> = markers
        .into_iter()
        .map(|m| {
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
            (m, x, row)
        })
        .collect();
    let plot = html! {
        (x_axis_time(&f, c.x_range.0, c.x_range.1))
        (y_axis(&f, &c.y_label))
        @for (m, x, row) in &placed {
            line class=(format!("marker {}", m.class)) x1=(P(*x)) y1=(TOP) x2=(P(*x)) y2=(P(h - BOTTOM)) {}
            text class=(format!("mlabel {}", m.class)) x=(P(x + 3.0)) y=(P(TOP + 22.0 + 13.0 * *row as f64)) { (m.label) }
        }
        @for l in &c.lines {
            (path(&f, l.points.iter().map(|&(t, v)| (t as f64, cap(v))), l.class, l.dashed, false))
        }
        @for &(t, v) in &c.dots {
            @if v.is_finite() {
                circle class="dot" cx=(P(f.x(t as f64))) cy=(P(f.y(cap(v)))) r="3" {}
            }
        }
    };
    chart(
        h + extra,
        &c.title,
        html! {
            (legend(&entries))
            @if extra > 0.0 {
                g transform=(format!("translate(0 {})", P(extra))) { (plot) }
            } @else {
                (plot)
            }
        },
    )
}

/// Renders two step CDFs over `x_label`: `(value, cumulative share)` points, sorted.
pub fn cdf_chart(x_label: &str, baseline: &[(f64, f64)], window: &[(f64, f64)], window_label: &str) -> Markup {
    let h = 220.0;
    let xs = baseline.iter().chain(window).map(|p| p.0).filter(|v| v.is_finite());
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.02).max(1e-9);
    let f = Frame::new(lo - pad, hi + pad, 0.0, 1.0, h);
    let y = P(h - BOTTOM);
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
    let entries = [("baseline".into(), "c1", false, false), (window_label.into(), "c2", false, false)];
    chart(
        h,
        &format!("distribution of {x_label}"),
        html! {
            line class="axis" x1=(LEFT) y1=(y) x2=(P(WIDTH - RIGHT)) y2=(y) {}
            @for v in ticks(lo, hi, 6) {
                @let x = P(f.x(v));
                line class="grid" x1=(x) y1=(TOP) x2=(x) y2=(y) {}
                text class="tick" x=(x) y=(P(y.0 + 14.0)) text-anchor="middle" { (num(v)) }
            }
            text class="label" x=(P(WIDTH - RIGHT)) y=(P(h - 3.0)) text-anchor="end" { (x_label) }
            (y_axis(&f, "share ≤ value"))
            (path(&f, with_ends(baseline).into_iter(), "c1", false, true))
            (path(&f, with_ends(window).into_iter(), "c2", false, true))
            (legend(&entries))
        },
    )
}

/// Renders grouped bars: `(category, baseline share, window share)`.
pub fn bar_chart(bars: &[(String, f64, f64)], window_label: &str) -> Markup {
    let h = 220.0;
    let ymax = bars.iter().flat_map(|b| [b.1, b.2]).filter(|v| v.is_finite()).fold(0.0f64, f64::max).max(0.05) * 1.1;
    let f = Frame::new(0.0, bars.len().max(1) as f64, 0.0, ymax, h);
    let y0 = f.y(0.0);
    let slot = f.x(1.0) - f.x(0.0);
    let bw = (slot * 0.36).min(40.0);
    let entries = [("baseline".into(), "c1", false, false), (window_label.into(), "c2", false, false)];
    chart(
        h,
        "category shares",
        html! {
            (y_axis(&f, "share of rows"))
            line class="axis" x1=(LEFT) y1=(P(y0)) x2=(P(WIDTH - RIGHT)) y2=(P(y0)) {}
            @for (i, (name, b, w)) in bars.iter().enumerate() {
                @let cx = f.x(i as f64 + 0.5);
                @for (v, class, dx) in [(*b, "c1", -bw), (*w, "c2", 0.0)] {
                    @if v.is_finite() && v > 0.0 {
                        @let top = f.y(v);
                        rect class=(format!("bar {class}")) x=(P(cx + dx)) y=(P(top)) width=(P(bw)) height=(P((y0 - top).max(0.5))) {}
                    }
                }
                text class="tick" x=(P(cx)) y=(P(y0 + 14.0)) text-anchor="middle" { (name.chars().take(14).collect::<String>()) }
            }
            (legend(&entries))
        },
    )
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
pub fn timeline(range: (i64, i64), spans: &[Span]) -> Markup {
    let rows = spans.len().max(1) as f64;
    let h = TOP + BOTTOM + 26.0 * rows + 8.0;
    let f = Frame::new(range.0 as f64, range.1 as f64, 0.0, 1.0, h);
    chart(
        h,
        "episodes",
        html! {
            (x_axis_time(&f, range.0, range.1))
            @for (i, s) in spans.iter().enumerate() {
                @let y = TOP + 6.0 + 26.0 * i as f64;
                @let (x0, x1) = (f.x(s.onset as f64), f.x(s.end as f64).max(f.x(s.onset as f64) + 2.0));
                @let xd = f.x(s.decided as f64);
                rect class=(format!("span {}{}", s.class, if s.resolved { "" } else { " open" })) x=(P(x0)) y=(P(y)) width=(P(x1 - x0)) height="14" rx="3" {}
                path class="decision" d=(format!("M{} {}l-5 -7h10z", P(xd), P(y - 1.0))) {}
                text class="legend" x=(P((x1 + 6.0).min(WIDTH - 200.0))) y=(P(y + 11.0)) { (s.label) }
            }
        },
    )
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
        // Every text goes through the template's escaping: a label cannot open an element.
        let svg = bar_chart(&[(r#"<a & "b">"#.into(), 0.5, 0.5)], "</svg><script>").into_string();
        assert!(svg.contains("&lt;a &amp; &quot;b&quot;&gt;"), "{svg}");
        assert!(svg.contains("&lt;/svg&gt;&lt;script&gt;") && !svg.contains("<script"), "{svg}");
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
        let svg = time_chart(&c).into_string();
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
        let svg = time_chart(&c).into_string();
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
