#!/usr/bin/env python3
"""Generate small, REAL checkpoint files (written by real libraries' own save
code) used as test fixtures for `rnnscope load FILE`, plus MANIFEST.md that
describes each of them.  Every fact in MANIFEST.md (constructor arguments,
state_dict key names and shapes, container paths, what
`torch.load(weights_only=True)` does) is printed from the live objects / the
files just written, never typed by hand.

Setup (CPU only, no model hub access needed; all models are built from scratch
with tiny sizes and trained for at most one step on random data):

    python3 -m venv venv
    venv/bin/pip install torch==2.13.0
    echo "torch==2.13.0" > constraints.txt
    venv/bin/pip install -c constraints.txt pytorch-forecasting   # lightning_forecasting.ckpt
    venv/bin/pip install -c constraints.txt flair                 # flair_lm.pt
    venv/bin/pip install -c constraints.txt neuralforecast        # neuralforecast_lstm.safetensors

Run (writes next to this script, i.e. into data/):

    venv/bin/python tests/data/make_fixtures.py            # all fixtures
    venv/bin/python tests/data/make_fixtures.py torchscript legacy   # only some

A fixture that fails (e.g. its library is not installed) is reported as FAILED
in MANIFEST.md with its traceback; the others are still written.  Running only
some fixtures keeps the other files' sections of MANIFEST.md / manifest.json.
Everything is seeded (seed 0); byte-for-byte identical output is not guaranteed:
tensor values are reproducible, but some bytes are not
(torch zip archives carry a random `.data/serialization_id`; the legacy format
keys storages by memory address; safetensors' `__metadata__` order varies).
The script re-executes itself with PYTHONHASHSEED=0 so TorchScript's generated
code is stable.  It also writes manifest.json, the machine-readable twin of
MANIFEST.md (per file: size, sha256, recurrent layers with constructor,
attributes, state_dict path and key shapes, all state_dict keys, and the result
of torch.load(weights_only=True) with and without the writing libraries).
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import os
import sys
import tempfile
import traceback
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
SECTIONS: dict[str, str] = {}  # file name -> markdown section
RECORDS: dict = {}  # machine-readable twin of MANIFEST.md -> manifest.json
CUR: dict = {}

warnings.filterwarnings("ignore")
os.environ.setdefault("TQDM_DISABLE", "1")


# ----------------------------------------------------------------------------
# helpers that describe live objects / written files
# ----------------------------------------------------------------------------
def seed(s: int = SEED) -> None:
    import random

    random.seed(s)
    torch.manual_seed(s)
    try:
        import numpy as np

        np.random.seed(s)
    except ImportError:
        pass


def ver(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "not installed"


def rnn_ctor(m: nn.Module) -> str:
    """Exact constructor call of an nn.RNNBase instance, from its attributes.

    Arguments equal to the nn defaults are left out (bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0, nonlinearity='tanh')."""
    assert isinstance(m, nn.RNNBase), type(m)
    base = {"LSTM": "nn.LSTM", "GRU": "nn.GRU", "RNN_TANH": "nn.RNN", "RNN_RELU": "nn.RNN"}[m.mode]
    args = [str(m.input_size), str(m.hidden_size)]
    if m.num_layers != 1:
        args.append(f"num_layers={m.num_layers}")
    if m.mode == "RNN_RELU":
        args.append("nonlinearity='relu'")
    if not m.bias:
        args.append("bias=False")
    if m.batch_first:
        args.append("batch_first=True")
    if m.dropout:
        args.append(f"dropout={m.dropout!r}")
    if m.bidirectional:
        args.append("bidirectional=True")
    if getattr(m, "proj_size", 0):
        args.append(f"proj_size={m.proj_size}")
    s = f"{base}({', '.join(args)})"
    cls = type(m)
    if cls not in (nn.LSTM, nn.GRU, nn.RNN):
        s += f"  — actual class `{cls.__module__}.{cls.__qualname__}` (subclass of {base})"
    return s


def recurrent_modules(model: nn.Module) -> list[tuple[str, nn.RNNBase]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.RNNBase)]


def shape_of(v) -> str:
    if isinstance(v, torch.Tensor):
        return str(list(v.shape))
    if hasattr(v, "shape"):
        return str(list(v.shape))
    return repr(type(v))


def keys_table(sd, prefixes: list[str], dtype=True) -> str:
    lines = ["| key | shape | dtype |", "| --- | --- | --- |"]
    n = 0
    for k, v in sd.items():
        if any(k.startswith(p + ".") for p in prefixes):
            dt = str(v.dtype).replace("torch.", "") if hasattr(v, "dtype") else "?"
            lines.append(f"| `{k}` | `{shape_of(v)}` | {dt} |")
            n += 1
    assert n, f"no keys under {prefixes}"
    return "\n".join(lines)


def sd_keys(sd) -> str:
    CUR["all_state_dict_keys"] = {k: (list(v.shape) if hasattr(v, "shape") else None) for k, v in sd.items()}
    return all_keys(sd)


def all_keys(sd) -> str:
    return ", ".join(f"`{k}`" for k in sd)


BLOCK_FOR_BARE_TORCH = [
    "pytorch_forecasting",
    "lightning",
    "pytorch_lightning",
    "torchmetrics",
    "flair",
    "neuralforecast",
    "safetensors",
    "sklearn",
    "pandas",
]

_WO_PROBE = r"""
import json, sys
for m in sys.argv[2:]:
    sys.modules[m] = None          # make the module un-importable
import torch
try:
    obj = torch.load(sys.argv[1], weights_only=True, map_location="cpu")
    print(json.dumps({"ok": True, "type": type(obj).__module__ + "." + type(obj).__qualname__}))
except Exception as e:
    print(json.dumps({"ok": False, "exc": type(e).__module__ + "." + type(e).__qualname__, "msg": str(e)}))
"""


def _wo_probe(path: str, blocked: list[str]) -> dict:
    import json
    import subprocess

    r = subprocess.run(
        [sys.executable, "-c", _WO_PROBE, path, *blocked], capture_output=True, text=True, check=True
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def _wo_describe(res: dict) -> str:
    import re

    if res["ok"]:
        return f"**loads** (returns a `{res['type']}`)"
    msg = res["msg"].rstrip()
    mo = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n\s*\n|$)", msg, re.S)
    note = " (ANSI escape bytes ESC are shown as `\\x1b`)" if "\x1b" in msg else ""
    return (
        f"**refuses**: raises `{res['exc']}`."
        + (f" The WeightsUnpickler error text: `` {mo.group(1).strip()} ``." if mo else "")
        + f" Full message{note}:\n\n"
        "```text\n" + msg.replace("\x1b", "\\x1b") + "\n```"
    )


def weights_only_result(path: str) -> str:
    """torch.load(path, weights_only=True), in a fresh interpreter, twice: with every library
    installed here importable, and with the third-party libraries made un-importable (what a
    bare-torch test environment sees).  Reported once if both agree."""
    full = _wo_probe(path, [])
    bare = _wo_probe(path, BLOCK_FOR_BARE_TORCH)
    CUR["weights_only_true"] = {
        "with_writing_libraries": full,
        "bare_torch": bare,
        "bare_torch_blocked_modules": BLOCK_FOR_BARE_TORCH,
    }
    if full == bare:
        return "(same result with or without the writing libraries importable) " + _wo_describe(full)
    return (
        "\n  - with the writing libraries installed: "
        + _wo_describe(full)
        + "\n  - in a bare-torch environment ("
        + ", ".join(f"`{m}`" for m in BLOCK_FOR_BARE_TORCH)
        + " not importable): "
        + _wo_describe(bare)
    )


def _pickle_globals_from(f) -> tuple[int | None, list[str]]:
    """Walk ONE pickle from file object f (no imports); return (protocol, globals)."""
    import pickletools

    proto, found, memo, last = None, [], {}, []
    str_ops = {
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "UNICODE",
        "SHORT_BINSTRING",
        "BINSTRING",
        "STRING",
    }
    for op, arg, _pos in pickletools.genops(f):
        n = op.name
        if n == "PROTO":
            proto = arg
        elif n in ("GLOBAL", "INST"):
            found.append(arg.replace(" ", "."))
        elif n in str_ops:
            last.append(arg)
        elif n == "MEMOIZE":
            memo[len(memo)] = last[-1] if last else None
        elif n in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = last[-1] if last else None
        elif n in ("BINGET", "LONG_BINGET", "GET"):
            last.append(memo.get(int(arg)))
        elif n == "STACK_GLOBAL":
            mod, name = last[-2], last[-1]
            found.append(f"{mod}.{name}")
        else:
            last.append(None)
    seen = []
    for g in found:
        if g not in seen:
            seen.append(g)
    return proto, seen


def pickle_facts(path: str) -> list[str]:
    """Describe the container layout and the pickled globals, statically."""
    import zipfile

    out = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            shown = [n for n in names if not n.split("/")[-1].isdigit()]
            ndata = len(names) - len(shown)
            out.append(
                f"- zip archive; members (excluding {ndata} tensor-storage members `…/data/N`): "
                + ", ".join(f"`{n}`" for n in shown)
            )
            for n in names:
                if n.endswith(".pkl"):
                    proto, g = _pickle_globals_from(io.BytesIO(z.read(n)))
                    out.append(
                        f"- `{n}`: pickle protocol {proto}; globals referenced: "
                        + (", ".join(f"`{x}`" for x in g) or "none")
                    )
    else:
        with open(path, "rb") as f:
            i = 0
            while f.tell() < os.path.getsize(path):
                start = f.tell()
                try:
                    proto, g = _pickle_globals_from(f)
                except Exception:
                    out.append(f"- bytes from offset {start} on: raw tensor storages (not a pickle)")
                    break
                out.append(
                    f"- pickle #{i} (offset {start}): protocol {proto}; globals referenced: "
                    + (", ".join(f"`{x}`" for x in g) or "none")
                )
                i += 1
    return out


def size_of(path: str) -> int:
    return os.path.getsize(path)


def section(name: str, body: list[str]) -> None:
    import hashlib

    SECTIONS[name] = f"## `{name}`\n\n" + "\n".join(body) + "\n"
    path = os.path.join(HERE, name)
    CUR["file"] = name
    CUR["size"] = size_of(path)
    with open(path, "rb") as f:
        CUR["sha256"] = hashlib.sha256(f.read()).hexdigest()
    for ln in body:
        for tag, field in (("- written by: ", "written_by"), ("- container path: ", "container")):
            if ln.startswith(tag) and field not in CUR:
                CUR[field] = ln[len(tag) :]
    RECORDS[name] = dict(CUR)


def rnn_block(prefix: str, m: nn.RNNBase, sd, container: str, path_keys) -> list[str]:
    """path_keys: list of dict keys from the file's root object to the state_dict
    ([] = root is the state_dict / flat tensor map; None = TorchScript module tree)."""
    CUR.setdefault("recurrent_layers", []).append(
        {
            "prefix": prefix,
            "class": f"{type(m).__module__}.{type(m).__qualname__}",
            "constructor": rnn_ctor(m).split("  — ")[0],
            "mode": m.mode,
            "input_size": m.input_size,
            "hidden_size": m.hidden_size,
            "num_layers": m.num_layers,
            "bias": m.bias,
            "batch_first": m.batch_first,
            "dropout": m.dropout,
            "bidirectional": m.bidirectional,
            "proj_size": getattr(m, "proj_size", 0),
            "state_dict_path": path_keys,
            "keys": {k: list(v.shape) for k, v in sd.items() if k.startswith(prefix + ".")},
        }
    )
    return [
        f"### recurrent layer `{prefix}`",
        "",
        f"- prefix (as in the state_dict keys): `{prefix}`",
        "- constructor: `" + rnn_ctor(m).replace("  — ", "` — ", 1) + ("" if "  — " in rnn_ctor(m) else "`"),
        f"- attributes: mode={m.mode!r}, input_size={m.input_size}, hidden_size={m.hidden_size}, "
        f"num_layers={m.num_layers}, bias={m.bias}, batch_first={m.batch_first}, dropout={m.dropout}, "
        f"bidirectional={m.bidirectional}, proj_size={getattr(m, 'proj_size', 0)}",
        f"- container path: {container}",
        "",
        keys_table(sd, [prefix]),
        "",
    ]


# ----------------------------------------------------------------------------
# 4. TorchScript archive holding an nn.GRU (plain torch)
# ----------------------------------------------------------------------------
class TinyGRUTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.gru = nn.GRU(6, 12, num_layers=1, batch_first=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(x))
        return self.head(out)


def make_torchscript() -> None:
    seed()
    path = os.path.join(HERE, "torchscript_gru.pt")
    model = TinyGRUTagger().eval()
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, path)
    loaded = torch.jit.load(path, map_location="cpu")
    sd = loaded.state_dict()
    # check that the archive round-trips the same tensors
    for k, v in model.state_dict().items():
        assert torch.equal(sd[k], v), k
    body = [
        f"- size: {size_of(path)} bytes",
        f"- written by: torch {torch.__version__} — `torch.jit.save(torch.jit.script(model), path)` "
        "(TorchScript zip archive: `code/`, `constants.pkl`, `data.pkl`, `data/N` …)",
        "- model: `TinyGRUTagger` = embed `nn.Embedding(20, 6)` → gru → head `nn.Linear(12, 3)`; "
        "see the data.pkl globals below for the TorchScript class names",
        "- container path: the module object itself is the pickle root of `data.pkl`; its submodule "
        "attribute `gru` holds the parameters as attributes (no state_dict dict inside the file); "
        "`torch.jit.load(path).state_dict()` gives the keys below",
        f"- all state_dict keys (torch.jit.load(...).state_dict()): {sd_keys(sd)}",
        "",
    ]
    for prefix, m in recurrent_modules(model):
        body += rnn_block(prefix, m, sd, "submodule attribute path `gru` of the scripted root module", None)
    body += ["### static layout", "", *pickle_facts(path), ""]
    body.append("- `torch.load(path, weights_only=True)`: " + weights_only_result(path))
    body.append("- `torch.jit.load(path)`: loads.")
    section("torchscript_gru.pt", body)


# ----------------------------------------------------------------------------
# 5. legacy (pre-zip) torch.save of a state_dict with bidirectional 2-layer LSTM
# ----------------------------------------------------------------------------
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 5)
        self.rnn = nn.LSTM(5, 8, num_layers=2, bidirectional=True)


class Seq2Vec(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.out = nn.Linear(16, 2)


def make_legacy() -> None:
    seed()
    path = os.path.join(HERE, "legacy_lstm.pt")
    model = Seq2Vec()
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)
    sd = torch.load(path, weights_only=True, map_location="cpu")
    assert list(sd.keys()) == list(model.state_dict().keys())
    with open(path, "rb") as f:
        head = f.read(2)
    body = [
        f"- size: {size_of(path)} bytes",
        f"- written by: torch {torch.__version__} — "
        "`torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)` "
        f"(legacy non-zip format: magic-number pickle, protocol-version pickle, sys-info pickle, "
        f"then the data pickle, then a pickle of storage keys and raw storages; first bytes {head!r})",
        "- container path: the root object is the state_dict itself "
        f"(a `{type(sd).__module__}.{type(sd).__qualname__}`)",
        f"- all keys: {sd_keys(sd)}",
        "",
    ]
    for prefix, m in recurrent_modules(model):
        body += rnn_block(prefix, m, sd, "root state_dict (an OrderedDict)", [])
    body += ["### static layout", "", *pickle_facts(path), ""]
    body.append("- `torch.load(path, weights_only=True)`: " + weights_only_result(path))
    section("legacy_lstm.pt", body)


# ----------------------------------------------------------------------------
# 6. DataParallel(torch.compile(model)) training checkpoint dict
# ----------------------------------------------------------------------------
class GRUForecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 10, num_layers=2, batch_first=True, dropout=0.1)
        self.proj = nn.Linear(10, 1)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.proj(out[:, -1])


def make_dataparallel_compiled() -> None:
    seed()
    path = os.path.join(HERE, "dataparallel_compiled.pt")
    model = GRUForecaster()
    # torch.compile only wraps (compilation is lazy: happens on first call), so
    # building the wrapper is cheap; we do not run it.  DataParallel on a CPU-only
    # machine just wraps it as `.module`.
    compiled = torch.compile(model)
    dp = nn.DataParallel(compiled)
    opt = torch.optim.Adam(dp.parameters(), lr=1e-3)
    # one optimisation step, run through the *uncompiled* module (same parameters)
    x = torch.randn(3, 5, 4)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
    sd = dp.state_dict()
    assert all(k.startswith("module._orig_mod.") for k in sd), list(sd)
    ckpt = {"epoch": 3, "model_state_dict": sd, "optimizer_state_dict": opt.state_dict()}
    torch.save(ckpt, path)
    back = torch.load(path, weights_only=True, map_location="cpu")
    body = [
        f"- size: {size_of(path)} bytes",
        f"- written by: torch {torch.__version__} — `torch.save({{'epoch': 3, 'model_state_dict': "
        "nn.DataParallel(torch.compile(model)).state_dict(), 'optimizer_state_dict': "
        "torch.optim.Adam(...).state_dict()}, path)` (zip format), after one Adam step",
        f"- root keys: {all_keys(back)}; `epoch` = {back['epoch']!r}",
        "- container path: the state_dict sits under root key `model_state_dict`; keys are prefixed "
        "`module._orig_mod.` (DataParallel `module.` + OptimizedModule `_orig_mod.`)",
        f"- all model_state_dict keys: {sd_keys(back['model_state_dict'])}",
        f"- optimizer_state_dict: keys {all_keys(back['optimizer_state_dict'])}; "
        f"state entries {sorted(back['optimizer_state_dict']['state'])}, each with keys "
        f"{sorted(back['optimizer_state_dict']['state'][0])}",
        "",
    ]
    for prefix, m in recurrent_modules(dp):
        body += rnn_block(
            prefix, m, back["model_state_dict"], "root dict → key `model_state_dict`", ["model_state_dict"]
        )
    lin = dp.module._orig_mod.proj
    body.append(f"- next to it: `module._orig_mod.proj` = `nn.Linear({lin.in_features}, {lin.out_features})`")
    body.append("")
    body += ["### static layout", "", *pickle_facts(path), ""]
    body.append("- `torch.load(path, weights_only=True)`: " + weights_only_result(path))
    section("dataparallel_compiled.pt", body)


# ----------------------------------------------------------------------------
# 1. pytorch-forecasting RecurrentNetwork (LSTM) Lightning checkpoint
# ----------------------------------------------------------------------------
def make_lightning_forecasting() -> None:
    import lightning.pytorch as pl
    import numpy as np
    import pandas as pd
    from pytorch_forecasting import RecurrentNetwork, TimeSeriesDataSet

    seed()
    pl.seed_everything(SEED, workers=True, verbose=False)
    path = os.path.join(HERE, "lightning_forecasting.ckpt")
    rng = np.random.default_rng(SEED)
    n_series, n_steps = 2, 30
    df = pd.DataFrame(
        {
            "series": np.repeat([f"s{i}" for i in range(n_series)], n_steps),
            "time_idx": np.tile(np.arange(n_steps), n_series),
            "value": rng.normal(size=n_series * n_steps).astype("float32").cumsum(),
        }
    )
    ds = TimeSeriesDataSet(
        df,
        time_idx="time_idx",
        target="value",
        group_ids=["series"],
        max_encoder_length=6,
        max_prediction_length=2,
        time_varying_unknown_reals=["value"],
        static_categoricals=["series"],
    )
    dl = ds.to_dataloader(train=True, batch_size=4, num_workers=0)
    model = RecurrentNetwork.from_dataset(ds, cell_type="LSTM", hidden_size=8, rnn_layers=2, dropout=0.1)
    trainer = pl.Trainer(
        max_steps=1,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tempfile.mkdtemp(),
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trainer.fit(model, train_dataloaders=dl)
    trainer.save_checkpoint(path)
    ck = torch.load(path, weights_only=False, map_location="cpu")
    sd = ck["state_dict"]
    hp = ck.get("hyper_parameters", {})
    lib_objs = []
    for k, v in hp.items():
        t = type(v)
        if t.__module__.split(".")[0] not in ("builtins",):
            lib_objs.append(f"`{k}`: `{t.__module__}.{t.__qualname__}`")
    dsp = ck.get("dataset_parameters")
    dsp_objs = []
    if isinstance(dsp, dict):
        for k, v in dsp.items():
            t = type(v)
            if t.__module__.split(".")[0] not in ("builtins",):
                dsp_objs.append(f"`{k}`: `{t.__module__}.{t.__qualname__}`")
    body = [
        f"- size: {size_of(path)} bytes",
        f"- written by: pytorch-forecasting {ver('pytorch-forecasting')}, lightning {ver('lightning')}, "
        f"torch {torch.__version__} — `RecurrentNetwork.from_dataset(ds, cell_type='LSTM', hidden_size=8, "
        "rnn_layers=2, dropout=0.1)` on a tiny `TimeSeriesDataSet` (2 random-walk series × 30 steps, "
        "encoder 6, horizon 2), `lightning.pytorch.Trainer(max_steps=1).fit(...)`, then "
        "`trainer.save_checkpoint(path)` (zip format)",
        f"- root keys: {all_keys(ck)}",
        "- container path: the model state_dict sits under root key `state_dict` (keys without any "
        "`model.` prefix — the LightningModule *is* the model)",
        f"- all state_dict keys: {sd_keys(sd)}",
        f"- `hyper_parameters` keys: {all_keys(hp)}",
        "- non-builtin objects in `hyper_parameters` (top level): " + ("; ".join(lib_objs) or "none"),
        "- non-builtin objects in root `dataset_parameters` (top level): " + ("; ".join(dsp_objs) or "none"),
        "",
    ]
    for prefix, m in recurrent_modules(model):
        body += rnn_block(prefix, m, sd, "root dict → key `state_dict`", ["state_dict"])
    body += ["### static layout", "", *pickle_facts(path), ""]
    body.append("- `torch.load(path, weights_only=True)`: " + weights_only_result(path))
    body.append("- `torch.load(path, weights_only=False)`: loads (pytorch_forecasting importable).")
    section("lightning_forecasting.ckpt", body)


# ----------------------------------------------------------------------------
# 2. flair LanguageModel (character LSTM LM) saved by flair's own .save()
# ----------------------------------------------------------------------------
def make_flair() -> None:
    import flair
    from flair.data import Dictionary
    from flair.models import LanguageModel

    flair.device = torch.device("cpu")
    seed()
    path = os.path.join(HERE, "flair_lm.pt")
    d = Dictionary(add_unk=True)
    for ch in "abcdefghijklmnop \n":
        d.add_item(ch)
    lm = LanguageModel(d, is_forward_lm=True, hidden_size=16, nlayers=1, embedding_size=8)
    lm.save(path)  # flair: torch.save(model_state, file, pickle_protocol=4)
    ck = torch.load(path, weights_only=False, map_location="cpu")
    sd = ck["state_dict"]
    back = LanguageModel.load_language_model(path)
    assert list(back.state_dict()) == list(sd)
    extra = {k: v for k, v in ck.items() if k not in ("state_dict", "dictionary")}
    body = [
        f"- size: {size_of(path)} bytes",
        f"- written by: flair {ver('flair')}, torch {torch.__version__} — "
        f"`flair.models.LanguageModel(Dictionary(add_unk=True) + {len(d) - 1} chars "
        f"(len {len(d)}), is_forward_lm=True, hidden_size=16, nlayers=1, embedding_size=8)` "
        "(untrained), then `lm.save(path)` — which calls "
        "`torch.save(model_state, path, pickle_protocol=4)` (zip format, data.pkl pickled with protocol 4)",
        f"- root keys: {all_keys(ck)}",
        "- root scalar entries: " + ", ".join(f"`{k}`={v!r}" for k, v in extra.items()),
        f"- root `dictionary`: a `{type(ck['dictionary']).__module__}.{type(ck['dictionary']).__qualname__}` "
        f"with {len(ck['dictionary'])} items",
        "- container path: the state_dict sits under root key `state_dict`",
        f"- all state_dict keys: {sd_keys(sd)}",
        "",
    ]
    for prefix, m in recurrent_modules(lm):
        body += rnn_block(prefix, m, sd, "root dict → key `state_dict`", ["state_dict"])
    body += ["### static layout", "", *pickle_facts(path), ""]
    body.append("- `torch.load(path, weights_only=True)`: " + weights_only_result(path))
    import pickle

    body.append(
        f"- note: operand {pickle.FRAME[0]} = 0x{pickle.FRAME[0]:02x} is pickle opcode FRAME "
        f"({pickle.FRAME!r}), which protocol >= 4 emits; torch's weights-only unpickler does not accept it."
    )
    body.append(
        "- `LanguageModel.load_language_model(path)` and `torch.load(path, weights_only=False)`: load."
    )
    section("flair_lm.pt", body)


# ----------------------------------------------------------------------------
# 3. neuralforecast LSTM, saved by BaseModel.save() (safetensors, hparams in header)
# ----------------------------------------------------------------------------
def _safetensors_facts(path: str) -> tuple[list[str], dict]:
    import json
    import struct

    from safetensors import safe_open

    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    with safe_open(path, framework="pt") as f:
        for k in f:
            tensors[k] = f.get_tensor(k)
    lines = [
        f"- safetensors header: {n} bytes of JSON after the 8-byte length; {len(header)} tensors",
        "- `__metadata__` keys: " + (", ".join(f"`{k}`" for k in meta) or "none"),
    ]
    for k, v in meta.items():
        short = v if len(v) <= 300 else v[:300] + f"… ({len(v)} chars)"
        lines.append(f"  - `{k}`: `{short}`")
    lines.append(
        "- all tensor keys (file order = sorted by offset): "
        + ", ".join(f"`{k}`" for k in sorted(header, key=lambda k: header[k]["data_offsets"][0]))
    )
    return lines, tensors


def _make_nf(fname: str, recurrent: bool) -> None:
    import logging

    import numpy as np
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM

    for lg in ("lightning", "lightning.pytorch", "pytorch_lightning", "neuralforecast"):
        logging.getLogger(lg).setLevel(logging.ERROR)
    seed()
    path = os.path.join(HERE, fname)
    rng = np.random.default_rng(SEED)
    n = 24
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], n),
            "ds": np.tile(np.arange(n), 2),
            "y": rng.normal(size=2 * n).cumsum().astype("float32"),
        }
    )
    kwargs = dict(
        h=2,
        input_size=6,
        encoder_n_layers=2,
        encoder_hidden_size=8,
        decoder_hidden_size=8,
        decoder_layers=1,
        max_steps=1,
        batch_size=2,
        random_seed=SEED,
        recurrent=recurrent,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
        devices=1,
    )
    model = LSTM(**kwargs)
    nf = NeuralForecast(models=[model], freq=1)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        nf.fit(df)
    fitted = nf.models[0]
    fitted.save(path)  # neuralforecast BaseModel.save -> serialize(): safetensors bytes
    st_lines, tensors = _safetensors_facts(path)
    sd = fitted.state_dict()
    for k, v in sd.items():
        assert k in tensors and tensors[k].shape == v.shape, k
    back = LSTM.load(path)
    assert list(back.state_dict()) == list(sd)
    shown = {
        k: v
        for k, v in kwargs.items()
        if k
        not in (
            "enable_progress_bar",
            "enable_model_summary",
            "logger",
            "enable_checkpointing",
            "accelerator",
            "devices",
        )
    }
    body = [
        f"- size: {size_of(path)} bytes",
        f"- written by: neuralforecast {ver('neuralforecast')} (safetensors {ver('safetensors')}, "
        f"lightning {ver('lightning')}, torch {torch.__version__}) — "
        f"`neuralforecast.models.LSTM({', '.join(f'{k}={v!r}' for k, v in shown.items())})`, "
        "`NeuralForecast(models=[model], freq=1).fit(df)` on 2 random-walk series × 24 steps, then "
        "`nf.models[0].save(path)` (neuralforecast's v2 format: `BaseModel.serialize()` = safetensors "
        "bytes, hyper-parameters as tagged JSON in the safetensors `__metadata__`; no pickle at all)",
        "- container path: the tensors are at the top level of the safetensors file, keys exactly as in "
        "`model.state_dict()` (no prefix)",
        f"- all model.state_dict() keys: {sd_keys(sd)}",
        "",
    ]
    for prefix, m in recurrent_modules(fitted):
        body += rnn_block(prefix, m, tensors, "top level of the safetensors file", [])
    body += ["### static layout", "", *st_lines, ""]
    body.append("- `torch.load(path, weights_only=True)`: " + weights_only_result(path))
    body.append("- `neuralforecast.models.LSTM.load(path)` and `safetensors.torch.load_file(path)`: load.")
    section(fname, body)


def make_neuralforecast() -> None:
    _make_nf("neuralforecast_lstm.safetensors", recurrent=False)


def make_neuralforecast_proj() -> None:
    # recurrent=True makes neuralforecast build its LSTM with proj_size=1 (weight_hr_l* keys)
    _make_nf("neuralforecast_lstm_proj.safetensors", recurrent=True)


FIXTURES = OrderedDict(
    [
        ("lightning", make_lightning_forecasting),
        ("flair", make_flair),
        ("neuralforecast", make_neuralforecast),
        ("neuralforecast_proj", make_neuralforecast_proj),
        ("torchscript", make_torchscript),
        ("legacy", make_legacy),
        ("dataparallel", make_dataparallel_compiled),
    ]
)


FILES = {
    "lightning": "lightning_forecasting.ckpt",
    "flair": "flair_lm.pt",
    "neuralforecast": "neuralforecast_lstm.safetensors",
    "neuralforecast_proj": "neuralforecast_lstm_proj.safetensors",
    "torchscript": "torchscript_gru.pt",
    "legacy": "legacy_lstm.pt",
    "dataparallel": "dataparallel_compiled.pt",
}


def _old_sections(md_path: str) -> dict[str, str]:
    """Sections of an existing MANIFEST.md, by file name (kept on a partial run)."""
    import re

    if not os.path.exists(md_path):
        return {}
    text = Path(md_path).read_text()
    parts = re.split(r"(?m)^(?=## `)", text)
    out = {}
    for part in parts[1:]:
        m = re.match(r"## `([^`]+)`", part)
        out[m.group(1)] = part.rstrip("\n") + "\n"
    return out


def main(argv: list[str]) -> int:
    import json

    unknown = [a for a in argv if a not in FIXTURES]
    if unknown:
        print(f"unknown fixture(s) {unknown}; choose from {list(FIXTURES)}", file=sys.stderr)
        return 2
    wanted = argv or list(FIXTURES)
    md_path = os.path.join(HERE, "MANIFEST.md")
    js_path = os.path.join(HERE, "manifest.json")
    if argv:  # partial run: keep what the other fixtures wrote before
        SECTIONS.update(_old_sections(md_path))
        if os.path.exists(js_path):
            RECORDS.update(json.loads(Path(js_path).read_text()))
    failed = []
    for name in wanted:
        print(f"== {name}", flush=True)
        CUR.clear()
        CUR["torch"] = torch.__version__
        try:
            FIXTURES[name]()
        except Exception:
            traceback.print_exc()
            failed.append(name)
            fname = FILES[name]
            SECTIONS[fname] = (
                f"## `{fname}`\n\nFAILED — not (re)generated:\n\n```text\n{traceback.format_exc()}```\n"
            )
            RECORDS[fname] = {"file": fname, "failed": traceback.format_exc()}
    header = [
        "# rnnscope checkpoint fixtures",
        "",
        "Generated by `make_fixtures.py` (see its docstring for setup). Everything below is printed "
        "from the live objects and the written files; do not edit by hand — rerun the script. "
        "`manifest.json` holds the same facts in machine-readable form.",
        "",
        f"- python {sys.version.split()[0]}, torch {torch.__version__}",
        "- library versions: "
        + ", ".join(
            f"{p} {ver(p)}"
            for p in (
                "pytorch-forecasting",
                "lightning",
                "torchmetrics",
                "flair",
                "neuralforecast",
                "safetensors",
                "numpy",
                "pandas",
            )
        ),
        "- `torch.load(weights_only=True)` results were obtained with the torch version above, in a "
        "fresh interpreter, once with the writing libraries importable and once with "
        + ", ".join(f"`{m}`" for m in BLOCK_FOR_BARE_TORCH)
        + " made un-importable (bare torch).",
        "- sizes are in bytes; shapes are `list(tensor.shape)`.",
        "",
    ]
    order = [FILES[n] for n in FIXTURES]
    with open(md_path, "w") as f:
        f.write("\n".join(header) + "\n" + "\n".join(SECTIONS[k] for k in order if k in SECTIONS))
    with open(js_path, "w") as f:
        json.dump({k: RECORDS[k] for k in order if k in RECORDS}, f, indent=1)
        f.write("\n")
    print("failed:", failed)
    return 1 if failed else 0


if __name__ == "__main__":
    # fixed hash seed: TorchScript's generated code lists class constants in set order
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit(main(sys.argv[1:]))
