"""The FER2013 label order. Defined here once; every other module imports it."""

FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# The paper's input: one 48x48 grayscale face.
INPUT_SIZE = 48
