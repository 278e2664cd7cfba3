/* planebridge: the integration hub for Plane. Everything happens in src/cli/. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return pb_cli_main(argc, argv);
}
