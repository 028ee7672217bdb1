"""Helpers shared by the test files of several loss families."""

from __future__ import annotations

SINGLE = "'input' must have C >= 2 classes on dim 1"
