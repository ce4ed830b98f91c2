/*
 * Unit tests of the `http` driver through its vtable, against real
 * servers on loopback that the tests start: selftest/servers/testhttpd.c
 * (compiled in) for methods, headers, query, bodies, auth, redirects,
 * cookies, gzip, chunked and big bodies, slow answers, connection reuse;
 * nginx with a throwaway CA made by openssl for TLS (verification, cacert,
 * insecure, client certificates, HTTP/2, real gzip); `openssl s_server`
 * for a server that refuses a handshake without a client certificate.
 * The TLS tests are skipped, saying so, when nginx or openssl is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTHTTPD_LIB
#include "../servers/testhttpd.c"

#include "driver.h"
#include "suite.h"
#include "yaml.h"

extern char **environ;

/* ---- the world the tests share: servers and a temp folder ---- */

struct world {
	struct testhttpd *srv;
	char dir[64]; /* temp folder: the suite folder and files */
	int tls_ok;   /* nginx and openssl are here and started */
	pid_t nginx, sserver;
	int tls_port;	  /* https, HTTP/2, no client certificate */
	int client_port;  /* https, client certificate required (400) */
	int h2c_port;	  /* cleartext HTTP/2 (prior knowledge) */
	int sserver_port; /* s_server: handshake needs a client cert */
	int refused_port; /* bound, not listening: refused */
	int refused_fd;
};

static struct world W;

struct fixture {
	const struct itest_driver *drv;
	void *session;
	struct itest_stepctx ctx;
	struct strbuf log;
	struct itest_result res;
	struct itest_spin spin;
	char artifacts[128];
};

/* A free port: bind port 0, read it, close. */
static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static int port_open(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok =
		fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Waits until every port accepts, or the process ends, or 10 s pass. */
static int wait_ports(pid_t pid, const int *ports, size_t n)
{
	for (int i = 0; i < 1000; i++) {
		size_t up = 0;
		int status;
		for (size_t k = 0; k < n; k++)
			up += port_open(ports[k]);
		if (up == n)
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* nginx lives in /usr/sbin, which a user's PATH may lack. */
static const char *nginx_path = "nginx";

static int have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static int have_nginx(void)
{
	if (have("nginx"))
		return 1;
	if (access("/usr/sbin/nginx", X_OK) == 0) {
		nginx_path = "/usr/sbin/nginx";
		return 1;
	}
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static pid_t spawn(const char *const argv[])
{
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			 environ))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* A throwaway CA, a server certificate for 127.0.0.1 and localhost, and
 * a client certificate, all made by the openssl command. */
static int make_certs(const char *d)
{
	char cmd[4096];
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && "
		"K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' "
		"&& openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 "
		"-subj /CN=itest-test-ca && "
		"openssl req $K -keyout srv.key -out srv.csr -subj "
		"/CN=localhost "
		"&& printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' "
		">srv.ext && "
		"openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		"-CAcreateserial -out srv.pem -days 2 -extfile srv.ext && "
		"openssl req $K -keyout cli.key -out cli.csr "
		"-subj /CN=itest-client && "
		"openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
		"-CAcreateserial -out cli.pem -days 2 && "
		"openssl req -x509 $K -keyout other.key -out other.pem -days 2 "
		"-subj /CN=other-ca",
		d);
	char quiet[4200];
	snprintf(quiet, sizeof(quiet), "(%s) >/dev/null 2>&1", cmd);
	return system(quiet) == 0 ? 0 : -1;
}

static int start_nginx(void)
{
	char conf[4096], path[160], prefix[80];
	for (int tries = 0; tries < 5; tries++) {
		W.tls_port = free_port();
		W.client_port = free_port();
		W.h2c_port = free_port();
		snprintf(conf, sizeof(conf),
			 "daemon off;\nmaster_process off;\n"
			 "pid %s/nginx.pid;\nerror_log %s/error.log;\n"
			 "events { worker_connections 64; }\n"
			 "http {\n"
			 "  access_log off;\n"
			 "  client_body_temp_path %s/t1; proxy_temp_path "
			 "%s/t2;\n"
			 "  fastcgi_temp_path %s/t3; uwsgi_temp_path %s/t4;\n"
			 "  scgi_temp_path %s/t5;\n"
			 "  default_type application/json;\n"
			 "  gzip on; gzip_types application/json; "
			 "gzip_min_length 1;\n"
			 "  ssl_certificate %s/srv.pem;\n"
			 "  ssl_certificate_key %s/srv.key;\n"
			 "  server {\n"
			 "    listen 127.0.0.1:%d ssl http2;\n"
			 "    ssl_session_cache shared:itest:1m;\n"
			 "    location / { return 200 '{\"tls\":true,"
			 "\"reused\":\"$ssl_session_reused\","
			 "\"proto\":\"$server_protocol\",\"pad\":\"aaaaaaaaaaaa"
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}'; }\n"
			 "  }\n"
			 "  server {\n"
			 "    listen 127.0.0.1:%d ssl;\n"
			 "    ssl_client_certificate %s/ca.pem;\n"
			 "    ssl_verify_client on;\n"
			 "    location / { return 200 '{\"verify\":"
			 "\"$ssl_client_verify\",\"client\":"
			 "\"$ssl_client_s_dn\"}'; }\n"
			 "  }\n"
			 "  server {\n"
			 "    listen 127.0.0.1:%d http2;\n"
			 "    location / { return 200 "
			 "'{\"proto\":\"$server_protocol\"}'; }\n"
			 "  }\n"
			 "}\n",
			 W.dir, W.dir, W.dir, W.dir, W.dir, W.dir, W.dir, W.dir,
			 W.dir, W.tls_port, W.client_port, W.dir, W.h2c_port);
		write_file(W.dir, "nginx.conf", conf);
		snprintf(path, sizeof(path), "%s/nginx.conf", W.dir);
		snprintf(prefix, sizeof(prefix), "%s/", W.dir);
		char elog[160];
		snprintf(elog, sizeof(elog), "%s/error.log", W.dir);
		const char *argv[] = {nginx_path, "-p", prefix, "-c",
				      path,	  "-e", elog,	NULL};
		W.nginx = spawn(argv);
		int ports[] = {W.tls_port, W.client_port, W.h2c_port};
		if (W.nginx > 0 && !wait_ports(W.nginx, ports, 3))
			return 0;
		stop(&W.nginx);
	}
	return -1;
}

static int start_sserver(void)
{
	char acc[32], cert[160], key[160], ca[160];
	snprintf(cert, sizeof(cert), "%s/srv.pem", W.dir);
	snprintf(key, sizeof(key), "%s/srv.key", W.dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", W.dir);
	for (int tries = 0; tries < 5; tries++) {
		W.sserver_port = free_port();
		snprintf(acc, sizeof(acc), "127.0.0.1:%d", W.sserver_port);
		const char *argv[] = {"openssl", "s_server", "-quiet",	"-www",
				      "-accept", acc,	     "-cert",	cert,
				      "-key",	 key,	     "-CAfile", ca,
				      "-Verify", "1",	     NULL};
		W.sserver = spawn(argv);
		int ports[] = {W.sserver_port};
		if (W.sserver > 0 && !wait_ports(W.sserver, ports, 1))
			return 0;
		stop(&W.sserver);
	}
	return -1;
}

static int world_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(W.dir, sizeof(W.dir), "/tmp/itest-http-XXXXXX");
	if (!mkdtemp(W.dir))
		return -1;
	W.srv = testhttpd_start(0);
	if (!W.srv)
		return -1;
	/* a port that refuses: bound, never listening */
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	W.refused_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (W.refused_fd < 0 ||
	    bind(W.refused_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(W.refused_fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	W.refused_port = ntohs(sa.sin_port);
	write_file(W.dir, "data.txt", "file contents\n");
	write_file(W.dir, "data.bin", "raw\001bytes");
	if (!have_nginx() || !have("openssl")) {
		fprintf(stderr, "test_http: nginx or openssl missing: the TLS "
				"tests are skipped (apt-get install nginx "
				"openssl)\n");
	} else if (make_certs(W.dir) < 0) {
		fprintf(stderr, "test_http: openssl could not make the test "
				"certificates: the TLS tests are skipped\n");
	} else if (start_nginx() < 0 || start_sserver() < 0) {
		fprintf(stderr, "test_http: nginx or openssl s_server did not "
				"start: the TLS tests are skipped\n");
	} else {
		W.tls_ok = 1;
	}
	return 0;
}

static int world_teardown(void **state)
{
	char cmd[128];
	(void)state;
	stop(&W.nginx);
	stop(&W.sserver);
	testhttpd_stop(W.srv);
	if (W.refused_fd >= 0)
		close(W.refused_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", W.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct itest_err err = ITEST_ERR_INIT;
	if (!f)
		return -1;
	f->drv = driver_find("http");
	if (!f->drv)
		return -1;
	f->session = calloc(1, f->drv->session_size);
	if (f->drv->open(f->session, &f->ctx, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		return -1;
	}
	static int n;
	snprintf(f->artifacts, sizeof(f->artifacts), "%s/art%d/a/b", W.dir,
		 ++n);
	strbuf_init(&f->log, 0);
	f->ctx.suite_dir = W.dir;
	f->ctx.artifact_dir = f->artifacts;
	f->ctx.cancel_fd = -1;
	f->ctx.log = &f->log;
	/* as in a run on two CPUs: every test server is on loopback, so
	 * every transfer goes through the busy wait first */
	atomic_init(&f->spin.slots, 1);
	f->spin.budget_us = 200;
	f->ctx.spin = &f->spin;
	result_init(&f->res);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	f->drv->close(f->session);
	free(f->session);
	result_release(&f->res);
	strbuf_release(&f->log);
	free(f);
	return 0;
}

/* The step argument from YAML, with {P} (the test server), {T}, {C},
 * {H}, {S} (nginx TLS, nginx client-cert, nginx h2c, s_server), {R} (a
 * refused port) and {D} (the temp folder) replaced. */
static struct ivalue *arg_of(const char *yaml)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	for (const char *p = yaml; *p; p++) {
		if (p[0] == '{' && p[1] && p[2] == '}') {
			int port = 0;
			switch (p[1]) {
			case 'P':
				port = W.srv->port;
				break;
			case 'T':
				port = W.tls_port;
				break;
			case 'C':
				port = W.client_port;
				break;
			case 'H':
				port = W.h2c_port;
				break;
			case 'S':
				port = W.sserver_port;
				break;
			case 'R':
				port = W.refused_port;
				break;
			case 'D':
				strbuf_addstr(&sb, W.dir);
				break;
			default:
				strbuf_add(&sb, p, 3);
				break;
			}
			if (port)
				strbuf_addf(&sb, "127.0.0.1:%d", port);
			p += 2;
			continue;
		}
		strbuf_addch(&sb, *p);
	}
	struct ivalue *v = yaml_parse(sb.buf, sb.len, NULL, &err);
	if (!v)
		fail_msg("bad YAML in test: %s\n%s", err.msg, sb.buf);
	strbuf_release(&sb);
	return v;
}

/* Runs a step; `checked`: it passes the load-time checks first (a
 * step that only a template could bring is run unchecked). */
static enum itest_status run_arg(struct fixture *f, const char *yaml,
				 int checked)
{
	struct ivalue *arg = arg_of(yaml);
	struct itest_err err = ITEST_ERR_INIT;
	result_release(&f->res);
	result_init(&f->res);
	strbuf_reset(&f->log);
	if (checked &&
	    (keys_check(arg, f->drv->keys, "'http' step", &err) < 0 ||
	     f->drv->check_step(arg, &err) < 0))
		fail_msg("check_step: %s", err.msg);
	enum itest_status st = f->drv->exec(f->session, &f->ctx, arg, &f->res);
	iv_free(arg);
	return st;
}

static enum itest_status run(struct fixture *f, const char *yaml)
{
	return run_arg(f, yaml, 1);
}

static void run_pass(struct fixture *f, const char *yaml)
{
	enum itest_status st = run(f, yaml);
	if (st != IT_PASS)
		fail_msg("expected PASS, got %s: %s\nlog:\n%s", status_name(st),
			 f->res.message.buf, f->log.buf);
}

static const struct ivalue *part(struct fixture *f, const char *name)
{
	struct strbuf why = STRBUF_INIT;
	const struct ivalue *v = result_part(&f->res, name, &why);
	if (!v)
		fail_msg("no part '%s': %s", name, why.buf);
	strbuf_release(&why);
	return v;
}

/* The string at a dotted path of the json part ("headers.x-one"). */
static const struct ivalue *jget(struct fixture *f, const char *path)
{
	const struct ivalue *v = part(f, "json");
	char key[128];
	while (*path && v) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		v = iv_get(v, key);
		path += n + (path[n] == '.');
	}
	return v;
}

static const char *jstr(struct fixture *f, const char *path)
{
	const char *s = iv_strval(jget(f, path));
	if (!s)
		fail_msg("json %s is not a string", path);
	return s;
}

static int64_t status(struct fixture *f)
{
	const struct ivalue *v = part(f, "status");
	assert_int_equal(v->type, IV_NUM);
	return v->u.num.i;
}

static const char *body(struct fixture *f)
{
	return iv_strval(part(f, "body"));
}

static const char *header(struct fixture *f, const char *name)
{
	return iv_strval(iv_get(part(f, "headers"), name));
}

#define assert_contains(hay, needle)                                           \
	do {                                                                   \
		const char *h_ = (hay);                                        \
		if (!h_ || !strstr(h_, (needle)))                              \
			fail_msg("'%s' not found in:\n%s", (needle),           \
				 h_ ? h_ : "(null)");                          \
	} while (0)

#define assert_lacks(hay, needle)                                              \
	do {                                                                   \
		const char *h_ = (hay);                                        \
		if (h_ && strstr(h_, (needle)))                                \
			fail_msg("'%s' unexpectedly in:\n%s", (needle), h_);   \
	} while (0)

/* ---- requests ---- */

static void test_get_json_parts(void **state)
{
	struct fixture *f = *state;
	run_pass(f, "get: http://{P}/json");
	assert_int_equal(status(f), 200);
	assert_string_equal(body(f), "{\"a\":1,\"b\":{\"c\":\"x\"}}");
	assert_string_equal(header(f, "content-type"), "application/json");
	assert_string_equal(header(f, "content-length"), "21");
	/* json is parsed from the body on first use */
	assert_string_equal(f->res.json_from, "body");
	assert_null(iv_get(f->res.parts, "json"));
	const struct ivalue *j = part(f, "json");
	assert_int_equal(iv_get(j, "a")->u.num.i, 1);
	assert_string_equal(iv_strval(iv_get(iv_get(j, "b"), "c")), "x");
	const struct ivalue *d = part(f, "duration");
	assert_int_equal(d->type, IV_NUM);
	assert_true(d->u.num.d >= 0 && d->u.num.d < 5000);
	/* milliseconds to the microsecond: at most 3 decimals, and the
	 * number is the one its text says */
	const char *dot = strchr(d->u.num.text, '.');
	assert_true(!dot || (strlen(dot + 1) >= 1 && strlen(dot + 1) <= 3));
	assert_true(strtod(d->u.num.text, NULL) == d->u.num.d);
	assert_true(d->u.num.d == iv_get(part(f, "timings"), "total")->u.num.d);
	const struct ivalue *t = part(f, "timings");
	static const char *const keys[] = {"dns",	 "connect", "tls",
					   "first_byte", "total",   NULL};
	for (size_t i = 0; keys[i]; i++) {
		const struct ivalue *x = iv_get(t, keys[i]);
		assert_non_null(x);
		assert_int_equal(x->type, IV_NUM);
		assert_true(x->u.num.d >= 0);
	}
	assert_true(iv_get(t, "total")->u.num.d >=
		    iv_get(t, "first_byte")->u.num.d);
	assert_true(iv_get(t, "tls")->u.num.d == 0); /* plain HTTP */
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/json", W.srv->port);
	assert_string_equal(iv_strval(part(f, "url")), url);
	assert_int_equal(part(f, "cookies")->type, IV_OBJ);
}

static void test_methods(void **state)
{
	struct fixture *f = *state;
	static const char *const m[] = {"get",	  "post",    "put", "patch",
					"delete", "options", NULL};
	char yaml[128], up[16];
	for (size_t i = 0; m[i]; i++) {
		snprintf(yaml, sizeof(yaml), "%s: http://{P}/echo", m[i]);
		run_pass(f, yaml);
		size_t k = 0;
		for (; m[i][k]; k++)
			up[k] = (char)(m[i][k] - 'a' + 'A');
		up[k] = '\0';
		assert_string_equal(jstr(f, "method"), up);
		assert_string_equal(jstr(f, "body"), "");
	}
	/* a body-less POST, PUT, PATCH says Content-Length: 0, no type */
	run_pass(f, "post: http://{P}/echo");
	assert_string_equal(jstr(f, "headers.content-length"), "0");
	assert_null(jget(f, "headers.content-type"));
	/* HEAD: headers, no body */
	run_pass(f, "head: http://{P}/json");
	assert_int_equal(status(f), 200);
	assert_string_equal(body(f), "");
	assert_string_equal(header(f, "content-length"), "21");
	/* method + url; the method is upper-cased */
	run_pass(f, "{ method: purge, url: 'http://{P}/echo' }");
	assert_string_equal(jstr(f, "method"), "PURGE");
	run_pass(f, "{ method: DELETE, url: 'http://{P}/echo', body: x }");
	assert_string_equal(jstr(f, "method"), "DELETE");
	assert_string_equal(jstr(f, "body"), "x");
	/* a GET with a body stays a GET */
	run_pass(f, "{ get: 'http://{P}/echo', json: [1] }");
	assert_string_equal(jstr(f, "method"), "GET");
	assert_string_equal(jstr(f, "body"), "[1]");
}

static void test_headers_and_query(void **state)
{
	struct fixture *f = *state;
	run_pass(f,
		 "get: 'http://{P}/echo?z=0'\n"
		 "headers: { X-One: 1, X-List: [a, b], X-Empty: '', "
		 "Accept: null, User-Agent: mine }\n"
		 "query: { q: 'a b&c=d', n: [1, 2], flag: null, t: true }\n");
	assert_string_equal(jstr(f, "headers.x-one"), "1");
	const struct ivalue *l = jget(f, "headers.x-list");
	assert_non_null(l);
	assert_int_equal(l->type, IV_ARR);
	assert_int_equal(l->u.arr.n, 2);
	assert_string_equal(iv_strval(l->u.arr.v[0]), "a");
	assert_string_equal(iv_strval(l->u.arr.v[1]), "b");
	assert_string_equal(jstr(f, "headers.x-empty"), "");
	assert_null(jget(f, "headers.accept")); /* null removes it */
	assert_string_equal(jstr(f, "headers.user-agent"), "mine");
	assert_string_equal(jstr(f, "args.z"), "0");
	assert_string_equal(jstr(f, "args.q"), "a b&c=d");
	l = jget(f, "args.n");
	assert_int_equal(l->type, IV_ARR);
	assert_string_equal(iv_strval(l->u.arr.v[1]), "2");
	assert_string_equal(jstr(f, "args.t"), "true");
	assert_non_null(jget(f, "args.flag"));
	assert_contains(iv_strval(part(f, "url")),
			"?z=0&q=a%20b%26c%3Dd&n=1&n=2&flag&t=true");
	/* the default User-Agent */
	run_pass(f, "get: http://{P}/echo");
	assert_string_equal(jstr(f, "headers.user-agent"),
			    "itest/" ITEST_VERSION);
	assert_string_equal(jstr(f, "headers.accept"), "*/*");
}

static void test_bodies(void **state)
{
	struct fixture *f = *state;
	/* json: exact numbers, a type unless the step gives one */
	run_pass(f,
		 "post: http://{P}/echo\n"
		 "json: { id: 9007199254740993, x: 1.50, s: \"\\u00e9\" }\n");
	assert_string_equal(
		jstr(f, "body"),
		"{\"id\":9007199254740993,\"x\":1.50,\"s\":\"\xc3\xa9\"}");
	assert_string_equal(jstr(f, "headers.content-type"),
			    "application/json");
	run_pass(f, "post: http://{P}/echo\njson: {a: 1}\n"
		    "headers: { content-type: application/vnd.x+json }\n");
	assert_string_equal(jstr(f, "headers.content-type"),
			    "application/vnd.x+json");
	/* body: as it is, no type */
	run_pass(f, "{ put: 'http://{P}/echo', body: 'raw text' }");
	assert_string_equal(jstr(f, "body"), "raw text");
	assert_null(jget(f, "headers.content-type"));
	/* form */
	run_pass(f, "post: http://{P}/echo\n"
		    "form: { a: '1 2', b: [x, y], c: 'é&=' }\n");
	assert_string_equal(jstr(f, "body"), "a=1%202&b=x&b=y&c=%C3%A9%26%3D");
	assert_string_equal(jstr(f, "headers.content-type"),
			    "application/x-www-form-urlencoded");
	/* multipart: a value, a file relative to the suite folder */
	run_pass(f, "post: http://{P}/echo\n"
		    "multipart:\n"
		    "  field: v1\n"
		    "  up: { file: data.txt, type: text/plain }\n"
		    "  named: { value: inline, filename: n.txt }\n");
	const char *b = jstr(f, "body");
	assert_contains(b, "name=\"field\"\r\n\r\nv1\r\n");
	assert_contains(b, "name=\"up\"; filename=\"data.txt\"\r\n"
			   "Content-Type: text/plain\r\n\r\nfile contents\n");
	assert_contains(b, "name=\"named\"; filename=\"n.txt\"");
	assert_contains(jstr(f, "headers.content-type"),
			"multipart/form-data; boundary=");
	/* file: the body from a file */
	run_pass(f, "{ post: 'http://{P}/echo', file: data.bin }");
	assert_string_equal(jstr(f, "body"), "raw\001bytes");
	assert_string_equal(jstr(f, "headers.content-type"),
			    "application/octet-stream");
	assert_string_equal(jstr(f, "headers.content-length"), "9");
	/* a missing file: ERROR */
	assert_int_equal(run(f, "{ post: 'http://{P}/echo', file: nope.bin }"),
			 IT_ERROR);
	assert_contains(f->res.message.buf, "cannot read 'file'");
	assert_contains(f->res.message.buf, "nope.bin");
	assert_int_equal(
		run(f,
		    "{ post: 'http://{P}/echo', multipart: {a: {file: no}}}"),
		IT_ERROR);
	assert_contains(f->res.message.buf, "multipart part 'a'");
}

static void test_auth_and_log_masking(void **state)
{
	struct fixture *f = *state;
	run_pass(f, "get: http://{P}/echo\nauth: { basic: [alice, s3cret] }");
	assert_string_equal(jstr(f, "headers.authorization"),
			    "Basic YWxpY2U6czNjcmV0");
	/* the log (of a request whose answer does not echo it) */
	run_pass(f, "get: http://{P}/json\nauth: { basic: [alice, s3cret] }");
	assert_contains(f->log.buf, "> Authorization: ***\n");
	assert_contains(f->log.buf, "-H 'Authorization: ***'");
	assert_lacks(f->log.buf, "YWxpY2U6czNjcmV0");
	run_pass(f, "get: http://{P}/echo\nauth: { bearer: tok123 }\n"
		    "headers: { Cookie: c=secretcookie }");
	assert_string_equal(jstr(f, "headers.authorization"), "Bearer tok123");
	assert_string_equal(jstr(f, "headers.cookie"), "c=secretcookie");
	run_pass(f, "get: http://{P}/json\nauth: { bearer: tok123 }\n"
		    "headers: { Cookie: c=secretcookie }");
	assert_lacks(f->log.buf, "tok123");
	assert_lacks(f->log.buf, "secretcookie");
	assert_contains(f->log.buf, "> Cookie: ***\n");
	/* Set-Cookie in a response */
	run_pass(f, "get: 'http://{P}/set-cookie?sid=hushhush'");
	assert_contains(f->log.buf, "< Set-Cookie: ***\n");
	assert_lacks(f->log.buf, "hushhush; Path");
}

static void test_log_format(void **state)
{
	struct fixture *f = *state;
	char want[512];
	int p = W.srv->port;
	run_pass(f, "post: http://{P}/echo\njson: { a: \"it's\" }\n"
		    "query: { x: 1 }\n");
	snprintf(want, sizeof(want),
		 "> POST http://127.0.0.1:%d/echo?x=1\n"
		 "> Content-Type: application/json\n"
		 ">\n"
		 "> {\"a\":\"it's\"}\n"
		 "< HTTP/1.1 200 OK in ",
		 p);
	if (strncmp(f->log.buf, want, strlen(want)))
		fail_msg("log starts:\n%s\nexpected:\n%s", f->log.buf, want);
	assert_contains(f->log.buf, "\n< Content-Type: application/json\n");
	assert_contains(f->log.buf, "\n<\n< {\"method\":\"POST\"");
	snprintf(want, sizeof(want),
		 "\n$ curl -H 'Content-Type: application/json' --compressed "
		 "--data-binary '{\"a\":\"it'\\''s\"}' "
		 "'http://127.0.0.1:%d/echo?x=1'\n",
		 p);
	assert_contains(f->log.buf, want);
	/* options show in the curl line */
	run_pass(f, "{ head: 'http://{P}/json', follow-redirects: true, "
		    "compressed: false, timeout: 1500ms }");
	snprintf(want, sizeof(want),
		 "$ curl -I -L --max-redirs 10 -m 1.5 "
		 "http://127.0.0.1:%d/json\n",
		 p);
	assert_contains(f->log.buf, want);
	/* the body shown is capped at 2 KiB */
	run_pass(f, "get: 'http://{P}/big?size=10000'");
	assert_contains(f->log.buf, "< ... (7952 more bytes)\n");
	assert_true(f->log.len < 3000);
}

static void test_redirects(void **state)
{
	struct fixture *f = *state;
	/* not followed by default */
	run_pass(f, "get: http://{P}/redirect/2");
	assert_int_equal(status(f), 302);
	assert_string_equal(header(f, "location"), "/redirect/1");
	run_pass(f, "{ get: 'http://{P}/redirect/2', follow-redirects: true }");
	assert_int_equal(status(f), 200);
	assert_contains(iv_strval(part(f, "url")), "/redirect/0");
	assert_true(iv_get(part(f, "json"), "redirected")->u.b);
	assert_contains(f->log.buf, "< (after redirects: http://");
	assert_int_equal(run(f, "{ get: 'http://{P}/redirect/3', "
				"follow-redirects: true, max-redirects: 2 }"),
			 IT_ERROR);
	assert_contains(f->res.message.buf, "too many redirects (more than 2)");
	/* a template may give the boolean as text */
	assert_int_equal(run_arg(f,
				 "{ get: 'http://{P}/redirect/1', "
				 "follow-redirects: 'true' }",
				 0),
			 IT_PASS);
	assert_int_equal(status(f), 200);
	assert_int_equal(run_arg(f,
				 "{ get: 'http://{P}/redirect/1', "
				 "follow-redirects: 'maybe' }",
				 0),
			 IT_ERROR);
	assert_string_equal(f->res.message.buf,
			    "'follow-redirects' must be true or false, not "
			    "maybe");
}

static void test_cookies(void **state)
{
	struct fixture *f = *state;
	run_pass(f, "get: 'http://{P}/set-cookie?sess=abc&theme=dark'");
	const struct ivalue *c = part(f, "cookies");
	assert_string_equal(iv_strval(iv_get(c, "sess")), "abc");
	assert_string_equal(iv_strval(iv_get(c, "theme")), "dark");
	/* sent back on the next step */
	run_pass(f, "get: http://{P}/echo");
	assert_contains(jstr(f, "headers.cookie"), "sess=abc");
	assert_contains(jstr(f, "headers.cookie"), "theme=dark");
	assert_string_equal(iv_strval(iv_get(part(f, "cookies"), "sess")),
			    "abc");
	/* a new test starts with an empty jar */
	f->drv->test_end(f->session);
	run_pass(f, "get: http://{P}/echo");
	assert_null(jget(f, "headers.cookie"));
	assert_int_equal(part(f, "cookies")->u.obj.n, 0);
}

static void test_repeated_headers(void **state)
{
	struct fixture *f = *state;
	run_pass(f, "get: http://{P}/repeat");
	const struct ivalue *h = part(f, "headers");
	const struct ivalue *m = iv_get(h, "x-multi");
	assert_int_equal(m->type, IV_ARR);
	assert_int_equal(m->u.arr.n, 2);
	assert_string_equal(iv_strval(m->u.arr.v[0]), "one");
	assert_string_equal(iv_strval(m->u.arr.v[1]), "two");
	m = iv_get(h, "set-cookie");
	assert_int_equal(m->type, IV_ARR);
	assert_string_equal(iv_strval(m->u.arr.v[1]), "r2=b; Path=/");
	/* case-insensitive lookup, as expectations do it */
	assert_non_null(iv_get_nocase(h, "X-MULTI"));
	assert_string_equal(iv_strval(iv_get(part(f, "cookies"), "r2")), "b");
}

static void test_gzip_and_chunked(void **state)
{
	struct fixture *f = *state;
	run_pass(f, "get: http://{P}/gzip");
	assert_string_equal(header(f, "content-encoding"), "gzip");
	assert_string_equal(iv_strval(iv_get(part(f, "json"), "text")),
			    "hello hello hello hello");
	run_pass(f, "{ get: 'http://{P}/gzip', compressed: false }");
	assert_memory_equal(body(f), "\x1f\x8b", 2);
	run_pass(f, "{ get: 'http://{P}/echo', compressed: false }");
	assert_null(jget(f, "headers.accept-encoding"));
	run_pass(f, "get: http://{P}/echo");
	assert_contains(jstr(f, "headers.accept-encoding"), "gzip");

	run_pass(f, "get: 'http://{P}/chunked?n=3'");
	assert_string_equal(header(f, "transfer-encoding"), "chunked");
	assert_string_equal(body(f), "chunk 0\nchunk 1\nchunk 2\n");
}

static void test_big_body(void **state)
{
	struct fixture *f = *state;
	char path[256];
	/* under the cap: in memory, no file */
	run_pass(f, "{ get: 'http://{P}/big?size=1000', body-cap: 1000 }");
	assert_int_equal(iv_get(f->res.parts, "body")->u.str.len, 1000);
	snprintf(path, sizeof(path), "%s/http-body-1.txt", f->artifacts);
	assert_int_equal(access(path, F_OK), -1);
	/* over it: the first body-cap bytes in memory, all in a file */
	run_pass(f, "{ get: 'http://{P}/big?size=300000', body-cap: 1KiB }");
	const struct ivalue *b = iv_get(f->res.parts, "body");
	assert_int_equal(b->u.str.len, 1024);
	assert_memory_equal(b->u.str.s, "0123456789012", 13);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		fail_msg("no %s; log:\n%s", path, f->log.buf);
	char *all = malloc(400000);
	size_t n = fread(all, 1, 400000, fp);
	fclose(fp);
	assert_int_equal(n, 300000);
	for (size_t i = 0; i < n; i++)
		if (all[i] != (char)('0' + i % 10))
			fail_msg("byte %zu of the body file is wrong", i);
	free(all);
	assert_contains(f->log.buf, "the body is 300000 bytes; the first 1024 "
				    "are in memory, all of it is in ");
	assert_contains(f->log.buf, path);
	/* the next one gets the next name */
	run_pass(f, "{ get: 'http://{P}/big?size=3000', body-cap: 2000 }");
	snprintf(path, sizeof(path), "%s/http-body-2.txt", f->artifacts);
	assert_int_equal(access(path, F_OK), 0);
	/* without an artifacts folder the rest is only counted */
	f->ctx.artifact_dir = NULL;
	run_pass(f, "{ get: 'http://{P}/big?size=3000', body-cap: 100 }");
	assert_int_equal(iv_get(f->res.parts, "body")->u.str.len, 100);
	assert_contains(f->log.buf, "only the first 100 were kept");
	/* the runner's out_cap is the default cap */
	f->ctx.artifact_dir = f->artifacts;
	f->ctx.out_cap = 500;
	run_pass(f, "get: 'http://{P}/big?size=501'");
	assert_int_equal(iv_get(f->res.parts, "body")->u.str.len, 500);
	f->ctx.out_cap = 0;
}

static void test_connection_reuse(void **state)
{
	struct fixture *f = *state;
	run_pass(f, "get: http://{P}/echo");
	int64_t c1 = jget(f, "conn")->u.num.i;
	run_pass(f, "post: http://{P}/echo\njson: {}");
	assert_int_equal(jget(f, "conn")->u.num.i, c1);
	f->drv->test_end(f->session);
	run_pass(f, "get: http://{P}/echo");
	assert_int_equal(jget(f, "conn")->u.num.i, c1);
	/* a stage swap drops the connection: the next request opens one */
	f->drv->stage_end(f->session);
	run_pass(f, "get: http://{P}/echo");
	assert_int_not_equal(jget(f, "conn")->u.num.i, c1);
}

/* ---- errors: no response ---- */

static void test_refused(void **state)
{
	struct fixture *f = *state;
	char want[64];
	assert_int_equal(run(f, "get: http://{R}/x"), IT_ERROR);
	snprintf(want, sizeof(want),
		 "cannot connect to 127.0.0.1:%d: Connection refused",
		 W.refused_port);
	assert_string_equal(f->res.message.buf, want);
	assert_int_equal(f->res.parts->u.obj.n, 0);
	assert_contains(f->log.buf, "> GET http://127.0.0.1:");
	assert_contains(f->log.buf, "$ curl ");
}

static void test_dns_failure(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(
		run(f, "{ get: 'http://nosuch.invalid/x', timeout: 5s }"),
		IT_ERROR);
	if (strncmp(f->res.message.buf,
		    "cannot resolve the host of "
		    "http://nosuch.invalid/x",
		    50) &&
	    strncmp(f->res.message.buf, "timed out", 9))
		fail_msg("message: %s", f->res.message.buf);
}

static void test_bad_url_at_run_time(void **state)
{
	struct fixture *f = *state;
	/* what a template brought */
	struct ivalue *arg = iv_obj();
	iv_set(arg, "get", iv_str("ftp://127.0.0.1/x"));
	assert_int_equal(f->drv->exec(f->session, &f->ctx, arg, &f->res),
			 IT_ERROR);
	assert_string_equal(f->res.message.buf,
			    "'get' needs an http:// or https:// URL, not "
			    "'ftp://127.0.0.1/x'");
	iv_free(arg);
	result_release(&f->res);
	result_init(&f->res);
	arg = iv_obj();
	iv_set(arg, "get", iv_str("http://[::1/x"));
	assert_int_equal(f->drv->exec(f->session, &f->ctx, arg, &f->res),
			 IT_ERROR);
	assert_contains(f->res.message.buf, "bad URL 'http://[::1/x'");
	iv_free(arg);
	result_release(&f->res);
	result_init(&f->res);
	arg = iv_obj();
	iv_set(arg, "get", iv_str("http://127.0.0.1:1/x"));
	iv_set(arg, "headers", iv_obj());
	iv_set(iv_get(arg, "headers"), "X-Bad", iv_str("a\r\nInjected: 1"));
	assert_int_equal(f->drv->exec(f->session, &f->ctx, arg, &f->res),
			 IT_ERROR);
	assert_string_equal(f->res.message.buf,
			    "the value of header 'X-Bad' holds a line break or "
			    "a NUL");
	iv_free(arg);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	double t0 = now_ms();
	assert_int_equal(run(f, "{ get: 'http://{P}/slow?ms=1500', "
				"timeout: 200ms }"),
			 IT_ERROR);
	double took = now_ms() - t0;
	assert_contains(f->res.message.buf, "timed out after 200ms (GET http");
	assert_true(took >= 190 && took < 1200);
	/* the runner's step timeout applies too, the shorter one wins */
	f->ctx.timeout_ms = 150;
	t0 = now_ms();
	assert_int_equal(run(f, "{ get: 'http://{P}/slow?ms=1500', "
				"timeout: 10s }"),
			 IT_ERROR);
	assert_contains(f->res.message.buf, "timed out after 150ms");
	assert_true(now_ms() - t0 < 1200);
	f->ctx.timeout_ms = 0;
	/* a slow answer within the timeout passes */
	run_pass(f, "{ get: 'http://{P}/slow?ms=100', timeout: 5s }");
	assert_true(part(f, "duration")->u.num.d >= 90);
}

struct poke {
	int fd;
	int ms;
};

static void *poke_later(void *arg)
{
	struct poke *p = arg;
	struct timespec ts = {0, (long)p->ms * 1000000L};
	uint64_t one = 1;
	nanosleep(&ts, NULL);
	if (write(p->fd, &one, sizeof(one)) < 0)
		perror("write");
	return NULL;
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct poke p = {eventfd(0, EFD_CLOEXEC), 200};
	pthread_t th;
	assert_true(p.fd >= 0);
	f->ctx.cancel_fd = p.fd;
	pthread_create(&th, NULL, poke_later, &p);
	double t0 = now_ms();
	assert_int_equal(run(f, "get: 'http://{P}/slow?ms=1500'"), IT_ERROR);
	double took = now_ms() - t0;
	pthread_join(th, NULL);
	assert_string_equal(f->res.message.buf, "interrupted");
	assert_true(took >= 190 && took < 700);
	f->ctx.cancel_fd = -1;
	close(p.fd);
	/* the session still works */
	run_pass(f, "get: http://{P}/json");
}

/* A busy wait ends on cancellation too, and gives its slot back. */
static void test_cancel_while_spinning(void **state)
{
	struct fixture *f = *state;
	struct poke p = {eventfd(0, EFD_CLOEXEC), 100};
	pthread_t th;
	assert_true(p.fd >= 0);
	f->spin.budget_us = 10 * 1000 * 1000; /* longer than the answer */
	f->ctx.cancel_fd = p.fd;
	pthread_create(&th, NULL, poke_later, &p);
	double t0 = now_ms();
	assert_int_equal(run(f, "get: 'http://{P}/slow?ms=3000'"), IT_ERROR);
	double took = now_ms() - t0;
	pthread_join(th, NULL);
	assert_string_equal(f->res.message.buf, "interrupted");
	assert_true(took >= 90 && took < 2000);
	assert_int_equal(atomic_load(&f->spin.slots), 1);
	f->ctx.cancel_fd = -1;
	close(p.fd);
	/* spinning or not, answers are the same */
	f->spin.budget_us = 200;
	run_pass(f, "get: http://{P}/json");
	atomic_store(&f->spin.slots, 0);
	run_pass(f, "get: http://{P}/json");
	f->ctx.spin = NULL;
	run_pass(f, "get: http://{P}/json");
}

/* ---- TLS (nginx and openssl s_server) ---- */

#define NEED_TLS()                                                             \
	do {                                                                   \
		if (!W.tls_ok) {                                               \
			fprintf(stderr, "  (skipped: no nginx/openssl)\n");    \
			skip();                                                \
		}                                                              \
	} while (0)

static void test_tls_verify(void **state)
{
	struct fixture *f = *state;
	NEED_TLS();
	/* verification is on by default: the throwaway CA is unknown */
	assert_int_equal(run(f, "get: https://{T}/"), IT_ERROR);
	assert_contains(f->res.message.buf,
			"TLS: cannot verify the certificate of 127.0.0.1:");
	assert_contains(f->res.message.buf, "'cacert'");
	/* the CA given: passes, over HTTP/2 (ALPN) */
	run_pass(f, "{ get: 'https://{T}/', cacert: ca.pem }");
	assert_int_equal(status(f), 200);
	assert_true(iv_get(part(f, "json"), "tls")->u.b);
	assert_string_equal(jstr(f, "proto"), "HTTP/2.0");
	assert_contains(f->log.buf, "< HTTP/2 200 in ");
	assert_true(iv_get(part(f, "timings"), "tls")->u.num.d >= 0);
	/* real gzip from nginx, decoded */
	assert_string_equal(header(f, "content-encoding"), "gzip");
	/* HTTP/1.1 when asked */
	run_pass(f, "{ get: 'https://{T}/', cacert: '{D}/ca.pem', "
		    "http2: false }");
	assert_string_equal(jstr(f, "proto"), "HTTP/1.1");
	/* insecure: no verification */
	run_pass(f, "{ get: 'https://{T}/', insecure: true }");
	assert_int_equal(status(f), 200);
	assert_contains(f->log.buf, " -k ");
	/* a CA that did not sign it */
	assert_int_equal(run(f, "{ get: 'https://{T}/', cacert: other.pem }"),
			 IT_ERROR);
	assert_contains(f->res.message.buf, "cannot verify the certificate");
	/* a CA file that is not there */
	assert_int_equal(run(f, "{ get: 'https://{T}/', cacert: none.pem }"),
			 IT_ERROR);
	assert_contains(f->res.message.buf, "TLS error with 127.0.0.1:");
}

/* A new connection resumes the worker's TLS session: a stage swap drops
 * the connections, not the sessions. */
static void test_tls_session_reuse(void **state)
{
	struct fixture *f = *state;
	NEED_TLS();
	run_pass(f, "{ get: 'https://{T}/', cacert: ca.pem, http2: false }");
	assert_string_equal(jstr(f, "reused"), ".");
	f->drv->stage_end(f->session);
	run_pass(f, "{ get: 'https://{T}/', cacert: ca.pem, http2: false }");
	assert_string_equal(jstr(f, "reused"), "r");
	assert_true(iv_get(part(f, "timings"), "connect")->u.num.d >= 0);
}

static void test_tls_client_cert(void **state)
{
	struct fixture *f = *state;
	NEED_TLS();
	run_pass(f, "{ get: 'https://{C}/', cacert: ca.pem, cert: cli.pem, "
		    "key: cli.key }");
	assert_int_equal(status(f), 200);
	assert_string_equal(jstr(f, "verify"), "SUCCESS");
	assert_contains(jstr(f, "client"), "CN=itest-client");
	assert_contains(f->log.buf, "--cert ");
	/* nginx answers 400 to a request without one */
	run_pass(f, "{ get: 'https://{C}/', cacert: ca.pem }");
	assert_int_equal(status(f), 400);
	/* a server that ends the handshake without one: ERROR */
	assert_int_equal(run(f, "{ get: 'https://{S}/', cacert: ca.pem, "
				"timeout: 5s }"),
			 IT_ERROR);
	assert_contains(f->res.message.buf, "127.0.0.1:");
	run_pass(f, "{ get: 'https://{S}/', cacert: ca.pem, cert: cli.pem, "
		    "key: cli.key, timeout: 5s }");
	assert_int_equal(status(f), 200);
}

static void test_h2c(void **state)
{
	struct fixture *f = *state;
	NEED_TLS();
	run_pass(f, "{ get: 'http://{H}/', http2: true }");
	assert_string_equal(jstr(f, "proto"), "HTTP/2.0");
	assert_contains(f->log.buf, "--http2-prior-knowledge");
}

/* ---- load-time checks ---- */

static void check_fails(const char *yaml, const char *msg, int line, int col)
{
	struct ivalue *arg = arg_of(yaml);
	struct itest_err err = ITEST_ERR_INIT;
	const struct itest_driver *drv = driver_find("http");
	/* as the loader does: the declared keys, then the driver's checks */
	assert_int_equal(keys_check(arg, drv->keys, "'http' step", &err) < 0 ||
				 drv->check_step(arg, &err) < 0,
			 1);
	if (strcmp(err.msg, msg))
		fail_msg("got '%s'\nexpected '%s'", err.msg, msg);
	if (err.loc.line != line || err.loc.col != col)
		fail_msg("'%s' at %d:%d, expected %d:%d", msg, err.loc.line,
			 err.loc.col, line, col);
	iv_free(arg);
}

static void check_ok(const char *yaml)
{
	struct ivalue *arg = arg_of(yaml);
	struct itest_err err = ITEST_ERR_INIT;
	const struct itest_driver *drv = driver_find("http");
	if (keys_check(arg, drv->keys, "'http' step", &err) < 0 ||
	    drv->check_step(arg, &err) < 0)
		fail_msg("unexpected error: %s", err.msg);
	iv_free(arg);
}

static void test_check_step(void **state)
{
	(void)state;
	check_ok("get: ${base}/x");
	check_ok("{ method: '${m}', url: '${u}', follow-redirects: '${f}', "
		 "timeout: '${t}', body-cap: '${c}', max-redirects: '${n}' }");
	check_ok("post: http://h/\nmultipart: { a: 1, b: { file: x, type: t } "
		 "}");
	check_ok("get: http://h/\nauth: { basic: [u, p] }");
	check_ok("get: https://h/\ncert: c.pem\nkey: k.pem\nbody-cap: 4MiB");
	check_fails(
		"headers: { a: b }",
		"'http' step needs a method and a URL: 'get: URL' (or post, "
		"put, patch, delete, head, options), or 'method' and 'url'",
		1, 1);
	check_fails("get: http://a/\npost: http://b/",
		    "'http' step has two methods 'get' and 'post'", 2, 1);
	check_fails("get: http://a/\nmethod: GET",
		    "'http' step takes 'get: URL' or 'method' and 'url', not "
		    "both",
		    2, 1);
	check_fails(
		"method: GET",
		"'http' step needs a method and a URL: 'get: URL' (or post, "
		"put, patch, delete, head, options), or 'method' and 'url'",
		1, 1);
	check_fails(
		"get: localhost:8080/x",
		"'get' in 'http' step needs an http:// or https:// URL, not "
		"'localhost:8080/x'",
		1, 6);
	check_fails("{ method: 'GE T', url: 'http://h/' }",
		    "bad HTTP method 'GE T'", 1, 11);
	check_fails("post: http://h/\njson: {}\nbody: x",
		    "'http' step has two bodies 'json' and 'body'", 3, 1);
	check_fails("head: http://h/\nbody: x",
		    "a HEAD request has no body ('body')", 2, 1);
	check_fails("get: http://h/\nheaders: { 'a b': 1 }",
		    "bad header name 'a b' in 'http' step", 2, 12);
	check_fails("get: http://h/\nheaders: { a: { b: 1 } }",
		    "a value in 'headers' of 'http' step must be a scalar or a "
		    "list of scalars, not object",
		    2, 15);
	check_fails("get: http://h/\nquery: { a: [1, [2]] }",
		    "a value in 'query' of 'http' step must be a scalar, not "
		    "array",
		    2, 17);
	check_fails("get: http://h/\ninsecure: yes",
		    "'insecure' in 'http' step must be true or false", 2, 11);
	check_fails("get: http://h/\ntimeout: 5",
		    "'timeout' in 'http' step must be a string, not a number",
		    2, 10);
	check_fails(
		"get: http://h/\ntimeout: soon",
		"bad duration for 'timeout' in 'http' step (write 250ms, 2s "
		"or 1m)",
		2, 10);
	check_fails("get: http://h/\nbody-cap: 4XB",
		    "bad size for 'body-cap' in 'http' step (write a number of "
		    "bytes, or 512KiB, 4MiB, 10MB)",
		    2, 11);
	check_fails(
		"get: http://h/\nmax-redirects: -1",
		"'max-redirects' in 'http' step must be a whole number >= 0", 2,
		16);
	check_fails("get: http://h/\nauth: { basic: [u], bearer: t }",
		    "'auth' takes one of 'basic: [user, password]' and "
		    "'bearer: TOKEN'",
		    2, 7);
	check_fails("get: http://h/\nauth: { basic: [u] }",
		    "'basic' takes a list: [user, password]", 2, 16);
	check_fails("get: http://h/\nauth: { digest: x }",
		    "unknown key 'digest' in 'auth' of 'http' step", 2, 9);
	check_fails(
		"post: http://h/\nmultipart: { a: { type: t } }",
		"a 'multipart' part needs exactly one of 'file' and 'value'", 2,
		17);
	check_fails("post: http://h/\nmultipart: { a: { fiel: x } }",
		    "unknown key 'fiel' in a 'multipart' part (did you mean "
		    "'file'?)",
		    2, 19);
	check_fails(
		"get: https://h/\nkey: k.pem",
		"'key' in 'http' step needs 'cert' (the client certificate)", 2,
		1);
}

static void test_loader_keys(void **state)
{
	(void)state;
	/* the loader checks the declared keys centrally */
	const struct itest_driver *d = driver_find("http");
	assert_non_null(d);
	assert_int_equal(d->arg_types, TY(OBJ));
	int n = 0;
	for (const char *const *p = d->parts; *p; p++)
		n += !strcmp(*p, "xpath") || !strcmp(*p, "json") ||
		     !strcmp(*p, "cookies");
	assert_int_equal(n, 3);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_get_json_parts),
		T(test_methods),
		T(test_headers_and_query),
		T(test_bodies),
		T(test_auth_and_log_masking),
		T(test_log_format),
		T(test_redirects),
		T(test_cookies),
		T(test_repeated_headers),
		T(test_gzip_and_chunked),
		T(test_big_body),
		T(test_connection_reuse),
		T(test_refused),
		T(test_dns_failure),
		T(test_bad_url_at_run_time),
		T(test_timeout),
		T(test_cancel),
		T(test_cancel_while_spinning),
		T(test_tls_verify),
		T(test_tls_session_reuse),
		T(test_tls_client_cert),
		T(test_h2c),
		cmocka_unit_test(test_check_step),
		cmocka_unit_test(test_loader_keys),
	};
	return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
