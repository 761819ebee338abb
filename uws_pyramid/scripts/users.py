"""uws-admin users, roles and tokens: the accounts kept in a deployment's storage."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..accounts import Account, Accounts, check_name
from ..errors import BadRequest, Conflict, NotFound
from ..plugins import make_plugin_manager, select
from ..settings import UWSSettings

if TYPE_CHECKING:
    from ..auth import Authenticator

#: What ``uws-admin`` runs for a command: the parsed arguments and the ini's settings.
Runner = Callable[[argparse.Namespace, UWSSettings], int]
Command = Callable[[argparse.Namespace, Accounts], int]


@contextmanager
def open_accounts(settings: UWSSettings) -> Iterator[Accounts]:
    """The accounts of the ini's storage, built as the application builds it."""
    cls = select(make_plugin_manager(only={settings.storage}), "storage", settings.storage)
    storage = cls.from_settings(settings.storage_options, str(settings.here))
    try:
        yield storage.accounts()
    finally:
        storage.close()


def on_accounts(command: Command) -> Runner:
    def run(args: argparse.Namespace, settings: UWSSettings) -> int:
        with open_accounts(settings) as accounts:
            return command(args, accounts)

    return run


def existing(accounts: Accounts, name: str) -> Account:
    account = accounts.get(check_name("user", name))
    if account is None:
        raise NotFound(f"no user {name!r}")
    return account


def read_password() -> str:
    """The first line of standard input when it is not a terminal (scripts, pipes), else
    asked twice without echo."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise BadRequest("no password on standard input (first line)")
        return line
    try:
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
    except EOFError:
        raise BadRequest("no password given") from None
    if first != second:
        raise BadRequest("the two passwords differ")
    return first


def authenticator(accounts: Accounts) -> Authenticator:
    from ..auth import Authenticator  # argon2: only for the commands that hash or issue

    return Authenticator(accounts)


def password_hash(accounts: Accounts) -> str:
    try:
        return authenticator(accounts).hash_password(read_password())
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def table(rows: Sequence[Sequence[str]]) -> None:
    """Print rows as columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def roles_text(account: Account) -> str:
    return ",".join(sorted(account.roles)) or "-"


# -- users ---------------------------------------------------------------------------------


def users_list(args: argparse.Namespace, accounts: Accounts) -> int:
    table(
        [
            (
                a.name,
                roles_text(a),
                "disabled" if a.disabled else "enabled",
                count(len(accounts.tokens(a.name)), "token"),
            )
            for a in accounts.list()
        ]
    )
    return 0


def users_add(args: argparse.Namespace, accounts: Accounts) -> int:
    name = check_name("user", args.name)
    roles = frozenset(check_name("role", role) for role in args.role)
    # Refused before the password is asked for; add() still refuses a name taken meanwhile.
    if accounts.get(name) is not None:
        raise Conflict(f"user {name!r} exists already")
    hashed = None if args.no_password else password_hash(accounts)
    account = Account(name, hashed, roles)
    accounts.add(account)
    kind = "tokens only" if hashed is None else "password set"
    print(f"added user {name} (roles {roles_text(account)}; {kind})")
    return 0


def users_password(args: argparse.Namespace, accounts: Accounts) -> int:
    name = existing(accounts, args.name).name
    accounts.update(name, password_hash=password_hash(accounts))
    print(f"changed the password of {name}")
    return 0


def users_state(args: argparse.Namespace, accounts: Accounts) -> int:
    name = existing(accounts, args.name).name
    accounts.update(name, disabled=args.disabled)
    print(f"user {name} {'disabled' if args.disabled else 'enabled'}")
    return 0


def users_remove(args: argparse.Namespace, accounts: Accounts) -> int:
    name = existing(accounts, args.name).name
    tokens = len(accounts.tokens(name))
    if not accounts.remove(name):
        raise NotFound(f"no user {name!r}")
    print(f"removed user {name} and {count(tokens, 'token')}")
    return 0


# -- roles ---------------------------------------------------------------------------------


def roles_change(args: argparse.Namespace, accounts: Accounts) -> int:
    account = existing(accounts, args.name)
    role = check_name("role", args.role)
    if args.grant:
        roles = account.roles | {role}
    elif role in account.roles:
        roles = account.roles - {role}
    else:
        # An error, not a no-op: a mistyped role would otherwise leave the real one granted.
        raise NotFound(f"user {account.name!r} has no role {role!r}")
    after = accounts.update(account.name, roles=roles)
    print(f"{after.name}: roles {roles_text(after)}")
    return 0


# -- tokens --------------------------------------------------------------------------------


def tokens_issue(args: argparse.Namespace, accounts: Accounts) -> int:
    name = existing(accounts, args.name).name
    issued = authenticator(accounts).new_token(name, args.note)
    accounts.add_token(issued.token)
    print(f"issued token {issued.token.token_id} to {name}; it is not stored, copy it now:")
    print(issued.text)
    return 0


def tokens_list(args: argparse.Namespace, accounts: Accounts) -> int:
    name = existing(accounts, args.name).name
    table(
        [
            (t.token_id, t.created.strftime("%Y-%m-%dT%H:%M:%SZ"), t.note)
            for t in accounts.tokens(name)
        ]
    )
    return 0


def tokens_revoke(args: argparse.Namespace, accounts: Accounts) -> int:
    if not accounts.remove_token(args.token_id):
        raise NotFound(f"no token {args.token_id!r}")
    print(f"revoked token {args.token_id}")
    return 0


# -- the command line ----------------------------------------------------------------------


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``users``, ``roles`` and ``tokens`` commands to uws-admin's parser."""

    def group(name: str, summary: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return commands.add_parser(name, help=summary).add_subparsers(dest="action", required=True)

    def action(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        summary: str,
        command: Command,
        *arguments: str,
        **defaults: object,
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=summary)
        sub.add_argument("ini", help="the deployment's ini file, e.g. production.ini")
        for argument in arguments:
            sub.add_argument(argument, metavar=argument.upper())
        sub.set_defaults(run=on_accounts(command), **defaults)
        return sub

    users = group("users", "list, add, change and remove users")
    action(users, "list", "one line per user: name, roles, state, tokens", users_list)
    add = action(
        users, "add", "add a user; the password is read as for `password`", users_add, "name"
    )
    add.add_argument("--role", action="append", default=[], help="a role (repeatable)")
    add.add_argument(
        "--no-password", action="store_true", help="an account that signs in with API tokens only"
    )
    action(
        users,
        "password",
        "set a password: first line of stdin, or asked twice",
        users_password,
        "name",
    )
    action(
        users,
        "disable",
        "refuse the user's password and tokens",
        users_state,
        "name",
        disabled=True,
    )
    action(
        users,
        "enable",
        "accept the user's password and tokens again",
        users_state,
        "name",
        disabled=False,
    )
    action(users, "remove", "remove a user and their tokens", users_remove, "name")

    roles = group("roles", "grant and revoke roles")
    action(roles, "grant", "give a user a role", roles_change, "name", "role", grant=True)
    action(roles, "revoke", "take a role from a user", roles_change, "name", "role", grant=False)

    tokens = group("tokens", "issue, list and revoke API tokens")
    issue = action(tokens, "issue", "issue a token and print it (once)", tokens_issue, "name")
    issue.add_argument("--note", default="", help="what the token is for")
    action(tokens, "list", "a user's tokens: id, creation time, note", tokens_list, "name")
    action(tokens, "revoke", "revoke a token by its id", tokens_revoke, "token_id")
