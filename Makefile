# Makefile: builds smtpd and smtpsend; "make test" runs every test twice,
# plain and under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   make                 build both programs
#   make SANITIZE=1      the same binaries, built with ASan + UBSan
#   make O=build/x ...   put objects and binaries under build/x instead
#   make test            unit tests and bats tests, plain and sanitized
#   make run             demo on 127.0.0.1:2525, queue in ./var/queue
#   make install         PREFIX (/usr/local) and DESTDIR honoured

CC	?= cc
CFLAGS	?= -O2 -g
STD	 = -std=c11 -pedantic -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L
# smtpq.conf's place is compiled in (common/conf.c), and where smtpqctl
# finds smtpd and smtpsend: SYSCONFDIR and SBINDIR (below).
STD	+= -DSYSCONFDIR='"$(SYSCONFDIR)"' -DSBINDIR='"$(SBINDIR)"'
PREFIX	?= /usr/local
O	?= .

# smtpd is started once per connection, so whatever runs before main() is
# paid for on every connection.  It is linked statically, as a PIE (ASLR
# still applies), so no dynamic loader runs; and it is built against musl
# when musl is installed (Debian: musl-tools), as glibc's start-up executes
# CPUID dozens of times to size caches and pick string functions, and in a
# virtual machine each CPUID traps to the hypervisor.  CPU for a fork, an
# exec and a (220, QUIT) session, measured with perf stat: glibc dynamic
# 580 us, glibc static 430, musl static 170 (README, Benchmarks).
# SMTPD_LIBC=glibc and SMTPD_STATIC= (dynamic, glibc) change this; the
# sanitized, valgrind and fault-injection builds use both.  smtpsend, run
# once per queue run, stays dynamic glibc.
MUSL_CC	 ?= musl-gcc
MUSL_LIB ?= /usr/lib/$(shell uname -m)-linux-musl
SMTPD_STATIC ?= -static-pie
ifeq ($(origin SMTPD_LIBC),undefined)
SMTPD_LIBC := $(if $(filter 1,$(SANITIZE)),glibc,$(if $(and $(SMTPD_STATIC),\
	$(shell command -v $(MUSL_CC)),$(wildcard $(MUSL_LIB)/rcrt1.o)),musl,glibc))
endif

ifeq ($(SANITIZE),1)
SAN	 = -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
SMTPD_STATIC =
endif

ALL_CFLAGS = $(STD) $(SAN) $(CFLAGS) -Icommon

COMMON_SRC  = $(sort $(wildcard common/*.c))
# smtpd/NAME.c for each NAME in SMTPD_PROGS is a program of its own,
# smtpd/NAME, built by the rule below with LDLIBS_NAME, not part of smtpd;
# smtpd/sendmail*.c are sendmail's, with a rule of their own.
SMTPD_PROGS = checkpassword
LDLIBS_checkpassword = -lcrypt
SMTPD_SRC   = $(filter-out $(SMTPD_PROGS:%=smtpd/%.c) smtpd/sendmail%,\
	      $(sort $(wildcard smtpd/*.c)))
SENDMAIL_SRC = $(sort $(wildcard smtpd/sendmail*.c))
# smtpsend/smtpqctl*.c are smtpqctl's, the operator's command.
SMTPSEND_SRC = $(filter-out smtpsend/smtpqctl%,$(sort $(wildcard smtpsend/*.c)))
SMTPQCTL_SRC = $(sort $(wildcard smtpsend/smtpqctl*.c))
UNIT_SRC    = $(sort $(wildcard tests/unit/*.c))

COMMON_OBJ  = $(COMMON_SRC:%.c=$(O)/%.o)
SMTPD_OBJ   = $(SMTPD_SRC:%.c=$(O)/%.o)
SMTPSEND_OBJ = $(SMTPSEND_SRC:%.c=$(O)/%.o)
SENDMAIL_OBJ = $(SENDMAIL_SRC:%.c=$(O)/%.o)
SMTPQCTL_OBJ = $(SMTPQCTL_SRC:%.c=$(O)/%.o)
UNIT_BIN    = $(UNIT_SRC:%.c=$(O)/%)

PROGS	= $(O)/smtpd/smtpd $(if $(SMTPSEND_SRC),$(O)/smtpsend/smtpsend) \
	  $(if $(SENDMAIL_SRC),$(O)/smtpd/sendmail $(O)/smtpd/mailq) \
	  $(SMTPD_PROGS:%=$(O)/smtpd/%) \
	  $(if $(SMTPQCTL_SRC),$(O)/smtpsend/smtpqctl)

.PHONY: all test unit run clean install uninstall bench valgrind bench-world
all: $(PROGS)

$(O)/%.o: %.c common/common.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/common/libcommon.a: $(COMMON_OBJ)
	rm -f $@
	ar rcs $@ $(COMMON_OBJ)

ifeq ($(SMTPD_LIBC),musl)
# musl-gcc compiles against musl's headers.  Its Debian wrapper cannot
# link a static PIE (it always asks for musl's dynamic loader), so the
# compiler links directly, with musl's start files named here: rcrt1.o
# relocates the program itself.
MUSL_O	 = $(if $(filter .,$(O)),build/musl,$(O)/musl)
MUSL_OBJ = $(SMTPD_SRC:%.c=$(MUSL_O)/%.o)
MUSL_COMMON_OBJ = $(COMMON_SRC:%.c=$(MUSL_O)/%.o)

$(MUSL_O)/%.o: %.c common/common.h
	@mkdir -p $(@D)
	$(MUSL_CC) $(STD) $(CFLAGS) -Icommon -c -o $@ $<

$(MUSL_O)/common/libcommon.a: $(MUSL_COMMON_OBJ)
	rm -f $@
	ar rcs $@ $(MUSL_COMMON_OBJ)

$(MUSL_OBJ): smtpd/smtpd.h

# $(call musl_link,OBJECTS): links $@.
musl_link = $(CC) $(CFLAGS) $(LDFLAGS) -static-pie -nostdlib -o $@ \
	    $(MUSL_LIB)/rcrt1.o $(MUSL_LIB)/crti.o \
	    $$($(CC) -print-file-name=crtbeginS.o) $(1) $(MUSL_LIB)/libc.a \
	    $$($(CC) -print-libgcc-file-name) \
	    $$($(CC) -print-file-name=crtendS.o) $(MUSL_LIB)/crtn.o

$(O)/smtpd/smtpd: $(MUSL_OBJ) $(MUSL_O)/common/libcommon.a
	@mkdir -p $(@D)
	$(call musl_link,$(MUSL_OBJ) $(MUSL_O)/common/libcommon.a)
else
$(O)/smtpd/smtpd: $(SMTPD_OBJ) $(O)/common/libcommon.a
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) $(SMTPD_STATIC) -o $@ $(SMTPD_OBJ) \
	    $(O)/common/libcommon.a
endif

$(SMTPD_OBJ): smtpd/smtpd.h
# mx.h: direct delivery's MX choice (common/mx.c), for smtpsend's files.
$(O)/common/mx.o $(SMTPSEND_OBJ) $(UNIT_BIN) $(O)/tests/dns/mxq: common/mx.h

# The programs beside smtpd: dynamic, against the system's libc.
$(SMTPD_PROGS:%=$(O)/smtpd/%): $(O)/smtpd/%: $(O)/smtpd/%.o \
    $(O)/common/libcommon.a
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/common/libcommon.a \
	    $(LDLIBS_$*)
$(SMTPSEND_OBJ): smtpsend/smtpsend.h

$(O)/smtpsend/smtpsend: $(SMTPSEND_OBJ) $(O)/common/libcommon.a
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $(SMTPSEND_OBJ) $(O)/common/libcommon.a

$(SMTPQCTL_OBJ): smtpsend/smtpqctl.h

# smtpsend/dane.c and mtasts.c (tlspolicy.h) are smtpqctl probe's too.
TLSPOLICY_OBJ = $(O)/smtpsend/dane.o $(O)/smtpsend/mtasts.o \
		$(O)/smtpsend/tlsrpt.o
$(TLSPOLICY_OBJ) $(O)/smtpsend/tls.o $(O)/smtpsend/smtpqctl-probe.o \
    $(O)/smtpsend/mxtls.o: \
    smtpsend/tlspolicy.h

$(O)/smtpsend/smtpqctl: $(SMTPQCTL_OBJ) $(TLSPOLICY_OBJ) $(O)/common/libcommon.a
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $(SMTPQCTL_OBJ) $(TLSPOLICY_OBJ) \
	    $(O)/common/libcommon.a

# sendmail runs setgid (make install): dynamic glibc, which ignores the
# caller's LD_* variables in a setgid program.  mailq is a link to it.
$(SENDMAIL_OBJ): smtpd/sendmail.h

$(O)/smtpd/sendmail: $(SENDMAIL_OBJ) $(O)/common/libcommon.a
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $(SENDMAIL_OBJ) $(O)/common/libcommon.a

$(O)/smtpd/mailq: $(O)/smtpd/sendmail
	ln -sf sendmail $@

$(O)/tests/unit/%: tests/unit/%.c tests/unit/tap.h $(O)/common/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(O)/common/libcommon.a

# Commands the bats suites run as they would run smtpsend's code, with
# nothing of smtpsend around it (tests/dns/mxq: the MX lookup;
# tests/sign/qsign: DKIM signing).
TEST_BIN    = $(O)/tests/dns/mxq $(O)/tests/sign/qsign
# tests/dns/daneq: the DANE policy and handshake; tests/dns/stsq: MTA-STS.
TEST_BIN   += $(O)/tests/dns/daneq $(O)/tests/dns/stsq
# tests/dns/rptq: a TLS report count recorded as smtpsend would.
TEST_BIN   += $(O)/tests/dns/rptq

$(O)/tests/dns/rptq: tests/dns/rptq.c $(O)/smtpsend/tlsrpt.o \
    $(O)/common/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ismtpsend -o $@ $< $(O)/smtpsend/tlsrpt.o \
	    $(O)/common/libcommon.a

$(O)/tests/dns/daneq: tests/dns/daneq.c $(O)/smtpsend/dane.o \
    $(O)/smtpsend/tls.o $(O)/common/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ismtpsend -o $@ $< $(O)/smtpsend/dane.o \
	    $(O)/smtpsend/tls.o $(O)/common/libcommon.a

$(O)/tests/dns/stsq: tests/dns/stsq.c $(O)/smtpsend/mtasts.o \
    $(O)/common/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ismtpsend -o $@ $< $(O)/smtpsend/mtasts.o \
	    $(O)/common/libcommon.a

$(O)/tests/dns/mxq: tests/dns/mxq.c $(O)/common/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/common/libcommon.a

$(O)/tests/sign/qsign: tests/sign/qsign.c $(O)/smtpsend/sign.o \
    smtpsend/sign.h $(O)/common/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ismtpsend -o $@ $< $(O)/smtpsend/sign.o \
	    $(O)/common/libcommon.a

unit: $(UNIT_BIN) $(TEST_BIN)

# Plain build in place, sanitized build under build/asan (and a clang build
# under build/clang, only to prove it warning-free); tests/run prints the
# closing "N passed, N failed" line over the plain and sanitized runs.
# First .ci/install: as root it installs what .ci/packages lists and is
# missing; as another user it names the command that would, and stops.
# The lint and the four builds run two at a time (separate directories);
# then tests/run runs TEST_JOBS suites at a time, of both builds together:
# on two cores 3 keeps them busy while suites wait on peers and timeouts,
# more only adds load.  Suites marked "# tests/run: nspawn" (they boot a
# machine) run one at a time, in one of the TEST_JOBS slots, from the
# start; "serial" ones (33: it asserts a latency) alone, at the end;
# "noasan" ones (they drive peers through paths other suites run under
# ASan) in the plain build only.
TEST_JOBS ?= 3
TEST_PREP  = test-lint test-plain test-clang test-asan fault
test:
	@bash .ci/install
	$(MAKE) -j2 -Otarget $(TEST_PREP)
	TEST_JOBS=$(TEST_JOBS) tests/run . build/asan

test-lint:
	$(MAKE) lint
test-plain:
	$(MAKE) all unit
test-clang:
	$(MAKE) O=build/clang CC=clang SMTPD_LIBC=glibc all unit
test-asan:
	$(MAKE) O=build/asan SANITIZE=1 all unit
.PHONY: test-lint test-plain test-clang test-asan

# The demo: smtpd on 127.0.0.1:2525 under systemd-socket-activate, the
# queue in ./var/queue, the log in ./var/log; smtpsend drains the queue
# every 5 s into ./var/mail/<user>/new, or to RELAY=host:port when given.
# Ctrl-C stops both.
DEMO_PORT ?= 2525
RELAY	  ?=
# The suites under valgrind memcheck with a full leak check (a dynamic
# build under build/vg, as memcheck cannot see malloc in a static binary,
# and the fault-injection build; any report fails).  The abuse suite feeds
# a 64 MiB "GiB" there and every time bound is 20 times longer
# (helpers.bash: SLOWDOWN).  VALGRIND_JOBS suites at a time: memcheck
# keeps a core busy, but the suites also wait on peers, sleeps and
# timeouts (with 2 jobs the suites' wall time summed 1,927 s against
# 1,614 s of CPU), so a third keeps both cores busy.  Not under
# valgrind ("# tests/run: novalgrind"), as make test runs them and
# memcheck would see nothing new:
#   31-deploy, 32-systemd, 33-systemd-path  they drive launchers and
#       systemd; 32, 33 install and run the top build in a container,
#       never the binaries under test; 31's sessions (a message, the
#       session cap) are 10-14's and 30's, which run under valgrind
#   53-haproxy    drives HAProxy and Postfix; its smtpd -P and smtpsend
#       -w paths run under valgrind in 52 (27 tests), 20 and 25
#   71-sendmail-privileges  setgid: valgrind cannot run it (70 runs
#       sendmail under valgrind); it runs the top build
#   35-readme  runs the README's quick starts in containers, the top
#       build installed there, as 32 and 33 do
#   80-ci-install  runs no binary of ours
# Within suites, runs memcheck would see nothing new in run without it
# (60's killed runs and smtpsend's run after a failed call, 51's idle
# sessions; the suites say why): each process costs some 0.7 s of CPU
# to start there, and tests/run prints how many each suite ran.
VALGRIND_JOBS ?= 3
valgrind: all fault
	$(MAKE) O=build/vg SMTPD_LIBC=glibc SMTPD_STATIC= all unit
	TEST_JOBS=$(VALGRIND_JOBS) tests/run valgrind:build/vg

run: all
	@mkdir -p var
	@echo "smtpd on 127.0.0.1:$(DEMO_PORT), queue in ./var/queue, log in ./var/log"
	@echo "smtpsend every 5s: $(if $(RELAY),relays to $(RELAY),-r local: delivers every recipient into ./var/mail/<user>/new)"
	@echo "send a test mail from another terminal:"
	@echo "  swaks --server 127.0.0.1:$(DEMO_PORT) --to you@localhost"
	@echo "or:"
	@printf '%s\n' "  printf 'HELO me\\r\\nMAIL FROM:<me@localhost>\\r\\nRCPT TO:<you@localhost>\\r\\nDATA\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n.\\r\\nQUIT\\r\\n' | nc 127.0.0.1 $(DEMO_PORT)"
	@echo "then: ls var/mail/you/new; cat var/log; $(O)/smtpsend/smtpsend -p -q var/queue"
	@echo "Ctrl-C stops."
	@$(O)/smtpsend/smtpsend -w 5s -q $(CURDIR)/var/queue -n localhost \
	    -m $(CURDIR)/var/mail -l $(CURDIR)/var/log \
	    $(if $(RELAY),-r $(RELAY),-r local) & sender=$$!; \
	trap 'kill $$sender 2>/dev/null' EXIT INT TERM; \
	systemd-socket-activate -l 127.0.0.1:$(DEMO_PORT) -a --inetd \
	    $(CURDIR)/$(O)/smtpd/smtpd -q $(CURDIR)/var/queue -n localhost \
	    -l $(CURDIR)/var/log

clean:
	rm -rf build var
	rm -f common/*.o common/libcommon.a smtpd/*.o smtpd/smtpd \
	    smtpd/sendmail smtpd/mailq \
	    $(SMTPD_PROGS:%=smtpd/%) \
	    smtpsend/*.o smtpsend/smtpsend smtpsend/smtpqctl $(UNIT_SRC:%.c=%) \
	    tests/dns/mxq tests/sign/qsign tests/dns/daneq tests/dns/stsq \
	    tests/dns/rptq

# Installation ----------------------------------------------------------
# make install puts the programs, their man pages, the systemd units (with
# sysusers.d and tmpfiles.d files and an environment file) and the inetd,
# xinetd and tcpserver examples under $(DESTDIR)$(PREFIX), @SBINDIR@-style
# placeholders filled in.  Every file it installs and every directory it
# has to create is listed in $(DATADIR)/installed; make uninstall removes
# exactly those (paths must not contain spaces).  Files are replaced by
# rename, so running smtpd sessions survive an upgrade.  The environment
# file is installed only where none exists, and uninstall keeps it once
# edited.  Run as root without DESTDIR, it makes the users and groups of
# each role (systemd-sysusers) and the queue and Maildir root with their
# modes (systemd-tmpfiles), from the files it installs; never removed.
SBINDIR		= $(PREFIX)/sbin
MANDIR		= $(PREFIX)/share/man
DATADIR		= $(PREFIX)/share/smtpq
UNITDIR		= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	= $(PREFIX)/lib/sysusers.d
TMPFILESDIR	= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR	= /etc
QUEUEDIR	= /var/spool/smtpq
MAILROOT	= /var/spool/smtpq-mail
# sendmail's setgid group (README, "Users and privileges"): no longer the
# queue's group, whose name the variable keeps.
QUEUE_GROUP	= smtpq-submit

SUBST	= sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@QUEUEDIR@|$(QUEUEDIR)|g' -e 's|@MAILDIR@|$(MAILROOT)|g'
MANPAGES = $(wildcard smtpd/smtpd.8 smtpd/sendmail.8 smtpsend/smtpsend.8 \
	   smtpsend/smtpqctl.8 common/smtpq.conf.5)
UNITS	= systemd/smtpd.socket systemd/smtpd@.service \
	  systemd/smtpsend.service systemd/smtpsend.timer \
	  systemd/smtpsend.path \
	  systemd/smtpd-submission.socket systemd/smtpd-submission@.service \
	  systemd/smtpd-submissions.socket systemd/smtpd-submissions@.service \
	  systemd/smtpq-stunnel-465.service systemd/smtpd-tcpserver.service \
	  systemd/smtpq-stunnel-465.socket systemd/smtpd-ipv6.socket
# Examples for STARTTLS and submission, installed under $(DATADIR).
TLS_EXAMPLES = $(wildcard stunnel/*.conf) inetd/inetd-tls.conf \
	  inetd/xinetd.smtpd-tls
TLS_SCRIPTS = inetd/tcpserver-587.run inetd/tcpserver-465.run
ENVFILE	= $(SYSCONFDIR)/default/smtpq

install: all
	@set -e; d='$(DESTDIR)'; list="$$d$(DATADIR)/installed"; \
	new=$$(mktemp); trap 'rm -f "$$new"' EXIT; \
	if [ -n "$$d" ]; then mkdir -p "$$d"; fi; \
	mkdirs() { \
		todo=; p=$$1; \
		while [ "$$p" != / ] && [ ! -d "$$d$$p" ]; do \
			todo="$$p $$todo"; p=$$(dirname "$$p"); \
		done; \
		for p in $$todo; do \
			mkdir -m 755 "$$d$$p"; echo "$$p/" >>"$$new"; \
		done; \
	}; \
	put() { \
		mkdirs "$$(dirname "$$2")"; tmp="$$d$$2.new$$$$"; \
		if [ "$$4" = subst ]; then $(SUBST) "$$1" >"$$tmp"; \
		else cp "$$1" "$$tmp"; fi; \
		if [ -n "$${4#subst}" ]; then chgrp "$${4#subst}" "$$tmp"; fi; \
		chmod "$$3" "$$tmp"; mv -f "$$tmp" "$$d$$2"; \
		echo "$$2" >>"$$new"; echo "install $$1 $$d$$2"; \
	}; \
	if [ -z "$$d" ] && [ "$$(id -u)" -eq 0 ] && \
	    command -v systemd-sysusers >/dev/null; then \
		$(SUBST) systemd/smtpq.sysusers | systemd-sysusers - || true; \
	fi; \
	put $(O)/smtpd/smtpd $(SBINDIR)/smtpd 755; \
	put $(O)/smtpd/checkpassword $(SBINDIR)/smtpq-checkpassword 755; \
	if [ -f $(O)/smtpsend/smtpsend ]; then \
		put $(O)/smtpsend/smtpsend $(SBINDIR)/smtpsend 755; fi; \
	if [ -f $(O)/smtpsend/smtpqctl ]; then \
		put $(O)/smtpsend/smtpqctl $(SBINDIR)/smtpqctl 755; fi; \
	if [ -f $(O)/smtpd/sendmail ]; then \
		if getent group $(QUEUE_GROUP) >/dev/null && \
		    [ "$$(id -u)" -eq 0 ]; then \
			put $(O)/smtpd/sendmail $(SBINDIR)/sendmail 2755 \
			    $(QUEUE_GROUP); \
		else \
			put $(O)/smtpd/sendmail $(SBINDIR)/sendmail 755; \
			echo "note: no group $(QUEUE_GROUP) (or not root):" \
			    "sendmail is not setgid; only root can use it"; \
		fi; \
		ln -sf sendmail "$$d$(SBINDIR)/mailq"; \
		echo "$(SBINDIR)/mailq" >>"$$new"; \
	fi; \
	for f in $(MANPAGES); do \
		put $$f $(MANDIR)/man$${f##*.}/$${f##*/} 644 subst; done; \
	for f in $(UNITS); do put $$f $(UNITDIR)/$${f##*/} 644 subst; done; \
	put systemd/smtpd@.service $(UNITDIR)/smtpd-ipv6@.service 644 subst; \
	put systemd/smtpq.sysusers $(SYSUSERSDIR)/smtpq.conf 644 subst; \
	put systemd/smtpq.tmpfiles $(TMPFILESDIR)/smtpq.conf 644 subst; \
	if [ ! -e "$$d$(ENVFILE)" ]; then \
		put systemd/smtpq.default $(ENVFILE) 644 subst; fi; \
	put inetd/inetd.conf $(DATADIR)/inetd.conf 644 subst; \
	put inetd/xinetd.smtpd $(DATADIR)/xinetd.smtpd 644 subst; \
	put inetd/tcpserver.run $(DATADIR)/tcpserver.run 755 subst; \
	put inetd/haproxy.cfg $(DATADIR)/haproxy.cfg 644; \
	for f in $(TLS_EXAMPLES); do put $$f $(DATADIR)/$$f 644 subst; done; \
	for f in $(TLS_SCRIPTS); do put $$f $(DATADIR)/$$f 755 subst; done; \
	if [ -f "$$list" ]; then cat "$$list" >>"$$new"; fi; \
	LC_ALL=C sort -u "$$new" >"$$list"; chmod 644 "$$list"; \
	if [ -z "$$d" ] && [ "$$(id -u)" -eq 0 ] && \
	    command -v systemd-tmpfiles >/dev/null; then \
		systemd-tmpfiles --create $(TMPFILESDIR)/smtpq.conf || \
		    echo "note: systemd-tmpfiles failed: queue modes unset"; \
	fi

# make install-sendmail: $(SBINDIR)/sendmail becomes /usr/sbin/sendmail
# and /usr/bin/mailq (symbolic links).  A file there that a Debian MTA
# package owns is set aside with dpkg-divert --local --rename (to
# PATH.smtpq-orig), so the package neither fights the link nor loses its
# file; make uninstall-sendmail puts it back.
SENDMAIL_LINKS = /usr/sbin/sendmail:$(SBINDIR)/sendmail \
		 /usr/bin/mailq:$(SBINDIR)/mailq

install-sendmail:
	@set -e; for pair in $(SENDMAIL_LINKS); do \
		link=$${pair%%:*}; target=$${pair#*:}; \
		if [ "$$(readlink "$(DESTDIR)$$link" || true)" = "$$target" ]; \
		then continue; fi; \
		if [ -z "$(DESTDIR)" ] && [ -e "$$link" ] && \
		    command -v dpkg-divert >/dev/null; then \
			dpkg-divert --local --rename \
			    --divert "$$link.smtpq-orig" --add "$$link"; \
		fi; \
		if [ -e "$(DESTDIR)$$link" ] || [ -L "$(DESTDIR)$$link" ]; then \
			echo "install-sendmail: $(DESTDIR)$$link exists;" \
			    "move it aside first"; exit 1; fi; \
		mkdir -p "$$(dirname "$(DESTDIR)$$link")"; \
		ln -s "$$target" "$(DESTDIR)$$link"; \
		echo "ln -s $$target $(DESTDIR)$$link"; \
	done

uninstall-sendmail:
	@set -e; for pair in $(SENDMAIL_LINKS); do \
		link=$${pair%%:*}; target=$${pair#*:}; \
		if [ "$$(readlink "$(DESTDIR)$$link" || true)" != "$$target" ]; \
		then continue; fi; \
		rm -f "$(DESTDIR)$$link"; echo "rm $(DESTDIR)$$link"; \
		if [ -z "$(DESTDIR)" ] && command -v dpkg-divert >/dev/null && \
		    dpkg-divert --list "$$link" | grep -q .; then \
			dpkg-divert --local --rename \
			    --divert "$$link.smtpq-orig" --remove "$$link"; \
		fi; \
	done

.PHONY: install-sendmail uninstall-sendmail

# make uninstall on a live system (root, no DESTDIR) first stops and
# disables every unit it installed (and the sessions of the templates),
# puts back the /usr/sbin/sendmail and mailq that install-sendmail set
# aside, and after the removal reloads systemd; the queue and the Maildir
# root are kept, and what the queue still holds is said.
uninstall:
	@set -e; d='$(DESTDIR)'; list="$$d$(DATADIR)/installed"; \
	if [ ! -f "$$list" ]; then \
		echo "uninstall: no $$list: nothing to remove"; exit 0; fi; \
	live=; if [ -z "$$d" ] && [ "$$(id -u)" -eq 0 ] && \
	    [ -d /run/systemd/system ] && command -v systemctl >/dev/null; \
	then live=1; fi; \
	if [ -n "$$live" ]; then \
		units=$$(sed -n 's|^$(UNITDIR)/||p' "$$list"); \
		for u in $$units; do case $$u in \
		*@.service) systemctl stop "$${u%@.service}@*.service" \
		    2>/dev/null || true;; \
		*) systemctl disable --now "$$u" 2>/dev/null || true; \
		   echo "systemctl disable --now $$u";; \
		esac; done; \
	fi; \
	if [ -z "$$d" ]; then $(MAKE) -s uninstall-sendmail; fi; \
	paths=$$(LC_ALL=C sort -r "$$list"); rm -f "$$list"; \
	for p in $$paths; do \
		case $$p in \
		*/)	rmdir "$$d$${p%/}" 2>/dev/null || \
			    echo "uninstall: kept $$d$$p: not empty";; \
		$(ENVFILE)) \
			if $(SUBST) systemd/smtpq.default | \
			    cmp -s - "$$d$$p"; then \
				rm -f "$$d$$p"; echo "rm $$d$$p"; \
			else echo "uninstall: kept $$d$$p: edited"; fi;; \
		*)	rm -f "$$d$$p"; echo "rm $$d$$p";; \
		esac; \
	done; \
	if [ -n "$$live" ]; then systemctl daemon-reload || true; fi; \
	q="$$d$(QUEUEDIR)"; if [ -d "$$q" ]; then \
		n=0; say=; for s in new hold failed; do \
			c=$$(find "$$q/$$s" -mindepth 1 -maxdepth 1 -type f \
			    2>/dev/null | wc -l); \
			n=$$((n + c)); say="$$say $$s/ $$c,"; \
		done; \
		echo "uninstall: kept the queue $$q: $$n message(s) ($${say# }" \
		    "tmp/ not counted); delete it yourself once empty"; \
	fi; \
	if [ -d "$$d$(MAILROOT)" ]; then \
		echo "uninstall: kept the Maildirs under $$d$(MAILROOT)"; fi

# make deb: the Debian package (debian/), built by dpkg-buildpackage from
# a copy of the tree under build/deb/src, as it writes its results into
# the parent of the tree it builds: build/deb/smtpq_VERSION_ARCH.deb.
# Then lintian: any error or warning not overridden (with its reason, in
# debian/smtpq.lintian-overrides) fails; its output in
# build/deb/lintian.txt.  Needs dpkg-dev, debhelper and lintian.
DEB_DIR	= build/deb

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tar -cf - --exclude=./build --exclude=./.git --exclude=./var . | \
	    tar -C $(DEB_DIR)/src -xf -
	cd $(DEB_DIR)/src && \
	    DEB_BUILD_OPTIONS="$${DEB_BUILD_OPTIONS:-parallel=2}" \
	    dpkg-buildpackage -us -uc -b \
	    >../build.log 2>&1 || { tail -n 40 ../build.log; exit 1; }
	rm -rf $(DEB_DIR)/src
	lintian --fail-on error,warning --display-info $(DEB_DIR)/smtpq_*.deb \
	    >$(DEB_DIR)/lintian.txt 2>&1 || { cat $(DEB_DIR)/lintian.txt; \
	    exit 1; }
	@cat $(DEB_DIR)/lintian.txt
	@ls -l $(DEB_DIR)/smtpq_*.deb

.PHONY: deb

# Fuzzing (libFuzzer, clang): each tests/fuzz/fuzz_*.c is built with every
# common/*.c into build/fuzz/ and run for FUZZ_SECONDS on its seeds in
# tests/fuzz/corpus/<target> (new inputs go to build/fuzz/corpus/<target>,
# a crashing input to build/fuzz/<target>-crash-*).  Prints the executions
# run per target; a crash, leak, hang or sanitizer report fails.  How the
# targets are built to be reused: tests/fuzz/README.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS   = $(STD) -g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Icommon -Itests/fuzz
FUZZ_SRC      = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN      = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# common/*.c (and smtpd's files for fuzz_session) are compiled once, with
# the same flags, into build/fuzz/obj/: not again for each target (that
# was 16 times the same 23 files, a third of make fuzz's time).
FUZZ_O        = build/fuzz/obj
FUZZ_COMMON   = $(COMMON_SRC:%.c=$(FUZZ_O)/%.o)
# fuzz_session links smtpd's objects like smtpd, all but smtpd.c (main)
FUZZ_SESSION  = $(filter-out smtpd/smtpd.c,$(SMTPD_SRC))
FUZZ_LINK_fuzz_session = $(FUZZ_SESSION:%.c=$(FUZZ_O)/%.o)
# fuzz_sendmail_head links sendmail's objects, all but sendmail.c (main)
FUZZ_SENDMAIL = $(filter-out smtpd/sendmail.c,$(SENDMAIL_SRC))
FUZZ_LINK_fuzz_sendmail_head = $(FUZZ_SENDMAIL:%.c=$(FUZZ_O)/%.o)

$(FUZZ_O)/%.o: %.c $(wildcard common/*.h) smtpd/smtpd.h smtpd/sendmail.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_O)/libcommon.a: $(FUZZ_COMMON)
	rm -f $@
	ar rcs $@ $(FUZZ_COMMON)

$(FUZZ_BIN): build/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) \
    $(FUZZ_O)/libcommon.a $(FUZZ_LINK_fuzz_session) \
    $(FUZZ_LINK_fuzz_sendmail_head) \
    common/common.h $(SMTPD_SRC) smtpd/smtpd.h \
    smtpsend/body.c smtpsend/smtpsend.h $(SENDMAIL_SRC) \
    smtpsend/mtasts.c smtpsend/tlsrpt.c smtpsend/tlspolicy.h \
    smtpsend/poolmsg.c \
    smtpsend/route.c smtpsend/url.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LINK_$*) \
	    $(FUZZ_O)/libcommon.a

# FUZZ_JOBS targets at a time (each runs on one core); a target is built
# in the same jobs, so that building the next overlaps running the last.
FUZZ_JOBS    ?= 2
FUZZ_RUNS     = $(FUZZ_BIN:build/fuzz/%=fuzz-run-%)
.PHONY: fuzz $(FUZZ_RUNS)
fuzz:
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) $(FUZZ_RUNS)

$(FUZZ_RUNS): fuzz-run-%: build/fuzz/%
	@t=$*; bin=build/fuzz/$$t; log=build/fuzz/$$t.log; \
	mkdir -p build/fuzz/corpus/$$t; \
	echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	if ! $$bin -max_total_time=$(FUZZ_SECONDS) -timeout=25 \
	    -print_final_stats=1 -artifact_prefix=build/fuzz/$$t- \
	    build/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	    >$$log 2>&1; then \
		tail -n 40 $$log; \
		echo "fuzz: $$t FAILED (input in build/fuzz/$$t-*," \
		    "log $$log)"; \
		exit 1; \
	fi; \
	echo "fuzz: $$t: $$(sed -n \
	    's/^stat::number_of_executed_units: *//p' $$log)" \
	    "executions, no crash"

# Static analysis over common/, smtpd/ and smtpsend/ (whichever sources
# exist): cppcheck, then clang-tidy with the checks in .clang-tidy; any
# finding fails.  cppcheck suppressions, and why:
#   variableScope                   KNF declares locals at the top of a
#                                   block (style(9)), which this flags
#   readdirCalled                   advises readdir_r, deprecated by glibc
#                                   and POSIX; no directory stream is
#                                   read by two threads (smtpsend's only
#                                   threads, reap.c's, just close files)
#   constParameter:smtpd/{session,txn}.c command handlers share the command
#                                   table's signature (char *arg), so the
#                                   ones that only read arg cannot say const
CPPCHECK   ?= cppcheck
CLANG_TIDY ?= clang-tidy
LINT_SRC    = $(COMMON_SRC) $(SMTPD_SRC) $(SENDMAIL_SRC) \
	      $(SMTPD_PROGS:%=smtpd/%.c) $(SMTPSEND_SRC) $(SMTPQCTL_SRC)
LINT_DEFS   = -std=c11 -D_POSIX_C_SOURCE=200809L -Icommon
LINT_JOBS  ?= 2

lint:
	$(CPPCHECK) --quiet --error-exitcode=1 --std=c11 --library=posix \
	    --enable=warning,style,performance,portability --inline-suppr \
	    -D_POSIX_C_SOURCE=200809L -Icommon \
	    --suppress=variableScope --suppress=readdirCalled \
	    --suppress=constParameter:smtpd/session.c \
	    --suppress=constParameter:smtpd/txn.c \
	    --template='{file}:{line}: {severity}: {id}: {message}' \
	    $(LINT_SRC)
	printf '%s\n' $(LINT_SRC) | xargs -P $(LINT_JOBS) -I{} \
	    $(CLANG_TIDY) --quiet {} -- $(LINT_DEFS)

.PHONY: fuzz lint

# Fault injection (tests/60-fault.bats): smtpd and smtpsend built again,
# plain, under build/fault, from the same sources, linked with GNU ld's
# --wrap for every call in FAULT_WRAP and tests/fault/fault.c, which counts
# those calls and fails the Nth when FAULT_AT=N says so (its head comment
# lists the knobs).  The knob exists only in these two binaries, which
# close delivered files in one thread (REAP_SERIAL, smtpsend/reap.c), so
# that the counted calls come in one order.
FAULT_DIR	= build/fault
FAULT_WRAP	= open openat read pread write fsync rename renameat close \
		  unlink unlinkat mkdir mkdirat futimens fstat fstatat fcntl \
		  lseek
FAULT_OBJ	= $(FAULT_DIR)/tests/fault/fault.o
FAULT_LDFLAGS	= $(FAULT_WRAP:%=-Wl,--wrap=%) $(FAULT_OBJ)

fault:
	$(MAKE) O=$(FAULT_DIR) SANITIZE= SMTPD_LIBC=glibc SMTPD_STATIC= \
	    CFLAGS='$(CFLAGS) -DREAP_SERIAL' \
	    LDFLAGS='$(LDFLAGS) $(FAULT_LDFLAGS)' \
	    $(FAULT_DIR)/smtpd/smtpd $(FAULT_DIR)/smtpsend/smtpsend

# Relinked when the wrapper or the wrapped list (this file) changes.
$(FAULT_DIR)/smtpd/smtpd $(FAULT_DIR)/smtpsend/smtpsend: $(FAULT_OBJ) Makefile

.PHONY: fault

# Benchmarks: ours against a private Postfix instance on
# 127.0.0.1, one table with ratios and targets (reported, not asserted).
# Needs root; installs its peers with apt-get when missing.  Never part of
# "make test".  BENCH_QUICK=1: CI's smoke run, every row at the fewest
# messages that make it; a full run takes about ten minutes on two idle
# cores.  What it measures and why:
# tests/bench/run.
BENCH_SRC = $(sort $(wildcard tests/bench/*.c))
BENCH_BIN = $(BENCH_SRC:tests/bench/%.c=build/bench/%)

$(filter-out build/bench/nullsmtp,$(BENCH_BIN)): build/bench/%: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(STD) -O2 -o $@ $<

# The do-nothing responder is built and linked as smtpd is: the ceiling it
# measures is the launcher's and the kernel's.
ifeq ($(SMTPD_LIBC),musl)
build/bench/nullsmtp: tests/bench/nullsmtp.c
	@mkdir -p $(@D)
	$(MUSL_CC) $(STD) -O2 -c -o $@.o $<
	$(call musl_link,$@.o)
else
build/bench/nullsmtp: tests/bench/nullsmtp.c
	@mkdir -p $(@D)
	$(CC) $(STD) -O2 $(SMTPD_STATIC) -o $@ $<
endif

bench: all $(BENCH_BIN)
	SMTPD_BUILD='$(SMTPD_LIBC)$(if $(SMTPD_STATIC), $(SMTPD_STATIC), dynamic)' \
	    tests/bench/run . build/bench

# Only direct delivery to the world against Postfix (part of
# "make bench"): tests/bench/world.  BENCH_QUICK=1: 40 messages.
bench-world: all build/bench/treecpu
	tests/bench/world . build/bench
