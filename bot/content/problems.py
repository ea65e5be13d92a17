"""A problem found in a content or flow file, reported as `path:line: message`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.path}:{self.line}: {kind}{self.message}"


def display_path(path: Path) -> str:
    """Paths relative to the working directory read best in an editor's terminal."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the closest choice, or "" when none is close."""
    found = process.extractOne(word, list(choices), scorer=fuzz.ratio, score_cutoff=60)
    return f"; did you mean {found[0]!r}?" if found else ""
