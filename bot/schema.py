"""JSON Schemas for the YAML files, from the same pydantic models the validator uses.

A YAML-aware editor (VS Code with the YAML extension, JetBrains, Neovim with
yaml-language-server) given these schemas completes field names and flags unknown
fields and wrong types while the editor types. The validator still has the last
word: cross-file checks (unknown ids, unreachable answers) need all files at once.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from bot.content.loader import SPECIAL_FILES
from bot.content.models import FlowFile, TopicFile
from bot.conversations import ConversationFile

# schema file name -> (model, which files it describes, relative to the repository)
SCHEMAS: dict[str, tuple[type[BaseModel], list[str]]] = {
    **{f"{name.removesuffix('.yaml')}.schema.json": (model, [f"content/{name}"]) for name, model in SPECIAL_FILES.items()},
    "topic.schema.json": (TopicFile, ["content/<topic>.yaml (the other files in content/)"]),
    "flow.schema.json": (FlowFile, ["flows/*.yaml"]),
    "conversations.schema.json": (ConversationFile, ["tests/conversations/*.yaml"]),
}


def schema_for(model: type[BaseModel], title: str) -> dict:
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = title
    return schema


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (model, files) in SCHEMAS.items():
        path = directory / name
        path.write_text(json.dumps(schema_for(model, f"NH guide: {', '.join(files)}"), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
