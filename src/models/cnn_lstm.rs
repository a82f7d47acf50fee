//! The CNN-LSTM of the coursework (P1.2), in its Conv1D reading and its Conv2D reading.

use super::parallel_cnn::prefix;
use super::{prepare_input, Model, Summary, INPUT_SHAPE};
use crate::nn::{Conv1d, Conv2d, Ctx, Dropout, Layer, Linear, Lstm, MaxPool1d, MaxPool2d};
use crate::ops::conv::{Conv1dOptions, Conv2dOptions};
use crate::{Float, Param, Result, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which convolutional front end reads the spectrogram before the LSTMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontEnd {
    /// Mel bands are channels, time is the convolved axis (Keras Conv1D on (80, 80)).
    Conv1d,
    /// The spectrogram is an image; each pooled time row becomes one LSTM step.
    Conv2d,
}

enum Convs<T: Float> {
    OneD([Conv1d<T>; 2], [MaxPool1d; 2]),
    TwoD([Conv2d<T>; 2], [MaxPool2d; 2]),
}

/// Convolutions summarise short windows, two LSTMs read the result as a sequence:
///
/// ```text
/// Conv1D front end: (N, 1, 80, 80) → (N, 80 mel, 80 time)
///   Conv1d 80→8, k 4, valid, ReLU → MaxPool1d 2 → Conv1d 8→6, k 3, valid, ReLU → MaxPool1d 2
///   → (N, 6, 18) → (N, 18 steps, 6 features)
/// Conv2D front end: (N, 1, 80, 80)
///   Conv2d 1→8, 4×4, valid, ReLU → MaxPool 2×2 → Conv2d 8→6, 3×3, valid, ReLU → MaxPool 2×2
///   → (N, 6, 18, 18) → (N, 18 steps, 18 mel × 6 channels = 108 features)
/// then: LSTM 128 (full sequence) → LSTM 32 (last state) → Dense 200 ReLU → Dropout 0.2
///   → Dense n_classes
/// ```
///
/// Parameters for 8 genres: 100,654 (Conv1D) and 150,734 (Conv2D), as Keras counts them.
pub struct CnnLstm<T: Float> {
    front: Convs<T>,
    lstm_seq: Lstm<T>,
    lstm_last: Lstm<T>,
    hidden: Linear<T>,
    dropout: Dropout,
    output: Linear<T>,
    n_classes: usize,
}

impl<T: Float> CnnLstm<T> {
    pub fn new(front_end: FrontEnd, n_classes: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (front, features) = match front_end {
            FrontEnd::Conv1d => {
                let valid = Conv1dOptions::default();
                let mut c1 = Conv1d::new(80, 8, 4, valid, &mut rng).expect("valid spec");
                let mut c2 = Conv1d::new(8, 6, 3, valid, &mut rng).expect("valid spec");
                prefix(&mut c1, "conv1");
                prefix(&mut c2, "conv2");
                let pool = || MaxPool1d::new(2, 2).expect("valid spec");
                (Convs::OneD([c1, c2], [pool(), pool()]), 6)
            }
            FrontEnd::Conv2d => {
                let valid = Conv2dOptions::valid();
                let mut c1 = Conv2d::new(1, 8, (4, 4), valid, &mut rng).expect("valid spec");
                let mut c2 = Conv2d::new(8, 6, (3, 3), valid, &mut rng).expect("valid spec");
                prefix(&mut c1, "conv1");
                prefix(&mut c2, "conv2");
                let pool = || MaxPool2d::square(2).expect("valid spec");
                (Convs::TwoD([c1, c2], [pool(), pool()]), 18 * 6)
            }
        };
        let mut lstm_seq = Lstm::new(features, 128, true, &mut rng);
        let mut lstm_last = Lstm::new(128, 32, false, &mut rng);
        let mut hidden = Linear::new(32, 200, &mut rng);
        let mut output = Linear::new(200, n_classes, &mut rng);
        prefix(&mut lstm_seq, "lstm1");
        prefix(&mut lstm_last, "lstm2");
        prefix(&mut hidden, "dense1");
        prefix(&mut output, "dense2");
        CnnLstm {
            front,
            lstm_seq,
            lstm_last,
            hidden,
            dropout: Dropout::new(0.2).expect("valid rate"),
            output,
            n_classes,
        }
    }

    fn layers(&self) -> Vec<&dyn Layer<T>> {
        let mut v: Vec<&dyn Layer<T>> = match &self.front {
            Convs::OneD(c, _) => vec![&c[0], &c[1]],
            Convs::TwoD(c, _) => vec![&c[0], &c[1]],
        };
        v.extend([
            &self.lstm_seq as &dyn Layer<T>,
            &self.lstm_last,
            &self.hidden,
            &self.output,
        ]);
        v
    }
    fn layers_mut(&mut self) -> Vec<&mut dyn Layer<T>> {
        let mut v: Vec<&mut dyn Layer<T>> = match &mut self.front {
            Convs::OneD(c, _) => c.iter_mut().map(|c| c as &mut dyn Layer<T>).collect(),
            Convs::TwoD(c, _) => c.iter_mut().map(|c| c as &mut dyn Layer<T>).collect(),
        };
        v.extend([
            &mut self.lstm_seq as &mut dyn Layer<T>,
            &mut self.lstm_last,
            &mut self.hidden,
            &mut self.output,
        ]);
        v
    }

    /// The convolutional front end: batch → (N, steps, features).
    fn sequence(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        match &mut self.front {
            Convs::OneD(convs, pools) => {
                let n = x.shape()[0];
                // (N, 1, time, mel) → (N, time, mel): a sequence of frames whose channels
                // are the mel bands, as Keras' Conv1D reads it; the blocks keep that
                // layout, so their output is already (N, steps, features).
                let mut h = x.reshape(&[n, 80, 80])?;
                for (i, (conv, pool)) in convs.iter_mut().zip(pools.iter()).enumerate() {
                    // Conv → ReLU → MaxPool, fused: one op, same maths.
                    h = conv.forward_seq_act_pool(&h, T::ZERO, pool, ctx)?;
                    ctx.observe(if i == 0 { "block1" } else { "block2" }, &h);
                }
                Ok(h)
            }
            Convs::TwoD(convs, pools) => {
                let mut h = x.clone();
                for (i, (conv, pool)) in convs.iter_mut().zip(pools.iter()).enumerate() {
                    // Conv → ReLU → MaxPool, fused: one op, same maths.
                    h = conv.forward_act_pool(&h, T::ZERO, pool, ctx)?;
                    ctx.observe(if i == 0 { "block1" } else { "block2" }, &h);
                }
                // (N, C, time, mel) → (N, time, mel, C) → (N, time, mel·C), as Keras'
                // Reshape on its NHWC tensor.
                let s = h.shape().to_vec();
                h.permute(&[0, 2, 3, 1])?
                    .reshape(&[s[0], s[2], s[3] * s[1]])
            }
        }
    }
}

impl<T: Float> Model<T> for CnnLstm<T> {
    fn kind(&self) -> &'static str {
        match self.front {
            Convs::OneD(..) => "cnn-lstm",
            Convs::TwoD(..) => "cnn-lstm-2d",
        }
    }
    fn num_classes(&self) -> usize {
        self.n_classes
    }
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let x = &prepare_input(self.kind(), x)?;
        let seq = self.sequence(x, ctx)?;
        let h = self.lstm_seq.forward(&seq, ctx)?;
        ctx.observe("lstm1", &h);
        let h = self.lstm_last.forward(&h, ctx)?;
        ctx.observe("lstm2", &h);
        let h = self.hidden.forward(&h, ctx)?.relu();
        ctx.observe("dense1", &h);
        let h = self.dropout.forward(&h, ctx)?;
        let logits = self.output.forward(&h, ctx)?;
        ctx.observe("dense2", &logits);
        Ok(logits)
    }
    fn summary(&self) -> Result<Summary> {
        let mut s = Summary::new(self.kind());
        s.row("input", "Input".into(), &INPUT_SHAPE, 0);
        let mut shape = match &self.front {
            Convs::OneD(convs, pools) => {
                let mut h = vec![80, 80];
                s.row(
                    "frames",
                    "Reshape (time steps, mel as channels)".into(),
                    &h,
                    0,
                );
                for i in 0..2 {
                    h = s.layer(&format!("conv{}", i + 1), &convs[i], &h)?;
                    s.row(&format!("relu{}", i + 1), "ReLU".into(), &h, 0);
                    h = s.layer::<T>(&format!("pool{}", i + 1), &pools[i], &h)?;
                }
                vec![h[1], h[0]]
            }
            Convs::TwoD(convs, pools) => {
                let mut h = INPUT_SHAPE.to_vec();
                for i in 0..2 {
                    h = s.layer(&format!("conv{}", i + 1), &convs[i], &h)?;
                    s.row(&format!("relu{}", i + 1), "ReLU".into(), &h, 0);
                    h = s.layer::<T>(&format!("pool{}", i + 1), &pools[i], &h)?;
                }
                vec![h[1], h[2] * h[0]]
            }
        };
        s.row("to_sequence", "Reshape (frames as steps)".into(), &shape, 0);
        shape = s.layer("lstm1", &self.lstm_seq, &shape)?;
        shape = s.layer("lstm2", &self.lstm_last, &shape)?;
        shape = s.layer("dense1", &self.hidden, &shape)?;
        s.row("relu", "ReLU".into(), &shape, 0);
        shape = s.layer("dropout", &self.dropout as &dyn Layer<T>, &shape)?;
        s.layer("dense2", &self.output, &shape)?;
        Ok(s)
    }
    fn params(&self) -> Vec<&Param<T>> {
        self.layers().into_iter().flat_map(|l| l.params()).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.layers_mut()
            .into_iter()
            .flat_map(|l| l.params_mut())
            .collect()
    }
}
