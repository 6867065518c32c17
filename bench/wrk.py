"""Runs wrk (https://github.com/wg/wrk) against one URL and reads its summary."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
THREADS = 2
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class Result:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx responses, socket errors and timeouts


def run(
    url: str,
    *,
    seconds: int,
    connections: int,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    script_args: tuple[str, ...] = (),
) -> Result:
    command = ["wrk", "--latency", f"-t{min(THREADS, connections)}", f"-c{connections}", f"-d{seconds}s"]
    command += ["--timeout", "30s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(LUA_DIR / script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    return parse(output)


def parse(output: str) -> Result:
    def latency(percent: str) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if not found:
            raise ValueError(f"no {percent}% latency in wrk output:\n{output}")
        return float(found.group(1)) * UNITS[found.group(2)]

    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Result(requests, rps, latency("50"), latency("99"), errors)
