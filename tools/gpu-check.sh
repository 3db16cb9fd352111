#!/usr/bin/env bash
# GPU check for OnnxGpt's CUDA path, in two steps.
#
#   tools/gpu-check.sh pack [OUT]   on a machine with the .NET SDK: publishes a self-contained linux-x64 onnxgpt built
#                                   with the GPU natives (-p:OnnxGptRuntime=Cuda: Microsoft.ML.OnnxRuntime.Gpu.Linux
#                                   1.31.0, TensorRT provider left out), adds the benchmark graphs, and writes
#                                   OUT/onnxgpt-cuda.tar.xz.partNN (45 MiB parts; OUT defaults to artifacts/gpu-check).
#   tools/gpu-check.sh run DIR      on a Linux machine with an NVIDIA GPU, CUDA 13 and cuDNN 9 but no .NET: joins the
#                                   parts in DIR, unpacks them, runs `onnxgpt providers`, writes gpt2-124m's weights,
#                                   then `onnxgpt bench` on tiny-shakespeare and gpt2-124m with CUDA and with CPU in the
#                                   same run, and prints one table (provider, model, TTFT, decode tokens/s, ms/token).
set -euo pipefail

mode=${1:-}
case "$mode" in
pack)
  root=$(cd "$(dirname "$0")/.." && pwd)
  out=$(mkdir -p "${2:-$root/artifacts/gpu-check}" && cd "${2:-$root/artifacts/gpu-check}" && pwd)
  stage=$(mktemp -d)
  dotnet publish "$root/tools/OnnxGpt.Cli" -c Release -r linux-x64 --self-contained -p:OnnxGptRuntime=Cuda -o "$stage/onnxgpt"
  # The TensorRT provider is not used and is large.
  rm -f "$stage"/onnxgpt/libonnxruntime_providers_tensorrt.so
  for model in gpt2-124m; do
    mkdir -p "$stage/onnxgpt/models/bench/$model"
    cp "$root/models/bench/$model/model.onnx" "$root/models/bench/$model/weights.manifest.json" "$root/models/bench/$model/genai_config.json" "$stage/onnxgpt/models/bench/$model/"
  done
  rm -f "$out"/onnxgpt-cuda.tar.xz.part*
  tar -C "$stage" -cf - onnxgpt | xz -T0 -6 | split -b 45M -d - "$out/onnxgpt-cuda.tar.xz.part"
  rm -rf "$stage"
  ls -la "$out"
  ;;
run)
  dir=${2:?usage: tools/gpu-check.sh run DIR}
  work=$(mktemp -d)
  cat "$dir"/onnxgpt-cuda.tar.xz.part* | xz -d | tar -C "$work" -xf -
  cd "$work/onnxgpt"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  ./onnxgpt providers
  ./onnxgpt bench prepare --model models/bench/gpt2-124m
  # Where the cache lives on CUDA ("Cuda device 0"; "host" plus a warning if the device cache failed its check).
  ./onnxgpt inspect --model models/bench/gpt2-124m --execution-provider Cuda | grep -E '^(execution provider|cache memory)' || true
  results=()
  for provider in Cuda Cpu; do
    for model in models/tiny-shakespeare models/bench/gpt2-124m; do
      json="$work/bench-$provider-$(basename "$model").json"
      ./onnxgpt bench --model "$model" --execution-provider "$provider" --implementation onnxgpt --json > "$json"
      results+=("$provider $json")
    done
  done
  # Greedy ids on the GPU against the CPU's (the reference for correctness): 64 tokens from the same prompt ids.
  for model in models/tiny-shakespeare models/bench/gpt2-124m; do
    ids=()
    for provider in Cuda Cpu; do
      ids+=("$(./onnxgpt generate --model "$model" --prompt-ids 859,26,199 --greedy --max-new-tokens 64 \
        --execution-provider "$provider" --json 2>/dev/null | tr -d '\n ' | sed -nE 's/.*"tokenIds":\[([0-9,]*)\].*/\1/p')")
    done
    if [ -n "${ids[0]}" ] && [ "${ids[0]}" = "${ids[1]}" ]; then
      echo "greedy ids, $(basename "$model"): Cuda = Cpu (64 tokens)"
    else
      echo "greedy ids, $(basename "$model"): DIFFER"; echo "  Cuda: ${ids[0]:-<failed>}"; echo "  Cpu:  ${ids[1]:-<failed>}"
    fi
  done

  printf '\n| provider | model | TTFT ms | decode tok/s | ms/token early | ms/token late |\n|---|---|---:|---:|---:|---:|\n'
  for entry in "${results[@]}"; do
    set -- $entry
    # One implementation per run: pull its numbers out of the JSON without needing jq.
    if grep -q '"status": *"failed"' "$2"; then
      printf '| %s | %s | failed: %s |||\n' "$1" "$(basename "$2" .json | sed "s/^bench-$1-//")" \
        "$(sed -nE 's/.*"note": *"([^"]*)".*/\1/p' "$2" | head -1 | cut -c1-160)"
      continue
    fi
    tr -d '\n ' < "$2" | sed -E 's/.*"model":"([^"]+)".*"timeToFirstTokenMs":([0-9.]+).*"decodeTokensPerSecond":([0-9.]+).*"perTokenMsEarly":([0-9.]+).*"perTokenMsLate":([0-9.]+).*/\1 \2 \3 \4 \5/' \
      | awk -v p="$1" '{printf "| %s | %s | %.1f | %.1f | %.2f | %.2f |\n", p, $1, $2, $3, $4, $5}'
  done
  ;;
*)
  echo "usage: tools/gpu-check.sh pack [OUT] | run DIR" >&2
  exit 2
  ;;
esac
