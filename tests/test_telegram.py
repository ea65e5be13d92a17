"""End to end: the real python-telegram-bot Application polling a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import sqlite3

from bot.content.bundle import Bundle
from bot.core import callback
from bot.adapters.render import html_chunks
from bot.core.engine import BACK_LABEL, MAIN_LABEL, Engine
from bot.core.model import Command
from bot.config import Settings
from tests.conftest import Person, main_menu_labels, running_bot
from tests.fake_bot_api import FakeBotApi

CHAT = 424242001


async def test_start_registers_commands_and_shows_the_welcome(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (welcome,) = await person.say("/start")
    assert welcome.method == "sendMessage"
    assert welcome.text == bundle.texts["welcome"]
    assert [label for label, _ in welcome.buttons] == main_menu_labels(bundle)
    (commands,) = fake_api.calls_to("setMyCommands")
    names = [c["command"] for c in commands.params["commands"]]
    assert names == ["start", "menu", "help", "about", "privacy", "forget"]
    assert fake_api.polls >= 1, "polling mode asks for updates"


async def test_press_through_every_topic_each_answer_ends_with_the_disclaimer(
    fake_api: FakeBotApi, settings: Settings, bundle: Bundle
) -> None:
    disclaimer = bundle.texts["disclaimer"]
    seen_answers: set[str] = set()
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start")
        for topic in bundle.topics:
            (topic_menu,) = await person.tap(topic.label, on=menu)
            # Menus are edited in place, so the chat does not fill up with menus.
            assert topic_menu.method == "editMessageText" and topic_menu.message_id == menu.message_id
            node = bundle.nodes[bundle.topic_node(topic.id)]
            for button in node.buttons:
                (shown,) = await person.tap(bundle.label(button.to), on=topic_menu)
                assert shown.method == "sendMessage", "answers are new messages, so they stay readable"
                assert shown.text.endswith(disclaimer), button.to
                assert shown.text.startswith(bundle.answers[button.to].question if button.to in bundle.answers else bundle.label(button.to))
                seen_answers.add(button.to)
            (menu,) = await person.tap(MAIN_LABEL, on=topic_menu)
    assert set(bundle.answers) | {"support-gb", "support-us", "support-ca"} == seen_answers
    assert all(c.params.get("parse_mode") == "HTML" for c in fake_api.outgoing())
    assert len(fake_api.calls_to("answerCallbackQuery")) == fake_api.presses, "every press is answered once"


async def test_support_by_country_lists_structured_records(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start support")
        (uk,) = await person.tap("Groups in the United Kingdom", on=menu)
    assert "Children's Liver Disease Foundation (NH family support)" in uk.text
    assert "Haemochromatosis UK (formerly the Haemochromatosis Society) (Adult hereditary hemochromatosis, not NH)" in uk.text
    assert "Phone: 03030 401101" in uk.text and "Fax" not in uk.text
    assert "Website: https://childliverdisease.org" in uk.text


async def test_deep_link_opens_the_answer(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings):
        (answer,) = await Person(fake_api, CHAT).say("/start cause")
    assert answer.text.startswith("What causes NH?")
    assert answer.text.endswith(bundle.texts["disclaimer"])
    assert answer.params["text"].startswith("<b>What causes NH?</b>")


async def test_back_after_a_restart_returns_to_the_right_node(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start")
        (topic,) = await person.tap("Is it inherited?", on=menu)
        (answer,) = await person.tap("Is it genetic?", on=topic)
    # A new process: new Application, new database connection, same file.
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (back,) = await person.tap(BACK_LABEL, on=answer)
    assert back.text == "About genes and families. Choose a question:"


async def test_forged_and_stale_buttons_lead_to_the_main_menu(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start")
        for data in ("forged-data", "00000000|g|cause", f"{bundle.version}|g|../../etc/passwd"):
            (reply,) = await person.press(menu.message_id, data)
            assert bundle.texts["menu_changed"] in reply.text
        (still_works,) = await person.tap("What causes it?", on=menu)
    assert still_works.text.startswith("About the cause")


async def test_double_tap_is_handled_quietly(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start")
        data = callback.encode(bundle.version, callback.GOTO, "topic-cause", from_menu=True)
        await person.press(menu.message_id, data)
        answered = len(fake_api.calls_to("answerCallbackQuery"))
        await fake_api.press(CHAT, menu.message_id, data)  # same button, same content: "message is not modified"
        await fake_api.wait_until(lambda: len(fake_api.calls_to("answerCallbackQuery")) > answered)
        await fake_api.wait_until(lambda: len(fake_api.calls_to("editMessageText")) == 2)
        (next_reply,) = await person.say("/menu")
    edits = fake_api.calls_to("editMessageText")
    assert edits[1].result is None, "Telegram refused the identical edit"
    assert len(edits) == 2  # ...and the bot swallowed it instead of re-sending
    assert next_reply.method == "sendMessage"
    assert not any(bundle.texts["error"] in c.text for c in fake_api.outgoing(CHAT))


async def test_non_text_messages_get_a_kind_reply(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    contents = [
        {"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}},
        {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
        {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
        {"location": {"latitude": 51.5, "longitude": -0.12}},
        {"contact": {"phone_number": "+447700900123", "first_name": "Alice"}},
    ]
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        for content in contents:
            (reply,) = await person.send(content)
            assert reply.text == bundle.texts["non_text"]
            assert [label for label, _ in reply.buttons] == main_menu_labels(bundle)


async def test_unknown_command_and_help(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (unknown,) = await person.say("/weather")
        (help_reply,) = await person.say("/help")
        (privacy,) = await person.say("/privacy")
        (about,) = await person.say("/about")
    assert unknown.text == bundle.texts["unknown_command"]
    assert help_reply.text == bundle.texts["help"]
    assert privacy.text.startswith("What I keep about this chat:") and "after 30 days without use" in privacy.text
    assert about.text.startswith(bundle.texts["about"])


async def test_free_text_with_html_characters_is_escaped(fake_api: FakeBotApi, settings: Settings) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (reply,) = await person.say("is it <b>genetic</b> & inherited??")
    assert reply.text.startswith("Is NH genetic or inherited?")


async def test_huge_message_gets_an_answer_and_long_replies_are_split(
    fake_api: FakeBotApi, settings: Settings, engine: Engine
) -> None:
    about_text = engine.step(None, Command("about")).replies[0].text
    parts = len(html_chunks(engine.step(None, Command("about")).replies[0]))
    assert len(about_text) > 4096 and parts >= 2
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (reply,) = await person.say("what causes nh " + "blah " * 800)
        about = await person.say("/about", replies=parts)
    assert reply.text.startswith("What causes NH?")
    assert len(about) == parts
    assert all(len(c.text) <= 4096 for c in about)
    assert " ".join(c.text for c in about).split() == about_text.split(), "nothing lost or reordered"
    assert about[0].buttons == [] and about[-1].buttons, "only the last part carries the keyboard"


async def test_emergency_message_gets_urgent_care_first(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        urgent, menu = await person.say("help my baby is turning blue", replies=2)
    assert urgent.text == bundle.texts["urgent_care"]
    assert menu.buttons


async def test_an_emergency_mentioned_in_a_group_gets_urgent_help_in_the_group(
    fake_api: FakeBotApi, settings: Settings, bundle: Bundle
) -> None:
    group = -100123457
    async with running_bot(fake_api, settings):
        await fake_api.send_text(group, "@nh_guide_test_bot our newborn is not breathing and has gone blue",
                                 chat_type="supergroup")
        await fake_api.wait_until(lambda: len(fake_api.outgoing(group)) >= 2)
        await fake_api.send_text(group, "@nh_guide_test_bot what is nh", chat_type="supergroup")
        await fake_api.wait_until(lambda: len(fake_api.outgoing(group)) >= 3)
    urgent, invite, plain = fake_api.outgoing(group)
    assert urgent.text == bundle.texts["urgent_care"], "urgent help first, in the group itself"
    assert invite.text == bundle.texts["group_chat"] and plain.text == bundle.texts["group_chat"]


async def test_an_unreadable_script_gets_the_multilingual_emergency_line_first(
    fake_api: FakeBotApi, settings: Settings, bundle: Bundle
) -> None:
    async with running_bot(fake_api, settings):
        (reply,) = await Person(fake_api, CHAT).say("שלום, יש לי שאלה דחופה על התינוק שלי")
    first_line = reply.text.splitlines()[0]
    assert first_line == bundle.texts["unreadable"].splitlines()[0]
    assert "Emergency?" in first_line and "¿Emergencia?" in first_line and "طوارئ" in first_line
    assert [label for label, _ in reply.buttons] == main_menu_labels(bundle)


async def test_forget_deletes_the_session_row(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings) as adapter:
        person = Person(fake_api, CHAT)
        await person.say("/start cause")
        key = adapter.service.keyer.key("tg", CHAT)
        assert await adapter.service.store.load(key) is not None
        (done,) = await person.say("/forget")
        assert done.text == bundle.texts["forget_done"]
        assert await adapter.service.store.load(key) is None
    with sqlite3.connect(settings.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


async def test_group_chats_only_answer_commands_and_mentions(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    group = -100123456
    async with running_bot(fake_api, settings) as adapter:
        await fake_api.send_text(group, "what causes nh?", chat_type="supergroup")
        await fake_api.send_text(group, "/start@some_other_bot", chat_type="supergroup")
        await fake_api.send_text(group, "hey @nh_guide_test_bot what is nh", chat_type="supergroup")
        await fake_api.wait_until(lambda: len(fake_api.outgoing(group)) >= 1)
        await fake_api.send_text(group, "/start@nh_guide_test_bot", chat_type="supergroup")
        await fake_api.wait_until(lambda: len(fake_api.outgoing(group)) >= 2)
        stored = await adapter.service.store.load(adapter.service.keyer.key("tg", group))
    replies = fake_api.outgoing(group)
    assert len(replies) == 2
    for reply in replies:
        assert reply.text == bundle.texts["group_chat"]
        assert reply.buttons == [("💬 Talk to me privately", "https://t.me/nh_guide_test_bot")]
    assert stored is None, "nothing is stored for group chats"


async def test_database_holds_no_identifying_data(fake_api: FakeBotApi, settings: Settings) -> None:
    chat_id = 918273645
    async with running_bot(fake_api, settings):
        person = Person(fake_api, chat_id, name="Wilhelmina", username="wilhelmina_q")
        await person.say("/start")
        await person.say("my secret question about zebrafish")
        await person.say("/start cause")
    raw = b"".join(p.read_bytes() for p in settings.db_path.parent.iterdir() if p.name.startswith("bot.sqlite3"))
    for needle in (str(chat_id), "Wilhelmina", "wilhelmina_q", "zebrafish"):
        assert needle.encode() not in raw, needle


async def test_buttons_from_before_a_content_change_lead_to_the_main_menu(
    fake_api: FakeBotApi, settings: Settings, tmp_path
) -> None:
    import dataclasses
    import shutil

    content, flows = tmp_path / "content", tmp_path / "flows"
    shutil.copytree(settings.content_dir, content)
    shutil.copytree(settings.flows_dir, flows)
    before = dataclasses.replace(settings, content_dir=content, flows_dir=flows)
    async with running_bot(fake_api, before):
        person = Person(fake_api, CHAT)
        (menu,) = await person.say("/start")
        (answer,) = await person.say("/start cause")
    texts = content / "texts.yaml"
    texts.write_text(texts.read_text().replace("What would you like to know?", "What would you like to read about?"))
    async with running_bot(fake_api, before):
        person = Person(fake_api, CHAT)
        (stale_menu,) = await person.tap("What causes it?", on=menu)
        (stale_answer,) = await person.tap("Was it something I did?", on=answer)
    for reply in (stale_menu, stale_answer):
        assert reply.text.startswith("That button is from an older menu")
        assert [label for label, _ in reply.buttons][:1] == ["What is NH?"]


async def test_an_error_in_one_update_gets_an_apology_and_the_bot_goes_on(
    fake_api: FakeBotApi, settings: Settings, bundle: Bundle, caplog
) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        fake_api.fail_next("sendMessage", 400, "Bad Request: something unexpected")
        failed, apology = await person.say("/start", replies=2)
        (later,) = await person.say("/start cause")
    assert failed.result is None
    assert apology.text == bundle.texts["error"]
    assert [label for label, _ in apology.buttons] == main_menu_labels(bundle)
    assert later.text.startswith("What causes NH?")
    assert any("error while handling an update: BadRequest" in r.getMessage() for r in caplog.records)


async def test_each_free_text_outcome_through_telegram(fake_api: FakeBotApi, settings: Settings, bundle: Bundle) -> None:
    async with running_bot(fake_api, settings):
        person = Person(fake_api, CHAT)
        (greeting,) = await person.say("hello there 👋")
        (answer,) = await person.say("wil it hapen again next baby")
        (clarify,) = await person.say("ivig")
        (chosen,) = await person.tap(bundle.label("prevention-ivig"), on=clarify)
        (hfe,) = await person.say("how often will I need phlebotomy for my hemochromatosis")
        (difference,) = await person.tap(bundle.label("nh-vs-hfe"), on=hfe)
        (personal,) = await person.say("how much IVIG should I take, I weigh 70kg")
        (weather,) = await person.say("what's the weather tomorrow")
        urgent, menu = await person.say("my baby is not breathing", replies=2)
    assert greeting.text == bundle.texts["greeting"]
    assert answer.text.startswith("What happens in the next pregnancy?") and answer.text.endswith(bundle.texts["disclaimer"])
    assert clarify.text == bundle.texts["clarify"]
    labels = [label for label, _ in clarify.buttons]
    assert len(labels) == 4 and labels[-1] == MAIN_LABEL
    assert chosen.method == "sendMessage" and chosen.text.startswith("Can NH be prevented in a later pregnancy?")
    assert hfe.text == bundle.texts["out_of_scope_hfe"]
    assert [label for label, _ in hfe.buttons][0] == bundle.label("nh-vs-hfe")
    assert difference.text.startswith("Is NH the same as hereditary hemochromatosis?")
    assert personal.text == bundle.texts["out_of_scope_personal"]
    assert weather.text == bundle.texts["out_of_scope"]
    assert [label for label, _ in weather.buttons] == main_menu_labels(bundle)
    assert urgent.text == bundle.texts["urgent_care"] and menu.buttons
