"""uws-memory passes the core's shipped contract suites, and serves a whole job's life.

Run from an installed wheel (examples/check-wheels.sh): everything comes from the installed
uws-pyramid, its test kit and its pytest plugin, nothing from the source tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from uws_memory.storage import MemoryStorage

from uws_pyramid import main
from uws_pyramid.api import ConfigurationError, Phase, ServiceUnavailable
from uws_pyramid.testing import AccountsContract, StorageContract, make_job, wait_for


class TestMemoryStorage(StorageContract):
    @pytest.fixture
    def storage(self) -> Iterator[MemoryStorage]:
        store = MemoryStorage.from_settings({}, ".")
        yield store
        store.close()


class TestMemoryAccounts(AccountsContract):
    storage = TestMemoryStorage.storage


def test_a_full_store_answers_503() -> None:
    store = MemoryStorage.from_settings({"max_jobs": "2"}, ".")
    store.create(make_job())
    store.create(make_job())
    with pytest.raises(ServiceUnavailable, match="full"):
        store.create(make_job())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_jobs": "none"}, "uws.storage.max_jobs = 'none': expected an integer > 0"),
        ({"max_job": "5"}, "uws.storage.max_job: unknown setting"),
    ],
)
def test_bad_options_name_their_key(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        MemoryStorage.from_settings(options, ".")


def test_a_job_runs_end_to_end(
    tmp_path: Path, uws_example_jdl: Path, uws_testapp: Callable[[Any], Any]
) -> None:
    """The service on this storage and the local manager, through the shipped test kit's
    XSD-validating test app (every UWS document checked against the schema)."""
    app = main(
        {"here": str(tmp_path)},
        **{
            "uws.storage": "memory",
            "uws.manager": "local",
            "uws.manager.sandbox": "none",
            "uws.jdl_dir": str(uws_example_jdl),
            "uws.workdir": str(tmp_path / "jobs"),
            "uws.auth.anonymous": "true",
            "uws.background": "false",
            "uws.secret_file": str(tmp_path / "secret"),
        },
    )
    try:
        client = uws_testapp(app)
        created = client.post("/rest/echo", {"PHASE": "RUN", "message": "from a wheel"}, status=303)
        job_url = created.location

        def phase() -> str:
            return str(client.get(job_url, headers={"Accept": "application/json"}).json["phase"])

        assert wait_for(lambda: phase() in {"COMPLETED", "ERROR"}, timeout=30)
        assert phase() == Phase.COMPLETED
        client.get(job_url)  # the job's XML document, validated by the test app
        result = client.get(f"{job_url}/results/output")
        assert result.text == "from a wheel\n"
        client.delete(job_url, status=303)
        client.get(job_url, status=404)
    finally:
        app.registry.uws.close()
