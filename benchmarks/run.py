"""``make bench``: what meterr costs on top of DuckDB for request-level exports.

Generates Helicone-shaped JSON Lines exports of 1,000 and N rows (``BENCH_ROWS``, default 5
million) and times, alternately, (a) DuckDB alone loading each file into a table and (b) meterr
taking the same file from the drop folder to an updated ``marts.fct_usage_daily`` (the file is put
into ``drop/`` untimed, as a user would drop it; then ``meterr ingest`` with no argument processes
what waits there: detection, gate, commit, dbt build). Prints the fixed cost (the 1,000-row file
through the whole pipeline), the marginal cost ratio ((meterr N - meterr 1k) / (DuckDB N - DuckDB
1k)), peak memory of the meterr process tree, and what a 10,000-row file costs after the N rows
compared with an empty warehouse (work should grow with the new data, not with history).

One untimed warm-up run goes first, so the first timed run does not pay for reading Python's
libraries from disk into the page cache (a once-per-boot cost, not a per-run one). The 1k and N
measurements (DuckDB alone and meterr) are taken three times each, alternately, and the 10k ones
in eight pairs (after-N and empty back to back, the order swapped every other pair), compared by
the median of the pairs' differences: the same run varies by several seconds on a shared machine,
and a pair's two runs share most of that.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psutil

TARGETS = {
    "marginal_ratio": 2.0,
    "peak_rss_gb": 1.5,
    "fixed_cost_s": 30.0,
    # "A 10,000-row file after N costs about what it costs on an empty warehouse": the median of
    # the paired differences (after N minus empty) as a share of the median empty run.
    "history_overhead": 0.10,
}
# Each 1k and N measurement (DuckDB alone and meterr) is taken this many times, the fastest kept.
REPEATS = 3
# The 10k file after N and on an empty warehouse: this many pairs, run back to back. Eight, not
# four: one run varies by up to 3 s here, and with four pairs the median still moved by more than
# the 10% it judges (+3.2% and +16.1% on two runs of the same code, 2026-12-07).
PAIRS = 8


def generate_helicone_jsonl(path: Path, rows: int, *, offset: int = 0) -> Path:
    """Write ``rows`` Helicone request objects (the export tool's JSONL, bodies left out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    models = "['gpt-4o-mini','gpt-4o','claude-sonnet-4-5','claude-haiku-4-5','o3']"
    providers = "['OPENAI','OPENAI','ANTHROPIC','ANTHROPIC','OPENAI']"
    sql = f"""
        COPY (
            SELECT
                'resp-' || (i + {offset}) AS response_id,
                'req-' || (i + {offset}) AS request_id,
                strftime(TIMESTAMP '2026-08-01' + to_seconds((i * 7) % (80 * 86400)),
                         '%Y-%m-%d %H:%M:%S.000') AS request_created_at,
                strftime(TIMESTAMP '2026-08-01' + to_seconds((i * 7) % (80 * 86400) + 2),
                         '%Y-%m-%d %H:%M:%S.000') AS response_created_at,
                200 AS response_status,
                'user-' || (i % 97) AS request_user_id,
                {providers}[1 + i % 5] AS provider,
                {models}[1 + i % 5] AS request_model,
                {models}[1 + i % 5] AS response_model,
                800 + i % 2000 AS prompt_tokens,
                100 + i % 700 AS completion_tokens,
                (i % 3) * 20 AS reasoning_tokens,
                (i % 4) * 100 AS prompt_cache_read_tokens,
                0 AS prompt_cache_write_tokens,
                900 + i % 2000 + 100 + i % 700 + (i % 3) * 20 AS total_tokens,
                round((800 + i % 2000) * 0.00000015 + (100 + i % 700) * 0.0000006, 9) AS cost,
                120 + i % 900 AS delay_ms,
                'US' AS country_code
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT json)
    """
    duckdb.sql(sql)
    return path


def history_overhead(after: list[float], empty: list[float]) -> float:
    """What N rows of history add to a small file's run, as a share of the run on an empty
    warehouse: the median of the paired differences (``after[i] - empty[i]``, seconds) over the
    median of ``empty``. Pairing cancels the machine's drift, which moves both runs of a pair
    alike; the median leaves out a pair that one stall hit."""
    if len(after) != len(empty) or not after:
        raise ValueError("history_overhead needs as many runs after N as on empty warehouses")
    return statistics.median(a - e for a, e in zip(after, empty, strict=True)) / statistics.median(
        empty
    )


def duckdb_alone(path: Path) -> float:
    """Seconds for DuckDB to load the file into a table of a fresh database file."""
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "plain.duckdb"))
        started = time.perf_counter()
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_json('{path}', format='newline_delimited')"
        )
        elapsed = time.perf_counter() - started
        con.close()
    return elapsed


@dataclass
class Measured:
    seconds: float
    peak_rss_bytes: int


def _watch(proc: psutil.Process, peak: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            tree = [proc, *proc.children(recursive=True)]
            total = sum(p.memory_info().rss for p in tree if p.is_running())
            peak[0] = max(peak[0], total)
        except psutil.Error:
            pass
        stop.wait(0.05)


ROOT = Path(__file__).resolve().parent.parent


# The home whose dbt parse is saved (the last one prepared).
_PREPARED: dict[str, Path] = {}


def prepare_home(home: Path) -> None:
    """What installing meterr for a ``METERR_HOME`` does once (untimed): parse the dbt project
    with that home's settings, so builds reuse the parse as they do in a deployment.

    The bench's homes share one dbt project, and dbt parses everything again when the profile (the
    warehouse path) differs from the saved parse's, so this runs again whenever a run switches
    home; a deployment has one home and never pays that.
    """
    if _PREPARED.get("home") == home:
        return
    _PREPARED["home"] = home
    env = dict(os.environ, METERR_HOME=str(home))
    subprocess.run(
        [sys.executable, "-m", "dagster_project.dbt_project"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def drop_into(home: Path, path: Path) -> None:
    """Put ``path`` into ``home``'s drop folder as a user would (untimed): a hard link when the
    bench folder shares the file system, else a copy."""
    target = home / "drop" / "bench" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)


def meterr_ingest(path: Path, home: Path) -> Measured:
    """Seconds and peak RSS (whole process tree) of meterr taking ``path`` from ``home``'s drop
    folder to updated marts (``meterr ingest`` with no argument); the home is prepared first,
    untimed."""
    prepare_home(home)
    env = dict(os.environ, METERR_HOME=str(home))
    drop_into(home, path)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli", "ingest"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    peak = [0]
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(psutil.Process(proc.pid), peak, stop))
    watcher.start()
    out, _ = proc.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    if proc.returncode != 0 or "loaded" not in out:
        raise RuntimeError(f"meterr ingest failed on {path.name}: {out}")
    return Measured(elapsed, peak[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 5_000_000)))
    parser.add_argument("--workdir", default=os.environ.get("BENCH_DIR", "bench-data"))
    args = parser.parse_args(argv)
    work = Path(args.workdir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    print(f"generating Helicone exports of 1,000 and {args.rows:,} rows in {work} ...", flush=True)
    small = generate_helicone_jsonl(work / "files" / "helicone-1k.jsonl", 1_000)
    big = generate_helicone_jsonl(
        work / "files" / f"helicone-{args.rows}.jsonl", args.rows, offset=10_000_000
    )
    extras = [
        generate_helicone_jsonl(
            work / "files" / f"helicone-10k-{n}.jsonl", 10_000, offset=90_000_000 + n * 100_000
        )
        for n in range(PAIRS)
    ]
    print(f"  {big.stat().st_size / 1e6:,.0f} MB for the large file", flush=True)

    meterr_ingest(small, work / "home-warm-up")
    # Alternate (a) and (b); every meterr run but the "after" ones starts on an empty warehouse.
    # Every measurement is taken several times and the fastest kept, DuckDB's and meterr's alike:
    # on a shared 2-core machine the same run varies by several seconds, which would otherwise
    # decide targets measured in seconds.
    duck_small = min(duckdb_alone(small) for _ in range(REPEATS))
    small_runs = [meterr_ingest(small, work / f"home-1k-{n}") for n in range(REPEATS)]
    duck_bigs, big_runs = [], []
    for n in range(REPEATS):
        duck_bigs.append(duckdb_alone(big))
        big_runs.append(meterr_ingest(big, work / f"home-big-{n}"))
    duck_big = min(duck_bigs)
    # The 10k file after the N rows and on an empty warehouse, in pairs run back to back (the
    # machine's speed drifts within minutes; a pair's runs share it), the order swapped every
    # other pair so that neither kind always runs first.
    after_runs, empty_runs = [], []
    for n, extra in enumerate(extras):
        if n % 2:
            empty_runs.append(meterr_ingest(extra, work / f"home-10k-{n}"))
            after_runs.append(meterr_ingest(extra, work / "home-big-0"))
        else:
            after_runs.append(meterr_ingest(extra, work / "home-big-0"))
            empty_runs.append(meterr_ingest(extra, work / f"home-10k-{n}"))
    meterr_small = min(small_runs, key=lambda m: m.seconds)
    meterr_big = min(big_runs, key=lambda m: m.seconds)
    after_big = min(after_runs, key=lambda m: m.seconds)
    on_empty = min(empty_runs, key=lambda m: m.seconds)
    everything = [*small_runs, *big_runs, *after_runs, *empty_runs]

    marginal = (meterr_big.seconds - meterr_small.seconds) / max(duck_big - duck_small, 1e-9)
    overhead = history_overhead([m.seconds for m in after_runs], [m.seconds for m in empty_runs])
    peak_gb = max(m.peak_rss_bytes for m in everything) / 1024**3
    rows = [
        ("DuckDB alone, 1k rows", f"{duck_small:.2f} s"),
        (f"DuckDB alone, {args.rows:,} rows", f"{duck_big:.2f} s"),
        ("meterr, 1k rows (fixed cost)", f"{meterr_small.seconds:.1f} s"),
        (f"meterr, {args.rows:,} rows", f"{meterr_big.seconds:.1f} s"),
        ("marginal cost ratio", f"{marginal:.2f}"),
        ("peak RSS (meterr process tree)", f"{peak_gb:.2f} GB"),
        ("10k rows on an empty warehouse", f"{on_empty.seconds:.1f} s"),
        (f"10k rows after {args.rows:,}", f"{after_big.seconds:.1f} s"),
        (
            "10k rows, after minus empty, per pair",
            ", ".join(
                f"{a.seconds - e.seconds:+.1f} s"
                for a, e in zip(after_runs, empty_runs, strict=True)
            ),
        ),
        ("history overhead (median pair difference / median empty)", f"{overhead:+.1%}"),
    ]
    print()
    print("| measure | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print()
    verdicts = {
        "marginal_ratio": marginal <= TARGETS["marginal_ratio"],
        "peak_rss_gb": peak_gb <= TARGETS["peak_rss_gb"],
        "fixed_cost_s": meterr_small.seconds <= TARGETS["fixed_cost_s"],
        "history_overhead": overhead <= TARGETS["history_overhead"],
    }
    for name, ok in verdicts.items():
        print(f"target {name} <= {TARGETS[name]}: {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
