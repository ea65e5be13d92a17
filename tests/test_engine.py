"""The pure engine: navigation, rendering, the disclaimer, stale and forged buttons."""

from __future__ import annotations

import random
from collections import deque

import pytest

from bot.content.bundle import Bundle
from bot.core import callback
from bot.core.engine import BACK_LABEL, MAIN_LABEL, Engine
from bot.core.model import Command, GroupMention, NonText, Press, Reply, SessionState, Start, Text
from tests.conftest import main_menu_labels


def press(engine: Engine, state: SessionState | None, reply: Reply, label: str):
    data = next(b.data for row in reply.buttons for b in row if b.label == label)
    return engine.step(state, Press(data))


def walk(engine: Engine) -> dict[str, Reply]:
    """Every node reachable from /start by pressing buttons, with the reply that showed it."""
    start = engine.step(None, Start())
    seen: dict[str, Reply] = {}
    queue = deque([(start.state, start.replies[-1])])
    while queue:
        state, reply = queue.popleft()
        for row in reply.buttons:
            for button in row:
                result = engine.step(state, Press(button.data))
                node = result.state.node
                if node not in seen:
                    seen[node] = result.replies[-1]
                    queue.append((result.state, result.replies[-1]))
    return seen


def test_every_node_is_reachable_by_buttons_and_renders(engine: Engine, bundle: Bundle) -> None:
    seen = walk(engine)
    assert set(seen) == set(bundle.answers) | set(bundle.nodes)
    for node_id, reply in seen.items():
        assert reply.text.strip(), node_id
        assert reply.buttons, f"{node_id} is a dead end"


def test_every_answer_ends_with_the_disclaimer(engine: Engine, bundle: Bundle) -> None:
    disclaimer = bundle.texts["disclaimer"]
    seen = walk(engine)
    for node_id in [*bundle.answers, *(n for n in bundle.nodes if bundle.nodes[n].type == "organisations")]:
        reply = seen[node_id]
        assert reply.kind == "answer"
        assert reply.text.endswith(disclaimer), node_id
        assert reply.text.count(disclaimer) == 1, node_id


def test_menus_do_not_carry_the_disclaimer(engine: Engine, bundle: Bundle) -> None:
    start = engine.step(None, Start())
    assert bundle.texts["disclaimer"] not in start.replies[0].text


def test_answers_offer_related_back_and_main_menu(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(None, Start("cause"))
    labels = [b.label for row in result.replies[0].buttons for b in row]
    for related in bundle.answers["cause"].related:
        assert bundle.label(related) in labels
    assert BACK_LABEL in labels and MAIN_LABEL in labels and "📚 Sources" in labels


def test_back_retraces_the_path_and_main_menu_resets_it(engine: Engine, bundle: Bundle) -> None:
    start = engine.step(None, Start())
    topic = press(engine, start.state, start.replies[0], "What causes it?")
    assert topic.state.node == "topic-cause"
    answer = press(engine, topic.state, topic.replies[0], "What causes NH?")
    assert answer.state.node == "cause"
    related = press(engine, answer.state, answer.replies[0], "Was it something I did?")
    assert related.state.back == ("main", "topic-cause", "cause")

    back = press(engine, related.state, related.replies[0], BACK_LABEL)
    assert back.state.node == "cause"
    back = press(engine, back.state, back.replies[0], BACK_LABEL)
    assert back.state.node == "topic-cause"
    back = press(engine, back.state, back.replies[0], BACK_LABEL)
    assert back.state.node == bundle.start and back.state.back == ()

    home = press(engine, related.state, related.replies[0], MAIN_LABEL)
    assert home.state == SessionState(bundle.start)
    assert home.replies[0].kind == "menu"


def test_back_stack_is_bounded(engine: Engine) -> None:
    state = engine.step(None, Start()).state
    for _ in range(30):
        for answer in ("cause", "not-your-fault"):
            state = engine.step(state, Press(callback.encode(engine.bundle.version, callback.GOTO, answer))).state
    assert len(state.back) <= 10


@pytest.mark.parametrize(
    "data",
    [
        "",
        "garbage",
        "00000000|g|cause",  # an older content version
        "{v}|g|no-such-node",
        "{v}|x|cause",  # unknown operation
        "{v}|g|cause|extra",
        "{v}|s|no-such-answer",
        "{v}|g|" + "a" * 80,  # over 64 bytes
        "{v}|g|ca\u00fcse",
        "'; DROP TABLE sessions; --",
    ],
)
def test_stale_or_forged_buttons_lead_to_the_main_menu_with_a_note(engine: Engine, bundle: Bundle, data: str) -> None:
    state = SessionState("cause", ("main", "topic-cause"))
    result = engine.step(state, Press(data.replace("{v}", bundle.version)))
    assert result.outcome == "stale"
    assert result.state == SessionState(bundle.start)
    (reply,) = result.replies
    assert reply.text == bundle.texts["menu_changed"]
    assert [b.label for row in reply.buttons for b in row] == main_menu_labels(bundle)


@pytest.mark.parametrize(
    ("payload", "node"),
    [("cause", "cause"), ("support", "topic-support"), ("overview", "topic-overview"), ("nh-vs-hfe", "nh-vs-hfe"),
     ("support-gb", "support-gb"), ("CAUSE", "cause")],
)
def test_deep_links_open_the_named_answer_or_topic(engine: Engine, payload: str, node: str) -> None:
    result = engine.step(None, Start(payload))
    assert result.state.node == node
    assert result.outcome == "start"


def test_unknown_deep_link_gets_the_welcome(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(None, Start("<script>"))
    assert result.replies[0].text == bundle.texts["welcome"]
    assert result.state == SessionState(bundle.start)


def test_commands(engine: Engine, bundle: Bundle) -> None:
    state = SessionState("cause", ("main",))
    assert engine.step(state, Command("help")).replies[0].text == bundle.texts["help"]
    assert engine.step(state, Command("privacy")).replies[0].text == engine.privacy_text
    assert engine.step(state, Command("menu")).state == SessionState(bundle.start)
    unknown = engine.step(state, Command("weather"))
    assert unknown.outcome == "unknown_command"
    assert unknown.replies[0].text == bundle.texts["unknown_command"]


def test_about_lists_every_answer_with_its_review_date_and_sources(engine: Engine, bundle: Bundle) -> None:
    text = engine.step(None, Command("about")).replies[0].text
    assert bundle.version in text
    for answer in bundle.answers.values():
        assert f"{answer.question} ({answer.last_reviewed.isoformat()})" in text
    assert "https://doi.org/10.1002/hep.23581" in text


def test_sources_button_lists_the_answers_sources(engine: Engine, bundle: Bundle) -> None:
    answer = engine.step(None, Start("recurrence-risk"))
    sources = press(engine, answer.state, answer.replies[0], "📚 Sources")
    text = sources.replies[0].text
    assert "Last reviewed: 2026-11-22" in text
    assert "001_dbd33978505a66f8.txt" in text and "https://doi.org/10.1542/peds.2007-3107" in text
    back = press(engine, sources.state, sources.replies[0], "⬅️ Back to the answer")
    assert back.state.node == "recurrence-risk"


def test_forget_asks_the_caller_to_delete_and_keeps_nothing(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(SessionState("cause"), Command("forget"))
    assert result.forget is True and result.state is None
    assert result.replies[0].text == bundle.texts["forget_done"]


def test_non_text_gets_a_kind_reply_and_the_menu(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(SessionState("cause", ("main",)), NonText("sticker"))
    assert result.replies[0].text == bundle.texts["non_text"]
    assert result.replies[0].buttons
    assert result.state == SessionState("cause", ("main",)), "a sticker must not lose the person's place"


def test_group_mention_invites_a_private_chat_and_stores_nothing(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(None, GroupMention())
    assert result.state is None
    assert result.replies[0].kind == "group"


@pytest.mark.parametrize(
    ("text", "kind"),
    [("my baby is not breathing", "urgent_care"), ("Baby is unresponsive!!!!", "urgent_care"),
     ("our son won't wake up, he's floppy", "urgent_care"), ("my newborn is having a seizure right now", "urgent_care"),
     ("there's a lot of blood in his nappy", "urgent_care"), ("Mein Baby hat gerade einen Krampfanfall", "urgent_care"),
     ("I'm 30 weeks and bleeding heavily", "urgent_pregnancy"),
     ("I took all my pills. I can't do this without my baby", "urgent_crisis"),
     ("je veux mourir, je ne supporte plus rien depuis sa mort", "urgent_crisis")],
)
def test_emergencies_get_the_right_urgent_text_first(engine: Engine, bundle: Bundle, text: str, kind: str) -> None:
    result = engine.step(SessionState("cause"), Text(text))
    assert result.outcome == "emergency"
    assert result.replies[0].kind == "urgent"
    assert result.replies[0].text == bundle.texts[kind], "a person in crisis gets the crisis text, not the medical one"
    assert result.replies[1].kind == "menu"


def test_a_danger_sign_asked_about_in_general_gets_the_answer_after_a_safety_line(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(None, Text("can NH make a baby bleed?"))
    assert result.outcome == "answer" and result.verdict.caution
    assert result.replies[0].text == bundle.texts["caution_line"] and result.replies[0].kind == "urgent"
    assert result.replies[1].answer_id == "signs"


def test_a_short_follow_up_is_read_with_the_answer_on_screen(engine: Engine, bundle: Bundle) -> None:
    alone = engine.step(None, Text("who should we call"))
    assert alone.outcome == "clarify", "alone, it is not clear who to call about what"
    after_recurrence = engine.step(SessionState("recurrence-risk", ("main",)), Text("who should we call"))
    assert after_recurrence.outcome == "answer" and after_recurrence.state.node == "plan-next-pregnancy"
    # Unclear even with the answer on screen: that answer's follow-ups, never a dead end or the same answer.
    unclear = engine.step(SessionState("prevention-ivig", ("main",)), Text("how often?"))
    assert unclear.outcome == "clarify"
    offered = [b.data for row in unclear.replies[0].buttons for b in row]
    assert any(related in data for related in bundle.answers["prevention-ivig"].related for data in offered)
    assert not any(data.endswith("|prevention-ivig") for data in offered)


def test_typed_navigation_works_like_the_buttons(engine: Engine, bundle: Bundle) -> None:
    state = SessionState("recurrence-risk", ("main", "topic-recurrence"))
    back = engine.step(state, Text("go back"))
    assert back.state == SessionState("topic-recurrence", ("main",))
    menu = engine.step(state, Text("main menu please"))
    assert menu.state.node == bundle.start and menu.replies[0].text == bundle.texts["main_menu"]


def test_an_unreadable_script_gets_a_multilingual_emergency_line_and_the_menu(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(None, Text("שלום, יש לי שאלה על התינוק שלי"))
    assert result.outcome == "out_of_scope"
    assert result.replies[0].text == bundle.texts["unreadable"]
    assert "112" in result.replies[0].text.splitlines()[0] or "emergency" in result.replies[0].text.splitlines()[0]
    assert result.replies[0].buttons


def test_an_emergency_in_a_group_gets_urgent_help_in_the_group(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(None, GroupMention("help our baby is not breathing"))
    assert [r.kind for r in result.replies] == ["urgent", "group"]
    assert result.replies[0].text == bundle.texts["urgent_care"]
    assert result.state is None, "nothing is stored for a group"
    assert [r.kind for r in engine.step(None, GroupMention("what is NH?")).replies] == ["group"]


@pytest.mark.parametrize(
    "text",
    ["can NH cause bleeding?", "what are the signs in a newborn", "is it genetic", "what is IVIG",
     "can babies survive NH", "does the liver heal by itself"],
)
def test_ordinary_questions_are_not_emergencies(engine: Engine, text: str) -> None:
    assert engine.step(None, Text(text)).outcome != "emergency"


@pytest.mark.parametrize(
    ("text", "answer"),
    [("is it genetic??", "is-it-genetic"), ("wil it hapen again next baby", "recurrence-risk"),
     ("what does GALD stand for", "nh-and-gald"), ("is it my fault", "not-your-fault"),
     ("what is IVIG", "exchange-ivig")],
)
def test_clear_free_text_gets_its_answer(engine: Engine, text: str, answer: str) -> None:
    result = engine.step(None, Text(text))
    assert result.outcome == "answer"
    assert result.state.node == answer
    assert result.replies[0].answer_id == answer


def test_vague_free_text_about_nh_asks_which_topic_with_buttons(engine: Engine, bundle: Bundle) -> None:
    state = SessionState("cause", ("main",))
    result = engine.step(state, Text("nh zebra"))
    assert result.outcome == "clarify"
    assert result.replies[0].kind == "menu" and result.replies[0].buttons
    assert result.state == state, "asking back must not lose the person's place"


def test_unrelated_text_is_out_of_scope_with_the_menu(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(None, Text("what's the weather like in London tomorrow"))
    assert result.outcome == "out_of_scope"
    assert result.replies[0].text == bundle.texts["out_of_scope"]
    assert [b.label for row in result.replies[0].buttons for b in row] == main_menu_labels(bundle)


@pytest.mark.parametrize(
    ("text", "reply"),
    [("hello", "greeting"), ("hello there 👋", "greeting"), ("Hola, buenos días", "greeting"), ("Thanks!", "thanks"),
     ("thank you so much, that really helped", "thanks"), ("merci beaucoup", "thanks"), ("bye", "goodbye"),
     ("ok bye for now", "goodbye"), ("menu", "main_menu")],
)
def test_greetings_thanks_and_goodbyes_get_a_fitting_reply(engine: Engine, bundle: Bundle, text: str, reply: str) -> None:
    result = engine.step(None, Text(text))
    assert result.outcome == "greeting", text
    assert result.replies[0].text == bundle.texts[reply]
    assert result.replies[0].buttons, "always a way on"


def test_engine_never_raises_and_always_replies(engine: Engine, bundle: Bundle) -> None:
    rng = random.Random(20261122)
    alphabet = "abcdefghijklmnopqrstuvwxyz |/-:0123456789<>&\"'éß🙂\n"
    ids = [*bundle.answers, *bundle.nodes, "nope"]
    state = None
    for _ in range(2000):
        kind = rng.randrange(5)
        junk = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        if kind == 0:
            event = Text(junk)
        elif kind == 1:
            event = Press(rng.choice([junk, callback.SEP.join((bundle.version, rng.choice("gbmsx"), rng.choice(ids)))]))
        elif kind == 2:
            event = Command(junk.strip("/ ") or "x")
        elif kind == 3:
            event = Start(rng.choice([None, junk, rng.choice(ids)]))
        else:
            event = NonText("sticker")
        result = engine.step(state, event)
        assert result.replies
        for reply in result.replies:
            for row in reply.buttons:
                for button in row:
                    assert len(button.data.encode()) <= 64
        state = result.state


def test_a_state_pointing_at_a_removed_node_falls_back_to_the_main_menu(engine: Engine, bundle: Bundle) -> None:
    result = engine.step(SessionState("answer-that-was-deleted", ("also-gone",)), Press(
        callback.encode(bundle.version, callback.BACK)))
    assert result.state.node == bundle.start
