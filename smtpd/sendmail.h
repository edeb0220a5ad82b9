/*
 * sendmail.h: what sendmail.c shares with its other files.
 */
#ifndef SENDMAIL_H
#define SENDMAIL_H

#include "common.h"

/* sendmail_mailq.c: -bp, mailq */
int	mailq_list(const char *queue_dir);

#endif
