#!/usr/bin/env bats
# Direct delivery end to end: smtpsend, with no relay, sends
# messages to domains of every kind tests/mxnet.bash makes (receivers that
# take mail, answer slowly, greylist, refuse, are down or dead; domains
# with a null MX, none at all, a failing or silent DNS server, or us as
# their best MX).  Each recipient must end as its destination decided:
# delivered exactly once, deferred (still queued), or bounced with the
# destination's reason, never twice, never lost.

load helpers
load mxnet

KINDS="ok:6 slow:1 grey:2 down:1 dead:1 reject:2 backup:2 self:1 null:1 nx:1 servfail:1 silent:1"

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	MXNET_SLOW=1
	mxnet_start $KINDS
}

teardown() {
	mxnet_stop
}

# send FLAGS...: one queue run in the sender's namespace, our name mx.test,
# no relay: every remote recipient goes to its MX.
send() {
	run mxnet_exec "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 3s \
	    -m "$MAILDIR" "$@"
}

# How many times the receivers took recipient $1.
taken() {
	cat "$MXNET_DIR"/recv/*/*.env 2>/dev/null | grep -cxF "to=<$1>" || true
}

# The queued recipients, one a line ("To: <...>" lines of new/).
pending() {
	cat "$Q"/new/* 2>/dev/null | sed -n 's/^To: <\(.*\)>$/\1/p' | sort
}

@test "direct delivery: every recipient delivered, deferred or bounced as its destination decided, none twice" {
	local -a domains
	local -A rcpts
	local n i d k r s
	mapfile -t domains < <(awk '{ print $1 }' "$MXNET_DIR/domains")
	n=${#domains[@]}
	# Message i goes to domain i and domain i+7: every message mixes
	# kinds, every domain gets two recipients.
	for ((i = 0; i < n; i++)); do
		d=${domains[(i + 7) % n]}
		qmsg "$(qname 0 "$i")" sender@mx.test "a$i@${domains[i]}" "b$i@$d"
		rcpts[${domains[i]}]+=" a$i@${domains[i]}"
		rcpts[$d]+=" b$i@$d"
	done

	send
	assert_status 75
	# The second run: the greylisted recipients' retry.
	send -f
	assert_status 75

	while read -r d k; do
		for r in ${rcpts[$d]}; do
			s=$(grep -F "to=<$r>" "$LOG" | tail -n 1)
			case $k in
			ok|slow|grey|backup)
				[ "$(taken "$r")" -eq 1 ] ||
				    { echo "$r ($k): taken $(taken "$r") times" >&2; false; }
				[[ $s == *result=sent* ]] ;;
			reject|null|nx|self)
				[ "$(taken "$r")" -eq 0 ]
				case $k in
				reject) [[ $s == *"result=bounced: 550 5.7.1 "* ]] ;;
				null) [[ $s == *"result=bounced: 556 5.1.10 "* ]] ;;
				nx) [[ $s == *"result=bounced: 550 5.1.2 "* ]] ;;
				self) [[ $s == *"result=bounced: 554 5.4.6 mail for $d loops back to myself"* ]] ;;
				esac ||
				    { echo "$r ($k): $s" >&2; false; } ;;
			down|dead|servfail|silent)
				[ "$(taken "$r")" -eq 0 ]
				[[ $s == *result=deferred* ]] ||
				    { echo "$r ($k): $s" >&2; false; }
				pending | grep -qxF "$r" ||
				    { echo "$r ($k) is not queued" >&2; false; } ;;
			esac
		done
	done <"$MXNET_DIR/domains"

	# Every recipient accounted for: 2 per domain, each once in the log
	# of its last run; the deferred ones (4 domains) still queued, the
	# others not.
	[ "$(grep -o 'to=<[ab][0-9]*@[^>]*>' "$LOG" | sort -u | wc -l)" -eq $((2 * n)) ]
	[ "$(pending | wc -l)" -eq 8 ]
	[ "$(pending | sort -u | wc -l)" -eq 8 ]
	# The greylisted took two tries: deferred 451 4.7.1 first.
	for r in $(grep -o 'to=<[ab][0-9]*@d[0-9]*\.grey\.mxnet\.test>' "$LOG" | sort -u); do
		[ "$(grep -cF "$r" "$LOG")" -eq 2 ]
		grep -F "$r" "$LOG" | head -n 1 | grep -q 'result=deferred: 451 4\.7\.1 '
	done
	# A bounce for each of the 10 bounced recipients (5 domains).
	[ "$(cat "$MAILDIR"/sender/new/* | grep -c '^Final-Recipient:')" -eq 10 ]
}
