"""The exception the command line prints as one line instead of a traceback."""


class CLIError(Exception):
    """Bad input from the user: shown as ``fastnn: error: <message>``, exit status 1."""
