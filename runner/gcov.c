/*
 * Code coverage of gcov-built components: .gcda files to lcov.info and
 * cobertura.xml (see gcov.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "gcov.h"
#include "spawn.h"
#include "value.h"

/* One source file: its executable lines and their counts. */
struct src_file {
	char *path;
	int64_t *count; /* by line number; -1: not an executable line */
	size_t nlines;	/* highest line + 1 */
};

struct gcov_state {
	struct src_file *files;
	size_t nfiles;
	struct gcov_summary *sum;
	struct strbuf *notes;
};

static struct src_file *file_get(struct gcov_state *g, const char *path)
{
	for (size_t i = 0; i < g->nfiles; i++)
		if (!strcmp(g->files[i].path, path))
			return &g->files[i];
	g->files = xrealloc(g->files, (g->nfiles + 1) * sizeof(*g->files));
	struct src_file *f = &g->files[g->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path);
	return f;
}

static void add_line(struct src_file *f, int64_t line, int64_t count)
{
	if (line < 1 || line > 10000000)
		return;
	if ((size_t)line >= f->nlines) {
		size_t n = (size_t)line + 1;
		f->count = xrealloc(f->count, n * sizeof(*f->count));
		for (size_t i = f->nlines; i < n; i++)
			f->count[i] = -1;
		f->nlines = n;
	}
	if (f->count[line] < 0)
		f->count[line] = 0;
	f->count[line] += count > 0 ? count : 0;
}

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, ret = -1;
	char buf[65536];
	ssize_t n;
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		goto done;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto done;
	ret = n < 0 ? -1 : 0;
done:
	close(in);
	if (out >= 0 && close(out) < 0)
		ret = -1;
	return ret;
}

/* Reads gcov's JSON for one .gcda into the per-line counts. */
static void add_json(struct gcov_state *g, const char *text, size_t len,
		     const char *gcda)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = json_parse(text, len, NULL, &err);
	if (!doc) {
		strbuf_addf(g->notes, "gcov gave no JSON for %s: %s\n", gcda,
			    err.msg);
		return;
	}
	const char *cwd = iv_strval(iv_get(doc, "current_working_directory"));
	const struct ivalue *files = iv_get(doc, "files");
	for (size_t i = 0; files && files->type == IV_ARR && i < files->u.arr.n;
	     i++) {
		const struct ivalue *f = files->u.arr.v[i];
		const char *name = iv_strval(iv_get(f, "file"));
		const struct ivalue *lines = iv_get(f, "lines");
		if (!name || !lines || lines->type != IV_ARR)
			continue;
		char *path = name[0] == '/' || !cwd
				     ? xstrdup(name)
				     : xasprintf("%s/%s", cwd, name);
		struct src_file *sf = file_get(g, path);
		free(path);
		for (size_t k = 0; k < lines->u.arr.n; k++) {
			const struct ivalue *l = lines->u.arr.v[k];
			const struct ivalue *no = iv_get(l, "line_number");
			const struct ivalue *c = iv_get(l, "count");
			if (no && c && (no->flags & IVF_INT) &&
			    (c->flags & IVF_INT))
				add_line(sf, no->u.num.i, c->u.num.i);
		}
	}
	iv_free(doc);
}

/*
 * One .gcda under `prefix`: the process wrote PREFIX/ORIGINAL, where
 * ORIGINAL is where the build put the object's notes (.gcno).
 */
static void one_gcda(struct gcov_state *g, const char *prefix, const char *gcda)
{
	size_t pl = strlen(prefix);
	const char *orig = gcda + pl; /* "/abs/build/dir/x.gcda" */
	size_t ol = strlen(orig);
	char *notes_from = xasprintf("%.*s.gcno", (int)(ol - 5), orig);
	char *notes_to = xasprintf("%.*s.gcno", (int)(strlen(gcda) - 5), gcda);
	g->sum->gcda++;
	if (access(notes_to, R_OK) && copy_file(notes_from, notes_to) < 0) {
		g->sum->missing_gcno++;
		strbuf_addf(g->notes, "no %s for %s\n", notes_from, gcda);
		goto out;
	}
	char *dir = xstrdup(gcda);
	*strrchr(dir, '/') = '\0';
	const char *argv[] = {"gcov", "--json-format", "--stdout", gcda, NULL};
	struct spawn_opts o = {0};
	struct spawn_result r;
	struct itest_err err = ITEST_ERR_INIT;
	o.argv = argv;
	o.cwd = dir;
	o.cancel_fd = -1;
	o.out_cap = (size_t)256 << 20;
	o.timeout_ms = 60000;
	spawn_result_init(&r);
	if (spawn_run(&o, &r, &err) < 0)
		strbuf_addf(g->notes, "%s\n", err.msg);
	else if (!r.exited || r.status)
		strbuf_addf(g->notes, "gcov failed on %s\n", gcda);
	else
		add_json(g, r.out.buf, r.out.len, gcda);
	spawn_result_release(&r);
	free(dir);
out:
	free(notes_from);
	free(notes_to);
}

/* Every .gcda below `dir`, for the prefix `prefix` (depth-first). */
static void walk(struct gcov_state *g, const char *prefix, const char *dir,
		 int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d || depth > 64) {
		if (d)
			closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		size_t n = strlen(e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			walk(g, prefix, p, depth + 1);
		else if (n > 5 && !strcmp(e->d_name + n - 5, ".gcda"))
			one_gcda(g, prefix, p);
		free(p);
	}
	closedir(d);
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct src_file *)a)->path,
		      ((const struct src_file *)b)->path);
}

static void file_counts(const struct src_file *f, size_t *lines,
			size_t *covered)
{
	*lines = *covered = 0;
	for (size_t i = 1; i < f->nlines; i++)
		if (f->count[i] >= 0) {
			(*lines)++;
			*covered += f->count[i] > 0;
		}
}

static void write_lcov(const struct gcov_state *g, struct strbuf *out)
{
	strbuf_addstr(out, "TN:itest\n");
	for (size_t i = 0; i < g->nfiles; i++) {
		const struct src_file *f = &g->files[i];
		size_t lines, covered;
		file_counts(f, &lines, &covered);
		strbuf_addf(out, "SF:%s\n", f->path);
		for (size_t l = 1; l < f->nlines; l++)
			if (f->count[l] >= 0)
				strbuf_addf(out, "DA:%zu,%lld\n", l,
					    (long long)f->count[l]);
		strbuf_addf(out, "LF:%zu\nLH:%zu\nend_of_record\n", lines,
			    covered);
	}
}

static double rate(size_t covered, size_t lines)
{
	return lines ? (double)covered / (double)lines : 1.0;
}

static void write_cobertura(const struct gcov_state *g, struct strbuf *out)
{
	const struct gcov_summary *s = g->sum;
	strbuf_addf(out,
		    "<?xml version=\"1.0\" ?>\n"
		    "<!DOCTYPE coverage SYSTEM "
		    "\"http://cobertura.sourceforge.net/xml/"
		    "coverage-04.dtd\">\n"
		    "<coverage line-rate=\"%.4f\" branch-rate=\"0\" "
		    "lines-covered=\"%zu\" lines-valid=\"%zu\" "
		    "branches-covered=\"0\" branches-valid=\"0\" "
		    "complexity=\"0\" version=\"itest " ITEST_VERSION "\" "
		    "timestamp=\"%lld\">\n"
		    "  <sources><source>/</source></sources>\n"
		    "  <packages>\n",
		    rate(s->covered, s->lines), s->covered, s->lines,
		    (long long)time(NULL));
	/* one package per folder, one class per file */
	for (size_t i = 0; i < g->nfiles;) {
		const char *slash = strrchr(g->files[i].path, '/');
		size_t dl = slash ? (size_t)(slash - g->files[i].path) : 0;
		size_t j = i, plines = 0, pcov = 0;
		while (j < g->nfiles &&
		       !strncmp(g->files[j].path, g->files[i].path, dl) &&
		       strrchr(g->files[j].path, '/') ==
			       g->files[j].path + dl) {
			size_t l, c;
			file_counts(&g->files[j], &l, &c);
			plines += l;
			pcov += c;
			j++;
		}
		strbuf_addstr(out, "    <package name=\"");
		strbuf_add_xml_escaped(out, g->files[i].path, dl);
		strbuf_addf(out,
			    "\" line-rate=\"%.4f\" branch-rate=\"0\" "
			    "complexity=\"0\">\n      <classes>\n",
			    rate(pcov, plines));
		for (size_t k = i; k < j; k++) {
			const struct src_file *f = &g->files[k];
			size_t l, c;
			file_counts(f, &l, &c);
			const char *base = f->path + dl + (dl ? 1 : 0);
			strbuf_addstr(out, "        <class name=\"");
			strbuf_add_xml_escaped(out, base, strlen(base));
			/* relative to the one <source>, "/" */
			strbuf_addstr(out, "\" filename=\"");
			const char *rel =
				f->path[0] == '/' ? f->path + 1 : f->path;
			strbuf_add_xml_escaped(out, rel, strlen(rel));
			strbuf_addf(out,
				    "\" line-rate=\"%.4f\" branch-rate=\"0\" "
				    "complexity=\"0\">\n          <methods/>\n"
				    "          <lines>\n",
				    rate(c, l));
			for (size_t n = 1; n < f->nlines; n++)
				if (f->count[n] >= 0)
					strbuf_addf(out,
						    "            <line number="
						    "\"%zu\" hits=\"%lld\"/>\n",
						    n, (long long)f->count[n]);
			strbuf_addstr(out, "          </lines>\n"
					   "        </class>\n");
		}
		strbuf_addstr(out, "      </classes>\n    </package>\n");
		i = j;
	}
	strbuf_addstr(out, "  </packages>\n</coverage>\n");
}

int gcov_collect(const char *run_dir, const struct masker *mask,
		 struct gcov_summary *sum, struct strbuf *notes,
		 struct itest_err *err)
{
	struct gcov_state g = {NULL, 0, sum, notes};
	char *root = xasprintf("%s/coverage/gcov", run_dir);
	int ret = 0;
	memset(sum, 0, sizeof(*sum));
	/* RUN_DIR/coverage/gcov/SUITE/COMPONENT is each prefix */
	DIR *d = opendir(root);
	struct dirent *s, *c;
	while (d && (s = readdir(d))) {
		if (s->d_name[0] == '.')
			continue;
		char *sdir = xasprintf("%s/%s", root, s->d_name);
		DIR *d2 = opendir(sdir);
		while (d2 && (c = readdir(d2))) {
			if (c->d_name[0] == '.')
				continue;
			char *prefix = xasprintf("%s/%s", sdir, c->d_name);
			walk(&g, prefix, prefix, 0);
			free(prefix);
		}
		if (d2)
			closedir(d2);
		free(sdir);
	}
	if (d)
		closedir(d);
	free(root);
	if (g.nfiles) {
		struct strbuf out = STRBUF_INIT, path = STRBUF_INIT;
		if (g.nfiles > 1)
			qsort(g.files, g.nfiles, sizeof(*g.files), cmp_file);
		sum->files = g.nfiles;
		for (size_t i = 0; i < g.nfiles; i++) {
			size_t l, cov;
			file_counts(&g.files[i], &l, &cov);
			sum->lines += l;
			sum->covered += cov;
		}
		write_lcov(&g, &out);
		strbuf_addf(&path, "%s/coverage/lcov.info", run_dir);
		ret = mask_write_file(mask, path.buf, &out, err);
		strbuf_reset(&out);
		strbuf_reset(&path);
		if (!ret) {
			write_cobertura(&g, &out);
			strbuf_addf(&path, "%s/coverage/cobertura.xml",
				    run_dir);
			ret = mask_write_file(mask, path.buf, &out, err);
		}
		strbuf_release(&out);
		strbuf_release(&path);
	}
	for (size_t i = 0; i < g.nfiles; i++) {
		free(g.files[i].path);
		free(g.files[i].count);
	}
	free(g.files);
	return ret;
}
