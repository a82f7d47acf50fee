//! Learning curves: loss and accuracy by epoch, train and validation, in two panels.

use super::{
    bold, font, DrawResult, Figure, GRID_BOLD, MUTED_TEXT, TEXT_COLOR, TRAIN_COLOR, VAL_COLOR,
};
use crate::train::history::{EpochRecord, History};
use plotters::coord::Shift;
use plotters::prelude::*;

pub(super) struct LearningCurves<'a> {
    pub(super) history: &'a History,
    pub(super) title: &'a str,
}

/// One line of a panel: label, colour and (epoch, value) points.
struct Line {
    label: &'static str,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

impl Figure for LearningCurves<'_> {
    fn size(&self) -> (u32, u32) {
        (1400, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let body = root.titled(self.title, bold(24.0).color(&TEXT_COLOR))?;
        let (left, right) = body.split_horizontally(700);
        let records = self.history.records();
        let line = |label, color, f: &dyn Fn(&EpochRecord) -> Option<f64>| Line {
            label,
            color,
            points: records
                .iter()
                .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
                .collect(),
        };
        let losses = [
            line("train", TRAIN_COLOR, &|r| Some(r.train_loss)),
            line("validation", VAL_COLOR, &|r| r.val_loss),
        ];
        let accuracies = [
            line("train", TRAIN_COLOR, &|r| Some(100.0 * r.train_acc)),
            line("validation", VAL_COLOR, &|r| r.val_acc.map(|a| 100.0 * a)),
        ];
        let best_val = accuracies[1]
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .fold(None, |best: Option<(f64, f64)>, &p| match best {
                Some(b) if b.1 >= p.1 => Some(b),
                _ => Some(p),
            });
        draw_panel(
            &left,
            "Loss",
            "cross-entropy",
            &losses,
            None,
            false,
            SeriesLabelPosition::UpperRight,
        )?;
        draw_panel(
            &right,
            "Accuracy",
            "accuracy (%)",
            &accuracies,
            best_val,
            true,
            SeriesLabelPosition::LowerRight,
        )
    }
}

/// `[lo, hi]` of the finite values with 6% padding, at least `min_span` wide, then
/// clamped to `limits`.
fn padded_range(
    values: impl Iterator<Item = f64>,
    min_span: f64,
    limits: (f64, f64),
) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (limits.0.max(0.0), limits.0.max(0.0) + min_span);
    }
    let pad = 0.06 * (hi - lo);
    (lo, hi) = (lo - pad, hi + pad);
    if hi - lo < min_span {
        let mid = (lo + hi) / 2.0;
        (lo, hi) = (mid - min_span / 2.0, mid + min_span / 2.0);
    }
    (lo.max(limits.0), hi.min(limits.1))
}

/// Decimals needed to tell apart tick labels about `span / 8` apart.
fn tick_decimals(span: f64) -> usize {
    let step = span / 8.0;
    if step >= 1.0 || step <= 0.0 || !step.is_finite() {
        0
    } else {
        ((-step.log10()).ceil() as usize).min(6)
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    y_desc: &str,
    lines: &[Line],
    best: Option<(f64, f64)>,
    percent: bool,
    legend_at: SeriesLabelPosition,
) -> DrawResult<DB> {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let (x_lo, x_hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
        (l.min(p.0), h.max(p.0))
    });
    let x_pad = (0.03 * (x_hi - x_lo)).max(0.5);
    let (y_lo, y_hi) = if percent {
        padded_range(all().map(|p| p.1), 5.0, (0.0, 100.0))
    } else {
        padded_range(all().map(|p| p.1), 0.05, (0.0, f64::INFINITY))
    };
    let decimals = tick_decimals(y_hi - y_lo).max(if percent { 0 } else { 1 });
    let epochs = (x_hi - x_lo) as usize + 1;

    let mut chart = ChartBuilder::on(area)
        .caption(caption, bold(19.0).color(&TEXT_COLOR))
        .margin(18)
        .x_label_area_size(52)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo - x_pad)..(x_hi + x_pad), y_lo..y_hi)?;
    let integer_only = |x: &f64| {
        if (x - x.round()).abs() < 1e-6 {
            format!("{}", x.round() as i64)
        } else {
            String::new()
        }
    };
    let y_format = |y: &f64| format!("{y:.decimals$}");
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(epochs.clamp(2, 12))
        .y_labels(8)
        .x_label_formatter(&integer_only)
        .y_label_formatter(&y_format)
        .light_line_style(TRANSPARENT) // major grid lines only: a calmer background
        .bold_line_style(GRID_BOLD)
        .axis_style(MUTED_TEXT)
        .label_style(font(14.0).color(&TEXT_COLOR))
        .axis_desc_style(font(15.0).color(&TEXT_COLOR))
        .draw()?;

    let show_markers = epochs <= 60;
    for line in lines {
        let mut labelled = false;
        for segment in line
            .points
            .split(|p| !p.1.is_finite())
            .filter(|s| !s.is_empty())
        {
            let color = line.color;
            let series = chart.draw_series(LineSeries::new(
                segment.iter().copied(),
                color.stroke_width(2),
            ))?;
            if !labelled {
                series.label(line.label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
                labelled = true;
            }
            if show_markers {
                chart.draw_series(segment.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
        }
    }
    if let Some((epoch, value)) = best {
        let label = format!("best validation {value:.1}% (epoch {epoch:.0})");
        chart
            .draw_series(std::iter::once(Circle::new(
                (epoch, value),
                8,
                VAL_COLOR.stroke_width(2),
            )))?
            .label(label)
            .legend(|(x, y)| Circle::new((x + 11, y), 6, VAL_COLOR.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(legend_at)
        .margin(12)
        .legend_area_size(30)
        .label_font(font(14.0).color(&TEXT_COLOR))
        .background_style(WHITE.mix(0.92))
        .border_style(GRID_BOLD)
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_pad_widen_and_clamp() {
        let (lo, hi) = padded_range([0.0, 50.0].into_iter(), 5.0, (0.0, 100.0));
        assert_eq!((lo, hi), (0.0, 53.0));
        let (lo, hi) = padded_range([20.0, 20.4].into_iter(), 5.0, (0.0, 100.0));
        assert!((hi - lo - 5.0).abs() < 1e-9 && lo < 20.0 && hi > 20.4);
        let (lo, hi) = padded_range([f64::NAN].into_iter(), 0.05, (0.0, f64::INFINITY));
        assert!(lo == 0.0 && (hi - 0.053).abs() < 1e-12, "{lo} {hi}");
    }

    #[test]
    fn tick_decimals_follow_the_span() {
        assert_eq!(tick_decimals(100.0), 0);
        assert_eq!(tick_decimals(5.0), 1);
        assert_eq!(tick_decimals(2.6), 1);
        assert_eq!(tick_decimals(0.05), 3);
        assert_eq!(tick_decimals(0.0), 0);
    }
}
