/*
 * shop-web, layer 2 of the shop demo: the shop's web page and the small
 * JSON API behind it, which forwards to the orders service.
 *
 *   GET  /                 the page "Shop": a form (#size, #qty, #reserve)
 *                          whose script POSTs to /api/reserve and shows
 *                          "Reserved order N" or the error in #result
 *   POST /api/reserve      {"sku","qty"} -> orders POST /orders; its answer
 *                          is passed through (502 when orders is down)
 *   GET  /api/orders       -> orders GET /orders
 *   GET  /api/orders/ID    -> orders GET /orders/ID
 *   GET  /health           200 {"status":"ok","service":"web"}
 *
 * Fail mode `wrong-field`: forwards {"item","quantity"} instead of
 * {"sku","qty"}, so the orders service answers 400.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORDERS_TIMEOUT_MS 5000

struct web {
	const char *orders; /* base URL */
	int wrong_field;    /* fail mode */
};

/* The whole page: no external resources, plain JavaScript. */
static const char web_page[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n"
	"<head>\n"
	"<meta charset=\"utf-8\">\n"
	"<title>Shop</title>\n"
	"<link rel=\"icon\" href=\"data:,\">\n"
	"<style>\n"
	"body { font-family: sans-serif; margin: 2em; }\n"
	"label { display: block; margin-top: 0.5em; }\n"
	"#result { margin-top: 1em; padding: 0.5em; }\n"
	"#result.ok { background: #dfd; }\n"
	"#result.error { background: #fdd; }\n"
	"</style>\n"
	"</head>\n"
	"<body>\n"
	"<h1>Welcome to the shop</h1>\n"
	"<form id=\"order\" action=\"/api/reserve\" method=\"post\">\n"
	"<label for=\"size\">Size</label>\n"
	"<select id=\"size\" name=\"sku\">\n"
	"<option value=\"A1\">Small</option>\n"
	"<option value=\"B7\">Large</option>\n"
	"</select>\n"
	"<label for=\"qty\">Quantity</label>\n"
	"<input id=\"qty\" name=\"qty\" type=\"text\" inputmode=\"numeric\" "
	"placeholder=\"1\">\n"
	"<button id=\"reserve\" type=\"submit\">Reserve</button>\n"
	"</form>\n"
	"<div id=\"result\" hidden></div>\n"
	"<script>\n"
	"document.getElementById('order').addEventListener('submit',\n"
	"  function (ev) {\n"
	"    ev.preventDefault();\n"
	"    var result = document.getElementById('result');\n"
	"    var button = document.getElementById('reserve');\n"
	"    var raw = document.getElementById('qty').value.trim();\n"
	"    var body = {\n"
	"      sku: document.getElementById('size').value,\n"
	"      qty: raw === '' ? 1 : Number(raw)\n"
	"    };\n"
	"    result.hidden = true;\n"
	"    button.disabled = true;\n"
	"    fetch('/api/reserve', {\n"
	"      method: 'POST',\n"
	"      headers: { 'Content-Type': 'application/json' },\n"
	"      body: JSON.stringify(body)\n"
	"    }).then(function (r) {\n"
	"      return r.json().then(function (j) {\n"
	"        return { ok: r.ok, json: j };\n"
	"      });\n"
	"    }).then(function (a) {\n"
	"      var j = a.json;\n"
	"      result.className = a.ok ? 'ok' : 'error';\n"
	"      if (a.ok) {\n"
	"        result.textContent = 'Reserved order ' + j.id;\n"
	"      } else {\n"
	"        result.textContent = 'Error: ' + (j.error || 'unknown') +\n"
	"          (j.available !== undefined ?\n"
	"           ' (available: ' + j.available + ')' : '');\n"
	"      }\n"
	"    }).catch(function (e) {\n"
	"      result.className = 'error';\n"
	"      result.textContent = 'Error: ' + e.message;\n"
	"    }).then(function () {\n"
	"      result.hidden = false;\n"
	"      button.disabled = false;\n"
	"    });\n"
	"  });\n"
	"</script>\n"
	"</body>\n"
	"</html>\n";

/* Calls the orders service and passes its JSON answer on. */
static void web_forward(const struct web *w, const char *method,
			const char *path, const char *body,
			struct common_resp *rs)
{
	size_t n = strlen(w->orders) + strlen(path) + 1;
	char *url = malloc(n);
	struct common_reply rep;
	cJSON *v;

	if (!url)
		abort();
	snprintf(url, n, "%s%s", w->orders, path);
	if (common_fetch(method, url, body, ORDERS_TIMEOUT_MS, &rep)) {
		fprintf(stderr, "shop-web: %s %s: %s\n", method, url,
			rep.error);
		v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "error", "orders unavailable");
		cJSON_AddStringToObject(v, "detail", rep.error);
		common_json(rs, 502, v);
	} else if ((v = cJSON_ParseWithLength(rep.body, rep.body_len)) &&
		   rep.status >= 200 && rep.status <= 599) {
		common_json(rs, (unsigned)rep.status, v);
	} else {
		cJSON_Delete(v);
		v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "error",
					"orders answered something that is "
					"not JSON");
		cJSON_AddNumberToObject(v, "orders_status", (double)rep.status);
		common_json(rs, 502, v);
	}
	common_reply_release(&rep);
	free(url);
}

static void web_reserve(const struct web *w, const struct common_req *rq,
			struct common_resp *rs)
{
	cJSON *in = cJSON_ParseWithLength(rq->body, rq->body_len), *out;
	cJSON *sku = cJSON_GetObjectItemCaseSensitive(in, "sku");
	cJSON *qty = cJSON_GetObjectItemCaseSensitive(in, "qty");
	char *body;

	if (!cJSON_IsObject(in)) {
		common_error(rs, 400, "the body must be a JSON object");
		cJSON_Delete(in);
		return;
	}
	/* the orders service checks the values */
	out = cJSON_CreateObject();
	if (sku)
		cJSON_AddItemToObject(out, w->wrong_field ? "item" : "sku",
				      cJSON_Duplicate(sku, 1));
	if (qty)
		cJSON_AddItemToObject(out, w->wrong_field ? "quantity" : "qty",
				      cJSON_Duplicate(qty, 1));
	body = cJSON_PrintUnformatted(out);
	if (!body)
		abort();
	web_forward(w, "POST", "/orders", body, rs);
	free(body);
	cJSON_Delete(out);
	cJSON_Delete(in);
}

static void web_order(const struct web *w, const char *arg,
		      struct common_resp *rs)
{
	char path[64];
	long id = common_parse_id(arg);
	if (!id) {
		common_error(rs, 404, "no order '%s'", arg);
		return;
	}
	snprintf(path, sizeof(path), "/orders/%ld", id);
	web_forward(w, "GET", path, NULL, rs);
}

static void web_handle(void *ctx, const struct common_req *rq,
		       struct common_resp *rs)
{
	const struct web *w = ctx;
	int get = !strcmp(rq->method, "GET");
	const char *arg;

	if (!strcmp(rq->path, "/") || !strcmp(rq->path, "/index.html")) {
		if (get)
			common_text(rs, 200, "text/html; charset=utf-8",
				    web_page);
		else
			common_no_route(rs, rq, 1);
	} else if (!strcmp(rq->path, "/health")) {
		if (get)
			common_health(rs, "web");
		else
			common_no_route(rs, rq, 1);
	} else if (!strcmp(rq->path, "/api/reserve")) {
		if (!strcmp(rq->method, "POST"))
			web_reserve(w, rq, rs);
		else
			common_no_route(rs, rq, 1);
	} else if (!strcmp(rq->path, "/api/orders")) {
		if (get)
			web_forward(w, "GET", "/orders", NULL, rs);
		else
			common_no_route(rs, rq, 1);
	} else if ((arg = common_path_arg(rq->path, "/api/orders/"))) {
		if (get)
			web_order(w, arg, rs);
		else
			common_no_route(rs, rq, 1);
	} else {
		common_no_route(rs, rq, 0);
	}
}

int main(int argc, char **argv)
{
	static const char *const modes[] = {"wrong-field", NULL};
	static const struct common_service svc = {
		"web", 8080, "orders", 8081, 0, modes,
	};
	struct common_opts o;
	struct web w;
	int status;

	if (common_opts_parse(&o, &svc, argc, argv, &status))
		return status;
	if (common_client_init()) {
		common_opts_release(&o);
		return 1;
	}
	w.orders = o.need_url;
	w.wrong_field = o.fail_mode && !strcmp(o.fail_mode, "wrong-field");
	status = common_serve(&svc, &o, web_handle, &w);
	common_client_cleanup();
	common_opts_release(&o);
	return status;
}
