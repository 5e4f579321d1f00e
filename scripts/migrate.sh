#!/usr/bin/env bash
# Live migration of a process tree with memdump's page server:
#   1. pre-dump rounds while the tree runs, each sending only what was written since the last
#      one, for as long as that keeps shrinking (at most --max-rounds);
#   2. the final dump: the tree is frozen, the last changes go over, the tree is killed only
#      once the destination has the whole image on disk;
#   3. restore on the destination, detached.
# Prints each round's pages and the downtime: from the start of the final dump until the
# restored tree runs (the freeze itself, as the dump measured it, is printed too).
#
# Usage: scripts/migrate.sh -t PID --address ADDR --port PORT --src DIR --dst DIR
#            [--max-rounds N] [--src-exec CMD] [--dst-exec CMD] [--memdump PATH]
#   ADDR:PORT   where the destination's page server listens (each round starts one there)
#   --src DIR   images on this side (metadata only; the pages go straight to the destination)
#   --dst DIR   images on the destination: DIR/1, DIR/2, ... as on this side
#   --src-exec / --dst-exec   a command prefix that runs a command on that side, e.g.
#               "ssh root@host-b" or "ip netns exec dst" (default: run here); on this side
#               not ip netns exec (its mount namespace is not the tree's): nsenter --net=...
# Exit status 0 once the tree runs on the destination. A failed round or final dump leaves
# the tree running here (memdump kills it only once the destination confirmed the image);
# if only the restore fails, the tree is gone from here and its image waits at --dst.
set -euo pipefail

usage() {
	sed -n '11,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

PID= ADDR= PORT= SRC= DST= MAX_ROUNDS=5 SRC_EXEC= DST_EXEC=
MEMDUMP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/memdump
while [[ $# -gt 0 ]]; do
	[[ $# -ge 2 ]] || usage
	case $1 in
	-t) PID=$2 ;;
	--address) ADDR=$2 ;;
	--port) PORT=$2 ;;
	--src) SRC=$2 ;;
	--dst) DST=$2 ;;
	--max-rounds) MAX_ROUNDS=$2 ;;
	--src-exec) SRC_EXEC=$2 ;;
	--dst-exec) DST_EXEC=$2 ;;
	--memdump) MEMDUMP=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[[ -n $PID && -n $ADDR && -n $PORT && -n $SRC && -n $DST ]] || usage
[[ $MAX_ROUNDS =~ ^[1-9][0-9]*$ ]] || usage

# on_src / on_dst CMD...: run a command on that side
on_src() { $SRC_EXEC "$@"; }
on_dst() { $DST_EXEC "$@"; }

now() { date +%s.%N; }

# pages_of LOG: the pages the dump in LOG copied (from its summary line)
pages_of() { sed -n 's/.* \([0-9]*\) pages, frozen [0-9.]* s$/\1/p' "$1" | tail -n1; }
frozen_of() { sed -n 's/.*, frozen \([0-9.]*\) s$/\1/p' "$1" | tail -n1; }

LOGS=$(mktemp -d /tmp/memdump-migrate.XXXXXX)
trap 'if [[ $? -eq 0 ]]; then rm -rf "$LOGS"; else echo "migrate: logs kept in $LOGS" >&2; fi' EXIT

# send N KIND ARGS...: a page server for round N on the destination (logging next to the
# images there), then KIND (pre-dump or dump) of round N into it; the dump's log is
# $LOGS/N.log. A dump that fails before it reaches the server stops the server.
send() {
	local n=$1 kind=$2 server
	shift 2
	local prev=()
	((n > 1)) && prev=(--prev-images-dir "../$((n - 1))")
	server=$(on_dst "$MEMDUMP" page-server -D "$DST/$n" --address "$ADDR" --port "$PORT" \
		-d -o "$DST/page-server-$n.log" 2>"$LOGS/ps$n.log") ||
		{ echo "migrate: cannot start the page server: $(tail -n1 "$LOGS/ps$n.log")" >&2; return 1; }
	if ! on_src "$MEMDUMP" "$kind" -t "$PID" -D "$SRC/$n" "${prev[@]}" \
		--page-server --address "$ADDR" --port "$PORT" "$@" 2>"$LOGS/$n.log"; then
		echo "migrate: $kind of round $n failed: $(grep -m1 'error' "$LOGS/$n.log" || tail -n1 "$LOGS/$n.log")" >&2
		on_dst kill "$server" 2>/dev/null
		return 1
	fi
}

printf '%-6s %-9s %10s %10s\n' round kind pages frozen_s
round=1 last=
while :; do
	send "$round" pre-dump
	pages=$(pages_of "$LOGS/$round.log")
	printf '%-6s %-9s %10s %10s\n' "$round" pre-dump "$pages" "$(frozen_of "$LOGS/$round.log")"
	# stop when another round would not send clearly less, or the bound is reached
	if ((round >= MAX_ROUNDS)) || [[ -n $last && $((pages * 10)) -ge $((last * 8)) ]]; then
		break
	fi
	last=$pages
	round=$((round + 1))
done

round=$((round + 1))
t0=$(now)
send "$round" dump
on_dst "$MEMDUMP" restore -D "$DST/$round" -d 2>"$LOGS/restore.log" || {
	echo "migrate: restore on the destination failed: $(grep -m1 error "$LOGS/restore.log")" >&2
	echo "migrate: the tree is gone from here; its image is $DST/$round on the destination" >&2
	exit 1
}
t1=$(now)
printf '%-6s %-9s %10s %10s\n' "$round" dump "$(pages_of "$LOGS/$round.log")" "$(frozen_of "$LOGS/$round.log")"
awk -v a="$t0" -v b="$t1" -v f="$(frozen_of "$LOGS/$round.log")" \
	'BEGIN { printf "downtime: %.3f s (final dump and restore; frozen by the dump %.3f s)\n", b - a, f }'
echo "restored from $DST/$round"
