//! Histograms and line charts as PNG files, drawn pixel by pixel with a built-in 5×7 bitmap font.
//!
//! Why not plotters: its bitmap backend draws text only through the `ttf` feature (font-kit,
//! which loads *system* fonts through fontconfig/freetype) or `ab_glyph` (which needs a font
//! file registered at run time). The recipes must build and run on a fresh machine with only
//! the Rust toolchain, so this module rasterizes bars, axes and labels itself and uses the
//! `png` crate only to encode.

use std::io;
use std::path::Path;

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Axes and text.
pub const BLACK: Rgb = [0, 0, 0];
/// A neutral series colour.
pub const GREY: Rgb = [150, 150, 150];
/// Grid lines.
pub const LIGHT_GREY: Rgb = [225, 225, 225];
/// First series colour.
pub const BLUE: Rgb = [45, 105, 190];
/// Second series colour (and reference lines).
pub const RED: Rgb = [210, 40, 40];
/// Third series colour.
pub const ORANGE: Rgb = [235, 140, 20];
const WHITE: Rgb = [255, 255, 255];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Filled bars.
    Bars,
    /// The histogram's outline (a step line), drawn over the bars.
    Outline,
}

/// One sample to histogram.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// Legend text.
    pub label: String,
    /// The sample; values outside the histogram's [lo, hi] are not counted.
    pub values: &'a [f64],
    /// Fill or outline colour.
    pub color: Rgb,
    /// Bars or outline.
    pub style: Style,
}

/// A vertical line at `x`.
#[derive(Debug, Clone)]
pub struct Marker {
    /// Legend text.
    pub label: String,
    /// Position on the x axis (not drawn outside [lo, hi]).
    pub x: f64,
    /// Line colour.
    pub color: Rgb,
}

/// A density histogram of one or more samples on a common x range.
#[derive(Debug, Clone)]
pub struct Histogram<'a> {
    /// Centred above the plot.
    pub title: String,
    /// Centred below the x axis.
    pub x_label: String,
    /// Left end of the x range (and of the first bin).
    pub lo: f64,
    /// Right end of the x range (and of the last bin).
    pub hi: f64,
    /// Number of equal-width bins on [lo, hi].
    pub bins: usize,
    /// The samples, each as density `count / (N · bin width)`.
    pub series: Vec<Series<'a>>,
    /// Dashed vertical lines.
    pub markers: Vec<Marker>,
    /// A constant reference density drawn as a horizontal dashed line (e.g. 1/2 for the
    /// cosine of two uniform points on S²).
    pub reference_density: Option<(String, f64, Rgb)>,
}

const WIDTH: usize = 900;
const HEIGHT: usize = 560;
const LEFT: usize = 80;
const RIGHT: usize = 30;
const TOP: usize = 50;
const BOTTOM: usize = 70;
/// Pixel scale of the 5×7 font.
const SCALE: usize = 2;

/// A rendered RGB image (8 bits per channel, row-major, top row first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    pixels: Vec<u8>,
    width: usize,
    height: usize,
}

impl Canvas {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// `width · height · 3` bytes: R, G, B of each pixel, rows top to bottom.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The colour at column `x`, row `y` (panics outside the image).
    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside a {} × {} canvas",
            self.width,
            self.height
        );
        let i = 3 * (y * self.width + x);
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Encodes the image as an 8-bit RGB PNG file (an error for a zero-sized canvas).
    pub fn save_png(&self, path: &Path) -> io::Result<()> {
        self.save(path)
    }

    fn new() -> Self {
        Self::sized(WIDTH, HEIGHT)
    }

    fn sized(width: usize, height: usize) -> Self {
        Self {
            pixels: WHITE.repeat(width * height),
            width,
            height,
        }
    }

    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if (0..self.width as i64).contains(&x) && (0..self.height as i64).contains(&y) {
            let i = 3 * (y as usize * self.width + x as usize);
            self.pixels[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, c);
            }
        }
    }

    fn hline(&mut self, x0: i64, x1: i64, y: i64, width: i64, c: Rgb) {
        self.rect(x0, y, x1, y + width - 1, c);
    }

    fn vline(&mut self, x: i64, y0: i64, y1: i64, width: i64, c: Rgb) {
        self.rect(x, y0, x + width - 1, y1, c);
    }

    /// Text with its top-left corner at (x, y).
    fn text(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        for (k, ch) in s.chars().enumerate() {
            let glyph = glyph(ch);
            let ox = x + (k * 6 * SCALE) as i64;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        let px = ox + (col * SCALE) as i64;
                        let py = y + (row * SCALE) as i64;
                        self.rect(px, py, px + SCALE as i64 - 1, py + SCALE as i64 - 1, c);
                    }
                }
            }
        }
    }

    fn text_centered(&mut self, cx: i64, y: i64, s: &str, c: Rgb) {
        self.text(cx - text_width(s) as i64 / 2, y, s, c);
    }

    /// Encodes in memory, then writes the file whole ([`crate::files::write_whole`]).
    fn save(&self, path: &Path) -> io::Result<()> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(io::Error::other)?;
        writer
            .write_image_data(&self.pixels)
            .map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)?;
        crate::files::write_whole(path, bytes)
    }
}

fn text_width(s: &str) -> usize {
    s.chars().count() * 6 * SCALE
}

/// Tick positions covering [lo, hi] with a 1-2-5 step, and the number of decimals to print;
/// none (or just `lo`) for a degenerate range rather than a runaway loop.
fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let raw = (hi - lo) / target as f64;
    if !(raw.is_finite() && raw > 0.0 && lo.is_finite()) {
        // Empty, reversed or overflowing range: one tick rather than NaN steps.
        return (vec![lo].into_iter().filter(|v| v.is_finite()).collect(), 0);
    }
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let (first, last) = ((lo / step).ceil(), (hi / step).floor());
    if !(first.abs() < 1e15 && last.abs() < 1e15) {
        // The range is tiny next to its magnitude: the tick index would not fit an i64.
        return (Vec::new(), 0);
    }
    let (first, last) = (first as i64, last as i64);
    let values = (first..=last).map(|k| k as f64 * step).collect();
    (values, decimals)
}

fn format_tick(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    // "-0.00" → "0.00"
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

impl Histogram<'_> {
    /// The per-series densities (count / (N · bin width)).
    fn densities(&self) -> Vec<Vec<f64>> {
        let width = (self.hi - self.lo) / self.bins as f64;
        self.series
            .iter()
            .map(|s| {
                crate::metrics::histogram(s.values, self.lo, self.hi, self.bins)
                    .into_iter()
                    .map(|c| c as f64 / (s.values.len() as f64 * width))
                    .collect()
            })
            .collect()
    }

    /// Renders the histogram into a PNG file.
    pub fn save_png(&self, path: &Path) -> io::Result<()> {
        let mut cv = Canvas::new();
        let (x0, x1) = (LEFT as i64, (WIDTH - RIGHT) as i64);
        let (y0, y1) = (TOP as i64, (HEIGHT - BOTTOM) as i64); // y1 is the baseline
        let densities = self.densities();
        let mut y_max = densities.iter().flatten().copied().fold(0.0f64, f64::max);
        if let Some((_, r, _)) = &self.reference_density {
            y_max = y_max.max(*r);
        }
        let y_max = if y_max > 0.0 { 1.08 * y_max } else { 1.0 };
        let px_x = |x: f64| x0 + ((x - self.lo) / (self.hi - self.lo) * (x1 - x0) as f64) as i64;
        let px_y = |y: f64| y1 - (y / y_max * (y1 - y0) as f64).round() as i64;

        // Grid and y ticks.
        let (yt, yd) = ticks(0.0, y_max, 6);
        for v in &yt {
            let y = px_y(*v);
            cv.hline(x0, x1, y, 1, LIGHT_GREY);
            let label = format_tick(*v, yd);
            cv.text(x0 - 8 - text_width(&label) as i64, y - 7, &label, BLACK);
        }
        let (xt, xd) = ticks(self.lo, self.hi, 8);
        for v in &xt {
            let x = px_x(*v);
            cv.vline(x, y0, y1, 1, LIGHT_GREY);
            cv.vline(x, y1, y1 + 5, 1, BLACK);
            cv.text_centered(x, y1 + 10, &format_tick(*v, xd), BLACK);
        }

        // Series: bars first, outlines on top.
        let bin_px = |b: usize| px_x(self.lo + b as f64 * (self.hi - self.lo) / self.bins as f64);
        for (s, dens) in self.series.iter().zip(&densities) {
            if s.style == Style::Bars {
                for (b, &h) in dens.iter().enumerate() {
                    if h > 0.0 {
                        cv.rect(
                            bin_px(b),
                            px_y(h),
                            (bin_px(b + 1) - 1).max(bin_px(b)),
                            y1,
                            s.color,
                        );
                    }
                }
            }
        }
        for (s, dens) in self.series.iter().zip(&densities) {
            if s.style == Style::Outline {
                let mut prev = y1;
                for (b, &h) in dens.iter().enumerate() {
                    let y = px_y(h);
                    cv.vline(bin_px(b), prev.min(y), prev.max(y), 2, s.color);
                    cv.hline(bin_px(b), bin_px(b + 1), y, 2, s.color);
                    prev = y;
                }
                cv.vline(bin_px(self.bins), prev.min(y1), prev.max(y1), 2, s.color);
            }
        }
        if let Some((_, r, c)) = &self.reference_density {
            let y = px_y(*r);
            let mut x = x0;
            while x < x1 {
                cv.hline(x, (x + 9).min(x1), y, 2, *c);
                x += 16;
            }
        }
        for m in &self.markers {
            if (self.lo..=self.hi).contains(&m.x) {
                let x = px_x(m.x);
                let mut y = y0;
                while y < y1 {
                    cv.vline(x - 1, y, (y + 9).min(y1), 2, m.color);
                    y += 14;
                }
            }
        }

        // Axes, title, labels, legend.
        cv.hline(x0, x1, y1, 2, BLACK);
        cv.vline(x0 - 1, y0, y1, 2, BLACK);
        cv.text_centered((x0 + x1) / 2, 14, &self.title, BLACK);
        cv.text_centered((x0 + x1) / 2, y1 + 36, &self.x_label, BLACK);
        cv.text(8, y0 - 26, "DENSITY", BLACK);
        let mut legend: Vec<(String, Rgb)> = self
            .series
            .iter()
            .map(|s| (s.label.clone(), s.color))
            .collect();
        legend.extend(self.markers.iter().map(|m| (m.label.clone(), m.color)));
        if let Some((label, _, c)) = &self.reference_density {
            legend.push((label.clone(), *c));
        }
        let legend_w = legend.iter().map(|(l, _)| text_width(l)).max().unwrap_or(0) as i64 + 30;
        let lx = x1 - legend_w - 10;
        for (k, (label, c)) in legend.iter().enumerate() {
            let ly = y0 + 10 + 22 * k as i64;
            cv.rect(lx - 4, ly - 4, x1 - 6, ly + 17, WHITE);
            cv.rect(lx, ly + 2, lx + 16, ly + 12, *c);
            cv.text(lx + 24, ly, label, BLACK);
        }
        cv.save(path)
    }
}

/// Eight distinguishable line colours; pick `PALETTE[i % PALETTE.len()]` for the i-th curve.
pub const PALETTE: [Rgb; 8] = [
    BLUE,
    RED,
    ORANGE,
    [40, 150, 70],
    [130, 70, 180],
    [20, 160, 170],
    [140, 90, 40],
    GREY,
];

/// One curve of a [`LineChart`]: the points `(x[i], y[i])` joined in order, each marked by a
/// small square. Only the first `min(x.len(), y.len())` points are used. A point with a
/// non-finite coordinate (or `y ≤ 0` on a log axis) is skipped and breaks the line there.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    /// Legend text.
    pub label: String,
    /// Abscissae.
    pub x: &'a [f64],
    /// Ordinates (plotted as `log₁₀ y` when the chart has `log_y`).
    pub y: &'a [f64],
    /// Line, marker and legend-swatch colour.
    pub color: Rgb,
}

/// Curves on common axes, y linear or log₁₀. The axes span the drawable points of all lines
/// (y padded by 5 %); with no drawable point they span [0, 1], and a single x or y value `v`
/// spans [v − ½, v + ½] (in decades on a log axis).
#[derive(Debug, Clone)]
pub struct LineChart<'a> {
    /// Centred above the plot.
    pub title: String,
    /// Centred below the x axis.
    pub x_label: String,
    /// Above the y axis.
    pub y_label: String,
    /// Plot `log₁₀ y`, with ticks at powers of ten (or at round values when fewer than two
    /// powers of ten are in view); points with `y ≤ 0` are skipped.
    pub log_y: bool,
    /// The curves, drawn in order (later ones on top) and listed in the legend.
    pub lines: Vec<Line<'a>>,
}

/// Axis ranges of a chart in plotted units (y in decades when `log_y`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bounds {
    x: (f64, f64),
    y: (f64, f64),
}

/// The range of `values`, widened to a unit interval around a single value and [0, 1] for
/// none, so that the pixel mapping never divides by zero.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    }
}

/// Tick positions and labels for a log₁₀ axis spanning [lo, hi] decades: powers of ten
/// (every k-th one when more than 8 are in view), or, when fewer than two powers of ten are
/// in view, round linear values so that the axis is never unlabelled.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (first, last) = (lo.ceil(), hi.floor());
    if last - first >= 1.0 {
        let every = ((last - first + 1.0) / 8.0).ceil().max(1.0) as i64;
        (first as i64..=last as i64)
            .filter(|e| e.rem_euclid(every) == 0)
            .map(|e| (e as f64, format!("1e{e}")))
            .collect()
    } else {
        let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
        let (values, decimals) = ticks(vlo, vhi, 4);
        values
            .into_iter()
            .filter(|v| *v > 0.0)
            .map(|v| {
                let label = if (1e-3..1e5).contains(&v) {
                    format_tick(v, decimals.min(6))
                } else {
                    format!("{v:.1e}")
                };
                (v.log10(), label)
            })
            .collect()
    }
}

impl LineChart<'_> {
    /// The plotted y of a point, if it can be drawn.
    fn y_of(&self, y: f64) -> Option<f64> {
        match (self.log_y, y.is_finite()) {
            (_, false) => None,
            (true, true) if y <= 0.0 => None,
            (true, true) => Some(y.log10()),
            (false, true) => Some(y),
        }
    }

    /// The drawable points of a line in plotted units, `None` where the line breaks.
    fn points<'s>(&'s self, line: &'s Line) -> impl Iterator<Item = Option<(f64, f64)>> + 's {
        line.x
            .iter()
            .zip(line.y)
            .map(|(&x, &y)| Some((x, self.y_of(y)?)).filter(|_| x.is_finite()))
    }

    /// Axis ranges covering every drawable point.
    fn bounds(&self) -> Bounds {
        let points: Vec<(f64, f64)> = self
            .lines
            .iter()
            .flat_map(|l| self.points(l))
            .flatten()
            .collect();
        let x = span(points.iter().map(|p| p.0));
        let (yl, yh) = span(points.iter().map(|p| p.1));
        // Halved operands keep the width finite for values near ±f64::MAX.
        let pad = 0.1 * (yh / 2.0 - yl / 2.0);
        Bounds {
            x,
            y: ((yl - pad).max(f64::MIN), (yh + pad).min(f64::MAX)),
        }
    }

    /// Draws the chart in the `w` × `h` panel whose top-left corner is (ox, oy).
    fn draw(&self, cv: &mut Canvas, ox: i64, oy: i64, w: i64, h: i64) {
        let (x0, x1) = (ox + LEFT as i64, ox + w - RIGHT as i64);
        let (y0, y1) = (oy + TOP as i64, oy + h - BOTTOM as i64);
        let Bounds {
            x: (xl, xh),
            y: (yl, yh),
        } = self.bounds();
        // Fractions along each axis from halved operands: exact, and finite even when the
        // range spans most of f64.
        let frac = |v: f64, lo: f64, hi: f64| (v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0);
        let px_x = |x: f64| x0 + (frac(x, xl, xh) * (x1 - x0) as f64).round() as i64;
        let px_y = |y: f64| y1 - (frac(y, yl, yh) * (y1 - y0) as f64).round() as i64;

        let y_ticks: Vec<(f64, String)> = if self.log_y {
            log_ticks(yl, yh)
        } else {
            let (yt, yd) = ticks(yl, yh, 6);
            yt.into_iter().map(|v| (v, format_tick(v, yd))).collect()
        };
        for (v, label) in &y_ticks {
            let y = px_y(*v);
            cv.hline(x0, x1, y, 1, LIGHT_GREY);
            cv.hline(x0 - 5, x0, y, 1, BLACK);
            cv.text(x0 - 8 - text_width(label) as i64, y - 7, label, BLACK);
        }
        let (xt, xd) = ticks(xl, xh, 6);
        for v in &xt {
            let x = px_x(*v);
            cv.vline(x, y0, y1, 1, LIGHT_GREY);
            cv.vline(x, y1, y1 + 5, 1, BLACK);
            cv.text_centered(x, y1 + 10, &format_tick(*v, xd), BLACK);
        }
        for line in &self.lines {
            let mut prev: Option<(i64, i64)> = None;
            for point in self.points(line) {
                let Some((x, y)) = point else {
                    prev = None;
                    continue;
                };
                let p = (px_x(x), px_y(y));
                if let Some(q) = prev {
                    segment(cv, q, p, line.color);
                }
                cv.rect(p.0 - 2, p.1 - 2, p.0 + 2, p.1 + 2, line.color);
                prev = Some(p);
            }
        }
        cv.hline(x0, x1, y1, 2, BLACK);
        cv.vline(x0 - 1, y0, y1, 2, BLACK);
        cv.text_centered((x0 + x1) / 2, oy + 8, &self.title, BLACK);
        cv.text_centered((x0 + x1) / 2, y1 + 36, &self.x_label, BLACK);
        cv.text(ox + 8, y0 - 20, &self.y_label, BLACK);
        let legend_w = self
            .lines
            .iter()
            .map(|l| text_width(&l.label))
            .max()
            .unwrap_or(0) as i64
            + 30;
        let lx = x1 - legend_w - 10;
        for (k, line) in self.lines.iter().enumerate() {
            let ly = y0 + 10 + 22 * k as i64;
            cv.rect(lx - 4, ly - 4, x1 - 6, ly + 17, WHITE);
            cv.rect(lx, ly + 2, lx + 16, ly + 12, line.color);
            cv.text(lx + 24, ly, &line.label, BLACK);
        }
    }

    /// The chart alone on a white `width` × `height` canvas (the plot area leaves fixed
    /// margins for labels, so below about 250 × 200 pixels it is cramped).
    pub fn render(&self, width: usize, height: usize) -> Canvas {
        let mut cv = Canvas::sized(width, height);
        self.draw(&mut cv, 0, 0, width as i64, height as i64);
        cv
    }

    /// The chart alone as a 900 × 560 PNG.
    pub fn save_png(&self, path: &Path) -> io::Result<()> {
        self.render(WIDTH, HEIGHT).save(path)
    }
}

/// A 2-pixel straight segment (DDA).
fn segment(cv: &mut Canvas, (ax, ay): (i64, i64), (bx, by): (i64, i64), c: Rgb) {
    let steps = (bx - ax).abs().max((by - ay).abs()).max(1);
    for k in 0..=steps {
        let x = ax + (bx - ax) * k / steps;
        let y = ay + (by - ay) * k / steps;
        cv.rect(x, y, x + 1, y + 1, c);
    }
}

/// Several charts in one PNG: a grid of `panel_width` × `panel_height` panels, `columns` per
/// row (at least 1), filled row by row; the image is `columns · panel_width` wide and
/// `⌈panels / columns⌉ · panel_height` high (one blank row for no panels).
pub fn save_panels_png(
    path: &Path,
    panels: &[&LineChart],
    columns: usize,
    panel_width: usize,
    panel_height: usize,
) -> io::Result<()> {
    let columns = columns.max(1);
    let rows = panels.len().div_ceil(columns).max(1);
    let mut cv = Canvas::sized(columns * panel_width, rows * panel_height);
    for (k, chart) in panels.iter().enumerate() {
        let (ox, oy) = ((k % columns) * panel_width, (k / columns) * panel_height);
        chart.draw(
            &mut cv,
            ox as i64,
            oy as i64,
            panel_width as i64,
            panel_height as i64,
        );
    }
    cv.save(path)
}

/// The 5×7 glyph of a character (rows top to bottom, bit 4 = leftmost column). Lower case is
/// drawn as upper case; unknown characters as `?`.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ' ' => [0; 7],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '<' => [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
        '>' => [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        let (t, d) = ticks(-1.0, 1.0, 8);
        assert_eq!(d, 1);
        assert_eq!(t.first().copied(), Some(-1.0));
        assert_eq!(t, [-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(format_tick(-0.0, 2), "0.00");
    }

    /// A per-process file name in the temp directory, removed by the caller.
    fn temp_png(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("plot_test_{}_{name}.png", std::process::id()))
    }

    /// Decodes a PNG file: (width, height, RGB bytes).
    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let file = io::BufReader::new(std::fs::File::open(path).expect("png written"));
        let mut reader = png::Decoder::new(file).read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn count(canvas: &Canvas, c: Rgb) -> usize {
        canvas.pixels().chunks_exact(3).filter(|p| *p == c).count()
    }

    fn chart<'a>(log_y: bool, lines: Vec<Line<'a>>) -> LineChart<'a> {
        LineChart {
            title: "loss per epoch".to_string(),
            x_label: "epoch".to_string(),
            y_label: "value".to_string(),
            log_y,
            lines,
        }
    }

    fn line<'a>(label: &str, x: &'a [f64], y: &'a [f64], k: usize) -> Line<'a> {
        Line {
            label: label.to_string(),
            x,
            y,
            color: PALETTE[k],
        }
    }

    #[test]
    fn line_chart_png_decodes_to_its_size() {
        let x: Vec<f64> = (0..50).map(f64::from).collect();
        let a: Vec<f64> = x.iter().map(|e| 2.0 * (-e / 10.0).exp()).collect();
        let b: Vec<f64> = x.iter().map(|e| 1.0 / (1.0 + e)).collect();
        let c = chart(
            false,
            vec![line("total", &x, &a, 0), line("mst", &x, &b, 1)],
        );
        let path = temp_png("single");
        c.save_png(&path).unwrap();
        let (w, h, pixels) = decode(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!((w, h), (WIDTH as u32, HEIGHT as u32));
        // What was written is exactly what render draws, and both curves are visible.
        let canvas = c.render(WIDTH, HEIGHT);
        assert_eq!(pixels, canvas.pixels());
        assert!(count(&canvas, PALETTE[0]) > 200 && count(&canvas, PALETTE[1]) > 200);
    }

    #[test]
    fn panels_png_has_grid_size() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [10.0, 1.0, 0.1, 0.01];
        let lin = chart(false, vec![line("a", &x, &y, 0)]);
        let log = chart(true, vec![line("b", &x, &y, 2)]);
        let path = temp_png("panels");
        save_panels_png(&path, &[&lin, &log, &lin], 2, 320, 240).unwrap();
        let (w, h, pixels) = decode(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!((w, h), (640, 480));
        // The empty fourth cell (bottom right) stays white.
        let row = |y: usize| &pixels[3 * (y * 640 + 330)..3 * (y * 640 + 630)];
        assert!((250..470).all(|y| row(y).iter().all(|&v| v == 255)));
        // Each drawn panel has its own curve colour.
        let left_top = &pixels[..3 * 640 * 240];
        assert!(left_top.chunks_exact(3).any(|p| p == PALETTE[2]));
    }

    #[test]
    fn nan_points_are_skipped_without_poisoning_the_range() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let clean = [1.0, 2.0, 3.0, 4.0, 5.0];
        let dirty = [1.0, f64::NAN, 3.0, f64::INFINITY, 5.0];
        let xs_nan = [0.0, f64::NAN, 2.0, 3.0, 4.0];
        let a = chart(false, vec![line("clean", &x, &clean, 0)]);
        let b = chart(
            false,
            vec![
                line("clean", &x, &clean, 0),
                line("dirty", &x, &dirty, 1),
                line("bad x", &xs_nan, &clean, 2),
            ],
        );
        assert_eq!(a.bounds(), b.bounds());
        let bounds = b.bounds();
        assert!(bounds.y.0.is_finite() && bounds.y.1.is_finite());
        let canvas = b.render(600, 400);
        // The dirty line keeps its finite points (1, 3, 5), isolated squares with no segments.
        assert!(count(&canvas, PALETTE[1]) > 0);
        // A line of nothing but NaN still renders (default axes).
        let nan = [f64::NAN; 3];
        let c = chart(false, vec![line("nan", &x[..3], &nan, 0)]);
        assert_eq!(
            c.bounds(),
            Bounds {
                x: (0.0, 1.0),
                y: (-0.05, 1.05)
            }
        );
        assert_eq!(count(&c.render(400, 300), PALETTE[0]), 17 * 11); // legend swatch only
    }

    #[test]
    fn log_axis_skips_non_positive_values() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [0.0, -3.0, 1e-3, 1.0, 100.0];
        let only_positive = chart(true, vec![line("s", &x[2..], &y[2..], 0)]);
        let with_bad = chart(true, vec![line("s", &x, &y, 0)]);
        // x spans the drawable points only, so both charts have identical axes.
        assert_eq!(only_positive.bounds(), with_bad.bounds());
        let b = with_bad.bounds();
        assert!((b.y.0 - (-3.25)).abs() < 1e-12 && (b.y.1 - 2.25).abs() < 1e-12);
        assert_eq!(
            with_bad.render(500, 300).pixels(),
            only_positive.render(500, 300).pixels()
        );
        // Powers of ten as ticks.
        let labels: Vec<String> = log_ticks(b.y.0, b.y.1).into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["1e-3", "1e-2", "1e-1", "1e0", "1e1", "1e2"]);
    }

    #[test]
    fn log_ticks_never_leave_the_axis_bare() {
        // Inside one decade: round linear values instead of powers of ten.
        let t = log_ticks(2f64.log10(), 8f64.log10());
        assert!(t.len() >= 2, "{t:?}");
        assert!(t
            .iter()
            .all(|(v, _)| (2f64.log10()..=8f64.log10()).contains(v)));
        // Many decades: thinned to at most about eight labels.
        let t = log_ticks(-300.0, 300.0);
        assert!((2..=9).contains(&t.len()), "{t:?}");
    }

    #[test]
    fn single_point_and_constant_lines_render() {
        let x = [3.0];
        let y = [7.0];
        let c = chart(false, vec![line("one", &x, &y, 3)]);
        assert_eq!(
            c.bounds(),
            Bounds {
                x: (2.5, 3.5),
                y: (6.45, 7.55)
            }
        );
        let canvas = c.render(400, 300);
        assert_eq!((canvas.width(), canvas.height()), (400, 300));
        assert!(count(&canvas, PALETTE[3]) > 17 * 11); // swatch plus the point's square
        let xs = [0.0, 1.0, 2.0];
        let flat = [0.5; 3];
        for log_y in [false, true] {
            let c = chart(log_y, vec![line("flat", &xs, &flat, 4)]);
            let canvas = c.render(400, 300);
            assert!(count(&canvas, PALETTE[4]) > 17 * 11 + 100, "log_y {log_y}");
        }
        // Extreme magnitudes neither overflow nor hang.
        let huge = [-f64::MAX, f64::MAX];
        let c = chart(false, vec![line("huge", &xs[..2], &huge, 5)]);
        assert!(count(&c.render(300, 200), PALETTE[5]) > 17 * 11);
        let c = chart(false, vec![line("offset", &huge, &xs[..2], 5)]);
        assert!(count(&c.render(300, 200), PALETTE[5]) > 17 * 11);
        // Tiny panels and no panels at all are not errors.
        c.render(10, 10);
        let path = temp_png("empty_panels");
        save_panels_png(&path, &[], 3, 100, 80).unwrap();
        assert_eq!(decode(&path).0, 300);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn histogram_still_renders() {
        let values: Vec<f64> = (0..1000).map(|k| (k as f64 * 0.618).fract()).collect();
        let h = Histogram {
            title: "uniform".to_string(),
            x_label: "x".to_string(),
            lo: 0.0,
            hi: 1.0,
            bins: 20,
            series: vec![Series {
                label: "sample".to_string(),
                values: &values,
                color: BLUE,
                style: Style::Bars,
            }],
            markers: vec![Marker {
                label: "half".to_string(),
                x: 0.5,
                color: RED,
            }],
            reference_density: Some(("one".to_string(), 1.0, ORANGE)),
        };
        let path = temp_png("histogram");
        h.save_png(&path).unwrap();
        let (w, h, _) = decode(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!((w, h), (WIDTH as u32, HEIGHT as u32));
    }
}
