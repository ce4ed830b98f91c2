/*
 * The reference for the browser benchmark: the WebDriver calls of N
 * `browser` steps made by a plain libcurl loop in one process, with
 * nothing around them.  It opens a session on a running chromedriver,
 * loads the page, then times N rounds of
 *
 *   click:  POST /element {css selector #b}, POST /element/ID/click
 *   script: POST /execute/sync "return 1" (checking the answer is 1)
 *
 * on one kept-alive connection, prints the milliseconds of those N
 * rounds and ends the session.  `itest run` on N equivalent steps is
 * measured against it (bench/browser/run).  Deliberately uses nothing
 * of itest.
 *
 * Usage: bench-wdloop WEBDRIVER_URL PAGE_URL N click|script CAPS_JSON
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define ELEMENT_KEY "\"element-6066-11e4-a52e-4f735466cecf\":\""

struct buf {
	char *p;
	size_t len, alloc;
};

static double clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct buf *b = data;
	size_t k = size * n;
	if (b->len + k + 1 > b->alloc) {
		size_t a = (b->len + k + 1) * 2;
		char *q = realloc(b->p, a);
		if (!q)
			return 0;
		b->p = q;
		b->alloc = a;
	}
	memcpy(b->p + b->len, p, k);
	b->len += k;
	b->p[b->len] = 0;
	return k;
}

/* One call; exits on anything but 200.  The answer is in *b. */
static void call(CURL *e, const char *method, const char *url, const char *body,
		 struct buf *b)
{
	long status = 0;
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	CURLcode rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		fprintf(stderr, "bench-wdloop: %s %s: %s (HTTP %ld) %s\n",
			method, url, curl_easy_strerror(rc), status,
			b->p ? b->p : "");
		exit(1);
	}
}

/* The string after `key` in the answer, up to its closing quote. */
static char *after(const struct buf *b, const char *key, char *out, size_t n)
{
	const char *p = b->p ? strstr(b->p, key) : NULL;
	if (!p)
		return NULL;
	p += strlen(key);
	size_t k = strcspn(p, "\"");
	if (k >= n)
		return NULL;
	memcpy(out, p, k);
	out[k] = 0;
	return out;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct buf b = {0};
	char chunk[4096];
	size_t k;
	if (!f)
		return NULL;
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		on_body(chunk, 1, k, &b);
	fclose(f);
	return b.p;
}

int main(int argc, char **argv)
{
	if (argc != 6 ||
	    (strcmp(argv[4], "click") && strcmp(argv[4], "script"))) {
		fprintf(stderr, "usage: bench-wdloop WEBDRIVER_URL PAGE_URL N "
				"click|script CAPS_JSON\n");
		return 2;
	}
	const char *wd = argv[1], *page = argv[2];
	long n = strtol(argv[3], NULL, 10);
	int click = !strcmp(argv[4], "click");
	char *caps = read_file(argv[5]);
	if (n <= 0 || !caps) {
		fprintf(stderr, "bench-wdloop: bad N or caps file\n");
		return 2;
	}
	char url[512], sid[128], id[256], body[1024];
	struct buf b = {0};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *e = curl_easy_init();
	struct curl_slist *h = curl_slist_append(
		NULL, "Content-Type: application/json; charset=utf-8");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");

	snprintf(url, sizeof(url), "%s/session", wd);
	call(e, "POST", url, caps, &b);
	if (!after(&b, "\"sessionId\":\"", sid, sizeof(sid))) {
		fprintf(stderr, "bench-wdloop: no session id in %s\n", b.p);
		return 1;
	}
	snprintf(url, sizeof(url), "%s/session/%s/url", wd, sid);
	snprintf(body, sizeof(body), "{\"url\":\"%s\"}", page);
	call(e, "POST", url, body, &b);

	char find_url[512], exec_url[512];
	snprintf(find_url, sizeof(find_url), "%s/session/%s/element", wd, sid);
	snprintf(exec_url, sizeof(exec_url), "%s/session/%s/execute/sync", wd,
		 sid);
	double t0 = clock_ms();
	for (long i = 0; i < n; i++) {
		if (click) {
			call(e, "POST", find_url,
			     "{\"using\":\"css selector\",\"value\":\"#b\"}",
			     &b);
			if (!after(&b, ELEMENT_KEY, id, sizeof(id))) {
				fprintf(stderr, "bench-wdloop: no element\n");
				return 1;
			}
			snprintf(url, sizeof(url),
				 "%s/session/%s/element/%s/click", wd, sid, id);
			call(e, "POST", url, "{}", &b);
		} else {
			call(e, "POST", exec_url,
			     "{\"script\":\"return 1\",\"args\":[]}", &b);
			if (!strstr(b.p, "\"value\":1")) {
				fprintf(stderr, "bench-wdloop: got %s\n", b.p);
				return 1;
			}
		}
	}
	double ms = clock_ms() - t0;

	snprintf(url, sizeof(url), "%s/session/%s", wd, sid);
	call(e, "DELETE", url, NULL, &b);
	printf("%.3f\n", ms);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	curl_global_cleanup();
	free(b.p);
	free(caps);
	return 0;
}
