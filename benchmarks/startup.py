"""What rnnscope costs as a whole process, against bare PyTorch doing the same work.

    python benchmarks/startup.py [--rounds 9]

Each round runs every command once, in an order rotated from round to round so that no
command always runs first (paired runs); the table shows medians over the rounds and each
process's peak RSS, and the ratios are medians of the per-round ratios of this run. The
torchinfo row appears only where torchinfo is importable: it is not a dependency.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The work `rnnscope inspect lstm --layers 2` (tables and --json) does, written by hand.
BARE_SCRIPT = """\
import torch
lstm = torch.nn.LSTM(10, 20, 2)
output, (h_n, c_n) = lstm(torch.randn(100, 32, 10))
print(tuple(output.shape), tuple(h_n.shape), tuple(c_n.shape))
"""
TORCHINFO_SCRIPT = """\
import torch, torchinfo
torchinfo.summary(torch.nn.LSTM(10, 20, 2), input_size=(100, 32, 10))
"""
IMPORT_TORCH = "import torch"
BARE = "bare PyTorch script"
HELP = "rnnscope --help"
INSPECT = "rnnscope inspect lstm --layers 2"
INSPECT_JSON = "rnnscope inspect lstm --layers 2 --json"
TORCHINFO = "torchinfo summary"


def commands() -> dict[str, list[str]]:
    python = sys.executable
    listed = {
        IMPORT_TORCH: [python, "-c", "import torch"],
        BARE: [python, "-c", BARE_SCRIPT],
        HELP: [python, "-m", "rnnscope", "--help"],
        INSPECT: [python, "-m", "rnnscope", "inspect", "lstm", "--layers", "2"],
        INSPECT_JSON: [python, "-m", "rnnscope", "inspect", "lstm", "--layers", "2", "--json"],
    }
    if importlib.util.find_spec("torchinfo") is not None:
        listed[TORCHINFO] = [python, "-c", TORCHINFO_SCRIPT]
    return listed


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS in MiB of one process (wait4
    reports the child's own usage). CPU time moves less than wall time when other work shares
    the machine."""
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(command)} failed: {stderr.strip().splitlines()[-1:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


Timings = dict[str, list[float]]


def measure(listed: dict[str, list[str]], rounds: int) -> tuple[Timings, Timings, Timings]:
    """Wall seconds, CPU seconds and peak RSS of every command in every round, the order rotated
    from round to round (paired runs), with the repository first on PYTHONPATH."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    names = list(listed)
    seconds: Timings = {name: [] for name in names}
    cpu_seconds: Timings = {name: [] for name in names}
    rss: Timings = {name: [] for name in names}
    for round_index in range(rounds):
        for offset in range(len(names)):
            name = names[(round_index + offset) % len(names)]
            wall, cpu, peak = run_once(listed[name], env)
            seconds[name].append(wall)
            cpu_seconds[name].append(cpu)
            rss[name].append(peak)
    return seconds, cpu_seconds, rss


def print_table(listed: dict[str, list[str]], rounds: int, pairs: list[tuple[str, str]]) -> None:
    """Run ``measure`` and print the medians, then each pair's median per-round ratio."""
    load_before = os.getloadavg()[0]  # other work on the machine skews every row: say how much
    seconds, cpu_seconds, rss = measure(listed, rounds)

    def paired_ratio(times: Timings, top: str, bottom: str) -> float:
        return statistics.median(a / b for a, b in zip(times[top], times[bottom], strict=True))

    print(f"{rounds} rounds, {sys.executable}, Python {sys.version.split()[0]}")
    print(f"1-minute load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    width = max(40, *(len(name) + 1 for name in listed))
    print(f"{'command':<{width}} {'median s':>9} {'min s':>6} {'max s':>6} {'CPU s':>6} {'peak RSS':>9}")
    for name in listed:
        print(
            f"{name:<{width}} {statistics.median(seconds[name]):>9.3f} {min(seconds[name]):>6.3f} "
            f"{max(seconds[name]):>6.3f} {statistics.median(cpu_seconds[name]):>6.3f} "
            f"{statistics.median(rss[name]):>5.0f} MiB"
        )
    print("ratios, median of the per-round ratios: wall time, CPU time")
    for top, bottom in pairs:
        wall, cpu = paired_ratio(seconds, top, bottom), paired_ratio(cpu_seconds, top, bottom)
        print(f"  {top} / {bottom}: {wall:.2f}×, {cpu:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    rounds = parser.parse_args().rounds
    listed = commands()
    pairs = [(INSPECT_JSON, BARE), (INSPECT, BARE), (INSPECT, IMPORT_TORCH), (BARE, IMPORT_TORCH)]
    pairs.append((HELP, IMPORT_TORCH))
    if TORCHINFO in listed:
        pairs += [(TORCHINFO, BARE), (INSPECT, TORCHINFO)]
    else:
        print("  (torchinfo is not importable here: its comparison is skipped)")
    print_table(listed, rounds, pairs)


if __name__ == "__main__":
    main()
