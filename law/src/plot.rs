//! SVG plots of a fit and of its analysis (plotters, SVG backend only):
//! predicted vs measured loss coloured by sparsity (with the y = x line), and S_opt(N, C)
//! over log N × log C with contour lines and the dense compute-optimal line (docs/THEORY.md §3);
//! held-out points marked on the first, and several laws' held-out predictions side by side.
//!
//! Plots are returned as SVG text; [`write_svg`] writes one to a file.
//!
//! ```
//! use sparse_scaling_law::plot::{predicted_vs_measured_svg, FitPoint};
//! let pts = [FitPoint { measured: 3.1, predicted: 3.12, sparsity: 0.0 },
//!            FitPoint { measured: 2.8, predicted: 2.79, sparsity: 0.5 }];
//! let svg = predicted_vs_measured_svg(&pts, "T5 fit").unwrap();
//! assert!(svg.starts_with("<svg") && svg.contains("S = 0.5"));
//! ```

use crate::analysis::ContourMap;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// What can go wrong while plotting.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing (finite) to plot.
    #[error("nothing to plot in {what}: {why}")]
    Empty {
        /// Which plot.
        what: &'static str,
        /// Why it is empty.
        why: String,
    },
    /// The drawing backend failed.
    #[error("drawing {what} failed: {message}")]
    Draw {
        /// Which plot.
        what: &'static str,
        /// The backend's message.
        message: String,
    },
    /// The SVG could not be written.
    #[error("cannot write the plot to {path}; check that the directory exists and is writable")]
    Io {
        /// The target file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One measured point and the fitted law's prediction for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitPoint {
    /// Measured loss.
    pub measured: f64,
    /// Predicted loss.
    pub predicted: f64,
    /// Sparsity of the run (colours the point).
    pub sparsity: f64,
}

/// Writes SVG text to `path`.
pub fn write_svg(path: impl AsRef<Path>, svg: &str) -> Result<(), PlotError> {
    let path = path.as_ref();
    std::fs::write(path, svg).map_err(|source| PlotError::Io { path: path.to_path_buf(), source })
}

/// Discrete colours for sparsity levels (colour-blind-safe Okabe–Ito order).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
];

fn draw_err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> PlotError {
    move |e| PlotError::Draw { what, message: e.to_string() }
}

fn fmt_level(s: f64) -> String {
    let t = format!("{s:.4}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    t.to_string()
}

// ---- the house style: every plot here (and the runner's report, which reuses these) is drawn
// ---- on the same canvas, in the same frame, with the same legend box.

/// Draws on a white SVG canvas of `size` = (width, height) pixels and returns the SVG text.
/// `draw` gets the whole canvas; errors of filling or finishing the canvas itself go through
/// `on_err` (e.g. a closure naming the plot).
pub fn svg_canvas<E>(
    size: (u32, u32),
    on_err: impl Fn(DrawingAreaErrorKind<std::io::Error>) -> E,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), E>,
) -> Result<String, E> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(&on_err)?;
        draw(&root)?;
        root.present().map_err(&on_err)?;
    }
    Ok(svg)
}

/// The square range [lo, hi] that holds every (measured, predicted) pair, padded by 5 %.
fn square_range(pairs: impl Iterator<Item = (f64, f64)> + Clone) -> (f64, f64) {
    let lo = pairs.clone().map(|p| p.0.min(p.1)).fold(f64::INFINITY, f64::min);
    let hi = pairs.map(|p| p.0.max(p.1)).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-6 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

/// A predicted-vs-measured chart on [lo, hi]² in the house style, with its mesh (x axis
/// `x_desc`, y axis "predicted loss") and the grey line y = x drawn and labelled.
fn diagonal_chart<'a, DB: DrawingBackend + 'a>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    (lo, hi): (f64, f64),
    x_desc: &str,
    what: &'static str,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    PlotError,
> {
    let mut chart = chart_on(root, title).build_cartesian_2d(lo..hi, lo..hi).map_err(draw_err(what))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("predicted loss")
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(draw_err(what))?;
    chart
        .draw_series(LineSeries::new([(lo, lo), (hi, hi)], ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1)))
        .map_err(draw_err(what))?
        .label("y = x")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], RGBColor(120, 120, 120)));
    Ok(chart)
}

/// A chart on `area` in the house style: `caption` on top (22 px sans-serif), 16 px margins,
/// 48 px for the x labels and 64 px for the y labels. Continue with `.build_cartesian_2d(..)`.
pub fn chart_on<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder.caption(caption, ("sans-serif", 22)).margin(16).x_label_area_size(48).y_label_area_size(64);
    builder
}

/// Draws the legend of `chart`'s labelled series in the house style: at `position`, on a
/// translucent white box with a black border, labels in `font_size` px sans-serif.
pub fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", font_size))
        .draw()
}

/// Predicted vs measured loss, one colour per sparsity level, with the line y = x.
pub fn predicted_vs_measured_svg(points: &[FitPoint], title: &str) -> Result<String, PlotError> {
    predicted_vs_measured_held_out_svg(points, &[], title)
}

/// [`predicted_vs_measured_svg`] with held-out points (predicted by a fit without them) marked
/// as black crosses.
pub fn predicted_vs_measured_held_out_svg(
    points: &[FitPoint],
    held_out: &[FitPoint],
    title: &str,
) -> Result<String, PlotError> {
    const WHAT: &str = "the predicted-vs-measured plot";
    let finite = |p: &&FitPoint| p.measured.is_finite() && p.predicted.is_finite();
    let pts: Vec<FitPoint> = points.iter().filter(finite).copied().collect();
    let held: Vec<FitPoint> = held_out.iter().filter(finite).copied().collect();
    if pts.is_empty() && held.is_empty() {
        return Err(PlotError::Empty { what: WHAT, why: "no point has a finite measured and predicted loss".into() });
    }
    let range = square_range(pts.iter().chain(&held).map(|p| (p.measured, p.predicted)));
    // sparsity levels, rounded to 1e-6 to group equal values
    let mut levels: Vec<f64> = pts.iter().map(|p| (p.sparsity * 1e6).round() / 1e6).collect();
    levels.sort_by(|a, b| a.total_cmp(b));
    levels.dedup();

    svg_canvas((720, 640), draw_err(WHAT), |root| {
        let mut chart = diagonal_chart(root, title, range, "measured loss", WHAT)?;
        for (i, &level) in levels.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let series = pts
                .iter()
                .filter(|p| ((p.sparsity * 1e6).round() / 1e6) == level)
                .map(|p| Circle::new((p.measured, p.predicted), 5, color.filled()));
            chart
                .draw_series(series)
                .map_err(draw_err(WHAT))?
                .label(format!("S = {}", fmt_level(level)))
                .legend(move |(x, y)| Circle::new((x + 9, y), 5, color.filled()));
        }
        if !held.is_empty() {
            let style = ShapeStyle::from(&BLACK).stroke_width(2);
            chart
                .draw_series(held.iter().map(|p| Cross::new((p.measured, p.predicted), 6, style)))
                .map_err(draw_err(WHAT))?
                .label("held out")
                .legend(move |(x, y)| Cross::new((x + 9, y), 6, style));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 14).map_err(draw_err(WHAT))
    })
}

/// Held-out predictions of several laws: predicted vs measured loss, one colour per law (in
/// the order given, e.g. best first), with the line y = x. Each series is `(label, points)`
/// with points `(measured, predicted)`.
pub fn compare_svg(series: &[(String, Vec<(f64, f64)>)], title: &str) -> Result<String, PlotError> {
    const WHAT: &str = "the law comparison plot";
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = || series.iter().flat_map(|(_, pts)| pts.iter().filter(finite));
    if all().next().is_none() {
        return Err(PlotError::Empty { what: WHAT, why: "no law has a finite held-out prediction".into() });
    }
    let range = square_range(all().copied());
    svg_canvas((720, 640), draw_err(WHAT), |root| {
        let mut chart = diagonal_chart(root, title, range, "measured loss (held out)", WHAT)?;
        for (i, (label, pts)) in series.iter().enumerate() {
            let color = PALETTE[(i + 1) % PALETTE.len()];
            chart
                .draw_series(pts.iter().filter(finite).map(|p| Circle::new(*p, 5, color.filled())))
                .map_err(draw_err(WHAT))?
                .label(label.as_str())
                .legend(move |(x, y)| Circle::new((x + 9, y), 5, color.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 14).map_err(draw_err(WHAT))
    })
}

/// Doublings of the density shown by the colour scale: S from 0 to 1 − 2^−5 = 0.96875.
const COLOR_DOUBLINGS: f64 = 5.0;

/// Colour of S_opt in the heat map, uniform in −log2(1 − S) (each halving of the density one
/// step: 0, 0.5, 0.75, 0.875, …), white at 0 to dark navy at 1 − 2^−5; grey for NaN.
fn sparsity_color(s: f64) -> RGBColor {
    if !s.is_finite() {
        return RGBColor(200, 200, 200);
    }
    let u = -(1.0 - s.clamp(0.0, 1.0)).max(1e-300).log2();
    let t = (u / COLOR_DOUBLINGS).clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(255.0, 8.0), lerp(255.0, 48.0), lerp(255.0, 107.0))
}

/// S_opt(N, C) as a heat map over log10 N × log10 C, its contour lines, and the dense
/// compute-optimal line (dashed). `n_label` / `c_label` name the units, e.g. "N / 1e6".
pub fn contours_svg(map: &ContourMap, title: &str, n_label: &str, c_label: &str) -> Result<String, PlotError> {
    const WHAT: &str = "the S_opt contour plot";
    let (nx, ny) = (map.log10_n.len(), map.log10_c.len());
    if nx < 2 || ny < 2 || map.s_opt.len() != ny || map.s_opt.iter().any(|r| r.len() != nx) {
        return Err(PlotError::Empty {
            what: WHAT,
            why: format!("the grid is {ny} × {nx} (or ragged); need at least 2 × 2"),
        });
    }
    if !map.s_opt.iter().flatten().any(|s| s.is_finite()) {
        return Err(PlotError::Empty { what: WHAT, why: "S_opt is undefined everywhere on the grid".into() });
    }
    let (x0, x1) = (map.log10_n[0], map.log10_n[nx - 1]);
    let (y0, y1) = (map.log10_c[0], map.log10_c[ny - 1]);
    let hx = (x1 - x0) / (nx - 1) as f64 / 2.0;
    let hy = (y1 - y0) / (ny - 1) as f64 / 2.0;
    svg_canvas((800, 640), draw_err(WHAT), |root| {
        let (main, bar) = root.split_horizontally(700);
        let mut chart = chart_on(&main, title)
            .build_cartesian_2d((x0 - hx)..(x1 + hx), (y0 - hy)..(y1 + hy))
            .map_err(draw_err(WHAT))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(format!("log10 N  ({n_label})"))
            .y_desc(format!("log10 C  ({c_label})"))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(draw_err(WHAT))?;
        let cells = map.s_opt.iter().enumerate().flat_map(|(j, row)| {
            row.iter().enumerate().map(move |(i, &s)| {
                let (x, y) = (map.log10_n[i], map.log10_c[j]);
                Rectangle::new([(x - hx, y - hy), (x + hx, y + hy)], sparsity_color(s).filled())
            })
        });
        chart.draw_series(cells).map_err(draw_err(WHAT))?;
        let in_view = |&(x, y): &(f64, f64)| x >= x0 - hx && x <= x1 + hx && y >= y0 - hy && y <= y1 + hy;
        for (k, line) in map.lines.iter().enumerate() {
            let color = PALETTE[(k + 1) % PALETTE.len()];
            let pts: Vec<(f64, f64)> = line.points.iter().copied().filter(in_view).collect();
            if pts.len() < 2 {
                continue;
            }
            let label = if line.level == 0.0 {
                "S_opt = 0 (sparsity starts to pay)".to_string()
            } else {
                format!("S_opt = {}", fmt_level(line.level))
            };
            chart
                .draw_series(LineSeries::new(pts, ShapeStyle::from(&color).stroke_width(3)))
                .map_err(draw_err(WHAT))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 18, y)], ShapeStyle::from(&color).stroke_width(3))
                });
        }
        let dense: Vec<(f64, f64)> = map.dense_line.iter().copied().filter(in_view).collect();
        if dense.len() >= 2 {
            let style = ShapeStyle::from(&BLACK).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(dense, 10, 6, style))
                .map_err(draw_err(WHAT))?
                .label("dense compute-optimal")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 14).map_err(draw_err(WHAT))?;
        // colour bar
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(40)
            .margin_bottom(64)
            .margin_right(40)
            .y_label_area_size(0)
            .right_y_label_area_size(48)
            .caption("S_opt", ("sans-serif", 16))
            .build_cartesian_2d(0.0..1.0, 0.0..COLOR_DOUBLINGS)
            .map_err(draw_err(WHAT))?;
        // the bar's axis is −log2(1 − S); its labels are S
        let label = |u: &f64| fmt_level(1.0 - 2f64.powf(-*u));
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(COLOR_DOUBLINGS as usize + 1)
            .y_label_formatter(&label)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(draw_err(WHAT))?;
        let steps = 100;
        cb.draw_series((0..steps).map(|k| {
            let u = COLOR_DOUBLINGS * k as f64 / steps as f64;
            let du = COLOR_DOUBLINGS / steps as f64;
            Rectangle::new([(0.0, u), (1.0, u + du)], sparsity_color(1.0 - 2f64.powf(-(u + du / 2.0))).filled())
        }))
        .map_err(draw_err(WHAT))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ContourLine;

    #[test]
    fn scatter_has_one_legend_entry_per_sparsity() {
        let pts: Vec<FitPoint> = (0..12)
            .map(|i| FitPoint {
                measured: 2.5 + 0.05 * i as f64,
                predicted: 2.51 + 0.05 * i as f64,
                sparsity: [0.0, 0.5, 0.75][i % 3],
            })
            .collect();
        let svg = predicted_vs_measured_svg(&pts, "fit").unwrap();
        for l in ["S = 0\n", "S = 0.5\n", "S = 0.75\n", "y = x", "measured loss"] {
            assert!(svg.contains(l), "missing {l}");
        }
        assert_eq!(svg.matches("<circle").count(), 12 + 3);
    }

    #[test]
    fn empty_inputs_are_errors() {
        assert!(matches!(predicted_vs_measured_svg(&[], "x"), Err(PlotError::Empty { .. })));
        let nan = [FitPoint { measured: f64::NAN, predicted: 1.0, sparsity: 0.0 }];
        assert!(predicted_vs_measured_svg(&nan, "x").is_err());
        let map = ContourMap {
            log10_n: vec![0.0],
            log10_c: vec![0.0],
            s_opt: vec![vec![0.0]],
            lines: vec![],
            dense_line: vec![],
        };
        assert!(matches!(contours_svg(&map, "t", "N", "C"), Err(PlotError::Empty { .. })));
    }

    #[test]
    fn contour_plot_draws_cells_lines_and_legend() {
        let xs: Vec<f64> = (0..5).map(|i| i as f64).collect();
        let s_opt: Vec<Vec<f64>> =
            (0..5).map(|j| (0..5).map(|i| ((j as f64 - i as f64) / 5.0).max(0.0)).collect()).collect();
        let map = ContourMap {
            log10_n: xs.clone(),
            log10_c: xs.clone(),
            s_opt,
            lines: vec![ContourLine { level: 0.5, points: xs.iter().map(|&x| (x, x + 2.0)).collect() }],
            dense_line: xs.iter().map(|&x| (x, x + 0.5)).collect(),
        };
        let svg = contours_svg(&map, "contours", "N", "C").unwrap();
        assert!(svg.contains("S_opt = 0.5") && svg.contains("dense compute-optimal") && svg.contains("log10 N"));
        assert!(svg.matches("<rect").count() >= 25);
        let err = write_svg("/nonexistent-dir/x.svg", &svg).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x.svg"));
    }
}
