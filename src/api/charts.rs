//! SVG bar charts for reports: self-contained (no scripts, fonts or links), readable on their
//! own (title, subtitle, labels, values, the benchmark or target marked) and accessible
//! (`role="img"` with a title and a description that says every value in words).

use std::fmt::Write;

/// One bar: a share in percent (none when there is nothing to divide by), with the words to
/// print beside it and, when there is one, the benchmark or target it is held against.
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub caption: String,
    pub marker: Option<f64>,
}

pub struct Chart {
    pub title: String,
    pub subtitle: String,
    /// What a marker stands for ("benchmark", "target").
    pub marker_name: String,
    pub bars: Vec<Bar>,
}

const WIDTH: f64 = 960.0;
const LABEL_WIDTH: f64 = 340.0;
const PLOT_WIDTH: f64 = 400.0;
const BAR_HEIGHT: f64 = 18.0;
const ROW_HEIGHT: f64 = 28.0;
const TOP: f64 = 80.0;
const BAR_COLOUR: &str = "#2b6cb0";
const MARKER_COLOUR: &str = "#c53030";

/// Text made safe for XML content and attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Labels longer than the label column are cut with an ellipsis; the bar's tooltip and the
/// description keep the whole label.
const LABEL_CHARACTERS: usize = 46;

fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARACTERS {
        label.to_owned()
    } else {
        let cut: String = label.chars().take(LABEL_CHARACTERS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn percent(value: f64) -> String {
    format!("{value:.1}%")
}

impl Chart {
    pub fn render(&self) -> String {
        let height = TOP + ROW_HEIGHT * self.bars.len().max(1) as f64 + 50.0;
        let mut description = format!("{}. {}.", self.title, self.subtitle);
        for bar in &self.bars {
            let value = bar.value.map_or("no figure".to_owned(), percent);
            let _ = write!(description, " {}: {value} ({})", bar.label, bar.caption);
            if let Some(marker) = bar.marker {
                let _ = write!(description, ", {} {}", self.marker_name, percent(marker));
            }
            description.push(';');
        }
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="Arial, Helvetica, sans-serif" font-size="13">"#
        );
        let _ = write!(
            svg,
            r#"<title id="chart-title">{}</title><desc id="chart-desc">{}</desc>"#,
            escape(&self.title),
            escape(description.trim_end_matches(';'))
        );
        let _ = write!(
            svg,
            r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="16" y="28" font-size="18" font-weight="bold" fill="#1a202c">{}</text><text x="16" y="50" fill="#4a5568">{}</text>"##,
            escape(&self.title),
            escape(&self.subtitle)
        );
        // The scale: 0, 50 and 100 per cent.
        for tick in [0.0, 50.0, 100.0] {
            let x = LABEL_WIDTH + PLOT_WIDTH * tick / 100.0;
            let _ = write!(
                svg,
                r##"<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#e2e8f0"/><text x="{x}" y="{label}" text-anchor="middle" fill="#718096" font-size="11">{tick}%</text>"##,
                top = TOP - 8.0,
                bottom = height - 40.0,
                label = TOP - 12.0,
            );
        }
        for (index, bar) in self.bars.iter().enumerate() {
            let y = TOP + ROW_HEIGHT * index as f64;
            let value = bar.value.unwrap_or_default().clamp(0.0, 100.0);
            let width = PLOT_WIDTH * value / 100.0;
            // The value goes right of the bar, and of the marker when it reaches further.
            let reach = bar.marker.unwrap_or_default().clamp(0.0, 100.0).max(value);
            let _ = write!(
                svg,
                r##"<text x="{x}" y="{text_y}" text-anchor="end" fill="#1a202c">{label}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1}" height="{BAR_HEIGHT}" fill="{BAR_COLOUR}"><title>{full}: {shown}</title></rect><text x="{value_x:.1}" y="{text_y}" fill="#1a202c">{shown} ({caption})</text>"##,
                x = LABEL_WIDTH - 8.0,
                text_y = y + BAR_HEIGHT - 5.0,
                label = escape(&short(&bar.label)),
                full = escape(&bar.label),
                shown = bar.value.map_or("–".to_owned(), percent),
                value_x = LABEL_WIDTH + PLOT_WIDTH * reach / 100.0 + 8.0,
                caption = escape(&bar.caption),
            );
            if let Some(marker) = bar.marker {
                let x = LABEL_WIDTH + PLOT_WIDTH * marker.clamp(0.0, 100.0) / 100.0;
                let _ = write!(
                    svg,
                    r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="{MARKER_COLOUR}" stroke-width="3"><title>{name} {shown}</title></line>"#,
                    top = y - 3.0,
                    bottom = y + BAR_HEIGHT + 3.0,
                    name = escape(&self.marker_name),
                    shown = percent(marker),
                );
            }
        }
        let legend_y = height - 18.0;
        let _ = write!(
            svg,
            r##"<rect x="16" y="{box_y}" width="12" height="12" fill="{BAR_COLOUR}"/><text x="34" y="{legend_y}" fill="#4a5568">members</text>"##,
            box_y = legend_y - 10.0
        );
        if self.bars.iter().any(|bar| bar.marker.is_some()) {
            let _ = write!(
                svg,
                r##"<line x1="120" y1="{top}" x2="120" y2="{bottom}" stroke="{MARKER_COLOUR}" stroke-width="3"/><text x="130" y="{legend_y}" fill="#4a5568">{}</text>"##,
                escape(&self.marker_name),
                top = legend_y - 12.0,
                bottom = legend_y + 2.0,
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_names_every_bar_and_marker_and_escapes_text() {
        let chart = Chart {
            title: "Gaps <as of> 2026".to_owned(),
            subtitle: "Share of members & benchmark".to_owned(),
            marker_name: "benchmark".to_owned(),
            bars: vec![Bar {
                label: "Black & Black British".to_owned(),
                value: Some(12.5),
                caption: "3 members".to_owned(),
                marker: Some(24.1),
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Gaps &lt;as of&gt; 2026"));
        assert!(svg.contains("Black &amp; Black British: 12.5% (3 members), benchmark 24.1%"));
        assert!(svg.contains(r#"role="img""#));
        assert!(!svg.contains("<script"));
    }
}
