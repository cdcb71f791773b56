"""notebooks/analysis.ipynb runs top to bottom on a fresh `fervid analyze` output, so it never rots."""

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "analysis.ipynb"


@pytest.mark.slow
def test_analysis_notebook_runs_on_real_timelines(videos, untrained_model, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    import ray

    from fervid.pipeline.job import AnalyzeConfig, analyze

    started_ray = not ray.is_initialized()  # analyze() starts a local Ray when none is up; stop only that one
    try:
        summary = analyze([videos / "man_single_face.mp4"], tmp_path / "t.parquet",
                          AnalyzeConfig(model_path=str(untrained_model), sample_fps=10))
    finally:
        if started_ray:
            ray.shutdown()
    assert summary.faces > 0

    monkeypatch.setenv("FERVID_TIMELINES", str(summary.out))  # the parameter cell reads it
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
                            ).execute()  # raises CellExecutionError, with the cell and traceback, on any error

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    html = "".join(output.get("data", {}).get("text/html", "") for output in outputs)
    assert "man_single_face.mp4" in html and "dominant" in html and "frames_with_faces" in html
    assert sum("image/png" in output.get("data", {}) for output in outputs) == 2  # timeline + shares


def test_notebook_calls_only_the_library():
    nbformat = pytest.importorskip("nbformat")
    source = "\n".join(cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells
                       if cell.cell_type == "code")
    assert "from fervid.pipeline." in source
    assert "def " not in source  # logic lives in fervid.pipeline, where it is tested
    assert "/work/" not in source and "/home/" not in source  # no machine-specific paths
