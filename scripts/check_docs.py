#!/usr/bin/env python3
"""Runs the shell blocks of markdown documents, as a reader would.

Usage: scripts/check_docs.py [--verbose] [--max-seconds N] [--cargo-timeout N] DOC.md...

Every fenced block whose language is sh, bash or shell is a command block.
Its info string says how it runs (after the language, shell-quoted):

    ```sh                          runs; must exit 0
    ```sh expect="alreadyMember"   runs; its stdout must contain the text
                                   (expect= may be repeated)
    ```sh background port=3000     a server in a terminal of its own: started
                                   in the background in a fresh shell (it
                                   sees none of the session's exports), ready
                                   when 127.0.0.1:3000 answers, stopped when
                                   the document ends (or when a later
                                   background block of the document takes the
                                   same port: the reader's Ctrl-C)
    ```sh no-run="needs Docker"    not run here; counted and its reason printed
    ```sh timeout=600              another limit (default: 300 s for a block
                                   that runs cargo, which may compile first
                                   (--cargo-timeout changes that, e.g. for a
                                   cold target/); else 60 s)

Blocks in other languages (json, text, yaml, ...) are not commands and are
not run. A fence without a language, an unknown attribute and an indented
code block are errors, so no command escapes the check unnoticed.

The other blocks of one document run in order in ONE bash session (set
-euo pipefail), in the repository root, so exports carry from block to
block; documents do not share anything. The session starts from this process's
environment without the project's configuration variables (PORT, STORE,
SEED_FILE, AWS_*, ...) and without ~/.aws: a document has to set what it
uses. The first
failing block ends its document. Background servers are stopped by their
process group (SIGTERM, then SIGKILL after 10 s) at the end of the document,
whatever happened. A document that leaves new untracked files in the
repository fails. The ports the documents use must be free at the start:
nothing that this check did not start is ever stopped.

Exit status: 0 when every block passed, 1 otherwise. Python 3 stdlib only.
"""

import argparse
import os
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHELL_LANGS = {"sh", "bash", "shell"}
STOP_GRACE = 10  # seconds between SIGTERM and SIGKILL
TAIL_LINES = 25

# Configuration a document must set itself, never inherit from the caller
# (the test command exports some of these for the tests).
CLEARED_PREFIXES = ("AWS_", "TEST_", "PORTAL_", "OIDC_", "REDEEM_", "CONTACT_")
CLEARED_NAMES = {
    "PORT", "SEED_FILE", "STORE", "TABLE_NAME", "CREATE_TABLE", "MAILER",
    "SENDER_EMAIL", "OUTBOX_FILE", "DEV_JWT_SECRET", "RUST_LOG",
    "API", "TOKEN", "OWNER_TOKEN", "LICENSE", "CODE", "INVITE_URL", "INVITE_TOKEN",
    "ENDPOINT", "NET", "PARAMS", "SAM_CLI_TELEMETRY",
}
KEPT_NAMES = {"AWS_CA_BUNDLE"}  # the machine's trust store, not configuration

# The session: reads "run N" on stdin, answers on stdout. A block's own
# stdin is /dev/null and its output goes to files, so the two channels stay
# the driver's.
DRIVER = r"""
set -euo pipefail
__dir=$1
while IFS=' ' read -r __kind __n; do
  source "$__dir/block-$__n.sh" </dev/null >"$__dir/out-$__n" 2>"$__dir/err-$__n"
  echo "done $__n"
done
"""
# A background block: a fresh shell in its own process group (a terminal of
# its own), so that it can be stopped with everything it started.
BACKGROUND = 'set -euo pipefail; source "$1"'



class DocError(Exception):
    """A document the check cannot run as it is written."""


class Block:
    cargo_timeout = 300

    def __init__(self, doc, line, lang, attrs, text):
        self.doc, self.line, self.lang, self.text = doc, line, lang, text
        self.expect = []
        self.background = False
        self.port = None
        self.no_run = None
        self.timeout = None
        for attr in attrs:
            key, eq, value = attr.partition("=")
            if key == "background" and not eq:
                self.background = True
            elif key == "port" and value.isdigit():
                self.port = int(value)
            elif key == "expect" and value:
                self.expect.append(value)
            elif key == "no-run" and value.strip():
                self.no_run = value.strip()
            elif key == "timeout" and value.isdigit():
                self.timeout = int(value)
            else:
                raise DocError(f"{self.where}: unknown block attribute {attr!r}")
        if self.background and self.port is None and not self.no_run:
            raise DocError(f"{self.where}: a background block needs port=N (what to wait for)")
        if self.port is not None and not self.background:
            raise DocError(f"{self.where}: port= is for background blocks")
        if self.background and self.expect:
            raise DocError(f"{self.where}: expect= is for blocks that end, not background ones")
        if self.timeout is None:
            self.timeout = Block.cargo_timeout if re.search(r"\bcargo\b", text) else 60

    @property
    def where(self):
        return f"{self.doc}:{self.line}"

    @property
    def summary(self):
        first = next((l.strip() for l in self.text.splitlines() if l.strip()), "")
        return first if len(first) <= 70 else first[:67] + "..."


FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s")


def parse(doc):
    """The fenced blocks of a markdown file, in order."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks, i, prev, prev_nonblank = [], 0, "", ""
    while i < len(lines):
        line = lines[i]
        m = FENCE.match(line)
        if not m:
            indented = line.startswith("    ") or line.startswith("\t")
            if indented and line.strip() and not prev.strip():
                in_list = prev_nonblank.startswith((" ", "\t")) or LIST_ITEM.match(prev_nonblank)
                if not in_list:
                    raise DocError(
                        f"{doc}:{i + 1}: an indented code block; fence it (```sh to run it, "
                        "```text for anything else) so the check sees it")
            prev = line
            if line.strip():
                prev_nonblank = line
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            l = lines[i]
            body.append(l[min(indent, len(l) - len(l.lstrip(" "))):])
            i += 1
        else:
            raise DocError(f"{doc}:{start}: the fence is never closed")
        i += 1
        prev, prev_nonblank = "", "```"
        if not info:
            raise DocError(f"{doc}:{start}: a fence needs a language (sh to run it, text otherwise)")
        try:
            words = shlex.split(info)
        except ValueError as e:
            raise DocError(f"{doc}:{start}: cannot read the info string {info!r}: {e}")
        lang = words[0].lower()
        if lang in SHELL_LANGS:
            blocks.append(Block(doc, start, lang, words[1:], "\n".join(body) + "\n"))
    return blocks


def port_answers(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            return False


def group_alive(pgid):
    """Whether any process of the group is alive (zombies do not count)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def stop_group(pgid, grace=STOP_GRACE):
    """SIGTERM to the group, SIGKILL after `grace` seconds; bounded."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not group_alive(pgid):
                return True
            time.sleep(0.1)
    return not group_alive(pgid)


def stop_job(job):
    """Stops a background block's process group and reaps its shell."""
    stopped = stop_group(job.pid)
    try:
        job.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    return stopped


def tail(path, n=TAIL_LINES):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    cut = lines[-n:]
    prefix = f"      ... ({len(lines) - n} lines before)\n" if len(lines) > n else ""
    return prefix + "\n".join("      | " + l for l in cut)


def untracked():
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return {l[3:] for l in out.stdout.splitlines() if l.startswith("?? ")}


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if k in KEPT_NAMES or not (k.startswith(CLEARED_PREFIXES) or k in CLEARED_NAMES)}
    # Nor region or credentials from ~/.aws: a newcomer has none.
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/check-docs"
    env["PWD"] = ROOT
    return env


class Session:
    """One bash session running one document's blocks."""

    def __init__(self, doc, workdir, verbose, deadline):
        self.doc, self.dir, self.verbose, self.deadline = doc, workdir, verbose, deadline
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-c", DRIVER, "check-docs", workdir],
            cwd=ROOT, env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(workdir, "driver.err"), "w"), text=True, bufsize=1,
            start_new_session=True)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.jobs = {}  # port -> (Popen, block); the pgid is the Popen's pid
        self.t0 = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.t0

    def _answer(self, timeout):
        """The driver's next line, None on timeout, "" if it exited."""
        end = min(time.monotonic() + timeout, self.deadline)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            if self.sel.select(left):
                return self.proc.stdout.readline()

    def _kill_driver(self):
        if self.proc.poll() is None:
            stop_group(self.proc.pid, grace=5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def run(self, n, block):
        """Runs a foreground block; returns None or a failure message."""
        self.proc.stdin.write(f"run {n}\n")
        self.proc.stdin.flush()
        line = self._answer(block.timeout)
        if line is None:
            self._kill_driver()
            limit = "the whole run's limit" if time.monotonic() >= self.deadline else f"{block.timeout} s"
            return f"did not finish within {limit} (stopped)"
        if line == "":
            rc = self.proc.wait()
            return f"exited with status {rc}"
        out = open(os.path.join(self.dir, f"out-{n}"), errors="replace").read()
        missing = [e for e in block.expect if e not in out]
        if missing:
            return "its output lacks " + ", ".join(repr(m) for m in missing)
        return None

    def start(self, n, block):
        """Starts a background block and waits for its port."""
        held = self.jobs.pop(block.port, None)
        if held:
            job, old = held
            print(f"        (stopping {old.where} on port {block.port} first: the reader's Ctrl-C)")
            if not stop_job(job):
                return f"could not stop {old.where} (process group {job.pid})"
            if not wait_port_free(block.port, 10):
                return f"port {block.port} still answers after {old.where} stopped"
        if port_answers(block.port):
            return (f"port {block.port} already answers, and not because of this document: "
                    "stop whatever listens there and rerun")
        script = os.path.join(self.dir, f"block-{n}.sh")
        with open(os.path.join(self.dir, f"out-{n}"), "w") as out, \
                open(os.path.join(self.dir, f"err-{n}"), "w") as err:
            job = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-c", BACKGROUND, "check-docs", script],
                cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True)
        self.jobs[block.port] = (job, block)
        end = min(time.monotonic() + block.timeout, self.deadline)
        while not port_answers(block.port):
            if not group_alive(job.pid):
                self.jobs.pop(block.port, None)
                return f"exited (status {job.wait()}) before port {block.port} answered"
            if time.monotonic() > end:
                return f"port {block.port} did not answer within {block.timeout} s"
            time.sleep(0.2)
        return None

    def background_logs(self):
        out = []
        for port, (_, block) in self.jobs.items():
            n = block.n
            err = tail(os.path.join(self.dir, f"err-{n}"), 10)
            log = tail(os.path.join(self.dir, f"out-{n}"), 10)
            out.append(f"    background {block.where} (port {port}), last output:\n"
                       f"{log or '      (no stdout)'}\n{err or '      (no stderr)'}")
        return "\n".join(out)

    def close(self):
        """Stops the background servers (newest first), then the session."""
        problems = []
        for port, (job, block) in reversed(list(self.jobs.items())):
            if not stop_job(job):
                problems.append(f"{block.where}: process group {job.pid} survived SIGKILL")
            elif not wait_port_free(port, 10):
                problems.append(f"{block.where}: port {port} still answers after it stopped")
        self.jobs.clear()
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill_driver()
        self.sel.close()
        self.proc.stdout.close()
        return problems


def wait_port_free(port, seconds):
    end = time.monotonic() + seconds
    while port_answers(port):
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


def check(doc, blocks, args, deadline):
    """Runs one document; returns the number of failures."""
    runnable = [b for b in blocks if not b.no_run]
    skipped = [b for b in blocks if b.no_run]
    print(f"== {doc}: {len(blocks)} shell blocks ({len(runnable)} to run, {len(skipped)} marked no-run)")
    before = untracked()
    workdir = tempfile.mkdtemp(prefix="check-docs.")
    failed = 0
    ran = background = 0
    session = Session(doc, workdir, args.verbose, deadline)
    try:
        for n, block in enumerate(blocks):
            block.n = n
            if block.no_run:
                print(f"  skip  {block.where:<22} no-run: {block.no_run}")
                continue
            if failed:
                print(f"  -     {block.where:<22} not run (an earlier block failed)")
                continue
            with open(os.path.join(workdir, f"block-{n}.sh"), "w") as f:
                f.write(block.text)
            t = time.monotonic()
            if block.background:
                why = session.start(n, block)
                kind = f"background port={block.port}"
            else:
                why = session.run(n, block)
                kind = "sh"
            took = time.monotonic() - t
            ran += 1
            background += block.background
            if why is None:
                done = "ready" if block.background else "ok"
                print(f"  {done:<5} {block.where:<22} {took:6.1f} s  (at {session.elapsed():6.1f} s)  "
                      f"{kind}: {block.summary}")
                if args.verbose and not block.background:
                    print(tail(os.path.join(workdir, f"out-{n}")))
                continue
            failed += 1
            print(f"  FAIL  {block.where:<22} {took:6.1f} s  {kind}: {why}")
            print("    the block:\n" + "\n".join("      > " + l for l in block.text.rstrip().splitlines()))
            out, err = (tail(os.path.join(workdir, f"{k}-{n}")) for k in ("out", "err"))
            print(f"    stdout (tail):\n{out or '      (empty)'}")
            print(f"    stderr (tail):\n{err or '      (empty)'}")
            driver = tail(os.path.join(workdir, "driver.err"), 10)
            if driver:
                print(f"    session stderr:\n{driver}")
            logs = session.background_logs()
            if logs:
                print(logs)
    finally:
        for problem in session.close():
            failed += 1
            print(f"  FAIL  {problem}")
    after = untracked()
    if before is not None and after is not None and after - before:
        failed += 1
        print(f"  FAIL  {doc} left files in the repository: {', '.join(sorted(after - before))}")
    if failed:
        print(f"    (block outputs kept in {workdir})")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"== {doc}: {ran} run ({background} background), "
          f"{len(skipped)} skipped, {failed} failed, in {session.elapsed():.1f} s")
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", nargs="+", metavar="DOC.md")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every block's stdout")
    parser.add_argument("--max-seconds", type=int, default=1800,
                        help="limit for the whole run (default 1800)")
    parser.add_argument("--cargo-timeout", type=int, default=300,
                        help="limit for a block that runs cargo, unless it sets timeout= (default 300)")
    args = parser.parse_args()
    Block.cargo_timeout = args.cargo_timeout

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    try:
        parsed = [(doc, parse(doc)) for doc in args.docs]
    except (DocError, OSError) as e:
        print(f"check_docs: {e}", file=sys.stderr)
        return 1
    ports = sorted({b.port for _, bs in parsed for b in bs if b.port and not b.no_run})
    busy = [p for p in ports if port_answers(p)]
    if busy:
        print(f"check_docs: port(s) {', '.join(map(str, busy))} already in use. The documents "
              f"start their servers on fixed ports ({', '.join(map(str, ports))}); stop what "
              "listens there and rerun. Nothing was stopped.", file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.max_seconds
    failed = 0
    t0 = time.monotonic()
    try:
        for doc, blocks in parsed:
            failed += check(doc, blocks, args, deadline)
    except KeyboardInterrupt:
        print("check_docs: interrupted", file=sys.stderr)
        return 130
    total = sum(len(bs) for _, bs in parsed)
    skipped = sum(1 for _, bs in parsed for b in bs if b.no_run)
    verdict = "FAILED" if failed else "ok"
    print(f"check_docs: {verdict}: {len(parsed)} document(s), {total} shell blocks, "
          f"{skipped} skipped by their no-run mark, {failed} failure(s), {time.monotonic() - t0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
