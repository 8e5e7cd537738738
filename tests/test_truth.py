"""Everything printed is true for the run it describes (issue 21): the sentences found wrong,
each against the run's own tensors or settings."""

from __future__ import annotations

from tests.helpers import run_cli, run_json


def test_the_batch_first_note_gives_each_state_its_own_width() -> None:
    document = run_json(
        "inspect", "lstm", "-i", "4", "-H", "8", "--proj-size", "3", "--batch-first", "-L", "2"
    )
    shapes = {row["name"]: tuple(row["shape"]) for row in document["tensors"]}
    note = next(note for note in document["state_notes"] if note.startswith("--batch-first"))
    assert f"h_0 and h_n (D·num_layers, N, H_out) = {shapes['h_n']}" in note
    assert f"c_0 and c_n (D·num_layers, N, H_cell) = {shapes['c_n']}" in note
    assert shapes["c_n"] == (1, 32, 8) and shapes["h_n"] == (1, 32, 3)


def test_dropout_is_said_once_in_rnnscope_words_the_same_in_every_command() -> None:
    one = "--dropout 0.5 does nothing here: PyTorch drops between stacked layers only"
    for command in (["inspect"], ["verify"]):
        notes = run_json(*command, "lstm", "--dropout", "0.5", "-L", "2", "-N", "1")["notes"]
        assert [note for note in notes if "dropout" in note.lower()] == [next(n for n in notes if one in n)]
    assert run_json("draw", "lstm", "--dropout", "0.5")["notes"][0].startswith(one)
    stacked = "--dropout 0.5 acts between stacked layers: on the output of layer 0 as it feeds the next layer"
    inspected = run_json("inspect", "gru", "--dropout", "0.5", "--layers", "2", "-L", "2", "-N", "1")["notes"]
    verified = run_json("verify", "gru", "--dropout", "0.5", "--layers", "2", "-L", "2", "-N", "1")["notes"]
    drawn = run_json("draw", "gru", "--dropout", "0.5", "--layers", "2")["notes"]
    assert inspected[0].startswith(stacked) and inspected[0].endswith("so it dropped")
    assert verified[0].startswith(stacked) and verified[0].endswith("so nothing was dropped")
    assert drawn[0].startswith(stacked) and drawn[0].endswith("in training mode only")


def test_with_lengths_and_no_seq_len_the_padded_length_is_the_longest() -> None:
    document = run_json("inspect", "lstm", "--lengths", "1,2")
    assert document["config"]["seq_len"] == 2
    shapes = {row["name"]: row["shape"] for row in document["tensors"]}
    assert shapes["input"] == [2, 2, 10] and shapes["output_padded"] == [2, 2, 20]
    assert "L × N = 2 × 2 = 4 in the padded input: run unpacked, 25% of the work" in document["notes"][0]
    meta = run_json("inspect", "gru", "--device", "meta", "--lengths", "3,2", "--layers", "2")
    assert meta["forward"] == "ran" and meta["config"]["seq_len"] == 3
    explicit = run_json("inspect", "lstm", "--lengths", "1,2", "--seq-len", "4")
    assert explicit["config"]["seq_len"] == 4
    assert run_json("compare", "--lengths", "3,2")["config"]["seq_len"] == 3
    assert run_json("draw", "rnn", "--lengths", "3,2")["config"]["seq_len"] == 3
    bench = run_json("bench", "rnn", "--lengths", "3,2", "--iters", "1", "--warmup", "0")
    assert bench["config"]["seq_len"] == 3


def test_a_cell_is_shown_without_a_layer_or_direction() -> None:
    result = run_cli("inspect", "lstm", "--cell", "--gates", "-N", "2")
    assert result.exit_code == 0
    assert "0 fwd" not in result.stdout
    assert "Gate blocks of the cell's weights" in result.stdout
    assert "all layers and directions" not in result.stdout
    assert "Parameters of the cell: the closed formula" in result.stdout
    verified = run_cli("verify", "gru", "--cell", "-N", "2")
    assert "0 fwd" not in verified.stdout and "Gate blocks of the cell's weights" in verified.stdout
