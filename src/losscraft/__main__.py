"""``python -m losscraft``: the command line (see :mod:`losscraft.cli`)."""

from __future__ import annotations

from losscraft.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
