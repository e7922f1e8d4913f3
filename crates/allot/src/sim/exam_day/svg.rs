//! The chart of an exam day: ready VMs per exam over the day, as a
//! self-contained SVG written by hand.
//!
//! Time runs along x from the day's 00:00 to the last stop (whole hours),
//! ready VMs up y. Each exam is one step line (`<polyline
//! class="series">`), with its start marked by a dashed vertical line up
//! to its students and a dot at the VMs ready then; the cancelled exam is
//! dashed. A legend names every exam with its color, its students and the
//! VMs ready at its start.

use std::fmt::Write;

use jiff::{SignedDuration, Timestamp};

use super::driver::Series;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 64.0;
const TOP: f64 = 40.0;
const PLOT_WIDTH: f64 = 860.0;
const PLOT_HEIGHT: f64 = 520.0;
const LEGEND_X: f64 = LEFT + PLOT_WIDTH + 24.0;
const LEGEND_LINE: f64 = 15.0;

/// Text safe inside an element or an attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A color per series, far apart on the hue circle (golden angle).
fn color(i: usize) -> String {
    let hue = (i as f64 * 137.508) % 360.0;
    format!("hsl({hue:.0},70%,40%)")
}

/// The least "nice" number (1, 2 or 5 times a power of ten) at or above
/// `x / 5`, so that five steps of it cover `x`.
fn nice_step(x: f64) -> f64 {
    let rough = (x / 5.0).max(1.0);
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * power)
}

/// Renders `series` over the day that starts at `day`, titled `title`.
pub fn render(series: &[Series], day: Timestamp, title: &str) -> String {
    let last = series
        .iter()
        .flat_map(|s| s.points.last().map(|p| p.0).into_iter().chain([s.end]))
        .max()
        .unwrap_or(day);
    let hours = (last.duration_since(day).as_secs_f64() / 3600.0)
        .ceil()
        .max(1.0);
    let span = hours * 3600.0;
    let top_value = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1).chain([s.needed]))
        .max()
        .unwrap_or(1)
        .max(1);
    let y_step = nice_step(f64::from(top_value));
    let y_max = (f64::from(top_value) / y_step).ceil() * y_step;
    let x = |t: Timestamp| LEFT + t.duration_since(day).as_secs_f64() / span * PLOT_WIDTH;
    let y = |v: u32| TOP + PLOT_HEIGHT - f64::from(v) / y_max * PLOT_HEIGHT;
    let legend_height = LEGEND_LINE * series.len() as f64 + 40.0;
    let height = (TOP + PLOT_HEIGHT + 60.0).max(TOP + legend_height);

    let mut out = String::new();
    // `write!` to a String cannot fail.
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">
<title>{}</title>
<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>
<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{}</text>"#,
        escape(title),
        escape(title),
    );

    // Axes, grid and ticks.
    let bottom = TOP + PLOT_HEIGHT;
    let _ = writeln!(out, r##"<g class="axes" stroke="#999" stroke-width="1">"##);
    let _ = writeln!(
        out,
        r#"<line x1="{LEFT}" y1="{bottom}" x2="{:.1}" y2="{bottom}"/>
<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>"#,
        LEFT + PLOT_WIDTH
    );
    let label_every = if hours > 12.0 { 2 } else { 1 };
    for h in 0..=(hours as i64) {
        let t = day + SignedDuration::from_hours(h);
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{bottom}" stroke="#eee"/>"##,
            x(t)
        );
    }
    let mut v = 0.0;
    while v <= y_max {
        let yy = TOP + PLOT_HEIGHT - v / y_max * PLOT_HEIGHT;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#eee"/>"##,
            LEFT + PLOT_WIDTH
        );
        v += y_step;
    }
    let _ = writeln!(out, "</g>");
    let _ = writeln!(out, r##"<g class="labels" fill="#333">"##);
    for h in (0..=(hours as i64)).step_by(label_every) {
        let t = day + SignedDuration::from_hours(h);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:02}:00</text>"#,
            x(t),
            bottom + 16.0,
            h % 24
        );
    }
    let mut v = 0.0;
    while v <= y_max {
        let yy = TOP + PLOT_HEIGHT - v / y_max * PLOT_HEIGHT;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"#,
            LEFT - 6.0,
            yy + 4.0
        );
        v += y_step;
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time of day (UTC)</text>
<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">ready VMs</text>
</g>"#,
        LEFT + PLOT_WIDTH / 2.0,
        bottom + 36.0,
        TOP + PLOT_HEIGHT / 2.0,
        TOP + PLOT_HEIGHT / 2.0,
    );

    // One step line per exam, its start marked.
    for (i, s) in series.iter().enumerate() {
        let c = color(i);
        let dash = if s.cancelled {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let mut points = String::new();
        let mut level = 0;
        let mut last_x = f64::NAN;
        let _ = write!(points, "{:.1},{:.1}", x(day), y(0));
        for &(t, value) in &s.points {
            // Changes within half a pixel draw one vertical stroke.
            let px = (x(t) * 2.0).round() / 2.0;
            if px != last_x {
                let _ = write!(points, " {px:.1},{:.1}", y(level));
                last_x = px;
            }
            let _ = write!(points, " {px:.1},{:.1}", y(value));
            level = value;
        }
        let _ = write!(points, " {:.1},{:.1}", x(last), y(level));
        let _ = writeln!(
            out,
            r#"<polyline class="series" data-exam="{}" fill="none" stroke="{c}" stroke-width="1.5"{dash} points="{points}"/>"#,
            escape(&s.name)
        );
        let sx = x(s.start);
        let _ = writeln!(
            out,
            r#"<g class="start" data-exam="{}" stroke="{c}"><line x1="{sx:.1}" y1="{bottom}" x2="{sx:.1}" y2="{:.1}" stroke-dasharray="2 2"/><circle cx="{sx:.1}" cy="{:.1}" r="3" fill="{c}"/></g>"#,
            escape(&s.name),
            y(s.needed),
            y(s.ready_at_start),
        );
    }

    // The legend.
    let _ = writeln!(
        out,
        r#"<g class="legend"><text x="{LEGEND_X}" y="{TOP}" font-weight="bold">exam: ready at start / needed</text>"#
    );
    for (i, s) in series.iter().enumerate() {
        let ly = TOP + 16.0 + LEGEND_LINE * i as f64;
        let what = if s.cancelled {
            "cancelled".to_string()
        } else {
            format!("{} / {}", s.ready_at_start, s.needed)
        };
        let _ = writeln!(
            out,
            r#"<rect x="{LEGEND_X}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{ly:.1}">{} {}: {what}</text>"#,
            ly - 9.0,
            color(i),
            LEGEND_X + 14.0,
            escape(&s.name),
            s.start.to_zoned(jiff::tz::TimeZone::UTC).strftime("%H:%M"),
        );
    }
    let _ = writeln!(out, "</g>\n</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> Timestamp {
        super::super::scenario::DAY + SignedDuration::from_mins(minutes)
    }

    fn series(name: &str, start: i64, needed: u32, cancelled: bool) -> Series {
        Series {
            name: name.to_string(),
            start: at(start),
            end: at(start + 60),
            needed,
            ready_at_start: needed,
            cancelled,
            points: (1..=needed)
                .map(|k| (at(start - i64::from(needed) + i64::from(k)), k))
                .chain([(at(start + 61), 0)])
                .collect(),
        }
    }

    /// A small XML check: tags nest and close, attributes are quoted, and
    /// no `&` or `<` appears unescaped in text.
    fn well_formed(doc: &str) -> Result<usize, String> {
        let body = doc
            .strip_prefix(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
            .ok_or("no XML declaration")?;
        let mut stack: Vec<String> = Vec::new();
        let mut elements = 0;
        let mut rest = body;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            check_text(text)?;
            let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(top) if top == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            elements += 1;
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().ok_or("empty tag")?;
            let mut attrs = tag[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs
                    .find("=\"")
                    .ok_or(format!("unquoted attribute in <{tag}>"))?;
                let end = attrs[eq + 2..].find('"').ok_or("unterminated attribute")? + eq + 2;
                check_text(&attrs[eq + 2..end])?;
                attrs = attrs[end + 1..].trim_start();
            }
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        check_text(rest)?;
        if !stack.is_empty() {
            return Err(format!("unclosed: {stack:?}"));
        }
        Ok(elements)
    }

    fn check_text(text: &str) -> Result<(), String> {
        if text.contains('<') {
            return Err(format!("raw < in {text:?}"));
        }
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            let entity = &rest[amp..];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| entity.starts_with(e))
            {
                return Err(format!("raw & in {text:?}"));
            }
            rest = &rest[amp + 1..];
        }
        Ok(())
    }

    #[test]
    fn the_chart_is_well_formed_with_one_series_per_exam() {
        let all = vec![
            series("Physics 101", 8 * 60, 40, false),
            series("Law & <Order> \"102\"", 9 * 60, 25, false),
            series("Music 103", 13 * 60, 10, true),
        ];
        let doc = render(&all, at(0), "seed 1 & friends");
        let elements = well_formed(&doc).expect("well-formed");
        assert!(elements > 20);
        assert_eq!(doc.matches(r#"<polyline class="series""#).count(), 3);
        assert_eq!(doc.matches(r#"<g class="start""#).count(), 3);
        for name in [
            "Physics 101",
            "Law &amp; &lt;Order&gt; &quot;102&quot;",
            "Music 103",
        ] {
            assert!(
                doc.contains(&format!(r#"data-exam="{name}""#)),
                "a series for {name}"
            );
        }
        assert!(
            doc.contains("stroke-dasharray=\"6 3\""),
            "the cancelled one is dashed"
        );
        assert!(doc.contains(">08:00<"), "hour labels");
        assert!(doc.contains("40 / 40"), "the legend says ready / needed");
    }

    #[test]
    fn the_checker_refuses_broken_documents() {
        let head = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
        assert!(well_formed(&format!("{head}<svg><g></svg>")).is_err());
        assert!(well_formed(&format!("{head}<svg>a & b</svg>")).is_err());
        assert!(well_formed(&format!("{head}<svg x=1></svg>")).is_err());
        assert!(well_formed(&format!("{head}<svg><g/></svg>")).is_ok());
    }

    #[test]
    fn an_empty_day_still_renders() {
        let doc = render(&[], at(0), "nothing");
        well_formed(&doc).expect("well-formed");
        assert_eq!(doc.matches("<polyline").count(), 0);
    }

    #[test]
    fn steps_are_nice() {
        assert_eq!(nice_step(2500.0), 500.0);
        assert_eq!(nice_step(300.0), 100.0);
        assert_eq!(nice_step(40.0), 10.0);
        assert_eq!(nice_step(3.0), 1.0);
    }
}
