/* test_password.c - argon2id hashing, verification, policy. */
#define CTEST_MAIN
#include "../ctest.h"

#include <argon2.h>

#include "../../core/password.h"
#include "../../util/ums.h"

/* Small parameters keep the unit test fast; the format is the same. */
static const struct pw_params fast = {1024, 1, 1};

CTEST(password, hash_and_verify)
{
    char h[PW_HASH_MAX];
    ASSERT_EQ(password_hash(h, &fast, "correct horse", 13), 0);
    ASSERT_STR_CONTAINS(h, "$argon2id$v=19$m=1024,t=1,p=1$");
    ASSERT_TRUE(password_verify(h, "correct horse", 13));
    ASSERT_FALSE(password_verify(h, "correct horsE", 13));
    ASSERT_FALSE(password_verify(h, "correct hors", 12));
    char h2[PW_HASH_MAX];
    ASSERT_EQ(password_hash(h2, &fast, "correct horse", 13), 0);
    ASSERT_TRUE(strcmp(h, h2) != 0); /* salted */
}

CTEST(password, malformed_hashes_never_match)
{
    ASSERT_FALSE(password_verify(NULL, "x", 1));
    ASSERT_FALSE(password_verify("", "x", 1));
    ASSERT_FALSE(password_verify("$2b$10$abcdefghijklmnopqrstuv", "x", 1));
    ASSERT_FALSE(password_verify("$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x", 1));
    ASSERT_EQ(password_verify_dummy(&fast, "whatever", 8), 0);
}

CTEST(password, rehash_when_parameters_change)
{
    char h[PW_HASH_MAX];
    struct pw_params strong = {19456, 2, 1};
    ASSERT_EQ(password_hash(h, &fast, "correct horse", 13), 0);
    ASSERT_FALSE(password_needs_rehash(h, &fast));
    ASSERT_TRUE(password_needs_rehash(h, &strong));
    ASSERT_TRUE(password_needs_rehash("garbage", &fast));
}

CTEST(password, policy)
{
    const char *why;
    char long_pw[200];
    memset(long_pw, 'a', sizeof(long_pw));
    ASSERT_EQ(password_check("12345678", 8, &why), 0);
    ASSERT_EQ(password_check("1234567", 7, &why), UMS_EINVALID);
    ASSERT_STR_EQ(why, "length");
    ASSERT_EQ(password_check(long_pw, 128, &why), 0);
    ASSERT_EQ(password_check(long_pw, 129, &why), UMS_EINVALID);
    ASSERT_STR_EQ(why, "length");
    /* Eight characters of two bytes each are eight characters. */
    ASSERT_EQ(password_check("éééééééé", 16, &why), 0);
    ASSERT_EQ(password_check("ééé", 6, &why), UMS_EINVALID);
    ASSERT_EQ(password_check("abcd\xff"
                             "efgh",
                             9, &why),
              UMS_EINVALID);
    ASSERT_STR_EQ(why, "characters");
    ASSERT_EQ(password_check("abcd\0efgh", 9, &why), UMS_EINVALID);
}

CTEST(password, interoperates_with_libargon2_encoding)
{
    char ours[PW_HASH_MAX], theirs[256];
    const unsigned char salt[16] = "saltsaltsaltsalt";
    /* libargon2's own PHC string verifies with ours, and ours with libargon2. */
    ASSERT_EQ(argon2_hash(1, 1024, 1, "interop pass", 12, salt, sizeof(salt), NULL, 32, theirs,
                          sizeof(theirs), Argon2_id, ARGON2_VERSION_13),
              ARGON2_OK);
    ASSERT_TRUE(password_verify(theirs, "interop pass", 12));
    ASSERT_FALSE(password_verify(theirs, "interop pasS", 12));
    ASSERT_EQ(password_hash(ours, &fast, "interop pass", 12), 0);
    ASSERT_EQ(argon2_verify(ours, "interop pass", 12, Argon2_id), ARGON2_OK);
    /* Tampered parameters or truncated parts never match. */
    char bad[PW_HASH_MAX];
    snprintf(bad, sizeof(bad), "%s", ours);
    bad[strlen(bad) - 3] = '\0';
    ASSERT_FALSE(password_verify(bad, "interop pass", 12));
    ASSERT_FALSE(password_verify(
        "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo", "x", 1));
}
