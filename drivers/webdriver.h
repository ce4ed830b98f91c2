/*
 * A small W3C WebDriver client over HTTP (libcurl): sessions, navigation,
 * element look-ups and actions, scripts, screenshots, alerts.  One client
 * talks to one endpoint and holds at most one session; it is used by one
 * thread at a time.  Every call is bounded by the client's deadline and
 * ends early when its cancel fd turns readable (wd_limits).
 *
 * Calls return 0, or -1 with the reason in the client: wd_error() is the
 * W3C error code ("no such element", "javascript error", ...) or one of
 * the client's own: "interrupted", "timeout" (the deadline passed before
 * an answer), "transport" (no answer: refused, reset), "protocol" (an
 * answer that is not WebDriver's); wd_message() is the text to show.
 */
#ifndef ITEST_WEBDRIVER_H
#define ITEST_WEBDRIVER_H

#include "value.h"

/* The key of an element reference in WebDriver's JSON. */
#define WD_ELEMENT_KEY "element-6066-11e4-a52e-4f735466cecf"

struct wd_client;

/* A client of the endpoint `base` ("http://127.0.0.1:9515", without a
 * trailing slash); caller owns it (wd_free). */
struct wd_client *wd_new(const char *base);
/* Frees the client; it does not end its session.  Accepts NULL. */
void wd_free(struct wd_client *c);

const char *wd_base(const struct wd_client *c);
/* The session id, or NULL. */
const char *wd_session(const struct wd_client *c);

/* Bounds the calls that follow: `deadline` is a now_ms() time (0: none);
 * `cancel_fd` (-1: none) ends a call once readable. */
void wd_limits(struct wd_client *c, double deadline, int cancel_fd);

const char *wd_error(const struct wd_client *c);
const char *wd_message(const struct wd_client *c);
/* Is the last error this code? */
int wd_is(const struct wd_client *c, const char *code);

/*
 * The generic call: METHOD base/PATH with a JSON body (NULL: none for
 * GET and DELETE, {} for POST).  "/session/ID" is put before a path that
 * starts with '/' when a session is open ("/" alone is the session
 * itself); other paths ("status", "session") follow the base.  *out (may
 * be NULL) gets the answer's `value` (caller owns it).
 */
int wd_call(struct wd_client *c, const char *method, const char *path,
	    const struct ivalue *body, struct ivalue **out);

/* GET /status: 0 with *ready set. */
int wd_status(struct wd_client *c, int *ready);

/* POST /session with {"capabilities": {"alwaysMatch": caps}}; *out (may
 * be NULL) gets the capabilities the endpoint answered. */
int wd_session_new(struct wd_client *c, const struct ivalue *caps,
		   struct ivalue **out);
/* DELETE the session (no error when there is none). */
int wd_session_delete(struct wd_client *c);
/* Forgets the session without a call (its endpoint is gone). */
void wd_session_forget(struct wd_client *c);

int wd_navigate(struct wd_client *c, const char *url);

/*
 * Element look-ups: `using` is a W3C strategy ("css selector", "xpath",
 * "link text"); `from` an element id to search below, or NULL.  *id is
 * malloc'd.  wd_find_all fills a NULL-terminated array of ids.
 */
int wd_find(struct wd_client *c, const char *using, const char *value,
	    const char *from, char **id);
int wd_find_all(struct wd_client *c, const char *using, const char *value,
		const char *from, char ***ids, size_t *n);
void wd_ids_free(char **ids, size_t n);

int wd_click(struct wd_client *c, const char *id);
int wd_clear(struct wd_client *c, const char *id);
int wd_send_keys(struct wd_client *c, const char *id, const char *text);
/* GET /element/ID/WHAT: "text", "displayed", "enabled", "name",
 * "property/NAME", "attribute/NAME", "css/NAME"; *out is its value. */
int wd_element_get(struct wd_client *c, const char *id, const char *what,
		   struct ivalue **out);

/* POST /execute/sync; `args` an array or NULL; *out its return value. */
int wd_execute(struct wd_client *c, const char *script,
	       const struct ivalue *args, struct ivalue **out);

/* The element id in a value that is an element reference, or NULL. */
const char *wd_element_id(const struct ivalue *v);

/* GET title / url / source as a string (caller frees). */
int wd_get_text(struct wd_client *c, const char *what, char **out);

/* The screenshot as PNG bytes (decoded from base64). */
int wd_screenshot(struct wd_client *c, struct strbuf *png);

/* Alerts: "accept" or "dismiss"; wd_alert_text gets its text. */
int wd_alert(struct wd_client *c, const char *what);
int wd_alert_text(struct wd_client *c, char **out);

/* Decodes base64 (RFC 4648; white space skipped).  0, or -1 on a bad
 * character. */
int wd_base64_decode(struct strbuf *out, const char *s, size_t len);

#endif
