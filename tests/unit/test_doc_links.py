"""Every link inside the repository's documents leads somewhere: a relative link in the
README or in docs/ names a file or folder of the repository, and an anchor names a heading
of the document it points into (GitHub's slugs). The project carries its own docs: a link
to a file outside the clone, or to a heading renamed since, is a dead end for the next
reader."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    found: set[str] = set()
    for line in FENCE.sub("", document.read_text(encoding="utf-8")).splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            base, n = slug(match[1]), 0
            name = base
            while name in found:  # a repeated heading: -1, -2, …
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def links(document: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", document.read_text(encoding="utf-8")))


def test_the_slugs_are_githubs() -> None:
    assert slug("The tests' connection budget") == "the-tests-connection-budget"
    assert slug("5. Scale") == "5-scale"
    assert slug("Who did it and who looked (NEN 7513)") == "who-did-it-and-who-looked-nen-7513"
    assert slug("Pages and versions (paging, ETag, If-Match)") == (
        "pages-and-versions-paging-etag-if-match"
    )


def dead_links(document: Path, root: Path = ROOT) -> list[str]:
    """The relative links of ``document`` that lead to no file of ``root`` or no heading."""
    dead = []
    for target in links(document):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: — not ours to check
            continue
        path, _, anchor = target.partition("#")
        into = (document.parent / unquote(path)).resolve() if path else document
        if not into.exists() or (into != root and root not in into.parents):
            dead.append(f"{target}: no such file in the repository")
        elif anchor and into.suffix == ".md" and anchor not in anchors(into):
            dead.append(f"{target}: no heading #{anchor} in {into.relative_to(root)}")
    return dead


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading_of_the_repository(
    document: Path,
) -> None:
    assert links(document), f"{document.name}: no links found (the pattern is broken?)"
    assert not (dead := dead_links(document)), "\n".join(dead)


def test_a_dead_link_is_noticed(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("## Part one\n")
    (tmp_path / "a.md").write_text(
        "# Title\n\n[ok](b.md#part-one) [ok](#title) [web](https://example.org/x)\n"
        "[gone](c.md) [no heading](b.md#part-two) [outside](../elsewhere.md)\n"
    )
    assert dead_links(tmp_path / "a.md", tmp_path) == [
        "c.md: no such file in the repository",
        "b.md#part-two: no heading #part-two in b.md",
        "../elsewhere.md: no such file in the repository",
    ]
