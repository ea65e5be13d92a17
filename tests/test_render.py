"""Telegram rendering: HTML escaping, splitting long messages, keyboards, callback data."""

from __future__ import annotations

from bot.adapters.render import CHUNK_BUDGET, html_chunks, keyboard, split_text
from bot.core import callback
from bot.core.model import Button, Reply


def test_user_and_content_text_is_escaped() -> None:
    reply = Reply('Is <b>5 < 6</b> & "ok"?', "answer", title="A <title> & more")
    (chunk,) = html_chunks(reply)
    assert chunk == '<b>A &lt;title&gt; &amp; more</b>\n\nIs &lt;b&gt;5 &lt; 6&lt;/b&gt; &amp; "ok"?'


def test_long_text_splits_at_paragraphs_under_the_limit() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 150 for i in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(len(c) <= CHUNK_BUDGET for c in chunks)
    assert "\n\n".join(chunks) == text  # nothing lost, nothing reordered
    assert all(c.startswith("Paragraph") for c in chunks)


def test_a_single_huge_paragraph_still_splits() -> None:
    text = "x" * 10_000
    chunks = split_text(text)
    assert "".join(chunks) == text and all(len(c) <= CHUNK_BUDGET for c in chunks)


def test_title_is_bold_only_in_the_first_chunk() -> None:
    reply = Reply("\n\n".join(["word " * 700] * 3), "answer", title="Title & co")
    chunks = html_chunks(reply)
    assert chunks[0].startswith("<b>Title &amp; co</b>")
    assert all("<b>" not in c for c in chunks[1:])


def test_keyboard_rows_and_group_link() -> None:
    reply = Reply("x", "menu", buttons=((Button("A", "v|g|a"),), (Button("B", "v|b|"), Button("C", "v|m|"))))
    markup = keyboard(reply)
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [["A"], ["B", "C"]]
    assert keyboard(Reply("x", "note")) is None
    group = keyboard(Reply("x", "group"), "nh_bot")
    assert group.inline_keyboard[0][0].url == "https://t.me/nh_bot"


def test_callback_round_trip_and_menu_flag() -> None:
    data = callback.encode("abcd1234", callback.GOTO, "cause", from_menu=True)
    assert data == "abcd1234|G|cause"
    assert callback.decode(data) == callback.Callback("abcd1234", "g", "cause", from_menu=True)
    assert callback.decode("abcd1234|b|") == callback.Callback("abcd1234", "b", "", from_menu=False)
    for bad in ("", "x", "a|q|b", "a|g", "a|g|b|c", "a|g|" + "z" * 70):
        assert callback.decode(bad) is None


def test_a_keyboard_is_built_once_and_serialises_as_a_fresh_one_would() -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup  # noqa: PLC0415

    buttons = ((Button("Cause", "v1|g|cause"), Button("Back", "v1|b|")), (Button("Main menu", "v1|m|"),))
    first = keyboard(Reply("a", "answer", buttons=buttons))
    again = keyboard(Reply("another text, same buttons", "menu", buttons=buttons))
    assert first is again, "the same buttons reuse one keyboard"
    fresh = InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons])
    assert first.to_dict() == fresh.to_dict() and first == fresh
    first.to_dict()["inline_keyboard"] = []  # a caller changing its copy ...
    assert again.to_dict() == fresh.to_dict(), "... does not change the cached keyboard"
