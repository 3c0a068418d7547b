"""Side-by-side kernel timings: tconv (the `kernel_timings` example) and PyTorch,
run one after the other in the same minute, printed as the markdown table README shows.

Usage (from the repository root, with torch installed):
    python3 scripts/compare_kernels.py [--threads 2]
"""
import argparse, json, os, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
subprocess.run(["cargo", "build", "--release", "-q", "-p", "tconv", "--example", "kernel_timings"], cwd=root, check=True)
ours = json.loads(subprocess.run([os.path.join(root, "target/release/examples/kernel_timings"), "--json"],
                                 env=env, check=True, capture_output=True, text=True).stdout)
only = [a for r in ours for a in ("--only", r["name"])]
torch = json.loads(subprocess.run([sys.executable, os.path.join(root, "scripts/bench_pytorch.py"), "--json",
                                   "--threads", str(args.threads)] + only, check=True, capture_output=True, text=True).stdout)
theirs = {r["name"]: r for r in torch}
print("| shape | tconv ms | tconv GFLOP/s | PyTorch ms | PyTorch GFLOP/s | PyTorch time / tconv time |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for r in ours:
    t = theirs[r["name"]]
    print(f"| `{r['name']}` | {r['ms']:.3f} | {r['gflops']:.0f} | {t['ms']:.3f} | {t['gflops']:.0f} | {t['ms'] / r['ms']:.2f}× |")
