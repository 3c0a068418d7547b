"""Small PyTorch goldens for the FCN-16s / FCN-8s heads, committed under
crates/fcn/tests/fixtures/golden_small/fcn_skip.

The same files as ../shared/golden/fcn_skip (made by ../shared/scripts/gen_fcn_skip_golden.py,
whose head is ../shared/scripts/fcn_skip.py), for a ResNet-18 of width 8 and 5 classes, so a
fresh clone checks the skip heads against PyTorch without the large checkpoint. The heads
below follow fcn_skip.py's definition with the channel counts of the narrower trunk.
Needs torch, torchvision, numpy; never run in CI.

    python3 scripts/gen_small_skip_golden.py crates/fcn/tests/fixtures/golden_small/fcn_skip
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_small_golden import SmallResNet18, bilinear_kernel, randomize_bn  # noqa: E402

SEED, H, W, WIDTH, CLASSES = 13, 64, 96, 8, 5


def transposed(c, k, s, p):
    conv = nn.ConvTranspose2d(c, c, kernel_size=k, stride=s, padding=p, bias=False)
    conv.weight.data.copy_(bilinear_kernel(c, c, k) + 0.001 * torch.randn(c, c, k, k))
    return conv


class SkipFcn(nn.Module):
    """The textbook's trunk ('0' … '7') with an FCN-16s or FCN-8s head."""

    def __init__(self, mode):
        super().__init__()
        self.mode = mode
        for i, child in enumerate(list(SmallResNet18(WIDTH).children())[:-2]):
            self.add_module(str(i), child)
        c = CLASSES
        self.final_conv = nn.Conv2d(8 * WIDTH, c, 1)
        self.upscore2 = transposed(c, 4, 2, 1)
        self.score_pool4 = nn.Conv2d(4 * WIDTH, c, 1)
        if mode == "fcn16s":
            self.upscore16 = transposed(c, 32, 16, 8)
        else:
            self.upscore_pool4 = transposed(c, 4, 2, 1)
            self.score_pool3 = nn.Conv2d(2 * WIDTH, c, 1)
            self.upscore8 = transposed(c, 16, 8, 4)

    def forward(self, x):
        m = self._modules
        for i in range(5):
            x = m[str(i)](x)
        pool3 = m["5"](x)
        pool4 = m["6"](pool3)
        s = self.upscore2(self.final_conv(m["7"](pool4))) + self.score_pool4(pool4)
        if self.mode == "fcn16s":
            return self.upscore16(s)
        s = self.upscore_pool4(s) + self.score_pool3(pool3)
        return self.upscore8(s)


def main(out):
    os.makedirs(out, exist_ok=True)
    save = lambda name, t: np.save(os.path.join(out, name), t.detach().float().numpy())
    torch.manual_seed(SEED)
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    net = SkipFcn("fcn8s")
    randomize_bn(net)
    for conv in (net.score_pool4, net.score_pool3):
        nn.init.normal_(conv.weight, std=0.05)
        nn.init.uniform_(conv.bias, -0.1, 0.1)
    net.eval().half()
    torch.save(net.state_dict(), os.path.join(out, "fcn8s.pth"))
    net.float()
    x = (torch.rand(1, 3, H, W) - mean) / std
    save("fcn8s.input.npy", x)
    with torch.no_grad():
        save("fcn8s.logits.npy", net(x))
    # FCN-16s from the same file: its own layers, and upscore16 exactly bilinear.
    n16 = SkipFcn("fcn16s")
    skip8 = ("score_pool3", "upscore_pool4", "upscore8")
    sd = {k: v for k, v in net.state_dict().items() if not k.startswith(skip8)}
    sd["upscore16.weight"] = bilinear_kernel(CLASSES, CLASSES, 32)
    n16.load_state_dict(sd)
    n16.eval()
    with torch.no_grad():
        save("fcn16s.logits.npy", n16(x))

    torch.manual_seed(SEED + 1)
    net.train()
    xb = (torch.rand(2, 3, H, W) - mean) / std
    yb = torch.randint(0, CLASSES, (2, H, W))
    yb[:, :4, :] = 255
    save("fcn8s.train_input.npy", xb)
    np.save(os.path.join(out, "fcn8s.train_labels.npy"), yb.numpy().astype(np.int64))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=1e-3)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(net(xb), yb, ignore_index=255)
    loss.backward()
    params = dict(net.named_parameters())
    for k in ("score_pool3.weight", "score_pool4.weight", "upscore8.weight", "upscore2.weight",
              "final_conv.weight", "0.weight"):
        save(f"fcn8s.train_grad.{k}.npy", params[k].grad)
    opt.step()
    save("fcn8s.train_after_step.score_pool3.weight.npy", net.score_pool3.weight)
    meta = {
        "generator": f"scripts/gen_small_skip_golden.py, PyTorch {torch.__version__}, "
                     f"torchvision {torchvision.__version__}",
        "input_hw": [H, W],
        "width": WIDTH,
        "num_classes": CLASSES,
        "train_step": {"loss": loss.item(), "optimizer": "SGD lr=0.1 weight_decay=1e-3 momentum=0",
                       "loss_def": "cross_entropy(ignore_index=255), mean over counted pixels"},
    }
    with open(os.path.join(out, "fcn_skip.meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("loss", loss.item())


if __name__ == "__main__":
    main(sys.argv[1])
