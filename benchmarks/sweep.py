"""A sweep of 100 configurations in one process, against one single `inspect` process.

    python benchmarks/sweep.py [--rounds 5]

The goal (issue 22): the 100 configurations in at most 2× the time of one `inspect`, since a
shell loop pays torch's start-up once per configuration. Each round runs both commands, in an
order that alternates from round to round (paired runs); the ratio is the median of the
per-round ratios, in wall time and in CPU time (which other work on the machine moves less).
The loop a script would otherwise write is estimated as 100 × the single run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from startup import ROOT, run_once  # benchmarks/ is this script's folder, first on sys.path

SINGLE = ["inspect", "lstm", "--json"]
# 2 kinds × 5 hidden sizes × 2 depths × 5 sequence lengths: 100 configurations, up to the
# default L = 100, N = 32.
SWEEP = ["inspect", "rnn,lstm", "--hidden-size", "8,16,32,64,128", "--layers", "1,2"]
SWEEP += ["--seq-len", "10,25,50,75,100", "--json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    rnnscope = [sys.executable, "-m", "rnnscope"]
    documents = subprocess.run(
        rnnscope + SWEEP, env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    configurations = len({json.dumps(json.loads(line)["config"]) for line in documents})
    load_before = os.getloadavg()[0]
    commands = {"single": rnnscope + SINGLE, "sweep": rnnscope + SWEEP}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for round_index in range(rounds):
        order = list(commands) if round_index % 2 == 0 else list(reversed(commands))
        for name in order:
            seconds, cpu_seconds, _ = run_once(commands[name], env)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    print(f"{rounds} rounds, {sys.executable}, Python {sys.version.split()[0]}")
    print(f"1-minute load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    for name, command in commands.items():
        print(
            f"{name:<6} {statistics.median(wall[name]):7.3f} s wall (min {min(wall[name]):.3f}), "
            f"{statistics.median(cpu[name]):7.3f} s CPU: rnnscope {' '.join(command[3:])}"
        )
    print(f"the sweep printed {len(documents)} documents for {configurations} distinct configurations")
    for label, times in (("wall", wall), ("CPU", cpu)):
        ratio = statistics.median(a / b for a, b in zip(times["sweep"], times["single"], strict=True))
        print(f"sweep / single, {label} time: {ratio:.2f}× (goal ≤ 2×; a shell loop: {len(documents)}×)")


if __name__ == "__main__":
    main()
