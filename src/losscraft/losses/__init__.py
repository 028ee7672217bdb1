"""Every loss family; importing this package fills the registry."""

from . import (  # noqa: F401  (registration side effect)
    classification,
    divergence,
    embedding,
    regression,
    segmentation,
)
