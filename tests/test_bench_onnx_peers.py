"""The benchmark's ONNX Runtime and int8 peers (fastnn/_bench/peers/onnxruntime*.py,
torch_int8.py): each predict case passes its check at the quick sizes before it could be timed,
and the int8 check rejects outputs that are not the model's."""

import numpy as np
import pytest

from fastnn._bench import peers, workloads

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("peer", ["onnxruntime", "onnxruntime_int8", "torch_int8"])
@pytest.mark.parametrize("workload", ["predict_one", "predict_10k"])
def test_predict_cases_pass_their_checks(peer, workload):
    module = peers.load(peer)
    if module.missing():
        pytest.skip(f"{peer}: {module.missing()}")
    case = module.CASES[workload](workloads.QUICK)      # raises AssertionError when wrong
    x, _, layers, weights = workloads.predict_setup(
        1 if workload == "predict_one" else workloads.QUICK.predict_rows,
        "tutorial" if workload == "predict_one" else "mnist")
    want = workloads.reference_forward(x, weights, layers)
    got = np.asarray(case.run())
    assert got.shape == want.shape
    if "int8" not in peer:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_the_int8_check_rejects_other_outputs():
    from fastnn._bench.peers.onnxruntime import check_quantized

    x, _, layers, weights = workloads.predict_setup(200, "mnist")
    want = workloads.reference_forward(x, weights, layers)
    check_quantized(want + 0.01, want, "shifted")       # within 0.02: accepted
    with pytest.raises(AssertionError, match="largest error"):
        check_quantized(want + 0.03, want, "shifted")
    with pytest.raises(AssertionError, match="argmax agreement"):
        check_quantized(want[::-1], want, "other rows")
    with pytest.raises(AssertionError, match="output shape"):
        check_quantized(want[:, :5], want, "columns missing")


def test_a_peer_not_installed_is_skipped_and_shown(monkeypatch):
    from fastnn._bench import report

    real_load = peers.load

    def load(peer):
        module = real_load(peer)
        if peer != "torch_int8":
            return module
        fake = type(module)("torch_int8_missing")
        fake.CASES, fake.missing = module.CASES, lambda: "not installed"
        return fake

    started = []
    monkeypatch.setattr(peers, "load", load)
    monkeypatch.setattr(report, "run_one", lambda peer, names, quick: started.append(peer)
                        or {name: {"status": "ok", "times": [1.0]} for name in names})
    monkeypatch.setattr(report, "thread_counts", lambda quick: {})
    monkeypatch.setattr(report, "concurrent_predict", lambda quick: {})
    monkeypatch.setattr(report, "import_seconds", lambda: 0.1)
    monkeypatch.setattr(report, "memmap_memory", lambda quick: {})
    results, _ = report.run_all(quick=True, log=lambda line: None)
    assert "torch_int8" not in started and "onnxruntime_int8" in started
    assert results["predict_10k"]["torch_int8"] == {"status": "not installed"}
    header = report.table(results)[0]
    assert header.endswith("| onnxruntime | onnxruntime_int8 | torch_int8 |")
    row = next(r for r in report.table(results) if r.startswith("| predict, 10,000"))
    assert row.endswith("| not installed |")
