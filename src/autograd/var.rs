//! `Var`: a tensor value plus, when recorded, its place on a tape.

use super::{NodeId, Tape};
use crate::{Error, Float, Gradients, Result, Tensor};

/// The local chain rule of one op: given d(loss)/d(output) and which inputs need a
/// gradient, return d(loss)/d(input) for each input (`None` where not needed).
pub type BackwardFn<T> = Box<dyn FnOnce(&Tensor<T>, &[bool]) -> Vec<Option<Tensor<T>>>>;

/// A value in a computation. Made by [`Tape::leaf`] / [`Tape::param`] (recorded) or
/// [`Var::constant`] (not recorded); ops on recorded vars record themselves.
#[derive(Clone)]
pub struct Var<T: Float> {
    value: Tensor<T>,
    node: Option<(Tape<T>, NodeId)>,
}

impl<T: Float> Var<T> {
    /// A value that is not on any tape: no gradient flows into it.
    pub fn constant(value: Tensor<T>) -> Self {
        Var { value, node: None }
    }

    pub(crate) fn recorded(value: Tensor<T>, tape: Tape<T>, id: NodeId) -> Self {
        Var {
            value,
            node: Some((tape, id)),
        }
    }

    /// The result of an op. If any input is recorded, the op is appended to that tape
    /// with its backward closure; otherwise the closure is dropped unrun and the result
    /// is a constant (inference records nothing).
    pub fn from_op(
        op: &'static str,
        value: Tensor<T>,
        inputs: &[&Var<T>],
        backward: impl FnOnce(&Tensor<T>, &[bool]) -> Vec<Option<Tensor<T>>> + 'static,
    ) -> Self {
        let Some(tape) = inputs.iter().find_map(|v| v.tape()).cloned() else {
            return Var::constant(value);
        };
        let ids = inputs
            .iter()
            .map(|v| match &v.node {
                Some((t, id)) if t.same(&tape) => Some(*id),
                _ => None,
            })
            .collect();
        let id = tape.push(op, ids, Some(Box::new(backward)), value.shape().to_vec());
        Var::recorded(value, tape, id)
    }

    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }
    pub fn into_value(self) -> Tensor<T> {
        self.value
    }
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }
    pub fn tape(&self) -> Option<&Tape<T>> {
        self.node.as_ref().map(|(t, _)| t)
    }
    pub fn node_id(&self) -> Option<NodeId> {
        self.node.as_ref().map(|(_, id)| *id)
    }
    /// True when gradients will flow through this value.
    pub fn is_recorded(&self) -> bool {
        self.node.is_some()
    }
    /// The same value, cut from the tape (no gradient flows back through it).
    pub fn detach(&self) -> Self {
        Var::constant(self.value.clone())
    }

    /// Reverse-mode differentiation of this scalar with respect to every leaf and
    /// parameter on its tape. Runs once per tape.
    pub fn backward(&self) -> Result<Gradients<T>> {
        if self.value.len() != 1 {
            return Err(Error::shape(
                "backward",
                format!(
                    "needs a scalar loss, got shape {:?} (backward_with takes a seed)",
                    self.shape()
                ),
            ));
        }
        self.backward_with(Tensor::ones(self.shape()))
    }

    /// Reverse sweep seeded with an arbitrary output gradient (a vector-Jacobian product).
    pub fn backward_with(&self, seed: Tensor<T>) -> Result<Gradients<T>> {
        let Some((tape, id)) = &self.node else {
            return Err(Error::Autograd(
                "backward() on a value that was not recorded on a tape".into(),
            ));
        };
        if seed.shape() != self.shape() {
            return Err(Error::shape(
                "backward",
                format!("seed {:?} for output {:?}", seed.shape(), self.shape()),
            ));
        }
        tape.backward_from(*id, seed)
    }
}

impl<T: Float> std::fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.node_id() {
            Some(id) => write!(f, "Var(#{id}, {:?})", self.value),
            None => write!(f, "Var(const, {:?})", self.value),
        }
    }
}
