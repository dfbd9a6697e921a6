"""``python -m actions``: check the trainers' files, then serve the actions.

Binds to loopback by default (rasa-sdk alone would listen on every
interface). A malformed YAML file stops the start with one clear line.
"""

from __future__ import annotations

import argparse
import sys

from nps.settings import SettingError, load_settings
from nps.trainer_yaml import TrainerFileError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions")
    try:
        settings = load_settings()
    except SettingError as error:
        print(f"The action server cannot start: {error}", file=sys.stderr)
        return 2
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.actions_port)
    args = parser.parse_args(argv)

    from actions import resources

    try:
        resources.get()
    except (TrainerFileError, ValueError) as error:
        print(f"The action server cannot start: {error}", file=sys.stderr)
        return 2

    # No conversation in the logs (storage/log_privacy.py), before anything logs.
    from storage import log_privacy

    log_privacy.install()
    # rasa_sdk.endpoint.run, plus our own failure handler and the hourly
    # erasure/retention sweep (actions/privacy.py).
    from rasa_sdk import utils
    from rasa_sdk.endpoint import create_app
    from rasa_sdk.plugin import plugin_manager

    from actions import privacy

    app = create_app("actions", cors_origins=[])
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    privacy.install(app)
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
