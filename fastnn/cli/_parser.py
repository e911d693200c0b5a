"""The command line's grammar: ``fastnn {train,predict,evaluate,summary,bench,info}``."""

from __future__ import annotations

import argparse
import sys

from fastnn.cli._dataset import TASKS


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        sizes = []
    if (not sizes and text.strip()) or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of layer widths such as 128,64 (or '' for none)")
    return sizes


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction in [0, 1)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastnn",
        description="Train, run and inspect multilayer perceptrons with fastnn.",
        epilog="Run 'fastnn COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(commands)
    _add_predict(commands)
    _add_evaluate(commands)
    summary = commands.add_parser("summary", help="print a saved model's layers",
                                  description="Print a saved model's layers and what data it "
                                  "was trained on.")
    summary.add_argument("model", metavar="MODEL.keras")
    bench = commands.add_parser("bench", help="run the benchmark report",
                                description="Time fastnn against NumPy and TensorFlow's Keras "
                                "and print the report. Other options go to the report.")
    bench.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    commands.add_parser("info", help="version, OpenMP, threads, BLAS and SIMD path",
                        description="Print what this build of fastnn runs on.")
    return parser


def _add_train(commands) -> None:
    train = commands.add_parser(
        "train", help="train an MLP on a CSV file (or on scikit-learn's digits)",
        description="Train an MLP on a CSV file whose first line names the columns: every "
        "column but --target is a numeric feature; a text target, or one of at most 20 "
        "integers, is a class label, other numbers are a regression target. With no file, "
        "train on scikit-learn's digits. Prints the held-out accuracy (R² for regression) and "
        "saves the model as .keras.")
    train.add_argument("data", nargs="?", metavar="DATA.csv",
                       help="the training data (default: scikit-learn's digits)")
    train.add_argument("--target", metavar="COLUMN",
                       help="the column to predict (required with DATA.csv)")
    train.add_argument("--task", choices=TASKS, default="auto",
                       help="auto (the default) guesses from the target")
    train.add_argument("--hidden", type=_hidden_sizes, default=[128, 64], metavar="N,N,...",
                       help="widths of the hidden layers (default: 128,64)")
    train.add_argument("--activation", default="relu",
                       help="the hidden layers' activation (default: %(default)s)")
    train.add_argument("--epochs", type=_positive_int, default=30, metavar="N",
                       help="(default: %(default)s)")
    train.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                       help="(default: %(default)s)")
    train.add_argument("--optimizer", default="adam",
                       help="a Keras optimizer's name (default: %(default)s)")
    train.add_argument("--learning-rate", type=float, default=None, metavar="RATE",
                       help="the optimizer's learning rate (default: its own default)")
    train.add_argument("--validation-split", type=_fraction, default=0.1, metavar="FRACTION",
                       help="of the training rows, to validate on after each epoch "
                       "(default: %(default)s)")
    train.add_argument("--test-size", type=_fraction, default=0.2, metavar="FRACTION",
                       help="of the rows, held out to score the trained model "
                       "(default: %(default)s)")
    train.add_argument("--early-stopping", type=_positive_int, nargs="?", const=5,
                       default=None, metavar="PATIENCE",
                       help="stop when the validation loss has not improved for PATIENCE "
                       "epochs (5 if no number is given) and keep the best weights")
    train.add_argument("--seed", type=int, default=0,
                       help="seeds the split and the weights (default: %(default)s)")
    train.add_argument("--threads", type=int, default=None, metavar="N",
                       help="kernel threads (default: OpenMP's, which honours "
                       "OMP_NUM_THREADS); -1 = all CPUs")
    train.add_argument("-o", "--output", metavar="PATH.keras",
                       help="where to save the model (default: NAME.keras, NAME from the data)")
    train.add_argument("--plot", metavar="PATH.png",
                       help="save the loss and metric curves as an image (needs matplotlib)")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                       help="0 silent, 1 progress bar, 2 one line per epoch (default: 1 on a "
                       "terminal, 2 otherwise)")


def _add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict", help="predict with a saved model",
        description="Predict every row of a CSV file; writes CSV: the predicted label and "
        "each class's probability, or the predicted value.")
    predict.add_argument("model", metavar="MODEL.keras")
    predict.add_argument("data", metavar="DATA.csv")
    predict.add_argument("-o", "--out", metavar="PATH", help="write here (default: stdout)")
    predict.add_argument("--batch-size", type=_positive_int, default=1024)


def _add_evaluate(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="score a saved model on labelled data",
        description="Score a saved model on a CSV file: the loss and accuracy, or R², MAE "
        "and RMSE for regression.")
    evaluate.add_argument("model", metavar="MODEL.keras")
    evaluate.add_argument("data", metavar="DATA.csv")
    evaluate.add_argument("--target", metavar="COLUMN",
                          help="the column to score against (default: the one the model "
                          "was trained on by fastnn train)")
    evaluate.add_argument("--batch-size", type=_positive_int, default=1024)


def _version() -> str:
    from fastnn import __version__

    return f"fastnn {__version__} (Python {sys.version.split()[0]})"
