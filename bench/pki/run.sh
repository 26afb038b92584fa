#!/usr/bin/env bash
# Measures certificate issuance against `openssl speed` (SPEC §13: "CSR signing on the hub: >= 90% of
# `openssl speed` for the same key type on one core") and key generation, and prints ONE JSON object.
#
# Usage: bench/pki/run.sh [BUILD_DIR]     (default: build; builds vmesh_pki_bench there if needed)
# Env:   PKI_BENCH_REPETITIONS (default 3; the median is reported), PKI_BENCH_CPU (default 0: both programs are
#        pinned to this core with taskset when available).
#
# "issuance" is what the hub does per CSR: verify the CSR's signature, build the certificate, sign it
# (IssueIntermediate with a pre-parsed CSR whose key has the same type as the root). "ratio" compares it with
# `openssl speed`'s sign/s for the root's key type; "ceiling_per_s" is what a perfect implementation of the
# same work could reach per openssl speed (one sign + one verify of the CSR's key type).
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir=${1:-build}
repetitions=${PKI_BENCH_REPETITIONS:-3}
cpu=${PKI_BENCH_CPU:-0}
bench="$build_dir/bench/pki/vmesh_pki_bench"

if [ ! -x "$bench" ]; then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    echo "run.sh: $build_dir is not a configured build directory (cmake -S . -B $build_dir first)" >&2
    exit 2
  fi
  cmake --build "$build_dir" --target vmesh_pki_bench >&2
fi
command -v openssl >/dev/null || { echo "run.sh: the openssl command-line tool is required" >&2; exit 2; }

pin=()
if command -v taskset >/dev/null && taskset -c "$cpu" true 2>/dev/null; then pin=(taskset -c "$cpu"); fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Shared machines drift (turbo, busy neighbours) by 10% and more within a minute, so each key type is measured
# in its own sandwich: openssl speed, our benchmarks for that key type, openssl speed again (the reference is
# the mean of the two openssl runs).
speed() {  # <algorithm>
  echo "run.sh: openssl speed -seconds 2 $1" >&2
  "${pin[@]}" openssl speed -seconds 2 "$1" 2>/dev/null
}
run_bench() {  # <name> <filter>
  echo "run.sh: $bench --benchmark_filter='$2' (repetitions: $repetitions)" >&2
  "${pin[@]}" "$bench" --benchmark_format=json --benchmark_filter="$2" --benchmark_repetitions="$repetitions" \
    --benchmark_report_aggregates_only=true >"$tmp/bench-$1.json"
}
: >"$tmp/speed.txt"
speed rsa4096 >>"$tmp/speed.txt"
run_bench rsa4096 '^(IssueIntermediate|VerifyCsr|IssueRoot)/rsa4096$'
speed rsa4096 >>"$tmp/speed.txt"
speed ecdsap256 >>"$tmp/speed.txt"
run_bench ecdsap256 '^(IssueIntermediate|VerifyCsr|IssueRoot)/ecdsap256'
speed ecdsap256 >>"$tmp/speed.txt"
run_bench keygen '^GenerateKey/'

cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
python3 - "$tmp" "$tmp/speed.txt" "$(openssl version)" "$cpu_model" "${pin[*]:+$cpu}" <<'EOF'
import json
import re
import sys

bench_dir, speed_path, openssl_version, cpu_model, pinned_cpu = sys.argv[1:6]
benchmarks = []
for part in ("rsa4096", "ecdsap256", "keygen"):
    with open(f"{bench_dir}/bench-{part}.json") as f:
        benchmarks += json.load(f)["benchmarks"]

rates = {}  # run_name -> median items_per_second
for b in benchmarks:
    if b.get("aggregate_name", "median") == "median" and "items_per_second" in b:
        name = re.sub(r"/(min_time|repeats):[^/]*", "", b.get("run_name", b["name"]))
        rates[name] = b["items_per_second"]

runs = {}  # "rsa4096" / "ecdsap256" -> [(sign/s, verify/s), ...], one per openssl speed run
with open(speed_path) as f:
    for line in f:
        m = re.match(r"^rsa\s+(\d+)\s+bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            runs.setdefault("rsa" + m.group(1), []).append((float(m.group(2)), float(m.group(3))))
        m = re.match(r"^\s*\d+\s+bits\s+ecdsa\s+\(nist(p\d+)\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            runs.setdefault("ecdsa" + m.group(1), []).append((float(m.group(2)), float(m.group(3))))
speed = {alg: (sum(s for s, _ in v) / len(v), sum(v_ for _, v_ in v) / len(v)) for alg, v in runs.items()}


def r(x, digits=1):
    return None if x is None else round(x, digits)


issuance = {}
for alg in ("rsa4096", "ecdsap256"):
    ours = rates.get(f"IssueIntermediate/{alg}")
    sign, verify = speed.get(alg, (None, None))
    ceiling = 1.0 / (1.0 / sign + 1.0 / verify) if sign and verify else None
    issuance[alg] = {
        "issuance_per_s": r(ours),
        "openssl_sign_per_s": r(sign),
        "openssl_sign_per_s_runs": [r(s_) for s_, _ in runs.get(alg, [])],
        "ratio": r(ours / sign, 3) if ours and sign else None,
        "meets_target": bool(ours and sign and ours >= 0.9 * sign),
        "csr_verify_per_s": r(rates.get(f"VerifyCsr/{alg}")),
        "openssl_verify_per_s": r(verify),
        "build_and_sign_per_s": r(rates.get(f"IssueRoot/{alg}")),
        "ceiling_per_s": r(ceiling),
        "ratio_to_ceiling": r(ours / ceiling, 3) if ours and ceiling else None,
    }

out = {
    "benchmark": "vmesh common/pki issuance vs openssl speed (one core)",
    "target": "issuance_per_s >= 0.9 * openssl_sign_per_s for the same key type (SPEC 13)",
    "openssl": openssl_version,
    "cpu": cpu_model,
    "pinned_cpu": int(pinned_cpu) if pinned_cpu else None,
    "issuance": issuance,
    "issuance_ecdsap256_root_rsa4096_csr_per_s": r(rates.get("IssueIntermediate/ecdsap256_root_rsa4096_csr")),
    "keygen_per_s": {
        "rsa2048": r(rates.get("GenerateKey/rsa2048"), 2),
        "rsa4096": r(rates.get("GenerateKey/rsa4096"), 2),
        "ecdsap256": r(rates.get("GenerateKey/ecdsap256")),
        "ecdsap384": r(rates.get("GenerateKey/ecdsap384")),
    },
}
print(json.dumps(out, indent=2))
EOF
