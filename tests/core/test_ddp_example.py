"""examples/ddp_contrastive.py runs under torchrun with 2 CPU processes and shows what docs/distributed.md claims."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.distributed
def test_ddp_contrastive_example_under_torchrun() -> None:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",  # what the torchrun console script runs
        "--standalone",  # a free local port: parallel test workers do not collide
        "--nproc_per_node=2",
        "examples/ddp_contrastive.py",
        "--steps",
        "20",
        "--batch",
        "8",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "2 rank(s) x 8 pairs = 16 pairs per step, 20 steps" in out
    diff = float(re.search(r"max \|gradient difference\| (\S+)", out).group(1))  # type: ignore[union-attr]
    assert diff < 1e-5  # float32: gathered = one process on the global batch
    table = out[out.index("negatives") :].splitlines()[1:]
    rows = {}
    for line in table:
        name, n_neg, _ms, acc = re.split(r"\s{2,}", line.strip())
        rows[name] = (int(n_neg), float(acc))
    assert rows["local"][0] == 14 and rows["gathered"][0] == 30 and rows["one process, 16 pairs"][0] == 30
    # the gathered run follows the single-process run on the global batch
    assert abs(rows["gathered"][1] - rows["one process, 16 pairs"][1]) <= 0.01
