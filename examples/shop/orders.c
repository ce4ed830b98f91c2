/*
 * shop-orders, layer 1 of the shop demo: takes orders and reserves their
 * stock at the inventory service (POST /reservations, 2 s timeout).
 * Orders live in memory, and in DIR/orders.json with --data DIR.
 *
 *   GET  /health        200 {"status":"ok","service":"orders"} (does not
 *                       call the inventory)
 *   POST /orders        {"sku":"A1","qty":2}
 *                       201 {"id":N,"status":"reserved","sku","qty"}
 *                       400 bad input; 404 and 409 passed through from
 *                       the inventory; 502 when the inventory is down or
 *                       refuses the call
 *   GET  /orders        200 [order...]
 *   GET  /orders/ID     200 order | 404
 *
 * Fail mode `wrong-field`: asks the inventory with {"item","quantity"}
 * instead of {"sku","qty"}, a broken interface (the inventory answers 400).
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORDERS_FILE	     "orders.json"
#define QTY_MAX		     1000000
#define INVENTORY_TIMEOUT_MS 2000

struct orders {
	pthread_mutex_t lock;
	cJSON *list;	       /* [{"id","status","sku","qty"}...] */
	long next_id;	       /* of the next order */
	const char *dir;       /* NULL: kept in memory only */
	const char *inventory; /* base URL */
	int wrong_field;       /* fail mode */
};

/* Loads DIR/orders.json ({"next_id": N, "orders": [...]}) if there. */
static int orders_open(struct orders *os, const struct common_opts *o)
{
	cJSON *doc = NULL;
	const cJSON *list, *next;

	memset(os, 0, sizeof(*os));
	pthread_mutex_init(&os->lock, NULL);
	os->dir = o->data;
	os->inventory = o->need_url;
	os->wrong_field = o->fail_mode && !strcmp(o->fail_mode, "wrong-field");
	os->next_id = 1;
	if (os->dir && common_mkdirs(os->dir)) {
		perror(os->dir);
		return -1;
	}
	if (os->dir && common_load_json(os->dir, ORDERS_FILE, &doc))
		return -1;
	if (!doc) {
		os->list = cJSON_CreateArray();
		return 0;
	}
	list = cJSON_GetObjectItemCaseSensitive(doc, "orders");
	next = cJSON_GetObjectItemCaseSensitive(doc, "next_id");
	if (!cJSON_IsArray(list) || !common_positive_int(next, 1L << 30)) {
		fprintf(stderr,
			"shop-orders: '%s/" ORDERS_FILE "' needs "
			"'orders' (an array) and 'next_id' (a "
			"positive integer)\n",
			os->dir);
		cJSON_Delete(doc);
		return -1;
	}
	os->next_id = common_positive_int(next, 1L << 30);
	os->list = cJSON_DetachItemViaPointer(doc, (cJSON *)list);
	cJSON_Delete(doc);
	return 0;
}

static void orders_close(struct orders *os)
{
	cJSON_Delete(os->list);
	pthread_mutex_destroy(&os->lock);
}

/* Writes the orders to the data folder, if any (lock held). */
static void orders_save(struct orders *os)
{
	if (!os->dir)
		return;
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "next_id", (double)os->next_id);
	cJSON_AddItemReferenceToObject(doc, "orders", os->list);
	if (common_save_json(os->dir, ORDERS_FILE, doc))
		fprintf(stderr, "shop-orders: the orders are kept in memory "
				"only\n");
	cJSON_Delete(doc);
}

/* The body of the reservation request, in the right or the wrong form. */
static char *orders_reservation_body(const struct orders *os, const char *sku,
				     long qty)
{
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, os->wrong_field ? "item" : "sku", sku);
	cJSON_AddNumberToObject(v, os->wrong_field ? "quantity" : "qty",
				(double)qty);
	char *s = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	if (!s)
		abort();
	return s;
}

/* Records the new order and answers with it. */
static void orders_add(struct orders *os, const char *sku, long qty,
		       struct common_resp *rs)
{
	cJSON *order = cJSON_CreateObject();
	pthread_mutex_lock(&os->lock);
	cJSON_AddNumberToObject(order, "id", (double)os->next_id++);
	cJSON_AddStringToObject(order, "status", "reserved");
	cJSON_AddStringToObject(order, "sku", sku);
	cJSON_AddNumberToObject(order, "qty", (double)qty);
	cJSON_AddItemToArray(os->list, cJSON_Duplicate(order, 1));
	orders_save(os);
	pthread_mutex_unlock(&os->lock);
	common_json(rs, 201, order);
}

/* Answers from what the inventory said to the reservation. */
static void orders_after_inventory(struct orders *os, const char *sku, long qty,
				   const struct common_reply *rep,
				   struct common_resp *rs)
{
	cJSON *in = cJSON_ParseWithLength(rep->body, rep->body_len);
	const cJSON *why = cJSON_GetObjectItemCaseSensitive(in, "error");

	if (rep->status == 201) {
		orders_add(os, sku, qty, rs);
	} else if ((rep->status == 404 || rep->status == 409) &&
		   cJSON_IsObject(in)) {
		common_json(rs, (unsigned)rep->status, in);
		in = NULL;
	} else {
		cJSON *v = cJSON_CreateObject();
		cJSON_AddStringToObject(v, "error",
					"inventory refused the reservation");
		cJSON_AddNumberToObject(v, "inventory_status",
					(double)rep->status);
		if (cJSON_IsString(why))
			cJSON_AddStringToObject(v, "inventory_error",
						why->valuestring);
		size_t n = rep->body_len < 200 ? rep->body_len : 200;
		while (n &&
		       (rep->body[n - 1] == '\n' || rep->body[n - 1] == '\r'))
			n--;
		fprintf(stderr,
			"shop-orders: inventory answered %ld to the "
			"reservation: %.*s\n",
			rep->status, (int)n, rep->body);
		common_json(rs, 502, v);
	}
	cJSON_Delete(in);
}

static void orders_create(struct orders *os, const struct common_req *rq,
			  struct common_resp *rs)
{
	cJSON *in = cJSON_ParseWithLength(rq->body, rq->body_len);
	const cJSON *sku = cJSON_GetObjectItemCaseSensitive(in, "sku");
	long qty = common_positive_int(
		cJSON_GetObjectItemCaseSensitive(in, "qty"), QTY_MAX);
	struct common_reply rep;
	char *url, *body;
	size_t n;

	if (!cJSON_IsObject(in))
		common_error(rs, 400, "the body must be a JSON object");
	else if (!cJSON_IsString(sku) || !*sku->valuestring)
		common_error(rs, 400, "'sku' must be a non-empty string");
	else if (!qty)
		common_error(rs, 400,
			     "'qty' must be a positive integer "
			     "(at most %d)",
			     QTY_MAX);
	if (rs->body) {
		cJSON_Delete(in);
		return;
	}
	n = strlen(os->inventory) + sizeof("/reservations");
	url = malloc(n);
	if (!url)
		abort();
	snprintf(url, n, "%s/reservations", os->inventory);
	body = orders_reservation_body(os, sku->valuestring, qty);
	if (common_fetch("POST", url, body, INVENTORY_TIMEOUT_MS, &rep)) {
		cJSON *v = cJSON_CreateObject();
		fprintf(stderr, "shop-orders: POST %s: %s\n", url, rep.error);
		cJSON_AddStringToObject(v, "error", "inventory unavailable");
		cJSON_AddStringToObject(v, "detail", rep.error);
		common_json(rs, 502, v);
	} else {
		orders_after_inventory(os, sku->valuestring, qty, &rep, rs);
	}
	common_reply_release(&rep);
	free(body);
	free(url);
	cJSON_Delete(in);
}

static void orders_list(struct orders *os, struct common_resp *rs)
{
	pthread_mutex_lock(&os->lock);
	cJSON *v = cJSON_Duplicate(os->list, 1);
	pthread_mutex_unlock(&os->lock);
	common_json(rs, 200, v);
}

static void orders_get(struct orders *os, const char *arg,
		       struct common_resp *rs)
{
	long id = common_parse_id(arg);
	cJSON *found = NULL, *o;
	pthread_mutex_lock(&os->lock);
	cJSON_ArrayForEach(o, os->list)
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "id");
		if (id && cJSON_IsNumber(v) && v->valuedouble == (double)id) {
			found = cJSON_Duplicate(o, 1);
			break;
		}
	}
	pthread_mutex_unlock(&os->lock);
	if (found)
		common_json(rs, 200, found);
	else
		common_error(rs, 404, "no order '%s'", arg);
}

static void orders_handle(void *ctx, const struct common_req *rq,
			  struct common_resp *rs)
{
	struct orders *os = ctx;
	int get = !strcmp(rq->method, "GET");
	const char *arg;

	if (!strcmp(rq->path, "/health")) {
		if (get)
			common_health(rs, "orders");
		else
			common_no_route(rs, rq, 1);
	} else if (!strcmp(rq->path, "/orders")) {
		if (get)
			orders_list(os, rs);
		else if (!strcmp(rq->method, "POST"))
			orders_create(os, rq, rs);
		else
			common_no_route(rs, rq, 1);
	} else if ((arg = common_path_arg(rq->path, "/orders/"))) {
		if (get)
			orders_get(os, arg, rs);
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
		"orders", 8081, "inventory", 8082, 1, modes,
	};
	struct common_opts o;
	struct orders os;
	int status;

	if (common_opts_parse(&o, &svc, argc, argv, &status))
		return status;
	if (common_client_init()) {
		common_opts_release(&o);
		return 1;
	}
	if (orders_open(&os, &o))
		status = 1;
	else
		status = common_serve(&svc, &o, orders_handle, &os);
	orders_close(&os);
	common_client_cleanup();
	common_opts_release(&o);
	return status;
}
