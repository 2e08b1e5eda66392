#!/usr/bin/env python3
"""capacity_plan.py - how many worker cores, how much memory and how many appliances a
fleet of databases needs, from figures measured by the benches (DESIGN.md section 10).

    bench/capacity_plan.py FLEET.json [--svg FILE] [--json FILE]

FLEET.json describes the appliance model and the fleet's groups of databases, and names
the measured profiles: engine_bench --json files (one core's tracked throughput, new
flows a second and memory a flow, for a traffic mix and a rule set) and, optionally, a
rec_bench -j file (the recorder's events a second on the slow-path core). The format is
in bench/README.md; bench/fleet.example.json is an example.

Why a model this simple: a worker's cost is measured per packet over a whole session mix
(handshake, queries, results, close), so a group is bounded either by its traffic or by
its session rate against that profile, whichever needs more cores. The plan prints the
profile's bytes per session next to the group's: where they differ by much, measure a
profile closer to the group (engine_bench --queries, --rows, --mix).

Standard library only: it runs wherever the benches do. Exit status 0 with a plan, 2 on
a bad input (the message names the file and the setting).
"""
import argparse
import json
import math
import os
import sys

GIB = 1 << 30
SCALES = (0.25, 0.5, 1, 2, 4, 8)        # fleet sizes the plot shows, relative to FLEET
EVENTS_PER_STATEMENT = 2                # the recorder writes a command and its result
EVENTS_PER_SESSION = 3                  # open, authentication, close


class PlanError(Exception):
    """A bad input: the message names the file and the setting."""


def _finite(v):
    """<v> as a finite float, or None (not a number, NaN, infinite, too large)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _num(obj, key, where, minimum=0.0, required=True, default=None, integer=False,
         above=False):
    """obj[key] as a finite number >= minimum (> minimum with <above>), or <default>."""
    if key not in obj:
        if required:
            raise PlanError(f"{where}: '{key}' is missing")
        return default
    v = obj[key]
    f = _finite(v)
    if f is None:
        raise PlanError(f"{where}: '{key}' must be a number, not {_show(v)}")
    if integer and f != int(f):
        raise PlanError(f"{where}: '{key}' must be a whole number, not {f:g}")
    if f < minimum or (above and f == minimum):
        rel = ">" if above else ">="
        raise PlanError(f"{where}: '{key}' must be {rel} {minimum:g}, not {f:g}")
    return int(f) if integer else f


def _show(v):
    """<v> for a message: JSON, shortened."""
    t = json.dumps(v)
    return t if len(t) <= 40 else t[:37] + "..."


def _fig(d, dotted, path, minimum=0.0, above=True):
    """The number at <dotted> ("a.b.c") of document <d>, each step an object."""
    cur = d
    keys = dotted.split(".")
    for i, k in enumerate(keys):
        if not isinstance(cur, dict) or k not in cur:
            where = ".".join(keys[:i]) or "the file"
            raise PlanError(f"{path}: engine_bench figure '{dotted}' is missing "
                            f"(no '{k}' in {where}; a file from another bench?)")
        cur = cur[k]
    f = _finite(cur)
    if f is None or f < minimum or (above and f == minimum):
        rel = ">" if above else ">="
        raise PlanError(f"{path}: '{dotted}' must be a number {rel} {minimum:g}, "
                        f"not {_show(cur)}")
    return f


def _load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise PlanError(f"{path}: cannot read the {what}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: the {what} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise PlanError(f"{path}:{e.lineno}: not JSON ({e.msg})") from None


def load_profile(path):
    """One core's measured figures from an engine_bench --json file."""
    d = _load_json(path, "engine_bench profile")
    if not isinstance(d, dict) or "phases" not in d:
        raise PlanError(f"{path}: not an engine_bench --json file (no 'phases')")
    if d.get("ok") is not True:
        raise PlanError(f"{path}: the bench's checks failed in this run "
                        "('ok' is not true): its figures cannot be planned on")
    gbps = _fig(d, "phases.tracked.gbps.median", path)
    nfps = _fig(d, "phases.tracked.new_flows_per_s.median", path)
    mem = _fig(d, "memory.total_bytes_per_flow", path)
    sessions = _fig(d, "trace.sessions", path)
    wire = _fig(d, "trace.wire_bytes", path)
    frames = _fig(d, "trace.frames", path)
    queries = _fig(d, "trace.queries", path, above=False)
    # each port receives one direction: the busier one's share of the wire bytes, from
    # the streams and a 66-byte header a frame (Ethernet, IPv4, TCP with timestamps)
    share = 1.0
    tr = d["trace"]
    if all(_finite(tr.get(k)) is not None for k in ("stream_bytes_c2s", "stream_bytes_s2c",
                                                    "frames_from_clients",
                                                    "frames_from_server")):
        c2s = tr["stream_bytes_c2s"] + 66 * tr["frames_from_clients"]
        s2c = tr["stream_bytes_s2c"] + 66 * tr["frames_from_server"]
        if c2s >= 0 and s2c >= 0 and c2s + s2c > 0:
            share = max(c2s, s2c) / (c2s + s2c)
    params = d.get("params", {})
    rules = d.get("rules", [])
    if not isinstance(params, dict):
        raise PlanError(f"{path}: 'params' must be an object, not {_show(params)}")
    if not isinstance(rules, list):
        raise PlanError(f"{path}: 'rules' must be a list, not {_show(rules)}")
    return {
        "path": path,
        "gbps": gbps,
        "new_flows_per_s": nfps,
        "bytes_per_flow": mem,
        "bytes_per_session": wire / sessions,
        "statements_per_byte": queries / wire,
        "frame_bytes": wire / frames,
        "busier_share": share,
        "mix": str(params.get("mix", "?")),
        "proto": str(params.get("proto", "?")),
        "rules": len(rules),
    }


def load_recorder(path):
    """The recorder's best sustained events a second from a rec_bench -j file."""
    d = _load_json(path, "rec_bench result")
    runs = d.get("runs") if isinstance(d, dict) else None
    if not isinstance(d, dict) or d.get("bench") != "rec_bench" or \
            not isinstance(runs, list) or not runs:
        raise PlanError(f"{path}: not a rec_bench -j file (no 'runs')")
    best = 0.0
    for i, r in enumerate(runs):
        w = f"{path}: runs[{i}]"
        if not isinstance(r, dict):
            raise PlanError(f"{w}: must be an object, not {_show(r)}")
        v = _num(r, "events_per_s", w)
        if _num(r, "events_lost", w, required=False, default=0) > 0:
            raise PlanError(f"{w} lost events: not a sustainable rate")
        best = max(best, v)
    if best <= 0:
        raise PlanError(f"{path}: no run wrote any event")
    return {"path": path, "events_per_s": best}


def load_fleet(path):
    """The fleet file, with its profiles loaded (paths relative to the file)."""
    d = _load_json(path, "fleet file")
    if not isinstance(d, dict):
        raise PlanError(f"{path}: the fleet file must be a JSON object")
    base = os.path.dirname(os.path.abspath(path))
    a = d.get("appliance")
    if not isinstance(a, dict):
        raise PlanError(f"{path}: 'appliance' is missing or not an object")
    w = f"{path}: appliance"
    appliance = {
        "worker_cores": _num(a, "worker_cores", w, 1, integer=True),
        "memory_gib": _num(a, "memory_gib", w, 0, above=True),
        "nic_gbps": _num(a, "nic_gbps", w, 0, above=True),
        "utilization": _num(a, "utilization", w, 0, required=False, default=0.7,
                            above=True),
        "spares": _num(a, "spares", w, 0, required=False, default=0, integer=True),
    }
    if appliance["utilization"] > 1:
        raise PlanError(f"{w}: 'utilization' must be <= 1, not {appliance['utilization']:g}")
    profs = d.get("profiles")
    if not isinstance(profs, dict) or not profs:
        raise PlanError(f"{path}: 'profiles' must name at least one engine_bench file")
    profiles = {}
    for name, p in profs.items():
        if not isinstance(p, str):
            raise PlanError(f"{path}: profiles.{name} must be a file name")
        profiles[name] = load_profile(os.path.join(base, p))
    recorder = None
    if d.get("recorder") is not None:
        if not isinstance(d["recorder"], str):
            raise PlanError(f"{path}: 'recorder' must be a file name")
        recorder = load_recorder(os.path.join(base, d["recorder"]))
    groups = d.get("groups")
    if not isinstance(groups, list) or not groups:
        raise PlanError(f"{path}: 'groups' must list at least one group of databases")
    gl = []
    for i, g in enumerate(groups):
        w = f"{path}: groups[{i}]"
        if not isinstance(g, dict):
            raise PlanError(f"{w}: must be an object")
        name = g.get("name", f"group {i}")
        if not isinstance(g.get("profile"), str) or g["profile"] not in profiles:
            raise PlanError(f"{w}: 'profile' {json.dumps(g.get('profile'))} is not one of "
                            f"'profiles' ({', '.join(sorted(profiles))})")
        gl.append({
            "name": str(name),
            "profile": g["profile"],
            "databases": _num(g, "databases", w, 1, integer=True),
            "gbps_per_db": _num(g, "gbps_per_db", w),
            "sessions_per_s_per_db": _num(g, "sessions_per_s_per_db", w),
            "open_sessions_per_db": _num(g, "open_sessions_per_db", w),
            "statements_per_s_per_db": _num(g, "statements_per_s_per_db", w,
                                            required=False),
        })
    return {"path": path, "appliance": appliance, "profiles": profiles,
            "recorder": recorder, "groups": gl}


def plan_group(g, p, scale=1.0):
    """Cores, memory and events of group <g> on profile <p>, the fleet scaled by <scale>."""
    dbs = g["databases"] * scale
    gbps = dbs * g["gbps_per_db"]
    sps = dbs * g["sessions_per_s_per_db"]
    if g["statements_per_s_per_db"] is not None:
        stps = dbs * g["statements_per_s_per_db"]
    else:  # as many statements a byte as the profile's sessions carry
        stps = gbps * 1e9 / 8 * p["statements_per_byte"]
    by_traffic = gbps / p["gbps"]
    by_sessions = sps / p["new_flows_per_s"]
    return {
        "name": g["name"],
        "gbps": gbps,
        "port_gbps": gbps * p["busier_share"],      # what the busier port receives
        "mpps": gbps * 1e9 / 8 / p["frame_bytes"] / 1e6,
        "sessions_per_s": sps,
        "open_sessions": dbs * g["open_sessions_per_db"],
        "cores_by_traffic": by_traffic,
        "cores_by_sessions": by_sessions,
        "cores": max(by_traffic, by_sessions),
        "bound": "traffic" if by_traffic >= by_sessions else "sessions",
        "memory_bytes": dbs * g["open_sessions_per_db"] * p["bytes_per_flow"],
        "events_per_s": EVENTS_PER_STATEMENT * stps + EVENTS_PER_SESSION * sps,
        "bytes_per_session": gbps * 1e9 / 8 / sps if sps > 0 else None,
        "profile_bytes_per_session": p["bytes_per_session"],
    }


def plan(fleet, scale=1.0):
    """The whole plan: per group, then the appliances, each bound kept at utilization."""
    a = fleet["appliance"]
    u = a["utilization"]
    groups = [plan_group(g, fleet["profiles"][g["profile"]], scale) for g in fleet["groups"]]
    tot = {k: sum(g[k] for g in groups)
           for k in ("gbps", "mpps", "sessions_per_s", "open_sessions", "cores",
                     "memory_bytes", "events_per_s", "port_gbps")}
    need = {
        "worker cores": tot["cores"] / (a["worker_cores"] * u),
        "memory": tot["memory_bytes"] / (a["memory_gib"] * GIB * u),
        "NIC": tot["port_gbps"] / (a["nic_gbps"] * u),
    }
    if fleet["recorder"]:
        need["recorder"] = tot["events_per_s"] / (fleet["recorder"]["events_per_s"] * u)
    for k, v in list(need.items()) + list(tot.items()):
        if not math.isfinite(v):
            raise PlanError(f"{fleet['path']}: the plan's {k} is out of range "
                            "(figures too large)")
    bound = max(need, key=lambda k: need[k])
    working = max(1, math.ceil(need[bound] - 1e-9))
    # what the recording costs: the count without the slow path's write rate
    others = [v for k, v in need.items() if k != "recorder"]
    unrecorded = max(1, math.ceil(max(others) - 1e-9)) + a["spares"]
    return {
        "scale": scale,
        "groups": groups,
        "total": tot,
        "appliances_by": need,
        "bound": bound,
        "appliances": working + a["spares"],
        "working_appliances": working,
        "appliances_without_recorder": unrecorded,
        # spread over the working appliances, at the planned utilization
        "workers_per_appliance": min(a["worker_cores"],
                                     max(1, math.ceil(tot["cores"] / u / working - 1e-9))),
        "memory_gib_per_appliance": tot["memory_bytes"] / u / working / GIB,
    }


def _rel(path):
    """<path> as the user would type it from here."""
    rel = os.path.relpath(path)
    return path if rel.startswith("../..") else rel


def _si(v, unit=""):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g} {suf}{unit}".rstrip()
    return f"{v:.3g} {unit}".rstrip()


def render_text(fleet, pl, scaling):
    """The plan as the readable table the command prints."""
    a = fleet["appliance"]
    out = []
    out.append(f"fleet {fleet['path']}: {len(fleet['groups'])} groups, "
               f"{sum(g['databases'] for g in fleet['groups'])} databases; appliance: "
               f"{a['worker_cores']} worker cores, {a['memory_gib']:g} GiB, "
               f"{a['nic_gbps']:g} Gbit/s NIC, planned at {a['utilization']:.0%} load")
    out.append("profiles (one worker core, measured):")
    for name, p in fleet["profiles"].items():
        out.append(f"  {name:<12} {p['gbps']:6.2f} Gbit/s  {_si(p['new_flows_per_s']):>7} "
                   f"new sessions/s  {_si(p['bytes_per_flow'], 'B'):>8} a session  "
                   f"({p['proto']} decoder, {p['mix']} mix, {p['rules']} rule files; "
                   f"{_si(p['bytes_per_session'], 'B')} a session)  {_rel(p['path'])}")
    if fleet["recorder"]:
        r = fleet["recorder"]
        out.append(f"  recorder     {_si(r['events_per_s'])} events/s  {_rel(r['path'])}")
    out.append("")
    out.append(f"{'group':<16}{'Gbit/s':>9}{'Mpps':>8}{'sess/s':>9}{'open':>9}"
               f"{'cores':>8}  {'bound':<9}{'memory':>10}{'events/s':>10}")
    width = max([g["cores"] for g in pl["groups"]] + [1e-9])
    for g in pl["groups"]:
        bar = "#" * max(1 if g["cores"] > 0 else 0, round(20 * g["cores"] / width))
        out.append(f"{g['name'][:15]:<16}{g['gbps']:9.2f}{g['mpps']:8.2f}"
                   f"{_si(g['sessions_per_s']):>9}{_si(g['open_sessions']):>9}"
                   f"{g['cores']:8.2f}  {g['bound']:<9}{_si(g['memory_bytes'], 'B'):>10}"
                   f"{_si(g['events_per_s']):>10}  {bar}")
        ratio = (g["bytes_per_session"] or 0) / g["profile_bytes_per_session"]
        if g["bytes_per_session"] is not None and (ratio > 4 or ratio < 0.25):
            out.append(f"{'':16}note: {_si(g['bytes_per_session'], 'B')} a session against "
                       f"the profile's {_si(g['profile_bytes_per_session'], 'B')}: measure "
                       "a closer profile (engine_bench --queries/--rows/--mix)")
    t = pl["total"]
    out.append(f"{'total':<16}{t['gbps']:9.2f}{t['mpps']:8.2f}{_si(t['sessions_per_s']):>9}"
               f"{_si(t['open_sessions']):>9}{t['cores']:8.2f}  {'':<9}"
               f"{_si(t['memory_bytes'], 'B'):>10}{_si(t['events_per_s']):>10}")
    out.append("")
    out.append("appliances each resource needs (at the planned load): " +
               ", ".join(f"{k} {v:.2f}" for k, v in pl["appliances_by"].items()))
    out.append(f"=> {pl['appliances']} appliances ({pl['working_appliances']} working"
               f"{', ' + str(a['spares']) + ' spare' if a['spares'] else ''}; bound by "
               f"{pl['bound']}), each with {pl['workers_per_appliance']} worker cores + 1 "
               f"slow-path core and {pl['memory_gib_per_appliance']:.2f} GiB for sessions")
    if not fleet["recorder"]:
        out.append("   (no recorder figure given: the slow path's write rate is not planned)")
    elif pl["bound"] == "recorder":
        out.append(f"   the recorder's write rate decides: {pl['appliances_without_recorder']} "
                   "appliances would do without recording (a faster disk, larger batches "
                   "(recorder.batch_ms) or fewer recorded resources lower the count)")
    out.append("as the fleet grows: " + ", ".join(
        f"x{s:g}: {p['appliances']}" for s, p in scaling))
    return "\n".join(out)


def render_svg(fleet, pl, scaling):
    """Two panels: worker cores a group needs (by traffic and by sessions), and the
    appliances the fleet needs as it grows."""
    W, H, pad = 760, 300 + 26 * len(pl["groups"]), 16
    def esc(t):
        # XML 1.0 forbids most control characters even escaped: they are left out
        t = "".join(c for c in t if c in "\t\n" or (" " <= c and c not in "\ufffe\uffff"))
        return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    el = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
          f'font-family="sans-serif" font-size="12">',
          f'<rect width="{W}" height="{H}" fill="white"/>',
          f'<text x="{pad}" y="20" font-size="14" font-weight="bold">'
          f'{esc(os.path.basename(fleet["path"]))}: {pl["appliances"]} appliances '
          f'(bound by {esc(pl["bound"])})</text>',
          f'<text x="{pad}" y="44">worker cores a group needs '
          f'(blue: by traffic, orange: by session rate; the larger counts)</text>']
    top, left, bw = 56, 150, W - 150 - 80
    mx = max([max(g["cores_by_traffic"], g["cores_by_sessions"]) for g in pl["groups"]] +
             [1e-9])
    for i, g in enumerate(pl["groups"]):
        y = top + 26 * i
        el.append(f'<text x="{pad}" y="{y + 14}">{esc(g["name"][:20])}</text>')
        for k, (key, col) in enumerate((("cores_by_traffic", "#4477aa"),
                                        ("cores_by_sessions", "#ee7733"))):
            w = bw * g[key] / mx
            el.append(f'<rect x="{left}" y="{y + 10 * k}" width="{w:.1f}" height="9" '
                      f'fill="{col}"/>')
        el.append(f'<text x="{left + bw * g["cores"] / mx + 6:.1f}" y="{y + 14}">'
                  f'{g["cores"]:.2f}</text>')
    # panel 2: appliances against fleet scale (log2 x axis)
    y0 = top + 26 * len(pl["groups"]) + 30
    ph = H - y0 - 40
    el.append(f'<text x="{pad}" y="{y0}">appliances as the fleet grows '
              f'(x1 = the fleet file; {fleet["appliance"]["spares"]} spare included)</text>')
    ymax = max(p["appliances"] for _, p in scaling)
    xs = [math.log2(s) for s, _ in scaling]
    x_lo, x_hi = min(xs), max(xs)
    gx = (lambda s: left + bw * (math.log2(s) - x_lo) / (x_hi - x_lo or 1))
    gy = (lambda v: y0 + 14 + ph - ph * v / ymax)
    el.append(f'<line x1="{left}" y1="{gy(0):.1f}" x2="{left + bw}" y2="{gy(0):.1f}" '
              f'stroke="black"/>')
    if fleet["recorder"]:  # dashed: the same fleet without recording
        pts = " ".join(f"{gx(s):.1f},{gy(p['appliances_without_recorder']):.1f}"
                       for s, p in scaling)
        el.append(f'<polyline points="{pts}" fill="none" stroke="#999999" '
                  f'stroke-width="1.5" stroke-dasharray="5,4"/>')
        el.append(f'<text x="{left + 8}" y="{y0 + 30}" fill="#777777">dashed: without '
                  f'recording (x1: {pl["appliances_without_recorder"]})</text>')
    pts = " ".join(f"{gx(s):.1f},{gy(p['appliances']):.1f}" for s, p in scaling)
    el.append(f'<polyline points="{pts}" fill="none" stroke="#4477aa" stroke-width="2"/>')
    for s, p in scaling:
        el.append(f'<circle cx="{gx(s):.1f}" cy="{gy(p["appliances"]):.1f}" r="3" '
                  f'fill="{"#ee7733" if s == 1 else "#4477aa"}"/>')
        el.append(f'<text x="{gx(s) - 8:.1f}" y="{gy(0) + 16:.1f}">x{s:g}</text>')
        el.append(f'<text x="{gx(s) - 4:.1f}" y="{gy(p["appliances"]) - 7:.1f}">'
                  f'{p["appliances"]}</text>')
    el.append("</svg>")
    return "\n".join(el) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("fleet", help="the fleet file (JSON; see bench/README.md)")
    ap.add_argument("--svg", help="write the plot to this SVG file")
    ap.add_argument("--json", help="write the plan to this JSON file")
    args = ap.parse_args(argv)
    try:
        fleet = load_fleet(args.fleet)
        pl = plan(fleet)
        scaling = [(s, plan(fleet, s)) for s in SCALES]
    except PlanError as e:
        print(f"capacity_plan: {e}", file=sys.stderr)
        return 2
    print(render_text(fleet, pl, scaling))
    try:
        if args.svg:
            with open(args.svg, "w", encoding="utf-8") as f:
                f.write(render_svg(fleet, pl, scaling))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"plan": pl, "scaling": [{"scale": s, "appliances": p["appliances"]}
                                                   for s, p in scaling]}, f, indent=1)
    except OSError as e:
        print(f"capacity_plan: {e.filename}: cannot write: {e.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
