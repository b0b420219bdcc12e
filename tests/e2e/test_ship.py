"""Shipping baton: `make install`/`make uninstall` with PREFIX and DESTDIR, the man pages against
`--help` and the config schema, bash and zsh completions, the Debian package (built in a copy of
the working tree, unpacked into a scratch root, run from there), and the docs that quote baton's
output or code (the air translation, the Go program of docs/production.md under a reload)."""
import difflib
import glob
import os
import pty
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid

import pytest

from conftest import BATON, BUILD, REPO, marked_pids, wait_until
from devutil import Poller, free_port, get

DATA = os.path.join(REPO, "tests", "e2e", "data")
MAN1 = os.path.join(REPO, "man", "baton.1")
MAN5 = os.path.join(REPO, "man", "baton.toml.5")

needs_groff = pytest.mark.skipif(shutil.which("groff") is None, reason="needs groff (groff-base)")


def clean_env(extra=None):
    """The environment for a nested make or dpkg-buildpackage: no MAKEFLAGS from `make test`
    (its jobserver fds are not ours, and its WERROR=1 override would leak into the build)."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    e.update(extra or {})
    return e


def run(args, timeout=60, **kw):
    """subprocess.run in its own session; on timeout the whole group is killed."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True, **kw)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        raise AssertionError(f"{args} timed out after {timeout}s:\n{out[-4000:]}")
    return p.returncode, out


def baton_help(*args):
    r = subprocess.run([BATON, *args, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout


def commands():
    """The subcommands listed by `baton --help`."""
    text = baton_help()
    section = text.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    names = [line.split()[0] for line in section.splitlines() if line.strip()]
    assert "dev" in names and "run" in names, text
    return names


OPT_RX = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*|--(?=\s|$))")


def help_options(text):
    """Every option a help text shows: in its usage line and in its "options:" section."""
    opts = set()
    usage = text.splitlines()[0] if text.startswith("usage:") else ""
    for group in re.findall(r"\[([^\]]*)\]", usage):
        opts.update(OPT_RX.findall(group))
    in_opts = False
    for line in text.splitlines():
        if line.strip() == "options:":
            in_opts = True
            continue
        if in_opts and not line.startswith(" "):
            in_opts = False
        if in_opts and line.strip().startswith("-"):
            head = re.split(r"\s{2,}", line.strip())[0]
            opts.update(OPT_RX.findall(head))
    return opts


def render(page):
    """The page as plain text, one paragraph per line (wide, unhyphenated)."""
    r = subprocess.run(["groff", "-mdoc", "-Tascii", "-P-c", "-P-b", "-P-u", "-P-o", "-rLL=250n",
                        "-rHY=0", page], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout


def subsections(text):
    """Map subsection title -> its text (groff's ASCII mdoc output indents .Ss by 3)."""
    out, title, cur = {}, None, []
    for line in text.splitlines():
        m = re.match(r"^ {3}(\S.*)$", line)
        if m or re.match(r"^\S", line):
            if title is not None:
                out[title] = "\n".join(cur)
            title, cur = (m.group(1).strip() if m else None), []
        elif title is not None:
            cur.append(line)
    if title is not None:
        out[title] = "\n".join(cur)
    return out


# ---- make install / make uninstall --------------------------------------------------------

def files_under(root):
    found = set()
    for d, dirs, names in os.walk(root):
        for n in names:
            found.add(os.path.relpath(os.path.join(d, n), root))
        for n in dirs:
            p = os.path.join(d, n)
            if os.path.islink(p):
                found.add(os.path.relpath(p, root))
    return found


def make(*args, timeout=60):
    # -o: never rebuild the binary here (it is the one under test, built by `make test`)
    target = os.path.join(BUILD, "baton")
    return run(["make", "--no-print-directory", "-C", REPO, "-o", target, f"BUILD={BUILD}", *args],
               timeout=timeout, env=clean_env())


INSTALLED = {
    "usr/local/bin/baton": 0o755,
    "usr/local/share/man/man1/baton.1": 0o644,
    "usr/local/share/man/man5/baton.toml.5": 0o644,
    "usr/local/share/bash-completion/completions/baton": 0o644,
    "usr/local/share/zsh/site-functions/_baton": 0o644,
}


@pytest.mark.timeout(120)
def test_make_install_then_uninstall_leaves_the_file_list_as_it_was(tmp_path):
    dest = tmp_path / "dest"
    # files that were there before (another package's) must survive uninstall
    for rel in ("usr/local/bin/other-tool", "usr/local/share/man/man1/other-tool.1",
                "usr/local/share/bash-completion/completions/other-tool"):
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("not baton's\n")
    before = files_under(dest)

    rc, out = make("install", "PREFIX=/usr/local", f"DESTDIR={dest}")
    assert rc == 0, out
    after_install = files_under(dest)
    assert after_install - before == set(INSTALLED), out
    for rel, mode in INSTALLED.items():
        st = os.stat(dest / rel)
        assert stat.S_IMODE(st.st_mode) == mode, (rel, oct(st.st_mode))
    with open(dest / "usr/local/bin/baton", "rb") as a, open(BATON, "rb") as b:
        assert a.read() == b.read()
    with open(dest / "usr/local/share/man/man1/baton.1") as a, open(MAN1) as b:
        assert a.read() == b.read()

    # what a user runs next: the installed binary and `man baton` from that prefix
    r = subprocess.run([str(dest / "usr/local/bin/baton"), "--version"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("baton "), r
    if shutil.which("man"):
        e = clean_env({"MANPATH": str(dest / "usr/local/share/man"), "MANWIDTH": "80",
                       "MAN_KEEP_FORMATTING": "", "PAGER": "cat", "MANPAGER": "cat"})
        for page in ("baton", "baton.toml"):
            r = subprocess.run(["man", page], capture_output=True, text=True, timeout=30, env=e)
            assert r.returncode == 0, r.stderr
            assert "NAME" in r.stdout and page in r.stdout, r.stdout[:500]

    rc, out = make("uninstall", "PREFIX=/usr/local", f"DESTDIR={dest}")
    assert rc == 0, out
    assert files_under(dest) == before, out
    # a second uninstall is harmless
    rc, out = make("uninstall", "PREFIX=/usr/local", f"DESTDIR={dest}")
    assert rc == 0, out
    assert files_under(dest) == before


# ---- man pages ----------------------------------------------------------------------------

@needs_groff
@pytest.mark.parametrize("page", [MAN1, MAN5])
def test_man_page_renders_without_warnings(page):
    r = subprocess.run(["groff", "-mdoc", "-ww", "-z", page], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    if shutil.which("mandoc"):
        # warnings and worse; "style" (such as a referenced page not installed) is not counted
        r = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr


@needs_groff
def test_every_help_option_is_in_the_man_page():
    text = render(MAN1)
    secs = subsections(text)
    top = help_options(baton_help())
    assert {"-h", "--help", "-V", "--version"} <= top
    missing = [o for o in top if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])",
                                                secs.get("Global options", ""))]
    assert not missing, f"global options missing from baton(1) 'Global options': {missing}"
    for cmd in commands():
        opts = help_options(baton_help(cmd))
        assert "--help" in opts, (cmd, opts)
        sec = secs.get(f"baton {cmd}")
        assert sec is not None, f"baton(1) has no subsection 'baton {cmd}'"
        missing = [o for o in sorted(opts)
                   if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", sec)]
        assert not missing, f"'baton {cmd} --help' options missing from baton(1): {missing}"
        # and in the SYNOPSIS
        syn = text.split("SYNOPSIS", 1)[1].split("DESCRIPTION", 1)[0]
        assert re.search(rf"^\s+baton {cmd}\b", syn, re.M), f"{cmd} not in the SYNOPSIS"


def schema_keys():
    src = open(os.path.join(REPO, "src", "config", "config_schema.c")).read()
    keys = re.findall(r'\{(NULL|"(\w+)"),\s*"(\w+)",\s*CT_', src)
    assert len(keys) > 40, "cannot read the schema table in src/config/config_schema.c"
    return [(t or None, k) for _, t, k in keys]


@needs_groff
def test_every_config_key_is_in_baton_toml_5():
    secs = subsections(render(MAN5))
    titles = {"listen": "[[listen]]", "reload": "[[reload]]", "tls": "[[tls]]",
              "source": "[[source]]"}
    missing = []
    for table, key in schema_keys():
        title = "Top level" if table is None else titles.get(table, f"[{table}]")
        sec = secs.get(title)
        assert sec is not None, f"baton.toml(5) has no subsection '{title}'"
        if not re.search(rf"^ {{5}}{re.escape(key)} \(", sec, re.M):
            missing.append(f"{table}.{key}" if table else key)
    assert not missing, f"keys missing from baton.toml(5): {missing}"


# ---- completions --------------------------------------------------------------------------

def make_completion_dir(tmp_path):
    d = tmp_path / "proj"
    (d / "sub").mkdir(parents=True)
    (d / "a.toml").write_text("")
    (d / "b.txt").write_text("")
    (d / "sub" / "c.toml").write_text("")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(d / "ctl.sock"))
    s.close()
    return d


def bash_complete(env, cwd, cases):
    """Run the bash completion function for each word list; returns a list of sets."""
    script = [f"source {REPO}/completions/baton.bash",
              "[[ $(complete -p baton) == 'complete -F _baton baton' ]] || echo NOT-REGISTERED",
              'comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));'
              ' COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=();'
              ' _baton baton "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}";'
              " printf '%s\\n' \"${COMPREPLY[@]}\"; echo '--END--'; }"]
    for words in cases:
        script.append("comp " + " ".join("'" + w.replace("'", "'\\''") + "'" for w in words))
    r = env.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)], cwd=str(cwd),
                timeout=30)
    assert r.returncode == 0 and "NOT-REGISTERED" not in r.stdout, r.stdout + r.stderr
    outs = r.stdout.split("--END--\n")[:-1]
    assert len(outs) == len(cases), r.stdout + r.stderr
    return [set(o.split("\n")) - {""} for o in outs]


@pytest.mark.timeout(60)
def test_bash_completion_matches_the_help(env, tmp_path):
    d = make_completion_dir(tmp_path)
    cmds = commands()
    cases = [["baton", ""], ["baton", "st"], ["baton", "-"]]
    cases += [["baton", c, "-"] for c in cmds]
    cases += [["baton", "check", "-c", ""], ["baton", "dev", "--config", "=", ""],
              ["baton", "run", "--config", "=", "s"], ["baton", "status", "-s", ""],
              ["baton", "stop", "--socket", ""], ["baton", "watch", "--poll", ""],
              ["baton", "watch", ""]]
    got = bash_complete(env, d, cases)
    it = iter(got)
    assert next(it) == set(cmds) | {"help", "version"}
    assert next(it) == {"status", "stop"}
    assert next(it) == help_options(baton_help())
    man = render(MAN1) if shutil.which("groff") else None
    for c in cmds:
        got_opts, want = next(it), help_options(baton_help(c))
        assert want <= got_opts, f"'baton {c} -' does not complete {sorted(want - got_opts)}"
        if man is not None:  # anything more it offers is at least documented
            for o in got_opts - want:
                assert re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", man), (c, o)
    assert next(it) == {"a.toml", "sub"}           # -c: *.toml and directories
    assert next(it) == {"a.toml", "sub"}           # --config=
    assert next(it) == {"sub"}                     # --config=s
    assert next(it) == {"ctl.sock", "sub"}         # -s: sockets and directories
    assert next(it) == {"ctl.sock", "sub"}
    assert {"auto", "off"} <= next(it)
    assert {"a.toml", "b.txt", "sub"} <= next(it)  # watch PATH...


ANSI_RX = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x07\x08]")


class Zsh:
    """An interactive zsh in a pty with baton's completion loaded; TAB and read the listing."""

    def __init__(self, env, cwd):
        e = dict(env.env)
        e.update(TERM="xterm", HOME=str(cwd), ZDOTDIR=str(cwd), PS1="%% ", LC_ALL="C.UTF-8")
        pid, fd = pty.fork()
        if pid == 0:  # child: nothing but exec
            try:
                os.chdir(str(cwd))
                os.execvpe("zsh", ["zsh", "-f", "-i"], e)
            finally:
                os._exit(127)
        self.pid, self.fd, self.buf = pid, fd, b""
        self.send(f"fpath=({REPO}/completions $fpath); autoload -Uz compinit; compinit -u -D;"
                  " zstyle ':completion:*' list-prompt ''; echo RE''ADY\n")
        self.expect(r"\nREADY")

    def text(self):
        """What zsh wrote, without terminal escapes."""
        return ANSI_RX.sub("", self.buf.decode("utf-8", "replace"))

    def send(self, s):
        os.write(self.fd, s.encode())

    def expect(self, rx, start=0, timeout=15):
        """Wait until rx matches the output (without escapes) from offset start on."""
        deadline = time.monotonic() + timeout
        while not re.search(rx, self.text()[start:]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"zsh: no {rx!r} within {timeout}s; got "
                                     f"{self.text()[start:][-1500:]!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    self.buf += os.read(self.fd, 65536)
                except OSError:
                    raise AssertionError(f"zsh exited; got {self.text()[-1500:]!r}")

    def complete(self, line, expect):
        """Type line + TAB; wait for every expected candidate and the redrawn line after the
        listing; return the listing. The line is then cleared with Ctrl-U."""
        start = len(self.text())
        self.send(line + "\t")
        for word in expect:
            self.expect(rf"(?<![\w-]){re.escape(word)}(?![\w-])", start)
        # the listing is followed by the prompt and the line, redrawn
        self.expect(r"\n(?s:.*)" + re.escape(line.rstrip()), start)
        out = self.text()[start:]
        self.send("\x15")  # Ctrl-U: kill the line
        return out

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
@pytest.mark.timeout(90)
def test_zsh_completion(env, tmp_path):
    d = make_completion_dir(tmp_path)
    z = Zsh(env, d)
    try:
        out = z.complete("baton ", commands())
        assert "-- watch, build, restart" in out
        out = z.complete("baton status --", ["--config", "--socket", "--json", "--timeout",
                                             "--help"])
        out = z.complete("baton check -c ", ["a.toml", "sub"])
        assert "b.txt" not in out and "ctl.sock" not in out, out
        out = z.complete("baton stop -s ", ["ctl.sock", "sub"])
        assert "a.toml" not in out, out
        out = z.complete("baton watch --poll=", ["auto", "off"])
        for c in commands():
            opts = sorted(o for o in help_options(baton_help(c)) if o.startswith("--") and o != "--")
            z.complete(f"baton {c} --", opts)
    finally:
        z.close()


# ---- the Debian package -------------------------------------------------------------------

def working_tree_files():
    """Tracked and untracked-but-not-ignored files: the working tree as it is, not HEAD."""
    r = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       cwd=REPO, capture_output=True, timeout=30)
    if r.returncode != 0:
        return None
    return [f.decode() for f in r.stdout.split(b"\0") if f]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if not shutil.which("dpkg-buildpackage") or not shutil.which("dh"):
        pytest.skip("needs dpkg-dev and debhelper")
    files = working_tree_files()
    if files is None:
        pytest.skip("not a git checkout")
    top = tmp_path_factory.mktemp("deb")
    src = top / "baton"
    for f in files:
        a = os.path.join(REPO, f)
        if not os.path.lexists(a):
            continue  # deleted in the working tree
        b = src / f
        b.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(a, b, follow_symlinks=False)
    marker = uuid.uuid4().hex
    # noopt: -O0 halves the compile time of this test; the packaging is what is tested here.
    e = clean_env({"DEB_BUILD_OPTIONS": "parallel=2 noopt nocheck noautodbgsym",
                   "BATON_TEST_ID": marker})
    rc, out = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=str(src), env=e, timeout=400)
    left = marked_pids(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind by dpkg-buildpackage: {left}"
    assert rc == 0, out[-6000:]
    debs = glob.glob(str(top / "baton_*.deb"))
    assert len(debs) == 1, (os.listdir(top), out[-3000:])
    return {"deb": debs[0]}


def baton_version():
    h = open(os.path.join(REPO, "src", "core", "version.h")).read()
    return re.search(r'#define BATON_VERSION "([^"]+)"', h).group(1)


@pytest.mark.timeout(450)
def test_deb_builds_installs_into_a_scratch_root_and_runs(deb, tmp_path):
    name = os.path.basename(deb["deb"])
    m = re.fullmatch(r"baton_([^_]+)_([^_]+)\.deb", name)
    assert m, name
    assert m.group(1) == baton_version(), "debian/changelog and src/core/version.h disagree on the version"

    r = subprocess.run(["dpkg-deb", "-c", deb["deb"]], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    listing = {line.split()[-1] for line in r.stdout.splitlines()}
    for path in ("./usr/bin/baton", "./usr/share/man/man1/baton.1.gz",
                 "./usr/share/man/man5/baton.toml.5.gz",
                 "./usr/share/bash-completion/completions/baton",
                 "./usr/share/zsh/vendor-completions/_baton",
                 "./usr/share/doc/baton/copyright"):
        assert path in listing, (path, sorted(listing))
    depends = subprocess.run(["dpkg-deb", "-f", deb["deb"], "Depends"], capture_output=True,
                             text=True, timeout=30).stdout
    assert "libc6" in depends and "libssl" in depends, depends

    root = tmp_path / "root"
    r = subprocess.run(["dpkg", "-x", deb["deb"], str(root)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(root / "usr/bin/baton"), "--version"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"baton {baton_version()}"
    r = subprocess.run([str(root / "usr/bin/baton"), "check", "-c",
                        os.path.join(DATA, "air_example.toml")], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0 and "ok (air's format)" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(shutil.which("lintian") is None, reason="needs lintian")
@pytest.mark.timeout(450)
def test_deb_is_lintian_clean(deb):
    # Errors and warnings fail; debian/README.source lists what lintian says and why.
    rc, out = run(["lintian", "--fail-on", "error,warning", deb["deb"]], timeout=300)
    out = "\n".join(l for l in out.splitlines() if "root privileges" not in l)
    assert rc == 0, out


# ---- docs that quote baton's output -------------------------------------------------------

def test_migrating_from_air_quotes_the_current_translation():
    doc = open(os.path.join(REPO, "docs", "migrating-from-air.md")).read()
    r = subprocess.run([BATON, "check", "--print", "-c", "air_example.toml"], cwd=DATA,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.rstrip("\n")
    printed = printed.replace(os.path.join(DATA, "air_example.toml"), "/home/you/myapp/.air.toml")
    printed = printed.replace(DATA, "/home/you/myapp")
    block = doc.split("### baton.toml (`baton check --print`)\n\n```toml\n", 1)[1]
    block = block.split("\n```\n", 1)[0]

    def unwrap(text):
        """Comments joined into one line each: baton wraps them at 100 columns, so their
        breaks depend on the length of the path it prints."""
        out, words = [], []
        for line in text.splitlines() + [""]:
            if line.startswith("#"):
                words += line[1:].split()
                continue
            if words:
                out.append("# " + " ".join(words))
                words = []
            out.append(line)
        return out

    if unwrap(block) != unwrap(printed):
        diff = "\n".join(difflib.unified_diff(unwrap(block), unwrap(printed), "doc",
                                               "baton check --print", lineterm="", n=1))
        raise AssertionError("docs/migrating-from-air.md: the baton.toml block is out of date; "
                             "paste the output of `baton check --print -c air_example.toml` "
                             "run in tests/e2e/data (paths as /home/you/myapp):\n" + diff)
    air = open(os.path.join(DATA, "air_example.toml")).read().rstrip("\n")
    assert "```toml\n" + air + "\n```" in doc, "docs/migrating-from-air.md: the .air.toml block"
    for note in r.stderr.strip().splitlines():
        assert note.replace("air_example.toml:", ".air.toml:") in doc, note


@pytest.mark.skipif(shutil.which("go") is None, reason="needs go")
@pytest.mark.timeout(300)
def test_production_md_program_reloads_without_a_failed_request(env, tmp_path):
    """The Go program in docs/production.md, built as it is, under `baton run`: it takes the
    socket, sends READY=1, and a reload under a request loop refuses nothing."""
    doc = open(os.path.join(REPO, "docs", "production.md")).read()
    src = doc.split("```go\n", 1)[1].split("\n```", 1)[0]
    proj = tmp_path / "app"
    proj.mkdir()
    (proj / "main.go").write_text(src + "\n")
    e = {"GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GIN_MODE": "release"}
    if not (os.environ.get("GOCACHE") or os.environ.get("HOME")):
        e["GOCACHE"] = str(tmp_path / "gocache")
    r = env.run(["go", "build", "-o", "bin/myapp", "."], cwd=str(proj), env=e, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    port = free_port()
    (proj / "baton.toml").write_text(f"""\
[run]
cmd = "bin/myapp"
ready = "notify"
stop_timeout = "30s"

[[listen]]
name = "http"
address = "127.0.0.1:{port}"
""")
    b = env.baton("run", cwd=str(proj), env=e)
    b.wait_line(r"generation 1 serving", timeout=30)
    assert get(port) == (200, "hello\n")
    with Poller(port) as p:
        r = env.run([BATON, "reload"], cwd=str(proj), timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "generation 2 serving" in r.stdout
        ok_before = p.ok
        wait_until(lambda: p.ok > ok_before + 5, timeout=10, what="requests after the reload")
    assert p.failures == [], p.failures[:5]
    r = env.run([BATON, "stop"], cwd=str(proj), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert b.wait(timeout=40) == 0
