#!/usr/bin/env bats
# tests/mxnet.bash, the small Internet the end-to-end tests of direct
# delivery run in, proves itself: its DNS (unbound in the world
# namespace) answers the sender's namespace as each kind of domain says,
# through the MX lookup smtpsend makes (tests/dns/mxq -l), and each
# receiver answers an SMTP client (python3 smtplib) as designed.
# (Under valgrind too: 28 s; mxq's own paths are 29-dns-mx's.)
# tests/run: noasan (it proves the test network; mxq's paths run under
# ASan in 29-dns-mx)

load helpers
load mxnet

MXQ=${MXQ:-$BATS_TEST_DIRNAME/dns/mxq}

setup_file() {
	MXNET_DIR=$BATS_FILE_TMPDIR/mxnet
	MXNET_SLOW=1
	mxnet_start ok:2 slow:1 grey:1 down:1 dead:1 reject:1 backup:1 \
	    self:1 null:1 nx:1 servfail:1 silent:1
}

teardown_file() {
	mxnet_stop
}

# probe ADDRESS RCPT: one SMTP transaction from the sender's namespace;
# prints each step's reply code, "connect: ERROR" when no connection
# came within 3 s, and the seconds the greeting took.
probe() {
	mxnet_exec python3 - "$1" "$2" <<'PY'
import smtplib, socket, sys, time
addr, rcpt = sys.argv[1], sys.argv[2]
s = smtplib.SMTP(timeout=3)
t = time.time()
try:
    code, _ = s.connect(addr, 25)
except OSError as e:
    print("connect: %s" % ("timeout" if isinstance(e, socket.timeout)
                           else e.strerror))
    sys.exit(0)
print("greeting %d after %d s" % (code, int(time.time() - t)))
s.ehlo("probe.test")
print("mail %d" % s.mail("probe@probe.test")[0])
print("rcpt %d" % s.rcpt(rcpt)[0])
print("rcpt %d" % s.rcpt(rcpt)[0])
try:
    code = s.data("Subject: probe\r\n\r\nprobe\r\n")[0]
except smtplib.SMTPDataError as e:
    code = e.smtp_code
print("data %d" % code)
s.quit()
PY
}

@test "mxnet: each kind of domain resolves, from the sender's namespace, as its table says" {
	run mxnet_exec "$MXQ" -l -t 2 d1.ok.mxnet.test d1.backup.mxnet.test \
	    d1.self.mxnet.test d1.null.mxnet.test d1.nx.mxnet.test \
	    d1.servfail.mxnet.test d1.silent.mxnet.test
	[ "$status" -eq 0 ]
	[ "$output" = "d1.ok.mxnet.test status=ok implicit=0 pruned=0
10 mx.d1.ok.mxnet.test fd77:2::1
10 mx.d1.ok.mxnet.test 10.77.2.1
d1.backup.mxnet.test status=ok implicit=0 pruned=0
10 mx1.d1.backup.mxnet.test 10.77.5.1
20 mx2.d1.backup.mxnet.test 10.77.2.1
d1.self.mxnet.test status=loop implicit=0 pruned=1
reply: 554 5.4.6 mail for d1.self.mxnet.test loops back to myself
d1.null.mxnet.test status=null implicit=0 pruned=0
reply: 556 5.1.10 d1.null.mxnet.test: the domain accepts no mail (null MX, RFC 7505)
d1.nx.mxnet.test status=nxdomain implicit=0 pruned=0
reply: 550 5.1.2 d1.nx.mxnet.test: no such domain
d1.servfail.mxnet.test status=temp implicit=0 pruned=0
reply: 451 4.4.3 MX lookup: d1.servfail.mxnet.test: no usable answer from the resolver (a server failure or refusal, or no server reachable)
d1.silent.mxnet.test status=temp implicit=0 pruned=0
reply: 451 4.4.3 MX lookup: d1.silent.mxnet.test: no answer from the resolver (timeout)" ]
	# The list of domains names each with its kind.
	[ "$(wc -l <"$MXNET_DIR/domains")" -eq 13 ]
	grep -qx 'd2.ok.mxnet.test ok' "$MXNET_DIR/domains"
}

@test "mxnet: the ok receiver takes the message, over IPv4 and IPv6" {
	run probe 10.77.2.1 a@d1.ok.mxnet.test
	[ "$output" = "greeting 220 after 0 s
mail 250
rcpt 250
rcpt 250
data 250" ]
	grep -qx 'to=<a@d1.ok.mxnet.test>' "$MXNET_DIR"/recv/ok/*.env
	run probe fd77:2::1 b@d1.ok.mxnet.test
	[ "${lines[4]}" = "data 250" ]
	grep -qx 'to=<b@d1.ok.mxnet.test>' "$MXNET_DIR"/recv/ok6/*.env
}

@test "mxnet: the slow receiver answers each command after MXNET_SLOW seconds" {
	local start=$SECONDS
	run probe 10.77.3.1 a@d1.slow.mxnet.test
	[ "${lines[0]}" = "greeting 220 after 1 s" ]
	[ "${lines[4]}" = "data 250" ]
	# Greeting, EHLO, MAIL, RCPT twice, DATA, the dot, QUIT: 8 s.
	[ $((SECONDS - start)) -ge 7 ]
}

@test "mxnet: the grey receiver answers a recipient's first RCPT 451, the next 250" {
	run probe 10.77.4.1 a@d1.grey.mxnet.test
	[ "$output" = "greeting 220 after 0 s
mail 250
rcpt 451
rcpt 250
data 250" ]
}

@test "mxnet: the reject receiver refuses the sender 550" {
	run probe 10.77.6.1 a@d1.reject.mxnet.test
	[ "${lines[1]}" = "mail 550" ]
	[ "${lines[4]}" = "data 503" ] || [ "${lines[4]}" = "data 554" ]
}

@test "mxnet: a down host refuses the connection at once, a dead one never answers" {
	local start=$SECONDS
	run probe 10.77.5.1 a@d1.down.mxnet.test
	[ "$output" = "connect: Connection refused" ]
	run probe 10.77.7.1 a@d1.dead.mxnet.test
	[ "$output" = "connect: timeout" ]
}

@test "mxnet: the sender's own address is ours to mx_lookup, the world's are not" {
	run mxnet_exec "$MXQ" -l '[10.77.0.2]' '[10.77.2.1]'
	[ "${lines[0]}" = "[10.77.0.2] status=loop implicit=1 pruned=1" ]
	[ "${lines[2]}" = "[10.77.2.1] status=ok implicit=1 pruned=0" ]
}

@test "mxnet: mxnet_stop stops what mxnet_start started and removes its namespaces" {
	local pids s w p
	MXNET_ID=$$b MXNET_DIR=$BATS_TEST_TMPDIR/net2 MXNET_PIDS=()
	mxnet_start ok:1
	pids=("${MXNET_PIDS[@]}") s=$MXNET_S w=$MXNET_W
	[ "${#pids[@]}" -eq 6 ]
	ip netns list | grep -q "^$s"
	mxnet_stop
	for p in "${pids[@]}"; do
		if kill -0 "$p" 2>/dev/null; then false; fi
	done
	if ip netns list | grep -q "^$s\|^$w"; then false; fi
	[ ! -e "/etc/netns/$s" ]
}
