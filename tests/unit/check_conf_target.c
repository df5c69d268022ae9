/*
 * [target:] keys of the delivery engine: credentials and their files,
 * TLS files, URL forms, and the endpoint URLs built from them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "conf.h"
#include "endpoint.h"
#include "mem.h"

#define HEAD \
	"[listener:main]\n" \
	"path = /tmp/relay.sock\n" \
	"target = local\n" \
	"[target:local]\n"

static const struct {
	const char	*text;
	const char	*want;
} errors[] = {
	{ HEAD "password = x\n", "a password needs a username" },
	{ HEAD "username = u\npassword = x\npassword_file = /etc/hostname\n",
	    "set password or password_file, not both" },
	{ HEAD "username = u\npassword_file = /nonexistent/pw\n",
	    "cannot read password_file '/nonexistent/pw'" },
	{ HEAD "token = a\ntoken_file = /etc/hostname\n",
	    "set token or token_file, not both" },
	{ HEAD "token_file = /nonexistent/tok\n",
	    "cannot read token_file '/nonexistent/tok'" },
	{ HEAD "username = u\npassword = p\ntoken = t\n",
	    "set username/password or a token, not both" },
	{ HEAD "url = http://u:secret@127.0.0.1:8086\n",
	    "url must not contain credentials" },
	{ HEAD "tls_ca = /etc/hostname\n", "tls_* options need an https://" },
	{ HEAD "url = https://h\ntls_cert = /etc/hostname\n",
	    "tls_cert and tls_key go together" },
	{ HEAD "url = https://h\ntls_ca = /nonexistent/ca.pem\n",
	    "cannot read tls_ca '/nonexistent/ca.pem'" },
	{ HEAD "url = unix://run/x.sock\n", "unix:///absolute/path" },
	{ HEAD "api = v3\n", "(one of: v1|v2)" },
};

START_TEST(test_error)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf;

	conf = conf_load_string(errors[_i].text, "t.ini", &errs);
	ck_assert_ptr_null(conf);
	ck_assert_msg(errs.count >= 1, "no error for: %s", errors[_i].text);
	ck_assert_msg(strstr(errs.msgs[0], errors[_i].want) != NULL,
	    "got '%s', want '%s'", errs.msgs[0], errors[_i].want);
	/* a refused URL with a password is not echoed */
	ck_assert(strstr(errs.msgs[0], "secret") == NULL);
	conf_errors_clear(&errs);
}
END_TEST

/* Loads `text`, which must be valid. */
static struct conf *
load_ok(const char *text)
{
	struct conf_errors	 errs = { 0 };
	struct conf		*conf = conf_load_string(text, "t.ini", &errs);

	ck_assert_msg(conf != NULL, "%s", errs.count ? errs.msgs[0] : "");
	return conf;
}

START_TEST(test_secret_files)
{
	char		 pw[] = "/tmp/relayd-pw-XXXXXX";
	char		 tok[] = "/tmp/relayd-tok-XXXXXX";
	char		*text;
	struct conf	*conf;
	int		 fd;

	fd = mkstemp(pw);
	ck_assert(write(fd, "s3cret\n", 7) == 7);
	close(fd);
	fd = mkstemp(tok);
	ck_assert(write(fd, "tok123\r\n", 8) == 8);
	close(fd);
	ck_assert(asprintf(&text, HEAD "username = u\npassword_file = %s\n"
	    "[target:b]\ntoken_file = %s\napi = v2\norg = o\ngzip = true\n"
	    "[target:c]\nurl = unix:///run/influxdb.sock\n", pw, tok) > 0);
	conf = load_ok(text);
	ck_assert_str_eq(conf->targets[0]->password, "s3cret");
	ck_assert_str_eq(conf->targets[1]->token, "tok123");
	ck_assert_int_eq(conf->targets[1]->api, API_V2);
	ck_assert(conf->targets[1]->gzip);
	conf_free(conf);
	free(text);
	unlink(pw);
	unlink(tok);
}
END_TEST

START_TEST(test_tls_ok)
{
	struct conf	*conf = load_ok(HEAD "url = https://h:8086\n"
			    "tls_ca = /etc/hostname\ntls_cert = /etc/hostname\n"
			    "tls_key = /etc/hostname\ntls_verify = false\n");

	ck_assert(!conf->targets[0]->tls_verify);
	ck_assert_str_eq(conf->targets[0]->tls_ca, "/etc/hostname");
	conf_free(conf);
}
END_TEST

static const struct {
	int		 api;
	const char	*org, *db, *rp, *want;
} urls[] = {
	{ API_V1, "", "db", "", "http://h/write?db=db&precision=ns" },
	{ API_V1, "", "my db", "a/b", "http://h/write?db=my%20db&rp=a%2Fb"
	    "&precision=ns" },
	{ API_V2, "acme", "db", "rp",
	    "http://h/api/v2/write?org=acme&bucket=db%2Frp&precision=ns" },
	{ API_V2, "", "db", "", "http://h/api/v2/write?bucket=db"
	    "&precision=ns" },
};

/* A url with a path keeps it: a reverse proxy's, or vminsert's. */
static const struct {
	const char	*url;
	int		 api;
	const char	*write, *query;
} prefixed[] = {
	{ "http://proxy/influxdb", API_V1,
	    "http://proxy/influxdb/write?db=d&precision=ns",
	    "http://proxy/influxdb/query" },
	{ "https://proxy:8443/influxdb/", API_V1,
	    "https://proxy:8443/influxdb/write?db=d&precision=ns",
	    "https://proxy:8443/influxdb/query" },
	{ "http://vminsert:8480/insert/0/influx", API_V1,
	    "http://vminsert:8480/insert/0/influx/write?db=d&precision=ns",
	    "http://vminsert:8480/insert/0/influx/query" },
	{ "http://vminsert:8480/insert/0/influx/", API_V2,
	    "http://vminsert:8480/insert/0/influx/api/v2/write?bucket=d"
	    "&precision=ns", "http://vminsert:8480/insert/0/influx/query" },
	{ "http://vm:8428/influx", API_V2,
	    "http://vm:8428/influx/api/v2/write?bucket=d&precision=ns",
	    "http://vm:8428/influx/query" },
};

START_TEST(test_prefixed_urls)
{
	char	*path, *base = endpoint_base(prefixed[_i].url, &path);
	char	*write = endpoint_write_url(base,
		    prefixed[_i].api == API_V2, "", "d", "");
	char	*query = endpoint_query_url(base);
	char	*text = xasprintf(HEAD "url = %s\n", prefixed[_i].url);

	conf_free(load_ok(text));	/* -t accepts it */
	free(text);
	ck_assert_ptr_null(path);
	ck_assert_str_eq(write, prefixed[_i].write);
	ck_assert_str_eq(query, prefixed[_i].query);
	free(base);
	free(write);
	free(query);
}
END_TEST

START_TEST(test_write_url)
{
	char	*url = endpoint_write_url("http://h", urls[_i].api == API_V2,
		    urls[_i].org, urls[_i].db, urls[_i].rp);

	ck_assert_str_eq(url, urls[_i].want);
	free(url);
}
END_TEST

START_TEST(test_endpoint_misc)
{
	char	*path, *base, *body;

	base = endpoint_base("unix:///run/influxdb.sock", &path);
	ck_assert_str_eq(base, "http://localhost");
	ck_assert_str_eq(path, "/run/influxdb.sock");
	free(base);
	free(path);
	base = endpoint_base("http://h:8086//", &path);
	ck_assert_str_eq(base, "http://h:8086");
	ck_assert_ptr_null(path);
	free(base);
	body = endpoint_query_body("CREATE DATABASE", "a\"b");
	ck_assert_str_eq(body, "q=CREATE%20DATABASE%20%22a%5C%22b%22");
	free(body);
	body = endpoint_query_body("DROP DATABASE", "a\\b c");
	ck_assert_str_eq(body, "q=DROP%20DATABASE%20%22a%5C%5Cb%20c%22");
	free(body);
	ck_assert(endpoint_has_userinfo("https://u:p@h/x"));
	ck_assert(!endpoint_has_userinfo("https://h/x?a=b@c"));
}
END_TEST

/* A removed target keeps its settings after its configuration is freed. */
START_TEST(test_target_dup)
{
	struct conf		*conf = load_ok(HEAD "url = https://h:8086/\n"
				    "username = u\npassword = p\n"
				    "database = d\nbatch_size = 7\n"
				    "flush_interval = 3s\ngzip = true\n");
	struct conf_target	*d = conf_target_dup(conf->targets[0]);
	const struct conf_target *t = conf->targets[0];

	ck_assert_ptr_ne(d->name, t->name);
	ck_assert_ptr_ne(d->url, t->url);
	ck_assert_ptr_ne(d->password, t->password);
	ck_assert_ptr_ne(d->tls_key, t->tls_key);
	conf_free(conf);
	ck_assert_str_eq(d->name, "local");
	ck_assert_str_eq(d->url, "https://h:8086/");
	ck_assert_str_eq(d->username, "u");
	ck_assert_str_eq(d->password, "p");
	ck_assert_str_eq(d->database, "d");
	ck_assert_str_eq(d->retention_policy, "");
	ck_assert_uint_eq(d->batch_size, 7);
	ck_assert_uint_eq(d->flush_interval_ms, 3000);
	ck_assert(d->gzip);
	conf_target_free(d);
	conf_target_free(NULL);
}
END_TEST

static Suite *
conf_target_suite(void)
{
	Suite	*s = suite_create("conf_target");
	TCase	*tc = tcase_create("conf_target");

	tcase_add_loop_test(tc, test_error, 0,
	    sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, test_secret_files);
	tcase_add_test(tc, test_tls_ok);
	tcase_add_loop_test(tc, test_write_url, 0,
	    sizeof(urls) / sizeof(urls[0]));
	tcase_add_loop_test(tc, test_prefixed_urls, 0,
	    sizeof(prefixed) / sizeof(prefixed[0]));
	tcase_add_test(tc, test_endpoint_misc);
	tcase_add_test(tc, test_target_dup);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conf_target_suite)
