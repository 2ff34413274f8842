"""Headless Chromium from Debian (chromium, chromium-driver) driven by
python3-selenium, for the dashboard's browser test and benchmark.

Started with a fresh profile and every background service off, so the only
requests it makes are the page's; the DevTools network log records each of
them (requests(), transferred_bytes()) and the console log is kept
(console_errors()).

    with Browser(width=1280, height=1400) as b:
        b.driver.get(url)
        b.wait_for("#panel-usage[data-state=drawn]")
"""
import json
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
         "--no-default-browser-check", "--disable-client-side-phishing-detection",
         "--disable-domain-reliability", "--disable-features=OptimizationHints,Translate,MediaRouter"]


class Browser:
    def __init__(self, width=1280, height=1400, mobile=False):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + [f"--user-data-dir={self.profile}", f"--window-size={width},{height}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.driver.set_script_timeout(60)
        if mobile:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
        self.console = []
        self.network = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ---- waiting and finding

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def wait(self, predicate, timeout=60, what="condition"):
        """Polls `predicate()` (every 50 ms) until it is truthy; returns its value."""
        def check(_):
            try:
                return predicate()
            except StaleElementReferenceException:
                return False
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(
            check, message=f"timed out after {timeout} s waiting for {what}")

    def wait_for(self, selector, timeout=60):
        return self.wait(lambda: self.css(selector), timeout, selector)[0]

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    # ---- logs

    def _drain(self):
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            self.network.append(json.loads(entry["message"])["message"])

    def console_errors(self):
        self._drain()
        return [e for e in self.console if e["level"] in ("SEVERE", "WARNING")]

    def requests(self):
        """Every URL the page asked for (DevTools Network.requestWillBeSent)."""
        self._drain()
        return [m["params"]["request"]["url"] for m in self.network if m["method"] == "Network.requestWillBeSent"]

    def mark(self):
        """A position in the network log, for transferred_bytes(since=…)."""
        self._drain()
        return len(self.network)

    def transferred_by_url(self, since=0):
        """Bytes received over HTTP since a mark, by URL (headers and bodies,
        compressed as sent): finished requests by their encodedDataLength,
        open ones (the event stream) by the chunks received so far."""
        self._drain()
        urls = {m["params"]["requestId"]: m["params"]["request"]["url"] for m in self.network
                if m["method"] == "Network.requestWillBeSent"
                and m["params"]["request"]["url"].startswith(("http://", "https://"))}
        finished, chunks, headers = {}, {}, {}
        for m in self.network[since:]:
            p = m.get("params", {})
            rid = p.get("requestId")
            if rid not in urls:
                continue  # chrome:// pages the browser renders itself
            if m["method"] == "Network.loadingFinished":
                finished[rid] = p["encodedDataLength"]
            elif m["method"] == "Network.dataReceived":
                chunks[rid] = chunks.get(rid, 0) + p["encodedDataLength"]
            elif m["method"] == "Network.responseReceived":
                headers[rid] = p["response"].get("encodedDataLength", 0)
        out = {}
        for rid in set(finished) | set(chunks):
            n = finished[rid] if rid in finished else chunks[rid] + headers.get(rid, 0)
            out[urls[rid]] = out.get(urls[rid], 0) + n
        return out

    def transferred_bytes(self, since=0):
        return sum(self.transferred_by_url(since).values())


def now_ms():
    return time.time() * 1000.0
