"""A server's cgroup on this machine's real cgroup tree (v2, else v1): its limits read back
as written, and removing the last group leaves no lab group behind."""

import os

import pytest

from lab.limits import CGROUP_ROOT, GROUP_PARENT, Limiter, create_cgroup

GIB = 1024**3


def lab_parents() -> list:
    return [p for p in (CGROUP_ROOT / GROUP_PARENT, *(CGROUP_ROOT / c / GROUP_PARENT for c in ("cpu", "memory")))
            if p.is_dir()]


def test_groups_read_back_their_limits_and_the_last_one_takes_the_parent_with_it():
    name = f"test-limits-{os.getpid()}"
    first, warning = create_cgroup(f"{name}-a", 0.5, GIB)
    if first.limiter is Limiter.TASKSET:
        pytest.skip(f"no writable cgroup here: {warning}")
    try:
        second, _ = create_cgroup(f"{name}-b", 1.0, 2 * GIB)
        try:
            assert first.quota_cpus() == 0.5
            assert first.memory_limit() == GIB
            assert second.quota_cpus() == 1.0
            assert second.usage().cpu_ns == 0
            first.remove()
            assert not any(path.exists() for path in first.paths())
            assert lab_parents(), "the parent went while another group was still in it"
        finally:
            second.remove()
    finally:
        first.remove()
    others = [child for parent in lab_parents() for child in parent.iterdir() if child.is_dir()]
    assert not lab_parents() or others, f"an empty lab group was left behind: {lab_parents()}"
