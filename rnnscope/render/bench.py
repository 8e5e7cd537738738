"""The bench view: time per pass, throughput, and the rate against a plain matmul."""

from __future__ import annotations

from rich.console import Group, RenderableType

from rnnscope.render.common import count, new_table, note_lines
from rnnscope.report import BenchReport


def bench_view(report: BenchReport) -> RenderableType:
    """Time per pass with its spread, throughput, and the rate against a plain matmul."""
    timing = report.timing
    what = "forward + backward" if report.backward else "forward (inference mode)"
    table = new_table(f"{report.module}: {what} on {report.device}, {report.dtype}, {report.iters} passes")
    table.add_column("", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("", style="dim")
    table.add_row("median", _ms(timing.median_s), "per pass")
    table.add_row(
        "spread",
        f"{_ms(timing.min_s)} – {_ms(timing.max_s)}",
        "min – max, wide" if timing.wide else "min – max",
    )
    table.add_row("IQR", f"{_ms(timing.q1_s)} – {_ms(timing.q3_s)}", "quartiles")
    table.add_row("tokens/s", count(report.tokens_per_s), f"{report.tokens_per_pass:,} tokens per pass")
    table.add_row("GFLOP/s", f"{report.gflops:,.4g}", f"{count(report.flops_per_pass)} FLOPs per pass")
    m, k, n = report.matmul_shape
    table.add_row("matmul GFLOP/s", f"{report.matmul_gflops:,.4g}", f"({m}, {k}) @ ({k}, {n})")
    table.add_row("of matmul", f"{report.fraction_of_matmul:.0%}", "layer GFLOP/s ÷ matmul GFLOP/s")
    cores = f", {report.cores} cores here" if report.cores else ""
    table.add_row("threads", str(report.threads), f"torch intra-op threads{cores}")
    lines = note_lines(report.notes)
    return Group(table, *lines)


def _ms(seconds: float) -> str:
    """Milliseconds with three significant figures, without an exponent."""
    milliseconds = seconds * 1e3
    return f"{milliseconds:,.0f} ms" if milliseconds >= 100 else f"{milliseconds:.3g} ms"
