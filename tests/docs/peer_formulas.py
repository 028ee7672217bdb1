"""torchvision's and segmentation_models_pytorch's losses, written out: the replicas the parity tests run.

The PyPI wheels of torchvision and segmentation_models_pytorch (smp) are built against another
torch than the CPU build pinned in requirements-dev.txt and do not import with it, so the rows of
``docs/equivalents.py`` for these two libraries cannot call them. The functions below are
transcribed statement for statement from the peers' source (versions cited per function); only
what the rows use is kept (API-usage logging, ``torch.jit`` guards and argument asserts left
out). They keep the peers' argument names, defaults and reductions.

The page shows the real calls (``torchvision.ops.sigmoid_focal_loss(x, y, ...)``,
``smp.losses.DiceLoss(mode="multiclass")(x, y)``); the parity test evaluates them in a namespace
where ``torchvision`` and ``smp`` are the namespace objects :data:`torchvision` and :data:`smp`
defined at the end of this module, so ``torchvision.ops.sigmoid_focal_loss`` is
:func:`sigmoid_focal_loss` and ``smp.losses.DiceLoss`` is :class:`DiceLoss`.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import Tensor

# --------------------------------------------------------------------------- torchvision
# torchvision 0.17, torchvision/ops/focal_loss.py (the statements are the same from 0.8 to 0.2x).


def sigmoid_focal_loss(
    inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2, reduction: str = "none"
) -> Tensor:
    """``torchvision.ops.sigmoid_focal_loss``."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)

    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss

    # Check reduction option and return loss accordingly
    if reduction == "none":
        pass
    elif reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    else:
        raise ValueError(
            f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction modes: 'none', 'mean', 'sum'"
        )
    return loss


# --------------------------------------------------------------------------- segmentation_models_pytorch
# segmentation_models_pytorch 0.3.3: segmentation_models_pytorch/losses/_functional.py, dice.py,
# jaccard.py, tversky.py, focal.py, lovasz.py, soft_bce.py, soft_ce.py.

BINARY_MODE = "binary"
MULTICLASS_MODE = "multiclass"
MULTILABEL_MODE = "multilabel"


def focal_loss_with_logits(
    output: Tensor,
    target: Tensor,
    gamma: float = 2.0,
    alpha: float | None = 0.25,
    reduction: str = "mean",
    normalized: bool = False,
    reduced_threshold: float | None = None,
    eps: float = 1e-6,
) -> Tensor:
    """``smp.losses._functional.focal_loss_with_logits``."""
    target = target.type(output.type())

    logpt = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    pt = torch.exp(-logpt)

    # compute the loss
    if reduced_threshold is None:
        focal_term = (1.0 - pt).pow(gamma)
    else:
        focal_term = ((1.0 - pt) / reduced_threshold).pow(gamma)
        focal_term[pt < reduced_threshold] = 1

    loss = focal_term * logpt

    if alpha is not None:
        loss *= alpha * target + (1 - alpha) * (1 - target)

    if normalized:
        norm_factor = focal_term.sum().clamp_min(eps)
        loss /= norm_factor

    if reduction == "mean":
        loss = loss.mean()
    if reduction == "sum":
        loss = loss.sum()
    if reduction == "batchwise_mean":
        loss = loss.sum(0)

    return loss


def soft_jaccard_score(
    output: Tensor,
    target: Tensor,
    smooth: float = 0.0,
    eps: float = 1e-7,
    dims: tuple[int, ...] | None = None,
) -> Tensor:
    """``smp.losses._functional.soft_jaccard_score``."""
    assert output.size() == target.size()
    if dims is not None:
        intersection = torch.sum(output * target, dim=dims)
        cardinality = torch.sum(output + target, dim=dims)
    else:
        intersection = torch.sum(output * target)
        cardinality = torch.sum(output + target)

    union = cardinality - intersection
    jaccard_score = (intersection + smooth) / (union + smooth).clamp_min(eps)
    return jaccard_score


def soft_dice_score(
    output: Tensor,
    target: Tensor,
    smooth: float = 0.0,
    eps: float = 1e-7,
    dims: tuple[int, ...] | None = None,
) -> Tensor:
    """``smp.losses._functional.soft_dice_score``."""
    assert output.size() == target.size()
    if dims is not None:
        intersection = torch.sum(output * target, dim=dims)
        cardinality = torch.sum(output + target, dim=dims)
    else:
        intersection = torch.sum(output * target)
        cardinality = torch.sum(output + target)
    dice_score = (2.0 * intersection + smooth) / (cardinality + smooth).clamp_min(eps)
    return dice_score


def soft_tversky_score(
    output: Tensor,
    target: Tensor,
    alpha: float,
    beta: float,
    smooth: float = 0.0,
    eps: float = 1e-7,
    dims: tuple[int, ...] | None = None,
) -> Tensor:
    """``smp.losses._functional.soft_tversky_score``."""
    assert output.size() == target.size()
    if dims is not None:
        intersection = torch.sum(output * target, dim=dims)  # TP
        fp = torch.sum(output * (1.0 - target), dim=dims)
        fn = torch.sum((1 - output) * target, dim=dims)
    else:
        intersection = torch.sum(output * target)  # TP
        fp = torch.sum(output * (1.0 - target))
        fn = torch.sum((1 - output) * target)

    tversky_score = (intersection + smooth) / (intersection + alpha * fp + beta * fn + smooth).clamp_min(eps)
    return tversky_score


def label_smoothed_nll_loss(
    lprobs: Tensor,
    target: Tensor,
    epsilon: float,
    ignore_index: int | None = None,
    reduction: str = "mean",
    dim: int = -1,
) -> Tensor:
    """``smp.losses._functional.label_smoothed_nll_loss`` (fairseq's)."""
    if target.dim() == lprobs.dim() - 1:
        target = target.unsqueeze(dim)

    if ignore_index is not None:
        pad_mask = target.eq(ignore_index)
        target = target.masked_fill(pad_mask, 0)
        nll_loss = -lprobs.gather(dim=dim, index=target)
        smooth_loss = -lprobs.sum(dim=dim, keepdim=True)

        # nll_loss.masked_fill_(pad_mask, 0.0)
        # smooth_loss.masked_fill_(pad_mask, 0.0)
        nll_loss = nll_loss.masked_fill(pad_mask, 0.0)
        smooth_loss = smooth_loss.masked_fill(pad_mask, 0.0)
    else:
        nll_loss = -lprobs.gather(dim=dim, index=target)
        smooth_loss = -lprobs.sum(dim=dim, keepdim=True)

        nll_loss = nll_loss.squeeze(dim)
        smooth_loss = smooth_loss.squeeze(dim)

    if reduction == "sum":
        nll_loss = nll_loss.sum()
        smooth_loss = smooth_loss.sum()
    if reduction == "mean":
        nll_loss = nll_loss.mean()
        smooth_loss = smooth_loss.mean()

    eps_i = epsilon / lprobs.size(dim)
    loss = (1.0 - epsilon) * nll_loss + eps_i * smooth_loss
    return loss


class DiceLoss(torch.nn.Module):
    """``smp.losses.DiceLoss`` (dice.py)."""

    def __init__(
        self,
        mode: str,
        classes: list[int] | None = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: float = 0.0,
        ignore_index: int | None = None,
        eps: float = 1e-7,
    ) -> None:
        assert mode in {BINARY_MODE, MULTILABEL_MODE, MULTICLASS_MODE}
        super().__init__()
        self.mode = mode
        if classes is not None:
            assert mode != BINARY_MODE, "Masking classes is not supported with mode=binary"
        self.classes = None if classes is None else torch.tensor(classes, dtype=torch.long)
        self.from_logits = from_logits
        self.smooth = smooth
        self.eps = eps
        self.log_loss = log_loss
        self.ignore_index = ignore_index

    def forward(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        assert y_true.size(0) == y_pred.size(0)

        if self.from_logits:
            # Apply activations to get [0..1] class probabilities
            # Using Log-Exp as this gives more numerically stable result and does not cause vanishing gradient on
            # extreme values 0 and 1
            if self.mode == MULTICLASS_MODE:
                y_pred = y_pred.log_softmax(dim=1).exp()
            else:
                y_pred = F.logsigmoid(y_pred).exp()

        bs = y_true.size(0)
        num_classes = y_pred.size(1)
        dims = (0, 2)

        if self.mode == BINARY_MODE:
            y_true = y_true.view(bs, 1, -1)
            y_pred = y_pred.view(bs, 1, -1)

            if self.ignore_index is not None:
                mask = y_true != self.ignore_index
                y_pred = y_pred * mask
                y_true = y_true * mask

        if self.mode == MULTICLASS_MODE:
            y_true = y_true.view(bs, -1)
            y_pred = y_pred.view(bs, num_classes, -1)

            if self.ignore_index is not None:
                mask = y_true != self.ignore_index
                y_pred = y_pred * mask.unsqueeze(1)

                y_true = F.one_hot((y_true * mask).to(torch.long), num_classes)  # N,H*W -> N,H*W, C
                y_true = y_true.permute(0, 2, 1) * mask.unsqueeze(1)  # H, C, H*W
            else:
                y_true = F.one_hot(y_true, num_classes)  # N,H*W -> N,H*W, C
                y_true = y_true.permute(0, 2, 1)  # H, C, H*W

        if self.mode == MULTILABEL_MODE:
            y_true = y_true.view(bs, num_classes, -1)
            y_pred = y_pred.view(bs, num_classes, -1)

            if self.ignore_index is not None:
                mask = y_true != self.ignore_index
                y_pred = y_pred * mask
                y_true = y_true * mask

        scores = self.compute_score(
            y_pred, y_true.type_as(y_pred), smooth=self.smooth, eps=self.eps, dims=dims
        )

        if self.log_loss:  # noqa: SIM108 - as written in smp
            loss = -torch.log(scores.clamp_min(self.eps))
        else:
            loss = 1.0 - scores

        # Dice loss is undefined for non-empty classes
        # So we zero contribution of channel that does not have true pixels
        # NOTE: A better workaround would be to use loss term `mean(y_pred)`
        # for this case, however it will be a modified jaccard loss

        mask = y_true.sum(dims) > 0
        loss *= mask.to(loss.dtype)

        if self.classes is not None:
            loss = loss[self.classes]

        return self.aggregate_loss(loss)

    def aggregate_loss(self, loss: Tensor) -> Tensor:
        return loss.mean()

    def compute_score(
        self,
        output: Tensor,
        target: Tensor,
        smooth: float = 0.0,
        eps: float = 1e-7,
        dims: tuple[int, ...] | None = None,
    ) -> Tensor:
        return soft_dice_score(output, target, smooth, eps, dims)


class JaccardLoss(torch.nn.Module):
    """``smp.losses.JaccardLoss`` (jaccard.py)."""

    def __init__(
        self,
        mode: str,
        classes: list[int] | None = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: float = 0.0,
        eps: float = 1e-7,
    ) -> None:
        assert mode in {BINARY_MODE, MULTILABEL_MODE, MULTICLASS_MODE}
        super().__init__()

        self.mode = mode
        if classes is not None:
            assert mode != BINARY_MODE, "Masking classes is not supported with mode=binary"
        self.classes = None if classes is None else torch.tensor(classes, dtype=torch.long)
        self.from_logits = from_logits
        self.smooth = smooth
        self.eps = eps
        self.log_loss = log_loss

    def forward(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        assert y_true.size(0) == y_pred.size(0)

        if self.from_logits:
            # Apply activations to get [0..1] class probabilities
            # Using Log-Exp as this gives more numerically stable result and does not cause vanishing gradient on
            # extreme values 0 and 1
            if self.mode == MULTICLASS_MODE:
                y_pred = y_pred.log_softmax(dim=1).exp()
            else:
                y_pred = F.logsigmoid(y_pred).exp()

        bs = y_true.size(0)
        num_classes = y_pred.size(1)
        dims = (0, 2)

        if self.mode == BINARY_MODE:
            y_true = y_true.view(bs, 1, -1)
            y_pred = y_pred.view(bs, 1, -1)

        if self.mode == MULTICLASS_MODE:
            y_true = y_true.view(bs, -1)
            y_pred = y_pred.view(bs, num_classes, -1)

            y_true = F.one_hot(y_true, num_classes)  # N,H*W -> N,H*W, C
            y_true = y_true.permute(0, 2, 1)  # H, C, H*W

        if self.mode == MULTILABEL_MODE:
            y_true = y_true.view(bs, num_classes, -1)
            y_pred = y_pred.view(bs, num_classes, -1)

        scores = soft_jaccard_score(
            y_pred, y_true.type(y_pred.dtype), smooth=self.smooth, eps=self.eps, dims=dims
        )

        if self.log_loss:  # noqa: SIM108 - as written in smp
            loss = -torch.log(scores.clamp_min(self.eps))
        else:
            loss = 1.0 - scores

        # IoU loss is defined for non-empty classes
        # So we zero contribution of channel that does not have true pixels
        # NOTE: A better workaround would be to use loss term `mean(y_pred)`
        # for this case, however it will be a modified jaccard loss

        mask = y_true.sum(dims) > 0
        loss *= mask.float()

        if self.classes is not None:
            loss = loss[self.classes]

        return loss.mean()


class TverskyLoss(DiceLoss):
    """``smp.losses.TverskyLoss`` (tversky.py): alpha weights false positives, beta false negatives."""

    def __init__(
        self,
        mode: str,
        classes: list[int] | None = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: float = 0.0,
        ignore_index: int | None = None,
        eps: float = 1e-7,
        alpha: float = 0.5,
        beta: float = 0.5,
        gamma: float = 1.0,
    ) -> None:
        assert mode in {BINARY_MODE, MULTILABEL_MODE, MULTICLASS_MODE}
        super().__init__(mode, classes, log_loss, from_logits, smooth, ignore_index, eps)
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma

    def aggregate_loss(self, loss: Tensor) -> Tensor:
        return loss.mean() ** self.gamma

    def compute_score(
        self,
        output: Tensor,
        target: Tensor,
        smooth: float = 0.0,
        eps: float = 1e-7,
        dims: tuple[int, ...] | None = None,
    ) -> Tensor:
        return soft_tversky_score(output, target, self.alpha, self.beta, smooth, eps, dims)


class FocalLoss(torch.nn.Module):
    """``smp.losses.FocalLoss`` (focal.py): one sigmoid focal loss per class, also in multiclass mode."""

    def __init__(
        self,
        mode: str,
        alpha: float | None = None,
        gamma: float | None = 2.0,
        ignore_index: int | None = None,
        reduction: str | None = "mean",
        normalized: bool = False,
        reduced_threshold: float | None = None,
    ) -> None:
        assert mode in {BINARY_MODE, MULTILABEL_MODE, MULTICLASS_MODE}
        super().__init__()

        self.mode = mode
        self.ignore_index = ignore_index
        self.alpha = alpha
        self.gamma = gamma
        self.reduced_threshold = reduced_threshold
        self.reduction = reduction
        self.normalized = normalized

    def focal_loss_fn(self, output: Tensor, target: Tensor) -> Tensor:
        # focal.py builds this with functools.partial(focal_loss_with_logits, alpha=..., ...)
        return focal_loss_with_logits(
            output,
            target,
            alpha=self.alpha,
            gamma=2.0 if self.gamma is None else self.gamma,
            reduced_threshold=self.reduced_threshold,
            reduction="mean" if self.reduction is None else self.reduction,
            normalized=self.normalized,
        )

    def forward(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        if self.mode in {BINARY_MODE, MULTILABEL_MODE}:
            y_true = y_true.view(-1)
            y_pred = y_pred.view(-1)

            if self.ignore_index is not None:
                # Filter predictions with ignore label from loss computation
                not_ignored = y_true != self.ignore_index
                y_pred = y_pred[not_ignored]
                y_true = y_true[not_ignored]

            loss = self.focal_loss_fn(y_pred, y_true)

        elif self.mode == MULTICLASS_MODE:
            num_classes = y_pred.size(1)
            loss = y_pred.new_zeros(())  # focal.py: `loss = 0`

            # Filter anchors with -1 label from loss computation
            if self.ignore_index is not None:
                not_ignored = y_true != self.ignore_index

            for cls in range(num_classes):
                cls_y_true = (y_true == cls).long()
                cls_y_pred = y_pred[:, cls, ...]

                if self.ignore_index is not None:
                    cls_y_true = cls_y_true[not_ignored]
                    cls_y_pred = cls_y_pred[not_ignored]

                loss += self.focal_loss_fn(cls_y_pred, cls_y_true)

        return loss


def _lovasz_grad(gt_sorted: Tensor) -> Tensor:
    """Compute gradient of the Lovasz extension w.r.t sorted errors (lovasz.py)."""
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.float().cumsum(0)
    union = gts + (1 - gt_sorted).float().cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:  # cover 1-pixel case
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def _mean(values: Iterable[Tensor]) -> Tensor:
    """lovasz.py's ``mean`` (nanmean compatible with generators), without its ``ignore_nan``/``empty``."""
    it = iter(values)
    acc = next(it)
    n = 1
    for n, v in enumerate(it, 2):  # noqa: B007 - n is read after the loop, as in lovasz.py
        acc = acc + v
    if n == 1:
        return acc
    return acc / n


def _flatten_binary_scores(
    scores: Tensor, labels: Tensor, ignore: int | None = None
) -> tuple[Tensor, Tensor]:
    scores = scores.view(-1)
    labels = labels.view(-1)
    if ignore is None:
        return scores, labels
    valid = labels != ignore
    vscores = scores[valid]
    vlabels = labels[valid]
    return vscores, vlabels


def _lovasz_hinge_flat(logits: Tensor, labels: Tensor) -> Tensor:
    if len(labels) == 0:
        # only void pixels, the gradients should be 0
        return logits.sum() * 0.0
    signs = 2.0 * labels.float() - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    perm = perm.data
    gt_sorted = labels[perm]
    grad = _lovasz_grad(gt_sorted)
    loss = torch.dot(F.relu(errors_sorted), grad)
    return loss


def _lovasz_hinge(
    logits: Tensor, labels: Tensor, per_image: bool = True, ignore: int | None = None
) -> Tensor:
    if per_image:
        loss = _mean(
            _lovasz_hinge_flat(*_flatten_binary_scores(log.unsqueeze(0), lab.unsqueeze(0), ignore))
            for log, lab in zip(logits, labels, strict=True)
        )
    else:
        loss = _lovasz_hinge_flat(*_flatten_binary_scores(logits, labels, ignore))
    return loss


def _flatten_probas(probas: Tensor, labels: Tensor, ignore: int | None = None) -> tuple[Tensor, Tensor]:
    if probas.dim() == 3:
        # assumes output of a sigmoid layer
        B, H, W = probas.size()
        probas = probas.view(B, 1, H, W)

    C = probas.size(1)
    probas = torch.movedim(probas, 1, -1)  # [B, C, Di, Dj, ...] -> [B, Di, Dj, ..., C]
    probas = probas.contiguous().view(-1, C)  # [P, C]

    labels = labels.view(-1)
    if ignore is None:
        return probas, labels
    valid = labels != ignore
    vprobas = probas[valid]
    vlabels = labels[valid]
    return vprobas, vlabels


def _lovasz_softmax_flat(probas: Tensor, labels: Tensor, classes: str = "present") -> Tensor:
    if probas.numel() == 0:
        # only void pixels, the gradients should be 0
        return probas * 0.0
    C = probas.size(1)
    losses = []
    class_to_sum = list(range(C))
    for c in class_to_sum:
        fg = (labels == c).type_as(probas)  # foreground for class c
        if classes == "present" and fg.sum() == 0:
            continue
        class_pred = probas[:, 0] if C == 1 else probas[:, c]
        errors = (fg - class_pred).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        perm = perm.data
        fg_sorted = fg[perm]
        losses.append(torch.dot(errors_sorted, _lovasz_grad(fg_sorted)))
    return _mean(losses)


def _lovasz_softmax(
    probas: Tensor,
    labels: Tensor,
    classes: str = "present",
    per_image: bool = False,
    ignore: int | None = None,
) -> Tensor:
    if per_image:
        loss = _mean(
            _lovasz_softmax_flat(
                *_flatten_probas(prob.unsqueeze(0), lab.unsqueeze(0), ignore), classes=classes
            )
            for prob, lab in zip(probas, labels, strict=True)
        )
    else:
        loss = _lovasz_softmax_flat(*_flatten_probas(probas, labels, ignore), classes=classes)
    return loss


class LovaszLoss(torch.nn.Module):
    """``smp.losses.LovaszLoss`` (lovasz.py, Berman's reference code)."""

    def __init__(
        self, mode: str, per_image: bool = False, ignore_index: int | None = None, from_logits: bool = True
    ) -> None:
        assert mode in {BINARY_MODE, MULTILABEL_MODE, MULTICLASS_MODE}
        super().__init__()

        self.mode = mode
        self.ignore_index = ignore_index
        self.per_image = per_image

    def forward(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        if self.mode in {BINARY_MODE, MULTILABEL_MODE}:
            loss = _lovasz_hinge(y_pred, y_true, per_image=self.per_image, ignore=self.ignore_index)
        elif self.mode == MULTICLASS_MODE:
            y_pred = y_pred.softmax(dim=1)
            loss = _lovasz_softmax(y_pred, y_true, per_image=self.per_image, ignore=self.ignore_index)
        else:
            raise ValueError(f"Wrong mode {self.mode}.")
        return loss


class SoftBCEWithLogitsLoss(torch.nn.Module):
    """``smp.losses.SoftBCEWithLogitsLoss`` (soft_bce.py): ``smooth_factor`` s maps targets 1, 0 to 1 - s, s."""

    def __init__(
        self,
        weight: Tensor | None = None,
        ignore_index: int | None = -100,
        reduction: str = "mean",
        smooth_factor: float | None = None,
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.smooth_factor = smooth_factor
        self.weight = weight
        self.pos_weight = pos_weight

    def forward(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        if self.smooth_factor is not None:
            soft_targets = (1 - y_true) * self.smooth_factor + y_true * (1 - self.smooth_factor)
        else:
            soft_targets = y_true

        loss = F.binary_cross_entropy_with_logits(
            y_pred, soft_targets, self.weight, pos_weight=self.pos_weight, reduction="none"
        )

        if self.ignore_index is not None:
            not_ignored_mask = y_true != self.ignore_index
            loss *= not_ignored_mask.type_as(loss)

        if self.reduction == "mean":
            loss = loss.mean()

        if self.reduction == "sum":
            loss = loss.sum()

        return loss


class SoftCrossEntropyLoss(torch.nn.Module):
    """``smp.losses.SoftCrossEntropyLoss`` (soft_ce.py): label smoothing as torch's ``label_smoothing``."""

    def __init__(
        self,
        reduction: str = "mean",
        smooth_factor: float | None = None,
        ignore_index: int | None = -100,
        dim: int = 1,
    ) -> None:
        super().__init__()
        self.smooth_factor = smooth_factor
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.dim = dim

    def forward(self, y_pred: Tensor, y_true: Tensor) -> Tensor:
        log_prob = F.log_softmax(y_pred, dim=self.dim)
        return label_smoothed_nll_loss(
            log_prob,
            y_true,
            epsilon=self.smooth_factor,  # type: ignore[arg-type]  (None fails here, as in smp)
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            dim=self.dim,
        )


torchvision = SimpleNamespace(ops=SimpleNamespace(sigmoid_focal_loss=sigmoid_focal_loss))
"""Stands for ``import torchvision`` in the rows' ``peer`` calls."""

smp = SimpleNamespace(
    losses=SimpleNamespace(
        DiceLoss=DiceLoss,
        JaccardLoss=JaccardLoss,
        TverskyLoss=TverskyLoss,
        FocalLoss=FocalLoss,
        LovaszLoss=LovaszLoss,
        SoftBCEWithLogitsLoss=SoftBCEWithLogitsLoss,
        SoftCrossEntropyLoss=SoftCrossEntropyLoss,
    )
)
"""Stands for ``import segmentation_models_pytorch as smp`` in the rows' ``peer`` calls."""
