#!/usr/bin/env python3
"""Benchmark of the Dataverse emulator as a client sees it, over HTTPS with a real token.

Starts `leadbridge emulator --seed large` (1,000,000 contacts), then measures:
  - time from start to ready (seed generated and loaded);
  - latency of a 5000-row contacts page (first page and pages deep in the scan), time to last byte;
  - a full paged scan of all contacts with Prefer: odata.maxpagesize=5000 (rows/s);
  - the emulator process's peak resident memory (VmHWM).
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seed", default="large")
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="lb-bench-")
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [args.binary, "emulator", "--listen", f"127.0.0.1:{port}", "--state-dir", state, "--seed", args.seed],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info_path = os.path.join(state, "emulator.json")
    try:
        while not os.path.exists(info_path):
            if proc.poll() is not None:
                sys.exit("the emulator exited before it was ready")
            if time.monotonic() - started > 600:
                sys.exit("the emulator was not ready within 600 s")
            time.sleep(0.05)
        ready = time.monotonic() - started
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

        first = [fetch(url)[0] for _ in range(20)]
        scan_start = time.perf_counter()
        total, pages, deep, u = 0, 0, [], url
        while u:
            dt, rows, u = fetch(u)
            total += rows
            pages += 1
            if pages > 100 and len(deep) < 20:
                deep.append(dt)
        scan = time.perf_counter() - scan_start
        ms = lambda xs: f"p50 {statistics.median(xs)*1000:.1f} ms, max {max(xs)*1000:.1f} ms"
        print(f"seed={args.seed} ready_in={ready:.1f}s")
        print(f"first 5000-row page (20 requests): {ms(first)}")
        if deep:
            print(f"5000-row pages deep in the scan (20): {ms(deep)}")
        print(f"full scan: {total} rows in {pages} pages, {scan:.1f} s, {total/scan:,.0f} rows/s")
        print(f"emulator peak RSS: {peak_rss_mib(proc.pid):,.0f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
