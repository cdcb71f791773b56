"""Accuracy, per-class precision/recall/F1 and the confusion matrix of an artifact on a labelled set."""

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
    return {"accuracy": round(float(np.trace(confusion) / max(1, confusion.sum())), 4),
            "n": int(confusion.sum()), "labels": list(labels), "per_class": per_class,
            "confusion_matrix": confusion.tolist()}


def evaluate(data: str | os.PathLike, model_path: str | os.PathLike | None = None, *,
             mirror: bool = False, usage: str | None = None, engine: str = "auto") -> dict:
    """Score an artifact (default: the shipped one) on a class-folder tree, fer2013.csv split or .npz, with one of
    the engines of ``fervid.model.predict`` (``auto``: the int8 twin on LiteRT; ``tensorflow``: the fp32 file)."""
    from .data import load_dataset
    from .predict import make_classifier

    classifier = make_classifier(model_path, engine, mirror=mirror)
    dataset = load_dataset(data, classifier.labels, usage=usage)
    if dataset.classes != classifier.labels:
        raise FervidError(f"{data}: classes {list(dataset.classes)} differ from the model's "
                          f"{list(classifier.labels)}")
    predicted = classifier.predict(dataset.images).argmax(axis=1)
    report = classification_report(dataset.labels, predicted, classifier.labels)
    report.update(params=classifier.info.network.parameters(), data=str(data), mirror=mirror,
                  engine=classifier.engine, skipped=len(dataset.skipped), converted=dataset.converted,
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
    lines = [f"accuracy {report['accuracy']:.4f} on {report['n']} faces ({report['params']:,} parameters)",
             *per_class_lines(report)]
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
