//! Single-thread timing of the ParallelCnn's fused Conv → LeakyReLU → MaxPool blocks at
//! batch 128, in on-CPU time (from /proc/thread-self/schedstat), so the figures hold on
//! a machine shared with other jobs. Linux only. For each block: the kernels (fused
//! forward, sparse weight gradient) beside the unfused kernels they replace, then the op
//! as a model trains it (forward; forward + dW + db). Each figure is the best of 10 runs.
use melgrad::kernels::conv_direct::{conv2d_direct_backward, conv2d_direct_forward, DirectScratch};
use melgrad::kernels::conv_pool::{conv2d_max_pool_forward, ConvPoolScratch};
use melgrad::kernels::conv_sparse::{
    conv2d_sparse_backward, conv2d_sparse_weight_grad, SparseScratch,
};
use melgrad::kernels::im2col::ConvGeometry;
use melgrad::kernels::pool::{max_pool2d_forward, PoolGeometry};
use melgrad::ops::conv::Conv2dOptions;
use melgrad::ops::conv2d_act_max_pool;
use melgrad::{Tape, Tensor, Var};

const BATCH: usize = 128;

// As the CLI: glibc's malloc would hand batch-sized buffers back to the kernel each call.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Nanoseconds this thread has spent on a CPU.
fn cpu_ns() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// Best on-CPU milliseconds per call of `f` over 10 runs of at least 40 ms each (the
/// clock may tick in scheduler jiffies of 4 ms; a core's other hyperthread, busy with
/// someone else's job, slows a run down while it is on the CPU: the best run is the
/// least disturbed).
fn time_ms(mut f: impl FnMut()) -> f64 {
    f();
    (0..10)
        .map(|_| {
            let (t, mut calls) = (cpu_ns(), 0);
            while cpu_ns() - t < 4e7 {
                f();
                calls += 1;
            }
            (cpu_ns() - t) / calls as f64 / 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    // The op runs on rayon's pool: one worker, and the timing runs on it too.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(run);
}

fn run() {
    let x: Vec<f32> = (0..BATCH * 6400)
        .map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.5)
        .collect();
    for (o, k, p) in [(3usize, 8usize, 4usize), (4, 4, 2)] {
        let (pt, pb) = ((k - 1) / 2, k - 1 - (k - 1) / 2);
        let g = ConvGeometry {
            channels: 1,
            height: 80,
            width: 80,
            kernel_h: k,
            kernel_w: k,
            stride_h: 1,
            stride_w: 1,
            pad_top: pt,
            pad_bottom: pb,
            pad_left: pt,
            pad_right: pb,
        };
        let pg = PoolGeometry {
            height: 80,
            width: 80,
            pool_h: p,
            pool_w: p,
            stride_h: p,
            stride_w: p,
        };
        let w: Vec<f32> = (0..o * k * k).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
        let b: Vec<f32> = (0..o).map(|i| i as f32 * 0.01).collect();
        let (conv_len, out_len) = (o * 6400, o * pg.out_len());
        let mut y = vec![0.0f32; BATCH * out_len];
        let mut a = vec![0u32; BATCH * out_len];
        let flops = 2.0 * (BATCH * o * k * k * 6400) as f64;
        let gf = |ms: f64| flops / ms / 1e6;

        let mut fused = ConvPoolScratch::default();
        let fwd = time_ms(|| {
            for ((x_n, y_n), a_n) in x
                .chunks(6400)
                .zip(y.chunks_mut(out_len))
                .zip(a.chunks_mut(out_len))
            {
                conv2d_max_pool_forward(x_n, &g, &w, Some(&b), &pg, y_n, a_n, &mut fused);
            }
        });
        let (mut z, mut direct) = (vec![0.0f32; conv_len], DirectScratch::default());
        let fwd_old = time_ms(|| {
            for ((x_n, y_n), a_n) in x
                .chunks(6400)
                .zip(y.chunks_mut(out_len))
                .zip(a.chunks_mut(out_len))
            {
                conv2d_direct_forward(x_n, &g, &w, Some(&b), &mut z, &mut direct);
                max_pool2d_forward(&z, &pg, y_n, a_n);
            }
        });
        let dy: Vec<f32> = (0..y.len()).map(|i| (i % 5) as f32 * 0.1 - 0.2).collect();
        let mut dw = vec![0.0f32; w.len()];
        let mut sparse = SparseScratch::default();
        let dw_new = time_ms(|| {
            for ((x_n, d_n), a_n) in x
                .chunks(6400)
                .zip(dy.chunks(out_len))
                .zip(a.chunks(out_len))
            {
                conv2d_sparse_weight_grad(x_n, &g, a_n, d_n, &mut dw, &mut sparse);
            }
        });
        // The backward this replaces: the old sparse kernel for large pools, else a dense
        // dz through the direct convolution's backward.
        let dw_old = time_ms(|| {
            for ((x_n, d_n), a_n) in x
                .chunks(6400)
                .zip(dy.chunks(out_len))
                .zip(a.chunks(out_len))
            {
                if p * p >= 9 {
                    conv2d_sparse_backward(x_n, &g, &w, a_n, d_n, Some(&mut dw), None);
                    continue;
                }
                z.fill(0.0);
                for ((plane, at), d) in z
                    .chunks_mut(6400)
                    .zip(a_n.chunks(pg.out_len()))
                    .zip(d_n.chunks(pg.out_len()))
                {
                    for (&i, &v) in at.iter().zip(d) {
                        plane[i as usize] += v;
                    }
                }
                conv2d_direct_backward(x_n, &g, &w, &z, None, Some(&mut dw), &mut direct);
            }
        });
        println!(
            "1→{o} {k}×{k} pool {p}: kernels fwd {fwd:.2} ms ({:.1} GFLOP/s; conv + pool were {fwd_old:.2} ms, {:.1}), dW {dw_new:.2} ms (was {dw_old:.2})",
            gf(fwd),
            gf(fwd_old)
        );

        let xt = Tensor::new(x.clone(), &[BATCH, 1, 80, 80]).unwrap();
        let (wt, bt) = (
            Tensor::new(w.clone(), &[o, 1, k, k]).unwrap(),
            Tensor::new(b.clone(), &[o]).unwrap(),
        );
        let opts = Conv2dOptions::same();
        let op = |w: &Var<f32>, b: &Var<f32>| {
            let xv = Var::constant(xt.clone());
            conv2d_act_max_pool(&xv, w, Some(b), &opts, 0.3, (p, p), (p, p)).unwrap()
        };
        let op_fwd = time_ms(|| {
            op(&Var::constant(wt.clone()), &Var::constant(bt.clone()));
        });
        let op_all = time_ms(|| {
            let tape = Tape::new();
            let y = op(&tape.leaf(wt.clone()), &tape.leaf(bt.clone()));
            let seed = Tensor::full(y.shape(), 1.0);
            y.backward_with(seed).unwrap();
        });
        println!(
            "    op: fwd {op_fwd:.2} ms ({:.1} GFLOP/s), fwd + dW + db {op_all:.2} ms (bwd {:.2})",
            gf(op_fwd),
            op_all - op_fwd
        );
    }
}
