//! Histograms as PNG files, drawn pixel by pixel with a built-in 5×7 bitmap font.
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

pub const BLACK: Rgb = [0, 0, 0];
pub const GREY: Rgb = [150, 150, 150];
pub const LIGHT_GREY: Rgb = [225, 225, 225];
pub const BLUE: Rgb = [45, 105, 190];
pub const RED: Rgb = [210, 40, 40];
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
    pub label: String,
    pub values: &'a [f64],
    pub color: Rgb,
    pub style: Style,
}

/// A vertical line at `x`.
#[derive(Debug, Clone)]
pub struct Marker {
    pub label: String,
    pub x: f64,
    pub color: Rgb,
}

/// A density histogram of one or more samples on a common x range.
#[derive(Debug, Clone)]
pub struct Histogram<'a> {
    pub title: String,
    pub x_label: String,
    pub lo: f64,
    pub hi: f64,
    pub bins: usize,
    pub series: Vec<Series<'a>>,
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

struct Canvas {
    pixels: Vec<u8>,
    width: usize,
    height: usize,
}

impl Canvas {
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

    fn save(&self, path: &Path) -> io::Result<()> {
        let file = std::fs::File::create(path)?;
        let mut encoder = png::Encoder::new(
            io::BufWriter::new(file),
            self.width as u32,
            self.height as u32,
        );
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(io::Error::other)?;
        writer
            .write_image_data(&self.pixels)
            .map_err(io::Error::other)?;
        writer.finish().map_err(io::Error::other)
    }
}

fn text_width(s: &str) -> usize {
    s.chars().count() * 6 * SCALE
}

/// Tick positions covering [lo, hi] with a 1-2-5 step, and the number of decimals to print.
fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let raw = (hi - lo) / target as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
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

/// A palette for line charts.
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

/// One curve of a [`LineChart`]; points with a non-finite coordinate (or y ≤ 0 on a log
/// axis) are skipped and break the line.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub label: String,
    pub x: &'a [f64],
    pub y: &'a [f64],
    pub color: Rgb,
}

/// Curves on common axes, y linear or log₁₀.
#[derive(Debug, Clone)]
pub struct LineChart<'a> {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    pub lines: Vec<Line<'a>>,
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

    /// Draws the chart in the `w` × `h` panel whose top-left corner is (ox, oy).
    fn draw(&self, cv: &mut Canvas, ox: i64, oy: i64, w: i64, h: i64) {
        let (x0, x1) = (ox + LEFT as i64, ox + w - RIGHT as i64);
        let (y0, y1) = (oy + TOP as i64, oy + h - BOTTOM as i64);
        let points: Vec<(f64, f64)> = self
            .lines
            .iter()
            .flat_map(|l| l.x.iter().zip(l.y))
            .filter_map(|(&x, &y)| Some((x, self.y_of(y)?)).filter(|(x, _)| x.is_finite()))
            .collect();
        let range = |v: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
            match (lo.is_finite(), hi > lo) {
                (false, _) => (0.0, 1.0),
                (true, false) => (lo - 0.5, lo + 0.5),
                (true, true) => (lo, hi),
            }
        };
        let (xl, xh) = range(&mut points.iter().map(|p| p.0));
        let (yl, yh) = range(&mut points.iter().map(|p| p.1));
        let pad = 0.05 * (yh - yl);
        let (yl, yh) = (yl - pad, yh + pad);
        let px_x = |x: f64| x0 + ((x - xl) / (xh - xl) * (x1 - x0) as f64).round() as i64;
        let px_y = |y: f64| y1 - ((y - yl) / (yh - yl) * (y1 - y0) as f64).round() as i64;

        if self.log_y {
            for e in yl.ceil() as i64..=yh.floor() as i64 {
                let y = px_y(e as f64);
                cv.hline(x0, x1, y, 1, LIGHT_GREY);
                let label = format!("1e{e}");
                cv.text(x0 - 8 - text_width(&label) as i64, y - 7, &label, BLACK);
            }
        } else {
            let (yt, yd) = ticks(yl, yh, 6);
            for v in &yt {
                let y = px_y(*v);
                cv.hline(x0, x1, y, 1, LIGHT_GREY);
                let label = format_tick(*v, yd);
                cv.text(x0 - 8 - text_width(&label) as i64, y - 7, &label, BLACK);
            }
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
            for (&x, &y) in line.x.iter().zip(line.y) {
                let Some(y) = self.y_of(y).filter(|_| x.is_finite()) else {
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

    /// The chart alone, `WIDTH` × `HEIGHT` pixels.
    pub fn save_png(&self, path: &Path) -> io::Result<()> {
        save_panels_png(path, &[self], 1, WIDTH, HEIGHT)
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

/// Several charts in one PNG, `columns` per row, each `panel_width` × `panel_height`.
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
}
