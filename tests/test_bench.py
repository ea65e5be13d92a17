"""The benchmark harness itself works. A smoke run takes about a minute with the sentence model, so
it runs with `make bench` (marked slow), before the full-size run; no timing is asserted here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run


@pytest.mark.slow
def test_quick_bench_measures_every_figure_for_our_bot_and_the_echo_bot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    assert run.main(["--quick", "--bots", "ours,ptb-echo", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    for bot in ("ours", "ptb-echo"):
        for mode in ("burst", "paced"):
            figures = results["end_to_end"][bot][mode]
            assert figures["updates_per_s"]["median"] > 0, "every reply arrived (a missing one fails the run)"
            assert 0 < figures["p50_ms"]["median"] <= figures["p99_ms"]["median"]
            assert figures["cpu_ms_per_update"]["median"] > 0 and figures["rss_mib"]["median"] > 10
    assert set(results["ratios"]["ptb-echo"]) == {"throughput", "cpu_per_update", "paced_p50", "paced_p99",
                                                 "in_process_throughput"}
    assert results["limiter_on"]["updates"] == 60
    assert set(results["in_process"]) == {"ours", "ptb-echo"}
    assert results["parts"]["database_kib_per_1000_sessions"] > 0
    assert results["parts"]["content_load_s"]["median"] > 0
    assert results["parts"]["examples_learn_cold_s"] > 0
    assert {"shipped content p99_ms", "1,000 answers p99_ms"} <= set(results["parts"]["routing"])
    table = capsys.readouterr().out
    assert "Targets" in table and "ours ÷ ptb-echo" in table
