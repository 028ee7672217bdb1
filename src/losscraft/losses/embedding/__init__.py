"""Embedding (metric-learning) losses.

Also the reusable triplet-mining component :mod:`.mining` (``mine_triplets``,
``pairwise_distances``).
"""

from . import mining
from .arcface import ArcFaceLoss, arcface_loss
from .batch_triplet import BatchTripletLoss, batch_triplet_loss
from .circle import CircleLoss, circle_loss
from .contrastive import ContrastiveLoss, contrastive_loss
from .cosface import CosFaceLoss, cosface_loss
from .cosine_embedding import CosineEmbeddingLoss, cosine_embedding_loss
from .cosine_similarity import CosineSimilarityLoss, cosine_similarity_loss
from .info_nce import InfoNCELoss, info_nce_loss
from .mining import mine_triplets, pairwise_distances
from .multi_similarity import MultiSimilarityLoss, multi_similarity_loss
from .proxy_anchor import LearnedProxyAnchorLoss, ProxyAnchorLoss, proxy_anchor_loss
from .supcon import SupConLoss, supcon_loss
from .triplet import TripletLoss, triplet_loss

__all__ = [
    "ContrastiveLoss",
    "CosineEmbeddingLoss",
    "CosineSimilarityLoss",
    "TripletLoss",
    "contrastive_loss",
    "cosine_embedding_loss",
    "cosine_similarity_loss",
    "triplet_loss",
    "ArcFaceLoss",
    "BatchTripletLoss",
    "CircleLoss",
    "CosFaceLoss",
    "InfoNCELoss",
    "LearnedProxyAnchorLoss",
    "MultiSimilarityLoss",
    "ProxyAnchorLoss",
    "SupConLoss",
    "arcface_loss",
    "batch_triplet_loss",
    "circle_loss",
    "cosface_loss",
    "info_nce_loss",
    "mine_triplets",
    "mining",
    "multi_similarity_loss",
    "pairwise_distances",
    "proxy_anchor_loss",
    "supcon_loss",
]
