"""arcface: a float64 reference with ``math.acos`` and insightface's formula written out.

References: ArcFace (Deng et al. 2019) with ``math.acos``, insightface's ``CombinedMarginLoss``
(ArcFace branch), and ``torch.nn.functional.cross_entropy`` (values and gradients). Margin heads
take cosines (validated in [-1, 1] up to 0.01), not logits. Tests shared with cosface:
``test_family.py``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from losscraft.losses.embedding import arcface_loss
from losses.embedding.helpers import D64, _assert_value_and_grad, _cos_batch, ref_arcface_psi, ref_margin_ce


def insightface_arcface_logits(cos: torch.Tensor, labels: torch.Tensor, s: float, m: float) -> torch.Tensor:
    """insightface ``CombinedMarginLoss`` (ArcFace branch, easy_margin=False), written out."""
    th, sinmm = math.cos(math.pi - m), math.sin(math.pi - m) * m
    idx = torch.arange(cos.shape[0])
    target = cos[idx, labels]
    sin_theta = torch.sqrt(1.0 - target**2)
    cos_theta_m = target * math.cos(m) - sin_theta * math.sin(m)
    final = torch.where(target > th, cos_theta_m, target - sinmm)
    logits = cos.clone()
    logits[idx, labels] = final
    return logits * s


@pytest.mark.parametrize(("s", "m"), [(64.0, 0.5), (30.0, 0.3), (10.0, 1.2), (64.0, 0.0)])
def test_arcface_matches_acos_reference_and_insightface(s: float, m: float) -> None:
    cos, y = _cos_batch()
    cos[0, y[0]] = -0.99  # deep in the fallback branch
    ref = ref_margin_ce(cos, y, s, lambda c: ref_arcface_psi(c, m))
    torch.testing.assert_close(
        arcface_loss(cos, y, scale=s, margin=m, reduction="none"), ref, rtol=1e-10, atol=1e-9
    )
    _assert_value_and_grad(
        lambda c: arcface_loss(c, y, scale=s, margin=m),
        lambda c: F.cross_entropy(insightface_arcface_logits(c, y, s, m), y),
        (cos,),
    )


def test_arcface_gradient_at_exactly_one_is_the_subgradient() -> None:
    # target cosine exactly 1 with a hard negative at 1: d psi / d cos = cos(m) there
    cos = torch.tensor([[1.0, 1.0]], dtype=D64, requires_grad=True)
    arcface_loss(cos, torch.tensor([0]), scale=2.0, margin=0.5).backward()
    assert cos.grad is not None
    psi = math.cos(0.5)
    p_y = math.exp(2 * psi) / (math.exp(2 * psi) + math.exp(2.0))
    torch.testing.assert_close(
        cos.grad, torch.tensor([[2 * (p_y - 1) * math.cos(0.5), 2 * (1 - p_y)]], dtype=D64)
    )


def test_arcface_fallback_jump_is_documented_size() -> None:
    m = 0.5
    th = math.cos(math.pi - m)
    two = torch.tensor([[th + 1e-9, 0.0], [th - 1e-9, 0.0]], dtype=D64)
    out = arcface_loss(two, torch.tensor([0, 0]), scale=1.0, margin=m, reduction="none")
    # loss = softplus(-psi): the target logit drops by cos m + m sin m - 1 = 0.117
    psi_hi, psi_lo = -torch.log(torch.expm1(out))
    assert psi_hi.item() == pytest.approx(-1.0, abs=1e-6)
    assert (psi_hi - psi_lo).item() == pytest.approx(math.cos(m) + m * math.sin(m) - 1, abs=1e-6)
    assert math.cos(m) + m * math.sin(m) - 1 == pytest.approx(0.1173, abs=1e-4)
