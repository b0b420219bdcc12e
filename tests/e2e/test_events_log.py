"""[log] format = "json": every line baton writes is one JSON object — its messages as
{"time","level","msg"}, its events (obs/events.h) as their records — so a log shipper reads
reloads, generation states and file-group decisions without parsing sentences."""
import json
import os
import signal

from devutil import write
from test_reload import SIGECHO, stop


def records(b, start=0):
    """baton's lines from index start, parsed; the app's own lines under `baton run` (sigecho,
    passed through as written) are skipped."""
    out = []
    for line in b.output().splitlines()[start:]:
        if line.startswith("sigecho"):
            continue
        rec = json.loads(line)  # every other line is one JSON object
        assert isinstance(rec, dict), line
        assert rec["time"].endswith("Z"), line
        assert ("level" in rec and "msg" in rec) or "event" in rec or \
            ("source" in rec and "line" in rec), line
        out.append(rec)
    return out


def events(b, start=0):
    return [r for r in records(b, start) if "event" in r]


def test_json_log_carries_reload_and_generation_events(env):
    tmp = str(env.tmp)
    write(os.path.join(tmp, "config.txt"), "good\n")
    write(os.path.join(tmp, "baton.toml"), f'''
[log]
format = "json"

[run]
cmd = "{SIGECHO}"
ready = "notify"
stop_timeout = "2s"

[[reload]]
name = "config"
paths = ["config.txt"]
check = "grep -q good config.txt || {{ echo 'config.txt: expected good' >&2; exit 3; }}"
action = "signal:SIGUSR2"
''')
    b = env.baton("run")
    b.wait_line(r'"event":"gen_state","generation":1,"pid":\d+,"state":"ready"', timeout=20)

    # a reload: requested, the new generation starts and is ready, the cut-over, the old drains
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r'"event":"gen_state","generation":1,"pid":\d+,"state":"exited"', timeout=20,
                start=mark)
    evs = events(b, mark)
    kinds = [(e["event"], e.get("generation"), e.get("state")) for e in evs]
    assert kinds[:6] == [
        ("reload_requested", None, None),
        ("gen_state", 2, "starting"),
        ("gen_state", 2, "ready"),
        ("gen_state", 1, "draining"),
        ("reload_succeeded", 2, None),
        ("gen_state", 1, "exited"),
    ], kinds
    assert evs[0]["reason"]  # who asked (the signal)
    assert evs[4]["duration_ms"] >= 0
    assert all(e["pid"] > 0 for e in evs if e["event"] == "gen_state")
    # the messages are JSON too, with their level
    msgs = [r for r in records(b, mark) if "msg" in r]
    assert any(r["level"] == "info" and "generation 2 serving" in r["msg"] for r in msgs), msgs

    # a file group: a bad edit is rejected (with the check's output), a good one applied
    mark = b.mark()
    write(os.path.join(tmp, "config.txt"), "bad\n")
    b.wait_line(r'"event":"file_group","group":"config","result":"rejected"', timeout=20,
                start=mark)
    rej = [e for e in events(b, mark) if e["event"] == "file_group"][0]
    assert "expected good" in rej["reason"], rej
    mark = b.mark()
    write(os.path.join(tmp, "config.txt"), "good again\n")
    b.wait_line(r'"event":"file_group","group":"config","result":"applied"', timeout=20,
                start=mark)
    b.wait_line(r"sigecho gen=2 got SIGUSR2", timeout=20, start=mark)
    stop(b)
    records(b)  # the whole output, to the last line, is JSON (or the app's own lines)


def test_json_log_reports_a_failed_reload(env):
    tmp = str(env.tmp)
    write(os.path.join(tmp, "baton.toml"), f'''
[log]
format = "json"

[run]
cmd = "test -e fail && exit 3; exec {SIGECHO}"
ready = "notify"
stop_timeout = "2s"
''')
    b = env.baton("run")
    b.wait_line(r'"event":"gen_state","generation":1,"pid":\d+,"state":"ready"', timeout=20)
    write(os.path.join(tmp, "fail"), "")
    mark = b.mark()
    b.send(signal.SIGHUP)
    b.wait_line(r'"event":"reload_failed"', timeout=20, start=mark)
    b.wait_line(r'"event":"gen_state","generation":2,"pid":\d+,"state":"exited"', timeout=20,
                start=mark)
    evs = [e for e in events(b, mark) if e["event"].startswith("reload_")]
    # the old generation keeps serving: a failure, not a rollback (that is a rollout's verdict)
    assert [e["event"] for e in evs] == ["reload_requested", "reload_failed"], evs
    assert evs[1]["generation"] == 2 and "exited with status 3" in evs[1]["reason"], evs
    assert evs[1]["duration_ms"] >= 0
    assert not [e for e in events(b, mark) if e["event"] == "reload_succeeded"]
    # generation 1 was never touched
    assert not [e for e in events(b, mark)
                if e["event"] == "gen_state" and e["generation"] == 1]
    stop(b)


def test_json_log_carries_dev_builds(env):
    tmp = str(env.tmp)
    write(os.path.join(tmp, "src.txt"), "fine\n")
    write(os.path.join(tmp, "baton.toml"), f'''
[log]
format = "json"
[build]
cmd = "grep -q fine src.txt || {{ echo 'main.go:3:2: undefined: x'; echo 'second line'; exit 2; }}"
[run]
cmd = "{SIGECHO}"
ready = "notify"
stop_timeout = "2s"
[watch]
include_ext = ["txt"]
''')
    b = env.baton("dev")
    b.wait_line(r'"event":"gen_state","generation":1,"pid":\d+,"state":"ready"', timeout=20)
    evs = [e["event"] for e in events(b) if e["event"].startswith("build_")]
    assert evs == ["build_started", "build_succeeded"], evs

    mark = b.mark()
    write(os.path.join(tmp, "src.txt"), "oops\n")
    b.wait_line(r'"event":"build_failed"', timeout=20, start=mark)
    failed = [e for e in events(b, mark) if e["event"] == "build_failed"][0]
    assert failed["duration_ms"] >= 0
    # its exit status, then the compiler's first lines, each on its own line
    assert failed["reason"].split("\n")[1:3] == ["main.go:3:2: undefined: x", "second line"], \
        failed
    assert not [e for e in events(b, mark) if e["event"] == "gen_state"]  # 1 serves on
    # dev mode: the build's lines are JSON records too
    assert {"source": "build", "line": "main.go:3:2: undefined: x"}.items() <= \
        [r for r in records(b, mark) if r.get("source") == "build"][0].items()
    b.send(signal.SIGINT)
    assert b.wait(timeout=20) == 0
