"""What `rnnscope model` costs against a bare script that imports torch, builds the same model
and runs its forward once: the hooks, the verification and the FLOP count must not dominate.

    python benchmarks/model.py [--rounds 9]

Paired runs in the same process tree and the same run (startup.py's ``measure``); the model is
docs/examples/seq2seq.py's Translator, a bidirectional LSTM encoder and an LSTMCell decoder
called 12 times.
"""

from __future__ import annotations

import argparse
import sys

from startup import IMPORT_TORCH, print_table

TARGET = "docs/examples/seq2seq.py:Translator"
BARE_SCRIPT = """\
import sys, torch
sys.path.insert(0, "docs/examples")
from seq2seq import Translator
torch.manual_seed(0)
model = Translator().eval()
with torch.inference_mode():
    print(tuple(model(torch.randint(0, 100, (8, 20))).shape))
"""
BARE = "bare script: build, one forward"
MODEL = "rnnscope model (tables)"
MODEL_JSON = "rnnscope model --json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    rounds = parser.parse_args().rounds
    python = sys.executable
    model = [python, "-m", "rnnscope", "model", TARGET, "--input", "8,20:int64:100"]
    listed = {
        IMPORT_TORCH: [python, "-c", "import torch"],
        BARE: [python, "-c", BARE_SCRIPT],
        MODEL: model,
        MODEL_JSON: [*model, "--json"],
    }
    print_table(listed, rounds, [(MODEL, BARE), (MODEL_JSON, BARE), (BARE, IMPORT_TORCH)])


if __name__ == "__main__":
    main()
