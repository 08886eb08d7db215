"""How a command answers: its lines for a person, or one line of JSON (--json); exit code 2 for bad input."""

import json

EXIT_BAD_INPUT = 2


def emit(args, lines, data):
    for line in lines:
        print(line)
    if args.json:
        print(json.dumps(data))
    return 0
