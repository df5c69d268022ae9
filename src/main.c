/*
 * influx-relayd: command line, configuration, event base and signals.
 * Everything else lives in the modules this file wires together.
 */
#include "config.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "fdlimit.h"
#include "log.h"
#include "loop.h"
#include "probe.h"
#include "relay.h"
#include "service.h"

/* -V says whether sd_notify and socket activation are built in. */
#ifdef HAVE_SYSTEMD
#define RELAYD_SYSTEMD	"yes"
#else
#define RELAYD_SYSTEMD	"no"
#endif

#ifndef RELAYD_CONF_FILE
#define RELAYD_CONF_FILE "/etc/influx-relayd/influx-relayd.ini"
#endif

static void
usage(FILE *out)
{
	fprintf(out, "usage: influx-relayd [-c FILE] [-t] [-d] [-V] [-h]\n"
	    "  -c FILE        configuration (default: %s)\n"
	    "  -t             check the configuration, exit 0 (valid) or 1;\n"
	    "                 warn about what would stop a start here\n"
	    "  -d             debug logging\n"
	    "  -V, --version  print the version\n"
	    "  -h, --help     this help\n", RELAYD_CONF_FILE);
}

static void
version(void)
{
	printf("influx-relayd %s (systemd: %s)\n", PACKAGE_VERSION,
	    RELAYD_SYSTEMD);
}

/* "1 listener", "2 listeners". */
static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static void
signals_block(const int *sigs, size_t n)
{
	sigset_t	 set;
	size_t		 i;

	sigemptyset(&set);
	for (i = 0; i < n; i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/*
 * `arg` points to the running relay, NULL once it is freed: a signal
 * that arrives while the process tears down (a second SIGTERM from an
 * impatient supervisor) has nothing left to act on.
 */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct relay	*r = *(struct relay **)arg;
	char		 err[512];

	if (r == NULL)
		return;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		service_notify("STOPPING=1");
		relay_shutdown(r);
		break;
	case SIGUSR1:
		relay_log_stats(r);
		break;
	case SIGHUP:
		/* relay_reload() logs every problem itself */
		(void)relay_reload(r, err, sizeof(err));
		break;
	}
}

/*
 * Loads the configuration or prints every problem, as "FILE:LINE:
 * problem" for -t, else as error lines in the log; NULL on errors.
 */
static struct conf *
load_conf(const char *file, bool check)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf;
	size_t			 i;

	if ((conf = conf_load(file, &errs)) != NULL)
		return conf;
	for (i = 0; i < errs.count; i++) {
		if (check)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		else
			log_errorx("%s", errs.msgs[i]);
	}
	if (!check)
		log_errorx("influx-relayd could not start: %zu error%s in %s",
		    errs.count, plural(errs.count), file);
	conf_errors_clear(&errs);
	return NULL;
}

/*
 * -t: the file is valid; says what it holds, and warns about what would
 * stop a start on this host now (exit 0 all the same: systemd may create
 * directories before the service starts, as another user).
 */
static int
check_conf(const char *file, struct conf *conf)
{
	struct conf_errors	 warns = { 0 };
	size_t			 i, n = probe_conf(conf, &warns);

	for (i = 0; i < n; i++)
		fprintf(stderr, "%s\n", warns.msgs[i]);
	printf("%s: configuration OK (%zu listener%s, %zu target%s)", file,
	    conf->nlisteners, plural(conf->nlisteners), conf->ntargets,
	    plural(conf->ntargets));
	if (n > 0)
		printf(", %zu warning%s about this host", n, plural(n));
	printf("\n");
	conf_errors_clear(&warns);
	conf_free(conf);
	return 0;
}

static int
run(struct conf *conf, bool debug)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct event		*ev_sig[sizeof(sigs) / sizeof(sigs[0])];
	struct event_base	*base;
	struct relay		*r;
	char			 err[256];
	size_t			 i, left;

	if ((base = loop_base_new()) == NULL)
		fatalx("event_base_new failed");
	fdlimit_raise();
	fdlimit_check(conf);
	r = relay_new(base, conf);
	relay_set_debug(r, debug);
	service_inherit_fds();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		ev_sig[i] = evsignal_new(base, sigs[i], signal_cb, &r);
		if (ev_sig[i] == NULL || evsignal_add(ev_sig[i], NULL) == -1)
			fatalx("cannot watch signal %d", sigs[i]);
	}
	if (relay_start(r, err, sizeof(err)) == -1) {
		log_errorx("influx-relayd could not start: %s", err);
		relay_free(r);
		service_close_fds();
		return 1;
	}
	log_info("influx-relayd %s started", PACKAGE_VERSION);
	service_notify("READY=1");
	service_watchdog_start(base);
	event_base_dispatch(base);
	/*
	 * Tearing down: more signals stay pending until the exit (freeing
	 * the signal events would give them back their default action).
	 */
	signals_block(sigs, sizeof(sigs) / sizeof(sigs[0]));
	left = relay_volatile(r);
	service_watchdog_stop();
	relay_free(r);
	r = NULL;
	/*
	 * A bufferevent freed while its deferred callbacks were queued (a
	 * control client with answers pending) is released only when they
	 * run: one last turn lets them, so nothing leaks at exit.
	 */
	event_base_loop(base, EVLOOP_NONBLOCK);
	service_close_fds();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(ev_sig[i]);
	event_base_free(base);
	log_info("influx-relayd stopped%s", left ? " with data lost" : "");
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option	 longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char			*file = RELAYD_CONF_FILE;
	struct conf			*conf;
	int				 ch, check = 0, debug = 0, rc;

	while ((ch = getopt_long(argc, argv, "c:tdVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'V':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if ((conf = load_conf(file, check)) == NULL)
		return 1;
	if (check)
		return check_conf(file, conf);
	log_set_level(debug ? LOG_LEVEL_DEBUG :
	    (enum log_level)conf->log_level);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	rc = run(conf, debug);
	curl_global_cleanup();
	return rc;
}
