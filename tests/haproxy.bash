# tests/haproxy.bash: smtpd hosts behind a real HAProxy, for
# tests/53-haproxy.bats and tests/bench/haproxy; loaded after helpers.bash
# (free_port, wait_for, listening), with a private Postfix running
# ($PF_PORT, postfix_start) for the hosts to relay to.
#
# Everything lives in $HX_DIR.  Host i (1, 2, 3) is what one machine of
# README's "Growing past one machine" runs, nothing shared with the
# others: tcpserver on 127.0.0.1:${HX_PORT[i]} starting smtpd -P for
# HAProxy's address, its own queue $HX_DIR/b<i>/queue and log
# $HX_DIR/b<i>/log, and its own smtpsend -w relaying that queue to
# Postfix.  HAProxy (TCP mode, option smtpchk health checks; host 1 with
# send-proxy, the others send-proxy-v2) listens on
#   127.0.0.1:$HX_FRONT and [::1]:$HX_FRONT6   clients as they are
#   127.0.0.1:$HX_UNTRUSTED   every client made 192.0.2.7 (set-src)
#   127.0.0.1:$HX_TRUSTED     every client made 198.51.100.7, a network
#                             the hosts trust (-R 198.51.100.0/24)
# and logs (server state changes too) to $HX_DIR/haproxy.out.  Every
# process is started in a process group of its own and stopped by its pid.

HX_DIR=${HX_DIR:-$BATS_TEST_TMPDIR/hx}
HX_PORT=() HX_PID=() HX_SEND_PID=()
HX_HAPROXY_PID=
HX_CHECK_MS=${HX_CHECK_MS:-500}	# health check interval
HX_TIMEOUT=${HX_TIMEOUT:-2s}	# HAProxy's connect and check timeouts
HX_SMTPD_FLAGS=(-P 127.0.0.1,::1 -R 198.51.100.0/24)	# each host's smtpd

# hx_backend_start I: starts host I (on its old port if it had one).
hx_backend_start() {
	local i=$1 d=$HX_DIR/b$1
	mkdir -p "$d/queue/tmp" "$d/queue/new" "$d/queue/failed"
	[ -n "${HX_PORT[i]:-}" ] || HX_PORT[i]=$(free_port 127.0.0.1) || return 1
	(exec setsid tcpserver -q -c 200 127.0.0.1 "${HX_PORT[i]}" \
	    "$SMTPD" -q "$d/queue" -n "mx$i.test" -l "$d/log" -c 100 \
	    "${HX_SMTPD_FLAGS[@]}") \
	    >>"$d/launcher.out" 2>&1 </dev/null 3>&- &
	HX_PID[i]=$!
	(exec setsid "$SMTPSEND" -q "$d/queue" -n "mx$i.test" -l "$d/log" \
	    -r "127.0.0.1:$PF_PORT" -w 1) \
	    >>"$d/smtpsend.out" 2>&1 </dev/null 3>&- &
	HX_SEND_PID[i]=$!
	if ! wait_for listening "${HX_PORT[i]}" "${HX_PID[i]}"; then
		echo "host $i did not listen on ${HX_PORT[i]}" >&2
		cat "$d/launcher.out" >&2
		return 1
	fi
}

# hx_backend_kill I [SIGNAL]: host I goes down at once (default SIGKILL,
# a crash): its launcher, every session it runs, and its smtpsend.
hx_backend_kill() {
	local i=$1 sig=${2:-KILL} pid
	for pid in "${HX_PID[i]:-}" "${HX_SEND_PID[i]:-}"; do
		[ -n "$pid" ] || continue
		kill -"$sig" -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	HX_PID[i]= HX_SEND_PID[i]=
}

# hx_haproxy_start N: HAProxy in front of hosts 1..N (started already).
hx_haproxy_start() {
	local n=$1 i proxy cfg=$HX_DIR/haproxy.cfg
	HX_FRONT=$(free_port 127.0.0.1) && HX_FRONT6=$(free_port ::1) &&
	HX_UNTRUSTED=$(free_port 127.0.0.1) &&
	HX_TRUSTED=$(free_port 127.0.0.1) || return 1
	cat >"$cfg" <<EOF
global
	log stdout format raw daemon
	maxconn 1000
defaults
	mode tcp
	log global
	option tcplog
	timeout connect $HX_TIMEOUT
	timeout check $HX_TIMEOUT
	timeout client 60s
	timeout server 60s
	retries 3
	option redispatch
frontend mx
	bind 127.0.0.1:$HX_FRONT
	bind [::1]:$HX_FRONT6
	default_backend hosts
frontend untrusted
	bind 127.0.0.1:$HX_UNTRUSTED
	tcp-request connection set-src ipv4(192.0.2.7)
	default_backend hosts
frontend trusted
	bind 127.0.0.1:$HX_TRUSTED
	tcp-request connection set-src ipv4(198.51.100.7)
	default_backend hosts
backend hosts
	balance roundrobin
	option smtpchk EHLO haproxy.test
EOF
	for ((i = 1; i <= n; i++)); do
		proxy=send-proxy-v2
		[ "$i" -eq 1 ] && proxy=send-proxy
		printf '\tserver mx%d 127.0.0.1:%s check inter %dms fall 2 rise 2 %s\n' \
		    "$i" "${HX_PORT[i]}" "$HX_CHECK_MS" "$proxy" >>"$cfg"
	done
	(exec setsid haproxy -db -f "$cfg") >>"$HX_DIR/haproxy.out" 2>&1 \
	    </dev/null 3>&- &
	HX_HAPROXY_PID=$!
	if ! wait_for listening "$HX_TRUSTED" "$HX_HAPROXY_PID"; then
		echo "haproxy did not start:" >&2
		cat "$HX_DIR/haproxy.out" >&2
		return 1
	fi
}

# Stops HAProxy and every host; fails if a sanitizer spoke in a host.
hx_stop_all() {
	local i
	if [ -n "$HX_HAPROXY_PID" ]; then
		kill -TERM "$HX_HAPROXY_PID" 2>/dev/null || true
		wait "$HX_HAPROXY_PID" 2>/dev/null || true
		HX_HAPROXY_PID=
	fi
	for i in 1 2 3; do
		hx_backend_kill "$i" TERM
	done
	! cat "$HX_DIR"/b*/launcher.out "$HX_DIR"/b*/smtpsend.out 2>/dev/null |
	    grep -E 'Sanitizer|runtime error:' >&2
}

# hx_clients HOST PORT CLIENTS TOTAL ACCEPTED [RCPT [PER_SESSION]]:
# CLIENTS threads send TOTAL messages in all to RCPT (alice@pf.test), at
# most PER_SESSION (10) in one session, each with its own Message-ID.
# A message is retried (a new session, a short pause) until it gets 250,
# and its Message-ID is appended to file ACCEPTED only then.  Prints
# "accepted=N retries=N seconds=S"; fails when a message got no 250 in
# 60 tries.
hx_clients() {
	"$PYTHON" - "$@" <<'EOF'
import smtplib, sys, threading, time
host, port, nclients, total, out = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rcpt = sys.argv[6] if len(sys.argv) > 6 else "alice@pf.test"
per = int(sys.argv[7]) if len(sys.argv) > 7 else 10
lock = threading.Lock()
state = {"next": 0, "retries": 0, "failed": 0, "accepted": 0}
accepted = open(out, "a", buffering=1)
tag = "%d.%d" % (int(time.time()), port)

def take():
    with lock:
        if state["next"] >= total:
            return None
        state["next"] += 1
        return state["next"] - 1

def work(k):
    conn, sent = None, 0
    while (i := take()) is not None:
        mid = "<m%d.%s@clients.test>" % (i, tag)
        msg = ("From: <c%d@clients.test>\r\nTo: <%s>\r\nSubject: %d\r\n"
               "Message-ID: %s\r\n\r\nmessage %d from client %d\r\n"
               % (k, rcpt, i, mid, i, k))
        for attempt in range(60):
            try:
                if conn is None:
                    conn = smtplib.SMTP(host, port, timeout=60,
                                        local_hostname="client%d.test" % k)
                conn.sendmail("c%d@clients.test" % k, [rcpt], msg)
                break
            except (smtplib.SMTPException, OSError):
                with lock:
                    state["retries"] += 1
                try:
                    conn.close()
                except Exception:
                    pass
                conn, sent = None, 0
                time.sleep(min(0.05 * (attempt + 1), 1.0))
        else:
            with lock:
                state["failed"] += 1
            continue
        with lock:
            accepted.write(mid + "\n")
            state["accepted"] += 1
        sent += 1
        if sent == per:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            conn, sent = None, 0
    if conn is not None:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass

start = time.time()
threads = [threading.Thread(target=work, args=(k,)) for k in range(nclients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("accepted=%d retries=%d seconds=%.1f" % (state["accepted"],
      state["retries"], time.time() - start))
sys.exit(1 if state["failed"] else 0)
EOF
}

# The Message-IDs of what Postfix delivered to user $1, one a line, sorted
# (a duplicate shows twice).
hx_delivered() {
	find "$PF_DIR/mail/$1/new" "$PF_DIR/mail/$1/cur" -type f \
	    -exec grep -h -m1 -i '^Message-ID:' {} + 2>/dev/null |
	    sed 's/^[^<]*//; s/\r$//' | LC_ALL=C sort
}

# Succeeds when every Message-ID in file $1 was delivered to user $2.
hx_all_delivered() {
	[ -z "$(LC_ALL=C comm -23 <(LC_ALL=C sort -u "$1") \
	    <(hx_delivered "$2" | uniq))" ]
}

# hx_wait_delivered FILE USER SECONDS: waits until hx_all_delivered, at
# most SECONDS by the clock (one check of 3,000 files takes a while, so
# wait_for's count of tries would not bound it); cheap while the Maildir
# holds fewer files than FILE has lines.
hx_wait_delivered() {
	local end=$((SECONDS + $3)) want
	want=$(sort -u "$1" | wc -l)
	while [ "$SECONDS" -lt "$end" ]; do
		if [ "$(find "$PF_DIR/mail/$2/new" "$PF_DIR/mail/$2/cur" \
		    -type f 2>/dev/null | wc -l)" -ge "$want" ] &&
		    hx_all_delivered "$1" "$2"; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}
