import numpy as np
import pytest

from fervid.model.labels import FER2013_LABELS
from fervid.model.network import NetworkConfig, build_model

# Output shape and parameter count of every weighted layer, as printed in the paper's summary table.
PAPER_TABLE = {
    "conv1": ((None, 48, 48, 64), 640), "conv1_bn": ((None, 48, 48, 64), 256),
    "conv2": ((None, 24, 24, 128), 204928), "conv2_bn": ((None, 24, 24, 128), 512),
    "conv3": ((None, 12, 12, 512), 590336), "conv3_bn": ((None, 12, 12, 512), 2048),
    "conv4": ((None, 6, 6, 512), 2359808), "conv4_bn": ((None, 6, 6, 512), 2048),
    "dense1": ((None, 256), 1179904), "dense1_bn": ((None, 256), 1024),
    "dense2": ((None, 512), 131584), "dense2_bn": ((None, 512), 2048),
    "probabilities": ((None, 7), 3591),
}


def test_the_paper_model_has_exactly_4478727_parameters():
    assert build_model().count_params() == NetworkConfig().parameters() == 4_478_727


def test_every_layer_matches_the_papers_summary_table():
    model = build_model()
    for name, (shape, params) in PAPER_TABLE.items():
        layer = model.get_layer(name)
        assert (tuple(layer.output.shape), layer.count_params()) == (shape, params), name


def test_pixel_scaling_is_inside_the_model():
    assert build_model().layers[1].name == "scale_pixels"


def test_the_same_architecture_takes_another_label_set():
    navras = build_model(NetworkConfig(num_classes=9))
    assert navras.output_shape == (None, 9)
    assert navras.count_params() == NetworkConfig(num_classes=9).parameters() == 4_478_727 + 2 * 513


def test_probabilities_sum_to_one():
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    out = np.asarray(build_model()(faces, training=False))
    assert out.shape == (4, len(FER2013_LABELS))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, "at least 2 classes"),
    ({"conv_dropout": 1.0}, "conv_dropout"),
    ({"dense_dropout": -0.1}, "dense_dropout"),
])
def test_bad_network_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NetworkConfig(**kwargs)
