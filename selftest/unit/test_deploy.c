/*
 * Unit tests of deploy.c and of spawn.c's background processes, with real
 * processes on loopback: readiness by http, log, tcp and command; a
 * component that exits at once, one that never becomes ready, one that
 * ignores its stop signal; the stub <-> real swap on one port; ports
 * distinct across concurrent deployments (threads and processes); the
 * environment a component sees; nothing left running after deploy_free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deploy.h"
#include "spawn.h"
#include "stubsrv.h"

/* ---- helpers ---- */

struct fx {
	char dir[64];
	char *run_dir;
	struct loader ld;
	struct masker mask;
	struct suite *s;
	struct deployment *d;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The file's contents (caller frees), or NULL when it does not exist. */
static char *read_text(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
		strbuf_add(&sb, buf, (size_t)n);
	close(fd);
	return strbuf_detach(&sb, NULL);
}

/* Waits up to 5 s for a file to hold a line; returns its contents. */
static char *wait_text(const char *path)
{
	for (int i = 0; i < 500; i++) {
		char *t = read_text(path);
		if (t && strchr(t, '\n'))
			return t;
		free(t);
		sleep_ms(10);
	}
	fail_msg("'%s' never appeared", path);
	return NULL;
}

static long pid_file(struct fx *f, const char *name)
{
	char *path = xasprintf("%s/%s.pid", f->run_dir, name);
	char *t = wait_text(path);
	long pid = strtol(t, NULL, 10);
	free(t);
	free(path);
	assert_true(pid > 1);
	return pid;
}

static int group_gone(long pgid)
{
	return kill(-(pid_t)pgid, 0) == -1 && errno == ESRCH;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static const char tests_yaml[] = "tests:\n"
				 "  - name: t\n"
				 "    steps:\n"
				 "      - shell: \"true\"\n";

static void fx_load(struct fx *f, const char *yaml)
{
	struct itest_err err = ITEST_ERR_INIT;
	snprintf(f->dir, sizeof(f->dir), "/tmp/itest-deploy-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->run_dir = xasprintf("%s/run", f->dir);
	assert_int_equal(mkdir(f->run_dir, 0700), 0);
	char *path = xasprintf("%s/dep.yml", f->dir);
	char *text = xasprintf("%s%s", yaml, tests_yaml);
	write_file(path, text);
	free(text);
	f->ld.mask = &f->mask;
	if (suite_load(&f->ld, path, &f->s, &err) < 0)
		fail_msg("suite_load: %s (line %d)", err.msg, err.loc.line);
	free(path);
}

static struct deployment *fx_deploy(struct fx *f, const char *stream,
				    int cancel_fd)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct deploy_opts o = {0};
	o.run_id = "run-42";
	o.run_dir = f->run_dir;
	o.stream = stream;
	o.cancel_fd = cancel_fd;
	o.mask = &f->mask;
	f->d = deploy_new(f->s, &o, &err);
	if (!f->d)
		fail_msg("deploy_new: %s", err.msg);
	return f->d;
}

/* Ends the fixture's deployment and removes its folder; also run by the
 * teardown, so that a failed test leaves nothing running. */
static void fx_done(struct fx *f)
{
	deploy_free(f->d);
	f->d = NULL;
	suite_free(f->s);
	f->s = NULL;
	srclist_release(&f->ld.srcs);
	mask_release(&f->mask);
	if (f->dir[0])
		nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	f->dir[0] = '\0';
	free(f->run_dir);
	f->run_dir = NULL;
}

static int fx_setup(void **state)
{
	*state = xcalloc(1, sizeof(struct fx));
	return 0;
}

static int fx_teardown(void **state)
{
	fx_done(*state);
	free(*state);
	return 0;
}

static size_t comp(const struct fx *f, const char *name)
{
	int i = component_find(f->s, name, strlen(name));
	assert_true(i >= 0);
	return (size_t)i;
}

static long port_of(const struct fx *f, const char *name)
{
	const struct ivalue *v =
		iv_get(iv_get(deploy_vars(f->d), name), "port");
	assert_non_null(v);
	assert_true(v->flags & IVF_INT);
	return (long)v->u.num.i;
}

/* Marks the named components (a NULL-terminated list). */
static void mark(const struct fx *f, unsigned char *v, const char *const *names)
{
	memset(v, 0, f->s->ncomponents + 1);
	for (size_t i = 0; names && names[i]; i++)
		v[comp(f, names[i])] = 1;
}

static size_t keep_body(char *p, size_t size, size_t n, void *data)
{
	strbuf_add(data, p, size * n);
	return size * n;
}

/* GET with a handle that may be kept (connection reuse); the status. */
static long http_get(CURL *h, const char *url, struct strbuf *body)
{
	long code = 0;
	strbuf_reset(body);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/* ---- spawn_start and friends ---- */

static struct spawn_proc *start_sh(const char *script, const char *log)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	struct spawn_opts o = {0};
	struct spawn_proc *p = NULL;
	struct itest_err err = ITEST_ERR_INIT;
	o.argv = argv;
	o.cancel_fd = -1;
	if (spawn_start(&o, log, &p, &err) < 0)
		fail_msg("spawn_start: %s", err.msg);
	return p;
}

static int wait_dead(struct spawn_proc *p, int *status)
{
	for (int i = 0; i < 500; i++) {
		if (!spawn_alive(p, status))
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static void test_spawn_start_log_and_status(void **state)
{
	(void)state;
	char dir[] = "/tmp/itest-spawn-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *log = xasprintf("%s/c.log", dir);
	write_file(log, "earlier\n");
	struct spawn_proc *p =
		start_sh("echo out; echo err >&2; read x; echo \"in=$x\"; "
			 "exit 3",
			 log);
	int status = 0;
	assert_true(spawn_pid(p) > 1);
	assert_true(wait_dead(p, &status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	/* a dead leader stays a zombie: its group id is still ours */
	assert_int_equal(kill(-spawn_pid(p), 0), 0);
	struct strbuf sb = STRBUF_INIT;
	spawn_status_text(&sb, status);
	assert_string_equal(sb.buf, "exited with status 3");
	spawn_proc_free(p);
	char *t = read_text(log);
	/* appended; both streams; stdin is /dev/null */
	assert_string_equal(t, "earlier\nout\nerr\nin=\n");
	free(t);

	struct stat st;
	unlink(log);
	p = start_sh("exit 0", log);
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	spawn_proc_free(p);

	struct itest_err err = ITEST_ERR_INIT;
	const char *argv[] = {"no-such-program-itest", NULL};
	struct spawn_opts o = {0};
	o.argv = argv;
	assert_int_equal(spawn_start(&o, log, &p, &err), -1);
	assert_non_null(strstr(err.msg, "no-such-program-itest"));
	assert_null(p);

	strbuf_reset(&sb);
	spawn_status_text(&sb, SIGKILL);
	assert_string_equal(sb.buf, "was killed by SIGKILL");
	strbuf_release(&sb);
	free(log);
	nftw(dir, rm_one, 4, FTW_DEPTH | FTW_PHYS);
}

static void test_spawn_stop(void **state)
{
	(void)state;
	char dir[] = "/tmp/itest-spawn-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *log = xasprintf("%s/c.log", dir);
	int status;

	/* obeys TERM: ends before the grace */
	struct spawn_proc *p = start_sh("exec sleep 100", log);
	pid_t pg = spawn_pid(p);
	double t0 = now_ms();
	spawn_stop(p, SIGTERM, 5000);
	assert_true(now_ms() - t0 < 2000);
	assert_false(spawn_alive(p, &status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_true(group_gone(pg));
	spawn_proc_free(p);

	/* ignores TERM: SIGKILL after the grace, the whole group */
	p = start_sh("trap '' TERM; echo up; sleep 100 & "
		     "while :; do sleep 0.05; done",
		     log);
	pg = spawn_pid(p);
	sleep_ms(200);
	t0 = now_ms();
	spawn_stop(p, SIGTERM, 300);
	double took = now_ms() - t0;
	assert_true(took >= 290);
	assert_true(took < 3000);
	assert_false(spawn_alive(p, &status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(group_gone(pg));
	spawn_proc_free(p);

	/* the leader left at once, its children stay in the group */
	p = start_sh("sleep 100 & sleep 100 & exit 0", log);
	pg = spawn_pid(p);
	assert_true(wait_dead(p, &status));
	assert_true(WIFEXITED(status));
	assert_false(group_gone(pg));
	spawn_stop(p, SIGTERM, 2000);
	assert_true(group_gone(pg));
	/* the status stays the leader's own */
	assert_false(spawn_alive(p, &status));
	assert_true(WIFEXITED(status));
	spawn_proc_free(p);

	/* free without a stop kills */
	p = start_sh("exec sleep 100", log);
	pg = spawn_pid(p);
	spawn_proc_free(p);
	assert_true(group_gone(pg));
	spawn_proc_free(NULL);
	free(log);
	nftw(dir, rm_one, 4, FTW_DEPTH | FTW_PHYS);
}

/* ---- deployments ---- */

static void test_http_log_env(void **state)
{
	struct fx *f = *state;
	fx_load(f,
		"name: dep\n"
		"components:\n"
		"  web-api:\n"
		"    run: echo $$ > ${run.dir}/web.pid; exec python3 -m "
		"http.server ${port} --bind ${host}\n"
		"    ready: { http: \"${url}/\", timeout: 15s, interval: "
		"50ms }\n"
		"  app:\n"
		"    needs: [web-api]\n"
		"    env: { GREETING: \"hi ${web-api.port} ${port}\", N: 7 }\n"
		"    cwd: sub\n"
		"    run: [sh, -c, 'echo $$ > \"$1/app.pid\"; env > "
		"\"$1/app.env\"; pwd > \"$1/app.cwd\"; echo starting; "
		"echo \"ready on $PORT\"; exec sleep 100', sh, "
		"\"${run.dir}\"]\n"
		"    ready: { log: '^ready on \\d+$', timeout: 5s }\n"
		"  other:\n"
		"    run: exec sleep 100\n"
		"    stub: { routes: [] }\n");
	char *sub = xasprintf("%s/sub", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	struct deployment *d = fx_deploy(f, "main", -1);
	long web = port_of(f, "web-api"), app = port_of(f, "app");
	assert_true(web >= 20000 && web <= 32767);
	assert_true(app != web);
	const struct ivalue *vars = deploy_vars(d);
	assert_string_equal(iv_strval(iv_get(iv_get(vars, "app"), "host")),
			    "127.0.0.1");
	char *url = xasprintf("http://127.0.0.1:%ld", app);
	assert_string_equal(iv_strval(iv_get(iv_get(vars, "app"), "url")), url);
	free(url);

	unsigned char real[4], stubbed[4];
	const char *const reals[] = {"web-api", "app", NULL};
	mark(f, real, reals);
	mark(f, stubbed, NULL);
	struct strbuf why = STRBUF_INIT;
	if (deploy_apply(d, real, stubbed, &why) < 0)
		fail_msg("deploy_apply: %s", why.buf);
	assert_null(deploy_stub(d, comp(f, "web-api")));

	/* the web server answers on its port */
	CURL *h = curl_easy_init();
	struct strbuf body = STRBUF_INIT;
	char *u = xasprintf("http://127.0.0.1:%ld/", web);
	assert_int_equal(http_get(h, u, &body), 200);
	free(u);
	curl_easy_cleanup(h);

	/* the environment and folder of `app` */
	char *p = xasprintf("%s/app.env", f->run_dir);
	char *env = read_text(p);
	free(p);
	assert_non_null(env);
	char *want = xasprintf("\nPORT=%ld\n", app);
	assert_non_null(strstr(env, want));
	free(want);
	want = xasprintf("\nWEB_API_URL=http://127.0.0.1:%ld\n", web);
	assert_non_null(strstr(env, want));
	free(want);
	want = xasprintf("\nGREETING=hi %ld %ld\n", web, app);
	assert_non_null(strstr(env, want));
	free(want);
	assert_non_null(strstr(env, "\nN=7\n"));
	assert_non_null(strstr(env, "\nITEST_RUN_ID=run-42\n"));
	want = xasprintf("\nITEST_RUN_DIR=%s\n", f->run_dir);
	assert_non_null(strstr(env, want));
	free(want);
	free(env);
	p = xasprintf("%s/app.cwd", f->run_dir);
	char *cwd = read_text(p);
	free(p);
	char *real_sub = realpath(sub, NULL);
	want = xasprintf("%s\n", real_sub);
	assert_string_equal(cwd, want);
	free(want);
	free(real_sub);
	free(cwd);

	/* the log */
	p = xasprintf("%s/logs/dep/app.log", f->run_dir);
	char *log = read_text(p);
	free(p);
	assert_non_null(log);
	assert_non_null(strstr(log, "starting\nready on "));
	free(log);

	assert_int_equal(deploy_check(d, NULL, &why), 0);
	long pw = pid_file(f, "web"), pa = pid_file(f, "app");
	/* the same stage again: nothing restarts */
	assert_int_equal(deploy_apply(d, real, stubbed, &why), 0);
	assert_int_equal(pid_file(f, "app"), pa);
	assert_int_equal(kill(-(pid_t)pa, 0), 0);

	fx_done(f);
	assert_true(group_gone(pw));
	assert_true(group_gone(pa));
	strbuf_release(&why);
	strbuf_release(&body);
	free(sub);
}

static void test_exits_at_once(void **state)
{
	struct fx *f = *state;
	fx_load(f, "name: dep\n"
		   "vars:\n"
		   "  pw: { env: ITEST_TEST_SECRET, secret: true }\n"
		   "components:\n"
		   "  bad:\n"
		   "    run: for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "
		   "line$i; done; echo \"pw=${pw}\"; exit 3\n"
		   "    ready: { tcp: true, timeout: 10s }\n");
	struct deployment *d = fx_deploy(f, "top", -1);
	unsigned char real[2] = {1, 0}, stubbed[2] = {0, 0};
	struct strbuf why = STRBUF_INIT;
	double t0 = now_ms();
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_true(now_ms() - t0 < 3000);
	if (!strstr(why.buf, "component 'bad'"))
		fail_msg("why: %s", why.buf);
	assert_non_null(strstr(why.buf, "component 'bad' exited with status 3 "
					"before it became ready"));
	/* the last 10 lines of its log (named for the stream), masked */
	assert_non_null(strstr(why.buf, "logs/dep/bad@top.log:"));
	assert_non_null(strstr(why.buf, "\n  line12\n  pw=***"));
	assert_non_null(strstr(why.buf, "  line4\n"));
	assert_null(strstr(why.buf, "line3\n"));
	assert_null(strstr(why.buf, "hunter2x"));
	/* the log on disk is masked once the component is stopped */
	deploy_free(d);
	f->d = NULL;
	char *p = xasprintf("%s/logs/dep/bad@top.log", f->run_dir);
	char *log = read_text(p);
	free(p);
	assert_non_null(strstr(log, "pw=***\n"));
	assert_null(strstr(log, "hunter2x"));
	free(log);
	strbuf_release(&why);
	fx_done(f);
}

static void test_never_ready(void **state)
{
	struct fx *f = *state;
	fx_load(f, "components:\n"
		   "  slow:\n"
		   "    run: echo $$ > ${run.dir}/slow.pid; echo waiting; "
		   "exec sleep 100\n"
		   "    ready: { tcp: true, timeout: 500ms }\n");
	struct deployment *d = fx_deploy(f, "main", -1);
	unsigned char real[2] = {1, 0}, stubbed[2] = {0, 0};
	struct strbuf why = STRBUF_INIT;
	double t0 = now_ms();
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	double took = now_ms() - t0;
	assert_true(took >= 490 && took < 3000);
	char *want = xasprintf("component 'slow' did not become ready in "
			       "500ms: connect to 127.0.0.1:%ld: Connection "
			       "refused\nlast lines of ",
			       port_of(f, "slow"));
	if (strncmp(why.buf, want, strlen(want)))
		fail_msg("why: %s", why.buf);
	free(want);
	assert_non_null(strstr(why.buf, "/logs/dep/slow.log:\n  waiting"));
	long pg = pid_file(f, "slow");
	assert_false(group_gone(pg));
	fx_done(f); /* after a failed apply */
	assert_true(group_gone(pg));
	strbuf_release(&why);
}

static void test_ignores_term(void **state)
{
	struct fx *f = *state;
	fx_load(f, "components:\n"
		   "  stubborn:\n"
		   "    run: trap '' TERM; echo $$ > ${run.dir}/s.pid; sleep "
		   "100 & echo up; while :; do sleep 0.05; done\n"
		   "    ready: { log: up }\n"
		   "    stop: { signal: TERM, grace: 300ms }\n"
		   "  polite:\n"
		   "    run: echo $$ > ${run.dir}/p.pid; echo up; exec sleep "
		   "100\n"
		   "    ready: { log: up }\n"
		   "    stop: { signal: INT, grace: 10s }\n");
	struct deployment *d = fx_deploy(f, "main", -1);
	unsigned char real[3] = {1, 1, 0}, stubbed[3] = {0};
	struct strbuf why = STRBUF_INIT;
	if (deploy_apply(d, real, stubbed, &why) < 0)
		fail_msg("deploy_apply: %s", why.buf);
	long s = pid_file(f, "s"), p = pid_file(f, "p");
	double t0 = now_ms();
	fx_done(f);
	double took = now_ms() - t0;
	/* both stopped at once: the stubborn one's grace, not more */
	assert_true(took >= 290);
	assert_true(took < 3000);
	assert_true(group_gone(s));
	assert_true(group_gone(p));
	strbuf_release(&why);
}

static void test_stub_real_swap(void **state)
{
	struct fx *f = *state;
	/* the real one binds without SO_REUSEADDR: it needs the port at
	 * once, with a client connection to the stub still open (it resets
	 * its own connections, or the stub could not have the port back) */
	fx_load(f, "components:\n"
		   "  api:\n"
		   "    run: [python3, -c, \"import socket,struct,sys,os\\n"
		   "open(sys.argv[2] + '/api.pid', 'w').write('%d\\\\n' % "
		   "os.getpid())\\n"
		   "s = socket.socket()\\n"
		   "s.bind(('127.0.0.1', int(sys.argv[1])))\\n"
		   "s.listen(16)\\n"
		   "print('bound', flush=True)\\n"
		   "while True:\\n"
		   "  c, _ = s.accept()\\n"
		   "  c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, "
		   "struct.pack('ii', 1, 0))\\n"
		   "  try:\\n"
		   "    c.recv(4096)\\n"
		   "    c.sendall(b'HTTP/1.1 200 OK\\\\r\\\\nContent-Length: "
		   "4\\\\r\\\\nConnection: close\\\\r\\\\n\\\\r\\\\nreal')\\n"
		   "  except OSError:\\n"
		   "    pass\\n"
		   "  c.close()\\n\", \"${port}\", \"${run.dir}\"]\n"
		   "    ready: { tcp: true, timeout: 10s }\n"
		   "    stop: { signal: TERM, grace: 2s }\n"
		   "    stub:\n"
		   "      routes:\n"
		   "        - when: { method: GET, path: /x }\n"
		   "          respond: { status: 200, body: stubbed }\n");
	struct deployment *d = fx_deploy(f, "main", -1);
	long port = port_of(f, "api");
	char *url = xasprintf("http://127.0.0.1:%ld/x", port);
	unsigned char yes[2] = {1, 0}, no[2] = {0, 0};
	struct strbuf why = STRBUF_INIT, body = STRBUF_INIT;
	CURL *h = curl_easy_init();

	if (deploy_apply(d, no, yes, &why) < 0)
		fail_msg("deploy_apply (stub): %s", why.buf);
	assert_non_null(deploy_stub(d, 0));
	assert_null(deploy_stub(d, 1));
	assert_int_equal(http_get(h, url, &body), 200);
	assert_string_equal(body.buf, "stubbed");
	/* h keeps its connection to the stub open */

	if (deploy_apply(d, yes, no, &why) < 0)
		fail_msg("deploy_apply (real): %s", why.buf);
	assert_null(deploy_stub(d, 0));
	assert_int_equal(port_of(f, "api"), port);
	assert_int_equal(http_get(h, url, &body), 200);
	assert_string_equal(body.buf, "real");
	long pg = pid_file(f, "api");

	/* and back: the real one is stopped, the stub serves again */
	if (deploy_apply(d, no, yes, &why) < 0)
		fail_msg("deploy_apply (stub again): %s", why.buf);
	assert_true(group_gone(pg));
	assert_int_equal(http_get(h, url, &body), 200);
	assert_string_equal(body.buf, "stubbed");

	/* nothing: the port is left alone (a bind shows it is free) */
	assert_int_equal(deploy_apply(d, no, no, &why), 0);
	assert_null(deploy_stub(d, 0));
	assert_int_not_equal(http_get(h, url, &body), 200);

	curl_easy_cleanup(h);
	free(url);
	strbuf_release(&why);
	strbuf_release(&body);
	fx_done(f);
}

static void test_check_dead(void **state)
{
	struct fx *f = *state;
	fx_load(f, "components:\n"
		   "  a:\n"
		   "    run: exec sleep 100\n"
		   "  b:\n"
		   "    run: \"echo up; sleep 0.3; echo dying; kill -KILL "
		   "$$\"\n"
		   "    ready: { log: up }\n"
		   "    stop: { grace: 1s }\n");
	struct deployment *d = fx_deploy(f, "main", -1);
	unsigned char real[3] = {0, 1, 0}, stubbed[3] = {0};
	struct strbuf why = STRBUF_INIT;
	if (deploy_apply(d, real, stubbed, &why) < 0)
		fail_msg("deploy_apply: %s", why.buf);
	assert_int_equal(deploy_check(d, NULL, &why), 0);
	int dead = 0;
	for (int i = 0; i < 300 && !dead; i++) {
		dead = deploy_check(d, NULL, &why);
		if (!dead)
			sleep_ms(10);
	}
	assert_int_equal(dead, 1);
	assert_non_null(strstr(why.buf, "component 'b' was killed by SIGKILL\n"
					"last lines of "));
	assert_non_null(strstr(why.buf, "  up\n  dying"));
	/* only the components asked about */
	unsigned char covers[3] = {1, 0, 0};
	strbuf_reset(&why);
	assert_int_equal(deploy_check(d, covers, &why), 0);
	assert_int_equal(why.len, 0);
	/* a dead real component is started again by the next stage */
	assert_int_equal(deploy_apply(d, real, stubbed, &why), 0);
	assert_int_equal(deploy_check(d, NULL, &why), 0);
	strbuf_release(&why);
	fx_done(f);
}

static void test_daemon(void **state)
{
	struct fx *f = *state;
	/* the command starts the service in a session of its own and
	 * exits 0, as `nginx` or `redis-server --daemonize yes` do */
	fx_load(f, "components:\n"
		   "  dmn:\n"
		   "    run: setsid sh -c 'echo $$ > ${run.dir}/dmn.pid; exec "
		   "sleep 100' > /dev/null 2>&1 & echo started\n"
		   "    ready: { command: 'test -s ${run.dir}/dmn.pid' }\n"
		   "    stop: { grace: 2s }\n"
		   "  quick:\n"
		   "    run: \"true\"\n");
	struct deployment *d = fx_deploy(f, "main", -1);
	unsigned char real[3] = {1, 0, 0}, stubbed[3] = {0};
	struct strbuf why = STRBUF_INIT;
	if (deploy_apply(d, real, stubbed, &why) < 0)
		fail_msg("deploy_apply: %s", why.buf);
	long pid = pid_file(f, "dmn");
	assert_int_equal(getsid((pid_t)pid), (pid_t)pid); /* left the group */
	assert_int_equal(deploy_check(d, NULL, &why), 0);
	/* stopped with the deployment */
	deploy_free(d);
	f->d = NULL;
	assert_true(kill((pid_t)pid, 0) == -1 && errno == ESRCH);

	/* exits 0 and leaves nothing: not a running component */
	d = fx_deploy(f, "main", -1);
	real[0] = 0;
	real[1] = 1;
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_non_null(strstr(why.buf, "component 'quick' exited with status "
					"0 and left nothing running before it "
					"became ready"));
	strbuf_release(&why);
}

static void test_command_ready(void **state)
{
	struct fx *f = *state;
	fx_load(f, "components:\n"
		   "  c:\n"
		   "    run: sleep 0.3; touch \"$ITEST_RUN_DIR/flag-$PORT\"; "
		   "exec sleep 100\n"
		   "    ready: { command: 'test -f ${run.dir}/flag-${port}', "
		   "interval: 20ms }\n"
		   "  d:\n"
		   "    needs: [c]\n"
		   "    run: exec sleep 100\n"
		   "    ready: { command: [sh, -c, 'echo nope >&2; exit 4'], "
		   "timeout: 300ms }\n");
	struct deployment *d = fx_deploy(f, "main", -1);
	unsigned char real[3] = {1, 0, 0}, stubbed[3] = {0};
	struct strbuf why = STRBUF_INIT;
	double t0 = now_ms();
	if (deploy_apply(d, real, stubbed, &why) < 0)
		fail_msg("deploy_apply: %s", why.buf);
	assert_true(now_ms() - t0 >= 290);
	real[1] = 1;
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_non_null(strstr(why.buf, "component 'd' did not become ready "
					"in 300ms: 'sh -c 'echo nope >&2; "
					"exit 4'' exited with status 4: "
					"nope\n"));
	strbuf_release(&why);
	fx_done(f);
}

static void test_cancel_and_errors(void **state)
{
	struct fx *f = *state;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	fx_load(f, "components:\n"
		   "  slow:\n"
		   "    run: exec sleep 100\n"
		   "    ready: { tcp: true, timeout: 20s }\n"
		   "  engine:\n"
		   "    deploy: { up: 'exit 3', down: 'true' }\n"
		   "  fake:\n"
		   "    stub: { routes: [] }\n"
		   "  nostub:\n"
		   "    run: exec sleep 100\n"
		   "  undef:\n"
		   "    run: echo ${nope}\n");
	struct deployment *d = fx_deploy(f, "main", pfd[0]);
	unsigned char real[6] = {0}, stubbed[6] = {0};
	struct strbuf why = STRBUF_INIT;

	real[comp(f, "engine")] = 1;
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_non_null(strstr(why.buf, "component 'engine': deploy up "
					"'exit 3' exited with status 3"));
	memset(real, 0, sizeof(real));
	strbuf_reset(&why);
	real[comp(f, "fake")] = 1;
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_non_null(strstr(why.buf, "'fake' has no 'run'"));
	memset(real, 0, sizeof(real));
	strbuf_reset(&why);
	stubbed[comp(f, "nostub")] = 1;
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_string_equal(why.buf, "component 'nostub' has no 'stub'");
	memset(stubbed, 0, sizeof(stubbed));
	strbuf_reset(&why);
	real[comp(f, "undef")] = 1;
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_non_null(strstr(why.buf, "cannot start component 'undef': "));
	assert_non_null(strstr(why.buf, "undefined variable 'nope'"));
	memset(real, 0, sizeof(real));
	strbuf_reset(&why);

	/* interrupted while waiting */
	real[comp(f, "slow")] = 1;
	assert_int_equal(write(pfd[1], "x", 1), 1);
	double t0 = now_ms();
	assert_int_equal(deploy_apply(d, real, stubbed, &why), -1);
	assert_true(now_ms() - t0 < 2000);
	assert_string_equal(why.buf, "interrupted while waiting for "
				     "component 'slow' to become ready");
	strbuf_release(&why);
	fx_done(f);
	close(pfd[0]);
	close(pfd[1]);
}

/* ---- ports ---- */

static const char three_yaml[] = "components:\n"
				 "  a: { run: exec sleep 100 }\n"
				 "  b: { run: exec sleep 100 }\n"
				 "  c: { run: exec sleep 100 }\n";

struct ports_job {
	struct fx *f;
	pthread_barrier_t *go;
	struct deployment *d;
	char err[ITEST_ERRMSG];
};

static void *ports_thread(void *arg)
{
	struct ports_job *j = arg;
	struct itest_err err = ITEST_ERR_INIT;
	struct deploy_opts o = {0};
	o.run_id = "r";
	o.run_dir = j->f->run_dir;
	o.cancel_fd = -1;
	pthread_barrier_wait(j->go);
	j->d = deploy_new(j->f->s, &o, &err);
	if (!j->d)
		snprintf(j->err, sizeof(j->err), "%s", err.msg);
	return NULL;
}

static long dport(const struct deployment *d, const char *name)
{
	return (long)iv_get(iv_get(deploy_vars(d), name), "port")->u.num.i;
}

/* The first of `n` consecutive ports from `from` that a bind finds
 * free, or -1. */
static int free_window(int from, int n)
{
	for (int lo = from; lo + n < 32000; lo += n) {
		int ok = 1;
		for (int p = lo; p < lo + n && ok; p++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
			struct sockaddr_in a = {0};
			a.sin_family = AF_INET;
			a.sin_port = htons((uint16_t)p);
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
			close(fd);
		}
		if (ok)
			return lo;
	}
	return -1;
}

static void test_ports_concurrent(void **state)
{
	struct fx *f = *state;
	fx_load(f, three_yaml);
	/* 4 deployments of 3 in a range of exactly 12 ports, started at
	 * once: each port goes to exactly one */
	/* (a window of its own per process: tests may run side by side) */
	int lo = free_window(29000 + (int)(getpid() % 100) * 24, 12);
	assert_true(lo > 0);
	char range[32];
	snprintf(range, sizeof(range), "%d-%d", lo, lo + 11);
	setenv("ITEST_PORTS", range, 1);
	struct ports_job jobs[4];
	pthread_t th[4];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, 4);
	for (int i = 0; i < 4; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].f = f;
		jobs[i].go = &go;
		pthread_create(&th[i], NULL, ports_thread, &jobs[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	unsigned char seen[12] = {0};
	for (int i = 0; i < 4; i++) {
		if (!jobs[i].d)
			fail_msg("deploy_new: %s", jobs[i].err);
		const char *names[] = {"a", "b", "c"};
		for (int k = 0; k < 3; k++) {
			long p = dport(jobs[i].d, names[k]);
			assert_true(p >= lo && p <= lo + 11);
			assert_int_equal(seen[p - lo], 0);
			seen[p - lo] = 1;
		}
	}
	/* the range is used up: a fifth one fails, in another process too */
	struct itest_err err = ITEST_ERR_INIT;
	struct deploy_opts o = {0};
	o.run_dir = f->run_dir;
	o.cancel_fd = -1;
	assert_null(deploy_new(f->s, &o, &err));
	char *want = xasprintf("no free port left in %s", range);
	assert_non_null(strstr(err.msg, want));
	free(want);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct itest_err e2 = ITEST_ERR_INIT;
		_exit(deploy_new(f->s, &o, &e2) ? 1 : 0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* freed ports are free again */
	deploy_free(jobs[0].d);
	struct deployment *again = deploy_new(f->s, &o, &err);
	if (!again)
		fail_msg("deploy_new: %s", err.msg);
	for (int i = 1; i < 4; i++)
		deploy_free(jobs[i].d);

	/* two processes at once, each holding its ports */
	unsetenv("ITEST_PORTS");
	int pfd[2], back[2];
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(pipe(back), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct itest_err e2 = ITEST_ERR_INIT;
		struct deployment *cd = deploy_new(f->s, &o, &e2);
		long ports[3] = {0, 0, 0};
		if (cd) {
			ports[0] = dport(cd, "a");
			ports[1] = dport(cd, "b");
			ports[2] = dport(cd, "c");
		}
		if (write(pfd[1], ports, sizeof(ports)) != sizeof(ports))
			_exit(2);
		char c;
		if (read(back[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	long ports[3];
	assert_int_equal(read(pfd[0], ports, sizeof(ports)), sizeof(ports));
	assert_true(ports[0] > 0);
	for (int i = 0; i < 40; i++) {
		struct deployment *mine = deploy_new(f->s, &o, &err);
		assert_non_null(mine);
		const char *names[] = {"a", "b", "c"};
		for (int k = 0; k < 3; k++)
			for (int m = 0; m < 3; m++)
				assert_int_not_equal(dport(mine, names[k]),
						     ports[m]);
		deploy_free(mine);
	}
	assert_int_equal(write(back[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(pfd[0]);
	close(pfd[1]);
	close(back[0]);
	close(back[1]);
	deploy_free(again);
	fx_done(f);
}

static void test_ports_env(void **state)
{
	struct fx *f = *state;
	fx_load(f, three_yaml);
	struct itest_err err = ITEST_ERR_INIT;
	struct deploy_opts o = {0};
	o.run_dir = f->run_dir;
	o.cancel_fd = -1;
	const char *bad[] = {"abc",	    "30000",   "30000-",      "-5-10",
			     "40000-30000", "1-70000", "30000-30010x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("ITEST_PORTS", bad[i], 1);
		err_clear(&err);
		assert_null(deploy_new(f->s, &o, &err));
		char *want = xasprintf("bad ITEST_PORTS '%s' (write LO-HI, "
				       "e.g. 20000-32767)",
				       bad[i]);
		assert_string_equal(err.msg, want);
		free(want);
	}
	int lo = free_window(31500 + (int)(getpid() % 100) * 3, 3);
	assert_true(lo > 0);
	char range[32];
	snprintf(range, sizeof(range), "%d-%d", lo, lo + 2);
	setenv("ITEST_PORTS", range, 1);
	/* a port someone listens on is skipped */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)(lo + 1));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	err_clear(&err);
	assert_null(deploy_new(f->s, &o, &err));
	assert_non_null(strstr(err.msg, "no free port left"));
	close(fd);
	struct deployment *d = deploy_new(f->s, &o, &err);
	assert_non_null(d);
	deploy_free(d);
	unsetenv("ITEST_PORTS");

	/* the runtime folder is private */
	char *xdg = xasprintf("%s/xdg", f->dir);
	assert_int_equal(mkdir(xdg, 0755), 0);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	d = deploy_new(f->s, &o, &err);
	assert_non_null(d);
	char *ports = xasprintf("%s/itest/ports", xdg);
	struct stat st;
	assert_int_equal(stat(ports, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	char *lock = xasprintf("%s/%ld.lock", ports, dport(d, "a"));
	assert_int_equal(stat(lock, &st), 0);
	deploy_free(d);
	unsetenv("XDG_RUNTIME_DIR");
	free(lock);
	free(ports);
	free(xdg);
	fx_done(f);
}

int main(void)
{
	/* as itest does: orphans of a stopped group are reparented to us
	 * and reaped, so kill(-pgid, 0) tells whether anything is left */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("ITEST_TEST_SECRET", "hunter2x", 1);
	unsetenv("ITEST_PORTS");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_start_log_and_status),
		cmocka_unit_test(test_spawn_stop),
		cmocka_unit_test_setup_teardown(test_http_log_env, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_exits_at_once, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_never_ready, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ignores_term, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_stub_real_swap, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_check_dead, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_daemon, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_command_ready, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_errors,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ports_concurrent, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ports_env, fx_setup,
						fx_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
