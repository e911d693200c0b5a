"""Forking after OpenMP's threads have started: the child runs serially instead of hanging.

libgomp's thread pool does not survive fork (the child has only the forking thread), so a
child's first parallel region used to wait forever (issue #14). The resolver
(fastnn/_kernels/_openmp_helpers.pyx) notices the fork and answers one thread; fresh
interpreters (spawn, forkserver) and children forked before any thread started keep theirs.
Each case runs in its own interpreter with a timeout: the failure being fixed is a hang.
"""

import json

import pytest
from _isolated import run_python

from fastnn._kernels import _openmp_helpers as omp

pytestmark = pytest.mark.skipif(
    not omp.openmp_enabled() or omp.cpu_count() < 2,
    reason="needs OpenMP and 2 CPUs (a parent with one thread has no pool to lose)")

COMMON = """
import json, multiprocessing, os
import numpy as np
import fastnn
from fastnn._kernels._openmp_helpers import effective_n_threads, serial_after_fork

fastnn.utils.set_random_seed(0)
model = fastnn.Sequential([fastnn.Input((64,)), fastnn.layers.Dense(256, activation="relu"),
                           fastnn.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
x = np.random.default_rng(0).normal(size=(4000, 64)).astype(np.float32)
y = np.arange(4000) % 10

def in_child():
    # What a child reports: its thread count, whether it is serial, and its predictions
    # (the same bits as the parent's: results do not depend on the thread count).
    return effective_n_threads(), serial_after_fork(), model.predict(x).tobytes()
"""

TRAINED = COMMON + """
model.fit(x, y, epochs=1, batch_size=256, verbose=0)     # the parent's OpenMP threads run
expected = model.predict(x).tobytes()
"""


def fork_pool_children(n: int) -> str:
    """Script lines: `n` tasks in a fork-started Pool, each predicting in its child; prints
    the parent's thread count and each child's (threads, serial, same bits as `expected`)."""
    return f"""
def work(_):
    threads, serial, out = in_child()
    return threads, serial, out == expected

with multiprocessing.get_context("fork").Pool(2) as pool:
    results = pool.map_async(work, range({n})).get(timeout=90)
print(json.dumps({{"parent_threads": effective_n_threads(), "children": results}}))
"""


def _report(out: str) -> dict:
    report = json.loads(out.splitlines()[-1])
    assert report["parent_threads"] == omp.effective_n_threads() > 1
    return report


def test_os_fork_after_training_predicts_serially_in_the_child():
    out = run_python(TRAINED + """
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    threads, serial, out = in_child()
    os.write(write, json.dumps([threads, serial, out == expected]).encode())
    os._exit(0)
os.close(write)
child = json.loads(os.read(read, 1000))
os.waitpid(pid, 0)
print(json.dumps({"parent_threads": effective_n_threads(), "child": child,
                  "parent_serial": serial_after_fork()}))
""", timeout=120)
    report = _report(out)
    assert report["child"] == [1, True, True]
    assert report["parent_serial"] is False       # the parent keeps its threads


def test_multiprocessing_fork_pool_after_training():
    out = run_python(TRAINED + fork_pool_children(4), timeout=150)
    assert _report(out)["children"] == [[1, True, True]] * 4


def test_a_fork_before_any_thread_started_keeps_its_threads():
    # Nothing ran in parallel in the parent, so there is no pool to lose; the child may use
    # OpenMP, and its predictions are still the bits of serial ones.
    out = run_python(COMMON + """
fastnn.config.set_num_threads(1)
expected = model.predict(x).tobytes()          # one thread: no pool in the parent
fastnn.config.set_num_threads(None)
""" + fork_pool_children(2), timeout=150)
    report = _report(out)
    assert report["children"] == [[report["parent_threads"], False, True]] * 2


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawn_and_forkserver_children_keep_every_thread(method):
    out = run_python(TRAINED + f"""
if __name__ == "__main__":
    ctx = multiprocessing.get_context({method!r})
    with ctx.Pool(1) as pool:
        threads = pool.apply_async(effective_n_threads).get(timeout=90)
        serial = pool.apply_async(serial_after_fork).get(timeout=90)
    print(json.dumps({{"parent_threads": effective_n_threads(), "child": [threads, serial]}}))
""", timeout=150)
    report = _report(out)
    assert report["child"] == [report["parent_threads"], False]


def test_a_fork_while_another_thread_predicts_leaves_the_child_free_to_train():
    # The parent's predicting thread does not exist in the child; a reader count inherited
    # from it would make the child's first fit wait forever.
    out = run_python(COMMON + """
import threading
long_x = np.repeat(x, 10, axis=0)            # a predict of 40,000 rows: mostly in the engine
done, predicted = threading.Event(), threading.Event()

def keep_predicting():
    while not done.is_set():
        model.predict(long_x)
        predicted.set()

t = threading.Thread(target=keep_predicting)
t.start()
predicted.wait()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    model.fit(x, y, epochs=1, batch_size=256, verbose=0)
    os.write(write, json.dumps([int(model.optimizer.iterations), serial_after_fork()]).encode())
    os._exit(0)
os.close(write)
child = json.loads(os.read(read, 1000))
os.waitpid(pid, 0)
done.set()
t.join()
print(json.dumps({"parent_threads": effective_n_threads(), "child": child}))
""", timeout=120)
    assert _report(out)["child"] == [16, True]


def test_a_fork_while_another_thread_trains_refuses_the_childs_torn_copy():
    # The child's copy of the weights is taken part-way through an epoch (one engine call
    # that holds the weights): it may be mid-step, so the child's calls are refused. The
    # parent then stops its fit with Ctrl-C (the engine looks every few milliseconds).
    out = run_python(COMMON + """
import signal, threading, time
big_x = np.repeat(x, 50, axis=0)             # 200,000 rows: one epoch is one long call
big_y = np.repeat(y, 50)
started, state = threading.Event(), {"training": False}

class Signal(fastnn.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        state["training"] = True
        started.set()

def interrupt(signum, frame):
    if state["training"]:
        raise KeyboardInterrupt

signal.signal(signal.SIGINT, interrupt)
read, write = os.pipe()

def fork_during_the_epoch():
    started.wait()
    time.sleep(0.1)                          # the epoch's engine call is under way
    pid = os.fork()
    if pid == 0:
        outcomes = []
        for call in (lambda: model.predict(x), lambda: model.evaluate(x, y, verbose=0)):
            try:
                call()
                outcomes.append("ran")
            except RuntimeError as e:
                outcomes.append(str(e))
        os.write(write, json.dumps(outcomes).encode())
        os._exit(0)
    state["pid"] = pid
    os.kill(os.getpid(), signal.SIGINT)

forker = threading.Thread(target=fork_during_the_epoch)
forker.start()
try:
    model.fit(big_x, big_y, epochs=1, batch_size=32, verbose=0, callbacks=[Signal()])
    interrupted = False
except KeyboardInterrupt:
    interrupted = True
state["training"] = False
forker.join()
os.close(write)
child = json.loads(os.read(read, 10000))
os.waitpid(state["pid"], 0)
after = model.predict(x)                     # the parent is unaffected
print(json.dumps({"parent_threads": effective_n_threads(), "child": child,
                  "interrupted": interrupted, "parent_ok": bool(np.isfinite(after).all())}))
""", timeout=150)
    report = _report(out)
    assert report["interrupted"] and report["parent_ok"], report   # the fork was mid-epoch
    message = ("This process was forked while another thread was training this model, so its "
               "copy of the weights may be part-way through an optimizer step; fork before or "
               "after training, or load the model from a file in the child.")
    assert report["child"] == [message, message], report
