//! Confusion-matrix heatmap: counts and row shares in the cells, class names on the axes.

use super::{bold, ensure_fonts, font, DrawResult, Figure, GRID_BOLD, MUTED_TEXT, TEXT_COLOR};
use crate::train::metrics::ConfusionMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;

pub(super) struct ConfusionHeatmap<'a> {
    pub(super) matrix: &'a ConfusionMatrix,
    pub(super) class_names: &'a [&'a str],
    pub(super) title: &'a str,
}

/// Pixel layout of the heatmap, derived from the class count and label widths.
struct HeatmapLayout {
    cell: i32,
    grid_left: i32,
    grid_top: i32,
    label_width: i32,
    rotate_x_labels: bool,
    width: u32,
    height: u32,
}

const LABEL_SIZE: f64 = 15.0;
const COLORBAR_SPACE: i32 = 120;

impl ConfusionHeatmap<'_> {
    /// Width of the longest class name, estimated from the bundled font's advance widths.
    fn label_width(&self) -> i32 {
        let longest = self
            .class_names
            .iter()
            .map(|n| text_width(n, LABEL_SIZE))
            .fold(0, i32::max);
        longest.max(20)
    }

    fn layout(&self) -> HeatmapLayout {
        let n = self.matrix.n_classes() as i32;
        let cell = if n <= 12 { 74 } else { (900 / n).max(28) };
        let label_width = self.label_width();
        let rotate_x_labels = label_width > cell - 8;
        let x_label_height = if rotate_x_labels {
            label_width + 14
        } else {
            28
        };
        let grid_left = 40 + label_width + 14;
        let grid_top = 96;
        let width = grid_left + n * cell + COLORBAR_SPACE;
        let height = grid_top + n * cell + x_label_height + 46;
        HeatmapLayout {
            cell,
            grid_left,
            grid_top,
            label_width,
            rotate_x_labels,
            width: width.max(520) as u32,
            height: height as u32,
        }
    }
}

/// Text width in pixels from the bundled regular font.
fn text_width(text: &str, size: f64) -> i32 {
    if ensure_fonts().is_err() {
        return (text.chars().count() as f64 * size * 0.6) as i32;
    }
    font(size)
        .box_size(text)
        .map(|(w, _)| w as i32)
        .unwrap_or((text.chars().count() as f64 * size * 0.6) as i32)
}

/// The matplotlib "Blues" colormap at `t` in [0, 1].
pub(super) fn blues(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (247, 251, 255),
        (222, 235, 247),
        (198, 219, 239),
        (158, 202, 225),
        (107, 174, 214),
        (66, 146, 198),
        (33, 113, 181),
        (8, 81, 156),
        (8, 48, 107),
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Figure for ConfusionHeatmap<'_> {
    fn size(&self) -> (u32, u32) {
        let l = self.layout();
        (l.width, l.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let l = self.layout();
        let n = self.matrix.n_classes();
        let (grid_w, cell) = (n as i32 * l.cell, l.cell);
        let center = Pos::new(HPos::Center, VPos::Center);
        root.fill(&WHITE)?;

        // Title and summary line.
        let mid_x = l.width as i32 / 2;
        root.draw(&Text::new(
            self.title.to_string(),
            (mid_x, 28),
            bold(22.0).color(&TEXT_COLOR).pos(center),
        ))?;
        let total = self.matrix.total();
        let summary = match self.matrix.accuracy() {
            Some(acc) => format!(
                "accuracy {:.1}% · {total} samples · colour = share of the true class",
                100.0 * acc
            ),
            None => "no samples".to_string(),
        };
        root.draw(&Text::new(
            summary,
            (mid_x, 58),
            font(14.0).color(&MUTED_TEXT).pos(center),
        ))?;

        // Cells: colour by row share, count (and row percentage) as text.
        for t in 0..n {
            let row_total: usize = self.matrix.row(t).iter().sum();
            for p in 0..n {
                let count = self.matrix.get(t, p);
                let share = if row_total > 0 {
                    count as f64 / row_total as f64
                } else {
                    0.0
                };
                let x0 = l.grid_left + p as i32 * cell;
                let y0 = l.grid_top + t as i32 * cell;
                let fill = blues(share);
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    fill.filled(),
                ))?;
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell, y0 + cell)],
                    WHITE.stroke_width(1),
                ))?;
                let ink = match (share > 0.5, count) {
                    (true, _) => WHITE,
                    (false, 0) => RGBColor(170, 170, 170), // zeros recede
                    (false, _) => TEXT_COLOR,
                };
                let (cx, cy) = (x0 + cell / 2, y0 + cell / 2);
                let show_share = cell >= 56 && row_total > 0 && count > 0;
                let count_y = if show_share { cy - 8 } else { cy };
                let count_size = (cell as f64 * 0.24).clamp(10.0, 17.0);
                let count_font = if t == p {
                    bold(count_size)
                } else {
                    font(count_size)
                };
                root.draw(&Text::new(
                    count.to_string(),
                    (cx, count_y),
                    count_font.color(&ink).pos(center),
                ))?;
                if show_share {
                    let pct = format!("{:.0}%", 100.0 * share);
                    root.draw(&Text::new(
                        pct,
                        (cx, cy + 12),
                        font(11.0).color(&ink.mix(0.85)).pos(center),
                    ))?;
                }
            }
        }
        root.draw(&Rectangle::new(
            [
                (l.grid_left, l.grid_top),
                (l.grid_left + grid_w, l.grid_top + grid_w),
            ],
            GRID_BOLD.stroke_width(1),
        ))?;

        // Class names: rows (true) on the left, columns (predicted) below.
        let right_mid = Pos::new(HPos::Right, VPos::Center);
        for (i, name) in self.class_names.iter().enumerate() {
            let c = i as i32 * cell + cell / 2;
            let y_label = font(LABEL_SIZE).color(&TEXT_COLOR).pos(right_mid);
            root.draw(&Text::new(
                name.to_string(),
                (l.grid_left - 10, l.grid_top + c),
                y_label,
            ))?;
            let below = l.grid_top + grid_w + 10;
            let x_label = if l.rotate_x_labels {
                // Rotated 270°: reads bottom-to-top, its end touching the grid.
                font(LABEL_SIZE)
                    .transform(FontTransform::Rotate270)
                    .color(&TEXT_COLOR)
                    .pos(Pos::new(HPos::Right, VPos::Center))
            } else {
                font(LABEL_SIZE)
                    .color(&TEXT_COLOR)
                    .pos(Pos::new(HPos::Center, VPos::Top))
            };
            root.draw(&Text::new(
                name.to_string(),
                (l.grid_left + c, below),
                x_label,
            ))?;
        }

        // Axis titles.
        let x_labels_h = if l.rotate_x_labels {
            l.label_width + 14
        } else {
            28
        };
        let axis_font = bold(15.0).color(&TEXT_COLOR);
        root.draw(&Text::new(
            "predicted genre",
            (
                l.grid_left + grid_w / 2,
                l.grid_top + grid_w + x_labels_h + 18,
            ),
            axis_font.clone().pos(center),
        ))?;
        root.draw(&Text::new(
            "true genre",
            (18, l.grid_top + grid_w / 2),
            axis_font.transform(FontTransform::Rotate270).pos(center),
        ))?;

        // Colour bar.
        let bar_x = l.grid_left + grid_w + 28;
        // Bands of 3 px: smooth to the eye, and few enough elements for a light SVG.
        const BAND: i32 = 3;
        for top in (0..grid_w).step_by(BAND as usize) {
            let y = l.grid_top + top;
            let color = blues(1.0 - (top as f64 + BAND as f64 / 2.0) / grid_w as f64);
            let bottom = (y + BAND).min(l.grid_top + grid_w);
            root.draw(&Rectangle::new(
                [(bar_x, y), (bar_x + 16, bottom)],
                color.filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bar_x, l.grid_top), (bar_x + 16, l.grid_top + grid_w)],
            GRID_BOLD.stroke_width(1),
        ))?;
        for k in 0..=4 {
            let y = l.grid_top + grid_w - grid_w * k / 4;
            root.draw(&PathElement::new(
                vec![(bar_x + 16, y), (bar_x + 21, y)],
                MUTED_TEXT.stroke_width(1),
            ))?;
            let label = format!("{}%", 25 * k);
            let style = font(12.0)
                .color(&MUTED_TEXT)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(label, (bar_x + 24, y), style))?;
        }
        Ok(())
    }
}
