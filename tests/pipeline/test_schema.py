import pyarrow as pa

from fervid.model.labels import FER2013_LABELS
from fervid.pipeline.schema import EMOTION_COLUMNS, TIMELINE_SCHEMA, VIDEOS_SCHEMA, videos_path

EMOTIONS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


def test_timeline_schema_golden():
    expected = [("video_id", pa.string()), ("video_path", pa.string()), ("frame_index", pa.int64()),
                ("timestamp_s", pa.float64()), ("face_index", pa.int32()), ("track_id", pa.int32()), ("x", pa.int32()), ("y", pa.int32()),
                ("w", pa.int32()), ("h", pa.int32()), ("det_score", pa.float32()), ("detected", pa.bool_()),
                *[(name, pa.float32()) for name in EMOTIONS], ("emotion", pa.string()), ("confidence", pa.float32())]
    assert [(f.name, f.type) for f in TIMELINE_SCHEMA] == expected


def test_videos_schema_golden():
    expected = [("video_id", pa.string()), ("video_path", pa.string()), ("status", pa.string()),
                ("error", pa.string()), ("duration_s", pa.float64()), ("fps", pa.float64()), ("width", pa.int32()),
                ("height", pa.int32()), ("frames_total", pa.int64()), ("frames_analyzed", pa.int64()),
                ("frames_with_faces", pa.int64()), ("faces", pa.int64()), ("seconds", pa.float64())]
    assert [(f.name, f.type) for f in VIDEOS_SCHEMA] == expected


def test_emotion_columns_are_the_model_labels():
    assert EMOTION_COLUMNS is FER2013_LABELS


def test_videos_path_sits_beside_the_timeline(tmp_path):
    assert videos_path(tmp_path / "timelines.parquet") == tmp_path / "timelines.videos.parquet"


def test_schema_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, fervid.pipeline.schema; "
            "print(sorted(m for m in ('ray', 'tensorflow', 'keras', 'cv2') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
