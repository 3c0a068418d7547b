"""Checks `fcn export --format onnx` files with ONNX's own checker and ONNX Runtime.

For every golden checkpoint in ../shared/golden (and the small committed ones), it
exports the model with the `fcn` binary, runs `onnx.checker.check_model` (full
check), runs the file in ONNX Runtime on the golden input and reports the largest
difference from PyTorch's logits (relative to max(1, max |expected|), the test
suite's measure), then runs it at a second size whose sides are no multiple of 32
and checks the output's shape. Each checkpoint is exported three ways: plain,
--fp16, and --with-preprocessing --argmax (that one is only checked and shaped).

With --bench it also times ONNX Runtime on the textbook FCN at 320x480, batch 1 and 8,
with --threads intra-op threads (median of runs over about 3 s each), under the names
`fcn bench` and scripts/bench_pytorch.py use.

Needs numpy, onnx and onnxruntime (pip install onnx onnxruntime); the project
never does.
Usage: python3 scripts/check_onnx.py [--fcn target/release/fcn] [--golden ../shared/golden] [--bench] [--threads 2]
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = os.path.join(HERE, "..", "crates", "fcn", "tests", "fixtures", "golden_small")


def cases(golden):
    """(name, checkpoint, input, expected logits) for every golden set present."""
    sets = [
        ("fcn32s small", f"{SMALL}/fcn/fcn_d2l.pth", f"{SMALL}/fcn/input.npy", f"{SMALL}/fcn/fcn_d2l.logits.npy"),
        ("fcn8s small", f"{SMALL}/fcn_skip/fcn8s.pth", f"{SMALL}/fcn_skip/fcn8s.input.npy", f"{SMALL}/fcn_skip/fcn8s.logits.npy"),
        ("tv resnet50 small", f"{SMALL}/tv_fcn/tv_r50.pth", f"{SMALL}/tv_fcn/tv_r50.input.npy", f"{SMALL}/tv_fcn/tv_r50.out.npy"),
        ("tv resnet18 dilated small", f"{SMALL}/tv_fcn/tv_r18.pth", f"{SMALL}/tv_fcn/tv_r18.input.npy", f"{SMALL}/tv_fcn/tv_r18.out.npy"),
    ]
    if golden:
        sets += [
            ("fcn32s (textbook, ResNet-18)", f"{golden}/fcn/fcn_d2l.pth", f"{golden}/fcn/input.npy", f"{golden}/fcn/fcn_d2l.logits.npy"),
            ("fcn8s (ResNet-18)", f"{golden}/fcn_skip/fcn8s.pth", f"{golden}/fcn_skip/fcn8s.input.npy", f"{golden}/fcn_skip/fcn8s.logits.npy"),
            ("torchvision fcn_resnet50", f"{golden}/tv_fcn/fcn_resnet50_tv.pth", f"{golden}/tv_fcn/fcn_resnet50_tv.input.npy", f"{golden}/tv_fcn/fcn_resnet50_tv.out.npy"),
        ]
    return [c for c in sets if all(os.path.exists(p) for p in c[1:])]


def export(fcn, weights, out, *flags):
    subprocess.run([fcn, "export", weights, "--out", out, *flags], check=True, stderr=subprocess.DEVNULL)
    return out


def session(path, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def rel_diff(got, want):
    return float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))


def check(fcn, name, weights, x, want, tmp, threads):
    plain = export(fcn, weights, f"{tmp}/plain.onnx")
    half = export(fcn, weights, f"{tmp}/half.onnx", "--fp16")
    pre = export(fcn, weights, f"{tmp}/pre.onnx", "--with-preprocessing", "--argmax")
    for path in (plain, half, pre):
        onnx.checker.check_model(onnx.load(path), full_check=True)
    diffs = {}
    for label, path in (("f32", plain), ("fp16", half)):
        s = session(path, threads)
        diffs[label] = rel_diff(s.run(["logits"], {"input": x})[0], want)
        cut = x[:, :, : x.shape[2] - 13, : x.shape[3] - 7]
        got = s.run(["logits"], {"input": cut})[0]
        assert got.shape == (x.shape[0], want.shape[1]) + cut.shape[2:], got.shape
    s = session(pre, threads)
    image = np.random.default_rng(0).integers(0, 256, (2, 70, 90, 3), dtype=np.uint8)
    logits, classes = s.run(["logits", "classes"], {"image": image})
    assert logits.shape == (2, want.shape[1], 70, 90) and classes.shape == (2, 70, 90)
    assert (classes == logits.argmax(1)).all()
    print(f"{name:32s} checker ok  max diff f32 {diffs['f32']:.2e}  fp16 {diffs['fp16']:.2e}  "
          f"dynamic sizes ok  size {os.path.getsize(plain) / 1e6:.1f} MB (fp16 {os.path.getsize(half) / 1e6:.1f} MB)")
    return diffs["f32"]


def median_ms(run):
    run()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (len(times) < 50 and time.perf_counter() - start < 3.0):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


def bench(fcn, golden, tmp, threads):
    weights = f"{golden}/fcn/fcn_d2l.pth"
    path = export(fcn, weights, f"{tmp}/bench.onnx")
    s = session(path, threads)
    rows = []
    for batch in (1, 8):
        x = np.random.default_rng(0).standard_normal((batch, 3, 320, 480), dtype=np.float32)
        ms = median_ms(lambda: s.run(["logits"], {"input": x}))
        rows.append({"name": f"fcn_infer_b{batch}", "ms": ms, "engine": f"onnxruntime {ort.__version__}"})
        print(f"onnxruntime fcn_infer_b{batch}: {ms:.1f} ms ({threads} threads)")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fcn", default=os.path.join(HERE, "..", "target", "release", "fcn"))
    ap.add_argument("--golden", default=os.path.join(HERE, "..", "..", "shared", "golden"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--json", action="store_true", help="with --bench: print the timings as JSON")
    args = ap.parse_args()
    golden = args.golden if os.path.isdir(args.golden) else None
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, weights, x, want in cases(golden):
            worst = max(worst, check(args.fcn, name, weights, np.load(x), np.load(want), tmp, args.threads))
        if args.bench:
            if not golden:
                sys.exit("--bench needs the textbook FCN from --golden")
            rows = bench(args.fcn, golden, tmp, args.threads)
            if args.json:
                print(json.dumps(rows))
    print(f"largest difference from PyTorch (float32 weights): {worst:.2e} (tests allow 1e-3)")
    if worst > 1e-3:
        sys.exit(1)


if __name__ == "__main__":
    main()
