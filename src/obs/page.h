/* The live status page: "/" (one self-contained HTML page, src/obs/status.html) and "/events"
 * (Server-Sent Events) on a struct httpd. A client of /events gets "event: snapshot" (reset
 * your view), the current state as events (obs/evstate), "event: live", then every event as
 * "event: <type>\ndata: <ev_to_json>\n\n", and a ": heartbeat" comment every
 * PAGE_HEARTBEAT_MS so proxies keep the stream open. */
#ifndef BATON_PAGE_H
#define BATON_PAGE_H

#include "obs/httpd.h"

#define PAGE_HEARTBEAT_MS 15000

struct loop;
struct page;

/* Route "/" and "/events" on h and subscribe to the bus. 0, or -errno (-EEXIST: a path is
 * taken). The routes point at the page: httpd_free(h) first, then
 * page_free(). */
int page_new(struct loop *l, struct httpd *h, struct page **out);
void page_free(struct page *p);
/* Clients of /events connected now (tests). */
size_t page_nclients(const struct page *p);

#endif
