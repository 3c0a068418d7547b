//! Times the forward pass of each benchmark shape and prints one line per shape
//! (median milliseconds and GFLOP/s), in the same format as
//! `scripts/bench_pytorch.py`, so the two can be run in the same minute and compared.
//!
//! Run: `cargo run --release -p tconv --example kernel_timings [-- [--json] [SHAPE]]`

mod common;

#[allow(dead_code)]
#[path = "../benches/shapes.rs"]
mod shapes;

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let mut rows = Vec::new();
    // `kernel_timings conv7x7_stem` times one shape only.
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    for shape in shapes::shapes() {
        if only.as_deref().is_some_and(|o| o != shape.name) {
            continue;
        }
        let x = shape.input();
        let w = shape.weight();
        let out = shape.forward(&x, &w).dim();
        let ms = common::median_ms(3.0, 50, || {
            std::hint::black_box(shape.forward(&x, &w));
        });
        let gflops = shape.flops(out) / ms / 1e6;
        if json {
            rows.push(format!(
                "{{\"name\": \"{}\", \"ms\": {ms:.3}, \"gflops\": {gflops:.1}}}",
                shape.name
            ));
        } else {
            println!("{:<24} {ms:>10.3} ms {gflops:>8.1} GFLOP/s", shape.name);
        }
    }
    if json {
        println!("[{}]", rows.join(", "));
    }
}
