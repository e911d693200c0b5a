"""fastnn's benchmark suite: the workloads, the peers that also run them, and the report.

``fastnn bench`` (or ``python -m fastnn._bench.report``) runs every (peer, workload) pair in
its own process (``python -m fastnn._bench.run_one PEER WORKLOAD``) and prints one table of
ratios; benchmarks/test_bench_*.py time the same workloads with pytest-benchmark.
"""
