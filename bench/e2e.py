"""End to end through HTTP: a real bot process against the lean fake Bot API on 127.0.0.1.

The same load, in the same run, for our bot (`python -m bot run`) and for the echo
bots on python-telegram-bot and aiogram. Each run starts a fresh process, waits for
its first getUpdates (start-up time), then either makes every update available at
once (a burst: throughput) or one every 1/rate seconds (light load: latency), and
waits until every reply has arrived. CPU time and resident memory come from the
bot process's own accounting (psutil).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.fake_server import BenchServer

REPO = Path(__file__).resolve().parent.parent
# The bot restarts with its content version's example vectors cached, as in production (a first start
# after a content change computes them: `parts` in bench/run.py times that separately).
VECTOR_CACHE = REPO / ".cache" / "vectors"
TOKEN = "123456789:AAF-bench_TOKEN-0123456789abcdefghijKLM"
BOTS = {
    "ours": [sys.executable, "-m", "bot", "run"],
    "ptb-echo": [sys.executable, "-m", "bench.echo_ptb"],
    "aiogram-echo": [sys.executable, "-m", "bench.echo_aiogram"],
}
START_TIMEOUT = 30.0


@dataclass
class Run:
    bot: str
    mode: str
    updates: int
    seconds: float
    updates_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_update: float
    rss_mib: float
    startup_s: float
    steady_per_s: float  # replies per second over the second half: a rate limiter's pace after its first burst


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_bot(bot: str, bodies: list[dict[str, Any]], rate: float | None = None,
                  env: dict[str, str] | None = None, timeout: float = 600.0) -> Run:
    """One fresh process of `bot` answering `bodies`: all at once (rate None) or paced at `rate` per second."""
    server = await BenchServer(TOKEN).start()
    with tempfile.TemporaryDirectory(prefix="nh-bench-") as tmp:
        log_path = Path(tmp) / "bot.log"
        environ = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": server.base_url,
                   "BOT_DB_PATH": str(Path(tmp) / "bot.sqlite3"), "BOT_SECRET": "bench-secret-" + "x" * 32,
                   "BOT_RATE_LIMIT": "off", "BOT_CACHE_DIR": str(VECTOR_CACHE), **(env or {})}
        with log_path.open("wb") as log:
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(*BOTS[bot], cwd=REPO, env=environ,
                                                           stdout=log, stderr=asyncio.subprocess.STDOUT)
            try:
                return await _measure(bot, server, process, started, bodies, rate, timeout)
            except BaseException:
                print(f"--- {bot} log ---\n{log_path.read_text(errors='replace')[-3000:]}", file=sys.stderr)
                raise
            finally:
                await _stop(process)
                await server.stop()


async def _measure(bot: str, server: BenchServer, process: asyncio.subprocess.Process, started: float,
                   bodies: list[dict[str, Any]], rate: float | None, timeout: float) -> Run:
    deadline = started + START_TIMEOUT
    while server.first_poll_at is None:
        if process.returncode is not None or time.perf_counter() > deadline:
            raise RuntimeError(f"{bot} did not start polling")
        await asyncio.sleep(0.005)
    startup = server.first_poll_at - started
    await asyncio.sleep(0.3)  # let start-up work (command list, first long poll) settle
    accounting = psutil.Process(process.pid)
    cpu_before = accounting.cpu_times()
    server.expect(len(bodies))
    begin = time.perf_counter()
    for number, body in enumerate(bodies):
        server.push(body)
        if rate is not None:
            await asyncio.sleep(max(0.0, begin + (number + 1) / rate - time.perf_counter()))
    await server.answered(timeout)
    seconds = server.reply_times[-1] - begin
    cpu_after = accounting.cpu_times()
    rss = accounting.memory_info().rss
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    latencies = [s * 1000 for s in server.latencies]
    half = server.reply_times[len(server.reply_times) // 2:]
    steady = (len(half) - 1) / (half[-1] - half[0]) if len(half) > 1 and half[-1] > half[0] else float("nan")
    return Run(bot=bot, mode="burst" if rate is None else f"paced {rate:.0f}/s", updates=len(bodies),
               seconds=round(seconds, 3), updates_per_s=round(len(bodies) / seconds, 1),
               p50_ms=round(statistics.median(latencies), 2), p99_ms=round(percentile(latencies, 0.99), 2),
               cpu_ms_per_update=round(cpu * 1000 / len(bodies), 3), rss_mib=round(rss / 2**20, 1),
               startup_s=round(startup, 3), steady_per_s=round(steady, 1))


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


def as_dict(run: Run) -> dict[str, Any]:
    return asdict(run)
