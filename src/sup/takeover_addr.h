/* The pure half of bind takeover (takeover.h): which addresses an app's bind(2) asks for are
 * held, and the key that names them. Input is the raw sockaddr read from the app. */
#ifndef BATON_TAKEOVER_ADDR_H
#define BATON_TAKEOVER_ADDR_H

#include <stddef.h>

#define TK_KEY_MAX 448

/* Decode the len bytes of a sockaddr. Returns 1 with key set ("127.0.0.1:8080", "[::]:8080",
 * "unix:@name" with bytes outside printable ASCII as \xNN) for an address baton holds: IPv4
 * or IPv6 with a non-zero port, or an abstract unix name; 0 for one that passes untouched (port
 * 0, a unix path, an unnamed unix socket, another family); -EINVAL when the bytes are not a
 * valid address of their family (the kernel rejects the bind; baton lets it). */
int tk_addr_decode(const void *sa, size_t len, char key[TK_KEY_MAX]);

#endif
