//! Line charts written as SVG by hand, for the `scaling` charts: one
//! polyline per runtime, a logarithmic x axis (the size), a logarithmic or
//! linear y axis, labelled axes and a legend. A chart has a handful of
//! points, so a plotting crate would bring far more than it is used for.

use std::fmt::Write;

/// Width and height of the image, and the plot area's margins, in pixels.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// Line colours, one per series in order.
const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// `(x, y)` points, in order of x.
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The title above the plot.
    pub title: String,
    /// What x is.
    pub x_label: String,
    /// What y is.
    pub y_label: String,
    /// Whether the y axis is logarithmic (the x axis always is).
    pub y_log: bool,
    /// The lines.
    pub series: Vec<Series>,
}

/// Maps values on one axis to pixels.
#[derive(Clone, Copy, Debug)]
struct Scale {
    /// The value range, in log10 for a logarithmic axis.
    low: f64,
    high: f64,
    log: bool,
    /// The pixels `low` and `high` map to.
    from: f64,
    to: f64,
}

impl Scale {
    fn pixel(self, value: f64) -> f64 {
        let value = if self.log { value.log10() } else { value };
        if self.high == self.low {
            return (self.from + self.to) / 2.0;
        }
        self.from + (value - self.low) / (self.high - self.low) * (self.to - self.from)
    }
}

impl Chart {
    /// The chart as a standalone SVG document. On a logarithmic axis, points
    /// with a value of zero or less cannot be drawn and are left out.
    pub fn to_svg(&self) -> String {
        let drawable = |&(x, y): &(f64, f64)| x > 0.0 && (y > 0.0 || !self.y_log && y >= 0.0);
        let points: Vec<(f64, f64)> =
            self.series.iter().flat_map(|s| s.points.iter().copied()).filter(drawable).collect();
        let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let y_max = points.iter().map(|p| p.1).fold(f64::MIN_POSITIVE, f64::max);
        let y_min = points.iter().map(|p| p.1).fold(y_max, f64::min);
        let x = Scale {
            low: xs.first().map_or(0.0, |v| v.log10()),
            high: xs.last().map_or(1.0, |v| v.log10()),
            log: true,
            from: LEFT,
            to: WIDTH - RIGHT,
        };
        // A logarithmic y axis spans whole decades; a linear one starts at 0.
        let (y, y_ticks): (Scale, Vec<f64>) = if self.y_log {
            let (low, high) = (y_min.log10().floor(), y_max.log10().ceil().max(y_min.log10().floor() + 1.0));
            let ticks = (low as i32..=high as i32).map(|e| 10f64.powi(e)).collect();
            (Scale { low, high, log: true, from: HEIGHT - BOTTOM, to: TOP }, ticks)
        } else {
            // At least 0 to 1, so that a chart of zeros still has an axis.
            let high = (y_max * 1.1).max(1.0);
            let ticks = (0..=5).map(|i| high * f64::from(i) / 5.0).collect();
            (Scale { low: 0.0, high, log: false, from: HEIGHT - BOTTOM, to: TOP }, ticks)
        };

        let mut svg = String::new();
        let out = &mut svg;
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(out, r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="24" font-size="15" text-anchor="middle">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        for &tick in &xs {
            let px = x.pixel(tick);
            let _ = writeln!(
                out,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{}" stroke="#ddd"/>"##,
                HEIGHT - BOTTOM
            );
            let _ = writeln!(
                out,
                r#"<text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"#,
                HEIGHT - BOTTOM + 16.0,
                compact(tick)
            );
        }
        for &tick in &y_ticks {
            let py = y.pixel(tick);
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/>"##,
                WIDTH - RIGHT
            );
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                py + 4.0,
                compact(tick)
            );
        }
        let _ = writeln!(
            out,
            r#"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="black"/>"#,
            WIDTH - RIGHT - LEFT,
            HEIGHT - BOTTOM - TOP
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (LEFT + WIDTH - RIGHT) / 2.0,
            HEIGHT - 18.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            out,
            r#"<text x="18" y="{0}" text-anchor="middle" transform="rotate(-90 18 {0})">{1}</text>"#,
            (TOP + HEIGHT - BOTTOM) / 2.0,
            escape(&self.y_label)
        );
        for (index, series) in self.series.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let mapped: Vec<(f64, f64)> =
                series.points.iter().filter(|p| drawable(p)).map(|&(px, py)| (x.pixel(px), y.pixel(py))).collect();
            let coordinates: Vec<String> = mapped.iter().map(|(px, py)| format!("{px:.1},{py:.1}")).collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
                coordinates.join(" ")
            );
            for (px, py) in mapped {
                let _ = writeln!(out, r#"<circle cx="{px:.1}" cy="{py:.1}" r="3" fill="{colour}"/>"#);
            }
            let legend_y = TOP + 10.0 + 20.0 * index as f64;
            let legend_x = WIDTH - RIGHT + 12.0;
            let _ = writeln!(
                out,
                r#"<line x1="{legend_x}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>"#,
                legend_x + 20.0
            );
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}">{}</text>"#,
                legend_x + 26.0,
                legend_y + 4.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// `1000` as `1k`, `2500000` as `2.5M`, `0.25` as `0.25`: tick labels.
fn compact(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e9 => (value / 1e9, "G"),
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let digits = if scaled.fract().abs() < 1e-9 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$}{suffix}")
}

/// `text` with XML's special characters escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(y_log: bool) -> Chart {
        let line = |name: &str, scale: f64| Series {
            name: name.to_owned(),
            points: [1e3, 1e4, 1e5, 1e6f64].iter().map(|&x| (x, scale * x.sqrt())).collect(),
        };
        Chart {
            title: "spawn <many> & more".to_owned(),
            x_label: "tasks".to_owned(),
            y_label: "ns per task".to_owned(),
            y_log,
            series: vec![line("loopwork", 1.0), line("tokio", 2.0), line("async-executor", 3.0)],
        }
    }

    /// Checks that every tag is closed in order (self-closing ones close
    /// themselves) and returns the names of the elements opened.
    fn elements(svg: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        for tag in svg.split('<').skip(1).map(|rest| rest.split('>').next().expect("a closed bracket")) {
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "</{name}> closes what was opened last");
            } else {
                let name = tag.split_whitespace().next().unwrap().to_owned();
                seen.push(name.clone());
                if !tag.ends_with('/') {
                    open.push(name);
                }
            }
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        seen
    }

    #[test]
    fn a_log_scale_maps_decades_evenly() {
        let scale = Scale { low: 0.0, high: 3.0, log: true, from: 0.0, to: 300.0 };
        assert_eq!(scale.pixel(1.0), 0.0);
        assert!((scale.pixel(10.0) - 100.0).abs() < 1e-9);
        assert!((scale.pixel(1000.0) - 300.0).abs() < 1e-9);
        // Downwards too, as the y axis runs.
        let y = Scale { low: 1.0, high: 2.0, log: true, from: 400.0, to: 100.0 };
        assert!((y.pixel(100.0) - 100.0).abs() < 1e-9);
        assert_eq!(Scale { low: 2.0, high: 2.0, log: false, from: 0.0, to: 10.0 }.pixel(2.0), 5.0);
    }

    #[test]
    fn one_polyline_per_series_in_a_well_formed_document() {
        for y_log in [true, false] {
            let svg = chart(y_log).to_svg();
            let seen = elements(&svg);
            assert_eq!(seen[0], "svg");
            assert_eq!(seen.iter().filter(|name| *name == "polyline").count(), 3);
            assert_eq!(seen.iter().filter(|name| *name == "circle").count(), 12);
            assert!(svg.contains("spawn &lt;many&gt; &amp; more"), "the title is escaped");
            for label in ["tasks", "ns per task", "loopwork", "tokio", "async-executor", ">1k<", ">1M<"] {
                assert!(svg.contains(label), "{label} is on the chart");
            }
        }
    }

    #[test]
    fn a_log_axis_leaves_out_what_it_cannot_draw() {
        let mut chart = chart(true);
        chart.series[0].points[0].1 = 0.0;
        let svg = chart.to_svg();
        assert_eq!(elements(&svg).iter().filter(|name| *name == "circle").count(), 11);
        chart.y_log = false;
        assert_eq!(elements(&chart.to_svg()).iter().filter(|name| *name == "circle").count(), 12);
    }

    #[test]
    fn a_linear_chart_of_zeros_still_has_an_axis() {
        let mut chart = chart(false);
        for series in &mut chart.series {
            for point in &mut series.points {
                point.1 = 0.0;
            }
        }
        let svg = chart.to_svg();
        assert!(svg.contains(">0<") && svg.contains(">1<"), "ticks from 0 to 1");
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn compact_labels() {
        assert_eq!(compact(1000.0), "1k");
        assert_eq!(compact(2_500_000.0), "2.50M");
        assert_eq!(compact(100.0), "100");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(12.5), "12.5");
    }
}
