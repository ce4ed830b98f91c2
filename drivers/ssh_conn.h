/*
 * SSH connections for the `ssh` driver (drivers/ssh.c): one libssh2
 * session over a non-blocking TCP socket, opened with the host key
 * verified (a fingerprint or known_hosts) and the user authenticated (a
 * key, the agent, a password), then used for many commands and file
 * transfers.  Every wait polls the socket together with the run's cancel
 * fd, up to a deadline, so that a step can time out or be interrupted
 * anywhere.
 */
#ifndef ITEST_SSH_CONN_H
#define ITEST_SSH_CONN_H

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "strbuf.h"

/* A hosts: entry, rendered and resolved (paths absolute).  Owns its
 * strings. */
struct ssh_target {
	char *name; /* the entry's name in hosts: ("app1") */
	char *host;
	int port;
	char *user;
	char *key;	  /* private key file, or NULL */
	char *passphrase; /* of the key, or NULL */
	char *password;	  /* or NULL */
	int agent;	  /* 1: try ssh-agent; 0: do not; -1: unset */
	char *known_hosts;
	int known_hosts_given; /* the file was named: it must exist */
	char *host_key;	       /* the SHA256 fingerprint (base64, no
				  padding), or NULL */
	char *host_key_type;   /* a hint from the host-key text
				  ("ssh-ed25519"), or NULL */
	int insecure;	       /* insecure-host-key: true */
	int64_t connect_timeout_ms;
};

void ssh_target_release(struct ssh_target *t);

/*
 * What a wait may take: until `deadline` (now_ms() time; 0: none) or
 * until `cancel_fd` (-1: none) turns readable.  A wait that ends either
 * way sets timed_out or cancelled and returns -1; the caller gives up.
 */
struct ssh_wait {
	double deadline;
	int cancel_fd;
	int timed_out, cancelled;
};

struct ssh_conn {
	char *id;  /* "user@host:port", for messages */
	char *key; /* what the driver keeps it by (owned), or NULL */
	int sock;
	LIBSSH2_SESSION *session;
	LIBSSH2_SFTP *sftp;   /* opened on the first put or get */
	const char *password; /* for keyboard-interactive, during auth */
};

/*
 * Opens a connection to t: TCP (TCP_NODELAY), handshake, host key
 * check, authentication, all within w (and t's connect-timeout, which
 * the caller folds into w->deadline).  Lines about what happened go to
 * `log` (may be NULL).  0 with *out, or -1 with the reason in msg (and
 * w->timed_out / w->cancelled when that is why).
 */
int ssh_conn_open(struct ssh_conn **out, const struct ssh_target *t,
		  struct ssh_wait *w, struct strbuf *log, struct strbuf *msg);

/*
 * Waits until libssh2 can go on (the socket is ready in the directions
 * it blocked on).  0, or -1 when w's deadline passed or it was
 * cancelled.
 */
int ssh_conn_wait(struct ssh_conn *c, struct ssh_wait *w);

/* Opens the SFTP subsystem once per connection.  0, or -1 with msg. */
int ssh_conn_sftp(struct ssh_conn *c, struct ssh_wait *w, struct strbuf *msg);

/* libssh2's last error on the connection: "CODE: text" appended. */
void ssh_conn_last_error(struct ssh_conn *c, struct strbuf *msg);

/*
 * Closes and frees a connection (NULL is fine).  `graceful`: say
 * goodbye to the server first (bounded by a short wait); else the
 * socket is shut down at once, as after a timeout that left it in an
 * unknown state.
 */
void ssh_conn_free(struct ssh_conn *c, int graceful);

/* Base64 without padding, as OpenSSH prints fingerprints. */
void ssh_base64(struct strbuf *out, const unsigned char *p, size_t n);

#endif
