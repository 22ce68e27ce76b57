"""``meterr integrations add/list/enable/disable/remove``: a user's own provider keys.

The key is read from a hidden prompt (``getpass``) or, when stdin is not a terminal, from the first
line of stdin (``echo "$KEY" | meterr integrations add ...``). It is never taken from the command
line, where it would land in shell history and ``ps``. ``list`` shows a key only as ``…`` + its
last 4 characters.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ingest.integrations import (
    IntegrationError,
    KeyVerifier,
    add_integration,
    disable_integration,
    enable_integration,
    list_integrations,
    remove_integration,
)
from ingest.paths import meterr_home
from ingest.providers.http import ApiKey, ProviderError
from ingest.providers.sync import PROFILES


def add_subparsers(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``integrations`` and its sub-commands on the ``meterr`` CLI's subparsers.

    The parser gets ``handler=run`` as a default; ``run(args)`` returns the exit code.
    """
    parser = subparsers.add_parser(
        "integrations",
        help="manage users' own provider admin keys (stored encrypted)",
        description="A user's own provider keys. Keys are read from a hidden prompt or stdin, "
        "never from the command line, and shown only as their last 4 characters.",
    )
    sub = parser.add_subparsers(dest="integrations_command", metavar="COMMAND", required=True)

    add = sub.add_parser(
        "add",
        help="add a provider admin key (tested with one read-only call first)",
        description="Reads the key from a hidden prompt, or from stdin when stdin is not a TTY.",
    )
    add.add_argument("--user", required=True, help="the meterr user who owns the key")
    add.add_argument("--provider", required=True, choices=sorted(PROFILES))
    add.add_argument("--name", help="a label (default: the provider's name)")

    lst = sub.add_parser("list", help="list integrations (keys shown only as their last 4)")
    lst.add_argument("--user", help="only this user's integrations")

    for command, text in (
        ("enable", "resume syncing an integration"),
        ("disable", "stop syncing an integration (keeps its key and history)"),
        ("remove", "delete an integration and its stored key (loaded usage stays)"),
    ):
        one = sub.add_parser(command, help=text)
        one.add_argument("integration_id", metavar="ID")
        one.add_argument("--user", help="refuse unless the integration belongs to this user")

    parser.set_defaults(handler=run)
    return parser


def read_key(prompt: str, stdin: TextIO | None = None) -> str:
    """A key from a hidden prompt when stdin is a terminal, else the first line of stdin."""
    stream = stdin if stdin is not None else sys.stdin
    if stream.isatty():
        return getpass.getpass(prompt)
    return stream.readline().strip()


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _money(value: Any) -> str:
    return f"${value:,.2f}" if value is not None else "-"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def run(
    args: argparse.Namespace,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    verify: KeyVerifier | None = None,
) -> int:
    """Run one ``integrations`` sub-command; 0 on success, 1 on a refused key or bad request."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    home = meterr_home(getattr(args, "home", None))
    command = args.integrations_command
    try:
        if command == "add":
            display = PROFILES[args.provider].display
            text = read_key(f"{display} admin key for {args.user} (input hidden): ", stdin)
            if not text:
                print("error: no key given (type it at the prompt or pipe it on stdin)", file=err)
                return 1
            key = ApiKey(text)
            added = add_integration(
                home,
                user_id=args.user,
                provider=args.provider,
                api_key=key,
                name=args.name,
                environ=environ,
                verify=verify,
            )
            print(
                f"added {added.integration_id}: {display} key {added.key_display} "
                f"for user {added.user_id} ({added.name})",
                file=out,
            )
        elif command == "list":
            found = list_integrations(home, user_id=args.user, environ=environ)
            if not found:
                print("no integrations (add one with: meterr integrations add)", file=out)
                return 0
            rows = [
                [
                    "ID",
                    "USER",
                    "PROVIDER",
                    "NAME",
                    "STATUS",
                    "KEY",
                    "LAST SYNC (UTC)",
                    "THIS MONTH",
                    "LAST ERROR",
                ]
            ]
            for one in found:
                rows.append(
                    [
                        one.integration_id,
                        one.user_id or "(env)",
                        one.provider,
                        one.name or "-",
                        one.status,
                        one.key_display,
                        _when(one.last_sync_at),
                        _money(one.month_cost_usd),
                        (one.last_error or "-")[:120],
                    ]
                )
            print(_table(rows), file=out)
        elif command in ("enable", "disable", "remove"):
            action = {
                "enable": enable_integration,
                "disable": disable_integration,
                "remove": remove_integration,
            }[command]
            action(home, args.integration_id, user_id=args.user)
            past = {"enable": "enabled", "disable": "disabled", "remove": "removed"}[command]
            print(f"{past} {args.integration_id}", file=out)
        else:  # pragma: no cover - argparse restricts the choices
            print(f"error: unknown command {command!r}", file=err)
            return 2
    except (IntegrationError, ProviderError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    return 0
