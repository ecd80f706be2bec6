"""Turns the raw results of scripts/bench/compare.sh into a Markdown report.

usage: compare.py WORK_DIR OLD_NAME NEW_NAME > report.md

WORK_DIR holds: interleave.txt (lines "iteration name wall_us cpu_us exit" from
scripts/bench/interleave), load/VERSION.cCLIENTS.ROUND.json (loadgen output with the
daemon's CPU time added), and one scalar per file in meta/.

Every ratio is new / old. For whole processes: the ratio of the medians over all
runs, with a 95% bootstrap interval (iterations resampled, so the runs of one
iteration and copy stay together), and the middle half of the per-iteration ratios. For the daemon
under load: the median of the per-round ratios and their range.
"""

import collections
import glob
import json
import os
import random
import statistics
import sys

work, old, new = sys.argv[1:4]


def meta(name, default=""):
    try:
        with open(os.path.join(work, "meta", name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def pct(a, q):
    a = sorted(a)
    return a[min(len(a) - 1, int(q * len(a)))]


runs = collections.defaultdict(dict)  # name -> (iteration, copy) -> (wall, cpu, exit)
with open(os.path.join(work, "interleave.txt")) as f:
    for line in f:
        it, name, wall, cpu, code = line.split()
        name, _, copy = name.partition("~")  # NAME~K: copy K of the program's file
        runs[name][(int(it), copy)] = (int(wall), int(cpu), int(code))


def boot(a, b, idx, reps=2000):
    its = sorted(set(a) & set(b))
    point = statistics.median(a[i][idx] for i in its) / statistics.median(b[i][idx] for i in its)
    rnd = random.Random(1)
    rs = []
    for _ in range(reps):
        s = [rnd.choice(its) for _ in its]
        rs.append(statistics.median(a[i][idx] for i in s) / statistics.median(b[i][idx] for i in s))
    rs.sort()
    paired = [a[i][idx] / b[i][idx] for i in its]
    return point, rs[int(0.025 * reps)], rs[int(0.975 * reps)], pct(paired, 0.25), pct(paired, 0.75)


print("# Old and new side by side (scripts/bench/compare.sh)\n")
print(f"{meta('date')} on {meta('machine')}; {meta('go')}.")
print(f"Old: {meta('old_desc')}. New: {meta('new_desc')}.")
print(f"Load average (1, 5, 15 min): {meta('load_interleave_start')} at the start, "
      f"{meta('load_interleave_end')} after the whole-process runs, {meta('load_end')} at the end.\n")

rows = [
    ("get", "`lwtoken-helper get`, each against its own daemon (default socket lookup)"),
    ("prompt", "`lwtoken-helper prompt`, each against its own daemon"),
    ("nodaemon", "`lwtoken-helper get`, no daemon (start-up and socket lookup; exit 3)"),
    ("floor", "floor program against each daemon (the daemon's share of `get`)"),
]
keys = runs.get("get." + old, {})
copies = len({k for _, k in keys})
print(f"## Whole process ({len(keys)} interleaved runs of each command, from {copies} copies of each file)\n")
print("Wall: the ratio of the medians, its 95% bootstrap interval, and the middle half of the per-iteration")
print("ratios. CPU: user + system time of the client process alone, which waiting for a busy CPU does not")
print("inflate.\n")
print("| command | old median | new median | wall new/old | 95% interval | per-iteration IQR | CPU new/old | 95% interval |")
print("|---|---|---|---|---|---|---|---|")
for key, label in rows:
    a, b = runs.get(f"{key}.{new}"), runs.get(f"{key}.{old}")
    if not a or not b:
        continue
    w, c = boot(a, b, 0), boot(a, b, 1)
    om = statistics.median(v[0] for v in b.values()) / 1000
    nm = statistics.median(v[0] for v in a.values()) / 1000
    print(f"| {label} | {om:.2f} ms | {nm:.2f} ms | {w[0]:.3f} | {w[1]:.3f}-{w[2]:.3f} | {w[3]:.2f}-{w[4]:.2f} | {c[0]:.3f} | {c[1]:.3f}-{c[2]:.3f} |")
bad = {n: collections.Counter(v[2] for v in r.values()) for n, r in runs.items()}
print("\nExit statuses: " + ", ".join(f"{n} {dict(c)}" for n, c in sorted(bad.items())) + ".\n")

loads = collections.defaultdict(dict)  # (clients, round) -> version -> result
for path in glob.glob(os.path.join(work, "load", "*.json")):
    version, clients, rnd = os.path.basename(path)[:-len(".json")].rsplit(".", 2)
    with open(path) as f:
        loads[(int(clients[1:]), int(rnd))][version] = json.load(f)
if loads:
    rounds = max(r for _, r in loads)
    print(f"## Daemon over its socket ({rounds} rounds, old and new alternating, {meta('load_seconds')} s per row)\n")
    print("loadgen, one connection per request, closed loop. Medians over the rounds; new/old: the median of")
    print("the per-round ratios and their range.\n")
    print("| clients | metric | old | new | new/old | range |")
    print("|---|---|---|---|---|---|")
    metrics = [("rps", "req/s", "%.0f"), ("p50_us", "p50 µs", "%.0f"), ("p99_us", "p99 µs", "%.0f"),
               ("server_cpu_us_per_request", "daemon CPU µs/request", "%.1f")]
    for clients in sorted({c for c, _ in loads}):
        rs = [r for (c, r) in loads if c == clients and len(loads[(c, r)]) == 2]
        for key, label, fmt in metrics:
            o = [loads[(clients, r)][old][key] for r in rs]
            n = [loads[(clients, r)][new][key] for r in rs]
            ratio = sorted(x / y for x, y in zip(n, o) if y)
            print(f"| {clients} | {label} | {fmt % statistics.median(o)} | {fmt % statistics.median(n)} | "
                  f"{statistics.median(ratio):.3f} | {ratio[0]:.3f}-{ratio[-1]:.3f} |")
    print()
