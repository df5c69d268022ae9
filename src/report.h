/*
 * The daemon's answers as text for a person (influx-relayctl on a
 * terminal): the stats answer, per listener and target, with rates,
 * what is buffered, written and dropped by reason, and the last error
 * with its time and age; and the summary a send gets back.  Input is the
 * parsed JSON; every string the daemon relayed from elsewhere (a
 * server's answer, a database name, a client's line) is printed with
 * control characters replaced, so it cannot drive the terminal.
 */
#ifndef RELAYD_REPORT_H
#define RELAYD_REPORT_H

#include <stdint.h>
#include <stdio.h>

struct json;

/*
 * Prints the stats answer `now`.  Rates are the counters' differences
 * from `before`, an answer taken `seconds` earlier; without one, the
 * counters divided by the daemon's uptime (averages since its start).
 */
void	 report_stats(FILE *, const struct json *now,
	    const struct json *before, double seconds);
/* Prints a send's summary (tally.h's JSON). */
void	 report_send(FILE *, const struct json *summary);

#endif
