"""fervid: per-frame facial-expression timelines for folders of video.

The package is laid out by stage, one way from video to Parquet:

- ``fervid.model``    the paper's CNN, FER2013-style data, training, artifacts, evaluation
- ``fervid.pipeline`` decode -> detect -> crop -> classify -> timeline rows -> Parquet (Ray Data)
- ``fervid.cli``      the ``fervid`` command, a thin layer over the two above

Nothing heavy (TensorFlow, Ray, OpenCV) is imported here, so ``import fervid`` is instant.
"""

__version__ = "0.1.0"

# In an installed copy, fervid/model and fervid/pipeline are real subfolders. In a source checkout they sit
# beside this folder (pyproject's package-dir maps them), and a Ray job started with `--working-dir .` puts
# the checkout first on sys.path, where this folder shadows the installed package. Looking beside it too
# makes `fervid.model` and `fervid.pipeline` resolve the same way in both cases.
import os as _os

_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_checkout, "model", "network.py")):
    __path__.append(_checkout)
