/*
 * smtpqctl.h: what the parts of smtpqctl share (smtpqctl.c: commands and
 * privileges; smtpqctl-list.c: the queue listing).
 */
#ifndef SMTPQCTL_H
#define SMTPQCTL_H

#include <sys/stat.h>

#include <stdio.h>

#include "common.h"

#ifndef SBINDIR
#define SBINDIR		"/usr/local/sbin"
#endif

/* The queue's directories a message can be in. */
enum { QDIR_NEW, QDIR_HOLD, QDIR_FAILED, QDIRS };

extern const char *const qdir_names[QDIRS];
extern const char *const qdir_states[QDIRS];
extern const char *queue_dir;
extern const char *log_file;
extern int qdirs[QDIRS];

int	qdir_open(int);
int	msg_open(int dir, const char *id, struct stat *);
void	print_esc(FILE *, const char *, int is_spaces_ok);

/* smtpqctl-list.c */
enum { QUEUE_TEXT, QUEUE_JSON, QUEUE_SUMMARY };
int	cmd_queue(int mode);

/* smtpqctl-probe.c: probe DOMAIN */
int	cmd_probe_domain(const char *domain, const char *cafile);
/* smtpqctl-probe.c: tlsrpt DAY */
int	cmd_tlsrpt(const char *day);
/* smtpqctl-dkim.c: dkim-keygen; a key's p= (base64) and its TXT record */
int	cmd_dkim_keygen(int argc, char *const argv[]);
int	dkim_public(const char *keyfile, int is_ed25519, char *b64,
	    size_t size);
void	dkim_print_record(const char *domain, const char *selector,
	    int is_ed25519, const char *b64);

/* smtpqctl-doctor.c: doctor; each dkim line of smtpq.conf (-D) */
int	cmd_doctor(int argc, char *const argv[]);
void	doctor_dkim(const char *line);

#endif
