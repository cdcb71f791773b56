"""Accuracy, mean per-class recall, per-class precision/recall/F1 and the confusion matrix of an artifact on a
labelled set; on a votes CSV (FER+), also how well its probabilities match the votes.

Accuracy rewards a model for the class prior of the set it is scored on (FER+ val is 36% neutral); mean per-class
recall counts every expression alike, which is what fervid's users need, so every report gives both.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fervid.errors import FervidError


def classification_report(true: np.ndarray, predicted: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Plain numpy metrics; rows of the confusion matrix are true classes, columns predictions."""
    k = len(labels)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (true, predicted), 1)
    per_class = {}
    for i, name in enumerate(labels):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
                           "f1": round(float(f1), 4), "support": int(confusion[i].sum())}
    supported = [row["recall"] for row in per_class.values() if row["support"]]
    return {"accuracy": round(float(np.trace(confusion) / max(1, confusion.sum())), 4),
            "mean_recall": round(float(np.mean(supported)), 4) if supported else 0.0,  # classes with support
            "n": int(confusion.sum()), "labels": list(labels), "per_class": per_class,
            "confusion_matrix": confusion.tolist()}


CALIBRATION_BINS = 10  # equal-width confidence bins for the expected calibration error


def vote_calibration(probabilities: np.ndarray, shares: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Do the probabilities mean what they say, judged by the votes' shares (N, classes; each row sums to 1)?

    ``ece``: faces binned by the probability of their predicted label; per bin, the gap between that mean
    probability and the mean share of votes the predicted label got, weighted by the bin's faces (0 = a 70%
    answer gets 70% of the taggers' votes on average). ``cross_entropy``: mean -sum(share * log p), the loss a
    model trained on the vote distribution minimises (its floor is the votes' own entropy, also given).
    """
    probabilities, shares = np.asarray(probabilities, np.float64), np.asarray(shares, np.float64)
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    agreement = shares[np.arange(len(shares)), predicted]
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gaps = [abs(confidence[which == b].mean() - agreement[which == b].mean()) * np.mean(which == b)
            for b in range(bins) if np.any(which == b)]
    entropy = -(shares * np.log(np.where(shares > 0, shares, 1))).sum(axis=1).mean()
    return {"ece": round(float(np.sum(gaps)), 4),
            "cross_entropy": round(float(-(shares * np.log(np.clip(probabilities, 1e-7, 1))).sum(axis=1).mean()), 4),
            "votes_entropy": round(float(entropy), 4), "n": int(len(shares))}


def evaluate(data: str | os.PathLike, model_path: str | os.PathLike | None = None, *,
             mirror: bool = False, usage: str | None = None, engine: str = "auto",
             images: str | os.PathLike | None = None) -> dict:
    """Score an artifact (default: the shipped one) on a class-folder tree, fer2013.csv split, .npz or votes CSV
    (``images``: where its files are), with one of the engines of ``fervid.model.predict`` (``auto``: the int8 twin
    on LiteRT; ``tensorflow``: the fp32 file).

    On a votes CSV the report scores the majority vote of the faces that have usable votes, adds ``calibration``
    (``vote_calibration``), and, when the CSV gives FER2013's own labels, ``fer2013_labels``: the same faces (all
    of them) scored against those.
    """
    from .data import load_dataset
    from .predict import make_classifier

    classifier = make_classifier(model_path, engine, mirror=mirror)
    dataset = load_dataset(data, classifier.labels, usage=usage, images=images)
    if dataset.classes != classifier.labels:
        raise FervidError(f"{data}: classes {list(dataset.classes)} differ from the model's "
                          f"{list(classifier.labels)}")
    probabilities = classifier.predict(dataset.images)
    predicted = probabilities.argmax(axis=1)
    if dataset.votes is None:
        report = classification_report(dataset.labels, predicted, classifier.labels)
    else:
        voted = dataset.has_votes()
        shares = dataset.vote_shares()[voted]
        report = classification_report(shares.argmax(axis=1), predicted[voted], classifier.labels)
        report.update(scored_against="majority vote", calibration=vote_calibration(probabilities[voted], shares))
        given = classification_report(dataset.labels, predicted, classifier.labels)
        report["fer2013_labels"] = {key: given[key] for key in ("accuracy", "mean_recall", "n")}
    report.update(params=classifier.info.network.parameters(), data=str(data), mirror=mirror,
                  engine=classifier.engine, input_normalization=classifier.info.input_normalization,
                  skipped=len(dataset.skipped), converted=dataset.converted,
                  model=str(model_path) if model_path else "shipped default")
    return report


def per_class_lines(report: dict, heading: str = "") -> list[str]:
    """The per-class precision / recall / F1 / support table of a report, as text lines."""
    lines = [f"{'class':<10}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}{heading}"]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<10}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}"
                     f"{row['support']:>9}")
    return lines


def format_report(report: dict) -> str:
    against = f" (against the {report['scored_against']})" if "scored_against" in report else ""
    lines = [f"accuracy {report['accuracy']:.4f}, mean per-class recall {report['mean_recall']:.4f} on "
             f"{report['n']} faces{against} ({report['params']:,} parameters)"]
    if "calibration" in report:
        calibration = report["calibration"]
        lines.append(f"against the vote distribution: expected calibration error {calibration['ece']:.4f}, "
                     f"cross-entropy {calibration['cross_entropy']:.4f} (the votes' own entropy "
                     f"{calibration['votes_entropy']:.4f})")
    if "fer2013_labels" in report:
        given = report["fer2013_labels"]
        lines.append(f"against FER2013's labels: accuracy {given['accuracy']:.4f}, mean per-class recall "
                     f"{given['mean_recall']:.4f} on {given['n']} faces")
    lines += per_class_lines(report)
    labels = report["labels"]
    lines.append("confusion matrix (rows true, columns predicted): " + " ".join(x[:3] for x in labels))
    lines += [f"  {name[:8]:<9}" + " ".join(f"{n:>5}" for n in row)
              for name, row in zip(labels, report["confusion_matrix"])]
    return "\n".join(lines)


def plot_confusion(report: dict, path: str | os.PathLike) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(report["confusion_matrix"], float)
    shares = matrix / np.maximum(1, matrix.sum(axis=1, keepdims=True))
    labels = report["labels"]
    figure, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{int(count)}", ha="center", va="center",
                color="white" if shares[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {report['accuracy']:.3f} on {report['n']} faces")
    figure.colorbar(image, ax=ax, label="share of true class")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
