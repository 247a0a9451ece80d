#!/usr/bin/env bash
# Runs the embedding-throughput and MinHash benches from the bundle that `npx tsx bench/bundle.ts --pack`
# makes (node, the bundled code, onnxruntime-node), on a machine with many cores and no npm packages, such as
# the lent GPU machine:
#
#   bash bench/many-cores.sh [--seconds 5] [--where "shared separate"] [--thread main|worker] [--no-minhash]
#
# The embedding service and the in-process baseline get two physical cores with 2 ONNX Runtime threads, as on
# the project's 2-core machine; the load generator runs either on those same two cores (this machine's
# situation, the baseline of the comparison) or on four other cores (a client on another machine). MinHash
# runs pinned to one core of its own. Output goes to $OUT when set (the device tool), else bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .bundle/node ]; then
  tar -xJf .bundle.tar.xz || python3 -c "import tarfile; tarfile.open('.bundle.tar.xz').extractall('.')"
fi
export SIFT_REPO_ROOT="$PWD" SIFT_BUNDLE_DIR="$PWD/.bundle"
node="$PWD/.bundle/node"
out="${OUT:-bench/out}"
seconds=5 where="shared separate" thread=main minhash=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --where) where="$2"; shift 2 ;;
    --thread) thread="$2"; shift 2 ;;
    --no-minhash) minhash=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"

# The first logical CPU of each physical core, so that pinned sets never share a core through SMT.
mapfile -t cores < <(lscpu -p=CPU,CORE,SOCKET | grep -v '^#' | awk -F, '!seen[$2","$3]++ { print $1 }')
if [ "${#cores[@]}" -lt 7 ]; then
  echo "needs 7 physical cores (2 service, 4 client, 1 MinHash); this machine has ${#cores[@]}" >&2
  exit 1
fi
service="${cores[0]},${cores[1]}"
client="${cores[2]},${cores[3]},${cores[4]},${cores[5]}"

{
  echo "# $(date -u +%FT%TZ)  $(nproc) logical CPUs, ${#cores[@]} physical cores: $(lscpu | sed -n 's/^Model name: *//p')"
  echo "# node $("$node" --version); service CPUs $service, client CPUs $client, MinHash CPU ${cores[6]}"
} | tee "$out/machine.txt"

for w in $where; do
  [ "$w" = shared ] && clientCpus="$service" || clientCpus="$client"
  echo "## embedding, mini-sentence-encoder, model on the $thread thread, client on $w cores"
  "$node" .bundle/bench/embedding-throughput.mjs --model mini-sentence-encoder --texts 4 --seconds "$seconds" \
    --threads 2 --thread "$thread" --service-cpus "$service" --client-cpus "$clientCpus" 2>&1 |
    tee "$out/embedding-$thread-$w.txt"
done

if [ "$minhash" = 1 ]; then
  echo "## MinHash, one core"
  taskset -c "${cores[6]}" "$node" .bundle/bench/minhash.mjs 2>&1 | tee "$out/minhash.txt"
fi
