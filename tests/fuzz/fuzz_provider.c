/* fuzz_provider.c - what ums makes of a provider's answers: SendGrid's
 * v3/mail/send (notifier/tx_sendgrid.c), FCM's token exchange and
 * messages:send (notifier/tx_fcm.c), GitHub's token, /user and /user/emails
 * (core/oauth_github.c), Google's token, JWKS and userinfo
 * (core/oauth_google.c). The code runs as in production, over libcurl, to a
 * loopback server in a thread that answers each request with the next
 * answer of the input, written as it is (status line, headers, body), and
 * then closes the connection.
 * Input: NUL-separated fields: the provider (the first byte's value modulo
 * 4: SendGrid, FCM, GitHub, Google), then one raw HTTP answer per request
 * (the last field keeps its NULs); a request past the answers gets a 404.
 * The FCM access token and Google's keys are cached between inputs, as they
 * are between deliveries and sign-ins. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../../core/config.h"
#include "../../core/oauth_provider.h"
#include "../../notifier/mail.h"
#include "../../util/ums.h"
#include "../../util/valid.h"
#include "fuzz.h"

#define ANSWERS 4

static struct {
    pthread_mutex_t lock;
    const char *answer[ANSWERS];
    size_t len[ANSWERS];
    int next;
} script = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct ums_config *cfg;
static char sa_path[] = "/tmp/ums-fuzz-sa-XXXXXX";

/* Reads the request head, and its body when no Expect asks to wait: 1 when
 * all of it was read. */
static int read_request(int fd)
{
    char req[16384];
    size_t n = 0;
    char *end = NULL;
    ssize_t got;

    while (n < sizeof(req) - 1 && end == NULL) {
        got = recv(fd, req + n, sizeof(req) - 1 - n, 0);
        if (got <= 0)
            return 0;
        n += (size_t)got;
        req[n] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (end == NULL || strcasestr(req, "\r\nExpect:") != NULL)
        return 0;
    const char *cl = strcasestr(req, "\r\nContent-Length:");
    long want = cl != NULL && cl < end ? strtol(cl + 17, NULL, 10) : 0;
    long have = (long)(n - (size_t)(end + 4 - req));
    while (have < want && (got = recv(fd, req, sizeof(req), 0)) > 0)
        have += got;
    return have >= want;
}

static void *serve(void *arg)
{
    int ls = *(int *)arg;

    for (;;) {
        int fd = accept(ls, NULL, NULL);
        struct timeval tv = {2, 0};
        const char *a = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        size_t len = strlen(a), off = 0;
        char sink[4096];

        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int whole = read_request(fd);
        pthread_mutex_lock(&script.lock);
        if (script.next < ANSWERS && script.answer[script.next] != NULL) {
            a = script.answer[script.next];
            len = script.len[script.next];
        }
        script.next++;
        while (off < len) {
            ssize_t w = send(fd, a + off, len - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        pthread_mutex_unlock(&script.lock);
        /* What the client still sends (a body after Expect) is drained, so
         * that closing does not reset the connection before it reads. */
        shutdown(fd, SHUT_WR);
        tv.tv_sec = 0;
        tv.tv_usec = 100000;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        while (!whole && recv(fd, sink, sizeof(sink), 0) > 0)
            ;
        close(fd);
    }
    return NULL;
}

/* A service account file with a fresh 2048-bit key, token_uri on the server. */
static void write_account(int port)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    struct json_object *o = json_object_new_object();
    char uri[64], *pem;
    long len;
    FILE *f;
    int fd = mkstemp(sa_path);

    FUZZ_ASSERT(key != NULL && bio != NULL && o != NULL && fd >= 0);
    FUZZ_ASSERT(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1);
    len = BIO_get_mem_data(bio, &pem);
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/token", port);
    json_object_object_add(o, "type", json_object_new_string("service_account"));
    json_object_object_add(o, "project_id", json_object_new_string("fuzz"));
    json_object_object_add(o, "private_key", json_object_new_string_len(pem, (int)len));
    json_object_object_add(o, "client_email", json_object_new_string("ums@fuzz.example"));
    json_object_object_add(o, "token_uri", json_object_new_string(uri));
    f = fdopen(fd, "w");
    FUZZ_ASSERT(f != NULL);
    fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f);
    FUZZ_ASSERT(fclose(f) == 0);
    json_object_put(o);
    BIO_free(bio);
    EVP_PKEY_free(key);
}

static void unlink_account(void)
{
    unlink(sa_path);
}

/* Once: the server, the service account and the configuration. */
static void setup(void)
{
    static int ls;
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    pthread_t t;
    char text[2048], err[512];
    int port, n;

    fuzz_quiet();
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ls = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_ASSERT(ls >= 0 && bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
                listen(ls, 16) == 0 && getsockname(ls, (struct sockaddr *)&sin, &sl) == 0);
    port = ntohs(sin.sin_port);
    FUZZ_ASSERT(pthread_create(&t, NULL, serve, &ls) == 0);
    write_account(port);
    atexit(unlink_account);
    n = snprintf(text, sizeof(text),
                 "[email]\ntransport = sendgrid\nsendgrid_url = http://127.0.0.1:%d\n"
                 "sendgrid_api_key = SG.fuzz\ntimeout_ms = 2000\n"
                 "[push]\ntransport = fcm\nfcm_url = http://127.0.0.1:%d\n"
                 "fcm_service_account_file = %s\ntimeout_ms = 2000\n"
                 "[google]\nenabled = true\nclient_id = fuzz-client\nclient_secret = s\n"
                 "token_url = http://127.0.0.1:%d/token\n"
                 "userinfo_url = http://127.0.0.1:%d/userinfo\n"
                 "jwks_url = http://127.0.0.1:%d/jwks\n"
                 "[github]\nenabled = true\nclient_id = fuzz-client\nclient_secret = s\n"
                 "token_url = http://127.0.0.1:%d/token\napi_url = http://127.0.0.1:%d\n"
                 "[oauth]\ntimeout_ms = 2000\n",
                 port, port, sa_path, port, port, port, port, port);
    FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(text));
    FUZZ_ASSERT(config_parse(&cfg, text, (size_t)n, "fuzz", err, sizeof(err)) == UMS_OK);
}

/* deliveries.last_error is one printable line. */
static int one_line(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < ' ' || *s == 0x7f)
            return 0;
    return 1;
}

static void sendgrid(void)
{
    const struct mail m = {"ums <no-reply@fuzz.example>",
                           "a@fuzz.example",
                           "A",
                           "Hi",
                           "text",
                           "<p>html</p>",
                           "user.signup",
                           1};
    const struct mail *mp = &m;
    struct tx_result res;
    int out = -1;

    tx_sendgrid_send_all(cfg, &mp, 1, &res, &out);
    FUZZ_ASSERT(out == TX_OK || out == TX_RETRY || out == TX_PERMANENT);
    FUZZ_ASSERT(res.retry_after >= 0 && one_line(res.error));
    FUZZ_ASSERT(out == TX_OK || res.error[0] != '\0');
}

static void fcm(void)
{
    struct tx_result res;
    int rc = tx_fcm_send(cfg, "device-token", "Title", "Body", 1, &res);

    FUZZ_ASSERT(rc == TX_OK || rc == TX_RETRY || rc == TX_PERMANENT || rc == TX_GONE);
    FUZZ_ASSERT(res.retry_after >= 0 && one_line(res.error));
    FUZZ_ASSERT(rc == TX_OK || res.error[0] != '\0');
}

static void oauth(int google)
{
    struct oauth_exchange x = {cfg,         google ? &cfg->google : &cfg->github,
                               "the-code",  "the-verifier",
                               "the-nonce", "http://127.0.0.1/auth/v1/callback"};
    struct oauth_profile p;
    const char *why = NULL;
    int rc;

    memset(&p, 0, sizeof(p));
    rc = google ? oauth_google_fetch(&x, &p, &why) : oauth_github_fetch(&x, &p, &why);
    FUZZ_ASSERT(rc == UMS_OK || rc == UMS_EDENIED || rc == UMS_EUNAVAILABLE || rc == UMS_ERR);
    if (rc != UMS_OK) {
        FUZZ_ASSERT(rc == UMS_ERR || why != NULL);
    } else {
        char norm[EMAIL_MAX + 1];
        struct json_object *d;

        /* a subject, a usable token, a normalised email or none */
        FUZZ_ASSERT(p.sub[0] != '\0' && one_line(p.sub) && p.access_token != NULL);
        for (const char *c = p.sub; *c != '\0'; c++) /* ASCII (OpenID Connect Core 2) */
            FUZZ_ASSERT((unsigned char)*c < 0x80);
        FUZZ_ASSERT(p.email[0] == '\0' ||
                    (valid_email_normalize(norm, p.email, strlen(p.email)) == 0 &&
                     strcmp(norm, p.email) == 0));
        FUZZ_ASSERT(p.email[0] != '\0' || !p.email_verified);
        FUZZ_ASSERT(p.identity_data != NULL);
        d = json_tokener_parse(p.identity_data);
        FUZZ_ASSERT(d != NULL && json_object_is_type(d, json_type_object));
        json_object_put(d);
    }
    oauth_profile_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;
    int which;

    if (cfg == NULL)
        setup();
    if (size == 0 || fuzz_split(&in, data, size, 1 + ANSWERS) != 0)
        return 0;
    which = in.len[0] > 0 ? (unsigned char)in.f[0][0] % 4 : 0;
    pthread_mutex_lock(&script.lock);
    for (int i = 0; i < ANSWERS; i++) {
        script.answer[i] = in.len[1 + i] > 0 ? in.f[1 + i] : NULL;
        script.len[i] = in.len[1 + i];
    }
    script.next = 0;
    pthread_mutex_unlock(&script.lock);
    switch (which) {
    case 0:
        sendgrid();
        break;
    case 1:
        fcm();
        break;
    default:
        oauth(which == 3);
        break;
    }
    pthread_mutex_lock(&script.lock);
    memset(script.answer, 0, sizeof(script.answer));
    pthread_mutex_unlock(&script.lock);
    fuzz_free(&in);
    return 0;
}
