"""Does ``rnnscope load`` on a checkpoint of many GB cost what it costs on a small one?

    python benchmarks/load_large.py [--gigabytes 4] [--rounds 5] [--folder /tmp]

Writes two ``torch.save`` checkpoints holding the same ``nn.LSTM(256, 512, 2)`` under
``state_dict``: a small one, and a large one that also holds an embedding table of the given
size (the file is deleted afterwards). Before every timed run both files are dropped from the
page cache (``posix_fadvise(POSIX_FADV_DONTNEED)``), so each run reads from the disk what it
reads. Each round runs ``rnnscope load FILE --json`` (the pickle only: torch is not even
imported) and ``rnnscope load FILE --stats --json`` (which also reads the LSTM's tensor values)
on the small and the large file, in alternating order; the table shows the median wall time, the
peak RSS and the bytes each process read from the disk (``ru_inblock``), and the ratios
large / small.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Run in a child process: the parent must not import torch, or every process it starts would
# report torch's pages in its peak RSS (ru_maxrss counts what the child inherits at fork).
WRITE_SCRIPT = """\
import sys, torch
folder, gigabytes = sys.argv[1], float(sys.argv[2])
torch.manual_seed(0)
lstm = {f"encoder.{k}": v for k, v in torch.nn.LSTM(256, 512, 2).state_dict().items()}
torch.save({"epoch": 1, "state_dict": lstm}, f"{folder}/small.pt")
# torch.empty maps fresh pages: torch.save reads them as zeros without making them resident.
embedding = torch.empty(int(gigabytes * 1024**3 / 4 / 1024), 1024)
torch.save({"epoch": 1, "state_dict": {"embedding.weight": embedding} | lstm}, f"{folder}/large.pt")
"""


def write_checkpoints(folder: Path, gigabytes: float) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-c", WRITE_SCRIPT, str(folder), str(gigabytes)], check=True)
    return folder / "small.pt", folder / "large.pt"


def drop_from_cache(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def run_once(path: Path, flags: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS in MiB and KiB read from the disk by one ``rnnscope load`` process."""
    command = [sys.executable, "-m", "rnnscope", "load", str(path), *flags, "--json"]
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if status != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(command)} failed: {error}")
    # ru_maxrss is in KiB on Linux; ru_inblock counts 512-byte blocks read from the disk.
    return seconds, usage.ru_maxrss / 1024, usage.ru_inblock * 512 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=4.0, help="size of the large file's extra table")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    options = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    variants = {"load": [], "load --stats": ["--stats"]}
    with tempfile.TemporaryDirectory(dir=options.folder) as folder:
        small, large = write_checkpoints(Path(folder), options.gigabytes)
        sizes = {small: small.stat().st_size, large: large.stat().st_size}
        results: dict[tuple[str, Path], list[tuple[float, float, float]]] = {}
        for round_index in range(options.rounds):
            order = (small, large) if round_index % 2 == 0 else (large, small)
            for name, flags in variants.items():
                for path in order:
                    drop_from_cache(small)
                    drop_from_cache(large)
                    results.setdefault((name, path), []).append(run_once(path, flags, env))
    print(f"{options.rounds} rounds, {sys.executable}, page cache dropped before each run")
    print(
        f"{'command':<14}{'file':<10}{'size':>12}{'median s':>10}{'min s':>8}{'max s':>8}"
        f"{'peak RSS':>11}{'read':>13}"
    )
    for (name, path), runs in results.items():
        times = [run[0] for run in runs]
        print(
            f"{name:<14}{path.name:<10}{sizes[path] / 1024**2:>8,.1f} MiB{statistics.median(times):>10.3f}"
            f"{min(times):>8.3f}{max(times):>8.3f}{statistics.median(run[1] for run in runs):>7.0f} MiB"
            f"{statistics.median(run[2] for run in runs):>9,.0f} KiB"
        )
    for name in variants:
        big, little = results[(name, large)], results[(name, small)]
        ratios = [b[0] / s[0] for b, s in zip(big, little, strict=True)]
        memory = statistics.median(run[1] for run in big) / statistics.median(run[1] for run in little)
        print(
            f"{name}: large / small: time {statistics.median(ratios):.2f}× "
            f"(median of per-round ratios), peak RSS {memory:.2f}×"
        )


if __name__ == "__main__":
    main()
