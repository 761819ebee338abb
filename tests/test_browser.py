"""The browser client end to end in headless Chromium, and the JavaScript library's tests in Node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import insert

from uws_pyramid.jobs import Job, Phase, new_job_id, utcnow
from uws_pyramid.testing import serve

from .browser import AXE_FAILING, Browser, start_chromium
from .conftest import ADMIN_PASSWORD, ROOT, add_user, require_services, wait_for
from .editable import anonymous, settings  # noqa: F401  (fixtures)

ARTIFACTS = ROOT / "test-artifacts"
JS_TESTS = ROOT / "tests" / "js"
XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "alice-secret-1"


@pytest.fixture
def base(app: Any) -> Iterator[str]:
    with serve(app, threads=8) as url:
        yield url


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    web = start_chromium(require_services())
    yield web
    web.quit()


@pytest.fixture
def browser(driver: Any, base: str) -> Iterator[Browser]:
    driver.set_window_size(1200, 900)
    yield Browser(driver, base, ARTIFACTS)
    # Cookies do not tell ports apart: no test's session may reach the next test's server.
    driver.delete_all_cookies()
    driver.get("about:blank")  # end the page's requests (WAIT) before the server stops


def create(base: str, job_type: str, **data: str) -> str:
    response = requests.post(f"{base}/rest/{job_type}", data=data, allow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def phase(url: str, auth: tuple[str, str] | None = None) -> str:
    return requests.get(f"{url}/phase", auth=auth).text


def job_page(url: str) -> str:
    job_type, job_id = url.split("/")[-2:]
    return f"job.html?type={job_type}&id={job_id}"


# -- the JavaScript library ----------------------------------------------------------------------


def test_javascript_library_unit_tests_and_live_service(base: str) -> None:
    """Node's test runner over tests/js: pure functions, fake fetch, and this live service."""
    node = shutil.which("node")
    if node is None:
        if require_services():
            pytest.fail("node is required (UWS_REQUIRE_SERVICES=1)")
        pytest.skip("node is not installed")
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    env = {**os.environ, "UWS_TEST_BASE": base}
    run = subprocess.run(
        [node, "--test", *files], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# skipped 0" in run.stdout


# -- pages in Chromium ---------------------------------------------------------------------------


@pytest.mark.browser
def test_create_echo_job_from_the_form_run_it_and_open_its_result(
    browser: Browser, base: str
) -> None:
    browser.open("create.html?type=echo")
    message = browser.wait_css("#p-message")
    assert message.get_attribute("value") == "hello"  # the default
    message.clear()
    message.send_keys("hello from the browser")
    browser.css("#options summary").click()
    browser.css("#c-RUNID").send_keys("browser run")
    browser.shot("create-echo")
    browser.css("#create-only").click()
    browser.wait(lambda d: "job.html" in d.current_url)
    browser.wait_css("body[data-phase='PENDING']")
    browser.mark_page()
    browser.css("#run").click()
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    assert browser.page_marked(), "the page was reloaded: the phase must update live"
    assert browser.css("#phase").text == "COMPLETED"
    preview = browser.wait_css("details[data-result='output'] pre.output")
    assert preview.text == "hello from the browser"
    assert "browser run" in browser.css("h1").text
    browser.shot("job-completed")
    assert browser.errors() == []
    browser.css("details[data-result='output'] a.open").click()
    browser.wait(lambda d: "/results/output" in d.current_url)
    assert browser.driver.find_element("tag name", "body").text.strip() == "hello from the browser"


@pytest.mark.browser
def test_validation_error_appears_next_to_its_field(browser: Browser, base: str) -> None:
    browser.open("create.html?type=sleep")
    field = browser.wait_css("#p-duration")
    field.clear()
    field.send_keys("99999")
    browser.css("#create-run").click()
    error = browser.wait_css("[data-field='duration'] .field-error:not([hidden])")
    assert "duration" in error.text and "3600" in error.text
    assert field.get_attribute("aria-invalid") == "true"
    assert browser.driver.switch_to.active_element == field
    assert browser.css("#form-error").is_displayed() is False
    browser.shot("create-validation-error")
    assert "<uws:jobref" not in requests.get(f"{base}/rest/sleep").text


@pytest.mark.browser
def test_abort_a_sleep_job_from_its_page(browser: Browser, base: str) -> None:
    url = create(base, "sleep", duration="60", PHASE="RUN")
    browser.open(job_page(url))
    browser.wait_css("body[data-phase='EXECUTING']", timeout=20)
    browser.wait(
        lambda d: 0 < float(browser.css("#progress-bar").get_attribute("value")), timeout=10
    )
    browser.shot("job-executing-progress")
    browser.css("#abort").click()
    browser.wait_css("body[data-phase='ABORTED']", timeout=20)
    assert phase(url) == "ABORTED"
    assert not browser.css("#abort").is_displayed()


@pytest.mark.browser
def test_job_values_are_shown_as_text_never_as_html(browser: Browser, base: str) -> None:
    url = create(base, "echo", message=XSS, RUNID=XSS)
    browser.open(job_page(url))
    cell = browser.wait_css("tr[data-parameter='message'] .value")
    assert cell.text == XSS
    assert XSS in browser.css("h1").text
    browser.open("index.html?type=echo")
    row = browser.wait_css("#jobs .runid")
    assert row.text == XSS
    assert browser.driver.find_elements("css selector", "main img") == []
    assert browser.alert_text() is None
    assert browser.errors() == []  # no request for "x", no CSP violation
    browser.shot("xss-as-text")


@pytest.mark.browser
def test_job_list_filters_pages_refreshes_and_deletes(browser: Browser, base: str) -> None:
    pending = [create(base, "echo", RUNID=f"pending {i}") for i in range(3)]
    done = [create(base, "echo", RUNID=f"done {i}", PHASE="RUN") for i in range(2)]
    failed = create(base, "fail", PHASE="RUN")
    for url in [*done, failed]:
        wait_for(lambda u=url: phase(u) in ("COMPLETED", "ERROR"), timeout=30)
    browser.open("index.html")
    browser.wait(lambda d: len(browser.rows()) == 6)
    assert {r.get_attribute("data-phase") for r in browser.rows()} == {
        "PENDING",
        "COMPLETED",
        "ERROR",
    }
    runids = [r.find_element("css selector", ".runid").text for r in browser.rows()]
    assert runids[0] == failed.rsplit("/", 1)[1], "a job without Run ID is labelled by its id"
    assert runids[1:3] == ["done 1", "done 0"], "newest first"
    browser.shot("job-list-all")
    browser.css("#filter-summary").click()
    browser.css("#phases button[value='PENDING']").click()
    browser.wait(lambda d: browser.phases() == ["PENDING"] * 3)
    assert "phase=PENDING" in browser.driver.current_url
    browser.css("#phases button[value='ERROR']").click()
    browser.wait(
        lambda d: (
            sorted(set(browser.phases())) == ["ERROR", "PENDING"] and len(browser.phases()) == 4
        )
    )
    browser.css("#clear").click()
    browser.wait(lambda d: len(browser.rows()) == 6)
    browser.select("#size", "10")
    newest = create(base, "echo", RUNID="arrived later")  # appears without a reload
    browser.mark_page()
    browser.wait(lambda d: "arrived later" in browser.rows()[0].text, timeout=15)
    assert browser.page_marked()
    browser.select("#jobtype", "echo")
    browser.wait(
        lambda d: (
            len(browser.rows()) == 6
            and "/rest/echo" in browser.rows()[0].get_attribute("data-href")
        )
    )
    browser.css("#filter-summary").click()  # closed again: no filter is set on the new page
    browser.driver.execute_script("document.getElementById('size').append(new Option('2', '2'))")
    browser.select("#size", "2")
    browser.wait(lambda d: len(browser.rows()) == 2 and browser.css("#older").is_enabled())
    browser.css("#older").click()
    browser.wait(
        lambda d: browser.css("#pageno").text == "Page 2 of 3" and len(browser.rows()) == 2
    )
    assert browser.rows()[0].find_element("css selector", ".runid").text == "done 0"
    browser.css("#newer").click()
    browser.wait(lambda d: browser.css("#pageno").text == "Page 1 of 3")
    browser.wait(lambda d: "arrived later" in browser.rows()[0].text)
    for box in browser.driver.find_elements("css selector", "#jobs tbody input[type=checkbox]"):
        box.click()
    browser.css("#delete").click()
    browser.wait_css("dialog[open] button.danger").click()
    browser.wait(lambda d: "Deleted: 2 jobs." in browser.css("#status").text)
    assert requests.get(newest).status_code == 404
    assert all(requests.get(u).status_code == 200 for u in pending)


@pytest.mark.browser
def test_a_list_of_10000_jobs_is_usable_within_a_second(
    browser: Browser, app: Any, base: str
) -> None:
    storage = app.registry.uws.storage
    table = storage_table()
    now = utcnow()
    rows = [
        storage_row(
            Job(
                job_id=new_job_id(),
                job_type="echo",
                run_id=f"bulk {i}",
                owner_id=None,
                creation_time=now - timedelta(seconds=10_000 - i),
                phase=Phase.COMPLETED,
                execution_duration=60,
                destruction=now + timedelta(days=7),
                parameters={"message": str(i)},
            )
        )
        for i in range(10_000)
    ]
    with storage.engine.begin() as conn:
        conn.execute(insert(table), rows)
    for page in ("index.html", "index.html?type=echo"):
        browser.open("jdl.html")  # warm: the static files are cached as a returning user has them
        started = time.monotonic()
        browser.open(page, wait=False)
        browser.wait(lambda d: len(browser.rows()) == 25, timeout=10)
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"{page} took {elapsed:.2f} s to list its first jobs"
        assert "bulk 9999" in browser.rows()[0].text
    browser.shot("job-list-10000")


REST_TRAFFIC = """
return performance.getEntriesByType("resource").filter((e) => e.name.includes("/rest"))
  .map((e) => [e.name, e.transferSize]);
"""


@pytest.mark.browser
def test_an_idle_page_of_10000_jobs_costs_one_request_per_change(
    browser: Browser, app: Any, base: str
) -> None:
    """The list page waits on its list (WAIT with the page's ETag) rather than polling it,
    and pages by cursor: requests and bytes counted by the browser's own resource timing."""
    storage = app.registry.uws.storage
    now = utcnow()
    jobs = [
        Job(
            job_id=new_job_id(),
            job_type="echo",
            run_id=f"bulk {i}",
            owner_id=None,
            creation_time=now - timedelta(seconds=10_000 - i),
            phase=Phase.COMPLETED,
            execution_duration=60,
            destruction=now + timedelta(days=7),
            parameters={"message": str(i)},
        )
        for i in range(10_000)
    ]
    with storage.engine.begin() as conn:
        conn.execute(insert(storage_table()), [storage_row(job) for job in jobs])
    browser.open("index.html?type=echo")
    browser.wait(lambda d: len(browser.rows()) == 25 and "…" not in browser.css("#jobs").text)
    browser.driver.execute_script(
        "performance.setResourceTimingBufferSize(10000); performance.clearResourceTimings()"
    )
    time.sleep(10)  # idle: nothing changes
    idle = browser.driver.execute_script(REST_TRAFFIC)
    assert len(idle) <= 1 and sum(size for _, size in idle) < 50_000, idle
    browser.driver.execute_script("performance.clearResourceTimings()")
    create(base, "echo", RUNID="arrived later")
    browser.wait(lambda d: "arrived later" in browser.rows()[0].text, timeout=15)
    browser.wait(lambda d: "…" not in browser.css("#jobs").text)
    changed = browser.driver.execute_script(REST_TRAFFIC)
    lists = [name for name, _ in changed if "LAST=" in name]
    assert len(lists) == 1 and "WAIT=" in lists[0], changed  # the wait that saw the change
    assert len(changed) <= 3, changed  # and the new row's own job (start and end times)
    assert sum(size for _, size in changed) < 50_000, changed
    # Page 301 of 401 (by its cursor, as the page's own link gives it) as fast as page 1.
    old = jobs[10_000 - 300 * 25]
    cursor = f"{old.creation_time.isoformat(timespec='milliseconds')[:23]}Z,{old.job_id}"
    browser.open("jdl.html")
    started = time.monotonic()
    browser.open(f"index.html?type=echo&page=301&before={cursor}", wait=False)
    browser.wait(lambda d: browser.css("#pageno").text == "Page 301" and len(browser.rows()) == 25)
    assert browser.css("#total").text == "10000+ jobs"  # COUNT stops at the service's limit
    assert time.monotonic() - started < 1.0
    assert f"bulk {10_000 - 300 * 25 - 1}" in browser.rows()[0].text
    browser.css("#older").click()
    browser.wait(lambda d: browser.css("#pageno").text == "Page 302")
    assert f"bulk {10_000 - 301 * 25 - 1}" in browser.rows()[0].text
    # The last page (the 25 oldest jobs, newest first) as fast, then the one before it.
    started = time.monotonic()
    browser.css("#last").click()
    browser.wait(lambda d: browser.css("#pageno").text == "Last page" and "bulk 0" in d.page_source)
    assert time.monotonic() - started < 1.0
    assert "bulk 24" in browser.rows()[0].text and len(browser.rows()) == 25
    assert browser.css("#older").get_attribute("disabled") is not None
    browser.css("#newer").click()
    browser.wait(lambda d: "bulk 49" in browser.rows()[0].text and len(browser.rows()) == 25)
    assert "bulk 25" in browser.rows()[-1].text


@pytest.mark.browser
def test_phone_sized_screen_and_keyboard_only(browser: Browser, base: str) -> None:
    url = create(base, "echo", RUNID="on a phone", PHASE="RUN")
    wait_for(lambda: phase(url) == "COMPLETED", timeout=30)
    browser.driver.set_window_size(390, 844)
    for name, page in (
        ("phone-job-list", "index.html"),
        ("phone-job", job_page(url)),
        ("phone-create", "create.html?type=sleep"),
    ):
        browser.open(page)
        browser.wait_css("body[data-loaded], body[data-phase]")
        time.sleep(0.3)
        assert browser.horizontal_overflow() <= 0, f"{page} scrolls sideways on a phone"
        browser.shot(name)
    # Keyboard only: the first field has the focus; Tab to "Create", Enter.
    active = browser.driver.switch_to.active_element
    assert active.get_attribute("id") == "p-duration"
    active.send_keys("\ue003\ue003" + "7")  # two backspaces, then 7
    browser.tab_until(lambda el: el.get_attribute("id") == "create-only")
    browser.driver.switch_to.active_element.send_keys("\ue007")  # Enter
    browser.wait(lambda d: "job.html" in d.current_url)
    browser.wait_css("tr[data-parameter='duration']")
    assert browser.css("tr[data-parameter='duration'] .value").text == "7"


@pytest.mark.browser
def test_edit_a_pending_job_and_rerun_a_finished_one(browser: Browser, base: str) -> None:
    url = create(base, "sleep", duration="5")
    browser.open(job_page(url))
    browser.wait_css("body[data-phase='PENDING']")
    browser.css("#edit").click()
    field = browser.wait_css("#e-duration")
    field.clear()
    field.send_keys("-3")
    browser.css("#edit-form button[type=submit]").click()
    assert "duration" in browser.wait_css("[data-field='duration'] .field-error:not([hidden])").text
    field.clear()
    field.send_keys("1")
    browser.css("#c-EXECUTIONDURATION").clear()
    browser.css("#c-EXECUTIONDURATION").send_keys("30")
    browser.css("#edit-form button[type=submit]").click()
    browser.wait(lambda d: browser.css("tr[data-parameter='duration'] .value").text == "1")
    assert "30 s" in browser.css("#properties").text
    browser.css("#run").click()
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    browser.css("#rerun").click()
    browser.wait(lambda d: "job.html" in d.current_url and url.split("/")[-1] not in d.current_url)
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    assert browser.css("tr[data-parameter='duration'] .value").text == "1"


@pytest.mark.browser
def test_description_page_and_editor_create_a_job_type_live(
    browser: Browser, app: Any, base: str
) -> None:
    add_user(app, "root", ADMIN_PASSWORD, "admin")
    browser.open("jdl.html?type=sleep")
    browser.wait_css("body[data-loaded]")
    assert "a whole number between 0 and 3600" in browser.css("#description").text
    assert not browser.css("#new-type").is_displayed(), "the editor is for administrators"
    assert browser.driver.find_elements("link text", "Edit") == []
    browser.shot("job-description")
    browser.wait_css("#login-link").click()  # comes back here once logged in
    browser.log_in("root", ADMIN_PASSWORD)
    browser.wait(lambda d: "jdl.html?type=sleep" in d.current_url)
    assert "root (administrator)" in browser.wait_css("#user").text
    browser.wait_css("body[data-loaded]")
    assert browser.css("#new-type").is_displayed()
    browser.css("#description a[href^='editor.html']").click()
    browser.wait_css("body[data-loaded]")
    assert browser.css("#script").get_attribute("value").startswith("#!")  # the sleep script
    browser.open("editor.html")
    browser.wait_css("body[data-loaded]")
    browser.css("#name").send_keys("greet")
    browser.css("#description").send_keys("Greet someone.")
    browser.css("#add-parameter").click()
    row = browser.css("#parameters .row")
    row.find_element("css selector", "[data-key=name]").send_keys("who")
    row.find_element("css selector", "[data-key=default]").send_keys("world")
    row.find_element("css selector", "[data-key=max]").send_keys("3")  # max on a string: invalid
    row.find_element("css selector", "[data-key=choices]").send_keys("world\nmoon")
    browser.css("#add-result").click()
    result = browser.css("#results .row")
    result.find_element("css selector", "[data-key=id]").send_keys("greeting")
    result.find_element("css selector", "[data-key=default]").send_keys("greeting.txt")
    script = browser.css("#script")
    script.send_keys('printf "hello, %s\\n" "$who" > greeting.txt\n')
    browser.css("#check").click()
    fault = browser.wait_css("#form-error:not([hidden])")
    assert "400" in fault.text and "min/max only apply to numeric" in fault.text
    assert "invalid" in row.get_attribute("class")
    row.find_element("css selector", "[data-key=max]").clear()
    browser.css("#check").click()
    browser.wait(lambda d: "is valid" in browser.css("#saved").text)
    assert 'path="greet"' in browser.css("#wadl").get_attribute("textContent")
    assert requests.get(f"{base}/jdl/greet/json").status_code == 404  # only checked
    browser.css("#save").click()
    browser.wait(lambda d: "Saved and activated" in browser.css("#saved").text)
    browser.shot("editor")
    browser.open("create.html?type=greet")  # active at once, choices as a list
    choice = browser.wait_css("select#p-who")
    options = [o.get_attribute("value") for o in choice.find_elements("css selector", "option")]
    assert options == ["", "world", "moon"] and choice.get_attribute("value") == "world"
    browser.select("#p-who", "moon")
    browser.css("#create-run").click()
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    assert browser.wait_css("details[data-result='greeting'] pre").text == "hello, moon"


@pytest.mark.browser
def test_file_parameter_is_uploaded_and_json_result_previewed(
    browser: Browser, tmp_path: Path
) -> None:
    upload = tmp_path / "words.txt"
    upload.write_text("one two\nthree\n")
    browser.open("create.html?type=wordcount")
    browser.wait_css("#p-infile").send_keys(str(upload))
    assert browser.css("label[for='p-infile'] abbr.required")
    browser.css("#create-run").click()
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    element = browser.wait_css("details[data-result='counts'] pre")
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    preview = element.text
    link = browser.css("tr[data-parameter='infile'] a.upload")
    assert (
        link.text == "words.txt" and link.get_attribute("download") == "words.txt"
    )  # its own name
    assert json.loads(preview) == {"lines": 2, "words": 3, "bytes": 14}
    assert "\n  " in preview  # pretty-printed
    browser.shot("job-json-result")


# -- logging in and out -------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("anonymous", ["false"])
def test_log_in_work_as_oneself_and_log_out(browser: Browser, app: Any, base: str) -> None:
    add_user(app, "alice", PASSWORD)
    browser.open("index.html?type=echo")  # anonymous access is off: off to the login page
    browser.wait(lambda d: "login.html" in d.current_url)
    assert "next=%2Fclient%2Fstatic%2Findex.html%3Ftype%3Decho" in browser.driver.current_url
    assert browser.driver.find_elements("css selector", "#login-link") == []
    browser.log_in("alice", "not-her-password")
    error = browser.wait_css("#form-error:not([hidden])")
    assert "401" not in error.text and "wrong user name or password" in error.text
    assert browser.session_cookie() is None
    assert "login.html" in browser.driver.current_url and browser.alert_text() is None
    browser.shot("login-refused")
    browser.css("#username").clear()
    browser.log_in("alice", PASSWORD)
    browser.wait(lambda d: d.current_url.endswith("index.html?type=echo"))
    assert browser.session_cookie()
    assert "uws_session" not in browser.driver.execute_script("return document.cookie")  # HttpOnly
    assert all("status of 401" in e for e in browser.errors()), "the console: only the refusals"
    assert browser.wait_css("#user").text == "alice"
    browser.wait_css("body[data-loaded]")
    assert browser.rows() == [] and browser.css("#empty").is_displayed()
    browser.shot("logged-in-job-list")
    # Creating a job is a change: the library sends the session's CSRF token with it.
    browser.open("create.html?type=echo")
    browser.wait_css("#p-message").send_keys(" from alice")
    browser.css("#create-run").click()
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    assert "Owner\nalice" in browser.css("#properties").text
    browser.open("index.html")
    browser.wait(lambda d: len(browser.rows()) == 1)
    assert browser.errors() == []
    browser.wait_css("#logout").click()
    browser.wait(lambda d: "login.html" in d.current_url)
    assert browser.session_cookie() is None
    assert browser.driver.find_elements("css selector", "#user") == []
    assert browser.fetch_status("/rest/echo") == 401
    browser.open("job.html?type=echo&id=nope")
    browser.wait(lambda d: "login.html?next=%2Fclient%2Fstatic%2Fjob.html" in d.current_url)


@pytest.mark.browser
def test_open_service_offers_a_login_and_keeps_anonymous_jobs_apart(
    browser: Browser, app: Any, base: str
) -> None:
    add_user(app, "alice", PASSWORD)
    create(base, "echo", RUNID="anonymous job")
    browser.open("index.html")
    browser.wait(lambda d: len(browser.rows()) == 1)
    browser.wait_css("#login-link").click()
    browser.wait_css("#anonymous a")  # the service lets strangers in: say so
    browser.log_in("alice", PASSWORD)
    browser.wait(lambda d: d.current_url.endswith("/index.html"))
    browser.wait_css("#user")
    browser.wait_css("body[data-loaded]")
    assert browser.rows() == [], "alice sees her own jobs, not the anonymous ones"
    assert browser.css("#logout").is_displayed()
    assert browser.driver.find_elements("css selector", "#login-link") == []


def storage_table() -> Any:
    from uws_pyramid.sql.tables import jobs

    return jobs


def storage_row(job: Job) -> dict[str, Any]:
    from uws_pyramid.sql.rows import job_to_row

    return job_to_row(job)


# -- round 2: the console (issue 17) -------------------------------------------------------------

ADMIN = ("root", ADMIN_PASSWORD)
#: A tiny PNG (a 2×2 red square), as the gallery job writes it.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAwMDAxMDAAAAhAQMB"
    "vJjkZgAAAABJRU5ErkJggg=="
)
GALLERY_SCRIPT = f"""#!/bin/bash
# Results of every kind the job page previews; "note" holds the caller's text as it is.
set -eu
printf '%s' '{PNG_B64}' | base64 -d > picture.png
{{ echo "n,square,label"; for i in $(seq 1 250); do echo "$i,$((i * i)),\\"$note\\""; done; }} > table.csv
{{ printf '%-80s' "SIMPLE  =                    T" "BITPIX  =                    8" "NAXIS   =                    0" \\
    "OBJECT  = '$note'" "END"; printf '%*s' 2480 ''; }} > image.fits
printf '%s\\n' "$note" > note.txt
printf 'to stderr only\\n' >&2
"""


def gallery(base: str) -> None:
    """A job type with image, CSV, FITS and text results, written through the editor's API."""
    result = {"description": "", "default": None}
    jd = {
        "name": "gallery",
        "description": "Results of every kind.",
        "version": "1",
        "parameters": [
            {
                "name": "note",
                "type": "xs:string",
                "default": "a note",
                "required": False,
                "description": "Text put in every result",
                "min": None,
                "max": None,
                "choices": [],
            }
        ],
        "results": [
            {**result, "id": "picture", "mime_type": "image/png", "default": "picture.png"},
            {**result, "id": "table", "mime_type": "text/csv", "default": "table.csv"},
            {**result, "id": "image", "mime_type": "application/fits", "default": "image.fits"},
            {**result, "id": "note", "mime_type": "text/plain", "default": "note.txt"},
        ],
        "execution_duration": 60,
        "max_execution_duration": 600,
        "quote": None,
        "destruction": 86400,
        "options": {},
    }
    saved = requests.put(
        f"{base}/jdl/gallery", json={"description": jd, "script": GALLERY_SCRIPT}, auth=ADMIN
    )
    assert saved.status_code == 200, saved.text


def log_in_as_admin(browser: Browser) -> None:
    browser.open("login.html")
    browser.log_in(*ADMIN)
    browser.wait_css("#user")


def populate(app: Any, base: str) -> dict[str, str]:
    """Jobs of several owners and phases, and a finished gallery job; their URLs by name."""
    add_user(app, "alice", PASSWORD)
    add_user(app, *ADMIN, "admin")
    gallery(base)
    jobs = {
        "pending": create(base, "echo", RUNID="pending one"),
        "error": create(base, "fail", RUNID="failing", PHASE="RUN"),
        "gallery": create(base, "gallery", RUNID="gallery", PHASE="RUN"),
    }
    alice = requests.post(
        f"{base}/rest/echo",
        data={"RUNID": "alice's", "PHASE": "RUN"},
        auth=("alice", PASSWORD),
        allow_redirects=False,
    )
    jobs["alice"] = alice.headers["Location"]
    for url in (jobs["error"], jobs["gallery"], jobs["alice"]):
        wait_for(lambda u=url: phase(u, ADMIN) in ("COMPLETED", "ERROR"), timeout=30)
    assert phase(jobs["gallery"]) == "COMPLETED", requests.get(f"{jobs['gallery']}/error").text
    return jobs


AUDITED = {
    "root": "../../",
    "docs": "../../docs",
    "jobs": "index.html",
    "create": "create.html?type=sleep",
    "descriptions": "jdl.html?type=sleep",
    "editor": "editor.html?type=sleep",
    "login": "login.html",
}


@pytest.mark.browser
def test_every_page_passes_axe_in_light_and_dark_on_desktop_and_phone(
    browser: Browser, app: Any, base: str
) -> None:
    """axe-core inside Chromium on every page: no serious or critical violation, in both colour
    schemes at both sizes; each one's screenshot lands in test-artifacts/."""
    jobs = populate(app, base)
    log_in_as_admin(browser)
    pages = {
        **AUDITED,
        "job-gallery": job_page(jobs["gallery"]),
        "job-error": job_page(jobs["error"]),
    }
    failures = []
    try:
        for scheme in ("light", "dark"):
            browser.color_scheme(scheme)
            for size, (width, height) in (("desktop", (1200, 900)), ("phone", (390, 844))):
                browser.driver.set_window_size(width, height)
                for name, path in pages.items():
                    browser.open(path)
                    if not path.startswith(".."):
                        browser.wait_css("body[data-loaded], body[data-phase]")
                        browser.wait(
                            lambda d: "Loading…" not in d.find_element("tag name", "main").text
                        )
                    failures += [
                        (name, size, scheme, v) for v in browser.axe() if v["impact"] in AXE_FAILING
                    ]
                    browser.shot(f"{name}-{size}-{scheme}")
    finally:
        browser.color_scheme("light")
    assert failures == []
    assert browser.errors() == []


ISO_LOCAL = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d$"


def tabs_to(browser: Browser, selector: str, limit: int = 30) -> int:
    """Tab presses from the top of the page until ``selector`` has the focus."""
    browser.driver.execute_script("document.activeElement?.blur(); window.scrollTo(0, 0)")
    body = browser.driver.find_element("tag name", "body")
    for count in range(1, limit + 1):
        (browser.driver.switch_to.active_element if count > 1 else body).send_keys("\ue004")
        if browser.driver.execute_script(
            "return document.activeElement.matches(arguments[0])", selector
        ):
            return count
    raise AssertionError(f"{selector} not reached in {limit} Tab presses")


@pytest.mark.browser
def test_list_owner_duration_times_sort_search_and_filters_in_the_url(
    browser: Browser, app: Any, base: str
) -> None:
    import re

    jobs = populate(app, base)
    batch = [create(base, "echo", RUNID=f"batch {i}") for i in range(3)]
    log_in_as_admin(browser)
    browser.open("index.html")
    browser.wait(lambda d: len(browser.rows()) == 7 and "…" not in browser.css("#jobs tbody").text)
    # The first job from the top of the page: the second skip link, then two Tab presses.
    assert tabs_to(browser, "a.skip[href='#rows']") == 2
    browser.driver.switch_to.active_element.send_keys("\ue007")  # Enter
    for _ in range(2):
        browser.driver.switch_to.active_element.send_keys("\ue004")
    assert browser.driver.execute_script(
        "return document.activeElement.matches('#jobs tbody tr:first-child a.label')"
    )
    # Run ID first, the job id under it; the owner column for an administrator.
    first = browser.rows()[0]
    assert first.find_element("css selector", ".runid").text == "batch 2"
    assert first.find_element("css selector", ".jobid").text == batch[2].rsplit("/", 1)[1]
    assert browser.css("th.col-owner").is_displayed()
    alice = browser.css(f"tr[data-href='{jobs['alice']}']")
    assert alice.find_element("css selector", "td[data-label='Owner']").text == "alice"
    created = alice.find_element("css selector", "td[data-label='Created'] time")
    assert re.match(r"^(just now|\d+ s ago|1 min ago)$", created.text), created.text
    assert re.match(ISO_LOCAL, created.get_attribute("title")), created.get_attribute("title")
    assert re.match(
        r"^\d+ s$", alice.find_element("css selector", "td[data-label='Duration']").text
    )
    assert browser.css(f"tr[data-href='{jobs['pending']}'] td[data-label='Duration']").text == "—"
    assert browser.css("#total").text == "7 jobs" and browser.css("#pageno").text == "Page 1 of 1"
    # Sorting this page by phase, both ways; the column says so to screen readers.
    browser.css("th[data-sort='phase'] button").click()
    order = ["PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED"]
    browser.wait(lambda d: browser.phases() == sorted(browser.phases(), key=order.index))
    assert browser.css("th[data-sort='phase']").get_attribute("aria-sort") == "ascending"
    assert "sort=phase" in browser.driver.current_url
    browser.css("th[data-sort='phase'] button").click()
    browser.wait(
        lambda d: browser.phases() == sorted(browser.phases(), key=order.index, reverse=True)
    )
    browser.css("th[data-sort='duration'] button").click()
    browser.wait(
        lambda d: browser.css("th[data-sort='duration']").get_attribute("aria-sort") == "descending"
    )
    browser.shot("job-list-admin-sorted")
    # By start time, on the service: the jobs that started, newest first, then oldest first.
    finished = {jobs["error"], jobs["gallery"], jobs["alice"]}
    for click, order in ((1, "descending"), (2, "ascending")):
        browser.css("th[data-sort='started'] button").click()
        browser.wait(
            lambda d, o=order: (
                browser.css("th[data-sort='started']").get_attribute("aria-sort") == o
                and {r.get_attribute("data-href") for r in browser.rows()} == finished
                and "…" not in browser.css("#jobs tbody").text
            )
        )
        starts = [
            r.find_element("css selector", "td[data-label='Started'] time").get_attribute("title")
            for r in browser.rows()
        ]
        assert starts == sorted(starts, reverse=order == "descending"), starts
        assert browser.css("#total").text == "3 jobs"
        assert f"sort={'-' if click == 1 else ''}started" in browser.driver.current_url
    assert "Jobs that started, oldest first" in browser.css("#caption").text
    browser.css("th[data-sort='created'] button").click()  # back to newest first
    browser.wait(lambda d: len(browser.rows()) == 7 and "sort=" not in d.current_url)
    # Run ID search and a phase chip, kept in the URL; another type keeps them.
    browser.css("#filter-summary").click()
    browser.css("#runid").send_keys("batch")
    browser.wait(lambda d: len(browser.rows()) == 3 and browser.css("#total").text == "3 jobs")
    assert "runid=batch" in browser.driver.current_url
    browser.css("#phases button[value='PENDING']").click()
    browser.wait(lambda d: "phase=PENDING" in d.current_url)
    assert browser.css("#phases button[value='PENDING']").get_attribute("aria-pressed") == "true"
    assert "Run ID batch" in browser.css("#filter-summary").text
    browser.select("#jobtype", "echo")
    browser.wait(lambda d: "type=echo" in d.current_url and len(browser.rows()) == 3)
    assert (
        "phase=PENDING" in browser.driver.current_url
        and "runid=batch" in browser.driver.current_url
    )
    assert browser.css("#filter-box").get_attribute("open") is not None
    assert browser.css("#phases button[value='PENDING']").get_attribute("aria-pressed") == "true"
    # Pages count from 1; "First" comes back from anywhere.
    browser.open("index.html?type=echo&size=2&runid=batch")
    browser.wait(lambda d: browser.css("#pageno").text == "Page 1 of 2")
    browser.css("#older").click()
    browser.wait(
        lambda d: browser.css("#pageno").text == "Page 2 of 2" and len(browser.rows()) == 1
    )
    assert "page=2" in browser.driver.current_url
    browser.css("#first").click()
    browser.wait(lambda d: browser.css("#pageno").text == "Page 1 of 2")
    assert browser.errors() == []


@pytest.mark.browser
def test_no_owner_column_for_users_and_bulk_actions_count_what_they_did(
    browser: Browser, base: str
) -> None:
    pending = create(base, "echo", RUNID=f"{XSS} to abort")
    done = create(base, "echo", RUNID="already done", PHASE="RUN")
    wait_for(lambda: phase(done) == "COMPLETED", timeout=30)
    browser.open("index.html")
    browser.wait(lambda d: len(browser.rows()) == 2)
    assert not browser.css("th.col-owner").is_displayed()
    for box in browser.driver.find_elements("css selector", "#jobs tbody input[type=checkbox]"):
        box.click()
    browser.css("#abort").click()
    browser.wait(lambda d: "Aborted: 1 job." in browser.css("#status").text)
    failures = browser.css("#status ul.failures").text
    assert "already done" in failures and "to abort" not in failures, failures
    assert phase(pending) == "ABORTED" and phase(done) == "COMPLETED"
    # The delete dialog names the jobs and has Cancel focused: Enter deletes nothing.
    browser.wait(lambda d: "ABORTED" in browser.phases())
    for box in browser.driver.find_elements("css selector", "#jobs tbody input[type=checkbox]"):
        box.click()
    browser.css("#delete").click()
    dialog = browser.wait_css("dialog[open]")
    assert (
        "Delete 2 jobs" in dialog.text
        and f"{XSS} to abort" in dialog.text
        and "already done" in dialog.text
    )
    assert browser.driver.find_elements("css selector", "img[src='x']") == []
    focused = browser.driver.switch_to.active_element
    assert focused.text == "Cancel"
    browser.shot("delete-dialog")
    focused.send_keys("\ue007")  # Enter
    browser.wait(lambda d: not d.find_elements("css selector", "dialog[open]"))
    assert requests.get(done).status_code == 200
    browser.css("#delete").click()
    browser.wait_css("dialog[open] button.danger").click()
    browser.wait(lambda d: "Deleted: 2 jobs." in browser.css("#status").text)
    assert requests.get(done).status_code == 404 and requests.get(pending).status_code == 404


@pytest.mark.browser
def test_form_checks_every_field_at_once_then_shows_what_the_service_capped(
    browser: Browser, base: str
) -> None:
    browser.open("create.html?type=sleep")
    field = browser.wait_css("#p-duration")
    assert "(whole number)" in browser.css("label[for='p-duration']").text
    assert "xs:int" not in browser.css("#create").text
    field.clear()
    field.send_keys("99999")
    browser.css("#options summary").click()
    browser.css("#c-EXECUTIONDURATION").send_keys("-5")
    browser.css("#create-run").click()
    errors = browser.driver.find_elements("css selector", ".field-error:not([hidden])")
    assert [e.text for e in errors] == [
        "duration: expected a whole number between 0 and 3600",
        "Execution duration: expected a whole number of seconds ≥ 0",
    ]
    assert "2 fields need a change: duration, EXECUTIONDURATION" in browser.css("#form-error").text
    assert browser.driver.switch_to.active_element == field
    assert "<uws:jobref" not in requests.get(f"{base}/rest/sleep").text, "nothing was sent"
    browser.shot("create-all-errors")
    field.clear()
    field.send_keys("1")
    browser.css("#c-EXECUTIONDURATION").clear()
    browser.css("#c-EXECUTIONDURATION").send_keys("999999")
    browser.css("#create-only").click()
    notice = browser.wait_css("#status .message.notice")
    assert "execution duration 7200 s" in notice.text and "999999" in notice.text
    browser.shot("job-capped-notice")


@pytest.mark.browser
def test_results_previews_snippets_clone_and_hostile_text(
    browser: Browser, app: Any, base: str
) -> None:
    add_user(app, *ADMIN, "admin")
    gallery(base)
    url = create(base, "gallery", note=XSS + "'; rm -rf ~ #", RUNID=XSS, PHASE="RUN")
    wait_for(lambda: phase(url) == "COMPLETED", timeout=30)
    browser.open(job_page(url))
    browser.wait_css("body[data-phase='COMPLETED']")
    # CSV: the first 100 rows, with a link to all; the hostile cell stays text.
    table = browser.wait_css("details[data-result='table'] table")
    assert len(table.find_elements("css selector", "tbody tr")) == 100
    assert "Download all" in browser.css("details[data-result='table'] .capped").text
    assert XSS in table.find_elements("css selector", "tbody td")[2].text
    # FITS: the header's cards.
    fits = browser.wait_css("details[data-result='image'] pre.fits-header").text
    assert fits.startswith("SIMPLE  =") and fits.endswith("END") and XSS in fits
    # The image fits its box; a click shows it at full size, another fits it again.
    zoom = browser.wait_css("details[data-result='picture'] button.zoom")
    zoom.click()
    assert zoom.get_attribute("aria-pressed") == "true"
    zoom.click()
    assert zoom.get_attribute("aria-pressed") == "false"
    # stderr has text, stdout is empty: only stderr is shown.
    browser.wait_css("details[data-result='stderr'] pre")
    browser.wait(lambda d: not d.find_elements("css selector", "details[data-result='stdout']"))
    assert "76 B" in browser.css("details[data-result='picture'] summary").text
    # Snippets: the hostile values are quoted for the shell and shown as text.
    curl = browser.css(".snippet[data-tool='curl'] pre").text
    assert "-d PHASE=RUN" in curl and "'\\''; rm -rf ~ #'" in curl
    assert "AsyncTAPJob(" in browser.css(".snippet[data-tool='pyvo'] pre").text
    assert "http --form POST" in browser.css(".snippet[data-tool='httpie'] pre").text
    copy = browser.css(".snippet[data-tool='curl'] button.copy")
    copy.click()
    browser.wait(lambda d: copy.text == "Copied")
    assert copy.get_attribute("data-copied") == curl
    copy_url = browser.css("button[aria-label='Copy job URL']")
    copy_url.click()
    browser.wait(lambda d: copy_url.get_attribute("data-copied") == url)
    assert browser.driver.find_elements("css selector", "img[src='x']") == []
    assert browser.alert_text() is None
    browser.shot("job-results-snippets")
    # Clone: the form, filled with this job's values.
    browser.css("#clone").click()
    note = browser.wait_css("#p-note")
    assert note.get_attribute("value") == XSS + "'; rm -rf ~ #"
    assert browser.css("#c-RUNID").get_attribute("value") == XSS
    assert "A copy of job" in browser.css("#status").text
    browser.css("#create-run").click()
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    assert browser.driver.find_elements("css selector", "img[src='x']") == []
    assert browser.alert_text() is None
    assert browser.errors() == []


@pytest.mark.browser
def test_editor_shows_a_diff_before_saving_and_restores_a_saved_version(
    browser: Browser, app: Any, base: str
) -> None:
    add_user(app, *ADMIN, "admin")
    gallery(base)  # saved once: no earlier version yet
    log_in_as_admin(browser)
    browser.open("editor.html?type=gallery")
    browser.wait_css("body[data-loaded]")
    assert browser.css("#versions").text == "No earlier versions."
    browser.css("#execution_duration").clear()
    browser.css("#execution_duration").send_keys("1.5")  # not whole: the service names the field
    browser.css("#check").click()
    browser.wait_css("#form-error:not([hidden])")
    assert browser.css("#execution_duration").get_attribute("aria-invalid") == "true"
    browser.css("#execution_duration").clear()
    browser.css("#execution_duration").send_keys("90")
    browser.css("#description").send_keys(" Now with a diff.")
    browser.css("#save").click()
    dialog = browser.wait_css("dialog[open]")
    added = [e.text for e in dialog.find_elements("css selector", "pre.diff .add")]
    removed = [e.text for e in dialog.find_elements("css selector", "pre.diff .del")]
    assert any("Now with a diff." in line for line in added), added
    assert any("60" in line for line in removed) and any("90" in line for line in added)
    assert browser.driver.switch_to.active_element.text == "Cancel"
    browser.shot("editor-diff")
    browser.css("dialog[open] button.danger").click()
    browser.wait(lambda d: "Saved and activated" in browser.css("#saved").text)
    assert requests.get(f"{base}/jdl/gallery/json").json()["execution_duration"] == 90
    # The version it replaced: listed, viewable, restorable, and saved again.
    item = browser.wait_css("#versions li[data-stamp]")
    item.find_element("css selector", "button.view").click()
    old = browser.wait_css("#version-view pre").text
    assert 'name="EXECUTIONDURATION"' in old and 'default="60"' in old, old
    item.find_element("css selector", "button.restore").click()
    browser.wait(lambda d: browser.css("#execution_duration").get_attribute("value") == "60")
    browser.css("#save").click()
    browser.wait_css("dialog[open] button.danger").click()
    browser.wait(
        lambda d: requests.get(f"{base}/jdl/gallery/json").json()["execution_duration"] == 60
    )
    assert len(browser.driver.find_elements("css selector", "#versions li[data-stamp]")) == 2
    browser.shot("editor-history")
    assert requests.get(f"{base}/jdl/gallery/history").status_code == 401  # administrators only
    assert requests.get(f"{base}/jdl/gallery/history/x", auth=ADMIN).status_code == 404
    assert all("check=1" in e and "400" in e for e in browser.errors())  # the refused check only


@pytest.mark.browser
def test_a_queued_job_says_why_it_waits(browser: Browser, app: Any, base: str) -> None:
    """What a manager reports in jobInfo (SLURM's pending reason here) shown by the phase."""
    storage = app.registry.uws.storage
    now = utcnow()
    job = Job(
        job_id=new_job_id(),
        job_type="echo",
        run_id="waiting",
        owner_id=None,
        creation_time=now,
        phase=Phase.QUEUED,
        execution_duration=60,
        destruction=now + timedelta(days=1),
        parameters={"message": "x"},
        job_info={"slurm_reason": "Resources"},
    )
    with storage.engine.begin() as conn:
        conn.execute(insert(storage_table()), [storage_row(job)])
    browser.open(f"job.html?type=echo&id={job.job_id}")
    waiting = browser.wait_css("#waiting")
    assert waiting.text == "Why: waiting for free resources on the cluster (SLURM: Resources)"
    browser.shot("job-queued-reason")


@pytest.mark.browser
def test_the_editor_keeps_an_opus_votable_type_and_a_job_offers_its_zip(
    browser: Browser, app: Any, base: str, tmp_path: Path
) -> None:
    from uws_pyramid.jdl.votable import read_votable

    opus = ROOT / "tests" / "data" / "opus"
    jdl = tmp_path / "jdl"
    shutil.copy(opus / "lightcurve_vot.xml", jdl)
    shutil.copy(opus / "scripts" / "lightcurve.sh", jdl / "scripts")
    app.registry.uws.service.descriptions.reload()
    add_user(app, "root", ADMIN_PASSWORD, "admin")
    browser.open("login.html")
    browser.log_in("root", ADMIN_PASSWORD)
    browser.wait(lambda d: "login.html" not in d.current_url)
    browser.open("editor.html?type=lightcurve")
    browser.wait_css("body[data-loaded]")
    assert browser.css("#name").get_attribute("value") == "lightcurve"
    description = browser.css("#description")
    description.clear()
    description.send_keys("Fold a light curve (edited in the browser).")
    result = browser.css("#results .row")  # "folded": mark it required
    result.find_element("css selector", "[data-key=required]").click()
    browser.css("#save").click()
    diff = browser.wait_css("dialog[open] pre.diff").text  # an existing type: its changes first
    assert "Fold a light curve (edited in the browser)." in diff
    browser.css("dialog[open] button.danger").click()
    browser.wait(lambda d: "Saved and activated" in browser.css("#saved").text)
    assert browser.errors() == []
    saved = read_votable((jdl / "lightcurve_vot.xml").read_bytes())
    original = read_votable((opus / "lightcurve_vot.xml").read_bytes())
    assert saved.description == "Fold a light curve (edited in the browser)."
    assert saved.results[0].required and not original.results[0].required
    # What the form does not show came through: units, used entities, the activity's info.
    assert saved.used == original.used and saved.info == original.info
    assert saved.parameter("period").unit == "d"
    assert not (jdl / "lightcurve.wadl").exists()
    # A finished job's page links the zip of its results.
    url = create(base, "echo", message="zipped", PHASE="RUN")
    browser.open(job_page(url))
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    link = browser.wait_css("#results a.zip")
    assert link.get_attribute("href").endswith("/results.zip")
    assert requests.get(link.get_attribute("href")).status_code == 200  # an anonymous job


@pytest.mark.browser
def test_a_finished_jobs_page_shows_its_provenance_graph(browser: Browser, base: str) -> None:
    if shutil.which("dot") is None:
        if require_services():
            pytest.fail("Graphviz's dot is required (UWS_REQUIRE_SERVICES=1)")
        pytest.skip("Graphviz's dot is not installed")
    url = create(base, "echo", message="graph me", PHASE="RUN")
    browser.open(job_page(url))
    browser.wait_css("body[data-phase='COMPLETED']", timeout=30)
    graph = browser.wait_css("#provenance-graph img")
    browser.wait(
        lambda d: d.execute_script(
            "const i = document.querySelector('#provenance-graph img');"
            "return i.complete && i.naturalWidth > 0;"
        )
    )
    assert graph.get_attribute("src").endswith("/provenance?format=svg")
    # Beside it, each result's media type and size (the job's end computed it: "graph me\n").
    output = browser.css("details.result[data-result='output'] summary .muted")
    assert output.text == "text/plain · 9 B"
    # and its description (echo.wadl's), as text.
    described = browser.css("details.result[data-result='output'] .result-description")
    assert described.text == "The message, followed by a new line"
    links = {
        a.text: a.get_attribute("href")
        for a in browser.driver.find_elements("css selector", "#provenance-links a")
    }
    assert set(links) == {"PROV-JSON", "PROV-XML", "PROV-N", "graph (SVG)"}
    assert requests.get(links["PROV-JSON"]).json()["activity"]
    browser.shot("job-provenance")
    assert browser.errors() == []


@pytest.mark.browser
def test_a_jobs_page_links_the_jobs_its_provenance_connects(browser: Browser, base: str) -> None:
    """Job B used job A's result (its URL as a parameter): each page links the other."""
    first = create(base, "echo", RUNID="the source", message="upstream", PHASE="RUN")
    wait_for(lambda: phase(first) == "COMPLETED", timeout=30)
    second = create(
        base, "echo", RUNID="<b>the user</b>", message=f"{first}/results/output", PHASE="RUN"
    )
    wait_for(lambda: phase(second) == "COMPLETED", timeout=30)
    for page_of, other, label, run_id in (
        (second, first, "Used results of", "the source"),
        (first, second, "Its results were used by", "<b>the user</b>"),
    ):
        browser.open(job_page(page_of))
        line = browser.wait_css("#provenance-jobs p", timeout=30)
        assert line.text == f"{label}: {run_id}"  # the Run ID shown as text, never as markup
        link = line.find_element("css selector", "a")
        assert link.get_attribute("href").endswith(job_page(other))
    assert browser.errors() == []
