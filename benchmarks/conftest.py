"""Record what a benchmark run ran on: fastnn's build, the BLAS libraries and their kernels.

pytest-benchmark stores this under "machine_info" in --benchmark-json output, and
benchmarks/ratios.py prints it above the ratio table.
"""

import os


def pytest_benchmark_update_machine_info(config, machine_info):
    from threadpoolctl import threadpool_info

    import fastnn

    info = fastnn._info.config_info()
    machine_info["fastnn"] = info
    machine_info["threadpools"] = [
        {k: lib.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                 "num_threads", "filepath")}
        for lib in threadpool_info()
    ]
    machine_info["openblas_env"] = {
        k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                       "OMP_NUM_THREADS")
    }
