"""The benchmark report's arithmetic (fastnn/_bench/report.py) on made-up timings whose ratios
are worked out by hand, so that the table RESULTS.md and the README show is computed right."""

import json

import pytest

from fastnn._bench import report, workloads

SIZES = workloads.Sizes(mnist_samples=1280)  # 10 batches of 128


def ok(*times, **extra):
    return {"status": "ok", "times": list(times), "threadpools": [], **extra}


def made_up_results():
    results = {name: {} for name in workloads.WORKLOADS}
    results["tutorial_fit"] = {"fastnn": ok(0.01, 0.02, 0.03), "tensorflow": ok(3.0, 2.0, 4.0),
                               "numpy": ok(0.1, 0.2, 0.3)}
    mb = 2**20
    results["mnist_epoch"] = {
        "fastnn": ok(1.0, 2.0, 3.0, rss_before_bytes=10 * mb, rss_peak_bytes=80 * mb,
                     data_bytes=20 * mb),
        "tensorflow": ok(5.0, 6.0, 7.0),
        "sklearn": ok(4.0, 5.0, 6.0)}
    # NumPy's matmuls of one batch-128 step: 10 steps per epoch at 0.15 s -> 1.5 s median.
    results["matmul"] = {"numpy": ok(0.1, 0.15, 0.2)}
    results["predict_one"] = {"fastnn": ok(4e-6, 5e-6, 9e-6)}
    results["predict_10k"] = {"fastnn": ok(0.01, 0.02), "tensorflow": ok(0.05, 0.07)}
    extra = {"threads_1": ok(3.0, 3.6), "threads_2": ok(2.0, 2.0), "import_seconds": 0.25,
             "predict_callers_1": ok(0.3, 0.34, 0.36), "predict_callers_2": ok(0.2, 0.16, 0.2),
             "matmul_numpy_threads_1": ok(3.0, 4.0, 5.0), "matmul_numpy_threads_2": ok(2.0, 2.5),
             "matmul_fastnn_threads_1": ok(3.0, 3.3), "matmul_fastnn_threads_2": ok(2.0, 2.2)}
    return results, extra


def test_targets_are_peer_time_over_fastnn_time_from_medians_and_minimums():
    results, extra = made_up_results()
    rows = {name: (value, met) for name, value, met in report.targets(results, extra, SIZES)}
    assert rows["tutorial fit vs TensorFlow's Keras >= 100x"] == ("150.0x (200.0x)", True)
    assert rows["tutorial fit vs NumPy MLP >= 10x"] == ("10.0x (10.0x)", True)
    assert rows["MNIST-scale epoch vs TensorFlow's Keras >= 3x"] == ("3.0x (5.0x)", True)
    assert rows["MNIST-scale epoch vs scikit-learn >= 3x"] == ("2.5x (4.0x)", False)
    # bound: 1.5 s of NumPy matmuls for a 2 s epoch (minimums: 1.0 s for 1.0 s).
    assert rows["MNIST-scale epoch >= 85% of the NumPy-sgemm bound"] == ("75% (100%)", False)
    assert rows["predict, 1 sample < 10 µs"] == ("5 µs (4 µs)", True)
    assert rows["predict, 10,000 samples vs TensorFlow's Keras >= 3x"] == ("4.0x (5.0x)", True)
    assert rows["MNIST-scale epoch, 2 threads vs 1 >= 1.8x"] == ("1.65x (1.50x)", False)
    # The products' speed-up in the same rounds: NumPy 4.0 / 2.25 and 3.0 / 2.0.
    assert rows["(reference) the epoch's 8 products, 2 threads vs 1: NumPy's BLAS"] == (
        "1.78x (1.50x)", None)
    assert rows["(reference) the epoch's 8 products, 2 threads vs 1: fastnn"] == (
        "1.50x (1.50x)", None)
    # medians 0.34 s / 0.2 s; minimums 0.3 s / 0.16 s.
    assert rows["predict 10,000 rows in each of 2 threads at once vs in turn in 1, one model "
                ">= 1.6x"] == ("1.70x (1.88x)", True)
    assert rows["MNIST-scale fit peak memory < data + 100 MB"] == ("data + 50 MB (data + 50 MB)",
                                                                   True)
    assert rows["import fastnn < 0.3 s"] == ("0.250 s (0.250 s)", True)
    ceiling = "(reference) scikit-learn epoch / NumPy-sgemm bound: the ratio at 100% of the bound"
    assert rows[ceiling] == ("3.3x (4.0x)", None)


def test_rendered_report_marks_missed_targets_and_reference_rows():
    results, extra = made_up_results()
    text = report.render(results, extra, SIZES, quick=False, seconds=12.0, load_start="0.1")
    assert "| MNIST-scale epoch vs scikit-learn >= 3x | 2.5x (4.0x) | **no** |" in text
    assert "| tutorial fit vs NumPy MLP >= 10x | 10.0x (10.0x) | yes |" in text
    assert "| (reference) fastnn epoch GFLOP/s |" in text and text.count("| - |") == 5
    # The workload table: fastnn's time, then each peer's time and its ratio.
    assert "| 20 ms | 200 ms (**10.0x**) | 3 s (**150.0x**) |" in text


def test_a_failed_peer_is_reported_not_divided():
    results, extra = made_up_results()
    results["mnist_epoch"]["sklearn"] = {"status": "failed: AssertionError: boom"}
    rows = {name: (value, met) for name, value, met in report.targets(results, extra, SIZES)}
    assert rows["MNIST-scale epoch vs scikit-learn >= 3x"] == ("not measured", False)


@pytest.mark.parametrize("seconds, text", [(2.5, "2.5 s"), (0.0123, "12.3 ms"),
                                           (4.6e-6, "4.6 µs")])
def test_time_format(seconds, text):
    assert report.fmt_time(seconds) == text


def test_a_new_run_keeps_the_hand_written_notes(tmp_path):
    results_file = tmp_path / "RESULTS.md"
    assert report.kept_notes(results_file) == ""
    results_file.write_text("# old table\n| a | b |\n\n" + report.NOTES_HEADING + "\n\nwhy\n")
    assert report.kept_notes(results_file) == "\n" + report.NOTES_HEADING + "\n\nwhy\n"


def test_the_full_run_runs_every_workload_once_with_the_bound_next_to_its_epoch():
    order = workloads.RUN_ORDER
    assert sorted(order) == sorted(workloads.WORKLOADS)
    assert order.index("matmul") == order.index("mnist_epoch") + 1


def test_thread_counts_keeps_the_products_timed_beside_the_epoch(monkeypatch):
    """run_one --alternate-threads prints the epoch's lines and the products' lines; the
    report keys the epoch by count and the products by workload, peer and count."""
    lines = [{"peer": "fastnn", "workload": "mnist_epoch", "threads": 1, "times": [3.0]},
             {"peer": "fastnn", "workload": "mnist_epoch", "threads": 2, "times": [2.0]},
             {"peer": "numpy", "workload": "matmul", "threads": 2, "times": [0.5]}]

    class Done:
        returncode, stderr = 0, ""
        stdout = "noise\n" + "\n".join(json.dumps(line) for line in lines)

    monkeypatch.setattr(report.subprocess, "run", lambda *a, **k: Done())
    extra = report.thread_counts(quick=True)
    assert extra["threads_1"]["times"] == [3.0] and extra["threads_2"]["times"] == [2.0]
    assert extra["matmul_numpy_threads_2"]["times"] == [0.5]
    assert "matmul_numpy_threads_1" not in extra   # not printed: no row can divide by it
