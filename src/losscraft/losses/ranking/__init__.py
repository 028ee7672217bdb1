"""Ranking losses: score pairs (margin ranking) and per-query score lists with padding.

List losses take scores ``(Q, L)`` and graded relevance labels ``(Q, L)`` (finite, ``>= 0``);
a padded item carries the label ``ignore_index`` (default -1) and is exactly irrelevant.
"""

from .approx_ndcg import ApproxNDCGLoss, approx_ndcg_loss
from .listmle import ListMLELoss, listmle_loss
from .listnet import ListNetLoss, listnet_loss
from .margin_ranking import MarginRankingLoss, margin_ranking_loss
from .ranknet import RankNetLoss, ranknet_loss

__all__ = [
    "ApproxNDCGLoss",
    "ListMLELoss",
    "ListNetLoss",
    "MarginRankingLoss",
    "RankNetLoss",
    "approx_ndcg_loss",
    "listmle_loss",
    "listnet_loss",
    "margin_ranking_loss",
    "ranknet_loss",
]
