"""Every loss family; importing this package fills the registry."""

from . import (  # registration side effect
    classification,
    divergence,
    embedding,
    ordinal,
    ranking,
    regression,
    segmentation,
    sequence,
    survival,
)
