"""The implementations the benchmark runs side by side: losscraft, torch, peers, naive, floors.

Every builder takes the case's inputs (a dict of tensors, created once per process) and
returns a zero-argument closure computing the loss, so that building a module, a buffer or a
label tensor is not timed. Peers are imported inside the builders: a missing peer is reported
as skipped by the harness (``Impl.requires``), never an import error here.

Hyperparameters are set so every implementation of a case computes **the same number**
(the harness checks the values and gradient norms against losscraft); where a peer's
``"mean"`` averages over a different set (kornia and MONAI average the softmax focal loss
over classes too), the scalar is rescaled, which costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

import losscraft.functional as LF

Inputs = dict[str, Tensor]
Closure = Callable[[], Tensor]

GAMMA = 2.0
ALPHA = 0.25
DICE_SMOOTH = 1e-5  # MONAI's default smooth_nr = smooth_dr, so MONAI runs at its defaults
TEMPERATURE = 0.1
LABEL_SMOOTHING = 0.1


# ---------------------------------------------------------------- binary focal / BCE


def lc_binary_focal(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: LF.binary_focal_loss(x, t, gamma=GAMMA, alpha=ALPHA)


def torchvision_sigmoid_focal(x: Tensor, t: Tensor, alpha: float = ALPHA, gamma: float = GAMMA) -> Tensor:
    """``torchvision.ops.sigmoid_focal_loss(x, t, alpha, gamma, reduction="mean")``, written out.

    The same statements as torchvision 0.2x (torchvision/ops/focal_loss.py); written out
    because torchvision's PyPI wheel is built against a different torch than the one pinned
    here and does not import with it. It is also the textbook composed formula.
    """
    p = torch.sigmoid(x)
    ce_loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * t + (1 - alpha) * (1 - t)
        loss = alpha_t * loss
    return loss.mean()


def torchvision_binary_focal(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: torchvision_sigmoid_focal(x, t)


def kornia_binary_focal(i: Inputs) -> Closure:
    from kornia.losses import binary_focal_loss_with_logits

    x, t = i["input"], i["target"]
    return lambda: binary_focal_loss_with_logits(x, t, alpha=ALPHA, gamma=GAMMA, reduction="mean")


def monai_binary_focal(i: Inputs) -> Closure:
    from monai.losses import FocalLoss

    loss = FocalLoss(gamma=GAMMA, alpha=ALPHA, reduction="mean")
    x, t = i["input"], i["target"]
    return lambda: loss(x, t)


def torch_bce(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: F.binary_cross_entropy_with_logits(x, t)


def lc_bce(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: LF.bce_with_logits_loss(x, t)


def naive_bce(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: -(t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x)).mean()


def lc_bce_pw_ls(i: Inputs) -> Closure:
    x, t, pw = i["input"], i["target"], i["pos_weight"]
    return lambda: LF.bce_with_logits_loss(x, t, pos_weight=pw, label_smoothing=LABEL_SMOOTHING)


def torch_bce_pw_ls(i: Inputs) -> Closure:
    # torch has no label smoothing for BCE: smooth the target (Keras convention, towards 1/2),
    # then the native kernel with pos_weight.
    x, t, pw = i["input"], i["target"], i["pos_weight"]
    eps = LABEL_SMOOTHING
    return lambda: F.binary_cross_entropy_with_logits(x, t * (1 - eps) + 0.5 * eps, pos_weight=pw)


def naive_bce_pw_ls(i: Inputs) -> Closure:
    x, t, pw = i["input"], i["target"], i["pos_weight"]
    eps = LABEL_SMOOTHING

    def run() -> Tensor:
        ts = t * (1 - eps) + 0.5 * eps
        return -(pw * ts * F.logsigmoid(x) + (1 - ts) * F.logsigmoid(-x)).mean()

    return run


# ---------------------------------------------------------------- softmax focal / CE


def lc_focal(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: LF.focal_loss(x, t, gamma=GAMMA)


def kornia_focal(i: Inputs) -> Closure:
    from kornia.losses import focal_loss

    x, t = i["input"], i["target"]
    c = x.shape[1]
    # kornia's "mean" runs over classes too (one-hot zeros included): x C gives the per-pixel mean.
    return lambda: focal_loss(x, t, alpha=None, gamma=GAMMA, reduction="mean") * c


def monai_focal(i: Inputs) -> Closure:
    from monai.losses import FocalLoss

    loss = FocalLoss(to_onehot_y=True, use_softmax=True, gamma=GAMMA, reduction="mean")
    x, t = i["input"], i["target"]
    c = x.shape[1]
    t1 = t.unsqueeze(1)  # MONAI wants (N, 1, *) class indices for to_onehot_y
    return lambda: loss(x, t1) * c  # mean over classes too, as kornia


def naive_focal(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]

    def run() -> Tensor:
        logp = F.log_softmax(x, dim=1).gather(1, t.unsqueeze(1))
        return -((1 - logp.exp()) ** GAMMA * logp).mean()

    return run


def lc_ce(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: LF.cross_entropy_loss(x, t)


def torch_ce(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: F.cross_entropy(x, t)


def naive_ce(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: -F.log_softmax(x, dim=1).gather(1, t.unsqueeze(1)).mean()


# ---------------------------------------------------------------- Dice (multiclass, class indices)


def lc_dice(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    return lambda: LF.dice_loss(x, t, mode="multiclass", smooth=DICE_SMOOTH)


def monai_dice(i: Inputs) -> Closure:
    from monai.losses import DiceLoss

    loss = DiceLoss(to_onehot_y=True, softmax=True, smooth_nr=DICE_SMOOTH, smooth_dr=DICE_SMOOTH)
    x, t = i["input"], i["target"]
    t1 = t.unsqueeze(1)
    return lambda: loss(x, t1)


def kornia_dice(i: Inputs) -> Closure:
    from kornia.losses import dice_loss

    x, t = i["input"], i["target"]
    # kornia's Dice is 2-D (sums over dims 2, 3): fold the depth into the width (a view, so
    # the per-image, per-class sums are the same); "macro" averages classes per image, as
    # losscraft does when every class is present (true for the random targets).
    x4, t3 = x.flatten(3), t.flatten(2)
    return lambda: dice_loss(x4, t3, average="macro", eps=DICE_SMOOTH)


def naive_dice(i: Inputs) -> Closure:
    x, t = i["input"], i["target"]
    c = x.shape[1]
    dims = tuple(range(2, x.dim()))

    def run() -> Tensor:
        p = torch.softmax(x, dim=1)
        g = F.one_hot(t, c).movedim(-1, 1).to(x.dtype)
        inter = (p * g).sum(dims)
        card = p.sum(dims) + g.sum(dims)
        return (1 - (2 * inter + DICE_SMOOTH) / (card + DICE_SMOOTH)).mean()

    return run


# ---------------------------------------------------------------- regression


def lc_log_cosh(i: Inputs) -> Closure:
    x, y = i["input"], i["target"]
    return lambda: LF.log_cosh_loss(x, y)


def lc_mse(i: Inputs) -> Closure:
    x, y = i["input"], i["target"]
    return lambda: LF.mse_loss(x, y)


def torch_mse(i: Inputs) -> Closure:
    x, y = i["input"], i["target"]
    return lambda: F.mse_loss(x, y)


def lc_huber(i: Inputs) -> Closure:
    x, y = i["input"], i["target"]
    return lambda: LF.huber_loss(x, y, delta=1.0)


def torch_huber(i: Inputs) -> Closure:
    x, y = i["input"], i["target"]
    return lambda: F.huber_loss(x, y, delta=1.0)


def naive_log_cosh(i: Inputs) -> Closure:
    x, y = i["input"], i["target"]
    return lambda: torch.log(torch.cosh(x - y)).mean()  # overflows for |x - y| > 89 in fp32


def naive_log_cosh_stable(i: Inputs) -> Closure:
    x, y = i["input"], i["target"]

    def run() -> Tensor:
        d = x - y
        # log cosh d = d + softplus(-2d) - log 2: the usual overflow-free composition
        return (d + F.softplus(-2 * d) - math.log(2.0)).mean()

    return run


# ---------------------------------------------------------------- InfoNCE / NT-Xent


def lc_info_nce(i: Inputs) -> Closure:
    z1, z2 = i["input1"], i["input2"]
    return lambda: LF.info_nce_loss(z1, z2, temperature=TEMPERATURE)


def pml_ntxent(i: Inputs) -> Closure:
    from pytorch_metric_learning.losses import NTXentLoss

    loss = NTXentLoss(temperature=TEMPERATURE)
    z1, z2 = i["input1"], i["input2"]
    n = z1.shape[0]
    labels = torch.arange(n).repeat(2)  # row i of both views share label i
    return lambda: loss(torch.cat([z1, z2]), labels)


def naive_info_nce(i: Inputs) -> Closure:
    z1, z2 = i["input1"], i["input2"]
    n = z1.shape[0]
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    eye = torch.eye(2 * n, dtype=torch.bool)

    def run() -> Tensor:
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        logits = (z @ z.T / TEMPERATURE).masked_fill(eye, -math.inf)
        return F.cross_entropy(logits, partner)

    return run


# ---------------------------------------------------------------- linear cross-entropy


def lc_linear_ce(i: Inputs) -> Closure:
    fn = getattr(LF, "linear_cross_entropy_loss", None)
    if fn is None:
        raise NotImplementedError("losscraft.functional.linear_cross_entropy_loss is not in this checkout")
    h, w, t = i["hidden"], i["weight"], i["target"]
    return lambda: fn(h, w, t)


def naive_linear_ce(i: Inputs) -> Closure:
    h, w, t = i["hidden"], i["weight"], i["target"]
    return lambda: F.cross_entropy(h @ w.T, t)


def torch_linear_ce_chunked(i: Inputs) -> Closure:
    lce = getattr(F, "linear_cross_entropy", None)
    options = getattr(torch.nn, "LinearCrossEntropyOptions", None)
    if lce is None or options is None:
        raise NotImplementedError(f"torch {torch.__version__} has no chunked linear_cross_entropy")
    h, w, t = i["hidden"], i["weight"], i["target"]
    opts = options()  # the chunked path with torch's "auto" policy (options=None is the naive path)
    return lambda: lce(h, w, t, options=opts)


# ---------------------------------------------------------------- floors (no autograd)


def floor_add(i: Inputs) -> Closure:
    """Read two same-shape inputs, write one output: the least any elementwise loss moves."""
    x, t = i["input"].detach(), i["target"]
    buf = torch.empty_like(x)
    buf.fill_(0)  # touch the pages now, so the floor excludes first-touch page faults
    return lambda: torch.add(x, t, out=buf)


def floor_copy_index(i: Inputs) -> Closure:
    """Read the logits and the class-index target, write one logits-sized output."""
    x, t = i["input"].detach(), i["target"]
    buf = torch.empty_like(x)
    buf.fill_(0)

    def run() -> Tensor:
        t.amax()  # read the target once (a broadcast add would read it C times)
        return buf.copy_(x)

    return run


def floor_gemm_nce(i: Inputs) -> Closure:
    z = torch.cat([i["input1"], i["input2"]]).detach()
    buf = torch.zeros(z.shape[0], z.shape[0])
    return lambda: torch.mm(z, z.T, out=buf)


def floor_gemm_nce_bwd(i: Inputs) -> Callable[[], object]:
    z = torch.cat([i["input1"], i["input2"]]).detach()
    s = torch.zeros(z.shape[0], z.shape[0])
    g = torch.zeros_like(z)

    def run() -> Tensor:
        torch.mm(z, z.T, out=s)
        torch.mm(s, z, out=g)  # d/dz of z z^T is two products of this shape
        return torch.mm(s.T, z, out=g)

    return run


def floor_gemm_lce(i: Inputs) -> Closure:
    h, w = i["hidden"].detach(), i["weight"].detach()
    logits = torch.zeros(h.shape[0], w.shape[0])
    return lambda: torch.mm(h, w.T, out=logits)


def floor_gemm_lce_bwd(i: Inputs) -> Callable[[], object]:
    """The three GEMMs of a linear layer's forward and backward, nothing else."""
    h, w = i["hidden"].detach(), i["weight"].detach()
    logits = torch.zeros(h.shape[0], w.shape[0])
    gh, gw = torch.zeros_like(h), torch.zeros_like(w)

    def run() -> Tensor:
        torch.mm(h, w.T, out=logits)
        torch.mm(logits, w, out=gh)
        return torch.mm(logits.T, h, out=gw)

    return run
