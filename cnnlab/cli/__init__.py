"""The command line: `python -m cnnlab <command>`.

entry: the parser, the language, and one line with exit code 2 for bad input; commands: training, reproducing
the course, runs, predictions and exports; data_commands: datasets, downloads and a class's own pictures; output:
how a command answers.
"""

from cnnlab.cli.entry import main

__all__ = ["main"]
