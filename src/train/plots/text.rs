//! A bitmap backend whose text is rasterised with `ab_glyph` directly.
//!
//! plotters' own `ab_glyph` text path drops each glyph's left side bearing (narrow
//! letters such as `i` and `l` land too far left, leaving visible gaps: "vali dation").
//! This wrapper forwards every drawing call to [`BitMapBackend`] except text, which it
//! lays out with proper advances, kerning and bearings, then blends with antialiasing.

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::prelude::*;
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
};

type BitmapError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;
type DrawResult = Result<(), DrawingErrorKind<BitmapError>>;

pub(super) struct GlyphTextBackend<'a> {
    inner: BitMapBackend<'a>,
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

/// Glyphs of one line of text placed along the baseline, and the line's metrics.
struct LineLayout {
    glyphs: Vec<(GlyphId, f32)>,
    width: f32,
    ascent: f32,
    height: f32,
}

impl<'a> GlyphTextBackend<'a> {
    pub(super) fn new(
        inner: BitMapBackend<'a>,
        regular: &'static [u8],
        bold: &'static [u8],
    ) -> Option<Self> {
        Some(GlyphTextBackend {
            inner,
            regular: FontRef::try_from_slice(regular).ok()?,
            bold: FontRef::try_from_slice(bold).ok()?,
        })
    }

    fn font(&self, style: FontStyle) -> &FontRef<'static> {
        match style {
            FontStyle::Bold => &self.bold,
            _ => &self.regular,
        }
    }

    fn layout(&self, text: &str, font: &FontRef<'static>, size: f32) -> LineLayout {
        let scaled = font.as_scaled(PxScale::from(size));
        let mut glyphs = Vec::with_capacity(text.len());
        let mut caret = 0.0;
        let mut previous: Option<GlyphId> = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(prev) = previous {
                caret += scaled.kern(prev, id);
            }
            glyphs.push((id, caret));
            caret += scaled.h_advance(id);
            previous = Some(id);
        }
        LineLayout {
            glyphs,
            width: caret,
            ascent: scaled.ascent(),
            height: scaled.ascent() - scaled.descent(),
        }
    }
}

impl DrawingBackend for GlyphTextBackend<'_> {
    type ErrorType = BitmapError;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> DrawResult {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> DrawResult {
        self.inner.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> DrawResult {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> DrawResult {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> DrawResult {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> DrawResult {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> DrawResult {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> DrawResult {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, (w, h): (u32, u32), src: &[u8]) -> DrawResult {
        self.inner.blit_bitmap(pos, (w, h), src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let line = self.layout(text, self.font(style.style()), style.size() as f32);
        Ok((line.width.ceil() as u32, line.height.ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> DrawResult {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size() as f32;
        let font = self.font(style.style()).clone();
        let line = self.layout(text, &font, size);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -line.width / 2.0,
            HPos::Right => -line.width,
        };
        let baseline = match anchor.v_pos {
            VPos::Top => line.ascent,
            VPos::Center => line.ascent - line.height / 2.0,
            VPos::Bottom => line.ascent - line.height,
        };
        let transform = style.transform();
        let mut result = Ok(());
        for &(id, x) in &line.glyphs {
            let glyph = id.with_scale_and_position(PxScale::from(size), point(x + dx, baseline));
            let Some(outlined) = font.outline_glyph(glyph) else {
                continue; // blank glyph (space)
            };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                if coverage <= 0.0 || result.is_err() {
                    return;
                }
                let local = (
                    bounds.min.x as i32 + gx as i32,
                    bounds.min.y as i32 + gy as i32,
                );
                let (tx, ty) = transform.transform(local.0, local.1);
                let ink = BackendColor {
                    alpha: color.alpha * coverage.min(1.0) as f64,
                    rgb: color.rgb,
                };
                result = self.inner.draw_pixel((pos.0 + tx, pos.1 + ty), ink);
            });
        }
        result
    }
}
