"""Every relative link of README.md and docs/*.md resolves in a clone of the repository: the
file it names exists inside the repository, and a `#anchor` is the GitHub slug of a heading
of the file it points into."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text outside fenced blocks and inline code, where a link is a link."""
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text without markup, lower case, punctuation
    other than `-` and `_` dropped, each space a `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    text = re.sub(r"(?ms)^```.*?^```", "", path.read_text())
    for heading in re.findall(r"(?m)^#{1,6} (.+?)\s*#*$", text):
        base = slug(heading)
        name, n = base, 0
        while name in found:  # GitHub numbers a repeated heading: -1, -2, …
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def _links(path: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(_prose(path.read_text()))
        if not re.match(r"[a-z]+:", target)  # https:, mailto:
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_names_a_file_of_the_repository_and_a_heading_in_it(
    document: Path,
) -> None:
    broken = []
    for target in _links(document):
        name, _, anchor = target.partition("#")
        linked = (document.parent / name).resolve() if name else document
        if ROOT not in linked.parents or not linked.exists():
            broken.append(f"{target}: no such file in the repository")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert broken == []


def test_the_documents_have_links_to_check() -> None:
    assert len(_links(ROOT / "README.md")) > 30
    assert any("#" in target for target in _links(ROOT / "README.md"))


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Data-subject requests and their deadlines (R23)",
            "data-subject-requests-and-their-deadlines-r23",
        ),
        ("The auditor's proof", "the-auditors-proof"),
        (
            "Keys that a database dump does not give away (envelope encryption)",
            "keys-that-a-database-dump-does-not-give-away-envelope-encryption",
        ),
        ("Who did it and who looked (NEN 7513)", "who-did-it-and-who-looked-nen-7513"),
        ("`grondslag verify`, by hand", "grondslag-verify-by-hand"),
        (
            "Newsletters: one-click unsubscribe and double opt-in",
            "newsletters-one-click-unsubscribe-and-double-opt-in",
        ),
    ],
)
def test_a_heading_s_anchor_is_github_s_slug(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_repeated_heading_gets_a_numbered_anchor(tmp_path: Path) -> None:
    document = tmp_path / "doc.md"
    document.write_text("# Notes\n\n```sh\n# not a heading\n```\n\n## Notes\n### Notes\n")
    assert anchors(document) == {"notes", "notes-1", "notes-2"}
