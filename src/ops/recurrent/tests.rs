use super::*;
use crate::autograd::{gradcheck, GradcheckOptions};
use crate::Var;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn rand(shape: &[usize], scale: f64, seed: u64) -> Tensor<f64> {
    Tensor::uniform(shape, -scale, scale, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn c(t: &Tensor<f64>) -> Var<f64> {
    Var::constant(t.clone())
}

const N: usize = 2;
const T: usize = 4;
const F: usize = 3;
const H: usize = 3;

/// x, w_ih, w_hh, b, h0, c0 for an LSTM with `gates` gates (bias shape given).
fn inputs(gates: usize, bias_shape: &[usize]) -> Vec<Tensor<f64>> {
    vec![
        rand(&[N, T, F], 1.0, 1),
        rand(&[F, gates * H], 0.7, 2),
        rand(&[H, gates * H], 0.7, 3),
        rand(bias_shape, 0.5, 4),
        rand(&[N, H], 0.8, 5),
        rand(&[N, H], 0.8, 6),
    ]
}

#[test]
fn lstm_gradcheck_all_inputs_both_output_modes() {
    let xs = inputs(4, &[4 * H]);
    for return_sequences in [true, false] {
        let r = gradcheck(
            |v| {
                lstm(
                    &v[0],
                    &v[1],
                    &v[2],
                    &v[3],
                    Some(&v[4]),
                    Some(&v[5]),
                    return_sequences,
                )
            },
            &xs,
            &GradcheckOptions::default(),
        )
        .unwrap();
        r.check(1e-6).unwrap();
        // Without initial states (zeros): the other input slots shift.
        let r = gradcheck(
            |v| lstm(&v[0], &v[1], &v[2], &v[3], None, None, return_sequences),
            &xs[..4],
            &GradcheckOptions::default(),
        )
        .unwrap();
        r.check(1e-6).unwrap();
        // Only c0 given.
        let r = gradcheck(
            |v| {
                lstm(
                    &v[0],
                    &v[1],
                    &v[2],
                    &v[3],
                    None,
                    Some(&v[4]),
                    return_sequences,
                )
            },
            &[
                xs[0].clone(),
                xs[1].clone(),
                xs[2].clone(),
                xs[3].clone(),
                xs[5].clone(),
            ],
            &GradcheckOptions::default(),
        )
        .unwrap();
        r.check(1e-6).unwrap();
    }
}

#[test]
fn gru_gradcheck_all_inputs_both_output_modes() {
    let xs = inputs(3, &[2, 3 * H]);
    for return_sequences in [true, false] {
        let r = gradcheck(
            |v| gru(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), return_sequences),
            &xs[..5],
            &GradcheckOptions::default(),
        )
        .unwrap();
        r.check(1e-6).unwrap();
        let r = gradcheck(
            |v| gru(&v[0], &v[1], &v[2], &v[3], None, return_sequences),
            &xs[..4],
            &GradcheckOptions::default(),
        )
        .unwrap();
        r.check(1e-6).unwrap();
    }
}

#[test]
fn last_output_is_the_last_step_of_the_sequence() {
    let xs = inputs(4, &[4 * H]);
    let seq = lstm(
        &c(&xs[0]),
        &c(&xs[1]),
        &c(&xs[2]),
        &c(&xs[3]),
        Some(&c(&xs[4])),
        None,
        true,
    )
    .unwrap();
    let last = lstm(
        &c(&xs[0]),
        &c(&xs[1]),
        &c(&xs[2]),
        &c(&xs[3]),
        Some(&c(&xs[4])),
        None,
        false,
    )
    .unwrap();
    assert_eq!(seq.shape(), &[N, T, H]);
    assert_eq!(last.shape(), &[N, H]);
    for n in 0..N {
        let want = &seq.value().data()[(n * T + T - 1) * H..(n * T + T) * H];
        assert_eq!(&last.value().data()[n * H..(n + 1) * H], want);
    }
    let xs = inputs(3, &[2, 3 * H]);
    let seq = gru(&c(&xs[0]), &c(&xs[1]), &c(&xs[2]), &c(&xs[3]), None, true).unwrap();
    let last = gru(&c(&xs[0]), &c(&xs[1]), &c(&xs[2]), &c(&xs[3]), None, false).unwrap();
    for n in 0..N {
        let want = &seq.value().data()[(n * T + T - 1) * H..(n * T + T) * H];
        assert_eq!(&last.value().data()[n * H..(n + 1) * H], want);
    }
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// The textbook LSTM, one scalar at a time, written independently of the fused op.
fn naive_lstm(x: &[f64], w: &[f64], u: &[f64], b: &[f64], h0: &[f64], c0: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; N * T * H];
    for n in 0..N {
        let mut h = h0[n * H..(n + 1) * H].to_vec();
        let mut cell = c0[n * H..(n + 1) * H].to_vec();
        for t in 0..T {
            let mut h_new = vec![0.0; H];
            for j in 0..H {
                // gate `q` (0=i, 1=f, 2=g, 3=o) of unit j: column q·H + j.
                let pre = |q: usize| {
                    let col = q * H + j;
                    let mut s = b[col];
                    for k in 0..F {
                        s += x[(n * T + t) * F + k] * w[k * 4 * H + col];
                    }
                    for k in 0..H {
                        s += h[k] * u[k * 4 * H + col];
                    }
                    s
                };
                let (i, f, g, o) = (
                    sigmoid(pre(0)),
                    sigmoid(pre(1)),
                    pre(2).tanh(),
                    sigmoid(pre(3)),
                );
                cell[j] = f * cell[j] + i * g;
                h_new[j] = o * cell[j].tanh();
            }
            h = h_new;
            out[(n * T + t) * H..(n * T + t + 1) * H].copy_from_slice(&h);
        }
    }
    out
}

/// The textbook Keras GRU (reset_after), one scalar at a time.
fn naive_gru(x: &[f64], w: &[f64], u: &[f64], b: &[f64], h0: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; N * T * H];
    for n in 0..N {
        let mut h = h0[n * H..(n + 1) * H].to_vec();
        for t in 0..T {
            let mut h_new = vec![0.0; H];
            for j in 0..H {
                let input = |q: usize| {
                    let col = q * H + j;
                    let mut s = b[col];
                    for k in 0..F {
                        s += x[(n * T + t) * F + k] * w[k * 3 * H + col];
                    }
                    s
                };
                let recurrent = |q: usize| {
                    let col = q * H + j;
                    let mut s = b[3 * H + col];
                    for k in 0..H {
                        s += h[k] * u[k * 3 * H + col];
                    }
                    s
                };
                let z = sigmoid(input(0) + recurrent(0));
                let r = sigmoid(input(1) + recurrent(1));
                let cand = (input(2) + r * recurrent(2)).tanh();
                h_new[j] = z * h[j] + (1.0 - z) * cand;
            }
            h = h_new;
            out[(n * T + t) * H..(n * T + t + 1) * H].copy_from_slice(&h);
        }
    }
    out
}

#[test]
fn lstm_forward_matches_a_naive_per_step_implementation() {
    let xs = inputs(4, &[4 * H]);
    let d: Vec<&[f64]> = xs.iter().map(|t| t.data()).collect();
    let want = naive_lstm(d[0], d[1], d[2], d[3], d[4], d[5]);
    let got = lstm(
        &c(&xs[0]),
        &c(&xs[1]),
        &c(&xs[2]),
        &c(&xs[3]),
        Some(&c(&xs[4])),
        Some(&c(&xs[5])),
        true,
    )
    .unwrap();
    let err = got
        .value()
        .data()
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err < 1e-12, "max abs diff {err}");
    assert!(
        want.iter().any(|v| v.abs() > 0.1),
        "the case must not be trivial"
    );
}

#[test]
fn gru_forward_matches_a_naive_per_step_implementation() {
    let xs = inputs(3, &[2, 3 * H]);
    let d: Vec<&[f64]> = xs.iter().map(|t| t.data()).collect();
    let want = naive_gru(d[0], d[1], d[2], d[3], d[4]);
    let got = gru(
        &c(&xs[0]),
        &c(&xs[1]),
        &c(&xs[2]),
        &c(&xs[3]),
        Some(&c(&xs[4])),
        true,
    )
    .unwrap();
    let err = got
        .value()
        .data()
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(err < 1e-12, "max abs diff {err}");
}

#[test]
fn recurrent_ops_reject_bad_shapes() {
    let z = |s: &[usize]| Var::constant(Tensor::<f64>::zeros(s));
    let (x, w, u, b) = (z(&[2, 4, 3]), z(&[3, 8]), z(&[2, 8]), z(&[8]));
    assert!(lstm(&x, &w, &u, &b, None, None, true).is_ok());
    assert!(lstm(&z(&[2, 3]), &w, &u, &b, None, None, true).is_err()); // x rank 2
    assert!(lstm(&z(&[2, 0, 3]), &w, &u, &b, None, None, true).is_err()); // no steps
    assert!(lstm(&z(&[0, 4, 3]), &w, &u, &b, None, None, true).is_err()); // no rows
    assert!(lstm(&x, &z(&[3, 0]), &z(&[0, 0]), &z(&[0]), None, None, true).is_err()); // H = 0
    assert!(lstm(&x, &z(&[4, 8]), &u, &b, None, None, true).is_err()); // F mismatch
    assert!(lstm(&x, &w, &z(&[2, 6]), &b, None, None, true).is_err()); // U not (H, 4H)
    assert!(lstm(&x, &w, &u, &z(&[6]), None, None, true).is_err()); // bias
    assert!(lstm(&x, &w, &u, &b, Some(&z(&[3, 2])), None, true).is_err()); // h0
    assert!(lstm(&x, &w, &u, &b, None, Some(&z(&[2, 3])), true).is_err()); // c0
    let err = lstm(&x, &z(&[4, 8]), &u, &b, None, None, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lstm") && err.contains("[4, 8]"), "{err}");

    let (w, u, b) = (z(&[3, 6]), z(&[2, 6]), z(&[2, 6]));
    assert!(gru(&x, &w, &u, &b, None, false).is_ok());
    assert!(gru(&x, &w, &u, &z(&[6]), None, false).is_err()); // bias must be (2, 3H)
    assert!(gru(&z(&[0, 4, 3]), &w, &u, &b, None, false).is_err()); // no rows
    assert!(gru(&x, &z(&[3, 8]), &u, &b, None, false).is_err());
    assert!(gru(&x, &w, &u, &b, Some(&z(&[2, 3])), false).is_err());
}

/// Output and every input gradient of `f` at `xs`, inside a rayon pool of `threads`.
fn run_in_pool(
    threads: usize,
    xs: &[Tensor<f64>],
    f: impl Fn(&[Var<f64>]) -> Var<f64> + Send + Sync,
) -> Vec<Tensor<f64>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let tape = crate::Tape::new();
        let vars: Vec<_> = xs.iter().map(|x| tape.leaf(x.clone())).collect();
        let y = f(&vars);
        let seed = rand(y.shape(), 1.0, 9);
        let grads = y.backward_with(seed).unwrap();
        let mut out = vec![y.value().clone()];
        out.extend(vars.iter().map(|v| grads.get(v).unwrap().clone()));
        out
    })
}

fn assert_same_results(one: &[Tensor<f64>], two: &[Tensor<f64>]) {
    for (i, (a, b)) in one.iter().zip(two).enumerate() {
        let err = a.max_abs_diff(b).unwrap();
        assert!(err < 1e-12, "result {i}: chunked differs by {err}");
    }
}

#[test]
fn batch_chunks_on_two_threads_give_the_single_thread_results() {
    // Big enough to split (N·H·G·H ≥ 2^20 for G = 3 and 4), with an odd batch so the
    // chunks differ in size.
    let (n, t, f, h) = (27, 3, 5, 128);
    let lstm_inputs = [
        rand(&[n, t, f], 1.0, 1),
        rand(&[f, 4 * h], 0.2, 2),
        rand(&[h, 4 * h], 0.1, 3),
        rand(&[4 * h], 0.5, 4),
        rand(&[n, h], 0.5, 5),
        rand(&[n, h], 0.5, 6),
    ];
    let run =
        |v: &[Var<f64>]| lstm(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]), true).unwrap();
    assert_same_results(
        &run_in_pool(1, &lstm_inputs, run),
        &run_in_pool(2, &lstm_inputs, run),
    );

    let gru_inputs = [
        rand(&[n, t, f], 1.0, 1),
        rand(&[f, 3 * h], 0.2, 2),
        rand(&[h, 3 * h], 0.1, 3),
        rand(&[2, 3 * h], 0.5, 4),
        rand(&[n, h], 0.5, 5),
    ];
    let run = |v: &[Var<f64>]| gru(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), false).unwrap();
    assert_same_results(
        &run_in_pool(1, &gru_inputs, run),
        &run_in_pool(2, &gru_inputs, run),
    );
}

/// The f32 path (packed-gemm steps, SIMD cells, two chunks in parallel when the pool has
/// threads) gives the f64 answer to f32 precision, values and every gradient.
#[test]
fn lstm_f32_fast_path_matches_f64() {
    let (n, t, f, h) = (64, 3, 5, 64); // N·H·4H = 2^20: big enough to split over threads
    let xs = [
        rand(&[n, t, f], 1.0, 11),
        rand(&[f, 4 * h], 0.3, 12),
        rand(&[h, 4 * h], 0.2, 13),
        rand(&[4 * h], 0.5, 14),
        rand(&[n, h], 0.8, 15),
        rand(&[n, h], 0.8, 16),
    ];
    let seed_grad = rand(&[n, t, h], 1.0, 17);
    let run64 = || {
        let tape = crate::Tape::new();
        let v: Vec<Var<f64>> = xs.iter().map(|x| tape.leaf(x.clone())).collect();
        let y = lstm(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]), true).unwrap();
        let g = y.backward_with(seed_grad.clone()).unwrap();
        let mut out = vec![y.value().data().to_vec()];
        out.extend(v.iter().map(|v| g.get(v).unwrap().data().to_vec()));
        out
    };
    let run32 = || {
        let tape = crate::Tape::new();
        let v: Vec<Var<f32>> = xs.iter().map(|x| tape.leaf(x.cast())).collect();
        let y = lstm(&v[0], &v[1], &v[2], &v[3], Some(&v[4]), Some(&v[5]), true).unwrap();
        let g = y.backward_with(seed_grad.cast()).unwrap();
        let mut out = vec![y.value().cast::<f64>().data().to_vec()];
        out.extend(
            v.iter()
                .map(|v| g.get(v).unwrap().cast::<f64>().data().to_vec()),
        );
        out
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let (want, got) = (run64(), pool.install(run32));
    for (which, (w, g)) in want.iter().zip(&got).enumerate() {
        let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = w
            .iter()
            .zip(g)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(scale > 0.05, "output {which} is trivial");
        assert!(
            err <= 2e-4 * scale,
            "output {which}: max abs diff {err}, scale {scale}"
        );
    }
}
