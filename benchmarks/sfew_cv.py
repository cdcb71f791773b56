"""Film-held-out cross-validation on SFEW 2.0 Train: how a training recipe does on films it never saw.

SFEW's frames of one film share actors, light and grading, so a split by face flatters a model; every split here
goes by film (``labels.csv``'s ``movie``). The faces are cut once by fervid's own analysis path
(``fervid.pipeline.labelled_faces``: detector, FER2013 framing, level crop; 844 of 859 are found) and kept in
``--work``; the films are dealt into 5 folds with a fixed seed, so every recipe and every model meets the same
folds. For each fold the recipe trains on the other folds' faces (plus whatever other sources it mixes in, e.g.
FER2013) and is scored on the fold's faces; the figure is the accuracy over all found faces, pooled, beside the
mean per-class recall.

    .venv/bin/python benchmarks/sfew_cv.py --work /tmp/sfew-cv -- --data ../shared/data/fer2013 \\
        --share 0.5 --share 0.5 --init-from fer2013 --optimizer adam --learning-rate 3e-4 --epochs 15 \\
        --batch-size 64 --best-by last

Everything after ``--`` is ``fervid train``'s own options, as given to the shipped model's training; the SFEW
faces of the training folds are added as the FIRST source (so ``--share`` counts them first). ``model_card.py``
runs the same folds with the recipe a model records.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

SFEW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sfew-train" / "labels.csv"
FOLDS = 5
SEED = 0


def sfew_faces(work: Path, labels_csv: Path = SFEW):
    """SFEW Train cut by the product's own path, cached in ``work``; with each face's film."""
    import pandas as pd

    from fervid.model.data import load_dataset, save_faces
    from fervid.pipeline.labelled_faces import cut_labelled_faces

    cached = work / "sfew-faces.npz"
    if not cached.exists():
        save_faces(cut_labelled_faces(labels_csv, log=lambda line: None), cached)
    faces = load_dataset(cached)
    movie_of = dict(pd.read_csv(labels_csv, dtype=str)[["file", "movie"]].itertuples(index=False))
    return faces, np.array([movie_of[name] for name in faces.files])


def film_folds(movies: np.ndarray, folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """The fold (0..folds-1) of every face: films shuffled with a fixed seed, each dealt to the fold with the fewest
    faces so far, so folds are about the same size and no film is in two."""
    names, counts = np.unique(movies, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    sizes, fold_of = np.zeros(folds, int), {}
    for i in order:
        fold = int(np.argmin(sizes))
        fold_of[names[i]] = fold
        sizes[fold] += counts[i]
    return np.array([fold_of[movie] for movie in movies])


def score(labels: np.ndarray, predicted: np.ndarray, classes) -> dict:
    from fervid.model.evaluate import classification_report

    report = classification_report(labels, predicted, classes)
    return {"accuracy": report["accuracy"], "mean_recall": report["mean_recall"], "faces": int(len(labels))}


def predict(model_path, faces: np.ndarray) -> np.ndarray:
    from fervid.model.predict import make_classifier

    return make_classifier(model_path, engine="tensorflow").predict(faces).argmax(axis=1)


def recipe_key(train_args: list[str]) -> str:
    """12 hex digits naming a recipe whatever the order of its options or how a number is written ("3e-4",
    "0.0003"); repeated options (--data, --share) keep their order."""
    def canonical(value: str) -> str:
        try:
            return repr(float(value))
        except ValueError:
            return value

    pairs, i = [], 0
    while i < len(train_args):
        takes_value = i + 1 < len(train_args) and not train_args[i + 1].startswith("--")
        pairs.append((train_args[i], canonical(train_args[i + 1]) if takes_value else ""))
        i += 2 if takes_value else 1
    ordered = sorted(pairs, key=lambda pair: pair[0])  # stable: repeated options keep their order
    return hashlib.sha256(json.dumps(ordered).encode()).hexdigest()[:12]


def cross_validate(train_args: list[str], work: Path, log=print) -> dict:
    """Train ``fervid train`` with ``train_args`` once per fold, the fold's films left out; score each fold."""
    from click.testing import CliRunner

    from fervid.cli import main
    from fervid.model.data import save_faces

    faces, movies = sfew_faces(work)
    fold_of = film_folds(movies)
    predicted = np.full(len(faces), -1)
    folds = []
    # Fold runs are kept by recipe: the same options (a model card of the model they made) reuse them.
    runs = work / recipe_key(train_args)
    runs.mkdir(parents=True, exist_ok=True)
    (runs / "train_args.json").write_text(json.dumps(train_args))
    for fold in range(FOLDS):
        run = runs / f"fold{fold}"
        held = fold_of == fold
        if not (run / "model.keras").exists():
            train_faces = save_faces(faces.subset(np.flatnonzero(~held)), runs / f"fold{fold}-train" / "sfew-train.npz")
            started = time.monotonic()
            args = ["train", "--data", str(train_faces), *train_args, "--out", str(run)]
            if (run / "config.json").exists():
                args.append("--resume")
            result = CliRunner().invoke(main, args, catch_exceptions=False)
            if result.exit_code:
                raise SystemExit(f"fold {fold}: fervid train failed:\n{result.output}")
            log(f"fold {fold}: trained in {time.monotonic() - started:.0f} s")
        predicted[held] = predict(run / "model.keras", faces.images[held])
        folds.append({"fold": fold, "films": int(len(set(movies[held]))),
                      **score(faces.labels[held], predicted[held], faces.classes)})
        log(f"fold {fold}: {folds[-1]}")
    return {"folds": folds, "pooled": score(faces.labels, predicted, faces.classes), "train_args": train_args}


def whole(model_path, work: Path) -> dict:
    """A model that never saw SFEW scored on all of SFEW Train (its folds would all say the same)."""
    faces, _ = sfew_faces(work)
    return score(faces.labels, predict(model_path, faces.images), faces.classes)


def main(argv: list[str]) -> None:
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the cut faces and the fold runs")
    parser.add_argument("--baseline", default="fer2013", help="model scored on SFEW Train whole, for the ratio")
    args = parser.parse_args(argv[:split])
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = cross_validate(argv[split + 1:], args.work)
    base = whole(args.baseline, args.work)
    pooled = result["pooled"]
    print(f"SFEW Train, {FOLDS} folds by film: accuracy {pooled['accuracy']:.4f}, mean per-class recall "
          f"{pooled['mean_recall']:.4f} over {pooled['faces']} faces ({time.monotonic() - started:.0f} s)")
    print(f"{args.baseline} (never trained on SFEW), all of SFEW Train: accuracy {base['accuracy']:.4f}, mean "
          f"per-class recall {base['mean_recall']:.4f}; ratio {pooled['accuracy'] / base['accuracy']:.3f}")
    (args.work / "cv.json").write_text(json.dumps({**result, "baseline": {args.baseline: base}}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
