"""`fervid analyze s3://... --out s3://...` against a server that speaks the S3 protocol (moto's standalone server on
127.0.0.1, started here), configured only through the standard AWS environment variables, as a user points fervid
at MinIO or any S3-compatible store (docs/usage.md). Nothing reaches any network but 127.0.0.1."""

from __future__ import annotations

import io
import json
import uuid

import pandas as pd
import pytest
from click.testing import CliRunner

from fervid.cli import main
from fervid.pipeline.job import AnalyzeConfig, analyze

CLIPS = ("man_single_face.mp4", "no_face_title_card.mp4")


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def s3(videos, request):
    """(boto3 client, bucket): a fresh moto server with the clips under s3://BUCKET/clips/; the AWS variables point
    at it before this module's Ray starts, so its workers read the inputs from it too."""
    moto_server = pytest.importorskip("moto.server", reason="moto is in the dev extra: pip install -e '.[dev]'")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "fervid-test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "fervid-test")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")  # what a MinIO user sets
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups off the machine
        import boto3

        client = boto3.client("s3")
        bucket = f"fervid-{uuid.uuid4().hex[:12]}"  # the staging folder is keyed by the URI: one of our own
        client.create_bucket(Bucket=bucket)
        for name in CLIPS:
            client.upload_file(str(videos / name), bucket, f"clips/{name}")
        request.getfixturevalue("ray_session")  # Ray starts after the variables are set
        yield client, bucket
    server.stop()


def _read(client, bucket: str, key: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()))


def _keys(client, bucket: str, prefix: str) -> list[str]:
    """The objects under ``prefix``, less the empty "folder/" markers pyarrow leaves where it deleted a file."""
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listing if not (item["Key"].endswith("/") and item["Size"] == 0))


def test_analyze_reads_and_writes_a_bucket(s3, untrained_model):
    client, bucket = s3
    result = CliRunner().invoke(main, ["analyze", f"s3://{bucket}/clips/", "--out", f"s3://{bucket}/out/t.parquet",
                                       "--model", str(untrained_model), "--fps", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].endswith(f"-> s3://{bucket}/out/t.parquet")
    assert _keys(client, bucket, "out/") == ["out/t.parquet", "out/t.videos.parquet"]  # no marker or temporary left
    table = _read(client, bucket, "out/t.videos.parquet").set_index("video_path")
    assert sorted(table.index) == [f"s3://{bucket}/clips/{name}" for name in CLIPS]
    assert (table.status == "ok").all() and table.loc[f"s3://{bucket}/clips/man_single_face.mp4", "faces"] > 0
    timeline = _read(client, bucket, "out/t.parquet")
    assert len(timeline) == table.faces.sum()


def test_an_interrupted_run_resumes_to_the_bucket(s3, untrained_model):
    client, bucket = s3
    out = f"s3://{bucket}/resumed/t.parquet"
    config = AnalyzeConfig(model_path=str(untrained_model), sample_fps=2)

    def stop_after_first_video(progress):
        raise Interrupted

    with pytest.raises(Interrupted):
        analyze([f"s3://{bucket}/clips/"], out, config, progress=stop_after_first_video)
    assert _keys(client, bucket, "resumed/") == []  # nothing that looks complete, nothing at all
    summary = analyze([f"s3://{bucket}/clips/"], out, AnalyzeConfig(**{**config.__dict__, "resume": True}))
    assert summary.videos_ok == 2 and 0 < summary.frames_this_run < summary.frames  # only one was analysed again
    assert _keys(client, bucket, "resumed/") == ["resumed/t.parquet", "resumed/t.videos.parquet"]
    assert len(_read(client, bucket, "resumed/t.videos.parquet")) == 2


def test_a_bucket_that_refuses_writes_is_one_line_before_any_work(s3, untrained_model):
    client, bucket = s3
    refusing = f"{bucket}-refusing"
    client.create_bucket(Bucket=refusing)
    client.put_bucket_policy(Bucket=refusing, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{refusing}/*"}]}))
    out = f"s3://{refusing}/out/t.parquet"
    result = CliRunner().invoke(main, ["analyze", f"s3://{bucket}/clips/", "--out", out,
                                       "--model", str(untrained_model), "--fps", "2"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {out}: cannot write there (") and "ACCESS_DENIED" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _keys(client, refusing, "") == []
