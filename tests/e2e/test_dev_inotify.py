"""`baton dev` with [[reload]] groups: the source-tree watcher and the reload groups' watcher share
one inotify instance (fs.inotify.max_user_instances is 128 per user, shared by every container
of that uid). The kernel gives both the same watch descriptor for the same directory (the
project root holds the sources and config.yaml): each keeps receiving its events, and one of
them letting go of a shared directory never silences the other. The app is a C helper that
prints every signal it receives; the build is `echo`."""
import os
import shutil
import signal

from conftest import BUILD
from devutil import write

SIGECHO = os.path.join(BUILD, "helpers", "sigecho")

CONFIG = f'''
[build]
cmd = "echo build-ok"
[run]
cmd = "{SIGECHO}"
ready = "notify"
stop_timeout = "2s"
[watch]
include_ext = ["go"]
gitignore = true
[[reload]]
name = "config"
paths = ["config.yaml"]
action = "signal:SIGHUP"
[[reload]]
name = "current"
paths = ["current/app.yaml"]
action = "signal:SIGUSR1"
'''


def project(tmp):
    """root: main.go, config.yaml, v1/ and v2/ (app.yaml and a .go file each), current -> v1."""
    write(os.path.join(tmp, "baton.toml"), CONFIG)
    write(os.path.join(tmp, "main.go"), "package main\n")
    write(os.path.join(tmp, "config.yaml"), "a: 1\n")
    for v in ("v1", "v2"):
        write(os.path.join(tmp, v, "app.yaml"), f"version: {v}\n")
        write(os.path.join(tmp, v, "x.go"), f"package {v}\n")
    os.symlink("v1", os.path.join(tmp, "current"))


def start(env):
    project(str(env.tmp))
    b = env.baton("dev")
    _, m = b.wait_line(r"watching (\d+) director(?:y|ies), (\d+) files? under", timeout=20)
    b.wait_line(r"ready \(generation 1,", timeout=20)
    return b, int(m.group(1))


def inotify_fds(pid):
    """(instances, watches) held by pid."""
    inst = watches = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            inst += 1
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                watches += sum(1 for l in f if l.startswith("inotify wd:"))
        except OSError:
            pass
    return inst, watches


def stop(b):
    b.send(signal.SIGINT)
    assert b.wait(timeout=20) == 0, b.output()


def test_dev_with_reload_groups_has_one_inotify_instance(env):
    b, ndirs = start(env)
    inst, watches = inotify_fds(b.pid)
    assert inst == 1, f"{inst} inotify instances"
    # the tree: root, v1, v2, and the root's parent (to see the root deleted and recreated).
    # The reload groups' directories (root for config.yaml and "current", v1 for
    # current/app.yaml) are the same kernel watches: 4, not 6
    assert ndirs == 3
    assert watches == 4, f"{watches} watches for 3 directories and the root's parent"
    stop(b)


def rebuilt(b, what, gen, edit):
    mark = b.mark()
    edit()
    b.wait_line(rf'baton: {what} — building', timeout=20, start=mark)
    b.wait_line(rf"ready \(generation {gen},", timeout=20, start=mark)


def signalled(b, sig, edit, also=None):
    mark = b.mark()
    edit()
    if also:
        b.wait_line(also, timeout=20, start=mark)
    b.wait_line(rf"app \d+ │ sigecho gen=\d+ got {sig}", timeout=20, start=mark)


def test_shared_directory_watches_keep_both_watchers_fed(env):
    tmp = str(env.tmp)
    p = lambda *a: os.path.join(tmp, *a)  # noqa: E731
    b, _ = start(env)

    # the root's watch descriptor is shared: both see their own files in it
    signalled(b, "SIGHUP", lambda: write(p("config.yaml"), "a: 2\n"))
    rebuilt(b, 'changed "main.go"', 2, lambda: write(p("main.go"), "package main // 2\n"))
    signalled(b, "SIGUSR1", lambda: write(p("v1", "app.yaml"), "version: v1.1\n"))

    # the reload group lets go of v1 (current -> v2); the tree still needs v1
    def swap():
        os.symlink("v2", p("current.tmp"))
        os.replace(p("current.tmp"), p("current"))
    signalled(b, "SIGUSR1", swap)
    rebuilt(b, 'changed "v1/x.go"', 3, lambda: write(p("v1", "x.go"), "package v1 // 2\n"))
    signalled(b, "SIGUSR1", lambda: write(p("v2", "app.yaml"), "version: v2.1\n"))

    # the tree lets go of v2 (.gitignore); the reload group still needs it
    write(p(".gitignore"), "v2/\n")
    rebuilt(b, 'changed "main.go"', 4, lambda: write(p("main.go"), "package main // 3\n"))
    write(p("v2", "y.go"), "package v2\n")  # ignored now
    rebuilt(b, 'changed "main.go"', 5, lambda: write(p("main.go"), "package main // 4\n"))
    assert b.count(r"v2/y\.go") == 0
    signalled(b, "SIGUSR1", lambda: write(p("v2", "app.yaml"), "version: v2.2\n"))

    # a shared directory's file deleted and recreated; directories deleted (the kernel drops
    # their watches) and recreated
    mark = b.mark()
    os.unlink(p("config.yaml"))
    b.wait_line(r'reload "config": ".*config\.yaml" is missing', timeout=20, start=mark)
    signalled(b, "SIGHUP", lambda: write(p("config.yaml"), "a: 3\n"),
              also=r'reload "config": ".*config\.yaml" is back')
    rebuilt(b, 'changed "main.go"', 6, lambda: write(p("main.go"), "package main // 5\n"))

    mark = b.mark()
    shutil.rmtree(p("v2"))
    b.wait_line(r'reload "current": ".*current/app\.yaml" is missing', timeout=20, start=mark)
    signalled(b, "SIGUSR1", lambda: write(p("v2", "app.yaml"), "version: v2.3\n"),
              also=r'reload "current": ".*current/app\.yaml" is back')

    rebuilt(b, 'removed "v1/x.go"', 7, lambda: shutil.rmtree(p("v1")))
    rebuilt(b, 'created "v1/x.go"', 8, lambda: write(p("v1", "x.go"), "package v1 // 3\n"))
    signalled(b, "SIGHUP", lambda: write(p("config.yaml"), "a: 4\n"))
    assert b.count(r"rejected|overflowed|cannot watch") == 0
    stop(b)
