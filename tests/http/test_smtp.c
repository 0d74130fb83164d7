/* test_smtp.c - ums-notifier with the smtp transport against a real SMTP
 * server on loopback (tests/mocks/smtp_server.py, Debian's aiosmtpd) that
 * requires STARTTLS and AUTH: delivery with the right headers and parts, a
 * 550 recipient (permanent), a 451 recipient (retried). The stack's own
 * notifier is stopped for the duration and started again at the end. */
#define CTEST_MAIN
#include "../ctest.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "stack.h"

/* The SMTP server listens on the stack's HTTP port + 1002 ($SMTP_PORT). */

/* The message the server stored for `to` into out (waits up to secs). */
static int message_for(const char *to, char *out, size_t n, int secs)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "f=$(grep -l 'X-Envelope-To: %s' \"$UMS_STACK\"/smtp-out/*.eml 2>/dev/null | head -1);"
             " [ -n \"$f\" ] && cat \"$f\"",
             to);
    for (int i = 0; i < secs * 10; i++) {
        if (sh_out(cmd, out, n) == 0 && out[0] != '\0')
            return 0;
        sleep_ms(100);
    }
    return -1;
}

CTEST(setup, server_and_notifier)
{
    export_port("SMTP_PORT", 1002);
    ASSERT_EQ(sh("./scripts/down notifier >/dev/null"), 0);
    ASSERT_EQ(sh("d=\"$UMS_STACK/smtp-tls\"; rm -rf \"$d\" \"$UMS_STACK/smtp-out\" && "
                 "mkdir -p \"$d\" \"$UMS_STACK/smtp-out\" && "
                 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                 "-addext subjectAltName=IP:127.0.0.1 -keyout \"$d/key.pem\" -out \"$d/cert.pem\" "
                 ">/dev/null 2>&1 && chmod 0644 \"$d/cert.pem\""),
              0);
    ASSERT_EQ(
        sh("(/usr/bin/python3 tests/mocks/smtp_server.py \"$SMTP_PORT\" \"$UMS_STACK/smtp-out\" "
           "\"$UMS_STACK/smtp-tls/cert.pem\" \"$UMS_STACK/smtp-tls/key.pem\" ums-mail "
           "'mail secret' >\"$UMS_STACK/log/smtp-server.log\" 2>&1 & echo $! "
           ">\"$UMS_STACK/run/smtp-server.pid\")"),
        0);
    int ready = 0;
    for (int i = 0; i < 100 && !ready; i++) {
        ready = sh("grep -q ready \"$UMS_STACK/log/smtp-server.log\"") == 0;
        sleep_ms(100);
    }
    ASSERT_TRUE(ready);
    ASSERT_EQ(
        sh("UMS_EMAIL_TRANSPORT=smtp UMS_EMAIL_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT"
           " UMS_EMAIL_SMTP_USERNAME=ums-mail UMS_EMAIL_SMTP_PASSWORD='mail secret'"
           " UMS_EMAIL_SMTP_CA_FILE=\"$UMS_STACK/smtp-tls/cert.pem\" UMS_EMAIL_TIMEOUT_MS=3000"
           " UMS_NOTIFIER_BACKOFF_BASE_MS=100 UMS_NOTIFIER_BACKOFF_MAX_MS=300"
           " UMS_NOTIFIER_CONSUMER=test-smtp"
           " UMS_NOTIFIER_PID_FILE=\"$UMS_STACK/run/notifier-smtp.pid\""
           " UMS_LOG_FILE=\"$UMS_STACK/log/notifier-smtp.log\""
           " \"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\" --daemon"),
        0);
    sleep_ms(500);
}

CTEST(smtp, delivered_over_starttls_with_auth)
{
    char e[128], msg[65536];
    new_email(e, sizeof(e), "smtp-ok");
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    ASSERT_EQ(message_for(e, msg, sizeof(msg), 15), 0);
    ASSERT_STR_CONTAINS(msg, "X-Envelope-From: no-reply@localhost");
    ASSERT_STR_CONTAINS(msg, "Subject: ");
    ASSERT_STR_CONTAINS(msg, "Message-ID: <");
    ASSERT_STR_CONTAINS(msg, "Date: ");
    ASSERT_STR_CONTAINS(msg, "multipart/alternative");
    ASSERT_STR_CONTAINS(msg, "text/plain");
    ASSERT_STR_CONTAINS(msg, "text/html");
    char st[16];
    long attempts = 0;
    wait_email_delivery(e, "sent", 0, 10, st, &attempts);
    ASSERT_STR_EQ(st, "sent");
}

CTEST(smtp, a_550_recipient_fails_for_good)
{
    char e[128], st[16];
    long attempts = 0;
    new_email(e, sizeof(e), "smtp");
    /* new_email gives @example.com; this address is refused by the server. */
    char *at = strchr(e, '@');
    ASSERT_NOT_NULL(at);
    memcpy(at, "@reject.example", sizeof("@reject.example"));
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    wait_email_delivery(e, "failed", 0, 10, st, &attempts);
    ASSERT_STR_EQ(st, "failed");
    ASSERT_EQ(attempts, 1);
}

CTEST(smtp, a_451_recipient_is_retried)
{
    char e[128], st[16];
    long attempts = 0;
    new_email(e, sizeof(e), "smtp");
    char *at = strchr(e, '@');
    ASSERT_NOT_NULL(at);
    memcpy(at, "@later.example", sizeof("@later.example"));
    ASSERT_EQ(signup(e, "correct horse battery", NULL), 0);
    wait_email_delivery(e, NULL, 2, 10, st, &attempts);
    ASSERT_STR_EQ(st, "pending");
    ASSERT_TRUE(attempts >= 2);
}

CTEST(teardown, stack_notifier_back)
{
    sh("kill $(cat \"$UMS_STACK/run/notifier-smtp.pid\") 2>/dev/null; "
       "kill $(cat \"$UMS_STACK/run/smtp-server.pid\") 2>/dev/null; true");
    sleep_ms(300);
    ASSERT_EQ(sh("./scripts/up >/dev/null"), 0);
}
