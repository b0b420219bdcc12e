/* Dev mode on the front: the compiler's errors as the answer to a browser while the build is
 * broken, and live reload (an event stream on PROXY_LIVE_PATH, and a script appended to HTML
 * pages that listens to it). See proxy.h. */
#include "http/proxy_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "core/loop.h"
#include "util/xalloc.h"

static const char live_script[] =
	"<script>/* baton live reload */(function(){if(!window.EventSource)return;"
	"var s=new EventSource(\"" PROXY_LIVE_PATH "\");"
	"s.addEventListener(\"reload\",function(){s.close();location.reload();});})();</script>\n";

const char *px_live_script(size_t *len)
{
	*len = sizeof(live_script) - 1;
	return live_script;
}

void proxy_set_error_page(struct proxy *p, const char *html)
{
	free(p->error_page);
	p->error_page = html ? xstrdup(html) : NULL;
}

void proxy_set_live_reload(struct proxy *p, bool on)
{
	p->live = on;
}

void proxy_live_reload(struct proxy *p)
{
	static const char ev[] = "event: reload\ndata: {}\n\n";
	for (struct pclient *pc = p->clients; pc; pc = pc->next) {
		if (pc->st != PC_LIVE)
			continue;
		pxbuf_put(&pc->out, ev, sizeof(ev) - 1);
		if (!(pc->events & EPOLLOUT)) {
			pc->events |= EPOLLOUT;
			loop_mod(p->loop, pc->src, pc->events);
		}
	}
}

static bool path_is(struct h1_span target, const char *path)
{
	size_t n = strlen(path);
	return target.len >= n && memcmp(target.p, path, n) == 0 &&
	       (target.len == n || target.p[n] == '?');
}

static bool accepts_html(const struct h1_head *req)
{
	const struct h1_header *a = h1_find(req, "accept");
	return a && h1_has_token(a->value, "text/html");
}

bool px_dev_intercept(struct pclient *pc, const struct h1_head *req)
{
	struct proxy *p = pc->p;
	bool get = h1_span_eqi(req->method, "GET"), head = h1_span_eqi(req->method, "HEAD");
	if (p->live && get && path_is(req->target, PROXY_LIVE_PATH)) {
		static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
					"Cache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n"
					": baton live reload\n\n";
		pxbuf_put(&pc->out, h, sizeof(h) - 1);
		pc->st = PC_LIVE;
		pc->close_after = true;
		loop_timer_disarm(pc->timer);
		return true;
	}
	if (p->error_page && (get || head) && accepts_html(req)) {
		size_t n = strlen(p->error_page);
		pxbuf_printf(&pc->out,
			     "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html; "
			     "charset=utf-8\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
			     "%s\r\n",
			     n, req->keep_alive ? "" : "Connection: close\r\n");
		if (!head)
			pxbuf_put(&pc->out, p->error_page, n);
		return true;
	}
	return false;
}

bool px_dev_injectable(const struct proxy *p, const struct h1_head *resp, bool is_head)
{
	if (!p->live || is_head || resp->status != 200 || resp->framing == H1_BODY_NONE)
		return false;
	const struct h1_header *ct = h1_find(resp, "content-type");
	if (!ct || ct->value.len < 9 || strncasecmp(ct->value.p, "text/html", 9) != 0)
		return false;
	const struct h1_header *ce = h1_find(resp, "content-encoding");
	return !ce || h1_span_eqi(ce->value, "identity");
}
