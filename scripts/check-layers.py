#!/usr/bin/env python3
"""The folders of Sources/FiredrillCore depend on each other one way only (docs/architecture.md).

Usage: check-layers.py [--graph] [--root FOLDER]

Each folder may use the names (types and top-level functions) declared in the folders below it
in LAYERS, never those of a folder above or beside it unless ALLOWED says so. The names a folder
declares are read from its files (declarations at the start of a line); a use is any mention of
such a name outside comments and string literals. Prints each use that breaks the rule (file,
line, name, where the name lives) and exits 1; `--graph` prints who uses whom.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "FiredrillCore")
if "--root" in sys.argv:
    ROOT = sys.argv[sys.argv.index("--root") + 1]

# Lowest first: a folder may use any folder listed before it, and none after it.
LAYERS = [
    "System",        # threads, processes, paths: no knowledge of drills
    "Diagnostics",   # Diagnostic, SourceLocation, did-you-mean
    "Scheduling",    # dates, recurrences, windows, DST, slots, due (pure values)
    "Model",         # the domain's values: playbook, checks, templates, secrets, outcomes
    "Inventory",     # Ansible inventory, host addresses and patterns
    "Templating",    # rendering {{ }} with a host's variables
    "Loading",       # YAML/INI -> model, with positions
    "Planning",      # playbook + inventory -> Plan (pure)
    "Validation",    # rules + the planner -> diagnostics
    "Transport",     # SSH, local commands, the host pool
    "Checks",        # http, tcp, tls, dns, command, file_age
    "Journal",       # the record: events, writer, reader, DrillRecord, run folders
    "Engine",        # the state machine and the runner
    "Scoring",       # DrillRecord -> Score
    "History",       # SQLite: runs, scores, annotations
    "Reports",       # the report model and its renderers, the scorecard, the calendar
    "Lab",           # the lab's hosts and services
    "Session",       # use cases: what a command does, start to end
]

# Uses across the line that are allowed, with why.
ALLOWED = {
    # Journal and Engine are side by side on the data flow: the engine writes the journal, and
    # the journal records the engine's vocabulary only through its own closed sets.
}

DECL = re.compile(r"^(\s*)(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|internal|private|fileprivate|package|final|open|nonisolated|indirect)\s+)*"
                  r"(?:struct|enum|class|actor|protocol|typealias|func)\s+([A-Za-z_]\w*)")
IDENT = re.compile(r"[A-Za-z_]\w*")


def strip(text):
    """Source without comments and string literals (so a word in a message is not a use)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif text.startswith('"""', i):
            j = text.find('"""', i + 3)
            out.append("\n" * text.count("\n", i, n if j < 0 else j))
            i = n if j < 0 else j + 3
        elif text[i] == '"':
            j = i + 1
            depth = 0
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "(":
                    # Keep interpolations: they are code.
                    k, depth = j + 2, 1
                    while k < n and depth:
                        depth += {"(": 1, ")": -1}.get(text[k], 0)
                        k += 1
                    out.append(" " + text[j + 2:k - 1] + " ")
                    j = k
                    continue
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == '"':
                    break
                j += 1
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def sources():
    for folder in sorted(os.listdir(ROOT)):
        path = os.path.join(ROOT, folder)
        if not os.path.isdir(path):
            continue
        for dirpath, _, files in os.walk(path):
            for f in sorted(files):
                if f.endswith(".swift"):
                    yield folder, os.path.join(dirpath, f)


def main():
    unknown = sorted({f for f, _ in sources()} - set(LAYERS))
    if unknown:
        print(f"check-layers: folders not in LAYERS: {', '.join(unknown)} (add them, in their place on the data flow)")
        return 1
    owner = {}
    # Every name a folder declares at any depth: a nested `Failure` or `Phase` of its own shadows
    # another folder's top-level one.
    local = {}
    texts = {}
    for folder, path in sources():
        text = open(path, encoding="utf-8").read()
        texts[path] = (folder, text)
        for line in text.splitlines():
            m = DECL.match(line)
            if m:
                local.setdefault(folder, set()).add(m.group(2))
                if not m.group(1):
                    owner.setdefault(m.group(2), folder)
    rank = {f: i for i, f in enumerate(LAYERS)}
    problems, graph = [], {}
    for path, (folder, text) in texts.items():
        for lineno, line in enumerate(strip(text).splitlines(), 1):
            for name in set(IDENT.findall(line)):
                home = owner.get(name)
                if home is None or home == folder or name in local.get(folder, set()):
                    continue
                graph.setdefault(folder, set()).add(home)
                if rank[home] > rank[folder] and (folder, home) not in ALLOWED:
                    rel = os.path.relpath(path, os.path.join(ROOT, "..", ".."))
                    problems.append(f"{rel}:{lineno}: {folder} uses {name} from {home}, which is above it")
    if "--graph" in sys.argv:
        for f in LAYERS:
            print(f"{f:12} -> {', '.join(sorted(graph.get(f, set()), key=rank.get))}")
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} use(s) against the flow; move the code, or the name, to where the flow allows it (docs/architecture.md)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
