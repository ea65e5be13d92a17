"""Cross-file checks: references, reachability, Telegram's limits, review dates."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque

from bot.content.loader import Loaded, Located, build
from bot.content.models import MAX_LABEL_CHARS, DangerWords
from bot.content.problems import Problem, did_you_mean
from bot.core import callback
from bot.core.engine import Engine, compose_answer
from bot.core.matching import fold

TELEGRAM_MAX_MESSAGE = 4096


def check(loaded: Loaded) -> list[Problem]:
    problems: list[Problem] = []

    def error(where: Located, line: int, message: str) -> None:
        problems.append(Problem(where.path, line, message))

    def warn(where: Located, line: int, message: str) -> None:
        problems.append(Problem(where.path, line, message, warning=True))

    topics_file, texts_file, sources_file = loaded.topics, loaded.texts, loaded.sources
    topic_ids = {t.id for t in topics_file.model.topics}
    source_keys = set(sources_file.model.sources)
    text_keys = set(texts_file.model.texts)

    # --- ids: unique across every file ------------------------------------------------
    defined: dict[str, tuple[Located, int, str]] = {}

    def define(node_id: str, where: Located, line: int, kind: str) -> None:
        if node_id in defined:
            first, first_line, first_kind = defined[node_id]
            error(where, line, f"duplicate id {node_id!r}: already used by a {first_kind} at {first.path}:{first_line}")
        else:
            defined[node_id] = (where, line, kind)

    seen_topics: dict[str, int] = {}
    for i, topic in enumerate(topics_file.model.topics):
        if topic.id in seen_topics:
            error(topics_file, topics_file.line("topics", i), f"duplicate topic {topic.id!r}")
        seen_topics[topic.id] = i

    answers: dict[str, tuple[Located, int]] = {}
    countries: set[str] = set()
    org_countries: set[str] = set()
    org_ids: set[str] = set()
    for tf in loaded.topic_files:
        if tf.model.topic not in topic_ids:
            error(tf, tf.line("topic"), f"unknown topic {tf.model.topic!r}; known topics: {', '.join(sorted(topic_ids))}")
        countries.update(tf.model.countries)
        for i, answer in enumerate(tf.model.answers):
            define(answer.id, tf, tf.line("answers", i, "id"), "answer")
            answers.setdefault(answer.id, (tf, i))
            _check_sources(answer.sources, source_keys, tf, ("answers", i, "sources"), error)
            if not answer.label and len(answer.question) > MAX_LABEL_CHARS:
                error(tf, tf.line("answers", i, "question"),
                      f"question is {len(answer.question)} characters, too long for a button "
                      f"(at most {MAX_LABEL_CHARS}): add a shorter `label:`")
        for i, org in enumerate(tf.model.organisations):
            if org.id in org_ids:
                error(tf, tf.line("organisations", i, "id"), f"duplicate organisation id {org.id!r}")
            org_ids.add(org.id)
            org_countries.add(org.country)
            if org.country not in tf.model.countries and org.country not in countries:
                error(tf, tf.line("organisations", i, "country"), f"country {org.country!r} is not listed under `countries:`")
            _check_sources(org.sources, source_keys, tf, ("organisations", i, "sources"), error)

    answered_topics = {tf.model.topic for tf in loaded.topic_files}
    for i, topic in enumerate(topics_file.model.topics):
        if topic.id not in answered_topics:
            error(topics_file, topics_file.line("topics", i), f"topic {topic.id!r} has no answers")

    nodes: dict[str, tuple[Located, int]] = {}
    starts = []
    for ff in loaded.flow_files:
        if ff.model.start:
            starts.append((ff, ff.model.start))
        for i, node in enumerate(ff.model.nodes):
            define(node.id, ff, ff.line("nodes", i, "id"), f"{node.type} node")
            nodes.setdefault(node.id, (ff, i))
    if not starts:
        problems.append(Problem(loaded.flow_files[0].path if loaded.flow_files else "flows", 1,
                                "no `start:` node given in any flow file"))
    for ff, _start in starts[1:]:
        error(ff, ff.line("start"), f"`start:` is already given in {starts[0][0].path}")
    for ff, start in starts[:1]:  # the first `start:` given is the one that counts
        if start not in nodes:
            error(ff, ff.line("start"), f"unknown start node {start!r}{did_you_mean(start, nodes)}")

    known = set(answers) | set(nodes)

    scope = loaded.scope
    for where, answer_id in ((("hfe", "answer"), scope.model.hfe.answer), (("name_only",), scope.model.name_only)):
        if answer_id not in answers:
            error(scope, scope.line(*where), f"unknown answer {answer_id!r}{did_you_mean(answer_id, answers)}")
    language = loaded.language
    owner_of: dict[str, str] = {}
    for concept, variants in language.model.synonyms.items():
        for j, variant in enumerate(variants):
            other = owner_of.setdefault(fold(variant), concept)
            if other != concept:
                error(language, language.line("synonyms", concept, j),
                      f"{variant!r} is listed under both {other!r} and {concept!r}: a word can mean one concept only")

    # --- references ----------------------------------------------------------------
    for tf in loaded.topic_files:
        for i, answer in enumerate(tf.model.answers):
            for j, ref in enumerate(answer.related):
                if ref not in known:
                    error(tf, tf.line("answers", i, "related", j), f"unknown answer or node {ref!r} in `related`{did_you_mean(ref, known)}")
                elif ref == answer.id:
                    error(tf, tf.line("answers", i, "related", j), f"answer {ref!r} lists itself in `related`")
    for ff in loaded.flow_files:
        for i, node in enumerate(ff.model.nodes):
            if node.topic and node.topic not in topic_ids:
                error(ff, ff.line("nodes", i, "topic"), f"unknown topic {node.topic!r}{did_you_mean(node.topic, topic_ids)}")
            if node.text_ref and node.text_ref not in text_keys:
                error(ff, ff.line("nodes", i, "text_ref"), f"unknown shared text {node.text_ref!r}{did_you_mean(node.text_ref, text_keys)}")
            if node.type == "organisations" and node.country not in org_countries:
                error(ff, ff.line("nodes", i, "country"), f"no organisations listed for country {node.country!r}")
            if node.type == "organisations" and not node.label:
                error(ff, ff.line("nodes", i), f"organisations node {node.id!r} needs a `label` for its button")
            for j, button in enumerate(node.buttons):
                if button.to not in known:
                    error(ff, ff.line("nodes", i, "buttons", j, "to"), f"unknown answer or node {button.to!r}{did_you_mean(button.to, known)}")
    _check_example_files(loaded, known, error, warn)
    _check_safety_patterns(loaded, error, warn)
    _check_word_lists(loaded, error)
    _check_danger_words(loaded, error)
    if problems:
        return problems

    # --- reachability from the main menu ----------------------------------------
    bundle = build(loaded)
    reachable = {bundle.start}
    queue = deque([bundle.start])
    while queue:
        current = queue.popleft()
        targets = bundle.answers[current].related if current in bundle.answers else [b.to for b in bundle.nodes[current].buttons]
        for target in targets:
            if target not in reachable:
                reachable.add(target)
                queue.append(target)
    for node_id in sorted(known - reachable):
        where, i = answers.get(node_id) or nodes[node_id]
        section = "answers" if node_id in answers else "nodes"
        error(where, where.line(section, i, "id"), f"{node_id!r} cannot be reached from the main menu ({bundle.start!r})")

    # --- Telegram's limits, on the text exactly as the engine shows it ------------------
    engine = Engine(bundle)
    disclaimer = bundle.texts["disclaimer"]
    for node_id in known:
        data = callback.SEP.join((bundle.version, callback.GOTO, node_id))
        if len(data.encode()) > callback.MAX_CALLBACK_BYTES:
            where, i = answers.get(node_id) or nodes[node_id]
            error(where, where.line("answers" if node_id in answers else "nodes", i, "id"),
                  f"id {node_id!r} makes callback data of {len(data.encode())} bytes (limit {callback.MAX_CALLBACK_BYTES})")
    # Its first sentence, without one-letter leftovers of emoji such as "ℹ️" (NFKD makes that an "i").
    disclaimer_opening = " ".join(w for w in fold(disclaimer.split(".")[0]).split() if len(w) > 1)
    for answer_id, (tf, i) in answers.items():
        answer = bundle.answers[answer_id]
        if disclaimer_opening and disclaimer_opening in fold(answer.text):
            error(tf, tf.line("answers", i, "text"), f"answer {answer_id!r} repeats the disclaimer: the bot adds it after every answer")
        shown = compose_answer(answer.question, answer.text, disclaimer)
        if len(shown) > TELEGRAM_MAX_MESSAGE:
            error(tf, tf.line("answers", i, "text"), f"answer {answer_id!r} is {len(shown)} characters with its disclaimer (Telegram allows {TELEGRAM_MAX_MESSAGE})")
    for node_id, (ff, i) in nodes.items():
        node = bundle.nodes[node_id]
        if node.type == "organisations":
            shown = compose_answer(node.label, engine.organisations_text(node.country or ""), disclaimer)
            if len(shown) > TELEGRAM_MAX_MESSAGE:
                error(ff, ff.line("nodes", i), f"organisation list {node_id!r} is {len(shown)} characters (Telegram allows {TELEGRAM_MAX_MESSAGE})")
        for j, button in enumerate(node.buttons):
            label = button.label or bundle.label(button.to)
            if len(label) > MAX_LABEL_CHARS:
                error(ff, ff.line("nodes", i, "buttons", j), f"button label {label!r} is over {MAX_LABEL_CHARS} characters")
    for key, values in (("privacy", {"ttl_days": 30}), ("privacy_unmatched", {"unmatched_days": 14})):
        try:
            bundle.texts[key].format(**values)
        except (KeyError, IndexError, ValueError) as exc:
            error(texts_file, texts_file.line("texts", key),
                  f"shared text {key!r} may only use the placeholder {{{next(iter(values))}}}: {exc!r} is unknown")
    for key, text in bundle.texts.items():
        if len(text) > TELEGRAM_MAX_MESSAGE:
            error(texts_file, texts_file.line("texts", key), f"shared text {key!r} is {len(text)} characters (Telegram allows {TELEGRAM_MAX_MESSAGE})")

    # --- warnings: shared phrasings, overdue reviews --------------------------------
    phrasing_owner: dict[str, tuple[str, str]] = {}
    for answer_id, (tf, i) in answers.items():
        for j, phrasing in enumerate(bundle.answers[answer_id].phrasings):
            here = f"{tf.path}:{tf.line('answers', i, 'phrasings', j)}"
            owner, where = phrasing_owner.setdefault(fold(phrasing), (answer_id, here))
            if owner != answer_id:
                warn(tf, tf.line("answers", i, "phrasings", j),
                     f"phrasing {phrasing!r} is also an example for answer {owner!r} ({where})")
    limit = months_ago(dt.date.today(), bundle.review_after_months)
    for answer_id, (tf, i) in answers.items():
        reviewed = bundle.answers[answer_id].last_reviewed
        if reviewed < limit:
            warn(tf, tf.line("answers", i, "last_reviewed"),
                 f"answer {answer_id!r} was last reviewed {reviewed.isoformat()}, over {bundle.review_after_months} months ago")
    return problems


def _check_example_files(loaded: Loaded, known: set[str], error, warn) -> None:  # noqa: ANN001
    """Example messages: each under an answer that exists, and each said once per file."""
    languages: dict[str, str] = {}
    for ef in loaded.example_files:
        model = ef.model
        if model.language in languages:
            error(ef, ef.line("language"), f"language {model.language!r} already has a file: {languages[model.language]}")
        languages.setdefault(model.language, ef.path)
        for answer_id in model.answers:
            if answer_id not in known:
                error(ef, ef.line("answers", answer_id), f"unknown answer or node {answer_id!r}{did_you_mean(answer_id, known)}")
        seen: dict[str, tuple[str, ...]] = {}
        for where, texts in _example_lists(model):
            for j, text in enumerate(texts):
                first = seen.setdefault(fold(text), where)
                if first != where:
                    warn(ef, ef.line(*where, j), f"example {text!r} is also listed under {'.'.join(first)}: "
                                                 "one message can mean one thing only")


def _check_safety_patterns(loaded: Loaded, error, warn) -> None:  # noqa: ANN001
    """Each crisis and urgent pattern has a check message it triggers, and none fires on a message
    that must not be an emergency (unless it reads as a general question, which pattern-matching allows)."""
    safety = loaded.safety
    checks = safety.model.checks
    must = [fold(t) for _kind, texts in checks.emergency for t in texts]
    general = [re.compile(p) for p in safety.model.general_question]
    must_not = [fold(t) for t in checks.not_emergency]
    for section in ("crisis", "urgent"):
        for i, pattern in enumerate(getattr(safety.model, section)):
            compiled = re.compile(pattern)
            where = safety.line(section, i)
            if must and not any(compiled.search(t) for t in must):
                warn(safety, where, f"{section} pattern {pattern!r} triggers none of checks.emergency: add a message it must catch")
            for text in must_not:
                if compiled.search(text) and (section == "crisis" or not any(g.search(text) for g in general)):
                    error(safety, where, f"{section} pattern {pattern!r} fires on {text!r}, listed in checks.not_emergency")


def _check_word_lists(loaded: Loaded, error) -> None:  # noqa: ANN001
    """A word is either dropped before matching (a stopword) or means a concept, never both."""
    language = loaded.language
    meaning = {fold(v): concept for concept, variants in language.model.synonyms.items() for v in [concept, *variants]}
    for j, word in enumerate(language.model.stopwords):
        if fold(word) in meaning:
            error(language, language.line("stopwords", j),
                  f"stopword {word!r} is also a word for the concept {meaning[fold(word)]!r}: the concept wins, "
                  "so the stopword does nothing; remove one of them")


def _check_danger_words(loaded: Loaded, error) -> None:  # noqa: ANN001
    """A danger word says one kind of help: listed under two kinds, the message would get neither's text."""
    safety = loaded.safety
    for language, words in safety.model.danger_words.items():
        if not isinstance(words, DangerWords):
            continue
        first_kind: dict[str, str] = {}
        for kind, listed in words.by_kind().items():
            for j, word in enumerate(listed):
                earlier = first_kind.setdefault(fold(word), kind)
                if earlier != kind:
                    error(safety, safety.line("danger_words", language, kind, j),
                          f"danger word {word!r} is listed under both {earlier!r} and {kind!r}: "
                          "keep it under one (`any` when it can mean either)")


def _example_lists(model):  # noqa: ANN001, ANN202
    for answer_id, texts in model.answers.items():
        yield ("answers", answer_id), texts
    for section in ("out_of_scope", "greeting", "navigation", "emergency"):
        for kind, texts in getattr(model, section):
            yield (section, kind), texts
    yield ("not_emergency",), model.not_emergency
    yield ("caution",), model.caution


def _check_sources(cited, source_keys, where: Located, loc: tuple, error) -> None:  # noqa: ANN001
    for j, item in enumerate(cited):
        if item.ref not in source_keys:
            error(where, where.line(*loc, j), f"unknown source {item.ref!r}{did_you_mean(item.ref, source_keys)} (add it to content/sources.yaml)")


def months_ago(today: dt.date, months: int) -> dt.date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    day = min(today.day, 28)
    return dt.date(year, month + 1, day)
