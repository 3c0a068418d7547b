"""PyTorch timings for the shapes of crates/tconv/benches/shapes.rs.

Prints one line per shape in the format of `cargo run --release -p tconv --example
kernel_timings`, so both can run in the same minute. Needs `torch`; the project itself
never does. Usage: python3 scripts/bench_pytorch.py [--threads 2] [--json]
"""
import argparse, json, time
import torch
import torch.nn.functional as F

SHAPES = [
    # name, input, out_channels, kernel, op, stride, padding
    ("convT_fcn_head", (1, 21, 10, 15), 21, 64, "T", 32, 16),
    ("convT_fcn_head_b4_512", (4, 512, 10, 15), 21, 64, "T", 32, 16),
    ("convT_decoder", (8, 256, 32, 32), 128, 4, "T", 2, 1),
    ("convT_small", (1, 20, 6, 6), 10, 5, "T", 3, 2),
    ("conv3x3_80x120", (1, 64, 80, 120), 64, 3, "C", 1, 1),
    ("conv3x3_b8_56", (8, 64, 56, 56), 64, 3, "C", 1, 1),
    ("conv7x7_stem", (1, 3, 320, 480), 64, 7, "C", 2, 3),
]


def median_ms(run):
    run()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (len(times) < 50 and time.perf_counter() - start < 3.0):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with torch.no_grad():
        for name, shape, cout, k, op, s, p in SHAPES:
            x = torch.rand(shape) - 0.5
            c = shape[1]
            if op == "T":
                w = torch.rand(c, cout, k, k) - 0.5
                run = lambda: F.conv_transpose2d(x, w, None, s, p)
                flops = 2.0 * x.numel() * cout * k * k
            else:
                w = torch.rand(cout, c, k, k) - 0.5
                run = lambda: F.conv2d(x, w, None, s, p)
                flops = 2.0 * run().numel() * c * k * k
            ms = median_ms(run)
            gflops = flops / ms / 1e6
            if args.json:
                rows.append({"name": name, "ms": round(ms, 3), "gflops": round(gflops, 1)})
            else:
                print(f"{name:<24} {ms:>10.3f} ms {gflops:>8.1f} GFLOP/s")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
