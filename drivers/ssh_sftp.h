/*
 * File transfers of the `ssh` driver over SFTP (ssh_sftp.c), on a
 * connection of ssh_conn.c: one SFTP session per connection, opened on
 * first use.
 */
#ifndef ITEST_SSH_SFTP_H
#define ITEST_SSH_SFTP_H

#include "ssh_conn.h"

/*
 * Copies the local file to `remote` (created or replaced; `mode`, or
 * the local file's mode when mode < 0), or `remote` to the local file
 * (its parent folders made; the remote mode kept), within w.  0 with
 * *bytes; -1 with msg, or with w->timed_out / w->cancelled.  *drop is
 * set when the connection is in doubt afterwards (a timeout, a failed
 * socket): the caller drops it.
 */
int ssh_sftp_put(struct ssh_conn *c, const char *local, const char *remote,
		 int mode, struct ssh_wait *w, uint64_t *bytes, int *drop,
		 struct strbuf *msg);
int ssh_sftp_get(struct ssh_conn *c, const char *remote, const char *local,
		 struct ssh_wait *w, uint64_t *bytes, int *drop,
		 struct strbuf *msg);

#endif
