"""The ``fastnn`` command (also ``python -m fastnn``): train, predict, evaluate, summary, bench,
info.

Bad input ends with one line on stderr, ``fastnn: error: ...``, and exit status 1 (2 for a
malformed command line); ``--traceback`` shows the full traceback of an unexpected error.
Heavy modules (scikit-learn, matplotlib, the benchmark report) load only when a command needs
them.
"""

from __future__ import annotations

import sys

from fastnn.cli._errors import CLIError

__all__ = ["CLIError", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    from fastnn.cli._parser import build_parser

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _run(args, extra)
    except KeyboardInterrupt:
        print("fastnn: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # every error becomes one line, as promised
        if args.traceback and not isinstance(e, CLIError):
            raise
        print(f"fastnn: error: {_one_line(e)}", file=sys.stderr)
        return 1


def _run(args, extra: list[str]) -> int:
    from fastnn.cli import _commands, _train

    if args.command == "train":
        return _train.run(args)
    if args.command == "bench":
        return _commands.bench(args, extra)
    return getattr(_commands, args.command)(args)


def _one_line(error: Exception) -> str:
    """The error's message on one line; the exception's type too unless it is a user error."""
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, (CLIError, ValueError, OSError)):
        return message
    return f"{type(error).__name__}: {message} (run with --traceback for details)"
