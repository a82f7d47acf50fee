//! Pointwise activations, each a pair: the function and its derivative.

use crate::{Float, Var};

/// `y = tanh(x)`; `dy/dx = 1 − y²` (written in terms of the output, which we keep).
pub fn tanh<T: Float>(x: &Var<T>) -> Var<T> {
    let y = x.value().map(Float::tanh);
    let kept = y.clone();
    Var::from_op("tanh", y, &[x], move |g, _| {
        vec![Some(
            g.zip_map(&kept, |g, y| g * (T::ONE - y * y))
                .expect("same shape"),
        )]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use crate::Tensor;

    #[test]
    fn tanh_gradcheck() {
        let x = Tensor::new(vec![-1.5, -0.2, 0.3, 2.0], &[2, 2]).unwrap();
        let r = gradcheck(|v| Ok(tanh(&v[0])), &[x], &GradcheckOptions::default()).unwrap();
        r.check(1e-6).unwrap();
    }
}
