"""PyTorch counterpart of `cargo run --release -p fcn --example infer_once`: the
textbook FCN (random weights) on one 320×480 image, three times, for timing and peak
memory under `/usr/bin/time -v`; with --tv, torchvision's fcn_resnet50 at 520×520 instead.
Usage: python3 scripts/infer_once_pytorch.py [--threads 2] [--tv]"""
import sys, time
import torch, torchvision
from torch import nn

torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2)
r = torchvision.models.resnet18()
net = nn.Sequential(*list(r.children())[:-2])
net.add_module("final_conv", nn.Conv2d(512, 21, kernel_size=1))
net.add_module("transpose_conv", nn.ConvTranspose2d(21, 21, kernel_size=64, padding=16, stride=32))
x = torch.rand(1, 3, 320, 480)
if "--tv" in sys.argv:
    tv = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    net = lambda x: tv(x)["out"]
    tv.eval()
    x = torch.rand(1, 3, 520, 520)
else:
    net.eval()
with torch.no_grad():
    for run in range(3):
        t = time.perf_counter()
        y = net(x)
        print(f"run {run}: {(time.perf_counter() - t) * 1e3:.1f} ms, logits {tuple(y.shape)}", file=sys.stderr)
