//! Figures with `plotters`: learning curves and a confusion-matrix heatmap, as PNG or SVG
//! (chosen by the file extension), written atomically.
//!
//! Text is drawn with DejaVu Sans bundled in the binary (`assets/fonts`): plotters'
//! `ab_glyph` feature measures it and [`text::GlyphTextBackend`] rasterises it for PNGs,
//! so rendering needs no fontconfig and no system fonts. SVG files reference the
//! `sans-serif` family and let the viewer pick the font.

mod confusion;
mod curves;
mod text;

use super::atomic::write_atomic;
use super::history::History;
use super::metrics::ConfusionMatrix;
use crate::{Error, Result};
use confusion::ConfusionHeatmap;
use curves::LearningCurves;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

const FAMILY: &str = "sans-serif";
const REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180); // matplotlib tab:blue
const VAL_COLOR: RGBColor = RGBColor(255, 127, 14); // tab:orange
const TEXT_COLOR: RGBColor = RGBColor(34, 34, 34);
const MUTED_TEXT: RGBColor = RGBColor(100, 100, 100);
const GRID_BOLD: RGBColor = RGBColor(214, 214, 214);

/// Register the bundled fonts with plotters once per process.
fn ensure_fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, REGULAR).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, BOLD).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "the bundled DejaVu fonts could not be parsed",
        ))
    }
}

fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}
fn bold(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Bold)
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something drawable on any plotters backend at a fixed pixel size.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Draw `figure` to `path`: PNG for `.png`, SVG for `.svg` (case-insensitive).
fn render(figure: &impl Figure, path: &Path) -> Result<()> {
    ensure_fonts()?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let draw_failed =
        |e: String| Error::io(path, std::io::Error::other(format!("drawing failed: {e}")));
    let bytes = match ext.as_deref() {
        Some("png") => {
            let (w, h) = figure.size();
            let mut pixels = vec![255u8; w as usize * h as usize * 3];
            {
                let bitmap = BitMapBackend::with_buffer(&mut pixels, (w, h));
                let backend = text::GlyphTextBackend::new(bitmap, REGULAR, BOLD)
                    .ok_or_else(|| draw_failed("the bundled fonts do not parse".into()))?;
                let root = backend.into_drawing_area();
                figure.draw(&root).map_err(|e| draw_failed(e.to_string()))?;
                root.present().map_err(|e| draw_failed(e.to_string()))?;
            }
            encode_png(&pixels, w, h).map_err(|e| draw_failed(e.to_string()))?
        }
        Some("svg") => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
                figure.draw(&root).map_err(|e| draw_failed(e.to_string()))?;
                root.present().map_err(|e| draw_failed(e.to_string()))?;
            }
            svg.into_bytes()
        }
        _ => {
            return Err(Error::invalid(format!(
                "{}: plots are written as .png or .svg",
                path.display()
            )))
        }
    };
    write_atomic(path, &bytes)
}

fn encode_png(
    rgb: &[u8],
    width: u32,
    height: u32,
) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Learning curves: loss (left) and accuracy (right), train and validation, by epoch.
/// Non-finite values leave a gap in the line. The best validation accuracy is marked.
pub fn plot_learning_curves(history: &History, title: &str, path: &Path) -> Result<()> {
    if history.is_empty() {
        return Err(Error::invalid(
            "cannot plot the learning curves of an empty history",
        ));
    }
    render(&LearningCurves { history, title }, path)
}

/// A confusion-matrix heatmap: counts in the cells, colour = share of the true class
/// (row-normalised, i.e. per-class recall on the diagonal), class names on both axes.
pub fn plot_confusion_matrix(
    matrix: &ConfusionMatrix,
    class_names: &[&str],
    title: &str,
    path: &Path,
) -> Result<()> {
    if class_names.len() != matrix.n_classes() {
        return Err(Error::invalid(format!(
            "{} class names for a {}-class confusion matrix",
            class_names.len(),
            matrix.n_classes()
        )));
    }
    if matrix.n_classes() == 0 {
        return Err(Error::invalid("cannot plot a 0-class confusion matrix"));
    }
    render(
        &ConfusionHeatmap {
            matrix,
            class_names,
            title,
        },
        path,
    )
}

#[cfg(test)]
mod tests {
    use super::confusion::blues;
    use super::*;
    use crate::train::history::EpochRecord;

    /// Where figures go: `$MELGRAD_PLOT_DIR` when set (to look at them), else a temp dir.
    fn out_dir() -> (Option<tempfile::TempDir>, std::path::PathBuf) {
        match std::env::var_os("MELGRAD_PLOT_DIR") {
            Some(d) => {
                std::fs::create_dir_all(&d).unwrap();
                (None, d.into())
            }
            None => {
                let t = tempfile::tempdir().unwrap();
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        }
    }

    fn history(epochs: usize) -> History {
        let mut h = History::new();
        for e in 1..=epochs {
            let x = e as f64;
            h.push(EpochRecord {
                epoch: e,
                train_loss: 2.3 * (-x / 9.0).exp() + 0.08,
                train_acc: 1.0 - 0.9 * (-x / 8.0).exp(),
                val_loss: Some(2.3 * (-x / 8.0).exp() + 0.45 + 0.004 * x + 0.03 * (x * 1.7).sin()),
                val_acc: Some(0.78 - 0.68 * (-x / 7.0).exp() + 0.015 * (x * 2.3).sin()),
                lr: 1e-3,
                seconds: 30.0,
            })
            .unwrap();
        }
        h
    }

    const GENRES: [&str; 10] = [
        "blues",
        "classical",
        "country",
        "disco",
        "hiphop",
        "jazz",
        "metal",
        "pop",
        "reggae",
        "rock",
    ];

    fn gtzan_like_matrix() -> ConfusionMatrix {
        let mut cm = ConfusionMatrix::new(10);
        for t in 0..10 {
            for k in 0..20 {
                let p = match (t * 7 + k * 3) % 20 {
                    0..=13 => t,
                    14 | 15 => (t + 1) % 10,
                    16 => (t + 3) % 10,
                    17 => (t + 9) % 10,
                    _ => (t * 3 + k) % 10,
                };
                cm.add(t, p).unwrap();
            }
        }
        cm
    }

    fn png_size(bytes: &[u8]) -> (u32, u32) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        (reader.info().width, reader.info().height)
    }

    /// Count pixels that are neither white nor close to it: text and lines leave some.
    fn dark_pixels(bytes: &[u8], region: (u32, u32, u32, u32)) -> usize {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (x0, y0, x1, y1) = region;
        let mut dark = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let i = (y * info.width + x) as usize * 3;
                if buf[i] < 128 && buf[i + 1] < 128 && buf[i + 2] < 128 {
                    dark += 1;
                }
            }
        }
        dark
    }

    #[test]
    fn learning_curves_png_and_svg() {
        let (_keep, dir) = out_dir();
        let h = history(40);
        let png_path = dir.join("learning_curves.png");
        plot_learning_curves(&h, "KAIST CNN on GTZAN", &png_path).unwrap();
        let bytes = std::fs::read(&png_path).unwrap();
        assert_eq!(png_size(&bytes), (1400, 560));
        // The title band must contain rendered glyphs (the bundled font works).
        assert!(
            dark_pixels(&bytes, (450, 0, 950, 40)) > 200,
            "title text missing"
        );
        let svg_path = dir.join("learning_curves.svg");
        plot_learning_curves(&h, "KAIST CNN on GTZAN", &svg_path).unwrap();
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(
            svg.starts_with("<svg")
                && svg.contains("KAIST CNN on GTZAN")
                && svg.contains("validation")
        );
    }

    #[test]
    fn learning_curves_handle_one_epoch_gaps_and_no_validation() {
        let (_keep, dir) = out_dir();
        let mut h = history(1);
        plot_learning_curves(&h, "one epoch", &dir.join("one_epoch.png")).unwrap();
        h = History::new();
        for e in 1..=6 {
            let loss = if e == 3 { f64::NAN } else { 1.0 / e as f64 };
            h.push(EpochRecord {
                epoch: e,
                train_loss: loss,
                train_acc: 0.1 * e as f64,
                val_loss: None,
                val_acc: None,
                lr: 0.01,
                seconds: 1.0,
            })
            .unwrap();
        }
        plot_learning_curves(&h, "no validation, NaN at epoch 3", &dir.join("gaps.png")).unwrap();
        assert!(plot_learning_curves(&History::new(), "x", &dir.join("e.png")).is_err());
        assert!(plot_learning_curves(&h, "x", &dir.join("curves.jpg")).is_err());
    }

    #[test]
    fn confusion_matrix_png_and_svg() {
        let (_keep, dir) = out_dir();
        let cm = gtzan_like_matrix();
        let png_path = dir.join("confusion.png");
        plot_confusion_matrix(&cm, &GENRES, "GTZAN test set, KAIST CNN", &png_path).unwrap();
        let bytes = std::fs::read(&png_path).unwrap();
        let (w, h) = png_size(&bytes);
        assert!(w >= 700 && h >= 700, "{w}×{h}");
        assert!(
            dark_pixels(&bytes, (0, 0, 90, h)) > 300,
            "row labels missing"
        );
        let svg_path = dir.join("confusion.svg");
        plot_confusion_matrix(&cm, &GENRES, "GTZAN test set, KAIST CNN", &svg_path).unwrap();
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        for name in GENRES {
            assert!(svg.contains(name), "{name} missing from the SVG");
        }
        assert!(svg.contains("\n14\n"), "diagonal count missing");
    }

    #[test]
    fn confusion_matrix_long_names_rotate_and_bad_input_errors() {
        let (_keep, dir) = out_dir();
        let mut cm = ConfusionMatrix::new(3);
        for (t, p) in [(0, 0), (0, 1), (1, 1), (2, 0), (2, 2), (2, 2)] {
            cm.add(t, p).unwrap();
        }
        let names = ["electronic dance music", "singer-songwriter", "x"];
        plot_confusion_matrix(&cm, &names, "long names", &dir.join("confusion_long.png")).unwrap();
        assert!(plot_confusion_matrix(&cm, &names[..2], "t", &dir.join("c.png")).is_err());
        assert!(
            plot_confusion_matrix(&ConfusionMatrix::new(0), &[], "t", &dir.join("c.png")).is_err()
        );
    }

    #[test]
    fn blues_runs_from_white_to_navy() {
        assert_eq!(blues(0.0), RGBColor(247, 251, 255));
        assert_eq!(blues(1.0), RGBColor(8, 48, 107));
        assert_eq!(blues(-3.0), blues(0.0));
        let mid = blues(0.5);
        assert_eq!(mid, RGBColor(107, 174, 214));
    }
}
