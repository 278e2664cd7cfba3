/* libFuzzer target: arbitrary bytes into the YAML configuration loader. The loader must
 * never crash, never read outside the input, and leave the configuration untouched when it
 * rejects the input. */
#include "core/config.h"
#include "core/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pb_config defaults;
    static int ready;
    if (!ready) {
        pb_config_defaults(&defaults);
        pb_log_level = PB_LOG_OFF;
        ready = 1;
    }
    /* An exact-size copy so any over-read is caught by ASan. */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    pb_config c = defaults;
    pb_error err = {0};
    if (pb_config_load_yaml(&c, buf, size, &err) != 0) {
        if (memcmp(&c, &defaults, sizeof c) != 0) abort(); /* a failed load changed the config */
    } else {
        char masked[PB_CFG_URL];
        pb_config_mask_url(c.store, masked, sizeof masked);
        FILE *fp = fopen("/dev/null", "w");
        if (fp) {
            pb_config_print(&c, fp);
            fclose(fp);
        }
    }
    pb_redact_reset(); /* loading registers URL passwords; keep the registry small */
    free(buf);
    return 0;
}
