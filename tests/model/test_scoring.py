"""Scoring: mean per-class recall beside accuracy, and scoring against FER+ votes."""

import numpy as np
import pytest

from fervid.model.evaluate import classification_report, evaluate, format_report, vote_calibration
from fervid.model.labels import FER2013_LABELS


def test_mean_recall_counts_every_class_alike_where_accuracy_follows_the_prior():
    true = np.array([0] * 8 + [1] * 2)
    always_first = np.zeros(10, np.int64)  # answers the frequent class every time
    report = classification_report(true, always_first, ("common", "rare", "absent"))
    assert report["accuracy"] == 0.8 and report["mean_recall"] == 0.5  # "absent" has no support: not averaged


def test_calibration_against_the_votes():
    shares = np.array([[0.7, 0.3, 0.0], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6]])
    perfect = vote_calibration(shares, shares)  # probabilities that are the votes' shares
    assert perfect["ece"] == 0 and perfect["cross_entropy"] == pytest.approx(perfect["votes_entropy"], abs=1e-4)
    overconfident = vote_calibration(np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]), shares)
    assert overconfident["ece"] == pytest.approx((0.3 + 0.0 + 0.4) / 3, abs=1e-4)
    assert overconfident["cross_entropy"] > perfect["cross_entropy"]


def test_the_shipped_model_scored_against_the_ferplus_val_votes(ferplus, fer2013):
    report = evaluate(ferplus / "val.csv", images=fer2013)
    assert report["scored_against"] == "majority vote" and report["n"] == 3545 and report["labels"] == \
        list(FER2013_LABELS)
    assert report["fer2013_labels"]["n"] == 3571 and report["input_normalization"] == "equalized"
    assert 0.6 < report["accuracy"] < 0.8 and 0.6 < report["mean_recall"] < 0.8
    assert 0 < report["calibration"]["ece"] < 0.2 and report["calibration"]["cross_entropy"] > \
        report["calibration"]["votes_entropy"]
    text = format_report(report)
    assert "mean per-class recall" in text and "expected calibration error" in text and "FER2013's labels" in text
