"""One command that scores any model the same way, for its model card:

    .venv/bin/python benchmarks/model_card.py fer2013 --work /tmp/sfew-cv
    .venv/bin/python benchmarks/model_card.py runs/v3/model.keras --work /tmp/sfew-cv

It prints, each with the mean per-class recall beside the accuracy:
- FER2013 val (PublicTest) on FER2013's original pixels (``../shared/data/ferplus``), the `.keras` file;
- SFEW 2.0 Train: for a model that learnt from SFEW, the film-held-out 5-fold cross-validation of the recipe it
  records (``benchmarks/sfew_cv.py``: the same folds for every model; fold runs kept in ``--work`` by recipe); for
  a model that never saw SFEW, all of SFEW Train (every fold would say the same);
- the dev clips and dev photos (``../shared/data/labelled-video``, ``labelled-faces``) through the whole analysis,
  as ``fervid evaluate --videos`` scores them (the default engine, the model's int8 twin on a CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sfew_cv import cross_validate, whole  # noqa: E402

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SFEW_SOURCE = "sfew-train"  # the name `fervid train` gives the faces it cuts from sfew-train/labels.csv

# TrainConfig fields and the `fervid train` options that set them: how a recorded recipe is replayed per fold.
OPTIONS = {"epochs": "--epochs", "batch_size": "--batch-size", "learning_rate": "--learning-rate",
           "optimizer": "--optimizer", "schedule": "--schedule", "oversample_floor": "--oversample-floor",
           "limit_per_class": "--limit-per-class", "seed": "--seed", "input_normalization": "--input-normalization",
           "fer2013_label_weight": "--fer2013-label-weight", "prior_correction": "--prior-correction",
           "best_by": "--best-by"}


def recipe_args(training: dict) -> list[str]:
    """The ``fervid train`` options (after the SFEW faces) that replay a model's recorded training, SFEW aside."""
    from fervid.model.train import RECIPES

    config, default = training["config"], asdict(RECIPES["default"])
    args = []
    for source in training["sources"][1:]:
        args += ["--data", source["data"]]
    args += [item for share in config["shares"] for item in ("--share", str(share))]
    if training.get("init_from"):
        args += ["--init-from", training["init_from"]]
    if training.get("images"):
        args += ["--images", training["images"]]
    if training.get("val"):
        args += ["--val", training["val"]]
    for field, value in config.items():
        if field == "shares" or value == default[field]:
            continue
        if field not in OPTIONS:
            raise SystemExit(f"the recipe sets {field}={value!r}, which no `fervid train` option replays")
        args += [OPTIONS[field], str(value)]
    return args


def fer2013_original(model) -> dict:
    from fervid.model.evaluate import evaluate

    report = evaluate(SHARED / "ferplus" / "val.csv", model, engine="tensorflow",
                      images=SHARED / "ferplus" / "original-pixels.npz")
    return {key: report["fer2013_labels"][key] for key in ("accuracy", "mean_recall", "n")}  # not FER+'s majority


def dev(labels_csv: Path, model) -> dict:
    from fervid.pipeline.evaluate import evaluate_videos
    from fervid.pipeline.job import AnalyzeConfig

    report = evaluate_videos(labels_csv, AnalyzeConfig(model_path=str(model)))
    return {"right": sum(clip["answer"] == clip["label"] for clip in report["clips"]), "n": len(report["clips"]),
            "accuracy": report["accuracy"], "mean_recall": report["mean_recall"]}


def sfew(model, work: Path) -> dict:
    from fervid.model.artifact import find_model, load_artifact

    _, info = load_artifact(find_model(model))
    sources = info.training.get("sources") or []
    if not sources or sources[0]["name"] != SFEW_SOURCE:
        return {"how": "all of SFEW Train (never trained on it)", **whole(model, work)}
    result = cross_validate(recipe_args(info.training), work)
    return {"how": "5-fold film-held-out CV of its recipe", **result["pooled"]}


def main() -> None:
    parser = argparse.ArgumentParser(description="Score a model for its card: FER2013 val (original pixels), "
                                                 "SFEW Train (film-held-out CV), dev clips, dev photos.")
    parser.add_argument("model", help="a shipped model's name or a .keras file")
    parser.add_argument("--work", type=Path, required=True, help="folder for SFEW's cut faces and fold runs")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: fer2013,sfew,clips,photos")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    parts = {"fer2013": lambda: fer2013_original(args.model),
             "sfew": lambda: sfew(args.model, args.work),
             "clips": lambda: dev(SHARED / "labelled-video" / "labels.csv", args.model),
             "photos": lambda: dev(SHARED / "labelled-faces" / "labels.csv", args.model)}
    results = {}
    for name, measure in parts.items():
        if name in skip:
            continue
        started = time.monotonic()
        results[name] = measure()
        results[name]["seconds"] = round(time.monotonic() - started, 1)
    print(f"model {args.model}")
    titles = {"fer2013": "FER2013 val, original pixels", "sfew": "SFEW Train", "clips": "dev clips",
              "photos": "dev photos"}
    for name, result in results.items():
        right = f" ({result['right']}/{result['n']})" if "right" in result else f" ({result.get('n', result.get('faces'))} faces)"
        how = f", {result['how']}" if "how" in result else ""
        print(f"  {titles[name]:<30} accuracy {result['accuracy']:.4f}{right}, mean per-class recall "
              f"{result['mean_recall']:.4f}{how}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
