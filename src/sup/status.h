/* [status] listen: baton's status page server for `baton run` and `baton dev` — an httpd
 * (obs/httpd.h) with the page and its event stream (obs/page.h) on the app's loop. */
#ifndef BATON_SUP_STATUS_H
#define BATON_SUP_STATUS_H

struct loop;
struct config;
struct status_srv;

/* NULL with *out = NULL when [status] listen is unset; 0, or -errno (logged: the address is
 * bad or taken). */
int status_start(struct loop *l, const struct config *cfg, struct status_srv **out);
void status_stop(struct status_srv *s);

#endif
