//! `--plot FILE.png`: throughput (top) and p99 latency (bottom) over the sale's time, one line
//! per sale, with a red marker where a fault was injected.
//!
//! Text is drawn with a TrueType font read at run time (DejaVu Sans, Debian's
//! `fonts-dejavu-core`, which `make bench` installs), not one bundled in the binary.

use crate::recorder::Point;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::path::Path;

/// Where fonts are looked for, first found wins.
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];
const SIZE: (u32, u32) = (1200, 800);
const COLOURS: [RGBColor; 6] = [BLUE, GREEN, MAGENTA, CYAN, BLACK, RGBColor(255, 140, 0)];

/// One of the two charts: what it plots of each point, and its scale.
struct Panel {
    y_label: &'static str,
    y_max: f64,
    value: fn(&Point) -> f64,
}

/// One line of the plot.
pub struct Line<'a> {
    pub label: String,
    pub series: &'a [Point],
    /// When a fault was injected, in seconds since this sale began.
    pub fault_at: Option<f64>,
}

fn load_font() -> Result<(), String> {
    let path = FONTS.iter().find(|p| Path::new(p).exists()).ok_or_else(|| {
        format!("--plot needs the DejaVu Sans font (apt-get install fonts-dejavu-core); looked in {FONTS:?}")
    })?;
    let bytes = std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
    // plotters keeps the font for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| format!("{path} is not a usable font"))
}

pub fn draw(file: &Path, title: &str, lines: &[Line]) -> Result<(), String> {
    load_font()?;
    draw_with_font(file, title, lines).map_err(|e| format!("drawing {}: {e}", file.display()))
}

fn draw_with_font(file: &Path, title: &str, lines: &[Line]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(file, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 24))?;
    let (top, bottom) = root.split_vertically(SIZE.1 / 2 - 20);
    let t_max = lines.iter().flat_map(|l| l.series.iter().map(|p| p.t_seconds)).fold(1.0_f64, f64::max) + 0.25;
    let rate_max = lines.iter().flat_map(|l| l.series.iter().map(|p| p.per_second)).fold(1.0_f64, f64::max) * 1.1;
    let p99_max = lines.iter().flat_map(|l| l.series.iter().map(|p| p.p99_ms)).fold(1.0_f64, f64::max) * 1.1;

    let panels = [
        (&top, Panel { y_label: "acknowledged per second", y_max: rate_max, value: |p| p.per_second }),
        (&bottom, Panel { y_label: "p99 latency (ms)", y_max: p99_max, value: |p| p.p99_ms }),
    ];
    for (area, Panel { y_label, y_max, value }) in panels {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
        chart.configure_mesh().x_desc("seconds since the sale began").y_desc(y_label).draw()?;
        for (i, line) in lines.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(
                    line.series.iter().map(|p| (p.t_seconds, value(p))),
                    colour.stroke_width(2),
                ))?
                .label(line.label.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            if let Some(at) = line.fault_at {
                chart.draw_series(std::iter::once(PathElement::new([(at, 0.0), (at, y_max)], RED.stroke_width(2))))?;
            }
        }
        if lines.iter().any(|l| l.fault_at.is_some()) {
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                .label("leader killed")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}
