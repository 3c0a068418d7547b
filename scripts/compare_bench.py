"""`fcn bench --json` under each SIMD path, PyTorch's timings of the same cases and, for
the inference cases, ONNX Runtime's and OpenVINO's, run one after another in the same
minutes and printed as the markdown tables README shows, with the date, the machine
and the versions above them.

`--rounds N` repeats the whole sequence N times and prints each time as the range of
the rounds (the ratios too: smallest to largest), for machines whose timings wander.

Usage (from the repository root, with torch and torchvision installed; onnx,
onnxruntime and openvino too unless --no-engines):
    python3 scripts/compare_bench.py [--threads 2] [--seconds 2] [--rounds 1]
        [--paths avx512,avx2] [--flex] [--no-engines] [--only NAME ...]
"""
import argparse, datetime, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FCN = os.path.join(ROOT, "target/release/fcn")


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--paths", default="avx512,avx2",
                    help="FCN_SIMD paths to time ours under (a path the CPU lacks is skipped)")
    ap.add_argument("--flex", action="store_true", help="time Burn's flex ops too")
    ap.add_argument("--no-engines", action="store_true", help="skip ONNX Runtime and OpenVINO")
    ap.add_argument("--only", action="append", default=[])
    return ap.parse_args()


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def ours(args, path):
    cmd = [FCN, "bench", "--json", "--threads", str(args.threads), "--seconds", str(args.seconds)]
    cmd += [] if args.flex else ["--skip-baseline"]
    for name in args.only:
        cmd += ["--only", name]
    report = run_json(cmd, env=dict(os.environ, FCN_SIMD=path))
    return report["machine"], {r["name"]: r for r in report["cases"]}


def script(args, name, extra=()):
    cmd = [sys.executable, os.path.join(ROOT, "scripts", name), "--json", "--threads", str(args.threads)]
    for case in args.only:
        cmd += ["--only", case]
    return run_json(cmd + list(extra))


def one_round(args, paths):
    """{(side, case): ms} for one pass over every side, plus the machine of each path."""
    times, machines = {}, {}
    for path in paths:
        machine, cases = ours(args, path)
        machines[path] = machine
        for name, r in cases.items():
            times[(path, name)] = r["ms"]
            if r.get("baseline_ms") is not None:
                times[("flex", name)] = r["baseline_ms"]
    for r in script(args, "bench_pytorch.py"):
        times[("torch", r["name"])] = r["ms"]
    versions = {}
    if not args.no_engines:
        report = script(args, "bench_engines.py")
        versions = report["versions"]
        for r in report["cases"]:
            times[(r["engine"], r["name"])] = r["ms"]
    return times, machines, versions


def span(values, digits):
    lo, hi = min(values), max(values)
    return f"{lo:.{digits}f}" if f"{lo:.{digits}f}" == f"{hi:.{digits}f}" else f"{lo:.{digits}f}–{hi:.{digits}f}"


def cell(rounds, side, case, digits=3):
    values = [r[(side, case)] for r in rounds if (side, case) in r]
    return span(values, digits) if values else "—"


def ratio(rounds, num, den, case):
    values = [r[(num, case)] / r[(den, case)] for r in rounds if (num, case) in r and (den, case) in r]
    return span(values, 2) + "×" if values else "—"


def print_tables(rounds, cases, paths, engines, flex):
    heads = [f"ours ms ({p})" for p in paths] + (["flex ms"] if flex else []) + ["PyTorch ms"]
    heads += [f"PyTorch / ours ({p})" for p in paths]
    print("| case | " + " | ".join(heads) + " |")
    print("| --- |" + " ---: |" * len(heads))
    for case in cases:
        cols = [cell(rounds, p, case) for p in paths] + ([cell(rounds, "flex", case)] if flex else [])
        cols += [cell(rounds, "torch", case)] + [ratio(rounds, "torch", p, case) for p in paths]
        print(f"| `{case}` | " + " | ".join(cols) + " |")
    inference = [c for c in cases if any(("ort", c) in r for r in rounds)]
    if not engines or not inference:
        return
    names = {"ort": "ONNX Runtime", "openvino": "OpenVINO"}
    heads = [f"ours ms ({p})" for p in paths] + ["PyTorch ms"] + [f"{names[e]} ms" for e in engines]
    heads += [f"{names[e]} / ours ({p})" for e in engines for p in paths]
    print()
    print("| case | " + " | ".join(heads) + " |")
    print("| --- |" + " ---: |" * len(heads))
    for case in inference:
        cols = [cell(rounds, s, case) for s in paths + ["torch"] + engines]
        cols += [ratio(rounds, e, p, case) for e in engines for p in paths]
        print(f"| `{case}` | " + " | ".join(cols) + " |")


def main():
    args = parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "fcn-cli"], cwd=ROOT, check=True)
    wanted = [p for p in args.paths.split(",") if p]
    rounds, machines, versions = [], {}, {}
    for i in range(args.rounds):
        print(f"round {i + 1} of {args.rounds}", file=sys.stderr, flush=True)
        times, machines, versions = one_round(args, wanted)
        rounds.append(times)
    # A path the CPU lacks runs capped (fcn bench reports the path it used): drop repeats.
    paths = []
    for p in wanted:
        if machines[p]["simd"] == p and p not in paths:
            paths.append(p)
    cases = list(dict.fromkeys(name for (side, name) in rounds[0] if side == paths[0]))
    import torch
    m = machines[paths[0]]
    line = f"{datetime.date.today()}, {m['cpu']}, {m['threads']} threads, paths {', '.join(paths)}"
    line += f"; PyTorch {torch.__version__.split('+')[0]}"
    line += "".join(f", {n} {versions[k]}" for k, n in (("ort", "ONNX Runtime"), ("openvino", "OpenVINO"))
                    if k in versions)
    print(line + (f"; {args.rounds} rounds, ranges" if args.rounds > 1 else "") + "\n")
    engines = [] if args.no_engines else ["ort", "openvino"]
    print_tables(rounds, cases, paths, engines, args.flex)


if __name__ == "__main__":
    main()
