"""Reading a target (and features) from CSV, Parquet, .npy and .npz: the rules and every error path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from losscraft import LosscraftError

pd = pytest.importorskip("pandas")
from losscraft.guide.io import SUFFIXES, read_data  # noqa: E402


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x1": rng.normal(size=20),
            "x2": rng.integers(0, 5, size=20),
            "city": ["a", "b"] * 10,
            "y": rng.integers(0, 2, size=20),
        }
    )


def test_csv_target_and_features(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    d = read_data(path, target="y")
    assert d.features is None and d.target_name == "y" and d.n == 20
    np.testing.assert_array_equal(d.target, frame["y"].to_numpy())
    d = read_data(path, target="y", features="all")
    assert d.feature_names == ("x1", "x2") and d.skipped == ("city",)  # text columns are left out
    assert d.features is not None and d.features.shape == (20, 2) and d.features.dtype == np.float64
    d = read_data(path, target="y", features="x2, x1")
    assert d.feature_names == ("x2", "x1")
    np.testing.assert_allclose(d.features[:, 1], frame["x1"].to_numpy())  # type: ignore[index]
    assert d.to_dict()["features"] == ["x2", "x1"] and d.to_dict()["rows"] == 20


def test_tsv_and_parquet(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    assert read_data(tmp_path / "d.tsv", target="x1").target.dtype == np.float64
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "d.parquet")
    d = read_data(tmp_path / "d.parquet", target="y", features=["x1"])
    np.testing.assert_array_equal(d.target, frame["y"].to_numpy())
    assert d.features is not None and d.features.shape == (20, 1)


def test_single_column_needs_no_target(tmp_path: Path) -> None:
    (tmp_path / "y.csv").write_text("y\n1.5\n2.5\n-3\n")
    d = read_data(tmp_path / "y.csv")
    assert d.target_name == "y" and d.target.tolist() == [1.5, 2.5, -3.0]


def test_table_errors_name_the_columns(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        LosscraftError, match=r"has 4 columns: name the target with --target \(columns: x1, x2, city, y\)"
    ):
        read_data(path)
    with pytest.raises(LosscraftError, match=r"unknown column 'z' .*\(columns: x1, x2, city, y\)"):
        read_data(path, target="z")
    with pytest.raises(LosscraftError, match=r"unknown column 'q' in --features \(columns: x1"):
        read_data(path, target="y", features="x1,q")
    with pytest.raises(LosscraftError, match="not numeric"):
        read_data(path, target="y", features="city")
    with pytest.raises(LosscraftError, match="includes the target"):
        read_data(path, target="y", features="y,x1")


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", "", "is empty"),
        ("header.csv", "a,b\n", "has no rows"),
        ("empty.npy", "", "is empty"),
        ("junk.npy", "not an array", "cannot read"),
        ("junk.parquet", "not parquet", "cannot read"),
    ],
)
def test_empty_and_malformed_files(tmp_path: Path, name: str, content: str, match: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(LosscraftError, match=match) as info:
        read_data(tmp_path / name, target="a", caller="recommend")
    assert str(info.value).startswith("recommend: ") and "\n" not in str(info.value)


def test_missing_file_and_unsupported_extension(tmp_path: Path) -> None:
    with pytest.raises(LosscraftError, match=r"no such file: '.*nope\.csv'"):
        read_data(tmp_path / "nope.csv")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(LosscraftError, match=r"unsupported file type '\.xlsx'.*supported: \.csv"):
        read_data(tmp_path / "d.xlsx")
    assert set(SUFFIXES) >= {".csv", ".parquet", ".npy", ".npz"}


def test_npy_whole_array_or_a_column(tmp_path: Path) -> None:
    np.save(tmp_path / "y.npy", np.arange(10.0))
    d = read_data(tmp_path / "y.npy")
    assert d.target.shape == (10,) and d.features is None
    masks = np.zeros((4, 8, 8), dtype=np.int64)
    np.save(tmp_path / "m.npy", masks)
    assert read_data(tmp_path / "m.npy").target.shape == (4, 8, 8)  # masks: the whole array
    table = np.arange(30.0).reshape(10, 3)
    np.save(tmp_path / "t.npy", table)
    assert read_data(tmp_path / "t.npy").target.shape == (10, 3)  # multilabel / soft labels
    d = read_data(tmp_path / "t.npy", target="-1", features="all")
    np.testing.assert_array_equal(d.target, table[:, 2])
    assert d.features is not None and d.features.shape == (10, 2) and d.feature_names == ("0", "1")
    with pytest.raises(LosscraftError, match=r"unknown column '3': the array has columns 0..2"):
        read_data(tmp_path / "t.npy", target="3")
    with pytest.raises(LosscraftError, match="unknown column 'y'"):
        read_data(tmp_path / "t.npy", target="y")
    with pytest.raises(LosscraftError, match="only a 2-D array has columns"):
        read_data(tmp_path / "m.npy", target="0")
    with pytest.raises(LosscraftError, match="--features needs the target to be a column"):
        read_data(tmp_path / "t.npy", features="all")


def test_npz_arrays(tmp_path: Path) -> None:
    x, y = np.ones((6, 2, 2)), np.arange(6)
    np.savez(tmp_path / "d.npz", X=x, y=y, meta=np.arange(3))
    d = read_data(tmp_path / "d.npz", target="y", features="all")
    assert d.feature_names == ("X",) and d.features is not None and d.features.shape == (6, 4)
    assert read_data(tmp_path / "d.npz", target="y").features is None
    with pytest.raises(
        LosscraftError, match=r"holds 3 arrays: name the target with --target \(arrays: X, y, meta\)"
    ):
        read_data(tmp_path / "d.npz")
    with pytest.raises(LosscraftError, match=r"unknown array 'z' .*\(arrays: X, y, meta\)"):
        read_data(tmp_path / "d.npz", target="z")
    with pytest.raises(LosscraftError, match="feature array 'meta' has shape"):
        read_data(tmp_path / "d.npz", target="y", features="meta")
    np.savez(tmp_path / "one.npz", y=y)
    assert read_data(tmp_path / "one.npz").target.tolist() == list(range(6))
