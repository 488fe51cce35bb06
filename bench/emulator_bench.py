#!/usr/bin/env python3
"""Benchmark of the Dataverse emulator as a client sees it, over HTTPS with a real token.

Starts `leadbridge emulator --seed large` (1,000,000 contacts) on a new state directory, then
measures:
  - time from start to ready (seed generated, loaded and saved to the state directory);
  - latency of a 5000-row contacts page (first page and pages deep in the scan), time to last byte;
  - a full paged scan of all contacts with Prefer: odata.maxpagesize=5000 (rows/s);
  - the emulator process's peak resident memory (VmHWM).
Then it stops the emulator (SIGTERM), starts it again on the same directory and measures the time
to ready (the org read back from org.data) and the first pages again. The emulator's own timings
(seed, save, read) come from its log.
The client reads bodies as bytes and finds @odata.nextLink at the end, so the JSON parsing
speed of Python does not count against the server.

Usage: bench/emulator_bench.py PATH/TO/leadbridge [--seed large|medium|small]
"""
import argparse, json, os, re, socket, statistics, subprocess, sys, tempfile, time

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ms(xs):
    return f"p50 {statistics.median(xs)*1000:.1f} ms, max {max(xs)*1000:.1f} ms"


def run(binary, state, seed, scan, log_path):
    """One emulator run on `state`; returns what it measured."""
    port = free_port()
    info_path = os.path.join(state, "emulator.json")
    if os.path.exists(info_path):
        os.remove(info_path)
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [binary, "emulator", "--listen", f"127.0.0.1:{port}", "--state-dir", state, "--seed", seed],
            stdout=subprocess.DEVNULL, stderr=log,
            env=dict(os.environ, RUST_LOG="info,dataverse_emulator=debug", NO_COLOR="1"))
    out = {}
    try:
        # The emulator writes emulator.json once it is ready to serve.
        while not os.path.exists(info_path):
            if proc.poll() is not None:
                sys.exit(f"the emulator exited before it was ready; see {log_path}")
            if time.monotonic() - started > 600:
                sys.exit("the emulator was not ready within 600 s")
            time.sleep(0.05)
        out["ready"] = time.monotonic() - started
        # A new org is saved in the background right after start: measure when it is on disk, and
        # keep that work out of the latency figures.
        data_path = os.path.join(state, "org.data")
        while not os.path.exists(data_path):
            if time.monotonic() - started > 600:
                sys.exit("the org was not saved within 600 s")
            time.sleep(0.05)
        out["saved"] = time.monotonic() - started
        time.sleep(0.2)
        info = json.load(open(info_path))
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
        s.verify = info["ca_cert"]
        tok = s.post(f"{info['authority_url']}/{info['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": info["client_id"],
            "client_secret": info["client_secret"], "scope": info["org_url"] + "/.default"}).json()["access_token"]
        s.headers.update({"Authorization": "Bearer " + tok, "Accept": "application/json",
                          "Prefer": "odata.maxpagesize=5000"})
        url = info["api_url"] + "/contacts?$select=fullname,emailaddress1,jobtitle,_parentcustomerid_value"
        next_link = re.compile(rb'"@odata\.nextLink":"([^"]+)"\}$')

        def fetch(u):
            t0 = time.perf_counter()
            r = s.get(u)
            body = r.content
            dt = time.perf_counter() - t0
            if r.status_code != 200:
                sys.exit(f"HTTP {r.status_code}: {body[:300]!r}")
            m = next_link.search(body)
            rows = body.count(b'"@odata.etag"')
            return dt, rows, (m.group(1).decode().replace("\\/", "/") if m else None)

        out["first"] = [fetch(url)[0] for _ in range(20)]
        if scan:
            scan_start = time.perf_counter()
            total, pages, deep, u = 0, 0, [], url
            while u:
                dt, rows, u = fetch(u)
                total += rows
                pages += 1
                if pages > 100 and len(deep) < 20:
                    deep.append(dt)
            out["scan"] = (total, pages, time.perf_counter() - scan_start)
            out["deep"] = deep
        out["rss"] = peak_rss_mib(proc.pid)
    finally:
        stop_start = time.monotonic()
        proc.terminate()
        proc.wait(timeout=120)
        out["stop"] = time.monotonic() - stop_start
    return out


def emulator_timings(log_path):
    """The emulator's `… ms=N` lines: how long creating, saving or reading the org took."""
    lines = []
    for line in open(log_path, errors="replace"):
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        m = (re.search(r"(new org created|org read from the state directory) ms=(\d+)", line)
             or re.search(r"(org saved) .*total_ms=(\d+)", line))
        if m:
            lines.append(f"{m.group(1)}: {int(m.group(2)) / 1000:.1f} s")
    return lines


def handled_times(log_path, count):
    """Server-side time (request received to response built) of the first `count` contacts pages,
    from the emulator's debug log, in seconds."""
    out = []
    for line in open(log_path, errors="replace"):
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        m = re.search(r"path=contacts .*handled_us=(\d+)", line)
        if m:
            out.append(int(m.group(1)) / 1e6)
    return out[:count]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seed", default="large")
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="lb-bench-")
    first = run(args.binary, state, args.seed, True, os.path.join(state, "run1.log"))
    size = os.path.getsize(os.path.join(state, "org.data"))
    second = run(args.binary, state, args.seed, False, os.path.join(state, "run2.log"))

    print(f"seed={args.seed} state_dir={state}")
    print(f"new state dir: ready in {first['ready']:.1f} s, org.data written {first['saved']:.1f} s "
          f"after start ({'; '.join(emulator_timings(os.path.join(state, 'run1.log')))})")
    print(f"first 5000-row page (20 requests): {ms(first['first'])}; the first request "
          f"{first['first'][0]*1000:.1f} ms")
    served = handled_times(os.path.join(state, "run1.log"), 20)
    if served:
        print(f"  of which in the emulator's handler: {ms(served)}; the first request "
              f"{served[0]*1000:.1f} ms")
    if first.get("deep"):
        print(f"5000-row pages deep in the scan (20): {ms(first['deep'])}")
    total, pages, scan = first["scan"]
    print(f"full scan: {total} rows in {pages} pages, {scan:.1f} s, {total/scan:,.0f} rows/s")
    print(f"emulator peak RSS: {first['rss']:,.0f} MiB; stopped (SIGTERM) in {first['stop']:.1f} s")
    print(f"org.data: {size / 2**20:,.0f} MiB")
    print(f"restart on the same state dir: ready in {second['ready']:.1f} s "
          f"({'; '.join(emulator_timings(os.path.join(state, 'run2.log')))})")
    print(f"first 5000-row page after the restart (20 requests): {ms(second['first'])}; "
          f"the first request {second['first'][0]*1000:.1f} ms")
    served = handled_times(os.path.join(state, "run2.log"), 20)
    if served:
        print(f"  of which in the emulator's handler: {ms(served)}; the first request "
              f"{served[0]*1000:.1f} ms")
    print(f"emulator peak RSS after the restart: {second['rss']:,.0f} MiB")


if __name__ == "__main__":
    main()
