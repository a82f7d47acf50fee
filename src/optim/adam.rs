//! Adam (Kingma & Ba, 2015) with bias correction, and AdamW (Loshchilov & Hutter, 2019).
//!
//! For parameter `p` with gradient `g`, moments `m`, `v` (zero before the first update)
//! and `t` = how many updates this parameter has had, counting this one:
//!
//! ```text
//! Adam:   g ← g + wd·p                      L2 coupled into the gradient (torch.optim.Adam)
//! AdamW:  p ← p − lr·wd·p                   decoupled decay, the gradient is left alone
//! m ← m + (1−β1)·(g − m)                    = β1·m + (1−β1)·g
//! v ← β2·v + (1−β2)·g²
//! m̂ = m / (1−β1ᵗ),  v̂ = v / (1−β2ᵗ)         bias correction: m, v start at 0
//! p ← p − lr·m̂ / (√v̂ + ε)
//! ```
//!
//! The arithmetic follows PyTorch's order (`denom = √v/√(1−β2ᵗ) + ε`,
//! `p ← p − (lr/(1−β1ᵗ))·m/denom`). Defaults are Keras's: lr 1e-3, β1 0.9, β2 0.999 and
//! ε = 1e-7 (PyTorch uses 1e-8). ε sits on the bias-corrected √v̂ as in the paper's
//! Algorithm 1 and PyTorch; Keras adds it to the uncorrected √v (its "ε̂"), which is
//! ε·√(1−β2ᵗ) in this form — the two differ only while √v̂ is within a few ε.
//! AdamW's default weight decay is Keras's 0.004 (PyTorch: 0.01).

use super::slots::SlotStore;
use super::{check_range, Optimizer};
use crate::{Float, Gradients, Param, Result, Tensor};

/// Adam; `weight_decay` is coupled L2 (added to the gradient, then adapted like it).
pub struct Adam<T: Float> {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    slots: SlotStore<T>,
}

/// Adam with decoupled weight decay: `p ← p − lr·wd·p` before the Adam update.
pub struct AdamW<T: Float> {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    slots: SlotStore<T>,
}

const FIELDS: &[&str] = &["m", "v"];

/// Hyperparameters of one step; `decoupled` tells where weight decay goes.
struct Hyper {
    op: &'static str,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
}

macro_rules! adam_common {
    ($ty:ident, $op:literal, $wd:expr, $decoupled:expr) => {
        impl<T: Float> $ty<T> {
            /// Keras defaults with learning rate `lr`.
            pub fn new(lr: f64) -> Self {
                $ty {
                    lr,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-7,
                    weight_decay: $wd,
                    slots: SlotStore::new(FIELDS),
                }
            }
            pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
                self.beta1 = beta1;
                self.beta2 = beta2;
                self
            }
            pub fn with_eps(mut self, eps: f64) -> Self {
                self.eps = eps;
                self
            }
            pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
                self.weight_decay = weight_decay;
                self
            }
            fn hyper(&self) -> Hyper {
                Hyper {
                    op: $op,
                    lr: self.lr,
                    beta1: self.beta1,
                    beta2: self.beta2,
                    eps: self.eps,
                    weight_decay: self.weight_decay,
                    decoupled: $decoupled,
                }
            }
        }

        impl<T: Float> Default for $ty<T> {
            /// Learning rate 1e-3.
            fn default() -> Self {
                Self::new(1e-3)
            }
        }

        impl<T: Float> Optimizer<T> for $ty<T> {
            fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) -> Result<()> {
                adam_step(&self.hyper(), &mut self.slots, params, grads)
            }
            fn learning_rate(&self) -> f64 {
                self.lr
            }
            fn set_learning_rate(&mut self, lr: f64) {
                self.lr = lr;
            }
            fn steps(&self) -> u64 {
                self.slots.steps()
            }
            fn state(&self) -> Vec<(String, Tensor<T>)> {
                self.slots.export(self.lr)
            }
            fn load_state(&mut self, state: Vec<(String, Tensor<T>)>) -> Result<()> {
                self.lr = self.slots.import(state)?;
                Ok(())
            }
        }
    };
}

adam_common!(Adam, "Adam::step", 0.0, false);
adam_common!(AdamW, "AdamW::step", 0.004, true);

fn adam_step<T: Float>(
    h: &Hyper,
    slots: &mut SlotStore<T>,
    params: &mut [&mut Param<T>],
    grads: &Gradients<T>,
) -> Result<()> {
    check_range(h.op, "lr", h.lr, 0.0, f64::INFINITY)?;
    check_range(h.op, "beta1", h.beta1, 0.0, 1.0)?;
    check_range(h.op, "beta2", h.beta2, 0.0, 1.0)?;
    check_range(h.op, "eps", h.eps, f64::MIN_POSITIVE, f64::INFINITY)?;
    check_range(h.op, "weight_decay", h.weight_decay, 0.0, f64::INFINITY)?;
    slots.prepare(h.op, params, grads, FIELDS.len())?;
    let (coupled, decay) = if h.decoupled {
        (T::ZERO, T::from_f64(1.0 - h.lr * h.weight_decay))
    } else {
        (T::from_f64(h.weight_decay), T::ONE)
    };
    for p in params.iter_mut() {
        let Some(g) = grads.param(p) else {
            continue;
        };
        let slot = slots.slot_mut(h.op, p.name())?;
        slot.t += 1;
        let t = slot.t as f64;
        let bias1 = 1.0 - h.beta1.powf(t);
        let coef = Coefficients {
            one_minus_beta1: T::from_f64(1.0 - h.beta1),
            beta2: T::from_f64(h.beta2),
            one_minus_beta2: T::from_f64(1.0 - h.beta2),
            sqrt_bias2: T::from_f64((1.0 - h.beta2.powf(t)).sqrt()),
            step_size: T::from_f64(h.lr / bias1),
            eps: T::from_f64(h.eps),
            coupled,
            decay,
        };
        let [m, v] = slot.bufs.as_mut_slice() else {
            return Err(crate::Error::invalid(format!(
                "{}: state of {} lacks m and v",
                h.op,
                p.name()
            )));
        };
        update(
            p.value.data_mut(),
            g.data(),
            m.data_mut(),
            v.data_mut(),
            &coef,
        );
    }
    slots.finish();
    Ok(())
}

/// The per-step scalars of the update, in `T`.
struct Coefficients<T> {
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    /// √(1−β2ᵗ)
    sqrt_bias2: T,
    /// lr / (1−β1ᵗ)
    step_size: T,
    eps: T,
    /// Adam's coupled wd (0 for AdamW).
    coupled: T,
    /// AdamW's 1 − lr·wd (1 for Adam).
    decay: T,
}

/// The Adam/AdamW update of one parameter, over flat slices.
fn update<T: Float>(w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &Coefficients<T>) {
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
        let g = g + c.coupled * *w;
        *w *= c.decay;
        *m += c.one_minus_beta1 * (g - *m);
        *v = c.beta2 * *v + c.one_minus_beta2 * g * g;
        let denom = v.sqrt() / c.sqrt_bias2 + c.eps;
        *w -= c.step_size * *m / denom;
    }
}
