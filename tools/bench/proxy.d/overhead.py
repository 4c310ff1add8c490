"""Summarises the overhead runs of tools/bench/proxy: reads lines
`TARGET CONNECTIONS ROUND RESULT requests=.. errors=.. non2xx=.. rps=.. p50=.. p99=.. p999=..`
and prints Markdown: per connection count, each target's median throughput and latency, the
latency it adds over the engine reached directly, and llmux's ratios against nginx. An argument,
if given, names what the second column counts (default: connections)."""
import collections
import statistics
import sys

runs = collections.defaultdict(list)
# Each run's fields by (target, connections, round), for the ratios round by round.
by_round = {}
for line in sys.stdin:
    parts = line.split()
    if len(parts) < 4 or parts[3] != "RESULT":
        continue
    target, conns = parts[0], int(parts[1])
    fields = {k: float(v) for k, v in (p.split("=") for p in parts[4:])}
    runs[(target, conns)].append(fields)
    by_round[(target, conns, parts[2])] = fields

def median(target, conns, key):
    values = [r[key] for r in runs[(target, conns)]]
    return statistics.median(values) if values else float("nan")

def spread(target, conns, key):
    values = [r[key] for r in runs[(target, conns)]]
    return f"{min(values):.0f}–{max(values):.0f}" if values else "-"

targets = ["direct", "nginx", "llmux"]
unit = sys.argv[1] if len(sys.argv) > 1 else None
for conns in sorted({c for _, c in runs}):
    print(f"#### {conns:,} {unit}\n" if unit else
          f"#### {conns} connection{'s' if conns > 1 else ''}\n")
    print("| path | req/s (median) | req/s (all runs) | p50 µs | p99 µs | p99.9 µs "
          "| added p50 µs | added p99 µs | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for target in targets:
        if not runs[(target, conns)]:
            continue
        errors = sum(r["errors"] + r["non2xx"] for r in runs[(target, conns)])
        added50 = median(target, conns, "p50") - median("direct", conns, "p50")
        added99 = median(target, conns, "p99") - median("direct", conns, "p99")
        added = ("-", "-") if target == "direct" else (f"{added50:.0f}", f"{added99:.0f}")
        print(f"| {target} | {median(target, conns, 'rps'):.0f} | {spread(target, conns, 'rps')} "
              f"| {median(target, conns, 'p50'):.0f} | {median(target, conns, 'p99'):.0f} "
              f"| {median(target, conns, 'p999'):.0f} | {added[0]} | {added[1]} | {errors:.0f} |")
    if runs[("llmux", conns)] and runs[("nginx", conns)]:
        ratio = median("llmux", conns, "rps") / median("nginx", conns, "rps")
        a_l = median("llmux", conns, "p50") - median("direct", conns, "p50")
        a_n = median("nginx", conns, "p50") - median("direct", conns, "p50")
        b_l = median("llmux", conns, "p99") - median("direct", conns, "p99")
        b_n = median("nginx", conns, "p99") - median("direct", conns, "p99")
        print(f"\nllmux / nginx: throughput {ratio:.2f}x; added latency p50 "
              f"{a_l / a_n:.2f}x, p99 {b_l / b_n:.2f}x (below 1 is better than nginx).\n"
              if a_n > 0 and b_n > 0 else
              f"\nllmux / nginx: throughput {ratio:.2f}x.\n")
        rounds = [r for (t, c, r) in by_round if t == "nginx" and c == conns
                  and ("llmux", c, r) in by_round and ("direct", c, r) in by_round]

        def paired(ratio):
            values = [ratio(by_round[("llmux", conns, r)], by_round[("nginx", conns, r)],
                            by_round[("direct", conns, r)]) for r in rounds]
            return [v for v in values if v is not None]

        def added_ratio(key):
            def ratio(llmux, nginx, direct):
                nginx_added = nginx[key] - direct[key]
                return (llmux[key] - direct[key]) / nginx_added if nginx_added > 0 else None
            return ratio

        def listed(name, values):
            return (f"{name} " + ", ".join(f"{v:.2f}x" for v in values)
                    + f" (median {statistics.median(values):.2f}x)")

        if len(rounds) > 1:
            # Ratios within a round compare runs seconds apart, which the machine's drift
            # disturbs less than medians taken over the whole run.
            lines = [] if unit else [listed("throughput", paired(lambda l, n, d: l["rps"] / n["rps"]))]
            for key in ("p50", "p99"):
                values = paired(added_ratio(key))
                if values:
                    lines.append(listed(f"added {key}", values))
            print("Round by round, llmux / nginx: " + "; ".join(lines) + ".\n")
