#!/usr/bin/env python3
"""Weight, time until usable and third-party requests of the license portal.

How to run (from the repository root; it never runs cargo itself):

    .venv/bin/pip install selenium==4.50.0       # the pin this script is written for
    cargo build --bin devserver                  # or use a build you already have
    cp target/debug/devserver /tmp/bench-devserver
    .venv/bin/python bench/portal_bench.py --devserver /tmp/bench-devserver

Options: --runs N (15), --warmups N (2), --no-axe, --json FILE.

Needs Debian's /usr/bin/chromium and /usr/bin/chromedriver
(scripts/install_browser.sh) and, for the optional axe-core pass,
portal/node_modules/axe-core. Nothing is downloaded at run time: the
chromedriver path is passed explicitly, so Selenium Manager never runs.
Every request goes to 127.0.0.1; every wait and loop is bounded.

It starts two devservers on free ports:

- "disk": PORTAL_ASSETS_DIR=portal/web, the files as they are on disk
  (assets under /assets/live/, Cache-Control: no-cache, never gzipped);
- "embedded": the binary's built-in copy of portal/web (immutable assets
  under /assets/<hash>/, gzip when accepted) -- the deployed behaviour, but
  only as fresh as the last build.

Weight (each page, signed in and signed out, empty HTTP cache): the
document plus every Resource Timing entry. Each file under /assets/ is
taken from portal/web on disk and compressed here with gzip -9; the HTML is
compressed as served; API responses (JSON) are compressed from the body the
browser received (CDP Network.getResponseBody). The "served" column adds up
the encodedBodySize the embedded devserver actually sent.

Time until usable, /activate, three cases: "warm" -- a signed-in Chromium
opens /activate again (about:blank, then a plain navigation; its previous
run filled the HTTP cache); "cold" -- the same, after CDP
Network.clearBrowserCache (the session in localStorage stays); "signed out"
-- a Chromium that never signed in, cache cleared before every run. The
runs of all variants are interleaved; warm-ups are dropped.

Time until usable: navigationStart -> the page's first state other than
"loading" (Activate Product signed in: data-state="ready", #code present).
"mark" reads the performance.mark("portal:usable") that app.js sets;
"poll" asks the page every 5 ms over WebDriver for main.dataset.state and
takes performance.now() in the page at the first answer that is not
"loading" (an upper bound: late by up to one poll and one round trip).
"""
import argparse, base64, gzip, json, math, os, queue, re, shutil, socket, statistics, subprocess, sys
import tempfile, threading, time, urllib.parse, urllib.request

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB = os.path.join(ROOT, "portal", "web")
AXE = os.path.join(ROOT, "portal", "node_modules", "axe-core", "axe.min.js")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--no-first-run", "--no-proxy-server", "--window-size=1280,900",
]
TARGET_GZ_KB = 60
TARGET_USABLE_MS = 300
WAIT_S = 20  # longest any single wait may take
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))

POLL_JS = """
const m = document.getElementById('main');
return [performance.timeOrigin, location.origin + location.pathname,
        m ? m.dataset.page || '' : '', m ? m.dataset.state || '' : '', performance.now()];
"""
DONE_JS = """
return document.readyState === 'complete'
    && performance.getEntriesByName('first-contentful-paint').length > 0;
"""
DETAILS_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const u = performance.getEntriesByName('portal:usable')[0];
const marks = performance.getEntriesByType('mark').map(m => m.name)
  .filter(n => n.startsWith('portal:usable:'));
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
return {
  timeOrigin: performance.timeOrigin,
  url: location.href,
  usable: u ? u.startTime : null,
  mark: marks.length ? marks[0] : null,
  fcp: fcp ? fcp.startTime : null,
  load: nav ? nav.loadEventEnd : null,
  navType: nav ? nav.type : null,
  doc: nav ? [nav.transferSize, nav.encodedBodySize, nav.decodedBodySize] : null,
  code: !!document.querySelector('main #code'),
  res: performance.getEntriesByType('resource').map(e =>
    [e.name, e.initiatorType, e.transferSize, e.encodedBodySize, e.decodedBodySize]),
};
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def gz9(data):
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def http_get(url, headers=None):
    assert url.startswith("http://127.0.0.1:"), url
    req = urllib.request.Request(url, headers=headers or {})
    with LOCAL.open(req, timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def pct(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


class Devserver:
    def __init__(self, binary, name, env_extra):
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PORT=str(self.port))
        env.pop("PORTAL_ASSETS_DIR", None)
        env.update(env_extra)
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        self.banner = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.banner.append(line)
            if line.startswith("Serving the API and the license portal on"):
                break
        else:
            self.stop()
            raise SystemExit(f"{name} devserver did not start in 60 s")
        if not any(l.startswith("Serving") for l in self.banner):
            raise SystemExit(f"{name} devserver exited:\n" + "".join(self.banner))
        m = re.search(r"invite URL:\s+(\S+)", "".join(self.banner))
        if not m:
            self.stop()
            raise SystemExit("no invite URL in the devserver banner")
        self.invite_path = urllib.parse.urlsplit(m.group(1)).path

    def _drain(self):
        for line in self.proc.stdout:  # ends when the process exits
            if self.lines.qsize() < 10000:
                self.lines.put(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def shell(self, path="/activate"):
        return http_get(self.base + path)[2]

    def asset_base(self):
        m = re.search(rb'src="(/assets/[^/"]+)/app\.js"', self.shell())
        return m.group(1).decode() if m else None

    def serves_usable_mark(self):
        ab = self.asset_base()
        return ab is not None and b"portal:usable" in http_get(self.base + ab + "/app.js")[2]


class Browser:
    """One Chromium with its own fresh profile."""

    def __init__(self, perf_log=False):
        self.profile = tempfile.mkdtemp(prefix="portal-bench-")
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        for a in CHROME_FLAGS:
            o.add_argument(a)
        o.add_argument("--user-data-dir=" + self.profile)
        o.page_load_strategy = "none"  # navigation returns at once; we poll the page
        if perf_log:
            o.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        try:
            self.d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.d.set_script_timeout(60)
        self.origin = None

    def quit(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def js(self, script, *args):
        try:
            return self.d.execute_script(script, *args)
        except WebDriverException:
            return None  # mid-navigation

    def until(self, fn, what, timeout=WAIT_S, every=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = fn()
            if r:
                return r
            time.sleep(every)
        raise SystemExit(f"timed out after {timeout} s waiting for {what} (at {self.d.current_url})")

    def blank(self):
        self.d.get("about:blank")
        self.until(lambda: self.js("return location.href === 'about:blank';"), "about:blank")

    def open(self, url, every):
        """about:blank, then url; returns the first poll answer whose state is not loading."""
        old = self.origin
        self.blank()
        self.d.get(url)
        want = url.split("?")[0]

        def poll():
            r = self.js(POLL_JS)
            if r and r[0] != old and r[1] == want and r[3] not in ("", "loading"):
                return r
            return None

        r = self.until(poll, f"{url} leaving 'loading'", every=every)
        self.origin = r[0]
        return r

    def finish(self):
        self.until(lambda: self.js(DONE_JS), "load event and first contentful paint")
        return self.js(DETAILS_JS)

    def state(self):
        r = self.js(POLL_JS)
        return (r[2], r[3]) if r else (None, None)

    def sign_in(self, base, email="bench@demo.edu"):
        self.open(base + "/activate", 0.05)
        self.until(lambda: self.d.find_elements(By.CSS_SELECTOR, "main #sign-in"), "main #sign-in")
        self.d.find_element(By.CSS_SELECTOR, "main #sign-in").click()
        self.until(lambda: "/_dev/oidc/authorize" in self.d.current_url
                   and self.d.find_elements(By.CSS_SELECTOR, "#sign-in-submit"), "the sign-in form")
        self.d.find_element(By.CSS_SELECTOR, "#email").send_keys(email)
        self.d.find_element(By.CSS_SELECTOR, "#name").send_keys("Portal Bench")
        box = self.d.find_element(By.CSS_SELECTOR, "#email_verified")
        if not box.is_selected():
            box.click()
        self.d.find_element(By.CSS_SELECTOR, "#sign-in-submit").click()
        self.until(lambda: self.d.current_url.startswith(base + "/activate")
                   and self.state() == ("activate", "ready"), "signed in on /activate")
        self.origin = self.js(POLL_JS)[0]

    def clear_cache(self):
        self.d.execute_cdp_cmd("Network.clearBrowserCache", {})


# --------------------------------------------------------------- time until usable

def one_run(server, method, scenario, b):
    """One load of /activate; returns its figures."""
    expect = "signed-out" if scenario == "signed-out" else "ready"
    every = 0.005 if method == "poll" else 0.025
    if scenario in ("cold", "signed-out"):
        b.clear_cache()
    first = b.open(server.base + "/activate", every)
    det = b.finish()
    if first[2] != "activate" or first[3] != expect or (expect == "ready") != det["code"]:
        raise SystemExit(f"{server.name}/{scenario}: got {first[2]}/{first[3]}, code input {det['code']}")
    if method == "mark" and det["usable"] is None:
        raise SystemExit(f"{server.name}: no portal:usable mark")
    same = [r for r in det["res"] if r[0].startswith(server.base + "/")]
    return {
        "poll": first[4], "mark": det["usable"], "markName": det["mark"], "fcp": det["fcp"],
        "load": det["load"], "resources": len(det["res"]),
        "fromCache": sum(1 for r in same if r[2] == 0),
        "transfer": (det["doc"][0] if det["doc"] else 0) + sum(r[2] for r in det["res"]),
    }


# --------------------------------------------------------------- weight

def perf_events(b):
    ev = []
    for entry in b.d.get_log("performance"):
        try:
            msg = json.loads(entry["message"])["message"]
        except (KeyError, ValueError):
            continue
        ev.append(msg)
    return ev


def weigh(server, b, path, expect, asset_files):
    b.clear_cache()
    b.d.get_log("performance")  # drop earlier events
    first = b.open(server.base + path, 0.025)
    det = b.finish()
    if (expect == "signed-out") != (first[3] == "signed-out") or first[3] in ("error", "failed"):
        raise SystemExit(f"{server.name} {path}: state {first[3]} ({'signed out' if expect == 'signed-out' else 'signed in'})")
    time.sleep(0.3)  # let late events arrive
    events = perf_events(b)
    req_ids = {}
    cdp_urls = []
    for e in events:
        if e.get("method") == "Network.requestWillBeSent":
            url = e["params"]["request"]["url"]
            cdp_urls.append(url)
            req_ids[url] = e["params"]["requestId"]

    doc_url = det["url"]
    rows = []  # (url, kind, raw, gz, served)
    html = http_get(doc_url)[2]
    rows.append((doc_url, "html", len(html), gz9(html), det["doc"][1]))
    ab = server.asset_base()
    seen = {doc_url}
    for name, initiator, transfer, encoded, decoded in det["res"]:
        if name in seen:
            # The favicon is logo.svg again, taken from the cache: a request
            # entry, but no bytes of its own.
            rows.append((name, f"again ({initiator})", 0, 0, 0))
            continue
        seen.add(name)
        u = urllib.parse.urlsplit(name)
        origin = f"{u.scheme}://{u.netloc}"
        if origin != server.base:
            rows.append((name, "third-party", encoded, encoded, encoded))
        elif u.path.startswith(ab + "/"):
            rel = u.path[len(ab) + 1:]
            data = asset_files(rel)
            rows.append((name, "asset", len(data), gz9(data), encoded))
        else:
            body = None
            rid = req_ids.get(name)
            if rid:
                try:
                    r = b.d.execute_cdp_cmd("Network.getResponseBody", {"requestId": rid})
                    body = base64.b64decode(r["body"]) if r.get("base64Encoded") else r["body"].encode()
                except WebDriverException:
                    body = None
            if body is None:
                rows.append((name, "api (as served)", decoded, encoded, encoded))
            else:
                rows.append((name, "api", len(body), gz9(body), encoded))
    third = [r[0] for r in rows if r[1] == "third-party"]
    cdp_third = sorted({u for u in cdp_urls
                        if u.startswith(("http:", "https:", "ws:", "wss:"))
                        and not u.startswith(server.base + "/")})
    return {
        "path": path, "state": first[3], "rows": rows,
        "requests": len(rows), "thirdParty": len(third), "cdpRequests": len(cdp_urls),
        "cdpThirdParty": cdp_third,
        "raw": sum(r[2] for r in rows), "gz": sum(r[3] for r in rows), "served": sum(r[4] for r in rows),
    }


def axe(b):
    if not os.path.exists(AXE):
        return None
    with open(AXE, encoding="utf-8") as f:
        src = f.read()
    b.js("if (!window.axe) { " + src + " } return true;")
    try:
        return b.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done("
            "  r.violations.map(v => [v.impact, v.id, v.nodes.length])"
            ")).catch(e => done([['error', String(e), 0]]));")
    except WebDriverException as e:
        return [["error", str(e).splitlines()[0], 0]]


# --------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devserver", default="/tmp/bench-devserver")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmups", type=int, default=2)
    ap.add_argument("--no-axe", action="store_true")
    ap.add_argument("--json", help="also write every figure to this file")
    a = ap.parse_args()
    if not (1 <= a.runs <= 200 and 0 <= a.warmups <= 20):
        raise SystemExit("--runs 1..200, --warmups 0..20")
    for p in (a.devserver, CHROMIUM, CHROMEDRIVER):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"missing: {p}")

    def disk(rel):
        path = os.path.realpath(os.path.join(WEB, rel))
        if not path.startswith(os.path.realpath(WEB) + os.sep):
            raise SystemExit(f"asset outside portal/web: {rel}")
        with open(path, "rb") as f:
            return f.read()

    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    print(f"# portal bench: {chromium}, {os.cpu_count()} cores, "
          f"{a.runs} runs after {a.warmups} warm-ups, 127.0.0.1 only; "
          f"load average at start {os.getloadavg()[0]:.2f}")
    results = {"chromium": chromium, "cores": os.cpu_count(), "runs": a.runs, "warmups": a.warmups}
    servers = []
    browsers = []
    try:
        sdisk = Devserver(a.devserver, "disk", {"PORTAL_ASSETS_DIR": WEB})
        servers.append(sdisk)
        semb = Devserver(a.devserver, "embedded", {})
        servers.append(semb)
        if "/assets/live" not in sdisk.asset_base():
            raise SystemExit("PORTAL_ASSETS_DIR did not take effect")
        if semb.asset_base() == "/assets/live":
            raise SystemExit("the embedded devserver serves from disk")
        emb_mark = semb.serves_usable_mark()
        print(f"# disk server {sdisk.base} assets {sdisk.asset_base()}; "
              f"embedded server {semb.base} assets {semb.asset_base()}, "
              f"its app.js {'has' if emb_mark else 'lacks'} the portal:usable mark")
        results["embeddedHasMark"] = emb_mark

        # ---- weight and requests
        pages = [("/", "home"), ("/activate", "activate"), (sdisk.invite_path, "invite")]
        print("\n## Weight and requests per page (empty HTTP cache)")
        print("requests = the document + its Resource Timing entries; raw/gz = each distinct URL once, "
              "gz = gzip -9 computed here;\nserved = bytes of the bodies the embedded devserver sent "
              "(encodedBodySize: assets gzipped by the build, HTML and JSON uncompressed)")
        print(f"{'page':<10} {'state':<11} {'requests':>8} {'3rd-party':>9} {'raw KB':>8} "
              f"{'gz KB':>7} {'served KB':>9} {'axe (all/serious+critical)':>27}")
        weights = []
        for signed_in in (True, False):
            bw = Browser(perf_log=True)
            browsers.append(bw)
            be = Browser(perf_log=True)
            browsers.append(be)
            if signed_in:
                bw.sign_in(sdisk.base)
                be.sign_in(semb.base)
            for path, label in pages:
                epath = semb.invite_path if label == "invite" else path
                w = weigh(sdisk, bw, path, _expect(label, signed_in), disk)
                e = weigh(semb, be, epath, _expect(label, signed_in), disk)
                ax = None if a.no_axe else axe(bw)
                axs = "-" if ax is None else (
                    f"{len(ax)}/{sum(1 for v in ax if v[0] in ('serious', 'critical'))}"
                    + (" " + ",".join(v[1] for v in ax) if ax else ""))
                w["servedEmbedded"] = e["served"]
                w["requestsEmbedded"] = e["requests"]
                w["thirdPartyEmbedded"] = e["thirdParty"]
                w["cdpThirdPartyEmbedded"] = e["cdpThirdParty"]
                w["axe"] = ax
                w["label"] = label
                weights.append(w)
                print(f"{label:<10} {w['state']:<11} {w['requests']:>8} {w['thirdParty']:>9} "
                      f"{w['raw'] / 1024:>8.1f} {w['gz'] / 1024:>7.1f} {e['served'] / 1024:>9.1f} {axs:>27}")
            for b in (bw, be):
                b.quit()
                browsers.remove(b)
        results["weights"] = weights
        print("\nrequests per page (disk server; the embedded one loads the same files under its hash):")
        for w in weights:
            print(f"  {w['label']} ({w['state']}):")
            for url, kind, raw, gz, served in w["rows"]:
                short = url.replace(sdisk.base, "")
                if kind.startswith("again"):
                    print(f"    {short[:72]:<72} {kind:<15} same URL again, from the cache: bytes not counted twice")
                else:
                    print(f"    {short[:72]:<72} {kind:<15} raw {raw:>6}  gz {gz:>6}")
        rels = sorted({url.split(sdisk.asset_base() + "/", 1)[1] for w in weights
                       for url, kind, *_ in w["rows"] if kind == "asset"})
        eab = semb.asset_base()
        stale = [rel for rel in rels if http_get(semb.base + eab + "/" + rel)[2] != disk(rel)]
        results["embeddedStale"] = stale
        print("embedded build vs portal/web on disk: "
              + ("the same files" if not stale else "differs in " + ", ".join(stale)))
        cdp_third = sorted({u for w in weights for u in w["cdpThirdParty"] + w["cdpThirdPartyEmbedded"]})
        print(f"third-party requests in the CDP network log, all pages, both servers: {len(cdp_third)}"
              + ("".join("\n  " + u for u in cdp_third)))
        results["cdpThirdParty"] = cdp_third

        # ---- time until Activate Product is usable
        print("\n## Time until Activate Product is usable, ms from navigationStart "
              f"(median / p90 of {a.runs}, nearest rank)")
        plan = [(sdisk, "mark"), (sdisk, "poll"), (semb, "poll")]
        if emb_mark:
            plan.insert(2, (semb, "mark"))
        scen_names = {"warm": "signed in, warm cache", "cold": "signed in, empty HTTP cache",
                      "signed-out": "signed out, empty HTTP cache"}
        print(f"{'server':<9} {'method':<6} {'scenario':<29} {'usable':>15} {'FCP':>15} "
              f"{'load':>15} {'req':>4} {'cached':>6}")
        # One signed-in Chromium per server (clearing the cache of one must
        # not empty the other's) and one signed-out Chromium; the runs of all
        # variants are interleaved so that a change in the machine's load
        # falls on all of them alike.
        signed_in = {}
        for server in {id(sv): sv for sv, _ in plan}.values():
            bi = Browser()
            browsers.append(bi)
            bi.sign_in(server.base)
            signed_in[server.name] = bi
        bo = Browser()
        browsers.append(bo)
        scenarios = ("warm", "cold", "signed-out")
        runs = {(sv.name, m, sc): [] for sv, m in plan for sc in scenarios}
        for i in range(a.warmups + a.runs):
            for scenario in scenarios:
                for server, method in plan:
                    b = bo if scenario == "signed-out" else signed_in[server.name]
                    r = one_run(server, method, scenario, b)
                    if i >= a.warmups:
                        runs[(server.name, method, scenario)].append(r)
        timings = []
        for scenario in scenarios:
            for server, method in plan:
                rs = runs[(server.name, method, scenario)]
                key = "mark" if method == "mark" else "poll"
                xs = [r[key] for r in rs]
                fcp = [r["fcp"] for r in rs]
                load = [r["load"] for r in rs]
                names = sorted({r["markName"] for r in rs if r["markName"]})
                t = {
                    "server": server.name, "method": method, "scenario": scenario,
                    "median": statistics.median(xs), "p90": pct(xs, 90),
                    "fcpMedian": statistics.median(fcp), "fcpP90": pct(fcp, 90),
                    "loadMedian": statistics.median(load),
                    "requests": sorted({r["resources"] + 1 for r in rs}),
                    "fromCache": sorted({r["fromCache"] for r in rs}),
                    "marks": names, "runs": rs,
                }
                if method == "poll" and all(r["mark"] is not None for r in rs):
                    lag = [r["poll"] - r["mark"] for r in rs]
                    t["pollLagMedian"] = statistics.median(lag)
                    t["markMedianDuringPoll"] = statistics.median(r["mark"] for r in rs)
                timings.append(t)
                req = "/".join(map(str, t["requests"]))
                cached = "/".join(map(str, t["fromCache"]))
                print(f"{server.name:<9} {method:<6} {scen_names[scenario]:<29} "
                      f"{t['median']:>6.1f} / {t['p90']:>6.1f} {t['fcpMedian']:>6.1f} / {t['fcpP90']:>6.1f} "
                      f"{t['loadMedian']:>15.1f} {req:>4} {cached:>6}")
        for b in list(signed_in.values()) + [bo]:
            b.quit()
            browsers.remove(b)
        results["timings"] = timings
        print("\nreq = requests incl. the document; cached = same-origin resources with transferSize 0 "
              "(served from the HTTP cache); load = loadEventEnd median.")
        for t in timings:
            if "pollLagMedian" in t:
                print(f"poll lag on {t['server']}, {t['scenario']}: the poll saw the state "
                      f"{t['pollLagMedian']:.1f} ms (median) after the mark "
                      f"(mark median during these polled runs {t['markMedianDuringPoll']:.1f} ms)")
        marks = sorted({n for t in timings for n in t["marks"]})
        print("marks seen: " + ", ".join(marks))

        # ---- against the targets
        print("\n## Against the targets")
        worst_gz = max(weights, key=lambda w: w["gz"])
        worst_served = max(weights, key=lambda w: w["servedEmbedded"])
        print(f"heaviest page, gzip -9 of everything: {worst_gz['label']} ({worst_gz['state']}) "
              f"{worst_gz['gz'] / 1024:.1f} KB (target <= {TARGET_GZ_KB} KB): "
              f"{'PASS' if all(w['gz'] <= TARGET_GZ_KB * 1024 for w in weights) else 'FAIL'}")
        print(f"heaviest page as served by the embedded build: {worst_served['label']} "
              f"({worst_served['state']}) {worst_served['servedEmbedded'] / 1024:.1f} KB")
        for t in timings:
            if t["scenario"] != "signed-out":
                ok = t["p90"] <= TARGET_USABLE_MS
                print(f"usable, {t['server']} {t['method']} {scen_names[t['scenario']]}: "
                      f"median {t['median']:.1f} ms, p90 {t['p90']:.1f} ms "
                      f"(target <= {TARGET_USABLE_MS} ms): {'PASS' if ok else 'FAIL'} at p90")
        n3 = sum(w["thirdParty"] + w["thirdPartyEmbedded"] for w in weights) + len(cdp_third)
        print(f"third-party requests: {n3} (target 0): {'PASS' if n3 == 0 else 'FAIL'}")
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        if a.json:
            with open(a.json, "w", encoding="utf-8") as f:
                json.dump(results, f, indent=1)
    finally:
        for b in browsers:
            try:
                b.quit()
            except Exception:
                pass
        for s in servers:
            s.stop()


def _expect(label, signed_in):
    if not signed_in:
        return "signed-out"
    return "ready"


if __name__ == "__main__":
    main()
