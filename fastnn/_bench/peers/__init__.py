"""The contenders. Each module has `missing()` (why it cannot run here, or None) and `CASES`:
workload name -> prepare(sizes) -> `Case`. `prepare` builds the data and model, runs the
workload once and checks the result (raising AssertionError when it is wrong), then returns
the callable to time."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable

# peer name (as the report shows it) -> module in this package.
PEERS = {
    "fastnn": "fastnn",
    "numpy": "numpy_mlp",
    "tensorflow": "tf_keras",
    "torch": "torch",
    "sklearn": "sklearn",
    "onnxruntime": "ort",
}


@dataclasses.dataclass
class Case:
    """A checked workload, ready to time: `run()` does the timed work once."""

    run: Callable[[], object]
    data_bytes: int = 0


def load(peer: str):
    return importlib.import_module(f"fastnn._bench.peers.{PEERS[peer]}")


def missing_module(name: str) -> str | None:
    """"not installed" when `name` cannot be imported (looked up without importing it)."""
    return None if importlib.util.find_spec(name) is not None else "not installed"


def predict_cases(predict: Callable[[int, str], Case]) -> dict:
    """The two predict workloads from a peer's `predict(rows, model)`: one row of the
    tutorial model (the per-call cost) and `predict_rows` rows of the MNIST-scale one."""
    return {"predict_one": lambda sizes: predict(1, "tutorial"),
            "predict_10k": lambda sizes: predict(sizes.predict_rows, "mnist")}
