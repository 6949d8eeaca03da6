#!/usr/bin/env bash
# Watch the compose topology while it runs (`make compose-watch`): every
# INTERVAL seconds, each gateway's ring as stickycheck sees it and its
# counters, and the agent's load-balancing backends. Start a scale event in
# another terminal and watch the ring change and the misroutes it causes.
#
#   deploy/compose/watch.sh [project]        project: otelcol-tiered
#   INTERVAL=1 deploy/compose/watch.sh       refresh period in seconds (2)
#
# Needs docker and curl on the host. The endpoints are published on
# 127.0.0.1 at free ports; `docker port <container> 8888` names them.
set -euo pipefail
project=${1:-otelcol-tiered}
interval=${INTERVAL:-2}

# sum METRIC [LABEL_MATCH] < metrics: the sum of every series of METRIC whose
# labels contain LABEL_MATCH (e.g. 'reason="ring_change"').
sum() {
  awk -v m="$1" -v l="${2:-}" '
    index($0, m) == 1 && (substr($0, length(m) + 1, 1) == "{" || substr($0, length(m) + 1, 1) == " ") && index($0, l) { s += $NF }
    END { printf "%d", s }'
}

published() { docker port "$1" "$2/tcp" 2>/dev/null | head -1; }

containers() {
  docker ps -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1"
}

while true; do
  printf '\n== %s  compose project %s\n' "$(date +%T)" "$project"
  for id in $(containers agent); do
    m=$(curl -fs "http://$(published "$id" 8888)/metrics" || true)
    printf 'agent    %-12s load-balancing backends %s   OTLP gRPC %s  metrics %s  topology %s\n' \
      "${id:0:12}" "$(sum otelcol_loadbalancer_num_backends <<<"$m")" \
      "$(published "$id" 4317)" "$(published "$id" 8888)" "$(published "$id" 13134)"
  done
  for id in $(containers gateway); do
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
    m=$(curl -fs "http://$(published "$id" 8888)/metrics" || true)
    p=otelcol_processor_stickycheck
    printf 'gateway  %-12s %-15s ring %s members (hash %s)  checked %s  misrouted: ring_change %s not_owner %s self_not_member %s  traces_split %s   metrics %s  topology %s\n' \
      "${id:0:12}" "$ip" "$(sum ${p}_ring_members <<<"$m")" "$(awk "/^${p}_ring_hash /{printf \"%.0f\", \$NF}" <<<"$m")" \
      "$(sum ${p}_spans_checked <<<"$m")" \
      "$(sum ${p}_spans_misrouted 'reason="ring_change"' <<<"$m")" \
      "$(sum ${p}_spans_misrouted 'reason="not_owner"' <<<"$m")" \
      "$(sum ${p}_spans_misrouted 'reason="self_not_member"' <<<"$m")" \
      "$(sum ${p}_traces_split <<<"$m")" \
      "$(published "$id" 8888)" "$(published "$id" 13134)"
  done
  sleep "$interval"
done
