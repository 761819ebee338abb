"""Tests of job descriptions: the model, WADL reading and writing, validation, the registry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from uws_pyramid.errors import BadRequest, ConfigurationError, InvalidValue, NotFound
from uws_pyramid.jdl import (
    JDLError,
    JobDescription,
    JobDescriptions,
    ParameterSpec,
    ResultSpec,
    read_wadl,
    validate_parameters,
    write_wadl,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "jdl"
EXAMPLE_NAMES = ["echo", "fail", "sleep", "wordcount"]


def wadl(params: str = "", *, name: str = "demo", extra: str = "", results: str = "") -> bytes:
    """A small hand-written description with the given pieces inserted."""
    return f"""<application xmlns="http://wadl.dev.java.net/2009/02">
      <resources><resource id="joblist" path="{name}">
        <doc title="description">A demo</doc>{extra}
        <method id="create_job" name="POST">
          <request id="create_job_parameters">
            <param style="query" name="PHASE" type="xs:string" fixed="RUN"/>{params}
          </request>
        </method>
        <resource id="job_result_name" path="{{job-id}}/results/{{result-id}}">
          <method name="GET"><response status="200">{results}</response></method>
        </resource>
      </resource></resources></application>""".encode()


FULL = JobDescription(
    name="full",
    description="Everything at once",
    parameters=(
        ParameterSpec("n", "xs:int", required=True, description="count", min="1", max="60"),
        ParameterSpec("x", "xs:double", default="0.5", min="-1.5", max="1e3"),
        ParameterSpec("flag", "xs:boolean", default="false"),
        ParameterSpec("mode", choices=("fast", "slow"), default="fast"),
        ParameterSpec("url", "xs:anyURI"),
        ParameterSpec("data", "file"),
        ParameterSpec("big", "xs:long", max="9000000000"),
        ParameterSpec("text", description="free text <with> & markup"),
    ),
    results=(
        ResultSpec("out", "text/plain", "out.txt", "the output"),
        ResultSpec("plots", "image/png", "plot_*.png"),
    ),
    execution_duration=60,
    max_execution_duration=600,
    quote=30,
    destruction=86400,
    options={"partition": "short", "mem": "2G"},
    version="2.1",
)


# --- reading and writing -------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_load_and_round_trip(name: str) -> None:
    jd = read_wadl((EXAMPLES / f"{name}.wadl").read_bytes(), f"{name}.wadl")
    assert jd.name == name
    assert jd.description and jd.execution_duration
    assert read_wadl(write_wadl(jd)) == jd


def test_examples_details() -> None:
    registry = JobDescriptions(EXAMPLES)
    assert registry.names() == EXAMPLE_NAMES
    assert registry.broken == {}
    sleep = registry.get("sleep").parameter("DURATION")
    assert sleep is not None and (sleep.type, sleep.default, sleep.min, sleep.max) == (
        "xs:int",
        "10",
        "0",
        "3600",
    )
    assert registry.get("wordcount").parameters[0].type == "file"
    assert registry.get("wordcount").results[0].mime_type == "application/json"
    assert registry.get("echo").execution_duration == 60


def test_round_trip_of_everything() -> None:
    data = write_wadl(FULL)
    again = read_wadl(data)
    assert again == FULL
    assert write_wadl(again) == data
    assert again.options["partition"] == "short" and list(again.options) == ["partition", "mem"]
    assert again.to_json()["parameters"][3]["choices"] == ["fast", "slow"]
    json.dumps(again.to_json())


def test_minimal_description_and_defaults() -> None:
    jd = read_wadl(wadl('<param name="a"/><param name="B" required="True" type="xs:int"/>'))
    assert [p.name for p in jd.parameters] == ["a", "B"]
    assert jd.parameters[0].type == "xs:string" and not jd.parameters[0].required
    assert jd.parameters[1].required
    assert jd.execution_duration is None and jd.results == () and dict(jd.options) == {}


def test_original_server_results_and_no_namespace() -> None:
    data = b"""<application><resources><resource id="joblist" path="old">
      <doc title="description"> Old style </doc>
      <method name="POST"><request id="create_job_parameters"/></method>
      <param name="EXECUTIONDURATION" default="120"/>
      <param name="result-id"><option value="out" mediaType="text/plain" default="o.txt">
        <doc>o</doc></option></param>
      <representation id="quote" default="7"/>
      </resource></resources></application>"""
    jd = read_wadl(data)
    assert (jd.description, jd.execution_duration, jd.quote) == ("Old style", 120, 7)
    assert jd.results == (ResultSpec("out", "text/plain", "o.txt", "o"),)


def test_original_server_boolean_defaults_yes_and_no_load() -> None:
    jd = read_wadl(
        wadl(
            '<param name="fail" type="xs:boolean" default="no" required="no"/>'
            '<param name="keep" type="xs:boolean" default="Yes" required="YES"/>'
        )
    )
    assert [p.default for p in jd.parameters] == ["no", "Yes"]
    assert [p.required for p in jd.parameters] == [False, True]
    assert validate_parameters(jd, {"keep": "no"}, complete=True) == {"fail": "no", "keep": "no"}


def test_parameter_lookup_is_case_insensitive() -> None:
    assert FULL.parameter("MODE") is FULL.parameters[3]
    assert FULL.parameter("nope") is None


INVALID = [
    (b"<application><oops></application>", "not well-formed XML"),
    (b"<foo/>", "root element must be <application>"),
    (b"<application/>", "no <resources><resource>"),
    (wadl('<param name="a" type="xs:integer"/>'), "unknown type 'xs:integer'"),
    (wadl('<param name="a" type="xs:int" min="5" max="1"/>'), "min 5 is greater than max 1"),
    (wadl('<param name="a" type="xs:int" min="low"/>'), "min 'low' is not an integer"),
    (wadl('<param name="a" type="xs:string" max="3"/>'), "min/max only apply to numeric"),
    (wadl('<param name="a" type="xs:int" default="ten"/>'), "default 'ten' is not valid"),
    (wadl('<param name="a" type="xs:int" default="9" max="5"/>'), "default '9' is not valid"),
    (
        wadl('<param name="a" default="c"><option value="a"/><option value="b"/></param>'),
        "expected one of: a, b",
    ),
    (wadl('<param name="a" type="xs:boolean" default="maybe"/>'), "default 'maybe' is not valid"),
    (wadl('<param name="a"/><param name="A"/>'), "duplicate parameter name 'A'"),
    (wadl('<param name="1a"/>'), "'1a' is not an identifier"),
    (wadl('<param name="my-param"/>'), "'my-param' is not an identifier"),
    (wadl('<param name="runId"/>'), "reserved UWS name"),
    (wadl('<param name="a" required="maybe"/>'), "required='maybe' is not true or false"),
    (wadl('<param type="xs:int"/>'), "has no name"),
    (wadl(name="bad name"), "job name 'bad name'"),
    (wadl(name=""), "has no path"),
    (wadl('<param name="EXECUTIONDURATION" default="1m"/>'), "'1m' is not a whole number"),
    (wadl('<param name="EXECUTIONDURATION" default="100" max="60"/>'), "not within the maximum"),
    (wadl(results='<representation id="o" default="../etc/passwd"/>'), "relative file name"),
    (wadl(results='<representation id="o" default="/etc/passwd"/>'), "relative file name"),
    (wadl(results='<representation id="o" mediaType="text"/>'), "not a media type"),
    (wadl(results='<representation id="o"/><representation id="o"/>'), "duplicate result id"),
    (wadl(extra='<param style="plain" name="mem"/>'), "needs name and fixed"),
    (wadl(extra='<param style="plain" name="a" fixed="x&#10;#SBATCH --x"/>'), "control characters"),
]


@pytest.mark.parametrize(("data", "fault"), INVALID)
def test_invalid_descriptions_are_rejected(data: bytes, fault: str) -> None:
    with pytest.raises(JDLError) as info:
        read_wadl(data, "demo.wadl")
    assert str(info.value).startswith("demo.wadl: ")
    assert fault in str(info.value)
    assert isinstance(info.value, ConfigurationError)


def test_entities_are_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("SECRET")
    data = (
        wadl()
        .replace(
            b"<application",
            f'<!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]><application'.encode(),
        )
        .replace(b"A demo", b"&x;")
    )
    assert "SECRET" not in read_wadl(data).description


# --- validate_parameters -------------------------------------------------------------------------


def test_names_match_in_any_case_and_come_back_declared_and_ordered() -> None:
    got = validate_parameters(FULL, {"MODE": "slow", "N": "5", "Text": "x y"}, complete=False)
    assert list(got.items()) == [("n", "5"), ("mode", "slow"), ("text", "x y")]


def test_unknown_names_list_the_accepted_ones() -> None:
    with pytest.raises(BadRequest) as info:
        validate_parameters(FULL, {"n": "5", "colour": "red"}, complete=True)
    assert "colour" in info.value.message
    assert "accepted parameters: n, x, flag, mode, url, data, big, text" in info.value.message


def test_same_name_twice_in_different_cases() -> None:
    with pytest.raises(BadRequest, match="more than once"):
        validate_parameters(FULL, {"n": "5", "N": "6"}, complete=False)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("n", "five", "an integer between 1 and 60"),
        ("n", "1.0", "an integer between 1 and 60"),
        ("n", " 5", "an integer between 1 and 60"),
        ("n", "", "an integer between 1 and 60"),
        ("n", "0", "an integer between 1 and 60"),
        ("n", "61", "an integer between 1 and 60"),
        ("n", "99999999999", "an integer between 1 and 60"),
        ("big", "9000000001", "an integer <= 9000000000"),
        ("x", "abc", "a number between -1.5 and 1e3"),
        ("x", "nan", "a number between -1.5 and 1e3"),
        ("x", "inf", "a number between -1.5 and 1e3"),
        ("x", "1e999", "a number between -1.5 and 1e3"),
        ("x", "-2", "a number between -1.5 and 1e3"),
        ("flag", "maybe", "true or false (or yes or no, 1 or 0)"),
        ("flag", "y", "true or false"),
        ("mode", "medium", "one of: fast, slow"),
        ("url", "example.org/x", "a URI with a scheme"),
        ("url", "https://exa mple.org", "a URI with a scheme"),
        ("data", "", "a non-empty file name"),
        ("text", "a\x00b", "text without control characters"),
        ("text", "a\x1bb", "text without control characters"),
    ],
)
def test_invalid_values_name_the_parameter_and_the_expected_form(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(InvalidValue) as info:
        validate_parameters(FULL, {name.upper(): value}, complete=False)
    assert info.value.name == name
    assert f"parameter {name}" in info.value.message
    assert expected in info.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n", "1"),
        ("n", "60"),
        ("n", "+7"),
        ("n", "007"),
        ("big", "-9000000000"),
        ("x", "1e3"),
        ("x", "-1.5"),
        ("x", ".5"),
        ("x", "3."),
        ("x", "2E2"),
        ("flag", "TRUE"),
        ("flag", "False"),
        ("flag", "1"),
        ("flag", "0"),
        ("flag", "yes"),
        ("flag", "No"),
        ("flag", "YES"),
        ("mode", "slow"),
        ("url", "ivo://org/x"),
        ("url", "https://example.org/a?b=c"),
        ("data", "in.fits"),
        ("text", ""),
        ("text", "$(rm -rf ~)"),
        ("text", " a\tb\r\n"),
    ],
)
def test_valid_values_are_returned_as_given(name: str, value: str) -> None:
    assert validate_parameters(FULL, {name: value}, complete=False) == {name: value}


def test_complete_requires_and_fills_defaults() -> None:
    with pytest.raises(BadRequest, match="Missing required parameter.*: n"):
        validate_parameters(FULL, {"mode": "slow"}, complete=True)
    got = validate_parameters(FULL, {"n": "3"}, complete=True)
    assert got == {"n": "3", "x": "0.5", "flag": "false", "mode": "fast"}
    assert validate_parameters(FULL, {"x": "2"}, complete=False) == {"x": "2"}


def test_job_type_without_parameters() -> None:
    bare = JobDescription("bare")
    assert validate_parameters(bare, {}, complete=True) == {}
    with pytest.raises(BadRequest, match="accepted parameters: none"):
        validate_parameters(bare, {"a": "1"}, complete=True)


# --- the registry --------------------------------------------------------------------------------


@pytest.fixture
def jdl_dir(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "jdl")
    return tmp_path / "jdl"


def test_broken_descriptions_do_not_stop_the_others(
    jdl_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (jdl_dir / "bad.wadl").write_bytes(
        wadl('<param name="a" type="xs:int" min="5" max="1"/>', name="bad")
    )
    (jdl_dir / "scripts" / "bad.sh").write_text("true\n")
    (jdl_dir / "other.wadl").write_bytes(wadl(name="renamed"))
    (jdl_dir / "noscript.wadl").write_bytes(wadl(name="noscript"))
    (jdl_dir / "not.xml.wadl").write_bytes(b"<")
    registry = JobDescriptions(jdl_dir)
    assert registry.names() == EXAMPLE_NAMES
    assert set(registry.broken) == {"bad", "other", "noscript", "not.xml"}
    assert "min 5 is greater than max 1" in registry.broken["bad"]
    assert "does not match the file name" in registry.broken["other"]
    assert "script not found" in registry.broken["noscript"]
    assert "bad.wadl" in caplog.text and "greater than max" in caplog.text
    with pytest.raises(NotFound, match="greater than max"):
        registry.get("bad")
    with pytest.raises(NotFound, match="unknown job type 'nothing'"):
        registry.get("nothing")
    with pytest.raises(NotFound):
        registry.script_path("bad")
    assert registry.script_path("echo") == jdl_dir / "scripts" / "echo.sh"
    assert registry.document("echo")[1] == (jdl_dir / "echo.wadl").read_bytes()


def test_missing_directory_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        JobDescriptions(tmp_path / "nowhere")


def test_reload_picks_up_changes(jdl_dir: Path) -> None:
    registry = JobDescriptions(jdl_dir)
    (jdl_dir / "echo.wadl").unlink()
    (jdl_dir / "demo.wadl").write_bytes(wadl(name="demo"))
    (jdl_dir / "scripts" / "demo.sh").write_text("true\n")
    assert "echo" in registry.names()
    registry.reload()
    assert "echo" not in registry.names() and "demo" in registry.names()


def test_save_keeps_the_previous_version(jdl_dir: Path) -> None:
    registry = JobDescriptions(jdl_dir)
    old_wadl = (jdl_dir / "echo.wadl").read_bytes()
    old_script = (jdl_dir / "scripts" / "echo.sh").read_bytes()
    changed = JobDescription(
        "echo", "new text", (ParameterSpec("message", default="hi"),), execution_duration=5
    )
    registry.save(changed, "#!/bin/bash\r\nprintf '%s\\n' \"$message\" > out.txt\r\n")
    assert registry.get("echo") == changed
    history = sorted(p.name for p in (jdl_dir / ".history").iterdir())
    assert len(history) == 2 and history[0].endswith(".sh") and history[1].endswith(".wadl")
    assert (jdl_dir / ".history" / history[1]).read_bytes() == old_wadl
    assert (jdl_dir / ".history" / history[0]).read_bytes() == old_script
    script = jdl_dir / "scripts" / "echo.sh"
    assert b"\r" not in script.read_bytes() and os.stat(script).st_mode & 0o777 == 0o755
    # Saving only the description keeps the script and copies only the description.
    registry.save(JobDescription("echo", "third"), None)
    assert registry.get("echo").description == "third"
    assert len(list((jdl_dir / ".history").iterdir())) == 3
    assert registry.names() == EXAMPLE_NAMES


def test_save_of_a_new_job_type_needs_a_script(jdl_dir: Path) -> None:
    registry = JobDescriptions(jdl_dir)
    with pytest.raises(JDLError, match="no script"):
        registry.save(JobDescription("brandnew"), None)
    registry.save(JobDescription("brandnew"), "true\n")
    assert "brandnew" in registry.names()
    assert list((jdl_dir / ".history").iterdir()) == []


def test_model_rejects_invalid_values_directly() -> None:
    with pytest.raises(ValueError, match="reserved UWS name"):
        ParameterSpec("wait")
    with pytest.raises(ValueError, match="not within the maximum"):
        JobDescription("a", execution_duration=0, max_execution_duration=10)
    with pytest.raises(ValueError, match="control characters"):
        JobDescription("a", description="bell\x07")
    assert JobDescription("a", description="  padded\n") == JobDescription("a", "padded")
    assert hash(FULL) == hash(read_wadl(write_wadl(FULL)))


# --- the example scripts -------------------------------------------------------------------------


def run(name: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = EXAMPLES / "scripts" / f"{name}.sh"
    return subprocess.run(
        ["bash", str(script)],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@needs_bash
def test_echo_script_treats_values_as_data(tmp_path: Path) -> None:
    message = '$(touch pwned) "; rm -rf ~ `id`'
    assert run("echo", tmp_path, message=message).returncode == 0
    assert (tmp_path / "output.txt").read_text() == message + "\n"
    assert not (tmp_path / "pwned").exists()


@needs_bash
def test_sleep_script_writes_progress_and_output(tmp_path: Path) -> None:
    assert run("sleep", tmp_path, duration="1").returncode == 0
    assert (tmp_path / "progress").read_text() == "1.000\n"
    assert (tmp_path / "output.txt").read_text() == "slept 1 s\n"
    bad = run("sleep", tmp_path, duration="a[$(touch pwned)]")
    assert bad.returncode == 2 and not (tmp_path / "pwned").exists()


@needs_bash
def test_fail_script_fails(tmp_path: Path) -> None:
    result = run("fail", tmp_path, message="broken on purpose")
    assert result.returncode == 1 and result.stderr == "broken on purpose\n"


@needs_bash
def test_wordcount_script_writes_json(tmp_path: Path) -> None:
    (tmp_path / "-odd name.txt").write_text("one two\nthree\n")
    assert run("wordcount", tmp_path, infile="-odd name.txt").returncode == 0
    counts = json.loads((tmp_path / "counts.json").read_text())
    assert counts == {"lines": 2, "words": 3, "bytes": 14}
    assert run("wordcount", tmp_path, infile="missing").returncode == 1
