"""The CLI is thin, but users meet it first: help, one-line errors, and the JSON of `evaluate`."""

import json

import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.model.data import write_synthetic_faces


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("train", "evaluate", "analyze", "summarize", "plot", "annotate", "report"):
        assert command in result.output


def test_evaluate_json_has_the_documented_keys(untrained_model, tmp_path):
    data = write_synthetic_faces(tmp_path, per_class=3)
    result = run("evaluate", "--data", str(data / "val"), "--model", str(untrained_model), "--json",
                 "--png", str(tmp_path / "confusion.png"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["params"] == 4_478_727 and report["n"] == 14 and 0 <= report["accuracy"] <= 1
    assert 0 <= report["mean_recall"] <= 1 and report["input_normalization"] == "equalized"
    assert set(report["per_class"]["happy"]) == {"precision", "recall", "f1", "support"}
    assert (tmp_path / "confusion.png").stat().st_size > 5_000


@pytest.mark.parametrize("make_args, message", [
    (lambda tmp, model: ["evaluate", "--data", str(tmp / "nope"), "--model", str(model)], "no such file or folder"),
    (lambda tmp, model: ["evaluate", "--data", str(tmp), "--model", str(model)], "no class folders found"),
    (lambda tmp, model: ["evaluate", "--data", str(tmp), "--model", str(tmp / "m.keras")], "model file not found"),
    (lambda tmp, model: ["train", "--data", str(tmp / "bad.csv"), "--out", str(tmp / "run")], "line 2"),
    (lambda tmp, model: ["evaluate", "--data", str(tmp / "votes.csv"), "--model", str(model)], "missing disgust"),
])
def test_bad_inputs_give_one_line_errors(untrained_model, tmp_path, make_args, message):
    (tmp_path / "bad.csv").write_text("emotion,pixels\n3,1 2 3\n")
    (tmp_path / "votes.csv").write_text("file,angry,happy\na.png,1,2\n")
    result = run(*make_args(tmp_path, untrained_model))
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_corrupt_model_file_is_one_line(tmp_path):
    data = write_synthetic_faces(tmp_path, per_class=1)
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 garbage")
    result = run("evaluate", "--data", str(data / "val"), "--model", str(tmp_path / "corrupt.keras"))
    assert result.exit_code == 1 and "corrupt.keras: not a fervid model" in result.output
