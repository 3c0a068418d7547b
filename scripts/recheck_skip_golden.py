"""Recomputes the stem gradient of ../shared/golden/fcn_skip's training step with PyTorch
on the CPU in float64.

That golden's `fcn8s.train_grad.0.weight.npy` disagrees with what PyTorch itself computes
from the same checkpoint, input and labels: by up to 1.6e-3 (on 6,968 of its 9,408
values), while PyTorch's own float32 and float64 results agree to 1.3e-6 and every other
gradient of the file agrees with fcn to 1e-6. The test suite checks the stem gradient of
that set against this recomputation instead (fcn matches it to 2e-6).
Needs torch, torchvision, numpy; never run in CI.

    python3 scripts/recheck_skip_golden.py ../shared crates/fcn/tests/fixtures/fcn_skip_recheck
"""
import os
import sys

import numpy as np
import torch

shared, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(shared, "scripts"))
from fcn_skip import FcnSkip  # noqa: E402

golden = os.path.join(shared, "golden", "fcn_skip")
state = torch.load(os.path.join(golden, "fcn8s.pth"))
net = FcnSkip(21, "fcn8s")
net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
net = net.double().train()
x = torch.from_numpy(np.load(os.path.join(golden, "fcn8s.train_input.npy"))).double()
y = torch.from_numpy(np.load(os.path.join(golden, "fcn8s.train_labels.npy")))
loss = torch.nn.functional.cross_entropy(net(x), y, ignore_index=255)
loss.backward()
grad = dict(net.named_parameters())["0.weight"].grad
os.makedirs(out, exist_ok=True)
np.save(os.path.join(out, "fcn8s.train_grad.0.weight.npy"), grad.float().numpy())
kept = np.load(os.path.join(golden, "fcn8s.train_grad.0.weight.npy"))
print("loss", loss.item(), "max |golden - recomputed|", float(np.abs(kept - grad.float().numpy()).max()))
