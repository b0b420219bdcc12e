/* A small pure JSON parser (RFC 8259): a buffer in, a tree out. No I/O, no global state; safe
 * on any input (fuzzed: fuzz/fuzz_json.c). Bounded: nesting at most JSON_MAX_DEPTH levels and
 * at most JSON_MAX_NODES values per document, so hostile input costs at most linear memory.
 * Strings are decoded (\u escapes, surrogate pairs joined into UTF-8; a lone surrogate, a
 * control character or invalid UTF-8 is an error); numbers are kept as their text (etcd sends
 * 64-bit revisions as strings anyway). Duplicate object keys are kept in order; json_get()
 * returns the first.
 *
 * Ownership: json_parse() returns a tree the caller frees with json_free(); every string in it
 * belongs to the tree. */
#ifndef BATON_UTIL_JSON_PARSE_H
#define BATON_UTIL_JSON_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64
#define JSON_MAX_NODES (1u << 20)

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool b;	       /* JSON_BOOL */
	char *s;       /* STRING: decoded, NUL-terminated (may hold NULs: use len); NUMBER: text */
	size_t len;    /* of s */
	char *key;     /* a member of an object: its decoded name, NUL-terminated */
	size_t keylen; /* of key */
	struct json *items; /* ARRAY / OBJECT members, in document order */
	size_t n;
};

/* Parse s[0..len) as one JSON value (surrounding whitespace allowed, nothing else). NULL on
 * error with a fresh message in *err ("offset 12: expected ':'"; err may be NULL). */
struct json *json_parse(const char *s, size_t len, char **err);
void json_free(struct json *j);

/* The first member of obj named key, or NULL (also when obj is NULL or not an object). */
const struct json *json_get(const struct json *obj, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *json_get_str(const struct json *obj, const char *key, size_t *len);
/* An integer given as a number or as a decimal string (etcd's int64 fields): 0 when it is, else
 * -EINVAL (absent: *out = dflt and 0). */
int json_get_i64(const struct json *obj, const char *key, int64_t dflt, int64_t *out);

#endif
