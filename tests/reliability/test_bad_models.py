"""``fervid analyze`` with a broken model file: a usage error (exit 1, one line), before any video is touched.

The artifact checks themselves are tested in tests/model/test_artifact.py; this is the CLI's end of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import matrix
from fervid.cli import main


def run(model: Path, clip: Path, folder: Path):
    out = folder / "t.parquet"
    return CliRunner().invoke(main, ["analyze", str(clip), "--out", str(out), "--model", str(model)]), out


@pytest.mark.parametrize("make, message", [(matrix.truncated_model, "not a fervid model"),
                                           (matrix.nine_label_model, "7 outputs but the file lists 9 labels")])
def test_a_broken_model_is_a_one_line_usage_error(make, message, untrained_model, videos, tmp_path):
    result, out = run(make(untrained_model, tmp_path), videos / matrix.SAMPLE, tmp_path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.strip().startswith("error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*parquet*")) and not list(tmp_path.glob(".t.parquet*"))  # nothing written


@pytest.mark.slow
def test_a_model_keras_refuses_fails_fast_with_one_line(ray_up, untrained_model, videos, tmp_path):
    result, out = run(matrix.lambda_model(untrained_model, tmp_path), videos / matrix.SAMPLE, tmp_path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "lambda.keras: layer" in result.output and "refused (Keras safe mode)" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.glob(".t.parquet*"))  # no partial folder that would block the next run
