//! Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, in
//! PyTorch's formulation (`torch.optim.SGD`, dampening 0).
//!
//! With learning rate `lr`, momentum `μ`, weight decay `wd`, gradient `g`, velocity `v`
//! (zero before the first step):
//!
//! ```text
//! g' = g + wd·p                  weight decay folded into the gradient (coupled L2)
//! μ = 0:       p ← p − lr·g'
//! momentum:    v ← μ·v + g'      p ← p − lr·v
//! Nesterov:    v ← μ·v + g'      p ← p − lr·(g' + μ·v)
//! ```
//!
//! Keras's `SGD(momentum)` keeps `v_k = μ·v − lr·g` instead; for a constant learning rate
//! the two give the same parameters (Keras's v is −lr times ours).

use super::slots::SlotStore;
use super::{check_range, Optimizer};
use crate::{Float, Gradients, Param, Result, Tensor};

const OP: &str = "Sgd::step";

pub struct Sgd<T: Float> {
    pub lr: f64,
    /// μ in [0, 1); 0 is plain SGD (no velocity is kept).
    pub momentum: f64,
    /// Nesterov's look-ahead; needs `momentum > 0`.
    pub nesterov: bool,
    /// Coupled L2: `wd·p` is added to the gradient.
    pub weight_decay: f64,
    slots: SlotStore<T>,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD.
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            slots: SlotStore::new(&["velocity"]),
        }
    }
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Nesterov momentum `momentum`.
    pub fn with_nesterov(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self.nesterov = true;
        self
    }
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    fn validate(&self) -> Result<()> {
        check_range(OP, "lr", self.lr, 0.0, f64::INFINITY)?;
        check_range(OP, "momentum", self.momentum, 0.0, 1.0)?;
        check_range(OP, "weight_decay", self.weight_decay, 0.0, f64::INFINITY)?;
        if self.nesterov && self.momentum == 0.0 {
            return Err(crate::Error::invalid(format!(
                "{OP}: Nesterov needs momentum > 0"
            )));
        }
        Ok(())
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) -> Result<()> {
        self.validate()?;
        let with_velocity = self.momentum != 0.0;
        self.slots
            .prepare(OP, params, grads, usize::from(with_velocity))?;
        let lr = T::from_f64(self.lr);
        let mu = T::from_f64(self.momentum);
        let wd = T::from_f64(self.weight_decay);
        for p in params.iter_mut() {
            let Some(g) = grads.param(p) else {
                continue;
            };
            let slot = self.slots.slot_mut(OP, p.name())?;
            slot.t += 1;
            let (w, g) = (p.value.data_mut(), g.data());
            match (with_velocity, slot.bufs.first_mut()) {
                (true, Some(v)) if self.nesterov => nesterov(w, g, v.data_mut(), lr, mu, wd),
                (true, Some(v)) => momentum(w, g, v.data_mut(), lr, mu, wd),
                _ => plain(w, g, lr, wd),
            }
        }
        self.slots.finish();
        Ok(())
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

/// `p ← p − lr·(g + wd·p)`
fn plain<T: Float>(w: &mut [T], g: &[T], lr: T, wd: T) {
    for (w, &g) in w.iter_mut().zip(g) {
        *w -= lr * (g + wd * *w);
    }
}

/// `v ← μ·v + (g + wd·p)`, `p ← p − lr·v`
fn momentum<T: Float>(w: &mut [T], g: &[T], v: &mut [T], lr: T, mu: T, wd: T) {
    for ((w, &g), v) in w.iter_mut().zip(g).zip(v) {
        *v = mu * *v + (g + wd * *w);
        *w -= lr * *v;
    }
}

/// `g' = g + wd·p`, `v ← μ·v + g'`, `p ← p − lr·(g' + μ·v)`
fn nesterov<T: Float>(w: &mut [T], g: &[T], v: &mut [T], lr: T, mu: T, wd: T) {
    for ((w, &g), v) in w.iter_mut().zip(g).zip(v) {
        let g = g + wd * *w;
        *v = mu * *v + g;
        *w -= lr * (g + mu * *v);
    }
}
