"""The daemon's say over the directive params (`--fixed`, `--allow-params`, the --handler/--debug defaults) and the
refusal of params no web server sends, through the dispatcher; and their settings on the command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterator

import pytest
from fake_sink import FakeSink

from fcgi_handlers import cli, config
from fcgi_handlers.app import param_policy
from fcgi_handlers.dispatch.dispatcher import DispatchSettings, Dispatcher
from fcgi_handlers.dispatch.trust import ParamPolicy, parse_allowed, parse_fixed

from .conftest import Harness, Result

RAISING = "def handler(req):\n    raise RuntimeError('secret detail')\n"
OPTIONS = ("from mod_python import apache\n\ndef handler(req):\n"
           "    req.write(repr(sorted(req.get_options().items())) + ' ' + repr(sorted(req.get_config().items())))\n"
           "    return apache.OK\n")


WithPolicy = Callable[[ParamPolicy], Harness]


@pytest.fixture
def policy_harness(harness: Harness) -> Iterator[WithPolicy]:
    """A harness over the same handler directory whose dispatcher applies the given policy."""
    made: list[Dispatcher] = []

    def with_policy(policy: ParamPolicy) -> Harness:
        dispatcher = Dispatcher(DispatchSettings(paths=[str(harness.root)], policy=policy))
        made.append(dispatcher)
        return Harness(harness.root, harness.docroot, dispatcher)

    yield with_policy
    for dispatcher in made:
        dispatcher.close()


def test_fixed_python_debug_off_holds_against_a_client_sending_on(harness: Harness, policy_harness: WithPolicy) -> None:
    name = harness.module(RAISING)
    # Without the pin, the client's PythonDebug On sends the traceback page to the client.
    open_result = harness.request({"PythonHandler": name, "PythonDebug": "On"})
    assert b"secret detail" in open_result.body
    pinned = policy_harness(ParamPolicy(fixed=[("PythonDebug", "Off")]))
    result: Result = pinned.request({"PythonHandler": name, "PythonDebug": "On"})
    assert result.status == "Status: 500 Internal Server Error"
    assert b"secret detail" not in result.body and b"Traceback" not in result.body
    assert result.logged("RuntimeError: secret detail")  # the log still has it


def test_fixed_values_win_over_defaults_and_client(harness: Harness, policy_harness: WithPolicy) -> None:
    name = harness.module(OPTIONS)
    pinned = policy_harness(ParamPolicy(defaults=[("PythonHandler", "nonexistent")],
                                        fixed=[("PythonOption.mode", "safe"), ("PythonAutoReload", "Off")]))
    result = pinned.request({"PythonHandler": name, "PythonOption.mode": "debug", "PythonOption.other": "1",
                             "PythonAutoReload": "On"})
    assert result.body == (b"[('mode', 'safe'), ('other', '1')] [('PythonAutoReload', '0')]")


def test_allow_params_ignores_the_others_with_a_log_line(harness: Harness, policy_harness: WithPolicy,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    name = harness.module(OPTIONS)
    limited = policy_harness(ParamPolicy(allowed=parse_allowed(["PythonHandler,PythonOption.*"])))
    with caplog.at_level(logging.WARNING, logger="fcgi_handlers.dispatch.trust"):
        for _ in range(2):
            result = limited.request({"PythonHandler": name, "PythonOption.a": "1", "PythonDebug": "On",
                                      "PythonPath": "sys.path"})
    assert result.body == b"[('a', '1')] []"
    ignored = [r.getMessage() for r in caplog.records]
    assert ignored == ["ignoring the param PythonDebug sent by the client: not in --allow-params",
                       "ignoring the param PythonPath sent by the client: not in --allow-params"]  # once a minute


def test_allow_params_without_the_handler_uses_the_daemons_handler(harness: Harness,
                                                                   policy_harness: WithPolicy) -> None:
    name = harness.module(OPTIONS)
    evil = harness.module("def handler(req):\n    req.write('evil')\n    return 0\n")
    limited = policy_harness(ParamPolicy(defaults=[("PythonHandler", name)], allowed=("PythonOption.*",)))
    assert limited.request({"PythonHandler": evil, "PythonOption.x": "y"}).body == b"[('x', 'y')] []"


def test_a_nul_byte_in_a_param_is_refused_with_400(harness: Harness) -> None:
    # Found by fuzz/publisher.py: a NUL in SCRIPT_FILENAME reached os.path.realpath (ValueError, 500).
    name = harness.module(OPTIONS)
    result = harness.request({"PythonHandler": name}, filename="/htdocs/page\0.py")
    assert result.status == "Status: 400 Bad Request" and not result.body.startswith(b"[")
    assert result.logged("the param SCRIPT_FILENAME holds a NUL byte")


@pytest.mark.parametrize("text, message", [
    ("PythonDebug", "KEY=VALUE"), ("PythonDebug=Maybe", "On or Off"), ("REMOTE_USER=admin", "not a directive"),
    ("PythonHandler=a b::", "invalid handler"), ("PythonOption.=x", "not a directive"),
])
def test_bad_fixed_values_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fixed(text)


@pytest.mark.parametrize("names, message", [
    (["PythonDebugg"], "not a Python"), (["AuthName"], "not a Python"), (["Python*"], "only PythonOption"),
])
def test_bad_allowed_names_are_refused(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_allowed(names)


def test_settings_from_the_command_line_and_the_config_file(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(["serve", "--fixed", "PythonDebug=Off", "--fixed", "PythonOption.a=b=c",
                                          "--allow-params", "PythonHandler,PythonOption.*", "--allow-params",
                                          "PythonDebug", "--allowed-clients", "10.0.0.0/8,apache",
                                          "--allowed-clients", "127.0.0.1", "--handler", "app"])
    cfg = config.from_namespace(args)
    assert cfg.fixed == (("PythonDebug", "Off"), ("PythonOption.a", "b=c"))
    assert cfg.allow_params == ("PythonHandler", "PythonOption.*", "PythonDebug")
    assert cfg.allowed_clients == ("10.0.0.0/8", "apache", "127.0.0.1")
    policy = param_policy(cfg)
    assert (policy.defaults, policy.fixed, policy.allowed) == ((("PythonHandler", "app"),), cfg.fixed,
                                                               cfg.allow_params)
    toml = tmp_path / "daemon.toml"
    toml.write_text('fixed = { PythonDebug = "Off" }\nallow_params = ["PythonHandler"]\n'
                    'allowed_clients = "192.0.2.0/24"\n')
    loaded = config.load(str(toml))
    assert (loaded.fixed, loaded.allow_params, loaded.allowed_clients) == (
        (("PythonDebug", "Off"),), ("PythonHandler",), ("192.0.2.0/24",))
    assert config.load().allowed_clients is None and config.load().allow_params is None
