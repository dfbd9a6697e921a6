"""``python -m actions``: check the trainers' files, then serve the actions.

Binds to loopback by default (rasa-sdk alone would listen on every
interface). A malformed YAML file stops the start with one clear line.
"""

from __future__ import annotations

import argparse
import os
import sys

from nps.trainer_yaml import TrainerFileError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)

    from actions import resources

    try:
        resources.get()
    except (TrainerFileError, ValueError) as error:
        print(f"The action server cannot start: {error}", file=sys.stderr)
        return 2

    os.environ["SANIC_HOST"] = args.host
    from rasa_sdk.endpoint import run

    run("actions", port=args.port, cors_origins=[])
    return 0


if __name__ == "__main__":
    sys.exit(main())
