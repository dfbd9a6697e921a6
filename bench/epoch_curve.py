"""How many DIET epochs the NLU needs: held-out scores every few epochs, in one training.

    make bench-epochs
    .venv/bin/python -m bench.epoch_curve --epochs 80 --every 5 --held-out 200

Trains the NLU of config.yml on data/nlu once, with DIET's own validation
switched on (``evaluate_every_number_of_epochs``, and
``evaluate_on_number_of_examples`` examples held out of the training data),
and prints, for every evaluation, the epoch, the seconds since training
started and the held-out intent accuracy, entity F1 and role (polarity) F1
as DIET reports them (token level). The epochs in config.yml are chosen where
this curve flattens: the "stopping point" of `make bench-train`, measured
rather than guessed. The held-out examples are taken from training, so the
figures are a little lower than the real model's; they are for the shape of
the curve. data/eval/ is never used here: it stays a test file.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import yaml

from bench.rasa_cli import train_nlu
from bench.tables import markdown_table
from nps_nlu import is_diet
from tests.bot_process import REPO

# tqdm's progress line: "Epochs:  25%|...| 20/80 [00:41<02:03, 2.05s/it, t_loss=..., val_e_f1=0.9]"
_STEP = re.compile(r"(\d+)/(\d+) \[(\d+):(\d+)(?::(\d+))?<[^,]*,[^,]*,([^\]]*)\]")
_METRIC = re.compile(r"(\w+)=([-\d.e]+)")
METRICS = ("val_i_acc", "val_e_f1", "val_r_f1")


def curve(log: str) -> list[tuple[int, int, dict[str, float]]]:
    """(epoch, seconds, validation metrics) for each epoch that evaluated."""
    points: dict[int, tuple[int, dict[str, float]]] = {}
    for match in _STEP.finditer(log):
        epoch = int(match.group(1))
        parts = [int(g) for g in match.group(3, 4, 5) if g is not None]
        seconds = parts[-1] + 60 * parts[-2] + (3600 * parts[0] if len(parts) == 3 else 0)
        metrics = {k: float(v) for k, v in _METRIC.findall(match.group(6)) if k in METRICS}
        if metrics:
            points[epoch] = (seconds, metrics)
    result: list[tuple[int, int, dict[str, float]]] = []
    for epoch, (seconds, metrics) in sorted(points.items()):
        # tqdm keeps the last validation figures in the line until the next
        # evaluation: an epoch showing the same figures as the one before did
        # not evaluate.
        if not result or result[-1][2] != metrics:
            result.append((epoch, seconds, metrics))
    return result


def config_with_validation(config: Path, epochs: int, every: int, held_out: int, tmp: Path):
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for component in data.get("pipeline") or []:
        if is_diet(component.get("name")):
            component.update(
                epochs=epochs,
                evaluate_every_number_of_epochs=every,
                evaluate_on_number_of_examples=held_out,
            )
            break
    else:
        raise SystemExit(f"{config}: no DIETClassifier in the pipeline")
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.epoch_curve", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", type=Path, default=REPO / "config.yml")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nps-epochs-") as tmp:
        tmp_path = Path(tmp)
        config = config_with_validation(
            args.config, args.epochs, args.every, args.held_out, tmp_path
        )
        _, log, seconds = train_nlu(config, tmp_path, args.timeout)
    points = curve(log)
    print(
        f"DIET on data/nlu, {args.held_out} examples held out, "
        f"evaluated every {args.every} epochs; whole training {seconds:.0f} s\n"
    )
    rows = [
        [str(epoch), f"{secs} s"] + [f"{metrics.get(m, float('nan')):.3f}" for m in METRICS]
        for epoch, secs, metrics in points
    ]
    print(markdown_table(["epoch", "DIET time", "intent acc.", "entity F1", "role F1"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
