/* `planebridge version`: the planebridge version and every linked library's version. */
#include "cli/cli.h"
#include "store/db.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <yaml.h>

const char pb_cmd_version_usage[] =
    "usage: planebridge version\n"
    "\n"
    "Prints \"planebridge VERSION\" and then one \"LIBRARY VERSION\" line for every linked\n"
    "library: libmicrohttpd, libcurl, sqlite, libpq, openssl, cjson, libyaml.\n";

void pb_cli_print_versions(FILE *fp, const char *prefix)
{
    const char *p = prefix ? prefix : "";
    fprintf(fp, "%splanebridge %s\n", p, PB_VERSION);
    fprintf(fp, "%slibmicrohttpd %s\n", p, MHD_get_version());
    fprintf(fp, "%slibcurl %s\n", p, curl_version_info(CURLVERSION_NOW)->version);
    fprintf(fp, "%ssqlite %s\n", p, pb_db_library_version(PB_DB_SQLITE));
    fprintf(fp, "%slibpq %s\n", p, pb_db_library_version(PB_DB_POSTGRES));
    fprintf(fp, "%sopenssl %s\n", p, OpenSSL_version(OPENSSL_VERSION));
    fprintf(fp, "%scjson %s\n", p, cJSON_Version());
    fprintf(fp, "%slibyaml %s\n", p, yaml_get_version_string());
}

int pb_cmd_version(pb_cli *cli, int argc, char **argv)
{
    (void)cli;
    if (argc > 1) {
        fprintf(stderr, "planebridge version: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    pb_cli_print_versions(stdout, "");
    return 0;
}
