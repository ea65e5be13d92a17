"""The Dockerfile cannot be built here, so its steps are kept the same as the Makefile's by test."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO


def _install_args(line: str) -> list[str]:
    """The pip arguments that matter: what is installed, not flags about caches or noise."""
    noise = {"--disable-pip-version-check", "--quiet", "--no-cache-dir"}
    words = line.split("pip install", 1)[1].split()
    return [w.strip("'\"") for w in words if w not in noise]


def test_dockerfile_installs_like_the_makefile() -> None:
    makefile = (REPO / "Makefile").read_text()
    dockerfile = (REPO / "Dockerfile").read_text()
    make_line = next(line for line in makefile.splitlines() if line.startswith("PIP_INSTALL"))
    make_install = re.search(r"\$\(PIP_INSTALL\) (.+)", makefile.split("$(VENV)/.installed:")[1]).group(1)
    docker_line = next(line for line in dockerfile.splitlines() if line.startswith("RUN") and "pip install" in line)
    assert _install_args(make_line + " " + make_install) == _install_args(docker_line) == ["-e", "."]


def test_dockerfile_ships_what_the_bot_reads_and_runs_as_non_root() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    for directory in ("bot", "content", "flows"):
        assert f"COPY {directory} ./{directory}" in dockerfile
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert re.search(r"^USER bot$", dockerfile, re.MULTILINE)
    assert 'VOLUME ["/data"]' in dockerfile and "BOT_DB_PATH=/data/bot.sqlite3" in dockerfile
    assert 'CMD ["python", "-m", "bot", "run"]' in dockerfile
    assert "HEALTHCHECK" in dockerfile
    # The example cache is built into the image by the command `make test` starts with.
    assert dockerfile.index("RUN python -m bot validate") > dockerfile.index("USER bot") > dockerfile.index("pip install")
    test_recipe = (REPO / "Makefile").read_text().split("\ntest: install-test\n")[1]
    assert test_recipe.splitlines()[0].strip() == "$(BIN)/python -m bot validate"


def test_dependencies_are_pinned_to_ranges() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        assert re.search(r"(<|==)", requirement), f"{requirement} has no upper bound"
    names = " ".join(project["dependencies"])
    for package in ("python-telegram-bot", "pyyaml", "aiosqlite", "pydantic", "rapidfuzz"):
        assert package in names


def test_ci_runs_make_test() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()
