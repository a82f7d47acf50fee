//! The tape: a hand-written Wengert list for reverse-mode autodiff.
//!
//! Every op that touches a recorded [`Var`] appends one [`Node`] to the tape: the ids of
//! its inputs and a closure that maps the gradient of its output to the gradients of its
//! inputs (the local chain rule). The closure captures exactly what it needs — an input,
//! the output, an argmax index — and nothing else stays alive.
//!
//! [`Var::backward`] seeds the loss with 1 and walks the tape from the loss back to the
//! first node. Nodes are appended in execution order, so every node's inputs have smaller
//! ids than the node: the reverse of the list is already a topological order, and no sort
//! is needed. Gradients flowing into one node from several consumers are summed (`+=`),
//! which is what makes a value used twice come out right.
//!
//! Parameters live in the model structs as [`Param`]s and persist across steps; each step
//! registers them on a fresh tape with [`Tape::param`]. Dropping the tape (and the vars
//! that point at it) frees every recorded closure, so memory does not grow over a run.
//! A [`Var`] made without a tape records nothing: that is inference mode.

mod gradcheck;
mod param;
pub mod profile;
mod var;

pub use gradcheck::{gradcheck, GradcheckOptions, GradcheckReport, InputError};
pub use param::{Param, ParamId};
pub use var::{BackwardFn, Var};

use crate::{Error, Float, Result, Tensor};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Index of a node on its tape.
pub type NodeId = usize;

/// One recorded operation.
pub(crate) struct Node<T: Float> {
    /// The op's name, for error messages.
    op: &'static str,
    /// Ids of the recorded inputs, `None` for inputs that are constants.
    inputs: Vec<Option<NodeId>>,
    /// The local chain rule; `None` for leaves. Taken (run once) by `backward`.
    backward: Option<BackwardFn<T>>,
    /// Shape of the op's output; the gradient arriving here must have it.
    shape: Vec<usize>,
}

#[derive(Default)]
struct TapeInner<T: Float> {
    nodes: Vec<Node<T>>,
    params: HashMap<ParamId, NodeId>,
}

/// A recording of operations. Cheap to clone (a shared handle); recorded vars hold one.
pub struct Tape<T: Float>(Rc<RefCell<TapeInner<T>>>);

impl<T: Float> Clone for Tape<T> {
    fn clone(&self) -> Self {
        Tape(self.0.clone())
    }
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Tape<T> {
    pub fn new() -> Self {
        profile::tape_started();
        Tape(Rc::new(RefCell::new(TapeInner {
            nodes: Vec::new(),
            params: HashMap::new(),
        })))
    }

    /// A recorded leaf: gradients with respect to it are kept by `backward`.
    pub fn leaf(&self, value: Tensor<T>) -> Var<T> {
        let id = self.push("leaf", Vec::new(), None, value.shape().to_vec());
        Var::recorded(value, self.clone(), id)
    }

    /// Put a parameter on the tape. Registering the same parameter twice returns the same
    /// node, so a layer applied twice accumulates both gradient contributions.
    pub fn param(&self, param: &Param<T>) -> Var<T> {
        if let Some(&id) = self.0.borrow().params.get(&param.id()) {
            return Var::recorded(param.value.clone(), self.clone(), id);
        }
        let id = self.push("param", Vec::new(), None, param.value.shape().to_vec());
        self.0.borrow_mut().params.insert(param.id(), id);
        Var::recorded(param.value.clone(), self.clone(), id)
    }

    /// Number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.0.borrow().nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn push(
        &self,
        op: &'static str,
        inputs: Vec<Option<NodeId>>,
        backward: Option<BackwardFn<T>>,
        shape: Vec<usize>,
    ) -> NodeId {
        let mut inner = self.0.borrow_mut();
        inner.nodes.push(Node {
            op,
            inputs,
            backward,
            shape,
        });
        let id = inner.nodes.len() - 1;
        profile::pushed(id, op, &inner.nodes[id].shape);
        id
    }

    pub(crate) fn same(&self, other: &Tape<T>) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// Reverse sweep from node `root`, seeded with `seed`. Consumes the recorded closures
    /// of every node it visits, so the captured tensors are freed as it goes.
    fn backward_from(&self, root: NodeId, seed: Tensor<T>) -> Result<Gradients<T>> {
        let mut grads: Vec<Option<Tensor<T>>> = vec![None; root + 1];
        grads[root] = Some(seed);
        let mut kept = HashMap::new();
        for id in (0..=root).rev() {
            let Some(grad) = grads[id].take() else {
                continue;
            };
            let (op, inputs, backward) = {
                let mut inner = self.0.borrow_mut();
                let node = &mut inner.nodes[id];
                (node.op, node.inputs.clone(), node.backward.take())
            };
            let Some(backward) = backward else {
                if inputs.is_empty() && op != "consumed" {
                    kept.insert(id, grad); // a leaf or a parameter: keep its gradient
                    continue;
                }
                return Err(Error::Autograd(format!(
                    "node {id} ({op}) was already differentiated: backward runs once per tape"
                )));
            };
            self.0.borrow_mut().nodes[id].op = "consumed";
            let needs: Vec<bool> = inputs.iter().map(Option::is_some).collect();
            let started = profile::is_enabled().then(std::time::Instant::now);
            let input_grads = backward(&grad, &needs);
            if input_grads.len() != inputs.len() {
                return Err(Error::Autograd(format!(
                    "{op}: backward returned {} gradients for {} inputs",
                    input_grads.len(),
                    inputs.len()
                )));
            }
            for (input, g) in inputs.iter().zip(input_grads) {
                let (Some(input), Some(g)) = (*input, g) else {
                    continue;
                };
                let expected = &self.0.borrow().nodes[input].shape;
                if g.shape() != expected.as_slice() {
                    return Err(Error::Autograd(format!(
                        "{op}: gradient of shape {:?} for an input of shape {expected:?}",
                        g.shape()
                    )));
                }
                match &mut grads[input] {
                    Some(acc) => acc.add_assign(&g)?,
                    slot => *slot = Some(g),
                }
            }
            if let Some(started) = started {
                profile::backward_ran(id, op, started.elapsed());
            }
        }
        let params = self.0.borrow().params.clone();
        Ok(Gradients {
            by_node: kept,
            params,
        })
    }
}

/// Gradients of one backward pass, for the leaves and parameters of the tape.
pub struct Gradients<T: Float> {
    by_node: HashMap<NodeId, Tensor<T>>,
    params: HashMap<ParamId, NodeId>,
}

impl<T: Float> Gradients<T> {
    /// d(loss)/d(var) for a recorded leaf; `None` if the loss does not depend on it.
    pub fn get(&self, var: &Var<T>) -> Option<&Tensor<T>> {
        var.node_id().and_then(|id| self.by_node.get(&id))
    }
    /// d(loss)/d(param); `None` if the parameter was not used or got no gradient.
    pub fn param(&self, param: &Param<T>) -> Option<&Tensor<T>> {
        self.params
            .get(&param.id())
            .and_then(|id| self.by_node.get(id))
    }
    /// Take the gradient of a parameter out of the store (no copy).
    pub fn take_param(&mut self, param: &Param<T>) -> Option<Tensor<T>> {
        let id = self.params.get(&param.id())?;
        self.by_node.remove(id)
    }
    /// Mutable access to a parameter's gradient, for adjustments between `backward` and
    /// the optimizer step (penalty gradients, clipping).
    pub fn param_mut(&mut self, param: &Param<T>) -> Option<&mut Tensor<T>> {
        let id = self.params.get(&param.id())?;
        self.by_node.get_mut(id)
    }
    /// Set (replace) a parameter's gradient, e.g. the penalty gradient of a parameter the
    /// loss did not use. The shape must be the parameter's.
    pub fn set_param(&mut self, param: &Param<T>, grad: Tensor<T>) -> Result<()> {
        if grad.shape() != param.value.shape() {
            return Err(Error::shape(
                "Gradients::set_param",
                format!(
                    "gradient {:?} for parameter {} of shape {:?}",
                    grad.shape(),
                    param.name(),
                    param.value.shape()
                ),
            ));
        }
        // A parameter that was never on the tape gets a key no tape node can have.
        let fresh = usize::MAX - self.params.len();
        let id = *self.params.entry(param.id()).or_insert(fresh);
        self.by_node.insert(id, grad);
        Ok(())
    }
}
