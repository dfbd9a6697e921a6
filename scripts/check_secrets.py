"""Fail on a secret in the repository (`make secrets`, part of `make test`).

detect-secrets (offline, no network) scans every file git knows or would
add (tracked, and new files not ignored). Every finding must be listed in
.secrets.baseline AND labelled there as not a secret ("is_secret": false):
the test constants (fake app secrets and Twilio tokens in tests/channels),
the placeholder URLs of the docs. Anything else fails, with its file, line
and kind. Matching is by file and the secret's hash, so lines may move.

To allow-list a new test constant: end its line with
`# pragma: allowlist secret`, or add it to the baseline and label it:
    .venv/bin/detect-secrets scan --baseline .secrets.baseline
    .venv/bin/detect-secrets audit .secrets.baseline
This script never writes the baseline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from detect_secrets.core import baseline
from detect_secrets.core.secrets_collection import SecretsCollection

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ".secrets.baseline"


def files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [f for f in listed.split("\0") if f and f != BASELINE and (ROOT / f).is_file()]


def main() -> int:
    # Paths relative to the repository, as in the baseline (a collection made
    # with root= keeps stale hashes and matches nothing).
    os.chdir(ROOT)
    data = baseline.load_from_file(BASELINE)
    known = baseline.load(data, BASELINE)  # also applies its plugins and filters
    unlabelled = [
        f"{name}:{entry.get('line_number')} {entry.get('type')}"
        for name, entries in data.get("results", {}).items()
        for entry in entries
        if entry.get("is_secret") is not False
    ]
    found = SecretsCollection()
    found.scan_files(*files())
    new = found - known
    problems = [f"{name}:{secret.line_number} {secret.type}" for name, secret in new]
    for line in problems:
        print(f"secret? {line}", file=sys.stderr)
    for line in unlabelled:
        print(f'{BASELINE} lists {line} without "is_secret": false', file=sys.stderr)
    if problems or unlabelled:
        print(
            f"{len(problems)} new possible secret(s), {len(unlabelled)} unlabelled baseline "
            "entr(y/ies); see scripts/check_secrets.py to allow-list a test constant.",
            file=sys.stderr,
        )
        return 1
    print(f"No secrets: {len(known.files)} file(s) with allow-listed test values or placeholders.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
