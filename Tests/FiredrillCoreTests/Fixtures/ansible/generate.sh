#!/usr/bin/env bash
# Regenerates expected.json from real ansible-core; the tests compare against the
# committed file, so CI needs no Python. Usage: generate.sh PATH/TO/VENV
# Each pattern is run under three PYTHONHASHSEEDs: Ansible walks deep group
# hierarchies in set order, and results that differ between seeds are left out.
set -euo pipefail
venv=${1:?usage: generate.sh VENV}
cd "$(dirname "$0")"
python3 - "$venv" <<'PY'
import json, subprocess, sys, os
venv = sys.argv[1]
inventories = ["basic.ini", "nested.yml", "order.ini", "folder", "literals.ini", "folder2"]
patterns = [p for p in open("patterns.txt").read().splitlines() if p]
out = {"ansible_core": subprocess.run([f"{venv}/bin/ansible", "--version"], capture_output=True, text=True).stdout.splitlines()[0],
       "selections": {}, "graphs": {}, "hostvars": {}}
def run(args, seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed), ANSIBLE_INVENTORY_UNPARSED_WARNING="False", ANSIBLE_LOCALHOST_WARNING="False")
    return subprocess.run(args, capture_output=True, text=True, env=env)
for inv in inventories:
    out["selections"][inv] = {}
    for p in patterns:
        results = set()
        for seed in (1, 2, 3):
            r = run([f"{venv}/bin/ansible", "-i", inv, p, "--list-hosts"], seed)
            if r.returncode != 0 or "hosts (0)" in r.stdout:
                hosts = []
            else:
                hosts = [l.strip() for l in r.stdout.splitlines()[1:] if l.strip()]
            results.add(tuple(hosts))
        if len(results) == 1:
            out["selections"][inv][p] = list(results.pop())
    g = run([f"{venv}/bin/ansible-inventory", "-i", inv, "--graph"], 1)
    out["graphs"][inv] = g.stdout
    l = run([f"{venv}/bin/ansible-inventory", "-i", inv, "--list"], 1)
    out["hostvars"][inv] = json.loads(l.stdout)["_meta"]["hostvars"]
json.dump(out, open("expected.json", "w"), indent=1, sort_keys=True)
print("wrote expected.json")
PY
