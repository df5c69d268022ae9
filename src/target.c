/*
 * Targets and their delivery state machine.
 *
 * Each queue has at most one request in flight, so a queue's order is
 * kept; a target runs up to max_connections queues in parallel while
 * healthy and one request at a time while any queue is backing off, so a
 * failing server sees requests only at the backoff schedule.  A batch
 * stays counted in the target's bytes until it is delivered, rejected by
 * the server or dropped by the overflow policy.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>

#include "backoff.h"
#include "batch.h"
#include "conf.h"
#include "log.h"
#include "mem.h"
#include "queue.h"
#include "response.h"
#include "sender.h"
#include "target.h"

struct target_queue {
	TAILQ_ENTRY(target_queue) entry;
	struct target		*target;
	struct queue		*queue;
	char			*write_url;
	struct event		*ev_flush;
	struct event		*ev_retry;
	struct batch		*inflight;
	char			*create_body;	/* CREATE DATABASE in flight */
	unsigned		 attempts;	/* failures since last success */
	bool			 may_create;	/* no CREATE since a success */
	struct log_ratelimit	 rl;
};

struct target {
	const struct conf_target *conf;
	struct event_base	*base;
	struct sender		*sender;
	char			*base_url;	/* url without trailing '/' */
	TAILQ_HEAD(, target_queue) queues;
	size_t			 nqueues;
	struct target_queue	*last;		/* routing cache */
	size_t			 inflight;
	size_t			 failing;	/* queues backing off */
	size_t			 bytes;
	size_t			 points;
	struct target_stats	 stats;
	struct log_ratelimit	 rl;
};

static void target_pump(struct target *);

/* Appends `s` percent-encoded for a URL query component. */
static void
target_url_encode(char *out, size_t size, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 n = strlen(out);

	for (; *s != '\0' && n + 4 < size; s++) {
		unsigned char	 c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~", c) != NULL)
			out[n++] = (char)c;
		else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

static char *
target_write_url(const struct target *t, const char *db, const char *rp)
{
	char	 url[2048];

	snprintf(url, sizeof(url), "%s/write?db=", t->base_url);
	target_url_encode(url, sizeof(url), db);
	if (rp[0] != '\0') {
		strncat(url, "&rp=", sizeof(url) - strlen(url) - 1);
		target_url_encode(url, sizeof(url), rp);
	}
	strncat(url, "&precision=ns", sizeof(url) - strlen(url) - 1);
	return xstrdup(url);
}

static void
target_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target_queue	*tq = arg;

	queue_seal(tq->queue);
	target_pump(tq->target);
}

static void
target_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct target_queue	*tq = arg;

	target_pump(tq->target);
}

static struct target_queue *
target_queue_new(struct target *t, const char *db, const char *rp)
{
	struct target_queue	*tq = xcalloc(1, sizeof(*tq));
	struct log_ratelimit	 rl = LOG_RATELIMIT_INIT(10, 1);

	tq->target = t;
	tq->queue = queue_new(db, rp, t->conf->batch_size,
	    t->conf->batch_bytes);
	tq->write_url = target_write_url(t, db, rp);
	tq->may_create = true;
	tq->rl = rl;
	tq->ev_flush = evtimer_new(t->base, target_flush_cb, tq);
	tq->ev_retry = evtimer_new(t->base, target_retry_cb, tq);
	if (tq->ev_flush == NULL || tq->ev_retry == NULL)
		fatalx("target %s: evtimer_new failed", t->conf->name);
	TAILQ_INSERT_TAIL(&t->queues, tq, entry);
	t->nqueues++;
	log_debug("target %s: new queue db=%s rp=%s", t->conf->name, db, rp);
	return tq;
}

static void
target_queue_free(struct target_queue *tq)
{
	batch_free(tq->inflight);
	queue_free(tq->queue);
	event_free(tq->ev_flush);
	event_free(tq->ev_retry);
	free(tq->write_url);
	free(tq->create_body);
	free(tq);
}

struct target *
target_new(struct event_base *base, struct sender *sender,
    const struct conf_target *conf)
{
	struct target		*t = xcalloc(1, sizeof(*t));
	struct log_ratelimit	 rl = LOG_RATELIMIT_INIT(10, 3);
	size_t			 len;

	t->conf = conf;
	t->base = base;
	t->sender = sender;
	t->rl = rl;
	t->base_url = xstrdup(conf->url);
	len = strlen(t->base_url);
	while (len > 0 && t->base_url[len - 1] == '/')
		t->base_url[--len] = '\0';
	TAILQ_INIT(&t->queues);
	return t;
}

void
target_free(struct target *t)
{
	struct target_queue	*tq;

	if (t == NULL)
		return;
	while ((tq = TAILQ_FIRST(&t->queues)) != NULL) {
		TAILQ_REMOVE(&t->queues, tq, entry);
		target_queue_free(tq);
	}
	free(t->base_url);
	free(t);
}

const char *
target_name(const struct target *t)
{
	return t->conf->name;
}

const struct conf_target *
target_conf(const struct target *t)
{
	return t->conf;
}

static struct target_queue *
target_find_queue(struct target *t, const char *db, const char *rp)
{
	struct target_queue	*tq = t->last;

	if (tq != NULL && strcmp(queue_database(tq->queue), db) == 0 &&
	    strcmp(queue_retention_policy(tq->queue), rp) == 0)
		return tq;
	TAILQ_FOREACH(tq, &t->queues, entry) {
		if (strcmp(queue_database(tq->queue), db) == 0 &&
		    strcmp(queue_retention_policy(tq->queue), rp) == 0)
			return t->last = tq;
	}
	return NULL;
}

/* drop_oldest: frees room from the queue holding the most bytes. */
static bool
target_make_room(struct target *t, size_t need)
{
	struct target_queue	*tq, *largest;
	size_t			 freed;

	while (t->bytes + need > t->conf->buffer_size) {
		largest = NULL;
		TAILQ_FOREACH(tq, &t->queues, entry)
			if (largest == NULL || queue_bytes(tq->queue) >
			    queue_bytes(largest->queue))
				largest = tq;
		if (largest == NULL ||
		    (freed = queue_drop_oldest(largest->queue)) == 0)
			return false;	/* all the rest is in flight */
		t->bytes -= freed;
		t->points--;
		t->stats.points_dropped_overflow++;
	}
	return true;
}

static void
target_arm_flush(struct target_queue *tq)
{
	const struct conf_target	*c = tq->target->conf;
	uint64_t			 ms = c->flush_interval_ms;
	struct timeval			 tv;

	if (c->flush_jitter_ms > 0)
		ms += (uint64_t)random() % (c->flush_jitter_ms + 1);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(tq->ev_flush, &tv);
}

enum target_reject
target_append(struct target *t, const char *db, const char *rp,
    const char *body, size_t blen, const char *tail, size_t tlen)
{
	struct target_queue	*tq;
	size_t			 size = blen + tlen;

	if ((tq = target_find_queue(t, db, rp)) == NULL) {
		if (t->nqueues >= t->conf->max_queues) {
			t->stats.points_rejected_queues++;
			return TARGET_REJECT_QUEUES;
		}
		tq = t->last = target_queue_new(t, db, rp);
	}
	if (t->bytes + size > t->conf->buffer_size &&
	    (t->conf->overflow == OVERFLOW_DROP_NEWEST ||
	    !target_make_room(t, size))) {
		t->stats.points_dropped_overflow++;
		return TARGET_REJECT_OVERFLOW;
	}
	if (queue_append(tq->queue, body, blen, tail, tlen))
		target_arm_flush(tq);
	t->bytes += size;
	t->points++;
	t->stats.points_accepted++;
	if (tq->inflight == NULL && queue_ready(tq->queue))
		target_pump(t);
	return TARGET_ACCEPTED;
}

static void target_write_done_cb(const struct sender_result *, void *);
static void target_create_done_cb(const struct sender_result *, void *);

static void
target_send(struct target_queue *tq)
{
	struct target	*t = tq->target;
	struct batch	*b = queue_take(tq->queue);

	tq->inflight = b;
	t->inflight++;
	t->stats.requests++;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("target %s: db=%s: sending %zu points, %zu bytes",
		    t->conf->name, queue_database(tq->queue), b->points,
		    b->bytes);
	sender_post(t->sender, tq->write_url, "text/plain; charset=utf-8",
	    batch_body(b), b->bytes, (long)t->conf->timeout_ms,
	    target_write_done_cb, tq);
}

/* Starts as many sends as the connection limit allows, round-robin. */
static void
target_pump(struct target *t)
{
	struct target_queue	*tq, *next;
	size_t			 limit, n, todo = t->nqueues;

	limit = t->failing > 0 ? 1 : t->conf->max_connections;
	for (tq = TAILQ_FIRST(&t->queues), n = 0; tq != NULL && n < todo;
	    tq = next, n++) {
		next = TAILQ_NEXT(tq, entry);
		if (t->inflight >= limit)
			return;
		if (tq->inflight != NULL || tq->create_body != NULL ||
		    evtimer_pending(tq->ev_retry, NULL) ||
		    !queue_ready(tq->queue))
			continue;
		target_send(tq);
		/* the queue just served goes last: fairness */
		TAILQ_REMOVE(&t->queues, tq, entry);
		TAILQ_INSERT_TAIL(&t->queues, tq, entry);
	}
}

static void
target_count_status(struct target *t, const struct sender_result *res)
{
	if (res->status == 0)
		t->stats.http_errors++;
	else if (res->status < 300)
		t->stats.http_2xx++;
	else if (res->status < 500)
		t->stats.http_4xx++;
	else
		t->stats.http_5xx++;
}

static void
target_note_error(struct target *t, const struct sender_result *res)
{
	size_t	 len = res->body_len;

	while (len > 0 && (res->body[len - 1] == '\n' ||
	    res->body[len - 1] == '\r'))
		len--;
	if (res->status == 0)
		snprintf(t->stats.last_error, sizeof(t->stats.last_error),
		    "%s", res->error);
	else
		snprintf(t->stats.last_error, sizeof(t->stats.last_error),
		    "HTTP %ld %.*s", res->status, (int)len, res->body);
}

/* Schedules the next attempt of a queue whose head batch failed. */
static void
target_backoff(struct target_queue *tq, const struct sender_result *res,
    bool slow)
{
	struct target			*t = tq->target;
	const struct conf_target	*c = t->conf;
	uint64_t			 ms;
	struct timeval			 tv;

	if (tq->attempts++ == 0)
		t->failing++;
	t->stats.retries++;
	if (slow)
		ms = c->retry_max_ms;
	else
		ms = backoff_delay(tq->attempts - 1, c->retry_initial_ms,
		    c->retry_max_ms, res ? res->retry_after_ms : 0,
		    (uint64_t)random());
	log_warnx_rl(&tq->rl, "sender: target %s db=%s: %s, retry in %.1fs",
	    c->name, queue_database(tq->queue), t->stats.last_error,
	    (double)ms / 1000);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(tq->ev_retry, &tv);
}

static void
target_delivered(struct target_queue *tq, struct batch *b)
{
	struct target	*t = tq->target;

	t->stats.points_written += b->points;
	t->stats.batches_written++;
	t->stats.last_success = time(NULL);
	if (tq->attempts > 0) {
		log_info("sender: target %s db=%s: delivering again after "
		    "%u failures", t->conf->name, queue_database(tq->queue),
		    tq->attempts);
		t->failing--;
		tq->attempts = 0;
	}
	tq->may_create = true;
}

/* Forgets a batch that leaves memory for good. */
static void
target_release(struct target *t, struct batch *b)
{
	t->bytes -= b->bytes;
	t->points -= b->points;
	batch_free(b);
}

static void
target_split(struct target_queue *tq, struct batch *b)
{
	struct target	*t = tq->target;
	struct batch	*second = batch_split(b);

	if (second == NULL) {
		log_warnx_rl(&t->rl, "sender: target %s db=%s: a single point "
		    "of %zu bytes is too large for the server, dropped",
		    t->conf->name, queue_database(tq->queue), b->bytes);
		t->stats.points_dropped_too_large++;
		target_release(t, b);
		return;
	}
	queue_putback(tq->queue, second);
	queue_putback(tq->queue, b);
}

/* "VERB \"db\"" with InfluxQL identifier quoting ('\' and '"'). */
static void
target_statement(char *buf, size_t size, const char *verb, const char *db)
{
	size_t	 n = (size_t)snprintf(buf, size, "%s \"", verb);

	for (; *db != '\0' && n + 4 < size; db++) {
		if (*db == '"' || *db == '\\')
			buf[n++] = '\\';
		buf[n++] = *db;
	}
	snprintf(buf + n, size - n, "\"");
}

static void
target_create_database(struct target_queue *tq)
{
	struct target	*t = tq->target;
	char		 q[1024], body[3200] = "q=";
	char		*url;

	tq->may_create = false;
	target_statement(q, sizeof(q), "CREATE DATABASE",
	    queue_database(tq->queue));
	target_url_encode(body, sizeof(body), q);
	tq->create_body = xstrdup(body);
	url = xasprintf("%s/query", t->base_url);
	log_info("sender: target %s: creating database \"%s\"", t->conf->name,
	    queue_database(tq->queue));
	sender_post(t->sender, url, "application/x-www-form-urlencoded",
	    tq->create_body, strlen(tq->create_body),
	    (long)t->conf->timeout_ms, target_create_done_cb, tq);
	free(url);
}

static void
target_create_done_cb(const struct sender_result *res, void *arg)
{
	struct target_queue	*tq = arg;
	struct target		*t = tq->target;

	free(tq->create_body);
	tq->create_body = NULL;
	target_count_status(t, res);
	/* InfluxDB 1.x answers 200 even for a refused query; read the body */
	if (res->status == 200 && memmem(res->body, res->body_len,
	    "\"error\"", 7) == NULL) {
		t->stats.databases_created++;
		target_pump(t);
		return;
	}
	target_note_error(t, res);
	target_backoff(tq, res, false);
}

static void
target_write_done_cb(const struct sender_result *res, void *arg)
{
	struct target_queue	*tq = arg;
	struct target		*t = tq->target;
	struct batch		*b = tq->inflight;
	enum response_action	 action;

	tq->inflight = NULL;
	t->inflight--;
	target_count_status(t, res);
	action = response_classify(res->status, res->body, res->body_len);
	if (action != RESPONSE_DONE)
		target_note_error(t, res);
	switch (action) {
	case RESPONSE_DONE:
		target_delivered(tq, b);
		target_release(t, b);
		break;
	case RESPONSE_DROP:
		log_warnx_rl(&t->rl, "sender: target %s db=%s: server "
		    "rejected %zu points, dropped: %s", t->conf->name,
		    queue_database(tq->queue), b->points, t->stats.last_error);
		t->stats.points_dropped_server += b->points;
		target_release(t, b);
		break;
	case RESPONSE_SPLIT:
		target_split(tq, b);
		break;
	case RESPONSE_CREATE_DB:
		queue_putback(tq->queue, b);
		if (t->conf->create_database && tq->may_create)
			target_create_database(tq);
		else
			target_backoff(tq, res, false);
		break;
	case RESPONSE_CONFIG:
		queue_putback(tq->queue, b);
		target_backoff(tq, res, true);
		break;
	case RESPONSE_RETRY:
		queue_putback(tq->queue, b);
		target_backoff(tq, res, false);
		break;
	}
	target_pump(t);
}

void
target_flush(struct target *t)
{
	struct target_queue	*tq;

	TAILQ_FOREACH(tq, &t->queues, entry) {
		queue_seal(tq->queue);
		evtimer_del(tq->ev_flush);
	}
	target_pump(t);
}

void
target_gauges(const struct target *t, struct target_gauges *g)
{
	g->queues = t->nqueues;
	g->points = t->points;
	g->bytes = t->bytes;
	g->in_flight = t->inflight;
	g->failing = t->failing;
}

/* One admin statement in flight; owns the body curl sends. */
struct target_admin {
	sender_done_cb	 cb;
	void		*arg;
	char		 body[];
};

static void
target_query_done_cb(const struct sender_result *res, void *arg)
{
	struct target_admin	*a = arg;

	a->cb(res, a->arg);
	free(a);
}

void
target_query(struct target *t, const char *verb, const char *db,
    sender_done_cb cb, void *arg)
{
	char			 q[1024], body[3200] = "q=";
	struct target_admin	*a;
	char			*url;

	target_statement(q, sizeof(q), verb, db);
	target_url_encode(body, sizeof(body), q);
	a = xmalloc(sizeof(*a) + strlen(body) + 1);
	a->cb = cb;
	a->arg = arg;
	strcpy(a->body, body);
	url = xasprintf("%s/query", t->base_url);
	log_info("sender: target %s: %s", t->conf->name, q);
	sender_post(t->sender, url, "application/x-www-form-urlencoded",
	    a->body, strlen(a->body), (long)t->conf->timeout_ms,
	    target_query_done_cb, a);
	free(url);
}

bool
target_flushed(const struct target *t)
{
	struct target_queue	*tq;

	TAILQ_FOREACH(tq, &t->queues, entry) {
		if (evtimer_pending(tq->ev_retry, NULL))
			continue;	/* failed: waiting for its retry */
		if (queue_points(tq->queue) > 0 || tq->inflight != NULL ||
		    tq->create_body != NULL)
			return false;
	}
	return true;
}

size_t
target_points(const struct target *t)
{
	return t->points;
}

const struct target_stats *
target_stats(const struct target *t)
{
	return &t->stats;
}

void
target_log_stats(const struct target *t)
{
	const struct target_stats	*s = &t->stats;

	log_info("stats: target %s: queues=%zu buffered_points=%zu "
	    "buffered_bytes=%zu in_flight=%zu accepted=%llu written=%llu "
	    "batches=%llu dropped_overflow=%llu dropped_server=%llu "
	    "dropped_too_large=%llu rejected_queues=%llu retries=%llu "
	    "http_2xx=%llu http_4xx=%llu http_5xx=%llu http_errors=%llu "
	    "databases_created=%llu last_error=\"%s\"", t->conf->name,
	    t->nqueues, t->points, t->bytes, t->inflight,
	    (unsigned long long)s->points_accepted,
	    (unsigned long long)s->points_written,
	    (unsigned long long)s->batches_written,
	    (unsigned long long)s->points_dropped_overflow,
	    (unsigned long long)s->points_dropped_server,
	    (unsigned long long)s->points_dropped_too_large,
	    (unsigned long long)s->points_rejected_queues,
	    (unsigned long long)s->retries, (unsigned long long)s->http_2xx,
	    (unsigned long long)s->http_4xx, (unsigned long long)s->http_5xx,
	    (unsigned long long)s->http_errors,
	    (unsigned long long)s->databases_created, s->last_error);
}
