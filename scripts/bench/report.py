"""Turns the raw results of scripts/bench/run.sh into the Markdown report.

usage: report.py HYPERFINE_DIR RESULTS_DIR > report.md

HYPERFINE_DIR holds NAME.ROUND.json files from hyperfine --export-json; every sample of
every round counts towards NAME's median. RESULTS_DIR holds one scalar per file, and the
loadgen JSON outputs (cold.json, load.N.json, soak.json).
"""

import glob
import json
import os
import statistics
import sys

hf_dir, res_dir = sys.argv[1:3]


def scalar(name, default=""):
    try:
        with open(os.path.join(res_dir, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def load(name):
    try:
        with open(os.path.join(res_dir, name)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def samples(name):
    times = []
    for path in sorted(glob.glob(os.path.join(hf_dir, name + ".*.json"))):
        with open(path) as f:
            for r in json.load(f)["results"]:
                times.extend(r["times"])
    return times


def round_ratio(a, b):
    """Ratios of a's to b's median, round by round: (lowest, highest)."""
    rs = []
    for path in glob.glob(os.path.join(hf_dir, a + ".*.json")):
        r = path[len(os.path.join(hf_dir, a + ".")):-len(".json")]
        other = os.path.join(hf_dir, "%s.%s.json" % (b, r))
        if os.path.exists(other):
            ta = [t for x in json.load(open(path))["results"] for t in x["times"]]
            tb = [t for x in json.load(open(other))["results"] for t in x["times"]]
            rs.append(statistics.median(ta) / statistics.median(tb))
    return (min(rs), max(rs)) if rs else (0, 0)


def ms(x):
    return "%.2f ms" % (x * 1000)


def mb(kb):
    return "%.1f MB" % (int(kb) / 1024)


def size(b):
    return "%.2f MB" % (int(b) / 1e6)


def ok(cond):
    return "met" if cond else "**missed**"


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


has_prompt = scalar("has_prompt") == "1"
med = {}
rows = [
    ("hello", "Go hello world (process start-up, for context)"),
    ("floor", "**floor**: minimal Go client (dial, one request, print the reply)"),
    ("get", "**`lwtoken-helper get`**, warm daemon"),
    ("ssh-add", "`ssh-add -l`, ssh-agent holding one key"),
    ("seed", "seed approach: Python, PyJWT + requests, fresh JWT posted every call"),
    ("get-nodaemon", "`lwtoken-helper get`, no daemon (error path, exit 3)"),
]
if has_prompt:
    rows[3:3] = [
        ("prompt", "`lwtoken-helper prompt`, warm daemon"),
        ("prompt-nodaemon", "`lwtoken-helper prompt`, no daemon"),
    ]
for name, _ in rows:
    t = samples(name)
    if t:
        med[name] = statistics.median(t)

out = []
p = out.append
p("# lwtoken-helper benchmarks")
p("")
p("%s on %s: %s CPUs (%s), %s, %s." % (scalar("machine_date"), scalar("machine_os"), scalar("machine_nproc"),
                                     scalar("machine_cpu"), scalar("machine_kernel"), scalar("machine_go")))
p("Tools: hyperfine %s, %s, %s." % (scalar("tool_hyperfine"), scalar("tool_ssh"), scalar("tool_python")))
p("Load average (1, 5, 15 min) at the start: %s; at the end: %s." % (scalar("loadavg_start"), scalar("loadavg_end")))
if float(scalar("loadavg_start", "0").split()[0] or 0) > 0.5:
    p("")
    p("**Other work was running on this machine during the run (load average above 0.5 at the start): "
      "absolute numbers are pessimistic and noisy; ratios within the run are fairer.**")
if scalar("quick") == "1":
    p("")
    p("**--quick run: short phases, numbers not representative.**")
p("")

# ---- targets ----
floor = med.get("floor")
get = med.get("get")
loads = {c: load("load.%d.json" % c) for c in (1, 10, 100, 1000)}
cold = load("cold.json")
l100 = loads[100]
rss_load, rss_total = int(scalar("rss_after_load", "0")), int(scalar("rss_after_total", "0"))
idle_sw, idle_s = int(scalar("idle_ctxsw", "0")), int(scalar("idle_seconds", "10"))
p("## Targets (issue 7)")
p("")
p("| target | measured | |")
p("|---|---|---|")
if floor and get:
    lo, hi = round_ratio("get", "floor")
    p("| `get` within 1.15x of the floor | %.2fx (%s vs %s; rounds %.2f-%.2fx) | %s |" % (get / floor, ms(get), ms(floor), lo, hi, ok(get <= 1.15 * floor)))
    p("| `get` faster than `ssh-add -l` | %.2fx of it (%s vs %s) | %s |" % (get / med["ssh-add"], ms(get), ms(med["ssh-add"]), ok(get < med["ssh-add"])))
    p("| `get` at least 25x faster than the seed approach | %.1fx (%s vs %s) | %s |" % (med["seed"] / get, ms(get), ms(med["seed"]), ok(med["seed"] >= 25 * get)))
if has_prompt:
    p("| `prompt` near the floor, also with no daemon | %.2fx / %.2fx of the floor | %s |" % (
        med["prompt"] / floor, med["prompt-nodaemon"] / floor, ok(max(med["prompt"], med["prompt-nodaemon"]) <= 1.15 * floor)))
else:
    p("| `prompt` near the floor, also with no daemon | `lwtoken-helper prompt`: not built yet | n/a |")
open20 = load("open.20000.json")
if l100:
    p("| at least 20,000 req/s at 100 clients | %s req/s (closed loop) | %s |" % (format(round(l100["rps"]), ","), ok(l100["rps"] >= 20000)))
if open20:
    sustained = open20["rps"] >= 0.95 * 20000
    p("| p99 under 2 ms at 100 clients, 20,000 req/s offered | p99 %.2f ms, %s req/s served | %s |" % (
        open20["p99_us"] / 1000, format(round(open20["rps"]), ","), ok(sustained and open20["p99_us"] < 2000)))
if cold:
    up = int(scalar("upstream_cold", "-1"))
    p("| one upstream token request for a cold herd of %d clients | %d | %s |" % (cold["clients"], up, ok(up == 1 and cold["errors"] == 0)))
p("| idle daemon RSS under 15 MB | %s | %s |" % (mb(scalar("rss_idle_start")), ok(int(scalar("rss_idle_start")) < 15 * 1024)))
p("| no RSS growth from %s to %s requests | %s -> %s | %s |" % (
    format(int(scalar("requests_after_load")), ","), format(int(scalar("requests_total")), ","), mb(rss_load), mb(rss_total),
    ok(rss_total <= rss_load * 1.10 + 1024)))
busy_s = int(scalar("idle_busy_seconds", "0"))
p("| no polling: idle context switches (all threads) | %d in %d s, in %d of the %d seconds | %s |" % (
    idle_sw, idle_s, busy_s, idle_s, ok(busy_s <= 2)))
p("| thin client under 5 MB stripped | %s | %s |" % (size(scalar("size_lwtoken-helper")), ok(int(scalar("size_lwtoken-helper")) < 5e6)))
p("")

# ---- whole process ----
p("## Whole process (hyperfine, %s rounds x %s runs, seed %s runs per round; median of all samples)" % (
    scalar("rounds"), scalar("runs"), scalar("seed_runs")))
p("")
p("| command | median | p90 | vs floor | vs `get` |")
p("|---|---|---|---|---|")
for name, label in rows:
    if name not in med:
        continue
    t = samples(name)
    p("| %s | %s | %s | %.2fx | %.2fx |" % (label, ms(med[name]), ms(quantile(t, 0.9)), med[name] / floor, med[name] / get))
if not has_prompt:
    p("| `lwtoken-helper prompt` | not built yet | | | |")
p("")

# ---- load ----
p("## Daemon over its socket (%s s per row)" % scalar("seconds_per_level"))
p("")
p("loadgen: each request is a new connection, like `get`: dial, GET /v1/token, read the reply, hang up. "
  "Closed loop: every client asks again as soon as it is answered (the most the daemon serves while "
  "sharing the CPUs with its clients; latency there is mostly queueing, about clients / throughput). "
  "Open loop: the clients together send a fixed rate, and latency counts from when each request was due. "
  "CPU columns: microseconds of CPU per request, of the server and of the load generator.")
p("")
p("| run | requests | req/s | p50 | p90 | p99 | max | server CPU/req | loadgen CPU/req | upstream token requests | errors |")
p("|---|---|---|---|---|---|---|---|---|---|---|")


def lrow(label, r, up):
    p("| %s | %s | %s | %s | %s | %s | %s | %.0f µs | %.0f µs | %s | %d |" % (
        label, format(r["requests"], ","), format(round(r["rps"]), ","), lat(r["p50_us"]), lat(r["p90_us"]),
        lat(r["p99_us"]), lat(r["max_us"]), r.get("server_cpu_us_per_request", 0), r["loadgen_cpu_us_per_request"],
        up, r["errors"]))


def lat(us):
    return "%.0f µs" % us if us < 1000 else "%.1f ms" % (us / 1000)


if cold:
    lrow("cold daemon: %d clients at once, 1 request each" % cold["clients"], cold, scalar("upstream_cold"))
for c in (1, 10, 100, 1000):
    if loads[c]:
        lrow("closed loop, %d client%s" % (c, "s" if c > 1 else ""), loads[c], scalar("upstream_load.%d" % c))
m = load("min.100.json")
if m:
    lrow("*minserver* (floor for a Go server), closed loop, 100 clients", m, "n/a")
for path in sorted(glob.glob(os.path.join(res_dir, "open.*.json")), key=lambda x: int(x.split(".")[-2])):
    rate = int(path.split(".")[-2])
    lrow("open loop, 100 clients, %s req/s offered" % format(rate, ","), load(os.path.basename(path)), scalar("upstream_open.%d" % rate))
soak = load("soak.json")
if soak:
    lrow("closed loop, 100 clients, soak to %s requests in all" % format(int(scalar("requests_total")), ","), soak, "")
p("")
p("Upstream token requests over the whole run: %s." % scalar("upstream_total"))
p("")

# ---- footprint ----
p("## Footprint")
p("")
p("| what | value |")
p("|---|---|")
p("| daemon RSS, idle after start | %s (%s threads) |" % (mb(scalar("rss_idle_start")), scalar("threads_start")))
p("| daemon RSS after %s requests | %s |" % (format(int(scalar("requests_after_load")), ","), mb(rss_load)))
p("| daemon RSS after %s requests | %s |" % (format(int(scalar("requests_total")), ","), mb(rss_total)))
p("| daemon RSS after %d more idle seconds | %s (%s threads) |" % (idle_s + 2, mb(scalar("rss_idle_end")), scalar("threads_end")))
p("| daemon context switches in %d idle seconds, all threads | %d, in %d of the seconds |" % (idle_s, idle_sw, busy_s))
p("| daemon audit log lines written (one per served token) | %s |" % format(int(scalar("log_lines", "0")), ","))
for b, label in (("lwtoken-helper", "thin client"), ("lwtoken-helperd", "daemon"), ("floor", "floor program"), ("hello", "Go hello world")):
    p("| binary size, %s (`-trimpath -ldflags='-s -w'`) | %s |" % (label, size(scalar("size_" + b))))
p("")
if has_prompt:
    p("`prompt` printed: with a daemon `%s`; without one `%s`." % (scalar("prompt_out"), scalar("prompt_nodaemon_out")))
    p("")
print("\n".join(out))
