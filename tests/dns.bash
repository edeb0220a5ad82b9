# tests/dns.bash: a real DNS server from Debian (unbound) in a network
# namespace of the test's own, serving zone data the test gives, for the
# code that asks DNS (direct delivery's MX lookups); loaded after
# helpers.bash (wait_for, fail_or_skip).
#
# dns_start LINE...: a namespace $DNS_NS with lo up, unbound on its
# 127.0.0.1:53 answering from the unbound.conf server: lines given (the
# "local-zone:" and "local-data:" of the test's zone), and
# /etc/netns/$DNS_NS/resolv.conf pointing there, so that a command run
# with "dns_exec COMMAND..." asks it and nothing else.  The server asks
# nobody outside: it has no root hints to reach and no forwarder.
# dns_stop (in teardown) stops unbound by its pid and removes the
# namespace and its resolv.conf.  Needs root (ip netns).

DNS_DIR=${DNS_DIR:-$BATS_TEST_TMPDIR/dns}

dns_start() {
	local line
	command -v unbound >/dev/null || { fail_or_skip "unbound is not installed"; return; }
	[ "$(id -u)" -eq 0 ] || { fail_or_skip "network namespaces need root"; return; }
	mkdir -p "$DNS_DIR"
	# One name per test process: suites may run side by side.
	DNS_NS=smtpq-dns-$$
	ip netns add "$DNS_NS" || return 1
	ip netns exec "$DNS_NS" ip link set lo up || return 1
	mkdir -p "/etc/netns/$DNS_NS" || return 1
	# No "options" line: Perl's Net::DNS (Mail::DKIM's resolver) takes
	# its words for server names and hangs.
	printf 'nameserver 127.0.0.1\n' >"/etc/netns/$DNS_NS/resolv.conf" ||
	    return 1
	{
		printf 'server:\n'
		printf '  interface: 127.0.0.1\n  port: 53\n'
		printf '  do-daemonize: no\n  username: ""\n  chroot: ""\n'
		printf '  directory: "%s"\n  pidfile: ""\n' "$DNS_DIR"
		printf '  use-syslog: no\n  logfile: "%s/unbound.log"\n' "$DNS_DIR"
		printf '  verbosity: 1\n  module-config: "iterator"\n'
		printf '  do-not-query-localhost: no\n  do-ip6: no\n'
		printf '  access-control: 127.0.0.0/8 allow\n'
		printf '  num-threads: 1\n  so-reuseport: no\n'
		# Nothing outside the namespace can be reached, and nothing is
		# asked of the root: every name the test does not serve fails.
		printf '  local-zone: "." refuse\n'
		for line in "$@"; do
			printf '  %s\n' "$line"
		done
	} >"$DNS_DIR/unbound.conf"
	unbound-checkconf "$DNS_DIR/unbound.conf" >"$DNS_DIR/checkconf.out" 2>&1 ||
	    { cat "$DNS_DIR/checkconf.out" >&2; return 1; }
	ip netns exec "$DNS_NS" setsid unbound -d -c "$DNS_DIR/unbound.conf" \
	    >>"$DNS_DIR/unbound.out" 2>&1 </dev/null 3>&- &
	DNS_PID=$!
	wait_for dns_listening || { cat "$DNS_DIR/unbound.out" >&2; return 1; }
}

# Succeeds once unbound ($DNS_PID) listens on UDP 53 in $DNS_NS.
dns_listening() {
	kill -0 "$DNS_PID" 2>/dev/null || return 1
	ip netns exec "$DNS_NS" ss -Hlunp 'sport = :53' | grep -q "pid=$DNS_PID,"
}

# Runs a command in the namespace, as the resolver's client.
dns_exec() {
	ip netns exec "$DNS_NS" "$@"
}

dns_stop() {
	if [ -n "${DNS_PID:-}" ]; then
		kill "$DNS_PID" 2>/dev/null
		wait "$DNS_PID" 2>/dev/null
		DNS_PID=
	fi
	if [ -n "${DNS_NS:-}" ]; then
		ip netns del "$DNS_NS" 2>/dev/null
		rm -rf "/etc/netns/$DNS_NS"
		DNS_NS=
	fi
}
