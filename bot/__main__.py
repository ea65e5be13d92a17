"""Command line: `python -m bot [run|chat|validate|...]` (`python -m bot --help` lists them all).

With no subcommand it starts on Telegram when TELEGRAM_BOT_TOKEN is set, and the
terminal chat otherwise. This module is the only place where the parts are wired.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.logs import setup_logging

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="NH family guide bot.")
    sub = parser.add_subparsers(dest="command", metavar="{run,chat,validate,test-conversations,graph,schema,review,"
                                                        "ask,eval,stats,unmatched,purge,health}")
    sub.add_parser("run", help="run on Telegram (long polling, or a webhook with BOT_WEBHOOK_URL)",
                   description="Run the bot on Telegram. Long polling by default; with BOT_WEBHOOK_URL set, "
                               "a webhook server on BOT_LISTEN:BOT_PORT. Needs TELEGRAM_BOT_TOKEN.")
    sub.add_parser("health", help="exit 0 if the running bot is healthy (webhook mode)",
                   description="In webhook mode, ask the running bot's /healthz; exit 0 when healthy, 1 otherwise. "
                               "In polling mode there is no endpoint, so it exits 0.")
    sub.add_parser("chat", help="chat in the terminal", description="Chat with the bot in the terminal, over the same flows, engine and database. Reads one line per turn; works with piped input.")
    check = sub.add_parser("validate", help="check content and flows", description="Load and check content/ and flows/. Prints each problem as path:line: message.")
    check.add_argument("--content", type=Path, help="content directory (default: BOT_CONTENT_DIR or ./content)")
    check.add_argument("--flows", type=Path, help="flows directory (default: BOT_FLOWS_DIR or ./flows)")
    check.add_argument("--no-model", action="store_true",
                       help="skip the checks that need the sentence model (safety checks, misplaced examples)")
    conv = sub.add_parser("test-conversations", help="run the conversation tests written in YAML",
                          description="Run scripted conversations (tests/conversations/*.yaml) against the engine and "
                                      "report each broken expectation as path:line.")
    conv.add_argument("paths", nargs="*", type=Path, help="files or directories (default: tests/conversations)")
    graph = sub.add_parser("graph", help="print a picture of the flows (Mermaid or Graphviz)",
                           description="Print the flow graph: menus, answers, follow-ups. --format svg needs Graphviz.")
    graph.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid")
    graph.add_argument("file", nargs="?", type=Path, help="write here instead of printing (required for svg)")
    schema = sub.add_parser("schema", help="write JSON Schemas for the YAML files",
                            description="Write JSON Schemas for content, flow and conversation files, for a YAML-aware editor.")
    schema.add_argument("--out", type=Path, default=Path("schemas"), help="directory (default: ./schemas)")
    review = sub.add_parser("review", help="answers by last review date, oldest first",
                            description="List answers by last_reviewed, oldest first, with their sources.")
    review.add_argument("--older-than", type=int, metavar="MONTHS", help="only answers last reviewed over MONTHS months ago")
    ask = sub.add_parser("ask", help="show how a typed message is understood",
                         description="Show the outcome for typed messages: answer, clarify, out_of_scope, emergency or greeting.")
    ask.add_argument("text", nargs="?", help="the message (omit with --jsonl)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--jsonl", action="store_true", help="read one message per line from stdin, write one JSON object per line")
    ask.add_argument("--context", metavar="NODE_ID", help="read each message as if the person were on this answer or menu")
    ev = sub.add_parser("eval", help="score understanding against labelled messages",
                        description="Print the issue-3 figures for labelled JSONL files (text, topic).")
    ev.add_argument("files", nargs="*", type=Path, help="JSONL files (default: tests/data/*.jsonl)")
    ev.add_argument("-v", "--verbose", action="store_true", help="list every message that missed")
    stats = sub.add_parser("stats", help="anonymous usage figures",
                           description="Print anonymous usage figures: top answers, outcome shares, feedback, answers never shown.")
    stats.add_argument("--days", type=int, default=30, help="how many days back, today included (default 30)")
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report with charts")
    sub.add_parser("unmatched", help="questions the bot could not answer (if kept)",
                   description="List the scrubbed questions kept with BOT_LOG_UNMATCHED=1, most frequent first.")
    sub.add_parser("purge", help="delete expired sessions and unmatched questions now",
                   description="Delete sessions idle longer than BOT_SESSION_TTL_DAYS (with their feedback rows), "
                               "and unmatched questions older than BOT_UNMATCHED_RETENTION_DAYS.")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    command = args.command or ("run" if settings.token else "chat")
    try:
        if command == "validate":
            return validate(settings, args.content, args.flows, understand=not args.no_model)
        if command == "run":
            return run_telegram(settings)
        if command in {"test-conversations", "graph", "schema", "review"}:
            return editor_command(settings, command, args)
        if command == "ask":
            return ask_command(settings, args, parser)
        if command == "eval":
            return eval_command(settings, args)
        if command == "health":
            return health_command(settings)
        if command in {"stats", "unmatched", "purge"}:
            return asyncio.run(store_command(settings, command, args))
        return asyncio.run(run_terminal(settings))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def validate(settings: Settings, content: Path | None, flows: Path | None, understand: bool = True) -> int:
    from bot.content import ContentError, load_bundle  # noqa: PLC0415 - keep --help fast

    try:
        bundle, warnings = load_bundle(content or settings.content_dir, flows or settings.flows_dir)
    except ContentError as exc:
        return _report_failure(exc.problems)
    if understand:
        from bot.app import understanding_for  # noqa: PLC0415
        from bot.content.understanding_checks import check_understanding  # noqa: PLC0415

        found = check_understanding(understanding_for(bundle, settings.vector_cache_dir),
                                    content or settings.content_dir)
        warnings = sorted([*warnings, *found], key=lambda p: (p.path, p.line, p.message))
        if any(not p.warning for p in found):
            return _report_failure(warnings)
    for problem in warnings:
        print(problem)
    organisations = sum(len(v) for v in bundle.organisations.values())
    print(
        f"ok: {len(bundle.answers)} answers in {len(bundle.topics)} topics, {len(bundle.nodes)} flow nodes, "
        f"{organisations} organisations, {len(bundle.sources)} sources; content version {bundle.version}"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
    )
    return 0


def _report_failure(problems: list) -> int:  # noqa: ANN001 - Problem, imported lazily above
    """Print every problem as path:line: message, then the count; validation failed."""
    for problem in problems:
        print(problem)
    errors = sum(not p.warning for p in problems)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1


def editor_command(settings: Settings, command: str, args: argparse.Namespace) -> int:
    """The content editors' tools; each loads the content as the bot does."""
    from bot.content import ContentError, load_bundle  # noqa: PLC0415
    from bot.core.engine import Engine  # noqa: PLC0415

    if command == "schema":
        from bot.schema import write_schemas  # noqa: PLC0415

        for path in write_schemas(args.out):
            print(f"wrote {path}")
        return 0
    setup_logging("WARNING", settings.secret)
    try:
        bundle, _warnings = load_bundle(settings.content_dir, settings.flows_dir)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem)
        print("the content does not validate: fix the problems above first")
        return 1
    if command == "test-conversations":
        from bot.app import understanding_for  # noqa: PLC0415

        from bot.conversations import run_paths  # noqa: PLC0415

        engine = Engine(bundle, understanding=understanding_for(bundle, settings.vector_cache_dir))
        report = run_paths(engine, args.paths or [Path("tests/conversations")])
        for failure in report.failures:
            print(failure)
        print(report.summary())
        return 0 if report.passed and report.conversations else 1
    else:
        engine = Engine(bundle)  # the editors' pictures and lists need no understanding of text
    if command == "review":
        from bot.review import review_list  # noqa: PLC0415

        print(review_list(engine.bundle, args.older_than))
        return 0
    from bot import graph  # noqa: PLC0415

    if args.format == "svg":
        if args.file is None:
            print("--format svg needs a FILE to write")
            return 2
        try:
            args.file.write_bytes(graph.svg(engine.bundle))
        except graph.GraphvizMissing as exc:
            print(exc)
            return 1
        print(f"wrote {args.file}")
        return 0
    text = graph.mermaid(engine.bundle) if args.format == "mermaid" else graph.dot(engine.bundle)
    if args.file is None:
        print(text, end="")
    else:
        args.file.write_text(text, encoding="utf-8")
        print(f"wrote {args.file}")
    return 0


def ask_command(settings: Settings, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import json  # noqa: PLC0415

    from bot.app import load_engine  # noqa: PLC0415
    from bot.evaluate import verdict_json  # noqa: PLC0415

    if args.jsonl == (args.text is not None):
        parser.error("give either a message or --jsonl")
    setup_logging("WARNING", settings.secret)
    understanding = load_engine(settings).understanding
    if args.context is not None and not understanding.bundle.exists(args.context):
        parser.error(f"--context: no answer or menu {args.context!r}")
    if args.jsonl:
        for line in sys.stdin:
            text = line.rstrip("\n")
            verdict = understanding.classify(text, args.context)
            print(json.dumps(verdict_json(understanding, text, verdict), ensure_ascii=False), flush=True)
        return 0
    result = verdict_json(understanding, args.text, understanding.classify(args.text, args.context))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    what = {"answer": f"answer {result['answer_id']} (topic {result['topic']})",
            "clarify": "clarify: " + (", ".join(result["suggestions"]) or "which topic?"),
            }.get(result["outcome"], result["outcome"])
    print(f"{what}; confidence {result['confidence']:.2f}; why: {', '.join(result['why']) or '-'}")
    return 0


def eval_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import load_engine  # noqa: PLC0415
    from bot.evaluate import evaluate, read_labelled, render  # noqa: PLC0415

    setup_logging("WARNING", settings.secret)
    files = args.files or sorted((Path(__file__).resolve().parent.parent / "tests" / "data").glob("*.jsonl"))
    understanding = load_engine(settings).understanding
    for path in files:
        report = evaluate(understanding, read_labelled([path]))
        print(render(report, path.name))
        if args.verbose:
            print("\n".join("    " + f for f in report.failures))
    if len(files) > 1:
        print(render(evaluate(understanding, read_labelled(files)), "all"))
    return 0


async def store_command(settings: Settings, command: str, args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    from bot.app import open_store  # noqa: PLC0415

    setup_logging("WARNING", settings.secret)
    store = await open_store(settings)  # opening purges what has expired
    try:
        if command == "purge":
            print("purged expired sessions, their feedback rows and unmatched questions past retention")
            return 0
        if command == "unmatched":
            rows = await store.unmatched()
            if not settings.log_unmatched:
                print("note: BOT_LOG_UNMATCHED is off, so no new questions are being kept")
            for text, outcome, count, last_day in rows:
                print(f"{count:>5}  {outcome:<13} {last_day}  {text}")
            if not rows:
                print("no unmatched questions kept")
            return 0
        from bot.app import load_content  # noqa: PLC0415
        from bot.stats import render_html, render_text, summarise  # noqa: PLC0415

        if args.days < 1:
            print("--days must be at least 1", file=sys.stderr)
            return 2
        bundle = load_content(settings)  # the answers' titles: no sentence model needed
        figures = summarise(await store.counts(args.days), bundle, args.days)
        print(json.dumps(figures.to_json(), indent=2, ensure_ascii=False) if args.json else render_text(figures, bundle))
        if args.html:
            args.html.write_text(render_html(figures, bundle), encoding="utf-8")
            print(f"wrote {args.html}", file=sys.stderr)
        return 0
    finally:
        await store.close()


def run_telegram(settings: Settings) -> int:
    token = settings.require_token()
    setup_logging(settings.log_level, token, settings.secret, fmt=settings.log_format)
    from bot.adapters.telegram import TelegramAdapter  # noqa: PLC0415
    from bot.app import load_engine, open_service  # noqa: PLC0415

    engine = load_engine(settings)
    settings.session_secret()  # fail early, before connecting, if the secret file cannot be made

    async def purge() -> None:
        if adapter.service is not None:
            await adapter.service.store.purge(unmatched_days=settings.unmatched_retention_days)

    def reload() -> None:
        """SIGHUP: new content goes live only if it validates; otherwise the old content stays."""
        from bot.app import reload_engine  # noqa: PLC0415

        if adapter.service is not None:
            fresh = reload_engine(settings, adapter.service.engine)
            if fresh is not None:
                adapter.service.engine = fresh

    def content_files() -> tuple:
        """Names, sizes and change times of the content and flow files: changes when an editor saves."""
        files = sorted([*settings.content_dir.glob("*.yaml"), *settings.flows_dir.glob("*.yaml")])
        return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists())

    adapter = TelegramAdapter(lambda: open_service(settings, engine), admin_ids=settings.admin_ids, purge=purge,
                              reload=reload, watch=content_files if settings.reload_watch else None)
    if settings.webhook_url:
        from bot.adapters.webhook import serve  # noqa: PLC0415

        app = adapter.build(token, settings.api_base_url, rate_limit=settings.rate_limit, http=settings.http_client,
                            updater=None)
        secret = settings.webhook_secret_token()
        asyncio.run(serve(app, adapter, settings.webhook_url, settings.listen, settings.port, secret,
                          settings.webhook_max_connections, settings.webhook_timeout))
    else:
        from bot.adapters.poller import run_until_signalled  # noqa: PLC0415

        app = adapter.build(token, settings.api_base_url, rate_limit=settings.rate_limit, http=settings.http_client,
                            updater=None)
        log.info("starting long polling")
        asyncio.run(run_until_signalled(app, adapter))
    log.info("stopped")
    return 0


def health_command(settings: Settings) -> int:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    if not settings.webhook_url:
        print("polling mode: no health endpoint")
        return 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.port}/healthz", timeout=3) as response:  # noqa: S310
            print(response.read().decode())
            return 0
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}")
        return 1


async def run_terminal(settings: Settings) -> int:
    # Terminal output is the conversation: keep log lines to warnings and above.
    setup_logging("WARNING", settings.secret)
    from bot.adapters.terminal import chat  # noqa: PLC0415
    from bot.app import load_engine, open_service  # noqa: PLC0415

    service = await open_service(settings, load_engine(settings))
    try:
        return await chat(service)
    finally:
        await service.store.close()


if __name__ == "__main__":
    sys.exit(main())
