import cv2
import numpy as np
import pytest

from fervid.errors import FervidError
from fervid.model.augment import AugmentConfig, augment, balanced_order
from fervid.model.data import load_dataset, write_synthetic_faces
from fervid.model.labels import FER2013_LABELS


def test_class_folders_load_in_label_order(tmp_path):
    root = write_synthetic_faces(tmp_path, per_class=4)
    data = load_dataset(root / "train")
    assert data.classes == FER2013_LABELS
    assert data.images.shape == (28, 48, 48) and data.images.dtype == np.uint8
    assert data.class_counts() == {name: 4 for name in FER2013_LABELS}


def test_real_fer2013_val_loads(fer2013):
    data = load_dataset(fer2013 / "val")
    assert len(data) == 3589 and data.classes == FER2013_LABELS
    assert data.class_counts()["disgust"] == 56 and data.converted == 0 and not data.skipped


def test_colour_and_wrong_size_images_are_converted_and_counted(tmp_path):
    (tmp_path / "happy").mkdir()
    cv2.imwrite(str(tmp_path / "happy" / "big.png"), np.full((96, 80, 3), 200, np.uint8))
    cv2.imwrite(str(tmp_path / "happy" / "ok.png"), np.full((48, 48), 10, np.uint8))
    data = load_dataset(tmp_path)
    assert data.converted == 1 and data.images.shape == (2, 48, 48)


def test_corrupt_images_are_skipped_and_named(tmp_path):
    root = write_synthetic_faces(tmp_path, per_class=2)
    (root / "train" / "sad" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    data = load_dataset(root / "train")
    assert len(data) == 14 and len(data.skipped) == 1
    assert "broken.jpg" in data.skipped[0] and "skipped 1 unreadable" in data.summary()


def test_csv_rows_load_and_filter_by_usage(tmp_path):
    pixels = " ".join(["128"] * 2304)
    path = tmp_path / "fer2013.csv"
    path.write_text(f"emotion,pixels,Usage\n3,{pixels},Training\n6,{pixels},PublicTest\n0,{pixels},Training\n")
    data = load_dataset(path, usage="Training")
    assert list(data.labels) == [3, 0] and data.classes == FER2013_LABELS


@pytest.mark.parametrize("content, message", [
    ("emotion,pixels\n3,1 2 3\n", "line 2: expected 2304 pixel values"),
    ("emotion,pixels\nhappy,{px}\n", "line 2: emotion must be an integer"),
    ("emotion,pixels\n9,{px}\n", "line 2: emotion 9 is outside 0..6"),
    ("emotion,image\n3,{px}\n", "missing column"),
    ("emotion,pixels\n", "no rows"),
])
def test_malformed_csv_is_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content.format(px=" ".join(["1"] * 2304)))
    with pytest.raises(FervidError, match=message) as error:
        load_dataset(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing", "no such file or folder"),
    (lambda root: root, "no class folders found"),
    (lambda root: (root / "happy").mkdir() or root, "class folder has no images"),
    (lambda root: (root / "notes.txt").write_text("x") and root / "notes.txt", "expected a folder of class"),
])
def test_bad_dataset_paths_are_refused(tmp_path, make, message):
    with pytest.raises(FervidError, match=message):
        load_dataset(make(tmp_path))


def test_folders_outside_the_expected_classes_are_refused(tmp_path):
    root = write_synthetic_faces(tmp_path, per_class=1, classes=("happy", "joy"))
    with pytest.raises(FervidError, match=r"\['joy'\] are not among the expected classes"):
        load_dataset(root / "train", FER2013_LABELS)


def test_augment_keeps_shape_and_changes_pixels():
    faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    out = augment(faces, np.random.default_rng(1))
    assert out.shape == faces.shape and out.dtype == np.uint8
    assert not np.array_equal(out, faces)
    identity = AugmentConfig(flip=False, rotation_deg=0, zoom=0, shift=0)
    np.testing.assert_array_equal(augment(faces, np.random.default_rng(1), identity), faces)


def test_balanced_order_lifts_minority_classes_to_the_floor():
    labels = np.array([0] * 100 + [1] * 5 + [2] * 40)
    counts = np.bincount(labels[balanced_order(labels, np.random.default_rng(0), floor=0.5)])
    assert counts.tolist() == [100, 50, 50]
    assert np.bincount(labels[balanced_order(labels, np.random.default_rng(0), floor=0)]).tolist() == [100, 5, 40]


def _votes_csv(path, rows, header="file,fer2013_label,neutral,happy,surprise,sad,angry,disgust,fear,contempt,unknown,not_face"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_a_votes_csv_maps_columns_by_name_and_drops_faces_without_an_expression(tmp_path):
    for name in ("a", "b", "c", "d"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), np.full((48, 48), 100, np.uint8))
    csv_path = _votes_csv(tmp_path / "votes.csv", [
        "a.png,angry,6,0,0,0,4,0,0,0,0,0",      # neutral wins the votes, angry is FER2013's label
        "b.png,happy,0,2,0,0,0,0,0,3,5,0",      # unknown outnumbers every label: no usable votes
        "c.png,sad,0,0,0,7,0,0,0,3,0,0",        # contempt is no label here: its votes drop out
        "d.png,fear,0,0,1,0,0,0,0,0,0,9"])      # not a face
    data = load_dataset(csv_path)
    assert data.classes == FER2013_LABELS and len(data) == 4
    assert [FER2013_LABELS[i] for i in data.labels] == ["angry", "happy", "sad", "fear"]
    index = {name: i for i, name in enumerate(FER2013_LABELS)}
    assert data.votes[0, index["neutral"]] == 6 and data.votes[0, index["angry"]] == 4
    assert list(data.has_votes()) == [True, False, True, False]
    np.testing.assert_allclose(data.vote_shares()[0, [index["neutral"], index["angry"]]], [0.6, 0.4])
    np.testing.assert_allclose(data.vote_shares()[2, index["sad"]], 1.0)


def test_a_votes_csv_without_single_labels_takes_the_majority_and_leaves_out_the_rest(tmp_path):
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), np.full((48, 48), 100, np.uint8))
    header = "file," + ",".join(reversed(FER2013_LABELS))  # any column order
    data = load_dataset(_votes_csv(tmp_path / "votes.csv", ["a.png,3,0,0,0,0,0,1", "b.png,0,0,0,0,0,0,0"], header))
    assert len(data) == 1 and FER2013_LABELS[data.labels[0]] == "surprise"


def test_a_votes_csv_reads_its_images_from_an_npz_of_pixels(tmp_path):
    pixels = np.arange(2 * 48 * 48, dtype=np.int64).reshape(2, 48, 48).astype(np.uint8)
    np.savez(tmp_path / "pixels.npz", val_file=np.array(["val/x.jpg", "val/y.jpg"]), val_images=pixels)
    data = load_dataset(_votes_csv(tmp_path / "votes.csv", ["val/y.jpg,happy,0,9,0,0,0,0,0,0,0,0",
                                                             "val/missing.jpg,sad,0,0,0,9,0,0,0,0,0,0"]),
                        images=tmp_path / "pixels.npz")
    assert len(data) == 1 and len(data.skipped) == 1 and "missing.jpg" in data.skipped[0]
    np.testing.assert_array_equal(data.images[0], pixels[1])


@pytest.mark.parametrize("rows, header, message", [
    (["a.png,1,2,x,0,0,0,0"], "file,angry,disgust,fear,happy,neutral,sad,surprise", "line 2: vote counts must be numbers"),
    (["a.png,1,2"], "file,angry,happy", "missing disgust, fear, neutral, sad, surprise"),
    (["a.png,joy,0,9,0,0,0,0,0,0,0,0"], None, "fer2013_label 'joy' is not one of"),
])
def test_bad_votes_csvs_get_one_line_naming_the_file(tmp_path, rows, header, message):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((48, 48), 100, np.uint8))
    path = _votes_csv(tmp_path / "votes.csv", rows, header) if header else _votes_csv(tmp_path / "votes.csv", rows)
    with pytest.raises(FervidError, match=f"votes.csv.*{message}"):
        load_dataset(path)


def test_the_ferplus_val_votes_load_with_the_shared_faces_and_the_original_pixels(ferplus, fer2013):
    shared = load_dataset(ferplus / "val.csv", images=fer2013)
    original = load_dataset(ferplus / "val.csv", images=ferplus / "original-pixels.npz")
    assert len(shared) == len(original) == 3571 and not shared.skipped and not original.skipped
    assert (shared.labels == original.labels).all() and shared.has_votes().sum() == 3545
    # The same faces: the shared copies are the originals histogram-equalized (FINDINGS.md).
    assert np.corrcoef(cv2.equalizeHist(original.images[0]).ravel(), shared.images[0].ravel())[0, 1] > 0.95
