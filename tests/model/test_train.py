import json

import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.model.artifact import load_artifact
from fervid.model.data import write_synthetic_faces
from fervid.model.evaluate import evaluate
from fervid.model.train import TrainConfig, load_splits, train

QUICK = TrainConfig(epochs=2, batch_size=16, learning_rate=3e-3, oversample_floor=0.0)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_synthetic_faces(tmp_path_factory.mktemp("faces"), per_class=16)


@pytest.fixture(scope="module")
def finished_run(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    train(synthetic, out, QUICK, log=lambda _: None)
    return out


def test_a_run_writes_history_checkpoints_and_artifact(finished_run):
    history = json.loads((finished_run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert (finished_run / "history.csv").read_text().startswith("epoch,loss,accuracy,val_loss,val_accuracy")
    assert (finished_run / "history.png").stat().st_size > 10_000
    assert (finished_run / "checkpoints" / "best.weights.h5").exists()
    _, info = load_artifact(finished_run / "model.keras")
    state = json.loads((finished_run / "state.json").read_text())
    assert info.training["val_accuracy"] == round(state["best_val_accuracy"], 4)
    assert info.training["best_epoch"] == state["best_epoch"] and info.training["epochs"] == 2


def test_resume_continues_from_the_last_epoch(finished_run):
    config = json.loads((finished_run / "config.json").read_text())
    config["train"]["epochs"] = 3
    (finished_run / "config.json").write_text(json.dumps(config))
    lines = []
    train("ignored", finished_run, resume=True, log=lines.append)
    assert "resuming" in lines[2] and "after epoch 2" in lines[2]
    history = json.loads((finished_run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]


def test_an_existing_run_folder_is_not_overwritten(finished_run, synthetic):
    with pytest.raises(FervidError, match="run folder exists and is not empty"):
        train(synthetic, finished_run, QUICK)


def test_evaluation_reports_the_acceptance_keys(finished_run, synthetic):
    report = evaluate(synthetic / "val", finished_run / "model.keras")
    assert {"accuracy", "n", "per_class", "confusion_matrix", "params"} <= set(report)
    assert report["n"] == 28 and report["params"] == 4_478_727 and 0 <= report["accuracy"] <= 1
    assert np.asarray(report["confusion_matrix"]).sum() == 28


def test_init_from_starts_a_new_label_set_from_a_trained_model(finished_run, tmp_path):
    navras = write_synthetic_faces(tmp_path / "navras", per_class=4,
                                   classes=("adbhuta", "bhayanaka", "bibhatsa", "hasya", "karuna",
                                            "raudra", "shanta", "shringara", "veera"))
    path = train(navras, tmp_path / "run", TrainConfig(epochs=1, batch_size=8), init_from=str(finished_run /
                 "model.keras"), log=lambda _: None)
    model, info = load_artifact(path)
    assert len(info.labels) == 9 and model.output_shape == (None, 9)


def test_without_a_validation_set_a_stratified_share_is_held_out(synthetic):
    splits = load_splits(synthetic / "train", None, TrainConfig(val_fraction=0.25))
    assert len(splits.val) == 7 * 4 and len(splits.train) == 7 * 12


def test_a_folder_of_packed_train_and_val_files_is_found(fer2013):
    packed = fer2013.parent / "fer2013-packed"
    splits = load_splits(packed, None, TrainConfig(limit_per_class=4))
    assert splits.train.source.endswith("train.npz") and splits.val.source.endswith("val.npz")
    assert len(splits.train) == 28 and splits.val.classes == splits.train.classes


def test_a_resumed_run_continues_the_schedule_exactly(synthetic, tmp_path, monkeypatch):
    """Killed right after epoch 1's checkpoint and resumed: every epoch ends at the learning rate (cosine schedule,
    optimizer step count) of a run that was never interrupted."""
    from fervid.model.train import RunFolder

    config = TrainConfig(epochs=3, batch_size=16, learning_rate=3e-3, oversample_floor=0.0)
    train(synthetic, tmp_path / "whole", config, log=lambda _: None)
    record_epoch = RunFolder.record_epoch

    def killed_after_epoch_1(self, model, row, *rest):
        record_epoch(self, model, row, *rest)
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "record_epoch", killed_after_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        train(synthetic, tmp_path / "cut", config, log=lambda _: None)
    monkeypatch.undo()
    train("ignored", tmp_path / "cut", resume=True, log=lambda _: None)

    def history(run):
        return json.loads((run / "history.json").read_text())

    assert [row["epoch"] for row in history(tmp_path / "cut")] == [1, 2, 3]
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert [resume["after_epoch"] for resume in state["resumes"]] == [1]  # marked in history.png and the artifact
    assert load_artifact(tmp_path / "cut" / "model.keras")[1].training["resumes"] == state["resumes"]
    assert "resumes" not in json.loads((tmp_path / "whole" / "state.json").read_text())
    rates = [row["learning_rate"] for row in history(tmp_path / "cut")]
    assert rates == pytest.approx([row["learning_rate"] for row in history(tmp_path / "whole")], rel=1e-6)
    assert rates[-1] == pytest.approx(0.0, abs=1e-9)  # the cosine cycle ran to its end once


def _votes_for(root, split):
    """A votes CSV (FER+ column names and order) for the synthetic faces of one split: 7 votes for the face's
    class, 3 for neutral, and one face whose taggers said "not a face"."""
    from fervid.model.labels import FER2013_LABELS

    columns = ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt", "unknown", "not_face"]
    rows = []
    for label in FER2013_LABELS:
        for path in sorted((root / split / label).iterdir()):
            votes = dict.fromkeys(columns, 0)
            votes[label] += 7
            votes["neutral"] += 3
            rows.append(f"{split}/{label}/{path.name},{label}," + ",".join(str(votes[c]) for c in columns))
    rows[0] = rows[0].rsplit(",", 1)[0] + ",11"
    path = root / f"{split}.csv"
    path.write_text("file,fer2013_label," + ",".join(columns) + "\n" + "\n".join(rows) + "\n")
    return path


def test_a_run_learns_vote_shares_without_their_prior_and_resumes(synthetic, tmp_path):
    config = TrainConfig(epochs=1, batch_size=16, oversample_floor=0.0, prior_correction=1.0,
                         fer2013_label_weight=0.5, input_normalization="raw", best_by="val_mean_recall")
    train_csv, val_csv = _votes_for(synthetic, "train"), _votes_for(synthetic, "val")
    lines = []
    path = train(train_csv, tmp_path / "run", config, val=val_csv, images=synthetic, log=lines.append)
    assert "111 images" in lines[0]  # 112 faces, the one "not a face" left out
    _, info = load_artifact(path)
    assert info.input_normalization == "raw" and info.training["config"]["prior_correction"] == 1.0
    assert 0 <= info.training["val_mean_recall"] <= 1
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["images"] == str(synthetic) and saved["train"]["input_normalization"] == "raw"
    saved["train"]["epochs"] = 2
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    train("ignored", tmp_path / "run", resume=True, log=lines.append)  # the checkpoint names the custom loss
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2] and "val_mean_recall" in history[1]
    assert load_artifact(tmp_path / "run" / "model.keras")[1].input_normalization == "raw"


def test_targets_mix_vote_shares_with_the_single_label(synthetic):
    from fervid.model.train import class_prior

    _votes_for(synthetic, "train")
    splits = load_splits(synthetic / "train.csv", None, TrainConfig(fer2013_label_weight=0.5, val_fraction=0.25),
                         images=synthetic)
    happy = splits.train.classes.index("happy")
    row = splits.train_targets[splits.train.labels == happy][0]
    assert row[happy] == pytest.approx(0.5 * 0.7 + 0.5) and row[splits.train.classes.index("neutral")] == \
        pytest.approx(0.15)
    np.testing.assert_allclose(splits.train_targets.sum(axis=1), 1, rtol=1e-6)
    prior = class_prior(splits.train_targets, TrainConfig())
    assert prior.argmax() == splits.train.classes.index("neutral") and prior.sum() == pytest.approx(1)


def test_the_prior_corrected_loss_scores_the_prior_shifted_probabilities():
    import keras

    from fervid.model.train import make_loss

    prior = np.array([0.5, 0.3, 0.2])
    probabilities = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], np.float32)
    targets = np.array([[0, 0, 1], [0.5, 0.5, 0]], np.float32)
    shifted = probabilities * prior / (probabilities * prior).sum(axis=1, keepdims=True)
    expected = -(targets * np.log(shifted)).sum(axis=1).mean()
    loss = make_loss(TrainConfig(prior_correction=1.0, label_smoothing=0.0), prior)
    assert float(keras.ops.convert_to_numpy(loss(targets, probabilities))) == pytest.approx(expected, rel=1e-5)
    plain = make_loss(TrainConfig(prior_correction=0.0, label_smoothing=0.0), prior)
    assert float(keras.ops.convert_to_numpy(plain(targets, probabilities))) == pytest.approx(
        -(targets * np.log(probabilities)).sum(axis=1).mean(), rel=1e-5)


@pytest.mark.parametrize("field, value, message", [
    ("input_normalization", "clahe", "input normalization must be one of"),
    ("fer2013_label_weight", 1.5, "fer2013_label_weight must be in"),
    ("prior_correction", -1.0, "prior_correction must not be negative"),
    ("best_by", "loss", "best_by must be"),
    ("shares", (0.5, 0.0), "share of a batch must be positive"),
])
def test_bad_training_settings_are_refused(field, value, message):
    with pytest.raises(FervidError, match=message):
        TrainConfig(**{field: value})


def _constant_faces(value: int, count: int, name: str) -> "Splits":
    from fervid.model.data import FaceDataset
    from fervid.model.labels import FER2013_LABELS
    from fervid.model.train import Splits, one_hot

    labels = np.arange(count) % len(FER2013_LABELS)
    faces = FaceDataset(np.full((count, 48, 48), value, np.uint8), labels, FER2013_LABELS, name)
    return Splits(faces, faces, one_hot(labels, len(FER2013_LABELS)), one_hot(labels, len(FER2013_LABELS)), name)


@pytest.mark.parametrize("batch, shares, sizes, parts", [
    (64, (0.5, 0.5), [800, 28000], [32, 32]),
    (64, (0.25, 0.75), [800, 28000], [16, 48]),
    (10, (), [100, 300], [2, 8]),  # by size: 2.5 and 7.5, the rounding to the larger
    (8, (0.01, 0.99), [10, 10], [1, 7]),  # every source gives at least one face
])
def test_each_source_gives_its_share_of_every_batch(batch, shares, sizes, parts):
    from fervid.model.train import batch_parts

    assert batch_parts(TrainConfig(batch_size=batch, shares=shares), sizes) == parts


def test_batches_mix_the_sources_and_an_epoch_is_a_pass_over_the_first():
    from fervid.model.train import batch_stream, steps_per_epoch

    sources = [_constant_faces(0, 35, "dark"), _constant_faces(255, 700, "light")]
    config = TrainConfig(batch_size=10, shares=(0.4, 0.6), oversample_floor=0.0)
    steps = steps_per_epoch(sources, config)
    assert steps == 35 // 4
    x, y = next(batch_stream(sources, config, 0, steps))
    assert x.shape == (10, 48, 48, 1) and y.shape == (10, 7)
    assert (x[:4] == 0).all() and (x[4:] == 255).all()  # constant faces stay constant under the augmentation


def test_several_sources_each_report_their_val_accuracy(synthetic, tmp_path):
    lines = []
    path = train([synthetic / "train", synthetic / "train"], tmp_path / "run",
                 TrainConfig(epochs=1, batch_size=16, oversample_floor=0.0, shares=(0.5, 0.5), best_by="last"),
                 val=synthetic / "val", log=lines.append)
    assert "each batch: 8 from train1, 8 from train2" in lines
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert 0 <= history[0]["val_accuracy_train2"] <= 1
    assert any(line.startswith("epoch 1/1:") and "(train2 " in line for line in lines)
    _, info = load_artifact(path)
    assert [source["name"] for source in info.training["sources"]] == ["train1", "train2"]


def test_shares_must_match_the_sources(synthetic, tmp_path):
    with pytest.raises(FervidError, match="2 training sources but 3 shares"):
        train([synthetic / "train", synthetic / "train"], tmp_path / "run", TrainConfig(shares=(1, 1, 1)))


def test_a_progress_line_tells_the_time_left_in_an_epoch_when_not_a_terminal(synthetic, tmp_path, monkeypatch):
    import fervid.model.train as training

    monkeypatch.setattr(training, "PROGRESS_EVERY_S", 0.0)  # 30 s on a real run; every step here
    lines = []
    train(synthetic, tmp_path / "run", TrainConfig(epochs=1, batch_size=16, oversample_floor=0.0), log=lines.append)
    progress = [line for line in lines if "left in this epoch" in line]
    assert progress and progress[0].startswith("epoch 1/1: step 1/") and "loss" in progress[0]
