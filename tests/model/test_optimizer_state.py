"""Distributed checkpoints carry the optimizer's state, so a resumed Ray Train run continues the same optimisation."""

import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.model.distributed import restore_optimizer, save_optimizer
from fervid.model.network import NetworkConfig, build_model
from fervid.model.train import TrainConfig, make_optimizer


def trained_optimizer(config: TrainConfig, model, steps: int):
    optimizer = make_optimizer(config, steps_per_epoch=10)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        gradients = [rng.normal(size=tuple(v.shape)).astype(np.float32) for v in model.trainable_variables]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return optimizer


def test_the_step_count_and_moments_survive_a_checkpoint(tmp_path):
    import keras

    config = TrainConfig()
    model = build_model(NetworkConfig())
    saved = trained_optimizer(config, model, steps=3)
    save_optimizer(saved, tmp_path / "optimizer.npz")

    fresh = trained_optimizer(config, model, steps=0)
    restore_optimizer(fresh, tmp_path / "optimizer.npz")
    assert int(keras.ops.convert_to_numpy(fresh.iterations)) == 3  # the LR schedule continues where it was
    pairs = [(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
             for a, b in zip(saved.variables, fresh.variables)]
    assert len(pairs) == 1 + 2 * len(model.trainable_variables)  # the step count, then two moments per weight
    assert all(np.array_equal(a, b) for a, b in pairs)
    assert all(np.abs(b).sum() > 0 for _, b in pairs[1:])  # the moments are restored, not zeros


def test_a_state_from_another_model_is_refused(tmp_path):
    saved = trained_optimizer(TrainConfig(), build_model(NetworkConfig(num_classes=9)), steps=1)
    save_optimizer(saved, tmp_path / "optimizer.npz")
    fresh = trained_optimizer(TrainConfig(), build_model(NetworkConfig()), steps=0)
    with pytest.raises(FervidError, match="does not fit"):
        restore_optimizer(fresh, tmp_path / "optimizer.npz")
