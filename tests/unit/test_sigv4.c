/*
 * test_sigv4.c - AWS Signature Version 4 signer (src/queue/sigv4.c).
 *
 * Without arguments: cmocka tests.
 *   - Every case of the official AWS SigV4 test suite in
 *     $MLW_SHARED_DATA/sigv4-testsuite/ (31 cases; see
 *     shared/data/README.md): each <case>.req is parsed and signed with the
 *     suite's credentials, date, region and service, and the canonical
 *     request, string to sign and Authorization value are compared byte
 *     for byte with <case>.creq, .sts and .authz; the headers the signer
 *     asks to add are compared with <case>.sreq. A missing suite, a missing
 *     case or a wrong byte fails the test. No case is skipped: all 31 are
 *     in scope (the S3 note in normalize-path.txt is not a case).
 *   - Unit cases: empty payload hash, payload hash sources, session token
 *     signed and unsigned, the AWS documentation's signing-key example,
 *     the later suite variant of get-header-value-multiline, path, query
 *     and header rules, argument errors.
 *
 * With arguments, a signing driver for tests/integration/
 * test_sigv4_botocore.py:
 *
 *   test_sigv4 --sign <method> <url> <region> <service> <amzdate>
 *                     <key> <secret> [token]
 *
 * stdin: header lines "Name: value" (split at the first ':'; the signer
 * trims the value), then an empty line, then the body, byte for byte, up
 * to EOF (no empty line: no body). A Host header is added from the URL
 * when stdin has none (lower-case host, default port dropped, as botocore
 * does). stdout: the headers to add, one "Name: value" line each, the
 * last being Authorization. stderr: the canonical request and string to
 * sign. Exit 0 on success, 2 on a signing or usage error.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "queue/sigv4.h"

/* ---------------------------------------------------------------------- */
/* Suite parameters (shared/data/README.md, "Signing parameters")         */
/* ---------------------------------------------------------------------- */

#define SUITE_AKID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_REGION "us-east-1"
#define SUITE_SERVICE "service"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_CASES 31
/* post-sts-token/readme.txt; test_suite_complete checks it is there. */
#define SUITE_TOKEN                                                          \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWs" \
    "KWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGde" \
    "ehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8" \
    "Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8" \
    "FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

static const struct sigv4_credentials SUITE_CRED = {SUITE_AKID, SUITE_SECRET,
                                                    NULL};
static const struct sigv4_credentials SUITE_CRED_TOKEN = {
    SUITE_AKID, SUITE_SECRET, SUITE_TOKEN};

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

static char g_suite_dir[4096];

/* snprintf into a path buffer; 0, or -1 (and an empty string) when the
 * result would not fit. */
__attribute__((format(printf, 3, 4))) static int
fmt_path(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

/* $MLW_SHARED_DATA, else $MLW_SOURCE_DIR/../shared/data, else the same
 * path derived from this file's location (CMake compiles it by absolute
 * path), so `build-asan/test_sigv4` also finds the data when run by hand. */
static const char *suite_dir(void)
{
    if (g_suite_dir[0])
        return g_suite_dir;
    const char *data = getenv("MLW_SHARED_DATA");
    const char *src = getenv("MLW_SOURCE_DIR");
    if (data && *data) {
        fmt_path(g_suite_dir, sizeof g_suite_dir, "%s/sigv4-testsuite", data);
    } else if (src && *src) {
        fmt_path(g_suite_dir, sizeof g_suite_dir,
                 "%s/../shared/data/sigv4-testsuite", src);
    } else {
        const char *me = __FILE__;
        const char *tail = strstr(me, "tests/unit/test_sigv4.c");
        int n = tail ? (int)(tail - me) : 0;
        fmt_path(g_suite_dir, sizeof g_suite_dir,
                 "%.*s../shared/data/sigv4-testsuite", n, me);
    }
    return g_suite_dir;
}

/* Whole file, NUL-terminated; NULL when it cannot be read. */
static char *read_all(FILE *f, size_t *len_out)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    for (;;) {
        if (cap - len < 2) {
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = read_all(f, len_out);
    fclose(f);
    return buf;
}

/* <suite>/<case>/<base>.<ext>, base = last component of case. */
static char *case_file(const char *casename, const char *ext, size_t *len)
{
    char path[4096];
    const char *base = strrchr(casename, '/');
    base = base ? base + 1 : casename;
    char *s = NULL;
    if (fmt_path(path, sizeof path, "%s/%s/%s.%s", suite_dir(), casename,
                 base, ext) == 0)
        s = read_file(path, len);
    if (s == NULL)
        print_error("cannot read %s\n", path);
    return s;
}

/* ---------------------------------------------------------------------- */
/* .req / .sreq parser                                                     */
/* ---------------------------------------------------------------------- */

struct parsed_req {
    char *buf; /* owned copy of the text; all pointers below point into it */
    const char *method;
    const char *target;
    struct sigv4_header *h; /* owned array */
    size_t nh;
    const char *body;
    size_t body_len;
};

static void parsed_req_free(struct parsed_req *r)
{
    free(r->buf);
    free(r->h);
    memset(r, 0, sizeof *r);
}

/*
 * Parse "METHOD SP target SP HTTP/1.1" LF headers [LF LF body]. The target
 * may contain spaces (normalize-path/get-space), so it runs from the first
 * to the last space of the request line. Lines may end in CRLF.
 *
 * Folded lines (a line starting with SP or HTAB, obsolete line folding) are
 * read as one more value of the header above: get-header-value-multiline
 * in this copy of the suite is the original 2015 version, whose expected
 * canonical form "my-header1:value1,value2,value3" is exactly that. (Later
 * copies of the suite unfold with single spaces instead; the signer never
 * sees line breaks either way - test_multiline_variant signs that
 * variant.) Returns 0, or -1 on a malformed request.
 */
static int parse_req(const char *text, size_t len, struct parsed_req *r)
{
    memset(r, 0, sizeof *r);
    r->buf = malloc(len + 1);
    if (r->buf == NULL)
        return -1;
    memcpy(r->buf, text, len);
    r->buf[len] = '\0';

    size_t head_len = len;
    const char *sep = strstr(r->buf, "\n\n");
    const char *sep_crlf = strstr(r->buf, "\r\n\r\n");
    if (sep_crlf && (!sep || sep_crlf < sep)) {
        head_len = (size_t)(sep_crlf - r->buf);
        r->body = sep_crlf + 4;
    } else if (sep) {
        head_len = (size_t)(sep - r->buf);
        r->body = sep + 2;
    } else {
        r->body = r->buf + len;
    }
    r->body_len = len - (size_t)(r->body - r->buf);
    r->buf[head_len] = '\0';

    size_t lines = 1;
    for (size_t i = 0; i < head_len; i++)
        if (r->buf[i] == '\n')
            lines++;
    r->h = calloc(lines, sizeof *r->h);
    if (r->h == NULL)
        return -1;

    char *save = NULL;
    int first = 1;
    for (char *line = strtok_r(r->buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (first) {
            char *sp1 = strchr(line, ' ');
            char *sp2 = strrchr(line, ' ');
            if (sp1 == NULL || sp2 == sp1 || strncmp(sp2 + 1, "HTTP/", 5))
                return -1;
            *sp1 = '\0';
            *sp2 = '\0';
            r->method = line;
            r->target = sp1 + 1;
            first = 0;
        } else if (line[0] == ' ' || line[0] == '\t') {
            if (r->nh == 0)
                return -1;
            r->h[r->nh].name = r->h[r->nh - 1].name;
            r->h[r->nh].value = line;
            r->nh++;
        } else {
            char *colon = strchr(line, ':');
            if (colon == NULL || colon == line)
                return -1;
            *colon = '\0';
            r->h[r->nh].name = line;
            r->h[r->nh].value = colon + 1;
            r->nh++;
        }
    }
    return first ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Comparison helpers                                                      */
/* ---------------------------------------------------------------------- */

/* 1 when got equals want[0..want_len) byte for byte; else prints both. */
static int same_bytes(const char *casename, const char *what, const char *got,
                      const char *want, size_t want_len)
{
    size_t got_len = got ? strlen(got) : 0;
    if (got && got_len == want_len && memcmp(got, want, want_len) == 0)
        return 1;
    size_t i = 0;
    while (got && i < got_len && i < want_len && got[i] == want[i])
        i++;
    print_error("%s: %s differs at byte %zu\n--- expected (%zu bytes)\n%.*s\n"
                "--- got (%zu bytes)\n%s\n---\n",
                casename, what, i, want_len, (int)want_len, want, got_len,
                got ? got : "(null)");
    return 0;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Line `n` (0-based) of s into buf. */
static const char *nth_line(const char *s, int n, char *buf, size_t cap)
{
    for (int i = 0; i < n && s; i++) {
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    if (s == NULL)
        return "";
    size_t len = strcspn(s, "\n");
    snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), s);
    return buf;
}

/* ---------------------------------------------------------------------- */
/* The AWS test suite                                                      */
/* ---------------------------------------------------------------------- */

struct suite_case {
    char name[256]; /* path relative to the suite: "normalize-path/get-slash" */
};

static struct suite_case *g_cases;
static size_t g_ncases;

static int case_cmp(const void *a, const void *b)
{
    return strcmp(((const struct suite_case *)a)->name,
                  ((const struct suite_case *)b)->name);
}

/* A directory is a case when it holds <its name>.req; otherwise its
 * sub-directories are searched (normalize-path/, post-sts-token/). */
static int find_cases(const char *rel, int depth)
{
    char dir[4096];
    if (fmt_path(dir, sizeof dir, "%s%s%s", suite_dir(), *rel ? "/" : "",
                 rel) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096], req[4096];
        struct stat sbuf;
        char name[256];
        if (fmt_path(sub, sizeof sub, "%s/%s", dir, e->d_name) != 0 ||
            fmt_path(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "",
                     e->d_name) != 0 ||
            fmt_path(req, sizeof req, "%s/%s.req", sub, e->d_name) != 0)
            continue;
        if (stat(sub, &sbuf) != 0 || !S_ISDIR(sbuf.st_mode))
            continue;
        if (stat(req, &sbuf) == 0) {
            struct suite_case *p =
                realloc(g_cases, (g_ncases + 1) * sizeof *g_cases);
            if (p == NULL) {
                closedir(d);
                return -1;
            }
            g_cases = p;
            memcpy(g_cases[g_ncases].name, name, sizeof name);
            g_ncases++;
        } else if (depth < 3) {
            find_cases(name, depth + 1);
        }
    }
    closedir(d);
    return 0;
}

/* How a case is signed. Everything uses the suite's key, date, region and
 * service; the post-sts-token cases add the session token, and
 * post-sts-header-after asks for it to be added after signing
 * (post-sts-token/readme.txt). */
static void case_params(const char *name, const struct sigv4_credentials **cred,
                        unsigned *flags)
{
    *cred = &SUITE_CRED;
    *flags = 0;
    if (strncmp(name, "post-sts-token/", 15) == 0) {
        *cred = &SUITE_CRED_TOKEN;
        if (strstr(name, "post-sts-header-after"))
            *flags = SIGV4_FLAG_TOKEN_UNSIGNED;
    }
}

static void test_suite_case(void **state)
{
    const char *name = ((const struct suite_case *)*state)->name;
    size_t lreq = 0, lcreq = 0, lsts = 0, lauthz = 0, lsreq = 0;
    char *req = case_file(name, "req", &lreq);
    char *creq = case_file(name, "creq", &lcreq);
    char *sts = case_file(name, "sts", &lsts);
    char *authz = case_file(name, "authz", &lauthz);
    char *sreq = case_file(name, "sreq", &lsreq);
    assert_non_null(req);
    assert_non_null(creq);
    assert_non_null(sts);
    assert_non_null(authz);
    assert_non_null(sreq);

    struct parsed_req r, s;
    assert_int_equal(parse_req(req, lreq, &r), 0);
    assert_int_equal(parse_req(sreq, lsreq, &s), 0);

    const struct sigv4_credentials *cred;
    unsigned flags;
    case_params(name, &cred, &flags);
    struct sigv4_request sr = {
        .method = r.method,
        .path = r.target,
        .headers = r.h,
        .n_headers = r.nh,
        .payload = r.body,
        .payload_len = r.body_len,
        .flags = flags,
    };
    struct sigv4_result out;
    struct mlw_err err = {0};
    int rc = sigv4_sign(&sr, cred, SUITE_REGION, SUITE_SERVICE, SUITE_DATE,
                        &out, &err);
    if (rc != MLW_OK)
        fail_msg("%s: sigv4_sign failed: %s", name, err.msg);

    int ok = 1;
    ok &= same_bytes(name, "canonical request", out.canonical_request, creq,
                     lcreq);
    ok &= same_bytes(name, "string to sign", out.string_to_sign, sts, lsts);
    ok &= same_bytes(name, "authorization", out.authorization, authz, lauthz);

    /* .sreq = .req with the added headers appended, in order. */
    if (strcmp(s.method, r.method) || strcmp(s.target, r.target) ||
        s.body_len != r.body_len || memcmp(s.body, r.body, r.body_len) ||
        s.nh != r.nh + out.n_add) {
        print_error("%s: .sreq is not .req plus %zu added headers\n", name,
                    out.n_add);
        ok = 0;
    } else {
        for (size_t i = 0; i < s.nh; i++) {
            const char *wn = s.h[i].name;
            const char *wv = skip_blanks(s.h[i].value);
            const char *gn = i < r.nh ? r.h[i].name : out.add[i - r.nh].name;
            const char *gv = i < r.nh ? skip_blanks(r.h[i].value)
                                      : out.add[i - r.nh].value;
            if (strcmp(wn, gn) || strcmp(wv, gv)) {
                print_error("%s: signed request header %zu: expected "
                            "'%s: %s', got '%s: %s'\n",
                            name, i, wn, wv, gn, gv);
                ok = 0;
            }
        }
    }

    sigv4_result_free(&out);
    parsed_req_free(&r);
    parsed_req_free(&s);
    free(req);
    free(creq);
    free(sts);
    free(authz);
    free(sreq);
    if (!ok)
        fail_msg("%s: output differs from the AWS test suite", name);
}

static void test_suite_complete(void **state)
{
    (void)state;
    if (g_ncases != SUITE_CASES)
        fail_msg("expected %d AWS SigV4 test cases under %s, found %zu",
                 SUITE_CASES, suite_dir(), g_ncases);
    char path[4096];
    char *readme = NULL;
    if (fmt_path(path, sizeof path, "%s/post-sts-token/readme.txt",
                 suite_dir()) == 0)
        readme = read_file(path, NULL);
    assert_non_null(readme);
    assert_non_null(strstr(readme, SUITE_TOKEN));
    free(readme);
}

/* ---------------------------------------------------------------------- */
/* Unit cases                                                              */
/* ---------------------------------------------------------------------- */

/* Sign a suite-style request; asserts success. */
static void sign_ok(const char *method, const char *path,
                    const struct sigv4_header *h, size_t nh, const char *body,
                    const struct sigv4_credentials *cred, unsigned flags,
                    struct sigv4_result *out)
{
    struct sigv4_request req = {
        .method = method,
        .path = path,
        .headers = h,
        .n_headers = nh,
        .payload = body,
        .payload_len = body ? strlen(body) : 0,
        .flags = flags,
    };
    struct mlw_err err = {0};
    int rc = sigv4_sign(&req, cred, SUITE_REGION, SUITE_SERVICE, SUITE_DATE,
                        out, &err);
    if (rc != MLW_OK)
        fail_msg("sigv4_sign(%s %s) failed: %s", method, path, err.msg);
}

static int sign_rc(const struct sigv4_request *req,
                   const struct sigv4_credentials *cred, const char *date,
                   struct mlw_err *err)
{
    struct sigv4_result out;
    memset(&out, 0xAB, sizeof out); /* must come back zeroed on failure */
    int rc = sigv4_sign(req, cred, SUITE_REGION, SUITE_SERVICE, date, &out,
                        err);
    if (rc != MLW_OK) {
        assert_null(out.canonical_request);
        assert_null(out.authorization);
        assert_int_equal(out.n_add, 0);
        /* No secret in an error message. */
        assert_null(strstr(err->msg, SUITE_SECRET));
        assert_null(strstr(err->msg, "AQoDYXdzEPT"));
        assert_true(err->msg[0] != '\0');
    }
    sigv4_result_free(&out);
    return rc;
}

static const struct sigv4_header HOST[] = {
    {"Host", "example.amazonaws.com"}};

static void test_empty_payload_hash(void **state)
{
    (void)state;
    char hex[SIGV4_HEX_LEN + 1];
    assert_int_equal(sigv4_sha256_hex(NULL, 0, hex, NULL), MLW_OK);
    assert_string_equal(hex, SIGV4_EMPTY_SHA256);
    assert_int_equal(sigv4_sha256_hex("abc", 3, hex, NULL), MLW_OK);
    assert_string_equal(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    struct sigv4_result out;
    sign_ok("GET", "/", HOST, 1, NULL, &SUITE_CRED, 0, &out);
    assert_string_equal(out.payload_hash, SIGV4_EMPTY_SHA256);
    const char *last = strrchr(out.canonical_request, '\n');
    assert_string_equal(last + 1, SIGV4_EMPTY_SHA256);
    /* X-Amz-Date was added (and signed), then Authorization. */
    assert_int_equal(out.n_add, 2);
    assert_string_equal(out.add[0].name, "X-Amz-Date");
    assert_string_equal(out.add[0].value, SUITE_DATE);
    assert_string_equal(out.add[1].name, "Authorization");
    assert_string_equal(out.add[1].value, out.authorization);
    assert_string_equal(out.signed_headers, "host;x-amz-date");
    /* Same bytes as the suite's get-vanilla, whose .req carries the date. */
    size_t n;
    char *authz = case_file("get-vanilla", "authz", &n);
    assert_non_null(authz);
    assert_string_equal(out.authorization, authz);
    free(authz);
    sigv4_result_free(&out);

    /* A zero-length body is the empty payload too. */
    sign_ok("POST", "/", HOST, 1, "", &SUITE_CRED, SIGV4_FLAG_CONTENT_SHA256,
            &out);
    assert_string_equal(out.payload_hash, SIGV4_EMPTY_SHA256);
    assert_int_equal(out.n_add, 3);
    assert_string_equal(out.add[1].name, "X-Amz-Content-SHA256");
    assert_string_equal(out.add[1].value, SIGV4_EMPTY_SHA256);
    assert_string_equal(out.signed_headers,
                        "host;x-amz-content-sha256;x-amz-date");
    assert_non_null(strstr(out.canonical_request,
                           "\nx-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\n"));
    sigv4_result_free(&out);
}

static void test_payload_hash_sources(void **state)
{
    (void)state;
    struct sigv4_result out;
    /* Explicit hash wins over the body. */
    struct sigv4_request req = {
        .method = "PUT", .path = "/", .headers = HOST, .n_headers = 1,
        .payload = "data", .payload_len = 4,
        .payload_hash = SIGV4_UNSIGNED_PAYLOAD};
    assert_int_equal(sigv4_sign(&req, &SUITE_CRED, SUITE_REGION, SUITE_SERVICE,
                                SUITE_DATE, &out, NULL),
                     MLW_OK);
    assert_string_equal(out.payload_hash, SIGV4_UNSIGNED_PAYLOAD);
    assert_string_equal(strrchr(out.canonical_request, '\n') + 1,
                        SIGV4_UNSIGNED_PAYLOAD);
    sigv4_result_free(&out);

    /* The request's X-Amz-Content-SHA256 is the payload hash (botocore). */
    const struct sigv4_header h2[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Content-SHA256", " UNSIGNED-PAYLOAD "}};
    sign_ok("PUT", "/", h2, 2, "data", &SUITE_CRED, SIGV4_FLAG_CONTENT_SHA256,
            &out);
    assert_string_equal(out.payload_hash, SIGV4_UNSIGNED_PAYLOAD);
    assert_int_equal(out.n_add, 2); /* date + Authorization, no 2nd hash */
    sigv4_result_free(&out);

    /* Body hashed otherwise. */
    sign_ok("POST", "/", HOST, 1, "abc", &SUITE_CRED, 0, &out);
    assert_string_equal(
        out.payload_hash,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sigv4_result_free(&out);

    /* Header and explicit hash disagree. */
    struct mlw_err err = {0};
    req.headers = h2;
    req.n_headers = 2;
    req.payload_hash = SIGV4_EMPTY_SHA256;
    assert_int_equal(sign_rc(&req, &SUITE_CRED, SUITE_DATE, &err), MLW_EINVAL);
}

/* The token added by the signer gives the same bytes as the token already
 * in the request (post-sts-header-before), and the unsigned mode gives
 * post-sts-header-after. */
static void test_session_token(void **state)
{
    (void)state;
    size_t n;
    char *creq_before =
        case_file("post-sts-token/post-sts-header-before", "creq", &n);
    char *authz_before =
        case_file("post-sts-token/post-sts-header-before", "authz", &n);
    char *authz_after =
        case_file("post-sts-token/post-sts-header-after", "authz", &n);
    assert_non_null(creq_before);
    assert_non_null(authz_before);
    assert_non_null(authz_after);

    /* Signed token, date and token both added by the signer. */
    struct sigv4_result out;
    sign_ok("POST", "/", HOST, 1, NULL, &SUITE_CRED_TOKEN, 0, &out);
    assert_string_equal(out.canonical_request, creq_before);
    assert_string_equal(out.authorization, authz_before);
    assert_int_equal(out.n_add, 3);
    assert_string_equal(out.add[0].name, "X-Amz-Date");
    assert_string_equal(out.add[1].name, "X-Amz-Security-Token");
    assert_string_equal(out.add[1].value, SUITE_TOKEN);
    assert_string_equal(out.add[2].name, "Authorization");
    assert_string_equal(out.signed_headers,
                        "host;x-amz-date;x-amz-security-token");
    sigv4_result_free(&out);

    /* Unsigned token: still to be added, but not in the signature. */
    sign_ok("POST", "/", HOST, 1, NULL, &SUITE_CRED_TOKEN,
            SIGV4_FLAG_TOKEN_UNSIGNED, &out);
    assert_string_equal(out.authorization, authz_after);
    assert_int_equal(out.n_add, 3);
    assert_string_equal(out.add[1].name, "X-Amz-Security-Token");
    assert_string_equal(out.add[1].value, SUITE_TOKEN);
    assert_null(strstr(out.canonical_request, "x-amz-security-token"));
    sigv4_result_free(&out);

    /* An empty token is no token. */
    const struct sigv4_credentials empty_tok = {SUITE_AKID, SUITE_SECRET, ""};
    sign_ok("POST", "/", HOST, 1, NULL, &empty_tok, 0, &out);
    assert_null(strstr(out.canonical_request, "x-amz-security-token"));
    assert_int_equal(out.n_add, 2);
    sigv4_result_free(&out);

    /* A different token already in the request is refused, and neither
     * value shows up in the message. */
    const struct sigv4_header h[] = {{"Host", "example.amazonaws.com"},
                                     {"X-Amz-Security-Token", "other"}};
    struct sigv4_request req = {.method = "POST", .path = "/", .headers = h,
                                .n_headers = 2};
    struct mlw_err err = {0};
    assert_int_equal(sign_rc(&req, &SUITE_CRED_TOKEN, SUITE_DATE, &err),
                     MLW_EINVAL);
    assert_null(strstr(err.msg, "other"));
    /* ...and so is a token header when the token is to be unsigned. */
    mlw_err_clear(&err);
    req.flags = SIGV4_FLAG_TOKEN_UNSIGNED;
    assert_int_equal(sign_rc(&req, &SUITE_CRED_TOKEN, SUITE_DATE, &err),
                     MLW_EINVAL);
    /* Without a session token it is just another signed header. */
    req.flags = 0;
    assert_int_equal(sign_rc(&req, &SUITE_CRED, SUITE_DATE, &err), MLW_OK);

    free(creq_before);
    free(authz_before);
    free(authz_after);
}

/* AWS General Reference, "Examples of how to derive a signing key for
 * Signature Version 4": secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 * 20120215, us-east-1, iam. */
static void test_signing_key_vector(void **state)
{
    (void)state;
    unsigned char key[SIGV4_KEY_LEN];
    char hex[2 * SIGV4_KEY_LEN + 1];
    assert_int_equal(sigv4_signing_key(SUITE_SECRET, "20120215", "us-east-1",
                                       "iam", key, NULL),
                     MLW_OK);
    for (int i = 0; i < SIGV4_KEY_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    assert_string_equal(
        hex,
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    assert_int_equal(sigv4_signing_key(SUITE_SECRET, "2012021", "us-east-1",
                                       "iam", key, NULL),
                     MLW_EINVAL);
    assert_int_equal(sigv4_signing_key("", "20120215", "us-east-1", "iam", key,
                                       NULL),
                     MLW_EINVAL);
}

/* Later copies of the suite (aws-c-auth, botocore) unfold
 * get-header-value-multiline with spaces; shared/data/README.md gives that
 * variant's canonical request hash and signature. */
static void test_multiline_variant(void **state)
{
    (void)state;
    const struct sigv4_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"My-Header1", "value1  value2     value3"},
        {"X-Amz-Date", SUITE_DATE}};
    struct sigv4_result out;
    sign_ok("GET", "/", h, 3, NULL, &SUITE_CRED, 0, &out);
    assert_non_null(strstr(out.canonical_request,
                           "\nmy-header1:value1 value2 value3\n"));
    char line[128];
    assert_string_equal(
        nth_line(out.string_to_sign, 3, line, sizeof line),
        "e99419459a677bc11de234014be3c4e72c1ea5b454ceb58b613061f5d7a162e8");
    assert_string_equal(
        out.signature,
        "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd");
    sigv4_result_free(&out);
}

static void test_path_rules(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        unsigned flags;
        const char *uri;   /* line 2 of the canonical request */
        const char *query; /* line 3 */
    } cases[] = {
        /* Non-S3: normalised, then each segment encoded again. */
        {"/a%20b/c", 0, "/a%2520b/c", ""},
        {"/a b", 0, "/a%20b", ""},
        {"/\xe1\x88\xb4", 0, "/%E1%88%B4", ""},
        {"/a/b/..", 0, "/a/", ""},
        {"/a/b/.", 0, "/a/b/", ""},
        {"/a/./b/../c", 0, "/a/c", ""},
        {"/a//../b", 0, "/b", ""},
        {"/..", 0, "/", ""},
        {"/../../x", 0, "/x", ""},
        {"", 0, "/", ""},
        {"?x=1", 0, "/", "x=1"},
        {"/a//b///", 0, "/a/b/", ""},
        {"/123456789012/my-queue", 0, "/123456789012/my-queue", ""},
        {"/a+b:c@d!$", 0, "/a%2Bb%3Ac%40d%21%24", ""},
        {"/..a/.b./...", 0, "/..a/.b./...", ""},
        /* S3: as is, encoded once. */
        {"/a%20b/c", SIGV4_FLAG_S3_PATH, "/a%20b/c", ""},
        {"//a/./b c", SIGV4_FLAG_S3_PATH, "//a/./b%20c", ""},
        {"/a%2fb%zz", SIGV4_FLAG_S3_PATH, "/a%2Fb%25zz", ""},
        /* Query: decoded, re-encoded, sorted by key then value. */
        {"/?b=2&a=1&a=0", 0, "/", "a=0&a=1&b=2"},
        {"/?a", 0, "/", "a="},
        {"/?a=&b", 0, "/", "a=&b="},
        {"/?%41=%2f", 0, "/", "A=%2F"},
        {"/?k=a+b", 0, "/", "k=a%2Bb"},
        {"/?k=a b", 0, "/", "k=a%20b"},
        {"/?k=%7E%2D", 0, "/", "k=~-"},
        {"/?k=%zz&k=%", 0, "/", "k=%25&k=%25zz"},
        {"/?a=1&&b=2&", 0, "/", "a=1&b=2"},
        {"/?=v", 0, "/", "=v"},
        {"/?k=a=b", 0, "/", "k=a%3Db"},
        {"/?B=1&a=1&_=1&~=1", 0, "/", "B=1&_=1&a=1&~=1"},
        {"/?Action=ReceiveMessage&QueueUrl=https%3A%2F%2Fq%2F1%2Fq", 0, "/",
         "Action=ReceiveMessage&QueueUrl=https%3A%2F%2Fq%2F1%2Fq"},
        {"/?", 0, "/", ""},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct sigv4_result out;
        sign_ok("GET", cases[i].path, HOST, 1, NULL, &SUITE_CRED,
                cases[i].flags, &out);
        char l1[512], l2[512];
        nth_line(out.canonical_request, 1, l1, sizeof l1);
        nth_line(out.canonical_request, 2, l2, sizeof l2);
        if (strcmp(l1, cases[i].uri) || strcmp(l2, cases[i].query)) {
            print_error("path %s: got uri '%s' query '%s', want '%s' '%s'\n",
                        cases[i].path, l1, l2, cases[i].uri, cases[i].query);
            bad++;
        }
        sigv4_result_free(&out);
    }
    /* Service "s3" implies the S3 rules. */
    struct sigv4_request req = {.method = "GET", .path = "//a%20b",
                                .headers = HOST, .n_headers = 1};
    struct sigv4_result out;
    assert_int_equal(sigv4_sign(&req, &SUITE_CRED, SUITE_REGION, "s3",
                                SUITE_DATE, &out, NULL),
                     MLW_OK);
    char l1[64];
    assert_string_equal(nth_line(out.canonical_request, 1, l1, sizeof l1),
                        "//a%20b");
    sigv4_result_free(&out);
    assert_int_equal(bad, 0);
}

static void test_header_rules(void **state)
{
    (void)state;
    const struct sigv4_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"X-Multi", "  a \t  b  "},
        {"User-Agent", "curl/8"},       /* not signed */
        {"Connection", "keep-alive"},   /* not signed */
        {"x-multi", "\tc"},
        {"Content-Type", "application/x-amz-json-1.0"},
        {"X-Empty", "   "},
        {"X-Amz-Target", "AmazonSQS.ReceiveMessage"},
        {"X-Amz-Date", " " SUITE_DATE " "}, /* trimmed before the check */
    };
    struct sigv4_result out;
    sign_ok("POST", "/", h, sizeof h / sizeof *h, "{}", &SUITE_CRED, 0, &out);
    const char *want =
        "POST\n/\n\n"
        "content-type:application/x-amz-json-1.0\n"
        "host:example.amazonaws.com\n"
        "x-amz-date:" SUITE_DATE "\n"
        "x-amz-target:AmazonSQS.ReceiveMessage\n"
        "x-empty:\n"
        "x-multi:a b,c\n\n"
        "content-type;host;x-amz-date;x-amz-target;x-empty;x-multi\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    assert_string_equal(out.canonical_request, want);
    assert_int_equal(out.n_add, 1); /* only Authorization */
    sigv4_result_free(&out);

    struct mlw_err err = {0};
    struct sigv4_request req = {.method = "GET", .path = "/"};
    /* No Host. */
    const struct sigv4_header nohost[] = {{"X-A", "1"}};
    req.headers = nohost;
    req.n_headers = 1;
    assert_int_equal(sign_rc(&req, &SUITE_CRED, SUITE_DATE, &err), MLW_EINVAL);
    /* CR/LF in a value (header injection) and a bad name. */
    const struct sigv4_header crlf[] = {{"Host", "h"}, {"X-A", "1\r\nX-B: 2"}};
    const struct sigv4_header lf[] = {{"Host", "h"}, {"X-A", "1\n 2"}};
    const struct sigv4_header badname[] = {{"Host", "h"}, {"X A", "1"}};
    const struct sigv4_header noname[] = {{"Host", "h"}, {"", "1"}};
    const struct sigv4_header nullval[] = {{"Host", "h"}, {"X-A", NULL}};
    const struct sigv4_header authz[] = {{"Host", "h"},
                                         {"Authorization", "x"}};
    const struct sigv4_header date[] = {{"Host", "h"},
                                        {"X-Amz-Date", "20150830T123601Z"}};
    const struct sigv4_header date2[] = {{"Host", "h"},
                                         {"X-Amz-Date", SUITE_DATE},
                                         {"x-amz-date", SUITE_DATE}};
    const struct sigv4_header *bad[] = {crlf,    lf,    badname, noname,
                                        nullval, authz, date,    date2};
    const size_t nbad[] = {2, 2, 2, 2, 2, 2, 2, 3};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mlw_err_clear(&err);
        req.headers = bad[i];
        req.n_headers = nbad[i];
        if (sign_rc(&req, &SUITE_CRED, SUITE_DATE, &err) != MLW_EINVAL)
            fail_msg("bad header set %zu was accepted", i);
    }
}

static void test_bad_args(void **state)
{
    (void)state;
    struct mlw_err err = {0};
    struct sigv4_request req = {.method = "GET", .path = "/", .headers = HOST,
                                .n_headers = 1};
    static const char *const dates[] = {"20150830T123600", "2015-08-30T12:36Z",
                                        "20150830t123600Z", "",
                                        "20150830T1236000Z"};
    for (size_t i = 0; i < sizeof dates / sizeof *dates; i++) {
        mlw_err_clear(&err);
        assert_int_equal(sign_rc(&req, &SUITE_CRED, dates[i], &err),
                         MLW_EINVAL);
    }
    mlw_err_clear(&err);
    assert_int_equal(sign_rc(&req, &SUITE_CRED, NULL, &err), MLW_EINVAL);

    const struct sigv4_credentials nosecret = {SUITE_AKID, "", NULL};
    const struct sigv4_credentials nokey = {"", SUITE_SECRET, NULL};
    const struct sigv4_credentials slashkey = {"AK/ID", SUITE_SECRET, NULL};
    const struct sigv4_credentials badtok = {SUITE_AKID, SUITE_SECRET,
                                             "tok\r\nX: y"};
    const struct sigv4_credentials *creds[] = {&nosecret, &nokey, &slashkey,
                                               &badtok, NULL};
    for (size_t i = 0; i < sizeof creds / sizeof *creds; i++) {
        mlw_err_clear(&err);
        assert_int_equal(sign_rc(&req, creds[i], SUITE_DATE, &err),
                         MLW_EINVAL);
    }

    struct sigv4_result out;
    static const char *const scopes[][2] = {
        {"us-east-1/x", "sqs"}, {"", "sqs"}, {"us-east-1", ""},
        {"us east", "sqs"}, {"us-east-1", NULL}};
    for (size_t i = 0; i < sizeof scopes / sizeof *scopes; i++) {
        mlw_err_clear(&err);
        assert_int_equal(sigv4_sign(&req, &SUITE_CRED, scopes[i][0],
                                    scopes[i][1], SUITE_DATE, &out, &err),
                         MLW_EINVAL);
        assert_null(out.authorization);
    }

    struct sigv4_request r2 = req;
    const char *bad_methods[] = {"", "GE T", NULL, "GET\n"};
    for (size_t i = 0; i < sizeof bad_methods / sizeof *bad_methods; i++) {
        mlw_err_clear(&err);
        r2.method = bad_methods[i];
        assert_int_equal(sign_rc(&r2, &SUITE_CRED, SUITE_DATE, &err),
                         MLW_EINVAL);
    }
    r2 = req;
    const char *bad_paths[] = {"a/b", "/a\r\nb", NULL};
    for (size_t i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
        mlw_err_clear(&err);
        r2.path = bad_paths[i];
        assert_int_equal(sign_rc(&r2, &SUITE_CRED, SUITE_DATE, &err),
                         MLW_EINVAL);
    }
    r2 = req;
    r2.payload_len = 3; /* with a NULL payload */
    mlw_err_clear(&err);
    assert_int_equal(sign_rc(&r2, &SUITE_CRED, SUITE_DATE, &err), MLW_EINVAL);
    r2 = req;
    r2.payload_hash = "not a hash";
    mlw_err_clear(&err);
    assert_int_equal(sign_rc(&r2, &SUITE_CRED, SUITE_DATE, &err), MLW_EINVAL);

    mlw_err_clear(&err);
    assert_int_equal(sigv4_sign(NULL, &SUITE_CRED, SUITE_REGION, SUITE_SERVICE,
                                SUITE_DATE, &out, &err),
                     MLW_EINVAL);
    assert_int_equal(sigv4_sign(&req, &SUITE_CRED, SUITE_REGION, SUITE_SERVICE,
                                SUITE_DATE, NULL, NULL),
                     MLW_EINVAL);
    sigv4_result_free(NULL);
    memset(&out, 0, sizeof out);
    sigv4_result_free(&out);
}

/* ---------------------------------------------------------------------- */
/* Driver for the botocore comparison                                      */
/* ---------------------------------------------------------------------- */

static int driver_fail(const char *msg)
{
    fprintf(stderr, "test_sigv4 --sign: %s\n", msg);
    return 2;
}

static int sign_driver(int argc, char **argv)
{
    if (argc != 9 && argc != 10)
        return driver_fail("usage: --sign <method> <url> <region> <service> "
                           "<amzdate> <key> <secret> [token] < headers+body");
    const char *method = argv[2], *url = argv[3];
    struct sigv4_credentials cred = {argv[7], argv[8],
                                     argc == 10 ? argv[9] : NULL};

    /* scheme://[userinfo@]host[:port][/path][?query] */
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return driver_fail("url must be scheme://host/path");
    size_t scheme_len = (size_t)(sep - url);
    const char *auth = sep + 3;
    size_t auth_len = strcspn(auth, "/?#");
    const char *rest = auth + auth_len;
    const char *at = memchr(auth, '@', auth_len);
    if (at) {
        auth_len -= (size_t)(at + 1 - auth);
        auth = at + 1;
    }
    char host[512];
    if (auth_len == 0 || auth_len >= sizeof host)
        return driver_fail("bad host in url");
    for (size_t i = 0; i < auth_len; i++)
        host[i] = (auth[i] >= 'A' && auth[i] <= 'Z') ? (char)(auth[i] + 32)
                                                     : auth[i];
    host[auth_len] = '\0';
    char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']')) {
        if ((scheme_len == 5 && strncmp(url, "https", 5) == 0 &&
             strcmp(colon, ":443") == 0) ||
            (scheme_len == 4 && strncmp(url, "http", 4) == 0 &&
             strcmp(colon, ":80") == 0))
            *colon = '\0';
    }
    char path[8192];
    size_t frag = strcspn(rest, "#");
    if (frag + 2 > sizeof path)
        return driver_fail("path too long");
    snprintf(path, sizeof path, "%s%.*s", (*rest == '/') ? "" : "/",
             (int)frag, rest);

    size_t in_len = 0;
    char *in = read_all(stdin, &in_len);
    if (in == NULL)
        return driver_fail("cannot read stdin");
    /* Reuse the .req parser: prepend a request line. */
    size_t text_cap = in_len + 64;
    char *text = malloc(text_cap);
    if (text == NULL) {
        free(in);
        return driver_fail("out of memory");
    }
    int pre = snprintf(text, text_cap, "X / HTTP/1.1\n");
    memcpy(text + pre, in, in_len);
    struct parsed_req r;
    if (parse_req(text, (size_t)pre + in_len, &r) != 0) {
        free(in);
        free(text);
        parsed_req_free(&r);
        return driver_fail("cannot parse headers on stdin");
    }
    /* Headers; Host from the URL unless given. */
    struct sigv4_header *h = calloc(r.nh + 1, sizeof *h);
    size_t nh = 0;
    int have_host = 0;
    for (size_t i = 0; h && i < r.nh; i++) {
        h[nh++] = r.h[i];
        if (strcasecmp(r.h[i].name, "host") == 0)
            have_host = 1;
    }
    if (h && !have_host)
        h[nh++] = (struct sigv4_header){"Host", host};

    struct sigv4_request req = {
        .method = method,
        .path = path,
        .headers = h,
        .n_headers = nh,
        .payload = r.body,
        .payload_len = r.body_len,
    };
    struct sigv4_result out;
    struct mlw_err err = {0};
    int rc = h ? sigv4_sign(&req, &cred, argv[4], argv[5], argv[6], &out, &err)
               : mlw_err_set(&err, MLW_ENOMEM, "out of memory");
    if (rc == MLW_OK) {
        fprintf(stderr, "--- canonical request\n%s\n--- string to sign\n%s\n",
                out.canonical_request, out.string_to_sign);
        for (size_t i = 0; i < out.n_add; i++)
            printf("%s: %s\n", out.add[i].name, out.add[i].value);
        sigv4_result_free(&out);
    }
    free(h);
    parsed_req_free(&r);
    free(text);
    free(in);
    if (rc != MLW_OK)
        return driver_fail(err.msg);
    return fflush(stdout) == 0 ? 0 : 2;
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--sign") == 0)
        return sign_driver(argc, argv);
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--sign ...]\n", argv[0]);
        return 2;
    }

    if (find_cases("", 0) != 0)
        fprintf(stderr, "cannot read the AWS SigV4 test suite at %s\n",
                suite_dir());
    if (g_ncases > 0)
        qsort(g_cases, g_ncases, sizeof *g_cases, case_cmp);

    struct CMUnitTest *suite = calloc(g_ncases + 1, sizeof *suite);
    if (suite == NULL)
        return 1;
    for (size_t i = 0; i < g_ncases; i++) {
        suite[i].name = g_cases[i].name;
        suite[i].test_func = test_suite_case;
        suite[i].initial_state = &g_cases[i];
    }

    const struct CMUnitTest units[] = {
        cmocka_unit_test(test_suite_complete),
        cmocka_unit_test(test_empty_payload_hash),
        cmocka_unit_test(test_payload_hash_sources),
        cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_signing_key_vector),
        cmocka_unit_test(test_multiline_variant),
        cmocka_unit_test(test_path_rules),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_bad_args),
    };
    int failed = cmocka_run_group_tests_name("sigv4_units", units, NULL, NULL);
    if (g_ncases > 0)
        failed += _cmocka_run_group_tests("aws_sigv4_testsuite", suite,
                                          g_ncases, NULL, NULL);
    free(suite);
    free(g_cases);
    return failed == 0 ? 0 : 1;
}
