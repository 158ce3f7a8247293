"""Time from `make run` on a fresh clone to the first image, through the web UI.

    python3 bench/first_image.py            # clones this repo to a temp dir and runs it

Starts `make run` with ADMIN_PASSWORD set, waits for /healthz, logs in as admin,
sends the composer form, polls the generation page until it succeeds, and prints the
seconds for each phase. Uses only the standard library so it can run before the
virtualenv exists.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

PORT = int(os.environ.get("PORT", "8017"))
BASE = f"http://127.0.0.1:{PORT}"


def main() -> None:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    workdir = tempfile.mkdtemp(prefix="nb-first-image-")
    subprocess.run(["git", "clone", "-q", repo, workdir], check=True)
    env = {**os.environ, "ADMIN_PASSWORD": "first-image-bench", "PORT": str(PORT)}
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "run", f"PORT={PORT}"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        while True:
            try:
                opener.open(f"{BASE}/healthz", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    sys.exit("make run exited early")
                time.sleep(0.2)
        up = time.monotonic() - started
        page = opener.open(f"{BASE}/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        opener.open(
            f"{BASE}/login/",
            urllib.parse.urlencode(
                {"csrfmiddlewaretoken": token, "username": "admin", "password": "first-image-bench"}
            ).encode(),
        )
        page = opener.open(f"{BASE}/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = opener.open(
            f"{BASE}/",
            urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": token,
                    "prompt": "a first banana",
                    "provider": "demo",
                    "model": "gemini-3-pro-image-preview",
                    "aspect_ratio": "1:1",
                    "size": "1K",
                    "n": 1,
                    "visibility": "team",
                }
            ).encode(),
        )
        generation_url = response.geturl()
        while 'data-status="succeeded"' not in opener.open(generation_url).read().decode():
            time.sleep(0.2)
        total = time.monotonic() - started
        print(f"make run -> server up: {up:.1f} s; -> first image stored: {total:.1f} s ({generation_url})")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
