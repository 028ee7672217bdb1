"""losscraft vs torch vs peers: time and peak memory per loss at realistic sizes.

    python benchmarks/bench_losses.py                 # full run (~10 min on 2 cores), writes
                                                      # benchmarks/results/latest.json
    python benchmarks/bench_losses.py --quick         # smoke run: small sizes, a few s per case
    python benchmarks/bench_losses.py --cases dice_64,binary_focal --impls losscraft,monai

``make bench`` installs the peers (requirements-bench.txt), runs the full suite and regenerates
docs/benchmarks.md. The methodology is in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):  # run as a script: make the sibling modules importable
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers as P
from common import (
    PEER_PACKAGES,
    RESULTS,
    ROOT,
    SCHEMA,
    Case,
    Impl,
    Size,
    evaluate_targets,
    measure,
    print_case,
    print_targets,
    run_case,
)

from losscraft.bench import RESULT_PREFIX, run_metadata

F32 = 4  # bytes per float32


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# ---------------------------------------------------------------- inputs


def binary_inputs(p: dict[str, Any], g: torch.Generator) -> dict[str, torch.Tensor]:
    shape = p["shape"]
    x = torch.randn(shape, generator=g) * 2.0
    t = (torch.rand(shape, generator=g) < p.get("pos_rate", 0.1)).to(torch.float32)
    out = {"input": x, "target": t}
    if "labels" in p:  # pos_weight per label on the last dim
        out["pos_weight"] = torch.rand(shape[-1], generator=g) * 4.0 + 0.5
    return out


def class_index_inputs(p: dict[str, Any], g: torch.Generator) -> dict[str, torch.Tensor]:
    shape = p["shape"]  # (N, C, *)
    x = torch.randn(shape, generator=g) * 2.0
    t = torch.randint(0, shape[1], (shape[0], *shape[2:]), generator=g)
    return {"input": x, "target": t}


def regression_inputs(p: dict[str, Any], g: torch.Generator) -> dict[str, torch.Tensor]:
    shape = p["shape"]
    return {"input": torch.randn(shape, generator=g), "target": torch.randn(shape, generator=g) * 3.0}


def pair_inputs(p: dict[str, Any], g: torch.Generator) -> dict[str, torch.Tensor]:
    n, d = p["shape"]
    z1 = torch.randn(n, d, generator=g)
    return {"input1": z1, "input2": z1 + 0.5 * torch.randn(n, d, generator=g)}


def linear_ce_inputs(p: dict[str, Any], g: torch.Generator) -> dict[str, torch.Tensor]:
    n, h, v = p["tokens"], p["hidden"], p["vocab"]
    # weight ~ N(0, 1/H): logits ~ N(0, 1), as for a trained LM head
    return {
        "hidden": torch.randn(n, h, generator=g),
        "weight": torch.randn(v, h, generator=g) / h**0.5,
        "target": torch.randint(0, v, (n,), generator=g),
    }


def logits_bytes(p: dict[str, Any]) -> int:
    return _numel(p["shape"]) * F32


def lce_logits_bytes(p: dict[str, Any]) -> int:
    return p["tokens"] * p["vocab"] * F32


# ---------------------------------------------------------------- implementations

LC = "losscraft"


def floor_add() -> Impl:
    return Impl(
        "floor", "floor: read inputs, write one output", "floor", P.floor_add, make_fwd_bwd=P.floor_add
    )


def floor_index() -> Impl:
    return Impl(
        "floor",
        "floor: read logits + target, write one output",
        "floor",
        P.floor_copy_index,
        make_fwd_bwd=P.floor_copy_index,
    )


def fast(shape_full: tuple[int, ...], shape_quick: tuple[int, ...], **extra: Any) -> tuple[Size, Size]:
    """Full and quick sizes for a case whose calls take well under a second."""
    full = Size(
        {"shape": shape_full, **extra}, str(shape_full), repeats=7, min_repeats=3, budget_s=1.5, single_s=3.0
    )
    quick = Size(
        {"shape": shape_quick, **extra},
        str(shape_quick),
        repeats=3,
        min_repeats=2,
        budget_s=0.2,
        single_s=3.0,
    )
    return full, quick


def dice_case(depth: int, quick_depth: int) -> Case:
    full, quick = fast((8, 4, 128, 128, depth), (2, 4, 32, 32, quick_depth))
    return Case(
        key=f"dice_{depth}",
        title="Multiclass Dice (softmax, class-index target)",
        make_inputs=class_index_inputs,
        grad_inputs=("input",),
        ref_bytes=logits_bytes,
        full=full,
        quick=quick,
        tiny={"shape": (1, 4, 4, 4, 2)},
        impls=(
            Impl(LC, "losscraft dice_loss(mode='multiclass')", "losscraft", P.lc_dice),
            Impl("monai", "MONAI DiceLoss(to_onehot_y, softmax)", "peer", P.monai_dice, ("monai",)),
            Impl(
                "kornia",
                "kornia dice_loss(average='macro')",
                "peer",
                P.kornia_dice,
                ("kornia",),
                note="2-D only: depth folded into width (a view)",
            ),
            Impl("naive", "naive: softmax + one_hot + sums", "naive", P.naive_dice),
            floor_index(),
        ),
        notes=("smooth = 1e-5 in every implementation (MONAI's default); int64 target.",),
    )


def linear_ce_case(vocab: int, quick_vocab: int, key: str) -> Case:
    full = Size(
        {"tokens": 4096, "hidden": 1024, "vocab": vocab},
        f"N=4096, H=1024, V={vocab}",
        repeats=3,
        min_repeats=1,
        budget_s=8.0,
        single_s=5.0,
    )
    quick = Size(
        # H = 256 keeps torch's chunk heuristic (about 2 V / H chunks) to a few dozen chunks
        {"tokens": 512, "hidden": 256, "vocab": quick_vocab},
        f"N=512, H=256, V={quick_vocab}",
        repeats=3,
        min_repeats=2,
        budget_s=0.3,
        single_s=3.0,
    )
    return Case(
        key=key,
        title="Linear + cross-entropy (LM head)",
        make_inputs=linear_ce_inputs,
        grad_inputs=("hidden", "weight"),
        ref_bytes=lce_logits_bytes,
        ref_name="logits NxV (not materialised by chunked implementations)",
        full=full,
        quick=quick,
        # N >= H and V > H: torch takes its chunked path here too, so its one-time set-up
        # (seconds on the first call) happens in the pre-warm, not in the measurement
        tiny={"tokens": 64, "hidden": 16, "vocab": 256},
        time_fwd=False,
        impls=(
            Impl(LC, "losscraft linear_cross_entropy_loss", "losscraft", P.lc_linear_ce),
            Impl("naive", "naive: F.cross_entropy(hidden @ weight.T)", "naive", P.naive_linear_ce),
            Impl(
                "torch",
                "torch F.linear_cross_entropy(options=LinearCrossEntropyOptions())",
                "native",
                P.torch_linear_ce_chunked,
                note="chunked path, 'auto' policy; options=None is the naive path",
            ),
            Impl(
                "floor",
                "floor: the 3 GEMMs (h Wᵀ, G W, Gᵀ h)",
                "floor",
                P.floor_gemm_lce,
                make_fwd_bwd=P.floor_gemm_lce_bwd,
            ),
        ),
        notes=("fp32, no bias; fwd+bwd only (gradients for hidden and weight).",),
    )


def info_nce_case(key: str, full: Size, quick: Size, *, with_pml: bool) -> Case:
    impls = [Impl(LC, "losscraft info_nce_loss", "losscraft", P.lc_info_nce)]
    if with_pml:
        impls.append(
            Impl(
                "pml",
                "pytorch-metric-learning NTXentLoss",
                "peer",
                P.pml_ntxent,
                ("pytorch_metric_learning",),
            )
        )
    impls += [
        Impl("naive", "naive: normalize + matmul + masked CE", "naive", P.naive_info_nce),
        Impl(
            "floor",
            "floor: the GEMMs (z zᵀ and its backward)",
            "floor",
            P.floor_gemm_nce,
            make_fwd_bwd=P.floor_gemm_nce_bwd,
        ),
    ]
    notes = ["Shape is (N pairs, D); the loss compares the 2N views with each other."]
    if not with_pml:
        notes.append(
            "pytorch-metric-learning is left out at this size: NTXentLoss builds a (positive pairs x "
            "negative pairs) matrix, 2N·2N(2N-2) floats (≈ 275 GB at N = 2048 pairs), so it only runs at the "
            "moderate size of the `info_nce` case."
        )
    return Case(
        key=key,
        title="InfoNCE / NT-Xent (SimCLR), τ=0.1",
        make_inputs=pair_inputs,
        grad_inputs=("input1", "input2"),
        ref_bytes=lambda p: (2 * p["shape"][0]) ** 2 * F32,
        ref_name="similarity matrix 2Nx2N",
        full=full,
        quick=quick,
        tiny={"shape": (4, 8)},
        impls=tuple(impls),
        notes=tuple(notes),
    )


def build_cases() -> list[Case]:
    bf_full, bf_quick = fast((8, 1, 1024, 1024), (2, 1, 256, 256))
    pw_full, pw_quick = fast((65536, 128), (2048, 64), labels=True)
    sf_full, sf_quick = fast((8, 19, 512, 512), (2, 19, 64, 64))
    # single_s 8: the first (cold) fwd+bwd at this size takes 4.0-4.5 s for every implementation
    # (page faults on 3 GB of fresh buffers), the warm calls 2.1-2.6 s; at 4 s, whichever
    # implementation's cold call crossed the line was reported cold against the others' warm
    # medians (a 2x ratio that was the page faults, not the loss).
    ce_full = Size(
        {"shape": (8192, 32000)}, "(8192, 32000)", repeats=5, min_repeats=3, budget_s=3.0, single_s=8.0
    )
    ce_quick = Size(
        {"shape": (512, 4000)}, "(512, 4000)", repeats=3, min_repeats=2, budget_s=0.2, single_s=3.0
    )
    lc_full, lc_quick = fast((8388608,), (131072,))
    nce_full, nce_quick = fast((256, 128), (64, 32))
    ncel_full, ncel_quick = fast((2048, 128), (512, 64))
    return [
        Case(
            key="binary_focal",
            title="Binary (sigmoid) focal loss, gamma=2, alpha=0.25",
            make_inputs=binary_inputs,
            grad_inputs=("input",),
            ref_bytes=logits_bytes,
            full=bf_full,
            quick=bf_quick,
            tiny={"shape": (1, 1, 8, 8)},
            impls=(
                Impl(LC, "losscraft binary_focal_loss", "losscraft", P.lc_binary_focal),
                Impl(
                    "torchvision",
                    "torchvision sigmoid_focal_loss (formula)",
                    "peer",
                    P.torchvision_binary_focal,
                ),
                Impl(
                    "kornia",
                    "kornia binary_focal_loss_with_logits",
                    "peer",
                    P.kornia_binary_focal,
                    ("kornia",),
                ),
                Impl("monai", "MONAI FocalLoss (sigmoid)", "peer", P.monai_binary_focal, ("monai",)),
                Impl(
                    "torch_bce",
                    "torch BCE-with-logits (a different loss, for scale)",
                    "reference",
                    P.torch_bce,
                    same_loss=False,
                ),
                floor_add(),
            ),
            notes=(
                "torchvision's PyPI wheel does not import with the pinned torch: its formula is written "
                "out (benchmarks/peers.py), which is also the naive composition.",
            ),
        ),
        Case(
            key="bce_with_logits",
            title="BCE with logits",
            make_inputs=binary_inputs,
            grad_inputs=("input",),
            ref_bytes=logits_bytes,
            full=bf_full,
            quick=bf_quick,
            tiny={"shape": (1, 1, 8, 8)},
            impls=(
                Impl(LC, "losscraft bce_with_logits_loss", "losscraft", P.lc_bce),
                Impl("torch", "torch F.binary_cross_entropy_with_logits", "native", P.torch_bce),
                Impl("naive", "naive: logsigmoid composition", "naive", P.naive_bce),
                floor_add(),
            ),
        ),
        Case(
            key="bce_with_logits_pw_ls",
            title="BCE with logits + pos_weight + label smoothing 0.1 (multi-label)",
            make_inputs=binary_inputs,
            grad_inputs=("input",),
            ref_bytes=logits_bytes,
            full=pw_full,
            quick=pw_quick,
            tiny={"shape": (4, 8), "labels": True},
            impls=(
                Impl(LC, "losscraft bce_with_logits_loss", "losscraft", P.lc_bce_pw_ls),
                Impl("torch", "torch: smoothed target + F.bce_with_logits", "native", P.torch_bce_pw_ls),
                Impl("naive", "naive: logsigmoid composition", "naive", P.naive_bce_pw_ls),
                floor_add(),
            ),
        ),
        Case(
            key="focal",
            title="Softmax focal loss, gamma=2 (dense prediction)",
            make_inputs=class_index_inputs,
            grad_inputs=("input",),
            ref_bytes=logits_bytes,
            full=sf_full,
            quick=sf_quick,
            tiny={"shape": (1, 19, 4, 4)},
            impls=(
                Impl(LC, "losscraft focal_loss", "losscraft", P.lc_focal),
                Impl("kornia", "kornia focal_loss (x C)", "peer", P.kornia_focal, ("kornia",)),
                Impl(
                    "monai",
                    "MONAI FocalLoss(use_softmax, to_onehot_y) (x C)",
                    "peer",
                    P.monai_focal,
                    ("monai",),
                ),
                Impl("naive", "naive: log_softmax + gather", "naive", P.naive_focal),
                Impl(
                    "torch_ce",
                    "torch F.cross_entropy (a different loss, for scale)",
                    "reference",
                    P.torch_ce,
                    same_loss=False,
                ),
                floor_index(),
            ),
            notes=(
                "Segmentation-sized (Cityscapes: 19 classes, 8 x 512²). kornia and MONAI average over "
                "classes too; their scalar is multiplied by C to give the same loss.",
            ),
        ),
        Case(
            key="cross_entropy",
            title="Cross-entropy (class indices)",
            make_inputs=class_index_inputs,
            grad_inputs=("input",),
            ref_bytes=logits_bytes,
            full=ce_full,
            quick=ce_quick,
            tiny={"shape": (4, 8)},
            impls=(
                Impl(LC, "losscraft cross_entropy_loss", "losscraft", P.lc_ce),
                Impl("torch", "torch F.cross_entropy", "native", P.torch_ce),
                Impl("naive", "naive: log_softmax + gather", "naive", P.naive_ce),
                floor_index(),
            ),
        ),
        dice_case(32, 8),
        dice_case(64, 16),
        Case(
            key="log_cosh",
            title="Log-cosh",
            make_inputs=regression_inputs,
            grad_inputs=("input",),
            ref_bytes=logits_bytes,
            ref_name="input",
            full=lc_full,
            quick=lc_quick,
            tiny={"shape": (16,)},
            impls=(
                Impl(LC, "losscraft log_cosh_loss", "losscraft", P.lc_log_cosh),
                Impl("naive", "naive: log(cosh(x - y))", "naive", P.naive_log_cosh),
                Impl("naive_stable", "naive: d + softplus(-2d) - log 2", "naive", P.naive_log_cosh_stable),
                floor_add(),
            ),
            notes=("No peer library ships log-cosh for PyTorch.",),
        ),
        *(
            Case(
                key=key,
                title=title,
                make_inputs=regression_inputs,
                grad_inputs=("input",),
                ref_bytes=logits_bytes,
                ref_name="input",
                full=lc_full,
                quick=lc_quick,
                tiny={"shape": (16,)},
                impls=(
                    Impl(LC, f"losscraft {key}_loss", "losscraft", lc_fn),
                    Impl("torch", f"torch F.{torch_name}", "native", torch_fn),
                    floor_add(),
                ),
                notes=(
                    "An entry that wraps torch's native kernel: the cost of the shared reducer and checks.",
                ),
            )
            for key, title, torch_name, lc_fn, torch_fn in (
                ("mse", "MSE", "mse_loss", P.lc_mse, P.torch_mse),
                ("huber", "Huber, delta 1", "huber_loss", P.lc_huber, P.torch_huber),
            )
        ),
        info_nce_case("info_nce", nce_full, nce_quick, with_pml=True),
        info_nce_case("info_nce_large", ncel_full, ncel_quick, with_pml=False),
        linear_ce_case(32000, 4000, "linear_ce_32k"),
        linear_ce_case(128256, 16000, "linear_ce_128k"),
    ]


CASES = build_cases()
CASE_BY_KEY = {c.key: c for c in CASES}


# ---------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and budgets (smoke run)")
    p.add_argument("--cases", default="", help=f"comma-separated subset of: {', '.join(CASE_BY_KEY)}")
    p.add_argument(
        "--impls", default="", help="comma-separated implementation keys to keep (e.g. losscraft,torch)"
    )
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument(
        "--out", type=Path, default=None, help="JSON path (default results/latest.json, quick.json)"
    )
    iso = p.add_mutually_exclusive_group()
    iso.add_argument(
        "--subprocess", dest="isolate", action="store_true", default=None, help="fresh process per impl"
    )
    iso.add_argument("--in-process", dest="isolate", action="store_false", help="measure in this process")
    p.add_argument("--timeout", type=float, default=400.0, help="seconds per implementation process")
    p.add_argument("--list", action="store_true", help="list cases and implementations, then exit")
    p.add_argument("--worker", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.worker:
        case_key, impl_key = args.worker
        res = measure(CASE_BY_KEY[case_key], impl_key, quick=args.quick, threads=args.threads)
        print(RESULT_PREFIX + json.dumps(res), flush=True)
        return None
    if args.list:
        for c in CASES:
            print(f"{c.key:<24} {c.full.shape:<28} {', '.join(i.key for i in c.impls)}")
        return None
    keys = [k for k in args.cases.split(",") if k] or list(CASE_BY_KEY)
    unknown = [k for k in keys if k not in CASE_BY_KEY]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; choose from {list(CASE_BY_KEY)}")
    keep = {k for k in args.impls.split(",") if k}
    # quick runs measure in-process by default (a few seconds per case); full runs isolate.
    isolate = (not args.quick) if args.isolate is None else args.isolate
    out = args.out or RESULTS / ("quick.json" if args.quick else "latest.json")
    command = "python benchmarks/bench_losses.py" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
    )
    meta = run_metadata(threads=args.threads, packages=PEER_PACKAGES, root=ROOT)
    meta.update(mode="quick" if args.quick else "full", isolation="subprocess" if isolate else "in-process")
    print(
        f"losscraft benchmarks ({meta['mode']}, {args.threads} threads, {meta['isolation']}) on "
        f"{meta['cpu_model']}, torch {meta['versions']['torch']}; load average {meta['loadavg_start']}"
    )
    t0 = time.perf_counter()
    cases = []
    for k in keys:
        case = CASE_BY_KEY[k]
        impls = [i.key for i in case.impls if not keep or i.key in keep]
        entry = run_case(
            case,
            impls,
            quick=args.quick,
            threads=args.threads,
            in_process=not isolate,
            timeout_s=args.timeout,
            script=Path(__file__).resolve(),
        )
        print_case(entry)
        cases.append(entry)
    targets = evaluate_targets(cases)
    print_targets(targets)
    if args.quick:
        print(
            "  (quick run: small sizes, so the ratios say nothing about the targets, which are set at full size)"
        )
    meta["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    meta["elapsed_s"] = time.perf_counter() - t0
    data = {
        "schema": SCHEMA,
        "command": command.strip(),
        "metadata": meta,
        "cases": cases,
        "targets": targets,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"\nwrote {out} in {meta['elapsed_s']:.0f} s")
    return data


if __name__ == "__main__":
    main()
