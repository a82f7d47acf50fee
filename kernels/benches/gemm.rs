//! sgemm throughput through `melgrad_kernels::gemm`, in GFLOP/s (criterion reports
//! "elements/s" = flop/s since each iteration is declared as 2·m·k·n elements).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use melgrad_kernels::gemm;
use std::hint::black_box;

fn sgemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgemm");
    // (m, k, n): conv-shaped products (O × C·kh·kw × OH·OW) and a square one.
    for (m, k, n) in [
        (128, 64, 6400),
        (256, 256, 256),
        (3, 64, 6400),
        (64, 576, 1600),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut out = vec![0.0f32; m * n];
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(
            BenchmarkId::from_parameter(format!("{m}x{k}x{n}")),
            |bench| {
                bench.iter(|| {
                    gemm(
                        m,
                        k,
                        n,
                        black_box(&a),
                        false,
                        black_box(&b),
                        false,
                        0.0,
                        &mut out,
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, sgemm);
criterion_main!(benches);
