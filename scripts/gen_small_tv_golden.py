"""Small PyTorch goldens for torchvision's FCN (dilated ResNet, FCNHead, auxiliary head,
bilinear interpolation), committed under crates/fcn/tests/fixtures/golden_small/tv_fcn.

torchvision's `fcn_resnet50` fixes the backbone at width 64 (a 70 MB file even in float16,
../shared/golden/tv_fcn). Here the backbone is built by torchvision's own
`ResNet._make_layer` (so dilation follows `replace_stride_with_dilation` exactly) with the
stem and stage widths scaled to WIDTH; at width 64 the script checks it against
`torchvision.models.resnet50` (same keys, shapes and outputs). Two networks:

* `tv_r50`: ResNet-50, output stride 8, torchvision's FCN head with its aux head;
* `tv_r18`: ResNet-18, output stride 8. torchvision refuses dilated BasicBlocks, so they
  are dilated as mmsegmentation's ResNet does (with contract_dilation): in a dilated
  stage, each block's conv1 takes the stage's dilation (the first block the previous
  one, and stride 1), conv2 stays plain.

Each gets eval-mode `out`/`aux` logits for an input whose sides are not multiples of 8, and
one SGD step in training mode (dropout off, loss = CE(out) + 0.5·CE(aux), ignore_index 255):
the loss, six gradients and one updated weight. Weights are saved as float32 with
torchvision's key names. Needs torch, torchvision, numpy; never run in CI.

    python3 scripts/gen_small_tv_golden.py crates/fcn/tests/fixtures/golden_small/tv_fcn
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torchvision.models import resnet as tvr
from torchvision.models.segmentation.fcn import FCN, FCNHead
from torchvision.models._utils import IntermediateLayerGetter

SEED, N, H, W, WIDTH, CLASSES, LR = 5, 2, 37, 45, 8, 5, 0.1


class ScaledResNet(tvr.ResNet):
    """torchvision's ResNet with `width` in place of 64, built by its own _make_layer."""

    def __init__(self, block, layers, width, dilate):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2, dilate=dilate[2])


def dilate_basic(resnet, stages):
    """mmsegmentation's dilation of BasicBlock stages (layer3 ×2, layer4 ×4 for output stride 8)."""
    previous = 1
    for name, d in stages:
        for i, block in enumerate(getattr(resnet, name)):
            dil = previous if i == 0 else d
            block.conv1.stride, block.conv1.dilation, block.conv1.padding = (1, 1), (dil, dil), (dil, dil)
            if block.downsample is not None:
                block.downsample[0].stride = (1, 1)
        previous = d


def randomize(net):
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2); m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5); m.bias.data.uniform_(-0.2, 0.2)
    for name, p in net.named_parameters():
        if name.endswith(("bn3.weight", "bn2.weight")) and "layer" in name:
            p.data.mul_(0.3)
        if name.startswith(("classifier.4.", "aux_classifier.4.")):
            p.data.mul_(10.0)


def build(depth):
    if depth == 50:
        backbone = ScaledResNet(tvr.Bottleneck, [3, 4, 6, 3], WIDTH, [False, True, True])
    else:
        backbone = ScaledResNet(tvr.BasicBlock, [2, 2, 2, 2], WIDTH, [False, False, False])
        dilate_basic(backbone, [("layer3", 2), ("layer4", 4)])
    channels = backbone.layer4[-1].conv1.in_channels if depth == 18 else 8 * WIDTH * 4
    aux_channels = channels // 2
    body = IntermediateLayerGetter(backbone, return_layers={"layer4": "out", "layer3": "aux"})
    return FCN(body, FCNHead(channels, CLASSES), FCNHead(aux_channels, CLASSES))


def check_against_torchvision():
    torch.manual_seed(0)
    ours = ScaledResNet(tvr.Bottleneck, [3, 4, 6, 3], 64, [False, True, True]).eval()
    theirs = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True]).eval()
    ours_sd = {k: v.shape for k, v in ours.state_dict().items()}
    theirs_sd = {k: v.shape for k, v in theirs.state_dict().items() if not k.startswith("fc.")}
    assert ours_sd == theirs_sd, "ScaledResNet(64) differs from torchvision's resnet50"
    ours.load_state_dict(theirs.state_dict(), strict=False)
    x = torch.randn(1, 3, 50, 60)
    with torch.no_grad():
        a = ours.layer4(ours.layer3(ours.layer2(ours.layer1(ours.maxpool(ours.relu(ours.bn1(ours.conv1(x))))))))
        t = theirs
        b = t.layer4(t.layer3(t.layer2(t.layer1(t.maxpool(t.relu(t.bn1(t.conv1(x))))))))
    assert torch.equal(a, b), "ScaledResNet(64) computes other values than torchvision's resnet50"


GRADS = ["backbone.conv1.weight", "backbone.layer4.0.conv1.weight", "backbone.layer3.1.conv1.weight",
         "classifier.0.weight", "classifier.4.weight", "aux_classifier.4.weight"]


def make(out, depth):
    torch.manual_seed(SEED + depth)
    net = build(depth)
    randomize(net)
    name = f"tv_r{depth}"
    net.eval()
    torch.save(net.state_dict(), os.path.join(out, f"{name}.pth"))
    x = torch.randn(N, 3, H, W)
    with torch.no_grad():
        res = net(x)
    labels = torch.randint(0, CLASSES, (N, H, W))
    labels[:, :3, :] = 255
    files = {"input": x, "out": res["out"], "aux": res["aux"], "train_labels": labels}
    net.train()
    for m in net.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    res = net(x)
    loss = F.cross_entropy(res["out"], labels, ignore_index=255) + 0.5 * F.cross_entropy(res["aux"], labels, ignore_index=255)
    loss.backward()
    params = dict(net.named_parameters())
    grads = {}
    for k in GRADS:
        key = k.replace("layer4.0.conv1", "layer4.0.conv2") if depth == 50 else k
        grads[key] = params[key].grad.clone()
    with torch.no_grad():
        w = params["classifier.4.weight"]
        stepped = w - LR * w.grad
    files["train_loss"] = loss.detach().reshape(1)
    files["train_step.classifier.4.weight"] = stepped
    for k, g in grads.items():
        files[f"train_grad.{k}"] = g
    for k, v in files.items():
        arr = v.numpy()
        np.save(os.path.join(out, f"{name}.{k}.npy"), arr.astype(np.int64 if k == "train_labels" else np.float32))
    meta = {"generator": f"PyTorch {torch.__version__}, torchvision {torchvision.__version__}",
            "depth": depth, "width": WIDTH, "classes": CLASSES, "output_stride": 8, "input": [N, 3, H, W],
            "lr": LR, "aux_weight": 0.5, "grads": sorted(grads), "seed": SEED + depth}
    json.dump(meta, open(os.path.join(out, f"{name}.meta.json"), "w"), indent=1)
    print(name, "max|out|", float(files["out"].abs().max()), "loss", float(loss))


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    check_against_torchvision()
    for depth in (50, 18):
        make(out, depth)
