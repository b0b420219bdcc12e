#include "source/etcd_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json_parse.h"
#include "util/xalloc.h"

/* The key just past every key starting with key: the last byte below 0xff incremented, the rest
 * dropped; "\0" (every key) when there is none (etcd's clientv3.GetPrefixRangeEnd). */
static void prefix_end(struct buf *out, const char *key)
{
	size_t n = strlen(key);
	while (n > 0 && (unsigned char)key[n - 1] == 0xff)
		n--;
	if (n == 0) {
		base64_encode(out, "", 1);
		return;
	}
	char *end = xstrndup(key, n);
	end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	base64_encode(out, end, n);
	free(end);
}

static void key_fields(struct buf *out, const char *key, bool prefix)
{
	buf_puts(out, "\"key\":\"");
	base64_encode(out, key, strlen(key));
	buf_putc(out, '"');
	if (prefix) {
		buf_puts(out, ",\"range_end\":\"");
		prefix_end(out, key);
		buf_putc(out, '"');
	}
}

void etcd_range_body(struct buf *out, const char *key, bool prefix)
{
	buf_putc(out, '{');
	key_fields(out, key, prefix);
	buf_putc(out, '}');
}

void etcd_watch_body(struct buf *out, const char *key, bool prefix, int64_t start_rev)
{
	buf_puts(out, "{\"create_request\":{");
	key_fields(out, key, prefix);
	buf_printf(out, ",\"start_revision\":\"%lld\",\"progress_notify\":true}}",
		   (long long)start_rev);
}

static void put_json_str(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20)
			buf_printf(out, "\\u%04x", c);
		else
			buf_putc(out, (char)c);
	}
	buf_putc(out, '"');
}

void etcd_auth_body(struct buf *out, const char *user, const char *password)
{
	buf_puts(out, "{\"name\":");
	put_json_str(out, user);
	buf_puts(out, ",\"password\":");
	put_json_str(out, password);
	buf_putc(out, '}');
}

static int b64_field(const struct json *o, const char *name, bool required, char **out,
		     size_t *outlen)
{
	size_t n;
	const char *s = json_get_str(o, name, &n);
	if (!s) {
		if (required && json_get(o, name))
			return -EINVAL;
		if (required) {
			*out = xstrdup(""); /* an empty value is left out, as every default */
			*outlen = 0;
			return 0;
		}
		*out = NULL;
		*outlen = 0;
		return 0;
	}
	struct buf b = BUF_INIT;
	if (base64_decode(&b, s, n) < 0) {
		buf_release(&b);
		return -EINVAL;
	}
	*outlen = b.len;
	*out = b.p ? buf_detach(&b) : xstrdup("");
	return 0;
}

static int kv_parse(const struct json *o, struct etcd_kv *kv, bool deleted)
{
	memset(kv, 0, sizeof(*kv));
	if (!o || o->type != JSON_OBJECT)
		return -EINVAL;
	kv->deleted = deleted;
	if (b64_field(o, "key", true, &kv->key, &kv->keylen) < 0 || kv->keylen == 0)
		goto bad;
	if (!deleted && b64_field(o, "value", true, &kv->value, &kv->vlen) < 0)
		goto bad;
	if (json_get_i64(o, "mod_revision", 0, &kv->mod_revision) < 0)
		goto bad;
	return 0;
bad:
	etcd_kv_release(kv);
	return -EINVAL;
}

static int header_revision(const struct json *o, int64_t *rev)
{
	const struct json *h = json_get(o, "header");
	if (h && h->type != JSON_OBJECT)
		return -EINVAL;
	return json_get_i64(h, "revision", 0, rev);
}

static int fail(char **err, const char *what, struct json *j)
{
	json_free(j);
	if (err)
		*err = xstrdup(what);
	return -EINVAL;
}

static struct json *parse_object(const char *body, size_t len, char **err)
{
	char *jerr = NULL;
	struct json *j = json_parse(body, len, &jerr);
	if (!j) {
		if (err)
			*err = xasprintf("not JSON: %s", jerr);
		free(jerr);
		return NULL;
	}
	if (j->type != JSON_OBJECT) {
		fail(err, "not a JSON object", j);
		return NULL;
	}
	return j;
}

int etcd_range_parse(const char *body, size_t len, struct etcd_range *out, char **err)
{
	memset(out, 0, sizeof(*out));
	struct json *j = parse_object(body, len, err);
	if (!j)
		return -EINVAL;
	if (header_revision(j, &out->revision) < 0 || out->revision <= 0)
		return fail(err, "range answer without a revision", j);
	const struct json *more = json_get(j, "more");
	out->more = more && more->type == JSON_BOOL && more->b;
	const struct json *kvs = json_get(j, "kvs");
	if (kvs && kvs->type != JSON_ARRAY)
		return fail(err, "range answer: \"kvs\" is not an array", j);
	if (kvs && kvs->n) {
		out->kvs = xcalloc(kvs->n, sizeof(*out->kvs));
		for (size_t i = 0; i < kvs->n; i++) {
			if (kv_parse(&kvs->items[i], &out->kvs[i], false) < 0) {
				etcd_range_release(out);
				return fail(err, "range answer: a bad key-value", j);
			}
			out->n++;
		}
	}
	json_free(j);
	return 0;
}

static char *error_message(const struct json *e)
{
	if (e->type == JSON_STRING)
		return xstrdup(e->s);
	const char *m = json_get_str(e, "message", NULL);
	if (!m)
		m = json_get_str(e, "error", NULL);
	return xstrdup(m && *m ? m : "unknown error");
}

int etcd_watch_parse(const char *body, size_t len, struct etcd_watch_msg *out, char **err)
{
	memset(out, 0, sizeof(*out));
	struct json *j = parse_object(body, len, err);
	if (!j)
		return -EINVAL;
	const struct json *e = json_get(j, "error");
	const struct json *r = json_get(j, "result");
	if (e && !r) {
		out->kind = ETCD_WATCH_ERROR;
		out->reason = error_message(e);
		json_free(j);
		return 0;
	}
	if (!r || r->type != JSON_OBJECT)
		return fail(err, "watch message without a result", j);
	if (header_revision(r, &out->revision) < 0)
		return fail(err, "watch message: bad header", j);
	const struct json *canceled = json_get(r, "canceled");
	const struct json *created = json_get(r, "created");
	if (json_get_i64(r, "compact_revision", 0, &out->compact_revision) < 0)
		return fail(err, "watch message: bad compact_revision", j);
	if (out->compact_revision > 0) {
		out->kind = ETCD_WATCH_COMPACTED;
	} else if (canceled && canceled->type == JSON_BOOL && canceled->b) {
		out->kind = ETCD_WATCH_CANCELED;
		const char *why = json_get_str(r, "cancel_reason", NULL);
		out->reason = xstrdup(why && *why ? why : "canceled by the server");
	} else if (created && created->type == JSON_BOOL && created->b) {
		out->kind = ETCD_WATCH_CREATED;
	} else {
		out->kind = ETCD_WATCH_EVENTS;
		const struct json *evs = json_get(r, "events");
		if (evs && evs->type != JSON_ARRAY)
			return fail(err, "watch message: \"events\" is not an array", j);
		if (evs && evs->n) {
			out->events = xcalloc(evs->n, sizeof(*out->events));
			for (size_t i = 0; i < evs->n; i++) {
				const struct json *ev = &evs->items[i];
				const char *type = json_get_str(ev, "type", NULL);
				bool del = type && strcmp(type, "DELETE") == 0;
				if ((type && !del && strcmp(type, "PUT") != 0) ||
				    kv_parse(json_get(ev, "kv"), &out->events[i], del) < 0) {
					etcd_watch_msg_release(out);
					return fail(err, "watch message: a bad event", j);
				}
				out->nevents++;
			}
		}
	}
	json_free(j);
	return 0;
}

char *etcd_auth_parse(const char *body, size_t len, char **err)
{
	struct json *j = parse_object(body, len, err);
	if (!j)
		return NULL;
	const char *t = json_get_str(j, "token", NULL);
	if (!t || !*t) {
		fail(err, "authenticate answer without a token", j);
		return NULL;
	}
	char *tok = xstrdup(t);
	json_free(j);
	return tok;
}

char *etcd_error_parse(const char *body, size_t len)
{
	struct json *j = json_parse(body, len, NULL);
	if (!j)
		return NULL;
	char *m = NULL;
	const struct json *e = json_get(j, "error");
	if (e)
		m = error_message(e);
	else if (json_get_str(j, "message", NULL))
		m = xstrdup(json_get_str(j, "message", NULL));
	json_free(j);
	return m;
}

void etcd_kv_release(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_range_release(struct etcd_range *r)
{
	for (size_t i = 0; i < r->n; i++)
		etcd_kv_release(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

void etcd_watch_msg_release(struct etcd_watch_msg *m)
{
	for (size_t i = 0; i < m->nevents; i++)
		etcd_kv_release(&m->events[i]);
	free(m->events);
	free(m->reason);
	memset(m, 0, sizeof(*m));
}
