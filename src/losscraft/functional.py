"""Functional forms of every catalog loss: ``import losscraft.functional as LF``."""

from .losses.classification import (
    bce_loss,
    bce_with_logits_loss,
    binary_focal_loss,
    cross_entropy_loss,
    focal_loss,
)
from .losses.divergence import kl_div_loss
from .losses.embedding import contrastive_loss, cosine_embedding_loss, cosine_similarity_loss, triplet_loss
from .losses.regression import huber_loss, log_cosh_loss, mae_loss, mse_loss, quantile_loss
from .losses.segmentation import dice_loss, jaccard_loss

__all__ = [
    "bce_loss",
    "bce_with_logits_loss",
    "binary_focal_loss",
    "contrastive_loss",
    "cosine_embedding_loss",
    "cosine_similarity_loss",
    "cross_entropy_loss",
    "dice_loss",
    "focal_loss",
    "huber_loss",
    "jaccard_loss",
    "kl_div_loss",
    "log_cosh_loss",
    "mae_loss",
    "mse_loss",
    "quantile_loss",
    "triplet_loss",
]
