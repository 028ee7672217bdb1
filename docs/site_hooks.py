"""MkDocs hook (``hooks:`` in mkdocs.yml): links that leave ``docs/`` point at the repository on GitHub.

The pages link to files beside the docs (``../benchmarks/README.md``, ``../examples/...``,
``../src/...``) so that they work when read on GitHub or in a checkout. The site holds only
``docs/``, so at build time such a link becomes an absolute URL into the repository (a file's
``blob`` view, a folder's ``tree`` view); links inside ``docs/`` are left to MkDocs, which checks
them (``--strict``). Code blocks are left as written.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

REPO_URL = "https://github.com/losscraft/losscraft"
BRANCH = "main"
ROOT = Path(__file__).resolve().parents[1]

_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|/)", re.I)


def repository_url(page_path: str, target: str) -> str | None:
    """The GitHub URL for ``target`` linked from the page ``docs/<page_path>``, or ``None`` inside docs/."""
    if _EXTERNAL.match(target):
        return None
    path, sep, anchor = target.partition("#")
    resolved = posixpath.normpath(posixpath.join("docs", posixpath.dirname(page_path), path))
    if resolved == "docs" or resolved.startswith("docs/"):
        return None
    if resolved.startswith(".."):
        raise ValueError(f"{page_path}: link {target!r} leaves the repository")
    view = "tree" if (ROOT / resolved).is_dir() else "blob"
    return f"{REPO_URL}/{view}/{BRANCH}/{resolved}" + (sep + anchor if sep else "")


def rewrite_links(markdown: str, page_path: str) -> str:
    """``markdown`` with every link that leaves docs/ made absolute (code blocks untouched)."""

    def link(m: re.Match[str]) -> str:
        url = repository_url(page_path, m.group(2))
        return m.group(0) if url is None else m.group(1) + url + m.group(3)

    out: list[str] = []
    last = 0
    for fence in _FENCE.finditer(markdown):
        out += [_LINK.sub(link, markdown[last : fence.start()]), fence.group(0)]
        last = fence.end()
    out.append(_LINK.sub(link, markdown[last:]))
    return "".join(out)


def on_page_markdown(markdown: str, *, page: Any, **_: Any) -> str:
    """MkDocs event: rewrite the page's links before MkDocs validates and renders them."""
    return rewrite_links(markdown, page.file.src_uri)


def catalog_nav(docs_dir: Path) -> list[dict[str, list[dict[str, str]]]]:
    """The per-loss pages under ``docs/losses/``, one nav section per family (registry order)."""
    import losscraft

    groups: dict[str, list[dict[str, str]]] = {}
    for path in sorted((docs_dir / "losses").glob("*.md")):
        if path.name == "index.md":
            continue
        entry = losscraft._core.registry.lookup(path.stem)
        family = str(entry.spec.family).capitalize() if entry is not None else "Other"
        groups.setdefault(family, []).append({path.stem: f"losses/{path.name}"})
    order = [str(f).capitalize() for f in losscraft.Family]
    return [
        {name: groups[name]}
        for name in sorted(groups, key=lambda g: (g not in order, order.index(g) if g in order else 0, g))
    ]


def on_config(config: Any, **_: Any) -> Any:
    """MkDocs event: append the per-loss pages to the nav's ``Catalog`` section."""
    for item in config["nav"] or []:
        if isinstance(item, dict) and isinstance(item.get("Catalog"), list):
            item["Catalog"] = [*item["Catalog"], *catalog_nav(Path(config["docs_dir"]))]
    return config
