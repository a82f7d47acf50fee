//! Single-thread timing of the coursework convolutions (forward, dW, dX at batch 128),
//! max pooling and sgemm, in on-CPU time (from /proc/thread-self/schedstat), so the
//! figures hold on a machine shared with other jobs. Linux only.
use melgrad::kernels::conv_direct::{conv2d_direct_backward, conv2d_direct_forward, DirectScratch};
use melgrad::kernels::gemm;
use melgrad::kernels::im2col::ConvGeometry;
use melgrad::kernels::pool::{max_pool2d_backward, max_pool2d_forward, PoolGeometry};

/// Nanoseconds this thread has spent on a CPU.
fn cpu_ns() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// On-CPU milliseconds per call of `f`, over `reps` calls.
fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = cpu_ns();
    for _ in 0..reps {
        f();
    }
    (cpu_ns() - t) / reps as f64 / 1e6
}

fn main() {
    for (m, k, n) in [(256, 256, 256), (128, 64, 6400), (3, 64, 6400)] {
        let a = vec![0.5f32; m * k];
        let b = vec![0.25f32; k * n];
        let mut c = vec![0.0f32; m * n];
        let ms = time_ms(20, || gemm(m, k, n, &a, false, &b, false, 0.0, &mut c));
        let gf = 2.0 * (m * k * n) as f64 / ms / 1e6;
        println!("sgemm {m}×{k}×{n}: {ms:.2} ms, {gf:.1} GFLOP/s");
    }
    for (o, k) in [(3usize, 8usize), (4, 4)] {
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
        let x: Vec<f32> = (0..128 * 6400).map(|i| (i % 13) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..o * k * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let mut y = vec![0.0f32; 128 * o * 6400];
        let mut s = DirectScratch::default();
        let flops = 2.0 * (128 * o * k * k * 6400) as f64;
        let (mut dw, mut dx) = (vec![0.0f32; w.len()], vec![0.0f32; x.len()]);
        let fwd = time_ms(3, || {
            for (x_n, y_n) in x.chunks(6400).zip(y.chunks_mut(o * 6400)) {
                conv2d_direct_forward(x_n, &g, &w, None, y_n, &mut s);
            }
        });
        let dwt = time_ms(3, || {
            for (x_n, y_n) in x.chunks(6400).zip(y.chunks(o * 6400)) {
                conv2d_direct_backward(x_n, &g, &w, y_n, None, Some(&mut dw), &mut s);
            }
        });
        let dxt = time_ms(3, || {
            for ((x_n, y_n), dx_n) in x
                .chunks(6400)
                .zip(y.chunks(o * 6400))
                .zip(dx.chunks_mut(6400))
            {
                conv2d_direct_backward(x_n, &g, &w, y_n, Some(dx_n), None, &mut s);
            }
        });
        let gf = |ms: f64| flops / ms / 1e6;
        println!(
            "conv 1→{o} {k}×{k} same, 128×80×80: fwd {fwd:.1} ms ({:.1} GFLOP/s), dW {dwt:.1} ms ({:.1}), dX {dxt:.1} ms ({:.1}); fwd+dW+dX {:.1} ms ({:.1} GFLOP/s)",
            gf(fwd), gf(dwt), gf(dxt), fwd + dwt + dxt, 3.0 * flops / (fwd + dwt + dxt) / 1e6
        );
    }
    let g = PoolGeometry {
        height: 80,
        width: 80,
        pool_h: 4,
        pool_w: 4,
        stride_h: 4,
        stride_w: 4,
    };
    let x: Vec<f32> = (0..128 * 3 * 6400)
        .map(|i| ((i * 7919) % 1013) as f32)
        .collect();
    let (mut y, mut a) = (vec![0.0f32; 128 * 3 * 400], vec![0u32; 128 * 3 * 400]);
    let mut dx = vec![0.0f32; x.len()];
    let f = time_ms(5, || max_pool2d_forward(&x, &g, &mut y, &mut a));
    let b = time_ms(5, || max_pool2d_backward(&y, &a, &g, &mut dx));
    println!("max_pool2d 4×4 on 128×3×80×80: fwd {f:.1} ms, bwd (scatter) {b:.1} ms");
}
