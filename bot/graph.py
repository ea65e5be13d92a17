"""A picture of the flows: menus, answers, follow-ups and support lists, as Mermaid or Graphviz.

Built from the same bundle the bot runs, so the picture cannot drift from the flows.
Solid arrows are menu buttons; dotted arrows are an answer's "related" follow-ups. Every
answer and submenu also has "⬅️ Back" (to where the person came from) and "🏠 Main menu";
those are drawn once, in the legend, rather than as an arrow from every node.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from bot.content.bundle import Bundle

MAX_LABEL = 40


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    follow_up: bool = False


def edges(bundle: Bundle) -> list[Edge]:
    found = []
    for node in bundle.nodes.values():
        for button in node.buttons:
            label = button.label or bundle.label(button.to)
            found.append(Edge(node.id, button.to, label))
    for answer in bundle.answers.values():
        found += [Edge(answer.id, related, bundle.label(related), follow_up=True) for related in answer.related]
    return found


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _title(bundle: Bundle, node_id: str) -> str:
    if node_id in bundle.answers:
        return bundle.answers[node_id].question
    return bundle.label(node_id) if node_id != bundle.start else "Main menu"


def _kind(bundle: Bundle, node_id: str) -> str:
    if node_id in bundle.answers:
        return "answer"
    return "organisations" if bundle.nodes[node_id].type == "organisations" else "menu"


def _ids(bundle: Bundle) -> dict[str, str]:
    """Mermaid and dot ids: safe names, stable for a node."""
    every = [*bundle.nodes, *bundle.answers]
    return {node_id: "n_" + "".join(c if c.isalnum() else "_" for c in node_id) for node_id in every}


def mermaid(bundle: Bundle) -> str:
    ids = _ids(bundle)
    lines = ["flowchart LR"]
    shapes = {"menu": ('["', '"]'), "answer": ('("', '")'), "organisations": ('[["', '"]]')}
    for node_id in [*bundle.nodes, *bundle.answers]:
        left, right = shapes[_kind(bundle, node_id)]
        lines.append(f"  {ids[node_id]}{left}{_mermaid_text(_title(bundle, node_id))}{right}")
    for edge in edges(bundle):
        arrow = "-.->" if edge.follow_up else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if _edge_label_needed(bundle, edge) else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    lines += [
        "  classDef menu fill:#e8f0fe,stroke:#3367d6",
        "  classDef answer fill:#e6f4ea,stroke:#188038",
        "  classDef organisations fill:#fef7e0,stroke:#b06000",
    ]
    for kind in ("menu", "answer", "organisations"):
        members = [ids[n] for n in [*bundle.nodes, *bundle.answers] if _kind(bundle, n) == kind]
        if members:
            lines.append(f"  class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


def _edge_label_needed(bundle: Bundle, edge: Edge) -> bool:
    """A button's label, when it says more than the box it leads to (follow-ups use the answer's own)."""
    return not edge.follow_up and _short(edge.label) != _short(_title(bundle, edge.target))


def _mermaid_text(text: str) -> str:
    return _short(text).replace('"', "#quot;")


def dot(bundle: Bundle) -> str:
    ids = _ids(bundle)
    lines = ["digraph flows {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    shapes = {"menu": 'shape=box, style=filled, fillcolor="#e8f0fe"',
              "answer": 'shape=box, style="rounded,filled", fillcolor="#e6f4ea"',
              "organisations": 'shape=folder, style=filled, fillcolor="#fef7e0"'}
    for node_id in [*bundle.nodes, *bundle.answers]:
        lines.append(f'  {ids[node_id]} [label="{_dot_text(_title(bundle, node_id))}", {shapes[_kind(bundle, node_id)]}];')
    for edge in edges(bundle):
        attributes = [f'label="{_dot_text(edge.label)}"'] if _edge_label_needed(bundle, edge) else []
        attributes += ["style=dotted"] if edge.follow_up else []
        lines.append(f"  {ids[edge.source]} -> {ids[edge.target]} [{', '.join(attributes)}];")
    lines.append('  legend [shape=note, label="Solid: menu buttons. Dotted: follow-ups under an answer.\\n'
                 'Every answer and submenu also has Back and Main menu."];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return _short(text).replace("\\", "\\\\").replace('"', '\\"')


class GraphvizMissing(Exception):
    """The `dot` program (Graphviz) is not installed."""


def svg(bundle: Bundle) -> bytes:
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing("Graphviz is not installed (no `dot` program). Install it (Debian/Ubuntu: "
                              "apt install graphviz; macOS: brew install graphviz), or use --format mermaid.")
    done = subprocess.run([program, "-Tsvg"], input=dot(bundle).encode(), capture_output=True, check=True, timeout=60)  # noqa: S603
    return done.stdout
