#!/usr/bin/python3
"""Dashboard benchmark: the page in headless Chromium over the real stack on a
catalog-seed catalog (1,356 recipes by default).

Per round (a fresh browser profile each time, so the first load is cold):
  open      navigation start -> every snapshot panel drawn (usage, tree,
            complexity, both maps), and -> the first panel drawn; bytes on
            the wire for it (headers and bodies as sent, gzip where accepted)
  reload    the same with the browser's cache (versioned assets immutable,
            the rest revalidated: 304s)
  write     a recipe POSTed to catalog-api -> the open page shows its
            catalog_seq (the fast lane's panels redrawn), and -> the maps
            redrawn from the slow lane's generation; beside it, the same
            write -> analytics-api answering min_seq (the stack's own
            freshness, measured in the same round), so the page's share is
            the difference; bytes on the wire for the whole live update

    tests/bench/dashboard.py <bin dir> [--recipes N] [--rounds R]
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support", "python"))
from browser import Browser, now_ms  # noqa: E402
from stack import Stack, http  # noqa: E402

PANELS = ("usage", "tree", "complexity", "space", "space-em")

# Resolves with {first, all}: performance.now() when the first and when every
# snapshot panel reached data-state=drawn (checked every animation frame).
DRAWN = """
const done = arguments[arguments.length - 1];
const ids = %s;
let first = null;
const check = () => {
  const drawn = ids.filter((id) => {
    const el = document.getElementById('panel-' + id);
    return el && el.dataset.state === 'drawn';
  });
  if (drawn.length && first === null) first = performance.now();
  if (drawn.length === ids.length) return done({first, all: performance.now()});
  requestAnimationFrame(check);
};
check();
""" % json.dumps(list(PANELS))

# Records Date.now() when #catalog-seq reaches window.__want, and when the
# map's own age line names a seq >= __want.
WATCH = """
window.__seen = {};
const want = arguments[0];
const seqOf = (sel) => {
  const el = document.querySelector(sel);
  const m = el && el.textContent.match(/seq (\\d+)/);
  return m ? Number(m[1]) : Number(el ? el.textContent : -1);
};
const tick = () => {
  const now = Date.now();
  if (!window.__seen.strip && Number(document.getElementById('catalog-seq').textContent) >= want) window.__seen.strip = now;
  if (!window.__seen.space && seqOf('.age[data-panel=space]') >= want && seqOf('.age[data-panel=space-em]') >= want) window.__seen.space = now;
  if (!(window.__seen.strip && window.__seen.space)) requestAnimationFrame(tick);
};
tick();
"""


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def open_page(b, url):
    b.driver.get(url)
    return b.driver.execute_async_script(DRAWN)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--recipes", type=int, default=1356)
    ap.add_argument("--ingredients", type=int, default=610)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quiet-ms", type=int, default=200)
    ap.add_argument("--max-delay-ms", type=int, default=2000)
    args = ap.parse_args()

    with Stack(args.bin_dir, recipes=args.recipes, ingredients=args.ingredients, seed=42,
               quiet_ms=args.quiet_ms, max_delay_ms=args.max_delay_ms) as stack:
        seq = stack.seed()
        stack.start_catalog_api()
        stack.start_analytics_regen()
        stack.start_analytics_api()
        stack.wait_served(seq, files=("cocktail-space.json", "cocktail-space-em.json"), timeout=600)
        # analytics-regen may write one more generation of the same seq at
        # start (the seeded rows' events arriving after its catch-up run):
        # measure once the served generation has stayed the same for 3 s.
        last, since = None, time.monotonic()
        while time.monotonic() - since < 3:
            g = stack.analytics_json("status")["data"]["generation"]
            if g != last:
                last, since = g, time.monotonic()
            time.sleep(0.1)
        url = stack.url("analytics-api", "/")
        roots = stack.analytics_json("ingredient-usage")["data"]
        leaf = stack.analytics_json("ingredient-usage?level=1")["data"][0]
        results = {k: [] for k in ("open_first", "open_all", "open_bytes", "reload_all", "reload_bytes",
                                   "served_ms", "strip_ms", "maps_ms", "maps_served_ms", "update_bytes")}
        for r in range(args.rounds):
            with Browser(width=1280, height=1000) as b:
                t = open_page(b, url)
                results["open_first"].append(t["first"])
                results["open_all"].append(t["all"])
                time.sleep(0.5)  # let late requests (the panels' second fetches) finish
                results["open_bytes"].append(b.transferred_bytes())

                mark = b.mark()
                t = open_page(b, url)
                results["reload_all"].append(t["all"])
                time.sleep(0.5)
                results["reload_bytes"].append(b.transferred_bytes(since=mark))

                # Live: drilled into the first root, a recipe written.
                b.one(f"#panel-usage g.bar[data-id='{roots[0]['ingredient_id']}']").click()
                b.wait(lambda: b.one("#panel-usage nav.breadcrumbs [aria-current=page]").text
                       == roots[0]["ingredient_name"], 30, "drilled in")
                time.sleep(0.5)
                mark = b.mark()
                served = {}
                start = now_ms()
                written = stack.write("POST", "/api/v1/recipes", {
                    "name": f"Bench Live {r} {os.getpid()}",
                    "ingredients": [{"ingredient_id": leaf["ingredient_id"], "amount": 1.5, "unit_id": 1}]})
                want = written["catalog_seq"]
                b.js(WATCH, want)

                def wait_served(kind, path):
                    status, _, _ = http("GET", stack.url(
                        "analytics-api", f"/api/v1/analytics/{path}?min_seq={want}&wait_ms=10000"), timeout=20)
                    served[kind] = now_ms() if status == 200 else float("nan")
                threads = [threading.Thread(target=wait_served, args=a)
                           for a in (("fast", "ingredient-usage"), ("maps", "cocktail-space-em"))]
                for th in threads:
                    th.start()
                seen = b.wait(lambda: (lambda s: s if s and s.get("strip") and s.get("space") else None)(
                    b.js("return window.__seen")), 60, "the page redrawn")
                for th in threads:
                    th.join()
                time.sleep(0.5)
                results["served_ms"].append(served["fast"] - start)
                results["strip_ms"].append(seen["strip"] - start)
                results["maps_served_ms"].append(served["maps"] - start)
                results["maps_ms"].append(seen["space"] - start)
                by_url = b.transferred_by_url(since=mark)
                results["update_bytes"].append(sum(by_url.values()))
                errors = b.console_errors()
                if errors:
                    print("console:", errors, file=sys.stderr)
                    return 1

        load = open("/proc/loadavg").read().split()[:3]
        print(f"# dashboard benchmark: {args.recipes} recipes, {args.rounds} rounds (medians), "
              f"debounce {args.quiet_ms}/{args.max_delay_ms} ms, load average {' '.join(load)}")
        print(f"open: first panel drawn        {median(results['open_first']):8.0f} ms")
        print(f"open: all panels drawn         {median(results['open_all']):8.0f} ms")
        print(f"open: bytes transferred        {median(results['open_bytes']):8.0f}")
        print(f"reload (cached): all drawn     {median(results['reload_all']):8.0f} ms")
        print(f"reload (cached): bytes         {median(results['reload_bytes']):8.0f}")
        print(f"write -> min_seq answered      {median(results['served_ms']):8.0f} ms  (fast lane, the stack alone)")
        print(f"write -> page shows its seq    {median(results['strip_ms']):8.0f} ms  (panels redrawn)")
        print(f"write -> maps min_seq answered {median(results['maps_served_ms']):8.0f} ms  (slow lane)")
        print(f"write -> page maps redrawn     {median(results['maps_ms']):8.0f} ms")
        print(f"live update: bytes             {median(results['update_bytes']):8.0f}  (both generations)")
        print("last live update by URL:", json.dumps(
            {u.split("/", 3)[3]: n for u, n in sorted(by_url.items(), key=lambda x: -x[1])}))
        print("raw:", json.dumps({k: [round(x, 1) for x in v] for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
