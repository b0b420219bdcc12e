/* A growable, NULL-terminated vector of owned strings. */
#ifndef BATON_UTIL_STRV_H
#define BATON_UTIL_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct strv {
	char **v; /* always NULL-terminated once anything was pushed; may be NULL when empty */
	size_t n;
	size_t cap;
};

#define STRV_INIT {NULL, 0, 0}

/* Takes ownership of s. */
void strv_push_owned(struct strv *sv, char *s);
void strv_push(struct strv *sv, const char *s);
void strv_pushf(struct strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool strv_contains(const struct strv *sv, const char *s);
void strv_copy(struct strv *dst, const struct strv *src);
void strv_release(struct strv *sv);
/* Join with sep into a fresh string ("" for an empty vector). */
char *strv_join(const struct strv *sv, const char *sep);

#endif
