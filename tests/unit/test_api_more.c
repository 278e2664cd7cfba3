/* Pure tests of the api_more helpers: link URL validation as Plane's serializer does it, and the
 * stable membership ids of cycle/module rows. */
#include "test.h"

#include "api/api_more.h"
#include "core/util.h"

#include <string.h>

PB_TEST(api_more_url_valid)
{
    static const char *const ok[] = {
        "https://example.com",          "https://example.com/a?b=c#d", "http://127.0.0.1:8080/x",
        "http://localhost:3000/",       "https://sub.domain.example.org/path", "https://user:pw@example.com/",
        "http://[::1]:8470/api",        "https://xn--bcher-kva.example/", "https://example.invalid/x",
        "https://müller.example.de/",   NULL};
    for (int i = 0; ok[i]; i++) {
        const char *why = pb_more_url_problem(ok[i]);
        if (why) pb_test_fail(__FILE__, __LINE__, "%s refused: %s", ok[i], why);
    }
}

PB_TEST(api_more_url_invalid)
{
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"", "Invalid URL format."},
        {"not a url", "Invalid URL format."},
        {"example.com", "Invalid URL format."},
        {"https://", "Invalid URL format."},
        {"https://exa mple.com", "Invalid URL format."},
        {"https://example", "Invalid URL format."},
        {"https://-bad-.com", "Invalid URL format."},
        {"https://example.c", "Invalid URL format."},
        {"https://1.2.3/", "Invalid URL format."},
        {"https://example.com:123456/", "Invalid URL format."},
        {"https://example.com:/", "Invalid URL format."},
        {"javascript://alert(1)", "Invalid URL format."},
        {"gopher://example.com/", "Invalid URL format."},
        {"ftp://example.com/file", "Invalid URL scheme."},
        {"ftps://example.com/file", "Invalid URL scheme."},
        {"https://example.com/\n", "Invalid URL format."},
        {"https://[]/", "Invalid URL format."},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = pb_more_url_problem(bad[i].url);
        if (!why || strcmp(why, bad[i].why) != 0)
            pb_test_fail(__FILE__, __LINE__, "\"%s\": got %s, want %s", bad[i].url, why ? why : "(accepted)",
                         bad[i].why);
    }
}

PB_TEST(api_more_membership_id_stable)
{
    char a[37], b[37], c[37];
    const char *cyc = "6f1c2a9e-5b0d-4c1e-9a7f-0d3b2c1a4e5f", *iss = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    pb_more_membership_id(cyc, iss, a);
    pb_more_membership_id(cyc, iss, b);
    pb_more_membership_id(iss, cyc, c);
    PB_CHECK_STR(a, b);
    PB_CHECK(strcmp(a, c) != 0);
    PB_CHECK(pb_uuid_valid(a));
    PB_CHECK_EQ_INT(a[14], '8'); /* version 8: derived, not random */
    PB_CHECK(strchr("89ab", a[19]) != NULL);
}
