/*
 * SSH connections of the `ssh` driver (see ssh_conn.h): TCP, the
 * handshake, the host key check and authentication, on libssh2 1.10 in
 * non-blocking mode.
 *
 * Host keys.  libssh2 picks the first host key type of its preference
 * list that the server has, so the list is chosen to match what we hold:
 * the types known_hosts has for this host (found by asking
 * libssh2_knownhost_checkp about a dummy key of each type: a "mismatch"
 * means an entry of that type exists, hashed or not), or the type a
 * `host-key` text names.  A bare fingerprint names no type: the first
 * connection takes OpenSSH's order, and when its key does not match,
 * one more connection per other type asks for that type alone, so a
 * fingerprint of any of the server's keys is found.
 *
 * Authentication tries a key, then the agent, then the password
 * (keyboard-interactive when the server does not take "password").
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssh_conn.h"

/* The longest single poll: libssh2 is asked again after it, so a wait on
 * a direction that never comes cannot hang a step without a deadline. */
#define SSH_POLL_MAX_MS 1000
/* How long a goodbye to the server may take. */
#define SSH_BYE_MS 200

/* The host key types libssh2 1.10 can verify, in OpenSSH's order. */
static const struct hk_type {
	const char *method; /* the algorithm name */
	const char *keygen; /* how ssh-keygen -l names it: "(ED25519)" */
	int hostkey;	    /* LIBSSH2_HOSTKEY_TYPE_* */
	int knownhost;	    /* LIBSSH2_KNOWNHOST_KEY_* */
} hk_types[] = {
	{"ssh-ed25519", "ED25519", LIBSSH2_HOSTKEY_TYPE_ED25519,
	 LIBSSH2_KNOWNHOST_KEY_ED25519},
	{"ecdsa-sha2-nistp256", "ECDSA", LIBSSH2_HOSTKEY_TYPE_ECDSA_256,
	 LIBSSH2_KNOWNHOST_KEY_ECDSA_256},
	{"ecdsa-sha2-nistp384", "ECDSA", LIBSSH2_HOSTKEY_TYPE_ECDSA_384,
	 LIBSSH2_KNOWNHOST_KEY_ECDSA_384},
	{"ecdsa-sha2-nistp521", "ECDSA", LIBSSH2_HOSTKEY_TYPE_ECDSA_521,
	 LIBSSH2_KNOWNHOST_KEY_ECDSA_521},
	{"ssh-rsa", "RSA", LIBSSH2_HOSTKEY_TYPE_RSA,
	 LIBSSH2_KNOWNHOST_KEY_SSHRSA},
};
#define HK_N ARRAY_SIZE(hk_types)

void ssh_target_release(struct ssh_target *t)
{
	free(t->name);
	free(t->host);
	free(t->user);
	free(t->key);
	free(t->passphrase);
	free(t->password);
	free(t->known_hosts);
	free(t->host_key);
	free(t->host_key_type);
	memset(t, 0, sizeof(*t));
}

/* ---- base64 ---- */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ssh_base64(struct strbuf *out, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		strbuf_addch(out, b64[v >> 18 & 63]);
		strbuf_addch(out, b64[v >> 12 & 63]);
		if (i + 1 < n)
			strbuf_addch(out, b64[v >> 6 & 63]);
		if (i + 2 < n)
			strbuf_addch(out, b64[v & 63]);
	}
}

/* Decodes base64, skipping white space; stops at '=' or a bad byte. */
static void base64_decode(struct strbuf *out, const char *s, size_t n)
{
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		const char *at = memchr(b64, s[i], 64);
		if (s[i] == '\n' || s[i] == '\r' || s[i] == ' ')
			continue;
		if (!at || !s[i])
			break;
		v = v << 6 | (unsigned)(at - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			strbuf_addch(out, (int)(v >> bits & 0xff));
		}
	}
}

/* ---- waiting ---- */

/* Waits for `events` on fd, the deadline or the cancel fd; gives up
 * after SSH_POLL_MAX_MS (returning 0) so that the caller asks again. */
static int wait_fd(int fd, short events, struct ssh_wait *w)
{
	for (;;) {
		int ms = SSH_POLL_MAX_MS;
		if (w->deadline) {
			double left = w->deadline - now_ms();
			if (left <= 0) {
				w->timed_out = 1;
				return -1;
			}
			if (left < ms)
				ms = (int)left + 1;
		}
		struct pollfd p[2] = {{fd, events, 0},
				      {w->cancel_fd, POLLIN, 0}};
		int n = poll(p, w->cancel_fd >= 0 ? 2 : 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 0;
		if (w->cancel_fd >= 0 && p[1].revents) {
			w->cancelled = 1;
			return -1;
		}
		if (n > 0 || !w->deadline || ms == SSH_POLL_MAX_MS)
			return 0;
	}
}

int ssh_conn_wait(struct ssh_conn *c, struct ssh_wait *w)
{
	int dirs = libssh2_session_block_directions(c->session);
	short ev = 0;
	if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
		ev |= POLLIN;
	if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		ev |= POLLOUT;
	return wait_fd(c->sock, ev ? ev : POLLIN, w);
}

void ssh_conn_last_error(struct ssh_conn *c, struct strbuf *msg)
{
	char *text = NULL;
	int len = 0;
	int rc = libssh2_session_last_error(c->session, &text, &len, 0);
	if (text && len > 0)
		strbuf_add(msg, text, (size_t)len);
	else
		strbuf_addf(msg, "libssh2 error %d", rc);
}

/* "NAME (user@host:port)" for messages. */
static void add_who(struct strbuf *sb, const struct ssh_target *t)
{
	strbuf_addf(sb, "'%s' (%s@%s:%d)", t->name, t->user, t->host, t->port);
}

/* ---- TCP ---- */

/* One address: the connected socket, or -1 with *e. */
static int connect_one(const struct addrinfo *a, struct ssh_wait *w, int *e)
{
	int one = 1, ready = 0;
	int fd = socket(a->ai_family,
			a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			a->ai_protocol);
	if (fd < 0) {
		*e = errno;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
		return fd;
	*e = errno;
	while (*e == EINPROGRESS && !ready) {
		struct pollfd p = {fd, POLLOUT, 0};
		if (wait_fd(fd, POLLOUT, w) < 0)
			break;
		ready = poll(&p, 1, 0) == 1;
	}
	if (ready) {
		socklen_t len = sizeof(*e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, e, &len) < 0)
			*e = errno;
		if (!*e)
			return fd;
	}
	close(fd);
	return -1;
}

static int tcp_connect(const struct ssh_target *t, struct ssh_wait *w,
		       struct strbuf *msg)
{
	struct addrinfo hints, *res = NULL;
	char port[16];
	int fd = -1, e = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", t->port);
	int rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc) {
		strbuf_addf(msg, "cannot resolve the host '%s' of '%s': %s",
			    t->host, t->name, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = connect_one(a, w, &e);
		if (w->timed_out || w->cancelled)
			break;
	}
	freeaddrinfo(res);
	if (fd >= 0 || w->timed_out || w->cancelled)
		return fd;
	strbuf_addf(msg, "cannot connect to '%s' (%s:%d): %s", t->name, t->host,
		    t->port, strerror(e ? e : ECONNREFUSED));
	return -1;
}

/* ---- one connection attempt ---- */

static void kbdint(const char *name, int name_len, const char *instruction,
		   int instruction_len, int num_prompts,
		   const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
		   LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
	struct ssh_conn *c = *abstract;
	(void)name;
	(void)name_len;
	(void)instruction;
	(void)instruction_len;
	(void)prompts;
	for (int i = 0; i < num_prompts; i++) {
		const char *p = c->password ? c->password : "";
		responses[i].text = xstrdup(p);
		responses[i].length = (unsigned)strlen(p);
	}
}

static struct ssh_conn *conn_new(const struct ssh_target *t)
{
	struct ssh_conn *c = xcalloc(1, sizeof(*c));
	c->id = xasprintf("%s@%s:%d", t->user, t->host, t->port);
	c->sock = -1;
	return c;
}

/*
 * TCP and the handshake, asking for the host key types in `pref` (NULL:
 * libssh2's own order).  0; -1 with msg; -2 when the key exchange
 * failed (the server has none of those types).
 */
static int attempt(struct ssh_conn *c, const struct ssh_target *t,
		   const char *pref, struct ssh_wait *w, struct strbuf *msg)
{
	int rc;
	c->sock = tcp_connect(t, w, msg);
	if (c->sock < 0)
		return -1;
	c->session = libssh2_session_init_ex(NULL, NULL, NULL, c);
	if (!c->session) {
		strbuf_addstr(msg, "cannot make an ssh session");
		return -1;
	}
	libssh2_session_set_blocking(c->session, 0);
	if (pref && libssh2_session_method_pref(c->session,
						LIBSSH2_METHOD_HOSTKEY, pref)) {
		strbuf_addf(msg, "libssh2 refuses the host key types '%s'",
			    pref);
		return -1;
	}
	while ((rc = libssh2_session_handshake(c->session, c->sock)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	if (!rc)
		return 0;
	if (rc == LIBSSH2_ERROR_KEX_FAILURE)
		return -2;
	strbuf_addstr(msg, "ssh handshake with ");
	add_who(msg, t);
	strbuf_addstr(msg, " failed: ");
	ssh_conn_last_error(c, msg);
	return -1;
}

/* Drops the socket and session of a failed attempt, keeping c. */
static void attempt_undo(struct ssh_conn *c)
{
	if (c->session) {
		if (c->sock >= 0)
			shutdown(c->sock, SHUT_RDWR);
		for (int i = 0; i < 100 && libssh2_session_free(c->session) ==
						   LIBSSH2_ERROR_EAGAIN;
		     i++)
			;
		c->session = NULL;
	}
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

/* The server's host key: its type index in hk_types (-1: another) and
 * its SHA256 fingerprint, base64 without padding. */
static int host_key(struct ssh_conn *c, struct strbuf *fp, const char **blob,
		    size_t *len)
{
	int type = 0;
	*blob = libssh2_session_hostkey(c->session, len, &type);
	const unsigned char *h = (const unsigned char *)libssh2_hostkey_hash(
		c->session, LIBSSH2_HOSTKEY_HASH_SHA256);
	strbuf_reset(fp);
	if (h)
		ssh_base64(fp, h, 32);
	for (size_t i = 0; i < HK_N; i++)
		if (hk_types[i].hostkey == type)
			return (int)i;
	return -1;
}

static const char *type_name(int i)
{
	return i >= 0 ? hk_types[i].method : "unknown-type";
}

/* All types but `skip` (or all), joined by commas. */
static void pref_all(struct strbuf *sb)
{
	strbuf_reset(sb);
	for (size_t i = 0; i < HK_N; i++) {
		if (sb->len)
			strbuf_addch(sb, ',');
		strbuf_addstr(sb, hk_types[i].method);
	}
}

/* ---- host-key: a fingerprint ---- */

static int verify_fingerprint(struct ssh_conn *c, const struct ssh_target *t,
			      struct ssh_wait *w, struct strbuf *log,
			      struct strbuf *msg)
{
	struct strbuf pref = STRBUF_INIT, fp = STRBUF_INIT, seen = STRBUF_INIT;
	int tried[HK_N] = {0};
	int ret = -1, rc;
	const char *blob;
	size_t len;
	if (t->host_key_type)
		strbuf_addstr(&pref, t->host_key_type);
	else
		pref_all(&pref);
	for (size_t next = 0;;) {
		rc = attempt(c, t, pref.buf, w, msg);
		if (rc == -1)
			goto out;
		if (rc == 0) {
			int ty = host_key(c, &fp, &blob, &len);
			if (!strcmp(fp.buf, t->host_key)) {
				if (log)
					strbuf_addf(log,
						    "host key %s SHA256:%s "
						    "(host-key)\n",
						    type_name(ty), fp.buf);
				ret = 0;
				goto out;
			}
			strbuf_addf(&seen, "%s%s SHA256:%s",
				    seen.len ? ", " : "", type_name(ty),
				    fp.buf);
			if (ty >= 0)
				tried[ty] = 1;
		}
		attempt_undo(c);
		if (t->host_key_type)
			break;
		/* then each type the server may have, alone */
		while (next < HK_N && tried[next])
			next++;
		if (next == HK_N)
			break;
		tried[next] = 1;
		strbuf_reset(&pref);
		strbuf_addstr(&pref, hk_types[next].method);
	}
	strbuf_addstr(msg, "the host key of ");
	add_who(msg, t);
	strbuf_addf(msg, " does not match host-key SHA256:%s", t->host_key);
	if (seen.len)
		strbuf_addf(msg, ": the server has %s", seen.buf);
	else if (t->host_key_type)
		strbuf_addf(msg, ": the server has no %s host key",
			    t->host_key_type);
	else
		strbuf_addstr(msg, ": the server offers no host key type that "
				   "libssh2 can check");
out:
	strbuf_release(&pref);
	strbuf_release(&fp);
	strbuf_release(&seen);
	return ret;
}

/* ---- known_hosts ---- */

/* Reads known_hosts line by line, skipping lines libssh2 cannot parse
 * (markers, key types it lacks), which would fail the whole file.
 * 0 (also for a missing file the user did not name), or -1 with msg. */
static int kh_read(LIBSSH2_KNOWNHOSTS *kh, const struct ssh_target *t,
		   struct strbuf *msg)
{
	FILE *f = fopen(t->known_hosts, "re");
	if (!f) {
		if (errno == ENOENT && !t->known_hosts_given)
			return 0;
		strbuf_addf(msg, "cannot read known-hosts '%s' of '%s': %s",
			    t->known_hosts, t->name, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '@' || !*p)
			continue;
		libssh2_knownhost_readline(kh, line, (size_t)n,
					   LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	}
	free(line);
	fclose(f);
	return 0;
}

static int kh_check(LIBSSH2_KNOWNHOSTS *kh, const struct ssh_target *t,
		    const char *key, size_t len, int ty)
{
	return libssh2_knownhost_checkp(kh, t->host, t->port, key, len,
					LIBSSH2_KNOWNHOST_TYPE_PLAIN |
						LIBSSH2_KNOWNHOST_KEYENC_RAW |
						hk_types[ty].knownhost,
					NULL);
}

static int verify_known_hosts(struct ssh_conn *c, const struct ssh_target *t,
			      struct ssh_wait *w, struct strbuf *log,
			      struct strbuf *msg)
{
	struct strbuf pref = STRBUF_INIT, fp = STRBUF_INIT;
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	int ret = -1, rc;
	const char *blob;
	size_t len;
	/* a throwaway session holds the list while we choose the types */
	LIBSSH2_SESSION *tmp = libssh2_session_init();
	if (!tmp || !(kh = libssh2_knownhost_init(tmp))) {
		strbuf_addstr(msg, "cannot make an ssh session");
		goto out;
	}
	if (kh_read(kh, t, msg) < 0)
		goto out;
	for (size_t i = 0; i < HK_N; i++) {
		if (kh_check(kh, t, "x", 1, (int)i) !=
		    LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			continue;
		if (pref.len)
			strbuf_addch(&pref, ',');
		strbuf_addstr(&pref, hk_types[i].method);
	}
	int known = pref.len > 0;
	if (!known)
		pref_all(&pref);
	rc = attempt(c, t, pref.buf, w, msg);
	if (rc == -2) {
		strbuf_addstr(msg, "the host key of ");
		add_who(msg, t);
		strbuf_addf(msg,
			    " cannot be checked: known-hosts '%s' holds %s "
			    "for it, and the server offers none of these",
			    t->known_hosts, pref.buf);
		if (strstr(pref.buf, "ssh-rsa"))
			strbuf_addstr(msg, " (libssh2 1.10 checks RSA host "
					   "keys by ssh-rsa SHA-1 signatures "
					   "only, which OpenSSH 8.8 and later "
					   "no longer make: add the host's "
					   "ed25519 or ecdsa key)");
		goto out;
	}
	if (rc < 0)
		goto out;
	int ty = host_key(c, &fp, &blob, &len);
	rc = ty >= 0 && blob ? kh_check(kh, t, blob, len, ty)
			     : LIBSSH2_KNOWNHOST_CHECK_FAILURE;
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		if (log)
			strbuf_addf(log,
				    "host key %s SHA256:%s (known-hosts %s)\n",
				    type_name(ty), fp.buf, t->known_hosts);
		ret = 0;
		goto out;
	}
	strbuf_addstr(msg, "the host key of ");
	add_who(msg, t);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
		strbuf_addf(msg,
			    " has CHANGED: the server has %s SHA256:%s, "
			    "known-hosts '%s' holds another key",
			    type_name(ty), fp.buf, t->known_hosts);
	else
		strbuf_addf(msg,
			    " is unknown: %s SHA256:%s is not in known-hosts "
			    "'%s' (add it, give host-key: \"SHA256:%s\", or "
			    "set insecure-host-key: true)",
			    type_name(ty), fp.buf, t->known_hosts, fp.buf);
out:
	if (kh)
		libssh2_knownhost_free(kh);
	if (tmp)
		libssh2_session_free(tmp);
	strbuf_release(&pref);
	strbuf_release(&fp);
	return ret;
}

static int verify_none(struct ssh_conn *c, const struct ssh_target *t,
		       struct ssh_wait *w, struct strbuf *log,
		       struct strbuf *msg)
{
	struct strbuf pref = STRBUF_INIT, fp = STRBUF_INIT;
	const char *blob;
	size_t len;
	pref_all(&pref);
	int rc = attempt(c, t, pref.buf, w, msg);
	if (rc == -2) {
		strbuf_addstr(msg, "ssh handshake with ");
		add_who(msg, t);
		strbuf_addstr(msg, " failed: no common host key type");
	}
	if (!rc && log) {
		int ty = host_key(c, &fp, &blob, &len);
		strbuf_addf(log,
			    "host key %s SHA256:%s (not checked: "
			    "insecure-host-key)\n",
			    type_name(ty), fp.buf);
	}
	strbuf_release(&pref);
	strbuf_release(&fp);
	return rc < 0 ? -1 : 0;
}

/* ---- authentication ---- */

static int has_method(const char *list, const char *m)
{
	size_t n = strlen(m);
	for (const char *p = list; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && !strncmp(p, m, n))
			return 1;
		p = comma ? comma + 1 : p + len;
	}
	return 0;
}

/* Reads a 32-bit-length string at *p (within end). */
static int get_string(const unsigned char **p, const unsigned char *end,
		      const unsigned char **s, size_t *len)
{
	if (end - *p < 4)
		return -1;
	size_t n = (size_t)(*p)[0] << 24 | (size_t)(*p)[1] << 16 |
		   (size_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	if ((size_t)(end - *p) < n)
		return -1;
	*s = *p;
	*len = n;
	*p += n;
	return 0;
}

/* Is the private key file an RSA key?  PEM ("BEGIN RSA PRIVATE KEY") or
 * OpenSSH's format, whose public part names the type. */
static int key_is_rsa(const char *path)
{
	struct strbuf text = STRBUF_INIT, bin = STRBUF_INIT;
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	static const char magic[] = "openssh-key-v1";
	int rsa = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && text.len < 65536)
		strbuf_add(&text, buf, n);
	fclose(f);
	const char *b = strstr(text.buf, begin);
	if (strstr(text.buf, "BEGIN RSA PRIVATE KEY")) {
		rsa = 1;
	} else if (b) {
		b += sizeof(begin) - 1;
		base64_decode(&bin, b, strlen(b));
		const unsigned char *p = (const unsigned char *)bin.buf;
		const unsigned char *end = p + bin.len, *s;
		size_t len;
		if (bin.len > sizeof(magic) &&
		    !memcmp(p, magic, sizeof(magic))) {
			p += sizeof(magic);
			/* cipher, kdf, kdf options, number of keys, key */
			if (!get_string(&p, end, &s, &len) &&
			    !get_string(&p, end, &s, &len) &&
			    !get_string(&p, end, &s, &len) && end - p >= 4) {
				p += 4;
				const unsigned char *pub;
				size_t plen;
				if (!get_string(&p, end, &pub, &plen) &&
				    !get_string(&pub, pub + plen, &s, &len) &&
				    len == 7 && !memcmp(s, "ssh-rsa", 7))
					rsa = 1;
			}
		}
	}
	strbuf_release(&text);
	strbuf_release(&bin);
	return rsa;
}

#define RSA_NOTE                                                               \
	"libssh2 1.10 signs with ssh-rsa (SHA-1) only, which OpenSSH 8.8 and " \
	"later refuse: use an ed25519 or ecdsa key"

static int auth_key(struct ssh_conn *c, const struct ssh_target *t,
		    const char *key, struct ssh_wait *w, struct strbuf *why)
{
	int rc;
	/* the public half from KEY.pub when it is there, as ssh does;
	 * else libssh2 derives it */
	char *pub = xasprintf("%s.pub", key);
	int has_pub = !access(pub, R_OK);
	while ((rc = libssh2_userauth_publickey_fromfile_ex(
			c->session, t->user, (unsigned)strlen(t->user),
			has_pub ? pub : NULL, key, t->passphrase)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			break;
	free(pub);
	if (w->timed_out || w->cancelled)
		return -1;
	if (!rc)
		return 0;
	strbuf_addf(why, "%skey '%s': ", why->len ? "; " : "", key);
	if (access(key, R_OK) < 0) {
		strbuf_addf(why, "cannot read it: %s", strerror(errno));
	} else if (key_is_rsa(key) &&
		   (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
		    rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)) {
		strbuf_addstr(why,
			      "an RSA key, refused by the server: " RSA_NOTE);
	} else if (rc == LIBSSH2_ERROR_FILE) {
		strbuf_addstr(why, "cannot use it (");
		ssh_conn_last_error(c, why);
		strbuf_addstr(why, "; a wrong or missing passphrase?)");
	} else {
		strbuf_addstr(why, "refused (");
		ssh_conn_last_error(c, why);
		strbuf_addch(why, ')');
	}
	return 1;
}

static int auth_agent(struct ssh_conn *c, const struct ssh_target *t,
		      struct ssh_wait *w, struct strbuf *why)
{
	LIBSSH2_AGENT *a = libssh2_agent_init(c->session);
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	int ret = 1, n = 0, rsa = 0, rc;
	strbuf_addf(why, "%sagent: ", why->len ? "; " : "");
	if (!a || libssh2_agent_connect(a)) {
		strbuf_addstr(why, "cannot reach ssh-agent (SSH_AUTH_SOCK)");
		goto out;
	}
	if (libssh2_agent_list_identities(a)) {
		strbuf_addstr(why, "cannot list its keys");
		goto out;
	}
	while (libssh2_agent_get_identity(a, &id, prev) == 0) {
		n++;
		if (id->blob_len > 11 && !memcmp(id->blob + 4, "ssh-rsa", 7))
			rsa = 1;
		while ((rc = libssh2_agent_userauth(a, t->user, id)) ==
		       LIBSSH2_ERROR_EAGAIN)
			if (ssh_conn_wait(c, w) < 0) {
				ret = -1;
				goto out;
			}
		if (!rc) {
			ret = 0;
			goto out;
		}
		prev = id;
	}
	if (!n)
		strbuf_addstr(why, "holds no keys");
	else
		strbuf_addf(why, "its %d key%s refused%s%s", n,
			    n > 1 ? "s were" : " was", rsa ? " (" : "",
			    rsa ? "RSA keys: " RSA_NOTE ")" : "");
out:
	if (a) {
		libssh2_agent_disconnect(a);
		libssh2_agent_free(a);
	}
	return ret;
}

static int auth_password(struct ssh_conn *c, const struct ssh_target *t,
			 const char *methods, struct ssh_wait *w,
			 struct strbuf *why)
{
	int rc;
	unsigned ulen = (unsigned)strlen(t->user);
	strbuf_addf(why, "%spassword: ", why->len ? "; " : "");
	if (has_method(methods, "password")) {
		while ((rc = libssh2_userauth_password_ex(
				c->session, t->user, ulen, t->password,
				(unsigned)strlen(t->password), NULL)) ==
		       LIBSSH2_ERROR_EAGAIN)
			if (ssh_conn_wait(c, w) < 0)
				return -1;
	} else if (has_method(methods, "keyboard-interactive")) {
		c->password = t->password;
		while ((rc = libssh2_userauth_keyboard_interactive_ex(
				c->session, t->user, ulen, kbdint)) ==
		       LIBSSH2_ERROR_EAGAIN)
			if (ssh_conn_wait(c, w) < 0)
				break;
		c->password = NULL;
		if (w->timed_out || w->cancelled)
			return -1;
	} else {
		strbuf_addstr(why, "not accepted by the server");
		return 1;
	}
	if (!rc)
		return 0;
	strbuf_addstr(why, "refused");
	return 1;
}

/* 0: logged in; 1: could not (why says); -1: timed out or cancelled. */
static int authenticate(struct ssh_conn *c, const struct ssh_target *t,
			struct ssh_wait *w, struct strbuf *log,
			struct strbuf *msg)
{
	struct strbuf why = STRBUF_INIT;
	char *methods;
	int rc = 1;
	const char *how = "";
	while (!(methods = libssh2_userauth_list(c->session, t->user,
						 (unsigned)strlen(t->user))) &&
	       libssh2_session_last_errno(c->session) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	if (!methods) {
		if (libssh2_userauth_authenticated(c->session))
			return 0;
		strbuf_addstr(msg, "cannot log in to ");
		add_who(msg, t);
		strbuf_addstr(msg, ": ");
		ssh_conn_last_error(c, msg);
		return 1;
	}
	int nothing = !t->key && !t->password && t->agent != 1;
	int pk = has_method(methods, "publickey");
	if (t->key) {
		how = "key";
		rc = pk ? auth_key(c, t, t->key, w, &why) : 1;
		if (!pk)
			strbuf_addf(&why,
				    "key '%s': not accepted by the server",
				    t->key);
	}
	if (rc > 0 && pk &&
	    (t->agent == 1 ||
	     (nothing && t->agent && getenv("SSH_AUTH_SOCK")))) {
		how = "agent";
		rc = auth_agent(c, t, w, &why);
	}
	if (rc > 0 && pk && nothing) {
		/* as ssh does: the user's default keys */
		static const char *const defaults[] = {"id_ed25519", "id_ecdsa",
						       NULL};
		const char *home = getenv("HOME");
		for (size_t i = 0; rc > 0 && home && defaults[i]; i++) {
			char *p = xasprintf("%s/.ssh/%s", home, defaults[i]);
			if (!access(p, R_OK)) {
				how = "key";
				rc = auth_key(c, t, p, w, &why);
			}
			free(p);
		}
	}
	if (rc > 0 && t->password) {
		how = "password";
		rc = auth_password(c, t, methods, w, &why);
	}
	if (rc > 0) {
		strbuf_addstr(msg, "cannot log in to ");
		add_who(msg, t);
		strbuf_addstr(msg, ": ");
		if (why.len)
			strbuf_add(msg, why.buf, why.len);
		else
			strbuf_addstr(msg, "no key, agent or password to try "
					   "(give 'key', 'password' or "
					   "'agent: true')");
		strbuf_addf(msg, " (the server takes: %s)", methods);
	} else if (!rc && log) {
		strbuf_addf(log, "logged in as %s (%s)\n", t->user, how);
	}
	strbuf_release(&why);
	return rc;
}

/* ---- the connection ---- */

int ssh_conn_open(struct ssh_conn **out, const struct ssh_target *t,
		  struct ssh_wait *w, struct strbuf *log, struct strbuf *msg)
{
	struct ssh_conn *c = conn_new(t);
	double t0 = now_ms();
	int rc;
	*out = NULL;
	if (t->insecure)
		rc = verify_none(c, t, w, log, msg);
	else if (t->host_key)
		rc = verify_fingerprint(c, t, w, log, msg);
	else
		rc = verify_known_hosts(c, t, w, log, msg);
	if (!rc)
		rc = authenticate(c, t, w, log, msg);
	if (rc) {
		ssh_conn_free(c, 0);
		return -1;
	}
	if (log)
		strbuf_addf(log, "connected to %s in %.0f ms\n", c->id,
			    now_ms() - t0);
	*out = c;
	return 0;
}

int ssh_conn_sftp(struct ssh_conn *c, struct ssh_wait *w, struct strbuf *msg)
{
	if (c->sftp)
		return 0;
	while (!(c->sftp = libssh2_sftp_init(c->session)) &&
	       libssh2_session_last_errno(c->session) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	if (c->sftp)
		return 0;
	strbuf_addf(msg,
		    "cannot start SFTP on %s (is the server's sftp "
		    "subsystem on?): ",
		    c->id);
	ssh_conn_last_error(c, msg);
	return -1;
}

void ssh_conn_free(struct ssh_conn *c, int graceful)
{
	if (!c)
		return;
	if (c->session) {
		struct ssh_wait w = {now_ms() + SSH_BYE_MS, -1, 0, 0};
		while (graceful && c->sftp) {
			if (libssh2_sftp_shutdown(c->sftp) !=
			    LIBSSH2_ERROR_EAGAIN)
				c->sftp = NULL;
			else if (ssh_conn_wait(c, &w) < 0)
				break;
		}
		while (graceful && !c->sftp &&
		       libssh2_session_disconnect(c->session, "bye") ==
			       LIBSSH2_ERROR_EAGAIN)
			if (ssh_conn_wait(c, &w) < 0)
				break;
		/* what is left is freed without talking to the server */
		if (c->sock >= 0)
			shutdown(c->sock, SHUT_RDWR);
		for (int i = 0; i < 100 && c->sftp; i++)
			if (libssh2_sftp_shutdown(c->sftp) !=
			    LIBSSH2_ERROR_EAGAIN)
				c->sftp = NULL;
	}
	attempt_undo(c);
	free(c->id);
	free(c->key);
	free(c);
}
