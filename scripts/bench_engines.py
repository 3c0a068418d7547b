"""ONNX Runtime's and OpenVINO's timings of `fcn bench`'s inference cases: the same
networks as scripts/bench_pytorch.py builds (random weights, eval mode), exported with
`torch.onnx.export` (opset 17, f32) and run by each engine on the CPU with the given
number of threads, f32 throughout (OpenVINO is told so: on CPUs with AVX-512 BF16 it
would otherwise pick bf16).

Prints one line per case and engine, or with --json an array of {"name", "engine",
"ms"} under the names `fcn bench --json` uses. Needs torch, torchvision, onnx,
onnxruntime and openvino (`pip install torch torchvision onnx onnxruntime openvino`);
the project itself never does.
Usage: python3 scripts/bench_engines.py [--threads 2] [--json] [--only NAME ...] [--engine ort|openvino ...]
"""
import argparse, json, os, sys, tempfile, warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pytorch import Fcn8s, Fcn16s, fcn_net, median_ms, tv_fcn50, tv_fcn101  # noqa: E402

# name, network builder, input shape: the inference cases of `fcn bench`.
CASES = [
    ("fcn_infer_b1", fcn_net, (1, 3, 320, 480)),
    ("fcn_infer_b8", fcn_net, (8, 3, 320, 480)),
    ("fcn16s_infer_b1", Fcn16s, (1, 3, 320, 480)),
    ("fcn8s_infer_b1", Fcn8s, (1, 3, 320, 480)),
    ("tv_fcn50_infer_b1", tv_fcn50, (1, 3, 520, 520)),
    ("fcn34_infer_b1", lambda: fcn_net(depth=34), (1, 3, 320, 480)),
    ("fcn50_infer_b1", lambda: fcn_net(depth=50), (1, 3, 320, 480)),
    ("tv_fcn101_infer_b1", tv_fcn101, (1, 3, 520, 520)),
]


def export(build, shape, path):
    net = build().eval()
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter
    with torch.no_grad():
        torch.onnx.export(net, torch.rand(shape), path, opset_version=17, dynamo=False,
                          input_names=["image"], output_names=["logits"])


def ort_runner(path, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"image": x})


def openvino_runner(path, threads):
    import openvino as ov
    compiled = ov.Core().compile_model(path, "CPU", {
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
    })
    request = compiled.create_infer_request()
    return lambda x: request.infer({0: x})


ENGINES = {"ort": ("ONNX Runtime", ort_runner), "openvino": ("OpenVINO", openvino_runner)}


def versions():
    import onnxruntime, openvino
    return {"ort": onnxruntime.__version__, "openvino": openvino.__version__.split("-")[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--engine", action="append", choices=sorted(ENGINES), default=[])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    engines = args.engine or sorted(ENGINES)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, shape in CASES:
            if args.only and name not in args.only:
                continue
            path = os.path.join(tmp, f"{name}.onnx")
            export(build, shape, path)
            x = np.random.rand(*shape).astype(np.float32)
            for engine in engines:
                run = ENGINES[engine][1](path, args.threads)
                ms = median_ms(lambda: run(x))
                rows.append({"name": name, "engine": engine, "ms": round(ms, 3)})
                if not args.json:
                    print(f"{name:<24} {ENGINES[engine][0]:<14} {ms:>10.3f} ms", flush=True)
    if args.json:
        print(json.dumps({"versions": versions(), "cases": rows}))


if __name__ == "__main__":
    main()
