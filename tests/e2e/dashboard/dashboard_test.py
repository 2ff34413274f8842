#!/usr/bin/python3
"""The dashboard in a real browser over the real stack.

catalog-api, analytics-api, analytics-regen and usage-api run as processes
on loopback over a generated catalog; headless Chromium (Debian's, through
chromium-driver and python3-selenium) opens analytics-api's page and the
test checks, against the services' own answers:

- before the first snapshot the maps say "computing…" and then draw by
  themselves once analytics-regen has written one (503 + Retry-After);
- every panel draws: one bar per root, one point per recipe on each map, the
  histogram with mean and mode, the tree (opening a node);
- drill-down by click and by keyboard, breadcrumbs back up, the level selector;
- search highlights the recipe; clicking a point opens its neighbours and the
  transport plan's flows;
- the page's usage events (tab viewed, drill-down, search, recipe opened)
  reach usage-api by sendBeacon, and its roll-ups are drawn;
- a recipe written through catalog-api reaches the open page without a
  reload: the visible catalog_seq reaches the write's seq, the drill-down
  and the map's zoom are kept, the new recipe's point appears;
- analytics-api restarting: "reconnecting…", then live again, caught up;
- phone width: no horizontal scrolling, panels draw;
- no console errors, and no request leaves loopback.
And from an empty catalog: the panels say what is missing, "usage tracking
not configured" without --usage-api-url, then the first recipe draws.

A screenshot of each panel is saved under ARTIFACT_DIR (argument 2).

Usage: dashboard_test.py <bin dir> <artifact dir>
"""
import os
import sys
import time
import unittest
from urllib.parse import urlparse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support", "python"))
from browser import Browser, now_ms  # noqa: E402
from stack import Stack, get_json  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

BIN_DIR = sys.argv[1] if len(sys.argv) > 1 else "build/bin"
ARTIFACTS = sys.argv[2] if len(sys.argv) > 2 else "build/artifacts/dashboard"

# A point of a map that the pointer can reach (not under another point).
REACHABLE_POINT = """
  for (const c of document.querySelectorAll(arguments[0] + ' circle.point')) {
    const r = c.getBoundingClientRect();
    if (r.width === 0) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) continue;
    if (document.elementFromPoint(x, y) === c) return c;
  }
  return null;"""


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.makedirs(ARTIFACTS, exist_ok=True)
        cls.stack = Stack(BIN_DIR, recipes=200, ingredients=120, with_usage=True)
        cls.stack.seed()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def shot(self, b, name, selector):
        # The pointer off the charts (no tooltip), transitions (300 ms) over.
        ActionChains(b.driver).move_to_element(b.one("h1")).perform()
        time.sleep(0.5)
        b.js("arguments[0].scrollIntoView({block: 'start'})", b.one(selector))
        path = os.path.join(ARTIFACTS, f"{name}.png")
        b.driver.save_screenshot(path)
        b.one(selector).screenshot(os.path.join(ARTIFACTS, f"{name}-panel.png"))

    def tab(self, b, name):
        b.one(f"#tab-{name}").click()
        b.wait_for(f"#panel-{name}:not([hidden])[data-state]")

    def assert_clean(self, b, ports, computing_until=0, outage=(0, 0)):
        """No console error or warning, except the browser's own report of
        the 503s answered before the first snapshot (`computing_until`, ms
        since the epoch: the "computing…" state working) and of the
        connections refused while analytics-api was down (`outage`)."""
        def expected(e):
            if e["source"] != "network":
                return False
            if "status of 503" in e["message"] and e["timestamp"] <= computing_until:
                return True
            return outage[0] <= e["timestamp"] <= outage[1]
        errors = [e for e in b.console_errors() if not expected(e)]
        self.maxDiff = None
        self.assertEqual(errors, [], "console errors or warnings")
        for url in b.requests():
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https", "ws", "wss", "ftp"):
                continue  # data:, about:, chrome:// pages the browser renders itself
            self.assertEqual(parsed.hostname, "127.0.0.1", f"request left loopback: {url}")
            self.assertIn(parsed.port, ports, f"request to another service: {url}")

    def check_usage_panel(self, b, stack):
        """The page's own beacons reached usage-api, and its roll-ups are drawn."""
        usage = stack.url("usage-api")
        want = {"tab_viewed", "drill_down", "search", "recipe_opened"}

        def events():
            body = get_json(f"{usage}/api/analytics/track?hours=1&limit=1000")
            return body["events"]
        b.wait(lambda: want <= {e["event_type"] for e in events()}, 30, f"beacons of {sorted(want)}")
        evs = events()
        self.assertEqual(len({e["session_id"] for e in evs}), 1, "one browser session")
        self.assertTrue(all(e["demo_mode"] is False for e in evs))
        search = next(e for e in evs if e["event_type"] == "search")
        self.assertEqual(search["tool_name"], "space")
        self.assertTrue(search["properties"]["found"])
        opened = next(e for e in evs if e["event_type"] == "recipe_opened")
        self.assertIsInstance(opened["properties"]["recipe_id"], int)
        # The panel draws the roll-ups as usage-api serves them. Its own
        # beacons keep arriving, so its total lies between two reads.
        b.one("#tab-usage").click()
        before = get_json(f"{usage}/api/analytics/rollups?hours=24")["total_events"]
        b.one("#tab-activity").click()
        b.wait(lambda: b.one("#panel-activity").get_attribute("data-state") == "drawn"
               and len(b.css("#panel-activity rect.events")) == 24, 30, "the hourly bars")
        summary = b.wait(lambda: b.one("#panel-activity .summary").text, 10, "the totals")
        after = get_json(f"{usage}/api/analytics/rollups?hours=24")
        shown = int(summary.split()[0].replace(",", ""))
        self.assertTrue(before <= shown <= after["total_events"], f"{before} <= {shown} <= {after['total_events']}")
        sessions = after["total_sessions"]
        self.assertIn(f"{sessions:,} session{'' if sessions == 1 else 's'}", summary)
        self.assertGreater(len(b.css("#panel-activity path.sessions")), 0)

    def test_dashboard(self):
        stack = self.stack
        api = stack.ports["analytics-api"]
        self.assertTrue(stack.start_usage_api(), f"no usage-api in {BIN_DIR}")
        ports = {api, stack.ports["usage-api"]}
        stack.start_catalog_api()
        stack.start_analytics_api()
        page = stack.url("analytics-api", "/#space")
        with Browser(width=1280, height=1400) as b:
            # ---- Before the first snapshot: the maps are computing, and retry.
            b.driver.get(page)
            state = b.wait_for("#panel-space .state[data-kind=computing]", 30)
            self.assertIn("Computing", state.text)
            self.shot(b, "00-computing", "#panel-space")
            stack.start_analytics_regen()
            stack.wait_served(stack.seeded_seq, files=("cocktail-space.json", "cocktail-space-em.json"))

            # ---- Every panel draws, without a reload, to the API's numbers.
            b.js("window.__sameDocument = true")
            b.wait_for("#panel-space[data-state=drawn]", 60)
            space = stack.analytics_json("cocktail-space")["data"]
            b.wait(lambda: len(b.css("#panel-space circle.point")) == len(space), 30, "one point per recipe")
            for p in ("usage", "tree", "complexity", "space-em"):
                b.wait_for(f"#panel-{p}[data-state=drawn]", 60)
            first_snapshot = now_ms()  # every panel drawn: no 503 is expected from here on

            self.tab(b, "usage")
            roots = stack.analytics_json("ingredient-usage")["data"]
            b.wait(lambda: len(b.css("#panel-usage g.bar")) == len(roots), 30, "one bar per root")
            self.assertEqual(b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text, "All ingredients")
            self.shot(b, "01-ingredient-usage", "#panel-usage")

            # Drill down by click, back up by the breadcrumb.
            first = next(r for r in roots if r["has_children"])
            children = stack.analytics_json(f"ingredient-usage?parent_id={first['ingredient_id']}")["data"]
            b.one(f"#panel-usage g.bar[data-id='{first['ingredient_id']}']").click()
            b.wait(lambda: b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text == first["ingredient_name"],
                   30, "breadcrumb of the drilled ingredient")
            b.wait(lambda: sorted(int(e.get_attribute("data-id")) for e in b.css("#panel-usage g.bar"))
                   == sorted(c["ingredient_id"] for c in children), 30, "the ingredient's children")
            self.shot(b, "02-ingredient-usage-drilled", "#panel-usage")
            b.one("#panel-usage nav.breadcrumbs button").click()
            b.wait(lambda: len(b.css("#panel-usage g.bar")) == len(roots)
                   and b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text == "All ingredients",
                   30, "back at the roots")

            # The level selector: every ingredient at depth 1.
            depth1 = stack.analytics_json("ingredient-usage?level=1")["data"]
            Select(b.one("#panel-usage select.level")).select_by_value("1")
            b.wait(lambda: len(b.css("#panel-usage g.bar")) == len(depth1), 30, "the depth-1 bars")
            Select(b.one("#panel-usage select.level")).select_by_value("")
            b.wait(lambda: len(b.css("#panel-usage g.bar")) == len(roots), 30, "roots again")

            # By keyboard: the tab list with arrow keys, a bar with Enter.
            b.one("#tab-usage").send_keys(Keys.ARROW_RIGHT)
            b.wait(lambda: b.one("#tab-tree").get_attribute("aria-selected") == "true", 10, "arrow key to the tree")
            b.one("#tab-tree").send_keys(Keys.ARROW_LEFT)
            b.wait(lambda: b.one("#tab-usage").get_attribute("aria-selected") == "true", 10, "arrow key back")
            bar = b.one(f"#panel-usage g.bar[data-id='{first['ingredient_id']}']")
            b.js("arguments[0].focus()", bar)
            bar.send_keys(Keys.ENTER)
            b.wait(lambda: b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text == first["ingredient_name"],
                   30, "drill-down by keyboard")

            # ---- The tree: roots plus the first root's children; open another root.
            self.tab(b, "tree")
            tree = stack.analytics_json("ingredient-tree")["data"]
            shown = len(tree["children"]) + len(tree["children"][0].get("children", []))
            b.wait(lambda: len(b.css("#panel-tree g.node")) == shown, 30, "roots and the first root's children")
            other = next(r for r in tree["children"][1:] if r.get("children"))
            b.one(f"#panel-tree g.node[data-id='{other['id']}']").click()
            b.wait(lambda: len(b.css("#panel-tree g.node")) == shown + len(other["children"]), 30, "opened a node")
            self.assertEqual(b.one(f"#panel-tree g.node[data-id='{other['id']}']").get_attribute("aria-expanded"),
                             "true")
            self.shot(b, "03-ingredient-tree", "#panel-tree")

            # ---- Complexity: a bar per ingredient count, mean and mode from the metadata.
            self.tab(b, "complexity")
            cx = stack.analytics_json("recipe-complexity")
            span = cx["data"][-1]["ingredient_count"] - cx["data"][0]["ingredient_count"] + 1
            b.wait(lambda: len(b.css("#panel-complexity g.hist rect")) == span, 30, "histogram bars")
            mean = cx["metadata"]["mean_ingredient_count"]
            self.assertEqual(b.one("#panel-complexity text.mean-label").text, f"mean {mean:.2f}")
            mode = cx["metadata"]["mode_ingredient_count"]
            self.assertEqual(len(b.css("#panel-complexity g.hist rect.mode")), 1)
            self.assertIn(f"mode {mode}", b.one("#panel-complexity .summary").text)
            self.shot(b, "04-complexity", "#panel-complexity")

            # ---- The maps: search highlights, a click opens the neighbours and flows.
            self.tab(b, "space")
            target = space[len(space) // 3]
            box = b.one("#panel-space input.search-input")
            box.clear()
            box.send_keys(target["recipe_name"], Keys.ENTER)
            b.wait(lambda: [e.get_attribute("data-id") for e in b.css("#panel-space circle.point.highlight")]
                   == [str(target["recipe_id"])], 30, "the searched recipe highlighted")
            self.assertIn(target["recipe_name"], b.one("#panel-space .found").text)
            time.sleep(0.6)  # the centring transition
            self.shot(b, "05-cocktail-space-search", "#panel-space")

            point = b.wait(lambda: b.js(REACHABLE_POINT, "#panel-space"), 30, "a reachable point")
            rid = int(point.get_attribute("data-id"))
            point.click()
            similar = stack.analytics_json(f"recipe-similar?recipe_id={rid}&limit=10")["data"]
            b.wait_for("#similar:not([hidden])[data-state=drawn]", 30)
            b.wait(lambda: len(b.css("#similar button.neighbour")) == len(similar["neighbors"]), 30, "neighbours")
            names = [e.text.split("\n")[0] for e in b.css("#similar button.neighbour")]
            self.assertEqual(names, [n["neighbor_name"] for n in similar["neighbors"]])
            flows = similar["neighbors"][0]["flows"]
            b.wait(lambda: len(b.css("#similar path.flow")) == len(flows), 30, "one band per flow")
            moved = sum(1 for f in flows if f[0] != f[1])
            self.assertEqual(len(b.css("#similar path.flow.moved")), moved)
            self.assertEqual(b.one("#panel-space circle.point.selected").get_attribute("data-id"), str(rid))
            self.shot(b, "06-similar-recipes", "main")

            self.tab(b, "space-em")
            em = stack.analytics_json("cocktail-space-em")["data"]
            b.wait(lambda: len(b.css("#panel-space-em circle.point")) == len(em), 30, "one point per recipe (EM)")
            self.shot(b, "07-cocktail-space-em", "main")

            self.tab(b, "activity")
            self.check_usage_panel(b, stack)
            self.shot(b, "08-usage", "#panel-activity")

            # ---- Live: a write shows up on the open page, state kept.
            self.tab(b, "space")
            b.one("#panel-space .zoom-in").click()
            time.sleep(0.5)
            zoom = b.js("return document.querySelector('#panel-space svg').__zoom.k")
            self.assertGreater(zoom, 1.2)
            self.tab(b, "usage")
            self.assertEqual(b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text, first["ingredient_name"])
            before = {int(e.get_attribute("data-id")): e.find_element("css selector", "text.count").text
                      for e in b.css("#panel-usage g.bar")}
            child = children[0]
            written = stack.write("POST", "/api/v1/recipes", {
                "name": "Dashboard Live Test", "instructions": "Stir.",
                "ingredients": [{"ingredient_id": child["ingredient_id"], "amount": 2.0, "unit_id": 1},
                                {"ingredient_id": roots[-1]["ingredient_id"], "amount": 1.0, "unit_id": 1}]})
            seq = written["catalog_seq"]
            b.wait(lambda: int(b.one("#catalog-seq").text or -1) >= seq, 60, f"visible catalog_seq >= {seq}")
            self.assertTrue(b.js("return window.__sameDocument === true"), "the page was reloaded")
            self.assertEqual(b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text, first["ingredient_name"],
                             "drill-down kept")
            now = stack.analytics_json(f"ingredient-usage?parent_id={first['ingredient_id']}&min_seq={seq}")["data"]
            want = next(c for c in now if c["ingredient_id"] == child["ingredient_id"])["hierarchical_usage"]
            self.assertEqual(want, child["hierarchical_usage"] + 1)
            b.wait(lambda: b.one(f"#panel-usage g.bar[data-id='{child['ingredient_id']}'] text.count").text
                   == f"{want:,}", 30, "the drilled-in bar redrawn with the new count")
            self.assertNotEqual(before[child["ingredient_id"]], f"{want:,}")
            self.shot(b, "09-live-update", "#panel-usage")
            # The slow lane's maps follow: one more point, zoom and selection kept.
            stack.wait_served(seq, files=("cocktail-space.json",))
            self.tab(b, "space")
            b.wait(lambda: len(b.css("#panel-space circle.point")) == len(space) + 1, 60, "the new recipe's point")
            self.assertAlmostEqual(b.js("return document.querySelector('#panel-space svg').__zoom.k"), zoom, 6)
            self.assertEqual(b.one("#panel-space circle.point.selected").get_attribute("data-id"), str(rid))
            self.assertEqual(b.one("#live").get_attribute("data-state"), "live")

            # ---- analytics-api restarts: the indicator says so, and the page
            # catches up with what was written meanwhile, state kept.
            self.tab(b, "usage")
            down = now_ms()
            stack.stop("analytics-api")
            b.wait(lambda: b.one("#live").get_attribute("data-state") == "reconnecting", 30, "reconnecting shown")
            self.assertEqual(b.one("#live-text").text, "reconnecting…")
            seq2 = stack.write("POST", "/api/v1/recipes", {
                "name": "Dashboard Restart Test",
                "ingredients": [{"ingredient_id": child["ingredient_id"], "amount": 1.0, "unit_id": 1}]})["catalog_seq"]
            stack.start_analytics_api()
            b.wait(lambda: b.one("#live").get_attribute("data-state") == "live", 60, "live again")
            up = now_ms()
            b.wait(lambda: int(b.one("#catalog-seq").text or -1) >= seq2, 60, f"caught up to seq {seq2}")
            b.wait(lambda: b.one(f"#panel-usage g.bar[data-id='{child['ingredient_id']}'] text.count").text
                   == f"{want + 1:,}", 30, "the bar after the restart")
            self.assertEqual(b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text, first["ingredient_name"])
            self.assertTrue(b.js("return window.__sameDocument === true"), "the page was reloaded")

            self.assert_clean(b, ports, computing_until=first_snapshot, outage=(down, up))

        # ---- Phone width.
        with Browser(width=390, height=844, mobile=True) as b:
            b.driver.get(stack.url("analytics-api", "/dashboard/"))
            b.wait_for("#panel-usage[data-state=drawn]", 60)
            self.assertLessEqual(b.js("return document.documentElement.scrollWidth"), 390, "horizontal scrolling")
            self.shot(b, "10-phone-usage", "body")
            self.tab(b, "space")
            stack.wait_served(seq2, files=("cocktail-space.json",))
            points = len(stack.analytics_json("cocktail-space")["data"])
            self.assertEqual(points, len(space) + 2)
            b.wait(lambda: len(b.css("#panel-space circle.point")) == points, 60, "points at phone width")
            self.assertLessEqual(b.js("return document.documentElement.scrollWidth"), 390)
            self.shot(b, "11-phone-space", "body")
            self.assert_clean(b, ports)


class EmptyCatalogTest(unittest.TestCase):
    """A catalog with ingredients and no recipe: the panels say what is
    missing, then draw the first recipe written, without a reload."""

    def test_empty_then_first_recipe(self):
        with Stack(BIN_DIR, recipes=0, ingredients=8) as stack:
            stack.seed()
            stack.start_catalog_api()
            stack.start_analytics_regen()
            stack.start_analytics_api()
            stack.wait_served(stack.seeded_seq, files=("cocktail-space.json",))
            with Browser(width=1024, height=900) as b:
                b.driver.get(stack.url("analytics-api", "/#complexity"))
                state = b.wait_for("#panel-complexity .state[data-kind=empty]", 60)
                self.assertEqual(state.text, "No recipe has ingredients yet.")
                b.wait_for("#panel-space .state[data-kind=empty]", 60)
                self.assertIn("No recipe has a position yet", b.one("#panel-space .state").get_attribute("textContent"))
                b.wait_for("#panel-usage[data-state=drawn]", 60)
                self.assertEqual(len(b.css("#panel-usage g.bar")), 8)  # the roots, used by nothing yet
                # analytics-api without --usage-api-url: the panel says so, and nothing is sent.
                self.assertIn("Usage tracking not configured",
                              b.one("#panel-activity .state").get_attribute("textContent"))
                self.assertEqual(b.one("#panel-activity").get_attribute("data-state"), "notice")
                self.shot_empty(b)
                roots = stack.analytics_json("ingredient-usage")["data"]
                seq = stack.write("POST", "/api/v1/recipes", {
                    "name": "First", "ingredients": [{"ingredient_id": roots[0]["ingredient_id"], "amount": 1.0}]})[
                    "catalog_seq"]
                b.wait(lambda: b.one("#panel-complexity").get_attribute("data-state") == "drawn"
                       and len(b.css("#panel-complexity g.hist rect")) == 1, 60, "the first recipe's bar")
                self.assertIn("mean 1.00", b.one("#panel-complexity .summary").text)
                stack.wait_served(seq, files=("cocktail-space.json",))
                b.wait(lambda: len(b.css("#panel-space circle.point")) == len(
                    stack.analytics_json("cocktail-space")["data"]), 60, "the maps after the first recipe")
                errors = b.console_errors()
                self.assertEqual(errors, [], "console errors or warnings")
                api = stack.ports["analytics-api"]
                self.assertEqual({urlparse(u).port for u in b.requests() if u.startswith("http")}, {api},
                                 "requests other than analytics-api's")

    def shot_empty(self, b):
        os.makedirs(ARTIFACTS, exist_ok=True)
        b.driver.save_screenshot(os.path.join(ARTIFACTS, "12-empty-catalog.png"))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]], verbosity=2)
