"""`baton dev` against real Gin apps: edits are served, no request is refused, a failed build
keeps the old version, and nothing is left behind."""
import os
import shutil
import signal

import pytest

from conftest import wait_until
from devutil import GO_BUILD, Poller, free_port, get, gin_project, replace_in, write

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")

REBUILDS = 10


def dev_config(port, forward_port=None, ready="notify", extra=""):
    listen = f'[[listen]]\nname = "http"\naddress = "127.0.0.1:{port}"\n'
    if forward_port:
        listen += f'forward = "127.0.0.1:{forward_port}"\n'
    return (f'[build]\ncmd = "{GO_BUILD}"\n\n[run]\ncmd = ".baton/bin/app"\n'
            f'ready = "{ready}"\nstop_timeout = "5s"\n{extra}\n{listen}\n'
            '[watch]\ninclude_ext = ["go"]\n')


def run_rebuilds(env, proj, main_go, port, old, fmt):
    """Start baton dev, then edit `old` -> fmt.format(i) REBUILDS times while polling."""
    b = env.baton("dev", cwd=proj)
    b.wait_line(r"ready \(generation 1,", timeout=90)
    assert old in get(port)[1]
    with Poller(port) as poll:
        cur = old
        for i in range(2, REBUILDS + 2):
            new = fmt.format(i)
            mark = b.mark()
            replace_in(main_go, cur, new)
            cur = new
            b.wait_line(rf"ready \(generation {i},", timeout=60, start=mark)
            # the very next request is served by the new code
            st, body = get(port)
            assert st == 200 and new in body, body
            poll.wait_more(3)
        wait_until(lambda: poll.ok > 0 and poll.last_body and new in poll.last_body,
                   what="poller sees the last version")
    assert poll.failures == [], f"{len(poll.failures)} failed requests: {poll.failures[:5]}"
    b.send(signal.SIGINT)
    assert b.wait(timeout=20) == 0, b.output()
    return b


@pytest.mark.timeout(400)
def test_handoff_rebuilds_serve_new_code_without_refusals(env):
    port = free_port()
    proj, main_go = gin_project(env.tmp)
    write(os.path.join(proj, "baton.toml"), dev_config(port))
    b = run_rebuilds(env, proj, main_go, port, "gin-hello v1", "gin-hello v{}")
    out = b.output()
    assert "built in" in out and "restarted in" in out


@pytest.mark.timeout(400)
def test_forward_mode_plain_gin_app(env):
    port, target = free_port(), free_port()
    proj, main_go = gin_project(env.tmp, app="gin-plain")
    write(os.path.join(proj, "baton.toml"), dev_config(port, forward_port=target, ready="port"))
    run_rebuilds(env, proj, main_go, port, "gin-plain v1", "gin-plain v{}")


@pytest.mark.timeout(300)
def test_compile_error_keeps_old_version(env):
    port = free_port()
    proj, main_go = gin_project(env.tmp)
    write(os.path.join(proj, "baton.toml"), dev_config(port))
    b = env.baton("dev", cwd=proj)
    b.wait_line(r"ready \(generation 1,", timeout=90)
    mark = b.mark()
    replace_in(main_go, 'const greeting = "hello from gin-hello v1"',
               'const greeting = "hello from gin-hello v1" +')
    b.wait_line(r"build failed .*still serving generation 1", timeout=60, start=mark)
    out = "\n".join(b.lines[mark:])
    assert "build │" in out and "main.go" in out, out
    st, body = get(port)
    assert st == 200 and "gin-hello v1" in body
    # fixing it restarts
    mark = b.mark()
    replace_in(main_go, 'const greeting = "hello from gin-hello v1" +',
               'const greeting = "hello from gin-hello v2"')
    b.wait_line(r"build fixed", timeout=60, start=mark)
    b.wait_line(r"ready \(generation 2,", timeout=60, start=mark)
    assert "gin-hello v2" in get(port)[1]
    b.send(signal.SIGINT)
    assert b.wait(timeout=20) == 0
