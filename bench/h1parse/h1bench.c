/* Microbenchmark of the HTTP/1.1 parser (src/http/h1.c): ns per request head, for a short
 * curl-like GET, a browser GET with 12 fields (~700 bytes) and a Gin-style response head; and
 * the chunked body scanner in MB/s. A benchmark, never a test: bench/h1parse/run.sh builds it
 * with -O2 and prints one line per case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/h1.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile size_t sink;

static void bench_head(const char *name, const char *msg, bool request, long iters)
{
	static struct h1_head h;
	size_t len = strlen(msg);
	struct h1_span get = {"GET", 3};
	double best = 1e9;
	for (int round = 0; round < 5; round++) {
		double t0 = now_s();
		for (long i = 0; i < iters; i++) {
			int r = request ? h1_parse_request(msg, len, 65536, &h)
					: h1_parse_response(msg, len, 65536, get, &h);
			if (r <= 0)
				abort();
			sink += h.nheaders;
		}
		double ns = (now_s() - t0) * 1e9 / (double)iters;
		best = ns < best ? ns : best;
	}
	printf("%-22s %5zu bytes  %7.1f ns/head  %6.2f M heads/s  %5.2f GB/s\n", name, len, best,
	       1e3 / best, (double)len / best);
}

static void bench_chunked(long iters)
{
	/* 64 chunks of 1 KiB, then the last chunk */
	static char body[70000];
	size_t off = 0;
	for (int k = 0; k < 64; k++) {
		off += (size_t)sprintf(body + off, "400\r\n");
		memset(body + off, 'x', 1024);
		off += 1024;
		memcpy(body + off, "\r\n", 2);
		off += 2;
	}
	off += (size_t)sprintf(body + off, "0\r\n\r\n");
	struct h1_head h;
	memset(&h, 0, sizeof(h));
	h.framing = H1_BODY_CHUNKED;
	double best = 1e9;
	for (int round = 0; round < 5; round++) {
		double t0 = now_s();
		for (long i = 0; i < iters; i++) {
			struct h1_body b;
			h1_body_init(&b, &h);
			size_t at = 0;
			while (!b.done) {
				const char *d;
				size_t dl;
				long c = h1_body_step(&b, body + at, off - at, &d, &dl);
				if (c <= 0 && !b.done)
					abort();
				at += (size_t)c;
				sink += dl;
			}
		}
		double s = (now_s() - t0) / (double)iters;
		best = s < best ? s : best;
	}
	printf("%-22s %5zu bytes  %7.1f ns/body  %6.0f MB/s\n", "chunked 64 x 1 KiB", off,
	       best * 1e9, (double)off / best / 1e6);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 1000000;
	bench_head("GET (curl)",
		   "GET /ping HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: "
		   "curl/7.88.1\r\nAccept: */*\r\n\r\n",
		   true, iters);
	bench_head("GET (browser)",
		   "GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\nConnection: "
		   "keep-alive\r\nsec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"24\"\r\n"
		   "sec-ch-ua-mobile: ?0\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
		   "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
		   "sec-ch-ua-platform: \"Linux\"\r\nAccept: */*\r\nSec-Fetch-Site: "
		   "same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: script\r\nReferer: "
		   "https://www.example.com/\r\nAccept-Encoding: gzip, deflate, br\r\n"
		   "Accept-Language: en-US,en;q=0.9\r\nCookie: session=4f1d2a9c7e3b8a61; "
		   "theme=dark\r\n\r\n",
		   true, iters);
	bench_head("POST 4 KiB (wrk-like)",
		   "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: "
		   "application/octet-stream\r\nContent-Length: 4096\r\n\r\n",
		   true, iters);
	bench_head(
		"response (Gin)",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Fri, 04 Dec "
		"2026 13:00:00 GMT\r\nContent-Length: 13\r\n\r\n",
		false, iters);
	bench_chunked(iters / 100);
	return (int)(sink & 0);
}
