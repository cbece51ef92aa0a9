"""A real browser for the console's tests: Debian's `chromium`, driven by Playwright's bundled
driver (no browser download: Playwright's own builds come from a host we do not use).

`ensure_chromium` installs the apt package when /usr/bin/chromium is missing (the test set-up
runs as root on a fresh machine); `ensure_console_built` builds the console the way
`make install` does, for a run of pytest without make.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CONSOLE = Path(__file__).resolve().parent.parent / "api" / "console"


def ensure_chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail(f"{CHROMIUM} is missing and cannot be installed here (needs root and apt-get): apt-get install -y chromium")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([apt, "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([apt, "install", "-y", "-q", "--no-install-recommends", "chromium"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    assert CHROMIUM.exists(), "apt-get installed chromium, but not at /usr/bin/chromium"
    return CHROMIUM


def ensure_console_built() -> None:
    if (CONSOLE / "dist" / "console.js").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the console is not built and npm is missing: run `make install`")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CONSOLE, check=True)
    subprocess.run([npm, "run", "build", "--silent"], cwd=CONSOLE, check=True)


# Root cannot use chromium's sandbox; the pages are our own.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
