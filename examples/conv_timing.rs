//! Timing breakdown of the coursework convolutions (forward, dW, dX) at batch 128.
use melgrad::kernels::conv_direct::{conv2d_direct_backward, conv2d_direct_forward, DirectScratch};
use melgrad::kernels::im2col::ConvGeometry;
use std::time::Instant;

fn main() {
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
        let x: Vec<f32> = (0..6400).map(|i| (i % 13) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..o * k * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let mut y = vec![0.0f32; o * 6400];
        let mut s = DirectScratch::default();
        let reps = 128;
        let macs = (reps * o * k * k * 6400) as f64;
        let t = Instant::now();
        for _ in 0..reps {
            conv2d_direct_forward(&x, &g, &w, None, &mut y, &mut s);
        }
        let f = t.elapsed().as_secs_f64();
        let mut dw = vec![0.0f32; w.len()];
        let t = Instant::now();
        for _ in 0..reps {
            conv2d_direct_backward(&x, &g, &w, &y, None, Some(&mut dw), &mut s);
        }
        let bw = t.elapsed().as_secs_f64();
        let mut dx = vec![0.0f32; 6400];
        let t = Instant::now();
        for _ in 0..reps {
            conv2d_direct_backward(&x, &g, &w, &y, Some(&mut dx), None, &mut s);
        }
        let bx = t.elapsed().as_secs_f64();
        println!("1→{o} {k}×{k}: fwd {:.1} ms ({:.2} GFLOP/s), dW {:.1} ms ({:.2}), dX {:.1} ms ({:.2})  [1 thread, 128 samples]",
            f * 1e3, 2.0 * macs / f / 1e9, bw * 1e3, 2.0 * macs / bw / 1e9, bx * 1e3, 2.0 * macs / bx / 1e9);
    }
}
