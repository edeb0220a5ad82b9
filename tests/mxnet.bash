# tests/mxnet.bash: a small Internet for direct delivery, in two network
# namespaces of the test's own; loaded after helpers.bash (wait_for,
# fail_or_skip).  Needs root (ip netns), unbound and python3.
#
#   sender  $MXNET_S: where smtpsend (or Postfix) runs; 10.77.0.2/24 and
#           fd77::2/64 on a veth, every 10.77/16 and fd77::/16 address
#           through the other end; its resolv.conf (/etc/netns/$MXNET_S)
#           names the world's unbound and nothing else
#   world   $MXNET_W: unbound on 10.77.0.1:53 serving mxnet.test, and the
#           receivers, each on its own address, port 25
#
# Two namespaces, not one: smtpsend counts every address of its own
# namespace as its own (common/mx.c, bind()), so receivers beside it
# would all be "us".
#
# mxnet_start KIND:COUNT...  makes COUNT domains of each KIND, named
# dI.KIND.mxnet.test (I from 1), listed with their kind in
# $MXNET_DIR/domains ("DOMAIN KIND" a line), and starts what they need:
#
#   kind      its MX                      a message to it ends
#   ok        mx.D: 10.77.2.1, fd77:2::1  delivered
#   slow      mx.D: 10.77.3.1             delivered; each reply after
#                                         $MXNET_SLOW seconds (default 2)
#   grey      mx.D: 10.77.4.1             451 4.7.1 to a recipient's first
#                                         RCPT, delivered on a retry
#   down      mx.D: 10.77.5.1             deferred: the connection is
#                                         refused at once (no MTA runs)
#   dead      mx.D: 10.77.7.1             deferred: connecting times out
#                                         (packets dropped)
#   reject    mx.D: 10.77.6.1             bounced: 550 5.7.1 to MAIL
#   backup    10 mx1.D (down), 20 mx2.D   delivered, by the second MX
#             (ok)
#   self      us.mxnet.test: 10.77.0.2    bounced: 554 5.4.6, we are the
#             (the sender's address)      best MX
#   null      MX 0 .                      bounced: 556 5.1.10
#   nx        no such domain              bounced: 550 5.1.2
#   servfail  its server fails            deferred: 451 4.4.3
#   silent    its server never answers    deferred: 451 4.4.3
#
# A receiver is tests/fakerelay, its transcript and messages (K.env: one
# "to=<...>" per recipient taken) in $MXNET_DIR/recv/NAME, NAME one of
# ok, ok6, slow, grey, reject.  Where the kernel has netem,
# MXNET_DELAY=MS (default 0: none) delays every packet the sender sends
# (tc qdisc on its veth), as a distance would.
# mxnet_stop (teardown) stops every process mxnet_start started, by pid,
# and removes the namespaces and their resolv.conf.  Names carry
# MXNET_ID (default: the test process's pid), so that suites side by
# side, or two nets in one suite, do not collide.

MXNET_DIR=${MXNET_DIR:-$BATS_TEST_TMPDIR/mxnet}
MXNET_SLOW=${MXNET_SLOW:-2}
MXNET_DELAY=${MXNET_DELAY:-0}
MXNET_PIDS=()

MXNET_RECEIVERS="ok ok6 slow grey reject"

# Starts receiver NAME on ADDRESS, port 25, with fakerelay's options.
mxnet_receiver() {
	local name=$1 addr=$2
	shift 2
	mkdir -p "$MXNET_DIR/recv/$name" || return 1
	ip netns exec "$MXNET_W" "$BATS_TEST_DIRNAME/fakerelay" \
	    --bind "$addr" --port 25 --dir "$MXNET_DIR/recv/$name" \
	    --port-file "$MXNET_DIR/recv/$name.port" "$@" 3>&- &
	MXNET_PIDS+=("$!")
}

# The zone data of domain d of kind k, one unbound line each.
mxnet_zone() {
	local d=$1 k=$2
	case $k in
	ok)	printf '%s\n' "local-data: \"$d. MX 10 mx.$d.\"" \
		    "local-data: \"mx.$d. A 10.77.2.1\"" \
		    "local-data: \"mx.$d. AAAA fd77:2::1\"" ;;
	slow|grey|down|dead|reject)
		local a
		case $k in
		slow) a=10.77.3.1 ;; grey) a=10.77.4.1 ;; down) a=10.77.5.1 ;;
		dead) a=10.77.7.1 ;; reject) a=10.77.6.1 ;;
		esac
		printf '%s\n' "local-data: \"$d. MX 10 mx.$d.\"" \
		    "local-data: \"mx.$d. A $a\"" ;;
	backup)	printf '%s\n' "local-data: \"$d. MX 10 mx1.$d.\"" \
		    "local-data: \"$d. MX 20 mx2.$d.\"" \
		    "local-data: \"mx1.$d. A 10.77.5.1\"" \
		    "local-data: \"mx2.$d. A 10.77.2.1\"" ;;
	self)	printf '%s\n' "local-data: \"$d. MX 10 us.mxnet.test.\"" ;;
	null)	printf '%s\n' "local-data: \"$d. MX 0 .\"" ;;
	nx|servfail|silent) ;;	# their zones below
	*)	echo "mxnet: unknown kind $k" >&2; return 1 ;;
	esac
}

# unbound.conf for the world.
mxnet_unbound_conf() {
	local line
	printf 'server:\n'
	printf '  interface: 10.77.0.1\n  interface: 127.0.0.1\n  port: 53\n'
	printf '  do-daemonize: no\n  username: ""\n  chroot: ""\n'
	printf '  directory: "%s"\n  pidfile: ""\n' "$MXNET_DIR"
	printf '  use-syslog: no\n  logfile: "%s/unbound.log"\n' "$MXNET_DIR"
	printf '  verbosity: 1\n  module-config: "iterator"\n'
	printf '  do-not-query-localhost: no\n  do-ip6: no\n'
	printf '  access-control: 10.77.0.0/16 allow\n'
	printf '  access-control: 127.0.0.0/8 allow\n'
	printf '  num-threads: 1\n  so-reuseport: no\n'
	printf '  rrset-roundrobin: no\n'
	printf '  local-zone: "." refuse\n'
	printf '  local-zone: "mxnet.test." static\n'
	printf '  local-data: "us.mxnet.test. A 10.77.0.2"\n'
	printf '  local-zone: "nx.mxnet.test." always_nxdomain\n'
	printf '  local-zone: "silent.mxnet.test." deny\n'
	printf '  local-zone: "servfail.mxnet.test." transparent\n'
	while read -r line; do
		printf '  %s\n' "$line"
	done <"$MXNET_DIR/zone"
	# No server answers for servfail.mxnet.test: unbound says SERVFAIL.
	printf 'forward-zone:\n  name: "servfail.mxnet.test."\n'
	printf '  forward-addr: 192.0.2.53\n'
}

mxnet_start() {
	local spec kind count i d
	command -v unbound >/dev/null || { fail_or_skip "unbound is not installed"; return; }
	[ "$(id -u)" -eq 0 ] || { fail_or_skip "network namespaces need root"; return; }
	mkdir -p "$MXNET_DIR/recv" || return 1
	: >"$MXNET_DIR/domains"
	: >"$MXNET_DIR/zone"
	for spec in "$@"; do
		kind=${spec%%:*} count=${spec#*:}
		for ((i = 1; i <= count; i++)); do
			d=d$i.$kind.mxnet.test
			printf '%s %s\n' "$d" "$kind" >>"$MXNET_DIR/domains"
			mxnet_zone "$d" "$kind" >>"$MXNET_DIR/zone" || return 1
		done
	done

	# One name per test process: suites may run side by side.
	MXNET_ID=${MXNET_ID:-$$}
	MXNET_S=smtpq-mxs-$MXNET_ID MXNET_W=smtpq-mxw-$MXNET_ID
	export MXNET_S MXNET_W MXNET_DIR
	ip netns add "$MXNET_S" || return 1
	ip netns add "$MXNET_W" || return 1
	ip link add "mxs$MXNET_ID" netns "$MXNET_S" type veth \
	    peer name "mxw$MXNET_ID" netns "$MXNET_W" || return 1
	mxnet_ip_s() { ip netns exec "$MXNET_S" ip "$@"; }
	mxnet_ip_w() { ip netns exec "$MXNET_W" ip "$@"; }
	mxnet_ip_s link set lo up && mxnet_ip_w link set lo up &&
	mxnet_ip_s link set "mxs$MXNET_ID" up && mxnet_ip_w link set "mxw$MXNET_ID" up &&
	mxnet_ip_s addr add 10.77.0.2/24 dev "mxs$MXNET_ID" &&
	mxnet_ip_w addr add 10.77.0.1/24 dev "mxw$MXNET_ID" &&
	mxnet_ip_s -6 addr add fd77::2/64 dev "mxs$MXNET_ID" nodad &&
	mxnet_ip_w -6 addr add fd77::1/64 dev "mxw$MXNET_ID" nodad &&
	mxnet_ip_s route add 10.77.0.0/16 via 10.77.0.1 &&
	mxnet_ip_s -6 route add fd77::/16 via fd77::1 || return 1
	# The world's hosts: receivers' addresses on its loopback; down's
	# too, with nothing listening (a reset); dead's packets swallowed.
	mxnet_ip_w addr add 10.77.2.1/32 dev lo &&
	mxnet_ip_w addr add 10.77.5.1/32 dev lo &&
	mxnet_ip_w -6 addr add fd77:2::1/128 dev lo nodad &&
	mxnet_ip_w addr add 10.77.3.1/32 dev lo &&
	mxnet_ip_w addr add 10.77.4.1/32 dev lo &&
	mxnet_ip_w addr add 10.77.6.1/32 dev lo &&
	mxnet_ip_w route add blackhole 10.77.7.0/24 || return 1
	if [ "$MXNET_DELAY" -gt 0 ]; then
		ip netns exec "$MXNET_S" tc qdisc add dev "mxs$MXNET_ID" root netem \
		    delay "${MXNET_DELAY}ms" ||
		    { fail_or_skip "no netem in this kernel"; return; }
	fi
	mkdir -p "/etc/netns/$MXNET_S" || return 1
	printf 'nameserver 10.77.0.1\n' >"/etc/netns/$MXNET_S/resolv.conf" ||
	    return 1

	mxnet_unbound_conf >"$MXNET_DIR/unbound.conf" || return 1
	unbound-checkconf "$MXNET_DIR/unbound.conf" >"$MXNET_DIR/checkconf.out" 2>&1 ||
	    { cat "$MXNET_DIR/checkconf.out" >&2; return 1; }
	ip netns exec "$MXNET_W" setsid unbound -d -c "$MXNET_DIR/unbound.conf" \
	    >>"$MXNET_DIR/unbound.out" 2>&1 </dev/null 3>&- &
	MXNET_PIDS+=("$!")

	mxnet_receiver ok 10.77.2.1 &&
	mxnet_receiver ok6 fd77:2::1 &&
	mxnet_receiver slow 10.77.3.1 --reply-delay "$MXNET_SLOW" &&
	mxnet_receiver grey 10.77.4.1 --greylist &&
	mxnet_receiver reject 10.77.6.1 \
	    --mail '550 5.7.1 mxnet: rejected by policy' || return 1
	wait_for mxnet_ready || { cat "$MXNET_DIR/unbound.out" >&2; return 1; }
}

# Succeeds once unbound answers and every receiver listens.
mxnet_ready() {
	local name
	ip netns exec "$MXNET_W" ss -Hlun 'sport = :53' | grep -q 10.77.0.1 ||
	    return 1
	for name in $MXNET_RECEIVERS; do
		[ -s "$MXNET_DIR/recv/$name.port" ] || return 1
	done
}

# Runs a command as the sender (smtpsend's side).
mxnet_exec() {
	ip netns exec "$MXNET_S" "$@"
}

# The domains of a kind, one a line.
mxnet_domains() {
	awk -v k="$1" '$2 == k { print $1 }' "$MXNET_DIR/domains"
}

# Whether process $1 has ended (a zombie of ours counts: wait reaps it).
mxnet_gone() {
	! kill -0 "$1" 2>/dev/null ||
	    [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]
}

mxnet_stop() {
	local pid
	for pid in "${MXNET_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	# Bounded: what has not ended within WAIT_SECONDS is killed.
	for pid in "${MXNET_PIDS[@]}"; do
		wait_for mxnet_gone "$pid" || kill -KILL "$pid" 2>/dev/null ||
		    true
		wait "$pid" 2>/dev/null || true
	done
	MXNET_PIDS=()
	if [ -n "${MXNET_S:-}" ]; then
		ip netns del "$MXNET_S" 2>/dev/null || true
		ip netns del "$MXNET_W" 2>/dev/null || true
		rm -rf "/etc/netns/$MXNET_S"
		MXNET_S='' MXNET_W=''
	fi
}
