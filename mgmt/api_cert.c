/* api_cert.c - the management API's self-signed certificate: generated with OpenSSL 3
 * on first start (EC P-256, CN=tollgate, 825 days) into the state directory, reused after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/tg_log.h"
#include "mgmt/api_int.h"

#define CERT_DAYS 825                 /* the longest validity clients accept for a leaf */

/* Adds extension <nid> with value <v> (openssl.cnf syntax) to <x>. Returns 0 or -1. */
static int add_ext(X509 *x, int nid, const char *v)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, v);
	if (!e)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

/* Makes a self-signed certificate for key <pk>. Returns it, or NULL. */
static X509 *make_cert(EVP_PKEY *pk)
{
	unsigned char serial[16];
	X509 *x = X509_new();
	X509_NAME *name;
	BIGNUM *bn = NULL;
	int ok = 0;

	if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* a positive serial number (RFC 5280) */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_get_subject_name(x);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_set_version(x, X509_VERSION_3) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	     X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) &&
	     X509_set_pubkey(x, pk) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"tollgate", -1, -1, 0) &&
	     X509_set_issuer_name(x, name) &&
	     add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
	     add_ext(x, NID_key_usage, "critical,digitalSignature") == 0 &&
	     add_ext(x, NID_ext_key_usage, "serverAuth") == 0 &&
	     add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
	     add_ext(x, NID_subject_alt_name, "IP:127.0.0.1,IP:::1,DNS:localhost") == 0 &&
	     X509_sign(x, pk, EVP_sha256()) > 0;
out:
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Writes <path> through a temporary file and a rename, so that a crash never leaves
 * half a PEM file; <mode> is set before any byte is written. <key> or <cert> is written.
 * Returns 0, or -1 with a message in <err>. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, char *err,
		     size_t errlen)
{
	char tmp[600];
	FILE *f = NULL;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "api: cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, cert);
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errlen, "api: cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Generates a key and a certificate into <cert> and <key>. Returns 0 or -1. */
static int generate(const char *cert, const char *key, char *err, size_t errlen)
{
	EVP_PKEY *pk;
	X509 *x = NULL;
	int rc = -1;

	ERR_clear_error();
	pk = EVP_EC_gen("P-256");
	if (!pk || !(x = make_cert(pk))) {
		snprintf(err, errlen, "api: generating a certificate failed: %s",
			 ERR_reason_error_string(ERR_get_error()) ?: "unknown error");
		goto out;
	}
	/* The key first: a certificate on disk means its key is there too. */
	if (write_pem(key, 0600, pk, NULL, err, errlen) == 0 &&
	    write_pem(cert, 0644, NULL, x, err, errlen) == 0)
		rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

/* Whether <cert> holds a certificate still valid now. 0: expired or unreadable. */
static int cert_current(const char *cert)
{
	FILE *f = fopen(cert, "r");
	X509 *x;
	int ok;

	if (!f)
		return 0;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ok = x && X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
	X509_free(x);
	ERR_clear_error();
	return ok;
}

int api_cert_ensure(const char *state_dir, char *cert, char *key, size_t pathlen,
		    char *err, size_t errlen)
{
	struct stat st;

	if (!state_dir || !state_dir[0]) {
		snprintf(err, errlen, "api: no certificate configured and no state directory to "
			 "keep a generated one in");
		return -1;
	}
	if ((size_t)snprintf(cert, pathlen, "%s/api-cert.pem", state_dir) >= pathlen ||
	    (size_t)snprintf(key, pathlen, "%s/api-key.pem", state_dir) >= pathlen) {
		snprintf(err, errlen, "api: state directory path too long");
		return -1;
	}
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "api: cannot create %s: %s", state_dir, strerror(errno));
		return -1;
	}
	if (stat(key, &st) == 0 && stat(cert, &st) == 0) {
		if (cert_current(cert))
			return 0;
		TG_WARN("api", "%s has expired or is unreadable: generating a new one", cert);
	}
	if (generate(cert, key, err, errlen) != 0)
		return -1;
	TG_INFO("api", "generated a self-signed certificate %s (key %s)", cert, key);
	return 1;
}
