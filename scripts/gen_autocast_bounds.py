"""How far PyTorch's own mixed precision (torch.autocast) lands from its f32 results,
on the small golden set: the yardstick for `--precision f16|bf16` in the tests.

For each reduced type, on the CPU: the logits (eval mode) and one training step's
loss and gradients under autocast, against the f32 goldens that gen_small_golden.py
wrote; the largest absolute differences go into `autocast.json` beside them.
Needs torch, torchvision, numpy; never run in CI.

    python3 scripts/gen_autocast_bounds.py crates/fcn/tests/fixtures/golden_small/fcn
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_small_golden as small  # noqa: E402


def textbook_fcn(state):
    backbone = small.SmallResNet18(small.WIDTH)
    net = nn.Sequential(*list(backbone.children())[:-2])
    net.add_module("final_conv", nn.Conv2d(8 * small.WIDTH, small.CLASSES, kernel_size=1))
    net.add_module(
        "transpose_conv",
        nn.ConvTranspose2d(small.CLASSES, small.CLASSES, 64, padding=16, stride=32),
    )
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net


def deviations(folder, dtype):
    load = lambda name: torch.from_numpy(np.load(os.path.join(folder, name)))
    gap = lambda got, name: float((got.detach().float() - load(name)).abs().max())
    state = torch.load(os.path.join(folder, "fcn_d2l.pth"))
    net = textbook_fcn(state).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype):
        logits = net(load("input.npy"))
    out = {"logits": gap(logits, "fcn_d2l.logits.npy")}

    net = textbook_fcn(state).train()
    with torch.autocast("cpu", dtype=dtype):
        scores = net(load("train_input.npy"))
    loss = nn.functional.cross_entropy(scores.float(), load("train_labels.npy"))
    loss.backward()
    meta = json.load(open(os.path.join(folder, "meta.json")))
    out["loss"] = abs(loss.item() - meta["train_step"]["loss"])
    out["final_conv.weight"] = gap(net.final_conv.weight.grad, "train_grad.final_conv.weight.npy")
    out["0.weight"] = gap(net[0].weight.grad, "train_grad.0.weight.npy")
    return out


def main(folder):
    bounds = {
        "generator": f"scripts/gen_autocast_bounds.py, PyTorch {torch.__version__}, CPU autocast",
        "what": "max |autocast - f32 golden| per output; loss as |difference|",
        "f16": deviations(folder, torch.float16),
        "bf16": deviations(folder, torch.bfloat16),
    }
    with open(os.path.join(folder, "autocast.json"), "w") as f:
        json.dump(bounds, f, indent=1)
    print(json.dumps(bounds, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
