#!/usr/bin/env python3
"""make deps-check: every #include between src/ folders must follow the layering written in
docs/design.md (the ```layers block under "## Layout"). A folder may include its own headers and
those of folders on earlier lines; src/main.c may include anything. Prints each include that
breaks the layering, and any cycle between folders; exit 1 if there is one."""
import os
import re
import sys

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
design = open(os.path.join(repo, "docs", "design.md")).read()
m = re.search(r"^## Layout\n.*?^```layers\n(.*?)^```", design, re.S | re.M)
if not m:
    sys.exit("deps-check: no ```layers block under '## Layout' in docs/design.md")
rank = {}
for i, line in enumerate(m.group(1).splitlines()):
    for folder in line.split("#")[0].split():
        rank[folder] = i

src = os.path.join(repo, "src")
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
bad, edges = [], {}
for root, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith((".c", ".h")):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, src)
        if os.sep not in rel:
            continue  # main.c: the composition's entry
        folder = rel.split(os.sep)[0]
        if folder not in rank:
            bad.append(f"src/{rel}: folder '{folder}' is not in the layers of docs/design.md")
            continue
        for n, target in enumerate(inc.findall(open(path).read())):
            if "/" not in target:
                if not os.path.exists(os.path.join(root, target)):
                    bad.append(f"src/{rel}: #include \"{target}\" names no folder")
                continue
            to = target.split("/")[0]
            if to == folder:
                continue
            edges.setdefault(folder, set()).add(to)
            if to not in rank:
                bad.append(f"src/{rel}: includes \"{target}\" from '{to}', not in the layers")
            elif rank[to] >= rank[folder]:
                bad.append(f"src/{rel}: '{folder}' includes \"{target}\" from '{to}', "
                           f"which is not below it")

# cycles in the folder graph (the layering forbids them; say so plainly if one slips in)
state = {}


def visit(node, stack):
    state[node] = 1
    for nxt in sorted(edges.get(node, ())):
        if state.get(nxt) == 1:
            cyc = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
            bad.append("cycle between folders: " + " -> ".join(cyc))
        elif not state.get(nxt):
            visit(nxt, stack + [nxt])
    state[node] = 2


for node in sorted(edges):
    if not state.get(node):
        visit(node, [node])

for b in bad:
    print(f"deps-check: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"deps-check: {len(rank)} folders, "
      f"{sum(len(v) for v in edges.values())} folder dependencies, all follow the layering")
