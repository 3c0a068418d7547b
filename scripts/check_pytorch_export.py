"""Checks that PyTorch accepts an fcn checkpoint for the textbook's FCN.

Builds the textbook's network (torchvision ResNet-18 children without avgpool/fc,
final_conv, transpose_conv), loads the checkpoint with
`net.load_state_dict(safetensors.torch.load_file(path))` (strict), and compares its
eval-mode logits for shared/golden/fcn/input.npy with fcn_d2l.logits.npy.

Usage: fcn export ../shared/golden/fcn/fcn_d2l.pth --out /tmp/fcn.safetensors
       python3 scripts/check_pytorch_export.py /tmp/fcn.safetensors ../shared/golden/fcn
"""
import sys
import numpy as np
import safetensors.torch
import torch
import torchvision
from torch import nn

path, golden = sys.argv[1], sys.argv[2]
r = torchvision.models.resnet18()
net = nn.Sequential(*list(r.children())[:-2])
net.add_module("final_conv", nn.Conv2d(512, 21, kernel_size=1))
net.add_module("transpose_conv", nn.ConvTranspose2d(21, 21, kernel_size=64, padding=16, stride=32))
result = net.load_state_dict(safetensors.torch.load_file(path))
print("load_state_dict:", result)
net.eval()
with torch.no_grad():
    logits = net(torch.from_numpy(np.load(f"{golden}/input.npy"))).numpy()
want = np.load(f"{golden}/fcn_d2l.logits.npy")
err = np.abs(logits - want).max()
print(f"max abs difference from fcn_d2l.logits.npy: {err:.3g}")
assert err <= 1e-3 * max(1.0, np.abs(want).max()), "logits differ"
print("OK: PyTorch loads the checkpoint and computes the same logits")
