#!/usr/bin/env python3
"""test_capacity_plan.py - bench/capacity_plan.py: the plan's arithmetic on profiles with
known figures, the bound that decides, the scaling, the outputs, and a clear error
(file and setting) for each kind of bad input.

With TG_ENGINE_BENCH set to an engine_bench binary, it also plans on a profile that the
bench has just written, so that a change of the bench's JSON breaks this test.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

SRC = os.environ.get("TG_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(SRC, "bench"))
import capacity_plan as cp  # noqa: E402


def profile(gbps=10.0, nfps=50000.0, bytes_per_flow=6000, sessions=1000,
            wire_bytes=100_000_000, frames=200_000, queries=20000, ok=True):
    """An engine_bench --json document with the figures the planner reads."""
    return {
        "phases": {"tracked": {"gbps": {"median": gbps},
                               "new_flows_per_s": {"median": nfps}}},
        "memory": {"total_bytes_per_flow": bytes_per_flow},
        "trace": {"sessions": sessions, "wire_bytes": wire_bytes, "frames": frames,
                  "queries": queries},
        "params": {"mix": "standard", "proto": "pg"},
        "rules": ["a.conf"],
        "ok": ok,
    }


class PlanTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.d = self.dir.name
        self.write("p.json", profile())
        self.fleet = {
            "appliance": {"worker_cores": 4, "memory_gib": 8, "nic_gbps": 25,
                          "utilization": 0.5},
            "profiles": {"oltp": "p.json"},
            "groups": [
                # 100 x 0.1 Gbit/s = 10 Gbit/s: 1 core by traffic; 100 x 10 sessions/s =
                # 1000/s: 0.02 core by sessions
                {"name": "orders", "profile": "oltp", "databases": 100,
                 "gbps_per_db": 0.1, "sessions_per_s_per_db": 10,
                 "open_sessions_per_db": 50},
                # no traffic, 100,000 sessions/s: 2 cores by sessions
                {"name": "pooler", "profile": "oltp", "databases": 10,
                 "gbps_per_db": 0, "sessions_per_s_per_db": 10000,
                 "open_sessions_per_db": 10},
            ],
        }

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, obj):
        path = os.path.join(self.d, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(obj if isinstance(obj, str) else json.dumps(obj))
        return path

    def load(self):
        return cp.load_fleet(self.write("fleet.json", self.fleet))

    def test_group_arithmetic(self):
        pl = cp.plan(self.load())
        g0, g1 = pl["groups"]
        self.assertAlmostEqual(g0["gbps"], 10.0)
        self.assertAlmostEqual(g0["cores_by_traffic"], 1.0)
        self.assertAlmostEqual(g0["cores_by_sessions"], 0.02)
        self.assertEqual(g0["bound"], "traffic")
        self.assertAlmostEqual(g0["cores"], 1.0)
        # frames of 500 bytes: 10 Gbit/s is 2.5 Mpps
        self.assertAlmostEqual(g0["mpps"], 2.5)
        self.assertAlmostEqual(g0["memory_bytes"], 100 * 50 * 6000)
        # statements from the profile: 20000 queries in 1e8 bytes; 1.25e9 bytes/s
        self.assertAlmostEqual(g0["events_per_s"], 2 * 1.25e9 * 2e-4 + 3 * 1000)
        self.assertEqual(g1["bound"], "sessions")
        self.assertAlmostEqual(g1["cores"], 2.0)

    def test_appliances_bound_by_cores(self):
        pl = cp.plan(self.load())
        # 3 cores at 50 % of 4 cores an appliance: 1.5 -> 2 appliances
        self.assertAlmostEqual(pl["appliances_by"]["worker cores"], 1.5)
        self.assertEqual(pl["bound"], "worker cores")
        self.assertEqual(pl["appliances"], 2)
        # 3 cores at 50 % over 2 appliances: 3 workers each
        self.assertEqual(pl["workers_per_appliance"], 3)

    def test_memory_bound_and_spares(self):
        self.fleet["groups"][0]["open_sessions_per_db"] = 100000   # 10M sessions, 60 GB
        self.fleet["appliance"]["spares"] = 1
        pl = cp.plan(self.load())
        self.assertEqual(pl["bound"], "memory")
        need = (100 * 100000 * 6000 + 10 * 10 * 6000) / (8 * (1 << 30) * 0.5)
        self.assertAlmostEqual(pl["appliances_by"]["memory"], need)
        self.assertEqual(pl["working_appliances"], 14)   # ceil(13.97)
        self.assertEqual(pl["appliances"], 15)

    def test_nic_and_recorder_bounds(self):
        self.fleet["appliance"]["nic_gbps"] = 1             # 10 Gbit/s at 50 % of 1
        pl = cp.plan(self.load())
        self.assertEqual(pl["bound"], "NIC")
        self.assertEqual(pl["appliances"], 20)
        self.fleet["appliance"]["nic_gbps"] = 100
        self.write("rec.json", {"bench": "rec_bench", "runs": [
            {"events_per_s": 1000.0, "events_lost": 0},
            {"events_per_s": 2000.0, "events_lost": 0}]})
        self.fleet["recorder"] = "rec.json"
        pl = cp.plan(self.load())
        self.assertEqual(pl["bound"], "recorder")        # the best run: 2000 events/s
        ev = pl["total"]["events_per_s"]
        self.assertAlmostEqual(pl["appliances_by"]["recorder"], ev / 1000.0)
        self.assertEqual(pl["appliances"], 803)
        self.assertEqual(pl["appliances_without_recorder"], 2)   # by worker cores
        svg = cp.render_svg(self.load(), pl, [(s, cp.plan(self.load(), s)) for s in (1, 2)])
        self.assertEqual(svg.count("<polyline"), 2)          # with and without recording
        self.assertIn("2 appliances would do without recording",
                      cp.render_text(self.load(), pl, []))

    def test_statements_given(self):
        self.fleet["groups"][0]["statements_per_s_per_db"] = 7
        pl = cp.plan(self.load())
        self.assertAlmostEqual(pl["groups"][0]["events_per_s"], 2 * 700 + 3 * 1000)

    def test_scaling_grows(self):
        fleet = self.load()
        counts = [cp.plan(fleet, s)["appliances"] for s in cp.SCALES]
        self.assertEqual(counts, sorted(counts))
        self.assertEqual(cp.plan(fleet, 8)["appliances"], 12)   # 24 cores / 2 a box
        self.assertEqual(cp.plan(fleet, 0.25)["appliances"], 1)

    def test_main_writes_outputs(self):
        path = self.write("fleet.json", self.fleet)
        svg, out = os.path.join(self.d, "plan.svg"), os.path.join(self.d, "plan.json")
        r = subprocess.run([sys.executable, os.path.join(SRC, "bench", "capacity_plan.py"),
                            path, "--svg", svg, "--json", out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("=> 2 appliances", r.stdout)
        self.assertIn("orders", r.stdout)
        with open(svg, encoding="utf-8") as f:
            s = f.read()
        root = ET.fromstring(s)                        # well-formed, and an SVG
        self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
        self.assertEqual(len(root.findall("{http://www.w3.org/2000/svg}polyline")), 1)
        self.assertIn("pooler", s)
        with open(out, encoding="utf-8") as f:
            j = json.load(f)
        self.assertEqual(j["plan"]["appliances"], 2)
        self.assertEqual([x["scale"] for x in j["scaling"]], list(cp.SCALES))

    def test_session_size_note(self):
        # the profile's sessions carry 100 kB; a note for a group over 4x larger or
        # under 4x smaller, none within, none for a group without traffic (pooler)
        self.fleet["groups"] = [
            {"name": "big", "profile": "oltp", "databases": 1, "gbps_per_db": 0.008,
             "sessions_per_s_per_db": 1, "open_sessions_per_db": 1},     # 1 MB
            {"name": "small", "profile": "oltp", "databases": 1, "gbps_per_db": 0.008,
             "sessions_per_s_per_db": 100, "open_sessions_per_db": 1},   # 10 kB
            {"name": "alike", "profile": "oltp", "databases": 1, "gbps_per_db": 0.008,
             "sessions_per_s_per_db": 10, "open_sessions_per_db": 1},    # 100 kB
            {"name": "pooler", "profile": "oltp", "databases": 1, "gbps_per_db": 0,
             "sessions_per_s_per_db": 10, "open_sessions_per_db": 1}]
        lines = cp.render_text(self.load(), cp.plan(self.load()), []).split("\n")
        noted = [lines[i - 1].split()[0] for i, l in enumerate(lines)
                 if "measure a closer profile" in l]
        self.assertEqual(noted, ["big", "small", "pooler"])

    def bad(self, fragment):
        with self.assertRaises(cp.PlanError) as c:
            self.load()
        self.assertIn(fragment, str(c.exception))
        return str(c.exception)

    def test_bad_inputs(self):
        g = self.fleet["groups"][0]
        g["databases"] = 0
        msg = self.bad("groups[0]: 'databases' must be >= 1, not 0")
        self.assertIn("fleet.json", msg)
        g["databases"] = 2.5
        self.bad("'databases' must be a whole number")
        g["databases"] = 100
        g["gbps_per_db"] = "fast"
        self.bad("groups[0]: 'gbps_per_db' must be a number, not \"fast\"")
        g["gbps_per_db"] = 0.1
        del g["open_sessions_per_db"]
        self.bad("groups[0]: 'open_sessions_per_db' is missing")
        g["open_sessions_per_db"] = 1
        g["profile"] = "olap"
        self.bad("'profile' \"olap\" is not one of 'profiles' (oltp)")
        g["profile"] = "oltp"
        self.fleet["appliance"]["utilization"] = 1.5
        self.bad("appliance: 'utilization' must be <= 1")
        self.fleet["appliance"]["utilization"] = 0
        self.bad("appliance: 'utilization' must be > 0")
        self.fleet["appliance"]["utilization"] = 0.5
        self.fleet["groups"] = []
        self.bad("'groups' must list at least one group")

    def test_bad_profiles(self):
        self.write("p.json", profile(ok=False))
        self.bad("the bench's checks failed")
        p = profile()
        del p["memory"]
        self.write("p.json", p)
        self.bad("'memory.total_bytes_per_flow' is missing (no 'memory' in the file")
        self.write("p.json", profile(gbps=0))
        self.bad("'phases.tracked.gbps.median' must be a number > 0, not 0")
        self.write("p.json", "{ not json")
        self.bad("p.json:1: not JSON")
        self.fleet["profiles"]["oltp"] = "missing.json"
        self.bad("missing.json: cannot read the engine_bench profile")
        self.fleet["profiles"]["oltp"] = "p.json"
        self.write("p.json", profile())
        self.write("rec.json", {"bench": "rec_bench", "runs": [
            {"events_per_s": 1000.0, "events_lost": 3}]})
        self.fleet["recorder"] = "rec.json"
        self.bad("runs[0] lost events")

    def cli(self):
        path = self.write("fleet.json", self.fleet)
        return subprocess.run([sys.executable, os.path.join(SRC, "bench", "capacity_plan.py"),
                               path, "--json", os.path.join(self.d, "out.json")],
                              capture_output=True, text=True, timeout=60)

    def test_bad_inputs_never_a_traceback(self):
        """Every kind of bad input: exit 2 and a message naming file and setting."""
        def prof(**kw):
            def f(t):
                p = profile()
                for k, v in kw.items():
                    cur = p
                    keys = k.split("__")
                    for x in keys[:-1]:
                        cur = cur[x]
                    cur[keys[-1]] = v
                t.write("p.json", p)
            return f

        def fleet(fn):
            def f(t):
                fn(t.fleet)
            return f

        def rec(doc):
            def f(t):
                t.write("rec.json", doc)
                t.fleet["recorder"] = "rec.json"
            return f

        def raw(name, data):
            def f(t):
                with open(os.path.join(t.d, name), "wb") as fh:
                    fh.write(data)
            return f

        def grp(**kw):
            return fleet(lambda fl: fl["groups"][0].update(kw))

        cases = [
            (rec([1]), "rec.json: not a rec_bench -j file"),
            (rec({"bench": "rec_bench", "runs": [1]}), "runs[0]: must be an object, not 1"),
            (rec({"bench": "rec_bench", "runs": [None]}), "runs[0]: must be an object"),
            (rec({"bench": "rec_bench", "runs": [{"events_per_s": 5, "events_lost": "0"}]}),
             "runs[0]: 'events_lost' must be a number"),
            (grp(profile=["oltp"]), "groups[0]: 'profile' [\"oltp\"] is not one of"),
            (grp(profile={}), "groups[0]: 'profile' {} is not one of"),
            (raw("p.json", b"\xff\xfe{"), "p.json: the engine_bench profile is not UTF-8"),
            (prof(trace__queries="many"), "'trace.queries' must be a number >= 0"),
            (prof(trace__queries=None), "'trace.queries' must be a number >= 0"),
            (prof(trace__queries=-5), "'trace.queries' must be a number >= 0, not -5"),
            (raw("p.json", json.dumps(profile()).replace('"queries": 20000',
                                                         '"queries": NaN').encode()),
             "'trace.queries' must be a number >= 0, not NaN"),
            (prof(params=[1]), "'params' must be an object"),
            (prof(rules=None), "'rules' must be a list"),
            (prof(rules=3), "'rules' must be a list"),
            (raw("p.json", json.dumps(profile()).replace(
                '"total_bytes_per_flow": 6000', '"total_bytes_per_flow": Infinity').encode()),
             "'memory.total_bytes_per_flow' must be a number > 0, not Infinity"),
            (raw("p.json", json.dumps(profile()).replace(
                '"sessions": 1000', '"sessions": Infinity').encode()),
             "'trace.sessions' must be a number > 0"),
            (raw("p.json", json.dumps(profile()).replace(
                '"gbps": {"median": 10.0}', '"gbps": {"median": Infinity}').encode()),
             "'phases.tracked.gbps.median' must be a number > 0"),
            (prof(phases__tracked__gbps="fast"),
             "figure 'phases.tracked.gbps.median' is missing (no 'median' in phases.tracked.gbps"),
            (fleet(lambda fl: fl["appliance"].update(worker_cores=10 ** 400)),
             "appliance: 'worker_cores' must be a number"),
            (grp(databases=10 ** 300, gbps_per_db=1e300), "is out of range"),
            (fleet(lambda fl: fl["groups"].__setitem__(0, 7)), "groups[0]: must be an object"),
            (fleet(lambda fl: fl.__setitem__("appliance", [])), "'appliance' is missing or not"),
            (fleet(lambda fl: fl.__setitem__("profiles", ["p.json"])), "'profiles' must name"),
            (fleet(lambda fl: fl["profiles"].__setitem__("oltp", 3)), "profiles.oltp must be"),
        ]
        for i, (setup, fragment) in enumerate(cases):
            with self.subTest(case=i, expect=fragment):
                self.tearDown()
                self.setUp()
                setup(self)
                r = self.cli()
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertNotIn("Traceback", r.stderr)
                self.assertIn(fragment, r.stderr)
                self.assertIn(self.d, r.stderr)       # the file is named
                self.assertEqual(r.stdout, "")

    def test_rounds_up(self):
        # 0.4 + 2 cores at 50 % of 4: 1.2 appliances' worth -> 2, not 1
        self.fleet["groups"][0]["gbps_per_db"] = 0.04
        pl = cp.plan(self.load())
        self.assertAlmostEqual(pl["appliances_by"]["worker cores"], 1.2)
        self.assertEqual(pl["appliances"], 2)

    def test_recorder_best_run_and_spares(self):
        self.write("rec.json", {"bench": "rec_bench", "runs": [
            {"events_per_s": 4000.0, "events_lost": 0},
            {"events_per_s": 1000.0, "events_lost": 0}]})
        self.fleet["recorder"] = "rec.json"
        self.fleet["appliance"]["spares"] = 1
        fleet = self.load()
        self.assertEqual(fleet["recorder"]["events_per_s"], 4000.0)
        pl = cp.plan(fleet)
        self.assertAlmostEqual(pl["appliances_by"]["recorder"],
                               pl["total"]["events_per_s"] / 2000.0)
        self.assertEqual(pl["appliances_without_recorder"], 3)   # 2 for the cores + 1

    def test_memory_and_open_sessions(self):
        pl = cp.plan(self.load())
        self.assertEqual(pl["total"]["open_sessions"], 100 * 50 + 10 * 10)
        # 2 working appliances at 50 %: each plans for its half of the sessions, doubled
        self.assertAlmostEqual(pl["memory_gib_per_appliance"],
                               (5000 + 100) * 6000 / 0.5 / 2 / (1 << 30))

    def test_busier_port(self):
        # 9 MB of server stream against 1 MB of client stream, 100 frames each way
        p = profile()
        p["trace"].update(stream_bytes_c2s=1_000_000, stream_bytes_s2c=9_000_000,
                          frames_from_clients=100, frames_from_server=100)
        self.write("p.json", p)
        self.fleet["appliance"]["nic_gbps"] = 1
        pl = cp.plan(self.load())
        share = (9_000_000 + 6600) / (10_000_000 + 13200)
        self.assertAlmostEqual(pl["appliances_by"]["NIC"], 10 * share / 0.5)

    def test_svg_escapes_and_scales(self):
        self.fleet["groups"][0]["name"] = "a<b&c\x01d"
        fleet = self.load()
        pl = cp.plan(fleet)
        root = ET.fromstring(cp.render_svg(fleet, pl, [(1, pl), (2, cp.plan(fleet, 2))]))
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("a<b&cd", texts)
        # bars on one scale: orders 1 core (traffic), pooler 2 cores (sessions)
        w = [float(r.get("width")) for r in root.iter("{http://www.w3.org/2000/svg}rect")
             if r.get("fill") in ("#4477aa", "#ee7733")]
        orders_traffic, pooler_sessions = w[0], w[3]
        self.assertAlmostEqual(orders_traffic * 2, pooler_sessions, places=0)
        self.assertAlmostEqual(max(w), 760 - 150 - 80, places=0)   # the longest fills it

    def test_cli_error_exit(self):
        self.fleet["appliance"]["worker_cores"] = 0
        path = self.write("fleet.json", self.fleet)
        r = subprocess.run([sys.executable, os.path.join(SRC, "bench", "capacity_plan.py"),
                            path], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("appliance: 'worker_cores' must be >= 1, not 0", r.stderr)
        self.assertEqual(r.stdout, "")

    @unittest.skipUnless(os.environ.get("TG_ENGINE_BENCH"), "TG_ENGINE_BENCH not set")
    def test_real_engine_bench_profile(self):
        out = os.path.join(self.d, "real.json")
        r = subprocess.run([os.environ["TG_ENGINE_BENCH"], "--flows", "64", "--active", "16",
                            "--queries", "3", "--reps", "1", "--json", out],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        p = cp.load_profile(out)
        self.assertGreater(p["gbps"], 0)
        self.assertGreater(p["bytes_per_flow"], 0)
        self.fleet["profiles"]["oltp"] = "real.json"
        pl = cp.plan(self.load())
        self.assertGreaterEqual(pl["appliances"], 1)
        self.assertAlmostEqual(pl["groups"][0]["cores_by_traffic"], 10.0 / p["gbps"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
