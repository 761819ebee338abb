"""uws-slurm passes the Manager contract that uws-local passes, on the real cluster."""

from __future__ import annotations

import pytest
from conftest import FAST

from uws_pyramid.api import Phase
from uws_pyramid.testing import ManagerContract, ManagerHarness


class TestSlurmManager(ManagerContract):
    timeout = 30.0

    @pytest.fixture
    def manager_settings(self, cluster: None) -> dict[str, str]:
        return {"uws.manager": "slurm", **FAST}

    @pytest.mark.slow
    def test_execution_duration_exceeded_aborts(self, harness: ManagerHarness) -> None:
        # The contract's version sleeps 30 s past a 1 s limit; SLURM's limits are whole
        # minutes (checked about every 30 s), so the script must outlast a minute and a half.
        # This is the suite's one real TIMEOUT test (about 90 s).
        job = harness.run("sleep", execution_duration=1, duration="300")
        harness.running_group(job.job_id)
        job = harness.wait(job.job_id, timeout=180)
        assert job.phase == Phase.ABORTED
        assert job.error is not None and "execution duration" in job.error.message
        assert job.job_info["slurm_state"] == "TIMEOUT"
        assert job.result("stdout") is not None
