/*
 * The manual against the parser: influx-relayd.ini(5) documents exactly
 * the keys in src/conf.c's table, each in the subsection of its own
 * section and with the table's default.  The table is the truth; this
 * test keeps the page from drifting from it in either direction.
 *
 * A key's entry in the page is one line in the "[relayd]",
 * "[listener:NAME]" or "[target:NAME]" subsection:
 *	.It Ic KEY No = Ar TYPE Pq default: Li VALUE
 * or "Pq default: empty" for an empty default.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "conf.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR	"."
#endif
#define MAN_PAGE	TOP_SRCDIR "/man/influx-relayd.ini.5"
#define MAN_KEYS_MAX	256

struct man_key {
	const char	*section;
	char		 name[64];
	char		 def[256];
	bool		 has_def;
	int		 lineno;
};

static struct man_key	 man_keys[MAN_KEYS_MAX];
static size_t		 man_nkeys;
static size_t		 conf_nkeys;

/* The key section a .Sh/.Ss heading opens, or NULL for any other. */
static const char *
man_section(const char *heading)
{
	if (strstr(heading, "[relayd]") != NULL)
		return "relayd";
	if (strstr(heading, "[listener:") != NULL)
		return "listener";
	if (strstr(heading, "[target:") != NULL)
		return "target";
	return NULL;
}

/* Copies the word at `p` into `out`; returns the byte after it. */
static const char *
man_word(const char *p, char *out, size_t size)
{
	size_t	 n = strcspn(p, " \t\n");

	snprintf(out, size, "%.*s", (int)n, p);
	return p + n;
}

/* "Pq default: empty" or "Pq default: Li VALUE" (any one macro). */
static bool
man_default(const char *line, char *def, size_t size)
{
	const char	*p = strstr(line, "Pq default: ");
	char		 macro[16];

	if (p == NULL)
		return false;
	p += strlen("Pq default: ");
	if (strncmp(p, "empty", 5) == 0 && strchr(" \n", p[5]) != NULL) {
		def[0] = '\0';
		return true;
	}
	p = man_word(p, macro, sizeof(macro));
	if (strlen(macro) != 2 || *p != ' ')
		return false;
	man_word(p + 1, def, size);
	return def[0] != '\0';
}

static void
man_load(void)
{
	FILE		*fp = fopen(MAN_PAGE, "r");
	const char	*section = NULL;
	char		 line[1024];
	int		 lineno = 0;
	struct man_key	*k;

	if (fp == NULL)
		return;		/* test_page_read says so */
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strncmp(line, ".Sh ", 4) == 0 ||
		    strncmp(line, ".Ss ", 4) == 0)
			section = man_section(line);
		if (section == NULL || strncmp(line, ".It Ic ", 7) != 0 ||
		    man_nkeys == MAN_KEYS_MAX)
			continue;
		k = &man_keys[man_nkeys++];
		k->section = section;
		k->lineno = lineno;
		man_word(line + 7, k->name, sizeof(k->name));
		k->has_def = man_default(line, k->def, sizeof(k->def));
	}
	fclose(fp);
}

static const struct man_key *
man_find(const char *section, const char *name)
{
	size_t	 i;

	for (i = 0; i < man_nkeys; i++)
		if (strcmp(man_keys[i].section, section) == 0 &&
		    strcmp(man_keys[i].name, name) == 0)
			return &man_keys[i];
	return NULL;
}

START_TEST(test_page_read)
{
	ck_assert_msg(man_nkeys > 0, "no key entries found in %s", MAN_PAGE);
	ck_assert_msg(man_nkeys < MAN_KEYS_MAX, "more than %d entries in %s",
	    MAN_KEYS_MAX - 1, MAN_PAGE);
	ck_assert_uint_gt(conf_nkeys, 0);
}
END_TEST

/* Every key of the parser is documented, with the parser's default. */
START_TEST(test_key_documented)
{
	const struct man_key	*k;
	const char		*section, *def;
	char			 name[64];

	ck_assert(conf_key_info((size_t)_i, &section, name, sizeof(name),
	    &def));
	k = man_find(section, name);
	ck_assert_msg(k != NULL, "[%s] key '%s' is not documented in "
	    "the [%s] subsection of %s", section, name, section, MAN_PAGE);
	ck_assert_msg(k->has_def, "%s:%d: [%s] key '%s' has no \"Pq "
	    "default: ...\"", MAN_PAGE, k->lineno, section, name);
	ck_assert_msg(strcmp(k->def, def) == 0, "%s:%d: [%s] key '%s' is "
	    "documented with default '%s', the parser's is '%s'", MAN_PAGE,
	    k->lineno, section, name, k->def, def);
}
END_TEST

/* Every documented key is one the parser knows, documented once. */
START_TEST(test_key_known)
{
	const struct man_key	*k = &man_keys[_i];
	const char		*section, *def;
	char			 name[64];
	size_t			 i;
	bool			 known = false;

	for (i = 0; conf_key_info(i, &section, name, sizeof(name), &def);
	    i++)
		if (strcmp(section, k->section) == 0 &&
		    strcmp(name, k->name) == 0)
			known = true;
	ck_assert_msg(known, "%s:%d: '%s' is documented in [%s], but the "
	    "parser knows no such key there", MAN_PAGE, k->lineno, k->name,
	    k->section);
	ck_assert_msg(man_find(k->section, k->name) == k, "%s:%d: [%s] key "
	    "'%s' is documented twice", MAN_PAGE, k->lineno, k->section,
	    k->name);
}
END_TEST

static Suite *
conf_man_suite(void)
{
	Suite		*s = suite_create("conf_man");
	TCase		*tc = tcase_create("conf_man");
	const char	*section, *def;
	char		 name[64];

	man_load();
	while (conf_key_info(conf_nkeys, &section, name, sizeof(name), &def))
		conf_nkeys++;
	tcase_add_test(tc, test_page_read);
	tcase_add_loop_test(tc, test_key_documented, 0, (int)conf_nkeys);
	tcase_add_loop_test(tc, test_key_known, 0, (int)man_nkeys);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conf_man_suite)
