#!/usr/bin/env bash
# Two builds of OnnxGpt in turns, in one run: the working tree against BASE (a commit), for a change's own ratio
# (this VM drifts +-20% within seconds, so two separate runs cannot be compared).
#
#   tools/ab-bench.sh BASE [--rounds N] [--concurrency] -- [onnxgpt bench arguments]
#
# Builds the CLI (Release) of BASE in a detached worktree under ${AB_DIR:-/tmp/onnxgpt-ab} and of the working tree,
# then runs `onnxgpt bench --json -i onnxgpt --runs 1 ARGS` (or `onnxgpt bench concurrency --json ARGS`) N times for
# each build (default 5), alternating which goes first (ABBA...), from this checkout's root, so that both read the
# same model folders (run `onnxgpt bench prepare` first for the benchmark graphs). Prints each round's figures, the
# medians and the medians of the per-round ratios (working tree / BASE). Needs python3 for the summary.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 ]] || usage
base=$1; shift
rounds=5
mode=main
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --concurrency) mode=concurrency; shift ;;
    *) usage ;;
  esac
done
[[ ${1:-} == -- ]] && shift

root=$(git rev-parse --show-toplevel)
cd "$root"
sha=$(git rev-parse --verify "$base^{commit}")
dir=${AB_DIR:-/tmp/onnxgpt-ab}/$sha
if [[ ! -d $dir ]]; then
  git worktree add --detach "$dir" "$sha" >/dev/null
fi

echo "building BASE ${sha:0:10} and the working tree..." >&2
dotnet build "$dir/tools/OnnxGpt.Cli" -c Release -v q -nologo >&2
dotnet build tools/OnnxGpt.Cli -c Release -v q -nologo >&2
base_cli=$dir/tools/OnnxGpt.Cli/bin/Release/net10.0/onnxgpt
head_cli=$root/tools/OnnxGpt.Cli/bin/Release/net10.0/onnxgpt

out=$(mktemp -d)
run() {
  if [[ $mode == main ]]; then
    "$1" bench --json -i onnxgpt --runs 1 "${@:3}" > "$out/$2.json" 2> "$out/$2.log"
  else
    "$1" bench concurrency --json "${@:3}" > "$out/$2.json" 2> "$out/$2.log"
  fi
}

for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(base head); else order=(head base); fi
  for b in "${order[@]}"; do
    cli=$base_cli; [[ $b == head ]] && cli=$head_cli
    echo "round $r: $b" >&2
    run "$cli" "$b-$r" "$@"
  done
done

python3 - "$out" "$rounds" "$mode" "${sha:0:10}" <<'PY'
import json, statistics, sys
out, rounds, mode, sha = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def figures(path):
    d = json.load(open(path))
    if mode == "main":
        i = next(x for x in d["implementations"] if x["name"].startswith("OnnxGpt"))
        return {"decode tok/s": i["decodeTokensPerSecond"], "TTFT ms": i["timeToFirstTokenMs"]}
    f = {}
    for x in d["results"]:
        key = f'{x["streams"]} streams {x["load"]}{"" if x["batching"] else " nobatch"} tok/s'
        f[key] = x["aggregateTokensPerSecond"]
    return f

rows = [(figures(f"{out}/base-{r}.json"), figures(f"{out}/head-{r}.json")) for r in range(1, rounds + 1)]
print(f"working tree against {sha}, {rounds} rounds in turns")
for key in rows[0][0]:
    b = [x[0][key] for x in rows]
    h = [x[1][key] for x in rows]
    ratios = [hh / bb for bb, hh in zip(b, h) if bb]
    print(f"{key:32} base {statistics.median(b):9.2f}  head {statistics.median(h):9.2f}  ratio (median of rounds) {statistics.median(ratios):.3f}  rounds " + " ".join(f"{q:.3f}" for q in ratios))
PY
