"""The conversation engine: (state, event) -> (new state, replies). Pure.

It never raises on user input: anything it does not understand leads to the main
menu with a kind note. It performs no I/O; adapters store state and send replies.
"""

from __future__ import annotations

from dataclasses import replace

from bot.content.bundle import Bundle
from bot.core import callback
from bot.core.model import (
    MAX_BACK_STACK,
    Button,
    Command,
    Event,
    GroupMention,
    NonText,
    Outcome,
    Press,
    Reply,
    SessionState,
    Start,
    StepResult,
    Text,
)
from bot.core.understanding import Understanding, Verdict

# Commands shown in Telegram's "/" menu, with their descriptions.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Start over and show the topics"),
    ("menu", "Show the main menu"),
    ("help", "How to use this bot"),
    ("about", "Where the answers come from"),
    ("privacy", "What this bot keeps about you"),
    ("forget", "Delete what this bot keeps about you"),
)

BACK_LABEL = "⬅️ Back"
MAIN_LABEL = "🏠 Main menu"
HELPFUL_LABEL = "👍 Helpful"
NOT_HELPFUL_LABEL = "👎 Not helpful"

OUT_OF_SCOPE_TEXTS = {"personal": "out_of_scope_personal", "hfe": "out_of_scope_hfe", "other": "out_of_scope",
                      "unreadable": "unreadable"}
URGENT_TEXTS = {"medical": "urgent_care", "pregnancy": "urgent_pregnancy", "crisis": "urgent_crisis"}


def privacy_text(texts: dict[str, str], ttl_days: int, unmatched_days: int | None) -> str:
    """The /privacy notice for this configuration: it must say what the bot actually keeps."""
    text = texts["privacy"].format(ttl_days=ttl_days)
    if unmatched_days is None:
        return text + "\n\n" + texts["privacy_no_typing"]
    return text + "\n\n" + texts["privacy_unmatched"].format(unmatched_days=unmatched_days)


def compose_answer(title: str | None, body: str, disclaimer: str) -> str:
    """The full plain text of an answer as shown: used for length checks too."""
    parts = [p for p in (title, body, disclaimer) if p]
    return "\n\n".join(parts)


VOTES = {"u": "up", "d": "down"}


class Engine:
    def __init__(self, bundle: Bundle, ttl_days: int = 30, unmatched_days: int | None = None,
                 understanding: Understanding | None = None) -> None:
        """`ttl_days` and `unmatched_days` (None when unmatched questions are not kept) go into /privacy.
        `understanding` reads typed messages; by default it reads words only, without the sentence model."""
        self.bundle = bundle
        self.privacy_text = privacy_text(bundle.texts, ttl_days, unmatched_days)
        self.understanding = understanding or Understanding(bundle)
        self._main = SessionState(node=bundle.start)

    # --- entry point ------------------------------------------------------

    def step(self, state: SessionState | None, event: Event) -> StepResult:
        state = state if state is not None and self.bundle.exists(state.node) else self._main
        match event:
            case Start(payload=payload):
                return self._start(payload)
            case Command(name=name):
                return self._command(state, name)
            case Press(data=data):
                return self._press(state, data)
            case Text(text=text):
                return self._text(state, text)
            case NonText():
                return StepResult(state, (self._main_menu(self.bundle.texts["non_text"]),), "non_text")
            case GroupMention(text=text):
                return self._group(text)
        return StepResult(state, (self._main_menu(self.bundle.texts["not_understood"]),), "not_understood")

    # --- events -----------------------------------------------------------

    def _start(self, payload: str | None) -> StepResult:
        target = self._resolve_payload(payload) if payload else None
        if target is None:
            return StepResult(self._main, (self._main_menu(self.bundle.texts["welcome"]),), "start")
        return self._goto(self._main, target, "start")

    def _resolve_payload(self, payload: str) -> str | None:
        key = payload.strip().lower()
        if key in self.bundle.answers:
            return key
        return self.bundle.topic_node(key) or (key if key in self.bundle.nodes else None)

    def _command(self, state: SessionState, name: str) -> StepResult:
        texts = self.bundle.texts
        if name == "menu":
            return StepResult(self._main, (self._render(self.bundle.start),), "command")
        if name == "help":
            return StepResult(state, (self._main_menu(texts["help"]),), "command")
        if name == "privacy":
            return StepResult(state, (self._main_menu(self.privacy_text),), "command")
        if name == "about":
            return StepResult(state, (self._main_menu(self._about_text()),), "command")
        if name == "forget":
            done = Reply(texts["forget_done"], "note")
            return StepResult(None, (done,), "forget", forget=True)
        return StepResult(state, (self._main_menu(texts["unknown_command"]),), "unknown_command")

    def _press(self, state: SessionState, data: str) -> StepResult:
        cb = callback.decode(data)
        if cb is None or cb.version != self.bundle.version:
            return self._stale()
        if cb.op == callback.MAIN:
            return StepResult(self._main, (self._render(self.bundle.start),), "navigate")
        if cb.op == callback.BACK:
            return self._back(state, "navigate")
        if cb.op == callback.SOURCES and cb.arg in self.bundle.answers:
            return StepResult(state, (self._sources_reply(cb.arg),), "navigate")
        if cb.op == callback.FEEDBACK:
            answer_id, _, vote = cb.arg.rpartition(".")
            if answer_id in self.bundle.answers and vote in VOTES:
                thanks = self.bundle.texts["feedback_thanks"]
                return StepResult(state, (), "feedback", feedback=(answer_id, VOTES[vote]), toast=thanks)
        if cb.op == callback.GOTO and self.bundle.exists(cb.arg):
            return self._goto(state, cb.arg, "navigate")
        return self._stale()

    def _text(self, state: SessionState, text: str) -> StepResult:
        verdict = self.understanding.classify(text, context=state.node)
        result = self._respond(state, verdict)
        if verdict.caution and result.replies:  # a safety net before the reply, in case it is happening now
            caution = Reply(self.bundle.texts["caution_line"], "urgent")
            result = replace(result, replies=(caution, *result.replies))
        return replace(result, verdict=verdict)

    def _respond(self, state: SessionState, verdict: Verdict) -> StepResult:
        texts = self.bundle.texts
        if verdict.outcome == "emergency":  # urgent care first, before anything else
            return StepResult(state, (self._urgent(verdict), self._render(self.bundle.start)), "emergency")
        if verdict.outcome == "greeting":
            return self._greet(state, verdict.reason)
        if verdict.outcome == "answer" and verdict.answer_id:
            return self._goto(state, verdict.answer_id, "answer")
        if verdict.outcome == "clarify":
            if not verdict.suggestions:
                return StepResult(state, (self._main_menu(texts["clarify_topic"]),), "clarify")
            rows = tuple((self._button_to(c, from_menu=True),) for c in verdict.suggestions)
            rows += ((Button(MAIN_LABEL, self._data(callback.MAIN, from_menu=True)),),)
            return StepResult(state, (Reply(texts["clarify"], "menu", buttons=rows),), "clarify")
        text_key = OUT_OF_SCOPE_TEXTS[verdict.reason or "other"]
        rows = tuple((self._button_to(c, from_menu=True),) for c in verdict.suggestions)
        rows += self._render(self.bundle.start).buttons
        return StepResult(state, (Reply(texts[text_key], "menu", buttons=rows),), "out_of_scope")

    def _back(self, state: SessionState, outcome: Outcome) -> StepResult:
        target = state.back[-1] if state.back else self.bundle.start
        return StepResult(SessionState(target, state.back[:-1], state.language), (self._render(target),), outcome)

    def _urgent(self, verdict: Verdict) -> Reply:
        return Reply(self.bundle.texts[URGENT_TEXTS[verdict.urgent_kind or "medical"]], "urgent")

    def _group(self, text: str) -> StepResult:
        """In a group only an invitation to a private chat, except that an emergency gets urgent help here."""
        invite = Reply(self.bundle.texts["group_chat"], "group")
        verdict = self.understanding.classify(text) if text.strip() else None
        if verdict is not None and verdict.outcome == "emergency":
            return StepResult(None, (self._urgent(verdict), invite), "emergency", verdict=verdict)
        return StepResult(None, (invite,), "group")

    def _greet(self, state: SessionState, kind: str | None) -> StepResult:
        """Hello, thanks and goodbye get a fitting reply; typed "menu" and "back" work like the buttons."""
        if kind == "back":
            return self._back(state, "greeting")
        if kind == "menu":
            return StepResult(self._main, (self._render(self.bundle.start),), "greeting")
        if kind in {"thanks", "bye"}:
            menu = ((Button(MAIN_LABEL, self._data(callback.MAIN, from_menu=True)),),)
            closing = Reply(self.bundle.texts["thanks" if kind == "thanks" else "goodbye"], "note", buttons=menu)
            return StepResult(state, (closing,), "greeting")
        return StepResult(self._main, (self._main_menu(self.bundle.texts["greeting"]),), "greeting")

    # --- navigation and rendering -------------------------------------------

    def _goto(self, state: SessionState, target: str, outcome: Outcome) -> StepResult:
        back = state.back
        if state.node != target:
            back = (*back, state.node)[-MAX_BACK_STACK:]
        if target == self.bundle.start:
            back = ()
        new_state = SessionState(target, back, state.language)
        return StepResult(new_state, (self._render(target),), outcome)

    def _stale(self) -> StepResult:
        return StepResult(self._main, (self._main_menu(self.bundle.texts["menu_changed"]),), "stale")

    def _render(self, node_id: str) -> Reply:
        if node_id in self.bundle.answers:
            answer = self.bundle.answers[node_id]
            rows = tuple((self._button_to(r),) for r in answer.related)
            rows += ((Button("📚 Sources", self._data(callback.SOURCES, node_id)),),)
            rows += ((Button(HELPFUL_LABEL, self._data(callback.FEEDBACK, f"{node_id}.u")),
                      Button(NOT_HELPFUL_LABEL, self._data(callback.FEEDBACK, f"{node_id}.d"))),)
            return self._answer_reply(answer.question, answer.text, rows + self._nav_row(), node_id)
        node = self.bundle.nodes[node_id]
        if node.type == "organisations":
            body = self.organisations_text(node.country or "")
            return self._answer_reply(self.bundle.label(node_id), body, self._nav_row(), None)
        text = self.bundle.texts[node.text_ref] if node.text_ref else node.text or ""
        rows = tuple((self._button_to(b.to, b.label, from_menu=True),) for b in node.buttons)
        if node_id != self.bundle.start:
            rows += self._nav_row(from_menu=True)
        return Reply(text, "menu", buttons=rows)

    def _answer_reply(self, title: str, body: str, rows: tuple, answer_id: str | None) -> Reply:
        """Every answer goes through here, so every answer ends with the disclaimer."""
        text = compose_answer(None, body, self.bundle.texts["disclaimer"])
        return Reply(text, "answer", title=title, buttons=rows, answer_id=answer_id)

    def _main_menu(self, text: str) -> Reply:
        menu = self._render(self.bundle.start)
        return Reply(text, "menu", buttons=menu.buttons)

    def _nav_row(self, from_menu: bool = False) -> tuple[tuple[Button, ...], ...]:
        back = Button(BACK_LABEL, self._data(callback.BACK, from_menu=from_menu))
        return ((back, Button(MAIN_LABEL, self._data(callback.MAIN, from_menu=from_menu))),)

    def _button_to(self, node_id: str, label: str | None = None, from_menu: bool = False) -> Button:
        return Button(label or self.bundle.label(node_id), self._data(callback.GOTO, node_id, from_menu))

    def _data(self, op: str, arg: str = "", from_menu: bool = False) -> str:
        return callback.encode(self.bundle.version, op, arg, from_menu)

    # --- texts built from content ---------------------------------------------

    def organisations_text(self, country: str) -> str:
        blocks = []
        for org in self.bundle.organisations.get(country, ()):
            tag = "NH family support" if org.nh_relevant else "Adult hereditary hemochromatosis, not NH"
            lines = [f"{org.name} ({tag})", org.focus]
            lines += [f"Address: {org.address}"] if org.address else []
            lines += [f"Phone: {org.phone}"] if org.phone else []
            lines += [f"Toll-free: {org.toll_free}"] if org.toll_free else []
            lines += [f"Website: {link}" for link in org.links]
            lines += [f"Note: {org.note}"] if org.note else []
            blocks.append("\n".join(lines))
        blocks.append("Contact details can change. Please check a group's website before you call.")
        return "\n\n".join(blocks)

    def _sources_reply(self, answer_id: str) -> Reply:
        answer = self.bundle.answers[answer_id]
        lines = [f"Last reviewed: {answer.last_reviewed.isoformat()}", ""]
        for cited in answer.sources:
            source, section = self.bundle.cited(cited)
            where = source.url or f"seed document {source.seed}"
            detail = f" (section: “{section}”)" if section else ""
            lines.append(f"• {source.title}{detail}\n  {where}")
        rows = ((self._button_to(answer_id, "⬅️ Back to the answer"), Button(MAIN_LABEL, self._data(callback.MAIN))),)
        return Reply("\n".join(lines), "note", title=f"Sources: {answer.question}", buttons=rows)

    def _about_text(self) -> str:
        answers = sorted(self.bundle.answers.values(), key=lambda a: a.last_reviewed)
        oldest = answers[0].last_reviewed.isoformat() if answers else "none"
        lines = [
            self.bundle.texts["about"],
            "",
            f"Content version: {self.bundle.version}. {len(answers)} answers. Oldest review: {oldest}.",
            "",
            "Answers and when they were last reviewed:",
        ]
        lines += [f"• {a.question} ({a.last_reviewed.isoformat()})" for a in self.bundle.answers.values()]
        cited_keys = dict.fromkeys(c.ref for a in self.bundle.answers.values() for c in a.sources)
        lines += ["", "Sources used:"]
        for key in cited_keys:
            source = self.bundle.sources[key]
            lines.append(f"• {source.title}\n  {source.url or 'seed document ' + str(source.seed)}")
        lines += ["", "Tap “📚 Sources” under any answer to see the sources for that answer."]
        return "\n".join(lines)
