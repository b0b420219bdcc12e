#!/usr/bin/python3
"""toml-test conformance runner and tagged-JSON comparison.

  compare.py run DECODER SUITE_DIR   run every file of SUITE_DIR/files-toml-1.0.0 through DECODER
  compare.py diff EXPECTED.json ACTUAL.json   compare two tagged-JSON files

Valid files must decode to JSON semantically equal to the expected .json: same structure,
same types, floats equal as numbers (nan equals nan), date/times equal as values (an offset
date-time as the instant it names; "Z" is "+00:00", "07:32:00" is "07:32:00.000"). Invalid files
must be rejected: exit status > 0, no signal, no sanitizer report, within the timeout.
"""
import concurrent.futures
import datetime
import json
import math
import os
import re
import subprocess
import sys

TIMEOUT = 10
SCALARS = {"string", "integer", "float", "bool", "datetime", "datetime-local", "date-local",
           "time-local"}
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
TIME_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$")
OFFSET_RE = re.compile(r"^(.*?)(?:([zZ])|([+-])(\d{2}):(\d{2}))$")


def is_leaf(v):
    return (isinstance(v, dict) and set(v) == {"type", "value"} and isinstance(v["type"], str)
            and isinstance(v["value"], str))


def parse_time(s):
    m = TIME_RE.match(s)
    if not m:
        raise ValueError("bad time %r" % s)
    frac = (m.group(4) or "")[:9].ljust(9, "0")
    return int(m.group(1)), int(m.group(2)), int(m.group(3)), int(frac)


def parse_date(s):
    m = DATE_RE.match(s)
    if not m:
        raise ValueError("bad date %r" % s)
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def split_datetime(s):
    if len(s) < 11 or s[10] not in "Tt ":
        raise ValueError("bad date-time %r" % s)
    return parse_date(s[:10]), parse_time(s[11:])


def normalize(typ, val):
    """A comparable form of a scalar's value."""
    if typ == "string" or typ == "bool":
        return val
    if typ == "integer":
        return int(val)
    if typ == "float":
        v = float(val)  # accepts inf, -inf, nan
        return "nan" if math.isnan(v) else v
    if typ == "date-local":
        return parse_date(val)
    if typ == "time-local":
        return parse_time(val)
    if typ == "datetime-local":
        return split_datetime(val)
    if typ == "datetime":
        m = OFFSET_RE.match(val)
        if not m:
            raise ValueError("bad offset date-time %r" % val)
        (y, mo, d), (h, mi, sec, ns) = split_datetime(m.group(1))
        off = 0
        if m.group(3):
            off = int(m.group(4)) * 60 + int(m.group(5))
            if m.group(3) == "-":
                off = -off
        days = datetime.date(y, mo, d).toordinal()
        return (days * 86400 + h * 3600 + mi * 60 + sec - off * 60, ns)
    raise ValueError("unknown type %r" % typ)


def diff(exp, act, path="$"):
    """None if equal, else a description of the first difference."""
    if is_leaf(exp):
        if not is_leaf(act):
            return "%s: expected a %s value, got %s" % (path, exp["type"], json.dumps(act)[:80])
        if exp["type"] != act["type"]:
            return "%s: expected type %s, got %s" % (path, exp["type"], act["type"])
        try:
            same = normalize(exp["type"], exp["value"]) == normalize(act["type"], act["value"])
        except (ValueError, OverflowError) as e:
            return "%s: %s" % (path, e)
        if not same:
            return "%s: expected %r, got %r" % (path, exp["value"], act["value"])
        return None
    if isinstance(exp, dict):
        if not isinstance(act, dict) or is_leaf(act):
            return "%s: expected a table, got %s" % (path, json.dumps(act)[:80])
        if set(exp) != set(act):
            return "%s: keys differ: missing %s, unexpected %s" % (
                path, sorted(set(exp) - set(act)), sorted(set(act) - set(exp)))
        for k in exp:
            d = diff(exp[k], act[k], "%s.%s" % (path, json.dumps(k)))
            if d:
                return d
        return None
    if isinstance(exp, list):
        if not isinstance(act, list):
            return "%s: expected an array, got %s" % (path, json.dumps(act)[:80])
        if len(exp) != len(act):
            return "%s: expected %d items, got %d" % (path, len(exp), len(act))
        for i, (e, a) in enumerate(zip(exp, act)):
            d = diff(e, a, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return "%s: unexpected JSON %s in the expected file" % (path, json.dumps(exp)[:80])


def sanitizer_report(stderr):
    return ("Sanitizer" in stderr and "ERROR" in stderr) or "runtime error:" in stderr


def run_decoder(decoder, path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        p = subprocess.run([decoder], input=data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % TIMEOUT, b""
    return p.returncode, p.stderr.decode("utf-8", "replace"), p.stdout


def check_valid(decoder, suite, name):
    rc, err, out = run_decoder(decoder, os.path.join(suite, name))
    if rc is None:
        return err
    if rc != 0 or sanitizer_report(err):
        return "exit %d: %s" % (rc, err.strip()[:300])
    with open(os.path.join(suite, name[:-5] + ".json"), encoding="utf-8") as f:
        exp = json.load(f)
    try:
        act = json.loads(out.decode("utf-8"))
    except ValueError as e:
        return "output is not JSON (%s): %r" % (e, out[:200])
    return diff(exp, act)


def check_invalid(decoder, suite, name):
    rc, err, _ = run_decoder(decoder, os.path.join(suite, name))
    if rc is None:
        return err
    if rc < 0:
        return "killed by signal %d: %s" % (-rc, err.strip()[:300])
    if sanitizer_report(err):
        return "sanitizer report (exit %d): %s" % (rc, err.strip()[:600])
    if rc == 0:
        return "accepted invalid TOML"
    return None


def run(decoder, suite):
    env_add = {
        "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1",
        "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=1:print_stacktrace=1",
    }
    for k, v in env_add.items():
        os.environ[k] = (os.environ[k] + ":" + v) if os.environ.get(k) else v
    with open(os.path.join(suite, "files-toml-1.0.0"), encoding="utf-8") as f:
        names = [l.strip() for l in f if l.strip().endswith(".toml")]
    counts = {"valid": [0, 0], "invalid": [0, 0]}
    names = [n for n in names if n.split("/", 1)[0] in counts]

    def check(name):
        fn = check_valid if name.startswith("valid/") else check_invalid
        return fn(decoder, suite, name)

    # The decoder runs are independent; a few threads keep sanitizer builds (slow to start) fast.
    workers = min(8, max(2, os.cpu_count() or 2))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for name, why in zip(names, pool.map(check, names)):
            kind = name.split("/", 1)[0]
            if why:
                counts[kind][1] += 1
                print("FAIL %s: %s" % (name, why))
            else:
                counts[kind][0] += 1
    for kind in ("valid", "invalid"):
        print("toml-test %s: %d passed, %d failed" % (kind, counts[kind][0], counts[kind][1]))
    p = counts["valid"][0] + counts["invalid"][0]
    f = counts["valid"][1] + counts["invalid"][1]
    print("toml-test total: %d passed, %d failed" % (p, f))
    return 1 if f else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "run":
        return run(os.path.abspath(argv[2]), argv[3])
    if len(argv) == 4 and argv[1] == "diff":
        with open(argv[2], encoding="utf-8") as a, open(argv[3], encoding="utf-8") as b:
            d = diff(json.load(a), json.load(b))
        print(d or "equal")
        return 1 if d else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
