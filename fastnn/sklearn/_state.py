"""A failed call leaves an estimator as it was: its attributes are put back (the objects
themselves, so fitted models, encoders and histories are the ones from before)."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def unchanged_on_error(estimator):
    saved = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        raise
