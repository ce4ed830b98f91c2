/*
 * The `ssh` driver (SPEC 6.4): runs commands on hosts over SSH and copies
 * files to and from them over SFTP, through libssh2 1.10.  The suite's
 * `hosts:` map says how to reach each host; a step names one:
 *
 *   - ssh: { host: app1, run: "systemctl is-active shop" }
 *   - ssh: { host: app1, put: { from: build/shop.tar, to: /tmp/shop.tar } }
 *   - ssh: { host: app1, get: { from: /var/log/shop.log, to: shop.log } }
 *
 * A command's result has the parts exit, signal (when a signal ended
 * it), stdout, stderr, json (stdout parsed on use) and duration; a
 * transfer's has bytes, path (get: the local file) and duration.
 * A command that ran is a PASS whatever its exit status (expectations
 * decide); anything that kept a step from running (no connection, a host
 * key that does not match, a refused login, a missing remote file, a
 * timeout, an interruption) is an ERROR.
 *
 * Each worker keeps its connections (ssh_conn.c) by host entry, user,
 * host and port, for every later step and test; they are dropped at a
 * stage swap, when the components may have moved, and closed at the
 * end.  Transfers are in ssh_sftp.c.  See docs/ssh.md.
 */
#include <math.h>
#include <poll.h>
#include <pthread.h>

#include "driver.h"
#include "ssh_conn.h"
#include "ssh_sftp.h"
#include "suite.h"
#include "template.h"

/* How much of stdout and stderr the step log shows. */
#define SSH_LOG_MAX 2048
/* A timed-out command gets TERM, then KILL after this, then its channel
 * is closed within this again, else the connection is dropped. */
#define SSH_KILL_GRACE_MS      500
#define SSH_CONNECT_TIMEOUT_MS 10000
#define SSH_OUT_CAP_DEFAULT    (4u << 20)
#define SSH_XFER_BUF	       (256u << 10)

static const struct itest_keyspec ssh_keys[] = {
	{"host", TY(STR), 1},	 {"run", TY(STR) | TY(ARR), 0},
	{"put", TY(OBJ), 0},	 {"get", TY(OBJ) | TY(STR), 0},
	{"env", TY(OBJ), 0},	 {"stdin", TY_SCALAR, 0},
	{"timeout", TY(STR), 0}, {NULL, 0, 0},
};

static const struct itest_keyspec put_keys[] = {
	{"from", TY(STR), 1},
	{"to", TY(STR), 1},
	{"mode", TY(STR) | TY(NUM), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec get_keys[] = {
	{"from", TY(STR), 1},
	{"to", TY(STR), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec host_keys[] = {
	{"host", TY(STR), 1},
	{"port", TY(NUM) | TY(STR), 0},
	{"user", TY(STR), 0},
	{"key", TY(STR), 0},
	{"passphrase", TY_SCALAR, 0},
	{"password", TY_SCALAR, 0},
	{"agent", TY(BOOL) | TY(STR), 0},
	{"known-hosts", TY(STR), 0},
	{"host-key", TY(STR), 0},
	{"insecure-host-key", TY(BOOL) | TY(STR), 0},
	{"connect-timeout", TY(STR), 0},
	{NULL, 0, 0},
};

static const char *const ssh_parts[] = {
	"exit",	    "signal", "stdout", "stderr", "json",
	"duration", "bytes",  "path",	NULL,
};

static const char *const actions[] = {"run", "put", "get", NULL};

struct ssh_session {
	struct ssh_conn **conns;
	size_t n, alloc;
};

/* ---- small helpers ---- */

static int is_scalar(const struct ivalue *v)
{
	return v->type == IV_STR || v->type == IV_NUM || v->type == IV_BOOL;
}

static int is_ident(const char *s, size_t n)
{
	if (!n || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
		    (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* A boolean written as true/false, or a template's "true"/"false".
 * 1, 0, or -1 when it is neither. */
static int bool_of(const struct ivalue *v)
{
	if (v->type == IV_BOOL)
		return v->u.b;
	const char *s = iv_strval(v);
	if (s && !strcmp(s, "true"))
		return 1;
	if (s && !strcmp(s, "false"))
		return 0;
	return -1;
}

/* A port: a whole number 1..65535, or its text.  -1 when it is not. */
static int port_of(const struct ivalue *v)
{
	if (v->type == IV_NUM)
		return (v->flags & IVF_INT) && v->u.num.i >= 1 &&
				       v->u.num.i <= 65535
			       ? (int)v->u.num.i
			       : -1;
	const char *s = iv_strval(v);
	long n = 0;
	if (!s || !*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n >= 1 && n <= 65535 ? (int)n : -1;
}

/* A mode: octal digits ("0644", "755", or a YAML number 0644, read by
 * its text).  -1 when it is not one. */
static int mode_of(const struct ivalue *v)
{
	const char *s = v->type == IV_NUM ? v->u.num.text : iv_strval(v);
	int m = 0;
	if (!s || !*s || strlen(s) > 5)
		return -1;
	if (s[0] == '0' && s[1] == 'o')
		s += 2;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		m = m * 8 + (*p - '0');
	}
	return m <= 07777 ? m : -1;
}

/*
 * A host-key text: "SHA256:BASE64", or a line of `ssh-keygen -lf`
 * ("256 SHA256:BASE64 comment (ED25519)"), or "ssh-ed25519
 * SHA256:BASE64".  Fills *fp (the base64) and *type (host key
 * algorithms to ask for, or NULL) when given.  0, or -1.
 */
static int host_key_parse(const char *s, char **fp, char **type)
{
	const char *f = strstr(s, "SHA256:");
	if (!f)
		return -1;
	f += 7;
	size_t n = strspn(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			     "wxyz0123456789+/");
	if (n != 43 || (f[n] && f[n] != ' ' && f[n] != '=' && f[n] != '\t'))
		return -1;
	if (fp)
		*fp = xstrndup(f, n);
	if (!type)
		return 0;
	*type = NULL;
	static const char *const methods[] = {
		"ssh-ed25519",
		"ecdsa-sha2-nistp256",
		"ecdsa-sha2-nistp384",
		"ecdsa-sha2-nistp521",
		"ssh-rsa",
		NULL,
	};
	for (size_t i = 0; methods[i]; i++)
		if (strstr(s, methods[i]))
			*type = xstrdup(methods[i]);
	if (*type)
		return 0;
	if (strstr(s, "(ED25519)"))
		*type = xstrdup("ssh-ed25519");
	else if (strstr(s, "(RSA)"))
		*type = xstrdup("ssh-rsa");
	else if (strstr(s, "(ECDSA)"))
		*type = xasprintf("ecdsa-sha2-nistp%s",
				  !strncmp(s, "384 ", 4)   ? "384"
				  : !strncmp(s, "521 ", 4) ? "521"
							   : "256");
	return 0;
}

/* ---- load-time checks ---- */

static int check_host_entry(const struct imember *m, struct itest_err *err)
{
	const struct ivalue *e = m->val, *v;
	char what[160];
	snprintf(what, sizeof(what), "host '%s'", m->key);
	if (e->type != IV_OBJ)
		return err_set(err, &e->loc,
			       "host '%s' must be a map (host, port, user, "
			       "key, ...), not %s",
			       m->key, iv_kind(e));
	if (keys_check(e, host_keys, what, err) < 0)
		return -1;
	v = iv_get(e, "host");
	if (!v->u.str.len)
		return err_set(err, &v->loc, "'host' of host '%s' is empty",
			       m->key);
	v = iv_get(e, "port");
	if (v && !tpl_value_has_vars(v) && port_of(v) < 0)
		return err_set(err, &v->loc,
			       "'port' of host '%s' must be a port number "
			       "(1 to 65535)",
			       m->key);
	static const char *const bools[] = {"agent", "insecure-host-key", NULL};
	for (size_t i = 0; bools[i]; i++) {
		v = iv_get(e, bools[i]);
		if (v && !tpl_value_has_vars(v) && bool_of(v) < 0)
			return err_set(err, &v->loc,
				       "'%s' of host '%s' must be true or "
				       "false",
				       bools[i], m->key);
	}
	v = iv_get(e, "connect-timeout");
	if (v && !tpl_value_has_vars(v) && duration_parse_ms(v->u.str.s) <= 0)
		return err_set(err, &v->loc,
			       "bad duration for 'connect-timeout' of host "
			       "'%s' (write 250ms, 2s or 1m)",
			       m->key);
	v = iv_get(e, "host-key");
	if (v && !tpl_value_has_vars(v) &&
	    host_key_parse(v->u.str.s, NULL, NULL) < 0)
		return err_set(err, &v->loc,
			       "bad 'host-key' of host '%s': write the SHA256 "
			       "fingerprint as ssh-keygen -lf prints it "
			       "(\"SHA256:\" and 43 base64 characters)",
			       m->key);
	const struct imember *hk = iv_member(e, "host-key");
	const struct imember *kh = iv_member(e, "known-hosts");
	const struct imember *ins = iv_member(e, "insecure-host-key");
	if (hk && kh)
		return err_set(err, &kh->kloc,
			       "host '%s' takes 'host-key' or 'known-hosts', "
			       "not both",
			       m->key);
	if (ins && ins->val->type == IV_BOOL && ins->val->u.b && (hk || kh))
		return err_set(err, &ins->kloc,
			       "host '%s' has 'insecure-host-key: true' and "
			       "'%s': drop one",
			       m->key, hk ? "host-key" : "known-hosts");
	return 0;
}

static int ssh_check_conf(const struct ivalue *conf, struct itest_err *err)
{
	for (size_t i = 0; i < conf->u.obj.n; i++)
		if (check_host_entry(&conf->u.obj.m[i], err) < 0)
			return -1;
	return 0;
}

static int check_run(const struct ivalue *run, struct itest_err *err)
{
	if (run->type == IV_STR) {
		if (!run->u.str.len)
			return err_set(err, &run->loc,
				       "empty command in 'ssh' step");
		return 0;
	}
	if (!run->u.arr.n)
		return err_set(err, &run->loc,
			       "'run' in 'ssh' step is an empty list");
	for (size_t i = 0; i < run->u.arr.n; i++)
		if (!is_scalar(run->u.arr.v[i]))
			return err_set(err, &run->u.arr.v[i]->loc,
				       "an item of 'run' in 'ssh' step must be "
				       "a scalar, not %s",
				       iv_kind(run->u.arr.v[i]));
	return 0;
}

static int check_env(const struct ivalue *env, struct itest_err *err)
{
	for (size_t i = 0; i < env->u.obj.n; i++) {
		const struct imember *m = &env->u.obj.m[i];
		if (!is_ident(m->key, m->klen))
			return err_set(err, &m->kloc,
				       "bad environment variable name '%s' in "
				       "'ssh' step (letters, digits and _)",
				       m->key);
		if (!is_scalar(m->val) && m->val->type != IV_NULL)
			return err_set(err, &m->val->loc,
				       "an 'env' value in 'ssh' step must be a "
				       "scalar, not %s",
				       iv_kind(m->val));
	}
	return 0;
}

static int check_put(const struct ivalue *put, struct itest_err *err)
{
	if (keys_check(put, put_keys, "'put' of 'ssh' step", err) < 0)
		return -1;
	const char *names[] = {"from", "to"};
	for (size_t i = 0; i < 2; i++) {
		const struct ivalue *v = iv_get(put, names[i]);
		if (!v->u.str.len)
			return err_set(err, &v->loc, "'%s' of 'put' is empty",
				       names[i]);
	}
	const struct ivalue *mode = iv_get(put, "mode");
	if (mode && !tpl_value_has_vars(mode) && mode_of(mode) < 0)
		return err_set(err, &mode->loc,
			       "bad 'mode' in 'put' (write octal digits, as "
			       "\"0644\")");
	return 0;
}

static int check_get(const struct ivalue *get, struct itest_err *err)
{
	if (get->type == IV_STR) {
		if (!get->u.str.len)
			return err_set(err, &get->loc, "'get' is empty");
		return 0;
	}
	if (keys_check(get, get_keys, "'get' of 'ssh' step", err) < 0)
		return -1;
	const struct ivalue *from = iv_get(get, "from");
	const struct ivalue *to = iv_get(get, "to");
	if (!from->u.str.len)
		return err_set(err, &from->loc, "'from' of 'get' is empty");
	if (to && !to->u.str.len)
		return err_set(err, &to->loc, "'to' of 'get' is empty");
	return 0;
}

static int ssh_check_step(const struct ivalue *arg, struct itest_err *err)
{
	const struct imember *act = NULL;
	for (size_t i = 0; i < arg->u.obj.n; i++) {
		const struct imember *m = &arg->u.obj.m[i];
		int is_act = 0;
		for (size_t k = 0; actions[k]; k++)
			is_act |= !strcmp(m->key, actions[k]);
		if (!is_act)
			continue;
		if (act)
			return err_set(err, &m->kloc,
				       "'ssh' step takes one of 'run', 'put' "
				       "and 'get', not both '%s' and '%s'",
				       act->key, m->key);
		act = m;
	}
	if (!act)
		return err_set(err, &arg->loc,
			       "'ssh' step needs one of 'run' (a command), "
			       "'put' or 'get' (a file)");
	if (strcmp(act->key, "run")) {
		static const char *const run_only[] = {"env", "stdin", NULL};
		for (size_t k = 0; run_only[k]; k++) {
			const struct imember *m = iv_member(arg, run_only[k]);
			if (m)
				return err_set(err, &m->kloc,
					       "'%s' goes with 'run', not "
					       "'%s'",
					       m->key, act->key);
		}
	}
	if (!strcmp(act->key, "run") && check_run(act->val, err) < 0)
		return -1;
	if (!strcmp(act->key, "put") && check_put(act->val, err) < 0)
		return -1;
	if (!strcmp(act->key, "get") && check_get(act->val, err) < 0)
		return -1;
	const struct ivalue *v = iv_get(arg, "env");
	if (v && check_env(v, err) < 0)
		return -1;
	v = iv_get(arg, "host");
	if (!tpl_value_has_vars(v) && !v->u.str.len)
		return err_set(err, &v->loc, "'host' in 'ssh' step is empty");
	v = iv_get(arg, "timeout");
	if (v && !tpl_value_has_vars(v) && duration_parse_ms(v->u.str.s) <= 0)
		return err_set(err, &v->loc,
			       "bad duration for 'timeout' in 'ssh' step "
			       "(write 250ms, 2s or 1m)");
	return 0;
}

/* The step names a host that hosts: defines (unless a template names
 * it: then the step checks when it runs). */
static int ssh_check_step_conf(const struct ivalue *arg,
			       const struct ivalue *conf, struct itest_err *err)
{
	const struct ivalue *h = iv_get(arg, "host");
	if (!h || tpl_value_has_vars(h))
		return 0;
	if (!conf || !conf->u.obj.n)
		return err_set(err, &h->loc,
			       "unknown host '%s': the suite has no 'hosts:' "
			       "(hosts: { %s: { host: ADDRESS, user: USER, "
			       "key: KEY } })",
			       h->u.str.s, h->u.str.s);
	if (iv_get(conf, h->u.str.s))
		return 0;
	const char *names[64];
	size_t n = 0;
	struct strbuf list = STRBUF_INIT;
	for (size_t i = 0; i < conf->u.obj.n; i++) {
		if (n < ARRAY_SIZE(names) - 1)
			names[n++] = conf->u.obj.m[i].key;
		strbuf_addf(&list, "%s%s", i ? ", " : "", conf->u.obj.m[i].key);
	}
	names[n] = NULL;
	const char *s = suggest_name(h->u.str.s, names);
	if (s)
		err_set(err, &h->loc, "unknown host '%s' (did you mean '%s'?)",
			h->u.str.s, s);
	else
		err_set(err, &h->loc, "unknown host '%s' (hosts: %s)",
			h->u.str.s, list.buf);
	strbuf_release(&list);
	return -1;
}

static const struct ivalue *ssh_step_conf(const struct ivalue *arg,
					  const struct ivalue *conf)
{
	const struct ivalue *h = iv_get(arg, "host");
	if (!h || h->type != IV_STR || tpl_value_has_vars(h))
		return conf;
	return iv_get(conf, h->u.str.s);
}

/* ---- the host's settings at run time ---- */

/* A path from the settings: absolute, "~/...", or relative to the file
 * that wrote it (`node`, unrendered, has the location). */
static char *conf_path(const struct ivalue *node, const char *path,
		       const struct itest_stepctx *ctx)
{
	if (path[0] != '/' && path[0] != '~' &&
	    (!node || !node->loc.src || !node->loc.src->path) && ctx->suite_dir)
		return xasprintf("%s/%s", ctx->suite_dir, path);
	return suite_path(node, path);
}

static int target_make(struct ssh_target *t, const char *name,
		       const struct ivalue *orig, const struct ivalue *e,
		       const struct itest_stepctx *ctx, struct strbuf *msg)
{
	const struct ivalue *v;
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->agent = -1;
	t->port = 22;
	t->connect_timeout_ms = SSH_CONNECT_TIMEOUT_MS;
	if (e->type != IV_OBJ || !(v = iv_get(e, "host"))) {
		strbuf_addf(msg, "host '%s' has no 'host'", name);
		return -1;
	}
	t->host = iv_text_dup(v);
	if (!*t->host) {
		strbuf_addf(msg, "'host' of host '%s' is empty", name);
		return -1;
	}
	if ((v = iv_get(e, "port")) && (t->port = port_of(v)) < 0) {
		char *s = iv_text_dup(v);
		strbuf_addf(msg, "'port' of host '%s' is '%s', not a port",
			    name, s);
		free(s);
		return -1;
	}
	if ((v = iv_get(e, "user"))) {
		t->user = iv_text_dup(v);
	} else {
		const char *u = getenv("USER");
		t->user = xstrdup(u && *u ? u : "root");
	}
	if ((v = iv_get(e, "key"))) {
		char *s = iv_text_dup(v);
		t->key = conf_path(iv_get(orig, "key"), s, ctx);
		free(s);
	}
	if ((v = iv_get(e, "passphrase")))
		t->passphrase = iv_text_dup(v);
	if ((v = iv_get(e, "password")))
		t->password = iv_text_dup(v);
	static const char *const bools[] = {"agent", "insecure-host-key", NULL};
	for (size_t i = 0; bools[i]; i++) {
		int b;
		if (!(v = iv_get(e, bools[i])))
			continue;
		if ((b = bool_of(v)) < 0) {
			strbuf_addf(msg,
				    "'%s' of host '%s' must be true or false",
				    bools[i], name);
			return -1;
		}
		if (i == 0)
			t->agent = b;
		else
			t->insecure = b;
	}
	if ((v = iv_get(e, "known-hosts"))) {
		char *s = iv_text_dup(v);
		t->known_hosts = conf_path(iv_get(orig, "known-hosts"), s, ctx);
		t->known_hosts_given = 1;
		free(s);
	} else {
		const char *home = getenv("HOME");
		t->known_hosts = xasprintf("%s/.ssh/known_hosts",
					   home && *home ? home : "");
	}
	if ((v = iv_get(e, "host-key"))) {
		char *s = iv_text_dup(v);
		int rc = host_key_parse(s, &t->host_key, &t->host_key_type);
		if (rc < 0)
			strbuf_addf(msg,
				    "bad 'host-key' of host '%s': '%s' (write "
				    "\"SHA256:\" and 43 base64 characters)",
				    name, s);
		free(s);
		if (rc < 0)
			return -1;
	}
	if ((v = iv_get(e, "connect-timeout"))) {
		char *s = iv_text_dup(v);
		t->connect_timeout_ms = duration_parse_ms(s);
		if (t->connect_timeout_ms <= 0)
			strbuf_addf(msg,
				    "bad duration '%s' for 'connect-timeout' "
				    "of host '%s'",
				    s, name);
		free(s);
		if (t->connect_timeout_ms <= 0)
			return -1;
	}
	return 0;
}

/* ---- connections of the worker ---- */

static void conn_drop(struct ssh_session *s, struct ssh_conn *c, int graceful)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->conns[i] != c)
			continue;
		s->conns[i] = s->conns[--s->n];
		break;
	}
	ssh_conn_free(c, graceful);
}

/* Did the server close the connection (a restart since last use)? */
static int conn_hung_up(const struct ssh_conn *c)
{
	struct pollfd p = {c->sock, POLLRDHUP, 0};
	return poll(&p, 1, 0) == 1 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Why the wait ended, for the step's message. */
static void add_wait_end(struct strbuf *msg, const struct ssh_wait *w,
			 int64_t step_timeout_ms, const char *doing)
{
	if (w->cancelled) {
		strbuf_addstr(msg, "interrupted");
		return;
	}
	strbuf_addstr(msg, "timed out after ");
	strbuf_add_duration(msg, step_timeout_ms);
	if (doing)
		strbuf_addf(msg, " (%s)", doing);
}

/*
 * The connection for t: the worker's, or a new one.  *fresh says
 * which.  NULL with msg when it cannot be opened.
 */
static struct ssh_conn *conn_get(struct ssh_session *s,
				 const struct ssh_target *t, struct ssh_wait *w,
				 int64_t step_timeout_ms,
				 const struct itest_stepctx *ctx, int *fresh,
				 struct strbuf *msg)
{
	/* by the entry too: each entry's host key and login rules apply
	 * to its own connection */
	char *key =
		xasprintf("%s %s@%s:%d", t->name, t->user, t->host, t->port);
	struct ssh_conn *c = NULL;
	for (size_t i = 0; i < s->n && !c; i++)
		if (!strcmp(s->conns[i]->key, key))
			c = s->conns[i];
	*fresh = 0;
	if (c && conn_hung_up(c)) {
		if (ctx->log)
			strbuf_addf(ctx->log,
				    "the server closed the connection to %s; "
				    "reconnecting\n",
				    c->id);
		conn_drop(s, c, 0);
		c = NULL;
	}
	if (c) {
		free(key);
		return c;
	}
	struct ssh_wait cw = *w;
	double limit = now_ms() + (double)t->connect_timeout_ms;
	if (!cw.deadline || limit < cw.deadline)
		cw.deadline = limit;
	if (ctx->log)
		strbuf_addf(ctx->log, "connecting to '%s' (%s@%s:%d)\n",
			    t->name, t->user, t->host, t->port);
	if (ssh_conn_open(&c, t, &cw, ctx->log, msg) < 0) {
		if (cw.cancelled ||
		    (cw.timed_out && w->deadline && now_ms() >= w->deadline)) {
			w->cancelled = cw.cancelled;
			w->timed_out = cw.timed_out;
			add_wait_end(msg, w, step_timeout_ms, "connecting");
		} else if (cw.timed_out) {
			strbuf_addf(msg,
				    "cannot connect to '%s' (%s:%d): no "
				    "answer within ",
				    t->name, t->host, t->port);
			strbuf_add_duration(msg, t->connect_timeout_ms);
			strbuf_addstr(msg, " (connect-timeout)");
		}
		free(key);
		return NULL;
	}
	c->key = key;
	XGROW(s->conns, s->alloc, s->n + 1);
	s->conns[s->n++] = c;
	*fresh = 1;
	return c;
}

/* ---- run ---- */

/*
 * libssh2 1.10 cannot send a "signal" request on a channel that runs a
 * command, so a command that must be stopped is killed from a second
 * channel: its command line first writes "itest-ssh-pid=$$" to stderr
 * (the shell that sshd starts leads a session and a process group of
 * its own), which the driver takes out of stderr again.
 */
#define PID_MARK     "itest-ssh-pid="
#define PID_MARK_MAX 4096 /* stderr bytes searched for the mark */

struct cmd {
	LIBSSH2_CHANNEL *ch;
	const char *in;
	size_t in_len, in_off;
	int eof_sent, eof;
	struct strbuf out, err;
	int marked;	    /* the command line writes the mark */
	struct strbuf mark; /* stderr until the mark is found */
	long pid;	    /* from the mark; 0: not seen yet */
	int exit_status;
	char *exit_signal; /* "TERM", or NULL */
};

/* Stderr bytes: the mark line is taken out, the rest kept. */
static void cmd_stderr(struct cmd *r, const char *p, size_t n)
{
	if (!r->marked || r->pid || r->mark.len > PID_MARK_MAX) {
		strbuf_add(&r->err, p, n);
		return;
	}
	strbuf_add(&r->mark, p, n);
	size_t at = 0;
	char *nl;
	while (!r->pid &&
	       (nl = memchr(r->mark.buf + at, '\n', r->mark.len - at))) {
		const char *line = r->mark.buf + at;
		size_t len = (size_t)(nl - line);
		size_t ml = sizeof(PID_MARK) - 1;
		long pid = 0;
		int ok = len > ml && !memcmp(line, PID_MARK, ml);
		for (size_t i = ml; ok && i < len; i++) {
			ok = line[i] >= '0' && line[i] <= '9' && pid < 1L << 40;
			pid = pid * 10 + (line[i] - '0');
		}
		if (ok && pid > 0)
			r->pid = pid;
		else
			strbuf_add(&r->err, line, len + 1);
		at += len + 1;
	}
	if (r->pid || r->mark.len > PID_MARK_MAX) {
		strbuf_add(&r->err, r->mark.buf + at, r->mark.len - at);
		strbuf_release(&r->mark);
	} else if (at) {
		memmove(r->mark.buf, r->mark.buf + at, r->mark.len - at);
		strbuf_setlen(&r->mark, r->mark.len - at);
	}
}

/* Reads what has come on both streams.  >0: something came; 0: nothing
 * (yet); -1: the connection failed. */
static int cmd_read(struct cmd *r)
{
	char buf[16384];
	int got = 0;
	for (int stream = 0; stream < 2; stream++) {
		ssize_t n = libssh2_channel_read_ex(r->ch, stream, buf,
						    sizeof(buf));
		if (n > 0 && stream)
			cmd_stderr(r, buf, (size_t)n);
		else if (n > 0)
			strbuf_add(&r->out, buf, (size_t)n);
		if (n > 0)
			got = 1;
		else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return -1;
	}
	if (!got && libssh2_channel_eof(r->ch)) {
		r->eof = 1;
		strbuf_add(&r->err, r->mark.buf, r->mark.len);
		strbuf_release(&r->mark);
	}
	return got;
}

/* Feeds stdin, reads stdout and stderr until the command's end of
 * output, within w.  0; -1 on a timeout or cancellation (w says) or a
 * failed connection (msg says). */
static int cmd_pump(struct ssh_conn *c, struct cmd *r, struct ssh_wait *w,
		    struct strbuf *msg)
{
	while (!r->eof) {
		int progress = 0;
		if (r->in_off < r->in_len) {
			ssize_t n =
				libssh2_channel_write(r->ch, r->in + r->in_off,
						      r->in_len - r->in_off);
			if (n > 0) {
				r->in_off += (size_t)n;
				progress = 1;
			} else if (n != LIBSSH2_ERROR_EAGAIN) {
				r->in_off = r->in_len; /* it stopped reading */
			}
		}
		if (r->in_off >= r->in_len && !r->eof_sent &&
		    libssh2_channel_send_eof(r->ch) != LIBSSH2_ERROR_EAGAIN) {
			r->eof_sent = 1;
			progress = 1;
		}
		int got = cmd_read(r);
		if (got < 0) {
			strbuf_addf(msg,
				    "the connection to %s failed: ", c->id);
			ssh_conn_last_error(c, msg);
			return -1;
		}
		if (got || r->eof)
			progress = 1;
		if (w->deadline && now_ms() >= w->deadline) {
			w->timed_out = 1;
			return -1;
		}
		if (!progress && ssh_conn_wait(c, w) < 0)
			return -1;
	}
	return 0;
}

/* After the end of output: waits for the channel's close (which follows
 * the exit status), reads the status, frees the channel.  0, or -1 (w
 * ran out, or the connection is in doubt). */
static int cmd_finish(struct ssh_conn *c, struct cmd *r, struct ssh_wait *w)
{
	int rc;
	while ((rc = libssh2_channel_wait_closed(r->ch)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	if (rc)
		return -1;
	r->exit_status = libssh2_channel_get_exit_status(r->ch);
	char *sig = NULL;
	size_t len = 0;
	libssh2_channel_get_exit_signal(r->ch, &sig, &len, NULL, NULL, NULL,
					NULL);
	if (sig) {
		r->exit_signal = xstrndup(sig, len);
		libssh2_free(c->session, sig);
	}
	while ((rc = libssh2_channel_free(r->ch)) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	r->ch = NULL;
	return rc ? -1 : 0;
}

static int cmd_start(struct ssh_conn *c, struct cmd *r, const char *cmdline,
		     struct ssh_wait *w, struct strbuf *msg);

static void cmd_release(struct cmd *r)
{
	free(r->exit_signal);
	strbuf_release(&r->out);
	strbuf_release(&r->err);
	strbuf_release(&r->mark);
}

/* Sends `sig` to the command's process group from a second channel.
 * 0, or -1: the connection is in doubt. */
static int cmd_kill(struct ssh_conn *c, long pid, const char *sig,
		    struct ssh_wait *w)
{
	struct cmd k;
	struct strbuf ignore = STRBUF_INIT;
	char line[128];
	memset(&k, 0, sizeof(k));
	strbuf_init(&k.out, 0);
	strbuf_init(&k.err, 0);
	strbuf_init(&k.mark, 0);
	snprintf(line, sizeof(line),
		 "kill -%s -%ld 2>/dev/null || kill -%s %ld 2>/dev/null", sig,
		 pid, sig, pid);
	int rc = cmd_start(c, &k, line, w, &ignore);
	if (!rc)
		rc = cmd_pump(c, &k, w, &ignore);
	if (!rc)
		rc = cmd_finish(c, &k, w);
	strbuf_release(&ignore);
	cmd_release(&k);
	return rc < 0 ? -1 : 0;
}

/* A timed-out or interrupted command: TERM, then KILL, each followed by
 * a short wait for the channel's close.  0 when it closed cleanly, -1
 * when the connection must go. */
static int cmd_abort(struct ssh_conn *c, struct cmd *r)
{
	static const char *const sigs[] = {"TERM", "KILL"};
	struct strbuf ignore = STRBUF_INIT;
	int rc = -1;
	r->in_off = r->in_len;
	for (size_t i = 0; i < 2 && rc < 0 && r->pid > 0; i++) {
		struct ssh_wait g = {now_ms() + SSH_KILL_GRACE_MS, -1, 0, 0};
		if (cmd_kill(c, r->pid, sigs[i], &g) < 0)
			break;
		g.deadline = now_ms() + SSH_KILL_GRACE_MS;
		if (cmd_pump(c, r, &g, &ignore) < 0 && !g.timed_out)
			break;
		if (r->eof)
			rc = cmd_finish(c, r, &g);
	}
	strbuf_release(&ignore);
	return rc;
}

/* Opens a channel and starts the command.  0; -1 with msg; -2 when no
 * channel could be opened (a dead connection: the caller may retry on a
 * new one). */
static int cmd_start(struct ssh_conn *c, struct cmd *r, const char *cmdline,
		     struct ssh_wait *w, struct strbuf *msg)
{
	int rc;
	while (!(r->ch = libssh2_channel_open_session(c->session)) &&
	       libssh2_session_last_errno(c->session) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	if (!r->ch) {
		strbuf_addf(msg, "cannot open a channel on %s: ", c->id);
		ssh_conn_last_error(c, msg);
		return -2;
	}
	while ((rc = libssh2_channel_exec(r->ch, cmdline)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) < 0)
			return -1;
	if (rc) {
		strbuf_addf(msg, "%s refused to run the command: ", c->id);
		ssh_conn_last_error(c, msg);
		return -1;
	}
	return 0;
}

static int signal_number(const char *name)
{
	static const struct {
		const char *name;
		int n;
	} sigs[] = {
		{"HUP", 1},   {"INT", 2},   {"QUIT", 3},  {"ILL", 4},
		{"TRAP", 5},  {"ABRT", 6},  {"BUS", 7},	  {"FPE", 8},
		{"KILL", 9},  {"USR1", 10}, {"SEGV", 11}, {"USR2", 12},
		{"PIPE", 13}, {"ALRM", 14}, {"TERM", 15},
	};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (!strcmp(sigs[i].name, name))
			return sigs[i].n;
	return 0;
}

static struct ivalue *ms_part(double ms)
{
	return iv_double((double)llround(ms * 1000) / 1000);
}

/* The command line: env as exports, then the command (argv quoted). */
static void build_cmdline(struct strbuf *sb, const struct ivalue *arg)
{
	const struct ivalue *env = iv_get(arg, "env");
	struct strbuf t = STRBUF_INIT;
	for (size_t i = 0; env && env->type == IV_OBJ && i < env->u.obj.n;
	     i++) {
		strbuf_reset(&t);
		iv_to_text(&t, env->u.obj.m[i].val);
		strbuf_addf(sb, "export %s=", env->u.obj.m[i].key);
		sh_quote(sb, t.buf, t.len);
		strbuf_addstr(sb, "; ");
	}
	const struct ivalue *run = iv_get(arg, "run");
	if (run->type != IV_ARR) {
		iv_to_text(sb, run);
	} else {
		for (size_t i = 0; i < run->u.arr.n; i++) {
			strbuf_reset(&t);
			iv_to_text(&t, run->u.arr.v[i]);
			if (i)
				strbuf_addch(sb, ' ');
			sh_quote(sb, t.buf, t.len);
		}
	}
	strbuf_release(&t);
}

static enum itest_status do_run(struct ssh_session *s, struct ssh_conn *c,
				int fresh, const struct ssh_target *t,
				const struct itest_stepctx *ctx,
				const struct ivalue *arg, struct ssh_wait *w,
				int64_t timeout, struct itest_result *res)
{
	enum itest_status st = IT_ERROR;
	struct strbuf cmdline = STRBUF_INIT, in = STRBUF_INIT;
	struct cmd r;
	size_t cap = ctx->out_cap ? ctx->out_cap : SSH_OUT_CAP_DEFAULT;
	int rc;
	memset(&r, 0, sizeof(r));
	strbuf_init(&r.out, 0);
	strbuf_init(&r.err, 0);
	strbuf_init(&r.mark, 0);
	r.out.cap = r.err.cap = cap;
	r.marked = 1;
	strbuf_addstr(&cmdline, "echo " PID_MARK "$$ >&2; ");
	size_t shown = cmdline.len;
	build_cmdline(&cmdline, arg);
	const struct ivalue *iv_in = iv_get(arg, "stdin");
	if (iv_in)
		iv_to_text(&in, iv_in);
	r.in = in.buf;
	r.in_len = in.len;
	if (ctx->log)
		strbuf_addf(ctx->log, "%s$ %s\n", t->name, cmdline.buf + shown);
	double t0 = now_ms();
	rc = cmd_start(c, &r, cmdline.buf, w, &res->message);
	if (rc == -2 && !fresh) {
		/* the kept connection died: once more on a new one */
		if (ctx->log)
			strbuf_addf(ctx->log, "%s; reconnecting\n",
				    res->message.buf);
		strbuf_reset(&res->message);
		conn_drop(s, c, 0);
		r.ch = NULL;
		c = conn_get(s, t, w, timeout, ctx, &fresh, &res->message);
		if (!c)
			goto out;
		t0 = now_ms();
		rc = cmd_start(c, &r, cmdline.buf, w, &res->message);
	}
	if (!rc)
		rc = cmd_pump(c, &r, w, &res->message);
	double ms = now_ms() - t0;
	if (rc < 0) {
		if (w->timed_out || w->cancelled) {
			add_wait_end(&res->message, w, timeout, NULL);
			if (r.ch && cmd_abort(c, &r) == 0) {
				strbuf_addstr(&res->message,
					      "; the command was stopped");
			} else {
				strbuf_addf(&res->message,
					    "; the connection to %s was "
					    "dropped",
					    c->id);
				conn_drop(s, c, 0);
				c = NULL;
			}
			r.ch = NULL;
		} else if (c) {
			conn_drop(s, c, 0); /* frees the channel too */
		}
		r.ch = NULL;
		if (ctx->log) {
			driver_log_stream(ctx->log, "stdout", &r.out,
					  SSH_LOG_MAX);
			driver_log_stream(ctx->log, "stderr", &r.err,
					  SSH_LOG_MAX);
		}
		goto out;
	}
	if (cmd_finish(c, &r, w) < 0) {
		if (w->timed_out || w->cancelled)
			add_wait_end(&res->message, w, timeout, NULL);
		else
			strbuf_addf(&res->message,
				    "the channel on %s did not close", c->id);
		conn_drop(s, c, 0);
		r.ch = NULL;
		goto out;
	}
	ms = now_ms() - t0;
	int code = r.exit_status;
	if (r.exit_signal) {
		int n = signal_number(r.exit_signal);
		code = n ? 128 + n : 255;
		struct strbuf name = STRBUF_INIT;
		strbuf_addf(&name, "SIG%s", r.exit_signal);
		iv_set(res->parts, "signal", iv_str(name.buf));
		strbuf_release(&name);
	}
	iv_set(res->parts, "exit", iv_int(code));
	iv_set(res->parts, "stdout", iv_strn(r.out.buf, r.out.len));
	iv_set(res->parts, "stderr", iv_strn(r.err.buf, r.err.len));
	iv_set(res->parts, "duration", ms_part(ms));
	res->json_from = "stdout";
	if (ctx->log) {
		if (r.exit_signal)
			strbuf_addf(ctx->log, "killed by SIG%s in %.0f ms\n",
				    r.exit_signal, ms);
		else
			strbuf_addf(ctx->log, "exit %d in %.0f ms\n", code, ms);
		driver_log_stream(ctx->log, "stdout", &r.out, SSH_LOG_MAX);
		driver_log_stream(ctx->log, "stderr", &r.err, SSH_LOG_MAX);
	}
	st = IT_PASS;
out:
	cmd_release(&r);
	strbuf_release(&cmdline);
	strbuf_release(&in);
	return st;
}

/* ---- put and get ---- */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* The local path of a transfer: put's `from` (relative to the file that
 * wrote the step), get's `to` (relative to the artifacts folder). */
static char *local_path(const struct ivalue *node, const char *path,
			const char *base)
{
	if (base && path[0] != '/' && !(path[0] == '~' && path[1] == '/'))
		return xasprintf("%s/%s", base, path);
	return suite_path(node, path);
}

static enum itest_status do_xfer(struct ssh_session *s, struct ssh_conn *c,
				 int fresh, const struct ssh_target *t,
				 const struct itest_stepctx *ctx,
				 const struct ivalue *arg, struct ssh_wait *w,
				 int64_t timeout, struct itest_result *res)
{
	enum itest_status st = IT_ERROR;
	const struct ivalue *put = iv_get(arg, "put");
	const struct ivalue *get = put ? NULL : iv_get(arg, "get");
	const struct ivalue *spec = put ? put : get;
	char *from = NULL, *to = NULL, *local = NULL, *remote = NULL;
	int mode = -1, drop = 0;
	uint64_t bytes = 0;
	const struct ivalue *v;
	if (spec->type == IV_STR) {
		from = iv_text_dup(spec);
	} else {
		from = iv_text_dup(iv_get(spec, "from"));
		if ((v = iv_get(spec, "to")))
			to = iv_text_dup(v);
	}
	if (put) {
		const struct ivalue *fnode = iv_get(put, "from");
		if (from[0] != '/' && from[0] != '~' &&
		    (!fnode->loc.src || !fnode->loc.src->path))
			local = local_path(fnode, from, ctx->suite_dir);
		else
			local = suite_path(fnode, from);
		size_t n = strlen(to);
		remote = n && to[n - 1] == '/'
				 ? xasprintf("%s%s", to, base_name(local))
				 : xstrdup(to);
		if ((v = iv_get(put, "mode")) && (mode = mode_of(v)) < 0) {
			char *m = iv_text_dup(v);
			strbuf_addf(&res->message,
				    "bad 'mode' '%s' in 'put' (write octal "
				    "digits, as \"0644\")",
				    m);
			free(m);
			goto out;
		}
	} else {
		remote = xstrdup(from);
		const char *name = to && *to ? to : base_name(from);
		if (!*name) {
			strbuf_addf(&res->message,
				    "'get' of '%s' needs 'to' (a file name)",
				    from);
			goto out;
		}
		char *l = local_path(spec, name, ctx->artifact_dir);
		size_t n = strlen(l);
		local = n && l[n - 1] == '/'
				? xasprintf("%s%s", l, base_name(from))
				: xstrdup(l);
		free(l);
	}
	if (ctx->log)
		strbuf_addf(ctx->log, "%s: %s %s -> %s\n", t->name,
			    put ? "put" : "get", put ? local : remote,
			    put ? remote : local);
	double t0 = now_ms();
	int rc;
	for (int tries = 0;; tries++) {
		bytes = 0;
		rc = put ? ssh_sftp_put(c, local, remote, mode, w, &bytes,
					&drop, &res->message)
			 : ssh_sftp_get(c, remote, local, w, &bytes, &drop,
					&res->message);
		if (rc == 0 || !drop || fresh || tries || w->timed_out ||
		    w->cancelled || c->sftp)
			break;
		/* SFTP would not start on a kept connection: a new one */
		strbuf_reset(&res->message);
		conn_drop(s, c, 0);
		drop = 0;
		if (!(c = conn_get(s, t, w, timeout, ctx, &fresh,
				   &res->message)))
			goto out;
	}
	double ms = now_ms() - t0;
	if (rc < 0) {
		if (w->timed_out || w->cancelled) {
			add_wait_end(&res->message, w, timeout,
				     put ? "copying to the host"
					 : "copying from the host");
		}
		if (drop) {
			strbuf_addf(&res->message,
				    "; the connection to %s was dropped",
				    c->id);
			conn_drop(s, c, 0);
		}
		goto out;
	}
	if (ctx->log)
		strbuf_addf(ctx->log, "%llu bytes in %.0f ms\n",
			    (unsigned long long)bytes, ms);
	iv_set(res->parts, "bytes", iv_int((int64_t)bytes));
	iv_set(res->parts, "duration", ms_part(ms));
	if (get) {
		iv_set(res->parts, "path", iv_str(local));
		if (ctx->artifact_dir && !strncmp(local, ctx->artifact_dir,
						  strlen(ctx->artifact_dir)))
			stepctx_attach(ctx, local);
	}
	st = IT_PASS;
out:
	free(from);
	free(to);
	free(local);
	free(remote);
	return st;
}

/* ---- the driver ---- */

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void ssh_global_init(void)
{
	ssh_init_rc = libssh2_init(0);
}

static int ssh_open(void *session, const struct itest_stepctx *ctx,
		    struct itest_err *err)
{
	(void)session;
	(void)ctx;
	pthread_once(&ssh_once, ssh_global_init);
	if (ssh_init_rc)
		return err_set(err, NULL, "libssh2_init failed (%d)",
			       ssh_init_rc);
	return 0;
}

static enum itest_status ssh_exec(void *session,
				  const struct itest_stepctx *ctx,
				  const struct ivalue *arg,
				  struct itest_result *res)
{
	struct ssh_session *s = session;
	struct ssh_target t;
	struct ivalue *own = NULL;
	struct itest_err err = ITEST_ERR_INIT;
	enum itest_status st = IT_ERROR;
	int fresh = 0;
	memset(&t, 0, sizeof(t));
	char *name = iv_text_dup(iv_get(arg, "host"));
	const struct ivalue *entry = iv_get(ctx->conf, name);
	if (!entry) {
		strbuf_addf(&res->message, "unknown host '%s'%s", name,
			    ctx->conf ? "" : " (the suite has no 'hosts:')");
		goto out;
	}
	const struct ivalue *e = entry;
	if (!tpl_is_static(entry)) {
		if (!(e = own = tpl_render(entry, ctx->scope, &err))) {
			struct strbuf l = STRBUF_INIT;
			loc_format(&l, &err.loc);
			strbuf_addf(&res->message, "%s%shost '%s': %s", l.buf,
				    l.len ? ": " : "", name, err.msg);
			strbuf_release(&l);
			goto out;
		}
	}
	if (target_make(&t, name, entry, e, ctx, &res->message) < 0)
		goto out;
	/* for the metrics: which component this host is */
	snprintf(res->target_host, sizeof(res->target_host), "%s", t.host);
	res->target_port = t.port;

	int64_t timeout = ctx->timeout_ms > 0 ? ctx->timeout_ms : 0;
	const struct ivalue *to = iv_get(arg, "timeout");
	if (to) {
		int64_t ms = duration_parse_ms(iv_strval(to));
		if (ms <= 0) {
			strbuf_addf(&res->message,
				    "bad duration '%s' for 'timeout' (write "
				    "250ms, 2s or 1m)",
				    iv_strval(to) ? iv_strval(to) : "");
			goto out;
		}
		if (!timeout || ms < timeout)
			timeout = ms;
	}
	struct ssh_wait w = {timeout ? now_ms() + (double)timeout : 0,
			     ctx->cancel_fd, 0, 0};
	struct ssh_conn *c =
		conn_get(s, &t, &w, timeout, ctx, &fresh, &res->message);
	if (!c)
		goto out;
	if (iv_get(arg, "run"))
		st = do_run(s, c, fresh, &t, ctx, arg, &w, timeout, res);
	else
		st = do_xfer(s, c, fresh, &t, ctx, arg, &w, timeout, res);
out:
	iv_free(own);
	ssh_target_release(&t);
	free(name);
	return st;
}

static void drop_all(struct ssh_session *s, int graceful)
{
	while (s->n)
		conn_drop(s, s->conns[s->n - 1], graceful);
}

/* A stage swap: the hosts may be components that were redeployed. */
static void ssh_stage_end(void *session)
{
	drop_all(session, 1);
}

static void ssh_close(void *session)
{
	struct ssh_session *s = session;
	drop_all(s, 1);
	free(s->conns);
	s->conns = NULL;
	s->alloc = 0;
}

/* "app1: systemctl is-active shop", "app1: put a -> b". */
static void ssh_summary(const struct ivalue *arg, struct strbuf *out)
{
	const char *host = iv_strval(iv_get(arg, "host"));
	const struct ivalue *v;
	strbuf_addf(out, "%s: ", host ? host : "?");
	if ((v = iv_get(arg, "run"))) {
		if (v->type == IV_STR) {
			strbuf_add(out, v->u.str.s, v->u.str.len);
			return;
		}
		for (size_t i = 0; v->type == IV_ARR && i < v->u.arr.n; i++) {
			struct strbuf t = STRBUF_INIT;
			iv_to_text(&t, v->u.arr.v[i]);
			if (i)
				strbuf_addch(out, ' ');
			sh_quote(out, t.buf, t.len);
			strbuf_release(&t);
		}
		return;
	}
	int put = !!(v = iv_get(arg, "put"));
	if (!put)
		v = iv_get(arg, "get");
	if (!v)
		return;
	const char *from =
		v->type == IV_STR ? iv_strval(v) : iv_strval(iv_get(v, "from"));
	const char *to = iv_strval(iv_get(v, "to"));
	strbuf_addf(out, "%s %s", put ? "put" : "get", from ? from : "?");
	if (to)
		strbuf_addf(out, " -> %s", to);
}

const struct itest_driver ssh_driver = {
	.name = "ssh",
	.arg_types = TY(OBJ),
	.keys = ssh_keys,
	.parts = ssh_parts,
	.session_size = sizeof(struct ssh_session),
	.check_step = ssh_check_step,
	.open = ssh_open,
	.exec = ssh_exec,
	.test_end = NULL,
	.close = ssh_close,
	.summary = ssh_summary,
	.stage_end = ssh_stage_end,
	.suite_key = "hosts",
	.check_conf = ssh_check_conf,
	.check_step_conf = ssh_check_step_conf,
	.step_conf = ssh_step_conf,
};
