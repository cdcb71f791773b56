"""cluster.yaml: valid for Ray's cluster launcher, GPU workers that scale to zero, nothing exposed publicly."""

import copy
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "cluster.yaml").read_text())


def ray_schema() -> dict:
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def test_valid_against_ray_schema_as_written_and_with_ray_defaults_filled_in():
    from ray.autoscaler._private.util import prepare_config, validate_config

    jsonschema.validate(CONFIG, ray_schema())
    validate_config(prepare_config(copy.deepcopy(CONFIG)))  # what `ray up` runs before launching anything


@pytest.mark.parametrize("break_it", [
    lambda config: config["available_node_types"]["gpu_worker"].update(min_workerz=0),
    lambda config: config.update(head_node_type=3),
    lambda config: config["provider"].pop("type"),
])
def test_the_schema_check_catches_mistakes(break_it):
    broken = copy.deepcopy(CONFIG)
    break_it(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ray_schema())


def test_gpu_workers_autoscale_from_zero_and_the_head_has_no_gpu():
    head = CONFIG["available_node_types"][CONFIG["head_node_type"]]
    workers = [spec for name, spec in CONFIG["available_node_types"].items() if name != CONFIG["head_node_type"]]
    assert workers and all(spec["min_workers"] == 0 and spec["max_workers"] >= 1 for spec in workers)
    assert all(spec["node_config"]["InstanceType"].startswith(("g", "p")) for spec in workers)
    assert head["node_config"]["InstanceType"].startswith(("m", "c", "r"))


def test_dashboard_and_job_server_stay_on_localhost():
    text = (ROOT / "cluster.yaml").read_text()
    assert "0.0.0.0" not in text
    start = " ".join(CONFIG["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in start


def test_setup_installs_gpu_tensorflow_and_fervid_with_matching_ray():
    setup = " ".join(CONFIG["setup_commands"])
    assert 'tensorflow[and-cuda]==2.21.*' in setup and "pip install ~/fervid" in setup
    assert CONFIG["file_mounts"]["~/fervid"] == "."
    # The image's Ray must satisfy fervid's pin, or pip would replace Ray under the running cluster.
    pin = next(dep for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
               if dep.startswith("ray["))
    image_version = re.search(r"ray:(\d+\.\d+)\.", CONFIG["docker"]["image"]).group(1)
    assert f">={image_version}" in pin
