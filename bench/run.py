"""`make bench`: speed and footprint, ours beside the cheapest bots on the same frameworks, in one run.

Prints a table and writes bench/results.json. Every figure is the median of several
repetitions with the spread (min-max); bots take turns within each repetition so
that a noisy moment hits all of them alike. Nothing here asserts: the targets are
printed beside the figures (see README, "Performance").

    python -m bench.run                 # the full run (about four minutes on 2 cores)
    python -m bench.run --quick         # one repetition, smaller loads: checks the harness works
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import e2e, inprocess, load, parts, routing
from bot.content import load_bundle
from bot.core.engine import Engine

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
ECHO_BOTS = ("ptb-echo", "aiogram-echo")


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def cell(figure: dict[str, float]) -> str:
    return f"{figure['median']:g} ({figure['min']:g}-{figure['max']:g})"


def summarise(runs: list[e2e.Run]) -> dict[str, dict[str, float]]:
    fields = ("updates_per_s", "p50_ms", "p99_ms", "cpu_ms_per_update", "rss_mib", "startup_s")
    return {name: spread([getattr(run, name) for run in runs]) for name in fields}


async def end_to_end(bots: tuple[str, ...], bodies: list[dict[str, Any]], paced: list[dict[str, Any]],
                     rate: float, reps: int, timeout: float) -> dict[str, dict[str, list[e2e.Run]]]:
    runs: dict[str, dict[str, list[e2e.Run]]] = {bot: {"burst": [], "paced": []} for bot in bots}
    for rep in range(reps):
        for bot in bots:
            runs[bot]["burst"].append(await e2e.run_bot(bot, bodies, timeout=timeout))
            runs[bot]["paced"].append(await e2e.run_bot(bot, paced, rate=rate, timeout=timeout))
            print(f"  repetition {rep + 1}/{reps}: {bot} done", file=sys.stderr)
    return runs


def ratio(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return round(ours["median"] / theirs["median"], 2) if theirs["median"] else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repetition and small loads (a smoke test)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3, or 1 with --quick)")
    parser.add_argument("--bots", default="ours,ptb-echo,aiogram-echo", help="comma-separated: ours,ptb-echo,aiogram-echo")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    chats, updates = (20, 200) if args.quick else (200, 2000)
    paced_updates, rate = (100, 100.0) if args.quick else (1000, 100.0)
    limited_updates = 60 if args.quick else 300
    bots = tuple(b for b in args.bots.split(",") if b)
    if "aiogram-echo" in bots and importlib.util.find_spec("aiogram") is None:
        print("aiogram is not installed (it comes with `make bench`): leaving out its echo bot", file=sys.stderr)
        bots = tuple(b for b in bots if b != "aiogram-echo")

    bundle, _ = load_bundle(REPO / "content", REPO / "flows")
    engine = Engine(bundle)
    learn_cold = parts.examples_learn_seconds(bundle)  # and leaves the shared cache warm for the bots
    bodies = load.updates(bundle, engine, chats, updates)
    paced = load.updates(bundle, engine, chats, paced_updates, seed=11)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; {reps} repetitions; "
          f"median (min-max)", file=sys.stderr)

    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(),
        "python": platform.python_version(), "repetitions": reps,
        "load": {"chats": chats, "updates": updates, "paced_updates": paced_updates, "paced_rate": rate},
    }
    timeout = 60.0 if args.quick else 600.0  # until every reply has arrived; past it the run fails
    runs = asyncio.run(end_to_end(bots, bodies, paced, rate, reps, timeout))
    results["end_to_end"] = {bot: {mode: summarise(r) for mode, r in modes.items()} for bot, modes in runs.items()}
    if "ours" in bots:
        limited = asyncio.run(e2e.run_bot("ours", bodies[:limited_updates], env={"BOT_RATE_LIMIT": "on"}, timeout=timeout))
        results["limiter_on"] = {"updates": limited.updates, "messages_per_s": limited.updates_per_s,
                                 "steady_messages_per_s": limited.steady_per_s}
    results["in_process"] = _repeat(lambda: inprocess.run(bodies), reps)
    results["parts"] = {
        "routing": _repeat(lambda: _routing_p(), reps),
        "session_read_write": _repeat(parts.session_round_trip, reps),
        "content_load_s": spread([parts.content_load_seconds() for _ in range(reps)]),
        "examples_learn_cold_s": learn_cold,
        "database_kib_per_1000_sessions": parts.database_kib_per_1000_sessions(2000 if args.quick else 10_000),
    }
    results["ratios"] = _ratios(results["end_to_end"], results["in_process"])
    print_table(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def _routing_p() -> dict[str, float]:
    figures = routing.run(rounds=3)
    return {f"{label} {key}": value for label, row in figures.items() for key, value in row.items()
            if key in {"p50_ms", "p99_ms"}}


def _repeat(measure: Callable[[], dict[str, float]], reps: int) -> dict[str, dict[str, float]]:
    samples = [measure() for _ in range(reps)]
    return {key: spread([sample[key] for sample in samples]) for key in samples[0]}


def _ratios(end_to_end: dict[str, Any], in_process: dict[str, Any]) -> dict[str, dict[str, float]]:
    ours = end_to_end.get("ours")
    ratios: dict[str, dict[str, float]] = {}
    for echo in ECHO_BOTS:
        theirs = end_to_end.get(echo)
        if ours is None or theirs is None:
            continue
        ratios[echo] = {
            "throughput": ratio(ours["burst"]["updates_per_s"], theirs["burst"]["updates_per_s"]),
            "cpu_per_update": ratio(ours["burst"]["cpu_ms_per_update"], theirs["burst"]["cpu_ms_per_update"]),
            "paced_p50": ratio(ours["paced"]["p50_ms"], theirs["paced"]["p50_ms"]),
            "paced_p99": ratio(ours["paced"]["p99_ms"], theirs["paced"]["p99_ms"]),
        }
    if "ours" in in_process and "ptb-echo" in in_process:
        ratios.setdefault("ptb-echo", {})["in_process_throughput"] = ratio(in_process["ours"], in_process["ptb-echo"])
    return ratios


TARGETS = (
    ("throughput ÷ python-telegram-bot echo (burst)", lambda r: r["ratios"]["ptb-echo"]["throughput"], ">=", 1.0),
    ("paced p50 ÷ python-telegram-bot echo", lambda r: r["ratios"]["ptb-echo"]["paced_p50"], "<=", 1.5),
    ("paced p99 ÷ python-telegram-bot echo", lambda r: r["ratios"]["ptb-echo"]["paced_p99"], "<=", 1.5),
    ("CPU per update ÷ python-telegram-bot echo", lambda r: r["ratios"]["ptb-echo"]["cpu_per_update"], "<=", 2.0),
    # Issue 11 (understanding with a sentence model) replaced issue 6's routing, start-up and memory targets.
    ("routing p99, shipped content (ms)", lambda r: r["parts"]["routing"]["shipped content p99_ms"]["median"], "<=", 25.0),
    ("routing p99, 1,000 answers (ms)", lambda r: r["parts"]["routing"]["1,000 answers p99_ms"]["median"], "<=", 25.0),
    ("start-up to first getUpdates (s)", lambda r: r["end_to_end"]["ours"]["burst"]["startup_s"]["median"], "<=", 3.0),
    ("resident memory after the burst (MiB)", lambda r: r["end_to_end"]["ours"]["burst"]["rss_mib"]["median"], "<=", 250),
)


def print_table(results: dict[str, Any]) -> None:
    load_ = results["load"]
    print(f"\nmachine: {results['cores']} cores, Python {results['python']}; {results['repetitions']} repetitions; "
          "each figure: median (min-max)")
    print(f"\n1. End to end through HTTP ({load_['chats']} chats; burst of {load_['updates']} updates; "
          f"paced: {load_['paced_updates']} at {load_['paced_rate']:g}/s)")
    header = f"  {'bot':<13} {'updates/s':<20} {'burst p50 ms':<22} {'burst p99 ms':<22} {'paced p50 ms':<18} " \
             f"{'paced p99 ms':<18} {'CPU ms/update':<18} {'RSS MiB':<18} {'start s':<16}"
    print(header)
    for bot, modes in results["end_to_end"].items():
        burst, paced = modes["burst"], modes["paced"]
        print(f"  {bot:<13} {cell(burst['updates_per_s']):<20} {cell(burst['p50_ms']):<22} {cell(burst['p99_ms']):<22} "
              f"{cell(paced['p50_ms']):<18} "
              f"{cell(paced['p99_ms']):<18} {cell(burst['cpu_ms_per_update']):<18} {cell(burst['rss_mib']):<18} "
              f"{cell(burst['startup_s']):<16}")
    if "limiter_on" in results:
        limited = results["limiter_on"]
        print(f"  ours with the rate limiter on: {limited['messages_per_s']:g} messages/s over {limited['updates']} updates, "
              f"{limited['steady_messages_per_s']:g}/s after the limiter's first burst (Telegram allows about 30)")
    for echo, figures in results["ratios"].items():
        shown = ", ".join(f"{k.replace('_', ' ')} {v:g}×" for k, v in figures.items())
        print(f"  ours ÷ {echo}: {shown}")
    print("\n2. In process (process_update, no network; updates/s)")
    for bot, figure in results["in_process"].items():
        print(f"  {bot:<13} {cell(figure)}")
    print("\n3. Parts")
    for label, figure in results["parts"]["routing"].items():
        print(f"  routing, {label:<28} {cell(figure)}")
    for label, figure in results["parts"]["session_read_write"].items():
        print(f"  SQLite session read+write, {label:<11} {cell(figure)}")
    print(f"  content load and validation (s)        {cell(results['parts']['content_load_s'])}")
    print(f"  examples embedded, classifiers trained, no cache (s)  {results['parts']['examples_learn_cold_s']}")
    print("\n4. Footprint")
    ours = results["end_to_end"].get("ours", {}).get("burst")
    if ours:
        print(f"  start to first getUpdates (s)          {cell(ours['startup_s'])}")
        print(f"  resident memory after the burst (MiB)  {cell(ours['rss_mib'])}")
    print(f"  database per 1,000 sessions (KiB)      {results['parts']['database_kib_per_1000_sessions']:g}")
    print("\nTargets")
    for label, read, sense, limit in TARGETS:
        try:
            value = read(results)
        except KeyError:
            continue
        met = value >= limit if sense == ">=" else value <= limit
        print(f"  {'met   ' if met else 'MISSED'} {label}: {value:g} (target {sense} {limit:g})")


if __name__ == "__main__":
    raise SystemExit(main())
