"""Tools for content editors: the flow picture, JSON Schemas for their editor, review reminders."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from bot import graph
from bot.__main__ import main
from bot.content import load_bundle
from bot.content.bundle import Bundle
from bot.content.yamlsrc import parse
from bot.review import review_list
from bot.schema import SCHEMAS, write_schemas

REPO = Path(__file__).resolve().parent.parent


def test_the_mermaid_picture_has_every_node_and_link(bundle: Bundle) -> None:
    picture = graph.mermaid(bundle)
    assert picture.startswith("flowchart LR\n")
    for node_id in [*bundle.nodes, *bundle.answers]:
        assert re.search(rf"^  n_{node_id.replace('-', '_')}[\[(]", picture, re.M), node_id
    arrows = re.findall(r"^  (n_\w+) (-->|-\.->)", picture, re.M)
    menu_buttons = sum(len(n.buttons) for n in bundle.nodes.values())
    follow_ups = sum(len(a.related) for a in bundle.answers.values())
    assert [a for _, a in arrows].count("-->") == menu_buttons and [a for _, a in arrows].count("-.->") == follow_ups
    assert 'n_main["Main menu"]' in picture and 'n_cause("What causes NH?")' in picture


def test_the_readme_shows_the_current_flows(bundle: Bundle) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```mermaid\n(.*?)```", readme, re.S)
    assert shown is not None, "README.md embeds the flow picture"
    assert shown.group(1) == graph.mermaid(bundle), "the README's picture is out of date: run `python -m bot graph` " \
                                                    "and paste it into README.md"


def test_dot_and_svg_through_graphviz(bundle: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    source = graph.dot(bundle)
    assert source.startswith("digraph flows {") and source.rstrip().endswith("}")
    assert source.count(" -> ") == sum(len(n.buttons) for n in bundle.nodes.values()) + \
        sum(len(a.related) for a in bundle.answers.values())
    # Graphviz is optional: a stand-in `dot` on PATH shows what we hand it and that its output is written.
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "dot").write_text(f"#!/bin/sh\ncat > {tmp_path}/dot-input.gv\necho '<svg>stand-in</svg>'\n")
    (tools / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "flows.svg"
    assert main(["graph", "--format", "svg", str(out)]) == 0
    assert out.read_text().strip() == "<svg>stand-in</svg>"
    assert (tmp_path / "dot-input.gv").read_text() == source


def test_svg_without_graphviz_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    assert main(["graph", "--format", "svg", str(tmp_path / "flows.svg")]) == 1
    said = capsys.readouterr().out
    assert "Graphviz is not installed" in said and "apt install graphviz" in said and "--format mermaid" in said
    assert not (tmp_path / "flows.svg").exists()


def test_the_schemas_accept_the_shipped_files_and_catch_a_typo(tmp_path: Path) -> None:
    written = {p.name: json.loads(p.read_text()) for p in write_schemas(tmp_path)}
    assert set(written) == set(SCHEMAS)
    special = {f"content/{name}" for name in ("topics.yaml", "texts.yaml", "sources.yaml", "safety.yaml",
                                              "scope.yaml", "language.yaml")}
    files = {
        **{f"{Path(f).stem}.schema.json": [REPO / f] for f in special},
        "topic.schema.json": [p for p in (REPO / "content").glob("*.yaml") if f"content/{p.name}" not in special],
        "flow.schema.json": list((REPO / "flows").glob("*.yaml")),
        "conversations.schema.json": list((REPO / "tests" / "conversations").glob("*.yaml")),
    }
    for name, paths in files.items():
        assert paths, name
        for path in paths:
            jsonschema.validate(json.loads(json.dumps(parse(path.read_text()), default=str)), written[name])
    answer = parse((REPO / "content" / "cause.yaml").read_text())
    answer["answers"][0]["sourcse"] = answer["answers"][0].pop("sources")
    with pytest.raises(jsonschema.ValidationError, match="sourcse"):
        jsonschema.validate(json.loads(json.dumps(answer, default=str)), written["topic.schema.json"])


def test_review_lists_the_oldest_first_with_sources(tmp_path: Path, bundle: Bundle) -> None:
    content, flows = tmp_path / "content", tmp_path / "flows"
    shutil.copytree(REPO / "content", content)
    shutil.copytree(REPO / "flows", flows)
    path = content / "treatment.yaml"
    old = (dt.date.today() - dt.timedelta(days=500)).isoformat()
    text = path.read_text()
    path.write_text(text.replace("last_reviewed:", f"last_reviewed: {old} #", 1))
    aged, warnings = load_bundle(content, flows)
    assert any("over 12 months ago" in str(w) and "treatment.yaml" in str(w) for w in warnings), "validate warns"
    listing = review_list(aged)
    first = listing.splitlines()[0]
    assert first.startswith(f"{old}  treatment ") and first.endswith("(review due)")
    assert listing.splitlines()[1].startswith("    - ") and "http" in listing.splitlines()[1]
    recent_only = review_list(aged, older_than_months=6)
    assert recent_only.splitlines()[0].startswith(f"{old}  treatment") and "how-serious" not in recent_only
    assert review_list(bundle, older_than_months=1).startswith("No answers were last reviewed more than 1 months ago")
