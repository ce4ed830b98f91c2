/*
 * shop-inventory, layer 0 of the shop demo: the stock of items, kept in
 * DIR/stock.json (rewritten atomically after every change) and reserved
 * by the orders service through POST /reservations.
 *
 *   GET  /health              200 {"status":"ok","service":"inventory"}
 *   GET  /items               200 [{"sku","name","price","stock"}...]
 *   GET  /items/SKU           200 {"sku","name","price","stock"} | 404
 *   POST /reservations        {"sku":"A1","qty":2}
 *                             201 {"sku","qty","remaining"} | 400 | 404 |
 *                             409 {"error":"insufficient stock",
 *                                  "available":N}
 *
 * Fail modes: `slow` (reservations answer after 3 s, past the orders
 * service's 2 s timeout), `error` (reservations answer 500).
 */
#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STOCK_FILE "stock.json"
#define QTY_MAX	   1000000
#define SLOW_MS	   3000

struct inventory {
	pthread_mutex_t lock;
	cJSON *stock;	       /* {"A1": {"name","price","stock"}, ...} */
	const char *dir;       /* NULL: kept in memory only */
	const char *fail_mode; /* NULL, "slow" or "error" */
};

/* The stock of a fresh data folder. */
static const struct {
	const char *sku, *name;
	double price;
	int stock;
} inventory_seed[] = {
	{"A1", "widget", 7.5, 10},
	{"B7", "gadget", 12, 3},
	{"C3", "gizmo", 2.25, 0},
};

static cJSON *inventory_seed_stock(void)
{
	cJSON *stock = cJSON_CreateObject();
	for (size_t i = 0;
	     i < sizeof(inventory_seed) / sizeof(inventory_seed[0]); i++) {
		cJSON *item =
			cJSON_AddObjectToObject(stock, inventory_seed[i].sku);
		cJSON_AddStringToObject(item, "name", inventory_seed[i].name);
		cJSON_AddNumberToObject(item, "price", inventory_seed[i].price);
		cJSON_AddNumberToObject(item, "stock", inventory_seed[i].stock);
	}
	return stock;
}

/* Is `stock` an object of well-formed items?  Says why not on stderr. */
static int inventory_valid(const cJSON *stock)
{
	const cJSON *item;
	if (!cJSON_IsObject(stock)) {
		fprintf(stderr, "shop-inventory: '" STOCK_FILE "' does not "
				"hold a JSON object\n");
		return 0;
	}
	cJSON_ArrayForEach(item, stock)
	{
		const cJSON *n =
			cJSON_GetObjectItemCaseSensitive(item, "stock");
		if (!cJSON_IsString(
			    cJSON_GetObjectItemCaseSensitive(item, "name")) ||
		    !cJSON_IsNumber(
			    cJSON_GetObjectItemCaseSensitive(item, "price")) ||
		    !cJSON_IsNumber(n) || n->valuedouble < 0 ||
		    (n->valuedouble > 0 && !common_positive_int(n, QTY_MAX))) {
			fprintf(stderr,
				"shop-inventory: item '%s' in '" STOCK_FILE
				"' needs a string 'name', a number 'price' "
				"and a whole 'stock' >= 0\n",
				item->string);
			return 0;
		}
	}
	return 1;
}

/* Loads DIR/stock.json, or seeds and writes it when there is none. */
static int inventory_open(struct inventory *inv, const struct common_opts *o)
{
	memset(inv, 0, sizeof(*inv));
	pthread_mutex_init(&inv->lock, NULL);
	inv->dir = o->data;
	inv->fail_mode = o->fail_mode;
	if (!inv->dir) {
		inv->stock = inventory_seed_stock();
		return 0;
	}
	if (common_mkdirs(inv->dir)) {
		perror(inv->dir);
		return -1;
	}
	if (common_load_json(inv->dir, STOCK_FILE, &inv->stock))
		return -1;
	if (inv->stock)
		return inventory_valid(inv->stock) ? 0 : -1;
	inv->stock = inventory_seed_stock();
	return common_save_json(inv->dir, STOCK_FILE, inv->stock);
}

static void inventory_close(struct inventory *inv)
{
	cJSON_Delete(inv->stock);
	pthread_mutex_destroy(&inv->lock);
}

/* {"sku": SKU, ...the item's fields}; caller owns. */
static cJSON *inventory_item_json(const cJSON *item)
{
	cJSON *v = cJSON_CreateObject(), *f;
	cJSON_AddStringToObject(v, "sku", item->string);
	cJSON_ArrayForEach(f, item)
	{
		cJSON_AddItemToObject(v, f->string, cJSON_Duplicate(f, 1));
	}
	return v;
}

static void inventory_list(struct inventory *inv, struct common_resp *rs)
{
	cJSON *list = cJSON_CreateArray(), *item;
	pthread_mutex_lock(&inv->lock);
	cJSON_ArrayForEach(item, inv->stock)
	{
		cJSON_AddItemToArray(list, inventory_item_json(item));
	}
	pthread_mutex_unlock(&inv->lock);
	common_json(rs, 200, list);
}

static void inventory_unknown(struct common_resp *rs, const char *sku)
{
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "error", "unknown sku");
	cJSON_AddStringToObject(v, "sku", sku);
	common_json(rs, 404, v);
}

static void inventory_item(struct inventory *inv, const char *sku,
			   struct common_resp *rs)
{
	cJSON *v = NULL;
	pthread_mutex_lock(&inv->lock);
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(inv->stock, sku);
	if (item)
		v = inventory_item_json(item);
	pthread_mutex_unlock(&inv->lock);
	if (v)
		common_json(rs, 200, v);
	else
		inventory_unknown(rs, sku);
}

static void inventory_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts))
		;
}

/* Takes `qty` of `sku` off the stock: the HTTP status of the outcome. */
static unsigned inventory_take(struct inventory *inv, const char *sku, long qty,
			       cJSON *answer)
{
	unsigned status = 201;
	pthread_mutex_lock(&inv->lock);
	cJSON *item = cJSON_GetObjectItemCaseSensitive(inv->stock, sku);
	cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "stock");
	long have = n ? (long)n->valuedouble : 0;
	if (!item) {
		status = 404;
		cJSON_AddStringToObject(answer, "error", "unknown sku");
		cJSON_AddStringToObject(answer, "sku", sku);
	} else if (have < qty) {
		status = 409;
		cJSON_AddStringToObject(answer, "error", "insufficient stock");
		cJSON_AddStringToObject(answer, "sku", sku);
		cJSON_AddNumberToObject(answer, "available", (double)have);
	} else {
		cJSON_SetNumberValue(n, (double)(have - qty));
		if (inv->dir &&
		    common_save_json(inv->dir, STOCK_FILE, inv->stock)) {
			cJSON_SetNumberValue(n, (double)have);
			status = 500;
			cJSON_AddStringToObject(answer, "error",
						"cannot save the stock");
		} else {
			cJSON_AddStringToObject(answer, "sku", sku);
			cJSON_AddNumberToObject(answer, "qty", (double)qty);
			cJSON_AddNumberToObject(answer, "remaining",
						(double)(have - qty));
		}
	}
	pthread_mutex_unlock(&inv->lock);
	return status;
}

static void inventory_reserve(struct inventory *inv,
			      const struct common_req *rq,
			      struct common_resp *rs)
{
	cJSON *in = cJSON_ParseWithLength(rq->body, rq->body_len);
	const cJSON *sku = cJSON_GetObjectItemCaseSensitive(in, "sku");
	long qty = common_positive_int(
		cJSON_GetObjectItemCaseSensitive(in, "qty"), QTY_MAX);

	if (!cJSON_IsObject(in))
		common_error(rs, 400, "the body must be a JSON object");
	else if (!cJSON_IsString(sku) || !*sku->valuestring)
		common_error(rs, 400, "'sku' must be a non-empty string");
	else if (!qty)
		common_error(rs, 400,
			     "'qty' must be a positive integer "
			     "(at most %d)",
			     QTY_MAX);
	else if (inv->fail_mode && !strcmp(inv->fail_mode, "error"))
		common_error(rs, 500, "internal error (fail mode)");
	if (rs->body) {
		cJSON_Delete(in);
		return;
	}
	if (inv->fail_mode && !strcmp(inv->fail_mode, "slow"))
		inventory_sleep_ms(SLOW_MS);
	cJSON *answer = cJSON_CreateObject();
	unsigned status = inventory_take(inv, sku->valuestring, qty, answer);
	cJSON_Delete(in);
	common_json(rs, status, answer);
}

static void inventory_handle(void *ctx, const struct common_req *rq,
			     struct common_resp *rs)
{
	struct inventory *inv = ctx;
	int get = !strcmp(rq->method, "GET");
	const char *sku;

	if (!strcmp(rq->path, "/health")) {
		if (get)
			common_health(rs, "inventory");
		else
			common_no_route(rs, rq, 1);
	} else if (!strcmp(rq->path, "/items")) {
		if (get)
			inventory_list(inv, rs);
		else
			common_no_route(rs, rq, 1);
	} else if ((sku = common_path_arg(rq->path, "/items/"))) {
		if (get)
			inventory_item(inv, sku, rs);
		else
			common_no_route(rs, rq, 1);
	} else if (!strcmp(rq->path, "/reservations")) {
		if (!strcmp(rq->method, "POST"))
			inventory_reserve(inv, rq, rs);
		else
			common_no_route(rs, rq, 1);
	} else {
		common_no_route(rs, rq, 0);
	}
}

int main(int argc, char **argv)
{
	static const char *const modes[] = {"slow", "error", NULL};
	static const struct common_service svc = {
		"inventory", 8082, NULL, 0, 1, modes,
	};
	struct common_opts o;
	struct inventory inv;
	int status;

	if (common_opts_parse(&o, &svc, argc, argv, &status))
		return status;
	if (inventory_open(&inv, &o))
		status = 1;
	else
		status = common_serve(&svc, &o, inventory_handle, &inv);
	inventory_close(&inv);
	common_opts_release(&o);
	return status;
}
