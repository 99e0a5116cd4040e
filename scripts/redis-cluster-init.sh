#!/bin/sh
# Forms a Redis Cluster of the nodes given as host:port the first time (no node holds slots yet), and on
# every later run has each node meet every other at its current address, which repairs the stale peer
# addresses a node keeps in its nodes.conf when the nodes come back elsewhere (a new compose network
# after `down` and `up`, new ports). Then waits until every node serves all 16384 slots. Every wait is
# bounded: past --timeout seconds it exits 1 with what it was waiting for, instead of hanging `up`.
# The password, if any, comes from REDISCLI_AUTH, which redis-cli reads itself.
#
#   redis-cluster-init.sh [--replicas N] [--timeout SECONDS] host:port...
set -eu

replicas=1
timeout=120
while [ $# -gt 0 ]; do
  case $1 in
    --replicas) replicas=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "redis-cluster-init: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo 'usage: redis-cluster-init.sh [--replicas N] [--timeout SECONDS] host:port...' >&2
  exit 2
fi
deadline=$(( $(date +%s) + timeout ))

# Runs redis-cli against host:port $1 with the remaining arguments.
cli() {
  node=$1
  shift
  redis-cli -h "${node%:*}" -p "${node##*:}" "$@"
}

# Calls "$@" until it succeeds, sleeping a second between tries; past the deadline, gives up naming $what.
await() {
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "redis-cluster-init: gave up after ${timeout}s waiting for $what" >&2
      exit 1
    fi
    sleep 1
  done
}

answers() { [ "$(cli "$1" ping 2>/dev/null)" = PONG ]; }

# The node's address as an IPv4 address (CLUSTER MEET and --cluster create take no names), with the
# port of its cluster bus (cluster-port 0 means the default, port + 10000).
address_of() {
  host=${1%:*}
  port=${1##*:}
  ip=$(getent ahostsv4 "$host" | head -n 1 | cut -d' ' -f1)
  [ -n "$ip" ] || return 1
  bus=$(cli "$1" config get cluster-port | sed -n 2p | tr -d '\r')
  [ -n "$bus" ] && [ "$bus" != 0 ] || bus=$(( port + 10000 ))
  echo "$ip $port $bus"
}

field() { cli "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }

for node in "$@"; do
  what="$node to answer PING"
  await answers "$node"
done

addresses=''
for node in "$@"; do
  what="an IPv4 address of $node"
  await address_of "$node" >/dev/null
  addresses="$addresses$(address_of "$node")
"
done

formed=no
for node in "$@"; do
  [ "$(field "$node" cluster_slots_assigned)" = 0 ] || formed=yes
done

if [ "$formed" = no ]; then
  echo "redis-cluster-init: creating the cluster of $# nodes with $replicas replica(s) per primary"
  # shellcheck disable=SC2046 # one word per node
  redis-cli --cluster create $(echo "$addresses" | while read -r ip port bus; do [ -n "$ip" ] && echo "$ip:$port"; done) \
    --cluster-replicas "$replicas" --cluster-yes
else
  echo "redis-cluster-init: the cluster exists; every node meets every other at its current address"
  for node in "$@"; do
    echo "$addresses" | while read -r ip port bus; do
      # A node that refuses is left to the bounded wait below, which names what is missing.
      [ -z "$ip" ] || cli "$node" cluster meet "$ip" "$port" "$bus" >/dev/null || true
    done
  done
fi

healthy() {
  for node in "$@"; do
    [ "$(field "$node" cluster_state)" = ok ] && [ "$(field "$node" cluster_slots_assigned)" = 16384 ] || return 1
  done
}
what="every node to report cluster_state:ok with all 16384 slots assigned"
await healthy "$@"
echo 'redis-cluster-init: the cluster serves every slot'
