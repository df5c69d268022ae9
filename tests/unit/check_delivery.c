/*
 * The delivery engine end to end in one event loop: the real target and
 * sender code against faultd, one test per row of the response table plus
 * the no-storm, keep-alive, flushing, fan-out, auth, gzip, v2, UNIX socket
 * and shutdown behaviours.  Timings are scaled down (retry_initial 20ms,
 * retry_max 300ms, no flush_jitter) except where a test checks a real
 * wait (Retry-After).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "check_main.h"
#include "conf.h"
#include "faultd.h"
#include "loop.h"
#include "mem.h"
#include "origin.h"
#include "point.h"
#include "proto.h"
#include "queue.h"
#include "sender.h"
#include "stamp.h"
#include "target.h"

/* the flush timings these tests check are exact: no flush_jitter */
#define BASE	"flush_interval = 50ms\nflush_jitter = 0s\ntimeout = 2s\n"
#define FAST	BASE "retry_initial = 20ms\nretry_max = 300ms\n"

struct rig {
	struct event_base	*base;
	struct faultd		*fd[2];
	struct sender		*sender;
	struct conf		*conf;
	struct target		*t[2];
	size_t			 nt;
	int			 seq;
	uint32_t		 origin;	/* of the points rig_append queues */
};

static struct rig	 rig;

/* The daemon's base: precise timers and its priorities (loop.c). */
static struct event_base *
rig_base(void)
{
	return loop_base_new();
}

static struct conf *
load(const char *text)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf = conf_load_string(text, "t.ini", &errs);

	ck_assert_msg(conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	return conf;
}

/* One target "a" on faultd 0, its url ending in `path`, with `keys`. */
static void
rig_start_at(const char *path, const char *keys)
{
	char	*text;

	rig.base = rig_base();
	rig.fd[0] = faultd_new(rig.base, NULL);
	rig.sender = sender_new(rig.base);
	text = xasprintf("[listener:l]\npath = /tmp/x.sock\ntarget = a\n"
	    "[target:a]\nurl = %s%s\ndatabase = db\n%s",
	    faultd_url(rig.fd[0]), path, keys);
	rig.conf = load(text);
	free(text);
	rig.t[0] = target_new(rig.base, rig.sender, rig.conf->targets[0]);
	rig.nt = 1;
}

/* One target "a" on faultd 0 with the extra keys `keys`. */
static void
rig_start(const char *keys)
{
	rig_start_at("", keys);
}

static void
rig_stop(void)
{
	size_t	 i;

	sender_free(rig.sender);
	for (i = 0; i < rig.nt; i++)
		target_free(rig.t[i]);
	faultd_free(rig.fd[0]);
	faultd_free(rig.fd[1]);
	conf_free(rig.conf);
	event_base_free(rig.base);
	memset(&rig, 0, sizeof(rig));
}

/* Queues one point on `t`, with its field ids as ingest gives them. */
static enum target_reject
rig_append(struct target *t, const char *db, const char *rp,
    const char *body, size_t blen, const char *tail, size_t tlen)
{
	struct proto_point	 pt;
	struct point		 p = { .body = body, .blen = blen,
				    .tail = tail, .tlen = tlen,
				    .origin = rig.origin,
				    .time = strtoll(tail, NULL, 10),
				    .received = stamp_now() };

	if (proto_parse(body, blen, &pt) == PROTO_OK) {
		p.fields = &pt;
	}
	return target_append(t, db, rp, &p);
}

/* Queues `n` points "m,q=Q v=Ii SEQ" for db/rp on target `t`. */
static void
rig_send(struct target *t, const char *rp, int n)
{
	char	 body[64], tail[32];
	int	 i;

	for (i = 0; i < n; i++, rig.seq++) {
		snprintf(body, sizeof(body), "m,rp=%s v=%di", rp[0] ? rp : "-",
		    rig.seq);
		snprintf(tail, sizeof(tail), " %d\n", 1000 + rig.seq);
		ck_assert_int_eq(rig_append(t, "db", rp, body,
		    strlen(body), tail, strlen(tail)), TARGET_ACCEPTED);
	}
}

static void
rig_tick_cb(evutil_socket_t s, short what, void *arg)
{
	bool	(*pred)(void) = (bool (*)(void))arg;

	if (pred != NULL && pred())
		event_base_loopbreak(rig.base);
}

/* Runs the loop until `pred` holds or `secs` pass; returns pred(). */
static bool
rig_run(bool (*pred)(void), double secs)
{
	struct timeval	 tick = { 0, 5000 }, limit;
	struct event	*ev;

	limit.tv_sec = (time_t)secs;
	limit.tv_usec = (suseconds_t)((secs - (double)limit.tv_sec) * 1e6);
	ev = event_new(rig.base, -1, EV_PERSIST, rig_tick_cb,
	    (void *)(uintptr_t)pred);
	event_add(ev, &tick);
	event_base_loopexit(rig.base, &limit);
	event_base_dispatch(rig.base);
	event_free(ev);
	return pred != NULL && pred();
}

static bool
rig_empty(void)
{
	size_t	 i;

	for (i = 0; i < rig.nt; i++)
		if (target_points(rig.t[i]) != 0)
			return false;
	return true;
}

static const struct target_stats *
stats(void)
{
	return target_stats(rig.t[0]);
}

static const struct faultd_req *
req(size_t i)
{
	const struct faultd_req	*r = faultd_req(rig.fd[0], i);

	ck_assert_msg(r != NULL, "no request %zu (only %zu)", i,
	    faultd_nreqs(rig.fd[0]));
	return r;
}

/* 2xx: delivered; no "Expect: 100-continue" even for a 2 MB body. */
START_TEST(test_2xx_no_expect)
{
	rig_start(FAST "batch_size = 200000\nbatch_bytes = 8M\n");
	rig_send(rig.t[0], "", 100000);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 5));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 100000);
	ck_assert_uint_gt(req(0)->len, 2 << 20);
	ck_assert_ptr_null(req(0)->expect);
	ck_assert_uint_eq(stats()->points_written, 100000);
	ck_assert_uint_eq(stats()->http_2xx, 1);
	rig_stop();
}
END_TEST

/* 404: one CREATE for a database shared by two retention policies. */
START_TEST(test_404_create_once)
{
	rig_start(FAST);
	faultd_require_db(rig.fd[0], true, false);
	rig_send(rig.t[0], "a", 5);
	rig_send(rig.t[0], "b", 5);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_creates(rig.fd[0]), 1);
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 10);
	ck_assert_uint_eq(stats()->databases_created, 1);
	rig_send(rig.t[0], "a", 5);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_creates(rig.fd[0]), 1);
	rig_stop();
}
END_TEST

/* 404 with create_database = false: kept, retried at retry_max. */
START_TEST(test_404_create_off)
{
	size_t	 n;

	rig_start(FAST "create_database = false\n");
	faultd_require_db(rig.fd[0], true, false);
	rig_send(rig.t[0], "", 5);
	target_flush(rig.t[0]);
	rig_run(NULL, 1.0);
	n = faultd_nreqs(rig.fd[0]);
	ck_assert_uint_ge(n, 3);
	ck_assert_uint_le(n, 5);	/* 1 + 1.0s / 300ms */
	ck_assert(req(2)->t - req(1)->t >= 0.29);
	ck_assert_uint_eq(faultd_creates(rig.fd[0]), 0);
	ck_assert_uint_eq(target_points(rig.t[0]), 5);
	ck_assert(strstr(stats()->last_error, "create_database = false"));
	rig_stop();
}
END_TEST

/* 404 and a refused CREATE: kept, CREATE retried slowly, then works. */
START_TEST(test_404_create_refused)
{
	rig_start(FAST);
	faultd_require_db(rig.fd[0], true, true);
	/* three retention policies of one database: one CREATE per round */
	rig_send(rig.t[0], "", 5);
	rig_send(rig.t[0], "a", 5);
	rig_send(rig.t[0], "b", 5);
	target_flush(rig.t[0]);
	rig_run(NULL, 0.8);
	ck_assert_uint_ge(faultd_creates(rig.fd[0]), 2);
	ck_assert_uint_le(faultd_creates(rig.fd[0]), 4);
	ck_assert_uint_ge(stats()->create_failures, 2);
	ck_assert_uint_eq(target_points(rig.t[0]), 15);
	faultd_require_db(rig.fd[0], true, false);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 15);
	rig_stop();
}
END_TEST

/*
 * 400, 422 and bad-data 500s.  A partial write (dropped=N) is sent once
 * and N points count as dropped.  A whole refusal (no dropped=) is
 * bisected; only the first request is refused here, so both halves are
 * stored and nothing is lost.
 */
static const struct {
	struct faultd_step	 step;
	size_t			 requests;
	uint64_t		 dropped;
	uint64_t		 isolation;
} refusals[] = {
	{ { 400, "{\"error\":\"partial write: unable to parse 'm v=': "
	    "missing field value dropped=0\"}", NULL, 0 }, 1, 1, 0 },
	{ { 422, "{\"code\":\"unprocessable entity\",\"message\":\"partial "
	    "write dropped=1\"}", NULL, 0 }, 1, 1, 0 },
	{ { 500, "{\"error\":\"partial write: field type conflict: input "
	    "field \\\"v\\\" dropped=1\"}", NULL, 0 }, 1, 1, 0 },
	{ { 500, "{\"error\":\"partial write: unable to parse 'x' "
	    "dropped=0\"}", NULL, 0 }, 1, 1, 0 },
	{ { 400, "{\"error\":\"field type conflict\"}", NULL, 0 }, 3, 0, 2 },
	{ { 400, "{\"error\":\"unable to parse 'm v=': missing field "
	    "value\"}", NULL, 0 }, 3, 0, 2 },
	{ { 422, "{\"code\":\"unprocessable entity\"}", NULL, 0 }, 3, 0, 2 },
	{ { 500, "{\"error\":\"field type conflict: input field "
	    "\\\"v\\\"\"}", NULL, 0 }, 3, 0, 2 },
};

START_TEST(test_refusal_rows)
{
	rig_start(FAST);
	faultd_script(rig.fd[0], &refusals[_i].step, 1);
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	rig_run(NULL, 0.3);
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), refusals[_i].requests);
	ck_assert_uint_eq(stats()->isolation_requests,
	    refusals[_i].isolation);
	ck_assert_uint_eq(stats()->points_dropped_server,
	    refusals[_i].dropped);
	ck_assert_uint_eq(stats()->points_written, 10 - refusals[_i].dropped);
	if (refusals[_i].dropped == 0)	/* a scripted partial stores none */
		ck_assert_uint_eq(faultd_points(rig.fd[0]), 10);
	ck_assert_uint_eq(stats()->retries, 0);
	ck_assert(strstr(stats()->last_error,
	    refusals[_i].step.body + 12) != NULL);
	rig_stop();
}
END_TEST

/* Queues "BODY SEQ" once. */
static enum target_reject
rig_put(const char *body)
{
	char	 tail[32];

	snprintf(tail, sizeof(tail), " %d\n", 1000 + rig.seq++);
	return rig_append(rig.t[0], "db", "", body, strlen(body), tail,
	    strlen(tail));
}

/*
 * Any request holding a marked point is refused whole with a bare 400:
 * bisection delivers everything else and drops the three marked points
 * alone, within 2 log2(n) extra requests each, blaming their sender.
 */
START_TEST(test_isolation_bound)
{
	struct origin_ledger gl = { 0 }, bl = { 0 };
	uint32_t	 good, bad;
	size_t		 bound, i, len;
	const char	*w;
	char		 body[64];

	rig_start(FAST "batch_size = 5000\nbuffer_size = 16M\n");
	faultd_refuse_marked(rig.fd[0], "BAD");
	good = origin_new("good", 10, 1000, &gl);
	bad = origin_new("bad", 20, 1000, &bl);
	for (i = 0; i < 20000; i++) {
		bool	 marked = (i == 1234 || i == 9999 || i == 17777);

		rig.origin = marked ? bad : good;
		snprintf(body, sizeof(body), "m,k=%s v=%zui",
		    marked ? "BAD" : "ok", i);
		ck_assert_int_eq(rig_put(body), TARGET_ACCEPTED);
	}
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 10));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 19997);
	ck_assert_uint_eq(stats()->points_written, 19997);
	ck_assert_uint_eq(stats()->points_dropped_server, 3);
	/* each sender's books: exact, whoever's batches were bisected */
	ck_assert_uint_eq(bl.queued, 3);
	ck_assert_uint_eq(bl.fates[ORIGIN_DROPPED_SERVER], 3);
	ck_assert_uint_eq(bl.fates[ORIGIN_WRITTEN], 0);
	ck_assert_uint_eq(gl.queued, 19997);
	ck_assert_uint_eq(gl.fates[ORIGIN_WRITTEN], 19997);
	ck_assert_uint_eq(gl.fates[ORIGIN_DROPPED_SERVER], 0);
	ck_assert_uint_eq(gl.buffered + bl.buffered, 0);
	origin_put(good);
	origin_put(bad);
	w = faultd_written(rig.fd[0], &len);
	ck_assert_ptr_null(memmem(w, len, "BAD", 3));
	/* 4 batches; each marked point costs 2 requests per halving */
	bound = 3 * 2 * 13;
	ck_assert_uint_le(stats()->isolation_requests, bound);
	ck_assert_uint_le(faultd_nreqs(rig.fd[0]), 4 + bound);
	ck_assert_uint_eq(stats()->requests, faultd_nreqs(rig.fd[0]));
	origin_forget_ledger(&gl);
	origin_forget_ledger(&bl);
	rig_stop();
}
END_TEST

/*
 * One field given two types in one flush window: the batch is cut there,
 * so no request mixes the two types.
 */
START_TEST(test_type_cut)
{
	int	 i;

	rig_start(FAST "batch_size = 1000\n");
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(rig_put("good v=1"), TARGET_ACCEPTED);
	ck_assert_int_eq(rig_put("m f=1i"), TARGET_ACCEPTED);
	ck_assert_int_eq(rig_put("m f=1.5"), TARGET_ACCEPTED);
	ck_assert_int_eq(rig_put("good v=2"), TARGET_ACCEPTED);
	ck_assert_int_eq(rig_put("m g=\"s\""), TARGET_ACCEPTED);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	ck_assert_uint_eq(faultd_req(rig.fd[0], 0)->points, 11);
	ck_assert_uint_eq(faultd_req(rig.fd[0], 1)->points, 3);
	ck_assert_uint_eq(stats()->type_cuts, 1);
	rig_stop();
}
END_TEST

/*
 * The server names the type a field has: later points giving it another
 * type are refused at once, and a sender alternating types cuts at most
 * QUEUE_CUTS_PER_S batches a second.
 */
START_TEST(test_known_type)
{
	static const struct faultd_step conflict = { 400,
	    "{\"error\":\"partial write: field type conflict: input field "
	    "\\\"f\\\" on measurement \\\"m\\\" is type float, already "
	    "exists as type integer dropped=1\"}", NULL, 0 };
	struct origin_ledger blamed = { 0 };
	int		 i;

	rig_start(FAST "batch_size = 1000\n");
	rig.origin = origin_new("l", 1, 2, &blamed);
	faultd_script(rig.fd[0], &conflict, 1);
	ck_assert_int_eq(rig_put("m f=1.5"), TARGET_ACCEPTED);
	ck_assert_int_eq(rig_put("good v=1"), TARGET_ACCEPTED);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(stats()->points_dropped_server, 1);
	ck_assert_uint_eq(stats()->points_written, 1);
	ck_assert_uint_eq(blamed.fates[ORIGIN_DROPPED_SERVER], 1);
	ck_assert_uint_eq(blamed.fates[ORIGIN_WRITTEN], 1);
	ck_assert_int_eq(rig_put("m f=2.5"), TARGET_REJECT_CONFLICT);
	ck_assert_int_eq(rig_put("m f=2i"), TARGET_ACCEPTED);
	ck_assert_uint_eq(stats()->points_rejected_conflict, 1);
	/*
	 * Another field alternates: cuts are rationed, then the points the
	 * open batch cannot take wait in the spill; a third type fits
	 * neither and is refused.
	 */
	for (i = 0; i < 4 * QUEUE_CUTS_PER_S; i++)
		ck_assert_int_eq(rig_put(i % 2 ? "m g=1.5" : "m g=1i"),
		    TARGET_ACCEPTED);
	ck_assert_uint_le(stats()->type_cuts, QUEUE_CUTS_PER_S);
	ck_assert_uint_ge(stats()->type_spills, QUEUE_CUTS_PER_S - 1);
	ck_assert_int_eq(rig_put("m g=true"), TARGET_REJECT_CONFLICT);
	ck_assert_uint_eq(stats()->points_rejected_conflict, 2);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 3));
	for (i = 0; i < (int)faultd_nreqs(rig.fd[0]); i++) {
		const struct faultd_req	*r = faultd_req(rig.fd[0], (size_t)i);

		ck_assert_msg(r->body == NULL || !(strstr(r->body, "g=1i") &&
		    strstr(r->body, "g=1.5")), "request %d mixes types", i);
	}
	ck_assert_uint_eq(stats()->points_written,
	    2 + 4 * QUEUE_CUTS_PER_S);
	ck_assert(rig_run(rig_empty, 3));
	origin_forget_ledger(&blamed);
	rig_stop();
}
END_TEST

/* Fills `buf` with one point of size - 1 bytes (a long string field). */
static void
big_point(char *buf, size_t size)
{
	memset(buf, 'x', size - 1);
	buf[size - 1] = '\0';
	memcpy(buf, "m v=1i,s=\"", 10);
	buf[size - 2] = '"';
}

/* A partial write: the points InfluxDB stored count as written. */
START_TEST(test_partial_write)
{
	static const struct faultd_step	 st = { 400, "{\"error\":\"partial "
	    "write: points beyond retention policy dropped=3\"}", NULL, 0 };

	struct origin_ledger	 lg = { 0 };

	rig_start(FAST);
	rig.origin = origin_new("l", 1, 2, &lg);
	faultd_script(rig.fd[0], &st, 1);
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 1);
	ck_assert_uint_eq(stats()->points_dropped_server, 3);
	ck_assert_uint_eq(stats()->points_written, 7);
	/* the server named a count only: the sender's total is still exact */
	ck_assert_uint_eq(lg.fates[ORIGIN_DROPPED_SERVER], 3);
	ck_assert_uint_eq(lg.fates[ORIGIN_WRITTEN], 7);
	ck_assert_uint_eq(lg.buffered, 0);
	origin_put(rig.origin);
	origin_forget_ledger(&lg);
	rig_stop();
}
END_TEST

/* 413: halves until they fit; a lone oversized point is dropped. */
START_TEST(test_413_split)
{
	char	 big[600];

	rig_start(FAST "batch_size = 1000\n");
	faultd_max_body(rig.fd[0], 500);
	rig_send(rig.t[0], "", 100);		/* ~2.2 kB */
	big_point(big, sizeof(big));
	ck_assert_int_eq(rig_append(rig.t[0], "db", "", big, strlen(big),
	    " 5\n", 3), TARGET_ACCEPTED);
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 110);
	ck_assert_uint_eq(stats()->points_written, 110);
	ck_assert_uint_eq(stats()->points_dropped_too_large, 1);
	rig_stop();
}
END_TEST

/* Queues `n` writes of one point (series m,rp=-, time 5), v = seq. */
static void
rig_send_rewrites(int n)
{
	char	 body[64];
	int	 i;

	for (i = 0; i < n; i++, rig.seq++) {
		snprintf(body, sizeof(body), "m,rp=- v=%di", rig.seq);
		ck_assert_int_eq(rig_append(rig.t[0], "db", "", body,
		    strlen(body), " 5\n", 3), TARGET_ACCEPTED);
	}
}

/*
 * Writes of one point reach the server in the order they were queued,
 * through splitting and retries, with two connections free: the last
 * write is the one stored.
 */
START_TEST(test_order_kept)
{
	static const struct faultd_step	 st[] = {
		{ 503, NULL, NULL, 0 }, { 0, NULL, NULL, 0 },
	};
	const char	*w;
	size_t		 len, i;
	int		 v, prev = -1;

	rig_start(FAST "batch_size = 37\nmax_connections = 2\n");
	faultd_script(rig.fd[0], st, 2);
	faultd_max_body(rig.fd[0], 400);
	rig_send_rewrites(500);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 5));
	w = faultd_written(rig.fd[0], &len);
	for (i = 0; i < len; i = (size_t)((const char *)memchr(w + i, '\n',
	    len - i) - w) + 1) {
		ck_assert_int_eq(sscanf(w + i, "m,rp=- v=%di", &v), 1);
		ck_assert_int_eq(v, prev + 1);
		prev = v;
	}
	ck_assert_int_eq(prev, 499);
	rig_stop();
}
END_TEST

/*
 * Batches of one queue that share no (series, time) go out in parallel,
 * up to max_connections, and a retried one still arrives.
 */
START_TEST(test_queue_pipelined)
{
	static const struct faultd_step	 st[] = {
		{ 204, NULL, NULL, 300 }, { 503, NULL, NULL, 300 },
		{ 204, NULL, NULL, 300 },
	};

	rig_start(FAST "batch_size = 100\nmax_connections = 2\n");
	faultd_script(rig.fd[0], st, 3);
	rig_send(rig.t[0], "", 400);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 5));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 400);
	ck_assert_uint_eq(stats()->points_written, 400);
	/* the second write left while the first was answered 300 ms late */
	ck_assert_msg(req(1)->t - req(0)->t < 0.2, "%.3f s apart",
	    req(1)->t - req(0)->t);
	ck_assert_uint_ne(req(1)->conn, req(0)->conn);
	rig_stop();
}
END_TEST

/* 500 rp not found, 401, 403: kept, retried at retry_max. */
static const struct faultd_step configs[] = {
	{ 500, "{\"error\":\"retention policy not found: x\"}", NULL, 0 },
	{ 401, "{\"error\":\"authorization failed\"}", NULL, 0 },
	{ 403, "{\"error\":\"forbidden\"}", NULL, 0 },
};

START_TEST(test_config_rows)
{
	rig_start(FAST);
	faultd_script(rig.fd[0], &configs[_i], 1);
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	ck_assert(req(1)->t - req(0)->t >= 0.295);
	ck_assert_uint_eq(stats()->points_written, 10);
	ck_assert_uint_eq(stats()->retries, 1);
	rig_stop();
}
END_TEST

static void
rig_state_cb(const struct target_queue_info *info, void *arg)
{
	*(const char **)arg = info->state;
}

/* The state of target a's only queue. */
static const char *
rig_state(void)
{
	const char	*state = "none";

	target_foreach_queue(rig.t[0], rig_state_cb, &state);
	return state;
}

static bool
rig_creating(void)
{
	return strcmp(rig_state(), "creating") == 0;
}

static bool
rig_sending(void)
{
	return strcmp(rig_state(), "sending") == 0;
}

static bool
rig_failing(void)
{
	return strcmp(rig_state(), "failing") == 0;
}

/*
 * A queue's state names what it waits for: its CREATE, its answer, its
 * retry after a configuration problem, or nothing (idle).
 */
START_TEST(test_queue_states)
{
	static const struct faultd_step	 st[] = {
		{ 204, NULL, NULL, 300 },
		{ 401, "{\"error\":\"authorization failed\"}", NULL, 0 },
	};
	struct target_gauges		 g;

	rig_start(FAST);
	faultd_require_db(rig.fd[0], true, false);
	faultd_query_delay(rig.fd[0], 300);
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_creating, 2));
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_str_eq(rig_state(), "idle");
	faultd_script(rig.fd[0], st, 2);
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_sending, 1));
	ck_assert(rig_run(rig_empty, 2));
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_failing, 1));
	target_gauges(rig.t[0], &g);
	ck_assert_uint_eq(g.failing, 1);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_str_eq(rig_state(), "idle");
	target_gauges(rig.t[0], &g);
	ck_assert_uint_eq(g.failing, 0);
	ck_assert_uint_eq(stats()->points_written, 30);
	rig_stop();
}
END_TEST

/* 429, 503, 502, a dropped connection, a timeout: backoff, delivered. */
static const struct faultd_step transients[] = {
	{ 429, NULL, NULL, 0 },
	{ 503, NULL, NULL, 0 },
	{ 502, NULL, NULL, 0 },
	{ 500, "{\"error\":\"timeout\"}", NULL, 0 },
	{ 0, NULL, NULL, 0 },
	{ 204, NULL, NULL, 2500 },	/* longer than timeout = 2s */
};

START_TEST(test_transient_rows)
{
	rig_start(FAST);
	faultd_script(rig.fd[0], &transients[_i], 1);
	rig_send(rig.t[0], "", 10);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 4));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	ck_assert_uint_eq(stats()->retries, 1);
	ck_assert_uint_eq(stats()->points_written, 10);
	/*
	 * Full jitter: the first retry comes within retry_initial (20 ms,
	 * slack for a loaded host) of the failure, which the timeout row
	 * waited 2 s for.
	 */
	if (_i == 5)
		ck_assert_msg(req(1)->t - req(0)->t >= 2.0, "waited %.4f s",
		    req(1)->t - req(0)->t);
	ck_assert_msg(req(1)->t - req(0)->t < (_i == 5 ? 2.5 : 0.2),
	    "waited %.4f s", req(1)->t - req(0)->t);
	rig_stop();
}
END_TEST

/*
 * The acceptance sequence: 503, a dropped connection, a 500 timeout, 429
 * with Retry-After: 2, then success: five requests, one at a time, the
 * 2 s wait honoured.
 */
START_TEST(test_acceptance_sequence)
{
	static const struct faultd_step	 st[] = {
		{ 503, NULL, NULL, 0 },
		{ 0, NULL, NULL, 0 },
		{ 500, "{\"error\":\"timeout\"}", NULL, 0 },
		{ 429, NULL, "2", 0 },
	};
	rig_start(BASE "retry_initial = 20ms\nretry_max = 10s\n");
	faultd_script(rig.fd[0], st, 4);
	rig_send(rig.t[0], "", 1000);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 5));
	rig_run(NULL, 0.3);
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 5);
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 1000);
	ck_assert_msg(req(4)->t - req(3)->t >= 2.0, "waited %.4f s",
	    req(4)->t - req(3)->t);
	/*
	 * Retry-After plus at most half of it again (1 s), not retry_max
	 * (10 s); slack for a loaded CI host.  The waits before are
	 * jittered from 0, so only their order is certain.
	 */
	ck_assert(req(4)->t - req(3)->t < 3.5);
	ck_assert_uint_eq(faultd_max_concurrent(rig.fd[0]), 1);
	rig_stop();
}
END_TEST

/*
 * No storm: against a server that always answers 503, a target with
 * three queues and max_connections = 4 sends one request at a time, and
 * the server sees one request per backoff step, not one per queue.
 */
START_TEST(test_no_storm)
{
	static const struct faultd_step	 fail = { 503, NULL, NULL, 30 };
	size_t				 n, i;

	rig_start(BASE "max_connections = 4\nretry_initial = 100ms\n"
	    "retry_max = 400ms\n");
	faultd_default(rig.fd[0], &fail);
	rig_send(rig.t[0], "a", 10);
	target_flush(rig.t[0]);
	rig_run(NULL, 0.1);
	rig_send(rig.t[0], "b", 10);
	rig_send(rig.t[0], "c", 10);
	target_flush(rig.t[0]);
	rig_run(NULL, 2.0);
	n = faultd_nreqs(rig.fd[0]);
	/*
	 * Every step waits 0..100, 0..200, then 0..400 ms (full jitter) plus
	 * the 30 ms answer: about 11 requests in 2.1 s; 25 would take 22
	 * waits averaging 55 ms where they average 180 ms.  One queue per
	 * step would be three times as many.
	 */
	ck_assert_msg(n <= 25, "%zu requests in 2.1 s", n);
	ck_assert_msg(n >= 2.1 / 0.43, "%zu requests in 2.1 s", n);
	for (i = 1; i < n; i++)
		ck_assert_msg(req(i)->t - req(i - 1)->t >= 0.029,
		    "requests %zu and %zu %.3fs apart", i - 1, i,
		    req(i)->t - req(i - 1)->t);
	ck_assert_uint_eq(faultd_max_concurrent(rig.fd[0]), 1);
	ck_assert_uint_eq(target_points(rig.t[0]), 30);
	rig_stop();
}
END_TEST

/* A refused connection (nothing listens): backoff, data kept. */
START_TEST(test_refused)
{
	char	*keys;

	/* faultd picked a free port; free it again and aim there */
	rig.base = rig_base();
	rig.fd[0] = faultd_new(rig.base, NULL);
	keys = xasprintf("[listener:l]\npath = /tmp/x.sock\ntarget = a\n"
	    "[target:a]\nurl = %s\n" BASE "retry_initial = 100ms\n"
	    "retry_max = 400ms\n", faultd_url(rig.fd[0]));
	faultd_free(rig.fd[0]);
	rig.fd[0] = NULL;
	rig.conf = load(keys);
	free(keys);
	rig.sender = sender_new(rig.base);
	rig.t[0] = target_new(rig.base, rig.sender, rig.conf->targets[0]);
	rig.nt = 1;
	rig_send(rig.t[0], "a", 10);
	rig_send(rig.t[0], "b", 10);
	target_flush(rig.t[0]);
	rig_run(NULL, 1.5);
	/*
	 * One first try per queue, then one per step of 0..100, 0..200,
	 * then 0..400 ms: about 9; 30 would need 27 waits averaging 45 ms.
	 */
	ck_assert_uint_ge(stats()->http_errors, 1 + 1.5 / 0.4);
	ck_assert_uint_le(stats()->http_errors, 30);
	ck_assert_uint_eq(stats()->points_written, 0);
	ck_assert_uint_eq(target_points(rig.t[0]), 20);
	ck_assert(strstr(stats()->last_error, "onnect") != NULL);
	rig_stop();
}
END_TEST

/* 1,000 requests over at most max_connections TCP connections. */
START_TEST(test_keepalive)
{
	static const struct faultd_step	 slow = { 204, NULL, NULL, 1 };

	rig_start(FAST "batch_size = 5\nmax_connections = 2\n");
	faultd_default(rig.fd[0], &slow);
	rig_send(rig.t[0], "a", 2500);
	rig_send(rig.t[0], "b", 2500);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 20));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 1000);
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 5000);
	ck_assert_uint_le(faultd_connections(rig.fd[0]), 2);
	ck_assert_uint_eq(faultd_max_concurrent(rig.fd[0]), 2);
	rig_stop();
}
END_TEST

/* Flushing: batch_size, batch_bytes and flush_interval cut batches. */
START_TEST(test_flush_rules)
{
	rig_start("batch_size = 10\nbatch_bytes = 1K\nflush_interval = 300ms\n"
	    "flush_jitter = 100ms\nmax_connections = 1\n");
	rig_send(rig.t[0], "", 25);	/* two full batches now, 5 later */
	rig_run(NULL, 0.15);
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	ck_assert_uint_eq(req(0)->points, 10);
	ck_assert(rig_run(rig_empty, 1));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 3);
	ck_assert(req(2)->t >= 0.29 && req(2)->t < 0.5);
	rig_stop();
}
END_TEST

/*
 * While a queue's request is in flight, its open batch is not cut at
 * every flush_interval: what arrives meanwhile leaves as one batch right
 * after (many databases with a few points each cost fewer requests).
 */
START_TEST(test_flush_waits_for_busy_queue)
{
	static const struct faultd_step slow = { 204, NULL, NULL, 400 };
	int	 i;

	rig_start(BASE);
	faultd_default(rig.fd[0], &slow);
	rig_send(rig.t[0], "", 1);
	rig_run(NULL, 0.1);		/* first batch in flight for 400 ms */
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 1);
	for (i = 0; i < 6; i++) {	/* 6 flush intervals' worth */
		rig_send(rig.t[0], "", 2);
		rig_run(NULL, 0.05);
	}
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	ck_assert_uint_eq(req(1)->points, 12);
	rig_stop();
}
END_TEST

/*
 * A queue whose flush came while every connection was busy sends, when
 * its turn comes, what it holds then: the points that arrived while it
 * waited leave in that request, not in one more.
 */
START_TEST(test_flush_takes_points_while_waiting)
{
	static const struct faultd_step slow = { 204, NULL, NULL, 400 };
	int	 i;

	rig_start(BASE "max_connections = 1\n");
	faultd_default(rig.fd[0], &slow);
	rig_send(rig.t[0], "a", 1);
	rig_run(NULL, 0.1);		/* a's batch in flight for 400 ms */
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 1);
	rig_send(rig.t[0], "b", 1);	/* due at 50 ms, no connection */
	rig_run(NULL, 0.1);
	for (i = 0; i < 3; i++) {
		rig_send(rig.t[0], "b", 2);
		rig_run(NULL, 0.05);
	}
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	ck_assert_uint_eq(req(1)->points, 7);
	ck_assert(req(1)->t >= 0.4);
	rig_stop();
}
END_TEST

START_TEST(test_batch_bytes)
{
	size_t	 i;

	rig_start(FAST "batch_size = 100000\nbatch_bytes = 1K\n");
	rig_send(rig.t[0], "", 300);	/* ~21 bytes each */
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	for (i = 0; i < faultd_nreqs(rig.fd[0]); i++)
		ck_assert_uint_le(req(i)->len, 1024);
	ck_assert_uint_ge(faultd_nreqs(rig.fd[0]), 6);
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 300);
	rig_stop();
}
END_TEST

/* Fan-out: target b flows while a is down; a catches up afterwards. */
START_TEST(test_fanout)
{
	static const struct faultd_step	 down = { 0, NULL, NULL, 0 };
	static const struct faultd_step	 up = { 204, NULL, NULL, 0 };
	char				*text;

	rig.base = rig_base();
	rig.fd[0] = faultd_new(rig.base, NULL);
	rig.fd[1] = faultd_new(rig.base, NULL);
	rig.sender = sender_new(rig.base);
	text = xasprintf("[listener:l]\npath = /tmp/x.sock\ntarget = a,b\n"
	    "[target:a]\nurl = %s\n" FAST "[target:b]\nurl = %s\n" FAST,
	    faultd_url(rig.fd[0]), faultd_url(rig.fd[1]));
	rig.conf = load(text);
	free(text);
	rig.t[0] = target_new(rig.base, rig.sender, rig.conf->targets[0]);
	rig.t[1] = target_new(rig.base, rig.sender, rig.conf->targets[1]);
	rig.nt = 2;
	faultd_default(rig.fd[0], &down);
	for (int i = 0; i < 10; i++) {
		rig_send(rig.t[0], "", 100);
		rig.seq -= 100;
		rig_send(rig.t[1], "", 100);
		rig_run(NULL, 0.1);
		/* b never waits for a: each round is there within 100 ms */
		ck_assert_uint_eq(faultd_points(rig.fd[1]),
		    100 * (size_t)(i + 1));
	}
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 0);
	ck_assert_uint_eq(target_points(rig.t[0]), 1000);
	faultd_default(rig.fd[0], &up);
	target_flush(rig.t[0]);
	target_flush(rig.t[1]);
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 1000);
	ck_assert_uint_eq(faultd_points(rig.fd[1]), 1000);
	rig_stop();
}
END_TEST

/* gzip: compressed once, same bytes on the retry, content intact. */
START_TEST(test_gzip)
{
	static const struct faultd_step	 st = { 503, NULL, NULL, 0 };
	const char			*w;
	size_t				 len;

	rig_start(FAST "gzip = true\n");
	faultd_script(rig.fd[0], &st, 1);
	rig_send(rig.t[0], "", 2000);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	ck_assert_str_eq(req(0)->encoding, "gzip");
	ck_assert_uint_eq(req(0)->len, req(1)->len);
	ck_assert(memcmp(req(0)->body, req(1)->body, req(0)->len) == 0);
	ck_assert_uint_lt(req(0)->len * 4, 2000 * 20);
	w = faultd_written(rig.fd[0], &len);
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 2000);
	ck_assert(len > 20 && memcmp(w, "m,rp=- v=0i 1000\n", 17) == 0);
	rig_stop();
}
END_TEST

/* api = v2 with a token; basic auth on v1; both in headers only. */
START_TEST(test_v2_token)
{
	rig_start(FAST "api = v2\norg = acme\ntoken = s3cr3t-t0ken\n");
	rig_send(rig.t[0], "autogen", 3);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_str_eq(req(0)->uri, "/api/v2/write?org=acme&bucket=db%2F"
	    "autogen&precision=ns");
	ck_assert_str_eq(req(0)->auth, "Token s3cr3t-t0ken");
	rig_stop();
}
END_TEST

/*
 * A url with a path (InfluxDB behind a reverse proxy at /influxdb,
 * vminsert's /insert/0/influx): the write and the CREATE DATABASE keep
 * it, a trailing '/' or not; the server answers nothing outside it.
 */
static const struct {
	const char	*prefix;	/* where the server has its API */
	const char	*path;		/* appended to the url */
	const char	*api;
	const char	*want[3];	/* the URIs the server sees */
} prefixes[] = {
	{ "/influxdb", "/influxdb", "v1", {
	    "/influxdb/write?db=db&precision=ns", "/influxdb/query",
	    "/influxdb/write?db=db&precision=ns" } },
	{ "/influxdb", "/influxdb//", "v1", {
	    "/influxdb/write?db=db&precision=ns", "/influxdb/query",
	    "/influxdb/write?db=db&precision=ns" } },
	{ "/insert/0/influx", "/insert/0/influx", "v2", {
	    "/insert/0/influx/api/v2/write?bucket=db&precision=ns" } },
};

START_TEST(test_path_prefix)
{
	char	*keys = xasprintf(FAST "api = %s\n", prefixes[_i].api);
	size_t	 i, n = prefixes[_i].want[1] != NULL ? 3 : 1;

	rig_start_at(prefixes[_i].path, keys);
	free(keys);
	faultd_prefix(rig.fd[0], prefixes[_i].prefix);
	/* v1 creates the database it lacks: its /query must find it */
	faultd_require_db(rig.fd[0], n == 3, false);
	rig_send(rig.t[0], "", 5);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 3));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 5);
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), n);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(req(i)->uri, prefixes[_i].want[i]);
	ck_assert_uint_eq(faultd_creates(rig.fd[0]), n == 3);
	rig_stop();
}
END_TEST

START_TEST(test_basic_auth)
{
	rig_start(FAST "username = alice\npassword = wonder land\n");
	faultd_require_db(rig.fd[0], true, false);
	rig_send(rig.t[0], "", 3);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	/* base64("alice:wonder land"), on the CREATE and the writes */
	ck_assert_str_eq(req(0)->auth, "Basic YWxpY2U6d29uZGVyIGxhbmQ=");
	ck_assert_str_eq(req(1)->auth, "Basic YWxpY2U6d29uZGVyIGxhbmQ=");
	ck_assert_str_eq(req(2)->auth, "Basic YWxpY2U6d29uZGVyIGxhbmQ=");
	ck_assert(strstr(req(1)->uri, "alice") == NULL);
	ck_assert_str_eq(req(0)->uri, "/write?db=db&precision=ns");
	rig_stop();
}
END_TEST

/* unix:///path reaches a server on a UNIX socket. */
START_TEST(test_unix_socket)
{
	char	 path[64], *text;

	snprintf(path, sizeof(path), "/tmp/faultd-%d.sock", (int)getpid());
	rig.base = rig_base();
	rig.fd[0] = faultd_new(rig.base, path);
	rig.sender = sender_new(rig.base);
	text = xasprintf("[listener:l]\npath = /tmp/x.sock\ntarget = a\n"
	    "[target:a]\nurl = %s\n" FAST, faultd_url(rig.fd[0]));
	rig.conf = load(text);
	free(text);
	rig.t[0] = target_new(rig.base, rig.sender, rig.conf->targets[0]);
	rig.nt = 1;
	rig_send(rig.t[0], "", 7);
	target_flush(rig.t[0]);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 7);
	rig_stop();
}
END_TEST

/* Shutdown: a queue waiting out retry_max gets one attempt at once. */
START_TEST(test_drain_last_attempt)
{
	/* Retry-After: the wait is 30 s at least, jitter or not */
	static const struct faultd_step	 st = { 503, NULL, "30", 0 };

	rig_start("retry_initial = 20s\nretry_max = 60s\nflush_interval = 1s\n");
	faultd_script(rig.fd[0], &st, 1);
	rig_send(rig.t[0], "", 5);
	target_flush(rig.t[0]);
	rig_run(NULL, 0.2);
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 1);
	rig_send(rig.t[0], "", 5);
	target_drain(rig.t[0]);
	ck_assert(rig_run(rig_empty, 1));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 10);
	rig_stop();
}
END_TEST

static int	 room_calls;

static void
room_cb(struct target *t, void *arg)
{
	room_calls++;
}

static bool
room_called(void)
{
	return room_calls > 0;
}

/* target_room() and the room callback a blocking listener uses. */
START_TEST(test_full_and_room)
{
	static const struct faultd_step	 st = { 503, NULL, NULL, 0 };

	rig_start(FAST "buffer_size = 2K\noverflow = drop_newest\n");
	faultd_script(rig.fd[0], &st, 1);
	while (target_room(rig.t[0]) > 2048 / 16)
		rig_send(rig.t[0], "", 1);
	target_wait_room(rig.t[0], room_cb, NULL);
	ck_assert_int_eq(room_calls, 0);
	target_flush(rig.t[0]);
	ck_assert(rig_run(room_called, 2));
	ck_assert_int_eq(room_calls, 1);
	ck_assert_uint_gt(target_room(rig.t[0]), 2048 / 16);
	rig_stop();
}
END_TEST

/*
 * A reload: the request in flight finishes on the old server and counts;
 * the open batch takes the shorter flush_interval and goes to the new url.
 */
START_TEST(test_reconfigure)
{
	static const struct faultd_step	 slow = { 204, NULL, NULL, 200 };
	struct conf			*conf;
	char				*text;

	rig_start("flush_interval = 1h\ntimeout = 2s\n");
	faultd_script(rig.fd[0], &slow, 1);
	rig_send(rig.t[0], "a", 3);
	target_flush(rig.t[0]);
	rig_send(rig.t[0], "b", 4);
	rig_run(NULL, 0.05);
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 1);
	rig.fd[1] = faultd_new(rig.base, NULL);
	text = xasprintf("[listener:l]\npath = /tmp/x.sock\ntarget = a\n"
	    "[target:a]\nurl = %s\ndatabase = db\n" FAST,
	    faultd_url(rig.fd[1]));
	conf = load(text);
	free(text);
	target_reconfigure(rig.t[0], conf->targets[0]);
	ck_assert(rig_run(rig_empty, 2));
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 1);
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 3);
	ck_assert_uint_eq(faultd_points(rig.fd[1]), 4);
	ck_assert_uint_eq(stats()->points_accepted, 7);
	ck_assert_uint_eq(stats()->points_written, 7);
	rig_stop();
	conf_free(conf);
}
END_TEST

/* Idle empty queues are freed, so max_queues does not fill for good. */
START_TEST(test_sweep_idle_queues)
{
	struct target_gauges	 g;

	rig_start(BASE "max_queues = 2\n");
	rig_send(rig.t[0], "a", 3);
	rig_send(rig.t[0], "b", 3);
	ck_assert_int_eq(rig_append(rig.t[0], "db", "c", "m v=1i", 6,
	    " 1\n", 3), TARGET_REJECT_QUEUES);
	ck_assert(rig_run(rig_empty, 5));
	target_sweep(rig.t[0]);		/* used since the last sweep: kept */
	target_gauges(rig.t[0], &g);
	ck_assert_uint_eq(g.queues, 2);
	target_sweep(rig.t[0]);		/* idle for a whole sweep: freed */
	target_gauges(rig.t[0], &g);
	ck_assert_uint_eq(g.queues, 0);
	rig_send(rig.t[0], "c", 3);
	ck_assert(rig_run(rig_empty, 5));
	ck_assert_uint_eq(faultd_points(rig.fd[0]), 9);
	rig_stop();
}
END_TEST

/* A queue whose CREATE DATABASE is in flight is never swept away. */
START_TEST(test_sweep_keeps_creating_queue)
{
	struct target_gauges		 g;
	/* with its tail and its cost (TARGET_POINT_COST) it fills 1K */
	char				 big[1024 - 3 - 16 + 1];

	rig_start(BASE "buffer_size = 1024\nbatch_size = 1000\n");
	faultd_require_db(rig.fd[0], true, false);
	faultd_query_delay(rig.fd[0], 400);
	rig_send(rig.t[0], "a", 20);
	target_flush(rig.t[0]);
	rig_run(NULL, 0.1);		/* 404 answered, CREATE in flight */
	ck_assert_uint_eq(faultd_nreqs(rig.fd[0]), 2);
	/* a big point of another queue evicts the waiting one entirely */
	big_point(big, sizeof(big));
	ck_assert_int_eq(rig_append(rig.t[0], "db", "b", big,
	    sizeof(big) - 1, " 1\n", 3), TARGET_ACCEPTED);
	target_gauges(rig.t[0], &g);
	ck_assert_uint_eq(g.points, 1);		/* only the big one */
	target_sweep(rig.t[0]);
	target_sweep(rig.t[0]);
	target_gauges(rig.t[0], &g);
	ck_assert_uint_eq(g.queues, 2);
	ck_assert(rig_run(rig_empty, 5));	/* the CREATE answer lands */
	rig_stop();
}
END_TEST

static Suite *
delivery_suite(void)
{
	Suite	*s = suite_create("delivery");
	TCase	*tc = tcase_create("delivery");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_2xx_no_expect);
	tcase_add_test(tc, test_404_create_once);
	tcase_add_test(tc, test_404_create_off);
	tcase_add_test(tc, test_404_create_refused);
	tcase_add_loop_test(tc, test_refusal_rows, 0,
	    sizeof(refusals) / sizeof(refusals[0]));
	tcase_add_test(tc, test_isolation_bound);
	tcase_add_test(tc, test_type_cut);
	tcase_add_test(tc, test_known_type);
	tcase_add_test(tc, test_partial_write);
	tcase_add_test(tc, test_413_split);
	tcase_add_test(tc, test_order_kept);
	tcase_add_test(tc, test_queue_pipelined);
	tcase_add_loop_test(tc, test_config_rows, 0,
	    sizeof(configs) / sizeof(configs[0]));
	tcase_add_loop_test(tc, test_transient_rows, 0,
	    sizeof(transients) / sizeof(transients[0]));
	tcase_add_test(tc, test_queue_states);
	tcase_add_test(tc, test_acceptance_sequence);
	tcase_add_test(tc, test_no_storm);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_flush_rules);
	tcase_add_test(tc, test_flush_waits_for_busy_queue);
	tcase_add_test(tc, test_flush_takes_points_while_waiting);
	tcase_add_test(tc, test_batch_bytes);
	tcase_add_test(tc, test_fanout);
	tcase_add_test(tc, test_gzip);
	tcase_add_test(tc, test_v2_token);
	tcase_add_loop_test(tc, test_path_prefix, 0,
	    sizeof(prefixes) / sizeof(prefixes[0]));
	tcase_add_test(tc, test_basic_auth);
	tcase_add_test(tc, test_unix_socket);
	tcase_add_test(tc, test_drain_last_attempt);
	tcase_add_test(tc, test_full_and_room);
	tcase_add_test(tc, test_reconfigure);
	tcase_add_test(tc, test_sweep_idle_queues);
	tcase_add_test(tc, test_sweep_keeps_creating_queue);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(delivery_suite)
