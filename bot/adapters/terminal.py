"""A terminal chat over the same engine and store: for editors, operators and scripts.

Buttons are shown numbered; type a number to press one, or type a question or a
/command. It reads one line per turn, so piped input works, and it ends cleanly
at the end of input (Ctrl-D) or on /quit.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from typing import TextIO

from bot.core.model import Button, Command, Event, Press, Reply, Start, Text
from bot.service import ChatService

CHANNEL = "term"
LOCAL_CHAT = "local"
WIDTH = 72


def render(reply: Reply, first_number: int = 1) -> tuple[str, list[Button]]:
    """Plain-text rendering of one reply, and its buttons in display order."""
    lines: list[str] = []
    if reply.kind == "urgent":
        lines.append("!" * WIDTH)
    if reply.title:
        lines += [reply.title, "-" * min(len(reply.title), WIDTH)]
    for paragraph in reply.text.split("\n"):
        indent = "  " if paragraph.startswith("•") else ""
        wrapped = textwrap.wrap(paragraph, WIDTH, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
        lines += wrapped or [""]
    if reply.kind == "urgent":
        lines.append("!" * WIDTH)
    buttons = [button for row in reply.buttons for button in row]
    for number, button in enumerate(buttons, start=first_number):
        lines.append(f"  [{number}] {button.label}")
    return "\n".join(lines), buttons


def parse_input(line: str, buttons: list[Button]) -> Event | None:
    line = line.strip()
    if not line:
        return None
    if line.isdigit() and 1 <= int(line) <= len(buttons):
        return Press(buttons[int(line) - 1].data)
    if line.startswith("/"):
        name, _, rest = line[1:].partition(" ")
        return Start(rest.strip() or None) if name.lower() == "start" else Command(name.lower())
    return Text(line)


async def _read_line(stream: TextIO) -> str | None:
    line = await asyncio.to_thread(stream.readline)
    return line if line else None  # "" means end of input


async def chat(service: ChatService, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    interactive = stdin.isatty()

    def show(replies: tuple[Reply, ...]) -> list[Button]:
        shown: list[Button] = []
        for reply in replies:
            text, buttons = render(reply, first_number=len(shown) + 1)
            shown += buttons
            stdout.write(f"\n{text}\n")
        stdout.flush()
        return shown

    if interactive:
        stdout.write("NH family guide: terminal chat. Type a number, a question, or /help. Ctrl-D or /quit to leave.\n")
    buttons = show((await service.handle(CHANNEL, LOCAL_CHAT, Start())).replies)
    while True:
        if interactive:
            stdout.write("\n> ")
            stdout.flush()
        line = await _read_line(stdin)
        if line is None or line.strip().lower() in {"/quit", "/exit"}:
            break
        if not interactive:
            stdout.write(f"\n> {line.rstrip()}\n")  # echo piped input so transcripts read as a conversation
        if line.strip().isdigit() and not 1 <= int(line.strip()) <= len(buttons):
            # A number is a button press that missed, not a question to understand.
            shown = f"from 1 to {len(buttons)}" if buttons else "of a button (there are none on screen now)"
            stdout.write(f"\nThere is no button {line.strip()}. Type a number {shown}, or a question.\n")
            continue
        event = parse_input(line, buttons)
        if event is None:
            continue
        result = await service.handle(CHANNEL, LOCAL_CHAT, event)
        if result.toast:
            stdout.write(f"\n({result.toast})\n")
        if result.replies:  # a rating changes nothing on screen: the same buttons stay usable
            buttons = show(result.replies)
    stdout.write("\nGoodbye. Take care.\n")
    stdout.flush()
    return 0
