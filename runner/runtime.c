/*
 * The runtime folder (runtime.h): private folders under it, the registry
 * of live runs (an entry per run, written atomically and held locked by
 * its itest; the process groups and engine `down` commands of the run
 * beside it), facts about processes from /proc, and the machine-wide
 * locks of `lock: NAME`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

#define RUNTIME_LOCK_POLL_MS 200

struct runtime_reg {
	char *run_id;
	char *key;  /* RUN_ID.TOKEN */
	char *path; /* runs/KEY.json */
	char *dir;  /* runs/KEY */
	char *run_dir;
	int fd; /* the entry, holding a shared lock */
	unsigned long long start;
	int64_t wall;
};

/* ---- folders ---- */

/* Creates `path` (mode 0700) unless it exists; it must then be a folder
 * of ours, which is made private if it is not. */
static int private_dir(const char *path, struct itest_err *err)
{
	struct stat st;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_set(err, NULL, "cannot create '%s': %s", path,
			       strerror(errno));
	if (lstat(path, &st) < 0)
		return err_set(err, NULL, "cannot use '%s': %s", path,
			       strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid())
		return err_set(err, NULL,
			       "'%s' is not a folder of this user: refusing to "
			       "use it",
			       path);
	if ((st.st_mode & 077) && chmod(path, 0700) < 0)
		return err_set(err, NULL, "cannot make '%s' private: %s", path,
			       strerror(errno));
	return 0;
}

int runtime_dir(struct strbuf *out, struct itest_err *err)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (x && x[0] == '/' && !stat(x, &st) && S_ISDIR(st.st_mode))
		strbuf_addf(out, "%s/itest", x);
	else
		strbuf_addf(out, "/tmp/itest-%ld", (long)getuid());
	return private_dir(out->buf, err);
}

int runtime_subdir(struct strbuf *out, const char *name, struct itest_err *err)
{
	if (runtime_dir(out, err) < 0)
		return -1;
	strbuf_addf(out, "/%s", name);
	return private_dir(out->buf, err);
}

/* ---- small file helpers ---- */

/* Reads a whole (small) file through an fd into sb; -1 on error. */
static int read_fd(int fd, struct strbuf *sb, size_t max)
{
	char buf[8192];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0 || sb->len >= max)
			return 0;
		strbuf_add(sb, buf, (size_t)n);
	}
}

static int read_path(const char *path, struct strbuf *sb, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = read_fd(fd, sb, max);
	close(fd);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Writes `text` to `path` atomically (a temporary file beside it, then a
 * rename).  With `lock_sh`, the new file is locked (shared) before it
 * appears and the fd is returned; else it is closed and 0 returned.  -1
 * with err on failure.
 */
static int write_atomic(const char *path, const struct strbuf *text,
			int lock_sh, struct itest_err *err)
{
	char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	int fd =
		open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		     0600);
	if (fd < 0) {
		err_set(err, NULL, "cannot create '%s': %s", tmp,
			strerror(errno));
		free(tmp);
		return -1;
	}
	if (write_all(fd, text->buf, text->len) < 0 ||
	    (lock_sh && flock(fd, LOCK_SH) < 0) || rename(tmp, path) < 0) {
		err_set(err, NULL, "cannot write '%s': %s", path,
			strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	if (lock_sh)
		return fd;
	close(fd);
	return 0;
}

/* Removes the files of a folder (it has no subfolders), then it. */
static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		for (struct dirent *e; (e = readdir(d));)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(path);
}

/* The kernel's id of this boot (a reboot makes pids and start times
 * meaningless). */
static void boot_id(struct strbuf *out)
{
	read_path("/proc/sys/kernel/random/boot_id", out, 128);
	strbuf_rtrim(out);
}

/* A run id or lock name as a file name: it is one already (checked by
 * the command line and the loader); anything else becomes '_'. */
static void add_name(struct strbuf *sb, const char *name)
{
	if (name[0] == '.')
		strbuf_addch(sb, '_');
	for (const char *p = name; *p; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			 c == '.';
		strbuf_addch(sb, ok ? c : '_');
	}
}

/* runs/KEY (folder) or runs/KEY.json (entry) into sb; -1 when the
 * runtime folder cannot be used. */
static int run_path(struct strbuf *sb, const char *key, const char *suffix,
		    struct itest_err *err)
{
	if (runtime_subdir(sb, "runs", err) < 0)
		return -1;
	strbuf_addch(sb, '/');
	add_name(sb, key);
	strbuf_addstr(sb, suffix);
	return 0;
}

/* ---- /proc ---- */

int runtime_proc_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS MINFLT
	 * CMINFLT MAJFLT CMAJFLT UTIME STIME CUTIME CSTIME PRIORITY NICE
	 * THREADS ITREALVALUE STARTTIME ...": COMM may hold anything */
	const char *p = strrchr(buf, ')');
	long ppid, pgrp;
	if (!p || sscanf(p + 1,
			 " %c %ld %ld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
			 "%*d %*d %*d %*d %*d %*d %llu",
			 &st->state, &ppid, &pgrp, &st->start) != 4)
		return -1;
	st->ppid = (pid_t)ppid;
	st->pgrp = (pid_t)pgrp;
	return 0;
}

int runtime_proc_has_env(pid_t pid, const char *const *want)
{
	char path[64];
	struct strbuf env = STRBUF_INIT;
	size_t n = 0, found = 0;
	while (want[n])
		n++;
	unsigned char *seen = xcalloc(n + 1, 1);
	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
	if (read_path(path, &env, 1 << 20) == 0)
		for (size_t i = 0; i < env.len && found < n;) {
			size_t len = strnlen(env.buf + i, env.len - i);
			for (size_t k = 0; k < n; k++)
				if (!seen[k] && strlen(want[k]) == len &&
				    !memcmp(env.buf + i, want[k], len)) {
					seen[k] = 1;
					found++;
				}
			i += len + 1;
		}
	strbuf_release(&env);
	free(seen);
	return n && found == n;
}

/* ---- this run's entry ---- */

static void entry_text(const struct runtime_reg *r, int kept,
		       struct strbuf *out)
{
	struct ivalue *o = iv_obj();
	struct strbuf b = STRBUF_INIT;
	char *cwd = getcwd(NULL, 0);
	boot_id(&b);
	iv_set(o, "run_id", iv_str(r->run_id));
	iv_set(o, "key", iv_str(r->key));
	iv_set(o, "pid", iv_int(getpid()));
	iv_set(o, "starttime", iv_int((int64_t)r->start));
	iv_set(o, "boot_id", iv_str(b.buf));
	iv_set(o, "start", iv_int(r->wall));
	iv_set(o, "run_dir", iv_str(r->run_dir));
	iv_set(o, "cwd", iv_str(cwd ? cwd : ""));
	iv_set(o, "kept", iv_bool(kept));
	json_emit(out, o, 2);
	strbuf_addch(out, '\n');
	iv_free(o);
	free(cwd);
	strbuf_release(&b);
}

struct runtime_reg *runtime_register(const char *run_id, const char *run_dir,
				     struct itest_err *err)
{
	struct runtime_reg *r = xcalloc(1, sizeof(*r));
	struct strbuf sb = STRBUF_INIT;
	struct proc_stat ps;
	struct stat st;
	r->fd = -1;
	r->run_id = xstrdup(run_id);
	r->run_dir = xstrdup(run_dir);
	r->wall = wall_ms();
	if (runtime_proc_stat(getpid(), &ps) == 0)
		r->start = ps.start;
	/* a token of its own: runs that share a run id stay apart */
	for (int tries = 0;; tries++) {
		uint32_t t;
		if (getrandom(&t, sizeof(t), GRND_NONBLOCK) != sizeof(t))
			t = (uint32_t)getpid() ^ (uint32_t)r->wall ^
			    (uint32_t)tries;
		free(r->key);
		r->key = xasprintf("%s.%08x", run_id, t);
		strbuf_reset(&sb);
		if (run_path(&sb, r->key, ".json", err) < 0)
			goto fail;
		if (lstat(sb.buf, &st) < 0 || tries == 16)
			break;
	}
	r->path = xstrdup(sb.buf);
	strbuf_reset(&sb);
	run_path(&sb, r->key, "", err);
	r->dir = strbuf_detach(&sb, NULL);
	remove_dir(r->dir); /* a leftover without its entry */
	if (mkdir(r->dir, 0700) < 0) {
		err_set(err, NULL, "cannot create '%s': %s", r->dir,
			strerror(errno));
		goto fail;
	}
	entry_text(r, 0, &sb);
	r->fd = write_atomic(r->path, &sb, 1, err);
	if (r->fd < 0) {
		remove_dir(r->dir);
		goto fail;
	}
	strbuf_release(&sb);
	return r;
fail:
	strbuf_release(&sb);
	free(r->path);
	r->path = NULL; /* nothing of ours to remove */
	free(r->dir);
	r->dir = NULL;
	runtime_reg_free(r);
	return NULL;
}

const char *runtime_reg_key(const struct runtime_reg *r)
{
	return r->key;
}

unsigned long long runtime_reg_start(const struct runtime_reg *r)
{
	return r->start;
}

int runtime_mark_kept(struct runtime_reg *r, struct itest_err *err)
{
	struct strbuf sb = STRBUF_INIT;
	entry_text(r, 1, &sb);
	int fd = write_atomic(r->path, &sb, 1, err);
	strbuf_release(&sb);
	if (fd < 0)
		return -1;
	close(r->fd);
	r->fd = fd;
	return 0;
}

void runtime_unregister(struct runtime_reg *r)
{
	if (!r)
		return;
	if (r->dir)
		remove_dir(r->dir);
	if (r->path)
		unlink(r->path);
	runtime_reg_free(r);
}

void runtime_reg_free(struct runtime_reg *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->run_id);
	free(r->key);
	free(r->run_dir);
	free(r->path);
	free(r->dir);
	free(r);
}

/* runs/KEY/NAME into sb when the run is registered; else -1. */
static int reg_file(struct strbuf *sb, const char *key, const char *name)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct stat st;
	if (!key || !*key || run_path(sb, key, "", &err) < 0 ||
	    stat(sb->buf, &st) < 0 || !S_ISDIR(st.st_mode))
		return -1;
	strbuf_addf(sb, "/%s", name);
	return 0;
}

void runtime_add_pgid(const char *key, pid_t pgid, int sig, int64_t grace_ms)
{
	struct strbuf sb = STRBUF_INIT;
	if (reg_file(&sb, key, "pgids") == 0) {
		int fd = open(sb.buf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0600);
		if (fd >= 0) {
			struct proc_stat ps;
			char line[128];
			if (runtime_proc_stat(pgid, &ps) < 0)
				ps.start = 0;
			int n = snprintf(line, sizeof(line),
					 "%ld %d %lld %llu\n", (long)pgid, sig,
					 (long long)grace_ms, ps.start);
			if (write_all(fd, line, (size_t)n) < 0)
				n = 0; /* best effort */
			close(fd);
		}
	}
	strbuf_release(&sb);
}

static void down_name(struct strbuf *sb, const char *name)
{
	strbuf_addstr(sb, "down-");
	add_name(sb, name);
	strbuf_addstr(sb, ".json");
}

void runtime_add_down(const char *key, const char *name,
		      const struct ivalue *cmd)
{
	struct strbuf file = STRBUF_INIT, sb = STRBUF_INIT, text = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	down_name(&file, name);
	if (reg_file(&sb, key, file.buf) == 0) {
		json_emit(&text, cmd, 0);
		strbuf_addch(&text, '\n');
		write_atomic(sb.buf, &text, 0, &err);
	}
	strbuf_release(&file);
	strbuf_release(&sb);
	strbuf_release(&text);
}

void runtime_del_down(const char *key, const char *name)
{
	struct strbuf file = STRBUF_INIT, sb = STRBUF_INIT;
	down_name(&file, name);
	if (reg_file(&sb, key, file.buf) == 0)
		unlink(sb.buf);
	strbuf_release(&file);
	strbuf_release(&sb);
}

/* ---- reading the registry ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int runtime_list(char ***ids, size_t *n, struct itest_err *err)
{
	struct strbuf sb = STRBUF_INIT;
	size_t alloc = 0;
	*ids = NULL;
	*n = 0;
	if (runtime_subdir(&sb, "runs", err) < 0) {
		strbuf_release(&sb);
		return -1;
	}
	DIR *d = opendir(sb.buf);
	strbuf_release(&sb);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len <= 5 ||
		    strcmp(e->d_name + len - 5, ".json"))
			continue;
		XGROW(*ids, alloc, *n + 1);
		(*ids)[(*n)++] = xstrndup(e->d_name, len - 5);
	}
	closedir(d);
	if (*n)
		qsort(*ids, *n, sizeof(**ids), cmp_str);
	return 0;
}

static int64_t get_int(const struct ivalue *o, const char *key)
{
	const struct ivalue *v = iv_get(o, key);
	return v && v->type == IV_NUM && (v->flags & IVF_INT) ? v->u.num.i : 0;
}

int runtime_entry_open(const char *key, int wait, struct runtime_entry *e,
		       struct itest_err *err)
{
	const char *dot = strchr(key, '.');
	char *run_id = dot ? xstrndup(key, (size_t)(dot - key)) : xstrdup(key);
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	int rc;
	memset(e, 0, sizeof(*e));
	e->fd = -1;
	if (run_path(&sb, key, ".json", err) < 0)
		goto fail;
	e->fd = open(sb.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (e->fd < 0) {
		if (errno == ENOENT)
			err_set(err, NULL, "no run '%s' in the registry",
				run_id);
		else
			err_set(err, NULL, "cannot open '%s': %s", sb.buf,
				strerror(errno));
		goto fail;
	}
	do
		rc = flock(e->fd, LOCK_EX | (wait ? 0 : LOCK_NB));
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		if (errno == EWOULDBLOCK) {
			close(e->fd);
			e->fd = -1;
			strbuf_release(&sb);
			free(run_id);
			return 1;
		}
		err_set(err, NULL, "cannot lock '%s': %s", sb.buf,
			strerror(errno));
		goto fail;
	}
	/* removed while we waited: someone else ended it */
	if (fstat(e->fd, &st) < 0 || st.st_nlink == 0) {
		err_set(err, NULL, "no run '%s' in the registry", run_id);
		goto fail;
	}
	strbuf_reset(&sb);
	struct itest_err perr = ITEST_ERR_INIT;
	if (read_fd(e->fd, &sb, 1 << 20) < 0 ||
	    !(e->doc = json_parse(sb.buf, sb.len, NULL, &perr)) ||
	    e->doc->type != IV_OBJ) {
		/* a broken entry (a full disk?): still ours to remove */
		iv_free(e->doc);
		e->doc = iv_obj();
	}
	e->run_id = run_id;
	e->key = xstrdup(key);
	e->pid = (pid_t)get_int(e->doc, "pid");
	e->start = (unsigned long long)get_int(e->doc, "starttime");
	e->kept = iv_get(e->doc, "kept") &&
		  iv_get(e->doc, "kept")->type == IV_BOOL &&
		  iv_get(e->doc, "kept")->u.b;
	strbuf_release(&sb);
	return 0;
fail:
	strbuf_release(&sb);
	free(run_id);
	runtime_entry_close(e);
	return -1;
}

int runtime_entry_itest_alive(const struct runtime_entry *e)
{
	struct proc_stat ps;
	return e->pid > 0 && runtime_proc_stat(e->pid, &ps) == 0 &&
	       ps.start == e->start && ps.state != 'Z' && ps.state != 'X';
}

int runtime_entry_this_boot(const struct runtime_entry *e)
{
	struct strbuf b = STRBUF_INIT;
	const char *had = iv_strval(iv_get(e->doc, "boot_id"));
	boot_id(&b);
	int same = !had || !*had || !b.len || !strcmp(had, b.buf);
	strbuf_release(&b);
	return same;
}

void runtime_entry_groups(const struct runtime_entry *e,
			  struct runtime_group **v, size_t *n)
{
	struct strbuf sb = STRBUF_INIT, text = STRBUF_INIT;
	size_t alloc = 0;
	*v = NULL;
	*n = 0;
	if (reg_file(&sb, e->key, "pgids") == 0)
		read_path(sb.buf, &text, 1 << 22);
	for (char *p = text.buf; *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		long pgid;
		int sig;
		long long grace;
		unsigned long long start = 0;
		if (sscanf(p, "%ld %d %lld %llu", &pgid, &sig, &grace,
			   &start) >= 3 &&
		    pgid > 1 && sig > 0 && sig < 65) {
			size_t k = 0;
			while (k < *n && (*v)[k].pgid != (pid_t)pgid)
				k++;
			if (k == *n) {
				XGROW(*v, alloc, *n + 1);
				(*n)++;
			}
			(*v)[k] = (struct runtime_group){
				(pid_t)pgid, sig, grace < 0 ? 0 : grace, start};
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	strbuf_release(&sb);
	strbuf_release(&text);
}

struct ivalue *runtime_entry_downs(const struct runtime_entry *e)
{
	struct strbuf sb = STRBUF_INIT, text = STRBUF_INIT;
	struct ivalue *out = iv_arr();
	if (reg_file(&sb, e->key, "") < 0) {
		strbuf_release(&sb);
		return out;
	}
	size_t base = sb.len;
	DIR *d = opendir(sb.buf);
	char **names = NULL;
	size_t n = 0, alloc = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "down-", 5) || len <= 10 ||
		    strcmp(de->d_name + len - 5, ".json"))
			continue;
		XGROW(names, alloc, n + 1);
		names[n++] = xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct itest_err err = ITEST_ERR_INIT;
		strbuf_setlen(&sb, base);
		strbuf_addstr(&sb, names[i]);
		strbuf_reset(&text);
		struct ivalue *v = NULL;
		if (read_path(sb.buf, &text, 1 << 22) == 0)
			v = json_parse(text.buf, text.len, NULL, &err);
		if (v && v->type == IV_OBJ) {
			size_t len = strlen(names[i]);
			iv_set(v, "key", iv_strn(names[i] + 5, len - 10));
			iv_push(out, v);
		} else {
			iv_free(v);
		}
		free(names[i]);
	}
	free(names);
	strbuf_release(&sb);
	strbuf_release(&text);
	return out;
}

void runtime_entry_remove(struct runtime_entry *e)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	if (e->key && run_path(&sb, e->key, "", &err) == 0) {
		remove_dir(sb.buf);
		strbuf_addstr(&sb, ".json");
		unlink(sb.buf);
	}
	strbuf_release(&sb);
	runtime_entry_close(e);
}

void runtime_entry_close(struct runtime_entry *e)
{
	if (e->fd >= 0)
		close(e->fd);
	free(e->run_id);
	free(e->key);
	iv_free(e->doc);
	memset(e, 0, sizeof(*e));
	e->fd = -1;
}

/* ---- locks ---- */

int runtime_lock(const char *name, const char *run_id, int cancel_fd,
		 struct itest_err *err)
{
	struct strbuf path = STRBUF_INIT, holder = STRBUF_INIT;
	int fd = -1, said = 0;
	double first_busy = 0;
	if (runtime_subdir(&path, "locks", err) < 0)
		goto out;
	strbuf_addch(&path, '/');
	add_name(&path, name);
	strbuf_addstr(&path, ".lock");
	fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err_set(err, NULL, "cannot create '%s': %s", path.buf,
			strerror(errno));
		goto out;
	}
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err_set(err, NULL, "cannot lock '%s': %s", path.buf,
				strerror(errno));
			goto fail;
		}
		if (!said) {
			/* the holder writes its run id just after taking
			 * the lock: give it a moment before saying "?" */
			char buf[128];
			ssize_t n = pread(fd, buf, sizeof(buf), 0);
			strbuf_reset(&holder);
			if (n > 0) {
				strbuf_add(&holder, buf, (size_t)n);
				char *nl = strchr(holder.buf, '\n');
				if (nl)
					strbuf_setlen(
						&holder,
						(size_t)(nl - holder.buf));
			}
			if (!first_busy)
				first_busy = now_ms();
			if (holder.len || now_ms() - first_busy > 1000) {
				fprintf(stderr,
					"itest: waiting for lock '%s' (held by "
					"run %s)\n",
					name, holder.len ? holder.buf : "?");
				fflush(stderr);
				said = 1;
			}
		}
		struct pollfd pf = {cancel_fd, POLLIN, 0};
		if (poll(&pf, cancel_fd >= 0 ? 1 : 0, RUNTIME_LOCK_POLL_MS) >
		    0) {
			err_set(err, NULL,
				"interrupted while waiting for lock '%s'",
				name);
			goto fail;
		}
	}
	/* ours: say who holds it */
	if (ftruncate(fd, 0) == 0) {
		char line[128];
		int n = snprintf(line, sizeof(line), "%s\n", run_id);
		if (pwrite(fd, line, (size_t)n, 0) < 0)
			n = 0; /* only for the message of waiting runs */
	}
	goto out;
fail:
	close(fd);
	fd = -1;
out:
	strbuf_release(&path);
	strbuf_release(&holder);
	return fd;
}
