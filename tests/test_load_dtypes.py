"""rnnscope load: every dtype torch saves is read with its real dtype, or refused in one line.

torch writes float8, uint16/32/64, the bits types and complex32 with ``_rebuild_tensor_v3`` and
an UntypedStorage sized in bytes; safetensors has its own dtype codes. The files here are written
by torch.save and safetensors themselves (or, for a dtype nobody writes, edited from theirs).
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from rnnscope.checkpoint.reader import read_checkpoint
from tests.helpers import run_cli, run_json
from tests.load_helpers import save

FLOAT8 = ["float8_e4m3fn", "float8_e5m2"]
GATES = "ifgo"


def lstm_state(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {name: tensor.to(dtype) for name, tensor in nn.LSTM(4, 3, num_layers=2).state_dict().items()}


def expected_stats(state: dict[str, torch.Tensor], hidden: int) -> list[dict[str, Any]]:
    """Mean, std, min, max of each gate's rows, computed here from the tensors torch saved."""
    rows = []
    for layer in range(2):
        blocks = {
            "weight_ih": state[f"weight_ih_l{layer}"].double(),
            "weight_hh": state[f"weight_hh_l{layer}"].double(),
            "bias": state[f"bias_ih_l{layer}"].double() + state[f"bias_hh_l{layer}"].double(),
        }
        for tensor, values in blocks.items():
            for index, gate in enumerate(GATES):
                block = values[index * hidden : (index + 1) * hidden]
                rows.append(
                    {
                        "layer": layer,
                        "tensor": tensor,
                        "gate": gate,
                        "mean": float(block.mean()),
                        "std": float(block.std()),
                        "min": float(block.min()),
                        "max": float(block.max()),
                    }
                )
    return rows


def assert_stats(document: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
    expected = expected_stats(state, hidden=3)
    assert [(row["layer"], row["tensor"], row["gate"]) for row in document["stats"]] == [
        (row["layer"], row["tensor"], row["gate"]) for row in expected
    ]
    for shown, computed in zip(document["stats"], expected, strict=True):
        assert [shown[key] for key in ("mean", "std", "min", "max")] == pytest.approx(
            [computed[key] for key in ("mean", "std", "min", "max")]
        )


@pytest.mark.parametrize("dtype", FLOAT8)
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_float8_torch_save(tmp_path: Path, dtype: str, legacy: bool) -> None:
    state = lstm_state(getattr(torch, dtype))
    path = save(tmp_path / "f8.pt", state, _use_new_zipfile_serialization=not legacy)
    document = run_json("load", str(path), "--stats")
    (layer,) = document["layers"]
    assert (layer["dtype"], layer["constructor"]) == (dtype, "nn.LSTM(4, 3, num_layers=2)")
    assert {row["name"]: tuple(row["shape"]) for row in layer["parameters"]} == {
        name: tuple(tensor.shape) for name, tensor in state.items()
    }
    assert document["tensors"] == len(state)
    assert_stats(document, state)
    checkpoint = read_checkpoint(path)
    values = checkpoint.state_dict(checkpoint.layers[0])
    for name, tensor in state.items():  # the same bytes (torch 2.4 compares no float8 values)
        assert values[name].dtype == tensor.dtype
        assert torch.equal(values[name].view(torch.uint8), tensor.view(torch.uint8))
    assert run_json("load", str(path), "--expect", "nn.LSTM(4, 3, 2)")["mismatches"] == []
    assert run_json("load", str(path), "--run")["verify"][0]["ok"] is True


@pytest.mark.parametrize("dtype", [*FLOAT8, "uint16"])
def test_safetensors_dtype_codes(tmp_path: Path, dtype: str) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    if not hasattr(torch, dtype):
        pytest.skip(f"torch {torch.__version__} has no {dtype}")
    state = lstm_state(getattr(torch, dtype))
    path = tmp_path / "f8.safetensors"
    safetensors_torch.save_file(state, str(path))
    document = run_json("load", str(path), "--stats")
    assert document["layers"][0]["dtype"] == dtype
    assert_stats(document, state)
    wrong = run_cli("load", str(path), "--expect", "nn.LSTM(4, 5, 2)", "--json")
    assert wrong.exit_code == 1, wrong.stderr
    mismatch = json.loads(wrong.stdout)
    assert [row["field"] for row in mismatch["mismatches"]] == ["hidden_size"]
    assert "size mismatch for weight_ih_l0" in mismatch["pytorch_error"]


def handwritten_safetensors(path: Path, code: str) -> Path:
    """A safetensors file as its format describes it: 8 bytes of header length, the JSON header,
    the bytes; its dtype code planted."""
    header: dict[str, Any] = {}
    start = 0
    for name, shape in (("rnn.weight_ih_l0", [6, 3]), ("rnn.weight_hh_l0", [6, 2])):
        size = shape[0] * shape[1]
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [start, start + size]}
        start += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(start))
    return path


@pytest.mark.parametrize("code", ["X99", "F4", "F6_E2M3"])
@pytest.mark.parametrize("flags", [[], ["--expect", "nn.GRU(3, 2, bias=False)"], ["--stats"], ["--json"]])
def test_a_dtype_code_rnnscope_does_not_read_is_refused_in_one_line(
    tmp_path: Path, code: str, flags: list[str]
) -> None:
    pytest.importorskip("safetensors")
    path = handwritten_safetensors(tmp_path / "odd.safetensors", code)
    result = run_cli("load", str(path), *flags)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(
        f"error: {path}: refused: tensor 'rnn.weight_ih_l0' has dtype code {code!r}, which rnnscope does "
        "not read (it reads F64, F32, "
    )
    assert "F8_E4M3" in result.stderr and result.stderr.count("\n") == 1


def test_a_handwritten_code_rnnscope_reads(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    document = run_json(
        "load", str(handwritten_safetensors(tmp_path / "e5.safetensors", "F8_E5M2")), "--stats"
    )
    assert (document["layers"][0]["dtype"], document["layers"][0]["constructor"]) == (
        "float8_e5m2",
        "nn.GRU(3, 2, bias=False)",
    )
    assert {row["max"] for row in document["stats"]} == {0.0}  # the planted bytes are zeros


def edited_zip(source: Path, target: Path, old: bytes, new: bytes) -> Path:
    """The archive torch wrote, with ``old`` replaced by ``new`` in its pickle (members stored,
    as torch stores them)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as edited:
        for info in original.infolist():
            data = original.read(info)
            if info.filename.endswith("/data.pkl"):
                assert old in data
                data = data.replace(old, new)
            edited.writestr(info.filename, data)
    return target


def test_a_dtype_torch_does_not_have_is_refused_in_one_line(tmp_path: Path) -> None:
    saved = save(tmp_path / "f8.pt", lstm_state(torch.float8_e4m3fn))
    path = edited_zip(saved, tmp_path / "odd.pt", b"torch\nfloat8_e4m3fn", b"torch\nfloat7_e3m3")
    for flags in ([], ["--stats"], ["--json"]):
        result = run_cli("load", str(path), *flags)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            f"error: {path}: refused: tensor 'weight_ih_l0' is torch.float7_e3m3, a dtype rnnscope does not "
            "know (it reads those torch 2.13 saves)\n"
        )


def test_a_storage_class_torch_does_not_write_is_refused_in_one_line(tmp_path: Path) -> None:
    saved = save(tmp_path / "f32.pt", nn.GRU(2, 3).state_dict())
    path = edited_zip(saved, tmp_path / "odd.pt", b"torch\nFloatStorage", b"torch\nFloat7Storage")
    result = run_cli("load", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: {path}: not a readable checkpoint: a storage of class torch.Float7Storage, which rnnscope "
        "does not know\n"
    )


def test_a_dtype_newer_than_this_torch(tmp_path: Path) -> None:
    """float8_e8m0fnu came after the torch floor (2.4): listed everywhere, its values read where
    this torch has it, and refused in one line where it does not."""
    saved = save(tmp_path / "f8.pt", lstm_state(torch.float8_e4m3fn))
    path = edited_zip(saved, tmp_path / "e8m0.pt", b"torch\nfloat8_e4m3fn", b"torch\nfloat8_e8m0fnu")
    assert run_json("load", str(path))["layers"][0]["dtype"] == "float8_e8m0fnu"
    result = run_cli("load", str(path), "--stats", "--json")
    if hasattr(torch, "float8_e8m0fnu"):
        assert result.exit_code == 0, result.stderr
        assert len(json.loads(result.stdout)["stats"]) == 24  # 2 layers × (ih, hh, bias) × 4 gates
    else:
        assert (result.exit_code, result.stdout) == (2, "")
        assert f"its values are float8_e8m0fnu, a dtype this torch ({torch.__version__}) does not have" in (
            result.stderr
        )
        assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("dtype", "convert"),
    [
        ("complex64", lambda tensor: tensor.to(torch.complex64)),
        ("bool", lambda tensor: tensor > 0),
        ("bits8", lambda tensor: tensor.to(torch.uint8).view(torch.bits8)),
    ],
)
def test_values_that_are_not_numbers(tmp_path: Path, dtype: str, convert: Any) -> None:
    """No mean of complex, bool or bits values means anything, and no float module loads them:
    --stats says so plainly, --run and --from refuse them in one line."""
    path = save(
        tmp_path / "odd.pt", {f"rnn.{name}": convert(t) for name, t in nn.GRU(2, 3).state_dict().items()}
    )
    document = run_json("load", str(path), "--stats")
    assert (document["layers"][0]["dtype"], document["stats"]) == (dtype, [])
    assert (
        f"--stats: no statistics of layer 'rnn': its values are {dtype}, not one real number each"
        in (document["notes"])
    )
    for command in (
        ["load", str(path), "--run"],
        ["layout", "gru", "--from", str(path), "--to", "onnx", "--write", str(tmp_path / "w.npz")],
    ):
        result = run_cli(*command)
        assert (result.exit_code, result.stdout) == (2, ""), result.stdout
        assert f"layer 'rnn' holds {dtype} values, not one real number each: no float module loads them" in (
            result.stderr
        )
        assert result.stderr.count("\n") == 1
