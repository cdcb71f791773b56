"""How videos become detect tasks: short videos packed together, each range of a long one alone."""

from __future__ import annotations

from fervid.pipeline.crops import pack_tasks


def _task(path: str, frames: int, ranges: int = 1, range_index: int = 0) -> dict:
    return dict(video_path=path, ranges=ranges, range_index=range_index, frames_declared=frames)


def test_short_videos_share_a_task_up_to_the_pack_size_in_order():
    tasks = [_task(f"v{i}", 60) for i in range(7)]
    packs = pack_tasks(tasks, 180)
    assert [[t["video_path"] for t in pack] for pack in packs] == [["v0", "v1", "v2"], ["v3", "v4", "v5"], ["v6"]]


def test_each_range_of_a_long_video_stays_alone_and_nothing_is_lost():
    tasks = [_task("a", 60), *[_task("long", 1500, ranges=3, range_index=i) for i in range(3)], _task("b", 60),
             _task("bad", 0)]
    packs = pack_tasks(tasks, 500)
    assert [len(pack) for pack in packs if pack[0]["video_path"] == "long"] == [1, 1, 1]
    assert sorted(t["video_path"] for pack in packs for t in pack) == sorted(t["video_path"] for t in tasks)


def test_a_pack_size_of_one_frame_gives_one_video_per_task():
    assert [len(pack) for pack in pack_tasks([_task("a", 60), _task("b", 0)], 1)] == [1, 1]
