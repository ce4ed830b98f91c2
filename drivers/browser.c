/*
 * The `browser` driver (SPEC 6.3): a real browser through W3C WebDriver
 * (webdriver.h).  Each worker starts its own chromedriver on a reserved
 * loopback port (or uses the suite's `webdriver:` endpoint) and opens a
 * browser session per test (`session: test`) or per suite (`session:
 * suite`), each with a fresh profile folder under the run folder.
 *
 * A step does one action: open, click, type, select, wait, script,
 * screenshot or alert.  Element look-ups poll for up to the suite's
 * `wait`.  The result has the parts value (a script's return value, an
 * alert's text), json (the same value, for JSONPath), and -- fetched only
 * when the step's `expect` asks for them -- title, url and text, a keyed
 * part: { LOCATOR: the element's visible text }.  A failed step leaves a
 * screenshot and the page source in the attempt's artifacts.
 *
 * Chromium is locked to loopback (a proxy that refuses, bypassed only for
 * 127.0.0.0/8 and localhost, and a resolver that resolves nothing else),
 * and every process it starts stays in chromedriver's process group, which
 * `close` ends; its crash handler, which leaves the group, is found by its
 * database folder (ours) and ended too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"
#include "expect.h"
#include "ports.h"
#include "spawn.h"
#include "suite.h"
#include "template.h"
#include "webdriver.h"

#define BROWSER_WAIT_MS	     5000  /* element look-ups, by default */
#define BROWSER_READY_MS     20000 /* chromedriver's start */
#define BROWSER_END_MS	     5000  /* a session's end */
#define BROWSER_EVIDENCE_MS  5000  /* a failed step's screenshot */
#define BROWSER_PAGE_LOAD_MS 60000 /* WebDriver's page load timeout */
#define BROWSER_SCRIPT_MS    30000 /* ... and script timeout */
#define BROWSER_STOP_MS	     3000  /* chromedriver's grace at the end */
#define BROWSER_LOG_MAX	     200   /* a value in the step log */
#define CHROMIUM_DEFAULT     "/usr/bin/chromium"
#define CHROMEDRIVER_HINT                                                      \
	"install them with: apt-get install chromium chromium-driver"

/* ---- keys ---- */

static const char *const actions[] = {
	"open",	  "click",	"type",	 "select", "wait",
	"script", "screenshot", "alert", NULL,
};

static const struct itest_keyspec browser_keys[] = {
	{"open", TY(STR), 0},  {"click", TY(STR), 0},
	{"type", TY(OBJ), 0},  {"select", TY(OBJ), 0},
	{"wait", TY(OBJ), 0},  {"script", TY(STR), 0},
	{"args", TY(ARR), 0},  {"screenshot", TY(STR), 0},
	{"alert", TY(STR), 0}, {NULL, 0, 0},
};

static const struct itest_keyspec type_keys[] = {
	{"into", TY(STR), 1},
	{"text", TY_SCALAR, 1},
	{"clear", TY(BOOL) | TY(STR), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec select_keys[] = {
	{"from", TY(STR), 1},
	{"option", TY_SCALAR, 1},
	{NULL, 0, 0},
};

static const char *const wait_kinds[] = {
	"visible", "present", "gone", "enabled", "url", NULL,
};

static const struct itest_keyspec wait_keys[] = {
	{"visible", TY(STR), 0},
	{"present", TY(STR), 0},
	{"gone", TY(STR), 0},
	{"enabled", TY(STR), 0},
	{"url", TY_ANY, 0},
	{"timeout", TY(STR), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec conf_keys[] = {
	{"webdriver", TY(STR), 0},
	{"start", TY(STR) | TY(ARR), 0},
	{"headless", TY(BOOL) | TY(STR), 0},
	{"window", TY(STR), 0},
	{"wait", TY(STR), 0},
	{"session", TY(STR), 0},
	{"binary", TY(STR), 0},
	{"args", TY(ARR), 0},
	{NULL, 0, 0},
};

static const char *const browser_parts[] = {
	"value", "text", "title", "url", "json", NULL,
};

static const char *const keyed_parts[] = {"text", NULL};

/*
 * The flags every browser gets (SPEC 8 "Platform notes"), then the
 * loopback lock: a proxy that nothing answers for everything but
 * loopback, and a resolver that resolves nothing but localhost, so that
 * no request, DNS query or WebRTC packet leaves 127.0.0.0/8.
 */
static const char *const chromium_flags[] = {
	"--no-sandbox",
	"--disable-gpu",
	"--disable-dev-shm-usage",
	"--disable-quic",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
	"--no-default-browser-check",
	"--disable-default-apps",
	"--disable-extensions",
	"--disable-domain-reliability",
	"--disable-client-side-phishing-detection",
	"--proxy-server=http://127.0.0.1:9",
	"--proxy-bypass-list=<-loopback>;127.0.0.0/8;localhost;*.localhost;"
	"[::1]",
	"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , "
	"EXCLUDE *.localhost , EXCLUDE 127.*",
	"--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
	NULL,
};

/*
 * `text:` locators: the innermost rendered elements whose visible text
 * holds the string.  Matches come in document order, so an element's
 * matching descendants come right after it: it is innermost when the
 * next match is not inside it.
 */
static const char text_find_js[] =
	"var t=arguments[0],a=document.querySelectorAll('body *'),m=[],r=[];"
	"for(var i=0;i<a.length;i++){var e=a[i];"
	"if(e.getClientRects().length&&(e.innerText||'').indexOf(t)>=0)"
	"m.push(e);}"
	"for(var i=0;i<m.length;i++)"
	"if(i+1>=m.length||!m[i].contains(m[i+1]))r.push(m[i]);"
	"return r;";

/* `select`: the option whose text (trimmed) or value is the one asked;
 * else the list of option texts; null when it is not a select. */
static const char select_js[] =
	"var s=arguments[0],w=arguments[1],o=s.options;"
	"if(!o||s.tagName!=='SELECT')return null;"
	"for(var i=0;i<o.length;i++)"
	"if(o[i].text.trim()===w||o[i].value===w)return o[i];"
	"var l=[];for(var i=0;i<o.length;i++)l.push(o[i].text.trim());"
	"return l;";

/* ---- settings ---- */

struct bconf {
	char *webdriver; /* NULL: start one */
	char **start;	 /* argv, NULL-terminated */
	size_t nstart;
	int headless;
	int width, height;
	int64_t wait_ms;
	int per_suite;
	char *binary; /* NULL: chromedriver's choice */
	char **args;
	size_t nargs;
};

static void bconf_release(struct bconf *c)
{
	free(c->webdriver);
	for (size_t i = 0; i < c->nstart; i++)
		free(c->start[i]);
	free(c->start);
	free(c->binary);
	for (size_t i = 0; i < c->nargs; i++)
		free(c->args[i]);
	free(c->args);
	memset(c, 0, sizeof(*c));
}

/* ---- the session ---- */

struct browser_session {
	struct wd_client *wd; /* the endpoint in use; NULL until needed */
	/* the chromedriver this worker started, or NULL */
	struct spawn_proc *proc;
	char *proc_key; /* its command line, to see a change */
	char *proc_url;
	char *crash_dir;
	char *log_path;
	int port, lock_fd;
	char *run_dir; /* absolute */
	/* the browser session */
	const struct suite *suite; /* whose steps opened it */
	int per_suite;
	int broken; /* a call was cut off: start afresh */
	char *profile;
	pid_t browser_pid;  /* its browser on this machine, or 0 */
	unsigned nevidence; /* failure files of this test */
	char page_host[48]; /* where the last `open` went (metrics) */
	int page_port;
	/* the settings, parsed */
	const struct ivalue *conf_src;
	int conf_static, conf_ok;
	struct bconf conf;
};

/* One step's run. */
struct brun {
	struct browser_session *s;
	const struct itest_stepctx *ctx;
	struct itest_result *res;
	const struct bconf *conf;
	double deadline;     /* of the step (now_ms); 0: none */
	struct strbuf shown; /* what the step log shows of the action */
};

/* ---- small helpers ---- */

static int cancelled(int fd)
{
	if (fd < 0)
		return 0;
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) > 0;
}

/* Sleeps `ms`, or less when the cancel fd turns readable. */
static void nap(int cancel_fd, double ms)
{
	if (ms < 1)
		ms = 1;
	if (cancel_fd >= 0) {
		struct pollfd p = {cancel_fd, POLLIN, 0};
		poll(&p, 1, (int)ms);
	} else {
		poll(NULL, 0, (int)ms);
	}
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_rf(const char *path)
{
	if (path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return close(fd);
}

/* Appends a value for the step log, cut short. */
static void add_shown(struct strbuf *sb, const char *s, size_t len)
{
	strbuf_addch(sb, '"');
	size_t n = len < BROWSER_LOG_MAX ? len : BROWSER_LOG_MAX;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			strbuf_addstr(sb, "\\n");
		else
			strbuf_addch(sb, s[i]);
	}
	strbuf_addch(sb, '"');
	if (len > n)
		strbuf_addf(sb, "... (%zu bytes)", len);
}

/* The first line of a script, cut short, for summaries and the log. */
static void add_script(struct strbuf *sb, const char *s)
{
	size_t n = strcspn(s, "\n");
	if (n > 60) {
		strbuf_add(sb, s, 60);
		strbuf_addstr(sb, "...");
	} else {
		strbuf_add(sb, s, n);
		if (s[n])
			strbuf_addstr(sb, " ...");
	}
}

/* "> WHAT (N ms)" in the step log. */
ITEST_PRINTF(3, 4)
static void log_line(struct brun *r, double t0, const char *fmt, ...)
{
	struct strbuf *log = r->ctx->log;
	va_list ap;
	if (!log)
		return;
	strbuf_addstr(log, "> ");
	va_start(ap, fmt);
	strbuf_vaddf(log, fmt, ap);
	va_end(ap);
	strbuf_addf(log, " (%.0f ms)\n", now_ms() - t0);
}

/* ---- locators ---- */

struct locator {
	const char *using; /* W3C strategy; NULL: visible text */
	const char *value;
};

static void locator_parse(const char *s, struct locator *l)
{
	static const struct {
		const char *prefix, *using;
	} kinds[] = {
		{"css:", "css selector"},
		{"xpath:", "xpath"},
		{"link:", "link text"},
		{"text:", NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (!strncmp(s, kinds[i].prefix, n)) {
			l->using = kinds[i].using;
			l->value = s + n;
			return;
		}
	}
	l->using = "css selector";
	l->value = s;
}

/* ---- load-time checks ---- */

static int check_locator(const struct ivalue *v, const char *what,
			 struct itest_err *err)
{
	struct locator l;
	if (tpl_value_has_vars(v))
		return 0;
	locator_parse(v->u.str.s, &l);
	if (!*l.value)
		return err_set(err, &v->loc,
			       "empty locator in '%s' of 'browser' step (write "
			       "css:SELECTOR, xpath:PATH, link:TEXT or "
			       "text:TEXT)",
			       what);
	return 0;
}

static int check_bool(const struct ivalue *v, const char *what,
		      struct itest_err *err)
{
	if (!v || v->type == IV_BOOL || tpl_value_has_vars(v))
		return 0;
	return err_set(err, &v->loc, "'%s' must be true or false", what);
}

static int check_duration(const struct ivalue *v, const char *what,
			  struct itest_err *err)
{
	if (!v || tpl_value_has_vars(v) || duration_parse_ms(v->u.str.s) >= 0)
		return 0;
	return err_set(err, &v->loc,
		       "bad duration for '%s' (write 250ms, 2s or 1m)", what);
}

static int is_open_url(const char *u)
{
	static const char *const schemes[] = {
		"http://", "https://", "file:", "about:", "data:", NULL,
	};
	for (size_t i = 0; schemes[i]; i++)
		if (!strncasecmp(u, schemes[i], strlen(schemes[i])))
			return 1;
	return 0;
}

static int check_wait(const struct ivalue *w, struct itest_err *err)
{
	const struct imember *kind = NULL;
	if (keys_check(w, wait_keys, "'wait' of 'browser' step", err) < 0)
		return -1;
	for (size_t i = 0; i < w->u.obj.n; i++) {
		const struct imember *m = &w->u.obj.m[i];
		if (!str_in_list(m->key, wait_kinds))
			continue;
		if (kind)
			return err_set(err, &m->kloc,
				       "'wait' waits for one thing, not both "
				       "'%s' and '%s'",
				       kind->key, m->key);
		kind = m;
	}
	if (!kind)
		return err_set(err, &w->loc,
			       "'wait' needs one of visible, present, gone, "
			       "enabled (a locator) or url (a predicate)");
	if (strcmp(kind->key, "url")) {
		if (kind->val->type != IV_STR)
			return err_set(err, &kind->val->loc,
				       "'%s' in 'wait' takes a locator",
				       kind->key);
		if (check_locator(kind->val, "wait", err) < 0)
			return -1;
	} else {
		/* the predicate as an expectation of the url part */
		struct ivalue *x = iv_obj();
		struct ivalue *copy = iv_clone(kind->val);
		iv_set(x, "url", copy);
		int rc = expect_check_spec(x, browser_parts, err);
		iv_free(x);
		if (rc < 0)
			return -1;
	}
	return check_duration(iv_get(w, "timeout"), "timeout", err);
}

static int check_screenshot(const struct ivalue *v, struct itest_err *err)
{
	const char *p = v->u.str.s;
	if (tpl_value_has_vars(v))
		return 0;
	if (!*p || p[0] == '/' || p[strlen(p) - 1] == '/')
		return err_set(err, &v->loc,
			       "'screenshot' takes a file name relative to "
			       "the test's artifacts folder");
	for (const char *q = p; *q;
	     q = strchr(q, '/') ? strchr(q, '/') + 1 : q + strlen(q))
		if (!strncmp(q, "..", 2) && (q[2] == '/' || !q[2]))
			return err_set(err, &v->loc,
				       "'screenshot' may not leave the "
				       "artifacts folder ('..')");
	return 0;
}

static int browser_check_step(const struct ivalue *arg, struct itest_err *err)
{
	const struct imember *act = NULL;
	for (size_t i = 0; i < arg->u.obj.n; i++) {
		const struct imember *m = &arg->u.obj.m[i];
		if (!str_in_list(m->key, actions))
			continue;
		if (act)
			return err_set(err, &m->kloc,
				       "'browser' step has two actions '%s' "
				       "and '%s' (write one step each)",
				       act->key, m->key);
		act = m;
	}
	if (!act)
		return err_set(err, &arg->loc,
			       "'browser' step needs one action: open, click, "
			       "type, select, wait, script, screenshot or "
			       "alert");
	const struct imember *args = iv_member(arg, "args");
	if (args && strcmp(act->key, "script"))
		return err_set(err, &args->kloc,
			       "'args' goes with 'script', not with '%s'",
			       act->key);
	const struct ivalue *v = act->val;
	const char *k = act->key;
	if (!strcmp(k, "open")) {
		if (!tpl_value_has_vars(v) && !is_open_url(v->u.str.s))
			return err_set(err, &v->loc,
				       "'open' needs a URL (http://, "
				       "https://, file:, about: or data:), "
				       "not '%s'",
				       v->u.str.s);
	} else if (!strcmp(k, "click")) {
		return check_locator(v, "click", err);
	} else if (!strcmp(k, "type")) {
		if (keys_check(v, type_keys, "'type' of 'browser' step", err) <
			    0 ||
		    check_locator(iv_get(v, "into"), "into", err) < 0)
			return -1;
		return check_bool(iv_get(v, "clear"), "clear", err);
	} else if (!strcmp(k, "select")) {
		if (keys_check(v, select_keys, "'select' of 'browser' step",
			       err) < 0)
			return -1;
		return check_locator(iv_get(v, "from"), "from", err);
	} else if (!strcmp(k, "wait")) {
		return check_wait(v, err);
	} else if (!strcmp(k, "script")) {
		if (!v->u.str.len)
			return err_set(err, &v->loc, "'script' is empty");
	} else if (!strcmp(k, "screenshot")) {
		return check_screenshot(v, err);
	} else if (!strcmp(k, "alert")) {
		static const char *const ops[] = {"accept", "dismiss", "text",
						  NULL};
		if (!tpl_value_has_vars(v) && !str_in_list(v->u.str.s, ops))
			return err_set(err, &v->loc,
				       "'alert' takes accept, dismiss or text, "
				       "not '%s'",
				       v->u.str.s);
	}
	return 0;
}

/* "1280x800" */
static int parse_window(const char *s, int *w, int *h)
{
	char *end;
	long a, b;
	if (*s < '1' || *s > '9')
		return -1;
	errno = 0;
	a = strtol(s, &end, 10);
	if (errno || (*end != 'x' && *end != 'X') || end[1] < '1' ||
	    end[1] > '9')
		return -1;
	b = strtol(end + 1, &end, 10);
	if (errno || *end || a > 16384 || b > 16384)
		return -1;
	*w = (int)a;
	*h = (int)b;
	return 0;
}

static int browser_check_conf(const struct ivalue *conf, struct itest_err *err)
{
	const struct ivalue *v;
	int w, h;
	const char *names[ARRAY_SIZE(conf_keys)];
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++)
		names[i] = conf_keys[i].name;
	/* merged over the includes, the keys have lost their places: an
	 * unknown one is reported at its value */
	for (size_t i = 0; conf->type == IV_OBJ && i < conf->u.obj.n; i++) {
		const struct imember *m = &conf->u.obj.m[i];
		const char *near;
		if (str_in_list(m->key, names))
			continue;
		if ((near = suggest_name(m->key, names)))
			return err_set(err, &m->val->loc,
				       "unknown key '%s' in 'browser' (did you "
				       "mean '%s'?)",
				       m->key, near);
		return err_set(err, &m->val->loc,
			       "unknown key '%s' in 'browser'", m->key);
	}
	if (keys_check(conf, conf_keys, "'browser'", err) < 0)
		return -1;
	v = iv_get(conf, "webdriver");
	if (v && !tpl_value_has_vars(v) &&
	    strncasecmp(v->u.str.s, "http://", 7) &&
	    strncasecmp(v->u.str.s, "https://", 8))
		return err_set(err, &v->loc,
			       "'webdriver' needs the http:// URL of a running "
			       "WebDriver endpoint, not '%s'",
			       v->u.str.s);
	if (v && iv_get(conf, "start"))
		return err_set(err, &iv_get(conf, "start")->loc,
			       "'browser' takes 'webdriver' (an endpoint that "
			       "runs) or 'start' (a command itest starts), not "
			       "both");
	v = iv_get(conf, "start");
	if (v && v->type == IV_STR && !v->u.str.len)
		return err_set(err, &v->loc, "'start' is empty");
	if (v && v->type == IV_ARR) {
		if (!v->u.arr.n)
			return err_set(err, &v->loc, "'start' is empty");
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (v->u.arr.v[i]->type != IV_STR ||
			    !v->u.arr.v[i]->u.str.len)
				return err_set(err, &v->u.arr.v[i]->loc,
					       "'start' takes a command: a "
					       "list of non-empty strings");
	}
	if (check_bool(iv_get(conf, "headless"), "headless", err) < 0)
		return -1;
	v = iv_get(conf, "window");
	if (v && !tpl_value_has_vars(v) && parse_window(v->u.str.s, &w, &h) < 0)
		return err_set(err, &v->loc,
			       "bad 'window' '%s' (write WIDTHxHEIGHT, e.g. "
			       "1280x800)",
			       v->u.str.s);
	if (check_duration(iv_get(conf, "wait"), "wait", err) < 0)
		return -1;
	v = iv_get(conf, "session");
	if (v && !tpl_value_has_vars(v) && strcmp(v->u.str.s, "test") &&
	    strcmp(v->u.str.s, "suite"))
		return err_set(err, &v->loc,
			       "'session' is test (a fresh browser per test) "
			       "or suite (one per suite and worker), not '%s'",
			       v->u.str.s);
	v = iv_get(conf, "binary");
	if (v && !v->u.str.len)
		return err_set(err, &v->loc, "'binary' is empty");
	v = iv_get(conf, "args");
	for (size_t i = 0; v && i < v->u.arr.n; i++)
		if (v->u.arr.v[i]->type != IV_STR)
			return err_set(err, &v->u.arr.v[i]->loc,
				       "'args' takes a list of browser flags "
				       "(strings), not %s",
				       iv_kind(v->u.arr.v[i]));
	return 0;
}

/* ---- settings at run time ---- */

static int text_of(const struct ivalue *v, char **out)
{
	if (!v || v->type == IV_ARR || v->type == IV_OBJ)
		return -1;
	*out = iv_text_dup(v);
	return 0;
}

/* A rendered `browser:` map (or NULL) into *c.  0, or -1 with msg. */
static int bconf_parse(const struct ivalue *m, struct bconf *c,
		       struct strbuf *msg)
{
	const struct ivalue *v;
	memset(c, 0, sizeof(*c));
	c->headless = 1;
	c->width = 1280;
	c->height = 800;
	c->wait_ms = BROWSER_WAIT_MS;
	if ((v = iv_get(m, "webdriver")) && text_of(v, &c->webdriver) < 0)
		goto bad_webdriver;
	if (c->webdriver && strncasecmp(c->webdriver, "http://", 7) &&
	    strncasecmp(c->webdriver, "https://", 8))
		goto bad_webdriver;
	v = iv_get(m, "start");
	if (v && v->type == IV_ARR) {
		c->start = xcalloc(v->u.arr.n + 1, sizeof(*c->start));
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (text_of(v->u.arr.v[i], &c->start[c->nstart++]) < 0)
				goto bad_start;
	} else {
		c->start = xcalloc(2, sizeof(*c->start));
		if (v && text_of(v, &c->start[0]) < 0)
			goto bad_start;
		if (!v)
			c->start[0] = xstrdup("chromedriver");
		c->nstart = 1;
	}
	if (!c->start[0][0])
		goto bad_start;
	if ((v = iv_get(m, "headless")) && iv_bool_of(v, &c->headless) < 0) {
		strbuf_addstr(msg, "'headless' must be true or false");
		return -1;
	}
	if ((v = iv_get(m, "window")) &&
	    (v->type != IV_STR ||
	     parse_window(v->u.str.s, &c->width, &c->height) < 0)) {
		strbuf_addstr(msg, "bad 'window' (write WIDTHxHEIGHT)");
		return -1;
	}
	if ((v = iv_get(m, "wait")) &&
	    (v->type != IV_STR ||
	     (c->wait_ms = duration_parse_ms(v->u.str.s)) < 0)) {
		strbuf_addstr(msg, "bad duration for 'wait'");
		return -1;
	}
	if ((v = iv_get(m, "session"))) {
		const char *s = iv_strval(v);
		if (!s || (strcmp(s, "test") && strcmp(s, "suite"))) {
			strbuf_addstr(msg, "'session' is test or suite");
			return -1;
		}
		c->per_suite = !strcmp(s, "suite");
	}
	if ((v = iv_get(m, "binary")) && text_of(v, &c->binary) < 0) {
		strbuf_addstr(msg, "'binary' must be a path");
		return -1;
	}
	if (!c->binary && access(CHROMIUM_DEFAULT, X_OK) == 0)
		c->binary = xstrdup(CHROMIUM_DEFAULT);
	v = iv_get(m, "args");
	if (v && v->type == IV_ARR) {
		c->args = xcalloc(v->u.arr.n + 1, sizeof(*c->args));
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (text_of(v->u.arr.v[i], &c->args[c->nargs++]) < 0) {
				strbuf_addstr(msg, "'args' takes strings");
				return -1;
			}
	}
	return 0;
bad_webdriver:
	strbuf_addstr(msg, "'webdriver' needs an http:// URL");
	return -1;
bad_start:
	strbuf_addstr(msg, "'start' needs a command");
	return -1;
}

/* The step's settings: parsed once while they hold no template. */
static const struct bconf *settings(struct browser_session *s,
				    const struct itest_stepctx *ctx,
				    struct strbuf *msg)
{
	if (s->conf_ok && s->conf_static && s->conf_src == ctx->conf)
		return &s->conf;
	bconf_release(&s->conf);
	s->conf_ok = 0;
	s->conf_src = ctx->conf;
	s->conf_static = !ctx->conf || tpl_is_static(ctx->conf);
	struct ivalue *own = NULL;
	const struct ivalue *m = ctx->conf;
	if (!s->conf_static) {
		struct itest_err err = ITEST_ERR_INIT;
		m = own = tpl_render(ctx->conf, ctx->scope, &err);
		if (!m) {
			strbuf_addf(msg, "in the 'browser' settings: %s",
				    err.msg);
			return NULL;
		}
	}
	struct strbuf why = STRBUF_INIT;
	int rc = bconf_parse(m, &s->conf, &why);
	iv_free(own);
	if (rc < 0) {
		strbuf_addf(msg, "in the 'browser' settings: %s", why.buf);
		strbuf_release(&why);
		bconf_release(&s->conf);
		return NULL;
	}
	strbuf_release(&why);
	s->conf_ok = 1;
	return &s->conf;
}

/* ---- chromedriver ---- */

/* Is the URL's host a loopback address ("127.x", "localhost", "[::1]")? */
static int url_on_loopback(const char *url)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) ||
	       !strncmp(h, "[::1]", 5);
}

/*
 * Chromium's crash handler leaves chromedriver's process group (it is
 * started as a session of its own).  It ends by itself when its browser
 * ends; whatever is left of ours -- found by the database folder that
 * only our chromedriver's browsers use -- is killed here.
 */
static void sweep_crash_handlers(const char *crash_dir)
{
	char *needle = xasprintf("--database=%s", crash_dir);
	size_t nlen = strlen(needle) + 1;
	double end = now_ms() + 2000;
	for (int round = 0;; round++) {
		int left = 0;
		int last = now_ms() >= end;
		DIR *d = opendir("/proc");
		for (struct dirent *e; d && (e = readdir(d));) {
			char path[64], buf[4096];
			char *stop;
			long pid = strtol(e->d_name, &stop, 10);
			if (pid <= 0 || *stop)
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				continue;
			buf[n] = 0;
			for (ssize_t i = 0; i + (ssize_t)nlen <= n + 1;) {
				const char *arg = buf + i;
				if (!strcmp(arg, needle)) {
					left++;
					if (last)
						kill((pid_t)pid, SIGKILL);
					break;
				}
				i += (ssize_t)strlen(arg) + 1;
			}
		}
		if (d)
			closedir(d);
		if (!left || last)
			break;
		nap(-1, round < 5 ? 20 : 100);
	}
	free(needle);
	spawn_reap_strays();
}

static void driver_stop(struct browser_session *s)
{
	if (s->proc) {
		spawn_stop(s->proc, SIGTERM, BROWSER_STOP_MS);
		spawn_proc_free(s->proc);
		s->proc = NULL;
	}
	if (s->crash_dir) {
		sweep_crash_handlers(s->crash_dir);
		rm_rf(s->crash_dir);
	}
	if (s->lock_fd > 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	free(s->proc_key);
	free(s->proc_url);
	free(s->crash_dir);
	free(s->log_path);
	s->proc_key = s->proc_url = s->crash_dir = s->log_path = NULL;
}

/* The last lines of chromedriver's log, for messages. */
static void add_log_tail(struct strbuf *msg, const char *path)
{
	char buf[1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) - 1
			     ? size - (off_t)sizeof(buf) + 1
			     : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	strbuf_addf(msg, "\nthe end of %s:\n%s", path, buf);
	strbuf_rtrim(msg);
}

static char *joined(char *const *argv)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(&sb, '\n');
		strbuf_addstr(&sb, argv[i]);
	}
	return strbuf_detach(&sb, NULL);
}

/* Starts chromedriver on a reserved port and waits until it is ready. */
static int driver_start(struct brun *r)
{
	struct browser_session *s = r->s;
	struct itest_err err = ITEST_ERR_INIT;
	struct strbuf *msg = &r->res->message;
	double t0 = now_ms();
	int ret = -1;
	char *portarg = NULL, *env0 = NULL;
	const char **argv = NULL;
	struct wd_client *probe = NULL;
	if (ports_reserve(&s->port, &s->lock_fd, &err) < 0) {
		strbuf_addf(msg, "cannot start chromedriver: %s", err.msg);
		s->lock_fd = -1;
		return -1;
	}
	s->proc_key = joined(r->conf->start);
	char *logs = xasprintf("%s/logs", s->run_dir);
	mkdir_p(logs, 0755);
	s->log_path = xasprintf("%s/chromedriver-%d.log", logs, s->port);
	free(logs);
	s->crash_dir = xasprintf("%s/browser/crash-%d", s->run_dir, s->port);
	mkdir_p(s->crash_dir, 0700);
	portarg = xasprintf("--port=%d", s->port);
	env0 = xasprintf("BREAKPAD_DUMP_LOCATION=%s", s->crash_dir);
	const char *env[] = {env0, NULL};
	argv = xcalloc(r->conf->nstart + 2, sizeof(*argv));
	for (size_t i = 0; i < r->conf->nstart; i++)
		argv[i] = r->conf->start[i];
	argv[r->conf->nstart] = portarg;
	struct spawn_opts o = {.argv = argv, .env = env, .cancel_fd = -1};
	if (spawn_start(&o, s->log_path, &s->proc, &err) < 0) {
		strbuf_addf(msg, "cannot start chromedriver: %s", err.msg);
		if (strstr(err.msg, "No such file"))
			strbuf_addstr(msg, " (is chromedriver "
					   "installed? " CHROMEDRIVER_HINT ")");
		goto out;
	}
	s->proc_url = xasprintf("http://127.0.0.1:%d", s->port);
	probe = wd_new(s->proc_url);
	double ready_by = now_ms() + BROWSER_READY_MS;
	if (r->deadline && r->deadline < ready_by)
		ready_by = r->deadline;
	for (int round = 0;; round++) {
		int status, ready = 0;
		if (!spawn_alive(s->proc, &status)) {
			strbuf_addstr(msg, "chromedriver ");
			spawn_status_text(msg, status);
			strbuf_addstr(msg, " before it was ready");
			add_log_tail(msg, s->log_path);
			goto out;
		}
		wd_limits(probe, now_ms() + 1000, r->ctx->cancel_fd);
		if (wd_status(probe, &ready) == 0 && ready)
			break;
		if (cancelled(r->ctx->cancel_fd)) {
			strbuf_addstr(msg, "interrupted");
			goto out;
		}
		if (now_ms() >= ready_by) {
			strbuf_addf(msg,
				    "chromedriver did not get ready on port %d "
				    "in %.0f ms",
				    s->port, now_ms() - t0);
			add_log_tail(msg, s->log_path);
			goto out;
		}
		nap(r->ctx->cancel_fd, round < 10 ? 10 : 50);
	}
	log_line(r, t0, "started chromedriver on %s (log %s)", s->proc_url,
		 s->log_path);
	ret = 0;
out:
	if (ret < 0)
		driver_stop(s);
	wd_free(probe);
	free(portarg);
	free(env0);
	free(argv);
	return ret;
}

/* ---- browser sessions ---- */

/* Is the process gone (or a zombie)? */
static int proc_gone(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* Waits up to `ms` for the process to end. */
static void wait_gone(pid_t pid, int ms)
{
	double end = now_ms() + ms;
	for (int round = 0; !proc_gone(pid) && now_ms() < end; round++)
		nap(-1, round < 10 ? 5 : 20);
}

/*
 * Ends the browser session.  One that may be stuck in a call that was
 * cut off (broken) on the chromedriver this worker started ends with
 * that chromedriver's process group: a DELETE would wait behind the
 * stuck call.
 */
static void session_end(struct browser_session *s)
{
	if (s->wd && wd_session(s->wd)) {
		if (s->broken && s->proc_url &&
		    !strcmp(wd_base(s->wd), s->proc_url)) {
			wd_session_forget(s->wd);
			driver_stop(s);
		} else {
			wd_limits(s->wd, now_ms() + BROWSER_END_MS, -1);
			wd_session_delete(s->wd);
		}
	}
	if (s->profile) {
		/* the browser writes its profile until it has exited, a
		 * moment after the session's end was answered */
		if (s->browser_pid)
			wait_gone(s->browser_pid, 3000);
		rm_rf(s->profile);
		free(s->profile);
		s->profile = NULL;
	}
	s->browser_pid = 0;
	s->suite = NULL;
	s->broken = 0;
}

static struct ivalue *str_list(const char *const *v)
{
	struct ivalue *a = iv_arr();
	for (size_t i = 0; v[i]; i++)
		iv_push(a, iv_str(v[i]));
	return a;
}

static struct ivalue *capabilities(const struct bconf *c, const char *profile)
{
	struct ivalue *caps = iv_obj(), *t = iv_obj(), *opts = iv_obj();
	struct ivalue *args = str_list(chromium_flags);
	iv_set(caps, "browserName", iv_str("chrome"));
	iv_set(caps, "pageLoadStrategy", iv_str("normal"));
	iv_set(caps, "unhandledPromptBehavior", iv_str("ignore"));
	iv_set(t, "implicit", iv_int(0));
	iv_set(t, "pageLoad", iv_int(BROWSER_PAGE_LOAD_MS));
	iv_set(t, "script", iv_int(BROWSER_SCRIPT_MS));
	iv_set(caps, "timeouts", t);
	if (c->headless)
		iv_push(args, iv_str("--headless=new"));
	char *flag = xasprintf("--window-size=%d,%d", c->width, c->height);
	iv_push(args, iv_str(flag));
	free(flag);
	if (profile) {
		flag = xasprintf("--user-data-dir=%s", profile);
		iv_push(args, iv_str(flag));
		free(flag);
	}
	for (size_t i = 0; i < c->nargs; i++)
		iv_push(args, iv_str(c->args[i]));
	iv_set(opts, "args", args);
	if (c->binary)
		iv_set(opts, "binary", iv_str(c->binary));
	iv_set(caps, "goog:chromeOptions", opts);
	return caps;
}

static int session_start(struct brun *r, const char *endpoint)
{
	struct browser_session *s = r->s;
	struct strbuf *msg = &r->res->message;
	double t0 = now_ms();
	if (r->conf->binary && access(r->conf->binary, X_OK) < 0 &&
	    url_on_loopback(endpoint)) {
		strbuf_addf(msg, "the browser '%s' cannot be run: %s (%s)",
			    r->conf->binary, strerror(errno),
			    CHROMEDRIVER_HINT);
		return -1;
	}
	/* a profile of its own, on this machine only */
	if (url_on_loopback(endpoint)) {
		s->profile = xasprintf("%s/browser/profile-%08x", s->run_dir,
				       ports_random());
		mkdir_p(s->profile, 0700);
	}
	struct ivalue *caps = capabilities(r->conf, s->profile), *got = NULL;
	int rc = wd_session_new(s->wd, caps, &got);
	iv_free(caps);
	const struct ivalue *pid = iv_get(got, "goog:processID");
	s->browser_pid = s->profile && pid && pid->type == IV_NUM &&
					 (pid->flags & IVF_INT) &&
					 pid->u.num.i > 1
				 ? (pid_t)pid->u.num.i
				 : 0;
	iv_free(got);
	if (rc < 0) {
		if (wd_is(s->wd, "interrupted")) {
			strbuf_addstr(msg, "interrupted");
		} else {
			strbuf_addf(msg,
				    "cannot start a browser session at %s: %s",
				    endpoint, wd_message(s->wd));
			if (strstr(wd_message(s->wd), "binary") ||
			    strstr(wd_message(s->wd), "not found"))
				strbuf_addstr(msg, " (" CHROMEDRIVER_HINT
						   ", or set 'binary')");
		}
		if (wd_is(s->wd, "timeout") || wd_is(s->wd, "interrupted"))
			s->broken = 1;
		rm_rf(s->profile);
		free(s->profile);
		s->profile = NULL;
		return -1;
	}
	s->suite = r->ctx->suite;
	s->per_suite = r->conf->per_suite;
	s->broken = 0;
	log_line(r, t0, "new browser session %s at %s", wd_session(s->wd),
		 endpoint);
	return 0;
}

/* The endpoint and the session this step needs. */
static int ready(struct brun *r)
{
	struct browser_session *s = r->s;
	const char *endpoint = r->conf->webdriver;
	if (s->broken) {
		/* a call was cut off: start afresh */
		session_end(s);
		driver_stop(s);
	}
	if (!endpoint) {
		char *key = joined(r->conf->start);
		int alive = s->proc && spawn_alive(s->proc, NULL);
		int same = s->proc_key && !strcmp(key, s->proc_key);
		free(key);
		if (s->proc && (!alive || !same)) {
			s->broken = 1;
			session_end(s);
			driver_stop(s);
		}
		if (!s->proc && driver_start(r) < 0)
			return -1;
		endpoint = s->proc_url;
	}
	if (s->wd && strcmp(wd_base(s->wd), endpoint)) {
		session_end(s);
		wd_free(s->wd);
		s->wd = NULL;
	}
	if (!s->wd)
		s->wd = wd_new(endpoint);
	if (wd_session(s->wd) && (s->per_suite != r->conf->per_suite ||
				  (s->per_suite && s->suite != r->ctx->suite)))
		session_end(s);
	wd_limits(s->wd, r->deadline, r->ctx->cancel_fd);
	if (!wd_session(s->wd) && session_start(r, endpoint) < 0)
		return -1;
	return 0;
}

/* ---- errors ---- */

/* "an alert is open ('TEXT')..." from chromedriver's "{Alert text :
 * TEXT}". */
static void add_alert_open(struct strbuf *msg, const char *m)
{
	const char *t = strstr(m, "{Alert text : ");
	strbuf_addstr(msg, "an alert is open");
	if (t) {
		t += 14;
		size_t n = strlen(t);
		if (n && t[n - 1] == '}')
			n--;
		strbuf_addstr(msg, " ('");
		strbuf_add(msg, t, n);
		strbuf_addstr(msg, "')");
	}
	strbuf_addstr(msg, "; answer it with an 'alert: accept' or 'alert: "
			   "dismiss' step");
}

/*
 * The step's message for the client's last error: "PREFIX: reason".
 * Interruptions and timeouts say only that.  Marks the session broken
 * when the call was cut off or the session is gone.
 */
ITEST_PRINTF(2, 3)
static enum itest_status failed(struct brun *r, const char *fmt, ...)
{
	struct wd_client *wd = r->s->wd;
	struct strbuf *msg = &r->res->message;
	va_list ap;
	strbuf_reset(msg);
	if (wd_is(wd, "interrupted")) {
		r->s->broken = 1;
		strbuf_addstr(msg, "interrupted");
		return IT_ERROR;
	}
	if (wd_is(wd, "timeout")) {
		r->s->broken = 1;
		if (r->ctx->timeout_ms > 0) {
			strbuf_addstr(msg, "timed out after ");
			strbuf_add_duration(msg, r->ctx->timeout_ms);
		} else {
			strbuf_addstr(msg, "WebDriver did not answer in time");
		}
		va_start(ap, fmt);
		strbuf_addstr(msg, " (");
		strbuf_vaddf(msg, fmt, ap);
		strbuf_addch(msg, ')');
		va_end(ap);
		return IT_ERROR;
	}
	va_start(ap, fmt);
	strbuf_vaddf(msg, fmt, ap);
	va_end(ap);
	strbuf_addstr(msg, ": ");
	if (wd_is(wd, "stale element reference")) {
		strbuf_addstr(msg, "the element is no longer on the page "
				   "(stale element)");
	} else if (wd_is(wd, "unexpected alert open")) {
		add_alert_open(msg, wd_message(wd));
	} else if (wd_is(wd, "no such alert")) {
		strbuf_addstr(msg, "no alert is open");
	} else if (wd_is(wd, "javascript error")) {
		strbuf_addf(msg, "JavaScript error: %s", wd_message(wd));
	} else if (wd_is(wd, "invalid selector")) {
		strbuf_addf(msg, "bad locator: %s", wd_message(wd));
	} else if (wd_is(wd, "invalid session id") || wd_is(wd, "transport") ||
		   wd_is(wd, "protocol")) {
		r->s->broken = 1;
		strbuf_addstr(msg, wd_message(wd));
		int status;
		if (r->s->proc && !spawn_alive(r->s->proc, &status)) {
			strbuf_addstr(msg, " (chromedriver ");
			spawn_status_text(msg, status);
			strbuf_addch(msg, ')');
			add_log_tail(msg, r->s->log_path);
		}
	} else if (wd_is(wd, "unknown error")) {
		strbuf_addstr(msg, wd_message(wd));
	} else {
		const char *m = wd_message(wd);
		if (strcmp(m, wd_error(wd)))
			strbuf_addf(msg, "%s: %s", wd_error(wd), m);
		else
			strbuf_addstr(msg, m);
	}
	return IT_ERROR;
}

/* ---- element look-ups ---- */

/* One look-up, no waiting: 0 found (*id), 1 none, -1 error. */
static int find_once(struct brun *r, const struct locator *l, char **id)
{
	struct wd_client *wd = r->s->wd;
	*id = NULL;
	if (l->using) {
		if (wd_find(wd, l->using, l->value, NULL, id) == 0)
			return 0;
		return wd_is(wd, "no such element") ? 1 : -1;
	}
	struct ivalue *args = iv_arr(), *v = NULL;
	iv_push(args, iv_str(l->value));
	int rc = wd_execute(wd, text_find_js, args, &v);
	iv_free(args);
	if (rc < 0)
		return -1;
	const char *e = v->type == IV_ARR && v->u.arr.n
				? wd_element_id(v->u.arr.v[0])
				: NULL;
	if (e)
		*id = xstrdup(e);
	iv_free(v);
	return e ? 0 : 1;
}

/* How long to sleep before poll number `round`. */
static double poll_pause(int round)
{
	return round < 4 ? 20 : round < 10 ? 50 : 100;
}

/*
 * Finds the element `loc`, polling up to `wait_ms` (and the step's
 * deadline).  0 with *id, or -1 with the step's message set.
 */
static int find_el(struct brun *r, const char *loc, int64_t wait_ms, char **id,
		   const char *verb)
{
	struct locator l;
	double t0 = now_ms(), end = t0 + (double)wait_ms;
	if (r->deadline && r->deadline < end)
		end = r->deadline;
	locator_parse(loc, &l);
	for (int round = 0;; round++) {
		int rc = find_once(r, &l, id);
		if (rc == 0)
			return 0;
		if (rc < 0) {
			failed(r, "cannot %s '%s'", verb, loc);
			return -1;
		}
		if (now_ms() >= end || cancelled(r->ctx->cancel_fd))
			break;
		double left = end - now_ms();
		nap(r->ctx->cancel_fd,
		    left < poll_pause(round) ? left : poll_pause(round));
	}
	strbuf_reset(&r->res->message);
	if (cancelled(r->ctx->cancel_fd)) {
		r->s->broken = 1;
		strbuf_addstr(&r->res->message, "interrupted");
		return -1;
	}
	strbuf_addf(&r->res->message, "no element matches '%s' (waited ", loc);
	strbuf_add_duration(&r->res->message, (int64_t)(now_ms() - t0));
	strbuf_addch(&r->res->message, ')');
	return -1;
}

/* Errors after which an action is tried again within the look-up wait:
 * the element went (stale), or cannot take the action yet. */
static int transient(struct wd_client *wd)
{
	return wd_is(wd, "stale element reference") ||
	       wd_is(wd, "element not interactable") ||
	       wd_is(wd, "element click intercepted") ||
	       wd_is(wd, "no such element");
}

/* ---- actions ---- */

enum act { ACT_CLICK, ACT_TYPE };

/* Finds `loc` and clicks it or types into it, again while the element
 * is not ready for it, up to the look-up wait. */
static enum itest_status element_action(struct brun *r, const char *loc,
					enum act what, const char *text,
					int clear)
{
	const char *verb = what == ACT_CLICK ? "click" : "type into";
	double end = now_ms() + (double)r->conf->wait_ms;
	if (r->deadline && r->deadline < end)
		end = r->deadline;
	for (int round = 0;; round++) {
		char *id = NULL;
		double left = end - now_ms();
		if (find_el(r, loc, left > 0 ? (int64_t)left : 0, &id, verb) <
		    0)
			return IT_ERROR;
		int rc;
		if (what == ACT_CLICK)
			rc = wd_click(r->s->wd, id);
		else
			rc = (clear ? wd_clear(r->s->wd, id) : 0) < 0
				     ? -1
				     : wd_send_keys(r->s->wd, id, text);
		free(id);
		if (rc == 0)
			return IT_PASS;
		if (!transient(r->s->wd) || now_ms() >= end)
			return failed(r, "cannot %s '%s'", verb, loc);
		nap(r->ctx->cancel_fd, poll_pause(round));
	}
}

static enum itest_status do_type(struct brun *r, const struct ivalue *v,
				 double t0)
{
	char *text = NULL;
	int clear = 1;
	enum itest_status st = IT_ERROR;
	const char *into = iv_strval(iv_get(v, "into"));
	const struct ivalue *c = iv_get(v, "clear");
	if (!into || text_of(iv_get(v, "text"), &text) < 0 ||
	    (c && iv_bool_of(c, &clear) < 0)) {
		strbuf_addstr(&r->res->message,
			      "'type' needs 'into' (a locator), 'text' and "
			      "'clear: true|false'");
		free(text);
		return IT_ERROR;
	}
	st = element_action(r, into, ACT_TYPE, text, clear);
	add_shown(&r->shown, text, strlen(text));
	log_line(r, t0, "type %s into %s%s", r->shown.buf, into,
		 clear ? "" : " (not cleared)");
	free(text);
	return st;
}

/* The page's address for the metrics: "http://127.0.0.1:8080/x" gives
 * 127.0.0.1 and 8080 (localhost counts as 127.0.0.1). */
static void set_target(struct itest_result *res, const char *url)
{
	const char *h = strstr(url, "://");
	if (!h)
		return;
	int https = !strncasecmp(url, "https", 5);
	h += 3;
	size_t n = strcspn(h, ":/?#");
	if (!n || n >= sizeof(res->target_host))
		return;
	long port = https ? 443 : 80;
	if (h[n] == ':') {
		char *end;
		port = strtol(h + n + 1, &end, 10);
		if (port <= 0 || port > 65535)
			return;
	}
	if (n == 9 && !strncmp(h, "localhost", 9))
		snprintf(res->target_host, sizeof(res->target_host),
			 "127.0.0.1");
	else
		snprintf(res->target_host, sizeof(res->target_host), "%.*s",
			 (int)n, h);
	res->target_port = (int)port;
}

/* Chromium's own error page ("This site can't be reached"): its error
 * code, or null for any other page. */
static const char error_page_js[] =
	"if(location.protocol!=='chrome-error:')return null;"
	"var e=document.querySelector('.error-code');"
	"return e&&e.textContent?e.textContent:'an error page';";

static enum itest_status do_open(struct brun *r, const char *url)
{
	struct ivalue *v = NULL;
	set_target(r->res, url);
	if (wd_navigate(r->s->wd, url) < 0)
		return failed(r, "cannot open '%s'", url);
	/* chromedriver reports some failed loads, not all */
	if (wd_execute(r->s->wd, error_page_js, NULL, &v) < 0)
		return failed(r, "cannot open '%s'", url);
	if (v->type == IV_STR) {
		strbuf_addf(&r->res->message, "cannot open '%s': net::%s", url,
			    v->u.str.s);
		iv_free(v);
		return IT_ERROR;
	}
	iv_free(v);
	return IT_PASS;
}

static enum itest_status do_select(struct brun *r, const struct ivalue *arg)
{
	const char *loc = iv_strval(iv_get(arg, "from"));
	char *option = NULL, *sel = NULL;
	struct ivalue *args = NULL, *v = NULL;
	enum itest_status st = IT_ERROR;
	if (!loc || text_of(iv_get(arg, "option"), &option) < 0) {
		strbuf_addstr(&r->res->message,
			      "'select' needs 'from' and 'option'");
		return IT_ERROR;
	}
	add_shown(&r->shown, option, strlen(option));
	strbuf_addf(&r->shown, " from %s", loc);
	if (find_el(r, loc, r->conf->wait_ms, &sel, "select in") < 0)
		goto out;
	args = iv_arr();
	struct ivalue *ref = iv_obj();
	iv_set(ref, WD_ELEMENT_KEY, iv_str(sel));
	iv_push(args, ref);
	iv_push(args, iv_str(option));
	if (wd_execute(r->s->wd, select_js, args, &v) < 0) {
		st = failed(r, "cannot select in '%s'", loc);
		goto out;
	}
	const char *opt = wd_element_id(v);
	if (v->type == IV_NULL) {
		strbuf_addf(&r->res->message, "'%s' is not a select element",
			    loc);
		goto out;
	}
	if (!opt) {
		strbuf_addf(&r->res->message, "no option '%s' in '%s' (it has ",
			    option, loc);
		json_emit(&r->res->message, v, 0);
		strbuf_addch(&r->res->message, ')');
		goto out;
	}
	if (wd_click(r->s->wd, opt) < 0) {
		st = failed(r, "cannot select '%s' in '%s'", option, loc);
		goto out;
	}
	st = IT_PASS;
out:
	iv_free(args);
	iv_free(v);
	free(sel);
	free(option);
	return st;
}

/* One check of a `wait`: 1 holds, 0 not yet, -1 error. */
static int wait_check(struct brun *r, const char *kind, const char *loc,
		      const struct ivalue *url, struct strbuf *why)
{
	struct wd_client *wd = r->s->wd;
	struct locator l;
	char *id = NULL;
	int rc;
	if (url) {
		char *now = NULL;
		if (wd_get_text(wd, "url", &now) < 0)
			return -1;
		struct ivalue *actual = iv_str(now);
		strbuf_reset(why);
		rc = predicate_eval(url, actual, "url", why);
		iv_free(actual);
		free(now);
		return rc;
	}
	locator_parse(loc, &l);
	rc = find_once(r, &l, &id);
	if (rc < 0)
		return wd_is(wd, "stale element reference") ? 0 : -1;
	if (!strcmp(kind, "present"))
		return rc == 0;
	if (rc == 1)
		return !strcmp(kind, "gone");
	struct ivalue *v = NULL;
	const char *what = !strcmp(kind, "enabled") ? "enabled" : "displayed";
	rc = wd_element_get(wd, id, what, &v);
	free(id);
	if (rc < 0)
		return wd_is(wd, "stale element reference") ||
				       wd_is(wd, "no such element")
			       ? !strcmp(kind, "gone")
			       : -1;
	int yes = v->type == IV_BOOL && v->u.b;
	iv_free(v);
	return !strcmp(kind, "gone") ? !yes : yes;
}

static enum itest_status do_wait(struct brun *r, const struct ivalue *w)
{
	const char *kind = NULL, *loc = NULL;
	const struct ivalue *url = NULL;
	int64_t timeout = r->conf->wait_ms;
	struct strbuf why = STRBUF_INIT;
	enum itest_status st = IT_ERROR;
	for (size_t i = 0; wait_kinds[i]; i++)
		if (iv_get(w, wait_kinds[i]))
			kind = wait_kinds[i];
	if (!kind) {
		strbuf_addstr(&r->res->message,
			      "'wait' needs what to wait for");
		return IT_ERROR;
	}
	if (!strcmp(kind, "url"))
		url = iv_get(w, "url");
	else if (!(loc = iv_strval(iv_get(w, kind)))) {
		strbuf_addf(&r->res->message, "'%s' needs a locator", kind);
		return IT_ERROR;
	}
	strbuf_addf(&r->shown, "%s ", kind);
	if (url)
		iv_display(&r->shown, url);
	else
		strbuf_addstr(&r->shown, loc);
	const char *t = iv_strval(iv_get(w, "timeout"));
	if (t && (timeout = duration_parse_ms(t)) < 0) {
		strbuf_addf(&r->res->message, "bad duration '%s' for 'timeout'",
			    t);
		return IT_ERROR;
	}
	double t0 = now_ms(), end = t0 + (double)timeout;
	int step_bound = r->deadline && r->deadline < end;
	if (step_bound)
		end = r->deadline;
	for (int round = 0;; round++) {
		int rc = wait_check(r, kind, loc, url, &why);
		if (rc > 0) {
			st = IT_PASS;
			break;
		}
		if (rc < 0) {
			if (url)
				st = failed(r, "cannot read the URL");
			else
				st = failed(r, "cannot wait for '%s'", loc);
			break;
		}
		if (cancelled(r->ctx->cancel_fd)) {
			r->s->broken = 1;
			strbuf_addstr(&r->res->message, "interrupted");
			break;
		}
		if (now_ms() >= end) {
			struct strbuf *m = &r->res->message;
			strbuf_addstr(m, "waited ");
			strbuf_add_duration(m, (int64_t)(now_ms() - t0));
			if (url) {
				strbuf_rtrim(&why);
				strbuf_addf(m, " for the URL: %s", why.buf);
			} else {
				strbuf_addf(m, " for '%s' to be %s", loc, kind);
			}
			if (step_bound)
				strbuf_addstr(m, " (the step's timeout)");
			break;
		}
		double left = end - now_ms();
		nap(r->ctx->cancel_fd,
		    left < poll_pause(round) ? left : poll_pause(round));
	}
	strbuf_release(&why);
	return st;
}

static void set_value(struct brun *r, struct ivalue *v)
{
	iv_set(r->res->parts, "json", iv_clone(v));
	iv_set(r->res->parts, "value", v);
}

static enum itest_status do_script(struct brun *r, const struct ivalue *arg)
{
	struct ivalue *v = NULL;
	const char *code = iv_strval(iv_get(arg, "script"));
	if (wd_execute(r->s->wd, code, iv_get(arg, "args"), &v) < 0)
		return failed(r, wd_is(r->s->wd, "timeout")
					 ? "the script did not end"
					 : "the script failed");
	set_value(r, v);
	return IT_PASS;
}

/* A path in the artifacts as the JUnit report wants it: relative to the
 * run folder when it lies inside, else absolute. */
static void attach(struct brun *r, const char *path)
{
	const char *rd = r->ctx->run_dir;
	size_t n = rd ? strlen(rd) : 0;
	if (n && !strncmp(path, rd, n) && path[n] == '/') {
		stepctx_attach(r->ctx, path + n + 1);
		return;
	}
	char *abs = realpath(path, NULL);
	stepctx_attach(r->ctx, abs ? abs : path);
	free(abs);
}

/* Writes `data` to DIR/NAME, making DIR; the path (caller frees) or NULL
 * with msg. */
static char *save(struct brun *r, const char *name, const struct strbuf *data,
		  struct strbuf *msg)
{
	const char *dir =
		r->ctx->artifact_dir ? r->ctx->artifact_dir : r->ctx->run_dir;
	char *path = xasprintf("%s/%s", dir ? dir : ".", name);
	char *slash = strrchr(path, '/');
	*slash = 0;
	int rc = mkdir_p(path, 0755);
	*slash = '/';
	if (rc < 0 || write_file(path, data->buf, data->len) < 0) {
		strbuf_addf(msg, "cannot write %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

static enum itest_status do_screenshot(struct brun *r, const char *name)
{
	struct strbuf png = STRBUF_INIT;
	enum itest_status st = IT_ERROR;
	if (strstr(name, "..") || name[0] == '/') {
		strbuf_addf(&r->res->message,
			    "'screenshot' takes a file name inside the "
			    "artifacts folder, not '%s'",
			    name);
		return IT_ERROR;
	}
	if (wd_screenshot(r->s->wd, &png) < 0) {
		st = failed(r, "cannot take a screenshot");
	} else {
		char *path = save(r, name, &png, &r->res->message);
		if (path) {
			attach(r, path);
			set_value(r, iv_str(path));
			free(path);
			st = IT_PASS;
		}
	}
	strbuf_release(&png);
	return st;
}

/* Reads the alert's text, waiting up to the look-up wait for one to
 * open (a page may open it a moment after the click). */
static int alert_text(struct brun *r, char **text)
{
	double end = now_ms() + (double)r->conf->wait_ms;
	if (r->deadline && r->deadline < end)
		end = r->deadline;
	for (int round = 0;; round++) {
		if (wd_alert_text(r->s->wd, text) == 0)
			return 0;
		if (!wd_is(r->s->wd, "no such alert") || now_ms() >= end ||
		    cancelled(r->ctx->cancel_fd))
			return -1;
		double left = end - now_ms();
		nap(r->ctx->cancel_fd,
		    left < poll_pause(round) ? left : poll_pause(round));
	}
}

static enum itest_status do_alert(struct brun *r, const char *op)
{
	struct wd_client *wd = r->s->wd;
	char *text = NULL;
	if (alert_text(r, &text) < 0) {
		if (cancelled(r->ctx->cancel_fd)) {
			r->s->broken = 1;
			strbuf_addstr(&r->res->message, "interrupted");
			return IT_ERROR;
		}
		return failed(r, "cannot %s the alert",
			      strcmp(op, "text") ? op : "read");
	}
	set_value(r, iv_str(text));
	free(text);
	if (!strcmp(op, "text"))
		return IT_PASS;
	if (wd_alert(wd, op) < 0)
		return failed(r, "cannot %s the alert", op);
	return IT_PASS;
}

/* ---- parts on demand ---- */

/* title, url and the texts that the step's `expect` reads. */
static enum itest_status fetch_parts(struct brun *r)
{
	const struct ivalue *x = r->ctx->expect;
	struct wd_client *wd = r->s->wd;
	static const char *const plain[] = {"title", "url", NULL};
	for (size_t i = 0; plain[i]; i++) {
		char *s = NULL;
		double t0 = now_ms();
		if (!iv_get(x, plain[i]))
			continue;
		if (wd_get_text(wd, plain[i], &s) < 0)
			return failed(r, "cannot read the %s", plain[i]);
		struct strbuf shown = STRBUF_INIT;
		add_shown(&shown, s, strlen(s));
		log_line(r, t0, "%s = %s", plain[i], shown.buf);
		strbuf_release(&shown);
		iv_set(r->res->parts, plain[i], iv_str(s));
		free(s);
	}
	const struct ivalue *tx = iv_get(x, "text");
	if (!tx || tx->type != IV_OBJ)
		return IT_PASS;
	struct ivalue *texts = iv_obj();
	iv_set(r->res->parts, "text", texts);
	for (size_t i = 0; i < tx->u.obj.n; i++) {
		const char *loc = tx->u.obj.m[i].key;
		struct locator l;
		char *id = NULL;
		struct ivalue *v = NULL;
		double t0 = now_ms();
		locator_parse(loc, &l);
		int rc = find_once(r, &l, &id);
		if (rc < 0)
			return failed(r, "cannot read the text of '%s'", loc);
		if (rc == 1) {
			/* missing: the expectation says what that means */
			log_line(r, t0, "text %s: no such element", loc);
			continue;
		}
		rc = wd_element_get(wd, id, "text", &v);
		free(id);
		if (rc < 0)
			return failed(r, "cannot read the text of '%s'", loc);
		if (v->type == IV_STR) {
			struct strbuf shown = STRBUF_INIT;
			add_shown(&shown, v->u.str.s, v->u.str.len);
			log_line(r, t0, "text %s = %s", loc, shown.buf);
			strbuf_release(&shown);
		}
		iv_set(texts, loc, v);
	}
	return IT_PASS;
}

/* ---- the driver ---- */

static int browser_open(void *session, const struct itest_stepctx *ctx,
			struct itest_err *err)
{
	struct browser_session *s = session;
	s->lock_fd = -1;
	if (ctx->run_dir) {
		s->run_dir = realpath(ctx->run_dir, NULL);
		if (!s->run_dir)
			return err_set(err, NULL,
				       "cannot find the run folder "
				       "'%s': %s",
				       ctx->run_dir, strerror(errno));
	} else {
		s->run_dir = xstrdup(".");
	}
	return 0;
}

static void browser_close(void *session)
{
	struct browser_session *s = session;
	session_end(s);
	wd_free(s->wd);
	s->wd = NULL;
	driver_stop(s);
	if (s->run_dir) {
		char *dir = xasprintf("%s/browser", s->run_dir);
		rmdir(dir); /* when empty: other workers may use it still */
		free(dir);
	}
	free(s->run_dir);
	bconf_release(&s->conf);
	memset(s, 0, sizeof(*s));
}

static void browser_test_end(void *session)
{
	struct browser_session *s = session;
	s->nevidence = 0;
	s->page_port = 0; /* the next test's component may differ */
	if (s->wd && wd_session(s->wd) && !s->per_suite)
		session_end(s);
}

static enum itest_status browser_exec(void *session,
				      const struct itest_stepctx *ctx,
				      const struct ivalue *arg,
				      struct itest_result *res)
{
	struct browser_session *s = session;
	struct brun r = {s, ctx, res, NULL, 0, STRBUF_INIT};
	enum itest_status st = IT_ERROR;
	const struct ivalue *v = NULL;
	double t0 = now_ms();
	res->keyed = keyed_parts;
	if (ctx->timeout_ms > 0)
		r.deadline = t0 + (double)ctx->timeout_ms;
	if (cancelled(ctx->cancel_fd)) {
		strbuf_addstr(&res->message, "interrupted");
		return IT_ERROR;
	}
	if (!(r.conf = settings(s, ctx, &res->message)))
		return IT_ERROR;
	if (ready(&r) < 0)
		return IT_ERROR;
	t0 = now_ms();
	const char *act = NULL, *text = NULL;
	for (size_t i = 0; actions[i] && !act; i++)
		if ((v = iv_get(arg, actions[i])))
			act = actions[i];
	if (!act) {
		strbuf_addstr(&res->message, "'browser' step has no action");
		return IT_ERROR;
	}
	/* a lone ${x} keeps its type: the string actions need a string */
	if (v->type != IV_OBJ && !(text = iv_strval(v))) {
		strbuf_addf(&res->message, "'%s' needs a string, not %s", act,
			    iv_kind(v));
		return IT_ERROR;
	}
	if (!strcmp(act, "open")) {
		st = do_open(&r, text);
		log_line(&r, t0, "open %s", text);
	} else if (!strcmp(act, "click")) {
		st = element_action(&r, text, ACT_CLICK, NULL, 0);
		log_line(&r, t0, "click %s", text);
	} else if (!strcmp(act, "type")) {
		st = do_type(&r, v, t0);
	} else if (!strcmp(act, "select")) {
		st = do_select(&r, v);
		log_line(&r, t0, "select %s", r.shown.buf);
	} else if (!strcmp(act, "wait")) {
		st = do_wait(&r, v);
		log_line(&r, t0, "wait %s", r.shown.buf);
	} else if (!strcmp(act, "script")) {
		struct strbuf shown = STRBUF_INIT;
		st = do_script(&r, arg);
		add_script(&shown, text);
		log_line(&r, t0, "script %s", shown.buf);
		strbuf_release(&shown);
	} else if (!strcmp(act, "screenshot")) {
		st = do_screenshot(&r, text);
		log_line(&r, t0, "screenshot %s", text);
	} else {
		st = do_alert(&r, text);
		log_line(&r, t0, "alert %s", text);
	}
	if (st == IT_PASS && ctx->expect)
		st = fetch_parts(&r);
	/* every step acts on the page `open` loaded: for the metrics, it
	 * reached that page's component too */
	if (res->target_port) {
		memcpy(s->page_host, res->target_host, sizeof(s->page_host));
		s->page_port = res->target_port;
	} else if (s->page_port) {
		memcpy(res->target_host, s->page_host,
		       sizeof(res->target_host));
		res->target_port = s->page_port;
	}
	strbuf_release(&r.shown);
	return st;
}

/* A failed step's evidence: a screenshot and the page source. */
static void browser_step_failed(void *session, const struct itest_stepctx *ctx)
{
	struct browser_session *s = session;
	struct strbuf png = STRBUF_INIT, src = STRBUF_INIT, why = STRBUF_INIT;
	struct itest_result res;
	struct brun r = {s, ctx, &res, NULL, 0, STRBUF_INIT};
	char *text = NULL;
	if (!s->wd || !wd_session(s->wd) || s->broken ||
	    cancelled(ctx->cancel_fd))
		return;
	result_init(&res);
	double t0 = now_ms();
	unsigned n = ++s->nevidence;
	char name[64];
	wd_limits(s->wd, t0 + BROWSER_EVIDENCE_MS, ctx->cancel_fd);
	if (wd_screenshot(s->wd, &png) == 0) {
		snprintf(name, sizeof(name), "browser-failure-%u.png", n);
		char *path = save(&r, name, &png, &why);
		if (path)
			attach(&r, path);
		free(path);
	} else {
		strbuf_addstr(&why, "no screenshot: ");
		if (wd_is(s->wd, "unexpected alert open"))
			strbuf_addstr(&why, "an alert is open");
		else
			strbuf_addstr(&why, wd_message(s->wd));
	}
	if (wd_get_text(s->wd, "source", &text) == 0) {
		strbuf_addstr(&src, text);
		snprintf(name, sizeof(name), "browser-failure-%u.html", n);
		char *path = save(&r, name, &src, &why);
		if (path)
			attach(&r, path);
		free(path);
	} else {
		if (why.len)
			strbuf_addstr(&why, "; ");
		strbuf_addstr(&why, "no page source: ");
		if (wd_is(s->wd, "unexpected alert open"))
			strbuf_addstr(&why, "an alert is open");
		else
			strbuf_addstr(&why, wd_message(s->wd));
	}
	if (why.len)
		log_line(&r, t0, "failure evidence: %s", why.buf);
	else
		log_line(&r, t0,
			 "saved browser-failure-%u.png and "
			 "browser-failure-%u.html",
			 n, n);
	free(text);
	strbuf_release(&png);
	strbuf_release(&src);
	strbuf_release(&why);
	result_release(&res);
}

/* "click css:#reserve", "open ${web.url}/", "type 2 into #qty". */
static void browser_summary(const struct ivalue *arg, struct strbuf *out)
{
	const struct ivalue *v;
	if ((v = iv_get(arg, "type"))) {
		strbuf_addstr(out, "type ");
		iv_display(out, iv_get(v, "text"));
		strbuf_addf(out, " into %s", iv_strval(iv_get(v, "into")));
		return;
	}
	if ((v = iv_get(arg, "select"))) {
		strbuf_addstr(out, "select ");
		iv_display(out, iv_get(v, "option"));
		strbuf_addf(out, " from %s", iv_strval(iv_get(v, "from")));
		return;
	}
	if ((v = iv_get(arg, "wait"))) {
		for (size_t i = 0; wait_kinds[i]; i++) {
			const struct ivalue *k = iv_get(v, wait_kinds[i]);
			if (!k)
				continue;
			strbuf_addf(out, "wait %s ", wait_kinds[i]);
			iv_display(out, k);
			return;
		}
	}
	if ((v = iv_get(arg, "script"))) {
		strbuf_addstr(out, "script ");
		add_script(out, v->u.str.s);
		return;
	}
	for (size_t i = 0; actions[i]; i++) {
		v = iv_get(arg, actions[i]);
		if (v && v->type == IV_STR) {
			strbuf_addf(out, "%s %s", actions[i], v->u.str.s);
			return;
		}
	}
	json_emit(out, arg, 0);
}

const struct itest_driver browser_driver = {
	.name = "browser",
	.arg_types = TY(OBJ),
	.keys = browser_keys,
	.parts = browser_parts,
	.keyed_parts = keyed_parts,
	.session_size = sizeof(struct browser_session),
	.check_step = browser_check_step,
	.open = browser_open,
	.exec = browser_exec,
	.test_end = browser_test_end,
	.close = browser_close,
	.summary = browser_summary,
	.suite_key = "browser",
	.check_conf = browser_check_conf,
	.step_failed = browser_step_failed,
};
