"""Embedding (metric-learning) losses."""

from .contrastive import ContrastiveLoss, contrastive_loss
from .cosine_embedding import CosineEmbeddingLoss, cosine_embedding_loss
from .cosine_similarity import CosineSimilarityLoss, cosine_similarity_loss
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
]
