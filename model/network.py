"""The CNN of Khopkar & Saxena, "Facial Expression Recognition Using CNN with Keras".

Four conv blocks (64 3x3, 128 5x5, 512 3x3, 512 3x3), each Conv -> BatchNorm -> ReLU -> 2x2 max-pool ->
dropout, then two dense blocks (256, 512) with BatchNorm -> ReLU -> dropout, and a softmax. With 7 classes it
has exactly 4,478,727 parameters, matching every row of the paper's summary table.

Written against Keras 3 only (no ``tensorflow`` import), so the same code trains under the TensorFlow backend
on a laptop and under the JAX backend on a GPU machine that has no TensorFlow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .labels import INPUT_SIZE


@dataclass(frozen=True)
class NetworkConfig:
    """Everything needed to rebuild the network; saved inside every artifact."""

    num_classes: int = 7  # FER2013; the paper's next label set (Kathak's Navras) has 9
    conv_dropout: float = 0.25  # after each conv block, as in the paper's code
    dense_dropout: float = 0.25  # after each dense block

    def __post_init__(self):
        if self.num_classes < 2:
            raise ValueError(f"Expected at least 2 classes. Received num_classes={self.num_classes}")
        for name in ("conv_dropout", "dense_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"Expected 0 <= {name} < 1. Received {name}={value}")

    def to_dict(self) -> dict:
        return asdict(self)

    def parameters(self) -> int:
        """The model's parameter count, without building it (no Keras): a report on an int8 twin still has it."""
        count, channels, side = 0, 1, INPUT_SIZE
        for filters, kernel in CONV_BLOCKS:
            count += kernel * kernel * channels * filters + filters + 4 * filters  # conv + BatchNorm
            channels, side = filters, side // 2
        width = side * side * channels
        for units in DENSE_BLOCKS:
            count += width * units + units + 4 * units  # dense + BatchNorm
            width = units
        return count + width * self.num_classes + self.num_classes


# (filters, kernel size) of the four conv blocks, and the widths of the two dense blocks.
CONV_BLOCKS = ((64, 3), (128, 5), (512, 3), (512, 3))
DENSE_BLOCKS = (256, 512)


def build_model(config: NetworkConfig = NetworkConfig()):
    """Return the uncompiled Keras model. Input: uint8-range grayscale faces, shape (N, 48, 48, 1).

    Scaling to [0, 1] is the first layer, so training and inference can never disagree about it.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 1), name="face")
    x = layers.Rescaling(1.0 / 255.0, name="scale_pixels")(inputs)
    for i, (filters, kernel) in enumerate(CONV_BLOCKS, start=1):
        x = layers.Conv2D(filters, kernel, padding="same", name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"conv{i}_bn")(x)
        x = layers.Activation("relu", name=f"conv{i}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"conv{i}_pool")(x)
        x = layers.Dropout(config.conv_dropout, name=f"conv{i}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(DENSE_BLOCKS, start=1):
        x = layers.Dense(units, name=f"dense{i}")(x)
        x = layers.BatchNormalization(name=f"dense{i}_bn")(x)
        x = layers.Activation("relu", name=f"dense{i}_relu")(x)
        x = layers.Dropout(config.dense_dropout, name=f"dense{i}_dropout")(x)
    outputs = layers.Dense(config.num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="khopkar_saxena_cnn")
