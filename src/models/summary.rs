//! Keras-style model summaries.

use crate::nn::Layer;
use crate::{Float, Result};

/// One line of a summary: layer name, what it is, output shape (batch axis as `None`).
#[derive(Clone, Debug)]
pub struct SummaryRow {
    pub name: String,
    pub layer: String,
    pub output_shape: Vec<usize>,
    pub params: usize,
}

/// A model's layer table.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub model: String,
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    pub fn new(model: &str) -> Self {
        Summary {
            model: model.to_string(),
            rows: Vec::new(),
        }
    }
    /// Append a row; `output_shape` excludes the batch axis.
    pub fn row(&mut self, name: &str, layer: String, output_shape: &[usize], params: usize) {
        self.rows.push(SummaryRow {
            name: name.to_string(),
            layer,
            output_shape: output_shape.to_vec(),
            params,
        });
    }
    /// Append a layer's row, computing its output shape from `input` (no batch axis) with
    /// the layer's own shape rule; returns that output shape for the next row.
    pub fn layer<T: Float>(
        &mut self,
        name: &str,
        layer: &dyn Layer<T>,
        input: &[usize],
    ) -> Result<Vec<usize>> {
        let mut batched = vec![1];
        batched.extend_from_slice(input);
        let out = layer.output_shape(&batched)?[1..].to_vec();
        let params = layer.params().iter().map(|p| p.numel()).sum();
        self.row(name, layer.describe(), &out, params);
        Ok(out)
    }
    pub fn total_params(&self) -> usize {
        self.rows.iter().map(|r| r.params).sum()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shape = |s: &[usize]| {
            let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
            format!("(None, {})", dims.join(", "))
        };
        let w_name = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let w_layer = self
            .rows
            .iter()
            .map(|r| r.layer.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        let w_shape = self
            .rows
            .iter()
            .map(|r| shape(&r.output_shape).len())
            .max()
            .unwrap_or(12)
            .max(12);
        let width = w_name + w_layer + w_shape + 14;
        writeln!(f, "Model: {}", self.model)?;
        writeln!(f, "{}", "━".repeat(width))?;
        writeln!(
            f,
            "{:<w_name$}  {:<w_layer$}  {:<w_shape$}  {:>8}",
            "Layer", "Type", "Output shape", "Param #"
        )?;
        writeln!(f, "{}", "━".repeat(width))?;
        for r in &self.rows {
            let pad = w_layer - r.layer.chars().count();
            writeln!(
                f,
                "{:<w_name$}  {}{}  {:<w_shape$}  {:>8}",
                r.name,
                r.layer,
                " ".repeat(pad),
                shape(&r.output_shape),
                r.params
            )?;
        }
        writeln!(f, "{}", "━".repeat(width))?;
        writeln!(f, "Total params: {}", self.total_params())
    }
}
