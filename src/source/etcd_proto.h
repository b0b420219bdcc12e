/* etcd's v3 JSON gateway (grpc-gateway over etcdserverpb; served at /v3/ by etcd 3.4+), pure:
 * request bodies out, decoded responses in. Keys and values travel base64-encoded; int64 fields
 * (revisions) arrive as decimal strings; fields holding their default value are left out (a PUT
 * event has no "type"). No I/O; safe on any input (the watch messages are fuzzed through
 * fuzz/fuzz_etcd_stream.c).
 *
 * Ownership: the structs own their strings; release them with the matching *_release(). */
#ifndef BATON_ETCD_PROTO_H
#define BATON_ETCD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct etcd_kv {
	char *key; /* decoded, NUL-terminated (may hold NULs: keylen) */
	size_t keylen;
	char *value; /* decoded, NUL-terminated; NULL for a DELETE event */
	size_t vlen;
	int64_t mod_revision;
	bool deleted; /* a DELETE event */
};

/* A range (/v3/kv/range) answer. */
struct etcd_range {
	int64_t revision; /* the store's revision when it was read */
	struct etcd_kv *kvs;
	size_t n;
	bool more; /* the answer was cut by a limit (baton asks for none) */
};

/* One message of the watch stream (/v3/watch): {"result": WatchResponse} or {"error": ...}. */
enum etcd_watch_kind {
	ETCD_WATCH_CREATED,   /* the watch is set up */
	ETCD_WATCH_EVENTS,    /* changes (possibly none: a progress notification) */
	ETCD_WATCH_COMPACTED, /* canceled: start revision compacted (compact_revision) */
	ETCD_WATCH_CANCELED,  /* canceled for another reason (reason), e.g. no leader */
	ETCD_WATCH_ERROR,     /* the gateway's {"error": {...}} (reason) */
};

struct etcd_watch_msg {
	enum etcd_watch_kind kind;
	int64_t revision;	  /* header.revision (0 when absent) */
	int64_t compact_revision; /* ETCD_WATCH_COMPACTED */
	char *reason;		  /* CANCELED / ERROR, NULL otherwise */
	struct etcd_kv *events;	  /* EVENTS, in order */
	size_t nevents;
};

/* The JSON body of a range request for key, or for every key starting with it (prefix). */
void etcd_range_body(struct buf *out, const char *key, bool prefix);
/* The first message of a watch stream: create a watch on key (or the prefix) from revision
 * start_rev, with progress notifications. */
void etcd_watch_body(struct buf *out, const char *key, bool prefix, int64_t start_rev);
/* /v3/auth/authenticate's body. */
void etcd_auth_body(struct buf *out, const char *user, const char *password);

/* Decode a response body. 0, or -EINVAL with a fresh message in *err (err may be NULL). */
int etcd_range_parse(const char *body, size_t len, struct etcd_range *out, char **err);
int etcd_watch_parse(const char *body, size_t len, struct etcd_watch_msg *out, char **err);
/* The token of an authenticate answer (fresh), or NULL with a message in *err. */
char *etcd_auth_parse(const char *body, size_t len, char **err);
/* The message of a gateway error answer ({"error": "...", "message": "...", "code": N}), fresh,
 * or NULL when body is not one. */
char *etcd_error_parse(const char *body, size_t len);

void etcd_kv_release(struct etcd_kv *kv);
void etcd_range_release(struct etcd_range *r);
void etcd_watch_msg_release(struct etcd_watch_msg *m);

#endif
