"""CategoricalFocalCrossentropy on the engine's kernel against the autograd head, same fit.

The benchmark's tutorial fit (fastnn/_bench/workloads.py: 2100 samples, 1-16-32-2 softmax,
Adam 1e-4, batch 10, 20 epochs: 4,200 batches) with one-hot targets; prints the fit's wall time
(best of 3) and which path ran. With the argument `python-head` the loss is given
alpha=[0.25, 0.25] (the same loss, one alpha per class), which the engine leaves to the
Python-loss path (autograd once per batch). Run from the repository root, alternating:
    PYTHONPATH=. python benchmarks/focal_loss_paths.py python-head
    PYTHONPATH=. python benchmarks/focal_loss_paths.py
"""
import sys
import time

import numpy as np

import fastnn
from fastnn._bench import workloads as w
from fastnn.losses.python_loss import PythonLoss

x, labels = w.tutorial_data(2100)
y = np.eye(2, dtype=np.float32)[labels.astype(int).ravel()]
weights = w.initial_weights(1, w.TUTORIAL_LAYERS)
times = []
for _ in range(3):
    m = fastnn.Sequential([fastnn.Input((1,))] + [fastnn.layers.Dense(u, activation=a)
                                                   for u, a in w.TUTORIAL_LAYERS])
    m.set_weights([a for pair in weights for a in pair])
    alpha = [0.25, 0.25] if sys.argv[1:] == ["python-head"] else 0.25
    m.compile(fastnn.optimizers.Adam(1e-4), fastnn.losses.CategoricalFocalCrossentropy(alpha=alpha))
    t = time.perf_counter()
    h = m.fit(x, y, batch_size=10, epochs=20, verbose=0)
    times.append(time.perf_counter() - t)
path = "python-head" if isinstance(m._loss_specs[0], PythonLoss) else "compiled"
print(f"{fastnn.__file__}: {path} best {min(times):.3f}s of {[round(t, 3) for t in times]} "
      f"loss {h.history['loss'][0]:.5f} -> {h.history['loss'][-1]:.5f}")
