"""fastnn: fast multilayer perceptrons on the CPU."""

from fastnn import config
from fastnn._info import show_config

__version__ = "0.1.0"

__all__ = ["config", "show_config", "__version__"]
