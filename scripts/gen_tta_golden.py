"""PyTorch references for test-time augmentation, from the small committed FCN.

Loads crates/fcn/tests/fixtures/golden_small/fcn/fcn_d2l.pth into the network
scripts/gen_small_golden.py defines, and for its input.npy writes the mean softmax
over (a) the image and its mirror, (b) scales 0.5, 0.75 and 1.5 each with its
mirror: the image resized with F.interpolate(bilinear, align_corners=False) to
round(side * scale), padded with zeros at the bottom and right to a multiple of 32
(as fcn does), the logits cropped, resized back the same way, softmaxed, averaged.
Needs torch, torchvision, numpy; never run in CI.

    python3 scripts/gen_tta_golden.py crates/fcn/tests/fixtures/golden_small/fcn
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_small_golden import CLASSES, WIDTH, SmallResNet18  # noqa: E402


def load(path):
    r = SmallResNet18(WIDTH)
    net = nn.Sequential(*list(r.children())[:-2])
    net.add_module("final_conv", nn.Conv2d(8 * WIDTH, CLASSES, kernel_size=1))
    net.add_module("transpose_conv", nn.ConvTranspose2d(CLASSES, CLASSES, 64, padding=16, stride=32))
    state = torch.load(path)
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return net.eval()


def logits(net, x):
    h, w = x.shape[2:]
    ph, pw = (-h) % 32, (-w) % 32
    return net(F.pad(x, (0, pw, 0, ph)))[:, :, :h, :w]


def tta(net, x, scales, flip):
    h, w = x.shape[2:]
    total, runs = 0, 0
    for s in scales:
        size = (max(1, int(h * s + 0.5)), max(1, int(w * s + 0.5)))
        xs = x if size == (h, w) else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        for flipped in ([False, True] if flip else [False]):
            inp = xs.flip(3) if flipped else xs
            out = logits(net, inp)
            if flipped:
                out = out.flip(3)
            if size != (h, w):
                out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            total = total + out.softmax(1)
            runs += 1
    return total / runs


def main(out):
    net = load(os.path.join(out, "fcn_d2l.pth"))
    x = torch.from_numpy(np.load(os.path.join(out, "input.npy")))
    with torch.no_grad():
        np.save(os.path.join(out, "tta_flip.probs.npy"), tta(net, x, [1.0], True).numpy())
        np.save(os.path.join(out, "tta_scales.probs.npy"), tta(net, x, [0.5, 0.75, 1.5], True).numpy())
        # The plain logits must match the committed golden: the network is the same.
        plain = logits(net, x).numpy()
    want = np.load(os.path.join(out, "fcn_d2l.logits.npy"))
    print("plain logits vs golden:", float(np.abs(plain - want).max()))


if __name__ == "__main__":
    main(sys.argv[1])
