"""The guides in docs/ say what the code does: links resolve, the worked example runs as shown."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from uws_pyramid import main
from uws_pyramid.testing import wait_for

from .conftest import ROOT, UWSTestApp

GUIDE = ROOT / "docs" / "job-types.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")
WORDS = b"alpha\nBeta\ngamma\nalphabet\n"


def slug(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rule) gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of the headings of ``path`` (not of comments in its code blocks)."""
    prose = re.sub(r"^```.*?^```$", "", path.read_text(), flags=re.S | re.M)
    return {slug(line.lstrip("#")) for line in prose.splitlines() if line.startswith("#")}


def block(text: str, language: str) -> str:
    """The first fenced block of ``language`` in ``text``."""
    match = re.search(rf"^```{language}\n(.*?)^```$", text, re.S | re.M)
    assert match, f"no {language} block"
    return match.group(1)


@pytest.mark.parametrize(
    "page",
    ["README.md", "ARCHITECTURE.md", "docs/job-types.md", "docs/operators.md", "docs/plugins.md"],
)
def test_relative_links_and_anchors_resolve(page: str) -> None:
    source = ROOT / page
    for target in LINK.findall(source.read_text()):
        if "://" in target:
            continue
        file, _, anchor = target.partition("#")
        path = (source.parent / file).resolve() if file else source
        assert path.is_file(), f"{page}: link to missing {target}"
        if anchor:
            assert anchor in anchors(path), f"{page}: no heading for #{anchor} in {file or page}"


@pytest.fixture
def grep_app(settings: dict[str, Any], tmp_path: Path) -> Iterator[UWSTestApp]:
    """The service with the guide's worked example as its only job type, copied from the guide."""
    text = GUIDE.read_text()
    jdl = tmp_path / "jdl"
    (jdl / "scripts").mkdir(parents=True)
    (jdl / "grep.wadl").write_text(block(text, "xml"))
    (jdl / "scripts" / "grep.sh").write_text(block(text, "bash"))
    settings["uws.jdl_dir"] = str(jdl)
    wsgi = main({"here": settings["here"]}, **settings)
    yield UWSTestApp(wsgi)
    wsgi.registry.uws.close()


def test_worked_example_runs_as_the_guide_shows(grep_app: UWSTestApp) -> None:
    created = grep_app.post(
        "/rest/grep",
        {"pattern": "alpha", "format": "json", "PHASE": "RUN"},
        upload_files=[("infile", "words.txt", WORDS)],
        status=303,
    )
    job_url = created.headers["Location"]
    job = wait_for(
        lambda: (
            (j := grep_app.get(job_url, headers={"Accept": "application/json"}).json)["phase"]
            in ("COMPLETED", "ERROR")
            and j
        )
    )
    assert job["phase"] == "COMPLETED", job.get("errorSummary")
    assert [r["id"] for r in job["results"]] == ["matches", "summary", "stdout", "stderr"]
    assert grep_app.get(f"{job_url}/results/matches").text == "1:alpha\n4:alphabet\n"
    assert json.loads(grep_app.get(f"{job_url}/results/summary").text) == {"matches": 2}
    assert grep_app.get(f"{job_url}/results/stdout").text == "searched 4 lines\n"


@pytest.mark.parametrize(
    "fields, upload, message",
    [
        (
            {"pattern": "a", "max_count": "0"},
            True,
            "Invalid value for parameter max_count (got '0'): expected an integer between 1 and 10000",
        ),
        (
            {"pattern": "a", "format": "xml"},
            True,
            "Invalid value for parameter format (got 'xml'): expected one of: text, json",
        ),
        ({"pattern": "x"}, False, "Missing required parameter(s): infile"),
        (
            {"infile": "words.txt", "pattern": "a"},
            False,
            "Invalid value for parameter infile (got 'words.txt'): expected a file sent with "
            "multipart/form-data",
        ),
    ],
)
def test_error_messages_are_those_the_guide_shows(
    grep_app: UWSTestApp, fields: dict[str, str], upload: bool, message: str
) -> None:
    assert message in GUIDE.read_text()
    files = [("infile", "words.txt", WORDS)] if upload else []
    response = grep_app.post("/rest/grep", fields, upload_files=files or None, status=400)
    assert response.text == message + "\n"


def test_a_failing_script_shows_the_end_of_its_stderr(grep_app: UWSTestApp) -> None:
    created = grep_app.post(
        "/rest/grep",
        {"pattern": "\\(", "PHASE": "RUN"},
        upload_files=[("infile", "words.txt", WORDS)],
        status=303,
    )
    job_url = created.headers["Location"]
    job = wait_for(
        lambda: (
            (j := grep_app.get(job_url, headers={"Accept": "application/json"}).json)["phase"]
            in ("COMPLETED", "ERROR")
            and j
        )
    )
    assert job["phase"] == "ERROR"
    failed = "grep failed on uploads/infile/words.txt (status 2)"
    assert job["errorSummary"]["message"].endswith(failed)
    assert grep_app.get(f"{job_url}/error").text.endswith(failed + "\n")
