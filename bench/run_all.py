"""Run every benchmark of the project and write the one table: docs/benchmarks.md.

    .venv/bin/python bench/run_all.py                 # everything (~15–25 min on 2 cores)
    .venv/bin/python bench/run_all.py --only cli,documents
    .venv/bin/python bench/run_all.py --keep bench/.results --only production_mode
        # re-run one benchmark; the others' figures come from their last run kept there

Each `bench/bench_<name>.py` runs in its own process with `--json-out`, as a person would run
it; its figures (value, target, baseline) go into the table with the machine they ran on. A
benchmark that fails is listed with its error; the others still run. Benchmarks measure;
they are not tests (the suite asserts correctness only).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, read_figures  # noqa: E402

OUTPUT = ROOT / "docs" / "benchmarks.md"
NOTES = ROOT / "bench" / "notes.md"
"""Hand-kept notes: what each figure means, and every gap to a target explained."""


def notes() -> str:
    try:
        return NOTES.read_text(encoding="utf-8")
    except OSError:
        return ""


def benchmarks() -> list[Path]:
    return sorted(p for p in (ROOT / "bench").glob("bench_*.py"))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){memory}, "
        f"Python {platform.python_version()}"
    )


def run(path: Path, out: Path, timeout: float) -> tuple[list[Figure], str | None, float]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(path), "--json-out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [], f"timed out after {timeout:.0f} s", time.monotonic() - started
    elapsed = time.monotonic() - started
    if not out.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return [], f"exit {done.returncode}: {' / '.join(tail)}", elapsed
    return read_figures(out), None, elapsed


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def table(results: dict[str, tuple[list[Figure], str | None, float]]) -> str:
    lines = [
        "| benchmark | figure | value | target | met | baseline | ratio to baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (figures, error, _) in results.items():
        if error:
            lines.append(f"| {name} | (did not run) | {error} | | | | |")
        for f in figures:
            met = {True: "yes", False: "**no**", None: "—"}[f.met]
            target = (
                f"{'≥' if f.higher_is_better else '≤'} {_number(f.target, f.unit)}"
                if f.target is not None
                else "—"
            )
            baseline = (
                f"{_number(f.baseline, f.unit)} ({f.baseline_name})"
                if f.baseline is not None
                else "—"
            )
            ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "—"
            label = f.name + (f" — {f.note}" if f.note else "")
            lines.append(
                f"| {name} | {label} | {_number(f.value, f.unit)} | {target} | {met} "
                f"| {baseline} | {ratio} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated names, e.g. cli,documents")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each benchmark's figures here; with --only, the others come from here",
    )
    args = parser.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else None
    results: dict[str, tuple[list[Figure], str | None, float]] = {}
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-all-"))
    work.mkdir(parents=True, exist_ok=True)
    for path in benchmarks():
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            kept = work / f"{name}.json"
            if args.keep and kept.exists():
                results[name] = (read_figures(kept), None, 0.0)
            continue
        print(f"running {path.name} …", flush=True)
        (work / f"{name}.json").unlink(missing_ok=True)
        results[name] = run(path, work / f"{name}.json", args.timeout)
        figures, error, elapsed = results[name]
        print(f"  {len(figures)} figure(s) in {elapsed:.0f} s" + (f"; {error}" if error else ""))
    missed = [f for figures, _, _ in results.values() for f in figures if f.met is False]
    body = f"""# Benchmarks

Written by `bench/run_all.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on {machine()}.
Each figure comes from one run of `bench/bench_<name>.py` (its docstring says how it
measures). *Met* compares the figure with its target; *ratio to baseline* is how many times
the plain way (the docxtpl floor, the direct call, the same command without the service) the
figure costs.

{table(results)}

{len(missed)} figure(s) miss their target.

{notes()}"""
    args.out.write_text(body, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
