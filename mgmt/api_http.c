/* api_http.c - the management API's HTTPS side: TLS context, evhttp on the slow path's
 * event_base with bufferevent_openssl connections, and the bridge from an evhttp request
 * to the socket-free core (api_handle). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/tg_log.h"
#include "mgmt/api_int.h"

#define API_MAX_HEADERS   (32u << 10) /* request line and headers (room for OIDC tokens) */
#define API_IDLE_TIMEOUT  30          /* seconds a connection may stay silent */
#define API_HARD_SLACK    (64u << 10) /* see http_hard_limit */

/* The last OpenSSL error as text into <buf> (the queue is emptied). */
static const char *ssl_error(char *buf, size_t len)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (!last)
		snprintf(buf, len, "unknown TLS error");
	else
		ERR_error_string_n(last, buf, len);
	return buf;
}

/* Builds the server TLS context: TLS 1.2 minimum, AEAD ECDHE suites for 1.2 (1.3 has its
 * own), no renegotiation, the certificate chain and key from PEM files. */
static SSL_CTX *tls_context(const char *cert, const char *key, char *err, size_t errlen)
{
	char e[256];
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "api: TLS context: %s", ssl_error(e, sizeof(e)));
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
		snprintf(err, errlen, "api: TLS settings: %s", ssl_error(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "api: certificate %s: %s", cert, ssl_error(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "api: private key %s: %s", key, ssl_error(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "api: private key %s does not match certificate %s", key,
			 cert);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* evhttp asks for each accepted connection's bufferevent: a TLS server one. */
static struct bufferevent *http_bevcb(struct event_base *base, void *arg)
{
	struct api *a = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(a->ssl);

	if (!ssl)
		return NULL; /* evhttp then uses a plain one: on_request refuses to serve it */
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	/* Clients often close without close_notify; that is not an error worth a log. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static int method_of(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:     return API_M_GET;
	case EVHTTP_REQ_HEAD:    return API_M_HEAD;
	case EVHTTP_REQ_POST:    return API_M_POST;
	case EVHTTP_REQ_PUT:     return API_M_PUT;
	case EVHTTP_REQ_DELETE:  return API_M_DELETE;
	case EVHTTP_REQ_PATCH:   return API_M_PATCH;
	case EVHTTP_REQ_OPTIONS: return API_M_OPTIONS;
	default:                 return API_M_OTHER;
	}
}

/* Answers leave in more than one TLS record: without TCP_NODELAY, Nagle holds the last
 * one back until the client's delayed ACK (40 ms a request). evhttp gives no hook per
 * connection, so this runs per request (one cheap syscall). */
static void no_delay(struct evhttp_connection *conn)
{
	int one = 1;

	setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(conn)), IPPROTO_TCP,
		   TCP_NODELAY, &one, sizeof(one));
}

/* Every request evhttp has read completely (head and body) comes here. */
static void on_request(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *buf;
	struct api_request rq = { 0 };
	struct api_response rs;
	char len[32];

	if (!conn || !bufferevent_openssl_get_ssl(evhttp_connection_get_bufferevent(conn))) {
		/* SSL_new failed for this connection: never answer API requests in clear. */
		evhttp_add_header(out, "Connection", "close");
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	no_delay(conn);
	rq.method = method_of(evhttp_request_get_command(req));
	rq.target = evhttp_request_get_uri(req);
	rq.authorization = evhttp_find_header(evhttp_request_get_input_headers(req),
					      "Authorization");
	rq.body_len = evbuffer_get_length(in);
	rq.body = rq.body_len ? (const char *)evbuffer_pullup(in, -1) : NULL;
	if (rq.body_len && !rq.body)
		rq.body_len = 0; /* out of memory: answered as an empty body */
	api_handle(a, &rq, &rs);

	evhttp_add_header(out, "Content-Type", rs.content_type);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	if (rs.allow)
		evhttp_add_header(out, "Allow", rs.allow);
	if (rs.www_authenticate)
		evhttp_add_header(out, "WWW-Authenticate", rs.www_authenticate);
	buf = evbuffer_new();
	if (rq.method == API_M_HEAD) {
		/* evhttp would send a body for HEAD: give the length, keep the bytes. */
		snprintf(len, sizeof(len), "%zu", rs.body_len);
		evhttp_add_header(out, "Content-Length", len);
	} else if (buf) {
		evbuffer_add(buf, rs.body, rs.body_len);
	}
	api_response_free(&rs);
	evhttp_send_reply(req, rs.status, api_status_text(rs.status), buf);
	if (buf)
		evbuffer_free(buf);
}

/* evhttp's own body limit. A body over max_body but under this one reaches the core and
 * gets a JSON 413; only a larger one is cut off by evhttp while reading (413 too, with
 * libevent's HTML body, as libevent 2.1 offers no hook there), which bounds memory. */
static size_t http_hard_limit(unsigned max_body)
{
	return (size_t)max_body + (max_body > API_HARD_SLACK ? max_body : API_HARD_SLACK);
}

/* Parses "ADDR:PORT" (an IPv4 literal or a bracketed IPv6 literal; port 0 = any) into
 * <ss>. Returns 0 or -1. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, int *len)
{
	const char *colon = strrchr(s, ':');
	char addr[128];
	char *end;
	unsigned long port;

	if (!colon || !colon[1] || (size_t)(colon - s) >= sizeof(addr))
		return -1;
	if (s[0] == '[' ? colon[-1] != ']' : strchr(s, ':') != colon)
		return -1;
	/* evutil_parse_sockaddr_port refuses port 0, which tests and ephemeral use need. */
	port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] < '0' || colon[1] > '9' || port > 65535)
		return -1;
	memcpy(addr, s, (size_t)(colon - s));
	addr[colon - s] = 0;
	*len = sizeof(*ss);
	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, len) != 0)
		return -1;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	return 0;
}

static int bind_listener(struct api *a, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int len;

	if (parse_listen(a->cfg.listen, &ss, &len) != 0) {
		snprintf(err, errlen, "api: listen '%s' is not ADDR:PORT (IPv4, or [IPv6])",
			 a->cfg.listen);
		return -1;
	}
	a->lst = evconnlistener_new_bind(a->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
					 LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, -1,
					 (struct sockaddr *)&ss, len);
	if (!a->lst) {
		snprintf(err, errlen, "api: listen %s: %s", a->cfg.listen,
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return -1;
	}
	if (!evhttp_bind_listener(a->http, a->lst)) {
		evconnlistener_free(a->lst);
		a->lst = NULL;
		snprintf(err, errlen, "api: listen %s: out of memory", a->cfg.listen);
		return -1;
	}
	/* evhttp owns the listener now (evhttp_free closes it). */
	if (getsockname(evconnlistener_get_fd(a->lst), (struct sockaddr *)&ss, &sl) == 0)
		a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* libevent and OpenSSL write to sockets with write()/writev(): a client that resets its
 * connection while an answer is being written would raise SIGPIPE, whose default action
 * ends the process. Ignore it, unless the daemon has its own handler. */
static void ignore_sigpipe(void)
{
	struct sigaction old, ign = { .sa_handler = SIG_IGN };

	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		sigaction(SIGPIPE, &ign, NULL);
}

int api_start(struct event_base *base, const struct api_config *cfg, const struct api_ops *ops,
	      struct rec *rec, struct api **out, char *err, size_t errlen)
{
	char cert[512], key[512];
	struct api *a;
	int gen = 0;

	*out = NULL;
	if (!base) {
		snprintf(err, errlen, "api: no event base");
		return -1;
	}
	if (api_core_new(cfg, ops, rec, &a, err, errlen) != 0)
		return -1;
	a->base = base;
	if (cfg->cert[0]) {
		snprintf(cert, sizeof(cert), "%s", cfg->cert);
		snprintf(key, sizeof(key), "%s", cfg->key[0] ? cfg->key : cfg->cert);
	} else if ((gen = api_cert_ensure(cfg->state_dir, cert, key, sizeof(cert), err,
					  errlen)) < 0) {
		goto fail;
	}
	ignore_sigpipe();
	a->ssl = tls_context(cert, key, err, errlen);
	if (!a->ssl)
		goto fail;
	a->http = evhttp_new(base);
	if (!a->http) {
		snprintf(err, errlen, "api: evhttp_new failed");
		goto fail;
	}
	/* Every method reaches the core, so that a wrong one gets a JSON 405. */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
				   EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(a->http, API_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, http_hard_limit(a->cfg.max_body));
	/* Read a too-long body to its end before answering 413, so that the client sees the
	 * answer rather than a reset. */
	evhttp_set_flags(a->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_timeout(a->http, API_IDLE_TIMEOUT);
	evhttp_set_default_content_type(a->http, "application/json");
	evhttp_set_bevcb(a->http, http_bevcb, a);
	evhttp_set_gencb(a->http, on_request, a);
	if (bind_listener(a, err, errlen) != 0)
		goto fail;
	TG_INFO("api", "management API on https://%s (port %u), certificate %s%s",
		a->cfg.listen, a->port, cert, gen == 1 ? " (generated, self-signed)" : "");
	*out = a;
	return 0;
fail:
	api_stop(a);
	return -1;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	if (a->http)
		evhttp_free(a->http); /* closes the listener and every connection */
	SSL_CTX_free(a->ssl);
	api_core_free(a);
}

uint16_t api_port(const struct api *a)
{
	return a ? a->port : 0;
}
