"""Times llmux from its start until /health answers 200, for each configuration given.

    startup.py LLMUX ROUNDS NAME=CONFIG...

The configurations take turns, ROUNDS times. /health is asked every millisecond from this one
process (a curl per poll would cost a process start each, tens of milliseconds on a slow
machine). Prints one line per configuration:
    NAME median_ms min_ms max_ms rss_kib
with the resident memory (median) read once /health has answered.
"""
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time


def answers(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one_start(llmux, config):
    with open(config, encoding="utf-8") as file:
        port = json.load(file)["port"]
    env = dict(os.environ, LLMUX_LOG="warn")
    started = time.monotonic()
    process = subprocess.Popen([llmux, "-c", config], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        while not answers(port):
            if process.poll() is not None:
                sys.exit(f"startup.py: llmux exited with {process.returncode} on {config}")
            if time.monotonic() - started > 60:
                sys.exit(f"startup.py: llmux never answered on {config}")
            time.sleep(0.001)
        elapsed_ms = (time.monotonic() - started) * 1000
        return elapsed_ms, rss_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()


def main():
    llmux, rounds = sys.argv[1], int(sys.argv[2])
    configs = [argument.split("=", 1) for argument in sys.argv[3:]]
    runs = {name: [] for name, _ in configs}
    for _ in range(rounds):
        for name, config in configs:
            runs[name].append(one_start(llmux, config))
    for name, _ in configs:
        times = [ms for ms, _ in runs[name]]
        rss = statistics.median(kib for _, kib in runs[name])
        print(f"{name} {statistics.median(times):.0f} {min(times):.0f} {max(times):.0f} {rss:.0f}")


if __name__ == "__main__":
    main()
