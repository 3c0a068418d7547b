"""`fcn bench --json` and PyTorch's timings of the same cases, run one after the other
in the same minute, printed as the markdown table README shows.

Usage (from the repository root, with torch and torchvision installed):
    python3 scripts/compare_bench.py [--threads 2] [--seconds 2]
"""
import argparse, json, os, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seconds", type=float, default=2.0)
args = ap.parse_args()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "--release", "-q", "-p", "fcn-cli"], cwd=root, check=True)
ours = json.loads(subprocess.run([os.path.join(root, "target/release/fcn"), "bench", "--json",
                                  "--threads", str(args.threads), "--seconds", str(args.seconds)],
                                 check=True, capture_output=True, text=True).stdout)
torch = json.loads(subprocess.run([sys.executable, os.path.join(root, "scripts/bench_pytorch.py"), "--json",
                                   "--threads", str(args.threads)], check=True, capture_output=True,
                                  text=True).stdout)
theirs = {r["name"]: r for r in torch}
if isinstance(ours, dict):  # {"machine": {...}, "cases": [...]}
    m = ours["machine"]
    print(f"{m['cpu']}, SIMD path {m['simd']}, {m['threads']} threads")
    ours = ours["cases"]
print("| case | ours ms | ours GFLOP/s | flex ms | PyTorch ms | PyTorch GFLOP/s | PyTorch / ours |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in ours:
    t = theirs[r["name"]]
    print(f"| `{r['name']}` | {r['ms']:.3f} | {r['gflops']:.0f} | {r['baseline_ms']:.3f} | {t['ms']:.3f} "
          f"| {t['gflops']:.0f} | {t['ms'] / r['ms']:.2f}× |")
