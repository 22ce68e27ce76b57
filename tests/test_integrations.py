"""User-managed integrations: encrypted keys, add/list/enable/disable/remove, the CLI, env keys."""

from __future__ import annotations

import argparse
import io
from datetime import date
from decimal import Decimal

import duckdb
import pytest
from cryptography.fernet import Fernet

from ingest import integrations, integrations_cli
from ingest.integrations import (
    IntegrationError,
    IntegrationNotFoundError,
    IntegrationSecretError,
)
from ingest.providers.http import ApiKey, ProviderAuthError

try:  # pytest's rootdir-relative import (tests/ as a package) or tests/ on sys.path
    from tests.fake_provider_server import FakeProviderServer
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    from fake_provider_server import FakeProviderServer

OPENAI_KEY = "sk-admin-TEST-openai-0123456789abcdefWXYZ"
ANTHROPIC_KEY = "sk-ant-admin01-TEST-anthropic-0123456789QRST"


@pytest.fixture
def server():
    with FakeProviderServer(page_size=2) as srv:
        yield srv


@pytest.fixture
def env(server):
    return {
        "METERR_SECRET_KEY": Fernet.generate_key().decode(),
        "OPENAI_BASE_URL": server.openai_base_url,
        "ANTHROPIC_BASE_URL": server.anthropic_base_url,
    }


def accept(provider, key):
    return 200


def test_add_tests_the_key_with_one_read_only_call_and_stores_it_encrypted(home, server, env):
    added = integrations.add_integration(
        home, user_id="alice", provider="openai", api_key=OPENAI_KEY, name="Team A", environ=env
    )
    assert added.integration_id.startswith("openai-") and added.key_display == "…WXYZ"
    assert len(server.requests) == 1
    (request,) = server.requests
    assert request["endpoint"] == "openai_usage_completions" and ("limit", "1") in request["pairs"]
    con = duckdb.connect(str(home.warehouse), read_only=True)
    ((token, last4, status),) = con.execute(
        "SELECT key_ciphertext, key_last4, status FROM meta.integrations"
    ).fetchall()
    audit = con.execute("SELECT outcome, http_status, endpoint FROM meta.key_audit").fetchall()
    con.close()
    assert OPENAI_KEY not in token and last4 == "WXYZ" and status == "enabled"
    assert Fernet(env["METERR_SECRET_KEY"].encode()).decrypt(token.encode()).decode() == OPENAI_KEY
    assert audit == [("ok", 200, "verify:openai_usage_completions")]


def test_anthropic_key_check_uses_the_anthropic_api(home, server, env):
    integrations.add_integration(
        home, user_id="bob", provider="anthropic", api_key=ANTHROPIC_KEY, environ=env
    )
    assert [r["endpoint"] for r in server.requests] == ["anthropic_usage_messages"]


def test_a_refused_key_is_not_stored(home, server, env):
    bad = "sk-proj-0123456789abcdefghijklmnopqrABCD"
    with pytest.raises(ProviderAuthError, match="api.usage.read") as info:
        integrations.add_integration(
            home, user_id="alice", provider="openai", api_key=bad, environ=env
        )
    assert bad not in str(info.value) and "…ABCD" in str(info.value)
    assert integrations.list_integrations(home, environ={}) == []
    con = duckdb.connect(str(home.warehouse), read_only=True)
    audit = con.execute("SELECT outcome, http_status, key_last4 FROM meta.key_audit").fetchall()
    con.close()
    assert audit == [("auth_error", 403, "ABCD")]


def test_no_secret_means_nothing_is_stored_and_no_call_is_made(home, server, env):
    del env["METERR_SECRET_KEY"]
    with pytest.raises(IntegrationSecretError) as info:
        integrations.add_integration(
            home, user_id="alice", provider="openai", api_key=OPENAI_KEY, environ=env
        )
    assert "METERR_SECRET_KEY is not set" in str(info.value)
    assert "Fernet.generate_key().decode()" in str(info.value)
    assert server.requests == []


def test_a_malformed_secret_is_a_clear_error(home):
    with pytest.raises(IntegrationSecretError, match="not a Fernet key"):
        integrations.add_integration(
            home,
            user_id="alice",
            provider="openai",
            api_key=OPENAI_KEY,
            environ={"METERR_SECRET_KEY": "hunter2"},
            verify=accept,
        )


def test_wrong_secret_is_a_clear_error_not_a_crash(home, env):
    added = integrations.add_integration(
        home, user_id="alice", provider="openai", api_key=OPENAI_KEY, environ=env, verify=accept
    )
    other = {"METERR_SECRET_KEY": Fernet.generate_key().decode()}
    with pytest.raises(IntegrationSecretError) as info:
        integrations.enabled_integrations(home, other)
    text = str(info.value)
    assert added.integration_id in text and "METERR_SECRET_KEY is not the key" in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # Rotation: the new key first, the old one still decrypts.
    rotated = {"METERR_SECRET_KEY": other["METERR_SECRET_KEY"] + "," + env["METERR_SECRET_KEY"]}
    (one,) = integrations.enabled_integrations(home, rotated)
    assert one.api_key == ApiKey(OPENAI_KEY)


def test_list_enable_disable_remove(home, env):
    a = integrations.add_integration(
        home, user_id="alice", provider="openai", api_key=OPENAI_KEY, environ=env, verify=accept
    )
    b = integrations.add_integration(
        home, user_id="bob", provider="anthropic", api_key=ANTHROPIC_KEY, environ=env, verify=accept
    )
    listed = integrations.list_integrations(home, environ={})
    assert [(i.integration_id, i.user_id, i.status, i.key_display) for i in listed] == [
        (a.integration_id, "alice", "enabled", "…WXYZ"),
        (b.integration_id, "bob", "enabled", "…QRST"),
    ]
    assert [i.integration_id for i in integrations.list_integrations(home, user_id="bob")] == [
        b.integration_id
    ]

    integrations.disable_integration(home, a.integration_id)
    enabled = integrations.enabled_integrations(home, env)
    assert [(e.integration_id, e.api_key.reveal()) for e in enabled] == [
        (b.integration_id, ANTHROPIC_KEY)
    ]
    assert ANTHROPIC_KEY not in repr(enabled)
    assert integrations.list_integrations(home, user_id="alice")[0].status == "disabled"

    integrations.enable_integration(home, a.integration_id)
    assert len(integrations.enabled_integrations(home, env)) == 2

    with pytest.raises(IntegrationNotFoundError):
        integrations.remove_integration(home, a.integration_id, user_id="bob")  # not bob's
    integrations.remove_integration(home, a.integration_id, user_id="alice")
    assert [i.integration_id for i in integrations.list_integrations(home, environ={})] == [
        b.integration_id
    ]
    with pytest.raises(IntegrationNotFoundError):
        integrations.enable_integration(home, a.integration_id)
    with pytest.raises(IntegrationError, match="environment"):
        integrations.disable_integration(home, "env-openai")


def test_the_same_key_twice_is_refused(home, env):
    integrations.add_integration(
        home, user_id="alice", provider="openai", api_key=OPENAI_KEY, environ=env, verify=accept
    )
    with pytest.raises(IntegrationError, match="already integration"):
        integrations.add_integration(
            home, user_id="alice", provider="openai", api_key=OPENAI_KEY, environ=env, verify=accept
        )


def test_list_shows_this_months_spend_from_the_marts(home, env):
    a = integrations.add_integration(
        home, user_id="alice", provider="openai", api_key=OPENAI_KEY, environ=env, verify=accept
    )
    con = duckdb.connect(str(home.warehouse))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.fct_usage_daily (usage_date DATE, integration_id VARCHAR, "
        "total_cost_usd DECIMAL(18,6))"
    )
    con.executemany(
        "INSERT INTO marts.fct_usage_daily VALUES (?, ?, ?)",
        [
            (date(2026, 3, 1), a.integration_id, Decimal("10.25")),
            (date(2026, 3, 31), a.integration_id, Decimal("2.18")),
            (date(2026, 2, 28), a.integration_id, Decimal("99")),  # last month
            (date(2026, 3, 5), "env-openai", Decimal("7")),
        ],
    )
    con.close()
    env_with_key = {"OPENAI_ADMIN_KEY": "sk-admin-ENV-0123456789abcdefghijk4242"}
    listed = integrations.list_integrations(home, environ=env_with_key, today=date(2026, 3, 20))
    spend = {i.integration_id: (i.month_cost_usd, i.source, i.key_display) for i in listed}
    assert spend == {
        a.integration_id: (Decimal("12.43"), "stored", "…WXYZ"),
        "env-openai": (Decimal("7"), "env", "…4242"),
    }


def test_env_keys_are_default_integrations():
    found = integrations.env_integrations(
        {"OPENAI_ADMIN_KEY": OPENAI_KEY, "ANTHROPIC_ADMIN_KEY": " ", "OTHER": "x"}
    )
    assert [(e.integration_id, e.user_id, e.provider) for e in found] == [
        ("env-openai", None, "openai")
    ]
    assert found[0].api_key.reveal() == OPENAI_KEY and OPENAI_KEY not in repr(found)
    assert integrations.env_integrations({}) == []


def test_no_warehouse_yet_means_no_integrations(tmp_path):
    empty = tmp_path / "fresh"
    assert integrations.enabled_integrations(empty, {}) == []
    assert integrations.list_integrations(empty, environ={}) == []
    assert not (empty / "warehouse.duckdb").exists()


# -- the CLI ----------------------------------------------------------------------------------


def parser():
    top = argparse.ArgumentParser(prog="meterr")
    top.add_argument("--home")
    integrations_cli.add_subparsers(top.add_subparsers(dest="command"))
    return top


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(home, argv, *, stdin="", environ=None, verify=accept):
    args = parser().parse_args(["--home", str(home.root), "integrations", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = args.handler(
        args,
        stdin=stdin if isinstance(stdin, io.StringIO) else io.StringIO(stdin),
        stdout=out,
        stderr=err,
        environ=environ,
        verify=verify,
    )
    return code, out.getvalue(), err.getvalue()


def test_cli_add_reads_the_key_from_stdin_never_argv(home, env):
    code, out, err = cli(
        home,
        ["add", "--user", "alice", "--provider", "openai"],
        stdin=OPENAI_KEY + "\n",
        environ=env,
    )
    assert code == 0, err
    assert "…WXYZ" in out and OPENAI_KEY not in out
    with pytest.raises(SystemExit):
        parser().parse_args(
            ["integrations", "add", "--user", "a", "--provider", "openai", "--key", OPENAI_KEY]
        )


def test_cli_add_prompts_hidden_on_a_terminal(home, env, monkeypatch):
    prompts = []

    def fake_getpass(prompt):
        prompts.append(prompt)
        return ANTHROPIC_KEY

    monkeypatch.setattr(integrations_cli.getpass, "getpass", fake_getpass)
    code, out, _ = cli(
        home, ["add", "--user", "bob", "--provider", "anthropic"], stdin=TTY(), environ=env
    )
    assert code == 0 and prompts == ["Anthropic admin key for bob (input hidden): "]
    assert ANTHROPIC_KEY not in out


def test_cli_list_enable_disable_remove(home, env):
    cli(home, ["add", "--user", "alice", "--provider", "openai"], stdin=OPENAI_KEY, environ=env)
    [integration] = integrations.list_integrations(home, environ={})
    iid = integration.integration_id

    code, out, _ = cli(home, ["list"], environ={})
    assert code == 0 and iid in out and "…WXYZ" in out and OPENAI_KEY not in out
    assert out.splitlines()[0].split()[:3] == ["ID", "USER", "PROVIDER"]

    assert cli(home, ["disable", iid])[:2] == (0, f"disabled {iid}\n")
    assert "disabled" in cli(home, ["list", "--user", "alice"], environ={})[1]
    assert cli(home, ["enable", iid])[:2] == (0, f"enabled {iid}\n")
    assert cli(home, ["remove", iid])[:2] == (0, f"removed {iid}\n")
    code, _, err = cli(home, ["remove", iid])
    assert code == 1 and f"no integration {iid}" in err


def test_cli_reports_errors_without_a_traceback(home, env, server):
    bad = "sk-admin-NOPE-0123456789abcdefghijklmnZZZZ"
    code, out, err = cli(
        home,
        ["add", "--user", "alice", "--provider", "openai"],
        stdin=bad,
        environ=env,
        verify=None,  # the real check against the fake server
    )
    assert code == 1 and err.startswith("error: OpenAI rejected the API key …ZZZZ")
    assert bad not in out + err
    code, _, err = cli(
        home, ["add", "--user", "alice", "--provider", "openai"], stdin="", environ=env
    )
    assert code == 1 and "no key given" in err
    code, _, err = cli(
        home,
        ["add", "--user", "alice", "--provider", "openai"],
        stdin=OPENAI_KEY,
        environ={"OPENAI_BASE_URL": server.openai_base_url},
    )
    assert code == 1 and "METERR_SECRET_KEY is not set" in err
