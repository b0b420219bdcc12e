"""`baton check` and `baton init` against the real binary: exit codes, every error with its
file:line:col, air's .air.toml read and printed as baton.toml, zero-config, and init's refusal
to overwrite. Nothing here starts a long-running process."""
import os
import re
import shutil
import tomllib

import pytest

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

GOOD = """\
[build]
cmd = "go build -o .baton/bin/app ."

[run]
cmd = ".baton/bin/app"
ready = "notify"
env = { GIN_MODE = "release" }

[[listen]]
name = "http"
address = ":8080"

[[listen]]
name = "https"
address = "[::1]:8443"

[watch]
debounce = "100ms"
"""

BAD = """\
[build]
cmd = 5
[run]
cmd = "./app"
stop_timeout = 10
stop_signal = "SIGFOO"
[watch]
debouce = "50ms"
[[listen]]
name = "http"
address = ":8080"
[[listen]]
name = "http"
address = "8081"
[[tls]]
cert = ""
key = "k.pem"
[[reload]]
paths = ["config.yaml"]
action = "reboot"
"""

GO_MOD = "module example.com/hello\n\ngo 1.21\n"
MAIN_GO = "package main\n\nfunc main() {}\n"


def check(env, *args, cwd=None):
    return env.run([env.baton_path, "check", *args], cwd=cwd, timeout=20)


def init(env, *args, cwd=None):
    return env.run([env.baton_path, "init", *args], cwd=cwd, timeout=20)


@pytest.fixture
def e(env, baton_bin):
    env.baton_path = baton_bin
    return env


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def go_project(d):
    write(os.path.join(d, "go.mod"), GO_MOD)
    write(os.path.join(d, "main.go"), MAIN_GO)


# ---- baton check ----

def test_check_good_config(e, tmp_path):
    write(tmp_path / "baton.toml", GOOD)
    r = check(e)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ('baton.toml: ok — build "go build -o .baton/bin/app .", '
                        'run ".baton/bin/app", 2 listeners, watching 1 path\n')
    assert r.stderr == ""


def test_check_reports_every_error_with_position(e, tmp_path):
    write(tmp_path / "baton.toml", BAD)
    r = check(e)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines == [
        "baton.toml:2:7: 'build.cmd': expected a string, got integer",
        "baton.toml:5:16: 'run.stop_timeout': expected a duration string such as \"10s\", "
        "got integer",
        "baton.toml:6:15: 'run.stop_signal': unknown signal \"SIGFOO\" (use a name such as "
        "\"SIGTERM\")",
        "baton.toml:8:1: unknown key 'debouce' in [watch]; did you mean 'debounce'?",
        "baton.toml:13:8: duplicate listener name 'http' (also used on line 10)",
        "baton.toml:14:11: 'listen.address': invalid address \"8081\": missing ':' before "
        "the port (write ':PORT')",
        "baton.toml:16:8: 'tls.cert': must not be empty",
        "baton.toml:20:10: 'reload.action': invalid action \"reboot\": expected \"restart\", "
        "\"signal:SIGNAME\" or \"exec:COMMAND\"",
        "baton: baton.toml is not valid (8 errors)",
    ]


def test_check_explicit_file_and_duplicate_address(e, tmp_path):
    write(tmp_path / "prod.toml", '[run]\ncmd = "./app"\n[[listen]]\naddress = ":9000"\n'
          '[[listen]]\naddress = "0.0.0.0:9000"\nforward = "127.0.0.1:9000"\n')
    r = check(e, "-c", "prod.toml")
    assert r.returncode == 1
    assert ("prod.toml:6:11: duplicate listener address \"0.0.0.0:9000\": listener 'listen1' "
            "(line 4) already binds \":9000\"") in r.stderr
    assert ("prod.toml:7:11: forward address \"127.0.0.1:9000\" is the address of listener "
            "'listen1'") in r.stderr


def test_check_syntax_error_has_line_and_column(e, tmp_path):
    write(tmp_path / "baton.toml", '[run]\ncmd = "./app"\nready = "exec\n')
    r = check(e)
    assert r.returncode == 1
    assert re.match(r"^baton\.toml:3:\d+: \S", r.stderr), r.stderr


def test_check_missing_file(e, tmp_path):
    r = check(e, "--config", "nope.toml")
    assert r.returncode == 1
    assert r.stderr.startswith("nope.toml: cannot read the config: No such file")


def test_check_usage_errors(e, tmp_path):
    for args in (["--bogus"], ["extra"], ["-c"]):
        r = check(e, *args)
        assert r.returncode == 2, args
        assert "usage error" in r.stderr
    r = check(e, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: baton check [-c FILE] [--print]")


def test_check_print_round_trips(e, tmp_path):
    write(tmp_path / "baton.toml", GOOD)
    r = check(e, "--print")
    assert r.returncode == 0, r.stderr
    doc = tomllib.loads(r.stdout)  # valid TOML for any reader, not just baton
    assert doc["run"]["ready"] == "notify"
    assert doc["run"]["stop_timeout"] == "10s"
    assert doc["run"]["env"] == {"GIN_MODE": "release"}
    assert [l["address"] for l in doc["listen"]] == [":8080", "[::1]:8443"]
    assert doc["watch"]["debounce"] == "100ms"
    write(tmp_path / "printed.toml", r.stdout)
    r2 = check(e, "-c", "printed.toml", "--print")
    assert r2.returncode == 0, r2.stderr
    # the same config, but for the header naming the file it came from
    assert r2.stdout.split("\nroot = ", 1)[1] == r.stdout.split("\nroot = ", 1)[1]


def test_check_air_toml(e, tmp_path):
    shutil.copy(os.path.join(DATA, "air_example.toml"), tmp_path / ".air.toml")
    r = check(e)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(
        ".air.toml: ok (air's format) — build \"echo 'hello air' > pre_cmd.txt && go build "
        "-o ./tmp/main .\", run \"APP_ENV=dev APP_USER=air ./tmp/main\", 1 listener")
    notes = r.stderr.splitlines()
    assert (".air.toml:39:1: note: 'build.log' has no baton equivalent (baton shows build "
            "errors once in its output and keeps no build log file)") in notes
    assert all(re.match(r"^\.air\.toml:\d+:\d+: note: '", n) for n in notes), notes
    assert len(notes) == 14


def test_check_print_air_toml_is_valid_baton_toml(e, tmp_path):
    shutil.copy(os.path.join(DATA, "air_example.toml"), tmp_path / ".air.toml")
    r = check(e, "--print")
    assert r.returncode == 0, r.stderr
    assert "translated from air's" in r.stdout
    doc = tomllib.loads(r.stdout)
    assert doc["build"]["cmd"] == "echo 'hello air' > pre_cmd.txt && go build -o ./tmp/main ."
    assert doc["build"]["delay"] == "0s"
    assert doc["run"]["cmd"] == "APP_ENV=dev APP_USER=air ./tmp/main"
    assert doc["run"]["args"] == ["hello", "world"]
    assert doc["run"]["stop_timeout"] == "500ms"
    assert doc["listen"] == [{"name": "http", "address": ":8090",
                              "forward": "127.0.0.1:8080", "backlog": 4096,
                              "max_connections": 4096}]
    assert "frontend/node_modules" in doc["watch"]["exclude_dir"]
    write(tmp_path / "baton.toml", r.stdout)
    r2 = check(e)  # baton.toml now wins over .air.toml
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout.startswith("baton.toml: ok — build \"echo 'hello air'")
    assert r2.stderr == ""


def test_check_zero_config_go_package(e, tmp_path):
    go_project(tmp_path)
    r = check(e)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ('zero-config (Go main package): ok — build "go build -o .baton/bin/app '
                        '.", run ".baton/bin/app", no listener, watching 1 path\n')
    r = check(e, "--print")
    assert r.returncode == 0
    assert "zero-config defaults" in r.stdout
    assert "PORT is left to it" in r.stdout
    doc = tomllib.loads(r.stdout)
    assert "listen" not in doc
    assert doc["run"]["ready"] == "exec"
    assert doc["watch"]["include_ext"] == ["go", "tmpl", "tpl", "html"]


def test_check_no_config_at_all(e, tmp_path):
    r = check(e)
    assert r.returncode == 1
    assert "no config" in r.stderr
    assert "baton init" in r.stderr


# ---- baton init ----

def test_init_go_project(e, tmp_path):
    go_project(tmp_path)
    r = init(e)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('wrote baton.toml (Go main package .: build "go build -o '
                               '.baton/bin/app .", run ".baton/bin/app")')
    text = (tmp_path / "baton.toml").read_text()
    assert "module example.com/hello" in text
    assert 'cmd = "go build -o .baton/bin/app ."' in text
    assert '# address = ":8080"' in text
    doc = tomllib.loads(text)
    assert doc["run"]["cmd"] == ".baton/bin/app"
    assert "listen" not in doc  # the example listener is commented out
    r = check(e)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("baton.toml: ok — build \"go build -o .baton/bin/app .\"")


def test_init_go_main_in_cmd_dir(e, tmp_path):
    write(tmp_path / "go.mod", GO_MOD)
    os.makedirs(tmp_path / "cmd" / "api")
    write(tmp_path / "cmd" / "api" / "main.go", MAIN_GO)
    r = init(e)
    assert r.returncode == 0, r.stderr
    doc = tomllib.loads((tmp_path / "baton.toml").read_text())
    assert doc["build"]["cmd"] == "go build -o .baton/bin/app ./cmd/api"
    assert check(e).returncode == 0


def test_init_empty_dir(e, tmp_path):
    r = init(e)
    assert r.returncode == 0, r.stderr
    assert "no Go main package" in r.stdout
    doc = tomllib.loads((tmp_path / "baton.toml").read_text())
    assert doc["run"]["cmd"] == "./app"
    assert doc["build"]["cmd"] == ""
    r = check(e)
    assert r.returncode == 0, r.stderr
    assert "no build step" in r.stdout


def test_init_refuses_to_overwrite(e, tmp_path):
    write(tmp_path / "baton.toml", "# mine\n")
    go_project(tmp_path)
    r = init(e)
    assert r.returncode == 1
    assert r.stderr == ("baton: 'baton.toml' already exists; use 'baton init --force' to "
                        "overwrite it\n")
    assert (tmp_path / "baton.toml").read_text() == "# mine\n"
    r = init(e, "--force")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "baton.toml").read_text().startswith("# baton.toml, written by")


def test_init_translates_air_toml(e, tmp_path):
    go_project(tmp_path)
    shutil.copy(os.path.join(DATA, "air_example.toml"), tmp_path / ".air.toml")
    r = init(e)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("wrote baton.toml (.air.toml translated")
    assert "note: 'build.log' has no baton equivalent" in r.stderr
    doc = tomllib.loads((tmp_path / "baton.toml").read_text())
    assert doc["root"] == "."
    assert doc["run"]["cmd"] == "APP_ENV=dev APP_USER=air ./tmp/main"
    r = check(e)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("baton.toml: ok")


def test_init_usage(e, tmp_path):
    r = init(e, "--bogus")
    assert r.returncode == 2
    assert "usage error" in r.stderr
    r = init(e, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: baton init [--force]")
    assert not (tmp_path / "baton.toml").exists()
