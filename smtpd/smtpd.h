/*
 * smtpd.h: what smtpd.c and data.c share.
 */
#ifndef SMTPD_H
#define SMTPD_H

#include "common.h"

/* data.c: the DATA machine (RFC 5321 4.1.1.4, 4.5.2) */
enum data_state {
	D_BOL,		/* at a line start: a dot here is special */
	D_DOT,		/* "." at a line start */
	D_DOTCR,	/* "." CR at a line start: LF ends the message */
	D_TEXT,		/* inside a line */
	D_CR,		/* a CR inside a line, not yet written */
	D_END		/* the final dot's line has been read */
};

struct data {
	enum data_state	 state;
	int		 lf_ends_line;	/* DATA came with a bare LF */
	unsigned long long size;	/* message bytes as stored */
	unsigned long	 max_size;	/* over it: is_too_big, nothing written */
	int		 is_too_big;
	struct out	*out;		/* where the message goes */
};

void	data_init(struct data *, struct out *, unsigned long max_size,
	    int lf_ends_line);
size_t	data_scan(struct data *, const char *, size_t);

/* limits.c: deadlines for reads, a session's lifetime */
struct limits {
	long long	end;		/* line_now() when the session must end */
	unsigned	timeout;	/* -t: seconds per command line */
	unsigned long	rate;		/* -r: DATA bytes a second, at least */
};

void	limits_start(struct limits *, unsigned timeout, unsigned lifetime,
	    unsigned long rate);
void	limits_command(const struct limits *, struct line *);
void	limits_data_credit(const struct limits *, struct line *, size_t);
int	limits_life_over(const struct limits *);

#endif
