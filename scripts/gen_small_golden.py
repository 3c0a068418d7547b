"""Small PyTorch goldens for the test suite, committed under crates/fcn/tests/fixtures.

The same files as ../shared/golden/fcn (same names, same key names and code paths),
for a ResNet-18 of reduced width and a few classes, so that a fresh clone checks
parity with PyTorch without the large checkpoints. Needs torch, torchvision, numpy;
never run in CI.

    python3 scripts/gen_small_golden.py crates/fcn/tests/fixtures/golden_small/fcn
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1

SEED, H, W, WIDTH, CLASSES = 5, 64, 96, 8, 5


class SmallResNet18(nn.Module):
    """torchvision's ResNet-18 with `width` channels in the first stage (64 there)."""

    def __init__(self, width):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self.stage(width, 1)
        self.layer2 = self.stage(2 * width, 2)
        self.layer3 = self.stage(4 * width, 2)
        self.layer4 = self.stage(8 * width, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * width, 10)

    def stage(self, planes, stride):
        down = None
        if stride != 1 or self.inplanes != planes:
            down = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        blocks = [BasicBlock(self.inplanes, planes, stride, down), BasicBlock(planes, planes)]
        self.inplanes = planes
        return nn.Sequential(*blocks)


def bilinear_kernel(cin, cout, k):
    factor = (k + 1) // 2
    center = factor - 1 if k % 2 == 1 else factor - 0.5
    rows, cols = torch.arange(k).reshape(-1, 1), torch.arange(k).reshape(1, -1)
    filt = (1 - torch.abs(rows - center) / factor) * (1 - torch.abs(cols - center) / factor)
    w = torch.zeros((cin, cout, k, k))
    w[range(cin), range(cout), :, :] = filt
    return w


def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
            mod.num_batches_tracked.fill_(7)


def main(out):
    os.makedirs(out, exist_ok=True)
    save = lambda name, t: np.save(os.path.join(out, name), t.detach().float().numpy())
    torch.manual_seed(SEED)
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    img = torch.rand(1, 3, H, W)
    x = (img - mean) / std
    save("input.npy", x)
    save("input_image_01.npy", img)

    r = SmallResNet18(WIDTH)
    randomize_bn(r)
    r.eval()
    torch.save(r.state_dict(), os.path.join(out, "resnet18_torchvision.pth"))
    backbone = nn.Sequential(*list(r.children())[:-2]).eval()
    with torch.no_grad():
        save("resnet18_torchvision.features.npy", backbone(x))

    torch.manual_seed(SEED + 1)
    r2 = SmallResNet18(WIDTH)
    randomize_bn(r2)
    net = nn.Sequential(*list(r2.children())[:-2])
    net.add_module("final_conv", nn.Conv2d(8 * WIDTH, CLASSES, kernel_size=1))
    net.add_module("transpose_conv", nn.ConvTranspose2d(CLASSES, CLASSES, 64, padding=16, stride=32))
    noise = 0.001 * torch.randn(CLASSES, CLASSES, 64, 64)
    net.transpose_conv.weight.data.copy_(bilinear_kernel(CLASSES, CLASSES, 64) + noise)
    net.eval()
    net.half()
    torch.save(net.state_dict(), os.path.join(out, "fcn_d2l.pth"))
    net.float()
    with torch.no_grad():
        save("fcn_d2l.logits.npy", net(x))

    torch.manual_seed(SEED + 2)
    net.train()
    xb = (torch.rand(2, 3, H, W) - mean) / std
    yb = torch.randint(0, CLASSES, (2, H, W))
    save("train_input.npy", xb)
    np.save(os.path.join(out, "train_labels.npy"), yb.numpy().astype(np.int64))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=1e-3)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(net(xb), yb)
    loss.backward()
    grads = {
        "final_conv.weight": net.final_conv.weight.grad,
        "transpose_conv.weight": net.transpose_conv.weight.grad,
        "0.weight": net[0].weight.grad,
        "7.1.bn2.weight": net[7][1].bn2.weight.grad,
    }
    for k, g in grads.items():
        save(f"train_grad.{k}.npy", g)
    opt.step()
    save("train_after_step.final_conv.weight.npy", net.final_conv.weight)
    save("train_after_step.1.running_mean.npy", net[1].running_mean)

    bk = bilinear_kernel(3, 3, 4)
    ct = nn.ConvTranspose2d(3, 3, kernel_size=4, padding=1, stride=2, bias=False)
    ct.weight.data.copy_(bk)
    with torch.no_grad():
        save("upsample2x.output.npy", ct(img))
    meta = {
        "generator": f"scripts/gen_small_golden.py, PyTorch {torch.__version__}, torchvision {torchvision.__version__}",
        "input_hw": [H, W],
        "width": WIDTH,
        "num_classes": CLASSES,
        "train_step": {"loss": loss.item(), "optimizer": "SGD lr=0.1 weight_decay=1e-3 momentum=0"},
        "normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("loss", loss.item())


if __name__ == "__main__":
    main(sys.argv[1])
