"""PyTorch timings for the cases of `fcn bench`: the kernel shapes of
crates/tconv/benches/shapes.rs, the FCN forward at 320x480 for batch 1 and 8, and a
training step of 8 images at 320x480 (SGD, lr 1e-3, weight decay 1e-3, as the textbook).

Prints one line per case, or with --json an array of {"name", "ms", "gflops"} under the
names `fcn bench --json` uses, so both can run in the same minute. Needs `torch` and
`torchvision`; the project itself never does.
With --device cuda it times the network cases on the GPU (eager mode, synchronised
after every run), with the textbook's training batch of 32 too, as `fcn bench --device
gpu` does.
Usage: python3 scripts/bench_pytorch.py [--threads 2] [--json] [--only NAME ...] [--device cuda]
"""
import argparse, json, time
import torch
import torch.nn.functional as F

SHAPES = [
    # name, input, out_channels, kernel, op, stride, padding
    ("convT_fcn_head", (1, 21, 10, 15), 21, 64, "T", 32, 16),
    ("convT_fcn_head_b4_512", (4, 512, 10, 15), 21, 64, "T", 32, 16),
    ("convT_decoder", (8, 256, 32, 32), 128, 4, "T", 2, 1),
    ("convT_small", (1, 20, 6, 6), 10, 5, "T", 3, 2),
    ("conv3x3_80x120", (1, 64, 80, 120), 64, 3, "C", 1, 1),
    ("conv3x3_b8_56", (8, 64, 56, 56), 64, 3, "C", 1, 1),
    # fcn times these as inference runs them (BatchNorm folded in); PyTorch's is the same call.
    ("conv3x3_80x120_infer", (1, 64, 80, 120), 64, 3, "C", 1, 1),
    ("conv3x3_b8_56_infer", (8, 64, 56, 56), 64, 3, "C", 1, 1),
    ("conv7x7_stem", (1, 3, 320, 480), 64, 7, "C", 2, 3),
    ("conv3x3_dil2_65", (1, 256, 65, 65), 256, 3, "D2", 1, 2),
    ("conv3x3_dil2_65_infer", (1, 256, 65, 65), 256, 3, "D2", 1, 2),
]


SYNC = lambda: None


def median_ms(run):
    run()
    SYNC()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (len(times) < 50 and time.perf_counter() - start < 3.0):
        t = time.perf_counter()
        run()
        SYNC()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def fcn_net(num_classes=21, depth=18):
    """The textbook's FCN-32s on torchvision's ResNet-`depth`."""
    import torchvision
    backbone = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    channels = backbone.fc.in_features
    net = torch.nn.Sequential(*list(backbone.children())[:-2])
    net.add_module("final_conv", torch.nn.Conv2d(channels, num_classes, kernel_size=1))
    net.add_module(
        "transpose_conv",
        torch.nn.ConvTranspose2d(num_classes, num_classes, kernel_size=64, padding=16, stride=32),
    )
    return net


class Fcn8s(torch.nn.Module):
    """FCN-8s on the textbook's trunk, as fcn's `--arch fcn8s` (and shared/scripts/fcn_skip.py);
    with stride16=True the FCN-16s (`--arch fcn16s`)."""

    def __init__(self, c=21, stride16=False):
        super().__init__()
        import torchvision
        r = torchvision.models.resnet18(weights=None)
        self.trunk = torch.nn.Sequential(*list(r.children())[:5])
        self.layer2, self.layer3, self.layer4 = r.layer2, r.layer3, r.layer4
        self.final_conv = torch.nn.Conv2d(512, c, 1)
        up = lambda k, s, p: torch.nn.ConvTranspose2d(c, c, k, stride=s, padding=p, bias=False)
        self.stride16 = stride16
        self.upscore2 = up(4, 2, 1)
        self.score_pool4 = torch.nn.Conv2d(256, c, 1)
        if stride16:
            self.upscore16 = up(32, 16, 8)
        else:
            self.upscore_pool4, self.upscore8 = up(4, 2, 1), up(16, 8, 4)
            self.score_pool3 = torch.nn.Conv2d(128, c, 1)

    def forward(self, x):
        pool3 = self.layer2(self.trunk(x))
        pool4 = self.layer3(pool3)
        s = self.upscore2(self.final_conv(self.layer4(pool4))) + self.score_pool4(pool4)
        if self.stride16:
            return self.upscore16(s)
        s = self.upscore_pool4(s) + self.score_pool3(pool3)
        return self.upscore8(s)


def Fcn16s(c=21):
    return Fcn8s(c, stride16=True)


def conv_flops(net, x):
    """Multiply-adds of every convolution for input x, times two (as fcn bench counts)."""
    total = [0.0]

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.ConvTranspose2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += 2.0 * inp[0].numel() * mod.out_channels // mod.groups * k
        elif isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += 2.0 * out.numel() * mod.in_channels // mod.groups * k

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return total[0]


def tv_fcn(depth):
    """torchvision's fcn_resnet<depth> (aux head included, as fcn's bench builds it), returning 'out'."""
    import torchvision

    build = getattr(torchvision.models.segmentation, f"fcn_resnet{depth}")
    net = build(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)

    class Out(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)["out"]

    return Out()


def tv_fcn50():
    return tv_fcn(50)


def tv_fcn101():
    return tv_fcn(101)


# prefix, builder: the textbook-size networks of `fcn bench` (320x480).
ARCHS = (
    ("fcn", fcn_net),
    ("fcn16s", Fcn16s),
    ("fcn8s", Fcn8s),
    ("fcn34", lambda: fcn_net(depth=34)),
    ("fcn50", lambda: fcn_net(depth=50)),
)
# The training cases `fcn bench` has on the CPU.
TRAINED = ("fcn", "fcn16s", "fcn8s", "fcn50")


def model_rows(wanted, device="cpu"):
    rows = []
    for prefix, build in ARCHS:
        rows += arch_rows(prefix, build, wanted, device)
    for name, build in (("tv_fcn50_infer_b1", tv_fcn50), ("tv_fcn101_infer_b1", tv_fcn101)):
        if wanted(name):
            net = build().eval().to(device)
            x = torch.rand(1, 3, 520, 520, device=device)
            with torch.no_grad():
                ms = median_ms(lambda: net(x))
            rows.append((name, ms, conv_flops(net, x) / ms / 1e6))
    return rows


def arch_rows(prefix, build, wanted, device):
    rows = []
    for batch in (1, 8) if prefix == "fcn" else (1,):
        name = f"{prefix}_infer_b{batch}"
        if not wanted(name):
            continue
        net = build().eval().to(device)
        x = torch.rand(batch, 3, 320, 480, device=device)
        with torch.no_grad():
            ms = median_ms(lambda: net(x))
        rows.append((name, ms, conv_flops(net, x) / ms / 1e6))
    batches = (8, 32) if device == "cuda" and prefix == "fcn" else (8,)
    for batch in batches if prefix in TRAINED else ():
        name = f"{prefix}_train_b{batch}"
        if not wanted(name):
            continue
        net = build().train().to(device)
        x = torch.rand(batch, 3, 320, 480, device=device)
        y = torch.randint(0, 21, (batch, 320, 480), device=device)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3, weight_decay=1e-3)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()

        ms = median_ms(step)
        rows.append((name, ms, 3 * conv_flops(net, x) / ms / 1e6))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()
    wanted = lambda name: not args.only or name in args.only
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        global SYNC
        SYNC = torch.cuda.synchronize
    rows = []
    with torch.no_grad():
        for name, shape, cout, k, op, s, p in SHAPES if args.device == "cpu" else []:
            if not wanted(name):
                continue
            x = torch.rand(shape) - 0.5
            c = shape[1]
            if op == "T":
                w = torch.rand(c, cout, k, k) - 0.5
                run = lambda: F.conv_transpose2d(x, w, None, s, p)
                flops = 2.0 * x.numel() * cout * k * k
            else:
                w = torch.rand(cout, c, k, k) - 0.5
                d = 2 if op == "D2" else 1
                run = lambda: F.conv2d(x, w, None, s, p, d)
                flops = 2.0 * run().numel() * c * k * k
            ms = median_ms(run)
            gflops = flops / ms / 1e6
            if args.json:
                rows.append({"name": name, "ms": round(ms, 3), "gflops": round(gflops, 1)})
            else:
                print(f"{name:<24} {ms:>10.3f} ms {gflops:>8.1f} GFLOP/s")
    for name, ms, gflops in model_rows(wanted, args.device):
        if args.json:
            rows.append({"name": name, "ms": round(ms, 3), "gflops": round(gflops, 1)})
        else:
            print(f"{name:<24} {ms:>10.3f} ms {gflops:>8.1f} GFLOP/s")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
