# tests/world.bash: a bigger Internet than tests/mxnet.bash's, for the
# end-to-end test of direct delivery (tests/29-smtpsend-world.bats) and the
# bench row that drains a queue into it (tests/bench/world); loaded after
# helpers.bash (or the bench's own wait_for and fail_or_skip) and
# mxnet.bash, whose namespaces, unbound configuration, receivers and
# mxnet_stop it uses.  Needs root (ip netns), unbound, python3 with
# aiosmtpd (Debian: python3-aiosmtpd).
#
# world_start KIND:COUNT... makes COUNT domains of each KIND, named
# dI.KIND.mxnet.test (I from 1), listed in $MXNET_DIR/domains ("DOMAIN
# KIND" a line), served by the world's unbound, and starts a receiver for
# each kind that has one, on an address of its own, port 25:
#
#   kind     MX host's address  receiver             its mail ends
#   fr       10.77.2.1          tests/fakerelay       delivered
#   aio      10.77.8.1          aiosmtpd (worldsmtpd) delivered
#   slow     10.77.3.1          fakerelay, each reply delivered
#                               after $WORLD_SLOW s
#   slowaio  10.77.9.1          aiosmtpd, the same    delivered
#   grey     10.77.4.1          fakerelay --greylist  451 4.7.1 first,
#                                                     delivered on a retry
#   reject   10.77.6.1          fakerelay, 550 to     bounced 550 5.7.1
#                               MAIL
#   down     10.77.5.1          none (refused)        deferred
#   self     us.mxnet.test =    none                  bounced 554 5.4.6
#            the sender's address
#
# Every receiver but the slow ones waits $WORLD_DELAY seconds (default
# 0.02) before each reply: the kernels these tests run on (and CI's) may
# have no sch_netem ("Specified qdisc kind is unknown"), so the 20 ms a
# distant MX costs a round trip is played by the servers (fakerelay
# --reply-delay, worldsmtpd --delay) instead of by tc.  fakerelay
# answers a pipelined group after one delay, as a real round trip does;
# aiosmtpd offers no PIPELINING and pays one per command.
#
# Each receiver writes K.env ("from=<...>", "to=<...>" per recipient) and
# K.eml per message into $MXNET_DIR/recv/KIND/; world_taken lists what
# they took.  Names derive from MXNET_ID (default: the pid), as mxnet's.

WORLD_DELAY=${WORLD_DELAY:-0.02}
WORLD_SLOW=${WORLD_SLOW:-2}

# The MX host address of a kind (empty: none of its own).
world_addr() {
	case $1 in
	fr) echo 10.77.2.1 ;; aio) echo 10.77.8.1 ;; slow) echo 10.77.3.1 ;;
	slowaio) echo 10.77.9.1 ;; grey) echo 10.77.4.1 ;;
	reject) echo 10.77.6.1 ;; down) echo 10.77.5.1 ;; self) ;;
	*) echo "world: unknown kind $1" >&2; return 1 ;;
	esac
}

# Starts the receiver of kind $1 (none for down and self).
world_receiver() {
	local k=$1 a
	a=$(world_addr "$k") || return 1
	case $k in
	fr)	mxnet_receiver fr "$a" --reply-delay "$WORLD_DELAY" ;;
	slow)	mxnet_receiver slow "$a" --reply-delay "$WORLD_SLOW" ;;
	grey)	mxnet_receiver grey "$a" --greylist \
		    --reply-delay "$WORLD_DELAY" ;;
	reject)	mxnet_receiver reject "$a" --reply-delay "$WORLD_DELAY" \
		    --mail '550 5.7.1 world: rejected by policy' ;;
	aio|slowaio)
		local delay=$WORLD_DELAY
		[ "$k" = aio ] || delay=$WORLD_SLOW
		mkdir -p "$MXNET_DIR/recv/$k" || return 1
		ip netns exec "$MXNET_W" "${PYTHON:-python3}" \
		    "$BATS_TEST_DIRNAME/worldsmtpd" --bind "$a" --port 25 \
		    --dir "$MXNET_DIR/recv/$k" --delay "$delay" \
		    --port-file "$MXNET_DIR/recv/$k.port" \
		    >>"$MXNET_DIR/recv/$k.out" 2>&1 </dev/null 3>&- &
		MXNET_PIDS+=("$!") ;;
	*)	return 0 ;;
	esac
	MXNET_RECEIVERS+=" $k"
}

world_start() {
	local spec kind count i d a kinds=()
	command -v unbound >/dev/null || { fail_or_skip "unbound is not installed"; return; }
	[ "$(id -u)" -eq 0 ] || { fail_or_skip "network namespaces need root"; return; }
	"${PYTHON:-python3}" -c 'import aiosmtpd' 2>/dev/null ||
	    { fail_or_skip "python3-aiosmtpd is not installed"; return; }
	mkdir -p "$MXNET_DIR/recv" || return 1
	: >"$MXNET_DIR/domains"
	: >"$MXNET_DIR/zone"
	for spec in "$@"; do
		kind=${spec%%:*} count=${spec#*:}
		a=$(world_addr "$kind") || return 1
		kinds+=("$kind")
		for ((i = 1; i <= count; i++)); do
			d=d$i.$kind.mxnet.test
			printf '%s %s\n' "$d" "$kind" >>"$MXNET_DIR/domains"
			if [ "$kind" = self ]; then
				printf '%s\n' "local-data: \"$d. MX 10 us.mxnet.test.\""
			else
				printf '%s\n' "local-data: \"$d. MX 10 mx.$d.\"" \
				    "local-data: \"mx.$d. A $a\""
			fi >>"$MXNET_DIR/zone"
		done
	done

	MXNET_ID=${MXNET_ID:-$$}
	MXNET_S=smtpq-mxs-$MXNET_ID MXNET_W=smtpq-mxw-$MXNET_ID
	export MXNET_S MXNET_W MXNET_DIR
	ip netns add "$MXNET_S" || return 1
	ip netns add "$MXNET_W" || return 1
	ip link add "mxs$MXNET_ID" netns "$MXNET_S" type veth \
	    peer name "mxw$MXNET_ID" netns "$MXNET_W" || return 1
	ip -n "$MXNET_S" link set lo up && ip -n "$MXNET_W" link set lo up &&
	ip -n "$MXNET_S" link set "mxs$MXNET_ID" up &&
	ip -n "$MXNET_W" link set "mxw$MXNET_ID" up &&
	ip -n "$MXNET_S" addr add 10.77.0.2/24 dev "mxs$MXNET_ID" &&
	ip -n "$MXNET_W" addr add 10.77.0.1/24 dev "mxw$MXNET_ID" &&
	ip -n "$MXNET_S" route add 10.77.0.0/16 via 10.77.0.1 || return 1
	for kind in fr aio slow slowaio grey reject down; do
		ip -n "$MXNET_W" addr add "$(world_addr "$kind")/32" dev lo ||
		    return 1
	done
	mkdir -p "/etc/netns/$MXNET_S" || return 1
	printf 'nameserver 10.77.0.1\n' >"/etc/netns/$MXNET_S/resolv.conf" ||
	    return 1

	mxnet_unbound_conf >"$MXNET_DIR/unbound.conf" || return 1
	unbound-checkconf "$MXNET_DIR/unbound.conf" >"$MXNET_DIR/checkconf.out" 2>&1 ||
	    { cat "$MXNET_DIR/checkconf.out" >&2; return 1; }
	ip netns exec "$MXNET_W" setsid unbound -d -c "$MXNET_DIR/unbound.conf" \
	    >>"$MXNET_DIR/unbound.out" 2>&1 </dev/null 3>&- &
	MXNET_PIDS+=("$!")

	MXNET_RECEIVERS=''
	for kind in $(printf '%s\n' "${kinds[@]}" | sort -u); do
		world_receiver "$kind" || return 1
	done
	wait_for mxnet_ready || { cat "$MXNET_DIR/unbound.out" >&2; return 1; }
}

# world_queue Q N FROM [SECOND]: N messages into queue Q (its new/), from
# FROM; message I (0 to N-1) goes to mI@ the (I mod D)-th domain of
# $MXNET_DIR/domains (D of them), and, with SECOND=1, every odd one also
# to nI@ the ((7I + 3) mod D)-th, so that a message mixes destinations.
# Its Message-ID is <world.I@FROM's domain>.  Queue file names are those
# smtpd gives, a minute old (due now).
world_queue() {
	"${PYTHON:-python3}" - "$1" "$2" "$3" "${4:-0}" "$MXNET_DIR/domains" <<'PY'
import os, sys, time
q, n, sender, second, domfile = sys.argv[1:6]
n, second = int(n), second == "1"
doms = [l.split()[0] for l in open(domfile) if l.strip()]
t = int(time.time()) - 60
for d in ("new", "tmp", "failed"):
    os.makedirs(os.path.join(q, d), exist_ok=True)
host = sender.split("@")[1]
for i in range(n):
    rcpts = ["m%d@%s" % (i, doms[i % len(doms)])]
    if second and i % 2:
        rcpts.append("n%d@%s" % (i, doms[(7 * i + 3) % len(doms)]))
    name = "%d.M%06dP1.world" % (t, i)
    env = "From: <%s>\n" % sender + "".join("To: <%s>\n" % r for r in rcpts)
    msg = ("Message-ID: <world.%d@%s>\r\nFrom: <%s>\r\nTo: %s\r\n"
           "Subject: world %d\r\n\r\nMessage %d.\r\n"
           % (i, host, sender, ", ".join(rcpts), i, i))
    tmp = os.path.join(q, "tmp", name)
    with open(tmp, "w", newline="") as f:
        f.write(env + "\n" + msg)
    os.rename(tmp, os.path.join(q, "new", name))
PY
}

# What the receivers took, one line per recipient of each message taken:
# "KIND MESSAGE-ID RECIPIENT" (KIND: the receiver's).
world_taken() {
	"${PYTHON:-python3}" - "$MXNET_DIR/recv" <<'PY'
import glob, os, re, sys
for env in sorted(glob.glob(os.path.join(sys.argv[1], "*", "*.env"))):
    kind = os.path.basename(os.path.dirname(env))
    with open(env[:-4] + ".eml", "rb") as f:
        m = re.search(rb"^Message-ID:\s*(\S+)", f.read(), re.M | re.I)
    mid = m.group(1).decode() if m else "-"
    for line in open(env):
        if line.startswith("to=<"):
            print(kind, mid, line.strip()[4:-1])
PY
}
