"""User-facing text speaks of hookpipe and its own files only, and every relative link in the docs resolves.

README.md, docs/, examples/, deploy/'s READMEs and tests/corpus/README.md are read by people who have only this
repository: a pointer to a design note outside it, to an issue number, or to the machine a text was written on
leads nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: What user-facing text must not say, each with why.
FORBIDDEN = {
    r"DESIGN\.md": "a design note outside the repository",
    r"\.\./shared": "a folder outside the repository",
    r"sandbox": "the machine a text was written on",
    r"done-when": "a task's acceptance criteria",
    r"\bissue\s*#?\d+": "an issue number",
    r"\bthe issue\b": "a task's wording, not hookpipe's",
}

#: `[text](target)` or `![alt](target)`, and reference definitions `[label]: target`.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
FENCED_BLOCK = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def user_facing_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "tests" / "corpus" / "README.md"]
    files += sorted((ROOT / "docs").glob("*.md"))
    examples = (ROOT / "examples").rglob("*")
    files += sorted(path for path in examples if path.is_file() and "__pycache__" not in path.parts)
    files += sorted((ROOT / "deploy").rglob("*.md"))
    return files


def linking_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def forbidden_mentions(text: str) -> list[str]:
    """`line N: <what> (<why>)` for each forbidden mention in `text`."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for pattern, why in FORBIDDEN.items():
            for match in re.finditer(pattern, line, re.IGNORECASE):
                found.append(f"line {number}: {match.group(0)!r} ({why})")
    return found


def relative_link_targets(markdown: str) -> list[str]:
    """The link targets of `markdown` that point into the repository: no URL scheme, no bare `#anchor`, with
    any anchor or query dropped. Links inside code are not links."""
    prose = INLINE_CODE.sub("", FENCED_BLOCK.sub("", markdown))
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    relative = []
    for target in targets:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "//")):
            continue
        relative.append(re.split(r"[#?]", target, maxsplit=1)[0])
    return relative


@pytest.mark.parametrize("path", user_facing_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_user_facing_text_speaks_of_hookpipe_only(path: Path) -> None:
    assert forbidden_mentions(path.read_text(errors="replace")) == []


@pytest.mark.parametrize("path", linking_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_in_the_repository(path: Path) -> None:
    targets = relative_link_targets(path.read_text())
    broken = [target for target in targets if not (path.parent / target).resolve().exists()]
    outside = [target for target in targets if not (path.parent / target).resolve().is_relative_to(ROOT)]
    assert broken == [] and outside == []


def test_the_checks_themselves_catch_what_they_are_for() -> None:
    text = "See DESIGN.md §2 and ../shared/corpus; Done-when 3 of Issue 8, measured in this sandbox.\nissue #12"
    assert len(forbidden_mentions(text)) == 6
    assert forbidden_mentions('the "publish batch" of the issue\'s bound') != []
    assert forbidden_mentions("an issued token; the issuer; reissue it; GitHub's `issues` event") == []
    markdown = (
        "[a](docs/a.md#x) ![b](img.png) [c](https://example.test/x) [d](#anchor) `[e](not/a/link.md)`\n"
        "```\n[f](in/a/block.md)\n```\n[g]: ref/target.md\n"
    )
    assert relative_link_targets(markdown) == ["docs/a.md", "img.png", "ref/target.md"]
