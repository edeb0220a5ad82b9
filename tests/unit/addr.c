/*
 * addr.c: unit tests for common/addr.c, the RFC 5321 path parser.
 *
 * A table of inputs as they follow "MAIL FROM:" / "RCPT TO:", each with the
 * mailbox and parameters addr_parse() must give, or its refusal; then the
 * lengths at and one past every RFC limit; then addr_domain_valid() and
 * addr_domain().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

struct parse_case {
	const char	*name;		/* what the case shows */
	const char	*in;
	int		 rc;		/* 0 or -1 */
	const char	*addr;		/* when rc is 0 */
	const char	*rest;		/* when rc is 0 */
};

static const struct parse_case parse_cases[] = {
	/* the forms we accept */
	{ "bracketed mailbox", "<a@b>", 0, "a@b", "" },
	{ "null path", "<>", 0, "", "" },
	{ "null path with parameters", "<> SIZE=10", 0, "", "SIZE=10" },
	{ "leading space tolerated", " <a@b>", 0, "a@b", "" },
	{ "several leading spaces tolerated", "   <a@b>", 0, "a@b", "" },
	{ "bare mailbox tolerated", "a@b", 0, "a@b", "" },
	{ "bare mailbox, rest at parameters", "a@b SIZE=100", 0, "a@b",
	    "SIZE=100" },
	{ "bracketed, rest at parameters", "<a@b> BODY=8BITMIME", 0, "a@b",
	    "BODY=8BITMIME" },
	{ "spaces before parameters skipped", "<a@b>   SIZE=1 BODY=7BIT", 0,
	    "a@b", "SIZE=1 BODY=7BIT" },
	{ "trailing space ignored", "<a@b> ", 0, "a@b", "" },
	{ "case kept", "<Joe.User@Example.ORG>", 0, "Joe.User@Example.ORG",
	    "" },
	{ "dotted local part and domain", "<first.last@mail.example.org>", 0,
	    "first.last@mail.example.org", "" },
	{ "atext specials in local part", "<a!#$%&'*+-/=?^_`{|}~z@b>", 0,
	    "a!#$%&'*+-/=?^_`{|}~z@b", "" },
	{ "hyphen inside a label", "<a@mx-1.ex-ample.org>", 0,
	    "a@mx-1.ex-ample.org", "" },
	{ "digit-only labels", "<a@123.45>", 0, "a@123.45", "" },
	{ "source route dropped", "<@x,@y:a@b>", 0, "a@b", "" },
	{ "one-hop source route dropped", "<@relay.example:a@b> SIZE=5", 0,
	    "a@b", "SIZE=5" },
	{ "quoted local part", "<\"a b\"@c>", 0, "\"a b\"@c", "" },
	{ "quoted local part, bare", "\"a b\"@c", 0, "\"a b\"@c", "" },
	{ "quoted local part with escapes", "<\"a\\\"b\\\\c\"@d>", 0,
	    "\"a\\\"b\\\\c\"@d", "" },
	{ "quoted local part holding @ and >", "<\"a@b>\"@c>", 0,
	    "\"a@b>\"@c", "" },
	{ "empty quoted local part", "<\"\"@c>", 0, "\"\"@c", "" },
	{ "IPv4 address literal", "<a@[127.0.0.1]>", 0, "a@[127.0.0.1]",
	    "" },
	{ "IPv4 address literal, bare", "a@[127.0.0.1]", 0, "a@[127.0.0.1]",
	    "" },
	{ "IPv6 address literal", "<a@[IPv6:::1]>", 0, "a@[IPv6:::1]", "" },
	{ "postmaster without domain", "<postmaster>", 0, "postmaster", "" },
	{ "Postmaster any case", "<PostMaster>", 0, "PostMaster", "" },

	/* the forms we refuse */
	{ "empty string", "", -1, NULL, NULL },
	{ "only spaces", "   ", -1, NULL, NULL },
	{ "lone bracket", "<", -1, NULL, NULL },
	{ "unclosed bracket", "<a@b", -1, NULL, NULL },
	{ "unopened bracket", "a@b>", -1, NULL, NULL },
	{ "junk after bracket", "<a@b>x", -1, NULL, NULL },
	{ "junk after null path", "<>x", -1, NULL, NULL },
	{ "tab before parameters", "<a@b>\tSIZE=1", -1, NULL, NULL },
	{ "double brackets", "<<a@b>>", -1, NULL, NULL },
	{ "no domain", "a@", -1, NULL, NULL },
	{ "no domain, bracketed", "<a@>", -1, NULL, NULL },
	{ "no local part", "@b", -1, NULL, NULL },
	{ "no local part, bracketed", "<@b>", -1, NULL, NULL },
	{ "two @", "<a@b@c>", -1, NULL, NULL },
	{ "double dot in local part", "<a..b@c>", -1, NULL, NULL },
	{ "leading dot in local part", "<.a@c>", -1, NULL, NULL },
	{ "trailing dot in local part", "<a.@c>", -1, NULL, NULL },
	{ "double dot in domain", "<a@b..c>", -1, NULL, NULL },
	{ "leading dot in domain", "<a@.b>", -1, NULL, NULL },
	{ "trailing dot in domain", "<a@b.>", -1, NULL, NULL },
	{ "domain label with leading hyphen", "<a@-b.c>", -1, NULL, NULL },
	{ "domain label with trailing hyphen", "<a@b-.c>", -1, NULL, NULL },
	{ "last label with trailing hyphen", "<a@b.c->", -1, NULL, NULL },
	{ "underscore in domain", "<a@b_c.d>", -1, NULL, NULL },
	{ "space inside brackets", "<a b@c>", -1, NULL, NULL },
	{ "space before @", "<a @c>", -1, NULL, NULL },
	{ "space after @", "<a@ c>", -1, NULL, NULL },
	{ "space before closing bracket", "<a@c >", -1, NULL, NULL },
	{ "control character in local part", "<a\001b@c>", -1, NULL, NULL },
	{ "DEL in local part", "<a\177b@c>", -1, NULL, NULL },
	{ "control character in domain", "<a@b\001c>", -1, NULL, NULL },
	{ "CR in path", "<a@b\r>", -1, NULL, NULL },
	{ "8-bit byte in local part", "<caf\303\251@b>", -1, NULL, NULL },
	{ "8-bit byte in domain", "<a@caf\303\251.fr>", -1, NULL, NULL },
	{ "8-bit byte in quoted local part", "<\"caf\303\251\"@b>", -1, NULL,
	    NULL },
	{ "8-bit byte in address literal", "<a@[1.2.3.\3034]>", -1, NULL,
	    NULL },
	{ "control character in quoted local part", "<\"a\001\"@b>", -1,
	    NULL, NULL },
	{ "unterminated quote", "<\"ab@c>", -1, NULL, NULL },
	{ "backslash at end of quoted string", "<\"ab\\", -1, NULL, NULL },
	{ "empty address literal", "<a@[]>", -1, NULL, NULL },
	{ "unclosed address literal", "<a@[1.2.3.4>", -1, NULL, NULL },
	{ "space in address literal", "<a@[1.2.3. 4]>", -1, NULL, NULL },
	{ "bracket in address literal", "<a@[1[2]>", -1, NULL, NULL },
	{ "backslash in address literal", "<a@[1\\2]>", -1, NULL, NULL },
	{ "source route without colon", "<@x,@y a@b>", -1, NULL, NULL },
	{ "source route missing @ after comma", "<@x,y:a@b>", -1, NULL,
	    NULL },
	{ "source route with empty hop", "<@:a@b>", -1, NULL, NULL },
	{ "source route without mailbox", "<@x:>", -1, NULL, NULL },
	{ "source route outside brackets", "@x:a@b", -1, NULL, NULL },
};

/* A string of n copies of c. */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL) {
		perror("malloc");
		exit(1);
	}
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A domain of n octets: labels of label octets, dots between them. */
static char *
make_domain(size_t n, size_t label)
{
	char *s = repeat('d', n);
	size_t i;

	for (i = label; i < n; i += label + 1)
		s[i] = '.';
	return s;
}

/* addr_parse() with a fresh exact-size buffer, so ASan sees overruns. */
static int
parse(const char *in, char *addr, size_t size, const char **rest)
{
	char *buf = malloc(size);
	int rc;

	if (buf == NULL) {
		perror("malloc");
		exit(1);
	}
	rc = addr_parse(in, buf, size, rest);
	if (rc == 0)
		memcpy(addr, buf, strlen(buf) + 1);
	free(buf);
	return rc;
}

static void
test_table(void)
{
	const struct parse_case *c;
	char addr[ADDR_MAX + 1];
	const char *rest;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		c = &parse_cases[i];
		rest = NULL;
		strcpy(addr, "untouched");
		rc = addr_parse(c->in, addr, sizeof(addr), &rest);
		if (c->rc == -1) {
			is_int(rc, -1, "refused: %s", c->name);
			continue;
		}
		if (!is_int(rc, 0, "accepted: %s", c->name))
			continue;
		is_str(addr, c->addr, "mailbox: %s", c->name);
		ok(rest != NULL && rest >= c->in &&
		    rest <= c->in + strlen(c->in) &&
		    strcmp(rest, c->rest) == 0,
		    "rest points into the input at the parameters: %s",
		    c->name);
	}
}

/* RFC 5321 4.5.3.1: local part 64, label 63, path 256 with brackets. */
static void
test_limits(void)
{
	char in[1024], addr[ADDR_MAX + 1];
	const char *rest;
	char *s, *t;

	s = repeat('l', 64);
	snprintf(in, sizeof(in), "<%s@b>", s);
	is_int(addr_parse(in, addr, sizeof(addr), &rest), 0,
	    "local part of exactly 64 octets accepted");
	free(s);
	s = repeat('l', 65);
	snprintf(in, sizeof(in), "<%s@b>", s);
	is_int(addr_parse(in, addr, sizeof(addr), &rest), -1,
	    "local part of 65 octets refused");
	free(s);
	s = repeat('l', 62);
	snprintf(in, sizeof(in), "<\"%s\"@b>", s);
	is_int(addr_parse(in, addr, sizeof(addr), &rest), 0,
	    "quoted local part of 64 octets with quotes accepted");
	free(s);
	s = repeat('l', 63);
	snprintf(in, sizeof(in), "<\"%s\"@b>", s);
	is_int(addr_parse(in, addr, sizeof(addr), &rest), -1,
	    "quoted local part of 65 octets with quotes refused");
	free(s);
	s = repeat('l', 65);
	is_int(addr_parse(s, addr, sizeof(addr), &rest), -1,
	    "local part of 65 octets refused without domain (postmaster form)");
	free(s);

	s = repeat('d', 63);
	snprintf(in, sizeof(in), "<a@%s.org>", s);
	is_int(addr_parse(in, addr, sizeof(addr), &rest), 0,
	    "domain label of 63 octets accepted");
	ok(addr_domain_valid(s), "addr_domain_valid: label of 63 octets");
	free(s);
	s = repeat('d', 64);
	snprintf(in, sizeof(in), "<a@%s.org>", s);
	is_int(addr_parse(in, addr, sizeof(addr), &rest), -1,
	    "domain label of 64 octets refused");
	snprintf(in, sizeof(in), "<a@org.%s>", s);
	is_int(addr_parse(in, addr, sizeof(addr), &rest), -1,
	    "last domain label of 64 octets refused");
	ok(!addr_domain_valid(s), "addr_domain_valid: label of 64 refused");
	free(s);

	/* The longest path: "<" 64 "@" 189 ">" is 256 octets. */
	s = repeat('l', 64);
	t = make_domain(189, 63);
	snprintf(in, sizeof(in), "<%s@%s>", s, t);
	is_int((long)strlen(in), ADDR_MAX, "longest path is 256 octets");
	is_int(addr_parse(in, addr, sizeof(addr), &rest), 0,
	    "path of exactly 256 octets accepted");
	is_int((long)strlen(addr), ADDR_MAX - 2,
	    "mailbox of the longest path is 254 octets");
	is_int(addr_parse(in + 1, addr, sizeof(addr), &rest), -1,
	    "bare form of it with a trailing > refused");
	in[strlen(in) - 1] = '\0';
	is_int(addr_parse(in + 1, addr, sizeof(addr), &rest), 0,
	    "bare mailbox of 254 octets accepted");
	free(t);
	t = make_domain(190, 63);
	snprintf(in, sizeof(in), "<%s@%s>", s, t);
	is_int((long)strlen(in), ADDR_MAX + 1, "that path plus one octet");
	is_int(addr_parse(in, addr, sizeof(addr), &rest), -1,
	    "path of 257 octets refused");
	in[strlen(in) - 1] = '\0';
	is_int(addr_parse(in + 1, addr, sizeof(addr), &rest), -1,
	    "bare mailbox of 255 octets refused");
	free(t);
	free(s);

	/* The caller's buffer bounds the copy, too. */
	is_int(parse("<abc@d>", addr, 6, &rest), 0,
	    "mailbox of 5 octets fits a buffer of 6");
	is_str(addr, "abc@d", "and is copied whole");
	is_int(parse("<abc@de>", addr, 6, &rest), -1,
	    "mailbox of 6 octets refused for a buffer of 6");
	is_int(parse("<>", addr, 1, &rest), 0,
	    "null path fits a buffer of 1");
	is_str(addr, "", "null path gives the empty string");

	/* A very long input must not be read past its end or accepted. */
	s = repeat('x', 100000);
	is_int(addr_parse(s, addr, sizeof(addr), &rest), -1,
	    "100000-octet bare local part refused");
	free(s);
}

static void
test_domain(void)
{
	char *s;

	ok(addr_domain_valid("example.org"), "valid: example.org");
	ok(addr_domain_valid("localhost"), "valid: single label");
	ok(addr_domain_valid("a"), "valid: one-letter label");
	ok(addr_domain_valid("mx-1.example.org"), "valid: hyphen inside");
	ok(addr_domain_valid("1.2.3.4"), "valid: digit labels");
	ok(addr_domain_valid("[127.0.0.1]"), "valid: IPv4 address literal");
	ok(addr_domain_valid("[IPv6:::1]"), "valid: IPv6 address literal");
	ok(!addr_domain_valid(""), "invalid: empty");
	ok(!addr_domain_valid("-a.org"), "invalid: leading hyphen");
	ok(!addr_domain_valid("a-.org"), "invalid: trailing hyphen");
	ok(!addr_domain_valid("a..org"), "invalid: empty label");
	ok(!addr_domain_valid(".org"), "invalid: leading dot");
	ok(!addr_domain_valid("org."), "invalid: trailing dot");
	ok(!addr_domain_valid("a b.org"), "invalid: space");
	ok(!addr_domain_valid("a_b.org"), "invalid: underscore");
	ok(!addr_domain_valid("a.org\n"), "invalid: trailing newline");
	ok(!addr_domain_valid("caf\303\251.fr"), "invalid: 8-bit byte");
	ok(!addr_domain_valid("[]"), "invalid: empty literal");
	ok(!addr_domain_valid("[1.2.3.4"), "invalid: unclosed literal");
	ok(!addr_domain_valid("[1.2.3.4]x"), "invalid: junk after literal");
	ok(!addr_domain_valid("a@b"), "invalid: holds @");

	s = make_domain(255, 63);
	ok(addr_domain_valid(s), "valid: domain of exactly 255 octets");
	free(s);
	s = make_domain(256, 62);
	ok(!addr_domain_valid(s), "invalid: domain of 256 octets");
	free(s);

	is_str(addr_domain("a@b.org"), "b.org", "addr_domain: after the @");
	is_str(addr_domain("\"x@y\"@b.org"), "b.org",
	    "addr_domain: after the last @ (quoted @ in local part)");
	is_str(addr_domain("a@[127.0.0.1]"), "[127.0.0.1]",
	    "addr_domain: address literal");
	ok(addr_domain("postmaster") == NULL,
	    "addr_domain: NULL without @");
	ok(addr_domain("") == NULL, "addr_domain: NULL for the null path");
	is_str(addr_domain("a@"), "", "addr_domain: empty after a final @");
}

/* RFC 6531 3.3: UTF-8 paths, valid UTF-8 only (RFC 3629 4). */
static void
test_utf8(void)
{
	static const struct { const char *in; int rc; const char *what; }
	cases[] = {
		{ "<jos\303\251@example.org>", 0, "2-octet local part" },
		{ "<\"jos\303\251 x\"@example.org>", 0, "in a quoted string" },
		{ "<a@caf\303\251.example>", 0, "2-octet domain label" },
		{ "<a@\344\276\213\343\201\210.jp>", 0, "3-octet labels" },
		{ "<\360\237\230\200@x.org>", 0, "4-octet U+1F600" },
		{ "<\364\217\277\277@x.org>", 0, "U+10FFFF, the last" },
		{ "<\302\200@x.org>", 0, "U+0080, the first" },
		{ "<\300\251@x.org>", -1, "overlong C0" },
		{ "<\301\277@x.org>", -1, "overlong C1" },
		{ "<\340\200\257@x.org>", -1, "overlong E0 80" },
		{ "<\360\200\200\257@x.org>", -1, "overlong F0 80" },
		{ "<\355\240\200@x.org>", -1, "surrogate ED A0 (U+D800)" },
		{ "<\355\277\277@x.org>", -1, "surrogate U+DFFF" },
		{ "<\364\220\200\200@x.org>", -1, "U+110000" },
		{ "<\365\200\200\200@x.org>", -1, "F5 lead" },
		{ "<\377@x.org>", -1, "FF" },
		{ "<\251@x.org>", -1, "lone continuation" },
		{ "<\303@x.org>", -1, "cut short before @" },
		{ "<\343\201@x.org>", -1, "3-octet cut short" },
		{ "<a@x\303>", -1, "cut short at the end" },
		{ "<a@\303\251-.org>", -1, "label ending in a hyphen" },
		{ "<a@[\303\251]>", -1, "UTF-8 in an address literal" },
	};
	char addr[ADDR_MAX + 1], box[ADDR_LOCAL_MAX + 1];
	const char *rest;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ok(addr_parse_utf8(cases[i].in, addr, sizeof(addr), &rest) ==
		    cases[i].rc, "utf8: %s", cases[i].what);
		ok(addr_parse(cases[i].in, addr, sizeof(addr), &rest) == -1,
		    "ascii parser refuses: %s", cases[i].what);
	}
	ok(addr_parse_utf8("<a@b> SMTPUTF8", addr, sizeof(addr), &rest) == 0 &&
	    strcmp(rest, "SMTPUTF8") == 0, "utf8: ASCII as addr_parse");
	ok(addr_is_ascii("a@b.org") && !addr_is_ascii("jos\303\251@b.org"),
	    "addr_is_ascii");
	ok(addr_mailbox("Jos\303\251@x.org", box, sizeof(box)) == 0 &&
	    strcmp(box, "jos\303\251") == 0,
	    "mailbox: UTF-8 kept, ASCII lower-cased");
	ok(addr_mailbox("a\302\233b@x.org", box, sizeof(box)) == -1,
	    "mailbox: C1 control U+009B (CSI) refused");
	ok(addr_mailbox("a\300\257@x.org", box, sizeof(box)) == -1,
	    "mailbox: overlong '/' refused");
	ok(addr_mailbox("a\303", box, sizeof(box)) == -1,
	    "mailbox: cut short refused");
}

int
main(void)
{
	alarm(10);	/* a hang is a failure too */
	test_table();
	test_limits();
	test_domain();
	test_utf8();
	return tap_done();
}
