#include "obs/page.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "obs/events.h"
#include "obs/evstate.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* status.html, embedded at build time (the Makefile makes page.o depend on it). */
__asm__(".section .rodata\n"
	".global page_status_html\n"
	".type page_status_html, @object\n"
	"page_status_html:\n"
	".incbin \"src/obs/status.html\"\n"
	".global page_status_html_end\n"
	"page_status_html_end:\n"
	".byte 0\n"
	".previous\n");
extern const char page_status_html[];
extern const char page_status_html_end[];

struct client {
	struct page *p;
	struct httpd_conn *c;
	bool gone; /* a write failed: its on_close is on the way */
};

struct page {
	struct httpd *h;
	struct evstate *state;
	struct loop_timer *heartbeat;
	struct client **cl;
	size_t n, cap;
};

static void send_to(struct client *k, const struct buf *b)
{
	if (!k->gone && httpd_stream_write(k->c, b->p, b->len) < 0)
		k->gone = true;
}

static void sse_event(struct buf *b, const struct ev *e)
{
	buf_printf(b, "event: %s\ndata: ", ev_type_name(e->type));
	ev_to_json(e, b); /* one line: JSON strings escape every newline */
	buf_puts(b, "\n\n");
}

static void on_event(void *arg, const struct ev *e)
{
	struct page *p = arg;
	if (!p->n)
		return;
	struct buf b = BUF_INIT;
	sse_event(&b, e);
	for (size_t i = 0; i < p->n; i++)
		send_to(p->cl[i], &b);
	buf_release(&b);
}

static void add_snapshot(void *arg, const struct ev *e)
{
	sse_event(arg, e);
}

static void on_close(void *arg)
{
	struct client *k = arg;
	struct page *p = k->p;
	for (size_t i = 0; p && i < p->n; i++) {
		if (p->cl[i] == k) {
			memmove(&p->cl[i], &p->cl[i + 1], (p->n - i - 1) * sizeof(*p->cl));
			p->n--;
			break;
		}
	}
	free(k);
}

static void serve_events(void *arg, struct httpd_conn *c, const struct h1_head *req)
{
	(void)req;
	struct page *p = arg;
	struct client *k = xcalloc(1, sizeof(*k));
	k->p = p;
	k->c = c;
	if (httpd_stream_begin(c, "text/event-stream", on_close, k) < 0) {
		free(k);
		return;
	}
	p->cl = xgrow(p->cl, &p->cap, p->n + 1, sizeof(*p->cl));
	p->cl[p->n++] = k;
	struct buf b = BUF_INIT;
	buf_puts(&b, "retry: 2000\n\nevent: snapshot\ndata: {}\n\n");
	evstate_snapshot(p->state, add_snapshot, &b);
	buf_puts(&b, "event: live\ndata: {}\n\n");
	send_to(k, &b);
	buf_release(&b);
}

static void serve_page(void *arg, struct httpd_conn *c, const struct h1_head *req)
{
	(void)arg;
	(void)req;
	httpd_respond(c, 200, "text/html; charset=utf-8", page_status_html,
		      (size_t)(page_status_html_end - page_status_html));
}

static void on_heartbeat(struct loop *l, void *data)
{
	(void)l;
	struct page *p = data;
	static const struct buf beat = {(char *)": heartbeat\n\n", 13, 0};
	for (size_t i = 0; i < p->n; i++)
		send_to(p->cl[i], &beat);
	loop_timer_arm_in(p->heartbeat, PAGE_HEARTBEAT_MS);
}

int page_new(struct loop *l, struct httpd *h, struct page **out)
{
	struct page *p = xcalloc(1, sizeof(*p));
	p->h = h;
	p->state = evstate_new();
	int r = p->state ? 0 : -ENOMEM;
	if (r == 0)
		r = httpd_route(h, "/", serve_page, p);
	if (r == 0)
		r = httpd_route(h, "/events", serve_events, p);
	if (r == 0)
		r = ev_subscribe(on_event, p);
	if (r < 0) {
		evstate_free(p->state);
		free(p);
		return r;
	}
	p->heartbeat = loop_timer_new(l, on_heartbeat, p);
	loop_timer_arm_in(p->heartbeat, PAGE_HEARTBEAT_MS);
	*out = p;
	return 0;
}

void page_free(struct page *p)
{
	if (!p)
		return;
	ev_unsubscribe(on_event, p);
	loop_timer_free(p->heartbeat);
	evstate_free(p->state);
	/* streams the httpd has not closed yet: their on_close finds no page */
	for (size_t i = 0; i < p->n; i++)
		p->cl[i]->p = NULL;
	free(p->cl);
	free(p);
}

size_t page_nclients(const struct page *p)
{
	return p->n;
}
