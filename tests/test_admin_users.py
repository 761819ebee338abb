"""uws-admin users, roles and tokens on a real ini file and SQLite database."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from uws_pyramid.auth import Authenticator
from uws_pyramid.scripts import admin, users
from uws_pyramid.storage import Storage
from uws_sqlite.storage import SQLiteStorage

from .conftest import ROOT

PASSWORD = "correct horse battery"
INI = """[app:main]
use = egg:uws-pyramid
uws.storage = sqlite
uws.storage.path = var/uws.sqlite
uws.manager = local
uws.jdl_dir = {jdl}
uws.workdir = jobs
"""

#: ``cli(*arguments, stdin=...)``: exit status, stdout and stderr of ``uws-admin``.
CLI = Callable[..., tuple[int, str, str]]


class Terminal(io.StringIO):
    """A standard input that is a terminal: the password is asked with getpass."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.ini"
    path.write_text(INI.format(jdl=ROOT / "jdl"))
    return path


@pytest.fixture
def cli(ini: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CLI:
    """Runs ``uws-admin <group> <action> <ini> ...`` in this process."""
    capsys.readouterr()

    def run(
        group: str, action: str, *rest: str, stdin: str | io.StringIO = ""
    ) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin) if isinstance(stdin, str) else stdin)
        status = admin.main([group, action, str(ini), *rest])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def storage(ini: Path, cli: CLI) -> Iterator[SQLiteStorage]:
    """The database the commands work on, opened as the application opens it."""
    store = SQLiteStorage.from_settings({"path": "var/uws.sqlite"}, str(ini.parent))
    yield store
    store.close()


def refused(result: tuple[int, str, str], message: str) -> None:
    """Exit status 2, one line on stderr, nothing on stdout."""
    status, out, err = result
    assert (status, out, err) == (2, "", f"uws-admin: {message}\n")


def test_add_and_list_users_keeps_argon2_hashes(cli: CLI, storage: SQLiteStorage) -> None:
    assert cli("users", "list") == (0, "", "")
    assert cli(
        "users",
        "add",
        "alice",
        "--role",
        "admin",
        "--role",
        "astro",
        stdin=f"{PASSWORD}\nignored\n",
    ) == (0, "added user alice (roles admin,astro; password set)\n", "")
    assert cli("users", "add", "robot", "--no-password", stdin="not read\n") == (
        0,
        "added user robot (roles -; tokens only)\n",
        "",
    )
    assert cli("users", "list") == (
        0,
        ("alice  admin,astro  enabled  0 tokens\nrobot  -            enabled  0 tokens\n"),
        "",
    )
    alice = storage.accounts().get("alice")
    assert alice is not None and alice.roles == {"admin", "astro"} and not alice.disabled
    assert alice.password_hash is not None and alice.password_hash.startswith("$argon2id$")
    assert PASSWORD not in alice.password_hash
    assert Authenticator(storage.accounts()).check_password("alice", PASSWORD) == alice
    robot = storage.accounts().get("robot")
    assert robot is not None and robot.password_hash is None and robot.roles == frozenset()


def test_add_refuses_bad_input(cli: CLI, storage: SQLiteStorage) -> None:
    cli("users", "add", "robot", "--no-password")
    refused(cli("users", "add", "robot", stdin=f"{PASSWORD}\n"), "user 'robot' exists already")
    refused(
        cli("users", "add", "bad name", "--no-password"),
        "Invalid value for parameter user (got 'bad name'): expected 1 to 128 letters, "
        "digits or . _ @ - (starting with a letter or digit)",
    )
    refused(
        cli("users", "add", "carol", "--role=-x", "--no-password"),
        "Invalid value for parameter role (got '-x'): expected 1 to 128 letters, "
        "digits or . _ @ - (starting with a letter or digit)",
    )
    refused(cli("users", "add", "carol", stdin="short\n"), "a password needs at least 8 characters")
    refused(cli("users", "add", "carol", stdin=""), "no password on standard input (first line)")
    refused(
        cli("users", "add", "carol", stdin="\nsecond line\n"),
        "no password on standard input (first line)",
    )
    assert [a.name for a in storage.accounts().list()] == ["robot"]


def test_password_from_a_terminal_is_asked_twice(
    cli: CLI, storage: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("users", "add", "alice", "--no-password")
    answers: list[str] = []

    def getpass(prompt: str) -> str:
        if not answers:
            raise EOFError
        return answers.pop(0)

    monkeypatch.setattr(users.getpass, "getpass", getpass)
    answers[:] = [PASSWORD, PASSWORD + "!"]
    refused(cli("users", "password", "alice", stdin=Terminal()), "the two passwords differ")
    answers[:] = []
    refused(cli("users", "password", "alice", stdin=Terminal()), "no password given")
    answers[:] = [PASSWORD, PASSWORD]
    assert cli("users", "password", "alice", stdin=Terminal()) == (
        0,
        "changed the password of alice\n",
        "",
    )
    assert answers == []
    alice = storage.accounts().get("alice")
    assert alice is not None and alice.password_hash is not None
    assert alice.password_hash.startswith("$argon2id$")


def test_password_is_changed(cli: CLI, storage: SQLiteStorage) -> None:
    cli("users", "add", "alice", stdin="first password\n")
    before = storage.accounts().get("alice")
    assert cli("users", "password", "alice", stdin=f"{PASSWORD}\n") == (
        0,
        "changed the password of alice\n",
        "",
    )
    after = storage.accounts().get("alice")
    assert before is not None and after is not None
    assert after.password_hash != before.password_hash and after.created == before.created
    assert Authenticator(storage.accounts()).check_password("alice", PASSWORD) == after
    refused(
        cli("users", "password", "alice", stdin="short\n"), "a password needs at least 8 characters"
    )
    # An unknown user is refused before a password is read.
    stdin = io.StringIO(f"{PASSWORD}\n")
    refused(cli("users", "password", "bob", stdin=stdin), "no user 'bob'")
    assert stdin.tell() == 0
    assert storage.accounts().get("alice") == after


def test_disable_enable_and_remove(cli: CLI, storage: SQLiteStorage) -> None:
    cli("users", "add", "robot", "--no-password")
    assert cli("users", "disable", "robot") == (0, "user robot disabled\n", "")
    assert cli("users", "list") == (0, "robot  -  disabled  0 tokens\n", "")
    assert cli("users", "enable", "robot") == (0, "user robot enabled\n", "")
    assert cli("users", "list") == (0, "robot  -  enabled  0 tokens\n", "")
    cli("tokens", "issue", "robot")
    assert cli("users", "remove", "robot") == (0, "removed user robot and 1 token\n", "")
    assert storage.accounts().list() == []
    for action in ("disable", "enable", "remove"):
        refused(cli("users", action, "robot"), "no user 'robot'")


def test_roles_grant_and_revoke(cli: CLI, storage: SQLiteStorage) -> None:
    cli("users", "add", "alice", "--role", "astro", "--no-password")
    assert cli("roles", "grant", "alice", "admin") == (0, "alice: roles admin,astro\n", "")
    assert cli("roles", "grant", "alice", "admin") == (0, "alice: roles admin,astro\n", "")
    assert cli("roles", "revoke", "alice", "astro") == (0, "alice: roles admin\n", "")
    refused(cli("roles", "revoke", "alice", "astro"), "user 'alice' has no role 'astro'")
    assert cli("roles", "revoke", "alice", "admin") == (0, "alice: roles -\n", "")
    refused(
        cli("roles", "grant", "alice", "a b"),
        "Invalid value for parameter role (got 'a b'): expected 1 to 128 letters, "
        "digits or . _ @ - (starting with a letter or digit)",
    )
    refused(cli("roles", "grant", "bob", "admin"), "no user 'bob'")
    refused(cli("roles", "revoke", "bob", "admin"), "no user 'bob'")
    alice = storage.accounts().get("alice")
    assert alice is not None and alice.roles == frozenset()


def test_tokens_issue_list_and_revoke(cli: CLI, storage: SQLiteStorage) -> None:
    cli("users", "add", "robot", "--no-password")
    status, out, err = cli("tokens", "issue", "robot", "--note", "CI pipeline")
    assert (status, err) == (0, "")
    first, text, rest = out.split("\n")
    token_id = text.split("_")[1]
    assert first == f"issued token {token_id} to robot; it is not stored, copy it now:"
    assert text.startswith(f"uws_{token_id}_") and rest == ""
    authenticator = Authenticator(storage.accounts())
    robot = storage.accounts().get("robot")
    assert robot is not None and authenticator.check_token(text) == robot

    token = storage.accounts().get_token(token_id)
    assert token is not None and token.note == "CI pipeline"
    assert token.token_hash.startswith("$argon2id$") and text not in token.token_hash
    created = token.created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cli("tokens", "list", "robot") == (0, f"{token_id}  {created}  CI pipeline\n", "")
    assert cli("users", "list") == (0, "robot  -  enabled  1 token\n", "")

    assert cli("tokens", "revoke", token_id) == (0, f"revoked token {token_id}\n", "")
    assert authenticator.check_token(text) is None
    assert cli("tokens", "list", "robot") == (0, "", "")
    refused(cli("tokens", "revoke", token_id), f"no token {token_id!r}")
    refused(cli("tokens", "issue", "bob"), "no user 'bob'")
    refused(cli("tokens", "list", "bob"), "no user 'bob'")


def test_storage_without_accounts(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SQLiteStorage, "accounts", Storage.accounts)
    refused(cli("users", "list"), "storage 'sqlite' keeps no user accounts")
    refused(cli("tokens", "revoke", "abc"), "storage 'sqlite' keeps no user accounts")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("none.ini", None, "none.ini: no such file"),
        ("bad.ini", "not an ini file\n", "bad.ini: File contains no section headers."),
        ("other.ini", "[app:other]\nuse = egg:uws-pyramid\n", "other.ini: No section 'main'"),
        (
            "deploy.cfg",
            "[app:main]\nuse = egg:uws-pyramid\n",
            "deploy.cfg: Could not find a matching loader",
        ),
        (
            "nosuch.ini",
            "[app:main]\nuse = egg:uws-pyramid\nuws.storage = nosuch\n",
            "uws.storage = nosuch: no such storage; installed: memory, postgres, sqlite",
        ),
    ],
)
def test_bad_ini_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str | None, message: str
) -> None:
    ini = tmp_path / name
    if text is not None:
        ini.write_text(text)
    assert admin.main(["users", "list", str(ini)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("uws-admin: ") and message in err
    assert err.count("\n") == 1


def test_console_entry_point(ini: Path) -> None:
    """The real command: a password piped in, and an error without a traceback."""

    def run(*arguments: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "uws_pyramid.scripts.admin", *arguments],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    added = run("users", "add", str(ini), "carol", stdin=f"{PASSWORD}\n")
    assert (added.returncode, added.stdout, added.stderr) == (
        0,
        "added user carol (roles -; password set)\n",
        "",
    )
    missing = run("users", "remove", str(ini), "dave")
    assert (missing.returncode, missing.stdout, missing.stderr) == (
        2,
        "",
        "uws-admin: no user 'dave'\n",
    )
